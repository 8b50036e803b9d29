"""The sandbox cluster's object store: a thread-safe, versioned store with a bounded event history
for watches, plus fault injection for tests.

Semantics follow the Kubernetes API server: one global resourceVersion counter; every write bumps
it and records an event; generation moves on spec changes only (status is a subresource);
updates carry a resourceVersion precondition (409 when stale); watches resume from a
resourceVersion and get 410 Expired when it is older than the kept history.
"""

from __future__ import annotations

import builtins
import copy
import datetime as dt
import json
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from console.sandbox import kube_validate
from console.sandbox.faults import Faults

ISVC_GROUP, ISVC_VERSION = "serving.kserve.io", "v1beta1"
ISVC_API_VERSION = f"{ISVC_GROUP}/{ISVC_VERSION}"


class KubeError(Exception):
    """An API error, rendered by the HTTP layer as a `kind: Status` object."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict:
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            body["details"] = self.details
        return body


@dataclass(frozen=True)
class ResourceType:
    plural: str
    singular: str
    kind: str
    group: str
    version: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    status_subresource: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """e.g. inferenceservices.serving.kserve.io (what error messages name)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def validate(self, obj: dict) -> list:
        if self.plural == "inferenceservices":
            return kube_validate.validate_isvc(obj)
        if self.plural == "namespaces":
            return kube_validate.validate_namespace(obj)
        if self.plural == "events":
            return kube_validate.validate_event(obj)
        if self.plural == "leases":
            return kube_validate.validate_lease(obj)
        return []


NAMESPACES = ResourceType("namespaces", "namespace", "Namespace", "", "v1", False, ("ns",))
ISVCS = ResourceType("inferenceservices", "inferenceservice", "InferenceService", ISVC_GROUP, ISVC_VERSION,
                     True, ("isvc",), status_subresource=True)
EVENTS = ResourceType("events", "event", "Event", "", "v1", True, ("ev",))
# pods: written whole by the sandbox's kubelet (console/sandbox/kube_pods.py), status included
PODS = ResourceType("pods", "pod", "Pod", "", "v1", True, ("po",))
# coordination.k8s.io/v1 Leases (a progress's lock); updates need a resourceVersion, as
# pkg/registry/coordination/lease/strategy.go says (AllowUnconditionalUpdate: false)
LEASES = ResourceType("leases", "lease", "Lease", "coordination.k8s.io", "v1", True)
# apps/v1 Deployments: written whole by the sandbox's controllers (console/sandbox/kube_pods.py), as
# Knative's (<revision>-deployment) and KServe's Standard mode (<isvc>-predictor, <isvc>-<canary>-predictor)
DEPLOYMENTS = ResourceType("deployments", "deployment", "Deployment", "apps", "v1", True, ("deploy",))
RESOURCES = {r.plural: r for r in (NAMESPACES, ISVCS, EVENTS, PODS, LEASES, DEPLOYMENTS)}


