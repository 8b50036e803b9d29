"""Standard (RawDeployment) mode canaries, as KServe 0.20 runs them (issue 13).

Sources followed (kserve/kserve):
- pkg/apis/serving/v1beta1/inference_service.go: CanarySpec{predictor, trafficPercent};
- pkg/apis/serving/v1beta1/inference_service_status.go: CanaryStatus{name, ready, trafficPercent,
  modelStatus}, the condition CanaryPredictorReady;
- pkg/controller/v1beta1/inferenceservice/components/predictor.go: reconcileCanaryDeployments
  (a Deployment per canary, {isvc}-{name}-predictor; ready = availableReplicas > 0; reasons
  AllCanariesReady / CanariesNotReady), canaryReplicaCount (ceil(stable x percent / 100));
- pkg/controller/v1beta1/inferenceservice/reconcilers/ingress/httproute_reconciler.go:
  applyCanaryWeights (only ready canaries get their weight, the stable predictor the rest);
- pkg/constants/constants.go: PredictorServiceName.
"""

from __future__ import annotations

import json as _json

import pytest

from adapters.kube import parse_inference_service
from console import rollouts
from console.sandbox.kserve_sim import reconcile
from sandbox_fixtures import CRD, kubectl, start_kube_sandbox, wait_until

STABLE_URI = "s3://mlops-models/fraud-detector/v38"
CANARY_URI = "s3://mlops-models/fraud-detector/v39"


def standard_isvc(canary_ready: bool | None, percent: int = 20, **status_extra) -> dict:
    """An object as KServe 0.20's controller leaves it: spec.canary[] plus canaryStatuses."""
    obj = {
        "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        "metadata": {"name": "fraud", "namespace": "ml", "resourceVersion": "7",
                     "annotations": {"serving.kserve.io/deploymentMode": "Standard"}},
        "spec": {
            "predictor": {"minReplicas": 4, "model": {"modelFormat": {"name": "xgboost"}, "storageUri": STABLE_URI}},
            "canary": [{"trafficPercent": percent,
                        "predictor": {"name": "v39", "model": {"modelFormat": {"name": "xgboost"},
                                                               "name": "kserve-container",
                                                               "storageUri": CANARY_URI}}}],
        },
        "status": {"deploymentMode": "Standard",
                   "conditions": [{"type": "PredictorReady", "status": "True"}, {"type": "Ready", "status": "True"}],
                   **status_extra},
    }
    if canary_ready is not None:
        obj["status"]["canaryStatuses"] = [{"name": "v39", "ready": canary_ready, "trafficPercent": percent}]
        obj["status"]["conditions"].append({"type": "CanaryPredictorReady", "status": "True" if canary_ready else "False",
                                            "reason": "AllCanariesReady" if canary_ready else "CanariesNotReady"})
    return obj


def test_parse_ready_standard_canary_split_follows_the_httproute_weights():
    isvc = parse_inference_service(standard_isvc(True))
    assert isvc.standard_canary and isvc.problems == []
    (canary,) = isvc.canaries
    assert (canary.name, canary.deployment, canary.percent, canary.ready, canary.storage_uri) == (
        "v39", "fraud-v39-predictor", 20, True, CANARY_URI)
    assert isvc.stable_deployment == "fraud-predictor"
    assert (isvc.latest_revision, isvc.latest_percent) == ("fraud-v39-predictor", 20)
    assert (isvc.prev_revision, isvc.prev_percent) == ("fraud-predictor", 80)
    assert {t.revision: (t.percent, t.ready) for t in isvc.traffic} == {
        "fraud-predictor": (80, True), "fraud-v39-predictor": (20, True)}


def test_a_canary_that_is_not_ready_gets_no_traffic():
    isvc = parse_inference_service(standard_isvc(False))
    assert isvc.canaries[0].percent == 20 and isvc.canaries[0].ready is False
    assert (isvc.latest_percent, isvc.prev_percent) == (0, 100)


