"""coordination.k8s.io/v1 Leases through a KubeClient's ApiClient: get, create, update with a
resourceVersion precondition, delete with one. Plain dataclasses out; errors mapped by the
client's map_error (409 -> Conflict, 403 -> Forbidden, ...). No Textual, no console imports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adapters.errors import DataError, NotFound
from adapters.kube import KubeClient
from adapters.timestamps import parse_timestamp

RESOURCE = "leases"


@dataclass
class Lease:
    namespace: str
    name: str
    holder: str | None
    acquired: datetime | None
    renewed: datetime | None
    duration_seconds: int | None
    transitions: int
    resource_version: str | None


def micro_time(when: datetime) -> str:
    """metav1.MicroTime: RFC 3339 with microseconds, in UTC."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _time(value: Any) -> datetime | None:
    return parse_timestamp(value)


def parse_lease(obj: Any) -> Lease:
    if not isinstance(obj, dict):
        raise DataError("the Kubernetes API sent a Lease that is not an object")
    meta: dict[str, Any] = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
    spec: dict[str, Any] = obj["spec"] if isinstance(obj.get("spec"), dict) else {}
    duration = spec.get("leaseDurationSeconds")
    transitions = spec.get("leaseTransitions")
    return Lease(
        namespace=str(meta.get("namespace") or ""), name=str(meta.get("name") or ""),
        holder=spec.get("holderIdentity") or None, acquired=_time(spec.get("acquireTime")),
        renewed=_time(spec.get("renewTime")),
        duration_seconds=duration if isinstance(duration, int) else None,
        transitions=transitions if isinstance(transitions, int) else 0,
        resource_version=meta.get("resourceVersion"),
    )


def lease_body(namespace: str, name: str, *, holder: str | None, acquired: datetime | None,
               renewed: datetime | None, duration_seconds: int, transitions: int,
               resource_version: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"holderIdentity": holder, "leaseDurationSeconds": duration_seconds,
                            "leaseTransitions": transitions}
    if acquired is not None:
        spec["acquireTime"] = micro_time(acquired)
    if renewed is not None:
        spec["renewTime"] = micro_time(renewed)
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if resource_version is not None:
        meta["resourceVersion"] = resource_version
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
            "spec": {k: v for k, v in spec.items() if v is not None}}


def _call(client: KubeClient, verb: str, namespace: str, name: str | None, fn: Any, *args: Any,
          **kwargs: Any) -> Any:
    try:
        resp = fn(*args, _preload_content=False, _request_timeout=(client.connect_timeout, client.timeout),
                  **kwargs)
        data = resp.data
    except Exception as exc:  # noqa: BLE001 - everything is mapped
        # no resource_version: map_error would look up an InferenceService's for the message
        raise client.map_error(exc, verb=verb, resource=RESOURCE, namespace=namespace, name=name) from None
    try:
        return json.loads(data)
    except ValueError:
        raise DataError(f"the Kubernetes API sent a malformed answer to {verb} lease {namespace}/{name}") from None


def _api(client: KubeClient) -> Any:
    from kubernetes.client import CoordinationV1Api

    return CoordinationV1Api(client.api_client)


def get_lease(client: KubeClient, namespace: str, name: str) -> Lease | None:
    """The Lease, or None when there is none."""
    try:
        data = _call(client, "get", namespace, name, _api(client).read_namespaced_lease, name, namespace)
    except NotFound:
        return None
    return parse_lease(data)


def create_lease(client: KubeClient, body: dict[str, Any]) -> Lease:
    """Create; another holder's Lease created meanwhile gives Conflict (409 AlreadyExists)."""
    meta = body["metadata"]
    return parse_lease(_call(client, "create", meta["namespace"], meta["name"],
                             _api(client).create_namespaced_lease, meta["namespace"], body))


def replace_lease(client: KubeClient, body: dict[str, Any]) -> Lease:
    """Update; body.metadata.resourceVersion is the precondition (409 Conflict when stale)."""
    meta = body["metadata"]
    return parse_lease(_call(client, "update", meta["namespace"], meta["name"],
                             _api(client).replace_namespaced_lease, meta["name"], meta["namespace"], body))


def delete_lease(client: KubeClient, namespace: str, name: str, resource_version: str | None) -> None:
    """Delete only if unchanged since `resource_version`; a Lease already gone is fine."""
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions"}
    if resource_version:
        body["preconditions"] = {"resourceVersion": resource_version}
    try:
        _call(client, "delete", namespace, name, _api(client).delete_namespaced_lease, name, namespace, body=body)
    except NotFound:
        return

