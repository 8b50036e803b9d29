"""Issue 12 §2-§4: `rollout progress` end to end in the sandbox (Kubernetes API, KServe simulator,
exporter and a real Prometheus scraping it every second), with short intervals.

- a new canary of a good catalog version progresses to 100 and is promoted (exit 0), taking over an
  expired Lease on the way;
- the fraud-detector story's canary (about 96% success) is rolled back at the threshold (exit 1);
- without enough data it stops where it is after `threshold` more intervals (exit 10);
- SIGTERM (or Ctrl-C) mid-progress (a subprocess) never advances again: the step stays, an audit
  row and an Event say "progress interrupted at step N", exit 143 (130); meanwhile another console is refused,
  naming the holder of the Lease.

Follows KServe's canary rollout (the "Canary rollout strategy" docs; pkg/controller/v1beta1/
inferenceservice/reconcilers/knative/ksvc_reconciler.go for the split), Flagger's analysis
(fluxcd/flagger pkg/controller/scheduler.go: failedChecks >= threshold -> rollback) and client-go's
leader election Lease (tools/leaderelection/resourcelock/leaselock.go).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from adapters import leases
from adapters.kube import KubeClient
from console import cli, lease
from sandbox_fixtures import start_progress_sandbox, wait_until

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    sandbox = start_progress_sandbox(tmp_path_factory.mktemp("progress"))
    yield sandbox
    sandbox.stop()


def kc(sb) -> KubeClient:
    return KubeClient(str(sb.kubeconfig_path))


def new_canary(sb, ns: str, name: str, version: str = "31") -> None:
    """`name` rolled out on version 30 of search-ranker, then a canary of `version` at 0%."""
    sb.cluster.ensure_namespace(ns)
    obj = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
           "metadata": {"name": name, "namespace": ns},
           "spec": {"predictor": {"model": {"modelFormat": {"name": "pytorch"},
                                            "storageUri": "s3://mlops-models/search-ranker/v30"}}}}
    sb.cluster.put(obj)
    c = kc(sb)
    wait_until(lambda: c.get_inference_service(ns, name).latest_rolledout_revision, timeout=30)
    obj["spec"]["predictor"]["model"]["storageUri"] = f"s3://mlops-models/search-ranker/v{version}"
    obj["spec"]["predictor"]["canaryTrafficPercent"] = 0
    sb.cluster.put(obj)
    wait_until(lambda: (lambda i: i.latest_created_revision == i.latest_ready_revision
                        and i.latest_ready_revision.endswith("00002"))(c.get_inference_service(ns, name)), timeout=30)


def config(tmp_path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return str(path)


def argv(sb, *args: str, config_file: str | None = None) -> list[str]:
    return [*(["--config", config_file] if config_file else []), "--kubeconfig", str(sb.kubeconfig_path),
            "--prometheus-url", sb.endpoints["prometheus_url"], "rollout", "progress", *args]


def audit(capsys, target: str) -> list[dict]:
    capsys.readouterr()
    assert cli.main(["audit", "list", "--json", "--all", "--target", target]) == 0
    return json.loads(capsys.readouterr().out)


def events(sb, ns: str, name: str) -> list:
    return kc(sb).list_events(ns, involved_name=name)


def test_the_sandbox_scrapes_every_second_for_short_windows(sb):
    config_text = (sb.metrics.prometheus.workdir / "prometheus.yml").read_text()
    assert "scrape_interval: 1s" in config_text and sb.metrics.exporter.tick == 1.0


def test_a_healthy_canary_progresses_to_promotion_taking_over_an_expired_lease(sb, capsys, tmp_path):
    # search-ranker at 20 requests/s; "healthy" at 98% so one 5xx in a small window is not a failure
    new_canary(sb, "prog-ok", "search-ranker")
    c = kc(sb)
    long_ago = lease.now() - timedelta(minutes=10)
    leases.create_lease(c, leases.lease_body("prog-ok", "mlops-console-search-ranker", holder="gone@old (admin)",
                                             acquired=long_ago, renewed=long_ago, duration_seconds=60,
                                             transitions=0))
    cfg = config(tmp_path, "[health]\nmin_success_rate = 0.98\nmin_requests = 10\n")
    code = cli.main(argv(sb, "search-ranker", "-n", "prog-ok", "--steps", "50,100", "--interval", "5s",
                         "--window", "30s", "--reason", "v31 looks good", "--yes", config_file=cfg))
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "step 1/2: spec.predictor.canaryTrafficPercent: 0 -> 50" in out
    assert "step 2/2: spec.predictor.canaryTrafficPercent: 50 -> 100" in out
    assert "step 1/2 check: healthy" in out and "promoted: spec.predictor.canaryTrafficPercent: 100 -> (unset)" in out
    isvc = c.get_inference_service("prog-ok", "search-ranker")
    assert isvc.canary_traffic_percent is None and isvc.latest_percent == 100
    assert isvc.latest_rolledout_revision == "search-ranker-predictor-00002"
    assert leases.get_lease(c, "prog-ok", "mlops-console-search-ranker") is None  # released
    rows = audit(capsys, "prog-ok/search-ranker")
    outcomes = [(r["action"], r["outcome"]) for r in reversed(rows)]
    assert ("rollout.progress", "took over") in outcomes
    assert [o for o in outcomes if o[1] == "applied"] == [("rollout.set", "applied"), ("rollout.set", "applied"),
                                                          ("rollout.promote", "applied")]
    assert all(r["reason"] == "v31 looks good" for r in rows)
    reasons = [e.reason for e in events(sb, "prog-ok", "search-ranker")]
    assert {"ProgressStarted", "ProgressTookOver", "CanarySet", "CanaryPromote"} <= set(reasons)


def test_the_sick_story_canary_is_rolled_back_at_the_threshold(sb, capsys):
    c = kc(sb)
    before = c.get_inference_service("fraud", "fraud-detector")
    assert before.canary_traffic_percent == 20
    code = cli.main(argv(sb, "fraud-detector", "-n", "fraud", "--steps", "50,100", "--interval", "5s",
                         "--window", "3m", "--reason", "try v40", "--yes"))
    out, err = capsys.readouterr()
    assert code == 1, out + err
    checks = [line for line in out.splitlines() if " check: " in line]
    assert len(checks) == 2 and all("failing checks" in line and "success rate" in line for line in checks)
    assert "failed checks 2/2" in checks[1]
    assert "rolled back: spec.predictor.canaryTrafficPercent: 50 -> 0" in out
    assert c.get_inference_service("fraud", "fraud-detector").canary_traffic_percent == 0
    rows = audit(capsys, "fraud/fraud-detector")
    assert [r["action"] for r in rows if r["outcome"] == "applied"][:2] == ["rollout.rollback", "rollout.set"]


def test_not_enough_data_stops_where_it_is(sb, capsys, tmp_path):
    new_canary(sb, "prog-nodata", "search-ranker")
    cfg = config(tmp_path, "[health]\nmin_requests = 100000000\n")
    code = cli.main(argv(sb, "search-ranker", "-n", "prog-nodata", "--steps", "10,100", "--interval", "1s",
                         "--window", "30s", "--threshold", "1", "--reason", "quiet", "--yes", config_file=cfg))
    out, err = capsys.readouterr()
    assert code == 10, out + err
    assert sum("check: not enough data" in line for line in out.splitlines()) == 2  # the check, and 1 more
    assert "progress stopped at step 1 (10%): not enough data" in out
    assert kc(sb).get_inference_service("prog-nodata", "search-ranker").canary_traffic_percent == 10
    rows = audit(capsys, "prog-nodata/search-ranker")
    assert rows[0]["outcome"] == "stopped: not enough data"


def test_bad_input_and_dry_run_change_nothing(sb, capsys):
    new_canary(sb, "prog-dry", "search-ranker")
    for extra, word in ((["--steps", "50,25"], "must rise"), (["--interval", "soon"], "--interval"),
                        (["--threshold", "0"], "--threshold")):
        code = cli.main(argv(sb, "search-ranker", "-n", "prog-dry", "--reason", "x", "--yes", *extra))
        err = capsys.readouterr().err
        assert code == 2 and word in err and len(err.strip().splitlines()) == 1
    code = cli.main(argv(sb, "search-ranker", "-n", "prog-dry", "--yes"))
    assert code == 2 and "--reason" in capsys.readouterr().err
    code = cli.main(argv(sb, "search-ranker", "-n", "prog-dry", "--dry-run"))
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "steps: 10% -> 25% -> 50% -> 100% -> promote" in err and "first step were checked" in out
    assert (out + err).count("nothing was changed") == 1  # said once (walkthrough: it was said twice)
    assert kc(sb).get_inference_service("prog-dry", "search-ranker").canary_traffic_percent == 0
    code = cli.main(argv(sb, "search-ranker", "-n", "prog-dry", "--reason", "x"))  # no terminal, no --yes
    assert code == 2 and "pass --yes" in capsys.readouterr().err


@pytest.mark.parametrize(("sig", "exit_code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_mid_progress_stays_put_and_another_console_is_refused(sb, capsys, sig, exit_code):
    ns = f"prog-{sig.name.lower()}"
    new_canary(sb, ns, "search-ranker")
    c = kc(sb)
    proc = subprocess.Popen([sys.executable, "-m", "console", *argv(sb, "search-ranker", "-n", ns,
                                                                    "--steps", "10,50,100", "--interval", "10m",
                                                                    "--reason", "slow and steady", "--yes")],
                            cwd=ROOT, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: c.get_inference_service(ns, "search-ranker").canary_traffic_percent == 10
                   and leases.get_lease(c, ns, "mlops-console-search-ranker") is not None, timeout=60,
                   interval=0.2)
        held = leases.get_lease(c, ns, "mlops-console-search-ranker")
        assert held is not None and held.duration_seconds == 60 and held.holder and " (admin)" in held.holder
        # another console: refused, naming the holder and since when
        code = cli.main(argv(sb, "search-ranker", "-n", ns, "--reason", "me too", "--yes"))
        err = capsys.readouterr().err
        assert code == 6 and f"held by {held.holder} since " in err
        code = cli.main(["--kubeconfig", str(sb.kubeconfig_path), "rollout", "promote", "search-ranker", "-n",
                         ns, "--reason", "now", "--yes"])
        assert code == 6 and "is being steered by a progress" in capsys.readouterr().err
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == exit_code, out + err
    assert f"progress interrupted at step 1 ({sig.name})" in out
    isvc = c.get_inference_service(ns, "search-ranker")
    assert isvc.canary_traffic_percent == 10  # never advanced again
    assert leases.get_lease(c, ns, "mlops-console-search-ranker") is None
    rows = audit(capsys, f"{ns}/search-ranker")
    assert rows[0]["action"] == "rollout.progress" and rows[0]["outcome"] == "interrupted"
    assert rows[0]["message"].startswith("progress interrupted at step 1")
    interrupted = [e for e in events(sb, ns, "search-ranker") if e.reason == "ProgressInterrupted"]
    assert interrupted and interrupted[0].message.startswith("progress interrupted at step 1")
