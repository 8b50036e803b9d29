"""A KServe controller simulator: turns InferenceService spec changes into revisions, readiness,
traffic and status, the way KServe (on Knative Serving) does.

`reconcile()` is pure: (object, per-object record, now) -> (record, status, next wake-up).
`KServeController` runs it in a thread against a ClusterState, so status changes are ordinary
store writes (watch MODIFIED events, resourceVersion bumps).

Semantics (Serverless mode):
- a revision `<name>-predictor-0000N` is created when the predictor's template changes (model,
  runtime, resources, ...); a change of canaryTrafficPercent alone creates none;
- with no rolled-out revision yet the latest ready revision gets 100% (no canary possible);
- canaryTrafficPercent P with a rolled-out revision: the latest ready revision gets P
  (latestRevision true), the last rolled-out revision 100-P (tag "prev") only when P < 100; the
  "latest" tag only with serving.kserve.io/enable-tag-routing: "true" (ksvc_reconciler.go);
- latestRolledoutRevision advances when the latest ready revision holds 100% (field removed or
  100); previousRolledoutRevision keeps the one before;
- P = 0 is a rollback: the latest gets 0%, prev 100%; the spec keeps the new model; P < 100 after a
  promotion pins latestRolledoutRevision back to previousRolledoutRevision, which then takes the
  traffic (PropagateStatus, in two passes as the controller does);
- P is not range-checked (KServe does not); Knative refuses a percent outside 0..100, so the route
  keeps its old split and the controller reports InternalError;
- status.observedGeneration is the Knative Service's (Deployment's) generation, not the object's;
- the controller adds the inferenceservice.finalizers finalizer, removes it on deletion, and emits
  Events: InferenceServiceReady / InferenceServiceNotReady / InternalError on the object, Knative's
  LatestCreatedFailed on the predictor's Configuration;
- a revision that never becomes ready leaves latestCreatedRevision != latestReadyRevision; the
  `latestRevision: true` target keeps resolving to the latest *ready* revision, as Knative does,
  and the conditions say why (RevisionFailed);
- RawDeployment (annotation serving.kserve.io/deploymentMode: RawDeployment or Standard): one
  Deployment, no revisions, no traffic split; canaryTrafficPercent is ignored, as KServe does.
- Standard-mode canaries (KServe 0.20, components/predictor.go reconcileCanaryDeployments): each
  spec.canary[] entry runs as its own Deployment {isvc}-{name}-predictor built from the stable
  predictor merged with the canary's (buildCanaryPredictor), ready after the ready delay (or never,
  for a broken model); status.canaryStatuses[] {name, ready, trafficPercent} and the condition
  CanaryPredictorReady (AllCanariesReady / CanariesNotReady; not part of Ready); a Deployment
  whose entry left the spec is deleted. Promotion (stable predictor takes the canary's name and
  model, the entry goes) adopts the canary's Deployment as it runs: no restart.
"""

from __future__ import annotations

import copy
import heapq
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

DEPLOYMENT_MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
TAG_ROUTING_ANNOTATION = "serving.kserve.io/enable-tag-routing"
FINALIZER = "inferenceservice.finalizers"
NEVER_READY_ANNOTATION = "sandbox.mlops-console.dev/never-ready"
RAW_MODES = {"RawDeployment", "Standard"}
FRAMEWORK_KEYS = ("model", "sklearn", "xgboost", "lightgbm", "pytorch", "tensorflow", "onnx", "triton",
                  "huggingface", "pmml", "paddle")


@dataclass
class Revision:
    name: str
    number: int
    template: str
    created: float
    ready_at: float | None  # None: never becomes ready
    failure: str | None = None
    storage_uri: str | None = None


@dataclass
class SimRecord:
    uid: str
    revisions: list[Revision] = field(default_factory=list)
    latest_rolledout: str | None = None
    previous_rolledout: str | None = None
    child_spec: str | None = None  # the Knative Service's (or Deployment's) spec as last written
    child_generation: int = 0  # its metadata.generation: what status.observedGeneration reports
    child_error: str | None = None  # why the last write of the child was refused (Knative's webhook)
    canaries: dict[str, Revision] = field(default_factory=dict)  # Standard mode: canary name -> its Deployment


