"""Changes to the catalog, as Actions for the safe action path."""

from __future__ import annotations

import re
from typing import Any

from adapters.errors import InvalidInput, StateConflict
from console.actions import Change

ALIAS_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


class SetAlias:
    """Point `alias` of `model` at `version` (set it, or move it from another version)."""

    kind = "catalog.set_alias"

    def __init__(self, catalog: Any, model: str, alias: str, version: str):
        self.catalog = catalog
        self.model, self.alias, self.version = model, alias.strip(), version
        self.target = f"{model}@{self.alias}"
        self._current: str | None = None

    def validate(self) -> None:
        if not ALIAS_PATTERN.match(self.alias):
            raise InvalidInput(f"alias {self.alias!r} is not valid: use lower-case letters, digits, '-' or '_', "
                               "starting with a letter (e.g. production)")
        self.catalog.get_version(self.model, self.version)  # NotFound names model:version

    def check_permission(self) -> None:
        """The catalog is a local file: whoever can write it may change it."""

    def plan(self) -> Change:
        self._current = self.catalog.aliases(self.model).get(self.alias)
        if self._current == self.version:
            raise StateConflict(f"alias {self.alias} of {self.model} already points to version {self.version}")
        return Change(
            kind=self.kind,
            target=self.target,
            before={"model": self.model, "alias": self.alias, "version": self._current},
            after={"model": self.model, "alias": self.alias, "version": self.version},
            lines=[f"{self.model} alias {self.alias}: {self._current or '(unset)'} -> {self.version}"],
            precondition=f"{self.alias} still points to {self._current or '(unset)'}",
        )

    def apply(self, change: Change) -> dict[str, Any]:
        before, after = self.catalog.set_alias(self.model, self.alias, self.version, expected=change.before["version"])
        return {"model": self.model, "alias": self.alias, "version": after}
