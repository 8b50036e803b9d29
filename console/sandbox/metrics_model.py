"""The sandbox's model-server metrics: a deterministic simulation of what KServe model servers
would export under the metrics contract (DESIGN section 6). Pure Python, no I/O.

- Series carry labels namespace, model (the InferenceService name) and revision (exactly the
  `revisionName` in the InferenceService's status traffic).
- Request rates per revision follow the live traffic split (read from the cluster on every
  advance), so a rollback visibly moves traffic.
- Feature values follow console/demo_data: the Feature's mean/sigma, shifted by
  demo_data.feature_shift(model, version, feature) sigmas for the version a revision serves.
  The exporter's `le` buckets are the Feature's edges e1..e(N-1) and +Inf (the convention in
  demo_data), so live and catalog histograms share their bins.
- The latest revision of an InferenceService with a story in demo_data.SERVED answers 5xx at that
  story's error_rate and a little slower; everyone else at 0.2%.
- Deterministic given the seed: each tick's draws come from a generator seeded with
  (seed, revision, tick start, tick length).
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from console import demo_data

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Requests per second for the whole InferenceService; split across revisions by traffic percent.
# churn-predictor is deliberately quiet, so its canary shows "too few samples".
REQUEST_RATES = {
    "fraud-detector": 12.0,
    "credit-risk": 4.0,
    "churn-predictor": 0.4,
    "search-ranker": 20.0,
    "product-embedder": 6.0,
}
DEFAULT_RATE = 5.0
BASE_ERROR_RATE = 0.002
LATENCY_MEDIAN = 0.04  # seconds, log-normal
LATENCY_SIGMA = 0.6
CANARY_SLOWDOWN = 1.5


def fmt_le(x: float) -> str:
    """The one formatting of `le` label values, shared by the exporter and the backfill."""
    return "+Inf" if x == math.inf else repr(float(x))


def fmt_value(x: float) -> str:
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return repr(float(x))


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


@dataclass(frozen=True)
class RevisionSpec:
    """One revision in one InferenceService's status traffic."""

    namespace: str
    isvc: str
    revision: str
    model: str  # catalog model name
    version: str | None
    percent: float
    latest: bool
    error_rate: float
    latency_median: float
    rate: float  # requests per second for this revision under the current split

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.namespace, self.isvc, self.revision)


def _storage_uri(isvc: Mapping) -> str | None:
    predictor = (isvc.get("spec") or {}).get("predictor") or {}
    for key, value in predictor.items():
        if isinstance(value, Mapping) and value.get("storageUri"):
            if key == "model" or key not in ("containers", "volumes"):
                return value["storageUri"]
    return predictor.get("storageUri")


def _served(namespace: str, name: str) -> demo_data.ServedModel | None:
    for s in demo_data.SERVED:
        if s.namespace == namespace and s.name == name:
            return s
    return None


def revision_specs(isvcs: Iterable[Mapping], models: Mapping[str, demo_data.DemoModel] | None = None,
                   rates: Mapping[str, float] | None = None) -> list[RevisionSpec]:
    """The revisions that take traffic, from InferenceService dicts (status traffic)."""
    models = models if models is not None else demo_data.MODELS_BY_NAME
    rates = rates if rates is not None else REQUEST_RATES
    out: list[RevisionSpec] = []
    for isvc in isvcs:
        meta = isvc.get("metadata") or {}
        ns, name = meta.get("namespace", "default"), meta.get("name", "")
        traffic = (((isvc.get("status") or {}).get("components") or {}).get("predictor") or {}).get("traffic") or []
        uri = _storage_uri(isvc)
        parsed = demo_data.parse_storage_uri(uri) if uri else None
        served = _served(ns, name)
        catalog_model = parsed[0] if parsed else (served.model if served else name)
        latest_version = parsed[1] if parsed else (served.latest_version if served else None)
        total_rate = rates.get(name, rates.get(catalog_model, DEFAULT_RATE))
        has_prev = any(not t.get("latestRevision") for t in traffic if t.get("revisionName"))
        for t in traffic:
            rev = t.get("revisionName")
            if not rev:
                continue
            latest = bool(t.get("latestRevision"))
            if latest:
                version = latest_version
            else:
                version = served.prev_version if served and served.prev_version else latest_version
            story_latest = latest and served is not None and has_prev
            out.append(RevisionSpec(
                namespace=ns, isvc=name, revision=rev, model=catalog_model, version=version,
                percent=float(t.get("percent") or 0), latest=latest,
                error_rate=served.error_rate if (latest and served) else BASE_ERROR_RATE,
                latency_median=LATENCY_MEDIAN * (CANARY_SLOWDOWN if story_latest else 1.0),
                rate=total_rate * float(t.get("percent") or 0) / 100.0,
            ))
    return _merge_duplicates(out)


