"""The sandbox's request and feature metrics: a deterministic simulation of what a KServe install
exports (DESIGN section 6). Pure Python, no I/O.

- Request metrics come as one real system exports them (`EMISSIONS`, chosen by profile name):
  Knative's queue-proxy up to 1.18 (OpenCensus: revision_request_count, revision_request_latencies
  in milliseconds, and their app_ twins; knative.dev docs "Service metrics" and
  knative/serving pkg/queue/request_metric.go), the same without the revision_ prefix (OpenShift
  Serverless), Knative 1.19+ (OpenTelemetry kn.serving.invocation.duration in seconds, resource
  attributes promoted onto the series or only on target_info, joined on job/instance), KServe's
  model server (request_predict_seconds labelled model_name; kserve python/kserve/kserve/metrics.py,
  with the pod's namespace and serving.knative.dev/revision label added by the scrape), or the
  console's own contract (model_requests_total, model_request_duration_seconds).
- Feature histograms follow the console's contract in every profile:
  model_feature_value_bucket{namespace, model, revision, feature, le}.
- Every revision label holds exactly the `revisionName` in the InferenceService's status traffic.
- Request rates per revision follow the live traffic split (read from the cluster on every
  advance), so a rollback visibly moves traffic.
- Feature values follow console/demo_data: the Feature's mean/sigma, shifted by
  demo_data.feature_shift(model, version, feature) sigmas for the version a revision serves.
  The exporter's `le` buckets are the Feature's edges e1..e(N-1) and +Inf (the convention in
  demo_data), so live and catalog histograms share their bins.
- The latest revision of an InferenceService with a story in demo_data.SERVED, while it serves the
  story's canary version, answers 5xx at that story's error_rate and a little slower; every other
  revision (a new canary of another version included) at 0.2%, p99 about 160 ms (`in_story`).
- Deterministic given the seed: each tick's draws come from a generator seeded with
  (seed, revision, tick start, tick length).
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from console import demo_data

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# knative/serving pkg/queue/request_metric.go (defaultLatencyDistribution), milliseconds
KNATIVE_MS_BUCKETS = (5, 10, 20, 40, 60, 80, 100, 150, 200, 250, 300, 350, 400, 450, 500, 600, 700, 800, 900, 1000,
                      2000, 5000, 10000, 20000, 50000, 100000)
# prometheus_client's default buckets, which KServe's model server histograms use
CLIENT_DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
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
    deployment: bool = False  # a Standard-mode Deployment (its pods have no Knative revision label)

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


def in_story(served: demo_data.ServedModel | None, version: str | None) -> bool:
    """The revision serves the very version a demo story names as its canary. Any other revision
    (a new canary of another catalog version, say) is healthy: success rate above 99.5%, p99 below
    300 ms (issue 12 §4), so a progress on it reaches 100 while one on the story's canary rolls back."""
    return served is not None and served.prev_version is not None and version == served.latest_version


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
        canary_uris = {}
        if not traffic and (isvc.get("status") or {}).get("canaryStatuses"):
            traffic, canary_uris = _standard_traffic(isvc)
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
            if rev in canary_uris:  # a Standard-mode canary serves its own entry's model
                parsed_canary = demo_data.parse_storage_uri(canary_uris[rev]) if canary_uris[rev] else None
                version = parsed_canary[1] if parsed_canary else latest_version
            elif canary_uris:  # the stable predictor serves spec.predictor's model
                version = latest_version
            elif latest:
                version = latest_version
            else:
                version = served.prev_version if served and served.prev_version else latest_version
            sick = latest and in_story(served, version) and has_prev
            out.append(RevisionSpec(
                namespace=ns, isvc=name, revision=rev, model=catalog_model, version=version,
                percent=float(t.get("percent") or 0), latest=latest,
                error_rate=served.error_rate if (sick and served) else BASE_ERROR_RATE,
                latency_median=LATENCY_MEDIAN * (CANARY_SLOWDOWN if sick else 1.0),
                rate=total_rate * float(t.get("percent") or 0) / 100.0, deployment=bool(canary_uris),
            ))
    return _merge_duplicates(out)


