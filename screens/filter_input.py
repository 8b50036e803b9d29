"""The `/` filter every list has: it takes keystrokes only after `/`; enter or esc hand them back.

Screens bind `/` with priority=True and call open(): a priority binding runs as the key arrives,
so the keys typed right after `/` (a burst over slow SSH, a paste) already reach the filter.
"""

from __future__ import annotations

from textual.widget import Widget
from textual.widgets import Input

from console.safe_text import same_width


class FilterInput(Input):
    def on_mount(self) -> None:
        self.can_focus = False

    @property
    def _value(self):  # Input draws this; a jump from another screen fills in a name from outside
        text = super()._value
        text.plain = same_width(text.plain)  # one visible character each: the cursor still lines up
        return text

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