def test_canary_before_the_controller_reports_it_is_not_known_ready():
    isvc = parse_inference_service(standard_isvc(None))
    assert isvc.canaries[0].ready is None and isvc.prev_percent == 100


def test_named_stable_predictor_has_its_own_deployment_name():
    obj = standard_isvc(True)
    obj["spec"]["predictor"]["name"] = "v38"
    assert parse_inference_service(obj).stable_deployment == "fraud-v38-predictor"


def test_malformed_canary_entries_become_problems_not_exceptions():
    obj = standard_isvc(True)
    obj["spec"]["canary"] = [{"trafficPercent": "lots", "predictor": {}}]
    obj["status"]["canaryStatuses"] = "yes"
    problems = parse_inference_service(obj).problems
    assert "spec.canary[0].predictor.name is missing" in problems
    assert "spec.canary[0].trafficPercent is not a number: 'lots'" in problems
    assert "status.canaryStatuses is not a list" in problems


def test_json_row_keeps_todays_keys_and_adds_canaries():
    serverless = rollouts.row(parse_inference_service({"metadata": {"name": "a", "namespace": "b"},
                                                       "spec": {"predictor": {}}}))
    standard = rollouts.row(parse_inference_service(standard_isvc(False)))
    assert set(serverless) == set(standard)
    assert serverless["canaries"] == []
    assert standard["canaries"] == [{"name": "v39", "percent": 20, "ready": False, "storage_uri": CANARY_URI}]
    assert (standard["latest_revision"], standard["prev_revision"]) == ("fraud-v39-predictor", "fraud-predictor")


# -- the controller simulator (console/sandbox/kserve_sim.py) ------------------------------------
# follows components/predictor.go (reconcileCanaryDeployments, buildCanaryPredictor,
# canaryReplicaCount) and httproute_reconciler.go (applyCanaryWeights)


def _spec_only(obj: dict) -> dict:
    return {"metadata": {**obj["metadata"], "uid": "u1"}, "spec": obj["spec"]}


def _conditions(status: dict) -> dict:
    return {c["type"]: (c["status"], c.get("reason")) for c in status["conditions"]}


def test_sim_canary_deployment_gets_ready_after_the_delay():
    obj = _spec_only(standard_isvc(None))
    rec, status, wake = reconcile(obj, None, 1000.0, ready_delay=5.0)
    # the stable predictor and the canary start together; neither is ready before the delay
    assert status["canaryStatuses"] == [{"name": "v39", "ready": False, "trafficPercent": 20}]
    assert _conditions(status)["CanaryPredictorReady"] == ("False", "CanariesNotReady")
    assert wake == 1005.0 and set(rec.canaries) == {"v39"} and rec.canaries["v39"].name == "fraud-v39-predictor"
    obj["status"] = status
    rec, status, wake = reconcile(obj, rec, wake, ready_delay=5.0)
    assert status["canaryStatuses"] == [{"name": "v39", "ready": True, "trafficPercent": 20}]
    assert _conditions(status)["CanaryPredictorReady"] == ("True", "AllCanariesReady")
    assert _conditions(status)["Ready"][0] == "True"  # CanaryPredictorReady is not in Ready's condition set
    obj["status"] = status
    isvc = parse_inference_service(obj)
    assert (isvc.latest_percent, isvc.prev_percent) == (20, 80)


def test_sim_canary_that_never_gets_ready_leaves_the_stable_predictor_all_traffic():
    broken = {CANARY_URI}
    obj = _spec_only(standard_isvc(None))
    fail = lambda o, p: "ModelLoadFailed" if (p.get("model") or {}).get("storageUri") in broken else None  # noqa: E731
    rec, status, wake = reconcile(obj, None, 1000.0, ready_delay=0.0, failure=fail)
    assert wake is None and rec.canaries["v39"].failure == "ModelLoadFailed"
    assert status["canaryStatuses"][0]["ready"] is False
    assert _conditions(status)["CanaryPredictorReady"] == ("False", "CanariesNotReady")
    assert _conditions(status)["Ready"][0] == "True"
    obj["status"] = status
    isvc = parse_inference_service(obj)
    assert (isvc.latest_percent, isvc.prev_percent, isvc.canaries[0].ready) == (0, 100, False)


