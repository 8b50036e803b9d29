"""What needs the on-call engineer now, across contexts: the items of the Now screen and of
`mlops-console triage`. No Textual import.

The pure part turns what the backends answered (InferenceServices, canary verdicts, runs, drift
reports) into Items; gather() asks the backends of every context concurrently, and a backend that
cannot be reached is an item of its own, never a missing context.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.errors import ConsoleError

CRITICAL, WARNING, INFO = "critical", "warning", "info"
SEVERITY_ORDER = {CRITICAL: 0, WARNING: 1, INFO: 2}
KINDS = ("revision-failed", "not-ready", "canary-failing", "canary-in-progress", "run-failed", "run-slow", "drift",
         "backend-unavailable")

FAILED_RUN_WINDOW = timedelta(hours=24)
SLOW_FACTOR = 3.0  # a running run is slow past this many times its experiment's median duration
SLOW_MIN_SAMPLES = 3
DRIFT_WINDOW = "1h"
RUNS_PER_STATE = 50


@dataclass(frozen=True)
class Item:
    severity: str  # critical | warning | info
    kind: str  # one of KINDS
    context: str
    namespace: str | None
    name: str
    summary: str
    since: str | None  # ISO 8601 UTC, when the condition began (None: unknown)
    ref: str | None = None  # what to select when opened (a run id), not part of the JSON

    def to_json(self) -> dict[str, Any]:
        return {"severity": self.severity, "kind": self.kind, "context": self.context, "namespace": self.namespace,
                "name": self.name, "summary": self.summary, "since": self.since}

    @property
    def key(self) -> tuple[str, str, str | None, str]:
        """Identifies the thing and its trouble across refreshes (the summary may change)."""
        return (self.kind, self.context, self.namespace, self.name)


def sort_items(items: Iterable[Item]) -> list[Item]:
    """Most severe first; within a severity the newest trouble first (unknown times last)."""
    newest_first = sorted(items, key=lambda i: i.since or "", reverse=True)
    return sorted(newest_first, key=lambda i: SEVERITY_ORDER.get(i.severity, 9))


def needs_attention(items: Iterable[Item]) -> bool:
    """`triage` exits 1 when any item is critical or a warning."""
    return any(i.severity in (CRITICAL, WARNING) for i in items)


def iso(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- serving ----------------------------------------------------------------------------------------


def _ready_condition(isvc: Any) -> Any | None:
    return next((c for c in isvc.conditions if c.type == "Ready"), None)


def isvc_items(context: str, isvcs: Iterable[Any], verdicts: dict[str, Any] | None = None) -> list[Item]:
    """Failed or not-ready InferenceServices, and canaries in progress with their verdict.

    verdicts: {namespace/name: console.canary.Verdict} for the canaries judged."""
    verdicts = verdicts or {}
    items = []
    from console.rollouts import latest_not_ready

    for isvc in isvcs:
        ready = _ready_condition(isvc)
        since = ready.last_transition if ready else None
        why = (ready.message or ready.reason) if ready and ready.status != "True" else None
        not_ready = latest_not_ready(isvc)  # a revision still deploying is not (yet) a failure
        if not_ready is not None and not_ready.failed:
            failed = next((c for c in isvc.conditions if c.status == "False" and c.message), None)
            items.append(Item(CRITICAL, "revision-failed", context, isvc.namespace, isvc.name,
                              not_ready.message if not_ready.revision in not_ready.message
                              else f"revision {not_ready.revision} failed: {not_ready.message}",
                              (failed.last_transition if failed else since)))
        elif isvc.ready is False and not_ready is None:
            items.append(Item(CRITICAL, "not-ready", context, isvc.namespace, isvc.name,
                              f"not ready: {why or 'the Ready condition is False'}", since))
        percent = isvc.canary_traffic_percent
        if percent is not None and 0 < percent < 100 and not isvc.failing_revision:
            verdict = verdicts.get(isvc.key)
            status = getattr(verdict, "status", None)
            if status == "failing":
                items.append(Item(CRITICAL, "canary-failing", context, isvc.namespace, isvc.name,
                                  f"canary at {percent}%: {verdict_text(verdict)}", since))
            else:
                judged = f": {verdict_text(verdict)}" if verdict is not None else ""
                items.append(Item(INFO, "canary-in-progress", context, isvc.namespace, isvc.name,
                                  f"canary {isvc.latest_revision or ''} at {percent}%{judged}".replace("  ", " "),
                                  since))
    return items


def verdict_text(verdict: Any) -> str:
    """"failing checks 1 of 2: success rate 96.1% < 99%" from a console.canary.Verdict."""
    failed = [c.text for c in verdict.checks if c.passed is False]
    detail = "; ".join(failed) or verdict.reason
    return f"{verdict.text}: {detail}" if detail else verdict.text


# -- pipelines ----------------------------------------------------------------------------------------


def run_items(context: str, failed: Iterable[Any], running: Iterable[Any], finished_ok: Iterable[Any],
              now: datetime, experiment_names: dict[str, str] | None = None,
              failed_within: timedelta = FAILED_RUN_WINDOW) -> list[Item]:
    """Runs that failed within `failed_within` of now, and running runs far past their
    experiment's usual duration (the median of its succeeded runs)."""
    names = experiment_names or {}
    items = []
    cutoff = now - failed_within
    for run in failed:
        ended = run.finished_at or run.created_at
        if ended is not None and ended < cutoff:
            continue
        items.append(Item(WARNING, "run-failed", context, _run_namespace(run), run.display_name,
                          run.failure or f"run {run.run_id} failed with no error recorded", iso(ended), run.run_id))
    usual: dict[str, list[float]] = {}
    for run in finished_ok:
        took = run.duration(now)
        if took is not None and run.experiment_id:
            usual.setdefault(run.experiment_id, []).append(took)
    for run in running:
        samples = usual.get(run.experiment_id or "", [])
        took = run.duration(now)
        if took is None or len(samples) < SLOW_MIN_SAMPLES:
            continue
        median = statistics.median(samples)
        if median > 0 and took > SLOW_FACTOR * median:
            experiment = names.get(run.experiment_id or "", run.experiment_id or "?")
            items.append(Item(WARNING, "run-slow", context, _run_namespace(run), run.display_name,
                              f"running {_minutes(took)}, {took / median:.1f}x the usual "
                              f"{_minutes(median)} of experiment {experiment}", iso(run.created_at), run.run_id))
    return items


