"""Kubernetes / KServe adapter on the official `kubernetes` client (37.x).

Nothing here imports textual, screens or console. The `kubernetes` package is imported lazily,
at the first client built, so importing this module is cheap.

- One `KubeClient` per kubeconfig context, each with its own `ApiClient` and `Configuration`
  (never the library's global default configuration).
- Every request carries a `_request_timeout`; urllib3 retries are off, so a dead server fails
  fast and the caller decides about backoff.
- InferenceServices (serving.kserve.io/v1beta1) are read with list + watch. `watch_inference_services`
  keeps one watch open for minutes (timeoutSeconds 5-10 min, as client-go's reflector; stop closes
  the socket), skips BOOKMARK events (it only remembers their resourceVersion) and raises
  `WatchExpired` on 410 Gone: the caller relists. `follow_inference_services` does list + watch + relist itself and
  yields `Snapshot` (a full list) followed by `WatchEvent`s.
- Patches are JSON merge patches carrying `metadata.resourceVersion` as the precondition, so a
  concurrent change answers 409 -> `Conflict`, never a silent overwrite.
- core/v1 Events: `create_event` (shaped as client-go's recorder makes them) and `list_events`
  (field selectors on the involved object, as kubectl describe does).
- All failures become the shared errors of adapters.errors, with a one-line message a person can
  act on (including urllib3 connection errors, timeouts and TLS failures).
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

from adapters.errors import (
    BackendUnavailable,
    ConsoleError,
    Conflict,
    DataError,
    Forbidden,
    InvalidInput,
    NotFound,
)

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


WATCH_MIN_TIMEOUT = 300  # s; client-go's reflector asks for 5-10 minutes (minWatchTimeout, jittered)
WATCH_READ_MARGIN = 30  # s past the server's timeoutSeconds before a silent stream counts as dead


def _close_on_stop(resp, stop: threading.Event, ended: threading.Event) -> None:
    """Shut a watch stream's socket when stop is set, so a blocked read returns at once."""
    while not ended.is_set():
        if stop.wait(0.1):
            if not ended.is_set():
                try:
                    resp.shutdown()
                except Exception:
                    pass
            return


class WatchExpired(ConsoleError):
    """The watch's resourceVersion is too old (410 Gone): list again and watch from the new one."""

    exit_code = 3
    kind = "watch expired"


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

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def is_raw(self) -> bool:
        return self.mode in RAW_MODES

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
    raw: dict | None = field(default=None, repr=False)


@dataclass
class KubeEvent:
    """A core/v1 Event (what kubectl get events and kubectl describe show)."""

    namespace: str
    name: str
    type: str | None  # Normal | Warning
    reason: str | None
    message: str | None
    object_kind: str | None
    object_name: str | None
    source: str | None  # source.component, else reportingComponent
    count: int | None
    first_seen: str | None
    last_seen: str | None


def parse_event(obj: dict) -> KubeEvent:
    meta = _as_dict(obj.get("metadata"))
    inv = _as_dict(obj.get("involvedObject"))
    return KubeEvent(
        namespace=_str_or_none(meta.get("namespace")) or "", name=_str_or_none(meta.get("name")) or "",
        type=_str_or_none(obj.get("type")), reason=_str_or_none(obj.get("reason")),
        message=_str_or_none(obj.get("message")), object_kind=_str_or_none(inv.get("kind")),
        object_name=_str_or_none(inv.get("name")),
        source=_str_or_none(_as_dict(obj.get("source")).get("component") or obj.get("reportingComponent")),
        count=_as_int(obj.get("count")),
        first_seen=_str_or_none(obj.get("firstTimestamp") or obj.get("eventTime") or meta.get("creationTimestamp")),
        last_seen=_str_or_none(obj.get("lastTimestamp") or obj.get("eventTime") or meta.get("creationTimestamp")),
    )


@dataclass
class Snapshot:
    """A full list, yielded by follow_inference_services at start and after every relist."""

    items: list[InferenceService]
    resource_version: str | None
    relist: bool = False  # True when this list replaces an expired watch


# ----------------------------------------------------------------------------------------------
# Parsing (pure, tolerant of malformed objects)


def _as_dict(value: Any) -> dict:
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


