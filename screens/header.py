"""The one-line header: the kube context first and the read-only lock right after it (both must
stay visible at 80 columns), then the screen, then the rest (the catalog path may be cut)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, cast

from rich.text import Text
from textual.widgets import Static

from console.safe_text import safe


def shorten(value: str, limit: int = 32) -> str:
    """~ for the home directory, and an ellipsis in the middle of a long path or URL."""
    value = safe(value)  # a context name or path from outside: shown literally
    home = str(Path.home())
    if value.startswith(home + "/"):
        value = "~" + value[len(home):]
    if len(value) <= limit:
        return value
    keep = limit - 1
    return value[: keep // 3] + "…" + value[-(keep - keep // 3):]


class HeaderSource(Protocol):
    """What the header reads from the app that hosts it (console/app.py MlopsConsole)."""

    @property
    def read_only(self) -> bool: ...

    def connection_summary(self) -> list[tuple[str, str]]: ...


class StatusHeader(Static):
    DEFAULT_CSS = """
    StatusHeader { height: 1; background: $panel; color: $text; }
    """

    def __init__(self, title: str):
        super().__init__("", markup=False)
        self.screen_title = title

    def on_mount(self) -> None:
        self.refresh_status()

    def refresh_status(self) -> None:
        app = cast(HeaderSource, self.app)
        parts = app.connection_summary()
        kube = [value for label, value in parts if label == "kube"]
        text = Text(no_wrap=True, overflow="ellipsis")
        if kube:
            text.append(" kube: ", style="dim")
            text.append(shorten(kube[0], 40), style="bold")  # user-supplied: literal, never markup
            text.append(" ")
        if app.read_only:
            text.append(" 🔒 READ-ONLY ", style="bold reverse red")
            text.append(" ")
        text.append(" mlops-console ", style="bold reverse")
        text.append(f" {self.screen_title} ", style="bold")
        width = self.size.width or self.app.size.width
        for label, value in parts:
            if label == "kube":
                continue
            room = width - len(text) - len(f"│ {label}: ") - 1
            if room < 8:  # a label with no value (or "catalog: ~…") says nothing: leave it out
                break
            text.append(f"│ {label}: ", style="dim")
            text.append(shorten(value, min(32, room)))
            text.append(" ")
        self.update(text)

    def on_resize(self) -> None:
        self.refresh_status()
