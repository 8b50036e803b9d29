"""Repainting only what changed: light over SSH, where every repainted cell is sent to the
terminal. Textual repaints a whole widget when its content, its border title or one table cell
changes; these repaint the line or the cell instead.

- looks(value): what a string or Text shows, comparable (Text's own == ignores its base style);
- set_border_title / set_border_subtitle(widget, text): that border line, and nothing when it is
  the same;
- update_cell(table, row, column, value): that cell of a DataTable whose column widths are fixed
  (screens/list_table.py ListTable.show_rows and put_row compare the rows and call it);
- TextPane: a Static for a panel of text replaced in place (a detail view, a health panel).

TextPane.show(text) writes nothing when the text did not change, and otherwise repaints only the lines
that changed. A Static whose height changes costs much more: Textual lays the screen out again,
repaints the whole widget twice (its size, then its virtual size) and its scroll container once
more. So a TextPane keeps its height: it pads a shorter text with blank lines, to the height of its
scroll container's viewport at least, or to the height it has, unless that is more than
`keep` times what the text needs; only a longer text, or a much shorter one, changes the layout
(to the viewport, or a multiple of two: a scroll range somewhat longer than the text).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.text import Text
from textual.containers import ScrollableContainer
from textual.content import Content
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.visual import Visual, visualize
from textual.widget import Widget
from textual.widgets import DataTable, Static
from textual.widgets.data_table import ColumnKey


@contextmanager
def _whole_refresh_skipped(widget: Widget) -> Iterator[None]:
    """Textual's setters call widget.refresh() (all of it): the caller refreshes a part instead."""
    own = widget.__dict__.get("refresh")  # a wrapper put there by someone else (a test counting)
    widget.refresh = lambda *args, **kwargs: widget  # type: ignore[method-assign]
    try:
        yield
    finally:
        if own is None:
            del widget.refresh  # the class's own again
        else:
            widget.refresh = own  # type: ignore[method-assign]


def looks(value: str | Text) -> tuple[Any, ...]:
    """What a string or Text shows, comparable: its characters, styles and the sort key a table
    cell may carry. Equal looks need no repaint."""
    if isinstance(value, str):
        return (value,)
    return (value.plain, str(value.style), tuple(value.spans), value.justify, getattr(value, "sort_key", None))


def _set_border(widget: Widget, part: str, text: str | Text) -> None:
    """Set border_title or border_subtitle (a str is markup, as in Textual; a Text literal) and
    repaint that border line only, nothing when it is unchanged: Textual's setter repaints the
    whole widget, a pane's worth of bytes for a clock in its title."""
    content = Content.from_rich_text(text) if isinstance(text, Text) else text
    if getattr(widget, part) == widget.render_str(content).expand_tabs(4).split()[0].markup:
        return
    with _whole_refresh_skipped(widget):
        setattr(widget, part, text)
    if not widget.is_mounted:
        return
    top = widget.content_offset
    row = -top.y if part == "border_title" else widget.outer_size.height - top.y - 1
    widget.refresh(Region(-top.x, row, widget.outer_size.width, 1))


def set_border_title(widget: Widget, title: str | Text) -> None:
    _set_border(widget, "border_title", title)


def set_border_subtitle(widget: Widget, subtitle: str | Text) -> None:
    _set_border(widget, "border_subtitle", subtitle)


def update_cell(table: DataTable[Any], row: str, column: str | ColumnKey, value: Any) -> None:
    """DataTable.update_cell, repainting that cell only (the table's columns have fixed widths:
    nothing else moves)."""
    with _whole_refresh_skipped(table):
        table.update_cell(row, column, value)
    table.refresh_coordinate(table.get_cell_coordinate(row, column))


class TextPane(Static):
    """Use show(), never update(): render() gives the padded text."""

    def __init__(self, text: Text | str = "", *, id: str | None = None, keep: int = 4):
        super().__init__("", id=id, markup=False)
        self._text = Text(text) if isinstance(text, str) else text  # as given (compared with the next)
        self._shown = self._text  # as drawn: padded with blank lines
        self.keep = keep
        self.draws = 0  # show() calls that repainted something: tests count them

    @property
    def text(self) -> Text:
        return self._text

    def render(self) -> Visual:
        return visualize(self, self._shown, markup=False)

    def _strips(self, text: Text, width: int) -> list[Strip]:
        return Visual.to_strips(self, visualize(self, text, markup=False), width, None, self.visual_style)

    def show(self, text: Text, *, hold: bool = False) -> bool:
        """Show `text`; False when it is what is shown already (nothing is repainted). `hold`
        keeps the height however short the text is: a placeholder until the answer comes."""
        if looks(text) == looks(self._text):
            return False
        self._text = text
        self.draws += 1
        width = self.size.width
        if not self.is_mounted or not width or (self.styles.width is not None and self.styles.width.is_auto):
            # (a pane as wide as its text: its size changes with the text)
            self._shown = text
            self.refresh(layout=True)
            return True
        old = self._strips(self._shown, width)
        lines = len(self._strips(text, width))
        floor = self.parent.scrollable_content_region.height if isinstance(self.parent, ScrollableContainer) else 0
        height = len(old)
        if lines > height or height < floor or (not hold and height > self.keep * max(lines, floor)):
            # Outside the range kept: the layout changes, to the viewport when the text fits in
            # it (no scrollbar), else to a multiple of two viewports, so that the next texts of
            # about this length fit without another change.
            step = 2 * floor
            height = floor if lines <= floor else (-(-lines // step) * step if step else lines)
        shown = text.copy()
        if lines < height:
            shown.append("\n" * (height - lines))
        self._shown = shown
        new = self._strips(shown, width)
        if len(new) != len(old):
            # Its virtual size is its size: set now, so that the layout repaints it once, not
            # again when Textual finds the virtual size changed.
            self.set_reactive(Static.virtual_size, Size(width, len(new)))
            self.refresh(layout=True)
            return True
        changed = [Region(0, y, width, 1) for y, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
        if changed:
            self.refresh(*changed)
        return True
