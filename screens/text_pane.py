"""A Static for a panel of text that is replaced in place (a detail view, a health panel): light
over SSH, where every repainted cell is sent to the terminal.

`show(text)` writes nothing when the text did not change, and otherwise repaints only the lines
that changed. A Static whose height changes costs much more: Textual lays the screen out again,
repaints the whole widget twice (its size, then its virtual size) and its scroll container once
more. So a TextPane keeps its height: it pads a shorter text with blank lines to the height of
its scroll container's viewport (or of the text shown before, within `slack` lines), and only a
text outside that range changes the layout.
"""

from __future__ import annotations

from rich.text import Text
from textual.containers import ScrollableContainer
from textual.content import Content
from textual.geometry import Region
from textual.strip import Strip
from textual.visual import Visual, visualize
from textual.widget import Widget
from textual.widgets import Static


def set_border_title(widget: Widget, title: Text) -> None:
    """Set a border title (literal Text); repaint only the top border line, and nothing when the
    title is unchanged. Textual's setter repaints the whole widget: a pane's worth of bytes for
    a clock in its title."""
    new = Content.from_rich_text(title).markup
    if widget.border_title == new:
        return
    widget.refresh = lambda *args, **kwargs: widget  # type: ignore[method-assign]
    try:
        widget.border_title = title
    finally:
        del widget.refresh  # the class's own again
    top = widget.content_offset
    widget.refresh(Region(-top.x, -top.y, widget.outer_size.width, 1))


def same_text(a: Text, b: Text) -> bool:
    """Equal as drawn: the characters and their styles."""
    return a.plain == b.plain and a.spans == b.spans and a.style == b.style and a.justify == b.justify


class TextPane(Static):
    """Use show(), never update(): render() gives the padded text."""

    def __init__(self, text: Text | str = "", *, id: str | None = None, slack: int = 8):
        super().__init__("", id=id, markup=False)
        self._text = Text(text) if isinstance(text, str) else text  # as given (compared with the next)
        self._shown = self._text  # as drawn: padded with blank lines
        self.slack = slack
        self.draws = 0  # show() calls that repainted something: tests count them

    @property
    def text(self) -> Text:
        return self._text

    def render(self) -> Visual:
        return visualize(self, self._shown, markup=False)

    def _strips(self, text: Text, width: int) -> list[Strip]:
        return Visual.to_strips(self, visualize(self, text, markup=False), width, None, self.visual_style)

    def show(self, text: Text) -> bool:
        """Show `text`; False when it is what is shown already (nothing is repainted)."""
        if same_text(text, self._text):
            return False
        self._text = text
        self.draws += 1
        width = self.size.width
        if not self.is_mounted or not width:
            self._shown = text
            self.refresh(layout=True)
            return True
        old = self._strips(self._shown, width)
        lines = len(self._strips(text, width))
        floor = self.parent.scrollable_content_region.height if isinstance(self.parent, ScrollableContainer) else 0
        height = len(old)
        if lines > height or height < floor or max(lines, floor) + self.slack < height:
            height = max(lines, floor)  # outside the range kept: the layout changes once
        shown = text.copy()
        if lines < height:
            shown.append("\n" * (height - lines))
        self._shown = shown
        new = self._strips(shown, width)
        if len(new) != len(old):
            self.refresh(layout=True)
            return True
        changed = [Region(0, y, width, 1) for y, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
        if changed:
            self.refresh(*changed)
        return True
