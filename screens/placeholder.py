"""A screen that is not built yet says so, instead of failing."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static

from screens.header import StatusHeader
from screens.keybar import KeyBar


class NotBuiltScreen(Screen):
    def __init__(self, title: str):
        super().__init__()
        self.screen_title = title

    def compose(self) -> ComposeResult:
        yield StatusHeader(self.screen_title)
        yield Static(f"The {self.screen_title} screen is not built yet.\n\n"
                     "Press 1 for the Catalog, ? for help, q to quit.", id="not-built", markup=False)
        yield KeyBar()
