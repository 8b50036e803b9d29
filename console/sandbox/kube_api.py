"""The sandbox Kubernetes API server: the real REST wire protocol over HTTPS, on 127.0.0.1.

Speaks enough of the API for kubectl (v1.32) and the official `kubernetes` Python client to work
unmodified on the resources the console uses: discovery (legacy; kubectl falls back from
aggregated discovery), OpenAPI v3 for kubectl's field-validation and patch-type probes, server-side
Table printing with the KServe CRD's printer columns, namespaces, InferenceServices (list, get,
create, update, delete with finalizers, merge and JSON patch, server-side apply, /status, dry-run,
fieldValidation, KServe's deploymentMode webhook, watch with bookmarks and 410 Expired), core/v1
Events (field selectors on involvedObject.* and the rest of EventToSelectableFields; events.k8s.io/v1
as a view of them), list resourceVersion/resourceVersionMatch, protobuf bodies for Namespaces and the
access reviews,
coordination.k8s.io/v1 Leases (create, get, list, update with a resourceVersion, delete with
preconditions, printed with their holder), bearer-token authentication with admin/viewer roles and
real 403s, SelfSubjectAccessReview,
SelfSubjectRulesReview and SelfSubjectReview.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import select
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from console.sandbox import kube_patch, kube_pods, kube_validate
from console.sandbox.faults import stall_or_drop
from console.sandbox.kube_store import (
    DEPLOYMENTS,
    EVENTS,
    ISVCS,
    LEASES,
    NAMESPACES,
    PODS,
    ClusterState,
    KubeError,
    ResourceType,
    dumps,
    now_rfc3339,
)
from console.sandbox.server_base import SandboxHTTPServer

SERVER_VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-mlops-sandbox",
                  "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
                  "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.4", "compiler": "gc",
                  "platform": "linux/amd64", "emulationMajor": "1", "emulationMinor": "32",
                  "minCompatibilityMajor": "1", "minCompatibilityMinor": "31"}
READ_VERBS = {"get", "list", "watch"}
REVIEW_RESOURCES = {"selfsubjectaccessreviews", "selfsubjectreviews", "selfsubjectrulesreviews"}


@dataclass(frozen=True)
class User:
    name: str
    role: str  # admin | viewer
    groups: tuple[str, ...] = ()
    uid: str = ""

    def allowed(self, verb: str, group: str, resource: str) -> bool:
        if self.role == "admin":
            return True
        if resource in REVIEW_RESOURCES and verb == "create":
            return True
        return verb in READ_VERBS

    def reason(self, allowed: bool) -> str:
        if not allowed:
            return ""
        if self.role == "admin":
            return f'RBAC: allowed by ClusterRoleBinding "sandbox-admin" of ClusterRole "cluster-admin" to User "{self.name}"'
        return f'RBAC: allowed by ClusterRoleBinding "sandbox-viewer" of ClusterRole "view" to User "{self.name}"'


def default_users(admin_token: str, viewer_token: str) -> dict[str, User]:
    return {
        admin_token: User("admin", "admin", ("system:masters", "system:authenticated"), "sandbox-admin-uid"),
        viewer_token: User("viewer", "viewer", ("sandbox:viewers", "system:authenticated"), "sandbox-viewer-uid"),
    }


# -- discovery ---------------------------------------------------------------------------------

def _hash(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()[:8]).decode()


def _api_resource(rt: ResourceType) -> list[dict]:
    verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
    out = [{"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced, "kind": rt.kind,
            "verbs": verbs, "shortNames": list(rt.short_names), "storageVersionHash": _hash(rt.plural)}]
    if rt.status_subresource or rt.plural == "namespaces":
        out.append({"name": f"{rt.plural}/status", "singularName": "", "namespaced": rt.namespaced,
                    "kind": rt.kind, "verbs": ["get", "patch", "update"]})
    return out


# events.k8s.io/v1: the same stored Events, shown with that version's field names
# (kubernetes pkg/apis/events/v1/conversion.go); kubectl itself reads core/v1.
EVENTS_V1 = ResourceType("events", "event", "Event", "events.k8s.io", "v1", True, ("ev",))
_EVENT_V1_NAMES = {"involvedObject": "regarding", "message": "note", "source": "deprecatedSource",
                   "firstTimestamp": "deprecatedFirstTimestamp", "lastTimestamp": "deprecatedLastTimestamp",
                   "count": "deprecatedCount", "reportingComponent": "reportingController"}


EVENT_V1_FIELD_LABELS = {**{f"regarding.{k}": f"involvedObject.{k}" for k in
                            ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")},
                         "reportingController": "reportingComponent", "reason": "reason", "source": "source",
                         "type": "type", "metadata.namespace": "metadata.namespace", "metadata.name": "metadata.name"}


def event_to_v1(obj: dict) -> dict:
    out = {_EVENT_V1_NAMES.get(k, k): v for k, v in obj.items() if v not in (None, "", 0) or k == "metadata"}
    out["apiVersion"] = "events.k8s.io/v1"
    out.setdefault("eventTime", None)  # a MicroTime without omitempty: null for a core/v1-made Event
    return out


def event_from_v1(obj: dict) -> dict:
    back = {v: k for k, v in _EVENT_V1_NAMES.items()}
    out = {back.get(k, k): v for k, v in obj.items()}
    out["apiVersion"] = "v1"
    return out


GROUPS = {
    "serving.kserve.io": ("v1beta1", lambda: _api_resource(ISVCS)),
    "events.k8s.io": ("v1", lambda: _api_resource(EVENTS_V1)),
    LEASES.group: (LEASES.version, lambda: _api_resource(LEASES)),
    DEPLOYMENTS.group: (DEPLOYMENTS.version, lambda: [{**r, "categories": ["all"]} if r["name"] == "deployments" else r
                                                      for r in _api_resource(DEPLOYMENTS)]),
    "authorization.k8s.io": ("v1", lambda: [
        {"name": "selfsubjectaccessreviews", "singularName": "selfsubjectaccessreview", "namespaced": False,
         "kind": "SelfSubjectAccessReview", "verbs": ["create"]},
        {"name": "selfsubjectrulesreviews", "singularName": "selfsubjectrulesreview", "namespaced": False,
         "kind": "SelfSubjectRulesReview", "verbs": ["create"]}]),
    "authentication.k8s.io": ("v1", lambda: [
        {"name": "selfsubjectreviews", "singularName": "selfsubjectreview", "namespaced": False,
         "kind": "SelfSubjectReview", "verbs": ["create"]}]),
}


def _group(name: str) -> dict:
    version = GROUPS[name][0]
    gv = {"groupVersion": f"{name}/{version}", "version": version}
    return {"name": name, "versions": [gv], "preferredVersion": gv}


# -- OpenAPI v3 (what kubectl probes: PATCH parameters and request content types) ---------------

def _openapi_doc(rt: ResourceType) -> dict:
    gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
    ref = f"#/components/schemas/{_schema_name(rt)}"
    params = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
              for n in ("dryRun", "fieldManager", "fieldValidation", "pretty")]
    obj_content = {"application/json": {"schema": {"$ref": ref}}}
    patch_content = {t: {"schema": {"type": "object"}} for t in
                     ("application/json-patch+json", "application/merge-patch+json")}
    patch_content["application/apply-patch+yaml"] = {"schema": {"type": "object"}}
    if not rt.group:  # built-in kinds also take strategic merge patches
        patch_content["application/strategic-merge-patch+json"] = {"schema": {"type": "object"}}
    base = f"/api/{rt.version}" if not rt.group else f"/apis/{rt.group}/{rt.version}"
    item = f"{base}/namespaces/{{namespace}}/{rt.plural}/{{name}}" if rt.namespaced else f"{base}/{rt.plural}/{{name}}"
    coll = f"{base}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{base}/{rt.plural}"

    def op(action: str, op_id: str, body: dict | None = None) -> dict:
        o = {"operationId": op_id, "parameters": params if action in ("patch", "put", "post") else [],
             "responses": {"200": {"description": "OK", "content": obj_content}},
             "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk}
        if body is not None:
            o["requestBody"] = {"content": body, "required": True}
        return o

    kind_id = f"{rt.group.replace('.', '_')}{rt.version}{rt.kind}"
    paths = {
        coll: {"get": op("list", f"list{kind_id}"), "post": op("post", f"create{kind_id}", obj_content)},
        item: {"get": op("get", f"read{kind_id}"), "put": op("put", f"replace{kind_id}", obj_content),
               "patch": op("patch", f"patch{kind_id}", patch_content), "delete": op("delete", f"delete{kind_id}")},
    }
    schema = {"type": "object", "x-kubernetes-group-version-kind": [gvk],
              "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                             "metadata": {"type": "object"},
                             "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                             "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
            "paths": paths, "components": {"schemas": {_schema_name(rt): schema}}}


def _schema_name(rt: ResourceType) -> str:
    if not rt.group:
        return f"io.k8s.api.core.v1.{rt.kind}"
    return ".".join(reversed(rt.group.split("."))) + f".{rt.version}.{rt.kind}"


OPENAPI_GV = {"api/v1": (NAMESPACES, EVENTS), f"apis/{ISVCS.group}/{ISVCS.version}": (ISVCS,),
              f"apis/{LEASES.group}/{LEASES.version}": (LEASES,),
              f"apis/{DEPLOYMENTS.group}/{DEPLOYMENTS.version}": (DEPLOYMENTS,)}


def _openapi_gv(rts: tuple[ResourceType, ...]) -> dict:
    docs = [_openapi_doc(rt) for rt in rts]
    out = docs[0]
    for doc in docs[1:]:
        out["paths"].update(doc["paths"])
        out["components"]["schemas"].update(doc["components"]["schemas"])
    return out


# -- server-side printing (Table) --------------------------------------------------------------

def _human_age(ts: str | None) -> str:
    if not ts:
        return "<unknown>"
    try:
        t = time.mktime(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    except ValueError:
        return "<invalid>"
    secs = max(0, int(time.time() - t))
    if secs < 120:
        return f"{secs}s"
    mins = secs // 60
    if mins < 10:
        return f"{mins}m{secs % 60}s" if secs % 60 else f"{mins}m"
    if mins < 180:
        return f"{mins}m"
    hours = mins // 60
    if hours < 8:
        return f"{hours}h{mins % 60}m" if mins % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    return f"{days}d"


def _traffic(obj: dict, pred) -> dict | None:
    for t in (((obj.get("status") or {}).get("components") or {}).get("predictor") or {}).get("traffic") or []:
        if pred(t):
            return t
    return None


def _isvc_cells(obj: dict) -> list:
    status = obj.get("status") or {}
    ready = next((c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    prev = _traffic(obj, lambda t: t.get("tag") == "prev")
    latest = _traffic(obj, lambda t: t.get("latestRevision") is True)
    return [obj["metadata"]["name"], status.get("url"), ready,
            prev.get("percent") if prev else None, latest.get("percent") if latest else None,
            prev.get("revisionName") if prev else None, latest.get("revisionName") if latest else None,
            _human_age(obj["metadata"].get("creationTimestamp"))]


NAME_COL = {"name": "Name", "type": "string", "format": "name", "priority": 0,
            "description": "Name must be unique within a namespace."}
AGE_COL = {"name": "Age", "type": "date", "format": "", "priority": 0,
           "description": "CreationTimestamp is a timestamp representing the server time when this object was created."}


def _col(name: str, type_: str = "string") -> dict:
    return {"name": name, "type": type_, "format": "", "description": "", "priority": 0}


TABLE_COLUMNS = {
    "inferenceservices": [NAME_COL, _col("URL"), _col("Ready"), _col("Prev", "integer"), _col("Latest", "integer"),
                          _col("PrevRolledoutRevision"), _col("LatestReadyRevision"), AGE_COL],
    "namespaces": [NAME_COL, {"name": "Status", "type": "string", "format": "", "priority": 0,
                              "description": "The status of the namespace"}, AGE_COL],
    "events": [_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"), {**_col("Subobject"), "priority": 1},
               {**_col("Source"), "priority": 1}, _col("Message"), {**_col("First Seen"), "priority": 1},
               {**_col("Count", "integer"), "priority": 1}, {**NAME_COL, "name": "Name", "priority": 1}],
}


# leaseColumnDefinitions / printLease of kubernetes pkg/printers/internalversion/printers.go
TABLE_COLUMNS["leases"] = [NAME_COL, _col("Holder"), AGE_COL]


def _lease_cells(obj: dict) -> list:
    return [obj["metadata"]["name"], (obj.get("spec") or {}).get("holderIdentity") or "",
            _human_age(obj["metadata"].get("creationTimestamp"))]


def _event_cells(obj: dict) -> list:
    """printEvent of kubernetes pkg/printers/internalversion/printers.go."""
    inv = obj.get("involvedObject") or {}
    src = obj.get("source") or {}
    component = src.get("component") or obj.get("reportingComponent") or ""
    host = src.get("host") or obj.get("reportingInstance") or ""
    last = obj.get("lastTimestamp") or obj.get("eventTime") or obj["metadata"].get("creationTimestamp")
    first = obj.get("firstTimestamp") or obj.get("eventTime") or obj["metadata"].get("creationTimestamp")
    return [_human_age(last), obj.get("type", ""), obj.get("reason", ""),
            f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}", inv.get("fieldPath", ""),
            f"{component}, {host}" if host else component, obj.get("message", ""), _human_age(first),
            int(obj.get("count") or 1), obj["metadata"]["name"]]


TABLE_COLUMNS["pods"] = kube_pods.pod_columns(NAME_COL, AGE_COL)
# deploymentColumnDefinitions / printDeployment of kubernetes pkg/printers/internalversion/printers.go
TABLE_COLUMNS["deployments"] = [NAME_COL, _col("Ready"), _col("Up-to-date", "integer"), _col("Available", "integer"),
                                AGE_COL, {**_col("Containers"), "priority": 1}, {**_col("Images"), "priority": 1},
                                {**_col("Selector"), "priority": 1}]


def _deployment_cells(obj: dict) -> list:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    selector = ",".join(f"{k}={v}" for k, v in ((spec.get("selector") or {}).get("matchLabels") or {}).items())
    return [obj["metadata"]["name"], f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
            int(status.get("updatedReplicas") or 0), int(status.get("availableReplicas") or 0),
            _human_age(obj["metadata"].get("creationTimestamp")), ",".join(c.get("name", "") for c in containers),
            ",".join(c.get("image", "") for c in containers), selector]


def _cells(rt: ResourceType, obj: dict) -> list:
    if rt.plural == "inferenceservices":
        return _isvc_cells(obj)
    if rt.plural == "pods":
        return kube_pods.pod_cells(obj, _human_age)
    if rt.plural == "events":
        return _event_cells(obj)
    if rt.plural == "leases":
        return _lease_cells(obj)
    if rt.plural == "deployments":
        return _deployment_cells(obj)
    return [obj["metadata"]["name"], (obj.get("status") or {}).get("phase", "Active"),
            _human_age(obj["metadata"].get("creationTimestamp"))]


def to_table(rt: ResourceType, items: list[dict], rv: str | None, include: str = "Metadata",
             columns: bool = True) -> dict:
    rows = []
    for obj in items:
        row: dict = {"cells": _cells(rt, obj)}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": obj["metadata"]}
        rows.append(row)
    table = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {}, "rows": rows,
             "columnDefinitions": TABLE_COLUMNS[rt.plural] if columns else []}
    if rv is not None:
        table["metadata"]["resourceVersion"] = rv
    return table


# -- selectors ---------------------------------------------------------------------------------

_SET_TERM = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_selector(text: str) -> list[str]:
    terms, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        terms.append(cur)
    return terms


def label_matcher(selector: str):
    checks = []
    for term in _split_selector(selector or ""):
        term = term.strip()
        if not term:
            continue
        m = _SET_TERM.match(term)
        if m:
            key, op, vals = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            checks.append(lambda lb, k=key, o=op, v=vals: (lb.get(k) in v) if o == "in" else (lb.get(k) not in v))
        elif "!=" in term:
            k, v = (part.strip() for part in term.split("!=", 1))
            checks.append(lambda lb, k=k, v=v: lb.get(k) != v)
        elif "=" in term:
            k, v = (part.strip() for part in term.replace("==", "=").split("=", 1))
            checks.append(lambda lb, k=k, v=v: lb.get(k) == v)
        elif term.startswith("!"):
            absent = term[1:].strip()
            checks.append(lambda lb, k=absent: k not in lb)
        else:
            checks.append(lambda lb, k=term: k in lb)
    return lambda obj: all(c((obj.get("metadata") or {}).get("labels") or {}) for c in checks)


def _event_fields(obj: dict) -> dict[str, str]:
    """EventToSelectableFields of kubernetes pkg/registry/core/event/strategy.go."""
    inv = obj.get("involvedObject") or {}
    fields = {f"involvedObject.{k}": str(inv.get(k) or "") for k in
              ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")}
    fields.update({"reason": str(obj.get("reason") or ""), "type": str(obj.get("type") or ""),
                   "reportingComponent": str(obj.get("reportingComponent") or ""),
                   "source": str((obj.get("source") or {}).get("component") or obj.get("reportingComponent") or "")})
    return fields


def field_matcher(selector: str, rt: ResourceType = ISVCS):
    checks = []
    for term in (selector or "").split(","):
        term = term.strip()
        if not term:
            continue
        neg = "!=" in term
        k, v = term.replace("!=", "=").replace("==", "=").split("=", 1)
        k = k.strip()
        if rt.plural == "events" and rt.group:  # events.k8s.io/v1: AddFieldLabelConversionsForEvent
            if k not in EVENT_V1_FIELD_LABELS:
                raise KubeError(400, "BadRequest", f"field label not supported: {k}")
            k = EVENT_V1_FIELD_LABELS[k]
        elif rt.plural == "events":
            if k not in ("metadata.name", "metadata.namespace") and k not in _event_fields({}):
                raise KubeError(400, "BadRequest", f'field label not supported: {k}')
        elif k not in ("metadata.name", "metadata.namespace"):
            raise KubeError(400, "BadRequest", f'"{k}" is not a known field selector: only "metadata.name", '
                                               f'"metadata.namespace"')
        checks.append((k, v.strip(), neg))

    def value(obj: dict, key: str) -> str:
        if key.startswith("metadata."):
            return str(obj["metadata"].get(key.split(".", 1)[1]) or "")
        return _event_fields(obj)[key]

    return lambda obj: all(((value(obj, k) == v) != neg) for k, v, neg in checks)


# -- protobuf (only what kubectl sends us: a SelfSubjectAccessReview) ---------------------------

def _pb_fields(data: bytes) -> dict[int, list]:
    """Decode one protobuf message level: field number -> list of values (bytes or int)."""
    out: dict[int, list] = {}
    i = 0

    def varint() -> int:
        nonlocal i
        shift = result = 0
        while True:
            b = data[i]
            i += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    while i < len(data):
        key = varint()
        num, wire = key >> 3, key & 7
        if wire == 0:
            val: Any = varint()
        elif wire == 2:
            n = varint()
            val = data[i:i + n]
            i += n
        elif wire == 1:
            val, i = data[i:i + 8], i + 8
        elif wire == 5:
            val, i = data[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.setdefault(num, []).append(val)
    return out


def _pb_str(fields: dict, num: int) -> str:
    vals = fields.get(num)
    return vals[-1].decode() if vals else ""


def _pb_map(fields: dict, num: int) -> dict[str, str]:
    out = {}
    for entry in fields.get(num, []):
        kv = _pb_fields(entry)
        out[_pb_str(kv, 1)] = _pb_str(kv, 2)
    return out


def _pb_object_meta(raw: bytes) -> dict:
    """ObjectMeta (k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto): what a create may set."""
    f = _pb_fields(raw)
    meta: dict = {k: _pb_str(f, n) for n, k in ((1, "name"), (2, "generateName"), (3, "namespace")) if _pb_str(f, n)}
    for num, key in ((11, "labels"), (12, "annotations")):
        if f.get(num):
            meta[key] = _pb_map(f, num)
    if f.get(14):
        meta["finalizers"] = [v.decode() for v in f[14]]
    return meta


def decode_protobuf(body: bytes, expected_kind: str) -> dict:
    """A built-in object in the Kubernetes protobuf envelope ("k8s\0" + runtime.Unknown), as JSON.

    client-go's typed clients (kubectl create namespace, kubectl auth can-i) send protobuf for
    built-in kinds; only the kinds the sandbox serves are decoded: Namespace and the reviews."""
    try:
        if not body.startswith(b"k8s\x00"):
            raise ValueError("missing the k8s protobuf envelope")
        unknown = _pb_fields(body[4:])
        type_meta = _pb_fields(unknown.get(1, [b""])[-1])
        kind = _pb_str(type_meta, 2) or expected_kind
        if kind != expected_kind:
            raise ValueError(f"expected a {expected_kind}, got a {kind}")
        if kind == "SelfSubjectAccessReview":
            return decode_ssar_protobuf(body)
        obj = _pb_fields(unknown.get(2, [b""])[-1])
        out: dict = {"kind": kind, "apiVersion": _pb_str(type_meta, 1) or "v1",
                     "metadata": _pb_object_meta(obj.get(1, [b""])[-1])}
        spec = _pb_fields(obj.get(2, [b""])[-1])
        if kind == "SelfSubjectRulesReview":
            out["spec"] = {"namespace": _pb_str(spec, 1)}
        return out
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
        raise KubeError(400, "BadRequest", f"the body of the request could not be decoded: {exc}") from None


def decode_ssar_protobuf(body: bytes) -> dict:
    """A SelfSubjectAccessReview in the Kubernetes protobuf envelope, as a JSON-shaped dict."""
    try:
        if not body.startswith(b"k8s\x00"):
            raise ValueError("missing the k8s protobuf envelope")
        unknown = _pb_fields(body[4:])
        raw = unknown.get(2, [b""])[-1]
        review = _pb_fields(raw)
        spec = _pb_fields(review.get(2, [b""])[-1])
        out: dict = {}
        if 1 in spec:
            ra = _pb_fields(spec[1][-1])
            out["resourceAttributes"] = {k: _pb_str(ra, n) for n, k in enumerate(
                ("namespace", "verb", "group", "version", "resource", "subresource", "name"), start=1)
                if _pb_str(ra, n)}
        if 2 in spec:
            nra = _pb_fields(spec[2][-1])
            out["nonResourceAttributes"] = {"path": _pb_str(nra, 1), "verb": _pb_str(nra, 2)}
        return {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1", "spec": out}
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
        raise KubeError(400, "BadRequest", f"the body of the request could not be decoded: {exc}") from None


# -- the server --------------------------------------------------------------------------------

@dataclass
class ApiRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: Any
    body: bytes
    user: User | None = None
    warnings: list[str] = field(default_factory=list)
    view: Any = None  # stored (core/v1) object -> what this API version shows (events.k8s.io/v1)
    unview: Any = None  # and back, for bodies sent to it

    def q(self, name: str, default: str = "") -> str:
        return self.query.get(name, default)

    def flag(self, name: str) -> bool:
        return self.q(name).lower() in ("1", "true")


class _TLSServer(SandboxHTTPServer):
    request_queue_size = 128

    def __init__(self, addr, handler, ssl_context: ssl.SSLContext | None, api: KubeApiServer):
        self.ssl_context = ssl_context
        self.api = api
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        if self.ssl_context is not None:
            request.settimeout(10)
            try:
                request = self.ssl_context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                try:
                    request.close()
                except OSError:
                    pass
                return
            request.settimeout(None)
        self.RequestHandlerClass(request, client_address, self)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mlops-sandbox-apiserver"
    timeout = 300

    def log_message(self, format, *args):  # noqa: A002 - keep stderr clean
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def do_DELETE(self):
        self._dispatch("DELETE")

    # -- responses -----------------------------------------------------------------------------
    def _send(self, code: int, body: bytes, ctype: str = "application/json", headers: dict | None = None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_obj(self, code: int, obj: Any, req: ApiRequest | None = None):
        if req is not None and req.view is not None and isinstance(obj, dict) and obj.get("kind") == "Event":
            obj = req.view(obj)
        headers = {}
        if req is not None and req.warnings:
            headers["Warning"] = ", ".join(f'299 - "{w}"' for w in req.warnings)
        self._send(code, dumps(obj), headers=headers)

    def _send_error(self, err: KubeError):
        self._send(err.code, dumps(err.status()))

    # -- entry ---------------------------------------------------------------------------------
    def _dispatch(self, method: str):
        api: KubeApiServer = self.server.api
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        api.requests_served += 1
        fault = api.cluster.faults.take(method, self.path)
        if fault is not None:
            if stall_or_drop(self, fault):
                return
            if fault.answers:
                code = fault.status or 200
                if fault.body is not None:
                    self._send(code, fault.body, fault.content_type, headers=fault.headers)
                else:
                    reason = {429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
                              504: "Timeout", 403: "Forbidden", 409: "Conflict", 410: "Expired"}.get(code, "Unknown")
                    headers = dict(fault.headers)
                    if code == 429:
                        headers.setdefault("Retry-After", "1")
                    err = KubeError(code, reason, f"injected fault: {code} {reason}")
                    self._send(code, dumps(err.status()), headers=headers)
                return
        req = ApiRequest(method, path, query, self.headers, body)
        try:
            if path in ("/version", "/healthz", "/livez", "/readyz") and method == "GET":
                if path == "/version":
                    self._send_obj(200, SERVER_VERSION)
                else:
                    self._send(200, b"ok", "text/plain; charset=utf-8")
                return
            auth = self.headers.get("Authorization", "")
            token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
            req.user = api.users.get(token) if token else None
            if req.user is None:
                raise KubeError(401, "Unauthorized", "Unauthorized")
            self._route(api, req)
        except KubeError as err:
            self._send_error(err)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        except Exception as exc:  # a bug in the sandbox: answer like the API server would
            self._send_error(KubeError(500, "InternalError", f"Internal error occurred: {exc!r}"))

    # -- routing -------------------------------------------------------------------------------
    def _route(self, api: KubeApiServer, req: ApiRequest):
        parts = [p for p in req.path.split("/") if p]
        m = req.method
        if parts[:1] == ["openapi"]:
            return self._openapi(parts[1:])
        if parts == ["api"] and m == "GET":
            host, port = self.server.server_address[:2]
            return self._send_obj(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{host}:{port}"}]})
        if parts == ["api", "v1"] and m == "GET":
            return self._send_obj(200, {"kind": "APIResourceList", "groupVersion": "v1",
                                        "resources": _api_resource(NAMESPACES) + _api_resource(EVENTS)
                                        + kube_pods.POD_RESOURCES})
        if parts == ["apis"] and m == "GET":
            return self._send_obj(200, {"kind": "APIGroupList", "apiVersion": "v1",
                                        "groups": [_group(g) for g in GROUPS]})
        if len(parts) == 2 and parts[0] == "apis" and parts[1] in GROUPS and m == "GET":
            return self._send_obj(200, {"kind": "APIGroup", "apiVersion": "v1", **_group(parts[1])})
        if len(parts) == 3 and parts[0] == "apis" and parts[1] in GROUPS and parts[2] == GROUPS[parts[1]][0] \
                and m == "GET":
            return self._send_obj(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                        "groupVersion": f"{parts[1]}/{parts[2]}", "resources": GROUPS[parts[1]][1]()})
        if parts == ["apis", "authorization.k8s.io", "v1", "selfsubjectaccessreviews"] and m == "POST":
            return self._ssar(req)
        if parts == ["apis", "authorization.k8s.io", "v1", "selfsubjectrulesreviews"] and m == "POST":
            return self._ssrr(req)
        if parts == ["apis", "authentication.k8s.io", "v1", "selfsubjectreviews"] and m == "POST":
            return self._ssr(req)
        if parts == ["apis", "authorization.k8s.io", "v1", "subjectaccessreviews"] and m == "POST":
            return self._review(api, req, "authorization.k8s.io", "subjectaccessreviews")
        if parts == ["apis", "authentication.k8s.io", "v1", "tokenreviews"] and m == "POST":
            return self._review(api, req, "authentication.k8s.io", "tokenreviews")
        # resources
        if parts[:2] == ["api", "v1"]:
            rest = parts[2:]
            if rest == ["events"]:
                return self._resource(api, req, EVENTS, None, None, None)
            if len(rest) in (3, 4) and rest[0] == "namespaces" and rest[2] == "events":
                return self._resource(api, req, EVENTS, rest[1], rest[3] if len(rest) == 4 else None, None)
            if rest == ["pods"] or (3 <= len(rest) <= 5 and rest[0] == "namespaces" and rest[2] == "pods"):
                return self._pods(api, req, rest)
            if not rest or rest[0] != "namespaces" or len(rest) > 3:
                raise self._no_route(req)
            name = rest[1] if len(rest) >= 2 else None
            sub = rest[2] if len(rest) == 3 else None
            return self._resource(api, req, NAMESPACES, None, name, sub)
        if parts[:3] == ["apis", EVENTS_V1.group, EVENTS_V1.version]:
            rest = parts[3:]
            ns = None
            if len(rest) >= 2 and rest[0] == "namespaces":
                ns, rest = rest[1], rest[2:]
            if not rest or rest[0] != "events" or len(rest) > 2 or (ns is None and len(rest) == 2):
                raise self._no_route(req)
            req.view, req.unview = event_to_v1, event_from_v1
            return self._resource(api, req, EVENTS_V1, ns, rest[1] if len(rest) == 2 else None, None)
        if parts[:3] == ["apis", LEASES.group, LEASES.version]:
            return self._lease_route(api, req, parts[3:])
        if parts[:3] == ["apis", DEPLOYMENTS.group, DEPLOYMENTS.version]:
            return self._deployment_route(api, req, parts[3:])
        if parts[:3] == ["apis", ISVCS.group, ISVCS.version]:
            rest = parts[3:]
            ns = None
            if len(rest) >= 2 and rest[0] == "namespaces":
                ns, rest = rest[1], rest[2:]
            if not rest or rest[0] != ISVCS.plural or len(rest) > 3:
                raise self._no_route(req)
            name = rest[1] if len(rest) >= 2 else None
            sub = rest[2] if len(rest) == 3 else None
            if ns is None and name is not None:
                raise self._no_route(req)
            return self._resource(api, req, ISVCS, ns, name, sub)
        raise self._no_route(req)

    def _pods(self, api: KubeApiServer, req: ApiRequest, rest: list[str]):
        """core/v1 pods: list, get, watch (the generic resource path) and pods/log."""
        ns = rest[1] if len(rest) > 1 else None
        name = rest[3] if len(rest) > 3 else None
        sub = rest[4] if len(rest) > 4 else None
        if sub == "log" and req.method == "GET":
            self._authorize(req, PODS, "get", ns, name, "log")
            return kube_pods.serve_log(self, api, ns, name, req.q)
        return self._resource(api, req, PODS, ns, name, sub)

    def _deployment_route(self, api: KubeApiServer, req: ApiRequest, rest: list[str]):
        """/apis/apps/v1[/namespaces/NS]/deployments[/NAME[/status]]."""
        ns = None
        if len(rest) >= 2 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        if not rest or rest[0] != DEPLOYMENTS.plural or len(rest) > 3 or (ns is None and len(rest) >= 2):
            raise self._no_route(req)
        return self._resource(api, req, DEPLOYMENTS, ns, rest[1] if len(rest) >= 2 else None,
                              rest[2] if len(rest) == 3 else None)

    def _lease_route(self, api: KubeApiServer, req: ApiRequest, rest: list[str]):
        """/apis/coordination.k8s.io/v1[/namespaces/NS]/leases[/NAME]: no subresources."""
        ns = None
        if len(rest) >= 2 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        if not rest or rest[0] != LEASES.plural or len(rest) > 2 or (ns is None and len(rest) == 2):
            raise self._no_route(req)
        return self._resource(api, req, LEASES, ns, rest[1] if len(rest) == 2 else None, None)

    @staticmethod
    def _no_route(req: ApiRequest) -> KubeError:
        return KubeError(404, "NotFound", "the server could not find the requested resource",
                         {"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]})

    def _openapi(self, rest: list[str]):
        if rest == ["v3"]:
            paths = {gv: {"serverRelativeURL": f"/openapi/v3/{gv}?hash={_hash(gv).replace('=', '')}"}
                     for gv in OPENAPI_GV}
            return self._send_obj(200, {"paths": paths})
        if rest[:1] == ["v3"]:
            gv = "/".join(rest[1:])
            if gv in OPENAPI_GV:
                return self._send_obj(200, _openapi_gv(OPENAPI_GV[gv]))
        raise KubeError(404, "NotFound", "the server could not find the requested resource")

    # -- reviews -------------------------------------------------------------------------------
    def _json_body(self, req: ApiRequest, rt: ResourceType | None = None) -> Any:
        ctype = (req.headers.get("Content-Type") or "application/json").split(";")[0].strip()
        if ctype == "application/vnd.kubernetes.protobuf" and rt is not None and rt.plural == "namespaces":
            return decode_protobuf(req.body, rt.kind)
        if "protobuf" in ctype:  # what a real server says for a kind without protobuf (CRDs, here Events too)
            raise KubeError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                                                         "accepted media types include: application/json, "
                                                         "application/yaml")
        try:
            if "yaml" in ctype and ctype != "application/apply-patch+yaml":
                import yaml
                return yaml.safe_load(req.body.decode() or "null")
            return json.loads(req.body or b"null")
        except Exception as exc:
            raise KubeError(400, "BadRequest", f"the body of the request could not be decoded: {exc}") from None

    def _ssar(self, req: ApiRequest):
        if "protobuf" in (req.headers.get("Content-Type") or ""):
            body = decode_ssar_protobuf(req.body)  # kubectl auth can-i speaks protobuf to built-in types
        else:
            body = self._json_body(req)
        if not isinstance(body, dict) or not isinstance(body.get("spec"), dict):
            raise KubeError(400, "BadRequest", "a SelfSubjectAccessReview needs a spec")
        spec = body["spec"]
        ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
        if ra is None and nra is None:
            raise KubeError(422, "Invalid", 'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: '
                                            "[spec.resourceAttributes: Invalid value: \"null\": exactly one of "
                                            "nonResourceAttributes or resourceAttributes must be specified]")
        if ra is not None:
            allowed = req.user.allowed(ra.get("verb", ""), ra.get("group", ""), ra.get("resource", ""))
        else:
            allowed = req.user.role == "admin" or nra.get("verb") == "get"
        status = {"allowed": allowed}
        reason = req.user.reason(allowed)
        if reason:
            status["reason"] = reason
        out = {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
               "metadata": {"creationTimestamp": None}, "spec": spec, "status": status}
        return self._send_obj(201, out)

    def _ssrr(self, req: ApiRequest):
        """SelfSubjectRulesReview (kubectl auth can-i --list): the rules of the user's role, as RBAC
        reports them (k8s.io/kubernetes pkg/registry/authorization/selfsubjectrulesreview)."""
        if "protobuf" in (req.headers.get("Content-Type") or ""):
            body = decode_protobuf(req.body, "SelfSubjectRulesReview")
        else:
            body = self._json_body(req)
        spec = body.get("spec") if isinstance(body, dict) else None
        if not isinstance(spec, dict) or not spec.get("namespace"):
            raise KubeError(422, "Invalid", 'SelfSubjectRulesReview.authorization.k8s.io "" is invalid: '
                                            'spec.namespace: Required value: namespace must be specified')
        resource_rules = [
            {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
             "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
            {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]},
        ]
        if req.user.role == "admin":
            resource_rules.append({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})
            non_resource = [{"verbs": ["*"], "nonResourceURLs": ["*"]}]
        else:
            # what User.allowed grants (and SelfSubjectAccessReview answers): reading anything
            resource_rules.append({"verbs": sorted(READ_VERBS), "apiGroups": ["*"], "resources": ["*"]})
            non_resource = [{"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz",
                                                                   "/livez", "/openapi", "/openapi/*", "/readyz",
                                                                   "/version", "/version/"]}]
        out = {"kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1",
               "metadata": {"creationTimestamp": None}, "spec": {"namespace": spec["namespace"]},
               "status": {"resourceRules": resource_rules, "nonResourceRules": non_resource, "incomplete": False}}
        return self._send_obj(201, out)

    def _review(self, api: KubeApiServer, req: ApiRequest, group: str, resource: str):
        """SubjectAccessReview / TokenReview, as KFP's apiserver creates them to authorize its users
        (k8s.io/api/authorization/v1 and authentication/v1; creating one needs RBAC, e.g.
        system:auth-delegator). Users are looked up by name or token among the sandbox's users."""
        if not req.user.allowed("create", group, resource):
            raise KubeError(403, "Forbidden", f'{resource}.{group} is forbidden: User "{req.user.name}" cannot create '
                                              f'resource "{resource}" in API group "{group}" at the cluster scope',
                            {"group": group, "kind": resource})
        body = self._json_body(req)
        spec = body.get("spec") if isinstance(body, dict) else None
        if not isinstance(spec, dict):
            raise KubeError(400, "BadRequest", f"a {resource[:-1]} needs a spec")
        if resource == "tokenreviews":
            user = api.users.get(str(spec.get("token") or ""))
            status = {"authenticated": True, "user": {"username": user.name, "uid": user.uid,
                                                      "groups": list(user.groups)}} if user else \
                {"authenticated": False, "error": "invalid bearer token"}
            return self._send_obj(201, {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
                                        "metadata": {"creationTimestamp": None}, "spec": spec, "status": status})
        subject = next((u for u in api.users.values() if u.name == spec.get("user")), None)
        ra = spec.get("resourceAttributes") or {}
        allowed = subject is not None and subject.allowed(ra.get("verb", ""), ra.get("group", ""),
                                                          ra.get("resource", ""))
        status = {"allowed": allowed}
        if subject is not None and subject.reason(allowed):
            status["reason"] = subject.reason(allowed)
        return self._send_obj(201, {"kind": "SubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                                    "metadata": {"creationTimestamp": None}, "spec": spec, "status": status})

    def _ssr(self, req: ApiRequest):
        u = req.user
        out = {"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
               "metadata": {"creationTimestamp": now_rfc3339()},
               "status": {"userInfo": {"username": u.name, "uid": u.uid, "groups": list(u.groups)}}}
        return self._send_obj(201, out)

    # -- resources -----------------------------------------------------------------------------
    def _authorize(self, req: ApiRequest, rt: ResourceType, verb: str, ns: str | None, name: str | None,
                   sub: str | None):
        if req.user.allowed(verb, rt.group, rt.plural):
            return
        res = f"{rt.plural}/{sub}" if sub else rt.plural
        who = f'{rt.qualified} "{name}"' if name else rt.qualified
        scope = f'in the namespace "{ns}"' if ns else "at the cluster scope"
        raise KubeError(403, "Forbidden",
                        f'{who} is forbidden: User "{req.user.name}" cannot {verb} resource "{res}" in API group '
                        f'"{rt.group}" {scope}',
                        {"name": name or "", "group": rt.group, "kind": rt.plural})

    def _dry_run(self, req: ApiRequest) -> bool:
        value = req.q("dryRun")
        if value and value != "All":
            raise KubeError(400, "BadRequest", f'dryRun: Unsupported value: "{value}": supported values: "All"')
        return value == "All"

    def _field_validation(self, req: ApiRequest, rt: ResourceType, obj: Any, name: str) -> None:
        """Apply fieldValidation (Strict|Warn|Ignore; default Warn) to obj, pruning unknown fields."""
        mode = req.q("fieldValidation") or "Warn"
        if mode not in ("Strict", "Warn", "Ignore"):
            raise KubeError(400, "BadRequest", f'fieldValidation: Unsupported value: "{mode}": supported values: '
                                               f'"Ignore", "Strict", "Warn"')
        if not isinstance(obj, dict) or rt.plural != "inferenceservices":
            return
        unknown = kube_validate.find_unknown_fields(obj, prune=True)
        if unknown and mode == "Strict":
            text = ", ".join(e.text() for e in unknown)
            raise KubeError(400, "BadRequest",
                            f"{rt.kind} in version \"{rt.version}\" cannot be handled as a {rt.kind}: "
                            f"strict decoding error: {text}")
        if mode == "Warn":
            req.warnings.extend(e.text().replace('"', '\\"') for e in unknown)

    def _resource(self, api: KubeApiServer, req: ApiRequest, rt: ResourceType, ns: str | None,
                  name: str | None, sub: str | None):
        cluster = api.cluster
        m = req.method
        if sub not in (None, "status"):
            raise self._no_route(req)
        if name is None:
            if m == "GET":
                verb = "watch" if req.flag("watch") else "list"
                self._authorize(req, rt, verb, ns, None, None)
                return self._watch(api, req, rt, ns) if verb == "watch" else self._list(api, req, rt, ns)
            if m == "POST":
                self._authorize(req, rt, "create", ns, None, None)
                if rt.namespaced and ns is None:
                    raise KubeError(405, "MethodNotAllowed", "the server does not allow this method on the requested "
                                                             "resource: create needs a namespace")
                body = self._json_body(req, rt)
                if not isinstance(body, dict):
                    raise KubeError(400, "BadRequest", "the object provided is unrecognized (must be of type object)")
                self._check_kind(rt, body)
                if req.unview is not None:
                    body = req.unview(body)
                dry = self._dry_run(req)
                self._field_validation(req, rt, body, "")
                self._admit_update(rt, {}, body)  # the validating webhooks see creates too
                obj = cluster.create(rt.plural, ns, body, dry_run=dry)
                return self._send_obj(201, obj, req)
            raise KubeError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if m == "GET":
            self._authorize(req, rt, "get", ns, name, sub)
            obj = cluster.get(rt.plural, ns, name)
            if "as=Table" in (req.headers.get("Accept") or ""):
                return self._send_obj(200, to_table(rt, [obj], obj["metadata"]["resourceVersion"],
                                                    req.q("includeObject") or "Metadata"))
            return self._send_obj(200, obj, req)
        if m == "PUT":
            self._authorize(req, rt, "update", ns, name, sub)
            body = self._json_body(req)
            if not isinstance(body, dict):
                raise KubeError(400, "BadRequest", "the object provided is unrecognized (must be of type object)")
            self._check_kind(rt, body)
            if req.unview is not None:
                body = req.unview(body)
            dry = self._dry_run(req)
            self._field_validation(req, rt, body, name)
            if sub is None:
                self._admit_update(rt, cluster.get(rt.plural, ns, name), body)
            obj = cluster.update(rt.plural, ns, name, body, subresource=sub, dry_run=dry,
                                 require_rv=rt.plural not in ("namespaces", "events"))  # AllowUnconditionalUpdate
            return self._send_obj(200, obj, req)
        if m == "PATCH":
            self._authorize(req, rt, "patch", ns, name, sub)
            return self._patch(api, req, rt, ns, name, sub)
        if m == "DELETE":
            self._authorize(req, rt, "delete", ns, name, sub)
            if sub:
                raise KubeError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
            opts = self._json_body(req) if req.body else {}
            opts = opts if isinstance(opts, dict) else {}
            pre = opts.get("preconditions") or {}
            dry = self._dry_run(req) or "All" in (opts.get("dryRun") or [])
            obj = cluster.delete(rt.plural, ns, name, precondition_rv=pre.get("resourceVersion"),
                                 precondition_uid=pre.get("uid"), dry_run=dry)
            return self._send_obj(200, obj, req)
        raise KubeError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    @staticmethod
    def _check_kind(rt: ResourceType, body: dict):
        kind, av = body.get("kind"), body.get("apiVersion")
        if (kind and kind != rt.kind) or (av and av != rt.api_version):
            raise KubeError(400, "BadRequest", f"the API version in the data ({av}) does not match the expected API "
                                               f"version ({rt.api_version})" if av != rt.api_version else
                            f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})")

    @staticmethod
    def _admit_update(rt: ResourceType, current: dict, new: dict) -> None:
        """The validating admission webhooks on updates of the main resource (not /status)."""
        if rt.plural != "inferenceservices":
            return
        why = kube_validate.deployment_mode_change(current, new) or kube_validate.canary_webhook_refusal(new)
        if why:  # controller-runtime's Denied(): 403 Forbidden, prefixed by the API server
            raise KubeError(403, "Forbidden", 'admission webhook "inferenceservice.kserve-webhook-server.validator" '
                                              f"denied the request: {why}")

    def _apply(self, api: KubeApiServer, req: ApiRequest, rt: ResourceType, ns: str | None, name: str,
               sub: str | None):
        """Server-side apply (application/apply-patch+yaml), simplified: the applied configuration is
        merged into the object (created if missing); fields this manager applied before and now
        omits are removed; a field another apply manager set to a different value is a conflict
        unless force=true (k8s.io/apiserver pkg/endpoints/handlers/patch.go, applyPatcher)."""
        manager = req.q("fieldManager")
        if not manager:
            raise KubeError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                                            'is required for apply patch',
                            {"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [
                                {"reason": "FieldValueRequired", "message": "Required value: is required for apply patch",
                                 "field": "fieldManager"}]})
        try:
            import yaml
            applied = yaml.safe_load(req.body.decode() or "null")
        except Exception as exc:
            raise KubeError(400, "BadRequest", f"error decoding YAML: {exc}") from None
        if not isinstance(applied, dict):
            raise KubeError(400, "BadRequest", "the object provided is unrecognized (must be of type object)")
        self._check_kind(rt, applied)
        if not applied.get("kind") or not applied.get("apiVersion"):
            raise KubeError(400, "BadRequest", "Object 'Kind' is missing in the applied configuration" if not
                            applied.get("kind") else "Object 'apiVersion' is missing in the applied configuration")
        meta = applied.get("metadata") if isinstance(applied.get("metadata"), dict) else {}
        if meta.get("name") != name:
            raise KubeError(400, "BadRequest", f"the name of the object ({meta.get('name')}) does not match the "
                                               f"name on the URL ({name})")
        dry = self._dry_run(req)
        self._field_validation(req, rt, applied, name)
        force = req.flag("force")
        cluster = api.cluster
        try:
            current = cluster.get(rt.plural, ns, name)
        except KubeError as exc:
            if exc.code != 404 or sub:
                raise
            obj = cluster.create(rt.plural, ns, applied, dry_run=dry)
            if not dry:
                api.applied[(rt.plural, ns or "", name, obj["metadata"]["uid"])] = {manager: kube_patch.leaves(applied)}
            return self._send_obj(201, obj, req)
        key = (rt.plural, ns or "", name, current["metadata"]["uid"])
        owners = api.applied.get(key, {})
        mine = kube_patch.leaves(applied)
        conflicts = sorted((path, other) for other, fields in owners.items() if other != manager
                           for path, value in fields.items() if path in mine and mine[path] != value)
        if conflicts and not force:
            if len(conflicts) == 1:
                text = f'Apply failed with 1 conflict: conflict with "{conflicts[0][1]}": {conflicts[0][0]}'
            else:
                text = f"Apply failed with {len(conflicts)} conflicts: " + "; ".join(
                    f'conflict with "{who}": {path}' for path, who in conflicts)
            raise KubeError(409, "Conflict", text, {"causes": [
                {"reason": "FieldManagerConflict", "message": f'conflict with "{who}"', "field": path}
                for path, who in conflicts]})
        removed = [p for p in owners.get(manager, {}) if p not in mine  # unless another manager owns it too
                   and not any(p in fields for other, fields in owners.items() if other != manager)]
        result = kube_patch.apply_merge(current, applied, removed)
        result["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        if sub is None:
            self._admit_update(rt, current, result)
        obj = cluster.update(rt.plural, ns, name, result, subresource=sub, dry_run=dry, require_rv=False)
        if not dry:
            # a forced apply takes the conflicting fields; equal values are owned together
            new_owners = {m: {p: v for p, v in f.items() if p not in mine or mine[p] == v}
                          for m, f in owners.items() if m != manager}
            new_owners[manager] = mine
            api.applied[key] = new_owners
        return self._send_obj(200, obj, req)

    def _patch(self, api: KubeApiServer, req: ApiRequest, rt: ResourceType, ns: str | None, name: str,
               sub: str | None):
        cluster = api.cluster
        ctype = (req.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype == "application/apply-patch+yaml":
            return self._apply(api, req, rt, ns, name, sub)
        if req.q("force"):
            raise KubeError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be '
                                            'specified for non-apply patch', {"group": "meta.k8s.io", "kind": "PatchOptions"})
        if ctype == "application/strategic-merge-patch+json" and not rt.group:
            ctype = "application/merge-patch+json"  # the fields we serve have no patch strategies: the same
        if ctype not in ("application/merge-patch+json", "application/json-patch+json"):
            raise KubeError(415, "UnsupportedMediaType",
                            "the body of the request was in an unknown format - accepted media types include: "
                            "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
        patch = self._json_body(req)
        if ctype == "application/merge-patch+json" and not isinstance(patch, dict):
            raise KubeError(400, "BadRequest", "a merge patch must be a JSON object")
        rv_in_patch = (isinstance(patch, dict) and isinstance(patch.get("metadata"), dict)
                       and "resourceVersion" in patch["metadata"]) or (
            isinstance(patch, list) and any(isinstance(o, dict) and o.get("path") == "/metadata/resourceVersion"
                                             for o in patch))
        dry = self._dry_run(req)
        for _attempt in range(10):
            current = cluster.get(rt.plural, ns, name)
            shown = req.view(current) if req.view is not None else current
            try:
                if ctype == "application/merge-patch+json":
                    result = kube_patch.merge_patch(shown, patch)
                else:
                    result = kube_patch.json_patch(shown, patch)
            except kube_patch.PatchError as exc:
                raise KubeError(422, "Invalid", str(exc)) from None
            if req.unview is not None and isinstance(result, dict):
                result = req.unview(result)
            if not isinstance(result, dict):
                raise KubeError(422, "Invalid", "the patch turned the object into something that is not an object")
            meta = result.get("metadata") if isinstance(result.get("metadata"), dict) else {}
            if meta.get("name") != name:
                raise KubeError(422, "Invalid", f'{rt.kind} "{name}" is invalid: metadata.name: Invalid value: '
                                                f'"{meta.get("name")}": field is immutable')
            want_rv = meta.get("resourceVersion")
            if want_rv is not None and str(want_rv) != current["metadata"]["resourceVersion"]:
                from console.sandbox.kube_store import conflict
                raise conflict(rt, name)
            result.setdefault("metadata", {})["resourceVersion"] = current["metadata"]["resourceVersion"]
            self._field_validation(req, rt, result, name)
            if sub is None:
                self._admit_update(rt, current, result)
            try:
                obj = cluster.update(rt.plural, ns, name, result, subresource=sub, dry_run=dry, require_rv=False)
            except KubeError as exc:
                if exc.code == 409 and exc.reason == "Conflict" and not rv_in_patch:
                    continue  # the object moved under us: re-apply the patch, as the API server does
                raise
            return self._send_obj(200, obj, req)
        from console.sandbox.kube_store import conflict
        raise conflict(rt, name)

    # -- list and watch ------------------------------------------------------------------------
    def _filters(self, req: ApiRequest, rt: ResourceType):
        lab = label_matcher(req.q("labelSelector"))
        fld = field_matcher(req.q("fieldSelector"), rt)
        return lambda o: lab(o) and fld(o)

    @staticmethod
    def _list_rv(api: KubeApiServer, req: ApiRequest) -> int | None:
        """resourceVersion / resourceVersionMatch of a list (k8s.io/apimachinery
        pkg/apis/meta/internalversion/validation ValidateListOptions; the semantics table of the API
        concepts page): the resourceVersion to list at, or None for the most recent."""
        rv_text, match = req.q("resourceVersion"), req.q("resourceVersionMatch")
        errors = []
        if match:
            if not rv_text:
                errors.append("resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless "
                              "resourceVersion is provided")
            if req.q("continue"):
                errors.append("resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue "
                              "is provided")
            if match not in ("Exact", "NotOlderThan"):
                errors.append(f'resourceVersionMatch: Unsupported value: "{match}": supported values: "Exact", '
                              f'"NotOlderThan", ""')
            if match == "Exact" and rv_text == "0":
                errors.append('resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for '
                              'resourceVersion "0"')
        if errors:
            text = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
            raise KubeError(422, "Invalid", f'ListOptions.meta.k8s.io "" is invalid: {text}',
                            {"group": "meta.k8s.io", "kind": "ListOptions"})
        if rv_text in ("", "0"):
            return None  # most recent / any: the store is always current
        try:
            rv = int(rv_text)
        except ValueError:
            raise KubeError(400, "BadRequest", f'resourceVersion: Invalid value: "{rv_text}": must be an '
                                               f'integer') from None
        if not api.cluster.wait_for_rv(rv, timeout=api.rv_wait):
            raise KubeError(504, "Timeout", f"Too large resource version: {rv}, current: "
                                            f"{api.cluster.resource_version}",
                            {"causes": [{"reason": "ResourceVersionTooLarge",
                                         "message": "Too large resource version"}], "retryAfterSeconds": 1})
        return rv if match == "Exact" else None

    def _list(self, api: KubeApiServer, req: ApiRequest, rt: ResourceType, ns: str | None):
        at = self._list_rv(api, req)
        cont = req.q("continue")
        token_rv, start = None, None
        if cont:
            try:
                token = json.loads(base64.urlsafe_b64decode(cont.encode()))
                start, token_rv = token["start"], int(token["rv"])
            except Exception:
                raise KubeError(400, "BadRequest", "continue key is not valid") from None
            at = token_rv  # a continued list is consistent with its first page
        items, rv = api.cluster.snapshot(rt.plural, ns)  # read-only: serialised, never changed
        if at is not None and at != rv:
            items, rv = api.cluster.snapshot_at(rt.plural, ns, at), at
            if items is None and cont:
                raise KubeError(410, "Expired", "The provided continue parameter is too old to display a consistent "
                                                "list result. You can start a new list without the continue parameter.")
            if items is None:
                raise KubeError(410, "Expired", "The resourceVersion for the provided list is too old.")
        keep = self._filters(req, rt)
        items = [o for o in items if keep(o)]
        meta: dict = {"resourceVersion": str(rv)}
        if start is not None:
            items = [o for o in items if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > tuple(start)]
        limit = int(req.q("limit") or 0)
        if limit > 0 and len(items) > limit:
            last = items[limit - 1]["metadata"]
            meta["continue"] = base64.urlsafe_b64encode(json.dumps(
                {"rv": rv, "start": [last.get("namespace", ""), last["name"]]}).encode()).decode()
            meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        if "as=Table" in (req.headers.get("Accept") or ""):
            table = to_table(rt, items, str(rv), req.q("includeObject") or "Metadata")
            table["metadata"].update({k: v for k, v in meta.items() if k != "resourceVersion"})
            return self._send_obj(200, table)
        head = dumps({"apiVersion": rt.api_version, "kind": f"{rt.kind}List", "metadata": meta})[:-1]
        encode = (lambda o: dumps(req.view(o))) if req.view is not None else api.cluster.encoded
        data = head + b',"items":[' + b",".join(encode(o) for o in items) + b"]}"
        return self._send(200, data)

    def _client_gone(self) -> bool:
        try:
            r, _, _ = select.select([self.connection], [], [], 0)
            if not r:
                return False
            self.connection.setblocking(False)
            try:
                data = self.connection.recv(1)
            finally:
                self.connection.setblocking(True)
            return not data
        except (ssl.SSLWantReadError, BlockingIOError):
            return False
        except (OSError, ValueError):
            return True

    def _watch(self, api: KubeApiServer, req: ApiRequest, rt: ResourceType, ns: str | None):
        rv_text = req.q("resourceVersion")
        if rv_text in ("", "0"):
            since = None
        else:
            try:
                since = int(rv_text)
            except ValueError:
                raise KubeError(400, "BadRequest",
                                f'resourceVersion: Invalid value: "{rv_text}": must be an integer') from None
        initial_end = req.flag("sendInitialEvents")
        if initial_end:
            since = None
        timeout = float(req.q("timeoutSeconds") or api.watch_timeout)
        bookmarks = req.flag("allowWatchBookmarks")
        keep = self._filters(req, rt)
        as_table = "as=Table" in (req.headers.get("Accept") or "")
        include = req.q("includeObject") or "Metadata"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        api._watch_opened()
        first = True

        def emit(type_: str, obj: Any):
            nonlocal first
            if as_table and type_ in ("ADDED", "MODIFIED", "DELETED"):
                obj = to_table(rt, [obj], None, include, columns=first)
                first = False
            if type_ in ("ADDED", "MODIFIED", "DELETED") and not as_table and req.view is not None:
                data = dumps({"type": type_, "object": req.view(obj)}) + b"\n"
            elif type_ in ("ADDED", "MODIFIED", "DELETED") and not as_table:
                data = b'{"type":"' + type_.encode() + b'","object":' + api.cluster.encoded(obj) + b"}\n"
            else:
                data = dumps({"type": type_, "object": obj}) + b"\n"
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        stopping = api._stopping
        try:
            sent_initial_end = not initial_end
            gen = api.cluster.watch(rt.plural, ns, since, timeout=timeout,
                                    bookmark_interval=api.bookmark_interval if bookmarks else None,
                                    stop=lambda: stopping.is_set() or self._client_gone())
            initial_count = None
            if initial_end:
                initial_count = len(api.cluster.snapshot(rt.plural, ns)[0])
            seen = 0
            for type_, obj in gen:
                if type_ == "BOOKMARK":
                    if not bookmarks:
                        continue
                    emit("BOOKMARK", {"kind": rt.kind, "apiVersion": rt.api_version,
                                      "metadata": {"resourceVersion": str(obj), "creationTimestamp": None}})
                    continue
                if type_ == "ERROR":
                    emit("ERROR", obj)
                    break
                if not keep(obj):
                    if initial_count is not None and type_ == "ADDED" and not sent_initial_end:
                        seen += 1
                    continue
                emit(type_, obj)
                if not sent_initial_end:
                    seen += 1
                if not sent_initial_end and seen >= (initial_count or 0):
                    sent_initial_end = True
                    emit("BOOKMARK", {"kind": rt.kind, "apiVersion": rt.api_version,
                                      "metadata": {"resourceVersion": str(obj["metadata"]["resourceVersion"]),
                                                   "annotations": {"k8s.io/initial-events-end": "true"}}})
            if not sent_initial_end:
                emit("BOOKMARK", {"kind": rt.kind, "apiVersion": rt.api_version,
                                  "metadata": {"resourceVersion": str(api.cluster.resource_version),
                                               "annotations": {"k8s.io/initial-events-end": "true"}}})
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass
        finally:
            api._watch_closed()
            self.close_connection = True


class KubeApiServer:
    """The HTTPS API endpoint over a ClusterState. start() -> base URL; stop()."""

    def __init__(self, cluster: ClusterState, users: dict[str, User], *, ssl_context: ssl.SSLContext | None,
                 host: str = "127.0.0.1", port: int = 0, bookmark_interval: float = 60.0,
                 watch_timeout: float = 1800.0, rv_wait: float = 3.0):
        self.cluster = cluster
        self.users = users
        self.bookmark_interval = bookmark_interval  # k8s.io/apiserver cacher: defaultBookmarkFrequency = 1 min
        self.watch_timeout = watch_timeout
        self.rv_wait = rv_wait  # how long a list waits for a resourceVersion it has not reached (watch cache: 3 s)
        self.watches_opened = 0
        self.applied: dict[tuple, dict[str, dict]] = {}  # server-side apply, per object: manager -> fields
        self.requests_served = 0
        self.open_watches = 0
        self._wlock = threading.Lock()
        self._stopping = threading.Event()
        self._server = _TLSServer((host, port), _Handler, ssl_context, self)
        self._thread: threading.Thread | None = None

    def _watch_opened(self):
        with self._wlock:
            self.open_watches += 1
            self.watches_opened += 1

    def _watch_closed(self):
        with self._wlock:
            self.open_watches -= 1

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        scheme = "https" if self._server.ssl_context is not None else "http"
        return f"{scheme}://{host}:{port}"

    def start(self) -> str:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="sandbox-kube-api", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
