"""adapters.kube against the sandbox Kubernetes API over real HTTPS: contexts, list/get/watch
(bookmarks skipped, 410 -> relist), merge patch with a resourceVersion precondition, server-side
dry-run, SelfSubjectAccessReview/SelfSubjectReview, and the viewer's real 403."""

from __future__ import annotations

import threading
import time

import pytest

from adapters.errors import Conflict, Forbidden, InvalidInput, NotFound
from adapters.kube import KubeClient, Snapshot, WatchEvent, WatchExpired, parse_inference_service
from sandbox_fixtures import start_kube_sandbox, wait_until  # kube_sandbox: tests/conftest.py

ISVC_BASE = "s3://mlops-models/fraud-detector/v"


def admin(sb, **kw) -> KubeClient:
    return KubeClient(str(sb.kubeconfig_path), **kw)


def viewer(sb, **kw) -> KubeClient:
    return KubeClient(str(sb.kubeconfig_path), context="sandbox-viewer", **kw)


def make_isvc(sb, ns: str, name: str, version: int = 1) -> None:
    sb.cluster.ensure_namespace(ns)
    sb.cluster.put({
        "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"predictor": {"model": {"modelFormat": {"name": "xgboost"}, "storageUri": f"{ISVC_BASE}{version}"}}},
    })


def collect(gen, out: list, errors: list):
    try:
        for item in gen:
            out.append(item)
    except Exception as exc:  # noqa: BLE001 - the test inspects it
        errors.append(exc)


# -- kubeconfig ------------------------------------------------------------------------------


def test_contexts_and_current_context(kube_sandbox, monkeypatch):
    c = admin(kube_sandbox)
    assert c.contexts() == ["sandbox-admin", "sandbox-viewer"]
    assert c.current_context == "sandbox-admin"
    assert c.namespace == "default"
    assert admin(kube_sandbox, namespace="fraud").namespace == "fraud"
    # $KUBECONFIG is honoured when no path is given
    monkeypatch.setenv("KUBECONFIG", str(kube_sandbox.kubeconfig_path))
    assert KubeClient(context="sandbox-viewer").current_context == "sandbox-viewer"


def test_one_api_client_per_context_and_global_config_untouched(kube_sandbox):
    from kubernetes.client import Configuration

    before = Configuration.get_default_copy().host
    a, v = admin(kube_sandbox), viewer(kube_sandbox)
    assert a.api_client is a.api_client
    assert a.api_client is not v.api_client
    assert a.api_client.configuration is not v.api_client.configuration
    assert a.api_client.configuration.api_key != v.api_client.configuration.api_key
    assert Configuration.get_default_copy().host == before


def test_bad_kubeconfig_and_unknown_context(kube_sandbox, tmp_path):
    with pytest.raises(InvalidInput) as err:
        admin(kube_sandbox, context="prod-eu")
    assert "prod-eu" in err.value.message and str(kube_sandbox.kubeconfig_path) in err.value.message
    assert "sandbox-admin" in err.value.message
    missing = tmp_path / "nope.yaml"
    with pytest.raises(InvalidInput) as err:
        KubeClient(str(missing))
    assert str(missing) in err.value.message and "does not exist" in err.value.message
    garbage = tmp_path / "garbage.yaml"
    garbage.write_text("{{{: not yaml ::\n")
    with pytest.raises(InvalidInput) as err:
        KubeClient(str(garbage))
    assert str(garbage) in err.value.message


# -- reads -----------------------------------------------------------------------------------


def test_list_all_namespaces_tells_the_demo_stories(kube_sandbox):
    items, rv = admin(kube_sandbox).list_inference_services(None)
    assert rv and int(rv) > 0
    by_key = {i.key: i for i in items}
    assert {"fraud/fraud-detector", "recsys/search-ranker", "recsys/churn-predictor"} <= set(by_key)
    assert len({i.namespace for i in items}) >= 2
    canary = by_key["fraud/fraud-detector"]
    assert (canary.mode, canary.canary_traffic_percent, canary.latest_percent, canary.prev_percent) == (
        "Serverless", 20, 20, 80)
    assert canary.latest_revision.endswith("00002") and canary.prev_revision.endswith("00001")
    assert canary.storage_uri == "s3://mlops-models/fraud-detector/v40"
    assert canary.resource_version and canary.problems == []
    raw = by_key["recsys/search-ranker"]
    assert raw.is_raw and raw.latest_percent is None
    failing = by_key["recsys/churn-predictor"]
    assert failing.failing_revision and failing.ready is False