def predictor_storage(predictor: dict) -> tuple[str | None, str | None, str | None]:
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


def deployment_mode(obj: dict) -> tuple[str, str | None]:
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
def _parse_jsonpath(path: str) -> tuple[tuple, ...]:
    steps: list[tuple] = []
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


def _fields(values: list, names: list[str]) -> list:
    for name in names:
        values = [v[name] for v in values if isinstance(v, dict) and name in v]  # missing keys allowed
    return values


def _jsonpath_results(obj: Any, path: str) -> list:
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


def parse_inference_service(obj: dict) -> InferenceService:
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

    return InferenceService(
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
    )


# ----------------------------------------------------------------------------------------------
# Kubeconfig


def kubeconfig_paths(explicit: str | None = None) -> str:
    """The kubeconfig location(s) kubectl would use: --kubeconfig, else $KUBECONFIG, else
    ~/.kube/config. May be a path list separated by os.pathsep (as $KUBECONFIG allows)."""
    if explicit:
        return os.path.expanduser(explicit)
    env = os.environ.get("KUBECONFIG")
    if env:
        return env
    return os.path.expanduser("~/.kube/config")


def _status_message(body: Any) -> str:
    """The `message` of a Kubernetes Status body, or the body's first line."""
    if body is None:
        return ""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    text = str(body).strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text.splitlines()[0][:300] if text else ""
    if isinstance(data, dict):
        return str(data.get("message") or data.get("reason") or "")[:500]
    return text[:300]


