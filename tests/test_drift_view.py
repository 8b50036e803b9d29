"""console/drift_view.py and the PromQL of console/drift_service.py: what the Drift screen shows,
decided without Textual (the screen tests drive the same code against real backends)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from adapters.errors import BackendUnavailable
from adapters.metrics import FeatureContract
from console.drift_service import history_resolution, history_start_query
from console.drift_view import Marker, audit_markers, choose_model, resolve_target, revisions_from_metrics

ROOT = Path(__file__).resolve().parents[1]


def test_choose_model_prefers_a_canary():
    models = [("a", "one", ["one-predictor-00001"]), ("b", "two", ["two-predictor-00001", "two-predictor-00002"])]
    assert choose_model(models) == ("b", "two")
    assert choose_model(models[:1]) == ("a", "one")
    assert choose_model([]) is None
    assert revisions_from_metrics(["x-00002", "x-00001"]) == ("x-00002", "x-00001")
    assert revisions_from_metrics(["x-00001"]) == ("x-00001", None)
    assert revisions_from_metrics([]) == (None, None)


def test_audit_markers_keep_applied_actions_inside_the_span_oldest_first():
    rows = [SimpleNamespace(ts="2026-11-30T10:30:00.000Z", action="rollout.promote", outcome="applied"),
            SimpleNamespace(ts="2026-11-30T10:10:00Z", action="rollout.rollback", outcome="applied"),
            SimpleNamespace(ts="2026-11-30T10:20:00Z", action="rollout.set", outcome="refused"),
            SimpleNamespace(ts="2026-11-30T12:00:00Z", action="rollout.set", outcome="applied"),  # after the span
            SimpleNamespace(ts="not a time", action="rollout.set", outcome="applied")]
    start = 1_796_032_800.0  # 2026-11-30T10:00:00Z
    assert audit_markers(rows, start, start + 3600) == [Marker(start + 600, "rollback"), Marker(start + 1800, "promote")]


def _services(kube):
    return SimpleNamespace(kube=kube)


def test_resolve_target_reads_the_traffic_split_from_the_inference_service_status():
    # KServe status.components.predictor.traffic: the canary is latestRevision, the stable tag prev
    isvc = SimpleNamespace(traffic=[SimpleNamespace(revision="m-predictor-00002", percent=20),
                                    SimpleNamespace(revision="m-predictor-00001", percent=80)],
                           latest_revision="m-predictor-00002", latest_ready_revision="m-predictor-00002",
                           prev_revision="m-predictor-00001", storage_uri="s3://models/m/2")
    kube = SimpleNamespace(get_inference_service=lambda ns, name: isvc)
    target = resolve_target(_services(lambda: kube), ("ns", "m"), [])
    assert (target.live_revision, target.stable_revision, target.source) == ("m-predictor-00002", "m-predictor-00001",
                                                                             "kube")
    assert target.traffic == {"m-predictor-00002": 20, "m-predictor-00001": 80}
    assert target.storage_uri == "s3://models/m/2" and target.note is None
    # no canary: prev is the live revision itself, so there is no stable one to compare with
    isvc.prev_revision = "m-predictor-00002"
    assert resolve_target(_services(lambda: kube), ("ns", "m"), []).stable_revision is None


def test_resolve_target_guesses_from_metrics_when_kubernetes_is_unreachable():
    def down():
        raise BackendUnavailable("Kubernetes API not reachable: connection refused")

    models = [("ns", "m", ["m-predictor-00001", "m-predictor-00002"])]
    target = resolve_target(_services(down), ("ns", "m"), models)
    assert (target.live_revision, target.stable_revision, target.source) == ("m-predictor-00002", "m-predictor-00001",
                                                                             "metrics")
    assert "guessed from metrics" in target.note and "connection refused" in target.note


def test_history_start_query_asks_for_the_oldest_feature_sample_of_the_live_revision():
    contract = FeatureContract(metric="feat", revision_label="rev")
    query = history_start_query(contract, "fraud", "fd", ["fd-predictor-00002"], "6h", history_resolution(6 * 3600))
    selector = contract.selector("fraud", "fd", ["fd-predictor-00002"])  # the adapter's label matching
    assert query == f"min(min_over_time(timestamp(feat_count{selector})[6h:60s]))", query
    assert 'rev=~"fd' in selector
    assert history_resolution(24 * 3600) == 240


def test_the_drift_logic_imports_no_textual():
    code = ("import sys, console.drift_view, console.drift_service, console.drift; "
            "sys.exit('textual' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_the_evaluation_instant_stays_put_within_one_step_of_the_chart():
    from console.drift import parse_duration
    from console.drift_service import chart_span, evaluation_instant, series_step

    for window in ("15m", "1h", "6h", "24h"):
        step = series_step(chart_span(window, parse_duration(window)))
        now = 1_796_032_817.25
        at = evaluation_instant(window, now)
        assert at <= now < at + step and at % step == 0, (window, at, step)
        assert evaluation_instant(window, at) == at == evaluation_instant(window, at + step - 0.001)
        assert evaluation_instant(window, at + step) == at + step
    assert series_step(chart_span("15m", 900)) == 30  # 3 h of history in 360 points
