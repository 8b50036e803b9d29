"""What needs the on-call engineer now, across contexts: the items of the Now screen and of
`mlops-console triage`. No Textual import.

The pure part turns what the backends answered (InferenceServices, canary verdicts, runs, drift
reports) into Items; gather() asks the backends of every context concurrently, and a backend that
cannot be reached is an item of its own, never a missing context.
"""

from __future__ import annotations

import statistics
import threading
import time
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
WATCH_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)  # a lost watch lists again after these delays
JUDGE_WAIT = 10.0  # how long a poll waits for a context's first list before judging its canaries


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


def _collect(futures: list[Any], on_partial: Callable[[list[Item]], Any] | None) -> list[Item]:
    """The items of every future, sorted; on_partial gets the items so far as each one answers."""
    items: list[Item] = []
    pending = len(futures)
    for future in as_completed(futures):
        items += future.result()
        pending -= 1
        if on_partial is not None and pending:
            on_partial(sort_items(items))
    return sort_items(items)


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
                    for context in kfp_owners(settings_for, scope.contexts)]
        return _collect(futures, on_partial)


def kfp_owners(settings_for: Callable[[str | None], Any], contexts: list[str | None]) -> list[str | None]:
    """The contexts whose runs to ask for: contexts that share one KFP (the top-level kfp_url, no
    per-context one) see the same runs, which are asked once and named under the first of them."""
    seen: set[tuple[str, str | None]] = set()
    owners = []
    for context in contexts:
        try:
            settings = settings_for(context)
        except ConsoleError:
            owners.append(context)
            continue
        url = getattr(settings, "kfp_url", None)
        if url:
            where = (url, getattr(settings, "namespace", None) or getattr(getattr(settings, "kfp", None), "namespace", None))
            if where in seen:
                continue
            seen.add(where)
        owners.append(context)
    return owners


def context_name(settings_for: Callable[[str | None], Any], context: str | None) -> str:
    """The name a context's items carry (None: the kubeconfig's current context)."""
    if context:
        return context
    from console.config import kubeconfig_current_context

    try:
        return kubeconfig_current_context(getattr(settings_for(None), "kubeconfig", None)) or "(no current context)"
    except ConsoleError:
        return "(no current context)"


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
        # KFP pages carry each run's details (~20 KB a run): the newest few failed and running runs,
        # asked at once; the succeeded ones (for the usual durations) only when a run is running;
        # each recent failed run's tasks (to name the failing one) by a GET, as the listing leaves them.
        within = timedelta(hours=settings.triage.failed_within_hours)
        with ThreadPoolExecutor(max_workers=3) as pool:
            asked = {state: pool.submit(_runs, client, state, RUNS_PER_STATE, namespace) for state in ("FAILED", "RUNNING")}
            running = asked["RUNNING"].result()
            if running:
                asked["SUCCEEDED"] = pool.submit(_runs, client, "SUCCEEDED", RUNS_PER_STATE, namespace)
            recent = [run for run in asked["FAILED"].result()
                      if (run.finished_at or run.created_at or now) >= now - within]
            failed = list(pool.map(lambda run: _with_details(client, run), recent))
            succeeded = asked["SUCCEEDED"].result() if running else []
        items = run_items(context, failed, running, succeeded, now, None, within)
        if any(item.kind == "run-slow" for item in items):  # the experiments' names, only to say which
            try:
                names = {e.experiment_id: e.display_name for e in client.list_experiments(namespace=namespace)}
                items = run_items(context, failed, running, succeeded, now, names, within)
            except ConsoleError:
                pass
        return items
    except ConsoleError as error:
        return [unavailable(context, "kubeflow pipelines", error, now)]
    finally:
        client.close()


def _runs(client: Any, state: str, limit: int, namespace: str | None) -> list[Any]:
    return list(client.list_runs(page_size=limit, state=state, namespace=namespace).runs)


def _with_details(client: Any, run: Any) -> Any:
    """A listed run carries no tasks on some servers: fetch it to name the failing task."""
    if run.has_details:
        return run
    try:
        return client.get_run(run.run_id)
    except ConsoleError:
        return replace(run)


# -- live (the Now screen): serving by watch, runs and metrics by poll -----------------------------


