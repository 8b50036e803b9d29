"""The DataTable every list uses: Home/End (and g/G, as in less, vim and k9s) go to the first and
last row, as ctrl+home/ctrl+end do. The built-in Home/End scroll sideways in a row-cursor table.

Lists load a page at a time: End goes to the last row loaded, and that brings the next page in
as any cursor move near the end does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.binding import Binding
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable

from screens.repaint import joined, looks, update_cell


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

    def _set_hover_cursor(self, active: bool) -> None:
        # Textual's DataTable repaints the hover row on every cursor key even when no hover is
        # shown (keyboard only): one more whole row written per key over SSH. Skip the no-op.
        if active != self._show_hover_cursor:
            super()._set_hover_cursor(active)

    def render_line(self, y: int) -> Strip:
        return joined(super().render_line(y))  # a row of padded cells, in a third of the bytes

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        # As ScrollView's, but the header row does not move: repaint the rows under it only.
        if self.show_vertical_scrollbar:
            self.vertical_scrollbar.position = new_value
        if round(old_value) != round(new_value):
            top = self.header_height if self.show_header and not self.fixed_rows else 0
            self.refresh(Region(0, top, self.size.width, max(self.size.height - top, 0)))
