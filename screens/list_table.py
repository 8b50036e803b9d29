"""The DataTable every list uses: Home/End (and g/G, as in less, vim and k9s) go to the first and
last row, as ctrl+home/ctrl+end do. The built-in Home/End scroll sideways in a row-cursor table.

Lists load a page at a time: End goes to the last row loaded, and that brings the next page in
as any cursor move near the end does.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import DataTable


class ListTable(DataTable):
    BINDINGS = [
        Binding("home,g", "scroll_top", "First row", show=False),
        Binding("end,G", "scroll_bottom", "Last row", show=False),
    ]
