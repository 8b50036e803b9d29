"""Reading the catalog (models, versions, search) and the one change it takes by hand: aliases.

Large catalogs are paged and filtered in SQLite, so a screen asks for one window at a time.
"""

from __future__ import annotations

import json
import re
from typing import Any

from adapters.catalog_records import ModelSummary, VersionRecord
from adapters.catalog_schema import SCHEMA_VERSION
from adapters.catalog_store import CatalogStore, guarded, now_stamp
from adapters.catalog_validate import ALIAS_RE
from adapters.errors import Conflict, InvalidInput, NotFound

SORTS = ("created_at", "version")


class QueryMixin(CatalogStore):
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
        conn = self.conn
        stamp = (text, conn.total_changes, conn.execute("PRAGMA data_version").fetchone()[0])
        if self._match_cache is not None and self._match_cache[0] == stamp:
            return self._match_cache[1]
        sql, params = self._filter_query(text)
        rowids = [r[0] for r in conn.execute(sql, params)]
        self._match_cache = (stamp, rowids)
        return rowids

    @guarded
    def count_models(self, filter: str | None = None) -> int:
        rowids = self._matches(filter)
        if rowids is not None:
            return len(rowids)
        return int(self.conn.execute("SELECT count(*) FROM models").fetchone()[0])

    @guarded
    def list_models(self, filter: str | None = None, *, offset: int = 0, limit: int | None = None) -> list[ModelSummary]:
        """Models sorted by name (case-insensitive). filter: a case-insensitive substring of the
        name, or words that prefix-match the description or tags (FTS5)."""
        columns = ("rowid, name, versions, latest_version, latest_created_at, description, tags, framework, "
                   f"{self._registry_columns}")
        offset = max(0, int(offset))
        rowids = self._matches(filter)
        if rowids is None:
            rows = self.conn.execute(
                f"SELECT {columns} FROM models ORDER BY name_lower, name LIMIT ? OFFSET ?",
                (-1 if limit is None else int(limit), offset),
            ).fetchall()
        else:
            page = rowids[offset:] if limit is None else rowids[offset:offset + int(limit)]
            by_id: dict[int, tuple[Any, ...]] = {}
            for start in range(0, len(page), 500):
                chunk = page[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for r in self.conn.execute(f"SELECT {columns} FROM models WHERE rowid IN ({marks})", chunk):
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
            for model, alias, version in self.conn.execute(
                f"SELECT model, alias, version FROM aliases WHERE model IN ({marks}) ORDER BY model, alias", chunk
            ):
                out.setdefault(model, {})[alias] = version
        return out

    @guarded
    def get_model(self, model: str) -> ModelSummary:
        row = self.conn.execute(
            "SELECT name, versions, latest_version, latest_created_at, description, tags, framework, "
            f"{self._registry_columns} FROM models WHERE name = ?", (model,)
        ).fetchone()
        if row is None:
            raise NotFound(f"model {model!r} is not in catalog {self.path}")
        return ModelSummary(row[0], int(row[1]), self._aliases_for([model]).get(model, {}), row[2], row[3],
                            row[4], sorted(json.loads(row[5] or "[]")), row[6], row[7], bool(row[8]))

    @guarded
    def has_model(self, model: str) -> bool:
        return self.conn.execute("SELECT 1 FROM models WHERE name = ?", (model,)).fetchone() is not None

    # -- versions -------------------------------------------------------------------------------

    @guarded
    def count_versions(self, model: str) -> int:
        row = self.conn.execute("SELECT versions FROM models WHERE name = ?", (model,)).fetchone()
        return int(row[0]) if row else 0

    @guarded
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
        rows = self.conn.execute(
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
        for alias, version in self.conn.execute(
            "SELECT alias, version FROM aliases WHERE model = ? ORDER BY alias", (model,)
        ):
            out.setdefault(version, []).append(alias)
        return out

    @staticmethod
    def _record_of(row: tuple[Any, ...], aliases_by_version: dict[str, list[str]]) -> VersionRecord:
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

    @guarded
    def metric_names(self, model: str) -> list[str]:
        return [r[0] for r in self.conn.execute(
            "SELECT DISTINCT j.key FROM versions v, json_each(v.metrics) j WHERE v.model = ? ORDER BY 1",
            (model,))]

    @guarded
    def get_version(self, model: str, version: str) -> VersionRecord:
        row = self.conn.execute(
            f"SELECT {self._version_columns} FROM versions WHERE model = ? AND version = ?",
            (model, str(version)),
        ).fetchone()
        if row is None:
            if not self.has_model(model):
                raise NotFound(f"model {model!r} is not in catalog {self.path}")
            raise NotFound(f"{model}:{version} is not in catalog {self.path} (model {model!r} has no version {version!r})")
        return self._record_of(row, self._version_aliases(model))

    @guarded
    def versions_by_run_id(self, run_id: str) -> list[VersionRecord]:
        rows = self.conn.execute(
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

    @guarded
    def version_by_artifact_uri(self, uri: str) -> VersionRecord | None:
        row = self.conn.execute(
            f"SELECT {self._version_columns} FROM versions WHERE artifact_key = ? "
            "ORDER BY created_key DESC LIMIT 1", (uri.rstrip("/"),)
        ).fetchone()
        if row is None:
            return None
        return self._record_of(row, self._version_aliases(row[0]))

    # -- aliases --------------------------------------------------------------------------------

    @guarded
    def aliases(self, model: str) -> dict[str, str]:
        return {a: v for a, v in self.conn.execute(
            "SELECT alias, version FROM aliases WHERE model = ? ORDER BY alias", (model,))}

    @staticmethod
    def check_alias_name(alias: str) -> None:
        if not isinstance(alias, str) or not ALIAS_RE.fullmatch(alias):
            raise InvalidInput(f"alias {alias!r} is not valid: a lower-case letter, then up to 62 of a-z 0-9 _ -")

    @guarded
    def set_alias(self, model: str, alias: str, version: str, *, expected: str | None) -> tuple[str | None, str]:
        """Point `alias` of `model` at `version`, only if it still points at `expected` (None:
        unset). Returns (before, after). Conflict if someone moved it since it was read."""
        self.check_alias_name(alias)
        version = str(version)
        self._writable(f"set alias {alias!r} of {model}")
        with self.transaction() as conn:
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
                self.put_alias(model, alias, version, now_stamp())
        return current, version

    @guarded
    def remove_alias(self, model: str, alias: str, *, expected: str | None) -> str | None:
        """Remove `alias` of `model` if it still points at `expected`. Returns what it pointed at."""
        self.check_alias_name(alias)
        self._writable(f"remove alias {alias!r} of {model}")
        with self.transaction() as conn:
            row = conn.execute("SELECT version FROM aliases WHERE model = ? AND alias = ?", (model, alias)).fetchone()
            current: str | None = row[0] if row else None
            if current != (None if expected is None else str(expected)):
                now = "unset" if current is None else current
                raise Conflict(f"alias {alias!r} of {model} changed since you looked: now {now}")
            conn.execute("DELETE FROM aliases WHERE model = ? AND alias = ?", (model, alias))
        return current

    # -- misc -----------------------------------------------------------------------------------

    @guarded
    def stats(self) -> dict[str, Any]:
        conn = self.conn
        models, versions = conn.execute("SELECT count(*), coalesce(sum(versions), 0) FROM models").fetchone()
        last = conn.execute("SELECT source, imported_at FROM imports ORDER BY id DESC LIMIT 1").fetchone()
        return {
            "path": str(self.path), "schema": SCHEMA_VERSION, "models": int(models), "versions": int(versions),
            "aliases": int(conn.execute("SELECT count(*) FROM aliases").fetchone()[0]),
            "read_only": self.read_only, "last_import": {"source": last[0], "imported_at": last[1]} if last else None,
        }
