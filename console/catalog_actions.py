"""Changes to the catalog, as Actions for the safe action path.

A model synced from an MLflow Model Registry takes its alias changes there: the registry is read
when the change is planned (the confirmation shows what MLflow says), read again just before the
write (MLflow has no conditional write: this is the precondition), written with
registered-models/alias, and only then does the local catalog follow. A refusal from MLflow
changes nothing locally.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from adapters.errors import Conflict, ConsoleError, InvalidInput, StateConflict
from console.actions import Change

ALIAS_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
Registry = Callable[[str], Any]  # registry URL -> an adapters.mlflow.MlflowClient


def registry_for(settings: Any) -> Registry:
    """The registry clients of the action path, made with the configured credentials."""
    def make(url: str) -> Any:
        from console.clients import mlflow_client

        return mlflow_client(settings, url)

    return make


class _AliasChange:
    kind = ""

    def __init__(self, catalog: Any, model: str, alias: str, version: str | None, registry: Registry | None = None):
        self.catalog = catalog
        self.model, self.alias, self.version = model, alias.strip(), version
        self.target = f"{model}@{self.alias}"
        self.source: str | None = None  # the registry URL when the model follows one
        self._registry = registry
        self._client: Any = None

    def validate(self) -> None:
        if not ALIAS_PATTERN.match(self.alias):
            raise InvalidInput(f"alias {self.alias!r} is not valid: use lower-case letters, digits, '-' or '_', "
                               "starting with a letter (e.g. production)")
        if self.version is not None:
            record = self.catalog.get_version(self.model, self.version)  # NotFound names model:version
            if record.deleted_at:
                raise InvalidInput(f"{self.model}:{self.version} was deleted from its registry ({record.source}) on "
                                   f"{record.deleted_at}; pick a version that exists")
        self.source = self.catalog.model_source(self.model)
        if self.source:
            if self._registry is None:
                raise InvalidInput(f"{self.model} follows MLflow at {self.source}: its aliases are changed there")
            self._client = self._registry(self.source)

    def check_permission(self) -> None:
        """A local file: whoever can write it may change it. MLflow answers 403 on the write itself."""

    def actor(self) -> str | None:
        username = getattr(self._client, "username", None)
        return f"mlflow:{username}" if username else None

    def _current(self) -> tuple[str | None, list[str], str]:
        """(where the alias points now, notes, " in MLflow at URL" or "")."""
        local = self.catalog.aliases(self.model).get(self.alias)
        if self._client is None:
            return local, [], ""
        current = self._client.get_alias(self.model, self.alias)
        notes = ["MLflow has no conditional write: the alias is read again just before it is written"]
        if local != current:
            notes.append(f"the catalog showed {local or '(unset)'}: it changed in MLflow since the last sync")
        return current, notes, f" in MLflow at {self.source}"

    def _change(self, current: str | None, notes: list[str], where: str) -> Change:
        before = {"model": self.model, "alias": self.alias, "version": current}
        after = {"model": self.model, "alias": self.alias, "version": self.version}
        if self.source:
            before["registry"] = after["registry"] = self.source
        return Change(
            kind=self.kind, target=self.target, before=before, after=after, notes=notes,
            lines=[f"{self.model} alias {self.alias}: {current or '(unset)'} -> {self.version or '(removed)'}{where}"],
            precondition=f"{self.alias} still points to {current or '(unset)'}{where}",
        )

    def _apply_registry(self, change: Change) -> dict[str, Any]:
        expected = change.before["version"]
        try:
            now = self._client.get_alias(self.model, self.alias)
            if now != expected:
                raise Conflict(f"alias {self.alias} of {self.model} changed in MLflow since you looked: now "
                               f"{now or 'unset'}; nothing was changed")
            if self.version is None:
                self._client.delete_alias(self.model, self.alias)
            else:
                self._client.set_alias(self.model, self.alias, self.version)
        finally:
            self._client.close()
        after = dict(change.after)
        try:
            self.catalog.mirror_alias(self.model, self.alias, self.version)
        except ConsoleError as error:  # MLflow has it: say loudly that the catalog lags
            after["catalog"] = f"not updated: {error.message}; run 'mlops-console catalog sync'"
        return after


class SetAlias(_AliasChange):
    """Point `alias` of `model` at `version` (set it, or move it from another version)."""

    kind = "catalog.set_alias"

    def __init__(self, catalog: Any, model: str, alias: str, version: str, registry: Registry | None = None):
        super().__init__(catalog, model, alias, str(version), registry)

    def plan(self) -> Change:
        current, notes, where = self._current()
        if current == self.version:
            raise StateConflict(f"alias {self.alias} of {self.model} already points to version {self.version}{where}")
        return self._change(current, notes, where)

    def apply(self, change: Change) -> dict[str, Any]:
        if self._client is not None:
            return self._apply_registry(change)
        self.catalog.set_alias(self.model, self.alias, self.version, expected=change.before["version"])
        return dict(change.after)


class RemoveAlias(_AliasChange):
    """Remove `alias` of `model` (only if it still points at `expected`, when given)."""

    kind = "catalog.remove_alias"

    def __init__(self, catalog: Any, model: str, alias: str, expected: str | None = None,
                 registry: Registry | None = None):
        super().__init__(catalog, model, alias, None, registry)
        self.expected = expected

    def validate(self) -> None:
        super().validate()
        self.catalog.get_model(self.model)  # NotFound names the model

    def plan(self) -> Change:
        current, notes, where = self._current()
        if current is None:
            raise StateConflict(f"{self.model} has no alias {self.alias}{where}")
        if self.expected is not None and current != str(self.expected):
            raise StateConflict(f"alias {self.alias} of {self.model} points to {current}, not {self.expected}{where}; "
                           "nothing was changed")
        return self._change(current, notes, where)

    def apply(self, change: Change) -> dict[str, Any]:
        if self._client is not None:
            return self._apply_registry(change)
        self.catalog.remove_alias(self.model, self.alias, expected=change.before["version"])
        return dict(change.after)
