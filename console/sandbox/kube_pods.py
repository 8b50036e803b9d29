"""core/v1 pods and their logs in the sandbox cluster: what kubelet and the controllers make.

- `PodSimulator` follows the KServe simulator's revisions (it listens to the store, so the
  controller needs no change) and keeps, for each InferenceService, the pods Knative's
  Deployment of each routed revision runs (Serverless), or KServe's one Deployment (RawDeployment):
  labels as Knative and KServe set them (serving.knative.dev/revision, serving.knative.dev/service,
  serving.kserve.io/inferenceservice, component: predictor), an init container
  storage-initializer, containers kserve-container and queue-proxy, kubelet's Events
  (Scheduled, Pulled, Created, Started; Unhealthy and BackOff for a failing model), and their
  garbage collection when a revision leaves the route or the InferenceService goes.
- A revision that never becomes ready crash-loops: its kserve-container is waiting in
  CrashLoopBackOff with lastState.terminated (reason Error, exit code 1, the log's tail as the
  termination message: terminationMessagePolicy FallbackToLogsOnError), which is what Knative
  reports as "Container failed with: ...".
- Logs (`ContainerLog`) are computed, never stored whole: a head written when the container
  started and, while it runs, one line every `every` seconds; `serve_log` answers pods/log as the
  API server and kubelet do (tailLines, previous, container, follow, timestamps, sinceSeconds,
  limitBytes), streaming while following.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from console.sandbox.kserve_sim import RAW_MODES, deployment_template
from console.sandbox.kube_store import EVENTS, ClusterState, KubeError, make_event, now_rfc3339

NODE = "sandbox-node-1"
QUEUE_IMAGE = "gcr.io/knative-releases/knative.dev/serving/cmd/queue:v1.16.0"
INIT_IMAGE = "kserve/storage-initializer:v0.14.1"
SERVER_IMAGES = {"sklearn": "kserve/sklearnserver:v0.14.1", "xgboost": "kserve/xgbserver:v0.14.1",
                 "lightgbm": "kserve/lgbserver:v0.14.1", "pytorch": "pytorch/torchserve-kfs:0.9.0",
                 "tensorflow": "tensorflow/serving:2.6.2", "onnx": "mcr.microsoft.com/onnxruntime/server:v1.0.0"}
DEFAULT_IMAGE = "kserve/huggingfaceserver:v0.14.1"
HEAD_STEP = 0.01  # s between the lines of a log's head
RESTARTS = 4  # restarts of a crash-looping container (kubelet backs off 10 s, 20 s, 40 s, 80 s, ...)


# -- logs ----------------------------------------------------------------------------------------

class Lines(Sequence[str]):
    """n lines made on demand by line(i): a log of any size that takes no memory."""

    def __init__(self, n: int, line: Callable[[int], str]):
        self.n, self.line = n, line

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self.line(j) for j in range(*i.indices(self.n))]
        if not -self.n <= i < self.n:
            raise IndexError(i)
        return self.line(i % self.n)


@dataclass
class ContainerLog:
    """One container instance's log: `head` written at `start`, then while it runs (until
    `stopped_at`, if set) one line from `tick(i)` every `every` seconds."""

    start: float
    head: Sequence[str]
    tick: Callable[[int], str] | None = None
    every: float = 2.0
    stopped_at: float | None = None

    def _head_end(self) -> float:
        return self.start + len(self.head) * HEAD_STEP

    def count(self, now: float) -> int:
        if self.tick is None:
            return len(self.head)
        end = now if self.stopped_at is None else min(now, self.stopped_at)
        return len(self.head) + max(0, int((end - self._head_end()) // self.every))

    def at(self, i: int) -> tuple[float, str]:
        if i < len(self.head):
            return self.start + i * HEAD_STEP, self.head[i]
        assert self.tick is not None
        n = i - len(self.head)
        return self._head_end() + (n + 1) * self.every, self.tick(n)

    @property
    def running(self) -> bool:
        return self.tick is not None and self.stopped_at is None


def rfc3339_nano(ts: float) -> str:
    whole = int(ts)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{int((ts - whole) * 1e9):09d}Z"


@dataclass
class LogRequest:
    """PodLogOptions (k8s.io/api/core/v1 types.go), validated as ValidatePodLogOptions does."""

    container: str = ""
    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    tail: int | None = None
    since_seconds: int | None = None
    limit_bytes: int | None = None

    @classmethod
    def from_query(cls, q: Callable[[str], str]) -> LogRequest:
        def flag(name: str) -> bool:
            return q(name).lower() in ("1", "true")

        def number(name: str) -> int | None:
            text = q(name)
            if not text:
                return None
            try:
                return int(text)
            except ValueError:
                raise KubeError(400, "BadRequest", f'{name}: Invalid value: "{text}": must be an integer') from None

        req = cls(container=q("container"), follow=flag("follow"), previous=flag("previous"),
                  timestamps=flag("timestamps"), tail=number("tailLines"), since_seconds=number("sinceSeconds"),
                  limit_bytes=number("limitBytes"))
        errors = []
        if req.tail is not None and req.tail < 0:
            errors.append(f"tailLines: Invalid value: {req.tail}: must be greater than or equal to 0")
        if req.limit_bytes is not None and req.limit_bytes < 1:
            errors.append(f"limitBytes: Invalid value: {req.limit_bytes}: must be greater than 0")
        if req.since_seconds is not None and req.since_seconds < 1:
            errors.append(f"sinceSeconds: Invalid value: {req.since_seconds}: must be greater than 0")
        if q("sinceTime") and req.since_seconds is not None:
            errors.append("sinceSeconds: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified")
        if errors:
            raise KubeError(422, "Invalid", 'PodLogOptions "" is invalid: ' + (
                errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"),
                {"kind": "PodLogOptions"})
        return req


def pick_log(cluster: ClusterState, ns: str, name: str, req: LogRequest) -> ContainerLog:
    """Which log pods/log serves: the container as the pod registry resolves it
    (pkg/registry/core/pod/strategy.go LogLocation), then the instance as kubelet picks it
    (pkg/kubelet/kubelet_pods.go validateContainerLogStatus). Errors as they answer (400)."""
    pod = cluster.get("pods", ns, name)
    spec = pod.get("spec") or {}
    containers = [c["name"] for c in spec.get("containers") or []]
    inits = [c["name"] for c in spec.get("initContainers") or []]
    container = req.container
    if not container:
        default = ((pod["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/default-container"))
        if default:
            container = default
        elif len(containers) == 1:
            container = containers[0]
        else:
            extra = f" or one of the init containers: [{' '.join(inits)}]" if inits else ""
            raise KubeError(400, "BadRequest", f"a container name must be specified for pod {name}, choose one of: "
                                               f"[{' '.join(containers)}]{extra}")
    if container not in containers + inits:
        raise KubeError(400, "BadRequest", f"container {container} is not valid for pod {name}")
    statuses = (pod.get("status") or {}).get("containerStatuses", []) + \
        (pod.get("status") or {}).get("initContainerStatuses", [])
    st = next((s for s in statuses if s.get("name") == container), {})
    state, last = st.get("state") or {}, (st.get("lastState") or {}).get("terminated")
    key = (ns, name, container)
    logs = cluster.pod_logs
    if req.previous:
        if not last or (ns, name, container, True) not in logs:
            raise KubeError(400, "BadRequest", f'previous terminated container "{container}" in pod "{name}" '
                                               f"not found")
        return logs[(ns, name, container, True)]
    if "running" in state or "terminated" in state:
        found = logs.get((*key, False))
    elif last:  # crash-looping: the last instance's log
        found = logs.get((*key, True))
    elif "waiting" in state:
        raise KubeError(400, "BadRequest", f'container "{container}" in pod "{name}" is waiting to start: '
                                           f'{state["waiting"].get("reason") or "ContainerCreating"}')
    else:
        found = None
    if found is None:
        raise KubeError(400, "BadRequest", f'container "{container}" in pod "{name}" is waiting to start: '
                                           f"ContainerCreating")
    return found


def log_lines(log: ContainerLog, req: LogRequest, now: float) -> Iterator[tuple[int, bytes]]:
    """(index, encoded line) of what a read returns now: tail, since, timestamps; limitBytes is
    the caller's (it cuts the byte stream)."""
    total = log.count(now)
    first = max(0, total - req.tail) if req.tail is not None else 0
    for i in range(first, total):
        yield i, encode_line(log, i, req, now)


