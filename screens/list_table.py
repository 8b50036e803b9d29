"""The DataTable every list uses: Home/End (and g/G, as in less, vim and k9s) go to the first and
last row, as ctrl+home/ctrl+end do. The built-in Home/End scroll sideways in a row-cursor table.

Lists load a page at a time: End goes to the last row loaded, and that brings the next page in
as any cursor move near the end does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable


class ListTable(DataTable):
    BINDINGS = [
        Binding("home,g", "scroll_top", "First row", show=False),
        Binding("end,G", "scroll_bottom", "Last row", show=False),
    ]

    def show_rows(self, rows: Sequence[tuple[str, Sequence[Any]]]) -> bool:
        """Show `rows` ((key, cells), in order) writing only what changed: when the keys on screen
        are the same, in the same order, changed cells are updated in place; otherwise the rows
        are laid out again. Returns whether anything was written."""
        keys = [key for key, _ in rows]
        if keys != [row.key.value for row in self.ordered_rows]:
            self.clear()
            for key, cells in rows:
                self.add_row(*cells, key=key)
            return True
        columns = list(self.columns)
        changed = False
        for key, cells in rows:
            for column, before, after in zip(columns, self.get_row(key), cells, strict=False):
                if _looks(before) != _looks(after):
                    self.update_cell(key, column, after)
                    changed = True
        return changed


def _looks(cell: Any) -> tuple[Any, ...]:
    """What a cell looks like on screen (rich Text compares its text and spans, not its style)."""
    if isinstance(cell, Text):
        return (cell.plain, str(cell.style), tuple(cell.spans))
    return (str(cell),)