def test_sim_promotion_adopts_the_canary_deployment_without_a_restart_and_rollback_removes_it():
    obj = _spec_only(standard_isvc(None))
    rec, status, _ = reconcile(obj, None, 1000.0, ready_delay=1.0)
    rec, status, _ = reconcile({**obj, "status": status}, rec, 1001.0, ready_delay=1.0)
    canary = rec.canaries["v39"]
    # KServe's promotion (test/e2e/predictor/test_canary_raw_deployment.py, test_canary_promote):
    # the stable predictor takes the canary's name and model, spec.canary is emptied
    promoted = {**obj, "status": status, "spec": {"predictor": {
        **obj["spec"]["predictor"], "name": "v39",
        "model": {"modelFormat": {"name": "xgboost"}, "name": "kserve-container", "storageUri": CANARY_URI}}}}
    rec2, status2, wake = reconcile(promoted, rec, 1050.0, ready_delay=1.0)
    stable = rec2.revisions[-1]
    assert (stable.created, stable.ready_at) == (canary.created, canary.ready_at)  # the same pods, not new ones
    assert wake is None and rec2.canaries == {} and "canaryStatuses" not in status2
    assert "CanaryPredictorReady" not in _conditions(status2)
    assert parse_inference_service({**promoted, "status": status2}).stable_deployment == "fraud-v39-predictor"
    # rollback = remove the entry: the canary's Deployment goes, the stable one is untouched
    rolled = {**obj, "status": status, "spec": {"predictor": obj["spec"]["predictor"]}}
    rec3, status3, _ = reconcile(rolled, rec, 1050.0, ready_delay=1.0)
    assert rec3.canaries == {} and rec3.revisions == rec.revisions


def test_canary_replicas_default_to_ceil_of_the_stable_share():
    """canaryReplicaCount (components/predictor.go): ceil(stable minReplicas x percent / 100)."""
    isvc = parse_inference_service(standard_isvc(True))  # stable minReplicas 4
    assert [rollouts.canary_replicas(isvc, p) for p in (20, 30, 0)] == [1, 2, 0]  # ceil(0.8), ceil(1.2), dark
    isvc.min_replicas = None  # KServe's default stable minReplicas is 1
    assert rollouts.canary_replicas(isvc, 10) == 1


# -- over sockets: the webhook's refusals (kubectl as the peer), the controller, the CRD ---------

NS = "std"
DENIED = 'admission webhook "inferenceservice.kserve-webhook-server.validator" denied the request: '


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    sandbox = start_kube_sandbox(tmp_path_factory.mktemp("standard"))
    sandbox.cluster.ensure_namespace(NS)
    yield sandbox
    sandbox.stop()


def _manifest(name: str, mode: str | None = "Standard", **canary_predictor) -> dict:
    obj = standard_isvc(None)
    obj.pop("status")
    obj["metadata"] = {"name": name, "namespace": NS,
                       "annotations": {"serving.kserve.io/deploymentMode": mode} if mode else {}}
    obj["spec"]["canary"][0]["predictor"].update(canary_predictor)
    return obj


def _kubectl_create(sb, obj: dict):
    return kubectl(sb, "create", "-f", "-", input=_json.dumps(obj))


@pytest.mark.parametrize("mode,extra,message", [
    (None, {}, "canary is only supported in Standard deployment mode"),
    ("Serverless", {}, "canary is only supported in Standard deployment mode"),
    ("Standard", {"maxReplicas": 3}, 'canary "v39" must not set maxReplicas (canary uses fixed replicas)'),
    ("Standard", {"scaleTarget": 50}, 'canary "v39" must not set scaleTarget (canary uses fixed replicas)'),
    ("Standard", {"scaleMetric": "cpu"}, 'canary "v39" must not set scaleMetric (canary uses fixed replicas)'),
    ("Standard", {"minReplicas": 5},
     'canary "v39" minReplicas (5) must not exceed stable predictor minReplicas (4)'),
])
def test_webhook_refuses_a_canary_with_kserves_message(sb, mode, extra, message):
    """inference_service_validation.go, validateCanarySpecs: a create refused with its message."""
    res = _kubectl_create(sb, _manifest(f"refused-{len(extra)}-{(mode or 'none').lower()}", mode, **extra))
    assert res.returncode != 0
    assert DENIED + message in res.stderr


