"""Drift statistics and the canary verdict: pure functions, against known distributions."""

from __future__ import annotations

import math
import random

import pytest

from console import canary, demo_data, drift
from console.drift import Histogram, Thresholds


def gaussian_buckets(shift: float, n: float = 1.0, bins: int = 10) -> list[tuple[str, float]]:
    """Cumulative `le` buckets of N(shift, 1) over equal-width bins on +/-3 sigma (+Inf last)."""
    step = 6 / bins
    bounds = [-3 + step * i for i in range(1, bins)]
    cdf = [0.5 * (1 + math.erf((b - shift) / math.sqrt(2))) for b in bounds]
    return [(repr(b), c * n) for b, c in zip(bounds, cdf, strict=True)] + [("+Inf", n)]


def sampled(shift: float, n: int, rng: random.Random, bins: int = 10) -> Histogram:
    step = 6 / bins
    counts = [0] * bins
    for _ in range(n):
        x = rng.gauss(shift, 1.0)
        i = min(max(int((x + 3) // step), 0), bins - 1)
        counts[i] += 1
    bounds = tuple(-3 + step * i for i in range(1, bins)) + (math.inf,)
    return Histogram(bounds, tuple(float(c) for c in counts))


def test_two_gaussians_0_6_sigma_apart_give_psi_about_0_36():
    ref = drift.from_buckets(gaussian_buckets(0.0, 10_000))
    live = drift.from_buckets(gaussian_buckets(0.6, 10_000))
    value = drift.psi(live.counts, ref.counts)
    assert 0.33 <= value <= 0.39
    # symmetric in its arguments
    assert drift.psi(ref.counts, live.counts) == pytest.approx(value)
    res = drift.compare("x", live, ref)
    assert res.status == drift.DRIFT
    assert res.noise_floor == pytest.approx(9 * (2 / 10_000))


def test_sampled_shift_is_found_and_identical_samples_stay_near_the_noise_floor():
    rng = random.Random(7)
    shifted = [drift.compare("f", sampled(0.6, 3000, rng), sampled(0.0, 3000, rng)) for _ in range(10)]
    assert all(r.status == drift.DRIFT for r in shifted)
    assert 0.30 <= sum(r.psi for r in shifted) / len(shifted) <= 0.42

    same = [drift.compare("f", sampled(0.0, 400, rng), sampled(0.0, 400, rng)) for _ in range(60)]
    floor = same[0].noise_floor
    assert floor == pytest.approx(9 * (1 / 400 + 1 / 400))
    mean_psi = sum(r.psi for r in same) / len(same)
    # E[PSI] ~ floor with no drift (clamping in the tails adds a little)
    assert 0.6 * floor <= mean_psi <= 1.6 * floor
    assert not any(r.status == drift.DRIFT for r in same)


def test_noise_floor_matches_the_design_figure():
    # "about 0.18 at 100 samples per window and 10 bins"
    assert drift.noise_floor(10, 100, 100) == pytest.approx(0.18)
    assert drift.noise_floor(10, 0, 100) is None
    assert drift.noise_floor(10, None, 100) is None


def test_drift_needs_psi_above_three_times_the_floor():
    t = Thresholds()
    # PSI 0.3 is above 0.25, but with 60 samples a side the floor is 0.3: noise, not drift
    assert drift.classify(0.3, 60, 60, drift.noise_floor(10, 60, 60), t) == drift.WARN
    assert drift.classify(0.3, 5000, 5000, drift.noise_floor(10, 5000, 5000), t) == drift.DRIFT
    assert drift.classify(0.12, 5000, 5000, 0.0036, t) == drift.WARN
    assert drift.classify(0.05, 5000, 5000, 0.0036, t) == drift.OK
    assert drift.classify(0.9, 30, 5000, 0.3, t) == drift.TOO_FEW
    assert drift.classify(None, 5000, 5000, None, t) == drift.NO_DATA
    custom = Thresholds(warn=0.02, drift=0.04, floor_factor=1.0, min_samples=10)
    assert drift.classify(0.03, 5000, 5000, 0.0036, custom) == drift.WARN
    assert drift.classify(0.05, 20, 20, 0.0036, custom) == drift.DRIFT


def test_thresholds_from_a_settings_section():
    class Section:
        warn = 0.2
        drift = 0.5
        floor_factor = None
        min_samples = 80

    t = Thresholds.from_settings(Section())
    assert (t.warn, t.drift, t.floor_factor, t.min_samples) == (0.2, 0.5, 3.0, 80)
    assert Thresholds.from_settings(None) == Thresholds()


def test_no_data_is_none_never_zero():
    assert drift.from_buckets({}) is None
    assert drift.from_buckets({"1": 3.0, "+Inf": float("nan")}) is None
    assert drift.from_buckets({"1": 3.0, "+Inf": None}) is None
    assert drift.from_buckets({"1": 3.0, "2": 4.0}) is None  # no +Inf bucket
    empty = drift.from_buckets({"1": 0.0, "+Inf": 0.0})
    assert empty is not None and empty.total == 0
    ref = drift.from_buckets({"1": 50.0, "+Inf": 100.0})
    for live in (None, empty):
        res = drift.compare("f", live, ref)
        assert res.status == drift.NO_DATA
        assert res.psi is None and res.js is None and res.noise_floor is None
        assert res.to_json()["psi"] is None
    assert drift.compare("f", ref, None).psi is None
    assert drift.psi([0, 0], [1, 1]) is None
    assert drift.js_distance([1, 1], [0, 0]) is None


def test_decumulate_le_buckets():
    h = drift.from_buckets({"+Inf": 100.0, "0.5": 10.0, "1.0": 40.0, "2.0": 90.0})
    assert h.bounds == (0.5, 1.0, 2.0, math.inf)
    assert h.counts == (10.0, 30.0, 50.0, 10.0)
    # increase() extrapolates each bucket series on its own: a tiny dip must not go negative
    h = drift.from_buckets([("1", 10.2), ("2", 10.0), ("+Inf", 20.0)])
    assert min(h.counts) >= 0
    assert h.counts == (10.2, 0.0, pytest.approx(9.8))


def test_empty_bins_are_clamped_so_psi_stays_finite():
    value = drift.psi([100, 0, 0], [0, 0, 100])
    assert math.isfinite(value)
    # (1 - 1e-4) ln(1/1e-4) twice
    assert value == pytest.approx(2 * (1 - 1e-4) * math.log(1 / 1e-4))


def test_js_distance_bounds():
    assert drift.js_distance([5, 5], [5, 5]) == pytest.approx(0.0)
    assert drift.js_distance([10, 0], [0, 10]) == pytest.approx(1.0)
    mid = drift.js_distance([3, 7], [7, 3])
    assert 0 < mid < 1


def test_catalog_histograms_share_bins_with_the_exporter_buckets():
    feature = demo_data.MODELS_BY_NAME["fraud-detector"].features[0]
    edges = feature.edges()
    catalog = drift.from_catalog({"edges": edges, "counts": [1] * demo_data.BINS})
    # the exporter's le buckets: e1..e(N-1), +Inf
    live = drift.from_buckets([(repr(float(e)), i + 1.0) for i, e in enumerate(edges[1:-1])]
                              + [("+Inf", float(demo_data.BINS))])
    assert len(catalog.counts) == len(live.counts) == demo_data.BINS
    assert drift.same_bins(catalog, live)
    assert drift.compare(feature.name, live, catalog).psi == pytest.approx(0.0)
    other = drift.from_buckets([("1", 1.0), ("+Inf", 2.0)])
    res = drift.compare("f", other, catalog)
    assert res.status == drift.NO_DATA and "bins differ" in res.reason
    assert drift.from_catalog({"edges": [0, 1], "counts": [1, 2]}) is None


def test_sorted_most_alarming_first():
    rs = [drift.FeatureDrift("a", 0.01, 0.1, 100, 100, 0.1, drift.OK),
          drift.FeatureDrift("b", None, None, None, None, None, drift.NO_DATA),
          drift.FeatureDrift("c", 0.4, 0.3, 100, 100, 0.01, drift.DRIFT),
          drift.FeatureDrift("d", 0.5, 0.3, 100, 100, 0.01, drift.DRIFT),
          drift.FeatureDrift("e", 0.15, 0.2, 100, 100, 0.01, drift.WARN)]
    assert [r.feature for r in drift.sorted_by_drift(rs)] == ["d", "c", "e", "a", "b"]


@pytest.mark.parametrize("text,seconds", [("15m", 900), ("1h", 3600), ("6h", 21600), ("24h", 86400),
                                          ("90s", 90), ("1h30m", 5400)])
def test_parse_duration(text, seconds):
    assert drift.parse_duration(text) == seconds
    assert drift.parse_duration(drift.format_duration(seconds)) == seconds


@pytest.mark.parametrize("bad", ["", "15", "m", "7x", "-1h", "0s"])
def test_parse_duration_rejects(bad):
    with pytest.raises(ValueError):
        drift.parse_duration(bad)


# -- canary verdict ---------------------------------------------------------------------------


def rh(rev, requests=1000.0, success=0.999, p99=0.2, role="canary"):
    return canary.RevisionHealth(rev, role, 20, requests, None, 1.0, success, 0.05, p99)


def test_verdict_healthy():
    v = canary.evaluate(rh("c"), rh("s", role="stable"))
    assert (v.status, v.text) == (canary.HEALTHY, "healthy")
    assert [c.passed for c in v.checks] == [True, True]


def test_verdict_failing_checks_n_of_m():
    v = canary.evaluate(rh("c", success=0.97), rh("s", role="stable"))
    assert v.text == "failing checks 1 of 2" and v.status == canary.FAILING
    assert "success rate 97.00%" in v.reason
    v = canary.evaluate(rh("c", success=0.97, p99=0.8), None)
    assert v.text == "failing checks 2 of 2"
    # the boundaries follow Flagger: >= 99% passes, p99 <= 500 ms passes
    v = canary.evaluate(rh("c", success=0.99, p99=0.5))
    assert v.text == "healthy"


def test_verdict_not_enough_data():
    v = canary.evaluate(rh("c", requests=5), rh("s", role="stable"))
    assert v.text == "not enough data" and "5 requests" in v.reason
    v = canary.evaluate(rh("c", p99=None))
    assert v.text == "not enough data" and "p99_latency" in v.reason
    assert v.checks[1].passed is None
    v = canary.evaluate(rh("c", requests=None))
    assert v.text == "not enough data"
    assert canary.evaluate(None).text == "not enough data"


def test_verdict_thresholds_from_config():
    class Section:
        min_success_rate = 0.95
        max_p99_seconds = 1.0

    t = canary.HealthThresholds.from_settings(Section())
    assert canary.evaluate(rh("c", success=0.97, p99=0.8), thresholds=t).text == "healthy"
    j = canary.evaluate(rh("c", success=0.9), thresholds=t).to_json()
    assert j["verdict"] == "failing checks 1 of 2" and j["checks"][0]["passed"] is False
