"""`mlops-console runs ...` end to end through console.cli.main against the KFP sandbox over HTTP."""

from __future__ import annotations

import json
import socket

import pytest

from console.audit import AuditJournal
from console.cli import main
from console.sandbox.kfp_server import KfpSandbox


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    sb = KfpSandbox(tmp_path_factory.mktemp("kfp"), n_runs=50, seed=7)
    sb.start()
    yield sb
    sb.stop()


@pytest.fixture
def kfp(sandbox, monkeypatch):
    sandbox.faults.clear()
    monkeypatch.setenv("MLOPS_CONSOLE_KFP_URL", sandbox.base_url)
    return sandbox


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    sb = KfpSandbox(tmp_path / "kfp", n_runs=50, seed=7)
    sb.start()
    monkeypatch.setenv("MLOPS_CONSOLE_KFP_URL", sb.base_url)
    monkeypatch.setenv("MLOPS_CONSOLE_AUDIT", str(tmp_path / "audit.db"))
    yield sb
    sb.stop()


def run_json(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def by_name(rows, fragment):
    return next(r for r in rows if fragment in r["display_name"])


def test_list_json_pages_through_every_run(kfp, capsys):
    rows = run_json(capsys, "runs", "list", "--json")
    assert len(rows) == 50 and len({r["run_id"] for r in rows}) == 50
    for row in rows:
        assert {"run_id", "display_name", "experiment_id", "state", "created_at", "finished_at"} <= set(row)
    unfinished = [r for r in rows if r["state"] in ("RUNNING", "PENDING")]
    assert unfinished and all(r["finished_at"] is None for r in unfinished)
    assert all(r["finished_at"] for r in rows if r["state"] == "SUCCEEDED")


def test_list_pages_past_the_first_page(tmp_path, monkeypatch, capsys):
    with KfpSandbox(tmp_path / "kfp", n_runs=230, seed=3) as sb:
        monkeypatch.setenv("MLOPS_CONSOLE_KFP_URL", sb.base_url)
        rows = run_json(capsys, "runs", "list", "--json")
        assert len(rows) == 230 and len({r["run_id"] for r in rows}) == 230
        pages = [p for m, p, _h in sb.requests if p.endswith("/runs")]
        assert len(pages) >= 3
        assert len(run_json(capsys, "runs", "list", "--json", "--limit", "150")) == 150


def test_list_limit_state_and_experiment(kfp, capsys):
    assert len(run_json(capsys, "runs", "list", "--limit", "7", "--json")) == 7
    failed = run_json(capsys, "runs", "list", "--state", "failed", "--json")
    assert failed and all(r["state"] == "FAILED" for r in failed)
    assert any("OOMKilled" in (r["error"] or "") for r in failed)
    several = run_json(capsys, "runs", "list", "--state", "RUNNING,PENDING", "--json")
    assert {r["state"] for r in several} == {"RUNNING", "PENDING"}
    recsys = run_json(capsys, "runs", "list", "--experiment", "recsys-training", "--json")
    assert recsys and len({r["experiment_id"] for r in recsys}) == 1
    assert all(r["experiment_id"] == recsys[0]["experiment_id"] for r in recsys)


def test_list_text_table(kfp, capsys):
    assert main(["runs", "list", "--limit", "5"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["RUN", "ID", "STATE"]
    assert len(out) == 6
    assert "forecasting" in out[1]  # experiment names, not ids


def test_bad_input_exits_2(kfp, capsys):
    assert main(["runs", "list", "--state", "DONE"]) == 2
    assert "unknown run state 'DONE'" in capsys.readouterr().err
    assert main(["runs", "list", "--experiment", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no experiment 'nope'" in err and "recsys-training" in err
    with pytest.raises(SystemExit) as info:
        main(["runs", "list", "--limit", "0"])
    assert info.value.code == 2
    # A run id with a control character is bad input, named (escaped), not an internal error.
    assert main(["runs", "show", "id\x1b[2J"]) == 2
    assert "run id 'id\\x1b[2J' is not valid" in capsys.readouterr().err


def test_show_text_puts_the_error_first(kfp, capsys):
    rows = run_json(capsys, "runs", "list", "--json")
    oom = by_name(rows, "churn-predictor-v31")
    assert main(["runs", "show", oom["run_id"]]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    error_line = next(i for i, line in enumerate(lines) if line.startswith("Error"))
    assert error_line < 5 and "train-model" in lines[error_line] and "OOMKilled" in lines[error_line]
    assert "Tasks" in out and "validate-data" in out and "system-container-impl" in out
    assert "State history" in out and "PENDING" in out
    assert "churn-predictor v31" in out  # what it produces


def test_show_json_has_tasks(kfp, capsys):
    rows = run_json(capsys, "runs", "list", "--json")
    run = run_json(capsys, "runs", "show", by_name(rows, "credit-risk-v36")["run_id"], "--json")
    assert run["state"] == "FAILED" and "data validation failed" in run["error"]
    failed = [t for t in run["tasks"] if t["state"] == "FAILED" and t["depth"] == 1]
    assert failed[0]["display_name"] == "validate-data" and failed[0]["pod_name"]


def test_show_unknown_run_names_it(kfp, capsys):
    assert main(["runs", "show", "0000-missing"]) == 5
    err = capsys.readouterr().err
    assert err.startswith("mlops-console: ") and "0000-missing" in err and "Traceback" not in err


def test_missing_url_says_how_to_set_it(monkeypatch, capsys):
    monkeypatch.delenv("MLOPS_CONSOLE_KFP_URL", raising=False)
    assert main(["runs", "list"]) == 2
    err = capsys.readouterr().err
    assert "--kfp-url" in err and "MLOPS_CONSOLE_KFP_URL" in err


def test_backend_down_is_one_line(monkeypatch, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["runs", "list", "--kfp-url", f"http://127.0.0.1:{port}"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot be reached" in err


def test_forbidden_exits_4(kfp, capsys):
    kfp.faults.add(r"/runs$", status=403, times=1)
    assert main(["runs", "list"]) == 4
    assert "check the token" in capsys.readouterr().err


def test_token_env_is_used(fresh, tmp_path, monkeypatch, capsys):
    fresh.token = "t0ken"
    config = tmp_path / "config.toml"
    config.write_text('[kfp]\ntoken_env = "MY_KFP_TOKEN"\n')
    monkeypatch.setenv("MY_KFP_TOKEN", "t0ken")
    assert len(run_json(capsys, "runs", "list", "--limit", "3", "--json", "--config", str(config))) == 3
    monkeypatch.delenv("MY_KFP_TOKEN")
    assert main(["runs", "list", "--config", str(config)]) == 2
    assert "MY_KFP_TOKEN" in capsys.readouterr().err


def test_terminate_writes_an_audit_row(fresh, tmp_path, capsys):
    rows = run_json(capsys, "runs", "list", "--json")
    target = by_name(rows, "fraud-detector-v41")
    assert main(["runs", "terminate", target["run_id"], "--reason", "wrong features", "--yes"]) == 0
    captured = capsys.readouterr()
    assert "RUNNING -> CANCELING -> CANCELED" in captured.err and "now CANCELING" in captured.out
    assert run_json(capsys, "runs", "show", target["run_id"], "--json")["state"] == "CANCELING"
    journal = AuditJournal(tmp_path / "audit.db")
    row = journal.list(limit=1)[0]
    journal.close()
    assert row.action == "run.terminate" and row.outcome == "applied" and row.reason == "wrong features"
    assert row.before["state"] == "RUNNING" and row.after["state"] == "CANCELING"
    # again: refused as a conflict with the run's state (exit 6), says why, and is written down too
    assert main(["runs", "terminate", target["run_id"], "--reason", "again", "--yes"]) == 6
    assert "is CANCELING" in capsys.readouterr().err
    journal = AuditJournal(tmp_path / "audit.db")
    assert journal.list(limit=1)[0].outcome == "refused: conflict"  # nothing was sent
    journal.close()


def test_retry_needs_confirmation_without_a_terminal(fresh, capsys):
    rows = run_json(capsys, "runs", "list", "--json")
    failed = by_name(rows, "ad-ctr-v31")
    assert main(["runs", "retry", failed["run_id"], "--reason", "transient S3 timeout"]) == 2
    assert "--yes" in capsys.readouterr().err
    assert run_json(capsys, "runs", "show", failed["run_id"], "--json")["state"] == "FAILED"
    assert main(["runs", "retry", failed["run_id"], "--reason", "transient S3 timeout", "--yes"]) == 0
    capsys.readouterr()
    assert run_json(capsys, "runs", "show", failed["run_id"], "--json")["state"] == "RUNNING"


def test_read_only_refuses(fresh, capsys):
    rows = run_json(capsys, "runs", "list", "--json")
    target = by_name(rows, "search-ranker-v33")
    assert main(["runs", "terminate", target["run_id"], "--reason", "x", "--yes", "--read-only"]) == 7
    assert "read-only" in capsys.readouterr().err
    assert run_json(capsys, "runs", "show", target["run_id"], "--json")["state"] == "RUNNING"


def test_experiments_command(kfp, capsys):
    rows = run_json(capsys, "runs", "experiments", "--json")
    assert {"payments-training", "recsys-training"} <= {r["display_name"] for r in rows}


def test_actions_refuse_a_run_that_moved_on_since_the_plan(fresh, tmp_path):
    from adapters.errors import Conflict, InvalidInput, StateConflict
    from adapters.pipelines import PipelinesClient
    from console.actions import ActionPath
    from console.pipeline_actions import RetryRun, TerminateRun

    journal = AuditJournal(tmp_path / "audit2.db")
    path = ActionPath(journal, read_only=False)
    with PipelinesClient(fresh.base_url) as client:
        target = next(r for r in client.iter_runs(state="RUNNING") if "product-embedder" in r.display_name)
        action = TerminateRun(client, target.run_id)
        change = path.prepare(action, "stop it")
        assert change.before["state"] == "RUNNING" and change.after["state"] == "CANCELED"
        assert any("RUNNING -> CANCELING -> CANCELED" in line for line in change.lines)
        client.terminate_run(target.run_id)  # someone else was quicker
        with pytest.raises(Conflict, match="changed since you looked"):
            path.execute(action, change, "stop it")
        assert journal.list(limit=1)[0].outcome == "failed: conflict"
        finished = next(iter(client.iter_runs(state="SUCCEEDED")))
        with pytest.raises(StateConflict, match="only a FAILED or CANCELED run can be retried"):
            path.prepare(RetryRun(client, finished.run_id), "why not")
        with pytest.raises(InvalidInput, match="not valid"):
            path.prepare(RetryRun(client, "a/b"), "bad id")
    journal.close()


# -- who may act (issue 8 s.7) and multi-user KFP (issue 9 s.4) ---------------------------------


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    """The whole sandbox with KFP multi-user; its kubeconfig has sandbox-admin and sandbox-viewer."""
    from console.sandbox.runner import Sandbox

    sb = Sandbox(tmp_path_factory.mktemp("multi"), prometheus=False, catalog=False, kfp_multi_user=True)
    endpoints = sb.start()
    yield sb, endpoints
    sb.stop()


@pytest.fixture
def multi_env(multi, tmp_path, monkeypatch):
    sb, endpoints = multi
    monkeypatch.setenv("MLOPS_CONSOLE_KFP_URL", endpoints["kfp_url"])
    monkeypatch.setenv("MLOPS_CONSOLE_KFP_USER_HEADER", endpoints["kfp_user_header"])
    monkeypatch.setenv("KUBECONFIG", endpoints["kubeconfig"])
    monkeypatch.setenv("MLOPS_CONSOLE_AUDIT", str(tmp_path / "audit.db"))
    monkeypatch.delenv("MLOPS_CONSOLE_NAMESPACE", raising=False)
    return sb, endpoints


def last_audit(tmp_path):
    journal = AuditJournal(tmp_path / "audit.db")
    try:
        return journal.list(limit=1)[0]
    finally:
        journal.close()


def test_multi_user_list_needs_a_namespace(multi_env, capsys, tmp_path):
    """run_server.go: KFP refuses a list without a namespace in multi-user mode; the console says how to
    name one (-n, the context's namespace, [kfp] namespace)."""
    assert main(["runs", "list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "multi-user mode" in err and "-n NAMESPACE" in err
    rows = run_json(capsys, "runs", "list", "-n", "fraud", "--json")
    experiments = run_json(capsys, "runs", "experiments", "-n", "fraud", "--json")
    assert rows and {r["experiment_id"] for r in rows} <= {e["experiment_id"] for e in experiments}
    config = tmp_path / "config.toml"
    config.write_text('[kfp]\nnamespace = "recsys"\n')
    via_config = run_json(capsys, "runs", "list", "--config", str(config), "--json")
    assert via_config and {r["run_id"] for r in via_config}.isdisjoint(r["run_id"] for r in rows)


def test_multi_user_viewer_is_refused_before_anything_is_sent(multi_env, capsys, tmp_path):
    """KFP authorizes terminate with a SubjectAccessReview on pipelines.kubeflow.org runs in the run's
    namespace (run_server.go canAccessRun); the console asks the same with a SelfSubjectAccessReview
    and refuses with exit 4, even though the gateway header names an admin."""
    sb, _ = multi_env
    target = by_name(run_json(capsys, "runs", "list", "-n", "recsys", "--json"), "search-ranker-v33")
    assert target["state"] == "RUNNING"
    code = main(["--context", "sandbox-viewer", "runs", "terminate", target["run_id"], "-n", "recsys",
                 "--reason", "stop it", "--yes"])
    err = capsys.readouterr().err
    assert code == 4, err
    assert "not allowed to terminate runs.pipelines.kubeflow.org in namespace recsys as viewer" in err
    row = last_audit(tmp_path)
    assert row.outcome == "refused: forbidden" and row.kube_identity == "viewer"
    assert run_json(capsys, "runs", "show", target["run_id"], "-n", "recsys", "--json")["state"] == "RUNNING"
    assert main(["--context", "sandbox-admin", "runs", "terminate", target["run_id"], "-n", "recsys",
                 "--reason", "stop it", "--yes"]) == 0
    err = capsys.readouterr().err
    assert "does not check permissions" not in err
    row = last_audit(tmp_path)
    assert row.outcome == "applied" and row.kube_identity == "admin"


def test_single_user_says_permissions_are_not_checked(fresh, capsys, tmp_path, monkeypatch):
    """Single-user KFP authorizes nothing (resource_manager.go IsAuthorized returns early): say so in the
    confirmation; without a kube identity, the audit row names the KFP user of the user header."""
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    monkeypatch.setenv("MLOPS_CONSOLE_KFP_USER_HEADER", "kubeflow-userid: oncall@example.com")
    target = by_name(run_json(capsys, "runs", "list", "--json"), "ad-ctr-v31")
    assert main(["runs", "retry", target["run_id"], "--reason", "transient", "--yes"]) == 0
    err = capsys.readouterr().err
    assert "this Kubeflow Pipelines does not check permissions" in err
    row = last_audit(tmp_path)
    assert row.outcome == "applied" and row.kube_identity == "oncall@example.com"


def test_per_context_read_only_refuses_runs_and_catalog_alias(fresh, capsys, tmp_path):
    from console.demo_catalog import build_demo_catalog

    catalog = tmp_path / "catalog.db"
    build_demo_catalog(catalog)
    config = tmp_path / "config.toml"
    config.write_text('[contexts."prod-eu"]\nread_only = true\n')
    target = by_name(run_json(capsys, "runs", "list", "--json"), "fraud-detector-v41")
    common = ["--config", str(config), "--context", "prod-eu"]
    assert main([*common, "runs", "terminate", target["run_id"], "--reason", "x", "--yes"]) == 7
    assert "read-only" in capsys.readouterr().err
    before = catalog.read_bytes()
    assert main([*common, "--catalog", str(catalog), "catalog", "alias", "fraud-detector:1", "champion",
                 "--reason", "x", "--yes"]) == 7
    assert "read-only" in capsys.readouterr().err
    assert catalog.read_bytes() == before
    assert run_json(capsys, "runs", "show", target["run_id"], "--json")["state"] == "RUNNING"
