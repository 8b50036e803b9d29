"""The model catalog: one SQLite file (sqlite-utils), WAL mode, migrations through PRAGMA user_version.

No Textual, no console imports: plain dataclasses out, adapters.errors raised. The catalog is put
together from one module per job:

    catalog_records.py    the dataclasses handed out, and the sort keys derived from a record
    catalog_validate.py   checking a record (every field, with a message naming it)
    catalog_files.py      reading records from a JSON array or JSON Lines file
    catalog_schema.py     the schema (documented there), its migrations, the per-model summaries
    catalog_store.py      opening a file: connection, lock, schema checks, sqlite3 errors -> ours
    catalog_import.py     `catalog import` (its semantics are documented there)
    catalog_queries.py    browsing and search, and alias changes
    catalog_registry.py   following a model registry (catalog sync)

Screens and commands type a catalog as adapters/catalog_backend.py CatalogBackend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.catalog_files import load_file
from adapters.catalog_import import ImportMixin
from adapters.catalog_queries import SORTS, QueryMixin
from adapters.catalog_records import (
    KNOWN_FIELDS,
    ImportResult,
    ModelSummary,
    RegistrySnapshot,
    SyncResult,
    VersionRecord,
    version_key,
)
from adapters.catalog_registry import RegistryMixin
from adapters.catalog_schema import MIGRATIONS, SCHEMA_VERSION
from adapters.catalog_store import DEFAULT_BUSY_TIMEOUT
from adapters.catalog_validate import ALIAS_RE

if TYPE_CHECKING:
    from adapters.catalog_backend import CatalogBackend

__all__ = [
    "ALIAS_RE", "DEFAULT_BUSY_TIMEOUT", "KNOWN_FIELDS", "MIGRATIONS", "SCHEMA_VERSION", "SORTS", "Catalog",
    "ImportResult", "ModelSummary", "RegistrySnapshot", "SyncResult", "VersionRecord", "load_file", "version_key",
]


class Catalog(ImportMixin, QueryMixin, RegistryMixin):
    """A model catalog in one SQLite file. Thread-safe (one connection behind a lock)."""


if TYPE_CHECKING:
    def _is_a_backend(catalog: Catalog) -> CatalogBackend:
        return catalog  # mypy checks here that Catalog satisfies the protocol the screens use
