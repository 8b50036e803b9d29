"""Canary health from each metric profile real installs export, against a real Prometheus that
holds only that profile's request series (the sandbox exporter speaking it), with NO metric
settings: detection picks the profile, says so, and the p99 shown equals Prometheus's own
histogram_quantile(0.99, sum by (le) (rate(..._bucket[w]))) of the same series, in seconds.

What each profile's series look like follows the real sources:
- knative, knative-unprefixed: knative.dev "Service metrics" (queue-proxy up to 1.18, OpenCensus):
  revision_request_count / revision_request_latencies (milliseconds), labels namespace_name,
  configuration_name, revision_name, response_code, ...; OpenShift Serverless drops `revision_`;
- knative-otel, knative-otel-target-info: knative/serving pkg/queue/request_metric.go
  (kn.serving.invocation.duration, seconds, http.response.status_code) and
  pkg/queue/sharedmain/otel.go (kn.revision.name, k8s.namespace.name as resource attributes:
  promoted onto the series, or only on target_info);
- kserve: kserve python/kserve/kserve/metrics.py (request_predict_seconds, label model_name; no
  response codes), the pod's namespace and serving.knative.dev/revision label added by the scrape;
- console: the console's own contract (DESIGN section 6).
The queries below are written out by hand from those names, not built by adapters.metrics.
"""

from __future__ import annotations

import json

import pytest

from adapters.metrics import MetricsClient, detect_profile, profile
from console.cli import main
from console.drift_service import DriftService
from console.sandbox.metrics_model import EMISSIONS
from metrics_fixtures import CANARY, STABLE, start_sandbox

WINDOW = "5m"
OTEL_BUCKET = "kn_serving_invocation_duration_seconds_bucket"
# profile -> (PromQL of the per-le bucket rate of one revision over WINDOW, seconds per unit)
RAW_RATE = {
    "knative": ('sum by (le) (rate(revision_request_latencies_bucket{{namespace_name="fraud", '
                'revision_name="{rev}"}}[{w}]))', 0.001),
    "knative-unprefixed": ('sum by (le) (rate(request_latencies_bucket{{namespace_name="fraud", '
                           'revision_name="{rev}"}}[{w}]))', 0.001),
    "knative-otel": ('sum by (le) (rate(' + OTEL_BUCKET + '{{k8s_namespace_name="fraud", '
                     'kn_revision_name="{rev}"}}[{w}]))', 1.0),
    "knative-otel-target-info": ('sum by (le) (rate(' + OTEL_BUCKET + '[{w}]) * on (job, instance) group_left '
                                 'target_info{{k8s_namespace_name="fraud", kn_revision_name="{rev}"}})', 1.0),
    "kserve": ('sum by (le) (rate(request_predict_seconds_bucket{{namespace="fraud", '
               'serving_knative_dev_revision="{rev}"}}[{w}]))', 1.0),
    "console": ('sum by (le) (rate(model_request_duration_seconds_bucket{{namespace="fraud", '
                'revision="{rev}"}}[{w}]))', 1.0),
}


def test_every_sandbox_profile_has_its_raw_query():
    assert set(RAW_RATE) == set(EMISSIONS)


@pytest.fixture(scope="module", params=list(EMISSIONS))
def sandbox(request, tmp_path_factory):
    sb = start_sandbox(tmp_path_factory.mktemp(f"profile-{request.param}"), profile=request.param, history_hours=1)
    yield sb
    sb.stop()


@pytest.fixture(scope="module")
def at(sandbox):
    return sandbox.history_end - 60


def direct_p99(client: MetricsClient, name: str, rev: str, at: float) -> float:
    rate, unit = RAW_RATE[name]
    samples = client.instant(f"histogram_quantile(0.99, {rate.format(rev=rev, w=WINDOW)})", at)
    assert len(samples) == 1, samples
    return samples[0].value * unit


def test_detection_picks_the_profile_the_install_exports(sandbox, at):
    client = MetricsClient(sandbox.prometheus_url, timeout=10)
    match = detect_profile(client, "fraud", "fraud-detector", [CANARY, STABLE], at=at)
    assert match.name == sandbox.profile and match.detected
    assert set(match.candidates) == {sandbox.profile}  # one generation's series: one profile fits
    assert match.revisions == sorted([CANARY, STABLE]) and match.missing == []
    assert match.found_series >= 2
    # the same without naming revisions (every revision of the InferenceService), and namespace-wide
    assert detect_profile(client, "fraud", "fraud-detector", at=at).revisions == sorted([CANARY, STABLE])
    assert detect_profile(client, "fraud", at=at).name == sandbox.profile
    # a revision without series is what is missing
    partial = detect_profile(client, "fraud", "fraud-detector", [CANARY, "fraud-detector-predictor-00009"], at=at)
    assert partial.missing == ["fraud-detector-predictor-00009"]


