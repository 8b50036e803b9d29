"""The audit journal: one append-only SQLite table (WAL) with a row for every attempted change.

Rows are never updated or deleted (triggers refuse it). Values that look like credentials are
scrubbed before they are written.
"""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from adapters.errors import BackendUnavailable, DataError, ReadOnly
from adapters.redact import redact

SCHEMA_VERSION = 1
_SECRET_WORDS = ("token", "password", "secret", "authorization", "cookie", "credential", "client-key", "client_key")


@dataclass
class Identity:
    os_user: str
    ssh_client: str | None
    kube_identity: str | None = None

    @classmethod
    def current(cls, kube_identity: str | None = None) -> "Identity":
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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


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
    def __init__(self, path: Path):
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise DataError(f"audit journal {self.path} was written by a newer mlops-console; upgrade")
            if version < SCHEMA_VERSION:
                conn.executescript(
                    """
                    BEGIN;
                    CREATE TABLE IF NOT EXISTS audit (
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
                    );
                    CREATE INDEX IF NOT EXISTS audit_target_ts ON audit(target, ts);
                    CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
                        BEGIN SELECT RAISE(ABORT, 'the audit journal is append-only'); END;
                    CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
                        BEGIN SELECT RAISE(ABORT, 'the audit journal is append-only'); END;
                    PRAGMA user_version = 1;
                    COMMIT;
                    """
                )
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if "readonly" in text or "read-only" in text:
                raise ReadOnly(f"audit journal {self.path} is on a read-only filesystem; set 'audit' in the config") from None
            if "locked" in text:
                raise BackendUnavailable(f"audit journal {self.path} is locked by another process; try again") from None
            raise DataError(f"audit journal {self.path} cannot be opened: {text}") from None
        except sqlite3.DatabaseError as exc:
            raise DataError(f"audit journal {self.path} is not a usable SQLite file: {exc}") from None
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
    ) -> int:
        conn = self._connect()
        ts = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        cursor = conn.execute(
            "INSERT INTO audit (ts, os_user, ssh_client, kube_identity, context, action, target, reason,"
            " before, after, outcome, message) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                ts, identity.os_user, identity.ssh_client, identity.kube_identity, context, action, target,
                reason, json.dumps(scrub(before), sort_keys=True), json.dumps(scrub(after), sort_keys=True),
                outcome, message,
            ),
        )
        return int(cursor.lastrowid)

    def list(self, *, limit: int | None = None, target: str | None = None, action_prefix: str | None = None,
             since: float | None = None) -> list[AuditRow]:
        """Newest first."""
        if not self.path.exists():
            return []
        conn = self._connect()
        where, params = [], []
        if target:
            where.append("target = ?")
            params.append(target)
        if action_prefix:
            where.append("action LIKE ?")
            params.append(action_prefix + "%")
        if since is not None:
            where.append("ts >= ?")
            params.append(datetime.fromtimestamp(since, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"))
        sql = "SELECT * FROM audit" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        rows = conn.execute(sql, params).fetchall()
        return [
            AuditRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8],
                     json.loads(r[9]) if r[9] else None, json.loads(r[10]) if r[10] else None, r[11], r[12])
            for r in rows
        ]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

