"""The catalog file's schema, its migrations, and the per-model summaries kept from the versions.

Schema (PRAGMA user_version 2)
------------------------------
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
models           the per-model summary, refreshed in the writing transaction (SQL, not Python):
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

Tables and plain indexes are made with sqlite-utils. The steps are keyed by PRAGMA user_version,
which every catalog file in use carries (sqlite_utils.migrations would keep its own table and
not know those files). Raw SQL stays where sqlite-utils has no words for it: partial indexes, and
models_fts, a plain FTS5 table kept up to date by refresh_summaries: enable_fts() makes an
external-content table with triggers, which consoles already deployed (same schema version)
would corrupt by maintaining it by hand.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # sqlite-utils is imported when a catalog is opened (adapters/catalog_store.py)
    from sqlite_utils import Database

SCHEMA_VERSION = 2


def _schema_1(db: Database) -> None:
    db.table("meta").create({"key": str, "value": str}, pk="key")
    versions = db.table("versions")
    versions.create(
        {"model": str, "version": str, "version_key": str, "created_at": str, "created_key": float, "author": str,
         "framework": str, "run_id": str, "artifact_key": str, "metrics": str, "tags": str, "description": str,
         "record_hash": str, "source": str, "imported_at": str, "record": str},
        pk=("model", "version"),
        not_null={"model", "version", "version_key", "metrics", "tags", "record_hash", "imported_at", "record"},
        defaults={"metrics": "{}", "tags": "[]"},
    )
    versions.create_index(["model", "created_key"], index_name="versions_model_created")
    db.execute("CREATE INDEX versions_run_id ON versions(run_id) WHERE run_id IS NOT NULL")
    db.execute("CREATE INDEX versions_artifact ON versions(artifact_key) WHERE artifact_key IS NOT NULL")
    aliases = db.table("aliases")
    aliases.create({"model": str, "alias": str, "version": str, "updated_at": str}, pk=("model", "alias"),
                   not_null={"model", "alias", "version", "updated_at"})
    aliases.create_index(["model", "version"], index_name="aliases_version")
    models = db.table("models")
    models.create(
        {"name": str, "name_lower": str, "versions": int, "latest_version": str, "latest_created_at": str,
         "description": str, "tags": str, "framework": str, "updated_at": str},
        pk="name", not_null={"name_lower", "versions", "tags", "updated_at"}, defaults={"tags": "[]"},
    )
    models.create_index(["name_lower", "name"], index_name="models_name_lower")
    db.execute("CREATE VIRTUAL TABLE models_fts USING fts5(name, description, tags, tokenize = 'unicode61')")
    db.table("imports").create(
        {"id": int, "source": str, "imported_at": str, "inserted": int, "updated": int, "unchanged": int},
        pk="id", not_null={"imported_at", "inserted", "updated", "unchanged"},
    )


def _schema_2(db: Database) -> None:
    versions = db.table("versions")
    versions.add_column("origin", str, not_null_default="import")
    versions.add_column("deleted_at", str)
    db.execute("CREATE INDEX versions_registry ON versions(source, model) WHERE origin = 'mlflow'")
    db.table("registry_models").create({"name": str, "registry": str, "created_ms": int, "deleted_at": str},
                                       pk="name", not_null={"registry"})
    db.table("registry_runs").create({"registry": str, "run_id": str, "status": str, "data": str},
                                     pk=("registry", "run_id"), not_null={"registry", "run_id", "data"})


# user_version N -> the step that makes a file of version N-1 into one of version N
MIGRATIONS: dict[int, Callable[[Database], None]] = {1: _schema_1, 2: _schema_2}


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


def refresh_summaries(conn: sqlite3.Connection, models: Iterable[str], stamp: str) -> None:
    """Recompute the summary and search row of each model given, inside the caller's transaction.
    One statement for all of them (a 100k import touches thousands of models at once)."""
    names = list(models)
    if not names:
        return
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS affected (name TEXT PRIMARY KEY, name_lower TEXT)")
    conn.execute("DELETE FROM temp.affected")
    conn.executemany("INSERT INTO temp.affected(name, name_lower) VALUES (?, ?)", [(m, m.lower()) for m in names])
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
