"""The widgets of the Pipelines screen that repaint only what changed: over SSH every repaint is
bytes on the wire, and the screen refreshes every few seconds.

- RunsTable: rows keyed by run id, updated cell by cell. DataTable.update_cell and the border_title
  setter repaint the whole table, so a refresh that only moved a running run's duration would redraw
  every visible row; here a changed cell repaints that cell, a changed title the top border line,
  and an unchanged one nothing.
- TextPane: a Static whose show() repaints only when the text changed (Static.update always does);
  RunDetail, the scrolling detail pane around one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.widgets import Static
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowKey

from console.safe_text import literal
from screens.list_table import ListTable


def signature(text: Text) -> tuple[Any, ...]:
    """What a text shows (and the sort key a cell carries): equal signatures need no repaint."""
    return (text.plain, str(text.style), tuple(text.spans), getattr(text, "sort_key", None))


def shape(text: Text, width: int) -> tuple[object, ...]:
    """What the height of a wrapped text depends on: a line that fits is one row whatever it says
    (a ticking duration), a longer one wraps by its words."""
    return tuple(line if not width or cell_len(line) > width else 1 for line in text.plain.split("\n"))


class TextPane(Static):
    def __init__(self, text: Text | str = "", *, id: str | None = None):
        text = Text(text) if isinstance(text, str) else text
        super().__init__(text, id=id, markup=False)
        self._shown: tuple[Any, ...] = signature(text)
        self._shape: tuple[object, ...] | None = None

    def show(self, text: Text) -> None:
        if signature(text) == self._shown:
            return
        # a layout repaints more than this pane (the scrollbars around it): only when its size may change
        new_shape = shape(text, self.content_size.width)
        auto_width = self.styles.width is not None and self.styles.width.is_auto
        layout = new_shape != self._shape or auto_width
        self._shown, self._shape = signature(text), new_shape
        self.update(text, layout=layout)


class RunDetail(VerticalScroll):
    """The run detail: a text pane under a title naming the run (the title setter repaints the
    whole pane, so it is set only when it changes)."""

    def __init__(self, text: Text, *, id: str, body_id: str):
        super().__init__(id=id)
        self._text, self._body_id = text, body_id
        self._title = self.border_title = "Run detail"

    def compose(self) -> ComposeResult:
        yield TextPane(self._text, id=self._body_id)

    def show(self, text: Text, title: str = "Run detail") -> None:
        self.query_one(TextPane).show(text)
        if title != self._title:
            self._title = title
            self.border_title = literal(title)


class RunsTable(ListTable):
    """While a requested run that is not listed is shown, the cursor is hidden; the first cursor
    key (or a click) shows it again, which highlights a row and so selects it."""

    _title: str | None = None
    _title_only = False  # (class attributes: DataTable.__init__ already refreshes)

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._shown: dict[str, tuple[tuple[Any, ...], ...]] = {}  # row key -> the cells' signatures

    # -- rows by key, repainting only what changed ------------------------------------------------
    def put_row(self, key: str, cells: Sequence[Text]) -> None:
        """Add the row, or update the cells of it that changed."""
        wanted = tuple(signature(cell) for cell in cells)
        shown = self._shown.get(key)
        if shown is None:
            self.add_row(*cells, key=key)
        elif shown != wanted:
            row = self.get_row_index(key)
            for column, (cell, before, after) in enumerate(zip(cells, shown, wanted, strict=True)):
                if before != after:
                    self._set_cell(key, row, column, cell)
        self._shown[key] = wanted

    def _set_cell(self, key: str, row: int, column: int, cell: Text) -> None:
        # update_cell without its whole-table repaint: the columns have fixed widths, so one cell
        # changing moves nothing else. The caches are keyed by _update_count, so it goes up too.
        self._data[RowKey(key)][self.ordered_columns[column].key] = cell
        self._update_count += 1
        self.refresh_coordinate(Coordinate(row, column))

    def drop_row(self, key: str) -> None:
        if self._shown.pop(key, None) is not None:
            self.remove_row(key)

    def clear(self, columns: bool = False) -> Any:
        self._shown = {}
        return super().clear(columns)

    def redraw_column(self, column: str, cells: dict[str, Text]) -> None:
        """New cells for one column of many rows (a resize, experiment names): one repaint."""
        index = self.get_column_index(column)
        for key, cell in cells.items():
            shown = self._shown.get(key)
            if shown is None or shown[index] == signature(cell):
                continue
            self._data[RowKey(key)][ColumnKey(column)] = cell
            self._shown[key] = shown[:index] + (signature(cell),) + shown[index + 1:]
        self._update_count += 1
        self.refresh()

    def set_widths(self, widths: dict[str, int]) -> None:
        """Columns of these widths (by column key)."""
        changed = False
        for key, column in self.columns.items():
            wanted = widths.get(str(key.value))
            if wanted and column.width != wanted:
                column.width = wanted
                changed = True
        if changed:
            self.refresh(layout=True)
            self._require_update_dimensions = True  # DataTable recomputes its virtual size on idle

    # -- the border --------------------------------------------------------------------------------
    def set_title(self, title: str) -> None:
        if title == self._title:
            return
        self._title = title
        self._title_only = True
        try:
            self.border_title = title
        finally:
            self._title_only = False

    def set_subtitle(self, subtitle: str) -> None:
        if subtitle != (self.border_subtitle or ""):
            self.border_subtitle = subtitle

    def refresh(self, *regions: Region, **kwargs: Any) -> Any:
        if self._title_only and not regions and self.is_mounted:
            # the border_title setter repaints the whole table: the title is on the top line alone
            x, y = self.content_offset
            regions = (Region(-x, -y, self.outer_size.width, 1),)
        return super().refresh(*regions, **kwargs)

    def highlighted_key(self) -> str | None:
        """The key of the highlighted row (None when the table is empty or its cursor hidden)."""
        if not self.row_count or not self.show_cursor:
            return None
        try:
            return self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0)).row_key.value
        except CellDoesNotExist:  # a cursor past the rows: nothing highlighted
            return None

    def highlight(self, key: str) -> None:
        """Move the cursor to a row, and show it if it was hidden."""
        self.move_cursor(row=self.get_row_index(key))
        self.show_cursor = True

    # -- the hidden cursor of a requested run ------------------------------------------------------
    def _reveal(self) -> bool:
        if self.show_cursor:
            return False
        self.show_cursor = True  # posts RowHighlighted for the row under the cursor
        return True

    def action_cursor_up(self) -> None:
        if not self._reveal():
            super().action_cursor_up()

    def action_cursor_down(self) -> None:
        if not self._reveal():
            super().action_cursor_down()

    def action_page_up(self) -> None:
        if not self._reveal():
            super().action_page_up()

    def action_page_down(self) -> None:
        if not self._reveal():
            super().action_page_down()

    def action_scroll_top(self) -> None:
        self._reveal()
        super().action_scroll_top()

    def action_scroll_bottom(self) -> None:
        self._reveal()
        super().action_scroll_bottom()

    def action_select_cursor(self) -> None:
        if not self._reveal():
            super().action_select_cursor()

    async def _on_click(self, event: events.Click) -> None:
        # runs before DataTable's own click handler (Textual calls both, subclass first)
        if not self.show_cursor and event.style.meta.get("row", -1) >= 0:
            self.show_cursor = True
