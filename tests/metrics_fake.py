"""A minimal stand-in for the sandbox cluster, for the metrics sandbox's tests and benchmarks:
InferenceService dicts built from demo_data.SERVED with a status traffic split, and a way to move
that split (as a rollback or a promote would).

The real sandbox cluster offers the same `inference_services()` (deep copies of live state).
"""

from __future__ import annotations

import copy
import threading

from console import demo_data


def revision_name(name: str, generation: int) -> str:
    """Knative-style revision names: <isvc>-predictor-00002."""
    return f"{name}-predictor-{generation:05d}"


def isvc_for(served: demo_data.ServedModel) -> dict:
    latest_gen = 2 if served.prev_version else 1
    latest = revision_name(served.name, latest_gen)
    prev = revision_name(served.name, 1) if served.prev_version else None
    if served.story == "failing" and prev:
        # the new revision never became ready: all traffic stays on the previous one
        traffic = [{"revisionName": prev, "percent": 100, "latestRevision": False, "tag": "prev"}]
        ready = prev
    elif prev and served.canary_percent is not None:
        traffic = [
            {"revisionName": latest, "percent": served.canary_percent, "latestRevision": True, "tag": "latest"},
            {"revisionName": prev, "percent": 100 - served.canary_percent, "latestRevision": False, "tag": "prev"},
        ]
        ready = latest
    else:
        traffic = [{"revisionName": latest, "percent": 100, "latestRevision": True}]
        ready = latest
    spec_predictor: dict = {"model": {"modelFormat": {"name": demo_data.MODELS_BY_NAME[served.model].framework},
                                      "storageUri": demo_data.storage_uri(served.model, served.latest_version)}}
    if served.canary_percent is not None:
        spec_predictor["canaryTrafficPercent"] = served.canary_percent
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": served.name, "namespace": served.namespace,
                     "annotations": {"serving.kserve.io/deploymentMode": served.deployment_mode}},
        "spec": {"predictor": spec_predictor},
        "status": {"components": {"predictor": {
            "latestCreatedRevision": latest, "latestReadyRevision": ready,
            "latestRolledoutRevision": prev or latest, "traffic": traffic}}},
    }


class FakeCluster:
    def __init__(self, served=demo_data.SERVED):
        self._lock = threading.Lock()
        self._isvcs = {(s.namespace, s.name): isvc_for(s) for s in served}

    def inference_services(self) -> list[dict]:
        with self._lock:
            return copy.deepcopy(list(self._isvcs.values()))

    def set_canary_percent(self, namespace: str, name: str, percent: int) -> None:
        """Move the split the way KServe would: the latest revision gets `percent`."""
        with self._lock:
            isvc = self._isvcs[(namespace, name)]
            for t in isvc["status"]["components"]["predictor"]["traffic"]:
                t["percent"] = percent if t.get("latestRevision") else 100 - percent
            isvc["spec"]["predictor"]["canaryTrafficPercent"] = percent
