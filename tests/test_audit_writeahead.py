"""Write-ahead audit (issue 8, sections 1, 3, 6): an intent row before anything is sent, refused
when it cannot be written; a result row pointing at it, retried and reported loudly when it cannot
be written; the Event hook; file modes; the v1 -> v2 journal migration.

The locked journal is a real second sqlite3 connection holding BEGIN EXCLUSIVE, as another
mlops-console (or `sqlite3 audit.db`) would."""

from __future__ import annotations

import io
import sqlite3
import stat
from contextlib import contextmanager

import pytest

from adapters.errors import BackendUnavailable, ReadOnly
from console import actions as actions_module
from console.actions import ActionPath, AuditIncomplete
from console.audit import AuditJournal, Identity
from test_audit_actions import FakeAction


@contextmanager
def held_exclusive(path):
    """Another process's write transaction on the journal (released on exit)."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=0, check_same_thread=False)
    conn.execute("BEGIN EXCLUSIVE")
    try:
        yield conn
    finally:
        conn.execute("ROLLBACK")
        conn.close()


@pytest.fixture
def journal(tmp_path, monkeypatch):
    monkeypatch.setattr(actions_module, "RETRY_PAUSE", 0.0)
    journal = AuditJournal(tmp_path / "audit.db", lock_wait=0.1)
    journal.record(identity=Identity("seed", None), action="seed", target="-", outcome="applied")
    yield journal
    journal.close()


def path_for(journal, **kwargs):
    return ActionPath(journal, read_only=False, identity=Identity("alice", "10.0.0.9", "alice@corp"),
                      context="prod-eu", **kwargs)


class WatchedAction(FakeAction):
    """Looks at the journal when it is applied: the intent must already be there."""

    def __init__(self, store, value, journal, *, lock_during_apply=None):
        super().__init__(store, value)
        self.journal = journal
        self.seen_at_apply: list = []
        self.lock_during_apply = lock_during_apply

    def apply(self, change):
        self.seen_at_apply = self.journal.list(all_rows=True)
        after = super().apply(change)
        if self.lock_during_apply is not None:
            self.lock_during_apply()
        return after


def test_intent_is_written_before_apply_and_the_result_points_at_it(journal):
    store = {"value": 20, "version": 1}
    path = path_for(journal)
    action = WatchedAction(store, 0, journal)
    outcome = path.execute(action, path.prepare(action), "canary errors")
    intent = action.seen_at_apply[0]
    assert (intent.outcome, intent.action, intent.reason) == ("intent", "test.set", "canary errors")
    assert intent.before == {"value": 20} and intent.after == {"value": 0}
    assert "value: 20 -> 0" in intent.message and intent.context == "prod-eu"
    result, intent_again = journal.list(all_rows=True)[:2]
    assert intent_again.id == intent.id
    assert (result.outcome, result.intent_id, result.id) == ("applied", intent.id, outcome.audit_id)
    # the default listing shows the result, which names its intent
    assert [r.outcome for r in journal.list()] == ["applied", "applied"]  # + the seed row


def test_a_locked_journal_refuses_the_change_and_nothing_is_sent(journal):
    store = {"value": 20, "version": 1}
    path = path_for(journal)
    action = FakeAction(store, 0)
    change = path.prepare(action)
    with held_exclusive(journal.path):
        with pytest.raises(BackendUnavailable) as info:
            path.execute(action, change, "canary errors")
    assert store == {"value": 20, "version": 1}
    message = info.value.message
    assert str(journal.path) in message and "locked" in message and "nothing was sent" in message
    assert info.value.exit_code != 0
    assert [r.action for r in journal.list(all_rows=True)] == ["seed"]


def test_a_result_row_that_cannot_be_written_is_loud_and_the_intent_stays(journal):
    """The journal is locked between the intent and the result (apply() takes the lock)."""
    store = {"value": 20, "version": 1}
    holder = {}

    def lock():
        holder["lock"] = held_exclusive(journal.path)
        holder["lock"].__enter__()

    path = path_for(journal)
    action = WatchedAction(store, 0, journal, lock_during_apply=lock)
    change = path.prepare(action)
    try:
        with pytest.raises(AuditIncomplete) as info:
            path.execute(action, change, "canary errors")
    finally:
        holder["lock"].__exit__(None, None, None)
    assert store["value"] == 0  # the server accepted it
    error = info.value
    assert error.exit_code == 10 and error.exit_code not in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
    assert "WAS APPLIED" in error.message and str(journal.path) in error.message
    assert error.outcome.status == "applied" and error.outcome.after == {"value": 0}
    [intent, _seed] = journal.list()  # an intent without a result is always listed
    assert intent.outcome == "intent" and f"#{intent.id}" in error.message


def test_refusals_are_reported_even_when_the_journal_cannot_take_them(journal):
    store = {"value": 20, "version": 1}
    read_only = ActionPath(journal, read_only=True, identity=Identity("alice", None))
    with held_exclusive(journal.path):
        with pytest.raises(ReadOnly) as info:
            read_only.prepare(FakeAction(store, 0), reason="why")
        note = path_for(journal).cancel(FakeAction(store, 0), None, "changed my mind")
    message = info.value.message
    assert message.startswith("read-only: test.set on things/one refused")
    assert "not written to the audit journal" in message and str(journal.path) in message
    assert str(journal.path) in note and "locked" in note


def test_cli_cancel_says_the_journal_could_not_record_it(tmp_path, monkeypatch):
    from adapters.errors import Cancelled
    from console.config import Settings
    from console.context import Context

    monkeypatch.setattr("console.audit.LOCK_WAIT", 0.1)
    ctx = Context(Settings(audit=tmp_path / "audit.db"), out=io.StringIO(), err=io.StringIO(),
                  stdin=io.StringIO("n\n"), interactive=True)
    ctx.audit.record(identity=Identity("seed", None), action="seed", target="-", outcome="applied")
    with held_exclusive(ctx.audit.path), pytest.raises(Cancelled) as info:
        ctx.run_action(FakeAction({"value": 20, "version": 1}, 0), reason="r")
    assert "nothing was changed" in info.value.message and "not written to the audit journal" in info.value.message
    ctx.close()


# -- the Event hook ------------------------------------------------------------------------------

class AnnouncingAction(FakeAction):
    def __init__(self, store, value, journal, fail: Exception | None = None):
        super().__init__(store, value)
        self.journal, self.fail = journal, fail
        self.calls: list = []

    def actor(self):
        return "system:serviceaccount:oncall:console"

    def announce(self, change, after, reason, identity):
        self.calls.append((change, after, reason, identity, self.journal.list()[0].outcome))
        if self.fail is not None:
            raise self.fail


def test_announce_is_called_after_the_result_row_with_the_rows_identity(journal):
    store = {"value": 20, "version": 1}
    path = path_for(journal)
    action = AnnouncingAction(store, 0, journal)
    change = path.prepare(action)
    outcome = path.execute(action, change, "canary errors")
    [(seen_change, after, reason, identity, newest_row)] = action.calls
    assert seen_change is change and after == {"value": 0} and reason == "canary errors"
    assert newest_row == "applied"  # the result row was written first
    row = journal.list()[0]
    assert identity == Identity(row.os_user, row.ssh_client, row.kube_identity)
    assert identity.kube_identity == "system:serviceaccount:oncall:console"
    assert outcome.warnings == []


def test_a_failed_announce_is_a_warning_and_does_not_undo_the_change(journal):
    store = {"value": 20, "version": 1}
    path = path_for(journal)
    action = AnnouncingAction(store, 0, journal, fail=BackendUnavailable("events: 503 Service Unavailable"))
    outcome = path.execute(action, path.prepare(action), "canary errors")
    assert store["value"] == 0 and outcome.status == "applied"
    assert outcome.warnings == ["applied, but the Kubernetes Event could not be written: "
                                "events: 503 Service Unavailable"]
    assert journal.list()[0].outcome == "applied"


def test_cli_prints_the_warnings_on_stderr(tmp_path):
    from console.config import Settings
    from console.context import Context

    err = io.StringIO()
    ctx = Context(Settings(audit=tmp_path / "audit.db"), out=io.StringIO(), err=err, interactive=False)
    action = AnnouncingAction({"value": 20, "version": 1}, 0, ctx.audit, fail=RuntimeError("boom"))
    outcome = ctx.run_action(action, reason="r", yes=True)
    assert outcome.status == "applied"
    assert ("mlops-console: warning: applied, but the Kubernetes Event could not be written: RuntimeError: boom\n"
            in err.getvalue())
    ctx.close()


# -- identity, migration, modes ------------------------------------------------------------------

def test_every_row_names_an_identity_the_os_user_when_no_backend_one(journal):
    store = {"value": 20, "version": 1}
    path = ActionPath(journal, read_only=False, identity=Identity("alice", None, None))
    action = FakeAction(store, 0)  # no actor(): e.g. the catalog
    path.execute(action, path.prepare(action), "r")
    assert {r.kube_identity for r in journal.list(all_rows=True) if r.action == "test.set"} == {"alice"}


V1_SCHEMA = """
CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT NOT NULL, os_user TEXT NOT NULL,
    ssh_client TEXT, kube_identity TEXT, context TEXT, action TEXT NOT NULL, target TEXT NOT NULL,
    reason TEXT, before TEXT, after TEXT, outcome TEXT NOT NULL, message TEXT);
