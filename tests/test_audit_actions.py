"""The safe action path writes one audit row for every attempt, and the journal is append-only."""

from __future__ import annotations

import sqlite3

import pytest

from adapters.errors import Conflict, Forbidden, InvalidInput, ReadOnly
from console.actions import ActionPath, Change
from console.audit import AuditJournal, Identity


class FakeAction:
    """A stand-in for a backend object: a dict with a version number as its precondition."""

    kind = "test.set"

    def __init__(self, store: dict, value: int, *, allowed: bool = True, bad: bool = False):
        self.store, self.value, self.allowed, self.bad = store, value, allowed, bad
        self.target = "things/one"

    def validate(self) -> None:
        if self.bad:
            raise InvalidInput("value must be between 0 and 100")

    def check_permission(self) -> None:
        if not self.allowed:
            raise Forbidden("not allowed to set things as viewer")

    def plan(self) -> Change:
        return Change(self.kind, self.target, {"value": self.store["value"]}, {"value": self.value},
                      [f"value: {self.store['value']} -> {self.value}"], precondition=str(self.store["version"]))

    def apply(self, change: Change) -> dict:
        if str(self.store["version"]) != change.precondition:
            raise Conflict("things/one changed since you looked")
        self.store.update(value=self.value, version=self.store["version"] + 1)
        return {"value": self.value}


@pytest.fixture
def journal(tmp_path):
    journal = AuditJournal(tmp_path / "audit.db")
    yield journal
    journal.close()


def path_for(journal, read_only=False):
    return ActionPath(journal, read_only=read_only, identity=Identity("alice", "10.0.0.9", None))


def test_applied_change_is_recorded_with_before_after_and_reason(journal):
    store = {"value": 20, "version": 1}
    path = path_for(journal)
    action = FakeAction(store, 0)
    change = path.prepare(action)
    outcome = path.execute(action, change, "canary errors")
    assert store["value"] == 0 and outcome.status == "applied"
    [row] = journal.list()
    assert (row.action, row.target, row.outcome, row.reason) == ("test.set", "things/one", "applied", "canary errors")
    assert row.before == {"value": 20} and row.after == {"value": 0}
    assert (row.os_user, row.ssh_client) == ("alice", "10.0.0.9")


def test_read_only_refuses_before_anything_else_and_is_recorded(journal):
    store = {"value": 20, "version": 1}
    with pytest.raises(ReadOnly, match="read-only"):
        path_for(journal, read_only=True).prepare(FakeAction(store, 0), reason="why")
    assert store["value"] == 20
    [row] = journal.list()
    assert row.outcome == "refused: read-only" and row.reason == "why"


@pytest.mark.parametrize("kwargs,outcome", [({"allowed": False}, "refused: forbidden"), ({"bad": True}, "refused: invalid")])
def test_refusals_are_recorded(journal, kwargs, outcome):
    store = {"value": 20, "version": 1}
    with pytest.raises((Forbidden, InvalidInput)):
        path_for(journal).prepare(FakeAction(store, 0, **kwargs))
    assert [row.outcome for row in journal.list()] == [outcome]
    assert store["value"] == 20


def test_a_change_needs_a_reason(journal):
    store = {"value": 20, "version": 1}
    path = path_for(journal)
    action = FakeAction(store, 0)
    change = path.prepare(action)
    with pytest.raises(InvalidInput, match="reason"):
        path.execute(action, change, "  ")
    assert store["value"] == 20
    assert journal.list()[0].outcome == "refused: invalid"


def test_concurrent_change_gives_conflict_and_one_winner(journal):
    store = {"value": 20, "version": 1}
    path = path_for(journal)
    first, second = FakeAction(store, 0), FakeAction(store, 50)
    change_1, change_2 = path.prepare(first), path.prepare(second)
    path.execute(first, change_1, "first")
    with pytest.raises(Conflict):
        path.execute(second, change_2, "second")
    assert store["value"] == 0
    assert [row.outcome for row in journal.list()] == ["failed: conflict", "applied"]


def test_cancel_and_dry_run_change_nothing_but_are_recorded(journal):
    store = {"value": 20, "version": 1}
    path = path_for(journal)
    action = FakeAction(store, 0)
    path.cancel(action, path.prepare(action), "changed my mind")
    path.execute(action, path.prepare(action), None, dry_run=True)
    assert store["value"] == 20
    assert [row.outcome for row in journal.list()] == ["dry-run", "cancelled"]


def test_journal_is_append_only_and_scrubs_secrets(journal):
    journal.record(identity=Identity("bob", None), action="x", target="y", outcome="applied",
                   before={"token": "s3cret", "nested": {"password": "p"}, "value": 1})
    row = journal.list()[0]
    assert row.before == {"token": "<redacted>", "nested": {"password": "<redacted>"}, "value": 1}
    conn = sqlite3.connect(journal.path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE audit SET outcome = 'applied'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit")
    conn.close()
    assert "s3cret" not in journal.path.read_bytes().decode("latin-1")


def test_cli_refuses_a_missing_reason_before_asking_the_server(tmp_path):
    """With --yes (or no terminal) nobody can be asked for a reason: refuse before plan()."""
    import io

    from console.config import Settings
    from console.context import Context

    class Untouchable(FakeAction):
        def plan(self):  # would be a server dry-run
            raise AssertionError("the server was asked before the reason was checked")

    ctx = Context(Settings(audit=tmp_path / "audit.db"), out=io.StringIO(), err=io.StringIO(), interactive=False)
    store = {"value": 20, "version": 1}
    for reason in (None, "", "   "):
        with pytest.raises(InvalidInput, match="reason"):
            ctx.run_action(Untouchable(store, 0), reason=reason, yes=True)
    assert [row.outcome for row in ctx.audit.list()] == ["refused: invalid"] * 3
    assert store["value"] == 20
    ctx.close()