def _merge_duplicates(specs: list[RevisionSpec]) -> list[RevisionSpec]:
    """One spec per revision. Two traffic entries can name the same revision (a canary whose new
    revision never became ready: the latest and prev entries both point at the old one); the
    revision then takes both shares and keeps serving what the non-latest entry says."""
    merged: dict[tuple[str, str, str], RevisionSpec] = {}
    for spec in specs:
        seen = merged.get(spec.key)
        if seen is None:
            merged[spec.key] = spec
            continue
        keep = seen if not seen.latest else spec
        merged[spec.key] = RevisionSpec(keep.namespace, keep.isvc, keep.revision, keep.model, keep.version,
                                        seen.percent + spec.percent, keep.latest, keep.error_rate,
                                        keep.latency_median, seen.rate + spec.rate)
    return list(merged.values())


def feature_shares(feature: demo_data.Feature, shift_sigmas: float) -> tuple[list[float], list[float]]:
    """(le bounds, per-bin shares) of a feature whose mean moved by `shift_sigmas`."""
    edges = feature.edges()
    bounds = [float(e) for e in edges[1:-1]] + [math.inf]
    mean = feature.mean + shift_sigmas * feature.sigma
    cdf = [(_phi((b - mean) / feature.sigma) if b != math.inf else 1.0) for b in bounds]
    shares = [cdf[0]] + [max(cdf[i] - cdf[i - 1], 0.0) for i in range(1, len(cdf))]
    return bounds, shares


def duration_shares(median: float) -> list[float]:
    bounds = list(DURATION_BUCKETS) + [math.inf]
    cdf = [(_phi((math.log(b) - math.log(median)) / LATENCY_SIGMA) if b != math.inf else 1.0) for b in bounds]
    return [cdf[0]] + [max(cdf[i] - cdf[i - 1], 0.0) for i in range(1, len(cdf))]


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _binomial(rng: random.Random, n: int, p: float) -> int:
    if n <= 0 or p <= 0:
        return 0
    if n < 40:
        return sum(1 for _ in range(n) if rng.random() < p)
    mean = n * p
    return min(n, max(0, int(round(rng.gauss(mean, math.sqrt(mean * (1 - p)))))))


def _multinomial(rng: random.Random, n: int, shares: list[float]) -> list[int]:
    if n <= 0:
        return [0] * len(shares)
    if n <= 40:
        cum, acc = [], 0.0
        for s in shares:
            acc += s
            cum.append(acc)
        out = [0] * len(shares)
        for _ in range(n):
            i = bisect.bisect_left(cum, rng.random() * acc)
            out[min(i, len(out) - 1)] += 1
        return out
    return [max(0, int(round(rng.gauss(n * s, math.sqrt(n * s * (1 - s)))))) if s > 0 else 0 for s in shares]


@dataclass
class RevisionState:
    """The counters of one revision (cumulative since the simulated process start)."""

    spec: RevisionSpec
    requests: dict[str, float] = field(default_factory=lambda: {"200": 0.0, "500": 0.0})
    duration_bins: list[float] = field(default_factory=lambda: [0.0] * (len(DURATION_BUCKETS) + 1))
    duration_sum: float = 0.0
    features: dict[str, list[float]] = field(default_factory=dict)  # non-cumulative bin counts
    feature_sums: dict[str, float] = field(default_factory=dict)


