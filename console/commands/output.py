"""The command line's one table printer."""

from __future__ import annotations

from collections.abc import Sequence

from console.safe_text import safe


def table(rows: Sequence[Sequence[object]]) -> list[str]:
    """Rows (the header first) as lines of left-aligned columns two spaces apart, without trailing
    blanks. Each cell is made terminal-safe (console.safe_text.safe), so a row stays one line
    whatever a name contains."""
    cells = [[safe(c) for c in row] for row in rows]
    if not cells:
        return []
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