def test_webhook_refuses_canary_traffic_above_100_on_update(sb):
    _kubectl_create(sb, _manifest("total")).check_returncode()
    second = {"trafficPercent": 90, "predictor": {"name": "v40", "model": {
        "modelFormat": {"name": "xgboost"}, "name": "kserve-container",
        "storageUri": "s3://mlops-models/fraud-detector/v40"}}}
    first = _manifest("total")["spec"]["canary"][0]
    res = kubectl(sb, "-n", NS, "patch", "isvc", "total", "--type", "merge",
                  "-p", _json.dumps({"spec": {"canary": [first, second]}}))
    assert res.returncode != 0
    assert DENIED + "sum of canary trafficPercent values (110) must be <= 100" in res.stderr
    # the CRD's own bound comes first (422), as the API server checks the schema before webhooks
    first["trafficPercent"] = 101
    res = kubectl(sb, "-n", NS, "patch", "isvc", "total", "--type", "merge",
                  "-p", _json.dumps({"spec": {"canary": [first]}}))
    assert res.returncode != 0 and "spec.canary[0].trafficPercent" in res.stderr and "denied" not in res.stderr
    del first["predictor"]["model"]["name"]
    first["trafficPercent"] = 10
    res = kubectl(sb, "-n", NS, "patch", "isvc", "total", "--type", "merge",
                  "-p", _json.dumps({"spec": {"canary": [first]}}))
    assert res.returncode != 0 and "spec.canary[0].predictor.model.name: Required value" in res.stderr


def test_controller_runs_the_canary_deployment_and_its_pods(sb):
    _kubectl_create(sb, _manifest("live")).check_returncode()
    out = wait_until(lambda: (lambda o: o if (o.get("status") or {}).get("canaryStatuses", [{}])[0].get("ready")
                              else None)(sb.cluster.get("inferenceservices", NS, "live")))
    assert out["status"]["canaryStatuses"] == [{"name": "v39", "ready": True, "trafficPercent": 20}]
    # its pods labelled app=<Deployment> (KServe 0.15+ GetRawServiceLabel), its Deployment served
    res = kubectl(sb, "-n", NS, "get", "pods", "-l", "app=live-v39-predictor", "-o", "name", check=True)
    assert res.stdout.strip().startswith("pod/live-v39-predictor-")
    res = kubectl(sb, "-n", NS, "get", "deploy", "live-v39-predictor", "-o", "name", check=True)
    assert res.stdout.strip() == "deployment.apps/live-v39-predictor"


def test_standard_canary_objects_validate_against_the_kserve_crd(sb):
    if not CRD.exists():
        pytest.skip("../shared/reference/kserve_inferenceservices.crd.yaml is not present")
    jsonschema = pytest.importorskip("jsonschema")
    yaml = pytest.importorskip("yaml")
    crd = yaml.load(CRD.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1beta1")
    validator = jsonschema.Draft7Validator(version["schema"]["openAPIV3Schema"])
    _kubectl_create(sb, _manifest("crd")).check_returncode()
    obj = wait_until(lambda: (lambda o: o if (o.get("status") or {}).get("canaryStatuses") else None)(
        sb.cluster.get("inferenceservices", NS, "crd")))
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)]
    assert errors == []


# -- the actions in Standard mode, through the CLI and the action path -------------------------

from adapters.kube import KubeClient  # noqa: E402
from console import cli  # noqa: E402


