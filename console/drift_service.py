"""Drift and canary health for one InferenceService, from a metrics client (adapters.metrics)
and optionally the model catalog. No Textual; blocking (run it from a thread worker).

Which revision is live (canary) and which is stable comes from the InferenceService's status
traffic (latestRevision == true, and tag "prev"): the caller passes those revision names in,
so this works with any kube source (adapters.kube, the sandbox cluster, or flags).

    service = DriftService(metrics_client, catalog=None)
    report = service.report("fraud", "fraud-detector", window="15m", reference="stable",
                            live_revision="fraud-detector-predictor-00002",
                            stable_revision="fraud-detector-predictor-00001", at=None)
    report.features      # [FeatureDrift], most drifting first (current values at `at`)
    report.series        # {feature: [DriftPoint]}: PSI over time, None where there is no data
    report.features[0].live / .reference   # the two Histograms, for a histogram chart

    verdict = service.health("fraud", "fraud-detector", canary_revision=..., stable_revision=...)

References: "stable" (the stable revision over the same window), "catalog" (the training
reference histograms of the served version, via catalog.version_by_artifact_uri(storage_uri) or
catalog.get_version(model, version)), "before" (the same revision one window earlier), or a
pinned unix time (the same revision over the window ending then).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from adapters.errors import ConsoleError, InvalidInput, NotFound
from console import canary as canary_mod
from console import drift

if TYPE_CHECKING:
    from adapters.metrics import MetricsClient

WINDOWS = ("15m", "1h", "6h", "24h")
REFERENCES = ("stable", "catalog", "before")
# How much history the PSI-over-time chart covers for each window.
DEFAULT_SPANS = {"15m": 3 * 3600, "1h": 6 * 3600, "6h": 24 * 3600, "24h": 72 * 3600}
TARGET_POINTS = 360
MIN_STEP = 15.0


@dataclass
class DriftPoint:
    t: float
    psi: float | None
    noise_floor: float | None
    live_count: float | None
    reference_count: float | None
    status: str

    def to_json(self) -> dict[str, Any]:
        return {"t": self.t, "psi": _r(self.psi), "noise_floor": _r(self.noise_floor),
                "live_count": _r(self.live_count), "reference_count": _r(self.reference_count),
                "status": self.status}


def _r(v: float | None, digits: int = 6) -> float | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return round(v, digits)


@dataclass
class DriftReport:
    namespace: str
    model: str
    window: str
    reference: str  # stable | catalog | before | pinned
    reference_label: str  # in words, for a screen header
    at: float
    live_revision: str | None
    reference_revision: str | None
    thresholds: drift.Thresholds
    features: list[drift.FeatureDrift] = field(default_factory=list)
    series: dict[str, list[DriftPoint]] = field(default_factory=dict)
    span: tuple[float, float, float] | None = None  # (start, end, step) of the series
    message: str | None = None  # why there is nothing to show, when there is nothing

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.features:
            out[f.status] = out.get(f.status, 0) + 1
        return out

    def to_json(self, with_series: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "namespace": self.namespace,
            "model": self.model,
            "window": self.window,
            "reference": self.reference,
            "reference_label": self.reference_label,
            "at": self.at,
            "live_revision": self.live_revision,
            "reference_revision": self.reference_revision,
            "thresholds": {"warn": self.thresholds.warn, "drift": self.thresholds.drift,
                           "floor_factor": self.thresholds.floor_factor,
                           "min_samples": self.thresholds.min_samples},
            "message": self.message,
            "summary": self.counts(),
            "features": [f.to_json() for f in self.features],
        }
        if with_series:
            body["series"] = {k: [p.to_json() for p in v] for k, v in self.series.items()}
            body["span"] = list(self.span) if self.span else None
        return body


def check_window(window: str) -> float:
    try:
        return drift.parse_duration(window)
    except ValueError as exc:
        raise InvalidInput(f"bad window {window!r}: {exc}") from None


def parse_reference(text: str | float | int) -> str | float:
    """'stable' | 'catalog' | 'before' | a unix time (pinned)."""
    if isinstance(text, (int, float)):
        return float(text)
    t = str(text).strip().lower()
    if t in REFERENCES:
        return t
    try:
        return float(t)
    except ValueError:
        raise InvalidInput(f"bad reference {text!r}: use stable, catalog, before, or a unix time") from None


def _sum_buckets(parts: list[Mapping[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in parts:
        for le, v in part.items():
            out[le] = out.get(le, 0.0) + v
    return out


def _by_feature(buckets: Mapping[tuple[str, str], Mapping[str, float]], revision: str | None) -> dict[str, dict[str, float]]:
    """{feature: {le: v}} for one revision, or summed over all revisions when revision is None."""
    grouped: dict[str, list[Mapping[str, float]]] = {}
    for (rev, feature), les in buckets.items():
        if revision is None or rev == revision:
            grouped.setdefault(feature, []).append(les)
    return {f: _sum_buckets(parts) for f, parts in grouped.items()}


def _series_by_feature(series: Mapping[tuple[str, str], Mapping[float, Mapping[str, float]]],
                       revision: str | None) -> dict[str, dict[float, dict[str, float]]]:
    out: dict[str, dict[float, dict[str, float]]] = {}
    for (rev, feature), per_t in series.items():
        if revision is not None and rev != revision:
            continue
        dest = out.setdefault(feature, {})
        for t, les in per_t.items():
            slot = dest.setdefault(t, {})
            for le, v in les.items():
                slot[le] = slot.get(le, 0.0) + v
    return out


def chart_span(window: str, window_s: float) -> float:
    """How much history the PSI-over-time series covers for a window."""
    return float(DEFAULT_SPANS.get(window, max(12 * window_s, 3600)))


def series_step(span: float) -> float:
    return float(max(MIN_STEP, math.ceil(span / TARGET_POINTS)))


def evaluation_instant(window: str, now: float) -> float:
    """`now` floored to the step of the window's series: a live screen refreshing within one step
    asks for the same instant, so an unchanged history gives an unchanged answer (and nothing to
    redraw). It lags `now` by less than one step (30 s for 15m, 12 min for 24h)."""
    step = series_step(chart_span(window, check_window(window)))
    return math.floor(now / step) * step


def history_resolution(window_s: float) -> int:
    """The subquery step for history_start_query: 360 steps a window, at least a minute."""
    return max(60, int(window_s // 360))


def history_start_query(contract: Any, namespace: str, model: str, revisions: list[str] | None, window: str,
                        res: int) -> str:
    """PromQL: the oldest sample time of the feature histograms within the `window` before the
    evaluation instant (the reference window, when evaluated one window back)."""
    series = f"{contract.metric}_count{contract.selector(namespace, model, revisions)}"
    return f"min(min_over_time(timestamp({series})[{window}:{res}s]))"


class DriftService:
    def __init__(self, metrics: MetricsClient, catalog: Any = None, thresholds: drift.Thresholds | None = None,
                 health_thresholds: canary_mod.HealthThresholds | None = None):
        self.metrics = metrics
        self.catalog = catalog
        self.thresholds = thresholds or drift.Thresholds()
        self.health_thresholds = health_thresholds or canary_mod.HealthThresholds()

    # -- reference histograms from the catalog ----------------------------------------------

    def catalog_reference(self, storage_uri: str | None = None, model: str | None = None,
                          version: str | None = None) -> tuple[dict[str, drift.Histogram | None], str]:
        if self.catalog is None:
            raise InvalidInput("the catalog reference needs the model catalog: pass --catalog or set catalog "
                               "in the config, or use --reference stable/before")
        found = None
        if storage_uri:
            finder = getattr(self.catalog, "version_by_artifact_uri", None)
            found = finder(storage_uri) if finder else None
            if found is None:
                raise NotFound(f"no catalog version has artifact {storage_uri}; register it, or use "
                               "--reference stable/before")
        elif model and version:
            found = self.catalog.get_version(model, version)
        else:
            raise InvalidInput("the catalog reference needs the served storage URI (or model and version)")
        hists = getattr(found, "reference_histograms", None) or {}
        label = f"catalog {getattr(found, 'model', model) or ''} v{getattr(found, 'version', version) or '?'}".strip()
        return {name: drift.from_catalog(h) for name, h in hists.items()}, label

    # -- the report ---------------------------------------------------------------------------

    def report(self, namespace: str, model: str, *, window: str = "15m", reference: str | float = "stable",
               at: float | None = None, live_revision: str | None = None, stable_revision: str | None = None,
               storage_uri: str | None = None, catalog_model: str | None = None,
               catalog_version: str | None = None, with_series: bool = True, span: float | None = None,
               step: float | None = None) -> DriftReport:
        """Current drift per feature at `at` (default now), and PSI over time before it."""
        window_s = check_window(window)
        ref = parse_reference(reference)
        at = float(at) if at is not None else time.time()
        kind = ref if isinstance(ref, str) else "pinned"
        ref_rev: str | None = None
        catalog_hists: dict[str, drift.Histogram | None] | None = None
        if kind == "stable":
            if not stable_revision:
                raise InvalidInput(f"{namespace}/{model} has no stable (prev) revision to compare with; "
                                   "use --reference catalog or before")
            if live_revision == stable_revision:
                raise InvalidInput("the live and stable revisions are the same revision")
            ref_rev = stable_revision
            label = f"stable revision {stable_revision}, same window"
        elif kind == "catalog":
            catalog_hists, label = self.catalog_reference(storage_uri, catalog_model, catalog_version)
            label = f"training reference ({label})"
        elif kind == "before":
            ref_rev = live_revision
            label = f"same revision, the {window} before"
        else:
            pinned = float(ref)
            if pinned >= at:
                raise InvalidInput("a pinned reference time must be before the evaluation time")
            ref_rev = live_revision
            label = f"same revision, the {window} ending at {time.strftime('%Y-%m-%d %H:%M:%SZ', time.gmtime(pinned))}"
        result = DriftReport(namespace, model, window, kind, label, at, live_revision, ref_rev, self.thresholds)

        revs = [r for r in (live_revision, ref_rev) if r] if kind == "stable" else ([live_revision] if live_revision else None)
        live_now = self.metrics.feature_buckets(namespace, model, window=window, at=at, revisions=revs)
        live_f = _by_feature(live_now, live_revision)
        if kind == "stable":
            ref_f = _by_feature(live_now, ref_rev)
        elif kind == "before":
            ref_f = _by_feature(self.metrics.feature_buckets(namespace, model, window=window, at=at, revisions=revs,
                                                             offset=window), live_revision)
        elif kind == "pinned":
            ref_f = _by_feature(self.metrics.feature_buckets(namespace, model, window=window, at=float(ref),
                                                             revisions=revs), live_revision)
        else:
            ref_f = {}
        names = sorted(set(live_f) | set(ref_f) | set(catalog_hists or {}))
        if not names:
            names = self._known_features(namespace, model, at)
        if not names:
            result.message = (f"no feature metrics for {namespace}/{model} in the {window} before "
                              f"{time.strftime('%H:%M:%SZ', time.gmtime(at))}: is it exporting "
                              f"{self.metrics.features_contract.metric}_bucket ([metrics] feature_metric)?")
        features = []
        for name in names:
            live_h = drift.from_buckets(live_f[name]) if name in live_f else None
            if catalog_hists is not None:
                ref_h = catalog_hists.get(name)
            else:
                ref_h = drift.from_buckets(ref_f[name]) if name in ref_f else None
            res = drift.compare(name, live_h, ref_h, self.thresholds)
            if res.status == drift.NO_DATA and catalog_hists is not None and name not in catalog_hists:
                res.reason = "the catalog has no reference histogram for this feature"
            features.append(res)
        result.features = drift.sorted_by_drift(features)
        if with_series and names:
            result.series, result.span = self._series(namespace, model, window, window_s, kind, ref, at,
                                                      live_revision, ref_rev, revs, catalog_hists, names,
                                                      span, step)
        return result

    def _known_features(self, namespace: str, model: str, at: float) -> list[str]:
        try:
            return self.metrics.features(namespace, model, at)
        except ConsoleError:
            return []

    def _series(self, namespace: str, model: str, window: str, window_s: float, kind: str, ref: str | float,
                at: float, live_rev: str | None, ref_rev: str | None, revs: list[str] | None,
                catalog_hists: dict[str, drift.Histogram | None] | None, names: list[str], span: float | None,
                step: float | None) -> tuple[dict[str, list[DriftPoint]], tuple[float, float, float]]:
        span = float(span) if span else chart_span(window, window_s)
        step = float(step) if step else series_step(span)
        end = at
        start = at - span
        start = end - math.floor((end - start) / step) * step  # points end exactly at `at`
        live_all = self.metrics.feature_bucket_series(namespace, model, window=window, start=start, end=end,
                                                      step=step, revisions=revs)
        live_s = _series_by_feature(live_all, live_rev)
        const_ref: dict[str, drift.Histogram | None] | None = None
        ref_s: dict[str, dict[float, dict[str, float]]] = {}
        if kind == "stable":
            ref_s = _series_by_feature(live_all, ref_rev)
        elif kind == "before":
            ref_s = _series_by_feature(self.metrics.feature_bucket_series(
                namespace, model, window=window, start=start, end=end, step=step, revisions=revs,
                offset=window), live_rev)
        elif kind == "pinned":
            pinned = _by_feature(self.metrics.feature_buckets(namespace, model, window=window, at=float(ref),
                                                              revisions=revs), live_rev)
            const_ref = {n: drift.from_buckets(v) for n, v in pinned.items()}
        else:
            const_ref = catalog_hists or {}
        n_points = int(round((end - start) / step)) + 1
        times = [round(start + i * step, 3) for i in range(n_points)]
        out: dict[str, list[DriftPoint]] = {}
        for name in names:
            live_t = live_s.get(name, {})
            ref_t = ref_s.get(name, {})
            lookup_live = {round(t, 3): v for t, v in live_t.items()}
            lookup_ref = {round(t, 3): v for t, v in ref_t.items()}
            points = []
            for t in times:
                lb = lookup_live.get(t)
                live_h = drift.from_buckets(lb) if lb else None
                if const_ref is not None:
                    ref_h = const_ref.get(name)
                else:
                    rb = lookup_ref.get(t)
                    ref_h = drift.from_buckets(rb) if rb else None
                res = drift.compare(name, live_h, ref_h, self.thresholds)
                points.append(DriftPoint(t, res.psi, res.noise_floor, res.live_count, res.reference_count,
                                         res.status))
            out[name] = points
        return out, (start, end, step)

    # -- health ---------------------------------------------------------------------------

    def health(self, namespace: str, model: str, *, canary_revision: str | None,
               stable_revision: str | None = None, window: str = "5m", at: float | None = None,
               traffic: Mapping[str, int | None] | None = None, drift_window: str = "15m",
               top: int = 3) -> canary_mod.Verdict:
        """Canary (or the only revision) against stable: the checks, the verdict, top drift."""
        window_s = check_window(window)
        at = float(at) if at is not None else time.time()
        revisions = [r for r in (canary_revision, stable_revision) if r]
        match = self.metrics.profile_for(namespace, model, revisions, at) if revisions else None
        stats = {}
        if match is not None and match.profile is not None:
            stats = self.metrics.revision_stats(namespace, revisions, window=window, at=at, window_seconds=window_s,
                                                profile=match.profile)
        traffic = traffic or {}

        def rh(rev: str | None, role: str) -> canary_mod.RevisionHealth | None:
            if not rev:
                return None
            st = stats.get(rev)
            h = canary_mod.RevisionHealth(rev, role, traffic.get(rev))
            if st is not None:
                h.requests, h.errors, h.request_rate = st.requests, st.errors, st.request_rate
                h.success_rate, h.p50_seconds, h.p99_seconds = st.success_rate, st.p50_seconds, st.p99_seconds
            else:
                h.requests = 0.0  # no series at all: it served nothing we can see
            return h

        canary = rh(canary_revision, "canary" if stable_revision else "latest")
        stable = rh(stable_revision, "stable")
        top_drift: list[drift.FeatureDrift] = []
        if canary_revision and stable_revision:
            try:
                rep = self.report(namespace, model, window=drift_window, reference="stable", at=at,
                                  live_revision=canary_revision, stable_revision=stable_revision,
                                  with_series=False)
                top_drift = [f for f in rep.features if f.psi is not None][:top]
            except ConsoleError:
                top_drift = []
        verdict = canary_mod.evaluate(canary, stable, self.health_thresholds, top_drift)
        if match is not None:
            verdict.metrics = match.to_json()
            verdict.metrics["text"] = match.describe()
            if match.profile is None and verdict.status == canary_mod.NOT_ENOUGH_DATA:
                verdict.reason = match.describe()
            elif match.profile is not None and match.profile.code_label is None:
                note = f"profile {match.name} exports no response codes"
                verdict.reason = f"{verdict.reason} ({note})" if verdict.reason else note
        return verdict

    def reference_history_start(self, namespace: str, model: str, live_revision: str | None, window: str,
                                at: float) -> float | None:
        """When the "before" reference window (the window ending one window before `at`) begins
        before the live revision's feature history does, the time that history starts; else None.

        A partial reference has fewer samples than the live window and its PSI is less trustworthy;
        the screen says so. Any failure of this extra query gives None (nothing is claimed).
        """
        try:
            window_s = drift.parse_duration(window)
            res = history_resolution(window_s)
            query = history_start_query(self.metrics.features_contract, namespace, model,
                                        [live_revision] if live_revision else None, window, res)
            samples = self.metrics.instant(query, at - window_s)
        except (ConsoleError, ValueError):
            return None
        values = [s.value for s in samples if s.value is not None and math.isfinite(s.value)]
        if not values:
            return None  # no history at all in the reference window: the features say "no data"
        first = min(values)
        ref_start = at - 2 * window_s
        return first if first - ref_start > max(2 * res, 0.05 * window_s) else None

    def models_with_metrics(self, at: float | None = None, namespace: str | None = None) -> list[tuple[str, str, list[str]]]:
        """[(namespace, model, [revisions])] that export request metrics: for a screen opening on
        "the first model that has metrics"."""
        grouped: dict[tuple[str, str], list[str]] = {}
        for ns, m, rev in self.metrics.served_models(at, namespace):
            grouped.setdefault((ns, m), []).append(rev)
        return [(ns, m, revs) for (ns, m), revs in sorted(grouped.items())]