def _standard_traffic(isvc: Mapping) -> tuple[list[dict], dict[str, str | None]]:
    """Standard mode (KServe 0.20): the HTTPRoute's weighted backends as traffic entries named by
    Deployment (the name the predictor pods' metrics carry), and each canary Deployment's model."""
    from console.sandbox.kserve_sim import traffic_split

    name = (isvc.get("metadata") or {}).get("name", "")
    uris = {f"{name}-{(e.get('predictor') or {}).get('name')}-predictor":
            _storage_uri({"spec": {"predictor": e.get("predictor") or {}}})
            for e in (isvc.get("spec") or {}).get("canary") or []}
    traffic = [{"revisionName": rev, "percent": pct, "latestRevision": rev in uris} for rev, pct in traffic_split(isvc)]
    return traffic, uris


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
                                        keep.latency_median, seen.rate + spec.rate, keep.deployment)
    return list(merged.values())


def feature_shares(feature: demo_data.Feature, shift_sigmas: float) -> tuple[list[float], list[float]]:
    """(le bounds, per-bin shares) of a feature whose mean moved by `shift_sigmas`."""
    edges = feature.edges()
    bounds = [float(e) for e in edges[1:-1]] + [math.inf]
    mean = feature.mean + shift_sigmas * feature.sigma
    cdf = [(_phi((b - mean) / feature.sigma) if b != math.inf else 1.0) for b in bounds]
    shares = [cdf[0]] + [max(cdf[i] - cdf[i - 1], 0.0) for i in range(1, len(cdf))]
    return bounds, shares


def duration_shares(median: float, buckets_s: Iterable[float] = DURATION_BUCKETS) -> list[float]:
    bounds = list(buckets_s) + [math.inf]
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
    n_buckets: int = len(DURATION_BUCKETS)
    requests: dict[str, float] = field(default_factory=lambda: {"200": 0.0, "500": 0.0})
    duration_bins: dict[str, list[float]] = field(default_factory=dict)  # per code, non-cumulative
    duration_sum: dict[str, float] = field(default_factory=dict)  # per code, seconds
    features: dict[str, list[float]] = field(default_factory=dict)  # non-cumulative bin counts
    feature_sums: dict[str, float] = field(default_factory=dict)


class Simulation:
    """Counters for every revision in the traffic, advanced tick by tick."""

    def __init__(self, seed: int = 0, models: Mapping[str, demo_data.DemoModel] | None = None,
                 rates: Mapping[str, float] | None = None, profile: str = "knative"):
        if profile not in EMISSIONS:
            raise ValueError(f"unknown metrics profile {profile!r}: use one of {', '.join(EMISSIONS)}")
        self.emission = EMISSIONS[profile]
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
            st = RevisionState(spec, len(self.emission.buckets))
            for code in st.requests:
                st.duration_bins[code] = [0.0] * (st.n_buckets + 1)
                st.duration_sum[code] = 0.0
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
            seed = f"{self.seed}|{spec.namespace}|{spec.isvc}|{spec.revision}|{start:.3f}|{length:.3f}"
            rng = random.Random(seed)
            n = _poisson(rng, spec.rate * length)
            if n == 0:
                continue
            errors = _binomial(rng, n, spec.error_rate)
            # Latencies come from a stream of their own (per profile); this draw stays only so the
            # feature values that follow are the same in every profile and as before profiles.
            _multinomial(rng, n, duration_shares(spec.latency_median))
            latency_rng = random.Random(f"{seed}|latency|{self.emission.name}")
            shares = duration_shares(spec.latency_median, self.emission.buckets_s)
            mean = spec.latency_median * math.exp(LATENCY_SIGMA ** 2 / 2)
            for code, k in (("200", n - errors), ("500", errors)):
                st.requests[code] += k
                for i, c in enumerate(_multinomial(latency_rng, k, shares)):
                    st.duration_bins[code][i] += c
                st.duration_sum[code] += k * mean
            for f in self._features(spec):
                _, shares = self._shares(spec, f)
                counts = _multinomial(rng, n, shares)
                row = st.features[f.name]
                for i, c in enumerate(counts):
                    row[i] += c
                shift = demo_data.feature_shift(spec.model, spec.version, f.name) if spec.version else 0.0
                st.feature_sums[f.name] += sum(counts) * (f.mean + shift * f.sigma)

    # -- rendering -------------------------------------------------------------------------

    def families(self, keys: Iterable[tuple[str, str, str]] | None = None):
        """(family, type, help, [(series name, labels, value)]) for every metric family, each
        family's series together (promtool's backfill wants families contiguous)."""
        states = [self.states[k] for k in (keys if keys is not None else sorted(self.states))]
        yield from self.emission.families(states)
        rows = []
        for st in states:
            for f in self._features(st.spec):
                bounds, _ = self._shares(st.spec, f)
                labels = _labels(st.spec) + [("feature", f.name)]
                # bounds ends with +Inf, which _histogram adds itself
                rows += _histogram("model_feature_value", labels, bounds[:-1], st.features[f.name],
                                   st.feature_sums[f.name], scale=1.0)
        yield "model_feature_value", "histogram", "Values of each input feature.", rows

    def samples(self, keys: Iterable[tuple[str, str, str]] | None = None):
        """(metric name, labels, value) for every series, grouped by metric family."""
        for _family, _kind, _help, rows in self.families(keys):
            yield from rows

    def exposition(self) -> str:
        """The Prometheus text format (0.0.4) of the current counters."""
        out: list[str] = []
        for family, kind, help_, rows in self.families():
            if not rows:
                continue
            out.append(f"# HELP {family} {help_}")
            out.append(f"# TYPE {family} {kind}")
            out.extend(f"{name}{render_labels(labels)} {fmt_value(value)}" for name, labels, value in rows)
        return "\n".join(out) + "\n"