def encode_line(log: ContainerLog, i: int, req: LogRequest, now: float) -> bytes:
    ts, text = log.at(i)
    if req.since_seconds is not None and ts < now - req.since_seconds:
        return b""
    return ((rfc3339_nano(ts) + " " if req.timestamps else "") + text + "\n").encode()


# -- pods --------------------------------------------------------------------------------------

def _hash(*parts: str, n: int = 10) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery rand.SafeEncodeString
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:n])


def _container_status(name: str, image: str, *, started: float, ready: bool, state: str,
                      restarts: int = 0, last: dict[str, Any] | None = None) -> dict[str, Any]:
    cid = "containerd://" + hashlib.sha256(f"{name}/{started}/{restarts}".encode()).hexdigest()
    st: dict[str, Any]
    if state == "running":
        st = {"running": {"startedAt": now_rfc3339(started)}}
    elif state == "crashloop":
        st = {"waiting": {"reason": "CrashLoopBackOff",
                          "message": f"back-off 2m40s restarting failed container={name} pod=PODNAME"}}
    else:
        st = {"waiting": {"reason": "ContainerCreating"}}
    out: dict[str, Any] = {"name": name, "image": image, "imageID": f"docker.io/{image}@sha256:" + "0" * 64,
                           "ready": ready, "restartCount": restarts, "started": state == "running",
                           "state": st, "lastState": {"terminated": last} if last else {}}
    if state != "waiting":
        out["containerID"] = cid
    return out


