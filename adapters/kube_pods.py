"""core/v1 for the console: pods (with their container statuses), their logs, and Events (part of
adapters.kube, which re-exports it).

- Pods of an InferenceService are found by the labels KServe and Knative put on them
  (`serving.kserve.io/inferenceservice`, `component`, `serving.knative.dev/revision`).
- Logs are streamed (pods/log with follow, tailLines, previous, container, as `kubectl logs`),
  line by line, never read whole: `stream_log` yields lines and stops at once when its stop
  event is set (the socket is shut); `read_log` keeps only the last `max_lines`.
- Events: `create_event` (shaped as client-go's recorder makes them) and `list_events` (field
  selectors on the involved object, as kubectl describe does); `inference_service_events` gathers
  those of an InferenceService, its predictor's Configuration and its pods, newest first.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from adapters.errors import ConsoleError, DataError, InvalidInput, NotFound
from adapters.kube_connection import KubeConnection, close_on_stop
from adapters.kube_model import _as_dict, _as_int, _str_or_none

ISVC_LABEL = "serving.kserve.io/inferenceservice"
COMPONENT_LABEL = "component"
REVISION_LABEL = "serving.knative.dev/revision"
DEFAULT_CONTAINER = "kserve-container"
LOG_READ_TIMEOUT = 300.0  # s a followed log may stay silent before the read is retried


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

    @property
    def object(self) -> str:
        """kubectl's OBJECT column: kind/name, the kind in lower case."""
        return f"{(self.object_kind or '').lower()}/{self.object_name or ''}"


def parse_event(obj: dict[str, Any]) -> KubeEvent:
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


def newest_first(events: list[KubeEvent]) -> list[KubeEvent]:
    return sorted(events, key=lambda e: (e.last_seen or "", e.name), reverse=True)


@dataclass
class ContainerState:
    """One container's status, as `kubectl describe pod` shows it."""

    name: str
    ready: bool
    restart_count: int
    state: str  # running | waiting | terminated | unknown
    reason: str | None = None  # of the waiting or terminated state (CrashLoopBackOff, OOMKilled, ...)
    message: str | None = None
    exit_code: int | None = None
    last_reason: str | None = None  # lastState.terminated: why the previous instance ended
    last_exit_code: int | None = None
    last_message: str | None = None

    @property
    def has_previous(self) -> bool:
        """Whether `previous` logs exist (a terminated earlier instance)."""
        return self.last_reason is not None or self.last_exit_code is not None


@dataclass
class Pod:
    namespace: str
    name: str
    phase: str | None
    labels: dict[str, str]
    containers: list[str]
    init_containers: list[str] = field(default_factory=list)
    statuses: list[ContainerState] = field(default_factory=list)
    created_at: str | None = None
    node: str | None = None

    @property
    def revision(self) -> str | None:
        return self.labels.get(REVISION_LABEL)

    @property
    def ready(self) -> bool:
        return bool(self.statuses) and all(s.ready for s in self.statuses)

    @property
    def restarts(self) -> int:
        return sum(s.restart_count for s in self.statuses)

    def status_of(self, container: str) -> ContainerState | None:
        return next((s for s in self.statuses if s.name == container), None)

    @property
    def reason(self) -> str | None:
        """What kubectl get pods prints in STATUS when it is not the phase (CrashLoopBackOff, ...)."""
        return next((s.reason for s in self.statuses if s.state != "running" and s.reason), None)


def _container_state(raw: dict[str, Any]) -> ContainerState:
    state = _as_dict(raw.get("state"))
    last = _as_dict(_as_dict(raw.get("lastState")).get("terminated"))
    kind = next((k for k in ("running", "waiting", "terminated") if k in state), "unknown")
    now = _as_dict(state.get(kind))
    return ContainerState(
        name=_str_or_none(raw.get("name")) or "", ready=raw.get("ready") is True,
        restart_count=_as_int(raw.get("restartCount")) or 0, state=kind,
        reason=_str_or_none(now.get("reason")), message=_str_or_none(now.get("message")),
        exit_code=_as_int(now.get("exitCode")), last_reason=_str_or_none(last.get("reason")) if last else None,
        last_exit_code=_as_int(last.get("exitCode")) if last else None,
        last_message=_str_or_none(last.get("message")) if last else None)


