"""Repainting only what changed: light over SSH, where every repainted cell is sent to the
terminal. Textual repaints a whole widget when its content, its border title or one table cell
changes; these repaint the line or the cell instead.

- looks(value): what a string or Text shows, comparable (Text's own == ignores its base style);
- set_border_title / set_border_subtitle(widget, text): that border line, and nothing when it is
  the same;
- update_cell(table, row, column, value): that cell of a DataTable whose column widths are fixed
  (screens/list_table.py ListTable.show_rows and put_row compare the rows and call it);
- TextPane: a Static for a panel of text replaced in place (a detail view, a health panel);
- joined(strip): a line with its neighbouring same-looking segments made one (each segment costs
  its own escape sequences on the wire).

TextPane.show(text) writes nothing when the text did not change, and otherwise repaints only the
visible lines that changed. A Static whose height changes costs much more: Textual lays the screen
out again, repaints the whole widget twice (its size, then its virtual size) and its scroll
container once more. So a TextPane is a ScrollView of the size its CSS gives it: a longer or
shorter text changes its scroll range (the scrollbar), not the layout.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.cells import cell_len
from rich.segment import Segment
from rich.text import Text
from textual.content import Content
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.visual import Visual, visualize
from textual.widget import Widget
from textual.widgets import DataTable
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


def joined(strip: Strip) -> Strip:
    """The line with neighbouring segments that look the same joined: Textual writes every
    segment as its own style, text and reset, so a table row of padded cells costs three times
    its text. Mouse metadata (a table cell's column) is the first segment's."""
    segments: list[Segment] = []
    look = None
    for segment in strip:
        style = segment.style
        this = None if style is None else (style.clear_meta_and_links(), style.link)
        if segments and not segment.control and this == look and not segments[-1].control:
            last = segments[-1]
            segments[-1] = Segment(last.text + segment.text, last.style)
        else:
            segments.append(segment)
            look = this
    return strip if len(segments) == len(strip) else Strip(segments, strip.cell_length)


SCROLL_STEP = 5


class TextPane(ScrollView):
    """A panel of text replaced in place (a detail view, a health panel), drawn line by line: its
    size is its container's (CSS), not its text's, so a new text never moves the layout, only the
    scrollbar. show() repaints the visible lines that changed, and nothing when the text did not
    change. As wide or as high as its text when its CSS says auto (a one-line summary)."""

    DEFAULT_CSS = "TextPane { height: 1fr; overflow-x: hidden; }"

    def __init__(self, text: Text | str = "", *, id: str | None = None, can_focus: bool = False):
        super().__init__(id=id)
        self.can_focus = can_focus
        self._text = Text(text) if isinstance(text, str) else text
        self._lines: list[Strip] = []
        self._width = -1  # the width _lines were wrapped to
        self.draws = 0  # show() calls that repainted something: tests count them

    @property
    def text(self) -> Text:
        return self._text

    def render(self) -> Text:  # the text as a whole (tests read it; render_line draws the lines)
        return self._text

    def _wrap(self, text: Text, width: int) -> list[Strip]:
        return Visual.to_strips(self, visualize(self, text, markup=False), width, None, self.visual_style)

    def _lines_for(self, width: int) -> list[Strip]:
        if width != self._width:
            self._lines, self._width = self._wrap(self._text, width), width
            self.set_reactive(Widget.virtual_size, Size(width, self._scroll_range(len(self._lines))))
        return self._lines

    def _scroll_range(self, lines: int) -> int:
        """The scroll range for `lines` of text: longer than the pane, it grows in steps of
        SCROLL_STEP lines, so that the scrollbar (redrawn whole, a cell per line, whenever the
        range changes) stays as it is for most new texts (the last step may end blank)."""
        view = self.scrollable_content_region.height
        if not view or lines <= view:
            return lines
        return -(-lines // SCROLL_STEP) * SCROLL_STEP

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return max((cell_len(line) for line in self._text.plain.split("\n")), default=0)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._lines_for(width))

    def on_resize(self) -> None:
        width = self.scrollable_content_region.width
        self._scroll_update(Size(width, self._scroll_range(len(self._lines_for(width)))))

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        lines = self._lines_for(width)
        index = y + self.scroll_offset.y
        strip = lines[index] if index < len(lines) else Strip.blank(width)
        return joined(strip.crop_extend(0, width, self.rich_style).apply_style(self.rich_style))

    def show(self, text: Text, *, hold: bool = False) -> bool:
        """Show `text`; False when it is what is shown already (nothing is repainted). `hold`
        keeps the scroll range however short the text is: a placeholder until the answer comes."""
        if looks(text) == looks(self._text):
            return False
        self._text = text
        self.draws += 1
        width = self.scrollable_content_region.width
        if not self.is_mounted or not width or self.styles.width is None or self.styles.width.is_auto \
                or self.styles.height is None or self.styles.height.is_auto:
            self._width = -1
            self.refresh(layout=True)  # (before its first layout, or a pane as large as its text)
            return True
        old, new = self._lines_for(width), self._wrap(text, width)
        self._lines = new
        height = self._scroll_range(max(len(new), len(old)) if hold else len(new))
        if height != self.virtual_size.height:
            scrollbar = self.show_vertical_scrollbar
            self.set_reactive(Widget.virtual_size, Size(width, height))
            self._scroll_update(self.virtual_size)
            if self.show_vertical_scrollbar != scrollbar:  # the text's width changes: laid out again
                self._width = -1
                self.refresh(layout=True)
                return True
        top = self.scroll_offset.y
        blank = Strip.blank(width)
        changed = []
        for y in range(top, top + self.scrollable_content_region.height):
            span = _changed_span(old[y] if y < len(old) else blank, new[y] if y < len(new) else blank)
            if span is not None:
                changed.append(Region(span[0], y - top, span[1] - span[0], 1))
        if changed:
            self.refresh(*changed)
        return True


def _changed_span(a: Strip, b: Strip) -> tuple[int, int] | None:
    """The cells from the first segment that differs to the last one (a line's label that stays
    is not sent again); None when the lines are the same."""
    if a == b:
        return None
    sa, sb = list(a), list(b)
    same = 0
    start = 0
    while same < min(len(sa), len(sb)) and sa[same] == sb[same]:
        start += sa[same].cell_length
        same += 1
    tail = 0
    end = max(a.cell_length, b.cell_length)
    while tail < min(len(sa), len(sb)) - same and sa[-1 - tail] == sb[-1 - tail]:
        tail += 1
    if tail:
        end = max(a.cell_length - sum(s.cell_length for s in sa[-tail:]),
                  b.cell_length - sum(s.cell_length for s in sb[-tail:]))
    return start, max(end, start + 1)
