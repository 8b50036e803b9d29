"""The KServe simulator's semantics (pure reconcile + the controller over a real ClusterState)."""

from __future__ import annotations

import copy
import time

import pytest

from console import demo_data
from console.sandbox.kserve_sim import (
    DEPLOYMENT_MODE_ANNOTATION,
    NEVER_READY_ANNOTATION,
    KServeController,
    reconcile,
    seed_demo,
    traffic_split,
)
from console.sandbox.kube_store import ClusterState, KubeError


def isvc(uri="s3://m/v1", canary=None, name="m", ns="ns", uid="u1", gen=1, annotations=None):
    pred = {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": uri}}
    if canary is not None:
        pred["canaryTrafficPercent"] = canary
    return {"metadata": {"name": name, "namespace": ns, "uid": uid, "generation": gen,
                         "annotations": annotations or {}},
            "spec": {"predictor": pred}}


class Walk:
    """Drive reconcile() like the controller does: the status is fed back into the next pass."""

    def __init__(self, delay=0.0):
        self.rec, self.status, self.t, self.delay = None, None, 1000.0, delay

    def step(self, obj, dt=0.0):
        self.t += dt
        obj = copy.deepcopy(obj)
        if self.status is not None:
            obj["status"] = self.status
        self.rec, self.status, wake = reconcile(obj, self.rec, self.t, ready_delay=self.delay)
        return self.status, wake

    @property
    def pred(self):
        return self.status["components"]["predictor"]

    def split(self):
        return [(t["revisionName"], t["percent"], t.get("tag"), t["latestRevision"]) for t in self.pred["traffic"]]

    def cond(self, type_):
        return next(c for c in self.status["conditions"] if c["type"] == type_)


def test_first_revision_gets_all_traffic_even_with_canary_set():
    w = Walk()
    w.step(isvc(canary=30))
    assert w.split() == [("m-predictor-00001", 100, None, True)]
    assert w.pred["latestRolledoutRevision"] == "m-predictor-00001"
    assert "previousRolledoutRevision" not in w.pred
    assert w.cond("Ready")["status"] == "True"
    assert w.status["url"] == "http://m.ns.example.com"


def test_canary_split_promote_and_revision_names():
    w = Walk()
    w.step(isvc())
    w.step(isvc(uri="s3://m/v2", canary=10))
    assert w.pred["latestCreatedRevision"] == "m-predictor-00002"
    assert sorted(w.split()) == [("m-predictor-00001", 90, "prev", False), ("m-predictor-00002", 10, None, True)]
    assert w.pred["latestRolledoutRevision"] == "m-predictor-00001"
    # canaryTrafficPercent alone: no new revision, the split moves
    w.step(isvc(uri="s3://m/v2", canary=50))
    assert w.pred["latestCreatedRevision"] == "m-predictor-00002"
    assert sorted(p for _, p, _, _ in w.split()) == [50, 50]
    # promote by removing the field
    w.step(isvc(uri="s3://m/v2"))
    assert w.split() == [("m-predictor-00002", 100, None, True)]
    assert w.pred["latestRolledoutRevision"] == "m-predictor-00002"
    assert w.pred["previousRolledoutRevision"] == "m-predictor-00001"


def test_promote_by_100_advances_rolled_out_revision():
    w = Walk()
    w.step(isvc())
    w.step(isvc(uri="s3://m/v2", canary=20))
    w.step(isvc(uri="s3://m/v2", canary=100))
    assert w.pred["latestRolledoutRevision"] == "m-predictor-00002"
    assert w.pred["previousRolledoutRevision"] == "m-predictor-00001"


def test_rollback_pins_traffic_to_previous_and_keeps_the_new_model():
    w = Walk()
    w.step(isvc())
    w.step(isvc(uri="s3://m/v2", canary=20))
    obj = isvc(uri="s3://m/v2", canary=0)
    w.step(obj)
    assert sorted(w.split()) == [("m-predictor-00001", 100, "prev", False), ("m-predictor-00002", 0, None, True)]
    assert w.pred["latestRolledoutRevision"] == "m-predictor-00001"
    assert w.pred["latestReadyRevision"] == "m-predictor-00002"
    assert obj["spec"]["predictor"]["model"]["storageUri"] == "s3://m/v2"
    assert traffic_split({**obj, "status": w.status}) == [("m-predictor-00002", 0), ("m-predictor-00001", 100)]


def test_other_predictor_changes_make_revisions_but_traffic_does_not():
    w = Walk()
    w.step(isvc())
    changed = isvc()
    changed["spec"]["predictor"]["minReplicas"] = 3
    w.step(changed)
    assert w.pred["latestCreatedRevision"] == "m-predictor-00002"
    w.step({**changed, "spec": {"predictor": {**changed["spec"]["predictor"], "canaryTrafficPercent": 5}}})
    assert w.pred["latestCreatedRevision"] == "m-predictor-00002"


def test_readiness_delay_keeps_traffic_on_old_revision_until_ready():
    w = Walk(delay=0.5)
    _, wake = w.step(isvc())
    assert wake == pytest.approx(1000.5)
    assert "traffic" not in w.pred and "url" not in w.status
    assert w.cond("Ready")["status"] == "Unknown"
    assert w.pred["latestCreatedRevision"] == "m-predictor-00001" and "latestReadyRevision" not in w.pred
    w.step(isvc(), dt=0.5)
    assert w.cond("Ready")["status"] == "True"
    w.step(isvc(uri="s3://m/v2", canary=25), dt=1)
    # the new revision is not ready: the "latest" target still resolves to the latest ready revision
    assert {r for r, *_ in w.split()} == {"m-predictor-00001"}
    assert w.pred["latestCreatedRevision"] == "m-predictor-00002"
    assert w.status["modelStatus"]["transitionStatus"] == "InProgress"
    w.step(isvc(uri="s3://m/v2", canary=25), dt=0.5)
    assert sorted(w.split()) == [("m-predictor-00001", 75, "prev", False), ("m-predictor-00002", 25, None, True)]


def test_failing_revision_never_becomes_ready_and_says_why():
    w = Walk()
    w.step(isvc())
    bad = isvc(uri="s3://m/v2", canary=10, annotations={NEVER_READY_ANNOTATION: "true"})
    _, wake = w.step(bad)
    assert wake is None
    w.step(bad, dt=3600)
    assert w.pred["latestCreatedRevision"] == "m-predictor-00002"
    assert w.pred["latestReadyRevision"] == "m-predictor-00001"
    assert {r for r, *_ in w.split()} == {"m-predictor-00001"}
    ready = w.cond("Ready")
    assert ready["status"] == "False" and ready["reason"] == "RevisionFailed"
    assert "m-predictor-00002" in ready["message"]
    assert w.status["modelStatus"]["transitionStatus"] == "BlockedByFailedLoad"
    # a fixed model (new template) recovers
    w.step(isvc(uri="s3://m/v3", canary=10))
    assert w.pred["latestReadyRevision"] == "m-predictor-00003"
    assert w.cond("Ready")["status"] == "True"


def test_raw_deployment_has_no_revisions_and_ignores_canary():
    w = Walk()
    ann = {DEPLOYMENT_MODE_ANNOTATION: "RawDeployment"}
    w.step(isvc(annotations=ann))
    w.step(isvc(uri="s3://m/v2", canary=10, annotations=ann))
    # KServe resolves the legacy name and records "Standard" (constants.go ParseDeploymentMode)
    assert w.status["deploymentMode"] == "Standard"
    assert "traffic" not in w.pred and "latestCreatedRevision" not in w.pred
    assert w.cond("Ready")["status"] == "True"
    assert traffic_split({**isvc(annotations=ann), "status": w.status}) == [("m-predictor", 100)]


def test_conditions_keep_transition_times_when_nothing_changes():
    w = Walk()
    w.step(isvc())
    first = w.cond("Ready")["lastTransitionTime"]
    w.step(isvc(), dt=7200)
    assert w.cond("Ready")["lastTransitionTime"] == first
    assert w.status["observedGeneration"] == 1


def test_recreated_object_starts_a_new_history():
    w = Walk()
    w.step(isvc())
    w.step(isvc(uri="s3://m/v2"))
    w.status = None
    w.step(isvc(uid="u2"))
    assert w.pred["latestCreatedRevision"] == "m-predictor-00001"


# -- the controller over a real store ---------------------------------------------------------

def wait_for(fn, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = fn()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError("condition not reached")


@pytest.fixture
def world():
    cluster = ClusterState()
    ctl = KServeController(cluster, ready_delay=0.05)
    seed_demo(cluster, ctl)
    ctl.start()
    yield cluster, ctl
    ctl.stop()


def by_name(cluster):
    return {o["metadata"]["name"]: o for o in cluster.inference_services()}


def test_demo_world_tells_its_stories(world):
    cluster, _ = world
    objs = by_name(cluster)
    assert {s.name for s in demo_data.SERVED} <= set(objs)
    assert len({o["metadata"]["namespace"] for o in objs.values()}) >= 2
    for s in demo_data.SERVED:
        o = objs[s.name]
        if s.story == "standard-canary":  # KServe 0.20: the new version runs as spec.canary[0]
            assert o["spec"]["canary"][0]["predictor"]["model"]["storageUri"] == demo_data.storage_uri(
                s.model, s.latest_version)
            assert o["status"]["canaryStatuses"] == [{"name": f"v{s.latest_version}", "ready": True,
                                                      "trafficPercent": s.canary_percent}]
            continue
        assert o["spec"]["predictor"]["model"]["storageUri"] == demo_data.storage_uri(s.model, s.latest_version)
        pred = o["status"]["components"]["predictor"]
        if s.story == "canary":
            split = {t["revisionName"]: t["percent"] for t in pred["traffic"]}
            assert split == {f"{s.name}-predictor-00001": 100 - s.canary_percent,
                             f"{s.name}-predictor-00002": s.canary_percent}
        elif s.story == "failing":
            assert pred["latestCreatedRevision"] != pred["latestReadyRevision"]
            assert any(c["type"] == "Ready" and c["status"] == "False" for c in o["status"]["conditions"])
        elif s.story == "raw":
            assert o["status"]["deploymentMode"] == "Standard"  # the legacy annotation, resolved
            assert o["metadata"]["annotations"][DEPLOYMENT_MODE_ANNOTATION] == "RawDeployment"
        else:
            assert [t["percent"] for t in pred["traffic"]] == [100]


def test_controller_reacts_to_store_writes_and_emits_watch_events(world):
    cluster, ctl = world
    cluster.ensure_namespace("t")
    rv0 = cluster.resource_version
    cluster.create("inferenceservices", "t", isvc(ns="t"))
    wait_for(lambda: any(c["type"] == "Ready" and c["status"] == "True"
                         for c in (cluster.get("inferenceservices", "t", "m").get("status") or {}).get("conditions", [])))
    events = list(cluster.watch("inferenceservices", "t", rv0, timeout=0.2))
    kinds = [t for t, _ in events]
    assert kinds[0] == "ADDED" and kinds.count("MODIFIED") >= 2  # not-ready status, then ready
    cur = cluster.get("inferenceservices", "t", "m")
    cur["spec"]["predictor"]["model"]["storageUri"] = "s3://m/v2"
    cur["spec"]["predictor"]["canaryTrafficPercent"] = 30
    cluster.update("inferenceservices", "t", "m", cur)
    obj = wait_for(lambda: (lambda o: o if len(o["status"]["components"]["predictor"].get("traffic", [])) == 2
                            and o["status"]["components"]["predictor"].get("latestReadyRevision") == "m-predictor-00002"
                            else None)(cluster.get("inferenceservices", "t", "m")))
    assert {t["revisionName"]: t["percent"] for t in obj["status"]["components"]["predictor"]["traffic"]} == {
        "m-predictor-00001": 70, "m-predictor-00002": 30}
    assert [r.name for r in ctl.revisions("t", "m")] == ["m-predictor-00001", "m-predictor-00002"]


def test_store_semantics_generation_conflict_and_expiry():
    cluster = ClusterState(history=5)
    cluster.ensure_namespace("a")
    obj = cluster.create("inferenceservices", "a", isvc(ns="a"))
    assert obj["metadata"]["generation"] == 1
    stale = copy.deepcopy(obj)
    obj["metadata"]["labels"] = {"x": "y"}
    obj2 = cluster.update("inferenceservices", "a", "m", obj)
    assert obj2["metadata"]["generation"] == 1  # metadata only
    with pytest.raises(KubeError) as err:
        cluster.update("inferenceservices", "a", "m", stale)
    assert err.value.code == 409
    obj2["spec"]["predictor"]["canaryTrafficPercent"] = 5
    obj3 = cluster.update("inferenceservices", "a", "m", obj2)
    assert obj3["metadata"]["generation"] == 2
    assert cluster.update_status("a", "m", {"url": "x"})
    assert cluster.get("inferenceservices", "a", "m")["metadata"]["generation"] == 2
    old_rv = int(obj["metadata"]["resourceVersion"])
    for i in range(6):
        cluster.update_status("a", "m", {"url": f"x{i}"})
    events = list(cluster.watch("inferenceservices", "a", old_rv, timeout=0.1))
    assert events[0][0] == "ERROR" and events[0][1]["code"] == 410 and events[0][1]["reason"] == "Expired"
    # KServe has no range check on canaryTrafficPercent (pkg/apis/serving/v1beta1/component.go)
    assert cluster.create("inferenceservices", "a", isvc(ns="a", canary=150, name="n"))["spec"]["predictor"][
        "canaryTrafficPercent"] == 150


# -- issue 9 section 5: KServe as it really behaves -------------------------------------------

def test_prev_target_only_below_100_and_latest_tag_only_with_tag_routing():
    """pkg/controller/v1beta1/inferenceservice/reconcilers/knative/ksvc_reconciler.go,
    createKnativeService: `prev` only when canaryTrafficPercent < 100; the `latest` tag only with
    serving.kserve.io/enable-tag-routing: "true"."""
    w = Walk()
    w.step(isvc())
    w.step(isvc(uri="s3://m/v2", canary=30))
    assert sorted(w.split()) == [("m-predictor-00001", 70, "prev", False), ("m-predictor-00002", 30, None, True)]
    w.step(isvc(uri="s3://m/v2", canary=100))
    assert w.split() == [("m-predictor-00002", 100, None, True)]
    tagged = Walk()
    ann = {"serving.kserve.io/enable-tag-routing": "true"}
    tagged.step(isvc(annotations=ann))
    assert tagged.split() == [("m-predictor-00001", 100, "latest", True)]
    tagged.step(isvc(uri="s3://m/v2", canary=30, annotations=ann))
    assert sorted(tagged.split()) == [("m-predictor-00001", 70, "prev", False),
                                      ("m-predictor-00002", 30, "latest", True)]
    assert {t.get("url") for t in tagged.pred["traffic"]} == {"http://latest-m-predictor.ns.example.com",
                                                             "http://prev-m-predictor.ns.example.com"}


def test_canary_percent_after_a_promotion_rolls_back_to_the_previous_rolled_out_revision():
    """pkg/apis/serving/v1beta1/inference_service_status.go, PropagateStatus: the latest ready revision
    rolled out at 100% and then given less pins latestRolledoutRevision to previousRolledoutRevision;
    the next reconcile sends the rest of the traffic there (two passes, as the controller does)."""
    w = Walk()
    w.step(isvc())
    w.step(isvc(uri="s3://m/v2", canary=20))
    w.step(isvc(uri="s3://m/v2"))  # promote
    assert w.pred["latestRolledoutRevision"] == "m-predictor-00002"
    gen_before = w.status["observedGeneration"]
    w.step(isvc(uri="s3://m/v2", canary=0))
    # first pass: the Knative Service still names the promoted revision as prev
    assert w.pred["latestRolledoutRevision"] == "m-predictor-00001"
    w.step(isvc(uri="s3://m/v2", canary=0))
    assert sorted(w.split()) == [("m-predictor-00001", 100, "prev", False), ("m-predictor-00002", 0, None, True)]
    assert w.pred["previousRolledoutRevision"] == "m-predictor-00001"
    # the Knative Service was written twice for one change of the InferenceService
    assert w.status["observedGeneration"] == gen_before + 2


def test_observed_generation_is_the_knative_services():
    """PropagateStatus copies the Knative Service's observedGeneration (ss.ObservedGeneration =
    serviceStatus.ObservedGeneration), not the InferenceService's generation."""
    w = Walk()
    w.step(isvc(gen=1))
    assert w.status["observedGeneration"] == 1
    # a canary percent with no rolled-out revision changes nothing in the Knative Service
    w2 = Walk(delay=10)
    w2.step(isvc(gen=1))
    w2.step(isvc(gen=2, canary=10))
    assert w2.status["observedGeneration"] == 1
    w.step(isvc(gen=2, uri="s3://m/v2", canary=10))
    assert w.status["observedGeneration"] == 2


def test_out_of_range_percent_is_stored_but_knative_refuses_the_route():
    """KServe does not range-check canaryTrafficPercent (component.go); Knative's webhook refuses a
    traffic percent outside 0..100, so KServe's reconcile fails (controller.go: an InternalError
    event) and the route keeps its old split."""
    w = Walk()
    w.step(isvc())
    w.step(isvc(uri="s3://m/v2", canary=20))
    w.step(isvc(uri="s3://m/v2", canary=150))
    assert sorted(w.split()) == [("m-predictor-00001", 80, "prev", False), ("m-predictor-00002", 20, None, True)]
    assert "expected 0 <= 150 <= 100" in w.rec.child_error


def test_controller_events_finalizer_and_deletion():
    """controller.go: the inferenceservice.finalizers finalizer, InferenceServiceReady /
    InferenceServiceNotReady events (updateStatus), InternalError on a failed reconcile; Knative's
    LatestCreatedFailed on the Configuration. Deletion: deletionTimestamp first (MODIFIED), gone
    once the finalizer is removed (k8s.io/apiserver registry/store.go)."""
    cluster = ClusterState()
    ctl = KServeController(cluster, ready_delay=0.0, finalize_delay=3600)
    cluster.ensure_namespace("ns")
    ctl.start()
    try:
        body = isvc()
        del body["metadata"]["uid"]
        cluster.create("inferenceservices", "ns", body)
        wait_for(lambda: (cluster.get("inferenceservices", "ns", "m").get("status") or {}).get("url"))
        obj = cluster.get("inferenceservices", "ns", "m")
        assert obj["metadata"]["finalizers"] == ["inferenceservice.finalizers"]

        def reasons():
            return [(e["type"], e["reason"], e["involvedObject"]["kind"]) for e in cluster.list("events", "ns")[0]]

        wait_for(lambda: ("Normal", "InferenceServiceReady", "InferenceService") in reasons())
        ctl.broken_uris.add("s3://m/v2")
        cluster.put({**isvc(uri="s3://m/v2", canary=10), "metadata": {"name": "m", "namespace": "ns"}})
        wait_for(lambda: ("Warning", "LatestCreatedFailed", "Configuration") in reasons())
        wait_for(lambda: ("Warning", "InferenceServiceNotReady", "InferenceService") in reasons())
        ev = next(e for e in cluster.list("events", "ns")[0] if e["reason"] == "InferenceServiceNotReady")
        assert ev["message"].startswith("InferenceService [m] is no longer Ready because of: ")
        assert ev["source"]["component"] == "v1beta1Controllers" and ev["involvedObject"]["uid"] == obj["metadata"]["uid"]
        cluster.put({**isvc(uri="s3://m/v2", canary=150), "metadata": {"name": "m", "namespace": "ns"}})
        wait_for(lambda: ("Warning", "InternalError", "InferenceService") in reasons())

        rv = cluster.resource_version
        cluster.delete("inferenceservices", "ns", "m")
        held = cluster.get("inferenceservices", "ns", "m")
        assert held["metadata"]["deletionTimestamp"] and held["metadata"]["finalizers"]
        seen = [(t, o["metadata"].get("deletionTimestamp") is not None)
                for t, o in cluster.watch("inferenceservices", "ns", rv, timeout=0.2)]
        assert ("MODIFIED", True) in seen and ("DELETED", True) not in seen
        ctl.finalize_delay = 0
        ctl.sync("ns", "m")
        with pytest.raises(KubeError) as err:
            cluster.get("inferenceservices", "ns", "m")
        assert err.value.code == 404
        # the controller's Events do not keep the namespace: they go with it
        assert cluster.list("events", "ns")[0]
        cluster.delete("namespaces", None, "ns")
        assert cluster.list("events", "ns")[0] == [] and not cluster.namespace_exists("ns")
    finally:
        ctl.stop()


def test_events_expire_after_the_event_ttl():
    """kube-apiserver --event-ttl (1 h by default): an Event's etcd lease runs out and it goes, with a
    DELETED watch event."""
    from console.sandbox.kube_store import make_event
    cluster = ClusterState(event_ttl=0.0)
    cluster.ensure_namespace("ns")
    ref = {"apiVersion": "v1", "kind": "Pod", "name": "p", "namespace": "ns"}
    first = cluster.create("events", "ns", make_event(ref, "Normal", "A", "m", "c", ts=1.0))
    rv = int(first["metadata"]["resourceVersion"])
    cluster.create("events", "ns", make_event(ref, "Normal", "B", "m", "c", ts=2.0))
    assert [e["reason"] for e in cluster.list("events", "ns")[0]] == ["B"]
    seen = [(t, o["reason"]) for t, o in cluster.watch("events", "ns", rv, timeout=0.1)]
    assert seen == [("DELETED", "A"), ("ADDED", "B")]