def _labels(spec: RevisionSpec) -> list[tuple[str, str]]:
    return [("namespace", spec.namespace), ("model", spec.isvc), ("revision", spec.revision)]


def _histogram(name: str, labels: list[tuple[str, str]], bounds, bins, total: float, scale: float):
    """Cumulative _bucket rows (the finite bounds in the exported unit, then +Inf: one bin more than
    bounds), then _sum (seconds * scale) and _count."""
    rows, acc, bucket = [], 0.0, f"{name}_bucket"
    for le, c in zip(_le_labels(tuple(bounds)), bins, strict=True):
        acc += c
        rows.append((bucket, labels + [le], acc))
    rows.append((f"{name}_sum", labels, total * scale))
    rows.append((f"{name}_count", labels, acc))
    return rows


@functools.lru_cache(maxsize=256)
def _le_labels(bounds: tuple[float, ...]) -> tuple[tuple[str, str], ...]:
    return tuple(("le", fmt_le(b)) for b in (*bounds, math.inf))


def pod_name(revision: str) -> str:
    """A Knative-style pod name for the revision's one pod: <revision>-deployment-<rs>-<pod>."""
    digest = hashlib.sha256(revision.encode()).hexdigest()
    return f"{revision}-deployment-{digest[:9]}-{digest[9:14]}"