def deployment_mode(obj: dict) -> str:
    ann = (obj.get("metadata") or {}).get("annotations") or {}
    mode = ann.get(DEPLOYMENT_MODE_ANNOTATION, "Serverless")
    return "RawDeployment" if mode in RAW_MODES else "Serverless"


def predictor_storage_uri(pred: dict) -> str | None:
    for key in FRAMEWORK_KEYS:
        body = pred.get(key)
        if isinstance(body, dict) and isinstance(body.get("storageUri"), str):
            return body["storageUri"]
    return None


def revision_template(pred: dict) -> str:
    """What makes a new revision: the predictor spec except the traffic setting."""
    tpl = {k: v for k, v in pred.items() if k != "canaryTrafficPercent"}
    return json.dumps(tpl, sort_keys=True, separators=(",", ":"))


# Replica and autoscaling settings size a Deployment; they are not part of its pod template.
_SCALING_FIELDS = {"canaryTrafficPercent", "minReplicas", "maxReplicas", "scaleTarget", "scaleMetric",
                   "scaleMetricType", "autoScaling"}


def deployment_template(pred: dict) -> str:
    """What restarts a Standard-mode Deployment's pods: the predictor spec except its scaling."""
    tpl = {k: v for k, v in pred.items() if k not in _SCALING_FIELDS}
    return json.dumps(tpl, sort_keys=True, separators=(",", ":"))


def _override(base: dict, over: dict) -> dict:
    """mergo.Merge(WithOverride): non-empty values of `over` win, maps merge key by key."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _override(out[key], value)
        elif value not in (None, "", [], {}):
            out[key] = copy.deepcopy(value)
    return out


def canary_predictor(stable: dict, canary: dict) -> dict:
    """buildCanaryPredictor (components/predictor.go): the stable predictor overridden by the
    canary's, without the autoscaling fields (the canary runs fixed replicas)."""
    merged = _override(stable, canary)
    for key in _SCALING_FIELDS:
        merged.pop(key, None)
    return merged


def default_failure(obj: dict, pred: dict, broken_uris: set[str] | frozenset = frozenset()) -> str | None:
    """Why a new revision of this object would never become ready, or None."""
    ann = (obj.get("metadata") or {}).get("annotations") or {}
    uri = predictor_storage_uri(pred)
    if ann.get(NEVER_READY_ANNOTATION, "").lower() == "true" or (uri and uri in broken_uris):
        return (f"Container failed with: ModelLoadFailed: failed to load model from {uri or 'the container'}: "
                f"ContainerHealthCheckFailed: readiness probe failed: HTTP probe failed with statuscode: 503")
    return None


def _condition(prev: dict[str, dict], now_s: str, type_: str, status: str, reason: str | None = None,
               message: str | None = None, severity: str | None = None) -> dict:
    cond = {"type": type_, "status": status}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    if severity:
        cond["severity"] = severity
    old = prev.get(type_)
    if old and old.get("status") == status and old.get("lastTransitionTime"):
        cond["lastTransitionTime"] = old["lastTransitionTime"]
    else:
        cond["lastTransitionTime"] = now_s
    return cond


