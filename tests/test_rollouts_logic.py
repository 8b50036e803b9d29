"""Pure rollout logic: parsing InferenceService JSON, patches, refusals, lines. No server."""

from __future__ import annotations

import subprocess
import sys

import pytest

from adapters.errors import InvalidInput
from adapters.kube import parse_inference_service
from console import rollouts


def isvc_obj(*, name="fraud-detector", ns="fraud", canary=20, mode=None, traffic="canary",
             uri="s3://mlops-models/fraud-detector/v40", key="model", status=True, rolled="fraud-detector-predictor-00001",
             created="fraud-detector-predictor-00002", ready_rev="fraud-detector-predictor-00002"):
    predictor: dict = {key: {"storageUri": uri}}
    if key == "model":
        predictor[key]["modelFormat"] = {"name": "xgboost"}
    if canary is not None:
        predictor["canaryTrafficPercent"] = canary
    obj = {
        "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        "metadata": {"name": name, "namespace": ns, "resourceVersion": "12",
                     "creationTimestamp": "2026-11-26T10:00:00Z", "annotations": {}},
        "spec": {"predictor": predictor},
    }
    if mode:
        obj["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] = mode
    if not status:
        return obj
    split = {
        "canary": [
            {"tag": "latest", "latestRevision": True, "percent": canary, "revisionName": created},
            {"tag": "prev", "latestRevision": False, "percent": 100 - (canary or 0), "revisionName": rolled},
        ],
        "full": [{"tag": "latest", "latestRevision": True, "percent": 100, "revisionName": created}],
        "bad": [
            {"tag": "latest", "latestRevision": True, "percent": 10, "revisionName": created},
            {"tag": "prev", "latestRevision": False, "percent": 80, "revisionName": rolled},
        ],
        "none": None,
    }[traffic]
    comp = {"latestCreatedRevision": created, "latestReadyRevision": ready_rev,
            "latestRolledoutRevision": rolled, "url": "http://x"}
    if split is not None:
        comp["traffic"] = split
    obj["status"] = {
        "url": f"http://{name}.{ns}.example.com",
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-26T10:01:00Z"},
                       {"type": "PredictorReady", "status": "True"}],
        "components": {"predictor": comp},
    }
    return obj


def test_parse_canary_split():
    i = parse_inference_service(isvc_obj())
    assert (i.namespace, i.name, i.mode, i.ready) == ("fraud", "fraud-detector", "Serverless", True)
    assert i.latest_revision == "fraud-detector-predictor-00002" and i.latest_percent == 20
    assert i.prev_revision == "fraud-detector-predictor-00001" and i.prev_percent == 80
    assert i.canary_traffic_percent == 20
    assert i.storage_uri == "s3://mlops-models/fraud-detector/v40" and i.predictor_key == "model"
    assert i.model_format == "xgboost"
    assert i.resource_version == "12" and i.problems == []
    assert [c.type for c in i.conditions] == ["Ready", "PredictorReady"]
    assert i.conditions[0].last_transition == "2026-11-26T10:01:00Z"


def test_parse_framework_layout_and_raw_modes():
    i = parse_inference_service(isvc_obj(key="sklearn", canary=None, traffic="none", mode="RawDeployment"))
    assert i.predictor_key == "sklearn" and i.storage_uri.endswith("/v40")
    assert i.mode == "RawDeployment" and i.is_raw
    assert i.latest_percent is None and i.prev_percent is None
    j = parse_inference_service(isvc_obj(mode="Standard"))
    assert j.mode == "RawDeployment" and j.raw_deployment_mode == "Standard"


def test_parse_malformed_objects_never_raise():
    # missing status
    i = parse_inference_service(isvc_obj(status=False))
    assert "no status yet" in i.problems and i.ready is None and i.traffic == []
    # traffic not summing to 100
    j = parse_inference_service(isvc_obj(traffic="bad"))
    assert "traffic sums to 90, not 100" in j.problems
    # unknown fields are ignored, wrong types are noted
    obj = isvc_obj()
    obj["spec"]["predictor"]["somethingNew"] = {"x": 1}
    obj["status"]["futureField"] = [1, 2]
    obj["status"]["conditions"] = "garbage"
    k = parse_inference_service(obj)
    assert k.latest_percent == 20 and "status.conditions is not a list" in k.problems
    # not even an object
    assert parse_inference_service("nonsense").problems[0] == "object is not a JSON object"
    obj = isvc_obj()
    obj["spec"]["predictor"]["canaryTrafficPercent"] = "lots"
    assert any("not a number" in p for p in parse_inference_service(obj).problems)


@pytest.mark.parametrize("text,value", [("0", 0), ("100", 100), (" 35 ", 35), ("20%", 20), (7, 7)])
def test_parse_percent_ok(text, value):
    assert rollouts.parse_percent(text) == value


