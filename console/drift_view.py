"""What the Drift screen shows, gathered without Textual (blocking: run it from a thread worker).

load_view() is one refresh of the screen: which model (the one asked for, else the first with
metrics, preferring a canary), which of its revisions are compared (from the InferenceService's
status traffic, else guessed from the revisions that export metrics), the drift report, whether a
"before" reference is only partly covered by the history, and the rollout actions of the audit
journal as chart markers. A failure raises ViewFailed with the words for the screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from adapters.errors import ConsoleError, InvalidInput

if TYPE_CHECKING:
    from console.drift_service import DriftReport
    from console.services import Services

Model = tuple[str, str, list[str]]  # (namespace, name, [revisions exporting metrics])


@dataclass(frozen=True)
class Marker:
    """A rollout action on the chart's time axis."""

    t: float
    label: str  # short, e.g. "rollback"


@dataclass
class Target:
    """The InferenceService on screen and which of its revisions are compared."""

    namespace: str
    name: str
    live_revision: str | None = None
    stable_revision: str | None = None
    storage_uri: str | None = None
    traffic: dict[str, int | None] = field(default_factory=dict)
    source: str = "kube"  # kube | metrics
    note: str | None = None  # why the revisions come from metrics, when they do

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


@dataclass
class DriftView:
    target: Target
    report: DriftReport
    markers: list[Marker]
    models: list[Model]
    notes: list[str]
    history_start: float | None  # set when a "before" reference starts after its window does


class ViewFailed(Exception):
    def __init__(self, message: str, want: tuple[str, str] | None, models: list[Model] | None = None, *,
                 config: bool = False):
        super().__init__(message)
        self.message, self.want, self.models = message, want, models
        self.config = config  # a setting is missing or wrong: retrying soon will not help


def choose_model(models: list[Model]) -> tuple[str, str] | None:
    """The first model with metrics, preferring one with a canary (two or more revisions)."""
    for ns, name, revs in models:
        if len(revs) >= 2:
            return (ns, name)
    return (models[0][0], models[0][1]) if models else None


def revisions_from_metrics(revs: list[str]) -> tuple[str | None, str | None]:
    """(live, stable) guessed from revision names: Knative numbers them, the newest is live."""
    ordered = sorted(revs)
    if not ordered:
        return None, None
    return ordered[-1], (ordered[-2] if len(ordered) >= 2 else None)


def audit_markers(rows: list[Any], start: float, end: float) -> list[Marker]:
    """Applied rollout actions inside [start, end] as chart markers, oldest first."""
    out: list[Marker] = []
    for row in rows:
        if getattr(row, "outcome", "applied") != "applied":
            continue
        try:
            t = datetime.fromisoformat(str(row.ts).replace("Z", "+00:00")).timestamp()
        except ValueError:
            continue
        if start <= t <= end:
            out.append(Marker(t, str(row.action).removeprefix("rollout.")))
    return sorted(out, key=lambda m: m.t)


def resolve_target(services: Services, want: tuple[str, str], models: list[Model]) -> Target:
    """Live and stable revisions: from the InferenceService's status traffic (canary:
    latestRevision, stable: tag prev), else from the revisions that export metrics."""
    ns, name = want
    try:
        isvc = services.kube().get_inference_service(ns, name)
    except ConsoleError as error:
        revs = next((r for m_ns, m_name, r in models if (m_ns, m_name) == want), [])
        live, stable = revisions_from_metrics(revs)
        return Target(ns, name, live, stable, None, {}, "metrics",
                      f"revisions guessed from metrics (Kubernetes: {error.message})")
    traffic = {t.revision: t.percent for t in isvc.traffic if t.revision}
    live = isvc.latest_revision or isvc.latest_ready_revision
    stable = isvc.prev_revision if isvc.prev_revision != live else None
    return Target(ns, name, live, stable, isvc.storage_uri, traffic, "kube")


def load_view(services: Services, want: tuple[str, str] | None, window: str, reference: str | None,
              at: float) -> DriftView:
    """One refresh: reference None is "stable" when there is a canary, else "before"."""
    from console import drift
    from console.drift_service import DriftService

    models: list[Model] | None = None
    try:
        try:
            metrics = services.metrics()
        except ConsoleError as error:
            raise ViewFailed(error.message, want, config=True) from None
        service = DriftService(metrics, catalog=services.catalog,
                               thresholds=drift.Thresholds.from_settings(services.settings.drift))
        models = service.models_with_metrics(at)
        if want is None:
            want = choose_model(models)
            if want is None:
                raise ViewFailed("no model exports request metrics in this Prometheus "
                                 f"({metrics.request_metrics_hint()}): check prometheus_url, or that the model "
                                 "servers are scraped", None, models)
        target = resolve_target(services, want, models)
        notes = [target.note] if target.note else []
        ref = reference or ("stable" if target.stable_revision else "before")
        report = service.report(target.namespace, target.name, window=window, reference=ref, at=at,
                                live_revision=target.live_revision, stable_revision=target.stable_revision,
                                storage_uri=target.storage_uri)
        history_start = None
        if ref == "before" and not report.message:
            history_start = service.reference_history_start(target.namespace, target.name, target.live_revision,
                                                            window, at)
        markers: list[Marker] = []
        if report.span:
            try:
                rows = services.audit.list(target=f"{target.namespace}/{target.name}", action_prefix="rollout.",
                                           since=report.span[0])
                markers = audit_markers(rows, report.span[0], report.span[1])
            except ConsoleError as error:
                notes.append(f"audit journal: {error.message}")
    except ConsoleError as error:
        raise ViewFailed(error.message, want, models, config=isinstance(error, InvalidInput)) from None
    return DriftView(target, report, markers, models, notes, history_start)
