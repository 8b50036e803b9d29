"""The bottom line of every screen: its keys, then the app's.

A plain Static rendered once per screen. Textual's Footer rebuilds a widget per key whenever the
focus or the bindings change, which cost more than the rest of the first frame.
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import Static

from screens.help import key_label


class KeyBar(Static):
    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: 1; background: $panel; color: $text; }
    """

    def __init__(self) -> None:
        super().__init__("", markup=False)

    def on_mount(self) -> None:
        self.update(self.keys_text())

    def keys_text(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        seen: set[str] = set()
        for owner in (self.screen, self.app):
            for binding in getattr(owner, "BINDINGS", []):
                if not isinstance(binding, Binding):
                    binding = Binding(*binding)
                label = binding.key_display or key_label(binding.key)
                if not binding.show or not binding.description or label in seen:
                    continue
                seen.add(label)
                text.append(f" {label} ", style="bold #ffa62b")
                text.append(f"{binding.description} ")
        return text
