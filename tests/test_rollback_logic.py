"""Pure logic of the rollback after a promotion (KServe's PropagateStatus pins latestRolledoutRevision
to previousRolledoutRevision when the rolled-out revision is given less than 100%) and of a
deleting InferenceService. No server."""

from __future__ import annotations

from adapters.kube import parse_inference_service
from console import rollouts
from screens import rollouts_render


def promoted(previous: str | None = "m-predictor-00001", canary=None, deleting: bool = False):
    meta = {"name": "m", "namespace": "ns", "resourceVersion": "9", "uid": "u-1"}
    if deleting:
        meta["deletionTimestamp"] = "2026-11-30T07:00:00Z"
    pred: dict = {"model": {"modelFormat": {"name": "xgboost"}, "storageUri": "s3://b/m/v2"}}
    if canary is not None:
        pred["canaryTrafficPercent"] = canary
    comp = {"latestCreatedRevision": "m-predictor-00002", "latestReadyRevision": "m-predictor-00002",
            "latestRolledoutRevision": "m-predictor-00002",
            "traffic": [{"revisionName": "m-predictor-00002", "percent": 100, "latestRevision": True}]}
    if previous:
        comp["previousRolledoutRevision"] = previous
    return parse_inference_service({"metadata": meta, "spec": {"predictor": pred}, "status": {
        "conditions": [{"type": "Ready", "status": "True"}], "components": {"predictor": comp}}})


def test_a_promoted_revision_can_be_rolled_back_to_the_previous_one():
    isvc = promoted()
    assert rollouts.rolls_back_a_promotion(isvc)
    assert rollouts.rollback_refusal(isvc) is None
    notes = rollouts.notes_for("rollout.rollback", isvc, 0)
    assert any("undoes the promotion of m-predictor-00002" in n for n in notes)
    assert any("expected after: m-predictor-00001 100% / m-predictor-00002 0%" in n for n in notes)
    assert any("undoes the promotion" in line for line in rollouts_render.cannot_lines(isvc))


def test_nothing_to_roll_back_without_an_earlier_rolled_out_revision():
    isvc = promoted(previous=None)
    assert not rollouts.rolls_back_a_promotion(isvc)
    assert "nothing to roll back" in rollouts.rollback_refusal(isvc)


def test_a_deleting_inference_service_is_not_steered():
    isvc = promoted(canary=20, deleting=True)
    assert isvc.deleting
    for refusal in (rollouts.rollback_refusal(isvc), rollouts.promote_refusal(isvc),
                    rollouts.set_percent_refusal(isvc, 30)):
        assert refusal == rollouts.DELETING_REASON
    assert rollouts_render.ready_cell(isvc).plain == "deleting"
    assert rollouts.row(isvc)["deleting"] is True
