"""Opening a catalog file: the connection, its lock, schema checks and upgrades, and turning
sqlite3 errors into messages a person can act on. The catalog's jobs (import, queries, registry
sync) are mixins on this base; adapters/catalog.py puts them together.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from adapters.catalog_schema import MIGRATIONS, SCHEMA_VERSION
from adapters.errors import BackendUnavailable, ConsoleError, DataError, NotFound, ReadOnly
from adapters.sqlite_lib import load_sqlite_utils

if TYPE_CHECKING:
    from sqlite_utils import Database

DEFAULT_BUSY_TIMEOUT = 2.0

# a model's registry (NULL: imported locally) and whether it is gone from it, as columns of models
_REGISTRY_COLUMNS = ("(SELECT r.registry FROM registry_models r WHERE r.name = models.name), "
                     "(SELECT r.deleted_at IS NOT NULL FROM registry_models r WHERE r.name = models.name)")
VERSION_COLUMNS = "model, version, record, imported_at, source, origin, deleted_at"

Store = TypeVar("Store", bound="CatalogStore")
P = ParamSpec("P")
R = TypeVar("R")


def now_stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def guarded(method: Callable[Concatenate[Store, P], R]) -> Callable[Concatenate[Store, P], R]:
    """Serialise access (workers share one connection) and turn sqlite3 errors into ours."""

    @wraps(method)
    def wrapper(self: Store, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._lock:
            if self._conn is None:
                raise DataError(f"catalog {self.path} is closed")
            try:
                return method(self, *args, **kwargs)
            except sqlite3.Error as exc:
                if self._conn is not None and self._conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                raise self._translate(exc) from None

    return wrapper


class CatalogStore:
    """A model catalog in one SQLite file. Thread-safe (one connection behind a lock)."""

    def __init__(self, path: str | Path, *, create: bool = True, read_only: bool = False,
                 busy_timeout: float = DEFAULT_BUSY_TIMEOUT):
        self.path = Path(path).expanduser()
        self.read_only = read_only
        self.create = create and not read_only  # may write a schema into a new or empty file
        self.read_only_reason: str | None = "opened read-only" if read_only else None
        self.busy_timeout = busy_timeout
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._match_cache: tuple[tuple[str, int, int], list[int]] | None = None
        self.schema = SCHEMA_VERSION  # the file's, once opened (an older one is read as it is)
        if self.path.is_dir():
            raise DataError(f"catalog {self.path} is a directory; pass --catalog with a file path")
        exists = self.path.exists()
        if not exists:
            if not create or read_only:
                raise NotFound(f"catalog {self.path} does not exist; import records with "
                               "'mlops-console catalog import FILE' or run 'mlops-console demo'")
            self._create_file()
        try:
            self._conn = self._connect()
            self._prepare()
        except sqlite3.Error as exc:
            error = self._translate(exc)
            self.close()
            raise error from None
        except ConsoleError:
            self.close()
            raise

    @functools.cached_property
    def db(self) -> Database:
        """sqlite-utils over the connection, imported at first use (a write, a schema change): browsing
        never needs it, and its import would hold up the console's first frame (issue 10 §5)."""
        return load_sqlite_utils().Database(self._conn)  # type: ignore[no-any-return]

    # -- opening --------------------------------------------------------------------------------

    def _create_file(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            os.close(fd)
        except FileExistsError:
            pass
        except OSError as exc:
            raise ReadOnly(f"catalog {self.path} cannot be created ({exc.strerror}); "
                           "pass --catalog with a writable path") from None

    def _open(self, target: str, *, uri: bool) -> sqlite3.Connection:
        return sqlite3.connect(target, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False,
                               uri=uri)

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            return self._open(self.path.absolute().as_uri() + "?mode=ro", uri=True)
        conn = self._open(str(self.path), uri=False)
        try:
            conn.execute("PRAGMA user_version").fetchone()
            return conn
        except sqlite3.OperationalError as exc:
            text = str(exc)
            conn.close()
            if not ("unable to open" in text or "readonly" in text) or self._writable_on_disk():
                raise
        # A WAL database whose file or directory cannot be written (read-only filesystem, or
        # permissions) cannot create its -shm file: open it read-only so it can still be browsed.
        self.read_only = True
        where = self.path.parent if not os.access(self.path.parent, os.W_OK) else self.path
        self.read_only_reason = f"{where} is not writable"
        base = self.path.absolute().as_uri() + "?mode=ro"
        try:
            conn = self._open(base, uri=True)
            conn.execute("PRAGMA user_version").fetchone()
            return conn
        except sqlite3.OperationalError:
            conn.close()
        return self._open(base + "&immutable=1", uri=True)

    def _writable_on_disk(self) -> bool:
        return os.access(self.path.parent, os.W_OK) and os.access(self.path, os.W_OK)

    def _prepare(self) -> None:
        conn = self.conn
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise DataError(f"catalog {self.path} was written by a newer mlops-console "
                            f"(schema {version} > {SCHEMA_VERSION}); upgrade mlops-console")
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if version == 0 and tables - {"sqlite_sequence"}:
            foreign = sorted(t for t in tables if not t.startswith("sqlite_"))[:5]
            raise DataError(f"catalog {self.path} is a SQLite database but not an mlops-console catalog "
                            f"(it has tables {', '.join(foreign)}); pass --catalog with another path")
        if version == 0 and not self.create:  # opened for reading: a file that is not a catalog stays untouched
            raise DataError(f"catalog {self.path} is not an mlops-console catalog (it is empty); import records "
                            "into it with 'mlops-console catalog import FILE' or pass --catalog with another file")
        self.schema = version
        # A catalog of an older schema opened for reading is read as it is (reading never writes);
        # it is upgraded when opened to be written, or by the first write (_upgrade).
        if version < SCHEMA_VERSION and (version == 0 or self.create):
            self._migrate(version)
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL: safe against corruption, fewer fsyncs
        # Touch the tables once, so a damaged file is reported now rather than on first click.
        conn.execute("SELECT count(*) FROM models").fetchone()
        conn.execute("SELECT rowid FROM versions ORDER BY rowid DESC LIMIT 1").fetchone()

    def _upgrade(self) -> None:
        """Before a write: bring a catalog opened for reading at an older schema up to date."""
        if self.schema < SCHEMA_VERSION:
            self._migrate(self.schema)

    @property
    def _version_columns(self) -> str:
        return VERSION_COLUMNS if self.schema >= 2 else VERSION_COLUMNS.replace("origin, deleted_at", "'import', NULL")

    @property
    def _registry_columns(self) -> str:
        return _REGISTRY_COLUMNS if self.schema >= 2 else "NULL, 0"

    def _migrate(self, version: int) -> None:
        conn = self.conn
        if version < SCHEMA_VERSION:
            if self.read_only:
                raise ReadOnly(f"catalog {self.path} needs its schema created or upgraded "
                               f"({version} -> {SCHEMA_VERSION}) but it is read-only "
                               f"({self.read_only_reason}); open it once with write access")
            if version == 0:
                # Version rows are ~2 KB (histograms): 16 KiB pages pack them with little waste.
                # Only takes effect on an empty file, which is when we get here.
                conn.execute("PRAGMA page_size = 16384")
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise ReadOnly(f"catalog {self.path} cannot be switched to WAL mode; "
                                   "is its directory writable?")
            with self.transaction():
                current = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
                for step in range(current + 1, SCHEMA_VERSION + 1):
                    MIGRATIONS[step](self.db)
                    if step == 1:
                        self.db.table("meta").upsert({"key": "created_at", "value": now_stamp()}, pk="key")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self.schema = SCHEMA_VERSION

    def _translate(self, exc: sqlite3.Error) -> ConsoleError:
        text = str(exc)
        low = text.lower()
        if "locked" in low or "busy" in low:
            return BackendUnavailable(f"catalog {self.path} is locked by another process that is writing; try again")
        if "readonly" in low or "read-only" in low:
            why = f" ({self.read_only_reason})" if self.read_only_reason else ""
            return ReadOnly(f"catalog {self.path} is read-only{why}; it can be browsed but not changed. "
                            "Check the file's and directory's permissions or copy it somewhere writable")
        if "not a database" in low or "malformed" in low or "corrupt" in low:
            return DataError(f"catalog {self.path} is corrupt or not a SQLite file ({text}); nothing was "
                             "changed: restore it from a backup or pass --catalog with another file")
        if "no such table" in low or "no such column" in low:
            return DataError(f"catalog {self.path} has an unexpected schema ({text}); was it changed by "
                             "another tool? pass --catalog with another file")
        if "unable to open" in low:
            return DataError(f"catalog {self.path} cannot be opened ({text}); check the path and its permissions")
        if "disk i/o" in low or "full" in low:
            return DataError(f"catalog {self.path}: {text}; check the disk")
        return DataError(f"catalog {self.path}: {text}")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                finally:
                    self._conn = None

    def __enter__(self: Store) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _writable(self, what: str) -> None:
        if self.read_only:
            raise ReadOnly(f"catalog {self.path} is read-only ({self.read_only_reason}); cannot {what}. "
                           "Fix its permissions, or copy it somewhere writable and pass --catalog")

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise DataError(f"catalog {self.path} is closed")
        return self._conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (IMMEDIATE: a second writer waits for the lock up front instead
        of failing half way), rolled back on any error."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def put_alias(self, model: str, alias: str, version: str, stamp: str) -> None:
        """Point an alias at a version (inside the caller's transaction)."""
        self.db.table("aliases").upsert({"model": model, "alias": alias, "version": version, "updated_at": stamp},
                                        pk=("model", "alias"))
