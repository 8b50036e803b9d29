"""No change without its audit row, against the sandbox cluster over HTTPS (issue 8, sections 1 and
3): `rollout rollback --yes` with a journal another process holds (BEGIN EXCLUSIVE) is refused and
the InferenceService is left as it was, from the CLI and from the Rollouts screen; a journal that
locks up after the intent gives exit 10 and says so; audit rows and the header name the context the
kubeconfig selects (kubectl's current-context).

Follows kubectl's context selection (k8s.io/client-go/tools/clientcmd/loader.go: the first file of
KUBECONFIG that sets current-context wins) and the sandbox's kubeconfig (current-context
sandbox-admin)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import Static

from adapters.errors import BackendUnavailable
from console import actions as actions_module
from console import cli
from console.app import MlopsConsole
from console.audit import AuditJournal, Identity
from console.config import Settings
from console.context import Context
from sandbox_fixtures import start_kube_sandbox
from screens.confirm import ConfirmChangeScreen
from test_audit_writeahead import held_exclusive
from test_rollout_cli import NS, kc, make_canary

# sandbox and fraud_at_20 are the Rollouts tests' fixtures: pytest finds them by the name the tests
# take, which ruff reads as a redefinition (F811, noqa'd on those lines)
from test_rollouts_screen import (  # noqa: F401
    FRAUD,
    FROZEN,
    admin,
    fraud_at_20,
    open_rollouts,
    press_rollback_and_wait_for_modal,
    sandbox,
    wait_for,
)


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    started = start_kube_sandbox(tmp_path_factory.mktemp("kube-audit"))
    yield started
    started.stop()


@pytest.fixture
def quick_journal(monkeypatch):
    """A locked journal is waited on for a fraction of a second, not the production few seconds."""
    monkeypatch.setattr("console.audit.LOCK_WAIT", 0.2)
    monkeypatch.setattr(actions_module, "RETRY_PAUSE", 0.0)


def seeded_journal(path: Path) -> Path:
    journal = AuditJournal(path)
    journal.record(identity=Identity("seed", None), action="seed", target="-", outcome="applied")
    journal.close()
    return path


def cli_run(capsys, sb, audit: Path, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["--kubeconfig", str(sb.kubeconfig_path), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_rollback_with_a_locked_journal_is_refused_and_the_isvc_unchanged(sb, capsys, tmp_path, monkeypatch,
                                                                              quick_journal):
    make_canary(sb, "locked")
    audit = seeded_journal(tmp_path / "audit.db")
    monkeypatch.setenv("MLOPS_CONSOLE_AUDIT", str(audit))
    before = kc(sb).get_inference_service(NS, "locked")
    with held_exclusive(audit):
        code, out, err = cli_run(capsys, sb, audit, "rollout", "rollback", "locked", "-n", NS,
                                 "--reason", "5xx on canary", "--yes")
    assert code == BackendUnavailable.exit_code and out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith("mlops-console: rollout.rollback on clitest/locked refused, nothing was sent")
    assert str(audit) in last and "locked by another process" in last and "Traceback" not in err
    after = kc(sb).get_inference_service(NS, "locked")
    assert (after.resource_version, after.canary_traffic_percent) == (before.resource_version, 20)
    assert [r.action for r in AuditJournal(audit).list(all_rows=True)] == ["seed"]


def test_cli_result_row_lost_after_the_change_exits_10_and_the_intent_stays(sb, capsys, tmp_path, monkeypatch,
                                                                            quick_journal):
    from console.rollout_actions import Rollback

    make_canary(sb, "late")
    audit = seeded_journal(tmp_path / "audit.db")
    monkeypatch.setenv("MLOPS_CONSOLE_AUDIT", str(audit))
    holder = {}
    applied = Rollback.apply

    def apply_then_lock(self, change):  # another process takes the journal right after the patch
        after = applied(self, change)
        holder["lock"] = held_exclusive(audit)
        holder["lock"].__enter__()
        return after

    monkeypatch.setattr(Rollback, "apply", apply_then_lock)
    try:
        code, out, err = cli_run(capsys, sb, audit, "rollout", "rollback", "late", "-n", NS, "--reason", "r", "--yes")
    finally:
        holder["lock"].__exit__(None, None, None)
    assert code == 10
    last = err.strip().splitlines()[-1]
    assert "rollout.rollback on clitest/late WAS APPLIED" in last and str(audit) in last
    assert kc(sb).get_inference_service(NS, "late").canary_traffic_percent == 0
    [intent, _seed] = AuditJournal(audit).list()
    assert intent.outcome == "intent" and intent.target == f"{NS}/late" and f"#{intent.id}" in last


def test_cli_audit_row_records_the_kubeconfigs_current_context(sb, capsys, tmp_path, monkeypatch):
    make_canary(sb, "ctx")
    code, _, err = cli_run(capsys, sb, tmp_path, "rollout", "rollback", "ctx", "-n", NS, "--reason", "r", "--yes")
    assert code == 0, err
    assert cli.main(["audit", "list", "--json", "--target", f"{NS}/ctx"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["outcome"], row["context"], row["kube_identity"]) == ("applied", "sandbox-admin", "admin")
    assert row["intent_id"] is not None


def test_readme_documents_exit_code_10():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert "10 applied but not fully audited" in readme


# -- the Rollouts screen -----------------------------------------------------------------------------

def app_on(sb, tmp_path, *, context: str | None = None, read_only: bool = False) -> MlopsConsole:
    settings = Settings(catalog=Path(sb.endpoints["catalog"]), audit=tmp_path / "audit.db",
                        kubeconfig=str(sb.kubeconfig_path), context=context, read_only=read_only)
    return MlopsConsole(Context(settings), clock=lambda: FROZEN, cursor_blink=False)


def notifications(app) -> list:
    return list(app._notifications)


async def test_tui_rollback_with_a_locked_journal_is_refused_and_the_isvc_unchanged(sandbox, fraud_at_20, tmp_path,  # noqa: F811
                                                                                   quick_journal):
    seeded_journal(tmp_path / "audit.db")
    app = app_on(sandbox, tmp_path)
    with admin(sandbox) as client:
        before = client.get_inference_service("fraud", "fraud-detector").resource_version
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rollouts(pilot, app)
        await press_rollback_and_wait_for_modal(pilot, app)
        with held_exclusive(tmp_path / "audit.db"):
            await pilot.press("shift+tab", *"canary 5xx", "enter")
            await wait_for(pilot, lambda: any(n.severity == "error" for n in notifications(app)),
                           what="the refusal")
        [error] = [n for n in notifications(app) if n.severity == "error"]
        assert "nothing was sent" in error.message and str(tmp_path / "audit.db") in error.message
        assert app.is_running
    with admin(sandbox) as client:
        after = client.get_inference_service("fraud", "fraud-detector")
    assert (after.resource_version, after.canary_traffic_percent) == (before, 20)
    assert [r.action for r in AuditJournal(tmp_path / "audit.db").list(all_rows=True)] == ["seed"]


async def test_tui_lost_result_row_is_an_error_that_stays(sandbox, fraud_at_20, tmp_path, quick_journal,  # noqa: F811
                                                          monkeypatch):
    from console.rollout_actions import Rollback

    seeded_journal(tmp_path / "audit.db")
    holder = {}
    applied = Rollback.apply

    def apply_then_lock(self, change):
        after = applied(self, change)
        holder["lock"] = held_exclusive(tmp_path / "audit.db")
        holder["lock"].__enter__()
        return after

    monkeypatch.setattr(Rollback, "apply", apply_then_lock)
    app = app_on(sandbox, tmp_path)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await open_rollouts(pilot, app)
            await press_rollback_and_wait_for_modal(pilot, app)
            await pilot.press("shift+tab", *"canary 5xx", "enter")
            await wait_for(pilot, lambda: any(n.severity == "error" for n in notifications(app)), what="the error")
            [error] = [n for n in notifications(app) if n.severity == "error"]
            assert "WAS APPLIED" in error.message
            assert error.timeout >= 3600  # stays until dismissed
    finally:
        if "lock" in holder:
            holder["lock"].__exit__(None, None, None)


async def test_pressing_minus_twice_opens_one_confirmation(sandbox, fraud_at_20, tmp_path, monkeypatch):  # noqa: F811
    """The second press arrives while the first change is still being planned (held on a gate)."""
    import threading

    from console.rollout_actions import StepCanary

    gate = threading.Event()
    planned = StepCanary.plan

    def held_plan(self):
        gate.wait(timeout=30)
        return planned(self)

    monkeypatch.setattr(StepCanary, "plan", held_plan)
    app = app_on(sandbox, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rollouts(pilot, app)
        await pilot.press("minus", "minus")
        await wait_for(pilot, lambda: not [w for w in app.workers if w.group == "rollouts-client" and w.is_running],
                       what="both presses handed to the action flow")
        gate.set()
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmChangeScreen) and app.focused is not None,
                       what="the confirmation")
        await wait_for(pilot, lambda: not [w for w in app.workers if w.group == "action" and w.is_running],
                       what="every plan finished")
        await pilot.pause()
        assert sum(isinstance(s, ConfirmChangeScreen) for s in app.screen_stack) == 1
        assert any("already in progress" in n.message for n in notifications(app))
        await pilot.press("enter")  # cancel
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmChangeScreen), what="the modal closed")
        await wait_for(pilot, lambda: not app.screen._action_busy, what="the flow free again")
        await pilot.press("minus")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmChangeScreen) and app.focused is not None,
                       what="a new confirmation")


# -- the header ---------------------------------------------------------------------------------------

def header_text(app) -> str:
    return str(app.screen.query_one("StatusHeader", Static).render())


async def test_header_shows_the_resolved_context_first_and_the_lock_right_after_at_80_columns(sandbox, tmp_path):  # noqa: F811
    app = app_on(sandbox, tmp_path, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        lines = app.screen.query_one("StatusHeader").render_lines(app.screen.query_one("StatusHeader").region)
        visible = "".join(segment.text for segment in lines[0])
        assert "current-context" not in visible
        assert visible.startswith(" kube: sandbox-admin ")
        assert visible.index("READ-ONLY") < visible.index("mlops-console")
        assert len(visible) <= 80 and visible.index("READ-ONLY") + len("READ-ONLY") <= 80
    app = app_on(sandbox, tmp_path, context="sandbox-viewer")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert header_text(app).startswith(" kube: sandbox-viewer ")