@dataclass(frozen=True)
class Emission:
    """How one real system exports the request metrics."""

    name: str
    buckets: tuple[float, ...]  # histogram bounds in the exported unit (+Inf implied)
    scale: float  # exported units per second

    @property
    def buckets_s(self) -> list[float]:
        return [b / self.scale for b in self.buckets]

    def families(self, states: list[RevisionState]):
        return getattr(self, "_" + self.name.replace("-", "_"))(states)

    def _hist_rows(self, name, states, labels_of, by_code: bool):
        rows = []
        for st in states:
            codes = sorted(st.requests)
            if by_code:
                for code in codes:
                    rows += _histogram(name, labels_of(st, code), self.buckets, st.duration_bins[code],
                                       st.duration_sum[code], self.scale)
            else:
                bins = [sum(st.duration_bins[c][i] for c in codes) for i in range(st.n_buckets + 1)]
                rows += _histogram(name, labels_of(st, None), self.buckets, bins,
                                   sum(st.duration_sum.values()), self.scale)
        return rows

    @staticmethod
    def _counter_rows(name, states, labels_of):
        return [(name, labels_of(st, code), st.requests[code]) for st in states for code in sorted(st.requests)]

    def _console(self, states):
        def labels(st, code):
            return _labels(st.spec) + ([("code", code)] if code else [])

        yield ("model_requests_total", "counter", "Inference requests served, by HTTP code.",
               self._counter_rows("model_requests_total", states, labels))
        yield ("model_request_duration_seconds", "histogram", "Inference request latency.",
               self._hist_rows("model_request_duration_seconds", states, labels, by_code=False))

    def _knative(self, states, prefix: str = "revision_"):
        def labels(container: bool):
            def of(st, code):
                s = st.spec
                out = [("configuration_name", f"{s.isvc}-predictor")]
                if container:
                    out.append(("container_name", "queue-proxy"))
                out += [("namespace_name", s.namespace), ("pod_name", pod_name(s.revision)),
                        ("response_code", code), ("response_code_class", f"{code[0]}xx"),
                        ("revision_name", s.revision), ("service_name", f"{s.isvc}-predictor")]
                return out
            return of

        for app, what in (("", "routed to queue-proxy"), ("app_", "routed to user-container")):
            yield (f"{prefix}{app}request_count", "counter", f"The number of requests that are {what}",
                   self._counter_rows(f"{prefix}{app}request_count", states, labels(True)))
            yield (f"{prefix}{app}request_latencies", "histogram", "The response time in millisecond",
                   self._hist_rows(f"{prefix}{app}request_latencies", states, labels(not app), by_code=True))

    def _knative_unprefixed(self, states):
        return self._knative(states, prefix="")

    @staticmethod
    def _resource(st) -> list[tuple[str, str]]:
        s = st.spec
        return [("k8s_namespace_name", s.namespace), ("k8s_pod_name", pod_name(s.revision)),
                ("kn_configuration_name", f"{s.isvc}-predictor"), ("kn_revision_name", s.revision),
                ("kn_service_name", f"{s.isvc}-predictor")]

    def _knative_otel(self, states, promoted: bool = True):
        name = "kn_serving_invocation_duration_seconds"

        def labels(st, code):
            own = [("http_response_status_code", code), ("otel_scope_name", "knative.dev/serving/pkg/queue")]
            if promoted:
                return own + self._resource(st)
            return own + [("instance", pod_name(st.spec.revision)), ("job", "queue-proxy")]

        yield (name, "histogram", "The duration of task execution.", self._hist_rows(name, states, labels, True))
        if not promoted:
            yield ("target_info", "gauge", "Target metadata",
                   [("target_info", [("instance", pod_name(st.spec.revision)), ("job", "queue-proxy")]
                     + self._resource(st), 1.0) for st in states])

    def _knative_otel_target_info(self, states):
        return self._knative_otel(states, promoted=False)

    def _kserve(self, states):
        def labels(st, _code):
            s = st.spec
            # the scrape copies pod labels: a Knative revision's, or a Standard-mode Deployment's
            # app=<Deployment> (KServe 0.15+ constants.go GetRawServiceLabel)
            pod_label = ("app", s.revision) if s.deployment else ("serving_knative_dev_revision", s.revision)
            return [("model_name", s.isvc), ("namespace", s.namespace), ("pod", pod_name(s.revision)), pod_label]

        yield ("request_predict_seconds", "histogram", "predict latency",
               self._hist_rows("request_predict_seconds", states, labels, by_code=False))


EMISSIONS = {e.name: e for e in (
    Emission("knative", KNATIVE_MS_BUCKETS, 1000.0),
    Emission("knative-unprefixed", KNATIVE_MS_BUCKETS, 1000.0),
    Emission("knative-otel", DURATION_BUCKETS, 1.0),
    Emission("knative-otel-target-info", DURATION_BUCKETS, 1.0),
    Emission("kserve", CLIENT_DEFAULT_BUCKETS, 1.0),
    Emission("console", DURATION_BUCKETS, 1.0),
)}
# the Prometheus job/instance labels these series carry themselves (kept when scraped)
OWN_TARGET_LABELS = {"knative-otel-target-info"}


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
        out.write("".join(f"{prefix}{fmt_value(snap[i])} {ts:.3f}\n" for ts, snap in zip(times, snapshots, strict=True)))
        written += len(times)
    out.write("# EOF\n")
    return written