def _probe(port: int) -> dict[str, Any]:
    return {"httpGet": {"path": "/", "port": port, "scheme": "HTTP"}, "periodSeconds": 10, "timeoutSeconds": 1,
            "successThreshold": 1, "failureThreshold": 3}


def deployment_of(pod: str) -> str:
    """The Deployment a pod belongs to: its name without the ReplicaSet's and the pod's hashes."""
    return pod.rsplit("-", 2)[0]


def build_deployment(name: str, pod: dict[str, Any], w: Any, *, isvc_uid: str) -> dict[str, Any]:
    """The apps/v1 Deployment behind a predictor pod, one replica, its status from the pod's:
    Knative's `<revision>-deployment` (owned by the Revision) or KServe Standard mode's
    `<isvc>-predictor` / `<isvc>-<canary>-predictor` (owned by the InferenceService). Conditions as
    the deployment controller writes them (kubernetes pkg/controller/deployment/util)."""
    meta = pod["metadata"]
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != "pod-template-hash"}
    isvc = labels.get("serving.kserve.io/inferenceservice", "")
    if w.revision:
        owner = {"apiVersion": "serving.knative.dev/v1", "kind": "Revision", "name": w.revision,
                 "uid": _hash(isvc_uid, w.revision, n=8)}
    else:
        owner = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "name": isvc, "uid": isvc_uid}
    ready = w.state == "ready"
    replica_set = meta["name"].rsplit("-", 1)[0]
    status: dict[str, Any] = {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1}
    if ready:
        status.update(readyReplicas=1, availableReplicas=1)
    else:
        status["unavailableReplicas"] = 1
    stamp = meta.get("creationTimestamp")
    status["conditions"] = [
        {"type": "Available", "status": "True" if ready else "False",
         "reason": "MinimumReplicasAvailable" if ready else "MinimumReplicasUnavailable",
         "message": "Deployment has minimum availability." if ready else
         "Deployment does not have minimum availability.", "lastUpdateTime": stamp, "lastTransitionTime": stamp},
        {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable" if ready else "ReplicaSetUpdated",
         "message": f'ReplicaSet "{replica_set}" has successfully progressed.' if ready else
         f'ReplicaSet "{replica_set}" is progressing.', "lastUpdateTime": stamp, "lastTransitionTime": stamp}]
    containers = [{"name": c.get("name"), "image": c.get("image")} for c in (pod.get("spec") or {}).get("containers") or []]
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": meta["namespace"], "labels": labels, "generation": 1,
                         "ownerReferences": [{**owner, "controller": True, "blockOwnerDeletion": True}]},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": labels.get("app", name)}},
                     "strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": containers}}},
            "status": status}


