"""Issue 12 §4: the sandbox exporter tells both stories. A revision the demo story does not name (a
new canary of another catalog version) is healthy: success rate above 99.5%, p99 below 300 ms; the
story's own canary (fraud-detector v40) stays sick, about 96%. The figures are what the console's
verdict reads (console/canary.py, Flagger's defaults) from the exporter's Knative queue-proxy
series (knative/serving pkg/queue/request_metric.go: revision_request_count with response_code,
revision_request_latencies in ms)."""

from __future__ import annotations

import math

import pytest

from console import demo_data
from console.sandbox.metrics_model import Simulation


def isvc(version: str, canary_rev: str = "fraud-detector-predictor-00003") -> dict:
    """fraud-detector in its story's namespace, with a canary of `version` at 50%."""
    return {"metadata": {"namespace": "fraud", "name": "fraud-detector"},
            "spec": {"predictor": {"model": {"storageUri": demo_data.storage_uri("fraud-detector", version)},
                                   "canaryTrafficPercent": 50}},
            "status": {"components": {"predictor": {"traffic": [
                {"revisionName": canary_rev, "percent": 50, "latestRevision": True},
                {"revisionName": "fraud-detector-predictor-00001", "percent": 50, "latestRevision": False,
                 "tag": "prev"}]}}}}


def figures(version: str) -> tuple[float, float]:
    """(success rate, p99 seconds) of the canary over an hour of simulated traffic."""
    sim = Simulation(seed=11, profile="knative")
    specs = sim.specs([isvc(version)])
    for i in range(720):
        sim.tick(specs, 1_000_000.0 + i * 5, 5.0)
    st = next(s for k, s in sim.states.items() if k[2].endswith("00003"))
    total = sum(st.requests.values())
    success = st.requests["200"] / total
    bins = [sum(st.duration_bins[c][i] for c in st.duration_bins) for i in range(st.n_buckets + 1)]
    bounds = [b / 1000.0 for b in sim.emission.buckets] + [math.inf]
    acc, p99 = 0.0, math.inf
    for bound, count in zip(bounds, bins, strict=True):
        acc += count
        if acc >= 0.99 * total:
            p99 = bound  # the bucket's upper bound: an upper limit of the interpolated quantile
            break
    return success, p99


@pytest.mark.parametrize("version", ["41", "38", "39"])
def test_a_revision_the_story_does_not_name_is_healthy(version):
    success, p99 = figures(version)
    assert success > 0.995 and p99 < 0.3


def test_the_story_canary_stays_sick():
    success, _ = figures("40")  # fraud-detector's story canary: latest_version 40
    assert 0.95 < success < 0.97