def test_list_one_namespace_and_get(kube_sandbox):
    c = admin(kube_sandbox)
    items, _ = c.list_inference_services("recsys")
    assert items and {i.namespace for i in items} == {"recsys"}
    one = c.get_inference_service("fraud", "fraud-detector")
    assert one.key == "fraud/fraud-detector" and one.conditions
    with pytest.raises(NotFound) as err:
        c.get_inference_service("fraud", "no-such-model")
    assert "fraud/no-such-model" in err.value.message


# -- watch -----------------------------------------------------------------------------------


def test_watch_yields_changes_and_skips_bookmarks(kube_sandbox):
    sb = kube_sandbox
    make_isvc(sb, "watch-a", "m1")
    c = admin(sb)
    _, rv = c.list_inference_services("watch-a")
    stop = threading.Event()
    events: list[WatchEvent] = []
    errors: list = []
    t = threading.Thread(target=collect, args=(c.watch_inference_services("watch-a", rv, stop), events, errors))
    t.start()
    time.sleep(0.6)  # several bookmark intervals (0.2 s) pass with nothing to report
    make_isvc(sb, "watch-a", "m1", version=2)
    wait_until(lambda: any(e.object and e.object.storage_uri == f"{ISVC_BASE}2" for e in events), timeout=5)
    stop.set()
    t.join(10)
    assert not t.is_alive() and not errors
    assert events and all(e.type in ("ADDED", "MODIFIED", "DELETED") for e in events)
    assert all(e.object.namespace == "watch-a" for e in events)
    rvs = [int(e.resource_version) for e in events]
    assert rvs == sorted(rvs) and rvs[0] > int(rv)

    # the same stream with bookmarks made visible: they were there, and were skipped above
    stop2 = threading.Event()
    marks: list = []
    t2 = threading.Thread(target=collect, args=(
        c.watch_inference_services("watch-a", events[-1].resource_version, stop2, include_bookmarks=True), marks, errors))
    t2.start()
    wait_until(lambda: any(e.type == "BOOKMARK" for e in marks), timeout=5)
    stop2.set()
    t2.join(10)
    assert not errors


def test_watch_from_expired_version_raises_watch_expired(kube_sandbox):
    sb = kube_sandbox
    make_isvc(sb, "watch-b", "m1")
    c = admin(sb)
    _, old_rv = c.list_inference_services("watch-b")
    make_isvc(sb, "watch-b", "m1", version=2)
    sb.cluster.expire_watches()
    with pytest.raises(WatchExpired) as err:
        for _ in c.watch_inference_services("watch-b", old_rv, threading.Event()):
            pass
    assert "list again" in err.value.message


def test_watch_410_at_start_is_watch_expired(kube_sandbox):
    c = admin(kube_sandbox)
    _, rv = c.list_inference_services("fraud")
    kube_sandbox.cluster.faults.add(r"watch=true", status=410, times=1)
    with pytest.raises(WatchExpired):
        next(iter(c.watch_inference_services("fraud", rv, threading.Event())))


def test_follow_relists_after_expiry(kube_sandbox):
    sb = kube_sandbox
    make_isvc(sb, "watch-c", "m1")
    c = admin(sb)
    stop = threading.Event()
    out: list = []
    errors: list = []
    t = threading.Thread(target=collect, args=(c.follow_inference_services("watch-c", stop), out, errors))
    t.start()
    wait_until(lambda: out and isinstance(out[0], Snapshot))
    assert out[0].relist is False and [i.name for i in out[0].items] == ["m1"]
    # the next watch request is answered 410 Gone: follow lists again by itself
    sb.cluster.faults.add(r"watch-c.*watch=true|watch=true.*watch-c", status=410, times=1)
    sb.cluster.expire_watches()
    make_isvc(sb, "watch-c", "m2")
    wait_until(lambda: any(isinstance(x, Snapshot) and x.relist for x in out), timeout=8)
    wait_until(lambda: any(
        (isinstance(x, Snapshot) and any(i.name == "m2" for i in x.items))
        or (isinstance(x, WatchEvent) and x.object and x.object.name == "m2") for x in out), timeout=8)
    stop.set()
    t.join(10)
    assert not t.is_alive() and not errors


def test_watch_stop_is_honoured_when_idle(tmp_path):
    sb = start_kube_sandbox(tmp_path, bookmark_interval=60)  # no bookmarks to wake the reader
    try:
        c = admin(sb)
        _, rv = c.list_inference_services("fraud")
        stop = threading.Event()
        out: list = []
        errors: list = []
        t = threading.Thread(target=collect, args=(c.watch_inference_services("fraud", rv, stop, idle_timeout=0.3),
                                                   out, errors))
        t.start()
        time.sleep(0.5)
        stop.set()
        t.join(5)
        assert not t.is_alive() and not errors and out == []
    finally:
        sb.stop()