def build_pod(*, namespace: str, name: str, labels: dict[str, str], owner: dict[str, Any], image: str,
              storage_uri: str | None, created: float, state: str, last: dict[str, Any] | None = None,
              knative: bool = True) -> dict[str, Any]:
    """A predictor pod. state: ready | starting | crashloop."""
    containers = [{"name": "kserve-container", "image": image,
                   "args": ["--model_name=" + labels.get("serving.kserve.io/inferenceservice", ""),
                            "--model_dir=/mnt/models", "--http_port=8080"],
                   "ports": [{"containerPort": 8080, "name": "user-port", "protocol": "TCP"}],
                   "resources": {"limits": {"cpu": "1", "memory": "2Gi"}, "requests": {"cpu": "1", "memory": "2Gi"}},
                   "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "FallbackToLogsOnError",
                   "volumeMounts": [{"mountPath": "/mnt/models", "name": "kserve-provision-location", "readOnly": True}]}]
    if knative:
        containers.append({"name": "queue-proxy", "image": QUEUE_IMAGE,
                           "ports": [{"containerPort": 8022, "name": "http-queueadm", "protocol": "TCP"},
                                     {"containerPort": 9090, "name": "http-autometric", "protocol": "TCP"},
                                     {"containerPort": 9091, "name": "http-usermetric", "protocol": "TCP"},
                                     {"containerPort": 8012, "name": "queue-port", "protocol": "TCP"}],
                           "readinessProbe": _probe(8012),
                           "resources": {"requests": {"cpu": "25m"}}})
    else:
        containers[0]["readinessProbe"] = _probe(8080)
    ready = state == "ready"
    started = created + 8.0
    statuses = [_container_status("kserve-container", image, started=started, ready=ready,
                                  state="crashloop" if state == "crashloop" else "running",
                                  restarts=RESTARTS if state == "crashloop" else 0, last=last)]
    if knative:
        statuses.append(_container_status("queue-proxy", QUEUE_IMAGE, started=started, ready=ready,
                                          state="running"))
    for s in statuses:
        if s["state"].get("waiting", {}).get("message"):
            s["state"]["waiting"]["message"] = s["state"]["waiting"]["message"].replace("PODNAME", f"{name}_{namespace}")
    unready = [s["name"] for s in statuses if not s["ready"]]
    when = now_rfc3339(created)

    def cond(type_: str, ok: bool, reason: str = "") -> dict[str, Any]:
        c: dict[str, Any] = {"type": type_, "status": "True" if ok else "False", "lastProbeTime": None,
                             "lastTransitionTime": when}
        if not ok:
            c["reason"] = reason
            c["message"] = f"containers with unready status: [{' '.join(unready)}]"
        return c

    init_done = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now_rfc3339(created + 2),
                                "finishedAt": now_rfc3339(created + 7),
                                "containerID": "containerd://" + _hash(name, "init", n=32)}}
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels,
                     "annotations": {"serving.kserve.io/storage-initializer-sourceuri": storage_uri or ""},
                     "ownerReferences": [owner]},
        "spec": {"initContainers": [{"name": "storage-initializer", "image": INIT_IMAGE,
                                     "args": [storage_uri or "", "/mnt/models"],
                                     "terminationMessagePolicy": "FallbackToLogsOnError",
                                     "volumeMounts": [{"mountPath": "/mnt/models", "name": "kserve-provision-location"}]}],
                 "containers": containers, "nodeName": NODE, "restartPolicy": "Always",
                 "serviceAccountName": "default", "terminationGracePeriodSeconds": 300,
                 "volumes": [{"name": "kserve-provision-location", "emptyDir": {}}]},
        "status": {"phase": "Running", "hostIP": "10.89.0.2", "podIP": f"10.244.0.{int(_hash(name, n=2), 36) % 250 + 2}",
                   "qosClass": "Burstable", "startTime": when,
                   "conditions": [cond("PodReadyToStartContainers", True), cond("Initialized", True),
                                  cond("Ready", ready, "ContainersNotReady"),
                                  cond("ContainersReady", ready, "ContainersNotReady"), cond("PodScheduled", True)],
                   "initContainerStatuses": [{"name": "storage-initializer", "image": INIT_IMAGE,
                                              "imageID": f"docker.io/{INIT_IMAGE}@sha256:" + "0" * 64,
                                              "ready": True, "restartCount": 0, "started": False,
                                              "state": init_done, "lastState": {}}],
                   "containerStatuses": statuses},
    }


# -- the logs the demo's containers write ---------------------------------------------------------

def init_log(uri: str | None) -> list[str]:
    return [f"INFO:root:Initializing, args: src_uri [{uri}] dest_path[ [/mnt/models]",
            f"INFO:root:Copying contents of {uri} to local",
            f"INFO:root:Downloaded object {(uri or '').rstrip('/')}/model.bst to /mnt/models/model.bst",
            f"INFO:root:Successfully copied {uri} to /mnt/models"]


def server_head(model: str, fmt: str) -> list[str]:
    return [f"INFO:kserve:Loading {fmt} model for {model} from /mnt/models",
            f"INFO:kserve:Registering model: {model}",
            "INFO:kserve:Setting max asyncio worker threads as 12",
            "INFO:kserve:Starting uvicorn with 1 workers",
            "INFO:     Started server process [1]",
            "INFO:     Waiting for application startup.",
            "INFO:     Application startup complete.",
            "INFO:     Uvicorn running on http://0.0.0.0:8080 (Press CTRL+C to quit)"]


