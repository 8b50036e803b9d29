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

from adapters.kube import parse_inference_service
from console import rollouts

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
