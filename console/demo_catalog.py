"""The seeded demo catalog: every version of every model in console.demo_data, with realistic
metadata and lineage, written through the real import path (Catalog.import_records).

Deterministic: a fixed seed and a fixed import stamp, so two builds hold the same data (SQLite's
own page layout aside). No heavy imports, no Textual.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from console import demo_data
from console.demo_data import MODELS, SERVED, DemoModel

SEED = 20261120
END = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SPAN_DAYS = 730
IMPORT_STAMP = "2026-11-20T12:00:00Z"
HISTOGRAM_ROWS = 5000

AUTHORS = (
    "priya.raman", "tomas.novak", "amara.okafor", "li.wei", "sofia.marquez", "jonas.berg",
    "fatima.haddad", "kenji.sato", "ola.nordmann", "grace.kim",
)
SPLIT_METRIC_MODELS = {"fraud-detector", "credit-risk", "search-ranker", "ad-ctr", "image-moderation",
                       "support-triage"}
GPU_FRAMEWORKS = {"pytorch", "tensorflow", "transformers", "onnx"}
NOTES = (
    "Retrained on the latest month of data.",
    "Adds class weighting for the rare label.",
    "Fixes label leakage found in review.",
    "Hyperparameter sweep winner.",
    "Recalibrated scores (isotonic).",
    "Drops a feature with a broken upstream source.",
)
# Aliases beyond the ones the served InferenceServices imply: (model, alias, version offset from latest)
EXTRA_ALIASES = (
    ("fraud-detector", "champion", -3),
    ("credit-risk", "champion", 0),
    ("search-ranker", "champion", -2),
    ("ad-ctr", "production", -1), ("ad-ctr", "staging", 0), ("ad-ctr", "champion", -3),
    ("demand-forecast", "production", 0),
    ("support-triage", "production", -1), ("support-triage", "staging", 0),
    ("price-optimizer", "production", 0), ("price-optimizer", "champion", -2),
    ("image-moderation", "production", 0),
    ("eta-regressor", "production", -1), ("eta-regressor", "staging", 0),
    ("ranker[v2]", "staging", 0),
)


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def reference_histogram(feature: demo_data.Feature, shift: float, rows: int, rng: random.Random) -> dict[str, Any]:
    """Counts of `rows` values drawn from N(mean + shift*sigma, sigma) over feature.edges(); values
    beyond the outer edges land in the outer bins (the exporter's -Inf/+Inf convention).
    Drawn bin by bin (a binomial per bin, normal approximation): fast and deterministic."""
    edges = feature.edges()
    mu = feature.mean + shift * feature.sigma
    cdf = [0.0] + [_phi((e - mu) / feature.sigma) for e in edges[1:-1]] + [1.0]
    probs = [cdf[i + 1] - cdf[i] for i in range(len(edges) - 1)]
    counts: list[int] = []
    remaining_n, remaining_p = rows, 1.0
    for p in probs[:-1]:
        q = min(1.0, p / remaining_p) if remaining_p > 0 else 0.0
        mean = remaining_n * q
        sd = math.sqrt(max(remaining_n * q * (1 - q), 0.0))
        c = int(round(min(max(rng.gauss(mean, sd), 0.0), remaining_n)))
        counts.append(c)
        remaining_n -= c
        remaining_p -= p
    counts.append(remaining_n)
    return {"edges": edges, "counts": counts}


def _hyperparameters(framework: str, i: int, rng: random.Random) -> dict[str, Any]:
    if framework in ("xgboost", "lightgbm", "catboost"):
        hp: dict[str, Any] = {
            "n_estimators": 200 + 50 * (i // 3) + rng.choice((0, 25, 50)),
            "learning_rate": rng.choice((0.03, 0.05, 0.08, 0.1)),
            "max_depth": rng.choice((4, 5, 6, 7, 8)),
            "subsample": rng.choice((0.7, 0.8, 0.9, 1.0)),
        }
        if framework == "lightgbm":
            hp["num_leaves"] = rng.choice((31, 63, 127))
        if framework == "catboost":
            hp["l2_leaf_reg"] = rng.choice((1, 3, 5, 7))
        return hp
    if framework == "sklearn":
        return {"estimator": "LogisticRegression", "C": rng.choice((0.1, 0.3, 1.0, 3.0)),
                "penalty": rng.choice(("l2", "elasticnet")), "max_iter": 500 + 100 * (i // 5)}
    if framework == "prophet":
        return {"changepoint_prior_scale": rng.choice((0.01, 0.05, 0.1, 0.5)),
                "seasonality_mode": rng.choice(("additive", "multiplicative")),
                "yearly_seasonality": True, "holidays": rng.choice(("US", "EU", "US+EU"))}
    if framework == "transformers":
        return {"base_model": rng.choice(("distilbert-base-uncased", "xlm-roberta-base")),
                "learning_rate": rng.choice((2e-5, 3e-5, 5e-5)), "epochs": rng.choice((2, 3, 4)),
                "max_seq_len": rng.choice((256, 512)), "batch_size": rng.choice((16, 32))}
    return {  # pytorch, tensorflow, onnx (exported from pytorch)
        "learning_rate": rng.choice((1e-4, 3e-4, 1e-3)),
        "batch_size": rng.choice((256, 512, 1024)),
        "epochs": 10 + 2 * (i // 4) + rng.choice((0, 2, 5)),
        "hidden_dim": rng.choice((128, 256, 512)),
        "dropout": rng.choice((0.1, 0.2, 0.3)),
        "optimizer": rng.choice(("adamw", "adam")),
    }


def _environment(framework: str, rng: random.Random) -> dict[str, Any]:
    if framework in GPU_FRAMEWORKS:
        gpu = rng.choice(("NVIDIA A100-SXM4-40GB", "NVIDIA L4", "NVIDIA H100 80GB HBM3", "NVIDIA T4"))
        count = rng.choice((1, 2, 4, 8))
        return {"cpu_type": "AMD EPYC 7R13", "cpu_count": 8 * count + 8, "gpu_type": gpu, "gpu_count": count,
                "memory_gib": 64 * count, "node_pool": "gpu-training"}
    cpus = rng.choice((8, 16, 32, 64))
    return {"cpu_type": rng.choice(("Intel Xeon Platinum 8375C", "AMD EPYC 7R13")), "cpu_count": cpus,
            "gpu_type": None, "gpu_count": 0, "memory_gib": cpus * 4, "node_pool": "cpu-training"}


def _metrics(model: DemoModel, i: int, base: float, rng: random.Random, split: bool) -> dict[str, Any]:
    quality = base + 0.07 * (1 - math.exp(-i / 9.0)) + rng.gauss(0, 0.004)
    offsets = {"auc": 0.0, "accuracy": -0.04, "f1": -0.17}

    def values(q: float) -> dict[str, float]:
        return {name: round(min(0.999, max(0.0, q + offsets.get(name, -0.1) + rng.gauss(0, 0.002))), 4)
                for name in model.metric_names}

    if not split:
        return values(quality)
    return {"train": values(quality + 0.025), "validation": values(quality), "test": values(quality - 0.006)}


def _model_records(model: DemoModel, name: str, n_versions: int, rng: random.Random, *,
                   end: datetime, aliases: dict[str, list[str]]) -> Iterator[dict[str, Any]]:
    start = end - timedelta(days=SPAN_DAYS - rng.randint(0, 40))
    step = (end - start) / max(1, n_versions - 1)
    base = rng.uniform(0.80, 0.86)
    base_rows = rng.choice((120_000, 450_000, 1_200_000, 3_500_000))
    split = model.name in SPLIT_METRIC_MODELS
    author_pool = rng.sample(AUTHORS, 3)
    for i in range(1, n_versions + 1):
        version = str(i)
        jitter = timedelta(hours=rng.uniform(-30, 30)) if i not in (1, n_versions) else timedelta(0)
        created = start + step * (i - 1) + jitter
        created = created.replace(second=0, microsecond=0)
        snapshot = (created - timedelta(days=1)).strftime("%Y-%m-%d")
        description = model.description
        if i != n_versions and rng.random() < 0.3:
            description = f"{model.description} {rng.choice(NOTES)}"
        record: dict[str, Any] = {
            "model": name,
            "version": version,
            "description": description,
            "tags": list(model.tags),
            "author": rng.choice(author_pool),
            "created_at": _iso(created),
            "training_data": {
                "uri": f"s3://mlops-data/{name}/snapshots/{snapshot}/train.parquet",
                "hash": "sha256:" + hashlib.sha256(f"{name}/{version}/train".encode()).hexdigest(),
                "rows": int(base_rows * (1 + 0.03 * i) * rng.uniform(0.97, 1.03)),
            },
            "hyperparameters": _hyperparameters(model.framework, i, rng),
            "metrics": _metrics(model, i, base, rng, split),
            "artifact_uri": demo_data.storage_uri(name, version),
            "framework": model.framework,
            "framework_version": model.framework_version,
            "environment": _environment(model.framework, rng),
            "run_id": demo_data.run_id_for(name, version),
            "reference_histograms": {
                f.name: reference_histogram(f, demo_data.feature_shift(name, version, f.name),
                                            HISTOGRAM_ROWS + rng.randint(-200, 200), rng)
                for f in model.features
            },
        }
        if version in aliases:
            record["aliases"] = sorted(aliases[version])
        yield record


def demo_aliases() -> dict[str, dict[str, list[str]]]:
    """model -> version -> aliases, from the served stories plus a few champions/stagings."""
    out: dict[str, dict[str, list[str]]] = {}

    def give(model: str, alias: str, version: str) -> None:
        for names in out.setdefault(model, {}).values():
            if alias in names:
                names.remove(alias)
        out[model].setdefault(version, []).append(alias)

    for served in SERVED:
        if served.story in demo_data.CANARY_STORIES:
            give(served.model, "production", served.prev_version or served.latest_version)
            give(served.model, "canary", served.latest_version)
        else:
            give(served.model, "production", served.latest_version)
    by_name = demo_data.MODELS_BY_NAME
    for model, alias, offset in EXTRA_ALIASES:
        give(model, alias, str(by_name[model].versions + offset))
    return {m: {v: a for v, a in versions.items() if a} for m, versions in out.items()}


def demo_records(seed: int = SEED) -> Iterator[dict[str, Any]]:
    """Every version of every demo model, in model order then version order."""
    rng = random.Random(seed)
    aliases = demo_aliases()
    for k, model in enumerate(MODELS):
        served = any(s.model == model.name for s in SERVED)
        end = END - timedelta(days=0 if served else 3 + 5 * (k % 5), hours=k)
        yield from _model_records(model, model.name, model.versions, rng, end=end,
                                  aliases=aliases.get(model.name, {}))


def build_demo_catalog(path: Path) -> None:
    """Write the demo catalog to `path` through the real import path. Importing into an existing
    demo catalog is idempotent (unchanged records are left alone, aliases moved since included)."""
    from adapters.catalog import Catalog

    with Catalog(path) as catalog:
        catalog.import_records(demo_records(), source="demo", now=IMPORT_STAMP)


def generate_records(n_versions: int, n_models: int, seed: int) -> Iterator[dict[str, Any]]:
    """Synthetic records for benchmarks: n_versions spread over n_models, each model shaped like one
    of the demo models (cycled), named "<demo-name>-<index>"."""
    rng = random.Random(seed)
    n_models = max(1, min(n_models, n_versions))
    per, extra = divmod(n_versions, n_models)
    for j in range(n_models):
        template = MODELS[j % len(MODELS)]
        stem = template.name.split("[")[0]
        count = per + (1 if j < extra else 0)
        end = END - timedelta(hours=j)
        yield from _model_records(template, f"{stem}-{j:05d}", count, rng, end=end, aliases={})
