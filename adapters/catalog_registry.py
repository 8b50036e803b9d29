"""Following a model registry (catalog sync, console/catalog_sync.py): what the catalog holds of
one registry, and making it say what the registry says, in one transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from adapters.catalog_records import RegistrySnapshot, SyncResult, flat_metrics_json, version_key
from adapters.catalog_schema import refresh_summaries
from adapters.catalog_store import CatalogStore, guarded, now_stamp
from adapters.catalog_validate import BadField, compact, validate


class RegistryMixin(CatalogStore):
    # -- registries (catalog sync) -------------------------------------------------------------

    @guarded
    def model_source(self, model: str) -> str | None:
        """The registry URL a model follows (None: imported locally, or gone from its registry)."""
        if self.schema < 2:
            return None
        row = self.conn.execute("SELECT registry FROM registry_models WHERE name = ? AND deleted_at IS NULL",
                                 (model,)).fetchone()
        return row[0] if row else None

    @guarded
    def registry_snapshot(self, registry: str) -> RegistrySnapshot:
        if self.schema < 2:
            return RegistrySnapshot({}, {}, {})
        conn = self.conn
        models = {name: (created, bool(deleted)) for name, created, deleted in conn.execute(
            "SELECT name, created_ms, deleted_at FROM registry_models WHERE registry = ?", (registry,))}
        versions = {(m, v): (h, uri, bool(d)) for m, v, h, uri, d in conn.execute(
            "SELECT model, version, record_hash, json_extract(record, '$.artifact_uri'), deleted_at FROM versions "
            "WHERE origin = 'mlflow' AND source = ?", (registry,))}
        runs = {run_id: (status, data) for run_id, status, data in conn.execute(
            "SELECT run_id, status, data FROM registry_runs WHERE registry = ?", (registry,))}
        return RegistrySnapshot(models, versions, runs)

    @guarded
    def sync_registry(self, registry: str, *, models: dict[str, int | None], records: Iterable[dict[str, Any]],
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
        conn = self.conn
        stamp = now or now_stamp()
        result = SyncResult()
        affected: set[str] = set()
        with self.transaction():
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
            upserts: list[dict[str, Any]] = []
            for record in records:
                try:
                    derived = validate(record)
                    text = compact(record)
                except (BadField, ValueError) as bad:
                    field_name = f"field '{bad.field}' " if isinstance(bad, BadField) and bad.field else ""
                    problem = bad.problem if isinstance(bad, BadField) else str(bad)
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
                held = stored.get(version)
                if held is not None and held[0] == digest and held[1] is None and held[2] == "mlflow" and held[3] == registry:
                    result.versions_unchanged += 1
                    continue
                if held is None:
                    result.versions_added += 1
                elif model not in renamed_to:
                    result.versions_changed += 1
                affected.add(model)
                changed_models.add(model)
                upserts.append({
                    "model": model, "version": version, "version_key": version_key(version),
                    "created_at": record.get("created_at"), "created_key": derived["created_key"],
                    "author": record.get("author"), "framework": record.get("framework"), "run_id": record.get("run_id"),
                    "artifact_key": derived["artifact_key"], "metrics": flat_metrics_json(record.get("metrics")),
                    "tags": json.dumps(record.get("tags") or [], ensure_ascii=False),
                    "description": record.get("description"), "record_hash": digest, "source": registry,
                    "imported_at": stamp, "record": text, "origin": "mlflow", "deleted_at": None,
                })
            self.db.table("versions").upsert_all(upserts, pk=("model", "version"))

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
                    self.put_alias(model, alias, version, stamp)
                    if alias in current:
                        result.aliases_moved.append(f"{model}@{alias}: {current[alias]} -> {version}")
                    else:
                        result.aliases_added.append(f"{model}@{alias} -> {version}")
                    changed_models.add(model)

            for name, created in models.items():
                before = known.get(name)
                if before == (registry, created, None):
                    continue
                self.db.table("registry_models").upsert(
                    {"name": name, "registry": registry, "created_ms": created, "deleted_at": None}, pk="name")
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
            self.db.table("registry_runs").upsert_all(
                [{"registry": registry, "run_id": run_id, "status": status, "data": data}
                 for run_id, (status, data) in runs.items() if stored_runs.get(run_id) != f"{status or ''}\x00{data}"],
                pk=("registry", "run_id"))

            refresh_summaries(conn, affected, stamp)
            if result.changed:
                self.db.table("imports").insert({
                    "source": registry, "imported_at": stamp, "inserted": result.versions_added,
                    "updated": result.versions_changed, "unchanged": result.versions_unchanged})
        return result

    @guarded
    def mirror_alias(self, model: str, alias: str, version: str | None) -> str | None:
        """Make the catalog follow an alias its registry now has (None: removed there), with no
        precondition: the registry is the truth. Returns what the catalog had."""
        self._writable(f"follow alias {alias!r} of {model}")
        self._upgrade()
        with self.transaction() as conn:
            row = conn.execute("SELECT version FROM aliases WHERE model = ? AND alias = ?", (model, alias)).fetchone()
            if version is None:
                conn.execute("DELETE FROM aliases WHERE model = ? AND alias = ?", (model, alias))
            elif row is None or row[0] != str(version):
                self.put_alias(model, alias, str(version), now_stamp())
        return row[0] if row else None
