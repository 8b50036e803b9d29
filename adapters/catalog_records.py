"""The catalog's records: what adapters/catalog.py hands out (plain dataclasses), and the keys
derived from a record for sorting (version order, creation time, flat metrics).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

KNOWN_FIELDS = (
    "model", "version", "aliases", "description", "tags", "author", "created_at", "training_data",
    "hyperparameters", "metrics", "artifact_uri", "framework", "framework_version", "environment",
    "run_id", "reference_histograms",
)


@dataclass
class ModelSummary:
    """One model: how many versions, its aliases and its latest version."""

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
    """One model version with every piece of its metadata."""

    model: str
    version: str
    aliases: list[str]
    description: str | None
    tags: list[str]
    author: str | None
    created_at: str | None
    training_data: dict[str, Any] | None
    hyperparameters: dict[str, Any]
    metrics: dict[str, Any]
    artifact_uri: str | None
    framework: str | None
    framework_version: str | None
    environment: dict[str, Any]
    run_id: str | None
    reference_histograms: dict[str, Any]
    imported_at: str | None = None
    source: str | None = None
    origin: str = "import"  # or "mlflow"
    deleted_at: str | None = None  # when it was found gone from its registry
    _record: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def flat_metrics(self) -> dict[str, float]:
        """Metrics as sortable keys: "auc" for flat ones, "test.auc" for split ones."""
        return dict(flatten_metrics(self.metrics))

    def to_record(self) -> dict[str, Any]:
        """Every imported key with its value unchanged (see the module docstring for aliases)."""
        stored: dict[str, Any] = json.loads(json.dumps(self._record))
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
    """What an import did, in versions."""

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
    """What a registry sync changed."""

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


def version_key(version: str) -> str:
    """Numeric-aware sort key: digit runs are zero-padded, so "10" > "9" and "1.10" > "1.9"."""
    return re.sub(r"\d+", lambda m: m.group().zfill(20), version)


def created_key(text: str) -> float:
    """An ISO 8601 time as UTC epoch seconds (a naive time is taken as UTC); ValueError if it is not one."""
    dt = datetime.fromisoformat(text.strip())
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def flatten_metrics(metrics: Any) -> Iterator[tuple[str, float]]:
    if not isinstance(metrics, dict):
        return
    for name, value in metrics.items():
        if isinstance(value, dict):
            for inner, number in value.items():
                if is_number(number):
                    yield f"{name}.{inner}", float(number)
        elif is_number(value):
            yield name, float(value)


def flat_metrics_json(metrics: Any) -> str:
    """The sortable metrics of a validated record as a flat JSON object (fast path of import)."""
    if not metrics:
        return "{}"
    out: dict[str, Any] = {}
    for name, value in metrics.items():
        if type(value) is dict:
            for inner, number in value.items():
                out[f"{name}.{inner}"] = number
        else:
            out[name] = value
    return json.dumps(out, ensure_ascii=False)
