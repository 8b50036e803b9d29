"""`?`: every key of the screen underneath, and the app's own keys."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

_KEY_NAMES = {"question_mark": "?", "colon": ":", "slash": "/", "plus": "+", "minus": "-", "equals_sign": "=",
              "escape": "esc", "enter": "enter", "space": "space", "tab": "tab"}


def key_label(key: str) -> str:
    return ", ".join(_KEY_NAMES.get(k.strip(), k.strip()) for k in key.split(","))


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, under: Screen):
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        text = Text()
        title = getattr(self.under, "screen_title", "")
        text.append(f"Keys on the {title} screen\n\n" if title else "Keys\n\n", style="bold")
        seen: set[str] = set()
        for owner in (self.under, self.app):
            rows = []
            for binding in getattr(owner, "BINDINGS", []):
                if not isinstance(binding, Binding):
                    binding = Binding(*binding)
                label = key_label(binding.key)
                if label in seen or not binding.description:
                    continue
                seen.add(label)
                rows.append((label, binding.description))
            if owner is self.app:
                text.append("\nEverywhere\n", style="bold")
            for label, description in rows:
                text.append(f"  {label:<12}", style="bold cyan")
                text.append(f"{description}\n")
        extra = getattr(self.under, "HELP_NOTES", "")
        if extra:
            text.append(f"\n{extra}\n", style="dim")
        text.append("\nesc closes this help.", style="dim")
        with VerticalScroll(id="help-body"):
            yield Static(text, markup=False)