def parse_pod(obj: dict[str, Any]) -> Pod:
    meta = _as_dict(obj.get("metadata"))
    spec = _as_dict(obj.get("spec"))
    status = _as_dict(obj.get("status"))
    labels = {str(k): str(v) for k, v in _as_dict(meta.get("labels")).items()}

    def names(key: str) -> list[str]:
        items = spec.get(key)
        return [str(c.get("name")) for c in items if isinstance(c, dict) and c.get("name")] \
            if isinstance(items, list) else []

    raw_statuses = status.get("containerStatuses")
    statuses = [_container_state(s) for s in raw_statuses if isinstance(s, dict)] \
        if isinstance(raw_statuses, list) else []
    return Pod(namespace=_str_or_none(meta.get("namespace")) or "", name=_str_or_none(meta.get("name")) or "",
               phase=_str_or_none(status.get("phase")), labels=labels, containers=names("containers"),
               init_containers=names("initContainers"), statuses=statuses,
               created_at=_str_or_none(meta.get("creationTimestamp")), node=_str_or_none(spec.get("nodeName")))


def predictor_selector(name: str, revision: str | None = None) -> str:
    """The label selector of an InferenceService's predictor pods (one revision's, if given)."""
    selector = f"{ISVC_LABEL}={name},{COMPONENT_LABEL}=predictor"
    return f"{selector},{REVISION_LABEL}={revision}" if revision else selector