def access_line(model: str) -> Callable[[int], str]:
    def line(i: int) -> str:
        code = "500 Internal Server Error" if i % 97 == 96 else "200 OK"
        return (f'INFO:     10.244.0.{i % 200 + 20}:{40000 + i % 20000} - "POST /v1/models/{model}:predict '
                f'HTTP/1.1" {code}')
    return line


def crash_log(model: str, fmt: str, uri: str | None, failure: str) -> list[str]:
    return server_head(model, fmt)[:1] + [
        f"ERROR:kserve:Failed to load model {model} from {uri}",
        "Traceback (most recent call last):",
        '  File "/prod_venv/lib/python3.11/site-packages/kserve/model_server.py", line 312, in start',
        "    model.load()",
        f'  File "/prod_venv/lib/python3.11/site-packages/{fmt}server/model.py", line 58, in load',
        "    self._model = load_model(model_file)",
        f"ValueError: /mnt/models/model.bin was written by an incompatible version of {fmt} (header mismatch)",
        f"RuntimeError: {failure.split(': ContainerHealthCheckFailed')[0].replace('Container failed with: ', '')}",
    ]


def queue_log(ok: bool) -> tuple[list[str], Callable[[int], str] | None]:
    def json_line(level: str, caller: str, message: str, extra: str = "") -> str:
        return (f'{{"severity":"{level}","timestamp":"-","logger":"queueproxy","caller":"{caller}",'
                f'"message":"{message}"{extra},"commit":"4853ead","knative.dev/key":"-","knative.dev/pod":"-"}}')

    head = [json_line("INFO", "sharedmain/main.go:271", "Starting queue-proxy"),
            json_line("INFO", "sharedmain/main.go:277", "Starting http server metrics:9090"),
            json_line("INFO", "sharedmain/main.go:277", "Starting http server main:8012"),
            json_line("INFO", "sharedmain/main.go:277", "Starting http server admin:8022")]
    if ok:
        return head, None

    def probe(i: int) -> str:
        return json_line("ERROR", "sharedmain/handlers.go:105", "Failed to probe user-container",
                         ',"error":"HTTP probe did not respond Ready, got status code: 503"')
    return head, probe


# -- the simulator -------------------------------------------------------------------------------

@dataclass
class _Wanted:
    revision: str | None
    state: str  # ready | starting | crashloop
    created: float
    failure: str | None
    storage_uri: str | None
    number: int = 0
    extra_labels: dict[str, str] = field(default_factory=dict)


