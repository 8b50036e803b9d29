"""The audit journal: one append-only SQLite table (WAL) with a row for every attempted change.

Rows are never updated or deleted (triggers refuse it). Values that look like credentials are
scrubbed before they are written. A change writes two rows: an "intent" row before anything is
sent, and a result row (applied, failed: ...) whose intent_id points at it. The file is created
0600, in a 0700 folder when the folder is new.
"""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.errors import BackendUnavailable, ConsoleError, DataError, ReadOnly
from adapters.redact import redact
from console.paths import create_private

SCHEMA_VERSION = 2
LOCK_WAIT = 3.0  # seconds a write waits for another process holding the journal's write lock
INTENT = "intent"
_SECRET_WORDS = ("token", "password", "secret", "authorization", "cookie", "credential", "client-key", "client_key")

MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE IF NOT EXISTS audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ts TEXT NOT NULL,
            os_user TEXT NOT NULL,
            ssh_client TEXT,
            kube_identity TEXT,
            context TEXT,
            action TEXT NOT NULL,
            target TEXT NOT NULL,
            reason TEXT,
            before TEXT,
            after TEXT,
            outcome TEXT NOT NULL,
            message TEXT
        )""",
        "CREATE INDEX IF NOT EXISTS audit_target_ts ON audit(target, ts)",
        """CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit journal is append-only'); END""",
        """CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit journal is append-only'); END""",
    ],
    # v2: write-ahead. A result row points at the intent row written before the change was sent.
    2: [
        "ALTER TABLE audit ADD COLUMN intent_id INTEGER REFERENCES audit(id)",
        "CREATE INDEX IF NOT EXISTS audit_intent ON audit(intent_id)",
    ],
}
_COLUMNS = ("id, ts, os_user, ssh_client, kube_identity, context, action, target, reason, before, after, "
            "outcome, message, intent_id")


@dataclass
class Identity:
    os_user: str
    ssh_client: str | None
    kube_identity: str | None = None

    @classmethod
    def current(cls, kube_identity: str | None = None) -> Identity:
        try:
            user = getpass.getuser()
        except Exception:  # no passwd entry in some containers
            user = str(os.getuid())
        ssh = os.environ.get("SSH_CLIENT") or os.environ.get("SSH_CONNECTION")
        return cls(user, ssh.split()[0] if ssh else None, kube_identity)


@dataclass
class AuditRow:
    id: int
    ts: str
    os_user: str
    ssh_client: str | None
    kube_identity: str | None
    context: str | None
    action: str
    target: str
    reason: str | None
    before: Any
    after: Any
    outcome: str
    message: str | None
    intent_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def who(self) -> str:
        who = self.os_user + (f"@{self.ssh_client}" if self.ssh_client else "")
        return who + (f" ({self.kube_identity})" if self.kube_identity else "")

    def change(self, limit: int = 3) -> str:
        return change_summary(self.before, self.after, limit=limit)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and (value or not prefix):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix or "value": value}  # a scalar at the top (rare) is named "value"


def _short(value: Any) -> str:
    if value is None:
        return "(none)"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:39] + "…"


def change_summary(before: Any, after: Any, *, limit: int = 3) -> str:
    """before -> after in one line, naming only what the change set and what differs:
    "canaryTrafficPercent 10 -> 20". A row without a before (a refusal before anything was read,
    an import) shows its after."""
    if before is None and after is None:
        return ""
    if before is None:
        return ", ".join(f"{k} {_short(v)}" for k, v in list(_flatten(after).items())[:limit])
    old, new = _flatten(before), _flatten(after) if after is not None else {}
    # A result row records only what the change decides (the status has not moved yet): a field
    # it leaves out was not removed. The resourceVersion moves with every write: not a change.
    keys = [k for k in dict.fromkeys([*new, *old]) if k in new and k.split(".")[-1] != "resourceVersion"]
    changed = [k for k in keys if old.get(k) != new.get(k)]
    if not changed:
        return "no change"
    parts = [f"{k} {_short(old.get(k))} -> {_short(new.get(k))}" for k in changed[:limit]]
    if len(changed) > limit:
        parts.append(f"+{len(changed) - limit} more")
    return ", ".join(parts)