def _rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def reconcile(obj: dict, rec: SimRecord | None, now: float, *, ready_delay: float = 0.0,
              failure: Callable[[dict, dict], str | None] | None = None) -> tuple[SimRecord, dict, float | None]:
    """One reconcile pass. Returns (record, status, when to reconcile again or None)."""
    meta = obj.get("metadata") or {}
    name, ns = meta.get("name", ""), meta.get("namespace", "default")
    uid = meta.get("uid", "")
    if rec is None or rec.uid != uid:
        rec = SimRecord(uid=uid)
    else:
        rec = copy.deepcopy(rec)
    pred = ((obj.get("spec") or {}).get("predictor")) or {}
    mode = deployment_mode(obj)
    fail_fn = failure or (lambda o, p: default_failure(o, p))

    template = revision_template(pred)
    if not rec.revisions or rec.revisions[-1].template != template:
        number = len(rec.revisions) + 1
        adopted = rec.canaries.get(pred.get("name") or "") if mode == "RawDeployment" else None
        if adopted is not None and adopted.template == deployment_template(pred):
            # a promotion: the stable predictor now is the canary's Deployment, pods as they run
            ready_at, created, why = adopted.ready_at, adopted.created, adopted.failure
        else:
            why = fail_fn(obj, pred)
            ready_at, created = (None if why else now + max(0.0, ready_delay)), now
        rec.revisions.append(Revision(
            name=f"{name}-predictor-{number:05d}", number=number, template=template, created=created,
            ready_at=ready_at, failure=why, storage_uri=predictor_storage_uri(pred)))
    canary_wake = _reconcile_canaries(obj, rec, pred, mode, now, ready_delay, fail_fn)

    latest = rec.revisions[-1]
    ready = [r for r in rec.revisions if r.ready_at is not None and r.ready_at <= now]
    latest_ready = ready[-1] if ready else None
    latest_ok = latest.ready_at is not None and latest.ready_at <= now
    pending = [r.ready_at for r in rec.revisions if r.ready_at is not None and r.ready_at > now]
    pending += [canary_wake] if canary_wake is not None else []
    next_wake = min(pending) if pending else None

    old_status = obj.get("status") or {}
    prev_conds = {c.get("type"): c for c in old_status.get("conditions") or [] if isinstance(c, dict)}
    now_s = _rfc3339(now)
    host = f"{name}.{ns}.example.com"
    # KServe records the resolved mode, the legacy "RawDeployment" read as "Standard" (constants.go
    # ParseDeploymentMode; isvc_reconciler GetDeploymentMode)
    status: dict = {"deploymentMode": "Standard" if mode == "RawDeployment" else mode}
    conditions: list[dict] = []

    if latest_ok:
        config = ("True", None, None)
    elif latest.failure:
        config = ("False", "RevisionFailed", f'Revision "{latest.name}" failed with message: {latest.failure}.')
    else:
        config = ("Unknown", "RevisionMissing" if latest_ready is None else "Deploying",
                  f'Revision "{latest.name}" is being deployed and is not ready yet.')

    if mode == "RawDeployment":
        _write_child(rec, template, None)
        component: dict = {}
        if latest_ready is not None:
            component["url"] = f"http://{name}-predictor.{ns}.svc.cluster.local"
            status["url"] = f"http://{host}"
            status["address"] = {"url": f"http://{name}-predictor.{ns}.svc.cluster.local"}
        status["components"] = {"predictor": component}
        conditions.append(_condition(prev_conds, now_s, "IngressReady",
                                     "True" if latest_ready else "Unknown"))
        conditions.append(_condition(prev_conds, now_s, "PredictorReady", *config))
        conditions.append(_condition(prev_conds, now_s, "Ready", *config))
        entries = _canary_entries(obj)
        if entries:
            statuses = [{"name": e["predictor"]["name"], "ready": _is_ready(rec.canaries[e["predictor"]["name"]], now),
                         "trafficPercent": int(e.get("trafficPercent") or 0)} for e in entries]
            status["canaryStatuses"] = statuses
            all_ready = all(st["ready"] for st in statuses)
            conditions.append(_condition(prev_conds, now_s, "CanaryPredictorReady", "True" if all_ready else "False",
                                         "AllCanariesReady" if all_ready else "CanariesNotReady"))
    else:
        # The Knative Service's traffic block (ksvc_reconciler.go, createKnativeService)
        canary_pct = pred.get("canaryTrafficPercent")
        tag_routing = (meta.get("annotations") or {}).get(TAG_ROUTING_ANNOTATION) == "true"
        targets: list[dict] = []
        if canary_pct is not None and rec.latest_rolledout is not None:
            targets.append({"latestRevision": True, "percent": int(canary_pct)})
            if int(canary_pct) < 100:
                targets.append({"revisionName": rec.latest_rolledout, "latestRevision": False,
                                "percent": 100 - int(canary_pct), "tag": "prev"})
        else:
            targets.append({"latestRevision": True, "percent": 100})
        if tag_routing:
            targets[0]["tag"] = "latest"
        _write_child(rec, template, targets)
        traffic: list[dict] = []
        if latest_ready is not None:
            if rec.child_error is None:
                for t in targets:  # Knative's route resolves latestRevision to the latest *ready* revision
                    entry = {**({"tag": t["tag"]} if t.get("tag") else {}),
                             "revisionName": t.get("revisionName") or latest_ready.name,
                             "percent": t["percent"], "latestRevision": t["latestRevision"]}
                    if t.get("tag"):
                        entry["url"] = f"http://{t['tag']}-{name}-predictor.{ns}.example.com"
                    traffic.append(entry)
            else:  # Knative refused the new traffic block: the route keeps serving the old one
                traffic = copy.deepcopy(((old_status.get("components") or {}).get("predictor") or {}).get("traffic")
                                        or [{"revisionName": latest_ready.name, "percent": 100, "latestRevision": True}])
            _propagate_rollout(rec, traffic, latest_ready.name, latest.name)
        component = {"latestCreatedRevision": latest.name}
        if latest_ready is not None:
            component["latestReadyRevision"] = latest_ready.name
            component["url"] = f"http://{name}-predictor.{ns}.example.com"
            component["address"] = {"url": f"http://{name}-predictor.{ns}.svc.cluster.local"}
            status["url"] = f"http://{host}"
            status["address"] = {"url": f"http://{name}.{ns}.svc.cluster.local"}
        if rec.latest_rolledout:
            component["latestRolledoutRevision"] = rec.latest_rolledout
        if rec.previous_rolledout:
            component["previousRolledoutRevision"] = rec.previous_rolledout
        if traffic:
            component["traffic"] = traffic
        status["components"] = {"predictor": component}
        route = ("True", None, None) if latest_ready else (
            "Unknown", "RevisionMissing", f'Configuration "{name}-predictor" is waiting for a Revision to become ready.')
        conditions.append(_condition(prev_conds, now_s, "IngressReady", route[0], route[1], route[2]))
        conditions.append(_condition(prev_conds, now_s, "LatestDeploymentReady", *config))
        conditions.append(_condition(prev_conds, now_s, "PredictorConfigurationReady", *config))
        both = config if config[0] != "True" else route
        conditions.append(_condition(prev_conds, now_s, "PredictorReady", *both))
        conditions.append(_condition(prev_conds, now_s, "PredictorRouteReady", *route))
        conditions.append(_condition(prev_conds, now_s, "Ready", *both))
    status["conditions"] = conditions
    # PropagateStatus copies the Knative Service's (Deployment's) observedGeneration, not the
    # InferenceService's generation: one spec change can write the child twice, or not at all.
    status["observedGeneration"] = rec.child_generation

    if latest_ok:
        model_status = {"transitionStatus": "UpToDate",
                        "states": {"activeModelState": "Loaded", "targetModelState": "Loaded"},
                        "copies": {"failedCopies": 0, "totalCopies": 1}}
    elif latest.failure:
        model_status = {"transitionStatus": "BlockedByFailedLoad",
                        "states": {"activeModelState": "Loaded" if latest_ready else "FailedToLoad",
                                   "targetModelState": "FailedToLoad"},
                        "copies": {"failedCopies": 1, "totalCopies": 1},
                        "lastFailureInfo": {"reason": "ModelLoadFailed", "message": latest.failure,
                                            "modelRevisionName": latest.name,
                                            "time": _rfc3339(latest.created)}}
        old_fail = ((old_status.get("modelStatus") or {}).get("lastFailureInfo") or {})
        if old_fail.get("modelRevisionName") == latest.name and old_fail.get("time"):
            model_status["lastFailureInfo"]["time"] = old_fail["time"]
    else:
        model_status = {"transitionStatus": "InProgress",
                        "states": {"activeModelState": "Loaded" if latest_ready else "Pending",
                                   "targetModelState": "Loading"},
                        "copies": {"failedCopies": 0}}
    status["modelStatus"] = model_status
    return rec, status, next_wake