class PodSimulator:
    """Keeps the predictor pods of every InferenceService the KServe simulator reconciles."""

    def __init__(self, cluster: ClusterState, controller: Any, clock: Callable[[], float] = time.time):
        self.cluster, self.controller, self.clock = cluster, controller, clock
        self._lock = threading.RLock()
        cluster.add_listener(self._on_event)

    def _on_event(self, ev: Any) -> None:
        if ev.resource != "inferenceservices":
            return
        try:
            if ev.type == "DELETED":
                self._collect(ev.namespace, ev.obj["metadata"]["name"], keep=set())
            else:
                self.sync(ev.obj)
        except KubeError:  # the namespace or the object went meanwhile
            pass

    def _wanted(self, obj: dict[str, Any]) -> dict[str, _Wanted]:
        meta = obj["metadata"]
        rec = self.controller.records.get(meta.get("uid", ""))
        if rec is None or not rec.revisions:
            return {}
        status = obj.get("status") or {}
        pred = ((status.get("components") or {}).get("predictor")) or {}
        now = self.clock()

        def state(r: Any) -> str:
            if r.ready_at is not None and r.ready_at <= now:
                return "ready"
            return "crashloop" if r.failure else "starting"

        raw = status.get("deploymentMode") in RAW_MODES
        routed = {t.get("revisionName") for t in pred.get("traffic") or []}
        out: dict[str, _Wanted] = {}
        for r in rec.revisions:
            if raw and r is not rec.revisions[-1]:
                continue
            if not raw and r.name not in routed and r is not rec.revisions[-1]:
                continue
            stable_name = ((obj.get("spec") or {}).get("predictor") or {}).get("name")
            if raw and stable_name:  # a named predictor runs as {isvc}-{name}-predictor (maybe a promoted canary)
                template = deployment_template(json.loads(r.template))
                name, w = self._deployment_pod(meta, f"{meta['name']}-{stable_name}-predictor", template, r,
                                               state(r), now)
                out[name] = w
                continue
            if raw:
                name = f"{meta['name']}-predictor-{_hash(meta['uid'], r.template)}-{_hash(meta['uid'], r.name, 'pod', n=5)}"
            else:
                name = f"{r.name}-deployment-{_hash(meta['uid'], r.name)}-{_hash(meta['uid'], r.name, 'pod', n=5)}"
            created = r.created
            if state(r) == "crashloop":  # kubelet has been backing off for a while: 10+20+40+80 s
                created = min(created, now - 180)
            out[name] = _Wanted(None if raw else r.name, state(r), created, r.failure, r.storage_uri, r.number)
        for c in rec.canaries.values() if raw else ():  # Standard-mode canaries: one Deployment each
            name, w = self._deployment_pod(meta, c.name, c.template, c, state(c), now)
            out[name] = w
        return out

    @staticmethod
    def _deployment_pod(meta: dict[str, Any], deployment: str, template: str, r: Any, state: str,
                        now: float) -> tuple[str, _Wanted]:
        """The pod of a Standard-mode Deployment, named by its pod template: a promoted canary's
        Deployment keeps its pods (same Deployment, same template)."""
        name = f"{deployment}-{_hash(meta['uid'], template)}-{_hash(meta['uid'], deployment, 'pod', n=5)}"
        created = min(r.created, now - 180) if state == "crashloop" else r.created
        return name, _Wanted(None, state, created, r.failure, r.storage_uri, 0, {"app": deployment})

    def _labels(self, obj: dict[str, Any], w: _Wanted, name: str) -> dict[str, str]:
        isvc = obj["metadata"]["name"]
        labels = {"serving.kserve.io/inferenceservice": isvc, "component": "predictor",
                  "app": w.revision or f"{isvc}-predictor",  # KServe 0.15+ GetRawServiceLabel
                  "pod-template-hash": name.rsplit("-", 2)[-2]}
        if w.revision:
            labels.update({"serving.knative.dev/revision": w.revision,
                           "serving.knative.dev/revisionUID": _hash(obj["metadata"]["uid"], w.revision, n=8),
                           "serving.knative.dev/service": f"{isvc}-predictor",
                           "serving.knative.dev/configuration": f"{isvc}-predictor",
                           "serving.knative.dev/configurationGeneration": str(w.number)})
        labels.update(w.extra_labels)
        return labels

    def sync(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        if meta.get("deletionTimestamp"):
            return
        with self._lock:
            wanted = self._wanted(obj)
            if not wanted:
                return
            ns = meta["namespace"]
            self._collect(ns, meta["name"], keep=set(wanted))
            for name, w in wanted.items():
                pod = self._ensure(obj, name, w)
                if pod is not None:  # its Deployment says what the pod says (one replica each)
                    self._ensure_deployment(obj, deployment_of(name), pod, w)

    def _collect(self, ns: str, isvc: str, keep: set[str]) -> None:
        """Knative scales a revision that left the route to zero; the garbage collector deletes the
        pods of a deleted owner."""
        deployments, _ = self.cluster.snapshot("deployments", ns)
        keep_deployments = {deployment_of(name) for name in keep}
        for deployment in deployments:
            labels = deployment["metadata"].get("labels") or {}
            if labels.get("serving.kserve.io/inferenceservice") == isvc \
                    and deployment["metadata"]["name"] not in keep_deployments:
                try:
                    self.cluster.delete("deployments", ns, deployment["metadata"]["name"])
                except KubeError:
                    pass
        pods, _ = self.cluster.snapshot("pods", ns)
        for pod in pods:
            if (pod["metadata"].get("labels") or {}).get("serving.kserve.io/inferenceservice") != isvc:
                continue
            name = pod["metadata"]["name"]
            if name in keep:
                continue
            try:
                self.cluster.delete("pods", ns, name)
            except KubeError:
                pass
            for key in [k for k in self.cluster.pod_logs if k[:2] == (ns, name)]:
                self.cluster.pod_logs.pop(key, None)

    def _ensure(self, obj: dict[str, Any], name: str, w: _Wanted) -> dict[str, Any] | None:
        """The pod as it should be; returns it when it was written (None: it already was)."""
        meta = obj["metadata"]
        ns, isvc = meta["namespace"], meta["name"]
        spec_pred = (obj.get("spec") or {}).get("predictor") or {}
        fmt = ((spec_pred.get("model") or {}).get("modelFormat") or {}).get("name") or next(
            (k for k in ("sklearn", "xgboost", "lightgbm", "pytorch", "tensorflow", "onnx") if k in spec_pred), "model")
        image = SERVER_IMAGES.get(fmt, DEFAULT_IMAGE)
        try:
            current = self.cluster.get("pods", ns, name)
        except KubeError:
            current = None
        if current is not None and (current["metadata"].get("annotations") or {}).get(
                "sandbox.mlops-console.dev/state") == w.state:
            return None
        last = None
        crash_lines: list[str] = []
        if w.state == "crashloop":
            crash_lines = crash_log(isvc, fmt, w.storage_uri, w.failure or "")
            died = self.clock()
            last = {"exitCode": 1, "reason": "Error", "message": "\n".join(crash_lines[-2:]) + "\n",
                    "startedAt": now_rfc3339(died - 3), "finishedAt": now_rfc3339(died),
                    "containerID": "containerd://" + _hash(name, "previous", n=32)}
        owner = ({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name.rsplit("-", 1)[0],
                  "uid": _hash(meta["uid"], name, n=12), "controller": True, "blockOwnerDeletion": True})
        pod = build_pod(namespace=ns, name=name, labels=self._labels(obj, w, name), owner=owner, image=image,
                        storage_uri=w.storage_uri, created=w.created, state=w.state, last=last,
                        knative=w.revision is not None)
        pod["metadata"]["annotations"]["sandbox.mlops-console.dev/state"] = w.state
        if current is None:
            made = self.cluster.create("pods", ns, pod, created_at=w.created)
        else:
            pod["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            made = self.cluster.update("pods", ns, name, pod, require_rv=False)
        self._logs(ns, name, isvc, fmt, w, crash_lines)
        self._events(made, w, fmt, new=current is None)
        return made

    def _ensure_deployment(self, obj: dict[str, Any], name: str, pod: dict[str, Any], w: _Wanted) -> None:
        meta = obj["metadata"]
        dep = build_deployment(name, pod, w, isvc_uid=meta["uid"])
        try:
            current = self.cluster.get("deployments", meta["namespace"], name)
        except KubeError:
            self.cluster.create("deployments", meta["namespace"], dep, created_at=w.created)
            return
        dep["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        self.cluster.update("deployments", meta["namespace"], name, dep, require_rv=False)

    def _logs(self, ns: str, name: str, isvc: str, fmt: str, w: _Wanted, crash_lines: list[str]) -> None:
        logs = self.cluster.pod_logs
        started = w.created + 8.0
        logs[(ns, name, "storage-initializer", False)] = ContainerLog(w.created + 2, init_log(w.storage_uri))
        knative = w.revision is not None
        if w.state == "crashloop":
            died = self.clock()
            logs[(ns, name, "kserve-container", True)] = ContainerLog(died - 3, crash_lines, stopped_at=died)
            logs.pop((ns, name, "kserve-container", False), None)
        elif w.state == "ready":
            logs[(ns, name, "kserve-container", False)] = ContainerLog(started, server_head(isvc, fmt),
                                                                       access_line(isvc), every=2.0)
        else:
            logs[(ns, name, "kserve-container", False)] = ContainerLog(started, server_head(isvc, fmt)[:2])
        if knative:
            head, probe = queue_log(w.state != "crashloop")
            logs[(ns, name, "queue-proxy", False)] = ContainerLog(started, head, probe, every=10.0)

    def _events(self, pod: dict[str, Any], w: _Wanted, fmt: str, *, new: bool) -> None:
        """kubelet's and the scheduler's Events: the start of a new pod, then its crash loop."""
        meta = pod["metadata"]
        ns, name = meta["namespace"], meta["name"]
        ref = {"apiVersion": "v1", "kind": "Pod", "name": name, "namespace": ns, "uid": meta["uid"],
               "resourceVersion": meta["resourceVersion"]}
        out: list[tuple[str, str, str, str, int, str | None]] = []
        if new:
            image = SERVER_IMAGES.get(fmt, DEFAULT_IMAGE)
            out.append(("Normal", "Scheduled", f"Successfully assigned {ns}/{name} to {NODE}", "default-scheduler",
                        1, None))
            containers = [("storage-initializer", INIT_IMAGE), ("kserve-container", image)]
            if w.revision:
                containers.append(("queue-proxy", QUEUE_IMAGE))
            for c, img in containers:
                path = f"spec.initContainers{{{c}}}" if c == "storage-initializer" else f"spec.containers{{{c}}}"
                out += [("Normal", "Pulled", f'Container image "{img}" already present on machine', "kubelet", 1, path),
                        ("Normal", "Created", f"Created container {c}", "kubelet", 1, path),
                        ("Normal", "Started", f"Started container {c}", "kubelet", 1, path)]
        if w.state == "crashloop":
            probe_path = "spec.containers{queue-proxy}" if w.revision else "spec.containers{kserve-container}"
            out += [("Warning", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503",
                     "kubelet", 38, probe_path),
                    ("Warning", "BackOff", f"Back-off restarting failed container kserve-container in pod "
                                           f"{name}_{ns}({meta['uid']})", "kubelet", 23, "spec.containers{kserve-container}")]
        now = self.clock()
        for i, (type_, reason, message, component, count, path) in enumerate(out):
            involved = {**ref, **({"fieldPath": path} if path else {})}
            event = make_event(involved, type_, reason, message, component, now + i * 1e-3,
                               host=NODE if component == "kubelet" else "")
            if count > 1:
                event["count"] = count
                event["firstTimestamp"] = now_rfc3339(w.created + 10)
            try:
                self.cluster.create(EVENTS.plural, ns, event)
            except KubeError:
                pass


# -- the API: table printing -------------------------------------------------------------------

def pod_cells(obj: dict[str, Any], human_age: Callable[[str | None], str]) -> list[Any]:
    """printPod of kubernetes pkg/printers/internalversion/printers.go: NAME READY STATUS RESTARTS AGE
    (IP NODE NOMINATED NODE READINESS GATES at -o wide)."""
    status = obj.get("status") or {}
    statuses = status.get("containerStatuses") or []
    reason = status.get("reason") or status.get("phase") or ""
    restarts, last_restart = 0, None
    for c in statuses:
        restarts += int(c.get("restartCount") or 0)
        finished = ((c.get("lastState") or {}).get("terminated") or {}).get("finishedAt")
        if finished and (last_restart is None or finished > last_restart):
            last_restart = finished
        st = c.get("state") or {}
        if st.get("waiting", {}).get("reason"):
            reason = st["waiting"]["reason"]
        elif st.get("terminated", {}).get("reason"):
            reason = st["terminated"]["reason"]
    if obj["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    ready = sum(1 for c in statuses if c.get("ready"))
    restart_text = f"{restarts} ({human_age(last_restart)} ago)" if last_restart else str(restarts)
    return [obj["metadata"]["name"], f"{ready}/{len((obj.get('spec') or {}).get('containers') or [])}", reason,
            restart_text, human_age(obj["metadata"].get("creationTimestamp")), status.get("podIP") or "<none>",
            (obj.get("spec") or {}).get("nodeName") or "<none>", "<none>", "<none>"]


def pod_columns(name_col: dict[str, Any], age_col: dict[str, Any]) -> list[dict[str, Any]]:
    def col(name: str, priority: int = 0) -> dict[str, Any]:
        return {"name": name, "type": "string", "format": "", "description": "", "priority": priority}

    return [name_col, col("Ready"), col("Status"), col("Restarts"), age_col, col("IP", 1), col("Node", 1),
            col("Nominated Node", 1), col("Readiness Gates", 1)]


POD_RESOURCES = [
    {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
     "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
     "shortNames": ["po"], "categories": ["all"]},
    {"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]},
    {"name": "pods/status", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get", "patch", "update"]},
]


# -- the API: pods/log -------------------------------------------------------------------------

def serve_log(handler: Any, api: Any, ns: str, name: str, q: Callable[[str], str]) -> None:
    """GET /api/v1/namespaces/NS/pods/NAME/log: text/plain; with follow=true a chunked stream that
    stays open while the container runs, as the API server proxies kubelet's stream
    (k8s.io/kubernetes pkg/registry/core/pod/rest/log.go, LogREST.Get)."""
    req = LogRequest.from_query(q)
    log = pick_log(api.cluster, ns, name, req)
    now = time.time()
    if not req.follow:
        body = b"".join(line for _, line in log_lines(log, req, now))
        if req.limit_bytes is not None:
            body = body[:req.limit_bytes]
        handler._send(200, body, "text/plain")
        return
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.send_header("Cache-Control", "no-cache, private")
    handler.end_headers()
    budget = req.limit_bytes

    def write(data: bytes) -> bool:
        nonlocal budget
        if budget is not None:
            data = data[:budget]
            budget -= len(data)
        if data:
            handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            handler.wfile.flush()
        return budget is None or budget > 0

    try:
        going = True
        sent = log.count(now)
        for _, data in log_lines(log, req, now):
            if not (going := write(data)):
                break
        while going and log.running and not api._stopping.is_set() and not handler._client_gone():
            now = time.time()
            total = log.count(now)
            for i in range(sent, total):
                if not (going := write(encode_line(log, i, req, now))):
                    break
            sent = total
            due = log.at(sent)[0] - time.time()
            api._stopping.wait(max(0.01, min(due, 0.2)))
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()
    except OSError:  # the client went away (BrokenPipe, reset, TLS shutdown)
        pass
    finally:
        handler.close_connection = True
