"""What needs you now (issue 11): the items' rules on crafted objects, then `mlops-console triage`
against the sandbox (a failed revision, a failing canary, failed runs, drift), with a second context
that is down, and the exit codes."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from adapters.kube import parse_inference_service
from adapters.pipelines import Run
from console import cli
from console.canary import Check, Verdict
from console.sandbox.runner import Sandbox
from console.triage import CRITICAL, INFO, WARNING, Item, isvc_items, needs_attention, run_items, sort_items

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def isvc(name: str, *, ready: str = "True", created: str = "m-00002", ready_rev: str = "m-00002",
         percent: int | None = None, message: str | None = None) -> object:
    conditions = [{"type": "Ready", "status": ready, "lastTransitionTime": "2026-11-30T02:10:00Z",
                   **({"reason": "RevisionFailed", "message": message} if message else {})}]
    traffic = [{"revisionName": ready_rev, "percent": percent if percent is not None else 100, "latestRevision": True}]
    if percent is not None:
        traffic.append({"revisionName": "m-00001", "percent": 100 - percent, "latestRevision": False, "tag": "prev"})
    return parse_inference_service({
        "metadata": {"name": name, "namespace": "ns", "resourceVersion": "1"},
        "spec": {"predictor": {"model": {"storageUri": "s3://b/m/v2"},
                               **({"canaryTrafficPercent": percent} if percent is not None else {})}},
        "status": {"conditions": conditions, "latestCreatedRevision": created, "latestReadyRevision": ready_rev,
                   "latestRolledoutRevision": "m-00001",
                   "components": {"predictor": {"latestCreatedRevision": created, "latestReadyRevision": ready_rev,
                                                "latestRolledoutRevision": "m-00001", "traffic": traffic}}},
    })


def verdict(status: str) -> Verdict:
    check = Check("success_rate", 0.95, 0.999, 0.99, status != "failing", "success rate 95.00% (>= 99.00%)")
    return Verdict(status, "failing checks 1 of 2" if status == "failing" else status, [check], None, None)


def test_failed_revision_and_not_ready_are_critical_with_the_condition_message():
    items = isvc_items("prod", [
        isvc("failed", ready="False", created="m-00003", message="ModelLoadFailed: no such key"),
        isvc("down", ready="False"),
        isvc("deploying", ready="Unknown", created="m-00003"),  # a new revision on its way: not a failure
        isvc("fine"),
    ])
    by = {i.name: i for i in items}
    assert set(by) == {"failed", "down"}
    assert by["failed"].kind == "revision-failed" and by["failed"].severity == CRITICAL
    assert "m-00003" in by["failed"].summary and "ModelLoadFailed: no such key" in by["failed"].summary
    assert by["down"].kind == "not-ready" and by["down"].since == "2026-11-30T02:10:00Z"


def test_canaries_in_progress_carry_their_verdict_and_a_failing_one_is_critical():
    items = isvc_items("prod", [isvc("sick", percent=20), isvc("good", percent=50), isvc("unjudged", percent=10)],
                       {"ns/sick": verdict("failing"), "ns/good": verdict("healthy")})
    by = {i.name: i for i in items}
    assert by["sick"].kind == "canary-failing" and by["sick"].severity == CRITICAL
    assert "success rate 95.00%" in by["sick"].summary
    assert by["good"].kind == "canary-in-progress" and by["good"].severity == INFO and "50%" in by["good"].summary
    assert by["unjudged"].kind == "canary-in-progress"


def run(run_id: str, state: str, experiment: str, started: datetime, ended: datetime | None) -> Run:
    return Run(run_id, f"run-{run_id}", experiment, state, created_at=started, finished_at=ended)


def test_failed_runs_within_a_day_and_slow_runs_against_their_experiment():
    failed = [run("new", "FAILED", "e1", NOW - timedelta(hours=2), NOW - timedelta(hours=1)),
              run("old", "FAILED", "e1", NOW - timedelta(hours=30), NOW - timedelta(hours=25))]
    usual = [run(f"ok{i}", "SUCCEEDED", "e1", NOW - timedelta(hours=10), NOW - timedelta(hours=10) + timedelta(minutes=20))
             for i in range(3)]
    running = [run("slow", "RUNNING", "e1", NOW - timedelta(minutes=90), None),
               run("normal", "RUNNING", "e1", NOW - timedelta(minutes=25), None),
               run("unknown", "RUNNING", "e2", NOW - timedelta(hours=9), None)]  # no history: not judged
    items = run_items("prod", failed, running, usual, NOW, {"e1": "nightly"})
    assert [(i.kind, i.name) for i in items] == [("run-failed", "run-new"), ("run-slow", "run-slow")]
    assert all(i.severity == WARNING for i in items)
    assert "running 1h 30m, 4.5x the usual 20m" in items[1].summary.replace(" 00s", "") and "nightly" in items[1].summary
    assert items[0].ref == "new" and items[1].ref == "slow"


def test_sorted_by_severity_then_newest_and_the_exit_rule():
    items = [Item(INFO, "canary-in-progress", "c", "n", "a", "", "2026-11-30T02:00:00Z"),
             Item(WARNING, "run-failed", "c", None, "b", "", "2026-11-30T01:00:00Z"),
             Item(CRITICAL, "not-ready", "c", "n", "old", "", "2026-11-29T01:00:00Z"),
             Item(CRITICAL, "not-ready", "c", "n", "new", "", "2026-11-30T01:00:00Z"),
             Item(CRITICAL, "not-ready", "c", "n", "unknown", "", None)]
    assert [i.name for i in sort_items(items)] == ["new", "old", "unknown", "b", "a"]
    assert needs_attention(items) and not needs_attention([items[0]])


# -- against the sandbox ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    sandbox = Sandbox(tmp_path_factory.mktemp("triage"), ready_delay=0.05)
    sandbox.start()
    yield sandbox
    sandbox.stop()


def triage(capsys, sb: Sandbox, *extra: str, kubeconfig: str | None = None) -> tuple[int, list[dict], str]:
    code = cli.main(["triage", "--kubeconfig", kubeconfig or str(sb.kubeconfig_path),
                     "--kfp-url", sb.endpoints["kfp_url"], "--prometheus-url", sb.endpoints["prometheus_url"], *extra])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if "--json" in extra else []), out + err


def test_triage_names_each_demo_story_critical_first(sb, capsys):
    code, items, _ = triage(capsys, sb, "--json")
    assert code == 1
    assert all(set(i) == {"severity", "kind", "context", "namespace", "name", "summary", "since"} for i in items)
    kinds = {(i["kind"], i["namespace"], i["name"]) for i in items}
    assert ("revision-failed", "recsys", "churn-predictor") in kinds
    assert ("canary-failing", "fraud", "fraud-detector") in kinds
    assert ("drift", "fraud", "fraud-detector") in kinds
    failed_runs = [i for i in items if i["kind"] == "run-failed"]
    assert any("OOMKilled" in i["summary"] for i in failed_runs)
    severities = [i["severity"] for i in items]
    assert severities == sorted(severities, key=["critical", "warning", "info"].index)
    churn = next(i for i in items if i["kind"] == "revision-failed")
    assert "ModelLoadFailed" in churn["summary"] and churn["context"] == "sandbox-admin"


def test_namespace_scope(sb, capsys):
    code, items, _ = triage(capsys, sb, "--json", "-n", "recsys")
    serving = [i for i in items if i["namespace"] is not None]
    assert serving and all(i["namespace"] == "recsys" for i in serving)


def test_a_context_that_is_down_is_one_item_and_the_others_still_show(sb, capsys, tmp_path):
    config = yaml.safe_load(sb.kubeconfig_path.read_text())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    cluster = dict(config["clusters"][0], name="dead")
    cluster["cluster"] = dict(cluster["cluster"], server=f"https://127.0.0.1:{dead_port}")
    config["clusters"].append(cluster)
    admin = next(c for c in config["contexts"] if c["name"] == "sandbox-admin")
    config["contexts"].append({"name": "dead", "context": dict(admin["context"], cluster="dead")})
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    code, items, _ = triage(capsys, sb, "--json", "--contexts", "dead,sandbox-admin", kubeconfig=str(path))
    assert code == 1
    # Its cluster is one item; its KFP (the same URL here) still answers for it.
    dead = [i for i in items if i["context"] == "dead" and not i["kind"].startswith("run-")]
    assert [(i["kind"], i["severity"], i["name"]) for i in dead] == [("backend-unavailable", "critical", "kubernetes")]
    assert "unreachable" in dead[0]["summary"]
    assert any(i["context"] == "sandbox-admin" and i["kind"] == "revision-failed" for i in items)


def test_contexts_that_share_one_kfp_list_its_runs_once(sb, capsys):
    """Two contexts with the one (top-level) kfp_url see the same KFP: its failed runs are one
    item each, under the first context, not one per context."""
    code, items, _ = triage(capsys, sb, "--json", "--contexts", "sandbox-admin,sandbox-viewer")
    runs = [(i["kind"], i["name"]) for i in items if i["kind"].startswith("run-")]
    assert runs and len(runs) == len(set(runs))
    assert {i["context"] for i in items if i["kind"].startswith("run-")} == {"sandbox-admin"}
    assert {i["context"] for i in items if i["kind"] == "revision-failed"} == {"sandbox-admin", "sandbox-viewer"}


def test_unknown_context_is_named(sb, capsys):
    code, items, _ = triage(capsys, sb, "--json", "--contexts", "nope")
    assert code == 1
    assert items[0]["kind"] == "backend-unavailable" and "nope" in items[0]["summary"]


def test_nothing_to_do_exits_0(sb, capsys):
    # A namespace with nothing in it, and no KFP (its runs are not namespaced in single-user mode).
    code = cli.main(["triage", "--kubeconfig", str(sb.kubeconfig_path), "-n", "empty-namespace"])
    out = capsys.readouterr().out
    assert (code, out.strip()) == (0, "nothing needs you now")


def test_config_triage_contexts_add_to_the_current_one(sb, capsys, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[triage]\ncontexts = ["sandbox-viewer", "sandbox-admin"]\nfailed_within_hours = 0.001\n')
    code = cli.main(["triage", "--json", "--config", str(config), "--kubeconfig", str(sb.kubeconfig_path),
                     "--kfp-url", sb.endpoints["kfp_url"]])
    items = json.loads(capsys.readouterr().out)
    assert {i["context"] for i in items} == {"sandbox-admin", "sandbox-viewer"}
    assert not [i for i in items if i["kind"] == "run-failed"]  # none failed in the last 3.6 s
    assert code == 1  # the failed revision still needs attention
    bad = tmp_path / "bad.toml"
    bad.write_text('[triage]\ncontexts = "prod"\n')
    assert cli.main(["triage", "--config", str(bad)]) == 2
    assert f"config {bad}:2: 'triage.contexts' must be a list of strings" in capsys.readouterr().err


def test_gather_streams_the_first_answers_without_waiting_for_the_slowest_backend(monkeypatch):
    """The Now screen's first useful frame (issue 11 §1): a context's serving side answers while its
    KFP is still being asked, and on_partial hands those items over at once."""
    import threading

    from console import triage

    kfp_may_answer = threading.Event()

    def serving(settings_for, context, namespace, now):
        return [Item(CRITICAL, "revision-failed", context, "recsys", "churn", "failed", None)]

    def runs(settings_for, context, namespace, now):
        assert kfp_may_answer.wait(10), "KFP was waited for before the serving items were handed over"
        return [Item(WARNING, "run-failed", context, None, "train", "OOMKilled", None)]

    monkeypatch.setattr(triage, "_serving_items", serving)
    monkeypatch.setattr(triage, "_runs_of_context", runs)
    partials: list[list[str]] = []

    def on_partial(items):
        partials.append([item.kind for item in items])
        kfp_may_answer.set()

    items = triage.gather(lambda context: kfp_at("http://kfp"), triage.Scope(["prod"], None), on_partial=on_partial)
    assert partials == [["revision-failed"]]
    assert [item.kind for item in items] == ["revision-failed", "run-failed"]


def kfp_at(url: str | None):
    from console.config import Settings

    return Settings(kfp_url=url)