def _canary_entries(obj: dict) -> list[dict]:
    """spec.canary[] entries the controller can act on (the webhook refused the others)."""
    spec = obj.get("spec") or {}
    return [e for e in spec.get("canary") or [] if isinstance(e, dict)
            and isinstance(e.get("predictor"), dict) and e["predictor"].get("name")]


def _is_ready(r: Revision, now: float) -> bool:
    return r.ready_at is not None and r.ready_at <= now


def _reconcile_canaries(obj: dict, rec: SimRecord, pred: dict, mode: str, now: float, ready_delay: float,
                        fail_fn: Callable[[dict, dict], str | None]) -> float | None:
    """One Deployment per canary (reconcileCanaryDeployments); a changed pod template rolls it,
    a canary gone from the spec loses its Deployment. Returns when one becomes ready next."""
    entries = _canary_entries(obj) if mode == "RawDeployment" else []
    isvc = (obj.get("metadata") or {}).get("name", "")
    wanted = {}
    for e in entries:
        cname = e["predictor"]["name"]
        merged = canary_predictor(pred, e["predictor"])
        template = deployment_template(merged)
        old = rec.canaries.get(cname)
        if old is None or old.template != template:
            why = fail_fn(obj, merged)
            old = Revision(name=f"{isvc}-{cname}-predictor", number=0, template=template, created=now,
                           ready_at=None if why else now + max(0.0, ready_delay), failure=why,
                           storage_uri=predictor_storage_uri(merged))
        wanted[cname] = old
    rec.canaries = wanted
    pending = [r.ready_at for r in wanted.values() if r.ready_at is not None and r.ready_at > now]
    return min(pending) if pending else None


