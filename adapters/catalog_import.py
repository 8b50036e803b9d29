"""`catalog import`: version records into the catalog, in one transaction.

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

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from adapters.catalog_files import load_file, load_raw
from adapters.catalog_records import ImportResult, flat_metrics_json, version_key
from adapters.catalog_schema import refresh_summaries
from adapters.catalog_store import CatalogStore, guarded, now_stamp
from adapters.catalog_validate import BadField, compact, validate
from adapters.errors import InvalidInput

_BATCH = 2000

# The hot loop of a 100k import stays plain sqlite3: executemany of one prepared statement over
# tuples. sqlite-utils' insert_all (a dict per row, a multi-row VALUES statement per batch) took
# 2.1 s of CPU for 20k version rows where this takes 0.8 s; and its upsert cannot say "unchanged"
# (the import's idempotency reads the stored hashes first).
_INSERT_VERSION = (
    "INSERT INTO versions(model, version, version_key, created_at, created_key, author, framework, run_id,"
    " artifact_key, metrics, tags, description, record_hash, source, imported_at, record)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


class ImportMixin(CatalogStore):
    load_file = staticmethod(load_file)

    def import_file(self, path: str | Path, *, now: str | None = None) -> ImportResult:
        """Import a JSON array or JSON Lines file (see load_file) in one transaction."""
        return self.import_records(load_raw(path), source=str(path), now=now)

    @guarded
    def import_records(self, records: Iterable[dict[str, Any] | tuple[str, Any] | tuple[str, Any, str]], *,
                       source: str = "input", now: str | None = None) -> ImportResult:
        """Import version records in one transaction. Items are dicts (located as
        "SOURCE index N") or (location, dict) pairs as load_file yields them. A bad record raises
        InvalidInput naming its location and the field, and nothing is imported. `now` fixes the
        imported_at stamp (the demo uses it to be deterministic)."""
        self._writable("import records")
        self._upgrade()
        conn = self.conn
        stamp = now or now_stamp()
        seen: dict[tuple[str, str], str] = {}
        claimed: dict[tuple[str, str], tuple[str, str]] = {}  # (model, alias) -> (version, where)
        alias_ops: list[tuple[str, str, list[str]]] = []
        hashes: dict[str, dict[str, str]] = {}
        inserted = updated = unchanged = 0
        rows: list[tuple[Any, ...]] = []
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
        try:
            with self.transaction():
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
                        derived = validate(record)
                    except BadField as bad:
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
                            text = compact(record)
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
                        flat_metrics_json(record.get("metrics")),
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
                    current = dict(conn.execute("SELECT alias, version FROM aliases WHERE model = ?", (model,)).fetchall())
                    for alias in names:
                        if current.get(alias) != version:  # an alias already there keeps its updated_at
                            self.put_alias(model, alias, version, stamp)
                refresh_summaries(conn, affected, stamp)
                self.db.table("imports").insert({"source": source, "imported_at": stamp, "inserted": inserted,
                                                 "updated": updated, "unchanged": unchanged})
        finally:
            conn.execute("PRAGMA cache_size = -2000")
        return ImportResult(inserted, updated, unchanged)
