"""The DataTable every list uses: Home/End (and g/G, as in less, vim and k9s) go to the first and
last row, as ctrl+home/ctrl+end do. The built-in Home/End scroll sideways in a row-cursor table.

Lists load a page at a time: End goes to the last row loaded, and that brings the next page in
as any cursor move near the end does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.binding import Binding
from textual.widgets import DataTable

from screens.repaint import looks, update_cell


class ListTable(DataTable):
    BINDINGS = [
        Binding("home,g", "scroll_top", "First row", show=False),
        Binding("end,G", "scroll_bottom", "Last row", show=False),
    ]

    def show_rows(self, rows: Sequence[tuple[str, Sequence[Any]]]) -> bool:
        """Show `rows` ((key, cells), in order) writing only what changed: when the keys on screen
        are the same, in the same order, the changed cells are repainted; otherwise the rows are
        laid out again. Returns whether anything was written."""
        keys = [key for key, _ in rows]
        if keys != [row.key.value for row in self.ordered_rows]:
            self.clear()
            for key, cells in rows:
                self.add_row(*cells, key=key)
            return True
        changed = False
        for key, cells in rows:
            changed = self.put_row(key, cells) or changed
        return changed

    def put_row(self, key: str, cells: Sequence[Any]) -> bool:
        """Add the row (at the end), or repaint the cells of it that changed (the columns have
        fixed widths: nothing else moves). Returns whether anything was written."""
        if key not in self.rows:
            self.add_row(*cells, key=key)
            return True
        changed = False
        for column, before, after in zip(self.columns, self.get_row(key), cells, strict=False):
            if looks(before) != looks(after):
                update_cell(self, key, column, after)
                changed = True
        return changed

    def drop_row(self, key: str) -> None:
        if key in self.rows:
            self.remove_row(key)
