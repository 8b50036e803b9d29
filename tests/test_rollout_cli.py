"""`mlops-console rollout ...` through console.cli.main against the sandbox over HTTPS: list/status
JSON shapes, set/promote/rollback/step/start-canary through the safe action path, refusals (no
terminal, bad percent, read-only, forbidden, conflict, unreachable) with distinct messages and exit
codes, the object left unchanged, and every attempt in the audit journal with its reason."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from adapters.kube import KubeClient
from console import cli
from sandbox_fixtures import settled, start_kube_sandbox, wait_until

ROOT = Path(__file__).resolve().parent.parent
NS = "clitest"


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    sandbox = start_kube_sandbox(tmp_path_factory.mktemp("kube-cli"))
    yield sandbox
    sandbox.stop()


def kc(sb) -> KubeClient:
    return KubeClient(str(sb.kubeconfig_path))


def make_canary(sb, name: str, percent: int = 20) -> None:
    sb.cluster.ensure_namespace(NS)
    obj = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
           "metadata": {"name": name, "namespace": NS},
           "spec": {"predictor": {"model": {"modelFormat": {"name": "xgboost"},
                                            "storageUri": "s3://mlops-models/fraud-detector/v38"}}}}
    sb.cluster.put(obj)
    c = kc(sb)
    wait_until(lambda: c.get_inference_service(NS, name).latest_rolledout_revision)
    obj["spec"]["predictor"]["model"]["storageUri"] = "s3://mlops-models/fraud-detector/v39"
    obj["spec"]["predictor"]["canaryTrafficPercent"] = percent
    sb.cluster.put(obj)
    wait_until(lambda: settled(c.get_inference_service(NS, name), percent))


def run(capsys, sb, *argv, kubeconfig: str | None = None) -> tuple[int, str, str]:
    code = cli.main(["--kubeconfig", kubeconfig or str(sb.kubeconfig_path), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def audit_rows(capsys, target: str) -> list[dict]:
    assert cli.main(["audit", "list", "--json", "--target", target]) == 0
    return json.loads(capsys.readouterr().out)


def snapshot(sb, name: str) -> tuple:
    """What a refused change must leave alone: the spec and its generation. Not the
    resourceVersion: the controller moves the status (and with it the resourceVersion) on its own."""
    raw = kc(sb).get_raw(NS, name)
    return raw["metadata"]["generation"], raw["spec"]


# -- reading ---------------------------------------------------------------------------------


def test_list_json_all_namespaces(sb, capsys):
    code, out, _ = run(capsys, sb, "rollout", "list", "-A", "--json")
    assert code == 0
    rows = json.loads(out)
    keys = {"namespace", "name", "mode", "ready", "latest_revision", "prev_revision", "latest_percent",
            "prev_percent", "canary_traffic_percent"}
    assert all(keys <= set(r) for r in rows)
    by = {(r["namespace"], r["name"]): r for r in rows}
    fd = by[("fraud", "fraud-detector")]
    assert (fd["latest_percent"], fd["prev_percent"], fd["canary_traffic_percent"]) == (20, 80, 20)
    assert by[("fraud", "credit-risk")]["canary_traffic_percent"] is None
    assert by[("recsys", "search-ranker")]["mode"] == "RawDeployment"


def test_list_one_namespace_text_and_flag_after_subcommand(sb, capsys):
    code, out, _ = run(capsys, sb, "rollout", "list", "-n", "recsys")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["NAMESPACE", "NAME", "MODE", "READY"]
    assert all(line.startswith("recsys") for line in lines[1:]) and len(lines) >= 4
    # the global option also works before the subcommand
    code = cli.main(["-n", "fraud", "--kubeconfig", str(sb.kubeconfig_path), "rollout", "list", "--json"])
    assert code == 0 and {r["namespace"] for r in json.loads(capsys.readouterr().out)} == {"fraud"}


def test_status_json_and_text(sb, capsys):
    code, out, _ = run(capsys, sb, "rollout", "status", "fraud-detector", "-n", "fraud", "--json")
    assert code == 0
    st = json.loads(out)
    assert st["name"] == "fraud-detector" and st["latest_percent"] == 20
    assert any(c["type"] == "Ready" for c in st["conditions"])
    assert [r["name"] for r in st["revisions"]][:2] == ["fraud-detector-predictor-00002", "fraud-detector-predictor-00001"]
    code, out, _ = run(capsys, sb, "rollout", "status", "search-ranker", "-n", "recsys")
    assert code == 0 and "canary:  not possible" in out and "RawDeployment" in out
    code, _, err = run(capsys, sb, "rollout", "status", "nope", "-n", "fraud")
    assert code == 5 and err.startswith("mlops-console: ") and "fraud/nope not found" in err


# -- changing --------------------------------------------------------------------------------


def test_rollback_applied_with_reason_and_audited(sb, capsys):
    make_canary(sb, "rb")
    code, out, err = run(capsys, sb, "rollout", "rollback", "rb", "-n", NS, "--reason", "error rate up", "--yes")
    assert code == 0, err
    assert "spec.predictor.canaryTrafficPercent: 20 -> 0" in err
    assert "leaves the new model in the spec" in err
    c = kc(sb)
    wait_until(lambda: c.get_inference_service(NS, "rb").latest_percent == 0)
    i = c.get_inference_service(NS, "rb")
    assert (i.canary_traffic_percent, i.prev_percent, i.storage_uri) == (0, 100, "s3://mlops-models/fraud-detector/v39")
    rows = audit_rows(capsys, f"{NS}/rb")
    assert rows[0]["outcome"] == "applied" and rows[0]["reason"] == "error rate up"
    assert rows[0]["action"] == "rollout.rollback" and rows[0]["kube_identity"] == "admin"
    assert rows[0]["before"]["canaryTrafficPercent"] == 20 and rows[0]["after"]["canaryTrafficPercent"] == 0


def test_rollback_when_already_rolled_back_is_a_conflict_exit_6(sb, capsys):
    """A state conflict (the object already is what was asked) exits 6, as a 409 would; bad input
    stays 2. Nothing is sent and the refusal is journaled."""
    make_canary(sb, "rb2", percent=0)
    before = snapshot(sb, "rb2")
    code, _, err = run(capsys, sb, "rollout", "rollback", "rb2", "-n", NS, "--reason", "again", "--yes")
    assert code == 6 and "already rolled back: canaryTrafficPercent is 0" in err
    assert snapshot(sb, "rb2") == before
    assert audit_rows(capsys, f"{NS}/rb2")[0]["outcome"] == "refused: conflict"
    code, _, err = run(capsys, sb, "rollout", "set", "rb2", "-n", NS, "--percent", "0", "--reason", "r", "--yes")
    assert code == 6 and "canaryTrafficPercent is already 0" in err
    code, _, err = run(capsys, sb, "rollout", "step", "rb2", "--down", "-n", NS, "--reason", "r", "--yes")
    assert code == 6 and "already at 0%" in err


def test_set_promote_and_step(sb, capsys):
    make_canary(sb, "sp")
    code, _, err = run(capsys, sb, "rollout", "set", "sp", "-n", NS, "--percent", "50", "--reason", "looks good", "--yes")
    assert code == 0, err
    c = kc(sb)
    wait_until(lambda: c.get_inference_service(NS, "sp").latest_percent == 50)
    code, _, err = run(capsys, sb, "rollout", "step", "sp", "-n", NS, "--up", "--step", "25", "--reason", "more", "--yes")
    assert code == 0 and "50 -> 75" in err
    code, _, err = run(capsys, sb, "rollout", "promote", "sp", "-n", NS, "--reason", "all green", "--yes")
    assert code == 0 and "75 -> (unset)" in err
    wait_until(lambda: c.get_inference_service(NS, "sp").latest_percent == 100)
    wait_until(lambda: c.get_inference_service(NS, "sp").latest_rolledout_revision == "sp-predictor-00002")
    # promoting again: nothing to promote, a conflict with the current state (6, not bad input), journaled
    code, _, err = run(capsys, sb, "rollout", "promote", "sp", "-n", NS, "--reason", "again", "--yes")
    assert code == 6 and "nothing to promote" in err
    outcomes = [r["outcome"] for r in audit_rows(capsys, f"{NS}/sp")]
    assert outcomes == ["refused: conflict", "applied", "applied", "applied"]


def test_start_canary_cli(sb, capsys):
    make_canary(sb, "sc")
    run(capsys, sb, "rollout", "promote", "sc", "-n", NS, "--reason", "r", "--yes")
    c = kc(sb)
    wait_until(lambda: c.get_inference_service(NS, "sc").latest_rolledout_revision == "sc-predictor-00002")
    code, _, err = run(capsys, sb, "rollout", "start-canary", "sc", "-n", NS, "--storage-uri",
                       "s3://mlops-models/fraud-detector/v40", "--percent", "10", "--reason", "try v40", "--yes")
    assert code == 0, err
    assert "spec.predictor.model.storageUri: s3://mlops-models/fraud-detector/v39 -> s3://mlops-models/fraud-detector/v40" in err
    wait_until(lambda: settled(c.get_inference_service(NS, "sc"), 10))
    assert c.get_inference_service(NS, "sc").latest_revision == "sc-predictor-00003"


def test_dry_run_changes_nothing(sb, capsys):
    make_canary(sb, "dry")
    before = snapshot(sb, "dry")
    code, out, err = run(capsys, sb, "rollout", "rollback", "dry", "-n", NS, "--dry-run")
    assert code == 0 and "20 -> 0" in err and "dry-run" in err
    assert snapshot(sb, "dry") == before
    assert audit_rows(capsys, f"{NS}/dry")[0]["outcome"] == "dry-run"


# -- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize("percent", ["150", "-5", "ten", "2.5"])
def test_bad_percent_exits_2_and_is_journaled(sb, capsys, percent):
    make_canary(sb, "pct")
    before = snapshot(sb, "pct")
    code, _, err = run(capsys, sb, "rollout", "set", "pct", "-n", NS, f"--percent={percent}", "--reason", "x", "--yes")
    assert code == 2 and "percent" in err
    assert snapshot(sb, "pct") == before
    row = audit_rows(capsys, f"{NS}/pct")[0]
    assert row["outcome"] == "refused: invalid" and row["reason"] == "x"


def test_no_terminal_refuses_without_yes(sb, capsys):
    make_canary(sb, "tty")
    before = snapshot(sb, "tty")
    code, _, err = run(capsys, sb, "rollout", "rollback", "tty", "-n", NS, "--reason", "night shift")
    assert code == 2 and "without a terminal" in err
    assert snapshot(sb, "tty") == before
    row = audit_rows(capsys, f"{NS}/tty")[0]
    assert row["outcome"] == "refused: invalid" and row["reason"] == "night shift"


def test_read_only_refusal(sb, capsys):
    make_canary(sb, "ro")
    before = snapshot(sb, "ro")
    code, _, err = run(capsys, sb, "rollout", "rollback", "ro", "-n", NS, "--reason", "r", "--yes", "--read-only")
    assert code == 7 and "read-only" in err
    assert snapshot(sb, "ro") == before
    assert audit_rows(capsys, f"{NS}/ro")[0]["outcome"] == "refused: read-only"


def test_forbidden_for_viewer(sb, capsys):
    make_canary(sb, "fb")
    before = snapshot(sb, "fb")
    code, _, err = run(capsys, sb, "--context", "sandbox-viewer", "rollout", "rollback", "fb", "-n", NS,
                       "--reason", "r", "--yes")
    assert code == 4 and f"not allowed to patch inferenceservices in {NS} as viewer" in err
    assert snapshot(sb, "fb") == before
    row = audit_rows(capsys, f"{NS}/fb")[0]
    assert row["outcome"] == "refused: forbidden" and row["kube_identity"] == "viewer"


def test_raw_mode_refusal(sb, capsys):
    code, _, err = run(capsys, sb, "rollout", "set", "search-ranker", "-n", "recsys", "--percent", "10",
                       "--reason", "r", "--yes")
    assert code == 2 and "not possible in RawDeployment mode" in err


@pytest.mark.parametrize("direction", ["up", "down"])
def test_raw_mode_step_says_why(sb, capsys, direction):
    code, _, err = run(capsys, sb, "rollout", "step", "search-ranker", f"--{direction}", "-n", "recsys",
                       "--reason", "r", "--yes")
    assert code == 2 and "not possible in RawDeployment mode" in err


def test_conflict_when_changed_between_plan_and_apply(sb, capsys):
    make_canary(sb, "cf")
    # the real PATCH (not the dry run) waits 1 s on the server; meanwhile someone else edits the object
    sb.cluster.faults.add(r"/inferenceservices/cf\?fieldManager", method="PATCH", delay=1.0, times=1)

    def meddle():
        time.sleep(0.4)
        obj = sb.cluster.get("inferenceservices", NS, "cf")
        obj["metadata"].setdefault("labels", {})["touched-by"] = "someone-else"
        sb.cluster.put(obj)

    t = threading.Thread(target=meddle)
    t.start()
    code, _, err = run(capsys, sb, "rollout", "rollback", "cf", "-n", NS, "--reason", "r", "--yes")
    t.join()
    assert code == 6 and "changed since you looked (resourceVersion" in err and "reload and try again" in err
    assert kc(sb).get_inference_service(NS, "cf").canary_traffic_percent == 20
    assert audit_rows(capsys, f"{NS}/cf")[0]["outcome"] == "failed: conflict"


def test_unreachable(sb, capsys, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = tmp_path / "kubeconfig"
    path.write_text(re.sub(r"server: \S+", f"server: https://127.0.0.1:{port}", sb.kubeconfig_path.read_text()))
    code, _, err = run(capsys, sb, "rollout", "rollback", "fraud-detector", "-n", "fraud", "--reason", "r", "--yes",
                       kubeconfig=str(path))
    assert code == 3 and "unreachable" in err and "Traceback" not in err
    row = audit_rows(capsys, "fraud/fraud-detector")[0]
    assert row["outcome"] == "failed: unavailable" and row["reason"] == "r"
    code, _, err = run(capsys, sb, "rollout", "list", "-A", kubeconfig=str(path))
    assert code == 3 and "unreachable" in err


def test_unknown_context_is_bad_input_and_journaled(sb, capsys):
    code, _, err = run(capsys, sb, "--context", "prod", "rollout", "rollback", "x", "-n", NS, "--reason", "r", "--yes")
    assert code == 2 and "context 'prod' is not in kubeconfig" in err
    assert audit_rows(capsys, f"{NS}/x")[0]["outcome"] == "refused: invalid"


# -- on a terminal it asks -------------------------------------------------------------------


def _run_on_tty(sb, args: list[str], answer: bytes, env: dict) -> tuple[int, str]:
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "console", "--kubeconfig", str(sb.kubeconfig_path), *args],
                            stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, env=env, close_fds=True)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 30
    answered = False
    while time.monotonic() < deadline:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        if not answered and b"[y/N]" in seen:
            os.write(master, answer)
            answered = True
    code = proc.wait(10)
    os.close(master)
    return code, seen.decode("utf-8", "replace")


def test_terminal_confirmation_yes_and_default_no(sb, capsys):
    make_canary(sb, "ask")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code, text = _run_on_tty(sb, ["rollout", "rollback", "ask", "-n", NS, "--reason", "asked"], b"\n", env)
    assert code == 9 and "cancelled" in text and "20 -> 0" in text
    assert kc(sb).get_inference_service(NS, "ask").canary_traffic_percent == 20
    code, text = _run_on_tty(sb, ["rollout", "rollback", "ask", "-n", NS, "--reason", "asked"], b"y\n", env)
    assert code == 0, text
    assert kc(sb).get_inference_service(NS, "ask").canary_traffic_percent == 0
    outcomes = [r["outcome"] for r in audit_rows(capsys, f"{NS}/ask")]
    assert outcomes == ["applied", "cancelled"]


@pytest.mark.parametrize("percent", ["150", "-1", "abc", "12.5"])
def test_bad_percent_is_named_before_the_cluster_is_asked(tmp_path, capsys, percent):
    """No kubeconfig at all: the bad flag is still what the user is told about, and audited."""
    from console.cli import main

    audit = tmp_path / "audit.db"
    code = main(["rollout", "set", "x", "--percent", percent, "-n", "ns", "--reason", "r",
                 "--kubeconfig", str(tmp_path / "missing"), "--config", str(_empty_config(tmp_path, audit))])
    err = capsys.readouterr().err
    assert code == 2 and "percent" in err and "kubeconfig" not in err
    from console.audit import AuditJournal

    [row] = AuditJournal(audit).list()
    assert row.outcome == "refused: invalid" and row.target == "ns/x"


def _empty_config(tmp_path, audit):
    path = tmp_path / "config.toml"
    path.write_text(f'audit = "{audit}"\n')
    return path
