"""The model catalog: one SQLite file (sqlite-utils), WAL mode, migrations through PRAGMA user_version.

No Textual, no console imports: plain dataclasses out, adapters.errors raised.

Schema (user_version 2)
-----------------------
versions         one row per (model, version); small columns first, the record last
    model, version        TEXT, the primary key
    version_key           TEXT, numeric-aware sort key ("10" sorts after "9")
    created_at            TEXT, exactly as imported (ISO 8601) or NULL
    created_key           REAL, created_at as UTC epoch seconds (naive times are taken as UTC)
    author, framework, run_id, description    TEXT, copies for queries and summaries
    artifact_key          TEXT, artifact_uri without trailing '/'
    metrics               TEXT, JSON object of the sortable metrics, flattened: "auc" for flat
                          ones, "<split>.<name>" (e.g. "test.auc") for split ones; sorting by a
                          metric reads it with json_each (a model's versions are few enough)
    tags                  TEXT, JSON list (copy, for the per-model tag union)
    record                TEXT, the imported record's JSON text as it stood in the file (compact
                          JSON for records given as objects): the source of truth for
                          VersionRecord and to_record(); values round-trip unchanged
    record_hash           TEXT, blake2b of that text: import idempotency (on a mismatch the
                          parsed records are compared, so reformatting alone is "unchanged")
    source, imported_at   TEXT, the file (or label) the record came from, and when; for a version
                          synced from a registry, the registry's URL
    origin                TEXT, "import" (catalog import, the demo) or "mlflow" (catalog sync)    [v2]
    deleted_at            TEXT, when a sync found the version gone from its registry: the row is
                          kept (history) and shown as deleted; NULL while it exists           [v2]
aliases          (model, alias) -> version, updated_at
models           the per-model summary, refreshed in the import transaction (SQL, not Python):
                 name, name_lower, versions (count), latest_version, latest_created_at,
                 description, tags (JSON union over versions), framework (of the latest version)
models_fts       FTS5 (name, description, tags) with rowid = models.rowid
imports          one row per import: source, imported_at, inserted, updated, unchanged
meta             key/value: when the file was created
registry_models  [v2] name -> registry URL, its creation time there (ms: how a rename is
                 recognised), deleted_at when it is gone from the registry
registry_runs    [v2] (registry, run_id) -> status, params and metrics as JSON: a finished run is
                 read from the registry once
Pages are 16 KiB (set on creation): version rows are ~2 KB with their histograms.

"latest" = the version with the newest created_at (versions without one come last), ties broken
by the numeric-aware version order. The summary's description is the latest version's (or,
when it has none, that of the newest version that has one); its tags are the union over versions.

Import semantics
----------------
* One transaction per import; idempotent on (model, version): a record identical to what is
  stored is "unchanged" and touches nothing (not even aliases); a different record for an
  existing (model, version) replaces it ("updated").
* "aliases" in an inserted or updated record declares that version's aliases: each listed alias
  moves to it, and aliases pointing at it that are not listed are removed. A record without the
  key leaves aliases alone. Two records of one file claiming the same alias is invalid input.
* Unknown top-level keys are refused (typos would otherwise vanish silently).
* VersionRecord.to_record() returns exactly the keys given on import, values unchanged, with one
  exception: "aliases" shows the catalog's current aliases of that version when they changed
  since import (set_alias), and is present whenever the record had the key or the version now
  has an alias. Keys not given on import are omitted.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import operator
import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import wraps
from pathlib import Path
from typing import Any

from adapters.errors import (
    BackendUnavailable,
    Conflict,
    ConsoleError,
    DataError,
    InvalidInput,
    NotFound,
    ReadOnly,
)
from adapters.sqlite_lib import load_sqlite_utils

SCHEMA_VERSION = 2
DEFAULT_BUSY_TIMEOUT = 2.0
ALIAS_RE = re.compile(r"[a-z][a-z0-9_-]{0,62}")
SORTS = ("created_at", "version")
KNOWN_FIELDS = (
    "model", "version", "aliases", "description", "tags", "author", "created_at", "training_data",
    "hyperparameters", "metrics", "artifact_uri", "framework", "framework_version", "environment",
    "run_id", "reference_histograms",
)
_KNOWN_SET = frozenset(KNOWN_FIELDS)
_STRING_FIELDS = ("description", "author", "artifact_uri", "framework", "framework_version", "run_id")
_BATCH = 2000


# ---------------------------------------------------------------------------------------------
# Dataclasses


@dataclass
class ModelSummary:
    model: str
    versions: int
    aliases: dict[str, str]  # alias -> version
    latest_version: str | None
    latest_created_at: str | None
    description: str | None
    tags: list[str]
    framework: str | None
    source: str | None = None  # the registry URL of a synced model; None: imported locally
    deleted: bool = False  # gone from its registry (kept here as history)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model, "versions": self.versions, "aliases": dict(self.aliases),
            "latest_version": self.latest_version, "latest_created_at": self.latest_created_at,
            "description": self.description, "tags": list(self.tags), "framework": self.framework,
            "source": self.source, "deleted": self.deleted,
        }


@dataclass
class VersionRecord:
    model: str
    version: str
    aliases: list[str]
    description: str | None
    tags: list[str]
    author: str | None
    created_at: str | None
    training_data: dict | None
    hyperparameters: dict
    metrics: dict
    artifact_uri: str | None
    framework: str | None
    framework_version: str | None
    environment: dict
    run_id: str | None
    reference_histograms: dict
    imported_at: str | None = None
    source: str | None = None
    origin: str = "import"  # or "mlflow"
    deleted_at: str | None = None  # when it was found gone from its registry
    _record: dict = field(default_factory=dict, repr=False, compare=False)

    def flat_metrics(self) -> dict[str, float]:
        """Metrics as sortable keys: "auc" for flat ones, "test.auc" for split ones."""
        return dict(_flatten_metrics(self.metrics))

    def to_record(self) -> dict[str, Any]:
        """Every imported key with its value unchanged (see the module docstring for aliases)."""
        stored = json.loads(json.dumps(self._record))
        # KNOWN_FIELDS order (model, version, aliases, ...), whatever the file's order
        record = {k: stored[k] for k in KNOWN_FIELDS if k in stored}
        imported = record.get("aliases")
        if "aliases" in record or self.aliases:
            if not (isinstance(imported, list) and sorted(imported) == sorted(self.aliases)):
                record["aliases"] = list(self.aliases)
                record = {k: record[k] for k in KNOWN_FIELDS if k in record}
        return record


@dataclass
class ImportResult:
    inserted: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged


@dataclass
class RegistrySnapshot:
    """What the catalog holds of one registry, for an incremental sync."""

    models: dict[str, tuple[int | None, bool]]  # name -> (created_ms, deleted)
    versions: dict[tuple[str, str], tuple[str, str | None, bool]]  # (model, version) -> (hash, artifact_uri, deleted)
    runs: dict[str, tuple[str | None, str]]  # run_id -> (status, data JSON)


@dataclass
class SyncResult:
    models_added: list[str] = field(default_factory=list)
    models_changed: list[str] = field(default_factory=list)
    models_deleted: list[str] = field(default_factory=list)
    models_renamed: list[tuple[str, str]] = field(default_factory=list)
    versions_added: int = 0
    versions_changed: int = 0
    versions_deleted: int = 0
    versions_unchanged: int = 0
    aliases_added: list[str] = field(default_factory=list)  # "model@alias -> 4"
    aliases_moved: list[str] = field(default_factory=list)  # "model@alias: 3 -> 4"
    aliases_deleted: list[str] = field(default_factory=list)  # "model@alias (was 3)"
    skipped: list[str] = field(default_factory=list)  # "model:version: why" (not valid as a catalog record)

    @property
    def changed(self) -> bool:
        return bool(self.models_added or self.models_changed or self.models_deleted or self.models_renamed
                    or self.versions_added or self.versions_changed or self.versions_deleted
                    or self.aliases_added or self.aliases_moved or self.aliases_deleted)

    def counts(self) -> dict[str, Any]:
        return {
            "models": {"added": len(self.models_added), "changed": len(self.models_changed),
                       "deleted": len(self.models_deleted), "renamed": len(self.models_renamed)},
            "versions": {"added": self.versions_added, "changed": self.versions_changed,
                         "deleted": self.versions_deleted, "unchanged": self.versions_unchanged},
            "aliases": {"added": len(self.aliases_added), "moved": len(self.aliases_moved),
                        "deleted": len(self.aliases_deleted)},
            "skipped": len(self.skipped),
        }


# ---------------------------------------------------------------------------------------------
# Helpers: keys, validation, file loading


def version_key(version: str) -> str:
    """Numeric-aware sort key: digit runs are zero-padded, so "10" > "9" and "1.10" > "1.9"."""
    return re.sub(r"\d+", lambda m: m.group().zfill(20), version)


def _created_key(text: str) -> float:
    dt = datetime.fromisoformat(text.strip())
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


_NUMBER_TYPES = {int, float}
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_SPACE = re.compile(r"\s")


def _all_numbers(values: list) -> bool:
    """True when every item is a finite int or float (not bool); C-speed for long lists."""
    types = set(map(type, values))
    if not types <= _NUMBER_TYPES:
        return False
    return int in types and len(types) == 1 or all(map(math.isfinite, values))


def _flatten_metrics(metrics: Any) -> Iterator[tuple[str, float]]:
    if not isinstance(metrics, dict):
        return
    for name, value in metrics.items():
        if isinstance(value, dict):
            for inner, number in value.items():
                if _is_number(number):
                    yield f"{name}.{inner}", float(number)
        elif _is_number(value):
            yield name, float(value)


def _flat_metrics_json(metrics: Any) -> str:
    """The sortable metrics of a validated record as a flat JSON object (fast path of import)."""
    if not metrics:
        return "{}"
    out = {}
    for name, value in metrics.items():
        if type(value) is dict:
            for inner, number in value.items():
                out[f"{name}.{inner}"] = number
        else:
            out[name] = value
    return json.dumps(out, ensure_ascii=False)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class _Bad(Exception):
    def __init__(self, field_name: str, problem: str):
        super().__init__(field_name, problem)
        self.field = field_name
        self.problem = problem


def _check_name(value: Any, field_name: str, *, max_len: int, allow_colon: bool) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and field_name == "version":
        value = str(value)
    if not isinstance(value, str):
        raise _Bad(field_name, f"must be a string, not {_kind(value)}")
    if not value or value != value.strip():
        raise _Bad(field_name, "must be non-empty, without leading or trailing spaces")
    if len(value) > max_len:
        raise _Bad(field_name, f"is longer than {max_len} characters")
    if _CONTROL_CHARS.search(value):
        raise _Bad(field_name, "must not contain control characters")
    if not allow_colon and (":" in value or _SPACE.search(value)):
        raise _Bad(field_name, f"{value!r} must not contain ':' or spaces")
    return value


def _validate(record: Any) -> dict[str, Any]:
    """Check one record; returns the derived column values. Raises _Bad(field, problem)."""
    if not isinstance(record, dict):
        raise _Bad("", f"a record must be a JSON object, not {_kind(record)}")
    for key in record:
        if key not in _KNOWN_SET:
            raise _Bad(str(key), f"is not a known field (known fields: {', '.join(KNOWN_FIELDS)})")
    for key in ("model", "version"):
        if key not in record or record[key] is None:
            raise _Bad(key, "is required")
    model = _check_name(record["model"], "model", max_len=200, allow_colon=True)
    version = _check_name(record["version"], "version", max_len=64, allow_colon=False)
    for key in _STRING_FIELDS:
        value = record.get(key)
        if value is not None and not isinstance(value, str):
            raise _Bad(key, f"must be a string, not {_kind(value)}")
    created_at = record.get("created_at")
    created_key = None
    if created_at is not None:
        if not isinstance(created_at, str):
            raise _Bad("created_at", f"must be an ISO 8601 timestamp string, not {_kind(created_at)}")
        try:
            created_key = _created_key(created_at)
        except ValueError:
            raise _Bad("created_at", f"{created_at!r} is not an ISO 8601 timestamp (like 2026-11-20T09:30:00Z)") from None
    for key in ("tags", "aliases"):
        value = record.get(key)
        if value is None:
            continue
        if not isinstance(value, list):
            raise _Bad(key, f"must be a list of strings, not {_kind(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise _Bad(f"{key}[{i}]", f"must be a string, not {_kind(item)}")
            if key == "aliases" and not ALIAS_RE.fullmatch(item):
                raise _Bad(f"{key}[{i}]", f"{item!r} is not a valid alias (lower-case letter, then up to 62 of a-z 0-9 _ -)")
        if key == "aliases" and len(set(value)) != len(value):
            raise _Bad(key, "lists an alias twice")
    for key in ("hyperparameters", "environment"):
        value = record.get(key)
        if value is not None and not isinstance(value, dict):
            raise _Bad(key, f"must be an object, not {_kind(value)}")
    training = record.get("training_data")
    if training is not None:
        if not isinstance(training, dict):
            raise _Bad("training_data", f"must be an object with uri, hash and rows, not {_kind(training)}")
        for key in ("uri", "hash"):
            if training.get(key) is not None and not isinstance(training[key], str):
                raise _Bad(f"training_data.{key}", f"must be a string, not {_kind(training[key])}")
        rows = training.get("rows")
        if rows is not None and (not isinstance(rows, int) or isinstance(rows, bool) or rows < 0):
            raise _Bad("training_data.rows", "must be a whole number >= 0")
    metrics = record.get("metrics")
    if metrics is not None:
        if not isinstance(metrics, dict):
            raise _Bad("metrics", f"must be an object (name -> number, or split -> {{name -> number}}), not {_kind(metrics)}")
        for name, value in metrics.items():
            if isinstance(value, dict):
                if _all_numbers(list(value.values())):
                    continue
                for inner, number in value.items():
                    if not _is_number(number):
                        raise _Bad(f"metrics.{name}.{inner}", f"must be a number, not {_kind(number)}"
                                   + (" (finite)" if isinstance(number, float) else ""))
            elif not _is_number(value):
                raise _Bad(f"metrics.{name}", f"must be a number (or an object of split metrics), not {_kind(value)}")
    histograms = record.get("reference_histograms")
    if histograms is not None:
        if not isinstance(histograms, dict):
            raise _Bad("reference_histograms", f"must be an object (feature -> {{edges, counts}}), not {_kind(histograms)}")
        for feature, hist in histograms.items():
            where = f"reference_histograms.{feature}"
            if not isinstance(hist, dict):
                raise _Bad(where, f"must be an object with edges and counts, not {_kind(hist)}")
            edges, counts = hist.get("edges"), hist.get("counts")
            if not isinstance(edges, list) or len(edges) < 2:
                raise _Bad(f"{where}.edges", "must be a list of at least 2 numbers")
            if not isinstance(counts, list):
                raise _Bad(f"{where}.counts", "must be a list of numbers")
            if (len(counts) == len(edges) - 1 and _all_numbers(edges) and _all_numbers(counts)
                    and all(map(operator.lt, edges, edges[1:])) and (not counts or min(counts) >= 0)):
                continue  # the fast path; the loops below find what is wrong otherwise
            for i, e in enumerate(edges):
                if not _is_number(e):
                    raise _Bad(f"{where}.edges[{i}]", f"must be a number, not {_kind(e)}")
                if i and e <= edges[i - 1]:
                    raise _Bad(f"{where}.edges[{i}]", "must be greater than the edge before it")
            for i, c in enumerate(counts):
                if not _is_number(c) or c < 0:
                    raise _Bad(f"{where}.counts[{i}]", "must be a number >= 0")
            if len(counts) != len(edges) - 1:
                raise _Bad(f"{where}.counts", f"has {len(counts)} counts for {len(edges)} edges (needs one fewer count than edges)")
    uri = record.get("artifact_uri")
    return {
        "model": model,
        "version": version,
        "created_key": created_key,
        "artifact_key": uri.rstrip("/") if isinstance(uri, str) else None,
    }


def _compact(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


class _NotJson(ValueError):
    pass


def _no_constants(name: str) -> Any:
    raise _NotJson(f"{name} is not valid JSON")


_WS = re.compile(r"[ \t\n\r]*")


def load_file(path: str | Path) -> Iterator[tuple[str, dict]]:
    """Yield (location, record) from a JSON array or JSON Lines file, detected from its first
    character. Locations read "FILE line 7" (JSON Lines) or "FILE index 3 (line 12)" (array).
    Malformed JSON raises InvalidInput naming the line and column; records are not validated here.
    """
    for where, record, _raw in _load_raw(path):
        yield where, record


def _load_raw(path: str | Path) -> Iterator[tuple[str, Any, str]]:
    """load_file, plus each record's JSON text as it stands in the file (stored as is)."""
    name = str(path)
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise InvalidInput(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InvalidInput(f"{name}: is a directory, not a JSON or JSON Lines file") from None
    except OSError as exc:
        raise InvalidInput(f"{name}: cannot be read ({exc.strerror})") from None
    decoder = json.JSONDecoder(parse_constant=_no_constants)
    with handle:
        head = handle.read(4096)
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if stripped.startswith(b"["):
            data = head + handle.read()
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                line = data.count(b"\n", 0, exc.start) + 1
                raise InvalidInput(f"{name} line {line}: not UTF-8 text") from None
            yield from _array_records(name, text, decoder)
            return
        handle.seek(0)
        for lineno, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError:
                raise InvalidInput(f"{name} line {lineno}: not UTF-8 text") from None
            if not line.strip():
                continue
            try:
                record = decoder.decode(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{name} line {lineno} column {exc.colno}: invalid JSON: {exc.msg}") from None
            except _NotJson as exc:
                raise InvalidInput(f"{name} line {lineno}: invalid JSON: {exc}") from None
            yield f"{name} line {lineno}", record, line.strip()


def _array_records(name: str, text: str, decoder: json.JSONDecoder) -> Iterator[tuple[str, Any, str]]:
    pos = _WS.match(text, 0).end() + 1  # past '['
    line, counted = 1, 0
    index = 0

    def fail(at: int, msg: str) -> InvalidInput:
        ln = text.count("\n", 0, at) + 1
        col = at - (text.rfind("\n", 0, at) + 1) + 1
        return InvalidInput(f"{name} line {ln} column {col}: invalid JSON: {msg}")

    pos = _WS.match(text, pos).end()
    if pos < len(text) and text[pos] == "]":
        pos = _WS.match(text, pos + 1).end()
        if pos != len(text):
            raise fail(pos, "extra data after the array")
        return
    while True:
        try:
            record, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{name} line {exc.lineno} column {exc.colno}: invalid JSON: {exc.msg}") from None
        except _NotJson as exc:
            raise fail(pos, str(exc)) from None
        line += text.count("\n", counted, pos)
        counted = pos
        yield f"{name} index {index} (line {line})", record, text[pos:end]
        index += 1
        pos = _WS.match(text, end).end()
        if pos >= len(text):
            raise fail(pos, "the array is not closed with ']'")
        if text[pos] == "]":
            pos = _WS.match(text, pos + 1).end()
            if pos != len(text):
                raise fail(pos, "extra data after the array")
            return
        if text[pos] != ",":
            raise fail(pos, "expected ',' or ']' between records")
        pos = _WS.match(text, pos + 1).end()


# ---------------------------------------------------------------------------------------------
# The catalog


def _guarded(method):
    """Serialise access (workers share one connection) and turn sqlite3 errors into ours."""

    @wraps(method)
    def wrapper(self: "Catalog", *args, **kwargs):
        with self._lock:
            if self._conn is None:
                raise DataError(f"catalog {self.path} is closed")
            try:
                return method(self, *args, **kwargs)
            except sqlite3.Error as exc:
                if self._conn is not None and self._conn.in_transaction:
                    try:
                        self._conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                raise self._translate(exc) from None

    return wrapper


class Catalog:
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
        self._match_cache: tuple[tuple, list[int]] | None = None
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
    def db(self) -> Any:
        """sqlite-utils over the connection, imported at first use: browsing never needs it, and its
        import would hold up the console's first frame (issue 10 §5, adapters/sqlite_lib.py)."""
        return load_sqlite_utils().Database(self._conn)

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

    def _connect(self) -> sqlite3.Connection:
        kwargs = dict(timeout=self.busy_timeout, isolation_level=None, check_same_thread=False)
        if self.read_only:
            return sqlite3.connect(self.path.absolute().as_uri() + "?mode=ro", uri=True, **kwargs)
        conn = sqlite3.connect(str(self.path), **kwargs)
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
            conn = sqlite3.connect(base, uri=True, **kwargs)
            conn.execute("PRAGMA user_version").fetchone()
            return conn
        except sqlite3.OperationalError:
            conn.close()
        return sqlite3.connect(base + "&immutable=1", uri=True, **kwargs)

    def _writable_on_disk(self) -> bool:
        return os.access(self.path.parent, os.W_OK) and os.access(self.path, os.W_OK)

    def _prepare(self) -> None:
        conn = self._conn
        assert conn is not None
        version = conn.execute("PRAGMA user_version").fetchone()[0]
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
        return _VERSION_COLUMNS if self.schema >= 2 else _VERSION_COLUMNS.replace("origin, deleted_at", "'import', NULL")

    @property
    def _registry_columns(self) -> str:
        return _REGISTRY_COLUMNS if self.schema >= 2 else "NULL, 0"

    def _migrate(self, version: int) -> None:
        conn = self._conn
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
            conn.execute("BEGIN IMMEDIATE")
            try:
                current = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
                for step in range(current + 1, SCHEMA_VERSION + 1):
                    for statement in MIGRATIONS[step]:
                        conn.execute(statement)
                    if step == 1:
                        conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('created_at', ?)", (_now(),))
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
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

    def __enter__(self) -> "Catalog":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _writable(self, what: str) -> None:
        if self.read_only:
            raise ReadOnly(f"catalog {self.path} is read-only ({self.read_only_reason}); cannot {what}. "
                           "Fix its permissions, or copy it somewhere writable and pass --catalog")

    # -- import ---------------------------------------------------------------------------------

    load_file = staticmethod(load_file)

    def import_file(self, path: str | Path, *, now: str | None = None) -> ImportResult:
        """Import a JSON array or JSON Lines file (see load_file) in one transaction."""
        return self.import_records(_load_raw(path), source=str(path), now=now)

    @_guarded
    def import_records(self, records: Iterable[dict | tuple[str, dict]], *, source: str = "input",
                       now: str | None = None) -> ImportResult:
        """Import version records in one transaction. Items are dicts (located as
        "SOURCE index N") or (location, dict) pairs as load_file yields them. A bad record raises
        InvalidInput naming its location and the field, and nothing is imported. `now` fixes the
        imported_at stamp (the demo uses it to be deterministic)."""
        self._writable("import records")
        self._upgrade()
        conn = self._conn
        assert conn is not None
        stamp = now or _now()
        seen: dict[tuple[str, str], str] = {}
        claimed: dict[tuple[str, str], tuple[str, str]] = {}  # (model, alias) -> (version, where)
        alias_ops: list[tuple[str, str, list[str]]] = []
        hashes: dict[str, dict[str, str]] = {}
        inserted = updated = unchanged = 0
        rows: list[tuple] = []
        deletes: list[tuple[str, str]] = []
        affected: set[str] = set()

        def flush() -> None:
            if deletes:
                conn.executemany("DELETE FROM versions WHERE model = ? AND version = ?", deletes)
                deletes.clear()
            if rows:
                conn.executemany(_INSERT_VERSION, rows)
                rows.clear()

        conn.execute("PRAGMA cache_size = -65536")  # 64 MiB while importing: fewer spills to the WAL
        conn.execute("BEGIN IMMEDIATE")
        try:
            for index, item in enumerate(records):
                raw = None
                if isinstance(item, tuple):
                    if len(item) == 3:
                        where, record, raw = item
                    else:
                        where, record = item
                else:
                    where, record = f"{source} index {index}", item
                try:
                    derived = _validate(record)
                except _Bad as bad:
                    prefix = f"{where}: field '{bad.field}' " if bad.field else f"{where}: "
                    raise InvalidInput(prefix + bad.problem) from None
                model, version = derived["model"], derived["version"]
                key = (model, version)
                if key in seen:
                    raise InvalidInput(f"{where}: model {model!r} version {version!r} already appears at {seen[key]}")
                seen[key] = where
                for alias in record.get("aliases") or ():
                    other = claimed.get((model, alias))
                    if other is not None:
                        raise InvalidInput(f"{where}: field 'aliases': alias {alias!r} of {model} is also given "
                                           f"to version {other[0]} at {other[1]}")
                    claimed[(model, alias)] = (version, where)
                if raw is not None:
                    text = raw
                else:
                    try:
                        text = _compact(record)
                    except ValueError:
                        raise InvalidInput(f"{where}: NaN and Infinity are not valid JSON values") from None
                digest = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
                stored = hashes.get(model)
                if stored is None:
                    stored = hashes[model] = {
                        r[0]: r[1] for r in conn.execute(
                            "SELECT version, record_hash FROM versions WHERE model = ?", (model,))
                    }
                old = stored.get(version)
                if old is not None and old != digest:
                    # the same record written differently (spacing, key order) is still unchanged
                    same = conn.execute("SELECT record FROM versions WHERE model = ? AND version = ?",
                                        key).fetchone()
                    if same is not None and json.loads(same[0]) == record:
                        digest = old
                if old == digest:
                    unchanged += 1
                    continue
                if old is None:
                    inserted += 1
                else:
                    updated += 1
                    deletes.append(key)
                stored[version] = digest
                affected.add(model)
                tags = record.get("tags") or []
                rows.append((
                    model, version, version_key(version), record.get("created_at"), derived["created_key"],
                    record.get("author"), record.get("framework"), record.get("run_id"), derived["artifact_key"],
                    _flat_metrics_json(record.get("metrics")),
                    json.dumps(tags, ensure_ascii=False), record.get("description"), digest, source, stamp, text,
                ))
                if "aliases" in record:
                    alias_ops.append((model, version, list(record.get("aliases") or [])))
                if len(rows) >= _BATCH:
                    flush()
            flush()
            for model, version, names in alias_ops:
                marks = ",".join("?" * len(names))
                conn.execute(f"DELETE FROM aliases WHERE model = ? AND version = ? AND alias NOT IN ({marks})",
                             (model, version, *names))
                conn.executemany(
                    "INSERT INTO aliases(model, alias, version, updated_at) VALUES (?,?,?,?) "
                    "ON CONFLICT(model, alias) DO UPDATE SET version = excluded.version, "
                    "updated_at = excluded.updated_at WHERE aliases.version != excluded.version",
                    [(model, a, version, stamp) for a in names],
                )
            self._refresh_summaries(affected, stamp)
            conn.execute("INSERT INTO imports(source, imported_at, inserted, updated, unchanged) VALUES (?,?,?,?,?)",
                         (source, stamp, inserted, updated, unchanged))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.execute("PRAGMA cache_size = -2000")
        return ImportResult(inserted, updated, unchanged)

    def _refresh_summaries(self, models: Iterable[str], stamp: str) -> None:
        conn = self._conn
        assert conn is not None
        models = list(models)
        if not models:
            return
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS affected (name TEXT PRIMARY KEY, name_lower TEXT)")
        conn.execute("DELETE FROM temp.affected")
        conn.executemany("INSERT INTO temp.affected(name, name_lower) VALUES (?, ?)",
                         [(m, m.lower()) for m in models])
        conn.execute(_REFRESH_SUMMARIES, {"now": stamp})
        conn.execute("DELETE FROM models_fts WHERE rowid IN "
                     "(SELECT rowid FROM models WHERE name IN (SELECT name FROM temp.affected))")
        conn.execute(
            "INSERT INTO models_fts(rowid, name, description, tags) "
            "SELECT rowid, name, coalesce(description, ''), "
            "coalesce((SELECT group_concat(value, ' ') FROM json_each(models.tags)), '') "
            "FROM models WHERE name IN (SELECT name FROM temp.affected)"
        )
        conn.execute("DELETE FROM temp.affected")

    # -- models ---------------------------------------------------------------------------------

    @staticmethod
    def _filter_query(text: str) -> tuple[str, dict[str, Any]]:
        """Rowids of the models matching `text`, in list order: a name substring (scanning the
        small name index) UNION an FTS5 prefix match of every word in the description/tags."""
        params: dict[str, Any] = {"needle": text.lower()}
        parts = ["SELECT rowid FROM models WHERE instr(name_lower, :needle) > 0"]
        tokens = re.findall(r"\w+", text.lower())
        if tokens:
            params["match"] = " AND ".join(f'"{t}"*' for t in tokens)
            parts.append("SELECT rowid FROM models_fts WHERE models_fts MATCH :match")
        union = " UNION ".join(parts)
        return (f"SELECT m.rowid FROM models m WHERE m.rowid IN ({union}) ORDER BY m.name_lower, m.name",
                params)

    def _matches(self, filter: str | None) -> list[int] | None:
        """The matching rowids in order (None: no filter). Remembered for the last filter until
        the data changes (ours: total_changes; another process's: PRAGMA data_version), so the
        count and the page of one keystroke cost one search."""
        if filter is None or not filter.strip():
            return None
        text = filter.strip()
        conn = self._conn
        stamp = (text, conn.total_changes, conn.execute("PRAGMA data_version").fetchone()[0])
        if self._match_cache is not None and self._match_cache[0] == stamp:
            return self._match_cache[1]
        sql, params = self._filter_query(text)
        rowids = [r[0] for r in conn.execute(sql, params)]
        self._match_cache = (stamp, rowids)
        return rowids

    @_guarded
    def count_models(self, filter: str | None = None) -> int:
        rowids = self._matches(filter)
        if rowids is not None:
            return len(rowids)
        return int(self._conn.execute("SELECT count(*) FROM models").fetchone()[0])

    @_guarded
    def list_models(self, filter: str | None = None, *, offset: int = 0, limit: int | None = None) -> list[ModelSummary]:
        """Models sorted by name (case-insensitive). filter: a case-insensitive substring of the
        name, or words that prefix-match the description or tags (FTS5)."""
        columns = ("rowid, name, versions, latest_version, latest_created_at, description, tags, framework, "
                   f"{self._registry_columns}")
        offset = max(0, int(offset))
        rowids = self._matches(filter)
        if rowids is None:
            rows = self._conn.execute(
                f"SELECT {columns} FROM models ORDER BY name_lower, name LIMIT ? OFFSET ?",
                (-1 if limit is None else int(limit), offset),
            ).fetchall()
        else:
            page = rowids[offset:] if limit is None else rowids[offset:offset + int(limit)]
            by_id: dict[int, tuple] = {}
            for start in range(0, len(page), 500):
                chunk = page[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for r in self._conn.execute(f"SELECT {columns} FROM models WHERE rowid IN ({marks})", chunk):
                    by_id[r[0]] = r
            rows = [by_id[i] for i in page if i in by_id]
        aliases = self._aliases_for([r[1] for r in rows])
        return [
            ModelSummary(r[1], int(r[2]), aliases.get(r[1], {}), r[3], r[4], r[5], sorted(json.loads(r[6] or "[]")), r[7],
                         r[8], bool(r[9]))
            for r in rows
        ]

    def _aliases_for(self, models: list[str]) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for start in range(0, len(models), 500):
            chunk = models[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for model, alias, version in self._conn.execute(
                f"SELECT model, alias, version FROM aliases WHERE model IN ({marks}) ORDER BY model, alias", chunk
            ):
                out.setdefault(model, {})[alias] = version
        return out

    @_guarded
    def get_model(self, model: str) -> ModelSummary:
        row = self._conn.execute(
            "SELECT name, versions, latest_version, latest_created_at, description, tags, framework, "
            f"{self._registry_columns} FROM models WHERE name = ?", (model,)
        ).fetchone()
        if row is None:
            raise NotFound(f"model {model!r} is not in catalog {self.path}")
        return ModelSummary(row[0], int(row[1]), self._aliases_for([model]).get(model, {}), row[2], row[3],
                            row[4], sorted(json.loads(row[5] or "[]")), row[6], row[7], bool(row[8]))

    @_guarded
    def has_model(self, model: str) -> bool:
        return self._conn.execute("SELECT 1 FROM models WHERE name = ?", (model,)).fetchone() is not None

    # -- versions -------------------------------------------------------------------------------

    @_guarded
    def count_versions(self, model: str) -> int:
        row = self._conn.execute("SELECT versions FROM models WHERE name = ?", (model,)).fetchone()
        return int(row[0]) if row else 0

    @_guarded
    def list_versions(self, model: str, *, sort: str = "created_at", descending: bool = True,
                      offset: int = 0, limit: int | None = None) -> list[VersionRecord]:
        """A model's versions. sort: "created_at", "version" (numeric-aware) or "metric:<name>"
        ("metric:test.auc" for split metrics); versions without the metric sort last either way."""
        direction = "DESC" if descending else "ASC"
        params: dict[str, Any] = {"model": model, "limit": -1 if limit is None else int(limit),
                                  "offset": max(0, int(offset))}
        extra = ""
        if sort == "created_at":
            order = f"created_key IS NULL, created_key {direction}, version_key {direction}"
        elif sort == "version":
            order = f"version_key {direction}, version {direction}"
        elif sort.startswith("metric:") and len(sort) > len("metric:"):
            params["metric"] = sort[len("metric:"):]
            extra = ", (SELECT j.value FROM json_each(metrics) j WHERE j.key = :metric) AS mv"
            order = f"mv IS NULL, mv {direction}, version_key DESC"
        else:
            raise InvalidInput(f"unknown sort {sort!r}; use created_at, version or metric:<name>")
        # Sort the small columns first, then read the (large) records of the page only.
        columns = "v.model, v.version, v.record, v.imported_at, v.source, " + (
            "v.origin, v.deleted_at" if self.schema >= 2 else "'import', NULL")
        rows = self._conn.execute(
            f"""WITH page AS (
                    SELECT rid, row_number() OVER (ORDER BY {order}) AS rn FROM (
                        SELECT rowid AS rid, version, version_key, created_key{extra}
                        FROM versions WHERE model = :model)
                    ORDER BY {order} LIMIT :limit OFFSET :offset)
                SELECT {columns}
                FROM page JOIN versions v ON v.rowid = page.rid ORDER BY page.rn""", params,
        ).fetchall()
        by_version = self._version_aliases(model)
        return [self._record_of(r, by_version) for r in rows]

    def _version_aliases(self, model: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for alias, version in self._conn.execute(
            "SELECT alias, version FROM aliases WHERE model = ? ORDER BY alias", (model,)
        ):
            out.setdefault(version, []).append(alias)
        return out

    @staticmethod
    def _record_of(row: tuple, aliases_by_version: dict[str, list[str]]) -> VersionRecord:
        model, version, text, imported_at, source, origin, deleted_at = row
        record = json.loads(text)
        return VersionRecord(
            model=model,
            version=version,
            aliases=list(aliases_by_version.get(version, [])),
            description=record.get("description"),
            tags=list(record.get("tags") or []),
            author=record.get("author"),
            created_at=record.get("created_at"),
            training_data=record.get("training_data"),
            hyperparameters=record.get("hyperparameters") or {},
            metrics=record.get("metrics") or {},
            artifact_uri=record.get("artifact_uri"),
            framework=record.get("framework"),
            framework_version=record.get("framework_version"),
            environment=record.get("environment") or {},
            run_id=record.get("run_id"),
            reference_histograms=record.get("reference_histograms") or {},
            imported_at=imported_at,
            source=source,
            origin=origin,
            deleted_at=deleted_at,
            _record=record,
        )

    @_guarded
    def metric_names(self, model: str) -> list[str]:
        return [r[0] for r in self._conn.execute(
            "SELECT DISTINCT j.key FROM versions v, json_each(v.metrics) j WHERE v.model = ? ORDER BY 1",
            (model,))]

    @_guarded
    def get_version(self, model: str, version: str) -> VersionRecord:
        row = self._conn.execute(
            f"SELECT {self._version_columns} FROM versions WHERE model = ? AND version = ?",
            (model, str(version)),
        ).fetchone()
        if row is None:
            if not self.has_model(model):
                raise NotFound(f"model {model!r} is not in catalog {self.path}")
            raise NotFound(f"{model}:{version} is not in catalog {self.path} (model {model!r} has no version {version!r})")
        return self._record_of(row, self._version_aliases(model))

    @_guarded
    def versions_by_run_id(self, run_id: str) -> list[VersionRecord]:
        rows = self._conn.execute(
            f"SELECT {self._version_columns} FROM versions WHERE run_id = ? "
            "ORDER BY model, version_key", (run_id,)
        ).fetchall()
        cache: dict[str, dict[str, list[str]]] = {}
        out = []
        for r in rows:
            if r[0] not in cache:
                cache[r[0]] = self._version_aliases(r[0])
            out.append(self._record_of(r, cache[r[0]]))
        return out

    @_guarded
    def version_by_artifact_uri(self, uri: str) -> VersionRecord | None:
        row = self._conn.execute(
            f"SELECT {self._version_columns} FROM versions WHERE artifact_key = ? "
            "ORDER BY created_key DESC LIMIT 1", (uri.rstrip("/"),)
        ).fetchone()
        if row is None:
            return None
        return self._record_of(row, self._version_aliases(row[0]))

    # -- aliases --------------------------------------------------------------------------------

    @_guarded
    def aliases(self, model: str) -> dict[str, str]:
        return {a: v for a, v in self._conn.execute(
            "SELECT alias, version FROM aliases WHERE model = ? ORDER BY alias", (model,))}

    @staticmethod
    def check_alias_name(alias: str) -> None:
        if not isinstance(alias, str) or not ALIAS_RE.fullmatch(alias):
            raise InvalidInput(f"alias {alias!r} is not valid: a lower-case letter, then up to 62 of a-z 0-9 _ -")

    @_guarded
    def set_alias(self, model: str, alias: str, version: str, *, expected: str | None) -> tuple[str | None, str]:
        """Point `alias` of `model` at `version`, only if it still points at `expected` (None:
        unset). Returns (before, after). Conflict if someone moved it since it was read."""
        self.check_alias_name(alias)
        version = str(version)
        self._writable(f"set alias {alias!r} of {model}")
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("SELECT 1 FROM models WHERE name = ?", (model,)).fetchone() is None:
                raise NotFound(f"model {model!r} is not in catalog {self.path}")
            if conn.execute("SELECT 1 FROM versions WHERE model = ? AND version = ?", (model, version)).fetchone() is None:
                raise NotFound(f"{model}:{version} is not in catalog {self.path}")
            row = conn.execute("SELECT version FROM aliases WHERE model = ? AND alias = ?", (model, alias)).fetchone()
            current = row[0] if row else None
            if current != (None if expected is None else str(expected)):
                now = "unset" if current is None else current
                raise Conflict(f"alias {alias!r} of {model} changed since you looked: now {now}")
            if current != version:
                conn.execute(
                    "INSERT INTO aliases(model, alias, version, updated_at) VALUES (?,?,?,?) "
                    "ON CONFLICT(model, alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at",
                    (model, alias, version, _now()),
                )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return current, version

    @_guarded
    def remove_alias(self, model: str, alias: str, *, expected: str | None) -> str | None:
        """Remove `alias` of `model` if it still points at `expected`. Returns what it pointed at."""
        self.check_alias_name(alias)
        self._writable(f"remove alias {alias!r} of {model}")
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT version FROM aliases WHERE model = ? AND alias = ?", (model, alias)).fetchone()
            current = row[0] if row else None
            if current != (None if expected is None else str(expected)):
                now = "unset" if current is None else current
                raise Conflict(f"alias {alias!r} of {model} changed since you looked: now {now}")
            conn.execute("DELETE FROM aliases WHERE model = ? AND alias = ?", (model, alias))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return current

    # -- registries (catalog sync) -------------------------------------------------------------

    @_guarded
    def model_source(self, model: str) -> str | None:
        """The registry URL a model follows (None: imported locally, or gone from its registry)."""
        if self.schema < 2:
            return None
        row = self._conn.execute("SELECT registry FROM registry_models WHERE name = ? AND deleted_at IS NULL",
                                 (model,)).fetchone()
        return row[0] if row else None

    @_guarded
    def registry_snapshot(self, registry: str) -> RegistrySnapshot:
        if self.schema < 2:
            return RegistrySnapshot({}, {}, {})
        conn = self._conn
        models = {name: (created, bool(deleted)) for name, created, deleted in conn.execute(
            "SELECT name, created_ms, deleted_at FROM registry_models WHERE registry = ?", (registry,))}
        versions = {(m, v): (h, uri, bool(d)) for m, v, h, uri, d in conn.execute(
            "SELECT model, version, record_hash, json_extract(record, '$.artifact_uri'), deleted_at FROM versions "
            "WHERE origin = 'mlflow' AND source = ?", (registry,))}
        runs = {run_id: (status, data) for run_id, status, data in conn.execute(
            "SELECT run_id, status, data FROM registry_runs WHERE registry = ?", (registry,))}
        return RegistrySnapshot(models, versions, runs)

    @_guarded
    def sync_registry(self, registry: str, *, models: dict[str, int | None], records: Iterable[dict],
                      aliases: dict[str, dict[str, str]], runs: dict[str, tuple[str | None, str]],
                      scope: set[str] | None = None, renames: Iterable[tuple[str, str]] = (),
                      now: str | None = None) -> SyncResult:
        """Make the catalog say what the registry says, in one transaction; nothing is written
        when nothing changed.

        models: every registered model read (name -> creation time in ms); records: their
        versions as catalog records; aliases: model -> {alias: version}; runs: run_id -> (status,
        data JSON) of the runs read; scope: the model names asked for (None: the whole registry,
        so a model of this registry that was not read is gone from it); renames: (old, new)."""
        self._writable("sync from a registry")
        self._upgrade()
        conn = self._conn
        assert conn is not None
        stamp = now or _now()
        result = SyncResult()
        affected: set[str] = set()
        conn.execute("BEGIN IMMEDIATE")
        try:
            known = {name: (reg, created, deleted) for name, reg, created, deleted in conn.execute(
                "SELECT name, registry, created_ms, deleted_at FROM registry_models")}
            renamed_to: set[str] = set()
            for old, new in renames:
                taken = conn.execute("SELECT 1 FROM versions WHERE model = ? LIMIT 1", (new,)).fetchone()
                if taken or known.get(old, (None,))[0] != registry:
                    continue  # not ours to rename, or the new name is in use here: delete + add instead
                for table, column in (("versions", "model"), ("aliases", "model"), ("registry_models", "name")):
                    conn.execute(f"UPDATE {table} SET {column} = ? WHERE {column} = ?", (new, old))
                conn.execute("DELETE FROM models_fts WHERE rowid IN (SELECT rowid FROM models WHERE name = ?)", (old,))
                conn.execute("DELETE FROM models WHERE name = ?", (old,))
                known[new] = known.pop(old)
                renamed_to.add(new)
                affected.add(new)
                result.models_renamed.append((old, new))

            seen: set[tuple[str, str]] = set()
            changed_models: set[str] = set()
            stored_by_model: dict[str, dict[str, tuple[str, Any, str, str | None]]] = {}
            for record in records:
                try:
                    derived = _validate(record)
                    text = _compact(record)
                except (_Bad, ValueError) as bad:
                    field_name = f"field '{bad.field}' " if isinstance(bad, _Bad) and bad.field else ""
                    problem = bad.problem if isinstance(bad, _Bad) else str(bad)
                    result.skipped.append(f"{record.get('model')}:{record.get('version')}: {field_name}{problem}")
                    continue
                model, version = derived["model"], derived["version"]
                seen.add((model, version))
                stored = stored_by_model.get(model)
                if stored is None:
                    stored = stored_by_model[model] = {r[0]: r[1:] for r in conn.execute(
                        "SELECT version, record_hash, deleted_at, origin, source FROM versions WHERE model = ?",
                        (model,))}
                digest = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
                old = stored.get(version)
                if old is not None and old[0] == digest and old[1] is None and old[2] == "mlflow" and old[3] == registry:
                    result.versions_unchanged += 1
                    continue
                if old is None:
                    result.versions_added += 1
                else:
                    conn.execute("DELETE FROM versions WHERE model = ? AND version = ?", (model, version))
                    if model not in renamed_to:
                        result.versions_changed += 1
                affected.add(model)
                changed_models.add(model)
                conn.execute(_INSERT_SYNCED, (
                    model, version, version_key(version), record.get("created_at"), derived["created_key"],
                    record.get("author"), record.get("framework"), record.get("run_id"), derived["artifact_key"],
                    _flat_metrics_json(record.get("metrics")), json.dumps(record.get("tags") or [], ensure_ascii=False),
                    record.get("description"), digest, registry, stamp, text,
                ))

            in_scope = set(models) | (set(scope) if scope is not None else
                                      {n for n, (reg, _, _) in known.items() if reg == registry})
            for model in sorted(in_scope):
                gone = [v for (v,) in conn.execute(
                    "SELECT version FROM versions WHERE model = ? AND origin = 'mlflow' AND source = ? "
                    "AND deleted_at IS NULL", (model, registry)) if (model, v) not in seen]
                if gone:
                    conn.executemany("UPDATE versions SET deleted_at = ? WHERE model = ? AND version = ?",
                                     [(stamp, model, v) for v in gone])
                    result.versions_deleted += len(gone)
                    affected.add(model)
                    changed_models.add(model)
                wanted = aliases.get(model, {}) if model in models else {}
                current = dict(conn.execute("SELECT alias, version FROM aliases WHERE model = ?", (model,)).fetchall())
                if model not in models and known.get(model, (None,))[0] != registry:
                    continue  # asked for, but neither in the registry nor synced from it before
                for alias in sorted(set(current) - set(wanted)):
                    conn.execute("DELETE FROM aliases WHERE model = ? AND alias = ?", (model, alias))
                    result.aliases_deleted.append(f"{model}@{alias} (was {current[alias]})")
                for alias, version in sorted(wanted.items()):
                    if current.get(alias) == version:
                        continue
                    conn.execute(
                        "INSERT INTO aliases(model, alias, version, updated_at) VALUES (?,?,?,?) ON CONFLICT(model, alias) "
                        "DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at",
                        (model, alias, version, stamp))
                    if alias in current:
                        result.aliases_moved.append(f"{model}@{alias}: {current[alias]} -> {version}")
                    else:
                        result.aliases_added.append(f"{model}@{alias} -> {version}")
                    changed_models.add(model)

            for name, created in models.items():
                before = known.get(name)
                if before == (registry, created, None):
                    continue
                conn.execute(
                    "INSERT INTO registry_models(name, registry, created_ms, deleted_at) VALUES (?,?,?,NULL) "
                    "ON CONFLICT(name) DO UPDATE SET registry = excluded.registry, created_ms = excluded.created_ms, "
                    "deleted_at = NULL", (name, registry, created))
                if before is None or before[2] is not None or before[0] != registry:
                    result.models_added.append(name)
            for name in sorted(in_scope - set(models)):
                if known.get(name, (None, None, "x"))[0] == registry and known[name][2] is None:
                    conn.execute("UPDATE registry_models SET deleted_at = ? WHERE name = ?", (stamp, name))
                    result.models_deleted.append(name)
            new_or_gone = set(result.models_added) | set(result.models_deleted) | renamed_to
            result.models_changed = sorted(changed_models - new_or_gone)

            stored_runs = dict(conn.execute("SELECT run_id, coalesce(status, '') || char(0) || data FROM registry_runs "
                                            "WHERE registry = ?", (registry,)).fetchall()) if runs else {}
            fresh = [(registry, run_id, status, data) for run_id, (status, data) in runs.items()
                     if stored_runs.get(run_id) != f"{status or ''}\x00{data}"]
            conn.executemany("INSERT INTO registry_runs(registry, run_id, status, data) VALUES (?,?,?,?) "
                             "ON CONFLICT(registry, run_id) DO UPDATE SET status = excluded.status, data = excluded.data",
                             fresh)

            self._refresh_summaries(affected, stamp)
            if result.changed:
                conn.execute("INSERT INTO imports(source, imported_at, inserted, updated, unchanged) VALUES (?,?,?,?,?)",
                             (registry, stamp, result.versions_added, result.versions_changed, result.versions_unchanged))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    @_guarded
    def mirror_alias(self, model: str, alias: str, version: str | None) -> str | None:
        """Make the catalog follow an alias its registry now has (None: removed there), with no
        precondition: the registry is the truth. Returns what the catalog had."""
        self._writable(f"follow alias {alias!r} of {model}")
        self._upgrade()
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT version FROM aliases WHERE model = ? AND alias = ?", (model, alias)).fetchone()
            if version is None:
                conn.execute("DELETE FROM aliases WHERE model = ? AND alias = ?", (model, alias))
            elif row is None or row[0] != str(version):
                conn.execute(
                    "INSERT INTO aliases(model, alias, version, updated_at) VALUES (?,?,?,?) ON CONFLICT(model, alias) "
                    "DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at",
                    (model, alias, str(version), _now()))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return row[0] if row else None

    # -- misc -----------------------------------------------------------------------------------

    @_guarded
    def stats(self) -> dict[str, Any]:
        conn = self._conn
        models, versions = conn.execute("SELECT count(*), coalesce(sum(versions), 0) FROM models").fetchone()
        last = conn.execute("SELECT source, imported_at FROM imports ORDER BY id DESC LIMIT 1").fetchone()
        return {
            "path": str(self.path), "schema": SCHEMA_VERSION, "models": int(models), "versions": int(versions),
            "aliases": int(conn.execute("SELECT count(*) FROM aliases").fetchone()[0]),
            "read_only": self.read_only, "last_import": {"source": last[0], "imported_at": last[1]} if last else None,
        }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


# a model's registry (NULL: imported locally) and whether it is gone from it, as columns of models
_REGISTRY_COLUMNS = ("(SELECT r.registry FROM registry_models r WHERE r.name = models.name), "
                     "(SELECT r.deleted_at IS NOT NULL FROM registry_models r WHERE r.name = models.name)")
_VERSION_COLUMNS = "model, version, record, imported_at, source, origin, deleted_at"

_INSERT_VERSION = (
    "INSERT INTO versions(model, version, version_key, created_at, created_key, author, framework, run_id,"
    " artifact_key, metrics, tags, description, record_hash, source, imported_at, record)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)

_INSERT_SYNCED = (
    "INSERT INTO versions(model, version, version_key, created_at, created_key, author, framework, run_id,"
    " artifact_key, metrics, tags, description, record_hash, source, imported_at, record, origin)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,'mlflow')"
)

_REFRESH_SUMMARIES = """
WITH ranked AS (
    SELECT v.model, v.version, v.created_at, v.description, v.framework,
           row_number() OVER (PARTITION BY v.model ORDER BY v.deleted_at IS NOT NULL, v.created_key IS NULL,
                              v.created_key DESC, v.version_key DESC) AS rn,
           count(*) OVER (PARTITION BY v.model) AS n
    FROM versions v WHERE v.model IN (SELECT name FROM temp.affected)
)
INSERT INTO models(name, name_lower, versions, latest_version, latest_created_at, description, tags,
                   framework, updated_at)
SELECT r.model, a.name_lower, r.n, r.version, r.created_at,
       coalesce(r.description, (SELECT d.description FROM versions d
                                WHERE d.model = r.model AND d.description IS NOT NULL
                                ORDER BY d.created_key IS NULL, d.created_key DESC, d.version_key DESC
                                LIMIT 1)),
       coalesce((SELECT json_group_array(value) FROM (
                     SELECT DISTINCT j.value AS value FROM versions d, json_each(d.tags) j
                     WHERE d.model = r.model ORDER BY 1)), '[]'),
       r.framework, :now
FROM ranked r JOIN temp.affected a ON a.name = r.model
WHERE r.rn = 1
ON CONFLICT(name) DO UPDATE SET
    name_lower = excluded.name_lower, versions = excluded.versions,
    latest_version = excluded.latest_version, latest_created_at = excluded.latest_created_at,
    description = excluded.description, tags = excluded.tags, framework = excluded.framework,
    updated_at = excluded.updated_at
"""

MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)""",
        """CREATE TABLE versions (
            model TEXT NOT NULL,
            version TEXT NOT NULL,
            version_key TEXT NOT NULL,
            created_at TEXT,
            created_key REAL,
            author TEXT,
            framework TEXT,
            run_id TEXT,
            artifact_key TEXT,
            metrics TEXT NOT NULL DEFAULT '{}',
            tags TEXT NOT NULL DEFAULT '[]',
            description TEXT,
            record_hash TEXT NOT NULL,
            source TEXT,
            imported_at TEXT NOT NULL,
            record TEXT NOT NULL,
            PRIMARY KEY (model, version)
        )""",
        "CREATE INDEX versions_model_created ON versions(model, created_key)",
        "CREATE INDEX versions_run_id ON versions(run_id) WHERE run_id IS NOT NULL",
        "CREATE INDEX versions_artifact ON versions(artifact_key) WHERE artifact_key IS NOT NULL",
        """CREATE TABLE aliases (
            model TEXT NOT NULL, alias TEXT NOT NULL, version TEXT NOT NULL, updated_at TEXT NOT NULL,
            PRIMARY KEY (model, alias)
        ) WITHOUT ROWID""",
        "CREATE INDEX aliases_version ON aliases(model, version)",
        """CREATE TABLE models (
            name TEXT PRIMARY KEY,
            name_lower TEXT NOT NULL,
            versions INTEGER NOT NULL,
            latest_version TEXT,
            latest_created_at TEXT,
            description TEXT,
            tags TEXT NOT NULL DEFAULT '[]',
            framework TEXT,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX models_name_lower ON models(name_lower, name)",
        "CREATE VIRTUAL TABLE models_fts USING fts5(name, description, tags, tokenize = 'unicode61')",
        """CREATE TABLE imports (
            id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT, imported_at TEXT NOT NULL,
            inserted INTEGER NOT NULL, updated INTEGER NOT NULL, unchanged INTEGER NOT NULL
        )""",
    ],
    2: [
        "ALTER TABLE versions ADD COLUMN origin TEXT NOT NULL DEFAULT 'import'",
        "ALTER TABLE versions ADD COLUMN deleted_at TEXT",
        "CREATE INDEX versions_registry ON versions(source, model) WHERE origin = 'mlflow'",
        """CREATE TABLE registry_models (
            name TEXT PRIMARY KEY, registry TEXT NOT NULL, created_ms INTEGER, deleted_at TEXT
        )""",
        """CREATE TABLE registry_runs (
            registry TEXT NOT NULL, run_id TEXT NOT NULL, status TEXT, data TEXT NOT NULL,
            PRIMARY KEY (registry, run_id)
        ) WITHOUT ROWID""",
    ],
}