def _run_namespace(run: Any) -> str | None:
    return getattr(run, "namespace", None)


def _minutes(seconds: float) -> str:
    from console.humanize import duration

    return duration(seconds)


# -- drift ----------------------------------------------------------------------------------------------


def drift_items(context: str, namespace: str, model: str, report: Any) -> list[Item]:
    """One item per model whose features drift past the drift threshold (the worst named)."""
    drifting = [f for f in report.features if f.status == "drift"]
    if not drifting:
        return []
    worst = max(drifting, key=lambda f: f.psi or 0.0)
    others = f" and {len(drifting) - 1} more" if len(drifting) > 1 else ""
    return [Item(WARNING, "drift", context, namespace, model,
                 f"feature {worst.feature} drifts (PSI {worst.psi:.2f}){others}, window {report.window}",
                 None, worst.feature)]  # when the drift began is not known, and "now" would be a guess


def unavailable(context: str, backend: str, error: ConsoleError, since: datetime) -> Item:
    return Item(CRITICAL if backend == "kubernetes" else WARNING, "backend-unavailable", context, None, backend,
                f"{backend} unreachable: {error.message}", iso(since))


def settings_resolver(base: Any, flags: dict[str, Any] | None) -> Callable[[str | None], Any]:
    """Settings for a context in scope. Another context's settings are resolved again from the
    flags, so its per-context section (its Prometheus, its KFP, read-only) applies and nothing of
    the current context's leaks into it."""
    def settings_for(context: str | None) -> Any:
        if context is None or context == base.context:
            return base
        from console import config

        return config.resolve({**(flags or {}), "context": context})

    return settings_for


# -- gathering ----------------------------------------------------------------------------------------


def scope_contexts(settings: Any) -> list[str | None]:
    """The current context (None: the kubeconfig's), then the config's [triage] contexts."""
    extra = [c for c in settings.triage.contexts if c != settings.context]
    return [settings.context, *dict.fromkeys(extra)]


@dataclass
class Scope:
    contexts: list[str | None]  # None: the kubeconfig's current context
    namespace: str | None  # None: all namespaces


def gather(settings_for: Callable[[str | None], Any], scope: Scope, *, now: datetime | None = None,
           max_workers: int = 8, on_partial: Callable[[list[Item]], object] | None = None) -> list[Item]:
    """Every item of every context in scope, sorted. Each context's serving side (Kubernetes,
    Prometheus) and its pipelines (KFP) are asked concurrently; on_partial, if given, gets the
    items so far (sorted) each time one of them answers, so a screen shows the first answers
    without waiting for the slowest backend."""
    now = now or datetime.now(UTC)
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        futures = [pool.submit(_serving_items, settings_for, context, scope.namespace, now)
                   for context in scope.contexts]
        futures += [pool.submit(_runs_of_context, settings_for, context, scope.namespace, now)
                    for context in _one_context_per_kfp(settings_for, scope)]
        items: list[Item] = []
        pending = len(futures)
        for future in as_completed(futures):
            items += future.result()
            pending -= 1
            if on_partial is not None and pending:
                on_partial(sort_items(items))
    return sort_items(items)


def _one_context_per_kfp(settings_for: Callable[[str | None], Any], scope: Scope) -> list[str | None]:
    """Contexts that share one Kubeflow Pipelines (the same URL and namespace) report its runs once,
    under the first of them; a context whose settings cannot be resolved reports none."""
    chosen: dict[tuple[str, str | None], str | None] = {}
    for context in scope.contexts:
        try:
            settings = settings_for(context)
        except ConsoleError:
            continue
        if settings.kfp_url:
            chosen.setdefault((settings.kfp_url, scope.namespace or settings.kfp.namespace), context)
    return list(chosen.values())


