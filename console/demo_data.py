"""The one description of the demo world, shared by the demo catalog, the sandbox cluster,
the sandbox Kubeflow Pipelines and the sandbox metrics exporter, so that they agree.

Pure data and arithmetic: no I/O, no heavy imports. Everything is deterministic.

Histogram convention (catalog <-> Prometheus): a feature has edges e0..eN (N bins). The catalog
stores {"edges": [e0..eN], "counts": [c1..cN]}. The exporter's `le` buckets are e1..e(N-1) and
+Inf, so Prometheus bin 1 (-Inf, e1] matches catalog bin [e0, e1] and the last bin
(e(N-1), +Inf) matches [e(N-1), eN]. Both sides therefore have the same N bins.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

STORAGE_PREFIX = "s3://mlops-models"
BINS = 10


@dataclass(frozen=True)
class Feature:
    name: str
    mean: float
    sigma: float

    def edges(self) -> list[float]:
        lo = self.mean - 3 * self.sigma
        step = 6 * self.sigma / BINS
        return [round(lo + i * step, 6) for i in range(BINS + 1)]


@dataclass(frozen=True)
class DemoModel:
    name: str
    framework: str
    framework_version: str
    description: str
    tags: tuple[str, ...]
    features: tuple[Feature, ...]
    versions: int
    metric_names: tuple[str, ...] = ("auc", "accuracy", "f1")


def _features(*specs: tuple[str, float, float]) -> tuple[Feature, ...]:
    return tuple(Feature(n, m, s) for n, m, s in specs)


MODELS: tuple[DemoModel, ...] = (
    DemoModel("fraud-detector", "xgboost", "2.0.3", "Card-not-present fraud scoring for the payments API.",
              ("payments", "tabular", "tier-1"),
              _features(("amount", 80.0, 40.0), ("merchant_risk", 0.3, 0.1), ("txn_velocity", 4.0, 1.5),
                        ("account_age_days", 700.0, 250.0), ("distance_from_home", 20.0, 8.0),
                        ("hour_of_day", 13.0, 5.0), ("device_score", 0.6, 0.15), ("card_present", 0.4, 0.2)),
              versions=40),
    DemoModel("credit-risk", "lightgbm", "4.3.0", "Probability of default for consumer credit lines.",
              ("lending", "tabular", "tier-1"),
              _features(("income", 55000.0, 18000.0), ("debt_ratio", 0.35, 0.12), ("utilization", 0.4, 0.15),
                        ("delinquencies", 0.5, 0.4), ("tenure_months", 48.0, 20.0), ("inquiries", 2.0, 0.9)),
              versions=35),
    DemoModel("churn-predictor", "sklearn", "1.4.2", "Monthly churn propensity for subscribers.",
              ("crm", "tabular"),
              _features(("sessions_30d", 22.0, 8.0), ("support_tickets", 1.2, 0.6), ("plan_price", 30.0, 9.0),
                        ("days_since_login", 6.0, 2.5), ("nps", 7.0, 1.5)),
              versions=30),
    DemoModel("search-ranker", "pytorch", "2.3.1", "Learning-to-rank model for site search.",
              ("search", "ranking", "tier-1"),
              _features(("query_len", 3.5, 1.2), ("bm25", 12.0, 4.0), ("ctr_7d", 0.08, 0.03),
                        ("doc_age_days", 90.0, 35.0), ("price", 45.0, 15.0), ("popularity", 0.5, 0.18),
                        ("personal_affinity", 0.3, 0.1)),
              versions=32),
    DemoModel("product-embedder", "pytorch", "2.3.1", "Product embeddings for recommendations.",
              ("recsys", "embeddings"),
              _features(("title_tokens", 12.0, 4.0), ("image_quality", 0.7, 0.1), ("category_depth", 3.0, 1.0)),
              versions=25),
    DemoModel("demand-forecast", "prophet", "1.1.5", "Daily demand forecast per warehouse.",
              ("supply-chain", "timeseries"),
              _features(("lag_7", 120.0, 30.0), ("lag_28", 118.0, 32.0), ("promo", 0.2, 0.1),
                        ("temperature", 15.0, 7.0)),
              versions=28),
    DemoModel("ad-ctr", "tensorflow", "2.15.0", "Click-through-rate prediction for display ads.",
              ("ads", "tier-1"),
              _features(("bid", 1.2, 0.4), ("slot", 3.0, 1.2), ("user_ctr", 0.02, 0.008), ("hour", 12.0, 6.0)),
              versions=30),
    DemoModel("support-triage", "transformers", "4.41.0", "Routes support tickets to queues.",
              ("nlp", "crm"),
              _features(("ticket_len", 180.0, 60.0), ("sentiment", 0.1, 0.3), ("lang_conf", 0.9, 0.05)),
              versions=20),
    DemoModel("price-optimizer", "xgboost", "2.0.3", "Markdown pricing suggestions.",
              ("pricing", "tabular"),
              _features(("stock", 300.0, 90.0), ("elasticity", -1.4, 0.4), ("season", 0.5, 0.2)),
              versions=22),
    DemoModel("image-moderation", "onnx", "1.16.0", "Flags unsafe user-uploaded images.",
              ("vision", "trust-safety"),
              _features(("brightness", 0.5, 0.15), ("entropy", 6.5, 0.8), ("nsfw_prior", 0.05, 0.03)),
              versions=24),
    DemoModel("eta-regressor", "catboost", "1.2.5", "Delivery time estimate in minutes.",
              ("logistics", "tabular"),
              _features(("distance_km", 6.0, 2.5), ("courier_load", 3.0, 1.0), ("rain_mm", 1.0, 0.8),
                        ("restaurant_prep", 14.0, 5.0)),
              versions=26),
    # A name and description that look like markup: the console must show them literally.
    DemoModel("ranker[v2]", "pytorch", "2.3.1", "Experimental ranker; [b]do not[/b] serve. Uses [red]beta[/red] features.",
              ("search", "[experimental]"),
              _features(("bm25", 12.0, 4.0), ("ctr_7d", 0.08, 0.03)),
              versions=8),
)

MODELS_BY_NAME = {m.name: m for m in MODELS}


def storage_uri(model: str, version: str) -> str:
    """The artifact URI of a catalog version, and the storageUri an InferenceService serves."""
    return f"{STORAGE_PREFIX}/{model}/v{version}"


def parse_storage_uri(uri: str) -> tuple[str, str] | None:
    """(model, version) for a demo storage URI, or None."""
    prefix = STORAGE_PREFIX + "/"
    if not uri.startswith(prefix):
        return None
    rest = uri[len(prefix):].rstrip("/")
    model, _, version = rest.rpartition("/")
    if not model or not version.startswith("v"):
        return None
    return model, version[1:]


def run_id_for(model: str, version: str) -> str:
    """The id of the pipeline run that trained a demo version (KFP run ids are UUIDs)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"mlops-console-demo/{model}/{version}"))