class PodsApi(KubeConnection):
    """The core/v1 calls of a KubeClient: pods, logs, events."""

    def _core(self) -> Any:
        from kubernetes.client import CoreV1Api

        return CoreV1Api(self.api_client)

    # -- pods -------------------------------------------------------------------------------
    def list_pods(self, namespace: str, label_selector: str | None = None) -> list[Pod]:
        """Pods in `namespace` matching the selector, oldest first."""
        kwargs: dict[str, Any] = {"label_selector": label_selector} if label_selector else {}
        data = self._raw_json(self._core().list_namespaced_pod, namespace, verb="list", resource="pods",
                              namespace=namespace, **kwargs)
        if not isinstance(data, dict) or not isinstance(data.get("items", []), list):
            raise DataError(f"{self._where()} sent a list of pods that is not a list object")
        pods = [parse_pod(o) for o in data.get("items") or [] if isinstance(o, dict)]
        return sorted(pods, key=lambda p: (p.created_at or "", p.name))

    def get_pod(self, namespace: str, name: str) -> Pod:
        data = self._raw_json(self._core().read_namespaced_pod, name, namespace, verb="get", resource="pods",
                              namespace=namespace, name=name)
        if not isinstance(data, dict):
            raise DataError(f"{self._where()} sent a pod {namespace}/{name} that is not an object")
        return parse_pod(data)

    def predictor_pods(self, namespace: str, name: str, revision: str | None = None) -> list[Pod]:
        """The predictor pods of an InferenceService (of one revision when given), oldest first."""
        return self.list_pods(namespace, predictor_selector(name, revision))

    # -- logs -------------------------------------------------------------------------------
    def stream_log(self, namespace: str, pod: str, *, container: str | None = None, previous: bool = False,
                   tail: int | None = None, follow: bool = False, timestamps: bool = False,
                   stop_event: threading.Event | None = None) -> Iterator[str]:
        """Yield a container's log line by line (without the newline) as the server sends it.

        With follow the stream stays open until the container ends or stop_event is set; setting
        it shuts the socket, so a blocked read returns at once. Nothing is kept here: the caller
        decides how many lines to hold."""
        import urllib3

        kwargs: dict[str, Any] = {"follow": follow, "previous": previous, "timestamps": timestamps}
        if container:
            kwargs["container"] = container
        if tail is not None:
            kwargs["tail_lines"] = tail
        stop = stop_event or threading.Event()
        try:
            resp = self._core().read_namespaced_pod_log(
                pod, namespace, _preload_content=False,
                _request_timeout=self._timeout(LOG_READ_TIMEOUT if follow else None), **kwargs)
        except Exception as exc:  # noqa: BLE001 - everything is mapped
            raise self._log_error(exc, namespace, pod) from None
        ended = threading.Event()
        threading.Thread(target=close_on_stop, args=(resp, stop, ended), name="kube-log-stop", daemon=True).start()
        buffer = b""
        try:
            for chunk in resp.stream(amt=None, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    yield line.decode("utf-8", "replace")
                    if stop.is_set():
                        return
            if buffer:
                yield buffer.decode("utf-8", "replace")
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            if stop.is_set():
                return
            raise self.map_error(exc, verb="read", resource="pods/log", namespace=namespace, name=pod) from None
        finally:
            ended.set()
            try:
                resp.release_conn()
            except Exception:  # noqa: BLE001 - the stream may be shut already
                pass

    def read_log(self, namespace: str, pod: str, *, container: str | None = None, previous: bool = False,
                 tail: int | None = None, max_lines: int = 10_000) -> list[str]:
        """The last lines of a container's log (at most max_lines, whatever the log's size)."""
        return list(deque(self.stream_log(namespace, pod, container=container, previous=previous, tail=tail),
                          maxlen=max_lines))

    def _log_error(self, exc: BaseException, namespace: str, pod: str) -> ConsoleError:
        """pods/log answers 400 with kubelet's reason (pkg/kubelet/kubelet_pods.go,
        validateContainerLogStatus) when there is no such log: say it as it is."""
        from kubernetes.client.exceptions import ApiException

        if isinstance(exc, ApiException) and exc.status == 400:
            from adapters.kube_connection import _status_message

            msg = _status_message(exc.body) or "bad request"
            if "not found" in msg or "waiting to start" in msg or "is terminated" in msg:
                return NotFound(f"no log: {msg}")
            return InvalidInput(f"{msg}; name one of the pod's containers (--container)")
        return self.map_error(exc, verb="read", resource="pods/log", namespace=namespace, name=pod)

    # -- events -----------------------------------------------------------------------------
    def create_event(self, namespace: str, involved: dict[str, Any], *, reason: str, message: str,
                     type_: str = "Normal", component: str = "mlops-console",
                     action: str | None = None) -> dict[str, Any]:
        """Create a core/v1 Event about `involved` (an object reference: apiVersion, kind, name,
        namespace, uid, resourceVersion), shaped as client-go's recorder makes them (tools/record:
        named <object>.<hex nanoseconds>, first/last timestamp, count 1), so kubectl get events,
        kubectl describe and k9s show it."""
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        body: dict[str, Any] = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{involved.get('name')}.{int(now * 1e9):x}", "namespace": namespace},
            "involvedObject": {k: v for k, v in involved.items() if v is not None},
            "reason": reason, "message": message[:1024], "type": type_, "count": 1,
            "firstTimestamp": stamp, "lastTimestamp": stamp,
            "source": {"component": component}, "reportingComponent": component, "reportingInstance": "",
        }
        if action:
            body["action"] = action
        data = self._raw_json(self._core().create_namespaced_event, namespace, body,
                              verb="create", resource="events", namespace=namespace)
        if not isinstance(data, dict):
            raise DataError(f"{self._where()} answered the creation of an event with a non-object")
        return data

    def list_events(self, namespace: str, *, involved_name: str | None = None,
                    involved_kind: str | None = None) -> list[KubeEvent]:
        """Events in `namespace` (about one object, with a field selector as kubectl describe
        does), oldest first."""
        selector = ",".join(f"involvedObject.{k}={v}" for k, v in (("name", involved_name),
                                                                   ("kind", involved_kind)) if v)
        kwargs: dict[str, Any] = {"field_selector": selector} if selector else {}
        data = self._raw_json(self._core().list_namespaced_event, namespace, verb="list",
                              resource="events", namespace=namespace, **kwargs)
        if not isinstance(data, dict) or not isinstance(data.get("items", []), list):
            raise DataError(f"{self._where()} sent a list of events that is not a list object")
        events = [parse_event(o) for o in data.get("items") or [] if isinstance(o, dict)]
        return sorted(events, key=lambda e: (e.last_seen or "", e.name))

    def inference_service_events(self, namespace: str, name: str) -> list[KubeEvent]:
        """The Events of an InferenceService, of its predictor's Configuration (Knative's
        LatestCreatedFailed) and of all its pods, newest first: one field-selected list per object,
        as kubectl describe asks for one object's events."""
        objects = [("InferenceService", name), ("Configuration", f"{name}-predictor")]
        objects += [("Pod", p.name) for p in self.list_pods(namespace, f"{ISVC_LABEL}={name}")]
        events: list[KubeEvent] = []
        for kind, obj in objects:
            events += self.list_events(namespace, involved_name=obj, involved_kind=kind)
        return newest_first(events)
