"""Issue 12 §1: `rollout status NAME --wait [--timeout]` as a CI/CD gate, against the sandbox
cluster over HTTPS (exit 0 ready and serving its share, 1 as soon as the new revision fails, with
the condition's message, 124 on timeout), and the pure rules behind it and behind `rollout
progress` (console/progress.py).

Follows KServe's status (pkg/apis/serving/v1beta1/inference_service_status.go, PropagateStatus:
latestCreatedRevision / latestReadyRevision and the RevisionFailed conditions) and Flagger's
analysis threshold (fluxcd/flagger pkg/controller/scheduler.go: failedChecks >= threshold rolls back).
"""

from __future__ import annotations

import threading
import time

import pytest

from adapters.errors import InvalidInput
from adapters.kube import KubeClient
from console import canary, cli, progress
from console.sandbox.kserve_sim import NEVER_READY_ANNOTATION
from sandbox_fixtures import start_kube_sandbox, wait_until

NS = "gates"


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    sandbox = start_kube_sandbox(tmp_path_factory.mktemp("gates"), ready_delay=0.05)
    yield sandbox
    sandbox.stop()


def isvc_obj(name: str, uri: str, percent: int | None = None, never_ready: bool = False) -> dict:
    obj = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
           "metadata": {"name": name, "namespace": NS},
           "spec": {"predictor": {"model": {"modelFormat": {"name": "xgboost"}, "storageUri": uri}}}}
    if percent is not None:
        obj["spec"]["predictor"]["canaryTrafficPercent"] = percent
    if never_ready:
        obj["metadata"]["annotations"] = {NEVER_READY_ANNOTATION: "true"}
    return obj


def rolled_out(sb, name: str) -> None:
    sb.cluster.ensure_namespace(NS)
    sb.cluster.put(isvc_obj(name, "s3://mlops-models/fraud-detector/v38"))
    c = KubeClient(str(sb.kubeconfig_path))
    wait_until(lambda: c.get_inference_service(NS, name).latest_rolledout_revision)


def status_wait(sb, capsys, name: str, *flags: str) -> tuple[int, str, str]:
    code = cli.main(["--kubeconfig", str(sb.kubeconfig_path), "rollout", "status", name, "-n", NS, "--wait", *flags])
    out, err = capsys.readouterr()
    return code, out, err


def test_wait_returns_0_once_the_new_revision_is_ready_and_serves_its_share(sb, capsys):
    rolled_out(sb, "wait-ok")
    sb.controller.ready_delay = 3600  # not ready until the test says so: --wait must block meanwhile
    try:
        obj = sb.cluster.put(isvc_obj("wait-ok", "s3://mlops-models/fraud-detector/v39", percent=30))
        result: dict = {}
        waiter = threading.Thread(target=lambda: result.update(code=cli.main(
            ["--kubeconfig", str(sb.kubeconfig_path), "rollout", "status", "wait-ok", "-n", NS, "--wait"])))
        waiter.start()
        seen: list[str] = []
        wait_until(lambda: seen.append(capsys.readouterr().out) or "waiting:" in "".join(seen), timeout=60)
        assert "waiting: gates/wait-ok: revision wait-ok-predictor-00002 is not ready yet" in "".join(seen)
        assert waiter.is_alive()
        # the revision becomes ready: the controller's record of it says so, and it reconciles
        sb.controller.records[obj["metadata"]["uid"]].revisions[-1].ready_at = time.time()
        sb.controller.sync(NS, "wait-ok")
        waiter.join(60)
    finally:
        sb.controller.ready_delay = 0.05
    out = "".join(seen) + capsys.readouterr().out
    assert result["code"] == 0
    assert out.splitlines()[-1] == "gates/wait-ok: revision wait-ok-predictor-00002 is ready and serves 30%"
    isvc = KubeClient(str(sb.kubeconfig_path)).get_inference_service(NS, "wait-ok")
    assert isvc.latest_percent == 30 and isvc.latest_ready_revision == "wait-ok-predictor-00002"


def test_wait_returns_1_with_the_condition_message_when_the_revision_fails(sb, capsys):
    rolled_out(sb, "wait-bad")
    sb.cluster.put(isvc_obj("wait-bad", "s3://mlops-models/fraud-detector/v39", percent=10, never_ready=True))
    code, out, err = status_wait(sb, capsys, "wait-bad", "--timeout", "60s")
    assert code == 1
    line = err.strip()
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert line.startswith("mlops-console: gates/wait-bad: revision wait-bad-predictor-00002 failed: ")
    assert "ModelLoadFailed" in line  # the condition's message, as the cluster wrote it