@pytest.mark.parametrize("text", ["-1", "101", "abc", "2.5", "", True, "1e2"])
def test_parse_percent_bad(text):
    with pytest.raises(InvalidInput) as err:
        rollouts.parse_percent(text)
    assert err.value.exit_code == 2 and "percent" in err.value.message


def test_patches():
    i = parse_inference_service(isvc_obj(key="xgboost"))
    assert rollouts.set_percent_patch(30) == {"spec": {"predictor": {"canaryTrafficPercent": 30}}}
    assert rollouts.promote_patch() == {"spec": {"predictor": {"canaryTrafficPercent": None}}}
    assert rollouts.rollback_patch() == {"spec": {"predictor": {"canaryTrafficPercent": 0}}}
    p = rollouts.start_canary_patch(i, "s3://mlops-models/fraud-detector/v41", 10)
    assert p == {"spec": {"predictor": {"xgboost": {"storageUri": "s3://mlops-models/fraud-detector/v41"},
                                        "canaryTrafficPercent": 10}}}
    j = parse_inference_service(isvc_obj())
    assert "model" in rollouts.start_canary_patch(j, "s3://b/x", 5)["spec"]["predictor"]
    with pytest.raises(InvalidInput):
        rollouts.start_canary_patch(j, "not a uri", 5)


def test_merge_patch_and_lines():
    i = parse_inference_service(isvc_obj())
    assert rollouts.patch_lines(i, rollouts.rollback_patch()) == ["spec.predictor.canaryTrafficPercent: 20 -> 0"]
    assert rollouts.patch_lines(i, rollouts.promote_patch()) == [
        "spec.predictor.canaryTrafficPercent: 20 -> (unset)"]
    lines = rollouts.patch_lines(i, rollouts.start_canary_patch(i, "s3://mlops-models/fraud-detector/v41", 10))
    assert lines == ["spec.predictor.model.storageUri: s3://mlops-models/fraud-detector/v40 -> "
                     "s3://mlops-models/fraud-detector/v41",
                     "spec.predictor.canaryTrafficPercent: 20 -> 10"]


def test_refusals():
    canary = parse_inference_service(isvc_obj())
    assert rollouts.rollback_refusal(canary) is None
    assert rollouts.promote_refusal(canary) is None
    assert rollouts.set_percent_refusal(canary, 50) is None
    assert "already 20" in rollouts.set_percent_refusal(canary, 20)

    raw = parse_inference_service(isvc_obj(mode="RawDeployment", canary=None, traffic="none"))
    for why in (rollouts.rollback_refusal(raw), rollouts.promote_refusal(raw),
                rollouts.set_percent_refusal(raw, 10)):
        assert why and "RawDeployment mode" in why
    # KServe 0.20: a Standard-mode canary is a spec.canary[] entry, which start-canary adds
    assert rollouts.start_canary_refusal(raw, "s3://mlops-models/search-ranker/v31", 10) is None
    standard = parse_inference_service(isvc_obj(mode="Standard"))
    assert "Standard mode" in rollouts.rollback_refusal(standard)

    first = parse_inference_service(isvc_obj(canary=None, traffic="full", rolled=None))
    assert "no rolled-out revision yet" in rollouts.set_percent_refusal(first, 10)
    assert "no rolled-out revision yet" in rollouts.start_canary_refusal(first, "s3://b/x", 10)

    full = parse_inference_service(isvc_obj(canary=None, traffic="full", rolled="fraud-detector-predictor-00002"))
    assert rollouts.promote_refusal(full).startswith("nothing to promote")
    assert rollouts.rollback_refusal(full).startswith("nothing to roll back")
    assert rollouts.set_percent_refusal(full, 10).startswith("no canary to steer")
    assert rollouts.start_canary_refusal(full, "s3://mlops-models/fraud-detector/v41", 10) is None
    assert "already the model" in rollouts.start_canary_refusal(full, full.storage_uri, 10)

    rolled_back = parse_inference_service(isvc_obj(canary=0))
    assert rollouts.rollback_refusal(rolled_back).startswith("already rolled back")
    assert rollouts.promote_refusal(rolled_back) is None


def test_rollback_note_and_expected_split():
    i = parse_inference_service(isvc_obj())
    notes = rollouts.notes_for("rollout.rollback", i, 0)
    assert any("leaves the new model in the spec" in n for n in notes)
    assert any("expected after: fraud-detector-predictor-00001 100% / fraud-detector-predictor-00002 0%" in n
               for n in notes)
    failing = parse_inference_service(isvc_obj(ready_rev="fraud-detector-predictor-00001"))
    assert failing.failing_revision
    assert any("is not ready" in n for n in rollouts.notes_for("rollout.set", failing, 30))


@pytest.mark.parametrize("now,direction,step,expected", [
    (20, 1, 10, 30), (20, -1, 10, 10), (17, 1, 10, 20), (17, -1, 10, 10), (0, -1, 10, 0),
    (95, 1, 10, 100), (100, 1, 10, 100), (None, -1, 25, 75), (3, -1, 5, 0),
])
def test_step_clamped(now, direction, step, expected):
    i = parse_inference_service(isvc_obj(canary=now))
    assert rollouts.stepped_percent(i, direction, step) == expected