def _cli(capsys, sb, *argv) -> tuple[int, str, str]:
    code = cli.main(["--kubeconfig", str(sb.kubeconfig_path), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _live(sb, name: str, **canary_predictor):
    """A Standard-mode InferenceService whose canary is ready (as KServe reports it)."""
    _kubectl_create(sb, _manifest(name, **canary_predictor)).check_returncode()
    client = KubeClient(str(sb.kubeconfig_path))
    wait_until(lambda: all(c.ready for c in client.get_inference_service(NS, name).canaries))
    return client


def _audit(capsys, target: str) -> list[dict]:
    assert cli.main(["audit", "list", "--json", "--target", target]) == 0
    return _json.loads(capsys.readouterr().out)


def test_cli_json_lists_standard_canaries(sb, capsys):
    _live(sb, "js")
    code, out, _ = _cli(capsys, sb, "rollout", "list", "-n", NS, "--json")
    row = next(r for r in _json.loads(out) if r["name"] == "js")
    assert code == 0 and row["canaries"] == [{"name": "v39", "percent": 20, "ready": True, "storage_uri": CANARY_URI}]
    assert (row["latest_revision"], row["latest_percent"], row["prev_revision"], row["prev_percent"]) == (
        "js-v39-predictor", 20, "js-predictor", 80)
    code, out, _ = _cli(capsys, sb, "rollout", "status", "js", "-n", NS, "--json")
    status = _json.loads(out)
    assert code == 0 and status["canaries"] == row["canaries"] and status["can_canary"] is True


def test_set_and_step_change_the_canary_traffic_percent(sb, capsys):
    client = _live(sb, "st")
    code, _, err = _cli(capsys, sb, "rollout", "set", "st", "-n", NS, "--percent", "50", "--reason", "ok", "--yes")
    assert code == 0, err
    assert "spec.canary[v39].trafficPercent: 20 -> 50" in err
    wait_until(lambda: client.get_inference_service(NS, "st").prev_percent == 50)
    code, _, err = _cli(capsys, sb, "rollout", "step", "st", "-n", NS, "--down", "--step", "10", "--reason", "r",
                        "--yes")
    assert code == 0 and "spec.canary[v39].trafficPercent: 50 -> 40" in err
    raw = client.get_raw(NS, "st")
    assert raw["spec"]["canary"][0]["trafficPercent"] == 40
    assert raw["spec"]["canary"][0]["predictor"]["model"]["storageUri"] == CANARY_URI  # the rest of the entry kept
    row = _audit(capsys, f"{NS}/st")[0]  # newest first: the step
    assert (row["outcome"], row["reason"]) == ("applied", "r")
    assert row["before"]["canaries"][0]["trafficPercent"] == 50 and row["after"]["canaries"][0]["trafficPercent"] == 40


def test_set_refuses_a_total_above_100(sb, capsys):
    client = _live(sb, "tot")
    raw = client.get_raw(NS, "tot")
    second = {"trafficPercent": 30, "predictor": {"name": "v40", "model": {
        "modelFormat": {"name": "xgboost"}, "name": "kserve-container", "storageUri": "s3://mlops-models/fraud-detector/v40"}}}
    client.patch_inference_service(NS, "tot", {"spec": {"canary": raw["spec"]["canary"] + [second]}},
                                   resource_version=raw["metadata"]["resourceVersion"])
    before = client.get_raw(NS, "tot")["spec"]
    code, _, err = _cli(capsys, sb, "rollout", "set", "tot", "-n", NS, "--percent", "80", "--reason", "r", "--yes")
    assert code == 2 and "canary percentages would sum to 110" in err and "at most 70%" in err
    assert client.get_raw(NS, "tot")["spec"] == before


def test_promote_does_kserves_promotion_with_the_exact_patch(sb, capsys):
    client = _live(sb, "pr")
    pods_before = kubectl(sb, "-n", NS, "get", "pods", "-l", "app=pr-v39-predictor", "-o",
                          "jsonpath={.items[*].metadata.uid}", check=True).stdout
    code, _, err = _cli(capsys, sb, "rollout", "promote", "pr", "-n", NS, "--reason", "green", "--yes")
    assert code == 0, err
    assert "spec.predictor.name: (unset) -> v39" in err
    assert f"spec.predictor.model.storageUri: {STABLE_URI} -> {CANARY_URI}" in err
    assert f"spec.canary[v39]: {CANARY_URI} at 20% -> (unset)" in err
    shown = next(line.split("merge patch: ", 1)[1] for line in err.splitlines() if "merge patch: " in line)
    assert _json.loads(shown) == {"spec": {"canary": None, "predictor": {"name": "v39", "model": {
        "modelFormat": {"name": "xgboost"}, "name": "kserve-container", "storageUri": CANARY_URI}}}}
    raw = client.get_raw(NS, "pr")
    assert "canary" not in raw["spec"] and raw["spec"]["predictor"]["name"] == "v39"
    assert raw["spec"]["predictor"]["minReplicas"] == 4  # the stable replicas stay
    isvc = wait_until(lambda: (lambda i: i if "canaryStatuses" not in client.get_raw(NS, "pr")["status"] else None)(
        client.get_inference_service(NS, "pr")))
    assert isvc.stable_deployment == "pr-v39-predictor" and isvc.storage_uri == CANARY_URI
    # no restart: the canary's pods now serve as the stable predictor
    pods_after = kubectl(sb, "-n", NS, "get", "pods", "-l", "app=pr-v39-predictor", "-o",
                         "jsonpath={.items[*].metadata.uid}", check=True).stdout
    assert pods_after == pods_before != ""
    code, _, err = _cli(capsys, sb, "rollout", "promote", "pr", "-n", NS, "--reason", "again", "--yes")
    assert code == 2 and "not possible in RawDeployment mode" not in err and "spec.canary[] entry" in err


def test_rollback_removes_the_entry(sb, capsys):
    client = _live(sb, "rb")
    code, _, err = _cli(capsys, sb, "rollout", "rollback", "rb", "-n", NS, "--reason", "p99 doubled", "--yes")
    assert code == 0, err
    assert f"spec.canary[v39]: {CANARY_URI} at 20% -> (unset)" in err
    raw = client.get_raw(NS, "rb")
    assert "canary" not in raw["spec"] and raw["spec"]["predictor"]["model"]["storageUri"] == STABLE_URI
    wait_until(lambda: kubectl(sb, "-n", NS, "get", "pods", "-l", "app=rb-v39-predictor", "-o", "name",
                               check=True).stdout.strip() == "")


def test_start_canary_adds_an_entry_named_after_the_version(sb, capsys):
    client = _live(sb, "sc")
    _cli(capsys, sb, "rollout", "rollback", "sc", "-n", NS, "--reason", "r", "--yes")
    uri = "s3://mlops-models/fraud-detector/v41"
    code, _, err = _cli(capsys, sb, "rollout", "start-canary", "sc", "-n", NS, "--storage-uri", uri,
                        "--percent", "30", "--reason", "try v41", "--yes")
    assert code == 0, err
    assert f"spec.canary[v41]: (unset) -> {uri} at 30%" in err
    assert "2 replicas (KServe's default: ceil(4 x 30 / 100))" in err
    entry = client.get_raw(NS, "sc")["spec"]["canary"][0]
    assert entry == {"trafficPercent": 30, "predictor": {"name": "v41", "model": {
        "name": "kserve-container", "storageUri": uri, "modelFormat": {"name": "xgboost"}}}}
    isvc = wait_until(lambda: (lambda i: i if i.canaries and i.canaries[0].ready else None)(
        client.get_inference_service(NS, "sc")))
    assert (isvc.latest_revision, isvc.latest_percent, isvc.prev_percent) == ("sc-v41-predictor", 30, 70)


def test_a_canary_that_never_gets_ready_is_named_with_its_reason(sb, capsys):
    broken = "s3://mlops-models/fraud-detector/v66"
    sb.controller.broken_uris.add(broken)
    client = KubeClient(str(sb.kubeconfig_path))
    obj = _manifest("nr")
    obj["spec"]["canary"][0]["predictor"]["model"]["storageUri"] = broken
    _kubectl_create(sb, obj).check_returncode()
    isvc = wait_until(lambda: (lambda i: i if i.canaries and i.canaries[0].ready is False else None)(
        client.get_inference_service(NS, "nr")))
    assert (isvc.latest_percent, isvc.prev_percent) == (0, 100)
    # KServe 0.15+ labels a Standard-mode Deployment's pods app=<Deployment> (GetRawServiceLabel)
    pods = wait_until(lambda: kubectl(sb, "-n", NS, "get", "pods", "-l", "app=nr-v39-predictor", "-o",
                                      "jsonpath={.items[*].status.containerStatuses[*].state.waiting.reason}",
                                      check=True).stdout.strip())
    assert "CrashLoopBackOff" in pods
    code, out, _ = _cli(capsys, sb, "rollout", "status", "nr", "-n", NS, "--json")
    body = _json.loads(out)
    assert code == 0 and any("canary Deployment nr-v39-predictor is not ready yet" in p
                             for p in body["problems"] + [rollouts.latest_not_ready(isvc).text])
    # the canary's failure, fetched from its pods: the container's state and its last crash (a key of
    # its own: `problems` stays what `rollout list` says)
    said = body["pods_say"]
    assert "container kserve-container: CrashLoopBackOff: back-off" in said and "last run: Error, exit code 1" in said
    code, out, _ = _cli(capsys, sb, "rollout", "status", "nr", "-n", NS)
    assert "its pods: pod nr-v39-predictor-" in out and "CrashLoopBackOff" in out


def test_serverless_and_raw_objects_keep_their_refusals(sb, capsys):
    """A RawDeployment object without spec.canary still cannot use canaryTrafficPercent; the
    message now points to Standard-mode canaries."""
    sb.cluster.put({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                    "metadata": {"name": "plain", "namespace": NS,
                                 "annotations": {"serving.kserve.io/deploymentMode": "RawDeployment"}},
                    "spec": {"predictor": {"model": {"modelFormat": {"name": "xgboost"}, "storageUri": STABLE_URI}}}})
    code, _, err = _cli(capsys, sb, "rollout", "set", "plain", "-n", NS, "--percent", "10", "--reason", "r", "--yes")
    assert code == 2 and "not possible in RawDeployment mode" in err and "start-canary" in err


def test_health_compares_the_canary_deployment_with_the_stable_one():
    """The metrics of Standard-mode predictors carry their Deployment's name (the pods'
    `app: isvc.<deployment>` label), so the canary's is judged against the stable predictor's."""
    target = rollouts.health_target(parse_inference_service(standard_isvc(True)))
    assert (target.canary, target.stable, target.not_ready) == ("fraud-v39-predictor", "fraud-predictor", None)
    assert target.traffic == {"fraud-predictor": 80, "fraud-v39-predictor": 20}
    target = rollouts.health_target(parse_inference_service(standard_isvc(False)))
    assert target.traffic == {"fraud-predictor": 100, "fraud-v39-predictor": 0}
    assert target.not_ready.revision == "fraud-v39-predictor" and not target.not_ready.failed


def test_sandbox_metrics_follow_the_standard_split():
    """The sandbox exporter's series for a Standard-mode canary are keyed by Deployment and follow
    the HTTPRoute's weights (only a ready canary takes its share)."""
    from console.sandbox.metrics_model import revision_specs

    obj = _spec_only(standard_isvc(None))
    canary = obj["spec"].pop("canary")
    rec, obj["status"], _ = reconcile(obj, None, 1000.0, ready_delay=0.0)  # the stable predictor, ready
    obj["spec"]["canary"] = canary
    rec, obj["status"], wake = reconcile(obj, rec, 1001.0, ready_delay=5.0)
    assert {s.revision: s.percent for s in revision_specs([obj])} == {"fraud-predictor": 100.0}
    _, obj["status"], _ = reconcile(obj, rec, wake, ready_delay=5.0)
    specs = {s.revision: (s.percent, s.version) for s in revision_specs([obj])}
    assert specs == {"fraud-predictor": (80.0, "38"), "fraud-v39-predictor": (20.0, "39")}