def _serving_items(settings_for: Callable[[str | None], Any], context: str | None, namespace: str | None,
                   now: datetime) -> list[Item]:
    from console import clients

    try:
        settings = settings_for(context)
        kube = clients.kube_client(settings)
    except ConsoleError as error:
        from console.config import kubeconfig_current_context

        named = context or kubeconfig_current_context(getattr(settings_for(None), "kubeconfig", None))
        return [unavailable(named or "(no current context)", "kubernetes", error, now)]
    name = kube.context
    items: list[Item] = []
    try:
        try:
            isvcs, _ = kube.list_inference_services(namespace)
        except ConsoleError as error:
            items.append(unavailable(name, "kubernetes", error, now))
            isvcs = []
        verdicts, metric_items = _judge(settings, name, isvcs, now)
        items += isvc_items(name, isvcs, verdicts) + metric_items
    finally:
        kube.close()
    return items


def _runs_of_context(settings_for: Callable[[str | None], Any], context: str | None, namespace: str | None,
                     now: datetime) -> list[Item]:
    from console.config import kubeconfig_current_context

    try:
        settings = settings_for(context)
    except ConsoleError:
        return []  # the serving side names the context's problem once
    name = settings.context or kubeconfig_current_context(settings.kubeconfig) or "(no current context)"
    return _pipeline_items(settings, name, namespace, now)


def _judge(settings: Any, context: str, isvcs: list[Any], now: datetime) -> tuple[dict[str, Any], list[Item]]:
    """Canary verdicts and drift of the InferenceServices that have metrics."""
    if not settings.prometheus_url or not isvcs:
        return {}, []
    from console import canary, clients, drift
    from console.drift_service import DriftService

    try:
        metrics = clients.metrics_client(settings)
    except ConsoleError as error:
        return {}, [unavailable(context, "prometheus", error, now)]
    try:
        service = DriftService(metrics, thresholds=drift.Thresholds.from_settings(settings.drift),
                               health_thresholds=canary.HealthThresholds.from_settings(settings.health))
        verdicts: dict[str, Any] = {}
        items: list[Item] = []
        try:
            served = {(ns, model) for ns, model, _ in service.models_with_metrics()}
        except ConsoleError as error:
            return {}, [unavailable(context, "prometheus", error, now)]
        for isvc in isvcs:
            if (isvc.namespace, isvc.name) not in served or not isvc.latest_revision:
                continue
            in_canary = bool(isvc.prev_revision) and isvc.prev_revision != isvc.latest_revision
            try:
                if in_canary:
                    verdicts[isvc.key] = service.health(isvc.namespace, isvc.name,
                                                        canary_revision=isvc.latest_revision,
                                                        stable_revision=isvc.prev_revision)
                # A canary's inputs against the stable revision's; otherwise against the hour before.
                report = service.report(isvc.namespace, isvc.name, window=DRIFT_WINDOW,
                                        reference="stable" if in_canary else "before",
                                        live_revision=isvc.latest_revision,
                                        stable_revision=isvc.prev_revision if in_canary else None,
                                        with_series=False)
                items += drift_items(context, isvc.namespace, isvc.name, report)
            except ConsoleError:
                continue  # one model's metrics do not hide the others'
        return verdicts, items
    finally:
        metrics.close()


def _pipeline_items(settings: Any, context: str, namespace: str | None, now: datetime) -> list[Item]:
    if not settings.kfp_url:
        return []
    from console import clients

    try:
        client = clients.pipelines_client(settings)
    except ConsoleError as error:
        return [unavailable(context, "kubeflow pipelines", error, now)]
    try:
        # KFP pages carry each run's details (~20 KB a run): ask for the newest few of each state.
        failed = _runs(client, "FAILED", RUNS_PER_STATE, namespace)
        running = _runs(client, "RUNNING", RUNS_PER_STATE, namespace)
        succeeded = _runs(client, "SUCCEEDED", RUNS_PER_STATE, namespace)
        within = timedelta(hours=settings.triage.failed_within_hours)
        failed = [_with_details(client, run) for run in failed if (run.finished_at or run.created_at or now) >= now - within]
        names = {}
        try:
            names = {e.experiment_id: e.display_name for e in client.list_experiments(namespace=namespace)}
        except ConsoleError:
            pass
        return run_items(context, failed, running, succeeded, now, names, within)
    except ConsoleError as error:
        return [unavailable(context, "kubeflow pipelines", error, now)]
    finally:
        client.close()


def _runs(client: Any, state: str, limit: int, namespace: str | None) -> list[Any]:
    page = client.list_runs(page_size=limit, state=state, namespace=namespace)
    return page.runs


def _with_details(client: Any, run: Any) -> Any:
    """A listed run carries no tasks on some servers: fetch it to name the failing task."""
    if run.has_details:
        return run
    try:
        return client.get_run(run.run_id)
    except ConsoleError:
        return replace(run)
