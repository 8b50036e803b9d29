"""NO_COLOR (no-color.org) that stays readable.

Textual honours NO_COLOR with a Monochrome line filter: every colour becomes its luminance grey.
Red and dark blue come out near black, so red text on a dark panel drew as 237 on 233 (about
1.7:1). This filter does the same conversion, then lifts (or lowers) any foreground that is
below 4.5:1 against its background to the nearest grey that is not, checked both in truecolor
and as a 256-colour terminal shows it. Bold text gets the strongest grey (white on a dark
panel): the failing states are drawn bold red, and stand out rather than recede. States
never rely on colour: they carry a word or a symbol, and bold and reverse pass through.
"""

from __future__ import annotations

from functools import lru_cache

from rich.color import Color as RichColor
from rich.color import ColorSystem
from rich.color_triplet import ColorTriplet
from rich.segment import Segment
from rich.style import Style
from textual.color import Color
from textual.filter import LineFilter, Monochrome, monochrome_style

MINIMUM_CONTRAST = 4.5  # WCAG AA for text


def luminance(rgb: ColorTriplet | tuple[int, int, int]) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: ColorTriplet | tuple[int, int, int], b: ColorTriplet | tuple[int, int, int]) -> float:
    """The WCAG 2 contrast ratio of two colours, from 1 to 21."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _as_256(color: RichColor) -> ColorTriplet:
    return color.downgrade(ColorSystem.EIGHT_BIT).get_truecolor()


# The greys a 256-colour terminal has (black, the 24-step ramp, white): a grey picked from them is
# shown exactly, whatever the colour system.
_GREYS = [RichColor.from_ansi(n) for n in (16, *range(232, 256), 231)]


@lru_cache(4096)
def readable(fg: RichColor, bg: RichColor, strongest: bool = False) -> RichColor:
    """fg, or the grey nearest to it that reads against bg at MINIMUM_CONTRAST; with `strongest`,
    the grey that reads best."""
    if not strongest and contrast(fg.get_truecolor(), bg.get_truecolor()) >= MINIMUM_CONTRAST and \
            contrast(_as_256(fg), _as_256(bg)) >= MINIMUM_CONTRAST:
        return fg
    target = luminance(fg.get_truecolor())
    passing = [grey for grey in _GREYS
               if contrast(grey.get_truecolor(), bg.get_truecolor()) >= MINIMUM_CONTRAST
               and contrast(grey.get_truecolor(), _as_256(bg)) >= MINIMUM_CONTRAST]
    if strongest:
        best = max(passing, key=lambda grey: contrast(grey.get_truecolor(), bg.get_truecolor()))
    else:
        best = min(passing, key=lambda grey: abs(luminance(grey.get_truecolor()) - target))
    return RichColor.from_triplet(best.get_truecolor())


@lru_cache(4096)
def readable_style(style: Style, background: RichColor) -> Style:
    style = monochrome_style(style)
    if style.color is None or style.color.is_default:
        return style  # the terminal's own foreground on its own background
    bg = background if style.bgcolor is None or style.bgcolor.is_default else style.bgcolor
    # Bold is emphasis: a failing state in bold red (FAILED, DRIFT, not ready) must stand out, not
    # turn into a grey darker than the text around it.
    strongest = bool(style.bold)
    if style.reverse:  # the background colour is what the text is drawn in
        return style + Style(bgcolor=readable(bg, style.color, strongest))
    return style + Style(color=readable(style.color, bg, strongest))


class ReadableMonochrome(LineFilter):
    """Monochrome, with every text at least MINIMUM_CONTRAST against its background."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        back = background.monochrome.rich_color
        return [Segment(text, None if style is None else readable_style(style, back), None)
                for text, style, _ in segments]


def readable_filters(filters: list[LineFilter]) -> list[LineFilter]:
    """The app's line filters with Textual's Monochrome (NO_COLOR) replaced by ReadableMonochrome."""
    return [_READABLE if isinstance(f, Monochrome) else f for f in filters]


_READABLE = ReadableMonochrome()
