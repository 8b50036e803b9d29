"""The widgets of the Pipelines screen that repaint only what changed: over SSH every repaint is
bytes on the wire, and the screen refreshes every few seconds.

- RunsTable: rows keyed by run id, updated cell by cell. DataTable.update_cell and the border_title
  setter repaint the whole table, so a refresh that only moved a running run's duration would redraw
  every visible row; here a changed cell repaints that cell, a changed title the top border line,
  and an unchanged one nothing.
- TextPane: a Static whose show() repaints only when the text changed (Static.update always does).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.widgets import Static
from textual.widgets.data_table import ColumnKey, RowKey

from screens.list_table import ListTable


def signature(text: Text) -> tuple[Any, ...]:
    """What a text shows (and the sort key a cell carries): equal signatures need no repaint."""
    return (text.plain, str(text.style), tuple(text.spans), getattr(text, "sort_key", None))


def shape(text: Text) -> tuple[int, ...]:
    """The width of each line: texts of the same shape wrap to the same height."""
    return tuple(cell_len(line) for line in text.plain.split("\n"))


class TextPane(Static):
    def __init__(self, text: Text | str = "", *, id: str | None = None):
        text = Text(text) if isinstance(text, str) else text
        super().__init__(text, id=id, markup=False)
        self._shown, self._shape = signature(text), shape(text)

    def show(self, text: Text) -> None:
        if signature(text) == self._shown:
            return
        # a layout repaints more than this pane (the scrollbars beside it): only when the size may change
        layout = shape(text) != self._shape
        self._shown, self._shape = signature(text), shape(text)
        self.update(text, layout=layout)


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