# -- writes ----------------------------------------------------------------------------------


def test_patch_with_precondition_and_dry_run(kube_sandbox):
    sb = kube_sandbox
    make_isvc(sb, "patch-a", "m1")
    c = admin(sb)
    wait_until(lambda: c.get_inference_service("patch-a", "m1").latest_rolledout_revision)
    isvc = c.get_inference_service("patch-a", "m1")
    new_uri = {"spec": {"predictor": {"model": {"storageUri": f"{ISVC_BASE}2"}, "canaryTrafficPercent": 10}}}

    dry = c.patch_inference_service("patch-a", "m1", new_uri, resource_version=isvc.resource_version, dry_run=True)
    assert parse_inference_service(dry).canary_traffic_percent == 10
    still = c.get_inference_service("patch-a", "m1")
    assert still.canary_traffic_percent is None and still.resource_version == isvc.resource_version

    done = c.patch_inference_service("patch-a", "m1", new_uri, resource_version=isvc.resource_version)
    after = parse_inference_service(done)
    assert after.canary_traffic_percent == 10 and after.storage_uri == f"{ISVC_BASE}2"
    assert int(after.resource_version) > int(isvc.resource_version)

    # the same precondition again is stale now: Conflict, nothing changed
    with pytest.raises(Conflict) as err:
        c.patch_inference_service("patch-a", "m1", {"spec": {"predictor": {"canaryTrafficPercent": 0}}},
                                  resource_version=isvc.resource_version)
    assert f"patch-a/m1 changed since you looked (resourceVersion {isvc.resource_version} -> " in err.value.message
    assert "reload and try again" in err.value.message
    assert c.get_inference_service("patch-a", "m1").canary_traffic_percent == 10

    # merge-patch null removes the field (promote)
    fresh = c.get_inference_service("patch-a", "m1")
    promoted = c.patch_inference_service("patch-a", "m1", {"spec": {"predictor": {"canaryTrafficPercent": None}}},
                                         resource_version=fresh.resource_version)
    assert "canaryTrafficPercent" not in promoted["spec"]["predictor"]


def test_invalid_patch_is_invalid_input_with_server_message(kube_sandbox):
    c = admin(kube_sandbox)
    isvc = c.get_inference_service("fraud", "credit-risk")
    with pytest.raises(InvalidInput) as err:
        c.patch_inference_service("fraud", "credit-risk", {"spec": {"predictor": {"canaryTrafficPercent": "lots"}}},
                                  resource_version=isvc.resource_version, dry_run=True)
    assert "canaryTrafficPercent" in err.value.message


# -- identity and permission -----------------------------------------------------------------


def test_ssar_and_whoami(kube_sandbox):
    a, v = admin(kube_sandbox), viewer(kube_sandbox)
    allowed, why = a.can_i("patch", "inferenceservices", "serving.kserve.io", "fraud", "fraud-detector")
    assert allowed is True and why
    allowed, _ = v.can_i("patch", "inferenceservices", "serving.kserve.io", "fraud", "fraud-detector")
    assert allowed is False
    allowed, _ = v.can_i("list", "inferenceservices", "serving.kserve.io", "fraud")
    assert allowed is True
    assert a.whoami() == "admin" and v.whoami() == "viewer"


def test_viewer_gets_a_real_403_on_patch(kube_sandbox):
    v = viewer(kube_sandbox)
    v.whoami()
    before = admin(kube_sandbox).get_inference_service("fraud", "fraud-detector")
    with pytest.raises(Forbidden) as err:
        v.patch_inference_service("fraud", "fraud-detector", {"spec": {"predictor": {"canaryTrafficPercent": 0}}},
                                  resource_version=before.resource_version)
    assert err.value.message.startswith("not allowed to patch inferenceservices in fraud as viewer")
    after = admin(kube_sandbox).get_inference_service("fraud", "fraud-detector")
    assert after.resource_version == before.resource_version and after.canary_traffic_percent == 20


