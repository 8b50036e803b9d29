"""Canary health of a Standard-mode canary (issue 13), from the metrics a real Standard install
has: KServe's model server (`request_predict_seconds`, label model_name; kserve
python/kserve/kserve/metrics.py) scraped from the predictor Deployments' pods, whose pod label
`app` names the Deployment (KServe 0.15+ pkg/constants/constants.go GetRawServiceLabel; before
0.15 it was "isvc.<Deployment>"). There is no Knative revision and no queue-proxy in Standard
mode, so the console compares the canary Deployment (`<isvc>-<canary>-predictor`) with the stable
one (`<isvc>-predictor`) and detects the `kserve-standard` profile with no settings.

Against the full sandbox: the KServe simulator's Standard-mode canary marketing/ad-ctr (20%), and
a real Prometheus scraping the exporter speaking the `kserve` emission."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from adapters.metrics import MetricsClient, detect_profile, profile
from console.cli import main
from console.sandbox.runner import Sandbox

AD = ("marketing", "ad-ctr")
STABLE, CANARY = "ad-ctr-predictor", "ad-ctr-v30-predictor"


@pytest.fixture(scope="module")
def kserve_sandbox(tmp_path_factory):
    if not (shutil.which("prometheus") and shutil.which("promtool")):
        pytest.skip("the prometheus package is not installed (apt-get install prometheus)")
    sb = Sandbox(tmp_path_factory.mktemp("standard-health"), prometheus=True, kfp=False, catalog=False,
                 metrics_profile="kserve", ready_delay=0.05, scrape_interval=1.0)
    endpoints = sb.start()
    if not endpoints.get("prometheus_url"):
        sb.stop()
        pytest.fail(f"the sandbox did not start Prometheus: {endpoints.get('messages')}")
    client = MetricsClient(endpoints["prometheus_url"], timeout=10)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # scraped often enough for a rate over the window
        found = detect_profile(client, "marketing", "ad-ctr", [CANARY, STABLE])
        if found.name and not found.missing and _requests(client, CANARY) > 0:
            break
        time.sleep(0.5)
    else:
        sb.stop()
        pytest.fail("Prometheus never held request series of both ad-ctr Deployments")
    yield sb
    sb.stop()


def _requests(client: MetricsClient, deployment: str) -> float:
    samples = client.instant(f'sum(increase(request_predict_seconds_count{{namespace="marketing", '
                             f'app="{deployment}"}}[5m]))')
    return samples[0].value if samples else 0.0


def test_detection_picks_the_standard_profile_by_deployment(kserve_sandbox):
    client = MetricsClient(kserve_sandbox.endpoints["prometheus_url"], timeout=10)
    match = detect_profile(client, "marketing", "ad-ctr", [CANARY, STABLE])
    assert match.name == "kserve-standard" and match.revisions == sorted([CANARY, STABLE])
    # every Deployment of the InferenceService, without naming them
    assert detect_profile(client, "marketing", "ad-ctr").revisions == sorted([CANARY, STABLE])
    # a Knative InferenceService in the same Prometheus is still the `kserve` profile's
    assert detect_profile(client, "fraud", "fraud-detector").name == "kserve"


def test_health_compares_the_canary_deployment_with_the_stable_one(kserve_sandbox, capsys):
    sb = kserve_sandbox
    code = main(["--kubeconfig", str(sb.kubeconfig_path), "--prometheus-url", sb.endpoints["prometheus_url"],
                 "health", "ad-ctr", "-n", "marketing", "--json"])
    out, err = capsys.readouterr()
    body = json.loads(out)
    assert body["metrics"]["profile"] == "kserve-standard" and body["metrics"]["detected"] is True, body
    assert body["canary"]["revision"] == CANARY and body["stable"]["revision"] == STABLE
    assert body["canary"]["requests"] > 0 and body["stable"]["requests"] > 0
    assert body["canary"]["p99_seconds"] is not None and body["stable"]["p99_seconds"] is not None
    share = body["canary"]["requests"] / (body["canary"]["requests"] + body["stable"]["requests"])
    assert 0.05 < share < 0.4  # the HTTPRoute's 20/80 (sampled)
    # the model server exports no response codes: the success-rate check has no data, and says why
    assert body["status"] == "not-enough-data" and code == body["exit_code"] == 10, err


def test_an_older_install_labels_with_the_isvc_prefix(kserve_sandbox):
    """KServe before 0.15 wrote app="isvc.<Deployment>": the profile pinned with a prefix finds
    nothing here (this install writes the plain name), and says what it looked for."""
    client = MetricsClient(kserve_sandbox.endpoints["prometheus_url"], timeout=10,
                           profiles=[profile("kserve-standard", revision_prefix="isvc.")])
    match = detect_profile(client, "marketing", "ad-ctr", [CANARY, STABLE])
    assert match.name is None and match.missing == ["request_predict_seconds_count"]
    plain = MetricsClient(kserve_sandbox.endpoints["prometheus_url"], timeout=10,
                          profiles=[profile("kserve-standard")])
    assert detect_profile(plain, "marketing", "ad-ctr", [CANARY, STABLE]).name == "kserve-standard"


def test_a_prefixed_label_is_matched_and_read_back_without_its_prefix():
    from adapters.metrics import scoped

    p = profile("kserve-standard", revision_prefix="isvc.")
    query = scoped(p, "request_predict_secondsSELECTOR", "marketing", [CANARY, STABLE])
    assert 'app=~"isvc\\\\.ad\\\\-ctr\\\\-v30\\\\-predictor|isvc\\\\.ad\\\\-ctr\\\\-predictor"' in query, query
    assert p.revision_of({"app": "isvc.ad-ctr-v30-predictor"}) == CANARY
    assert 'app=~"isvc\\\\..+"' in scoped(p, "xSELECTOR", "marketing", None)
    assert p.revisions_of_isvc("ad-ctr") == r"isvc\.ad\-ctr(-.+)?-predictor"


def test_the_doctor_names_both_profiles_and_the_standard_deployments(kserve_sandbox):
    from console.config import Settings
    from console.doctor import metric_checks

    client = MetricsClient(kserve_sandbox.endpoints["prometheus_url"], timeout=10)
    [requests] = [c for c in metric_checks(client, Settings()) if c.check == "prometheus: request metrics"]
    assert requests.status == "ok", requests
    assert "kserve (" in requests.detail and "kserve-standard (" in requests.detail
    assert f"marketing/{CANARY}" in requests.detail and f"marketing/{STABLE}" in requests.detail


def test_drift_compares_the_canary_deployments_inputs_with_the_stable_ones(kserve_sandbox, capsys):
    """The feature histograms of a Standard-mode canary are keyed by Deployment, as its request
    metrics are: `drift show` on it compares the canary Deployment's inputs with the stable one's
    (walkthrough: the Drift screen once said "no PSI" for the Standard-mode canary)."""
    sb = kserve_sandbox
    code = main(["--kubeconfig", str(sb.kubeconfig_path), "--prometheus-url", sb.endpoints["prometheus_url"],
                 "drift", "show", "ad-ctr", "-n", "marketing", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    body = json.loads(out)
    assert body["live_revision"] == CANARY and body["reference_revision"] == STABLE
    assert body["features"] and all(f["psi"] is not None and f["live_count"] > 0 for f in body["features"]), body
