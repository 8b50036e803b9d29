"""Issue 11 §4: recent changes with who, why and before -> after, in the palette's Audit view and
in `mlops-console audit list`."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Static

from console.app import MlopsConsole
from console.audit import AuditJournal, Identity, change_summary
from console.config import Settings
from console.context import Context
from pilot_wait import run_from_palette, wait_for
from screens.audit import AuditScreen

ALICE = Identity(os_user="alice", ssh_client="10.0.0.7", kube_identity="alice@example.com")


def test_change_summary_names_only_what_differs():
    before = {"canaryTrafficPercent": 10, "storageUri": "s3://m/v35", "canary": {"ready": True}}
    after = {"canaryTrafficPercent": 20, "storageUri": "s3://m/v35", "canary": {"ready": True}}
    assert change_summary(before, after) == "canaryTrafficPercent 10 -> 20"
    assert change_summary({"a": {"b": 1}}, {"a": {"b": 2}, "c": "x"}) == "a.b 1 -> 2, c (none) -> x"
    assert change_summary({"canaryTrafficPercent": 10}, {"canaryTrafficPercent": None}) == \
        "canaryTrafficPercent 10 -> (none)"
    # a rollout's result row records only what the patch decides: the served split it leaves out
    # did not become (none), and the resourceVersion is not a change anyone made
    spec = {"canaryTrafficPercent": 20, "storageUri": "s3://m/v40", "latestRevision": "m-00002",
            "latestPercent": 20, "resourceVersion": "41"}
    assert change_summary(spec, {"canaryTrafficPercent": 30, "storageUri": "s3://m/v40", "resourceVersion": "42"}) \
        == "canaryTrafficPercent 20 -> 30"
    assert change_summary(None, {"file": "v.jsonl"}) == "file v.jsonl"
    assert change_summary(None, None) == ""
    many = change_summary({f"k{i}": i for i in range(5)}, {f"k{i}": i + 1 for i in range(5)}, limit=2)
    assert many == "k0 0 -> 1, k1 1 -> 2, +3 more"


def journal(tmp_path: Path) -> AuditJournal:
    audit = AuditJournal(tmp_path / "audit.db")
    audit.record(identity=ALICE, action="rollout.set", target="fraud/fraud-detector", outcome="applied",
                 reason="canary looks fine", before={"canaryTrafficPercent": 10}, after={"canaryTrafficPercent": 25},
                 context="prod-eu")
    audit.record(identity=ALICE, action="rollout.rollback", target="fraud/\x1b[31mevil\x1b[0m", outcome="refused: read-only",
                 reason="[bold]markup[/bold] stays literal", before={"canaryTrafficPercent": 25},
                 after={"canaryTrafficPercent": 0}, context="prod-eu")
    return audit


def test_audit_list_prints_who_why_and_before_after(tmp_path, capsys, monkeypatch):
    from console.cli import main

    journal(tmp_path).close()
    monkeypatch.setenv("MLOPS_CONSOLE_AUDIT", str(tmp_path / "audit.db"))
    assert main(["audit", "list"]) == 0
    text = capsys.readouterr().out
    assert "change: canaryTrafficPercent 10 -> 25" in text
    assert "by alice@10.0.0.7 (alice@example.com) in prod-eu" in text
    assert "reason: canary looks fine" in text
    assert "\x1b" not in text  # the target's escape sequence is shown, never obeyed


def app_for(tmp_path: Path) -> MlopsConsole:
    settings = Settings(catalog=tmp_path / "no-catalog.db", audit=tmp_path / "audit.db")
    return MlopsConsole(Context(settings), cursor_blink=False, first_screen="catalog")


def cells(app) -> list[list[str]]:
    table = app.screen.query_one("#audit-rows", DataTable)
    return [[str(getattr(c, "plain", c)) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_palette_opens_the_audit_view_newest_first_and_it_follows_new_rows(tmp_path, monkeypatch):
    import screens.audit

    monkeypatch.setattr(screens.audit, "POLL_INTERVAL", 0.2)
    audit = journal(tmp_path)
    app = app_for(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await run_from_palette(pilot, "Audit journal")
        await wait_for(pilot, lambda: isinstance(app.screen, AuditScreen) and len(cells(app)) == 2,
                       what="the two journal rows")
        newest, oldest = cells(app)
        assert newest[1] == "refused: read-only" and "\\x1b" in newest[3]  # literal, visible
        assert oldest[1] == "applied" and oldest[5] == "canaryTrafficPercent 10 -> 25"
        detail = str(app.screen.query_one("#audit-detail-body", Static).render())
        assert "[bold]markup[/bold] stays literal" in detail and "by alice@10.0.0.7 (alice@example.com)" in detail
        # a change made meanwhile (another console, the CLI) shows up while the view is open
        audit.record(identity=ALICE, action="rollout.promote", target="fraud/credit-risk", outcome="applied",
                     reason="all green", before={"canaryTrafficPercent": 50}, after={}, context="prod-eu")
        await wait_for(pilot, lambda: len(cells(app)) == 3 and cells(app)[0][2] == "rollout.promote",
                       what="the new row on top")
        # / filters, esc clears the filter, a second esc closes the view
        await pilot.press("slash", *"credit")
        await wait_for(pilot, lambda: len(cells(app)) == 1, what="the filtered list")
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(cells(app)) == 3, what="the filter cleared")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, AuditScreen), what="the view closed")
    audit.close()


async def test_an_unreadable_journal_is_a_state_of_the_view_not_a_crash(tmp_path):
    (tmp_path / "audit.db").write_bytes(b"this is not a database" * 100)
    app = app_for(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.action_audit()
        await wait_for(pilot, lambda: isinstance(app.screen, AuditScreen) and app.screen.query("#audit-state")
                       and app.screen.query_one("#audit-state").display, what="the journal's state")
        banner = str(app.screen.query_one("#audit-state", Static).render())
        assert "audit.db" in banner and "cannot be read" in banner
