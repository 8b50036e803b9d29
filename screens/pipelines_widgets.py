"""The widgets of the Pipelines screen that repaint only what changed: over SSH every repaint is
bytes on the wire, and the screen refreshes every few seconds.

- RunsTable: rows keyed by run id, updated cell by cell (ListTable.put_row), its title and subtitle
  by their border line (screens/repaint.py);
- RunDetail, the scrolling detail pane around a screens/repaint.py TextPane.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.coordinate import Coordinate
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowKey

from console.safe_text import literal
from screens.list_table import ListTable
from screens.repaint import TextPane, looks, set_border_subtitle, set_border_title


class RunDetail(VerticalScroll):
    """The run detail: a text pane under a title naming the run."""

    def __init__(self, text: Text, *, id: str, body_id: str):
        super().__init__(id=id)
        self._text, self._body_id = text, body_id
        self.border_title = "Run detail"

    def compose(self) -> ComposeResult:
        yield TextPane(self._text, id=self._body_id)

    def show(self, text: Text, title: str = "Run detail") -> None:
        self.query_one(TextPane).show(text)
        set_border_title(self, literal(title))


class RunsTable(ListTable):
    """While a requested run that is not listed is shown, the cursor is hidden; the first cursor
    key (or a click) shows it again, which highlights a row and so selects it."""

    def redraw_column(self, column: str, cells: dict[str, Text]) -> None:
        """New cells for one column of many rows (a resize, experiment names): one repaint."""
        changed = False
        for key, cell in cells.items():
            if key in self.rows and looks(self.get_cell(key, column)) != looks(cell):
                self._data[RowKey(key)][ColumnKey(column)] = cell
                changed = True
        if changed:
            self._update_count += 1  # (DataTable's render caches are keyed by it)
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
        set_border_title(self, Text(title))

    def set_subtitle(self, subtitle: str) -> None:
        set_border_subtitle(self, subtitle)

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