class Simulation:
    """Counters for every revision in the traffic, advanced tick by tick."""

    def __init__(self, seed: int = 0, models: Mapping[str, demo_data.DemoModel] | None = None,
                 rates: Mapping[str, float] | None = None):
        self.seed = seed
        self.models = models if models is not None else demo_data.MODELS_BY_NAME
        self.rates = rates if rates is not None else REQUEST_RATES
        self.states: dict[tuple[str, str, str], RevisionState] = {}
        self._shares_cache: dict[tuple, tuple[list[float], list[float]]] = {}

    def specs(self, isvcs: Iterable[Mapping]) -> list[RevisionSpec]:
        return revision_specs(isvcs, self.models, self.rates)

    def _features(self, spec: RevisionSpec) -> tuple[demo_data.Feature, ...]:
        model = self.models.get(spec.model)
        return model.features if model else ()

    def _shares(self, spec: RevisionSpec, feature: demo_data.Feature):
        key = (spec.model, spec.version, feature.name)
        if key not in self._shares_cache:
            shift = demo_data.feature_shift(spec.model, spec.version, feature.name) if spec.version else 0.0
            self._shares_cache[key] = feature_shares(feature, shift)
        return self._shares_cache[key]

    def state(self, spec: RevisionSpec) -> RevisionState:
        st = self.states.get(spec.key)
        if st is None:
            st = RevisionState(spec)
            for f in self._features(spec):
                bounds, _ = self._shares(spec, f)
                st.features[f.name] = [0.0] * len(bounds)
                st.feature_sums[f.name] = 0.0
            self.states[spec.key] = st
        else:
            st.spec = spec
        return st

    def tick(self, specs: Iterable[RevisionSpec], start: float, length: float) -> None:
        """Advance every revision in `specs` by one tick [start, start + length)."""
        for spec in specs:
            st = self.state(spec)
            rng = random.Random(f"{self.seed}|{spec.namespace}|{spec.isvc}|{spec.revision}|{start:.3f}|{length:.3f}")
            n = _poisson(rng, spec.rate * length)
            if n == 0:
                continue
            errors = _binomial(rng, n, spec.error_rate)
            st.requests["500"] += errors
            st.requests["200"] += n - errors
            bins = _multinomial(rng, n, duration_shares(spec.latency_median))
            for i, c in enumerate(bins):
                st.duration_bins[i] += c
            st.duration_sum += n * spec.latency_median * math.exp(LATENCY_SIGMA ** 2 / 2)
            for f in self._features(spec):
                _, shares = self._shares(spec, f)
                counts = _multinomial(rng, n, shares)
                row = st.features[f.name]
                for i, c in enumerate(counts):
                    row[i] += c
                shift = demo_data.feature_shift(spec.model, spec.version, f.name) if spec.version else 0.0
                st.feature_sums[f.name] += sum(counts) * (f.mean + shift * f.sigma)

    # -- rendering -------------------------------------------------------------------------

    def samples(self, keys: Iterable[tuple[str, str, str]] | None = None):
        """(metric name, labels, value) for every series, grouped by metric family."""
        states = [self.states[k] for k in (keys if keys is not None else sorted(self.states))]
        for st in states:
            base = _labels(st.spec)
            for code in sorted(st.requests):
                yield "model_requests_total", base + [("code", code)], st.requests[code]
        for st in states:
            base = _labels(st.spec)
            acc = 0.0
            for b, c in zip(list(DURATION_BUCKETS) + [math.inf], st.duration_bins):
                acc += c
                yield "model_request_duration_seconds_bucket", base + [("le", fmt_le(b))], acc
            yield "model_request_duration_seconds_sum", base, st.duration_sum
            yield "model_request_duration_seconds_count", base, acc
        for st in states:
            base = _labels(st.spec)
            for f in self._features(st.spec):
                bounds, _ = self._shares(st.spec, f)
                acc = 0.0
                labels = base + [("feature", f.name)]
                for b, c in zip(bounds, st.features[f.name]):
                    acc += c
                    yield "model_feature_value_bucket", labels + [("le", fmt_le(b))], acc
                yield "model_feature_value_sum", labels, st.feature_sums[f.name]
                yield "model_feature_value_count", labels, acc

    def exposition(self) -> str:
        """The Prometheus text format (0.0.4) of the current counters."""
        out: list[str] = []
        typed = set()
        families = {
            "model_requests_total": ("model_requests_total", "counter", "Inference requests served, by HTTP code."),
            "model_request_duration_seconds": ("model_request_duration_seconds", "histogram",
                                               "Inference request latency."),
            "model_feature_value": ("model_feature_value", "histogram", "Values of each input feature."),
        }
        for name, labels, value in self.samples():
            family = name if name == "model_requests_total" else name.rsplit("_", 1)[0]
            if family not in typed:
                fam, kind, help_ = families[family]
                out.append(f"# HELP {fam} {help_}")
                out.append(f"# TYPE {fam} {kind}")
                typed.add(family)
            out.append(f"{name}{render_labels(labels)} {fmt_value(value)}")
        return "\n".join(out) + "\n"


def _labels(spec: RevisionSpec) -> list[tuple[str, str]]:
    return [("namespace", spec.namespace), ("model", spec.isvc), ("revision", spec.revision)]


def render_labels(labels: list[tuple[str, str]]) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in labels) + "}"


def backfill_openmetrics(sim: Simulation, specs: list[RevisionSpec], start: float, end: float, step: float,
                         out) -> int:
    """Advance `sim` from `start` to `end` in ticks of `step`, writing every series at every tick
    to `out` as OpenMetrics (for `promtool tsdb create-blocks-from openmetrics`). The samples
    carry no job/instance label. Returns the number of samples written.

    The simulation ends in the state at `end`, so an exporter that continues from it serves
    counters consistent with the history.
    """
    times: list[float] = []
    snapshots: list[list[float]] = []
    meta: list[tuple[str, list[tuple[str, str]]]] | None = None
    t = start
    for spec in specs:
        sim.state(spec)
    keys = [s.key for s in specs]
    while True:
        rows = list(sim.samples(keys))
        if meta is None:
            meta = [(n, l) for n, l, _ in rows]
        snapshots.append([v for _, _, v in rows])
        times.append(t)
        if t >= end:
            break
        length = min(step, end - t)
        sim.tick(specs, t, length)
        t += length
    written = 0
    assert meta is not None
    for i, (name, labels) in enumerate(meta):
        prefix = f"{name}{render_labels(labels)} "
        out.write("".join(f"{prefix}{fmt_value(snap[i])} {ts:.3f}\n" for ts, snap in zip(times, snapshots)))
        written += len(times)
    out.write("# EOF\n")
    return written
