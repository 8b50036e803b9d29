"""The InferenceService model: plain dataclasses and their tolerant parsing from JSON (no I/O).

Part of adapters.kube (which re-exports everything here): KServe's printer columns are computed as
the API server computes them (client-go's jsonpath), and a malformed object never raises: what is
wrong goes into InferenceService.problems.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from typing import Any

GROUP = "serving.kserve.io"
VERSION = "v1beta1"
PLURAL = "inferenceservices"
DEPLOYMENT_MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
RAW_MODES = ("RawDeployment", "Standard")
MERGE_PATCH = "application/merge-patch+json"

# Predictor keys that are not model formats (everything else that holds a dict with storageUri is).
_NON_MODEL_PREDICTOR_KEYS = {
    "containers", "volumes", "affinity", "tolerations", "nodeSelector", "imagePullSecrets",
    "initContainers", "securityContext", "logger", "batcher", "annotations", "labels",
    "resources", "workerSpec", "dnsConfig", "hostAliases", "readinessGates", "os",
}



# ----------------------------------------------------------------------------------------------
# Dataclasses


@dataclass
class Condition:
    type: str
    status: str
    reason: str | None = None
    message: str | None = None
    last_transition: str | None = None


@dataclass
class TrafficTarget:
    revision: str | None
    percent: int | None
    latest: bool
    tag: str | None = None
    tags: list[str] = field(default_factory=list)  # every tag routing to this revision (merged)
    ready: bool | None = None  # as far as the InferenceService's status tells; None: it does not say


@dataclass
class Canary:
    """A Standard-mode canary (KServe 0.20): one spec.canary[] entry joined with its
    status.canaryStatuses[] entry (pkg/apis/serving/v1beta1/inference_service.go, CanarySpec)."""

    name: str  # spec.canary[].predictor.name; its Deployment and Service are `deployment`
    deployment: str  # {isvc}-{name}-predictor (constants.PredictorServiceName)
    percent: int | None  # spec.canary[].trafficPercent: what the spec asks for
    ready: bool | None  # status.canaryStatuses[].ready; None: the controller has not reported it yet
    storage_uri: str | None = None
    predictor_key: str | None = None
    min_replicas: int | None = None
    message: str | None = None  # status.canaryStatuses[].modelStatus.lastFailureInfo.message
    entry: dict[str, Any] = field(default_factory=dict, repr=False)  # the spec.canary[] entry as written


@dataclass
class InferenceService:
    namespace: str
    name: str
    mode: str  # "Serverless" | "RawDeployment" ("Standard" is reported as RawDeployment)
    ready: bool | None
    url: str | None
    storage_uri: str | None
    canary_traffic_percent: int | None  # from spec.predictor; None when unset
    # The four below are KServe's printer columns, exactly what `kubectl get isvc` prints
    # (LATESTREADYREVISION, PREVROLLEDOUTREVISION, LATEST, PREV): see PRINTER_COLUMNS.
    latest_revision: str | None
    prev_revision: str | None
    latest_percent: int | None
    prev_percent: int | None
    latest_created_revision: str | None
    latest_ready_revision: str | None
    latest_rolledout_revision: str | None
    conditions: list[Condition] = field(default_factory=list)
    traffic: list[TrafficTarget] = field(default_factory=list)  # where requests go: one entry per revision
    created_at: str | None = None
    resource_version: str | None = None
    problems: list[str] = field(default_factory=list)
    previous_rolledout_revision: str | None = None
    model_format: str | None = None  # spec.predictor.model.modelFormat.name, or the framework key
    predictor_key: str | None = None  # "model" or a framework key ("sklearn", ...) holding storageUri
    raw_deployment_mode: str | None = None  # the mode exactly as the object states it
    uid: str | None = None
    deleting: bool = False  # metadata.deletionTimestamp is set: finalizers are holding the object
    # Standard mode (KServe 0.20): spec.canary[] in order, the stable predictor's name and minReplicas
    canaries: list[Canary] = field(default_factory=list)
    predictor_name: str | None = None
    min_replicas: int | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def is_raw(self) -> bool:
        return self.mode in RAW_MODES

    @property
    def standard_canary(self) -> bool:
        """Standard (RawDeployment) mode with at least one spec.canary[] entry."""
        return self.is_raw and bool(self.canaries)

    @property
    def stable_deployment(self) -> str:
        """The stable predictor's Deployment and Service: {isvc}-predictor, or {isvc}-{name}-predictor
        once the predictor has a name (KServe's constants.PredictorServiceName)."""
        return predictor_service_name(self.name, self.predictor_name)

    @property
    def failing_revision(self) -> bool:
        """A new revision was created but never became ready (latestCreated != latestReady)."""
        return bool(self.latest_created_revision) and (
            self.latest_created_revision != self.latest_ready_revision)


@dataclass
class WatchEvent:
    type: str  # ADDED | MODIFIED | DELETED
    object: InferenceService | None
    resource_version: str | None
    raw: dict[str, Any] | None = field(default=None, repr=False)



@dataclass
class Snapshot:
    """A full list, yielded by follow_inference_services at start and after every relist."""

    items: list[InferenceService]
    resource_version: str | None
    relist: bool = False  # True when this list replaces an expired watch


# ----------------------------------------------------------------------------------------------
# Parsing (pure, tolerant of malformed objects)


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _str_or_none(value: Any) -> str | None:
    if value is None:
        return None
    return str(value)


def predictor_storage(predictor: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(predictor_key, storageUri, model_format) of a predictor spec.

    New-style objects put the model under spec.predictor.model (with modelFormat.name); older
    ones under a framework key (spec.predictor.sklearn.storageUri). "model" wins when both exist.
    """
    model = predictor.get("model")
    if isinstance(model, dict):
        fmt = _as_dict(model.get("modelFormat")).get("name")
        return "model", _str_or_none(model.get("storageUri")), _str_or_none(fmt)
    for key, value in predictor.items():
        if key in _NON_MODEL_PREDICTOR_KEYS or not isinstance(value, dict):
            continue
        if "storageUri" in value or "runtimeVersion" in value or "protocolVersion" in value:
            return key, _str_or_none(value.get("storageUri")), key
    return None, None, None


def predictor_service_name(isvc: str, predictor: str | None = None) -> str:
    """KServe's constants.PredictorServiceName: the Deployment and Service of a predictor."""
    return f"{isvc}-{predictor}-predictor" if predictor else f"{isvc}-predictor"


def canary_name(version: str) -> str:
    """The spec.canary[].predictor.name for a catalog version: the version as a DNS label starting
    with a letter ("30" -> "v30", "v30" -> "v30", "2.1_rc" -> "v2-1-rc"), so {isvc}-{name}-predictor
    is a valid Service name."""
    label = re.sub(r"[^a-z0-9-]+", "-", str(version).lower()).strip("-")
    return (label if label[:1].isalpha() else f"v{label}")[:40].rstrip("-")


def _parse_canaries(isvc: str, spec: dict[str, Any], status: dict[str, Any], problems: list[str]) -> list[Canary]:
    """spec.canary[] joined by name with status.canaryStatuses[]."""
    raw = spec.get("canary")
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append("spec.canary is not a list")
        return []
    reported = {}
    raw_status = status.get("canaryStatuses")
    if raw_status is not None and not isinstance(raw_status, list):
        problems.append("status.canaryStatuses is not a list")
    for entry in raw_status if isinstance(raw_status, list) else []:
        entry = _as_dict(entry)
        if entry.get("name"):
            reported[str(entry["name"])] = entry
    out: list[Canary] = []
    for i, entry in enumerate(raw):
        entry = _as_dict(entry)
        pred = _as_dict(entry.get("predictor"))
        name = _str_or_none(pred.get("name")) or ""
        if not name:
            problems.append(f"spec.canary[{i}].predictor.name is missing")
        percent = _as_int(entry.get("trafficPercent"))
        if percent is None:
            problems.append(f"spec.canary[{i}].trafficPercent is not a number: {entry.get('trafficPercent')!r}")
        key, uri, _ = predictor_storage(pred)
        seen = reported.get(name)
        ready = None if seen is None or not isinstance(seen.get("ready"), bool) else seen["ready"]
        failure = _as_dict(_as_dict(_as_dict(seen).get("modelStatus")).get("lastFailureInfo"))
        out.append(Canary(name=name, deployment=predictor_service_name(isvc, name), percent=percent, ready=ready,
                          storage_uri=uri, predictor_key=key, min_replicas=_as_int(pred.get("minReplicas")),
                          message=_str_or_none(failure.get("message")), entry=entry))
    return out


def _standard_split(isvc: InferenceService) -> None:
    """Where requests go in Standard mode: the HTTPRoute's weighted backends give each *ready*
    canary its trafficPercent and the stable predictor the rest (httproute_reconciler.go,
    applyCanaryWeights). latest_* describe the first canary, prev_* the stable predictor."""
    served = [(c, (c.percent or 0) if c.ready else 0) for c in isvc.canaries]
    stable = max(0, 100 - sum(p for _, p in served))
    predictor_ready = next((c.status == "True" for c in isvc.conditions if c.type == "PredictorReady"), None)
    isvc.traffic = [TrafficTarget(isvc.stable_deployment, stable, False, "prev", ["prev"], predictor_ready)]
    isvc.traffic += [TrafficTarget(c.deployment, p, True, None, [], c.ready) for c, p in served]
    first = isvc.canaries[0]
    isvc.latest_revision, isvc.latest_percent = first.deployment, served[0][1]
    isvc.prev_revision, isvc.prev_percent = isvc.stable_deployment, stable


def deployment_mode(obj: dict[str, Any]) -> tuple[str, str | None]:
    """(normalised mode, the mode as written) from the annotation or status.deploymentMode."""
    annotations = _as_dict(_as_dict(obj.get("metadata")).get("annotations"))
    written = annotations.get(DEPLOYMENT_MODE_ANNOTATION) or _as_dict(obj.get("status")).get("deploymentMode")
    written = _str_or_none(written)
    if written in RAW_MODES:
        return "RawDeployment", written
    if written in (None, "", "Serverless", "Knative"):
        return "Serverless", written
    return written, written


# KServe's printer columns for these fields (additionalPrinterColumns of the v1beta1 CRD):
# `kubectl get isvc` prints them as LATESTREADYREVISION, PREVROLLEDOUTREVISION, LATEST and PREV.
_TRAFFIC = ".status.components.predictor.traffic"
PRINTER_COLUMNS: dict[str, tuple[str, str]] = {
    "latest_revision": (f"{_TRAFFIC}[?(@.latestRevision==true)].revisionName", "string"),
    "prev_revision": (f"{_TRAFFIC}[?(@.tag=='prev')].revisionName", "string"),
    "latest_percent": (f"{_TRAFFIC}[?(@.latestRevision==true)].percent", "integer"),
    "prev_percent": (f"{_TRAFFIC}[?(@.tag=='prev')].percent", "integer"),
}

_JSONPATH_STEP = re.compile(
    r"\.([A-Za-z0-9_-]+)"  # .field
    r"|\[\?\(@((?:\.[A-Za-z0-9_-]+)+)\s*(==|!=)\s*('[^']*'|\"[^\"]*\"|true|false|-?[0-9]+(?:\.[0-9]+)?)\)\]")


class _NoCell(Exception):
    """The JSONPath evaluation failed: the API server prints an empty cell."""


@functools.lru_cache(maxsize=64)  # a few printer-column paths, parsed once, not once per object
def _parse_jsonpath(path: str) -> tuple[tuple[Any, ...], ...]:
    steps: list[tuple[Any, ...]] = []
    pos = 0
    while pos < len(path):
        m = _JSONPATH_STEP.match(path, pos)
        if m is None:
            raise ValueError(f"unsupported JSONPath at {path[pos:]!r} (only .field and [?(@.f==literal)])")
        if m.group(1) is not None:
            steps.append(("field", m.group(1)))
        else:
            literal: Any = m.group(4)
            if literal[0] in "'\"":
                literal = literal[1:-1]
            elif literal in ("true", "false"):
                literal = literal == "true"
            else:
                literal = float(literal) if "." in literal else int(literal)
            steps.append(("filter", m.group(2)[1:].split("."), m.group(3), literal))
        pos = m.end()
    return tuple(steps)


def _go_kind(value: Any) -> str:
    """The kind Go's template comparison sees in a value decoded from JSON."""
    for kind, types in (("bool", bool), ("int", int), ("float", float), ("string", str)):
        if isinstance(value, types):
            return kind
    raise _NoCell  # null, object or array: "invalid type for comparison"


def _fields(values: list[Any], names: list[str]) -> list[Any]:
    for name in names:
        values = [v[name] for v in values if isinstance(v, dict) and name in v]  # missing keys allowed
    return values


def _jsonpath_results(obj: Any, path: str) -> list[Any]:
    """What client-go's jsonpath (AllowMissingKeys, as the API server's table printer sets it)
    finds for a simple path with filters, e.g. `.status.traffic[?(@.tag=='prev')].percent`.

    Follows k8s.io/client-go/util/jsonpath/jsonpath.go: a missing key yields nothing; a filter
    skips elements without the field and fails on a value that cannot be compared with the literal
    (template.Equal: same basic kind only, null/objects/arrays never) or on a non-array. Raises
    _NoCell on failure."""
    values = [obj]
    for step in _parse_jsonpath(path):
        if step[0] == "field":
            values = _fields(values, [step[1]])
            continue
        _, names, op, literal = step
        matched = []
        for value in values:
            if not isinstance(value, list):
                raise _NoCell  # "is not array or slice and cannot be filtered"
            for item in value:
                lefts = _fields([item], names)
                if not lefts:
                    continue
                if _go_kind(lefts[0]) != _go_kind(literal):
                    raise _NoCell  # "incompatible types for comparison"
                if (lefts[0] == literal) == (op == "=="):
                    matched.append(item)
        values = matched
    return values


def printer_cell(obj: Any, path: str, column_type: str) -> Any:
    """One cell of a CRD printer column, as the API server computes it (apiextensions-apiserver
    tableconvertor.go): the first result only; an integer column takes an int, or truncates a
    float, and is empty for anything else. A string column here keeps strings only (the server
    would print other values as Go formats them)."""
    try:
        results = _jsonpath_results(obj, path)
    except _NoCell:
        return None
    value = results[0] if results else None
    if column_type == "integer":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float) and math.isfinite(value):
            return int(value)
        return None
    if column_type == "string":
        return value if isinstance(value, str) else None
    return value


def _merge_same_revision(traffic: list[TrafficTarget]) -> list[TrafficTarget]:
    """One entry per revision: where requests really go. While a new revision is not ready,
    Knative routes the canary's share ("latest") to the newest ready revision, so two entries name
    the same revision (10 and 90): it serves 100%, with both tags."""
    merged: dict[Any, TrafficTarget] = {}
    for target in traffic:
        key = target.revision if target.revision is not None else id(target)
        seen = merged.get(key)
        if seen is None:
            merged[key] = TrafficTarget(target.revision, target.percent, target.latest, target.tag,
                                        [target.tag] if target.tag else [])
            continue
        seen.percent = None if seen.percent is None and target.percent is None else (
            (seen.percent or 0) + (target.percent or 0))
        if target.latest and not seen.latest:
            seen.tag = target.tag
        seen.latest = seen.latest or target.latest
        if target.tag and target.tag not in seen.tags:
            seen.tags.append(target.tag)
    return list(merged.values())


def _revision_ready(revision: str | None, latest_created: str | None, latest_ready: str | None,
                    rolled_out: tuple[str | None, ...]) -> bool | None:
    """Whether a revision that takes traffic is ready, as far as the InferenceService says: the
    latest created one that is not the latest ready one is not; the latest ready one and the
    rolled-out ones (they once took 100%) are; of any other the status says nothing."""
    if revision is None:
        return None
    if revision == latest_created and latest_created != latest_ready:
        return False
    if revision == latest_ready or revision in rolled_out:
        return True
    return None


def parse_inference_service(obj: dict[str, Any]) -> InferenceService:
    """An InferenceService from its JSON. Never raises on a malformed object: what is wrong
    goes into .problems, and unknown fields are ignored."""
    problems: list[str] = []
    if not isinstance(obj, dict):
        obj = {}
        problems.append("object is not a JSON object")
    meta = _as_dict(obj.get("metadata"))
    spec = _as_dict(obj.get("spec"))
    predictor = _as_dict(spec.get("predictor"))
    status_raw = obj.get("status")
    status = _as_dict(status_raw)
    name = _str_or_none(meta.get("name")) or ""
    namespace = _str_or_none(meta.get("namespace")) or ""
    if not name:
        problems.append("no metadata.name")
    if not spec:
        problems.append("no spec")
    elif not predictor:
        problems.append("no spec.predictor")
    if status_raw is None or status_raw == {}:
        problems.append("no status yet")
    elif not isinstance(status_raw, dict):
        problems.append("status is not an object")

    mode, written_mode = deployment_mode(obj)
    key, storage_uri, model_format = predictor_storage(predictor)

    canary_raw = predictor.get("canaryTrafficPercent")
    canary = _as_int(canary_raw)
    if canary_raw is not None and canary is None:
        problems.append(f"spec.predictor.canaryTrafficPercent is not a number: {canary_raw!r}")

    conditions: list[Condition] = []
    raw_conditions = status.get("conditions")
    if raw_conditions is not None and not isinstance(raw_conditions, list):
        problems.append("status.conditions is not a list")
        raw_conditions = []
    for c in raw_conditions or []:
        c = _as_dict(c)
        if not c.get("type"):
            continue
        conditions.append(Condition(
            type=str(c.get("type")), status=str(c.get("status", "Unknown")),
            reason=_str_or_none(c.get("reason")), message=_str_or_none(c.get("message")),
            last_transition=_str_or_none(c.get("lastTransitionTime")),
        ))
    ready: bool | None = None
    for c in conditions:
        if c.type == "Ready":
            ready = True if c.status == "True" else False if c.status == "False" else None

    components = _as_dict(status.get("components"))
    comp = _as_dict(components.get("predictor"))
    traffic: list[TrafficTarget] = []
    raw_traffic = comp.get("traffic")
    if raw_traffic is not None and not isinstance(raw_traffic, list):
        problems.append("status.components.predictor.traffic is not a list")
        raw_traffic = []
    for t in raw_traffic or []:
        t = _as_dict(t)
        pct = _as_int(t.get("percent"))
        if t.get("percent") is not None and pct is None:
            problems.append(f"traffic percent is not a number: {t.get('percent')!r}")
        traffic.append(TrafficTarget(
            revision=_str_or_none(t.get("revisionName")), percent=pct,
            latest=t.get("latestRevision") is True, tag=_str_or_none(t.get("tag")),
        ))
    if traffic:
        total = sum(t.percent or 0 for t in traffic)
        if total != 100:
            problems.append(f"traffic sums to {total}, not 100")
    if len({t.revision for t in traffic if t.latest}) > 1:
        problems.append("more than one traffic target claims to be the latest revision")
    columns = {key: printer_cell(obj, path, kind) for key, (path, kind) in PRINTER_COLUMNS.items()}
    latest_created = _str_or_none(comp.get("latestCreatedRevision"))
    latest_ready = _str_or_none(comp.get("latestReadyRevision"))
    rolled_out = (_str_or_none(comp.get("latestRolledoutRevision")),
                  _str_or_none(comp.get("previousRolledoutRevision")))
    traffic = _merge_same_revision(traffic)
    for target in traffic:
        target.ready = _revision_ready(target.revision, latest_created, latest_ready, rolled_out)

    isvc = InferenceService(
        namespace=namespace,
        name=name,
        mode=mode,
        ready=ready,
        url=_str_or_none(status.get("url")),
        storage_uri=storage_uri,
        canary_traffic_percent=canary,
        latest_created_revision=latest_created,
        latest_ready_revision=latest_ready,
        latest_rolledout_revision=rolled_out[0],
        conditions=conditions,
        traffic=traffic,
        created_at=_str_or_none(meta.get("creationTimestamp")),
        resource_version=_str_or_none(meta.get("resourceVersion")),
        problems=problems,
        **columns,
        previous_rolledout_revision=rolled_out[1],
        model_format=model_format,
        predictor_key=key,
        raw_deployment_mode=written_mode,
        uid=_str_or_none(meta.get("uid")),
        deleting=bool(meta.get("deletionTimestamp")),
        canaries=_parse_canaries(name, spec, status, problems),
        predictor_name=_str_or_none(predictor.get("name")),
        min_replicas=_as_int(predictor.get("minReplicas")),
    )
    if isvc.standard_canary:
        _standard_split(isvc)
    return isvc