def test_two_traffic_entries_for_one_revision_read_as_one_at_100():
    """A canary whose new revision never became ready: Knative sends the canary's share to the
    newest ready revision, so status lists it twice (90 and 10). It serves 100% (traffic), while
    latest/prev say what `kubectl get isvc` prints: the unmerged entries, 10 and 90."""
    from adapters.kube import parse_inference_service

    obj = {
        "metadata": {"namespace": "recsys", "name": "churn"},
        "spec": {"predictor": {"canaryTrafficPercent": 10, "model": {"storageUri": "s3://m/churn/v30"}}},
        "status": {"components": {"predictor": {
            "latestCreatedRevision": "churn-predictor-00002", "latestReadyRevision": "churn-predictor-00001",
            "traffic": [
                {"revisionName": "churn-predictor-00001", "percent": 10, "latestRevision": True, "tag": "latest"},
                {"revisionName": "churn-predictor-00001", "percent": 90, "latestRevision": False, "tag": "prev"},
            ]}}},
    }
    isvc = parse_inference_service(obj)
    assert [(t.revision, t.percent, t.tags) for t in isvc.traffic] == [("churn-predictor-00001", 100, ["latest", "prev"])]
    assert (isvc.latest_revision, isvc.latest_percent) == ("churn-predictor-00001", 10)
    assert (isvc.prev_revision, isvc.prev_percent) == ("churn-predictor-00001", 90)
    assert not isvc.problems and isvc.failing_revision


# -- watches that stay open (issue 9 s.5) -----------------------------------------------------


def test_one_watch_stays_open_on_a_quiet_cluster(tmp_path):
    """A real API server sends bookmarks about once a minute (k8s.io/apiserver cacher,
    defaultBookmarkFrequency) and ends a watch at its timeoutSeconds: the adapter must not read a
    few seconds of silence as a dead stream and reconnect."""
    sb = start_kube_sandbox(tmp_path, bookmark_interval=60)
    try:
        c = admin(sb)
        stop = threading.Event()
        out: list = []
        errors: list = []
        t = threading.Thread(target=collect, args=(c.follow_inference_services("fraud", stop), out, errors))
        t.start()
        wait_until(lambda: sb.kube.open_watches == 1)
        stop.wait(6.5)  # a quiet period longer than the old 5 s idle read timeout
        opened = sb.kube.watches_opened
        stop.set()
        t.join(10)
        assert not t.is_alive() and not errors
        assert opened == 1 and isinstance(out[0], Snapshot) and len(out) == 1
    finally:
        sb.stop()


def test_stop_ends_a_quiet_watch_at_once(tmp_path):
    sb = start_kube_sandbox(tmp_path, bookmark_interval=60)
    try:
        c = admin(sb)
        _, rv = c.list_inference_services("fraud")
        stop = threading.Event()
        out: list = []
        errors: list = []
        t = threading.Thread(target=collect, args=(c.watch_inference_services("fraud", rv, stop), out, errors))
        t.start()
        wait_until(lambda: sb.kube.open_watches == 1)
        stop.set()
        t.join(2.0)  # the default read timeout is minutes: only closing the socket ends it this fast
        assert not t.is_alive() and not errors and out == []
        wait_until(lambda: sb.kube.open_watches == 0)
    finally:
        sb.stop()


# -- events and deletion ------------------------------------------------------------------------


def test_create_and_list_events_and_the_viewers_403(kube_sandbox):
    sb = kube_sandbox
    c = admin(sb)
    isvc = c.get_inference_service("fraud", "fraud-detector")
    assert isvc.uid and not isvc.deleting
    ref = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "name": isvc.name,
           "namespace": isvc.namespace, "uid": isvc.uid, "resourceVersion": isvc.resource_version}
    made = c.create_event("fraud", ref, reason="CanaryStep", message="who: x; 10 -> 20")
    assert made["metadata"]["name"].startswith("fraud-detector.")
    mine = [e for e in c.list_events("fraud", involved_name="fraud-detector", involved_kind="InferenceService")
            if e.reason == "CanaryStep"]
    assert [(e.type, e.source, e.object_kind, e.message) for e in mine] == [
        ("Normal", "mlops-console", "InferenceService", "who: x; 10 -> 20")]
    assert all(e.object_name == "fraud-detector" for e in c.list_events("fraud", involved_name="fraud-detector"))
    with pytest.raises(Forbidden) as err:
        viewer(sb).create_event("fraud", ref, reason="CanaryStep", message="m")
    assert 'cannot create resource "events"' in err.value.message


def test_a_deleting_inference_service_reads_as_deleting(kube_sandbox):
    sb = kube_sandbox
    make_isvc(sb, "del-a", "going")
    c = admin(sb)
    wait_until(lambda: sb.cluster.get("inferenceservices", "del-a", "going")["metadata"].get("finalizers"))
    sb.controller.finalize_delay = 3600
    try:
        sb.cluster.delete("inferenceservices", "del-a", "going")
        assert c.get_inference_service("del-a", "going").deleting
    finally:
        sb.controller.finalize_delay = 0
        sb.controller.sync("del-a", "going")
    with pytest.raises(NotFound):
        c.get_inference_service("del-a", "going")
