"""Kubernetes / KServe adapter on the official `kubernetes` client (37.x).

Nothing here imports textual, screens or console. The `kubernetes` package is imported lazily,
at the first client built, so importing this module is cheap.

`KubeClient` is one kubeconfig context. It is put together from parts, each in its own module
and all re-exported here (`from adapters.kube import KubeClient, InferenceService, ...`):

- adapters.kube_model: the InferenceService dataclasses and their tolerant parsing (no I/O);
- adapters.kube_connection: the kubeconfig, the ApiClient, and the mapping of every failure to
  the shared errors of adapters.errors, with a one-line message a person can act on (urllib3
  connection errors, timeouts and TLS failures included); identity and access reviews;
- adapters.kube_isvc: InferenceServices: list + watch (bookmarks, 410 -> relist), get, merge
  patches with a resourceVersion precondition;
- adapters.kube_pods: core/v1 pods, their logs (streamed, bounded, cancellable) and Events.
"""

from __future__ import annotations

from adapters.kube_connection import KubeConnection, WatchExpired, close_on_stop, kubeconfig_paths
from adapters.kube_isvc import WATCH_MIN_TIMEOUT, WATCH_READ_MARGIN, InferenceServiceApi
from adapters.kube_model import (
    DEPLOYMENT_MODE_ANNOTATION,
    GROUP,
    MERGE_PATCH,
    PLURAL,
    PRINTER_COLUMNS,
    RAW_MODES,
    VERSION,
    Canary,
    Condition,
    InferenceService,
    Snapshot,
    TrafficTarget,
    WatchEvent,
    canary_name,
    deployment_mode,
    parse_inference_service,
    predictor_service_name,
    predictor_storage,
    printer_cell,
)
from adapters.kube_pods import (
    DEFAULT_CONTAINER,
    ContainerState,
    KubeEvent,
    Pod,
    PodsApi,
    newest_first,
    parse_event,
    parse_pod,
    predictor_selector,
)

__all__ = [
    "DEFAULT_CONTAINER", "DEPLOYMENT_MODE_ANNOTATION", "GROUP", "MERGE_PATCH", "PLURAL", "PRINTER_COLUMNS",
    "RAW_MODES", "VERSION", "WATCH_MIN_TIMEOUT", "WATCH_READ_MARGIN", "Canary", "Condition", "ContainerState",
    "InferenceService", "InferenceServiceApi", "KubeClient", "KubeConnection", "KubeEvent", "Pod", "PodsApi",
    "Snapshot", "TrafficTarget", "WatchEvent", "WatchExpired", "canary_name", "close_on_stop", "deployment_mode",
    "kubeconfig_paths", "newest_first", "parse_event", "parse_inference_service", "parse_pod",
    "predictor_selector", "predictor_service_name", "predictor_storage", "printer_cell",
]


class KubeClient(InferenceServiceApi, PodsApi):
    """One kubeconfig context: InferenceServices, pods, logs and events over one ApiClient.

    timeout: read timeout of every non-watch request (seconds); connect_timeout: TCP/TLS connect.
    """

    def __enter__(self) -> KubeClient:
        return self
