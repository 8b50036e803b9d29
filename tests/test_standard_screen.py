"""The Rollouts screen shows a Standard-mode canary (KServe 0.20 spec.canary[]) like a Serverless
one (issue 13 §4): stable and canary names, their shares, readiness, the catalog version of each
model, and why a canary that does not become ready takes no traffic. The sandbox's controller
follows components/predictor.go (reconcileCanaryDeployments) and httproute_reconciler.go
(applyCanaryWeights)."""

from __future__ import annotations

import pytest

from pilot_wait import settled_frame
from test_rollouts_screen import (
    admin,
    cell,
    make_app,
    open_rollouts,
    snapshot_app,
    start_sandbox,
    text_of,
    wait_for,
    wait_until,
)

AD = "marketing/ad-ctr"


@pytest.fixture(scope="module")
def standard_sandbox(tmp_path_factory):
    """A sandbox no test changes (its snapshot shows resourceVersions)."""
    sb = start_sandbox(tmp_path_factory.mktemp("standard-screen"))
    with admin(sb) as client:
        wait_until(lambda: client.get_inference_service("marketing", "ad-ctr").canaries[0].ready is True)
    yield sb
    sb.stop()


async def _detail_settled(pilot, app) -> str:
    await wait_for(pilot, lambda: "ad-ctr v30" in text_of(app, "#isvc-detail-body")
                   and "ad-ctr v29" in text_of(app, "#isvc-detail-body"), what="both catalog versions")
    return text_of(app, "#isvc-detail-body")


async def test_list_and_detail_show_the_standard_canary(standard_sandbox, tmp_path):
    app = make_app(standard_sandbox, tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await open_rollouts(pilot, app, select=AD)
        assert (cell(app, AD, "prev"), cell(app, AD, "latest")) == ("stable", "v30")
        assert (cell(app, AD, "prev_pct"), cell(app, AD, "latest_pct"), cell(app, AD, "spec")) == ("80", "20", "20")
        detail = await _detail_settled(pilot, app)
        assert "stable " in detail and "80%" in detail and "canary v30" in detail and "20%" in detail
        assert "spec canary v30 trafficPercent: 20" in detail
        assert "s3://mlops-models/ad-ctr/v29" in detail and "s3://mlops-models/ad-ctr/v30" in detail
        assert "ad-ctr-v30-predictor" in detail and "CanaryPredictorReady AllCanariesReady" in detail
        assert "p (promote) makes it the stable predictor without restarting its pods" in detail


async def test_a_canary_that_never_gets_ready_is_flagged_with_why(tmp_path_factory, tmp_path):
    sb = start_sandbox(tmp_path_factory.mktemp("standard-broken"))
    try:
        broken = "s3://mlops-models/ad-ctr/v28"
        sb.controller.broken_uris.add(broken)
        with admin(sb) as client:
            raw = client.get_raw("marketing", "ad-ctr")
            entry = raw["spec"]["canary"][0]
            entry["predictor"]["name"] = "v28"
            entry["predictor"]["model"]["storageUri"] = broken
            client.patch_inference_service("marketing", "ad-ctr", {"spec": {"canary": [entry]}},
                                           resource_version=raw["metadata"]["resourceVersion"])
            wait_until(lambda: client.get_inference_service("marketing", "ad-ctr").canaries[0].ready is False)
        app = make_app(sb, tmp_path)
        async with app.run_test(size=(100, 40)) as pilot:
            await open_rollouts(pilot, app, select=AD)
            await wait_for(pilot, lambda: "v28" in text_of(app, "#isvc-detail-body"), what="the broken canary")
            assert cell(app, AD, "ready") == "True!" and cell(app, AD, "latest_pct") == "0"
            detail = text_of(app, "#isvc-detail-body")
            assert "not ready" in detail and "NOT READY" in detail
            assert "v28 (the new model) is not ready yet: CanaryPredictorReady is False" in detail
            assert "it takes no traffic whatever its trafficPercent" in detail
    finally:
        sb.stop()


def test_snapshot_rollouts_standard_canary_80x24(snap_compare, standard_sandbox, tmp_path):
    async def run_before(pilot) -> None:
        app = pilot.app
        await open_rollouts(pilot, app, select=AD)
        await _detail_settled(pilot, app)
        await wait_for(pilot, lambda: "Prometheus not configured" in text_of(app, "#isvc-health-body"))
        await settled_frame(pilot)

    assert snap_compare(snapshot_app(standard_sandbox, tmp_path), terminal_size=(80, 24), run_before=run_before)