class ServingWatch:
    """One context's InferenceServices, kept by list + watch (KubeClient.follow_inference_services:
    relists on 410) in the thread that calls run(); read from any thread. Each InferenceService's
    items are worked out when it changes (not all of them on every event), and the reader hears only
    of changes to the items. A watch that fails is one backend-unavailable item with the reason and
    the next retry, and lists again after a backoff; meanwhile the items last seen stay (unknown is
    not resolved)."""

    def __init__(self, settings_for: Callable[[str | None], Any], context: str | None, namespace: str | None,
                 backoff: tuple[float, ...] | None = None):
        self.context, self.namespace, self.backoff = context, namespace, backoff or WATCH_BACKOFF
        self._settings_for = settings_for
        self.name = context or "(current context)"  # the kube client's name for it, once built
        self.answered = threading.Event()  # listed, or failed: a poll may judge what it holds
        self.changed = threading.Event()  # set on a change of the items, cleared by items(): changes coalesce
        self._lock = threading.Lock()
        self._isvcs: dict[str, Any] = {}
        self._items: dict[str, list[Item]] = {}  # InferenceService key -> its items (none: absent)
        self._verdicts: dict[str, Any] = {}
        self._lost: Item | None = None

    def isvcs(self) -> list[Any]:
        with self._lock:
            return list(self._isvcs.values())

    def items(self) -> list[Item]:
        self.changed.clear()
        with self._lock:
            return [item for items in self._items.values() for item in items] + ([self._lost] if self._lost else [])

    def judge(self, verdicts: dict[str, Any]) -> None:
        """The canaries' verdicts from a poll (console.canary.Verdict by namespace/name)."""
        with self._lock:
            self._verdicts = verdicts
            changed = self._work_out(list(self._isvcs))
        if changed:
            self.changed.set()

    def _work_out(self, keys: Iterable[str]) -> bool:
        """Under the lock: the items of these InferenceServices again; True when any changed."""
        changed = False
        for key in keys:
            isvc = self._isvcs.get(key)
            items = isvc_items(self.name, [isvc], self._verdicts) if isvc is not None else []
            if items != self._items.get(key, []):
                changed = True
                if items:
                    self._items[key] = items
                else:
                    self._items.pop(key, None)
        return changed

    def run(self, stop: threading.Event, on_change: Callable[[], None]) -> None:
        """Until stop is set; on_change() when the items change (a list, an event or a failure)
        unless the last change is still unread, so a burst of events costs the reader one read."""
        from adapters.kube import Snapshot
        from console import clients

        def changed() -> None:
            if not self.changed.is_set():
                self.changed.set()
                on_change()

        failures = 0
        down_since: datetime | None = None
        while not stop.is_set():
            try:
                kube = clients.kube_client(self._settings_for(self.context))
                self.name = kube.context or context_name(self._settings_for, self.context)
                try:
                    for event in kube.follow_inference_services(self.namespace, stop):
                        with self._lock:
                            if isinstance(event, Snapshot):
                                gone = set(self._isvcs)
                                self._isvcs = {isvc.key: isvc for isvc in event.items}
                                news = self._work_out(gone | set(self._isvcs)) or self._lost is not None
                                self._lost, failures, down_since = None, 0, None
                            elif event.object is None:
                                continue
                            else:
                                if event.type == "DELETED":
                                    self._isvcs.pop(event.object.key, None)
                                else:
                                    self._isvcs[event.object.key] = event.object
                                news = self._work_out([event.object.key])
                        first = not self.answered.is_set()
                        self.answered.set()
                        if news or first:
                            changed()
                finally:
                    kube.close()
                error = ConsoleError("the watch ended")
            except ConsoleError as failed:
                error = failed
            except Exception as failed:  # noqa: BLE001 - a bug must not end the watch silently
                error = ConsoleError(f"{type(failed).__name__}: {failed}")
            if stop.is_set():
                return
            delay = self.backoff[min(failures, len(self.backoff) - 1)]
            failures += 1
            down_since = down_since or datetime.now(UTC)
            retry = time.strftime("%H:%M:%S", time.gmtime(time.time() + delay))
            if self.name == "(current context)":
                self.name = context_name(self._settings_for, self.context)
            lost = unavailable(self.name, "kubernetes", error, down_since)
            with self._lock:
                self._lost = replace(lost, summary=f"{lost.summary} · retrying in {delay:g} s (at {retry})")
            self.answered.set()
            changed()
            stop.wait(delay)


def poll(settings_for: Callable[[str | None], Any], scope: Scope, watches: list[ServingWatch], *,
         now: datetime | None = None, max_workers: int = 8,
         on_partial: Callable[[list[Item]], object] | None = None) -> list[Item]:
    """The polled half of the Now screen: each context's pipeline runs (KFP), and the canary
    verdicts (handed to its watch: ServingWatch.judge) and drift (Prometheus) of the
    InferenceServices its watch holds. on_partial as gather's."""
    now = now or datetime.now(UTC)

    def judged(watch: ServingWatch) -> list[Item]:
        watch.answered.wait(JUDGE_WAIT)
        try:
            settings = settings_for(watch.context)
        except ConsoleError:
            return []  # the watch names the context's problem
        verdicts, items = _judge(settings, watch.name, watch.isvcs(), now)
        watch.judge(verdicts)
        return items

    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        futures = [pool.submit(_runs_of_context, settings_for, context, scope.namespace, now)
                   for context in kfp_owners(settings_for, scope.contexts)]
        futures += [pool.submit(judged, watch) for watch in watches]
        return _collect(futures, on_partial)
