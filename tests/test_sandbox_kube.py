"""The sandbox Kubernetes API over real HTTPS: kubectl and the official `kubernetes` client,
unmodified, against it. RBAC, conflicts, watches (bookmarks, 410), dry-run, validation, faults,
KServe's canary walk-through, and stored objects against the real KServe CRD schema."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from console import demo_data
from console.sandbox.kube_store import KubeError
from sandbox_fixtures import CRD, api_client, kubectl, split_of, start_kube_sandbox, wait_until

ROOT = Path(__file__).resolve().parent.parent
G, V, P = "serving.kserve.io", "v1beta1", "inferenceservices"


def manifest(name: str, ns: str, uri: str, canary: int | None = None, extra: str = "") -> str:
    canary_line = f"    canaryTrafficPercent: {canary}\n" if canary is not None else ""
    return (f"apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: {name}\n"
            f"  namespace: {ns}\nspec:\n  predictor:\n{canary_line}    model:\n      modelFormat:\n"
            f"        name: sklearn\n      storageUri: {uri}\n{extra}")


def body(name: str, uri: str = "s3://mlops-models/t/v1", canary: int | None = None) -> dict:
    pred: dict = {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": uri}}
    if canary is not None:
        pred["canaryTrafficPercent"] = canary
    return {"apiVersion": f"{G}/{V}", "kind": "InferenceService", "metadata": {"name": name}, "spec": {"predictor": pred}}


@pytest.fixture(scope="module")
def ns(kube_sandbox):
    kube_sandbox.cluster.ensure_namespace("tests")
    return "tests"


@pytest.fixture(scope="module")
def custom(kube_sandbox):
    from kubernetes import client
    return client.CustomObjectsApi(api_client(kube_sandbox))


@pytest.fixture(scope="module")
def viewer(kube_sandbox):
    from kubernetes import client
    return client.CustomObjectsApi(api_client(kube_sandbox, "sandbox-viewer"))


def http(sb, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    import ssl
    return httpx.Client(base_url=sb.kube_url, headers=headers, timeout=10,
                        verify=ssl.create_default_context(cafile=str(sb.state_dir / "pki" / "ca.crt")))


def ready_rev(obj: dict) -> str | None:
    return obj.get("status", {}).get("components", {}).get("predictor", {}).get("latestReadyRevision")


# -- files the sandbox writes --------------------------------------------------------------------

def test_endpoints_and_kubeconfig(kube_sandbox):
    ep = json.loads((kube_sandbox.state_dir / "endpoints.json").read_text())
    assert ep["contexts"] == {"admin": "sandbox-admin", "viewer": "sandbox-viewer"}
    assert ep["kubeconfig"] == str(kube_sandbox.kubeconfig_path)
    assert ep["kube_url"].startswith("https://127.0.0.1:")
    assert ep["kfp_url"] is None and ep["prometheus_url"] is None and ep["catalog"] is None
    import yaml
    cfg = yaml.safe_load(kube_sandbox.kubeconfig_path.read_text())
    assert cfg["current-context"] == "sandbox-admin"
    assert {c["name"] for c in cfg["contexts"]} == {"sandbox-admin", "sandbox-viewer"}
    assert cfg["clusters"][0]["cluster"]["certificate-authority-data"]
    assert oct(kube_sandbox.kubeconfig_path.stat().st_mode & 0o777) == "0o600"


# -- kubectl -----------------------------------------------------------------------------------

def test_kubectl_get_all_namespaces_prints_printer_columns(kube_sandbox):
    res = kubectl(kube_sandbox, "get", "isvc", "-A", check=True)
    lines = res.stdout.splitlines()
    assert lines[0].split()[:6] == ["NAMESPACE", "NAME", "URL", "READY", "PREV", "LATEST"]
    rows = {line.split()[1]: line.split() for line in lines[1:]}
    for s in demo_data.SERVED:
        assert s.name in rows
    canary = next(s for s in demo_data.SERVED if s.story == "canary")
    row = rows[canary.name]
    assert row[3] == "True" and row[4] == str(100 - canary.canary_percent) and row[5] == str(canary.canary_percent)
    failing = next(s for s in demo_data.SERVED if s.story == "failing")
    assert rows[failing.name][3] == "False"


def test_kubectl_get_json_and_namespaces(kube_sandbox):
    out = json.loads(kubectl(kube_sandbox, "get", "isvc", "-n", "fraud", "-o", "json", check=True).stdout)
    assert out["kind"] == "List" or out["kind"].endswith("List")
    assert {i["metadata"]["namespace"] for i in out["items"]} == {"fraud"}
    names = kubectl(kube_sandbox, "get", "ns", "-o", "name", check=True).stdout.split()
    assert {"namespace/fraud", "namespace/recsys"} <= set(names)
    missing = kubectl(kube_sandbox, "get", "isvc", "nope", "-n", "fraud")
    assert missing.returncode != 0 and 'inferenceservices.serving.kserve.io "nope" not found' in missing.stderr


def test_kubectl_patch_admin_and_viewer_forbidden(kube_sandbox, ns):
    kube_sandbox.cluster.create(P, ns, body("patch-me"))
    res = kubectl(kube_sandbox, "patch", "isvc", "patch-me", "-n", ns, "--type", "merge",
                  "-p", '{"spec":{"predictor":{"minReplicas":2}}}', check=True)
    assert "patched" in res.stdout
    assert kube_sandbox.cluster.get(P, ns, "patch-me")["spec"]["predictor"]["minReplicas"] == 2
    before = kube_sandbox.cluster.get(P, ns, "patch-me")["metadata"]["generation"]
    denied = kubectl(kube_sandbox, "patch", "isvc", "patch-me", "-n", ns, "--type", "merge",
                     "-p", '{"spec":{"predictor":{"minReplicas":3}}}', context="sandbox-viewer")
    assert denied.returncode != 0
    assert ('inferenceservices.serving.kserve.io "patch-me" is forbidden: User "viewer" cannot patch resource '
            f'"inferenceservices" in API group "serving.kserve.io" in the namespace "{ns}"') in denied.stderr
    after = kube_sandbox.cluster.get(P, ns, "patch-me")
    assert after["metadata"]["generation"] == before and after["spec"]["predictor"]["minReplicas"] == 2
    jp = kubectl(kube_sandbox, "patch", "isvc", "patch-me", "-n", ns, "--type", "json",
                 "-p", '[{"op":"replace","path":"/spec/predictor/minReplicas","value":4}]', check=True)
    assert "patched" in jp.stdout
    assert kube_sandbox.cluster.get(P, ns, "patch-me")["spec"]["predictor"]["minReplicas"] == 4
    # kubectl's default (strategic) patch type is refused for custom resources, as a real server does
    smp = kubectl(kube_sandbox, "patch", "isvc", "patch-me", "-n", ns, "-p", '{"spec":{"predictor":{"minReplicas":5}}}')
    assert smp.returncode != 0 and "UnsupportedMediaType" in smp.stderr or "unknown format" in smp.stderr


def test_kubectl_auth_can_i_and_whoami(kube_sandbox):
    assert kubectl(kube_sandbox, "auth", "can-i", "patch", "isvc", "-n", "fraud").stdout.strip() == "yes"
    no = kubectl(kube_sandbox, "auth", "can-i", "patch", "isvc", "-n", "fraud", context="sandbox-viewer")
    assert no.stdout.strip() == "no" and no.returncode == 1
    assert kubectl(kube_sandbox, "auth", "can-i", "watch", "isvc", "-A", context="sandbox-viewer").stdout.strip() == "yes"
    who = kubectl(kube_sandbox, "auth", "whoami", "-o", "json", context="sandbox-viewer", check=True)
    assert json.loads(who.stdout)["status"]["userInfo"]["username"] == "viewer"


def test_kserve_canary_walkthrough_with_kubectl_apply(kube_sandbox, ns):
    """KServe docs, 'Rollout InferenceService with Canary Strategy', step by step."""
    sb, name = kube_sandbox, "sklearn-iris"
    res = kubectl(sb, "apply", "-f", "-", input=manifest(name, ns, "gs://kfserving-examples/models/sklearn/1.0/model"))
    assert res.returncode == 0, res.stderr
    assert "created" in res.stdout
    obj = wait_until(lambda: (o := sb.cluster.get(P, ns, name)) and ready_rev(o) and o)
    assert split_of(obj) == {f"{name}-predictor-00001": 100}

    res = kubectl(sb, "apply", "-f", "-",
                  input=manifest(name, ns, "gs://kfserving-examples/models/sklearn/1.0/model-2", canary=10))
    assert res.returncode == 0 and "configured" in res.stdout, res.stderr
    obj = wait_until(lambda: (o := sb.cluster.get(P, ns, name)) and ready_rev(o) == f"{name}-predictor-00002" and o)
    assert split_of(obj) == {f"{name}-predictor-00001": 90, f"{name}-predictor-00002": 10}
    table = kubectl(sb, "get", "isvc", name, "-n", ns, check=True).stdout.splitlines()[1].split()
    assert table[2:7] == ["True", "90", "10", f"{name}-predictor-00001", f"{name}-predictor-00002"]

    res = kubectl(sb, "apply", "-f", "-", input=manifest(name, ns, "gs://kfserving-examples/models/sklearn/1.0/model-2"))
    assert res.returncode == 0, res.stderr
    obj = wait_until(lambda: (o := sb.cluster.get(P, ns, name)) and split_of(o) == {f"{name}-predictor-00002": 100} and o)
    pred = obj["status"]["components"]["predictor"]
    assert "canaryTrafficPercent" not in obj["spec"]["predictor"]
    assert pred["latestRolledoutRevision"] == f"{name}-predictor-00002"
    assert pred["previousRolledoutRevision"] == f"{name}-predictor-00001"
    assert obj["metadata"]["generation"] == 3


def test_kubectl_apply_strict_field_validation_and_invalid(kube_sandbox, ns):
    bad = manifest("strict-one", ns, "s3://x/v1", extra="    bogusField: 1\n")
    res = kubectl(kube_sandbox, "apply", "-f", "-", input=bad)
    assert res.returncode != 0 and 'unknown field "spec.predictor.bogusField"' in res.stderr
    with pytest.raises(KubeError) as err:
        kube_sandbox.cluster.get(P, ns, "strict-one")
    assert err.value.code == 404
    # KServe has no range check on canaryTrafficPercent (pkg/apis/serving/v1beta1/component.go): stored as sent
    res = kubectl(kube_sandbox, "apply", "-f", "-", input=manifest("pct-too-big", ns, "s3://x/v1", canary=150))
    assert res.returncode == 0, res.stderr
    assert kube_sandbox.cluster.get(P, ns, "pct-too-big")["spec"]["predictor"]["canaryTrafficPercent"] == 150


# -- the official kubernetes client ------------------------------------------------------------

def test_client_list_get_and_namespaces(kube_sandbox, custom):
    from kubernetes import client

    everything = custom.list_cluster_custom_object(G, V, P)
    assert everything["kind"] == "InferenceServiceList" and int(everything["metadata"]["resourceVersion"]) > 0
    assert {s.name for s in demo_data.SERVED} <= {i["metadata"]["name"] for i in everything["items"]}
    fraud = custom.list_namespaced_custom_object(G, V, "fraud", P)
    assert fraud["items"] and all(i["metadata"]["namespace"] == "fraud" for i in fraud["items"])
    one = custom.get_namespaced_custom_object(G, V, "fraud", P, "fraud-detector")
    assert one["metadata"]["uid"] and one["metadata"]["creationTimestamp"] and "managedFields" not in one["metadata"]
    nss = client.CoreV1Api(api_client(kube_sandbox)).list_namespace()
    assert {"fraud", "recsys"} <= {n.metadata.name for n in nss.items}
    assert client.VersionApi(api_client(kube_sandbox)).get_code().git_version.startswith("v1.32")


def test_client_paging_and_selectors(kube_sandbox, custom):
    first = custom.list_cluster_custom_object(G, V, P, limit=2)
    assert len(first["items"]) == 2 and first["metadata"]["continue"]
    rest = custom.list_cluster_custom_object(G, V, P, limit=100, _continue=first["metadata"]["continue"])
    names = [i["metadata"]["name"] for i in first["items"] + rest["items"]]
    assert len(names) == len(set(names)) == len(custom.list_cluster_custom_object(G, V, P)["items"])
    sel = custom.list_cluster_custom_object(G, V, P, label_selector="mlops-console.dev/model=credit-risk")
    assert [i["metadata"]["name"] for i in sel["items"]] == ["credit-risk"]
    fs = custom.list_cluster_custom_object(G, V, P, field_selector="metadata.namespace=recsys")
    assert fs["items"] and {i["metadata"]["namespace"] for i in fs["items"]} == {"recsys"}


def test_client_patch_with_precondition_and_conflict(kube_sandbox, custom, ns):
    from kubernetes.client.exceptions import ApiException

    custom.create_namespaced_custom_object(G, V, ns, P, body("rv-check"))
    wait_until(lambda: ready_rev(kube_sandbox.cluster.get(P, ns, "rv-check")))
    for _ in range(20):
        rv = kube_sandbox.cluster.get(P, ns, "rv-check")["metadata"]["resourceVersion"]
        try:
            ok = custom.patch_namespaced_custom_object(G, V, ns, P, "rv-check", {
                "metadata": {"resourceVersion": rv}, "spec": {"predictor": {"canaryTrafficPercent": 0}}})
            break
        except ApiException as exc:  # the controller wrote status in between (as KServe does): read again
            assert exc.status == 409 and kube_sandbox.cluster.get(P, ns, "rv-check")["metadata"]["resourceVersion"] != rv
    else:
        pytest.fail("20 patches with a just-read resourceVersion were all refused")
    assert ok["spec"]["predictor"]["canaryTrafficPercent"] == 0 and ok["metadata"]["resourceVersion"] != rv
    with pytest.raises(ApiException) as err:
        custom.patch_namespaced_custom_object(G, V, ns, P, "rv-check", {
            "metadata": {"resourceVersion": rv}, "spec": {"predictor": {"canaryTrafficPercent": 50}}})
    assert err.value.status == 409
    status = json.loads(err.value.body)
    assert status["kind"] == "Status" and status["reason"] == "Conflict"
    assert "the object has been modified" in status["message"]
    current = custom.get_namespaced_custom_object(G, V, ns, P, "rv-check")
    assert current["spec"]["predictor"]["canaryTrafficPercent"] == 0
    # PUT with a stale resourceVersion
    stale = dict(current, metadata=dict(current["metadata"], resourceVersion=rv))
    with pytest.raises(ApiException) as err:
        custom.replace_namespaced_custom_object(G, V, ns, P, "rv-check", stale)
    assert err.value.status == 409
    # PUT without a resourceVersion is refused for custom resources
    anon = dict(current, metadata={k: v for k, v in current["metadata"].items() if k != "resourceVersion"})
    with pytest.raises(ApiException) as err:
        custom.replace_namespaced_custom_object(G, V, ns, P, "rv-check", anon)
    assert err.value.status == 422
    # a JSON patch with a failing test op changes nothing
    with pytest.raises(ApiException) as err:
        custom.patch_namespaced_custom_object(G, V, ns, P, "rv-check", [
            {"op": "test", "path": "/spec/predictor/canaryTrafficPercent", "value": 99},
            {"op": "replace", "path": "/spec/predictor/canaryTrafficPercent", "value": 1}],
            _content_type="application/json-patch+json")
    assert err.value.status == 422


def test_concurrent_rollbacks_exactly_one_wins(kube_sandbox, custom, ns):
    from concurrent.futures import ThreadPoolExecutor

    from kubernetes.client.exceptions import ApiException

    custom.create_namespaced_custom_object(G, V, ns, P, body("race", canary=20))
    wait_until(lambda: ready_rev(kube_sandbox.cluster.get(P, ns, "race")))

    def rollback(rv: str):
        try:
            custom.patch_namespaced_custom_object(G, V, ns, P, "race", {
                "metadata": {"resourceVersion": rv}, "spec": {"predictor": {"canaryTrafficPercent": 0}}})
            return "ok"
        except ApiException as exc:
            return exc.status

    for _ in range(20):
        rv = kube_sandbox.cluster.get(P, ns, "race")["metadata"]["resourceVersion"]
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(rollback, [rv] * 4))
        assert results.count("ok") <= 1 and set(results) <= {"ok", 409}, results  # never two winners
        if "ok" in results:
            break
        # all four refused: the controller wrote status after rv was read (as KServe does); read again
        assert kube_sandbox.cluster.get(P, ns, "race")["metadata"]["resourceVersion"] != rv
    assert results.count("ok") == 1 and results.count(409) == 3


def test_dry_run_changes_nothing(kube_sandbox, custom, ns):
    created = custom.create_namespaced_custom_object(G, V, ns, P, body("dry", canary=20))
    wait_until(lambda: ready_rev(kube_sandbox.cluster.get(P, ns, "dry")))
    before = kube_sandbox.cluster.get(P, ns, "dry")
    rv_before = kube_sandbox.cluster.resource_version
    answer = custom.patch_namespaced_custom_object(G, V, ns, P, "dry", {"spec": {"predictor": {"canaryTrafficPercent": 0}}},
                                                   dry_run="All")
    assert answer["spec"]["predictor"]["canaryTrafficPercent"] == 0
    assert kube_sandbox.cluster.get(P, ns, "dry") == before
    assert kube_sandbox.cluster.resource_version == rv_before
    ghost = custom.create_namespaced_custom_object(G, V, ns, P, body("dry-ghost"), dry_run="All")
    assert ghost["metadata"]["name"] == "dry-ghost"
    from kubernetes.client.exceptions import ApiException
    with pytest.raises(ApiException) as err:
        custom.get_namespaced_custom_object(G, V, ns, P, "dry-ghost")
    assert err.value.status == 404
    custom.delete_namespaced_custom_object(G, V, ns, P, "dry", dry_run="All")
    assert kube_sandbox.cluster.get(P, ns, "dry")["metadata"]["uid"] == created["metadata"]["uid"]


def test_viewer_reads_but_gets_403_on_writes(kube_sandbox, viewer, ns):
    from kubernetes.client.exceptions import ApiException

    assert viewer.list_cluster_custom_object(G, V, P)["items"]
    with pytest.raises(ApiException) as err:
        viewer.patch_namespaced_custom_object(G, V, "fraud", P, "fraud-detector",
                                              {"spec": {"predictor": {"canaryTrafficPercent": 0}}})
    assert err.value.status == 403
    status = json.loads(err.value.body)
    assert status["reason"] == "Forbidden" and status["details"] == {
        "name": "fraud-detector", "group": G, "kind": P}
    with pytest.raises(ApiException) as err:
        viewer.create_namespaced_custom_object(G, V, ns, P, body("viewer-made"))
    assert err.value.status == 403 and 'cannot create resource "inferenceservices"' in json.loads(err.value.body)["message"]
    with pytest.raises(ApiException) as err:
        viewer.delete_namespaced_custom_object(G, V, "fraud", P, "credit-risk")
    assert err.value.status == 403
    assert kube_sandbox.cluster.get(P, "fraud", "fraud-detector")["spec"]["predictor"]["canaryTrafficPercent"] == 20


def test_access_reviews(kube_sandbox):
    from kubernetes import client

    def review(context, verb):
        api = client.AuthorizationV1Api(api_client(kube_sandbox, context))
        body = client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(namespace="fraud", verb=verb, group=G, resource=P,
                                                            name="fraud-detector")))
        return api.create_self_subject_access_review(body).status

    assert review("sandbox-admin", "patch").allowed is True
    assert review("sandbox-viewer", "patch").allowed is False
    assert review("sandbox-viewer", "get").allowed is True
    me = client.AuthenticationV1Api(api_client(kube_sandbox, "sandbox-viewer")).create_self_subject_review(
        client.V1SelfSubjectReview())
    assert me.status.user_info.username == "viewer"


def test_unauthenticated_and_raw_status_bodies(kube_sandbox):
    with http(kube_sandbox) as anon:
        assert anon.get("/version").status_code == 200
        r = anon.get(f"/apis/{G}/{V}/{P}")
        assert r.status_code == 401 and r.json()["kind"] == "Status" and r.json()["reason"] == "Unauthorized"
    with http(kube_sandbox, "not-a-token") as bad:
        assert bad.get(f"/apis/{G}/{V}/{P}").status_code == 401
    with http(kube_sandbox, kube_sandbox.admin_token) as c:
        r = c.get(f"/apis/{G}/{V}/namespaces/fraud/{P}/missing")
        assert r.status_code == 404 and r.json() == {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": f'{P}.{G} "missing" not found', "reason": "NotFound", "code": 404,
            "details": {"name": "missing", "group": G, "kind": P}}
        r = c.post(f"/apis/{G}/{V}/namespaces/tests/{P}", json=body("Bad_Name"))
        assert r.status_code == 422 and r.json()["reason"] == "Invalid" and "metadata.name" in r.json()["message"]
        r = c.post(f"/apis/{G}/{V}/namespaces/tests/{P}", json=body("typed", canary="lots"))
        assert r.status_code == 422 and "must be of type integer" in r.json()["message"]
        r = c.post(f"/apis/{G}/{V}/namespaces/tests/{P}",
                   json={"apiVersion": f"{G}/{V}", "kind": "InferenceService", "metadata": {"name": "nospec"}})
        assert r.status_code == 422 and "spec: Required value" in r.json()["message"]
        r = c.post(f"/apis/{G}/{V}/namespaces/no-such-ns/{P}", json=body("orphan"))
        assert r.status_code == 404 and 'namespaces "no-such-ns" not found' in r.json()["message"]
        extra = body("warned")
        extra["spec"]["predictor"]["mystery"] = True
        r = c.post(f"/apis/{G}/{V}/namespaces/tests/{P}", json=extra)
        assert r.status_code == 201 and "mystery" in r.headers.get("Warning", "")
        assert "mystery" not in r.json()["spec"]["predictor"]  # pruned, as structural schemas do
        r = c.post(f"/apis/{G}/{V}/namespaces/tests/{P}", json=body("warned"))
        assert r.status_code == 409 and r.json()["reason"] == "AlreadyExists"


def test_status_subresource_is_separate(kube_sandbox, custom, ns):
    created = custom.create_namespaced_custom_object(G, V, ns, P, dict(body("sub"), status={"url": "http://fake"}))
    assert "status" not in created or created["status"].get("url") != "http://fake"
    obj = wait_until(lambda: (o := kube_sandbox.cluster.get(P, ns, "sub")) and ready_rev(o) and o)
    patched = custom.patch_namespaced_custom_object(G, V, ns, P, "sub", {"status": {"url": "http://nope"}})
    assert patched["status"]["url"] == obj["status"]["url"]
    st = custom.get_namespaced_custom_object_status(G, V, ns, P, "sub")
    assert st["status"]["components"]["predictor"]["latestReadyRevision"] == "sub-predictor-00001"


# -- watches -----------------------------------------------------------------------------------

def test_watch_streams_changes_with_resource_versions(kube_sandbox, custom, ns):
    from kubernetes import watch

    rv = custom.list_namespaced_custom_object(G, V, ns, P)["metadata"]["resourceVersion"]
    custom.create_namespaced_custom_object(G, V, ns, P, body("watched"))
    custom.patch_namespaced_custom_object(G, V, ns, P, "watched", {"spec": {"predictor": {"minReplicas": 2}}})
    custom.delete_namespaced_custom_object(G, V, ns, P, "watched")
    w = watch.Watch()
    seen = []
    for ev in w.stream(custom.list_namespaced_custom_object, G, V, ns, P, resource_version=rv, timeout_seconds=2):
        if ev["raw_object"]["metadata"].get("name") == "watched":
            seen.append((ev["type"], int(ev["raw_object"]["metadata"]["resourceVersion"])))
        if ev["type"] == "DELETED":
            w.stop()
    types = [t for t, _ in seen]
    assert types[0] == "ADDED" and types[-1] == "DELETED" and "MODIFIED" in types
    rvs = [r for _, r in seen]
    assert rvs == sorted(rvs) and len(set(rvs)) == len(rvs)


def test_watch_bookmarks(kube_sandbox, ns):
    rv = kube_sandbox.cluster.resource_version
    with http(kube_sandbox, kube_sandbox.admin_token) as c:
        with c.stream("GET", f"/apis/{G}/{V}/namespaces/{ns}/{P}",
                      params={"watch": "1", "allowWatchBookmarks": "true", "resourceVersion": str(rv),
                              "timeoutSeconds": "10"}) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                ev = json.loads(line)
                if ev["type"] == "BOOKMARK":
                    assert ev["object"]["kind"] == "InferenceService"
                    assert int(ev["object"]["metadata"]["resourceVersion"]) >= rv
                    break
            else:
                pytest.fail("no BOOKMARK event")
        # without allowWatchBookmarks: none
        types = []
        with c.stream("GET", f"/apis/{G}/{V}/namespaces/{ns}/{P}",
                      params={"watch": "1", "resourceVersion": str(rv), "timeoutSeconds": "1"}) as r:
            types = [json.loads(line)["type"] for line in r.iter_lines() if line]
        assert "BOOKMARK" not in types


def test_watch_initial_events_and_send_initial_events_bookmark(kube_sandbox):
    with http(kube_sandbox, kube_sandbox.admin_token) as c:
        with c.stream("GET", f"/apis/{G}/{V}/namespaces/fraud/{P}",
                      params={"watch": "1", "sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan",
                              "allowWatchBookmarks": "true", "timeoutSeconds": "2"}) as r:
            events = []
            for line in r.iter_lines():
                ev = json.loads(line)
                events.append(ev)
                if ev["type"] == "BOOKMARK":
                    break
    adds = [e["object"]["metadata"]["name"] for e in events if e["type"] == "ADDED"]
    assert sorted(adds) == sorted(s.name for s in demo_data.SERVED if s.namespace == "fraud")
    assert events[-1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_expired_watch_gets_410_and_relist_recovers(kube_sandbox, custom, ns):
    from kubernetes import watch
    from kubernetes.client.exceptions import ApiException

    rv = custom.list_namespaced_custom_object(G, V, ns, P)["metadata"]["resourceVersion"]
    custom.create_namespaced_custom_object(G, V, ns, P, body("expiry"))
    kube_sandbox.cluster.expire_watches()
    with http(kube_sandbox, kube_sandbox.admin_token) as c:
        r = c.get(f"/apis/{G}/{V}/namespaces/{ns}/{P}", params={"watch": "1", "resourceVersion": rv})
        ev = json.loads(r.text.splitlines()[0])
        assert ev["type"] == "ERROR" and ev["object"]["code"] == 410 and ev["object"]["reason"] == "Expired"
        assert ev["object"]["kind"] == "Status"
    with pytest.raises(ApiException) as err:
        for _ in watch.Watch().stream(custom.list_namespaced_custom_object, G, V, ns, P, resource_version=rv,
                                      timeout_seconds=1):
            pass
    assert err.value.status == 410
    fresh = custom.list_namespaced_custom_object(G, V, ns, P)["metadata"]["resourceVersion"]
    got = list(watch.Watch().stream(custom.list_namespaced_custom_object, G, V, ns, P, resource_version=fresh,
                                    timeout_seconds=1))
    assert all(e["type"] != "ERROR" for e in got)


def test_bounded_history_expires_old_resource_versions(tmp_path):
    sb = start_kube_sandbox(tmp_path, seed=False, history=20)
    try:
        sb.cluster.ensure_namespace("h")
        old = sb.cluster.resource_version
        sb.cluster.bulk_create(15, ["h"])  # each create + controller status writes: > 20 events
        wait_until(lambda: sb.cluster.resource_version > old + 25)
        with http(sb, sb.admin_token) as c:
            r = c.get(f"/apis/{G}/{V}/{P}", params={"watch": "1", "resourceVersion": str(old)})
            ev = json.loads(r.text.splitlines()[0])
            assert ev["type"] == "ERROR" and ev["object"]["code"] == 410
    finally:
        sb.stop()


# -- faults ------------------------------------------------------------------------------------

def test_injected_faults(kube_sandbox, custom):
    from kubernetes.client.exceptions import ApiException

    kube_sandbox.cluster.faults.add(r"/inferenceservices$", status=503, times=1)
    with pytest.raises(ApiException) as err:
        custom.list_cluster_custom_object(G, V, P)
    assert err.value.status == 503
    assert custom.list_cluster_custom_object(G, V, P)["items"]  # only once
    kube_sandbox.cluster.faults.add(r"/inferenceservices$", status=429, times=1, method="GET")
    with http(kube_sandbox, kube_sandbox.admin_token) as c:
        r = c.get(f"/apis/{G}/{V}/{P}")
        assert r.status_code == 429 and r.headers["Retry-After"] == "1"
        kube_sandbox.cluster.faults.add(r"/inferenceservices$", body=b'{"items": [', times=1)
        r = c.get(f"/apis/{G}/{V}/{P}")
        assert r.status_code == 200 and r.content == b'{"items": ['
        kube_sandbox.cluster.faults.add(r"/inferenceservices$", drop=True, times=1)
        with pytest.raises(httpx.TransportError):
            c.get(f"/apis/{G}/{V}/{P}")
        fault = kube_sandbox.cluster.faults.add(r"/inferenceservices$", delay=0.3, times=1)
        with pytest.raises(httpx.TimeoutException):
            c.get(f"/apis/{G}/{V}/{P}", timeout=0.05)
        assert fault.hits == 1


# -- the CRD schema ----------------------------------------------------------------------------

def test_stored_objects_validate_against_the_kserve_crd(kube_sandbox):
    if not CRD.exists():
        pytest.skip("../shared/reference/kserve_inferenceservices.crd.yaml is not present")
    jsonschema = pytest.importorskip("jsonschema")
    yaml = pytest.importorskip("yaml")
    crd = yaml.load(CRD.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    version = next(v for v in crd["spec"]["versions"] if v["name"] == V)
    schema = version["schema"]["openAPIV3Schema"]
    validator = jsonschema.Draft7Validator(schema)
    objs = kube_sandbox.cluster.inference_services()
    assert len(objs) >= len(demo_data.SERVED)
    for obj in objs:
        errors = sorted(validator.iter_errors(obj), key=str)
        assert not errors, f"{obj['metadata']['name']}: {errors[0].message} at {list(errors[0].path)}"
    # and the schema catches what our validator catches: an out-of-type value
    broken = json.loads(json.dumps(objs[0]))
    broken["spec"]["predictor"]["canaryTrafficPercent"] = "ten"
    assert list(validator.iter_errors(broken))


# -- the foreground command --------------------------------------------------------------------

@pytest.mark.parametrize("entry", [["console.sandbox.runner", "up"], ["console", "sandbox", "up"]],
                         ids=["runner", "cli"])
def test_sandbox_up_foreground_until_sigterm(tmp_path, entry):
    state = tmp_path / "state"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", *entry, "--state-dir", str(state),
                             "--no-prometheus", "--no-kfp", "--no-catalog", "--ready-delay", "0"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: (state / "endpoints.json").exists() or proc.poll() is not None, timeout=20)
        assert proc.poll() is None, proc.stderr.read()
        ep = json.loads((state / "endpoints.json").read_text())
        res = subprocess.run(["kubectl", "get", "isvc", "-A", "-o", "name"], capture_output=True, text=True,
                             env=dict(os.environ, KUBECONFIG=ep["kubeconfig"]), timeout=30)
        assert res.returncode == 0 and "inferenceservice.serving.kserve.io/fraud-detector" in res.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert f"export KUBECONFIG={state / 'kubeconfig'}" in out and "kubectl get isvc -A" in out
    assert "Traceback" not in err


def test_sandbox_up_bad_input_exits_2(tmp_path, capsys):
    from console.cli import main

    assert main(["sandbox", "up", "--state-dir", str(tmp_path), "--ready-delay", "-1"]) == 2
    err = capsys.readouterr().err
    assert "--ready-delay" in err and "Traceback" not in err
