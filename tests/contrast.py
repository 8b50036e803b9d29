"""Contrast of what the screen draws, measured on the segments the SVG snapshot is made of.

Colours are resolved exactly as Rich's export_svg resolves them (default colours from its SVG
theme, reverse swaps, dim blends 40% towards the background), then compared with the WCAG 2
contrast ratio: (L1 + 0.05) / (L2 + 0.05) over relative luminances.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from rich.color import blend_rgb
from rich.color_triplet import ColorTriplet
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.terminal_theme import SVG_EXPORT_THEME

MINIMUM = 4.5  # WCAG AA for normal text


def luminance(rgb: ColorTriplet) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ratio(a: ColorTriplet, b: ColorTriplet) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def colours(style: Style | None) -> tuple[ColorTriplet, ColorTriplet]:
    """(foreground, background) as the SVG snapshot paints this style."""
    style = style or Style()
    theme = SVG_EXPORT_THEME
    fg = theme.foreground_color if style.color is None or style.color.is_default else style.color.get_truecolor(theme)
    bg = (theme.background_color if style.bgcolor is None or style.bgcolor.is_default
          else style.bgcolor.get_truecolor(theme))
    if style.reverse:
        fg, bg = bg, fg
    if style.dim:
        fg = blend_rgb(fg, bg, 0.4)
    return fg, bg


@dataclass
class Cell:
    row: int
    column: int
    text: str
    fg: ColorTriplet
    bg: ColorTriplet

    @property
    def ratio(self) -> float:
        return ratio(self.fg, self.bg)

    def __str__(self) -> str:
        return f"row {self.row} col {self.column} {self.text!r}: {self.fg.hex} on {self.bg.hex} = {self.ratio:.2f}:1"


def screen_segments(app) -> list[Cell]:
    """Every run of visible text on the screen, with its colours (what export_screenshot draws)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    cells: list[Cell] = []
    row = column = 0
    for text, style, _ in Segment.filter_control(console._record_buffer):
        for index, line in enumerate(text.split("\n")):
            if index:
                row, column = row + 1, 0
            if line.strip():
                fg, bg = colours(style)
                cells.append(Cell(row, column, line, fg, bg))
            column += len(line)
    return cells


_SHAPES = {chr(c) for c in range(0x2500, 0x25A0)} | {" ", "\xa0"}


def is_text(cell: Cell) -> bool:
    """Box-drawing and block characters (borders, scrollbars, split bars) are shapes, not text."""
    return any(ch not in _SHAPES for ch in cell.text)


def too_faint(app, minimum: float = MINIMUM) -> list[str]:
    """The texts on screen whose contrast is below `minimum`, described for an assertion message."""
    return [str(cell) for cell in screen_segments(app) if cell.ratio < minimum and is_text(cell)]