class KubeClient:
    """One kubeconfig context: one ApiClient, its own Configuration.

    timeout: read timeout of every non-watch request (seconds); connect_timeout: TCP/TLS connect.
    """

    def __init__(self, kubeconfig: str | None = None, context: str | None = None,
                 namespace: str | None = None, *, timeout: float = 10.0, connect_timeout: float = 3.0):
        self.kubeconfig = kubeconfig_paths(kubeconfig)
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self._explicit_namespace = namespace
        self._lock = threading.Lock()
        self._api_client = None
        self._whoami: str | None = None
        contexts, current = self._read_contexts()
        self._contexts = contexts
        names = [c.get("name") for c in contexts]
        if context is not None and context not in names:
            raise InvalidInput(
                f"context {context!r} is not in kubeconfig {self.kubeconfig} "
                f"(it has: {', '.join(n for n in names if n) or 'none'}); pick one with --context")
        chosen = context or (current or {}).get("name")
        if not chosen:
            raise InvalidInput(f"kubeconfig {self.kubeconfig} has no current-context; pass --context")
        self.context = chosen
        ctx = next((c for c in contexts if c.get("name") == chosen), {})
        self._context_info = _as_dict(ctx.get("context"))
        self.user = _str_or_none(self._context_info.get("user")) or chosen

    # -- kubeconfig -------------------------------------------------------------------------
    def _read_contexts(self) -> tuple[list[dict], dict | None]:
        from kubernetes.config.config_exception import ConfigException
        from kubernetes.config.kube_config import list_kube_config_contexts

        paths = [p for p in self.kubeconfig.split(os.pathsep) if p]
        if not any(os.path.exists(p) for p in paths):
            raise InvalidInput(
                f"kubeconfig {self.kubeconfig} does not exist; pass --kubeconfig or set KUBECONFIG")
        try:
            contexts, current = list_kube_config_contexts(self.kubeconfig)
        except ConfigException as exc:
            raise InvalidInput(f"kubeconfig {self.kubeconfig} is not usable: {exc}") from None
        except Exception as exc:  # YAML errors and the like
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InvalidInput(f"kubeconfig {self.kubeconfig} cannot be read: {first}") from None
        return list(contexts or []), current

    def contexts(self) -> list[str]:
        return [str(c.get("name")) for c in self._contexts if c.get("name")]

    @property
    def current_context(self) -> str:
        return self.context

    @property
    def namespace(self) -> str:
        """-n if given, else the context's namespace, else "default" (kubectl's habit)."""
        return self._explicit_namespace or _str_or_none(self._context_info.get("namespace")) or "default"

    @property
    def api_client(self):
        with self._lock:
            if self._api_client is None:
                self._api_client = self._build_api_client()
            return self._api_client

    def _build_api_client(self):
        from kubernetes.client import ApiClient, Configuration
        from kubernetes.config.config_exception import ConfigException
        from kubernetes.config.kube_config import load_kube_config

        configuration = type.__call__(Configuration)  # a fresh one, not the global default
        try:
            load_kube_config(config_file=self.kubeconfig, context=self.context,
                             client_configuration=configuration, persist_config=False)
        except ConfigException as exc:
            raise InvalidInput(
                f"kubeconfig {self.kubeconfig}, context {self.context!r} is not usable: {exc}") from None
        except Exception as exc:
            raise InvalidInput(
                f"kubeconfig {self.kubeconfig}, context {self.context!r} cannot be loaded: {exc}") from None
        configuration.retries = False  # fail fast; callers own retry and backoff
        self.server = configuration.host
        client = ApiClient(configuration=configuration)
        client.user_agent = "mlops-console"
        return client

    def close(self) -> None:
        with self._lock:
            if self._api_client is not None:
                try:
                    self._api_client.close()
                except Exception:
                    pass
                self._api_client = None

    def __enter__(self) -> "KubeClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _timeout(self, read: float | None = None) -> tuple[float, float]:
        return (self.connect_timeout, read if read is not None else self.timeout)

    # -- error mapping ----------------------------------------------------------------------
    def _where(self) -> str:
        server = getattr(self, "server", None) or "the Kubernetes API"
        return f"Kubernetes API {server} (context {self.context})"

    def map_error(self, exc: BaseException, *, verb: str, resource: str = PLURAL,
                  namespace: str | None = None, name: str | None = None,
                  resource_version: str | None = None) -> ConsoleError:
        """Turn a client/urllib3 exception into a shared error with an actionable message."""
        import urllib3
        from kubernetes.client.exceptions import ApiException

        if isinstance(exc, ConsoleError):
            return exc
        where = self._where()
        in_ns = f" in {namespace}" if namespace else " in all namespaces"
        target = f"{namespace}/{name}" if namespace and name else (name or resource)
        if isinstance(exc, ApiException):
            status = exc.status or 0
            msg = _status_message(exc.body) or (exc.reason or "").strip().splitlines()[0:1]
            if isinstance(msg, list):
                msg = msg[0] if msg else ""
            if status == 0:
                reason = (exc.reason or "").replace("\n", ": ")
                if "SSL" in reason or "certificate" in reason.lower():
                    return BackendUnavailable(
                        f"TLS handshake with {where} failed: {reason[:200]}; check the CA data in "
                        f"{self.kubeconfig}")
                return BackendUnavailable(f"{where} failed: {reason[:200]}; retry, or check the server")
            if status == 401:
                return Forbidden(
                    f"{where} did not accept the credentials of user {self.user}: {msg or 'Unauthorized'}; "
                    f"refresh them in {self.kubeconfig}")
            if status == 403:
                return Forbidden(f"not allowed to {verb} {resource}{in_ns} as {self._whoami or self.user}: "
                                 f"{msg or 'forbidden'}")
            if status == 404:
                if name:
                    return NotFound(f"{resource[:-1] if resource.endswith('s') else resource} "
                                    f"{target} not found; check the name and namespace (-n)")
                return NotFound(f"{resource}{in_ns}: not found ({msg or 'is KServe installed?'})")
            if status == 409:
                if resource_version and namespace and name:
                    now = self._current_rv(namespace, name)
                    arrow = f"resourceVersion {resource_version} -> {now}" if now else \
                        f"resourceVersion {resource_version} is stale"
                    return Conflict(f"{target} changed since you looked ({arrow}); reload and try again")
                return Conflict(f"{target}: conflict: {msg}; reload and try again")
            if status == 410:
                return WatchExpired(f"watch of {resource}{in_ns} expired ({msg or 'Gone'}); list again")
            if status in (400, 422):
                return InvalidInput(f"{where} rejected the {verb} of {target}: {msg or exc.reason}")
            if status == 429:
                return BackendUnavailable(
                    f"{where} is throttling requests (429 Too Many Requests); wait a little and retry")
            if 500 <= status <= 599:
                return BackendUnavailable(
                    f"{where} answered {status} {exc.reason or ''}".rstrip()
                    + (f": {msg}" if msg else "") + "; retry later or check the API server")
            return BackendUnavailable(f"{where} answered {status} to {verb} {target}: {msg}")
        if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
            exc = exc.reason
        if isinstance(exc, urllib3.exceptions.SSLError):
            return BackendUnavailable(
                f"TLS handshake with {where} failed: {exc}; check the CA data in {self.kubeconfig}")
        if isinstance(exc, urllib3.exceptions.NewConnectionError):
            text = str(exc)
            why = "connection refused" if "refused" in text.lower() else text.split(": ", 1)[-1][:160]
            return BackendUnavailable(
                f"{where} is unreachable ({why}); check that the cluster is up and the kubeconfig "
                f"server address, then retry")
        if isinstance(exc, (urllib3.exceptions.ConnectTimeoutError,)):
            return BackendUnavailable(
                f"{where} did not accept a connection within {self.connect_timeout:g} s; check the "
                f"network/VPN, then retry")
        if isinstance(exc, (urllib3.exceptions.ReadTimeoutError, TimeoutError)):
            return BackendUnavailable(
                f"{where} did not answer within {self.timeout:g} s (timeout); it may be overloaded, "
                f"retry later")
        if isinstance(exc, (urllib3.exceptions.ProtocolError, ConnectionError, OSError)):
            return BackendUnavailable(
                f"{where} dropped the connection ({str(exc)[:160]}); retry, or check the server")
        if isinstance(exc, urllib3.exceptions.HTTPError):
            return BackendUnavailable(f"{where} failed: {str(exc)[:200]}; retry later")
        if isinstance(exc, ValueError):
            return DataError(f"{where} sent a malformed answer to {verb} {target}: {str(exc)[:200]}")
        return BackendUnavailable(f"{where} failed: {type(exc).__name__}: {str(exc)[:200]}")

    def _current_rv(self, namespace: str, name: str) -> str | None:
        try:
            obj = self.get_raw(namespace, name)
        except ConsoleError:
            return None
        return _str_or_none(_as_dict(obj.get("metadata")).get("resourceVersion"))

    def _raw_json(self, call, *args, verb: str, namespace=None, name=None, resource=PLURAL,
                  resource_version=None, read_timeout=None, **kwargs) -> Any:
        """Make one request with _preload_content=False and decode its JSON ourselves (fast,
        and garbage becomes a DataError instead of an obscure traceback)."""
        try:
            resp = call(*args, _preload_content=False, _request_timeout=self._timeout(read_timeout),
                        **kwargs)
            data = resp.data
        except Exception as exc:  # noqa: BLE001 - everything is mapped
            raise self.map_error(exc, verb=verb, resource=resource, namespace=namespace, name=name,
                                 resource_version=resource_version) from None
        try:
            return json.loads(data)
        except ValueError:
            snippet = data[:80].decode("utf-8", "replace") if isinstance(data, bytes) else str(data)[:80]
            raise DataError(
                f"{self._where()} sent a malformed answer to {verb} "
                f"{(namespace + '/' + name) if namespace and name else resource}: not JSON "
                f"({snippet!r}); is the server address right?") from None

    def _custom(self):
        from kubernetes.client import CustomObjectsApi
        return CustomObjectsApi(self.api_client)

    def served_resources(self, group: str, version: str) -> list[str]:
        """Discovery: the resource names the API server serves in group/version ([] when the
        group/version is not served, as a cluster without the CRD answers 404)."""
        api = self.api_client

        def discover(**kwargs: Any) -> Any:
            method, url, headers, body, post = api.param_serialize(
                "GET", f"/apis/{group}/{version}", header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"])
            response = api.call_api(method, url, header_params=headers, body=body, post_params=post,
                                    _request_timeout=kwargs.get("_request_timeout"))
            response.read()
            if not 200 <= response.status < 300:
                from kubernetes.client.exceptions import ApiException
                raise ApiException(http_resp=response)
            return response

        try:
            data = self._raw_json(discover, verb="discover", resource=f"{group}/{version}")
        except NotFound:
            return []
        return [str(r.get("name")) for r in _as_dict(data).get("resources") or [] if isinstance(r, dict)]

    # -- reads ------------------------------------------------------------------------------
    def list_raw(self, namespace: str | None) -> dict:
        api = self._custom()
        if namespace:
            data = self._raw_json(api.list_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL,
                                  verb="list", namespace=namespace)
        else:
            data = self._raw_json(api.list_cluster_custom_object, GROUP, VERSION, PLURAL, verb="list")
        if not isinstance(data, dict) or not isinstance(data.get("items", []), list):
            raise DataError(f"{self._where()} sent a list of {PLURAL} that is not a list object")
        return data

    def list_inference_services(self, namespace: str | None) -> tuple[list[InferenceService], str | None]:
        """All InferenceServices in `namespace` (None: all namespaces), sorted by namespace/name,
        and the list's resourceVersion to start a watch from."""
        data = self.list_raw(namespace)
        items = [parse_inference_service(o) for o in data.get("items") or []]
        items.sort(key=lambda i: (i.namespace, i.name))
        rv = _str_or_none(_as_dict(data.get("metadata")).get("resourceVersion"))
        return items, rv

    def get_raw(self, namespace: str, name: str) -> dict:
        data = self._raw_json(self._custom().get_namespaced_custom_object, GROUP, VERSION, namespace,
                              PLURAL, name, verb="get", namespace=namespace, name=name)
        if not isinstance(data, dict):
            raise DataError(f"{self._where()} sent an {namespace}/{name} that is not an object")
        return data

    def get_inference_service(self, namespace: str, name: str) -> InferenceService:
        return parse_inference_service(self.get_raw(namespace, name))

    get = get_inference_service

    # -- watch ------------------------------------------------------------------------------
    def watch_inference_services(self, namespace: str | None, resource_version: str | None,
                                 stop_event: threading.Event | None = None, *,
                                 idle_timeout: float | None = None, server_timeout: int | None = None,
                                 include_bookmarks: bool = False) -> Iterator[WatchEvent]:
        """Yield WatchEvents from `resource_version` on, until stop_event is set.

        One watch stays open for minutes: the server ends it after timeoutSeconds (server_timeout,
        else 5-10 minutes, jittered as client-go's reflector does) and the watch resumes from the
        last resourceVersion seen. Bookmarks (about once a minute on a real API server) move the
        resume point and are not yielded unless include_bookmarks. The read timeout is the
        server's timeout plus a margin (idle_timeout overrides it), so a quiet cluster does not
        cause reconnects; stop_event is honoured at once, by shutting the stream's socket.
        A 410 Gone (at the start or as an ERROR event) raises WatchExpired: list again and watch
        from the list's resourceVersion. Connection failures raise BackendUnavailable.
        """
        import random

        import urllib3

        api = self._custom()
        rv = resource_version
        stop = stop_event or threading.Event()
        empty_streams = 0  # streams that ended at once with nothing in them, in a row
        while not stop.is_set():
            if empty_streams >= 3:
                raise BackendUnavailable(
                    f"{self._where()} keeps ending the watch of {PLURAL} without sending anything; "
                    f"is a proxy in the way? retry later")
            timeout_s = int(server_timeout or random.uniform(WATCH_MIN_TIMEOUT, 2 * WATCH_MIN_TIMEOUT))
            read_timeout = idle_timeout if idle_timeout is not None else timeout_s + WATCH_READ_MARGIN
            opened = time.monotonic()
            got_line = False
            kwargs = dict(watch=True, allow_watch_bookmarks=True, timeout_seconds=timeout_s)
            if rv:
                kwargs["resource_version"] = str(rv)
            try:
                if namespace:
                    resp = api.list_namespaced_custom_object(
                        GROUP, VERSION, namespace, PLURAL, _preload_content=False,
                        _request_timeout=self._timeout(read_timeout), **kwargs)
                else:
                    resp = api.list_cluster_custom_object(
                        GROUP, VERSION, PLURAL, _preload_content=False,
                        _request_timeout=self._timeout(read_timeout), **kwargs)
            except Exception as exc:  # noqa: BLE001
                raise self.map_error(exc, verb="watch", namespace=namespace) from None
            ended = threading.Event()
            threading.Thread(target=_close_on_stop, args=(resp, stop, ended), name="kube-watch-stop",
                             daemon=True).start()
            try:
                buffer = b""
                for chunk in resp.stream(amt=None, decode_content=False):
                    buffer += chunk
                    while b"\n" in buffer:
                        line, buffer = buffer.split(b"\n", 1)
                        if not line.strip():
                            continue
                        got_line = True
                        event = self._decode_event(line, namespace)
                        if event is None:
                            continue
                        etype, raw = event
                        meta = _as_dict(raw.get("metadata"))
                        if meta.get("resourceVersion"):
                            rv = str(meta["resourceVersion"])
                        if etype == "BOOKMARK":
                            if include_bookmarks:
                                yield WatchEvent("BOOKMARK", None, rv, raw)
                        else:
                            yield WatchEvent(etype, parse_inference_service(raw), rv, raw)
                        if stop.is_set():
                            return
            except (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ProtocolError,
                    TimeoutError, OSError, ValueError):
                # Silent past the read timeout, dropped, or shut by stop: check stop, then resume
                # from rv. If the server is gone the reconnect says so.
                if stop.is_set():
                    return
                if got_line:
                    empty_streams = 0
                elif time.monotonic() - opened < 1.0:
                    empty_streams += 1
                continue
            else:
                if got_line or time.monotonic() - opened >= 1.0:
                    empty_streams = 0
                else:
                    empty_streams += 1
            finally:
                ended.set()
                try:
                    resp.release_conn()
                except Exception:
                    pass
                try:
                    resp.close()
                except Exception:
                    pass

    def _decode_event(self, line: bytes, namespace: str | None) -> tuple[str, dict] | None:
        try:
            data = json.loads(line)
        except ValueError:
            raise DataError(f"{self._where()} sent a malformed watch event: "
                            f"{line[:80].decode('utf-8', 'replace')!r}") from None
        if not isinstance(data, dict):
            return None
        etype = str(data.get("type") or "")
        obj = _as_dict(data.get("object"))
        if etype == "ERROR":
            code = _as_int(obj.get("code"))
            msg = obj.get("message") or obj.get("reason") or "error"
            in_ns = f" in {namespace}" if namespace else " in all namespaces"
            if code == 410:
                raise WatchExpired(f"watch of {PLURAL}{in_ns} expired ({msg}); list again")
            raise BackendUnavailable(f"{self._where()} ended the watch of {PLURAL}{in_ns}: {msg}")
        if etype not in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK"):
            return None
        return etype, obj

    def follow_inference_services(self, namespace: str | None, stop_event: threading.Event | None = None,
                                  *, idle_timeout: float | None = None,
                                  server_timeout: int | None = None) -> Iterator[Snapshot | WatchEvent]:
        """List, then watch; on WatchExpired list again. Yields a Snapshot first (and after
        every relist, with relist=True), then WatchEvents. Connection failures propagate as
        BackendUnavailable: the caller shows them and calls again after a backoff."""
        stop = stop_event or threading.Event()
        relist = False
        expiries = 0
        while not stop.is_set():
            if expiries > 1:  # expiring again at once: do not hammer the server with lists
                if stop.wait(min(0.1 * 2 ** expiries, 5.0)):
                    return
            items, rv = self.list_inference_services(namespace)
            yield Snapshot(items, rv, relist=relist)
            try:
                for event in self.watch_inference_services(namespace, rv, stop, idle_timeout=idle_timeout,
                                                           server_timeout=server_timeout):
                    yield event
                return
            except WatchExpired:
                relist = True
                expiries += 1
                continue

    # -- writes -----------------------------------------------------------------------------
    def patch_inference_service(self, namespace: str, name: str, patch: dict, *,
                                resource_version: str | None, dry_run: bool = False) -> dict:
        """Apply a JSON merge patch; metadata.resourceVersion in the body is the precondition
        (409 -> Conflict "changed since you looked"). dry_run asks the server to validate and
        return the result without storing it. Returns the object as the server answered."""
        body = json.loads(json.dumps(patch))  # deep copy; keeps explicit nulls (merge-patch delete)
        if resource_version is not None:
            body.setdefault("metadata", {})
            if not isinstance(body["metadata"], dict):
                raise InvalidInput("patch metadata must be an object")
            body["metadata"]["resourceVersion"] = str(resource_version)
        kwargs = {"_content_type": MERGE_PATCH, "field_manager": "mlops-console"}
        if dry_run:
            kwargs["dry_run"] = "All"
        data = self._raw_json(self._custom().patch_namespaced_custom_object, GROUP, VERSION, namespace,
                              PLURAL, name, body, verb="patch", namespace=namespace, name=name,
                              resource_version=resource_version, **kwargs)
        if not isinstance(data, dict):
            raise DataError(f"{self._where()} answered the patch of {namespace}/{name} with a non-object")
        return data

    # -- events -----------------------------------------------------------------------------
    def create_event(self, namespace: str, involved: dict, *, reason: str, message: str,
                     type_: str = "Normal", component: str = "mlops-console", action: str | None = None) -> dict:
        """Create a core/v1 Event about `involved` (an object reference: apiVersion, kind, name,
        namespace, uid, resourceVersion), shaped as client-go's recorder makes them (tools/record:
        named <object>.<hex nanoseconds>, first/last timestamp, count 1), so kubectl get events,
        kubectl describe and k9s show it."""
        from kubernetes.client import CoreV1Api

        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        body = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{involved.get('name')}.{int(now * 1e9):x}", "namespace": namespace},
            "involvedObject": {k: v for k, v in involved.items() if v is not None},
            "reason": reason, "message": message[:1024], "type": type_, "count": 1,
            "firstTimestamp": stamp, "lastTimestamp": stamp,
            "source": {"component": component}, "reportingComponent": component, "reportingInstance": "",
        }
        if action:
            body["action"] = action
        data = self._raw_json(CoreV1Api(self.api_client).create_namespaced_event, namespace, body,
                              verb="create", resource="events", namespace=namespace)
        if not isinstance(data, dict):
            raise DataError(f"{self._where()} answered the creation of an event with a non-object")
        return data

    def list_events(self, namespace: str, *, involved_name: str | None = None,
                    involved_kind: str | None = None) -> list[KubeEvent]:
        """Events in `namespace` (about one object, with a field selector as kubectl describe
        does), oldest first."""
        from kubernetes.client import CoreV1Api

        selector = ",".join(f"involvedObject.{k}={v}" for k, v in (("name", involved_name),
                                                                   ("kind", involved_kind)) if v)
        kwargs = {"field_selector": selector} if selector else {}
        data = self._raw_json(CoreV1Api(self.api_client).list_namespaced_event, namespace, verb="list",
                              resource="events", namespace=namespace, **kwargs)
        if not isinstance(data, dict) or not isinstance(data.get("items", []), list):
            raise DataError(f"{self._where()} sent a list of events that is not a list object")
        events = [parse_event(o) for o in data.get("items") or [] if isinstance(o, dict)]
        return sorted(events, key=lambda e: (e.last_seen or "", e.name))

    # -- identity and permission ------------------------------------------------------------
    def can_i(self, verb: str, resource: str, group: str = "", namespace: str | None = None,
              name: str | None = None) -> tuple[bool, str]:
        """Ask the API server (SelfSubjectAccessReview): (allowed, reason)."""
        from kubernetes.client import AuthorizationV1Api

        attrs: dict[str, Any] = {"verb": verb, "resource": resource, "group": group}
        if namespace:
            attrs["namespace"] = namespace
        if name:
            attrs["name"] = name
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": attrs}}
        data = self._raw_json(AuthorizationV1Api(self.api_client).create_self_subject_access_review, body,
                              verb="create", resource="selfsubjectaccessreviews")
        st = _as_dict(_as_dict(data).get("status"))
        allowed = st.get("allowed") is True and st.get("denied") is not True
        reason = str(st.get("reason") or st.get("evaluationError") or "")
        return allowed, reason

    def whoami(self) -> str:
        """The user name the API server sees (SelfSubjectReview), or the kubeconfig user name
        when the server does not offer SelfSubjectReview."""
        if self._whoami:
            return self._whoami
        from kubernetes.client import AuthenticationV1Api

        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        try:
            data = self._raw_json(AuthenticationV1Api(self.api_client).create_self_subject_review, body,
                                  verb="create", resource="selfsubjectreviews")
            user = _as_dict(_as_dict(_as_dict(data).get("status")).get("userInfo")).get("username")
        except (NotFound, Forbidden, InvalidInput, DataError):
            user = None
        self._whoami = str(user) if user else self.user
        return self._whoami