def test_health_with_no_settings_matches_prometheus_own_quantile(sandbox, at):
    client = MetricsClient(sandbox.prometheus_url, timeout=10)
    verdict = DriftService(client).health("fraud", "fraud-detector", canary_revision=CANARY,
                                          stable_revision=STABLE, window=WINDOW, at=at)
    assert verdict.metrics["profile"] == sandbox.profile
    for h in (verdict.canary, verdict.stable):
        assert h.p99_seconds == pytest.approx(direct_p99(client, sandbox.profile, h.revision, at), rel=1e-9)
        assert 0.01 < h.p99_seconds < 2.0  # seconds, whatever unit the histogram has
    assert 0.15 < verdict.canary.requests / (verdict.canary.requests + verdict.stable.requests) < 0.25  # 20/80
    if sandbox.profile == "kserve":  # the model server exports no response codes
        assert verdict.canary.success_rate is None and verdict.status == "not-enough-data"
        assert "exports no response codes" in verdict.reason
    else:  # the demo canary answers 3% 5xx
        assert verdict.canary.success_rate < 0.99 < verdict.stable.success_rate
        assert verdict.text == "failing checks 1 of 2"


def test_models_with_metrics_names_the_inference_services(sandbox, at):
    found = DriftService(MetricsClient(sandbox.prometheus_url, timeout=10)).models_with_metrics(at)
    assert ("fraud", "fraud-detector", sorted([CANARY, STABLE])) in found
    assert ("fraud", "credit-risk", ["credit-risk-predictor-00001"]) in found


def test_the_health_command_says_which_profile(sandbox, at, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    base = ["health", "fraud-detector", "-n", "fraud", "--prometheus-url", sandbox.prometheus_url, "--at", str(at),
            "--canary-revision", CANARY, "--stable-revision", STABLE]
    code = main([*base, "--json"])
    body = json.loads(capsys.readouterr().out)
    assert body["metrics"]["profile"] == sandbox.profile and body["metrics"]["detected"] is True
    assert code == body["exit_code"] == {"healthy": 0, "failing": 1, "not-enough-data": 10}[body["status"]]
    assert main(base) == code
    assert f"metrics: {sandbox.profile} (detected)" in capsys.readouterr().out


# -- a configured profile (the [metrics] section), on the knative sandbox -----------------------


@pytest.mark.parametrize("sandbox", ["knative"], indirect=True)
def test_a_configured_profile_with_overridden_names(sandbox, at):
    app = profile("knative", requests="revision_app_request_count", duration="revision_app_request_latencies")
    client = MetricsClient(sandbox.prometheus_url, timeout=10, profiles=[app])
    verdict = DriftService(client).health("fraud", "fraud-detector", canary_revision=CANARY,
                                          stable_revision=STABLE, window=WINDOW, at=at)
    assert verdict.metrics["profile"] == "knative" and verdict.metrics["detected"] is False
    assert verdict.metrics["metric_names"] == ["revision_app_request_count", "revision_app_request_latencies_bucket"]
    direct = client.instant(f'histogram_quantile(0.99, sum by (le) (rate(revision_app_request_latencies_bucket'
                            f'{{revision_name="{CANARY}"}}[{WINDOW}])))', at)[0].value / 1000
    assert verdict.canary.p99_seconds == pytest.approx(direct, rel=1e-9)


@pytest.mark.parametrize("sandbox", ["knative"], indirect=True)
def test_a_configured_profile_the_install_lacks_says_what_is_missing(sandbox, at):
    client = MetricsClient(sandbox.prometheus_url, timeout=10, profiles=[profile("console")])
    verdict = DriftService(client).health("fraud", "fraud-detector", canary_revision=CANARY,
                                          stable_revision=STABLE, window=WINDOW, at=at)
    assert verdict.status == "not-enough-data" and verdict.metrics["profile"] is None
    assert "no request metrics" in verdict.reason and "model_requests_total" in verdict.reason


def test_a_cluster_half_way_through_a_knative_upgrade(tmp_path):
    """One Prometheus with both generations (knative/serving moved from OpenCensus to OpenTelemetry
    in 1.19): each InferenceService is judged from its own profile, and both are listed."""
    import time

    from console.sandbox.metrics_model import Simulation, backfill_openmetrics
    from console.sandbox.metrics_server import PrometheusProcess
    from metrics_fake import FakeCluster
    from metrics_fixtures import need_prometheus

    need_prometheus()
    isvcs = {i["metadata"]["name"]: i for i in FakeCluster().inference_services()}
    end = (time.time() // 60) * 60
    prom = PrometheusProcess(tmp_path / "prom", "prometheus", "promtool")
    for name, emission in (("fraud-detector", "knative"), ("credit-risk", "knative-otel")):
        sim = Simulation(seed=1, profile=emission)
        path = tmp_path / f"{emission}.om"
        with open(path, "w") as fh:
            backfill_openmetrics(sim, sim.specs([isvcs[name]]), end - 1800, end, 60, fh)
        prom.backfill(path)  # two sets of blocks over the same hours
    try:
        client = MetricsClient(prom.start([], scrape_interval=60), timeout=10)
        service = DriftService(client)
        at = end - 60
        found = service.models_with_metrics(at)
        assert ("fraud", "fraud-detector", sorted([CANARY, STABLE])) in found
        assert ("fraud", "credit-risk", ["credit-risk-predictor-00001"]) in found
        old = service.health("fraud", "fraud-detector", canary_revision=CANARY, stable_revision=STABLE, at=at)
        new = service.health("fraud", "credit-risk", canary_revision="credit-risk-predictor-00001", at=at)
        assert (old.metrics["profile"], new.metrics["profile"]) == ("knative", "knative-otel")
        assert old.canary.requests > 0 and new.canary.requests > 0
    finally:
        prom.stop()