def test_step_size_validated():
    i = parse_inference_service(isvc_obj())
    for bad in (0, 101, "x"):
        with pytest.raises(InvalidInput):
            rollouts.stepped_percent(i, 1, bad)


def test_row_and_status_shapes():
    i = parse_inference_service(isvc_obj())
    row = rollouts.row(i)
    for key in ("namespace", "name", "mode", "ready", "latest_revision", "prev_revision", "latest_percent",
                "prev_percent", "canary_traffic_percent"):
        assert key in row
    st = rollouts.status(i)
    assert st["conditions"][0]["type"] == "Ready"
    names = [r["name"] for r in st["revisions"]]
    assert names == ["fraud-detector-predictor-00002", "fraud-detector-predictor-00001"]
    assert st["revisions"][0]["percent"] == 20 and "rolled-out" in st["revisions"][1]["roles"]


def test_adapter_and_logic_do_not_import_textual_or_kubernetes():
    code = ("import sys, adapters.kube, console.rollouts, console.rollout_actions, console.commands.rollout;"
            "print('textual' in sys.modules, 'kubernetes' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# -- a newest revision that is not ready (issue 8, section 4) ----------------------------------------

def _not_ready_obj(status: str, reason: str, message: str) -> dict:
    """fraud-detector's canary revision 00003 is not ready; Knative routes its share to 00002."""
    obj = isvc_obj(created="fraud-detector-predictor-00003", ready_rev="fraud-detector-predictor-00002")
    obj["status"]["components"]["predictor"]["traffic"][0]["revisionName"] = "fraud-detector-predictor-00002"
    for condition in ({"type": "Ready", "status": status, "reason": reason, "message": message},
                      {"type": "LatestDeploymentReady", "status": status, "reason": reason, "message": message}):
        obj["status"]["conditions"] = [c for c in obj["status"]["conditions"] if c["type"] != condition["type"]]
        obj["status"]["conditions"].append(condition)
    return obj


def _healthy_metrics():
    from console import canary

    served = canary.RevisionHealth("fraud-detector-predictor-00002", "latest", 100, requests=500, errors=0,
                                   request_rate=2.0, success_rate=1.0, p50_seconds=0.02, p99_seconds=0.1)
    verdict = canary.evaluate(served)
    assert verdict.status == canary.HEALTHY
    return verdict


def test_a_failed_newest_revision_fails_the_verdict_whatever_the_metrics_say():
    from console import canary

    message = 'Revision "fraud-detector-predictor-00003" failed with message: ModelLoadFailed.'
    isvc = parse_inference_service(_not_ready_obj("False", "RevisionFailed", message))
    not_ready = rollouts.latest_not_ready(isvc)
    assert (not_ready.revision, not_ready.failed, not_ready.message) == ("fraud-detector-predictor-00003", True, message)
    assert rollouts.problems(isvc)[0] == f"revision fraud-detector-predictor-00003 failed: {message}"
    verdict = canary.with_revision_not_ready(_healthy_metrics(), not_ready.revision, not_ready.failed,
                                             not_ready.message)
    assert verdict.status == canary.FAILING and verdict.text == "failing checks 1 of 3"
    assert verdict.reason == rollouts.problems(isvc)[0] and verdict.canary.role == "serving"


def test_a_newest_revision_still_deploying_is_not_enough_data_never_healthy():
    from console import canary

    message = 'Revision "fraud-detector-predictor-00003" is being deployed and is not ready yet.'
    isvc = parse_inference_service(_not_ready_obj("Unknown", "Deploying", message))
    not_ready = rollouts.latest_not_ready(isvc)
    assert not_ready.failed is False and not_ready.message == message
    assert rollouts.problems(isvc) == []  # not a problem yet: Knative marks it failed if it never gets ready
    verdict = canary.with_revision_not_ready(_healthy_metrics(), not_ready.revision, not_ready.failed,
                                             not_ready.message)
    assert verdict.status == canary.NOT_ENOUGH_DATA and "fraud-detector-predictor-00003 is not ready yet" in verdict.reason
    assert rollouts.latest_not_ready(parse_inference_service(isvc_obj())) is None


def test_refusals_say_whether_the_state_or_the_input_is_wrong():
    from adapters.errors import StateConflict

    rolled_back = parse_inference_service(isvc_obj(canary=0))
    error = rollouts.refusal_error("rollback refused", rollouts.rollback_refusal(rolled_back))
    assert isinstance(error, StateConflict) and error.exit_code == 6
    raw = parse_inference_service(isvc_obj(mode="RawDeployment"))
    error = rollouts.refusal_error("set refused", rollouts.set_percent_refusal(raw, 10))
    assert isinstance(error, InvalidInput) and error.exit_code == 2