def _write_child(rec: SimRecord, template: str, targets: list[dict] | None) -> None:
    """Write the Knative Service (targets) or the Deployment (None); its generation moves when its
    spec does. Knative's webhook refuses a traffic percent outside 0..100 (or a sum other than 100)."""
    if targets is not None:
        bad = next((t["percent"] for t in targets if not 0 <= t["percent"] <= 100), None)
        total = sum(t["percent"] for t in targets)
        if bad is not None or total != 100:
            rec.child_error = ('fails to update knative service: admission webhook "validation.webhook.serving.'
                               'knative.dev" denied the request: validation failed: '
                               + (f"expected 0 <= {bad} <= 100: spec.traffic[0].percent" if bad is not None else
                                  f"Traffic targets sum to {total}, want 100: spec.traffic"))
            return
    rec.child_error = None
    spec = json.dumps([template, targets], sort_keys=True)
    if spec != rec.child_spec:
        rec.child_spec = spec
        rec.child_generation += 1


def _propagate_rollout(rec: SimRecord, traffic: list[dict], latest_ready: str, latest_created: str) -> None:
    """latestRolledoutRevision / previousRolledoutRevision as PropagateStatus moves them
    (pkg/apis/serving/v1beta1/inference_service_status.go)."""
    per_revision: dict[str, int] = {}
    for t in traffic:
        per_revision[t["revisionName"]] = per_revision.get(t["revisionName"], 0) + t["percent"]
    for t in traffic:
        if t["revisionName"] != latest_ready or not t["latestRevision"]:
            continue
        if rec.latest_rolledout != latest_ready:
            if t["percent"] == 100:  # the last revision fully rolled out
                rec.previous_rolledout = rec.latest_rolledout
                rec.latest_rolledout = latest_ready
        elif latest_ready == latest_created and t["percent"] < 100:
            # rolled out at 100% and then rolled back (canaryTrafficPercent set after a promotion):
            # the rolled-out revision goes back to the previous one, which then takes the traffic
            if per_revision.get(t["revisionName"]) == 100 and rec.previous_rolledout:
                rec.latest_rolledout = rec.previous_rolledout