def now_rfc3339(ts: float | None = None) -> str:
    t = dt.datetime.fromtimestamp(time.time() if ts is None else ts, dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def not_found(rt: ResourceType, name: str) -> KubeError:
    return KubeError(404, "NotFound", f'{rt.qualified} "{name}" not found',
                     {"name": name, "group": rt.group, "kind": rt.plural})


def conflict(rt: ResourceType, name: str) -> KubeError:
    return KubeError(409, "Conflict",
                     f'Operation cannot be fulfilled on {rt.qualified} "{name}": the object has been '
                     f"modified; please apply your changes to the latest version and try again",
                     {"name": name, "group": rt.group, "kind": rt.plural})


def invalid(rt: ResourceType, name: str, errors: list) -> KubeError:
    text = ", ".join(e.text() for e in errors)
    if len(errors) > 1:
        text = "[" + text + "]"
    return KubeError(422, "Invalid", f'{rt.kind}.{rt.group or "core"} "{name}" is invalid: {text}'
                     if rt.group else f'{rt.kind} "{name}" is invalid: {text}',
                     {"name": name, "group": rt.group, "kind": rt.kind,
                      "causes": [e.cause() for e in errors]})


@dataclass
class Event:
    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    resource: str
    namespace: str
    obj: dict
    old: dict | None = None  # the stored object this write replaced (None for ADDED)


class ClusterState:
    """Objects by (resource, namespace, name), one resourceVersion counter, a bounded event log."""

    def __init__(self, history: int = 1000, event_ttl: float = 3600.0):
        self.event_ttl = event_ttl  # kube-apiserver --event-ttl (default 1h): Events expire after it
        self._event_expiry: dict[tuple[str, str, str], float] = {}
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._rv = 0
        self._objects: dict[tuple[str, str, str], dict] = {}
        self._events: deque[Event] = deque(maxlen=history)
        self._expired_below = 0
        self._watch_epoch = 0
        self._closed = False
        self._listeners: list[Callable[[Event], None]] = []
        self._encoded: dict[tuple[str, str, str], bytes] = {}
        self.faults = Faults(default_times=1)
        # (namespace, pod, container, previous) -> console.sandbox.kube_pods.ContainerLog
        self.pod_logs: dict[tuple[str, str, str, bool], Any] = {}

    # -- plumbing ----------------------------------------------------------------------------
    @property
    def resource_version(self) -> int:
        with self._lock:
            return self._rv

    def add_listener(self, fn: Callable[[Event], None]) -> None:
        """fn(event) is called after each committed write, outside the store lock."""
        self._listeners.append(fn)

    def _record(self, type_: str, rt: ResourceType, ns: str, obj: dict, old: dict | None = None) -> Event:
        ev = Event(self._rv, type_, rt.plural, ns, obj, old)
        self._events.append(ev)
        self._cond.notify_all()
        return ev

    def _notify(self, ev: Event) -> None:
        for fn in list(self._listeners):
            try:
                fn(ev)
            except Exception:  # a listener must not break the API
                pass

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    @staticmethod
    def _key(rt: ResourceType, ns: str | None, name: str) -> tuple[str, str, str]:
        return (rt.plural, ns or "" if rt.namespaced else "", name)

    # -- reads -------------------------------------------------------------------------------
    def get(self, resource: str, namespace: str | None, name: str) -> dict:
        rt = RESOURCES[resource]
        with self._lock:
            obj = self._objects.get(self._key(rt, namespace, name))
            if obj is None:
                raise not_found(rt, name)
            return copy.deepcopy(obj)

    def list(self, resource: str, namespace: str | None = None) -> tuple[list[dict], int]:
        """(deep copies sorted by namespace/name, the list's resourceVersion)."""
        rt = RESOURCES[resource]
        with self._lock:
            items = [copy.deepcopy(o) for (r, ns, _), o in sorted(self._objects.items())
                     if r == rt.plural and (namespace is None or ns == namespace)]
            return items, self._rv

    def snapshot(self, resource: str, namespace: str | None = None) -> tuple[builtins.list[dict], int]:
        """Like list(), without copies: the stored objects themselves. Read them, never mutate them
        (the store replaces objects on every write and never changes one in place)."""
        rt = RESOURCES[resource]
        with self._lock:
            items = [o for (r, ns, _), o in sorted(self._objects.items())
                     if r == rt.plural and (namespace is None or ns == namespace)]
            return items, self._rv

    def snapshot_at(self, resource: str, namespace: str | None, rv: int) -> builtins.list[dict] | None:
        """The objects as they were at resourceVersion rv (like snapshot()), rebuilt by undoing the
        kept history; None when rv is older than the history (etcd would say "compacted")."""
        rt = RESOURCES[resource]
        with self._lock:
            if rv < self.oldest_resumable():
                return None
            objects = {k: o for k, o in self._objects.items() if k[0] == rt.plural}
            for ev in reversed(self._events):
                if ev.rv <= rv:
                    break
                if ev.resource != rt.plural:
                    continue
                key = self._key(rt, ev.namespace, ev.obj["metadata"]["name"])
                if ev.old is None:
                    objects.pop(key, None)
                else:
                    objects[key] = ev.old
            return [o for (_, ns, _), o in sorted(objects.items()) if namespace is None or ns == namespace]

    def encoded(self, obj: dict) -> bytes:
        """The JSON of a stored object (from snapshot()), cached until the object changes."""
        meta = obj["metadata"]
        rt = next(r for r in RESOURCES.values() if r.kind == obj.get("kind"))
        key = self._key(rt, meta.get("namespace"), meta["name"])
        with self._lock:
            cached = self._encoded.get(key)
            if cached is not None and self._objects.get(key) is obj:
                return cached
            data = dumps(obj)
            if self._objects.get(key) is obj:
                self._encoded[key] = data
            return data

    def inference_services(self, namespace: str | None = None) -> builtins.list[dict]:
        return self.list("inferenceservices", namespace)[0]

    def namespace_exists(self, name: str) -> bool:
        with self._lock:
            return ("namespaces", "", name) in self._objects

    # -- writes ------------------------------------------------------------------------------
    def create(self, resource: str, namespace: str | None, obj: dict, *, dry_run: bool = False,
               created_at: float | None = None) -> dict:
        rt = RESOURCES[resource]
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {}) if isinstance(obj.get("metadata", {}), dict) else obj["metadata"]
        if isinstance(meta, dict):
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
            if rt.namespaced:
                if meta.get("namespace") and namespace and meta["namespace"] != namespace:
                    raise KubeError(400, "BadRequest", "the namespace of the provided object does not match "
                                                       "the namespace sent on the request")
                meta["namespace"] = namespace
            else:
                meta.pop("namespace", None)
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        errors = rt.validate(obj)
        name = meta.get("name") if isinstance(meta, dict) else None
        if errors:
            raise invalid(rt, str(name or ""), errors)
        assert isinstance(name, str)  # validate() requires metadata.name
        if rt.status_subresource:
            obj.pop("status", None)
        if rt.plural == "namespaces":
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
            obj["spec"] = {"finalizers": ["kubernetes"]}
            obj["status"] = {"phase": "Active"}
        for k in ("resourceVersion", "uid", "generation", "creationTimestamp", "managedFields",
                  "deletionTimestamp", "selfLink"):
            meta.pop(k, None)
        with self._lock:
            if rt.namespaced and not self.namespace_exists(namespace or ""):
                raise KubeError(404, "NotFound", f'namespaces "{namespace}" not found',
                                {"name": namespace, "kind": "namespaces"})
            key = self._key(rt, namespace, name)
            if key in self._objects:
                raise KubeError(409, "AlreadyExists", f'{rt.qualified} "{name}" already exists',
                                {"name": name, "group": rt.group, "kind": rt.plural})
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339(created_at)
            if rt.plural not in ("events", "leases"):  # no generation (their strategies set none)
                meta["generation"] = 1
            if dry_run:
                meta["resourceVersion"] = str(self._rv)
                return obj
            expired = self._expire_events() if rt.plural == "events" else []
            meta["resourceVersion"] = str(self._next_rv())
            self._objects[key] = obj
            if rt.plural == "events":
                self._event_expiry[key] = time.monotonic() + self.event_ttl
            ev = self._record("ADDED", rt, namespace or "", obj)
        for done in expired:
            self._notify(done)
        self._notify(ev)
        return copy.deepcopy(obj)

    def _expire_events(self) -> builtins.list[Event]:
        """Drop Events older than event_ttl, as their etcd lease runs out (a DELETED watch event each).
        Called under the lock when an Event is created: the sandbox has no lease timer."""
        now = time.monotonic()
        out = []
        for key in [k for k, due in self._event_expiry.items() if due <= now]:
            del self._event_expiry[key]
            old = self._objects.pop(key, None)
            if old is not None:
                self._encoded.pop(key, None)
                gone = {**old, "metadata": {**old["metadata"], "resourceVersion": str(self._next_rv())}}
                out.append(self._record("DELETED", EVENTS, key[1], gone, old))
        return out

    def update(self, resource: str, namespace: str | None, name: str, obj: dict, *,
               subresource: str | None = None, dry_run: bool = False, require_rv: bool = True) -> dict:
        """PUT semantics: obj replaces the stored object (spec for the main resource, status for /status).

        obj.metadata.resourceVersion is a precondition: stale -> 409; missing -> 422 when require_rv.
        """
        rt = RESOURCES[resource]
        obj = copy.deepcopy(obj)
        if not isinstance(obj.get("metadata"), dict):
            obj["metadata"] = {}
        meta = obj["metadata"]
        if meta.get("name") not in (None, name):
            raise KubeError(400, "BadRequest", "the name of the object "
                            f"({meta.get('name')}) does not match the name on the URL ({name})")
        with self._lock:
            key = self._key(rt, namespace, name)
            current = self._objects.get(key)
            if current is None:
                raise not_found(rt, name)
            rv = meta.get("resourceVersion")
            if rv in (None, ""):
                if require_rv:
                    raise invalid(rt, name, [kube_validate.FieldError(
                        "metadata.resourceVersion", "Invalid", "must be specified for an update", "0x0")])
            elif str(rv) != current["metadata"]["resourceVersion"]:
                raise conflict(rt, name)
            new = copy.deepcopy(current)
            if subresource == "status":
                new["status"] = obj.get("status", {})
            else:
                for k in ("labels", "annotations", "finalizers", "ownerReferences"):
                    if k in meta:
                        new["metadata"][k] = meta[k]
                    else:
                        new["metadata"].pop(k, None)
                if rt.plural == "events":  # no spec: every top-level field is the object
                    new = {**{k: v for k, v in obj.items() if k != "metadata"}, "metadata": new["metadata"]}
                elif rt.plural != "namespaces":
                    if "spec" in obj:
                        new["spec"] = obj["spec"]
                    else:
                        new.pop("spec", None)
                if not rt.status_subresource and "status" in obj:
                    new["status"] = obj["status"]
            errors = rt.validate(new)
            deleting = bool(current["metadata"].get("deletionTimestamp"))
            added = set(new["metadata"].get("finalizers") or []) - set(current["metadata"].get("finalizers") or [])
            if deleting and added:  # k8s.io/apiserver pkg/registry/rest/update.go, BeforeUpdate
                errors.append(kube_validate.FieldError(
                    "metadata.finalizers", "Forbidden", "no new finalizers can be added if the object is being deleted",
                    new["metadata"].get("finalizers")))
            if errors:
                raise invalid(rt, name, errors)
            if new.get("spec") != current.get("spec") and "generation" in current["metadata"]:
                new["metadata"]["generation"] = int(current["metadata"].get("generation", 1)) + 1
            if new == current or dry_run:
                return new
            new["metadata"]["resourceVersion"] = str(self._next_rv())
            self._encoded.pop(key, None)
            if deleting and not new["metadata"].get("finalizers"):
                del self._objects[key]  # the last finalizer is gone: the object goes (a DELETED event)
                ev = self._record("DELETED", rt, namespace or "", new, current)
            else:
                self._objects[key] = new
                ev = self._record("MODIFIED", rt, namespace or "", new, current)
        self._notify(ev)
        return copy.deepcopy(new)

    def update_status(self, namespace: str, name: str, status: dict, *, expected_uid: str | None = None) -> bool:
        """The controller's status write: no precondition; False if the object is gone or replaced."""
        rt = ISVCS
        with self._lock:
            current = self._objects.get(self._key(rt, namespace, name))
            if current is None or (expected_uid and current["metadata"]["uid"] != expected_uid):
                return False
            if current.get("status") == status:
                return True
            meta = dict(current["metadata"])
            meta["resourceVersion"] = current["metadata"]["resourceVersion"]
            obj = {"metadata": meta, "status": status}
        try:
            self.update("inferenceservices", namespace, name, obj, subresource="status")
        except KubeError:
            return False
        return True

    def delete(self, resource: str, namespace: str | None, name: str, *, precondition_rv: str | None = None,
               precondition_uid: str | None = None, dry_run: bool = False) -> dict:
        rt = RESOURCES[resource]
        swept: list[Event] = []
        with self._lock:
            key = self._key(rt, namespace, name)
            current = self._objects.get(key)
            if current is None:
                raise not_found(rt, name)
            if precondition_uid and precondition_uid != current["metadata"]["uid"]:
                raise KubeError(409, "Conflict",
                                f'Operation cannot be fulfilled on {rt.qualified} "{name}": Precondition failed: '
                                f"UID in precondition: {precondition_uid}, UID in object meta: "
                                f"{current['metadata']['uid']}", {"name": name, "group": rt.group, "kind": rt.plural})
            if precondition_rv and precondition_rv != current["metadata"]["resourceVersion"]:
                raise KubeError(409, "Conflict",
                                f'Operation cannot be fulfilled on {rt.qualified} "{name}": Precondition failed: '
                                f"ResourceVersion in precondition: {precondition_rv}, ResourceVersion in object "
                                f"meta: {current['metadata']['resourceVersion']}",
                                {"name": name, "group": rt.group, "kind": rt.plural})
            if rt.plural == "namespaces" and any(k[0] not in ("namespaces", "events") and k[1] == name
                                                 for k in self._objects):
                raise KubeError(409, "Conflict", f'namespace "{name}" still holds objects; delete them first')
            if dry_run:
                return copy.deepcopy(current)
            self._encoded.pop(key, None)
            if current["metadata"].get("finalizers"):
                # Finalizers hold the object: deletion sets deletionTimestamp (a MODIFIED event), and the
                # object goes when the last finalizer is removed (k8s.io/apiserver
                # pkg/registry/generic/registry/store.go, updateForGracefulDeletionAndFinalizers).
                if current["metadata"].get("deletionTimestamp"):
                    return copy.deepcopy(current)
                gone = copy.deepcopy(current)
                gone["metadata"]["deletionTimestamp"] = now_rfc3339()
                gone["metadata"]["deletionGracePeriodSeconds"] = 0
                gone["metadata"]["resourceVersion"] = str(self._next_rv())
                self._objects[key] = gone
                ev = self._record("MODIFIED", rt, namespace or "", gone, current)
            else:
                if rt.plural == "namespaces":  # its Events go with it (the namespace controller's cleanup)
                    for k in [k for k in self._objects if k[0] == "events" and k[1] == name]:
                        old = self._objects.pop(k)
                        self._encoded.pop(k, None)
                        dropped = {**old, "metadata": {**old["metadata"], "resourceVersion": str(self._next_rv())}}
                        swept.append(self._record("DELETED", EVENTS, name, dropped, old))
                del self._objects[key]
                gone = copy.deepcopy(current)
                gone["metadata"]["resourceVersion"] = str(self._next_rv())
                ev = self._record("DELETED", rt, namespace or "", gone, current)
        for done in swept:
            self._notify(done)
        self._notify(ev)
        return copy.deepcopy(gone)

    # -- conveniences for tests, seeding, benchmarks -------------------------------------------
    def ensure_namespace(self, name: str, created_at: float | None = None) -> None:
        if not self.namespace_exists(name):
            try:
                self.create("namespaces", None, {"metadata": {"name": name}}, created_at=created_at)
            except KubeError as exc:
                if exc.code != 409:
                    raise

    def put(self, obj: dict) -> dict:
        """Create an InferenceService, or replace its spec/labels/annotations (no precondition)."""
        meta = obj.get("metadata", {})
        ns, name = meta.get("namespace", "default"), meta["name"]
        self.ensure_namespace(ns)
        try:
            current = self.get("inferenceservices", ns, name)
        except KubeError:
            return self.create("inferenceservices", ns, obj)
        new = copy.deepcopy(obj)
        new["metadata"] = {**meta, "resourceVersion": current["metadata"]["resourceVersion"]}
        return self.update("inferenceservices", ns, name, new)

    def bulk_create(self, n: int, namespaces: int | builtins.list[str] = 20, *, prefix: str = "bench-model",
                    storage: str = "s3://mlops-models/bench/v1") -> builtins.list[tuple[str, str]]:
        """n InferenceServices spread over the namespaces (a count makes bench-ns-00..); returns keys."""
        if isinstance(namespaces, int):
            namespaces = [f"bench-ns-{i:02d}" for i in range(namespaces)]
        for ns in namespaces:
            self.ensure_namespace(ns)
        keys = []
        for i in range(n):
            ns = namespaces[i % len(namespaces)]
            name = f"{prefix}-{i:05d}"
            self.create("inferenceservices", ns, {
                "apiVersion": ISVC_API_VERSION, "kind": "InferenceService",
                "metadata": {"name": name, "namespace": ns},
                "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": storage}}},
            })
            keys.append((ns, name))
        return keys

    # -- watches -----------------------------------------------------------------------------
    def expire_watches(self) -> None:
        """Force 410 Gone: open watch streams end, and resuming from any older resourceVersion expires."""
        with self._lock:
            self._expired_below = self._rv
            self._watch_epoch += 1
            self._cond.notify_all()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._cond.notify_all()

    def wait_for_rv(self, rv: int, timeout: float) -> bool:
        """Wait (up to timeout) until the store has reached resourceVersion rv, as the watch cache
        does for a list "not older than" a version it has not seen yet."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._rv < rv:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def oldest_resumable(self) -> int:
        """The smallest resourceVersion a watch may resume from."""
        with self._lock:
            floor = self._expired_below
            if self._events and len(self._events) == self._events.maxlen:
                floor = max(floor, self._events[0].rv - 1)
            return floor

    def watch(self, resource: str, namespace: str | None, since: int | None, *, timeout: float,
              bookmark_interval: float | None = None,
              stop: Callable[[], bool] | None = None) -> Iterator[tuple[str, Any]]:
        """Yield ("ADDED"|"MODIFIED"|"DELETED", obj), ("BOOKMARK", rv) or ("ERROR", Status dict).

        since=None: start with synthetic ADDED events for the current objects (resourceVersion "" or "0").
        """
        rt = RESOURCES[resource]
        deadline = time.monotonic() + timeout
        with self._lock:
            epoch = self._watch_epoch
            if since is None:
                items, last = self.snapshot(resource, namespace)
                initial = items
            else:
                initial = []
                last = since
                if since < self.oldest_resumable():
                    initial = None
        if initial is None:
            yield "ERROR", KubeError(410, "Expired",
                                     f"too old resource version: {since} ({self.oldest_resumable()})").status()
            return
        for obj in initial:
            yield "ADDED", obj
        def bookmark_after(now: float) -> float | None:
            # k8s.io/apiserver pkg/storage/cacher/cache_watcher.go, nextBookmarkTime: every
            # bookmark_interval, and once 2 s before the watch's deadline
            if not bookmark_interval:
                return None
            at = min(now + bookmark_interval, deadline - 2.0)
            return at if at > now else None

        next_bookmark = bookmark_after(time.monotonic())
        while True:
            batch: list[Event] = []
            expired = False
            with self._lock:
                while True:
                    if self._closed or self._watch_epoch != epoch or (stop is not None and stop()):
                        return
                    if self._events and self._events[-1].rv > last:
                        if last < self.oldest_resumable():
                            expired = True
                            break
                        for ev in reversed(self._events):
                            if ev.rv <= last:
                                break
                            batch.append(ev)
                        batch.reverse()
                        break
                    now = time.monotonic()
                    if now >= deadline:
                        return
                    if next_bookmark is not None and now >= next_bookmark:
                        break
                    wait = deadline - now
                    if next_bookmark is not None:
                        wait = min(wait, next_bookmark - now)
                    self._cond.wait(min(wait, 0.5))
                current_rv = self._rv
            if expired:
                yield "ERROR", KubeError(410, "Expired",
                                         f"too old resource version: {last} ({self.oldest_resumable()})").status()
                return
            for ev in batch:
                last = ev.rv
                if ev.resource != rt.plural or (namespace is not None and ev.namespace != namespace):
                    continue
                yield ev.type, ev.obj
            if next_bookmark is not None and time.monotonic() >= next_bookmark:
                last = max(last, current_rv) if not batch else last
                yield "BOOKMARK", last
                next_bookmark = bookmark_after(time.monotonic())


def make_event(involved: dict, type_: str, reason: str, message: str, component: str,
               ts: float | None = None, host: str = "") -> dict:
    """A core/v1 Event as client-go's record.EventRecorder makes it (tools/record/event.go, makeEvent):
    named <object>.<hex nanoseconds>, in the object's namespace."""
    ts = time.time() if ts is None else ts
    when = now_rfc3339(ts)
    event = {"apiVersion": "v1", "kind": "Event",
             "metadata": {"name": f"{involved['name']}.{int(ts * 1e9):x}", "namespace": involved.get("namespace")},
             "involvedObject": {k: v for k, v in involved.items() if v is not None},
             "reason": reason, "message": message, "type": type_, "count": 1,
             "firstTimestamp": when, "lastTimestamp": when, "eventTime": None,
             "source": {"component": component, **({"host": host} if host else {})},
             "reportingComponent": component, "reportingInstance": host}
    return event


def random_token() -> str:
    return "".join(random.SystemRandom().choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(32))


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()