CREATE INDEX audit_target_ts ON audit(target, ts);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit journal is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit journal is append-only'); END;
INSERT INTO audit (ts, os_user, action, target, outcome, reason)
    VALUES ('2026-11-01T00:00:00.000Z', 'bob', 'rollout.rollback', 'fraud/fd', 'applied', 'old row');
PRAGMA user_version = 1;
"""


def test_a_v1_journal_is_migrated_in_place_and_stays_append_only(tmp_path):
    path = tmp_path / "audit.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(V1_SCHEMA)
    conn.close()
    journal = AuditJournal(path)
    store = {"value": 20, "version": 1}
    action_path = path_for(journal)
    action = FakeAction(store, 0)
    action_path.execute(action, action_path.prepare(action), "r")
    rows = journal.list(all_rows=True)
    assert [(r.outcome, r.intent_id is None) for r in rows] == [("applied", False), ("intent", True), ("applied", True)]
    old = rows[-1]
    assert (old.os_user, old.reason, old.intent_id) == ("bob", "old row", None)
    journal.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE audit SET outcome = 'x' WHERE id = 1")
    conn.close()


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_journal_is_created_0600_in_a_0700_folder(tmp_path):
    path = tmp_path / "new" / "audit.db"
    journal = AuditJournal(path)
    journal.record(identity=Identity("alice", None), action="x", target="y", outcome="applied")
    assert (mode(path.parent), mode(path)) == (0o700, 0o600)
    assert mode(path.parent / "audit.db-wal") == 0o600  # SQLite gives its side files the database's mode
    journal.close()


def test_the_log_is_created_0600_in_a_0700_folder_by_the_cli(tmp_path, capsys):
    from console import cli, paths

    assert cli.main(["audit", "list"]) == 0
    log = paths.log_file()
    assert log.exists() and (mode(log.parent), mode(log)) == (0o700, 0o600)
    journal = paths.data_dir() / "audit.db"
    assert not journal.exists()  # listing never creates the journal


def test_our_data_folder_made_by_a_catalog_import_becomes_0700_with_the_journal(tmp_path, capsys):
    from console import cli, paths

    src = tmp_path / "records.jsonl"
    src.write_text('{"model": "m", "version": "1"}\n')
    catalog = paths.data_dir() / "catalog.db"
    assert cli.main(["--catalog", str(catalog), "catalog", "import", str(src)]) == 0
    assert cli.main(["--catalog", str(catalog), "catalog", "alias", "m:1", "production", "--yes", "--reason", "r"]) == 0
    journal = paths.data_dir() / "audit.db"
    assert (mode(journal.parent), mode(journal)) == (0o700, 0o600)
