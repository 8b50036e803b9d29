"""Which revisions the Rollouts screen's canary health check judges (console/rollouts.py
health_target): KServe's printer columns LATEST / PREV (the InferenceService CRD) name them, and
status.components.predictor.traffic, merged by revision, says what each serves. No server, no
Textual."""

from __future__ import annotations

import sys

from adapters.kube import parse_inference_service
from console import rollouts
from test_rollouts_logic import isvc_obj


def test_a_canary_is_judged_against_the_previous_revision_with_the_served_split():
    target = rollouts.health_target(parse_inference_service(isvc_obj(canary=20)))
    assert target == rollouts.HealthTarget(
        "fraud-detector-predictor-00002", "fraud-detector-predictor-00001",
        {"fraud-detector-predictor-00002": 20, "fraud-detector-predictor-00001": 80}, None)


def test_without_a_canary_the_latest_revision_is_judged_alone():
    target = rollouts.health_target(parse_inference_service(isvc_obj(canary=None, traffic="full")))
    assert target is not None
    assert (target.canary, target.stable) == ("fraud-detector-predictor-00002", None)
    assert target.traffic == {"fraud-detector-predictor-00002": 100}


def test_a_failed_newest_revision_judges_the_serving_one_and_carries_the_failure():
    """Knative routes the canary's share to the last ready revision: LATEST and PREV both name it
    (10 + 90), so it is judged alone, serving 100%, and the failure is handed to the verdict."""
    obj = isvc_obj(canary=10, created="fraud-detector-predictor-00002", ready_rev="fraud-detector-predictor-00001",
                   rolled="fraud-detector-predictor-00001")
    predictor = obj["status"]["components"]["predictor"]
    for entry in predictor["traffic"]:
        entry["revisionName"] = "fraud-detector-predictor-00001"
    obj["status"]["conditions"][0] = {"type": "Ready", "status": "False", "reason": "RevisionFailed",
                                      "message": "Revision failed: ModelLoadFailed"}
    target = rollouts.health_target(parse_inference_service(obj))
    assert target is not None
    assert (target.canary, target.stable) == ("fraud-detector-predictor-00001", None)
    assert target.traffic == {"fraud-detector-predictor-00001": 100}
    assert target.not_ready == rollouts.NotReady("fraud-detector-predictor-00002", True,
                                                 "Revision failed: ModelLoadFailed")


def test_raw_deployment_judges_the_predictor_and_no_traffic_means_nothing_to_judge():
    raw = rollouts.health_target(parse_inference_service(isvc_obj(mode="RawDeployment", traffic="none")))
    assert raw == rollouts.HealthTarget("fraud-detector-predictor", None, {"fraud-detector-predictor": 100}, None)
    assert rollouts.health_target(parse_inference_service(isvc_obj(traffic="none"))) is None


def test_health_target_needs_no_textual():
    import subprocess

    code = "import console.rollouts, sys; assert 'textual' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
