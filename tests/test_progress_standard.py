"""`rollout progress` on a Standard-mode canary (issue 13), end to end in the sandbox (Kubernetes
API, the KServe simulator's Standard mode, the exporter and a real Prometheus scraping every
second): each step sets spec.canary[0].trafficPercent through the action path, waits until
CanaryPredictorReady is True and the HTTPRoute serves the canary its share, judges the canary
Deployment against the stable one, and ends with KServe's promotion (the stable predictor takes
the canary's name and the entry goes: kserve/kserve PR 5672, the e2e test
test/e2e/predictor/test_canary_raw_deployment.py) or, failing, with KServe's rollback (the entry
removed)."""

from __future__ import annotations

import pytest

from adapters.kube import KubeClient
from console import cli
from sandbox_fixtures import start_progress_sandbox, wait_until
from test_progress_run import audit, config, events

MODE = {"serving.kserve.io/deploymentMode": "Standard"}


def model(version: str) -> dict:
    return {"modelFormat": {"name": "pytorch"}, "storageUri": f"s3://mlops-models/search-ranker/v{version}"}


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    sandbox = start_progress_sandbox(tmp_path_factory.mktemp("progress-standard"))
    yield sandbox
    sandbox.stop()


def standard_canary(sb, ns: str, name: str) -> KubeClient:
    """`name` in Standard mode on version 30, then a canary `v31` at 10%, ready."""
    sb.cluster.ensure_namespace(ns)
    obj = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
           "metadata": {"name": name, "namespace": ns, "annotations": dict(MODE)},
           "spec": {"predictor": {"model": model("30")}}}
    sb.cluster.put(obj)
    c = KubeClient(str(sb.kubeconfig_path))
    wait_until(lambda: any(x.type == "Ready" and x.status == "True"
                           for x in c.get_inference_service(ns, name).conditions), timeout=30)
    # the CRD's canary predictor model needs a container name (ModelSpec embeds a Container)
    obj["spec"]["canary"] = [{"predictor": {"name": "v31", "model": {**model("31"), "name": "kserve-container"}},
                              "trafficPercent": 10}]
    sb.cluster.put(obj)
    wait_until(lambda: c.get_inference_service(ns, name).canaries[0].ready is True, timeout=30)
    return c


def argv(sb, *args: str, config_file: str | None = None) -> list[str]:
    return [*(["--config", config_file] if config_file else []), "--kubeconfig", str(sb.kubeconfig_path),
            "--prometheus-url", sb.endpoints["prometheus_url"], "rollout", "progress", *args]


def test_a_healthy_standard_canary_progresses_to_kserves_promotion(sb, capsys, tmp_path):
    c = standard_canary(sb, "std-ok", "search-ranker")
    cfg = config(tmp_path, "[health]\nmin_success_rate = 0.98\nmin_requests = 10\n")
    code = cli.main(argv(sb, "search-ranker", "-n", "std-ok", "--steps", "50,100", "--interval", "5s",
                         "--window", "30s", "--reason", "v31 in Standard mode", "--yes", config_file=cfg))
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "promote (make the canary the stable predictor)" in err  # the plan says what promote does here
    assert "step 1/2: spec.canary[v31].trafficPercent: 10 -> 50" in out, out
    assert "step 2/2: spec.canary[v31].trafficPercent: 50 -> 100" in out, out
    assert "canary v31 (search-ranker-v31-predictor) is ready and serves 50%" in out, out
    assert "step 1/2 check: healthy" in out and "promoted: " in out
    isvc = c.get_inference_service("std-ok", "search-ranker")
    # KServe's promotion: the stable predictor takes the canary's name and model; no entry left
    assert isvc.canaries == [] and isvc.stable_deployment == "search-ranker-v31-predictor"
    assert isvc.storage_uri == "s3://mlops-models/search-ranker/v31"
    applied = [r["action"] for r in reversed(audit(capsys, "std-ok/search-ranker")) if r["outcome"] == "applied"]
    assert applied == ["rollout.set", "rollout.set", "rollout.promote"]
    assert {"ProgressStarted", "CanarySet", "CanaryPromote"} <= {e.reason for e in events(sb, "std-ok", "search-ranker")}


def test_a_failing_standard_canary_is_rolled_back_by_removing_its_entry(sb, capsys, tmp_path):
    c = standard_canary(sb, "std-bad", "search-ranker")
    # a latency bar no model server clears (the sandbox's p99 is about 160 ms): every check fails,
    # whatever the few 5xx a short window happens to hold
    cfg = config(tmp_path, "[health]\nmax_p99_seconds = 0.001\nmin_requests = 10\n")
    code = cli.main(argv(sb, "search-ranker", "-n", "std-bad", "--steps", "50,100", "--interval", "5s",
                         "--window", "30s", "--threshold", "1", "--reason", "try v31", "--yes", config_file=cfg))
    out, err = capsys.readouterr()
    assert code == 1, out + err
    assert "failing checks" in out and "p99 latency" in out and "rolled back: " in out
    assert "the canary entry is removed (and its Deployment): all traffic goes to the stable predictor" in out
    isvc = c.get_inference_service("std-bad", "search-ranker")
    assert isvc.canaries == [] and isvc.stable_deployment == "search-ranker-predictor"
    assert isvc.storage_uri == "s3://mlops-models/search-ranker/v30"
