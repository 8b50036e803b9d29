"""The console's screens, in key order: the one list the app's key bindings, the palette's "Go
to" commands and the CLI's `--screen` choices come from. Light: importing it imports no Textual
(the CLI's parser reads it), and each screen's module is imported when the screen is first shown.

Adding a screen: write it on screens/base.py ConsoleScreen, then add its entry here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.screen import Screen


@dataclass(frozen=True)
class ScreenEntry:
    """One screen of the console: the key that opens it, its mode name, its title, and where its
    class lives ("module:Class", imported when the screen is first shown, so start-up pays for one)."""
    key: str
    mode: str
    title: str
    target: str

    def build(self) -> Screen:
        import importlib

        module_name, class_name = self.target.split(":")
        screen: Screen = getattr(importlib.import_module(module_name), class_name)()
        return screen


SCREENS: tuple[ScreenEntry, ...] = (
    ScreenEntry("0", "now", "Now", "screens.now:NowScreen"),
    ScreenEntry("1", "catalog", "Catalog", "screens.catalog:CatalogScreen"),
    ScreenEntry("2", "pipelines", "Pipelines", "screens.pipelines:PipelinesScreen"),
    ScreenEntry("3", "rollouts", "Rollouts", "screens.rollouts:RolloutsScreen"),
    ScreenEntry("4", "drift", "Drift", "screens.drift:DriftScreen"),
)
SCREEN_MODES = tuple(entry.mode for entry in SCREENS)