@dataclass(frozen=True)
class ServedModel:
    """One InferenceService in the sandbox cluster and the story it tells."""

    namespace: str
    name: str
    model: str  # catalog model name
    story: str  # healthy | canary | failing | raw | standard-canary (KServe 0.20 spec.canary[])
    latest_version: str
    prev_version: str | None = None
    canary_percent: int | None = None
    deployment_mode: str = "Serverless"  # or RawDeployment, or Standard
    drifting_features: tuple[str, ...] = field(default=())
    error_rate: float = 0.002  # share of 5xx served by the latest revision


# Stories with a new version beside the served one: the catalog's production alias is on the served
# (previous) version, its canary alias on the new one.
CANARY_STORIES = ("canary", "failing", "standard-canary")

SERVED: tuple[ServedModel, ...] = (
    ServedModel("fraud", "fraud-detector", "fraud-detector", "canary", latest_version="40", prev_version="39",
                canary_percent=20, drifting_features=("amount", "txn_velocity", "device_score"), error_rate=0.04),
    ServedModel("fraud", "credit-risk", "credit-risk", "healthy", latest_version="35"),
    ServedModel("recsys", "churn-predictor", "churn-predictor", "failing", latest_version="30", prev_version="29",
                canary_percent=10),
    ServedModel("recsys", "search-ranker", "search-ranker", "raw", latest_version="32",
                deployment_mode="RawDeployment"),
    ServedModel("recsys", "product-embedder", "product-embedder", "healthy", latest_version="25"),
    ServedModel("marketing", "ad-ctr", "ad-ctr", "standard-canary", latest_version="30", prev_version="29",
                canary_percent=20, deployment_mode="Standard"),
)


def feature_shift(model: str, version: str, feature: str) -> float:
    """How far (in sigmas) a version's live inputs sit from the model's base distribution.

    Only the canary versions of the demo drift, on the features their story names.
    """
    for served in SERVED:
        if served.model == model and served.latest_version == version and feature in served.drifting_features:
            return 0.6
    return 0.0