def test_wait_returns_124_when_the_timeout_runs_out(sb, capsys):
    rolled_out(sb, "wait-slow")
    sb.controller.ready_delay = 3600
    try:
        sb.cluster.put(isvc_obj("wait-slow", "s3://mlops-models/fraud-detector/v39", percent=10))
        code, out, err = status_wait(sb, capsys, "wait-slow", "--timeout", "1s")
    finally:
        sb.controller.ready_delay = 0.05
    assert code == 124
    assert err.startswith("mlops-console: timed out after 1s waiting for gates/wait-slow: revision "
                          "wait-slow-predictor-00002 is not ready yet")


def test_wait_bad_timeout_and_missing_object(sb, capsys):
    rolled_out(sb, "wait-args")
    code, _, err = status_wait(sb, capsys, "wait-args", "--timeout", "soon")
    assert code == 2 and "--timeout 'soon'" in err
    code, _, err = status_wait(sb, capsys, "nope")
    assert code == 5 and "not found" in err


def test_without_wait_status_exits_at_once(sb, capsys):
    rolled_out(sb, "no-wait")
    sb.controller.ready_delay = 3600
    try:
        sb.cluster.put(isvc_obj("no-wait", "s3://mlops-models/fraud-detector/v39", percent=10))
        done = threading.Event()
        result = {}

        def run():
            result["code"] = cli.main(["--kubeconfig", str(sb.kubeconfig_path), "rollout", "status", "no-wait",
                                       "-n", NS])
            done.set()

        threading.Thread(target=run, daemon=True).start()
        assert done.wait(30) and result["code"] == 0
    finally:
        sb.controller.ready_delay = 0.05
    capsys.readouterr()


def test_help_documents_the_exit_codes(capsys):
    for argv, codes in ((["rollout", "status", "--help"], ("0 ", "1 ", "124 ")), (["health", "--help"], ("0 ", "1 ", "10 "))):
        with pytest.raises(SystemExit):
            cli.main(argv)
        out = capsys.readouterr().out
        assert "exit codes" in out and all(f"\n  {c}" in out for c in codes)


# -- the pure rules ------------------------------------------------------------------------------


def test_steps_are_validated():
    assert progress.parse_steps("10,25,50,100") == [10, 25, 50, 100]
    assert progress.parse_steps("100") == [100]
    for bad, word in (("10,x", "not a list"), ("", "empty"), ("0,100", "from 1 to 100"), ("50,25,100", "rise"),
                      ("10,50", "must end at 100")):
        with pytest.raises(InvalidInput, match=word):
            progress.parse_steps(bad)


def test_flagger_threshold_semantics():
    a = progress.Analysis(threshold=2)
    # a failed check holds the step; a healthy one moves on but does not reset the failed count
    assert a.judge(canary.FAILING) == progress.HOLD
    assert a.judge(canary.HEALTHY) == progress.NEXT
    assert a.judge(canary.FAILING) == progress.ROLLBACK
    b = progress.Analysis(threshold=2)
    # not enough data: wait another interval, up to `threshold` times, then stop
    assert [b.judge(canary.NOT_ENOUGH_DATA) for _ in range(3)] == [progress.HOLD, progress.HOLD, progress.STOP]
    c = progress.Analysis(threshold=1)
    assert c.judge(canary.FAILING) == progress.ROLLBACK


def test_the_live_display_on_a_terminal_and_plain_lines_without_one():
    import io

    from console.commands.rollout import PlainReporter, RichReporter
    from console.config import Settings
    from console.context import Context

    term = io.StringIO()
    rich = RichReporter(Context(Settings(), out=term, interactive=True), total=2)
    rich.step(1, 2, 50)
    rich.verdict("healthy")
    rich.countdown(4.2)
    rich.line("step 1/2: spec.predictor.canaryTrafficPercent: 0 -> 50 (audit #3)")
    rich.close()
    shown = term.getvalue()
    assert "step 1/2 (50%)" in shown and "healthy" in shown and "next check in 5s" in shown
    assert "canaryTrafficPercent: 0 -> 50 (audit #3)" in shown
    plain = io.StringIO()
    lines = PlainReporter(Context(Settings(), out=plain, interactive=False))
    lines.step(2, 2, 100)
    lines.countdown(3)
    assert plain.getvalue().split(" ", 1)[1] == "step 2/2: canaryTrafficPercent 100\n"


def test_sandbox_up_scrape_interval_is_range_checked(tmp_path, capsys):
    code = cli.main(["sandbox", "up", "--state-dir", str(tmp_path), "--scrape-interval", "0.1"])
    assert code == 2 and "--scrape-interval must be from 1 to 300 seconds" in capsys.readouterr().err