def scrub(value: Any) -> Any:
    """A copy of value with anything credential-like replaced by '<redacted>'."""
    if isinstance(value, dict):
        return {
            k: "<redacted>" if any(w in str(k).lower() for w in _SECRET_WORDS) else scrub(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return redact(value)
    return value


class AuditJournal:
    def __init__(self, path: Path, *, lock_wait: float | None = None):
        self.path = Path(path)
        self.lock_wait = LOCK_WAIT if lock_wait is None else lock_wait
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _error(self, exc: Exception) -> ConsoleError:
        """The journal's trouble in words that name the file and what to do."""
        text = getattr(exc, "strerror", None) or str(exc)
        low = text.lower()
        if "locked" in low or "busy" in low:
            return BackendUnavailable(f"audit journal {self.path} is locked by another process "
                                      f"(waited {self.lock_wait:g} s); try again when it is done")
        if "readonly" in low or "read-only" in low or "permission" in low or isinstance(exc, PermissionError):
            return ReadOnly(f"audit journal {self.path} is not writable ({text}); fix its permissions or set "
                            "'audit' in the config (or MLOPS_CONSOLE_AUDIT) to a writable path")
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            return DataError(f"audit journal {self.path} is not a usable SQLite file: {text}")
        return DataError(f"audit journal {self.path} cannot be written: {text}")

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        conn = None
        try:
            create_private(self.path)
            conn = sqlite3.connect(self.path, timeout=self.lock_wait, isolation_level=None, check_same_thread=False)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise DataError(f"audit journal {self.path} was written by a newer mlops-console "
                                f"(schema {version} > {SCHEMA_VERSION}); upgrade mlops-console")
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            if version < SCHEMA_VERSION:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    current = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
                    for step in range(current + 1, SCHEMA_VERSION + 1):
                        for statement in MIGRATIONS[step]:
                            conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        except ConsoleError:
            if conn is not None:
                conn.close()
            raise
        except (sqlite3.Error, OSError) as exc:
            if conn is not None:
                conn.close()
            raise self._error(exc) from None
        self._conn = conn
        return conn

    def record(
        self,
        *,
        identity: Identity,
        action: str,
        target: str,
        outcome: str,
        reason: str | None = None,
        before: Any = None,
        after: Any = None,
        message: str | None = None,
        context: str | None = None,
        intent_id: int | None = None,
    ) -> int:
        """Append one row; raises ConsoleError (naming the file and the cause) when it cannot."""
        ts = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        with self._lock:
            conn = self._connect()
            try:
                cursor = conn.execute(
                    "INSERT INTO audit (ts, os_user, ssh_client, kube_identity, context, action, target, reason,"
                    " before, after, outcome, message, intent_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        ts, identity.os_user, identity.ssh_client, identity.kube_identity, context, action, target,
                        reason, json.dumps(scrub(before), sort_keys=True), json.dumps(scrub(after), sort_keys=True),
                        outcome, message, intent_id,
                    ),
                )
            except sqlite3.Error as exc:
                raise self._error(exc) from None
        assert cursor.lastrowid is not None  # set by every INSERT
        return cursor.lastrowid

    def list(self, *, limit: int | None = None, target: str | None = None, action_prefix: str | None = None,
             since: float | None = None, all_rows: bool = False) -> list[AuditRow]:
        """Newest first. An intent row whose result was written is left out unless all_rows: the
        result row names it (intent_id); an intent without a result is always listed."""
        if not self.path.exists():
            return []
        where, params = [], []
        if not all_rows:
            where.append(f"NOT (outcome = '{INTENT}' AND id IN (SELECT intent_id FROM audit WHERE intent_id IS NOT NULL))")
        if target:
            where.append("target = ?")
            params.append(target)
        if action_prefix:
            where.append("action LIKE ?")
            params.append(action_prefix + "%")
        if since is not None:
            where.append("ts >= ?")
            params.append(datetime.fromtimestamp(since, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"))
        sql = f"SELECT {_COLUMNS} FROM audit" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            conn = self._connect()
            try:
                rows = conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._error(exc) from None
        return [
            AuditRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8],
                     json.loads(r[9]) if r[9] else None, json.loads(r[10]) if r[10] else None, r[11], r[12], r[13])
            for r in rows
        ]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
