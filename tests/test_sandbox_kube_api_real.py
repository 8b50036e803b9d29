"""The sandbox Kubernetes API as the real API server behaves (issue 8 s.2, issue 9 s.5): core/v1
Events, graceful deletion with finalizers, list resourceVersionMatch, SelfSubjectRulesReview,
server-side apply, protobuf bodies for built-in kinds, KServe's deploymentMode webhook, and bookmark
timing. Peers: the official `kubernetes` client, kubectl, and raw HTTP shaped like kubectl's."""

from __future__ import annotations

import json
import ssl
import time

import httpx
import pytest

from sandbox_fixtures import api_client, kubectl, start_kube_sandbox, wait_until

G, V, P = "serving.kserve.io", "v1beta1", "inferenceservices"


def body(name: str, uri: str = "s3://mlops-models/t/v1", canary: int | None = None, annotations=None) -> dict:
    pred: dict = {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": uri}}
    if canary is not None:
        pred["canaryTrafficPercent"] = canary
    return {"apiVersion": f"{G}/{V}", "kind": "InferenceService",
            "metadata": {"name": name, "annotations": annotations or {}}, "spec": {"predictor": pred}}


@pytest.fixture(scope="module")
def ns(kube_sandbox):
    kube_sandbox.cluster.ensure_namespace("real")
    return "real"


@pytest.fixture(scope="module")
def core(kube_sandbox):
    from kubernetes import client
    return client.CoreV1Api(api_client(kube_sandbox))


@pytest.fixture(scope="module")
def custom(kube_sandbox):
    from kubernetes import client
    return client.CustomObjectsApi(api_client(kube_sandbox))


def http(sb, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=sb.kube_url, headers=headers, timeout=10,
                        verify=ssl.create_default_context(cafile=str(sb.state_dir / "pki" / "ca.crt")))


def event_body(name: str, ns: str, obj_name: str, uid: str = "u-1", reason: str = "CanaryStep",
               kind: str = "InferenceService", obj_ns: str | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": ns},
            "involvedObject": {"apiVersion": f"{G}/{V}", "kind": kind, "name": obj_name,
                               "namespace": obj_ns if obj_ns is not None else ns, "uid": uid},
            "reason": reason, "message": "m", "type": "Normal", "source": {"component": "mlops-console"},
            "reportingComponent": "mlops-console", "count": 1,
            "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:00Z"}


# -- core/v1 Events --------------------------------------------------------------------------

def test_events_create_get_list_field_selectors_with_the_official_client(kube_sandbox, core, ns):
    """kubernetes pkg/registry/core/event/strategy.go (EventToSelectableFields: involvedObject.*,
    reason, reportingComponent, source, type, metadata.*); field selectors as in the "Field
    Selectors" docs (=, ==, !=, comma = and)."""
    core.create_namespaced_event(ns, event_body("a.1", ns, "model-a", reason="CanaryStep"))
    core.create_namespaced_event(ns, event_body("b.1", ns, "model-b", reason="CanaryRollback"))
    core.create_namespaced_event(ns, event_body("c.1", ns, "model-a-predictor", kind="Configuration"))
    got = core.read_namespaced_event("a.1", ns)
    assert got.involved_object.name == "model-a" and got.metadata.resource_version

    def names(selector: str, namespace: str | None = ns) -> set[str]:
        if namespace is None:
            items = core.list_event_for_all_namespaces(field_selector=selector).items
        else:
            items = core.list_namespaced_event(namespace, field_selector=selector).items
        return {e.metadata.name for e in items if e.metadata.namespace == ns}

    assert names("involvedObject.name=model-a") == {"a.1"}
    assert names("involvedObject.kind=InferenceService") == {"a.1", "b.1"}
    assert names("involvedObject.kind=InferenceService,reason!=CanaryStep") == {"b.1"}
    assert names(f"involvedObject.namespace={ns},involvedObject.name==model-b", None) == {"b.1"}
    assert names("source=mlops-console,type=Normal,reportingComponent=mlops-console") == {"a.1", "b.1", "c.1"}
    assert names("metadata.name=c.1") == {"c.1"}
    from kubernetes.client.exceptions import ApiException
    with pytest.raises(ApiException) as err:
        core.list_namespaced_event(ns, field_selector="spec.bogus=1")
    assert err.value.status == 400 and "field label not supported: spec.bogus" in err.value.body


def test_event_validation_as_validate_event(kube_sandbox, core, ns):
    """pkg/apis/core/validation/events.go, ValidateEvent: the involved object's namespace must match."""
    from kubernetes.client.exceptions import ApiException
    with pytest.raises(ApiException) as err:
        core.create_namespaced_event(ns, event_body("bad.1", ns, "x", obj_ns="default"))
    assert err.value.status == 422
    assert json.loads(err.value.body)["message"] == (
        'Event "bad.1" is invalid: involvedObject.namespace: Invalid value: "default": does not match event.namespace')


def test_viewer_gets_a_real_403_creating_an_event(kube_sandbox, ns):
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException
    viewer = client.CoreV1Api(api_client(kube_sandbox, "sandbox-viewer"))
    assert viewer.list_namespaced_event(ns).items is not None  # reading is allowed
    with pytest.raises(ApiException) as err:
        viewer.create_namespaced_event(ns, event_body("v.1", ns, "x"))
    assert err.value.status == 403
    status = json.loads(err.value.body)
    assert status["reason"] == "Forbidden"
    assert status["message"] == (f'events is forbidden: User "viewer" cannot create resource "events" in API group "" '
                                 f'in the namespace "{ns}"')


def test_event_watch_with_field_selector(kube_sandbox, core, ns):
    from kubernetes import watch
    rv = core.list_namespaced_event(ns).metadata.resource_version
    core.create_namespaced_event(ns, event_body("w.other", ns, "someone-else"))
    core.create_namespaced_event(ns, event_body("w.mine", ns, "watched-model"))
    w = watch.Watch()
    seen = []
    for ev in w.stream(core.list_namespaced_event, ns, resource_version=rv, timeout_seconds=5,
                       field_selector="involvedObject.name=watched-model"):
        seen.append((ev["type"], ev["object"].metadata.name))
        w.stop()
    assert seen == [("ADDED", "w.mine")]


def test_kubectl_get_events_and_describe_show_the_controllers_events(kube_sandbox):
    """kubectl get events (server-side Table: printers.go eventColumnDefinitions) and kubectl describe
    (Events searched by involvedObject.name/namespace/kind/uid) read core/v1 Events."""
    res = kubectl(kube_sandbox, "get", "events", "-n", "fraud", check=True)
    header = res.stdout.splitlines()[0].split()
    assert header[:6] == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert "inferenceservice/fraud-detector" in res.stdout and "InferenceServiceReady" in res.stdout
    desc = kubectl(kube_sandbox, "describe", "isvc", "fraud-detector", "-n", "fraud", check=True).stdout
    events = desc.split("Events:", 1)[1]
    assert "InferenceServiceReady" in events and "v1beta1Controllers" in events
    failing = kubectl(kube_sandbox, "get", "events", "-n", "recsys", "--field-selector", "type=Warning",
                      check=True).stdout
    assert "LatestCreatedFailed" in failing and "configuration/churn-predictor-predictor" in failing


# -- deletion with finalizers ------------------------------------------------------------------

def test_delete_sets_deletion_timestamp_then_the_object_goes(kube_sandbox, custom, ns):
    """k8s.io/apiserver pkg/registry/generic/registry/store.go (graceful deletion with finalizers);
    KServe's controller.go removes inferenceservice.finalizers on deletion."""
    from kubernetes import watch
    sb = kube_sandbox
    custom.create_namespaced_custom_object(G, V, ns, P, body("doomed"))
    wait_until(lambda: sb.cluster.get(P, ns, "doomed")["metadata"].get("finalizers"))
    rv = sb.cluster.get(P, ns, "doomed")["metadata"]["resourceVersion"]
    sb.controller.finalize_delay = 3600  # the controller's cleanup is slow: the object stays, deleting
    try:
        answer = custom.delete_namespaced_custom_object(G, V, ns, P, "doomed")
        assert answer["metadata"]["deletionTimestamp"]
        held = custom.get_namespaced_custom_object(G, V, ns, P, "doomed")
        assert held["metadata"]["finalizers"] == ["inferenceservice.finalizers"]
    finally:
        sb.controller.finalize_delay = 0
    sb.controller.sync(ns, "doomed")
    seen = []
    w = watch.Watch()
    for ev in w.stream(custom.list_namespaced_custom_object, G, V, ns, P, resource_version=rv, timeout_seconds=5):
        if ev["raw_object"]["metadata"]["name"] == "doomed":
            seen.append((ev["type"], bool(ev["raw_object"]["metadata"].get("deletionTimestamp"))))
        if ev["type"] == "DELETED":
            w.stop()
    marked = [t for t, deleting in seen if deleting]
    assert marked[0] == "MODIFIED" and marked[-1] == "DELETED"


def test_kubectl_delete_waits_for_the_finalizer(kube_sandbox, ns):
    kubectl(kube_sandbox, "apply", "-f", "-", check=True, input=json.dumps({**body("kdel"), "metadata": {
        "name": "kdel", "namespace": ns}}))
    wait_until(lambda: kube_sandbox.cluster.get(P, ns, "kdel")["metadata"].get("finalizers"))
    res = kubectl(kube_sandbox, "delete", "isvc", "kdel", "-n", ns, "--timeout=20s", check=True)
    assert 'deleted' in res.stdout
    assert kubectl(kube_sandbox, "get", "isvc", "kdel", "-n", ns).returncode != 0


# -- KServe's webhook and canaryTrafficPercent ---------------------------------------------------

@pytest.mark.parametrize("new_mode", ["RawDeployment", "Standard"])
def test_deployment_mode_cannot_change(kube_sandbox, custom, ns, new_mode):
    """pkg/apis/serving/v1beta1/inference_service_validation.go, validateDeploymentMode: refused by the
    validating webhook (controller-runtime Denied: 403), with KServe's message."""
    from kubernetes.client.exceptions import ApiException
    name = f"mode-{new_mode.lower()}"
    custom.create_namespaced_custom_object(G, V, ns, P, body(name))
    wait_until(lambda: (kube_sandbox.cluster.get(P, ns, name).get("status") or {}).get("deploymentMode"))
    with pytest.raises(ApiException) as err:
        custom.patch_namespaced_custom_object(G, V, ns, P, name, {"metadata": {"annotations": {
            "serving.kserve.io/deploymentMode": new_mode}}})
    assert err.value.status == 403
    assert json.loads(err.value.body)["message"] == (
        'admission webhook "inferenceservice.kserve-webhook-server.validator" denied the request: update '
        f"rejected: deploymentMode cannot be changed from 'Knative' to '{new_mode}'")
    # the same mode under its other name is no change
    for same in ("Serverless", "Knative"):
        custom.patch_namespaced_custom_object(G, V, ns, P, name, {"metadata": {"annotations": {
            "serving.kserve.io/deploymentMode": same}}})


def test_canary_percent_150_is_accepted_like_a_real_server(kube_sandbox, custom, ns):
    """KServe has no range check on canaryTrafficPercent (pkg/apis/serving/v1beta1/component.go)."""
    custom.create_namespaced_custom_object(G, V, ns, P, body("big-pct"))
    out = custom.patch_namespaced_custom_object(G, V, ns, P, "big-pct",
                                                {"spec": {"predictor": {"canaryTrafficPercent": 150}}})
    assert out["spec"]["predictor"]["canaryTrafficPercent"] == 150


# -- lists, reviews, apply, protobuf -----------------------------------------------------------

def test_resource_version_match_on_list(kube_sandbox, custom, ns):
    """k8s.io/apimachinery pkg/apis/meta/internalversion/validation (ValidateListOptions) and the API
    concepts page's resourceVersion semantics: Exact serves that version, NotOlderThan the newest;
    a version never reached waits, then 504 "Too large resource version"."""
    from kubernetes.client.exceptions import ApiException
    sb = kube_sandbox
    custom.create_namespaced_custom_object(G, V, ns, P, body("rvm"))
    then = custom.list_namespaced_custom_object(G, V, ns, P)
    rv = then["metadata"]["resourceVersion"]
    custom.patch_namespaced_custom_object(G, V, ns, P, "rvm", {"metadata": {"labels": {"moved": "yes"}}})
    exact = custom.list_namespaced_custom_object(G, V, ns, P, resource_version=rv, resource_version_match="Exact")
    assert exact["metadata"]["resourceVersion"] == rv
    rvm_then = next(o for o in exact["items"] if o["metadata"]["name"] == "rvm")
    assert "moved" not in (rvm_then["metadata"].get("labels") or {})
    newer = custom.list_namespaced_custom_object(G, V, ns, P, resource_version=rv,
                                                 resource_version_match="NotOlderThan")
    assert int(newer["metadata"]["resourceVersion"]) > int(rv)
    with pytest.raises(ApiException) as err:
        custom.list_namespaced_custom_object(G, V, ns, P, resource_version_match="Exact")
    assert err.value.status == 422 and json.loads(err.value.body)["message"] == (
        'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is '
        'forbidden unless resourceVersion is provided')
    sb.kube.rv_wait = 0.2
    try:
        with pytest.raises(ApiException) as err:
            custom.list_namespaced_custom_object(G, V, ns, P, resource_version=str(sb.cluster.resource_version + 1000),
                                                 resource_version_match="NotOlderThan")
    finally:
        sb.kube.rv_wait = 3.0
    assert err.value.status == 504 and "Too large resource version" in err.value.body


def test_kubectl_auth_can_i_list(kube_sandbox):
    """SelfSubjectRulesReview (kubectl auth can-i --list sends it as protobuf)."""
    admin = kubectl(kube_sandbox, "auth", "can-i", "--list", "-n", "fraud", check=True).stdout
    assert "*.*" in admin
    viewer = kubectl(kube_sandbox, "auth", "can-i", "--list", "-n", "fraud", context="sandbox-viewer",
                     check=True).stdout
    rows = {line.split()[0]: line for line in viewer.splitlines()[1:] if line and not line.startswith(" ")}
    assert "[get list watch]" in rows["*.*"]  # reads everything, as its access reviews say
    assert "[create]" in rows["selfsubjectaccessreviews.authorization.k8s.io"]
    assert not any(verb in viewer for verb in ("patch", "update", "delete", "[*]"))


def test_server_side_apply_with_kubectl(kube_sandbox, ns):
    """PATCH application/apply-patch+yaml (k8s.io/apiserver pkg/endpoints/handlers/patch.go): creates,
    updates, drops what the manager no longer applies, and a different manager's value conflicts
    unless forced."""
    def manifest(uri: str, minreplicas: int | None = None) -> str:
        obj = {**body("ssa", uri), "metadata": {"name": "ssa", "namespace": ns}}
        if minreplicas is not None:
            obj["spec"]["predictor"]["minReplicas"] = minreplicas
        return json.dumps(obj)

    sb = kube_sandbox
    res = kubectl(sb, "apply", "--server-side", "-f", "-", input=manifest("s3://x/v1", 2), check=True)
    assert "serverside-applied" in res.stdout
    kubectl(sb, "apply", "--server-side", "-f", "-", input=manifest("s3://x/v2"), check=True)
    pred = sb.cluster.get(P, ns, "ssa")["spec"]["predictor"]
    assert pred["model"]["storageUri"] == "s3://x/v2" and "minReplicas" not in pred
    clash = kubectl(sb, "apply", "--server-side", "--field-manager", "gitops", "-f", "-", input=manifest("s3://x/v3"))
    assert clash.returncode != 0
    assert 'Apply failed with 1 conflict: conflict with "kubectl": .spec.predictor.model.storageUri' in clash.stderr
    kubectl(sb, "apply", "--server-side", "--force-conflicts", "--field-manager", "gitops", "-f", "-",
            input=manifest("s3://x/v3"), check=True)
    assert sb.cluster.get(P, ns, "ssa")["spec"]["predictor"]["model"]["storageUri"] == "s3://x/v3"
    with http(sb, sb.admin_token) as c:
        r = c.patch(f"/apis/{G}/{V}/namespaces/{ns}/{P}/ssa", content=manifest("s3://x/v4"),
                    headers={"Content-Type": "application/apply-patch+yaml"})
    assert r.status_code == 422 and r.json()["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch')


def _pb_len(num: int, data: bytes) -> bytes:
    def varint(n: int) -> bytes:
        out = b""
        while True:
            b, n = n & 0x7F, n >> 7
            out += bytes([b | (0x80 if n else 0)])
            if not n:
                return out
    return varint(num << 3 | 2) + varint(len(data)) + data


def namespace_protobuf(name: str) -> bytes:
    """A Namespace as client-go's protobuf serializer writes it: "k8s\\0" + runtime.Unknown{typeMeta,
    raw = Namespace{metadata: ObjectMeta{name}, spec: {}, status: {}}}."""
    ns = _pb_len(1, _pb_len(1, name.encode())) + _pb_len(2, b"") + _pb_len(3, b"")
    type_meta = _pb_len(1, b"v1") + _pb_len(2, b"Namespace")
    return b"k8s\x00" + _pb_len(1, type_meta) + _pb_len(2, ns) + _pb_len(3, b"") + _pb_len(4, b"")


def test_create_namespace_with_a_protobuf_body_like_kubectl(kube_sandbox):
    """kubectl create namespace X (client-go typed clients send application/vnd.kubernetes.protobuf
    for built-in kinds): POST /api/v1/namespaces?fieldManager=kubectl-create&fieldValidation=Strict.
    The answer is JSON, which client-go decodes by the response's Content-Type."""
    sb = kube_sandbox
    with http(sb, sb.admin_token) as c:
        r = c.post("/api/v1/namespaces", params={"fieldManager": "kubectl-create", "fieldValidation": "Strict"},
                   content=namespace_protobuf("from-protobuf"),
                   headers={"Content-Type": "application/vnd.kubernetes.protobuf",
                            "Accept": "application/vnd.kubernetes.protobuf, */*"})
        assert r.status_code == 201, r.text
        assert r.headers["content-type"].startswith("application/json")
        assert r.json()["metadata"]["name"] == "from-protobuf" and r.json()["status"]["phase"] == "Active"
        dry = c.post("/api/v1/namespaces", params={"dryRun": "All", "fieldManager": "kubectl-create"},
                     content=namespace_protobuf("dry-protobuf"),
                     headers={"Content-Type": "application/vnd.kubernetes.protobuf"})
        assert dry.status_code == 201 and not sb.cluster.namespace_exists("dry-protobuf")
    assert sb.cluster.namespace_exists("from-protobuf")
    res = kubectl(sb, "create", "namespace", "from-kubectl", check=True)
    assert res.stdout.strip() == "namespace/from-kubectl created"


def test_bookmarks_every_interval_and_two_seconds_before_the_deadline(tmp_path):
    """k8s.io/apiserver pkg/storage/cacher/cache_watcher.go, nextBookmarkTime: every
    defaultBookmarkFrequency (a minute; configurable here) and once 2 s before the watch times out."""
    sb = start_kube_sandbox(tmp_path, seed=False, bookmark_interval=60)
    try:
        sb.cluster.ensure_namespace("quiet")
        with http(sb, sb.admin_token) as c:
            start = time.monotonic()
            with c.stream("GET", f"/apis/{G}/{V}/namespaces/quiet/{P}",
                          params={"watch": "1", "allowWatchBookmarks": "true", "timeoutSeconds": "3"}) as r:
                marks = [(json.loads(line)["type"], time.monotonic() - start) for line in r.iter_lines() if line]
        assert [t for t, _ in marks] == ["BOOKMARK"]  # not every 60 s: once, before the 3 s deadline
        assert 0.5 < marks[0][1] < 3.0  # at the deadline minus 2 s (1 s in), not at the 60 s interval
    finally:
        sb.stop()


def test_event_series_update_as_client_gos_correlator(kube_sandbox, core, ns):
    """client-go's event correlator bumps a repeated Event with a strategic merge patch of count and
    lastTimestamp; Events allow unconditional updates (pkg/registry/core/event/strategy.go)."""
    core.create_namespaced_event(ns, event_body("again.1", ns, "model-a"))
    patched = core.patch_namespaced_event("again.1", ns, {"count": 2, "lastTimestamp": "2026-01-01T00:05:00Z",
                                                          "message": "m (again)"})
    assert (patched.count, patched.message) == (2, "m (again)")
    body = core.read_namespaced_event("again.1", ns)
    body.metadata.resource_version = None
    body.count = 3
    assert core.replace_namespaced_event("again.1", ns, body).count == 3


def test_events_k8s_io_v1_is_a_view_of_the_same_events(kube_sandbox, core, ns):
    """events.k8s.io/v1 shares the core Event storage with its own field names
    (pkg/apis/events/v1/conversion.go) and field labels (AddFieldLabelConversionsForEvent)."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException
    events_v1 = client.EventsV1Api(api_client(kube_sandbox))
    core.create_namespaced_event(ns, event_body("v1view.1", ns, "viewed-model", reason="CanaryPromote"))
    # raw JSON: an Event made through core/v1 has "eventTime": null in events.k8s.io/v1, as on a real
    # server, which this client's models refuse to parse
    got = json.loads(events_v1.read_namespaced_event("v1view.1", ns, _preload_content=False).data)
    assert got["eventTime"] is None and got["apiVersion"] == "events.k8s.io/v1"
    assert (got["regarding"]["name"], got["note"], got["reportingController"], got["deprecatedSource"]) == (
        "viewed-model", "m", "mlops-console", {"component": "mlops-console"})
    listed = json.loads(events_v1.list_namespaced_event(
        ns, field_selector="regarding.name=viewed-model,reason=CanaryPromote", _preload_content=False).data)
    assert [e["metadata"]["name"] for e in listed["items"]] == ["v1view.1"]
    with pytest.raises(ApiException) as err:
        events_v1.list_namespaced_event(ns, field_selector="involvedObject.name=viewed-model")
    assert err.value.status == 400 and "field label not supported: involvedObject.name" in err.value.body
    made = events_v1.create_namespaced_event(ns, {
        "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "v1made.1", "namespace": ns},
        "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "mlops-console",
        "reportingInstance": "bastion-1", "action": "Rollback", "reason": "CanaryRollback", "type": "Normal",
        "note": "from events.k8s.io", "regarding": {"apiVersion": f"{G}/{V}", "kind": "InferenceService",
                                                    "name": "viewed-model", "namespace": ns}})
    assert made.note == "from events.k8s.io"
    as_core = core.read_namespaced_event("v1made.1", ns)
    assert (as_core.message, as_core.involved_object.name, as_core.reporting_component) == (
        "from events.k8s.io", "viewed-model", "mlops-console")
    with pytest.raises(ApiException) as err:  # a "new" Event needs who reported it and what it did
        events_v1.create_namespaced_event(ns, {"apiVersion": "events.k8s.io/v1", "kind": "Event",
                                               "metadata": {"name": "v1bad.1", "namespace": ns},
                                               "eventTime": "2026-01-01T00:00:00.000000Z", "reason": "X",
                                               "regarding": {"kind": "InferenceService", "name": "x",
                                                             "namespace": ns}})
    assert err.value.status == 422 and "reportingController: Required value" in err.value.body