def _ready(status: dict) -> str | None:
    return next((c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)


def status_events(obj: dict, old: dict, new: dict, before: SimRecord | None, rec: SimRecord) -> list[tuple]:
    """The Events a status change makes: KServe's updateStatus (controller.go: InferenceServiceReady /
    InferenceServiceNotReady, and InternalError when a child write fails) and Knative's configuration
    reconciler (LatestCreatedFailed on the Configuration, pkg/reconciler/configuration/configuration.go)."""
    name, ns = obj["metadata"]["name"], obj["metadata"]["namespace"]
    out: list[tuple] = []
    if rec.child_error and (before is None or before.child_error != rec.child_error):
        out.append(("Warning", "InternalError", rec.child_error))
    if _ready(old) == "True" and _ready(new) == "False":
        failed = ", ".join(c["type"] for c in new.get("conditions") or [] if c.get("status") == "False")
        out.append(("Warning", "InferenceServiceNotReady",
                    f"InferenceService [{name}] is no longer Ready because of: {failed}"))
    elif _ready(old) != "True" and _ready(new) == "True":
        out.append(("Normal", "InferenceServiceReady", f"InferenceService [{name}] is Ready"))
    latest = rec.revisions[-1] if rec.revisions else None
    old_failed = {c.get("message") for c in old.get("conditions") or [] if c.get("reason") == "RevisionFailed"}
    if latest is not None and latest.failure and not any(latest.name in (m or "") for m in old_failed):
        out.append(("Warning", "LatestCreatedFailed", f'Latest created revision "{latest.name}" has failed',
                    {"apiVersion": "serving.knative.dev/v1", "kind": "Configuration", "name": f"{name}-predictor",
                     "namespace": ns}, "configuration-controller"))
    return out


def traffic_split(isvc: dict) -> list[tuple[str, int]]:
    """[(revision, percent)] actually served, summed per revision (for the metrics exporter).

    RawDeployment has no revisions: its Deployments are reported by name (`<name>-predictor`, and
    `<name>-<canary>-predictor` for each ready Standard-mode canary).
    """
    status = isvc.get("status") or {}
    meta = isvc.get("metadata") or {}
    pred = (status.get("components") or {}).get("predictor") or {}
    if status.get("deploymentMode") in RAW_MODES or deployment_mode(isvc) == "RawDeployment":
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        if not (ready or pred.get("url")):
            return []
        # Standard-mode canaries: the HTTPRoute weighs in only the ready ones (applyCanaryWeights)
        served = [(f"{meta.get('name')}-{c['name']}-predictor", int(c.get("trafficPercent") or 0))
                  for c in status.get("canaryStatuses") or [] if c.get("ready")]
        stable_name = ((isvc.get("spec") or {}).get("predictor") or {}).get("name")
        stable = f"{meta.get('name')}-{stable_name}-predictor" if stable_name else f"{meta.get('name')}-predictor"
        return [(stable, 100 - sum(p for _, p in served)), *served]
    out: dict[str, int] = {}
    for t in pred.get("traffic") or []:
        if t.get("revisionName"):
            out[t["revisionName"]] = out.get(t["revisionName"], 0) + int(t.get("percent") or 0)
    return list(out.items())


class KServeController:
    """Runs reconcile() for every InferenceService change, and again when a revision gets ready."""

    def __init__(self, cluster, *, ready_delay: float = 0.5, broken_uris: set[str] | None = None,
                 clock: Callable[[], float] = time.time, finalize_delay: float = 0.0):
        self.cluster = cluster
        self.ready_delay = ready_delay
        self.finalize_delay = finalize_delay  # how long the finalizer's cleanup takes (tests hold it)
        self._deleting_since: dict[str, float] = {}
        self.broken_uris: set[str] = set(broken_uris or ())
        self.clock = clock
        self.records: dict[str, SimRecord] = {}
        self._lock = threading.RLock()
        self._cv = threading.Condition()
        self._queue: set[tuple[str, str]] = set()
        self._timers: list[tuple[float, str, str]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        cluster.add_listener(self._on_event)

    # -- plumbing ----------------------------------------------------------------------------
    def _on_event(self, ev) -> None:
        if ev.resource != "inferenceservices":
            return
        if ev.type == "DELETED":
            with self._lock:
                self.records.pop(ev.obj["metadata"].get("uid", ""), None)
            return
        with self._cv:
            self._queue.add((ev.namespace, ev.obj["metadata"]["name"]))
            self._cv.notify()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kserve-sim", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._cv:
            self._cv.notify_all()
        if self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cv:
                now = self.clock()
                while self._timers and self._timers[0][0] <= now:
                    _, ns, name = heapq.heappop(self._timers)
                    self._queue.add((ns, name))
                if not self._queue:
                    wait = (self._timers[0][0] - now) if self._timers else 1.0
                    self._cv.wait(max(0.005, min(wait, 1.0)))
                    continue
                batch = sorted(self._queue)
                self._queue.clear()
            for ns, name in batch:
                if self._stop.is_set():
                    return
                try:
                    self.sync(ns, name)
                except Exception:
                    pass

    # -- the work ----------------------------------------------------------------------------
    def failure_for(self, obj: dict, pred: dict) -> str | None:
        return default_failure(obj, pred, self.broken_uris)

    def sync(self, namespace: str, name: str, *, ready_delay: float | None = None) -> dict | None:
        """Reconcile one InferenceService now; returns its new status (None if it is gone)."""
        with self._lock:
            try:
                obj = self.cluster.get("inferenceservices", namespace, name)
            except Exception:
                return None
            uid = obj["metadata"]["uid"]
            now = self.clock()
            if obj["metadata"].get("deletionTimestamp"):
                status, wake = None, self._finalize(obj, now)
            else:
                if FINALIZER not in (obj["metadata"].get("finalizers") or []):
                    obj = self._set_finalizers(obj, (obj["metadata"].get("finalizers") or []) + [FINALIZER])
                    if obj is None:
                        return None
                before = self.records.get(uid)
                rec, status, wake = reconcile(obj, before, now,
                                              ready_delay=self.ready_delay if ready_delay is None else ready_delay,
                                              failure=self.failure_for)
                self.records[uid] = rec
                if self.cluster.update_status(namespace, name, status, expected_uid=uid):
                    for event in status_events(obj, obj.get("status") or {}, status, before, rec):
                        self._record_event(obj, *event)
        if wake is not None:
            with self._cv:
                heapq.heappush(self._timers, (wake, namespace, name))
                self._cv.notify()
        return status

    def _set_finalizers(self, obj: dict, finalizers: list[str]) -> dict | None:
        """KServe's finalizer patch (controller.go, Reconcile); None if the object is gone."""
        meta = obj["metadata"]
        new = {"metadata": {**meta, "finalizers": finalizers}, "spec": obj.get("spec")}
        try:
            return self.cluster.update("inferenceservices", meta["namespace"], meta["name"], new)
        except Exception:  # changed meanwhile (its event queues another pass) or gone
            return None

    def _finalize(self, obj: dict, now: float) -> float | None:
        """Clean up, then remove our finalizer so the API server can let the object go."""
        uid = obj["metadata"]["uid"]
        since = self._deleting_since.setdefault(uid, now)
        if now < since + self.finalize_delay:
            return since + self.finalize_delay
        finalizers = [f for f in obj["metadata"].get("finalizers") or [] if f != FINALIZER]
        if finalizers != (obj["metadata"].get("finalizers") or []):
            self._set_finalizers(obj, finalizers)
        self._deleting_since.pop(uid, None)
        return None

    def _record_event(self, obj: dict, type_: str, reason: str, message: str, involved: dict | None = None,
                      component: str = "v1beta1Controllers") -> None:
        """An Event as client-go's recorder writes it (KServe's manager: component v1beta1Controllers)."""
        from console.sandbox.kube_store import ISVC_API_VERSION, make_event
        meta = obj["metadata"]
        involved = involved or {"apiVersion": ISVC_API_VERSION, "kind": "InferenceService", "name": meta["name"],
                                "namespace": meta["namespace"], "uid": meta["uid"],
                                "resourceVersion": meta.get("resourceVersion")}
        try:
            self.cluster.create("events", meta["namespace"], make_event(involved, type_, reason, message, component,
                                                                        self.clock()))
        except Exception:  # the namespace is going away: as client-go, drop the event
            pass

    def revisions(self, namespace: str, name: str) -> list[Revision]:
        """The revision history of an InferenceService (oldest first)."""
        try:
            uid = self.cluster.get("inferenceservices", namespace, name)["metadata"]["uid"]
        except Exception:
            return []
        with self._lock:
            rec = self.records.get(uid)
            return list(rec.revisions) if rec else []


# -- the demo world --------------------------------------------------------------------------

def demo_isvc(served, version: str, canary: int | None = None) -> dict:
    """The InferenceService manifest for a demo ServedModel serving `version`."""
    from console import demo_data

    model = demo_data.MODELS_BY_NAME[served.model]
    annotations = {"mlops-console.dev/story": served.story}
    if served.deployment_mode != "Serverless":
        annotations[DEPLOYMENT_MODE_ANNOTATION] = served.deployment_mode
    pred: dict = {"minReplicas": 1, "model": {
        "modelFormat": {"name": model.framework, "version": model.framework_version.split(".")[0]},
        "storageUri": demo_data.storage_uri(served.model, version)}}
    spec: dict = {"predictor": pred}
    if canary is not None and served.deployment_mode == "Standard":
        # KServe 0.20's Standard-mode canary: the stable predictor keeps the previous version
        from adapters.kube_model import canary_name

        pred["minReplicas"] = 4
        pred["model"]["storageUri"] = demo_data.storage_uri(served.model, served.prev_version or version)
        spec["canary"] = [{"trafficPercent": canary, "predictor": {
            "name": canary_name(version), "model": {**pred["model"], "name": "kserve-container",
                                                    "storageUri": demo_data.storage_uri(served.model, version)}}}]
    elif canary is not None:
        pred["canaryTrafficPercent"] = canary
    return {
        "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        "metadata": {"name": served.name, "namespace": served.namespace, "annotations": annotations,
                     "labels": {"app.kubernetes.io/part-of": "mlops-console-demo",
                                "mlops-console.dev/model": served.model}},
        "spec": spec,
    }


def seed_demo(cluster, controller: KServeController, served=None) -> list[tuple[str, str]]:
    """Create the demo InferenceServices (console.demo_data.SERVED) in their final story state."""
    from console import demo_data

    served = demo_data.SERVED if served is None else served
    created_at = time.time() - 3 * 86400
    for ns in ("default", "kube-system") + tuple(dict.fromkeys(s.namespace for s in served)):
        cluster.ensure_namespace(ns, created_at=created_at - 86400)
    keys = []
    for s in served:
        if s.story == "failing":
            controller.broken_uris.add(demo_data.storage_uri(s.model, s.latest_version))
        first = s.prev_version or s.latest_version
        cluster.create("inferenceservices", s.namespace, demo_isvc(s, first), created_at=created_at)
        controller.sync(s.namespace, s.name, ready_delay=0)
        if s.prev_version:
            cur = cluster.get("inferenceservices", s.namespace, s.name)
            new = demo_isvc(s, s.latest_version, s.canary_percent)
            new["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
            cluster.update("inferenceservices", s.namespace, s.name, new)
            controller.sync(s.namespace, s.name, ready_delay=0)
        keys.append((s.namespace, s.name))
    return keys
