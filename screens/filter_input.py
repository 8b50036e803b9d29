"""The `/` filter every list has: it takes keystrokes only after `/`; enter or esc hand them back.

Screens bind `/` with priority=True and call open(): a priority binding runs as the key arrives,
so the keys typed right after `/` (a burst over slow SSH, a paste) already reach the filter.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Input

from console.safe_text import same_width


class FilterInput(Input):
    def on_mount(self) -> None:
        self.can_focus = False

    def open(self) -> None:
        if self.has_focus:  # "/" is text once the filter has the keys
            self.insert_text_at_cursor("/")
            return
        self.can_focus = True
        self.screen.set_focus(self)  # at once, not after the queued keys

    def close(self, focus: Widget) -> None:
        if self.has_focus:
            self.can_focus = False
            self.screen.set_focus(focus)

    @property
    def _value(self) -> Text:
        # A jump from another screen fills in a name from outside: draw no control character.
        return Text(same_width(self.value), no_wrap=True, overflow="ignore", end="")
