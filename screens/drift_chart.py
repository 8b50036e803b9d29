"""Drawing for the Drift screen: table cells, PSI-over-time chart (plotext), sparklines, histogram bars.

Pure presentation: every function takes plain numbers and returns a string or a rich Text;
nothing here does I/O. plotext is imported lazily (at the first chart) and used only through a
figure object of our own (`plotext._kernel.terminal.terminal()._master`), never through
plotext's module-global master figure, so two charts never share state.

"No data" is never drawn as 0: a None in a series is a gap in the chart line and a blank cell
in a sparkline; a feature with no histogram gets a sentence, not empty bars.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from console.drift_view import Marker
from console.safe_text import safe

if TYPE_CHECKING:
    from console.drift_service import DriftPoint

_BACKGROUND = re.compile(r"\x1b\[48;(?:5;\d+|2;\d+;\d+)m")
BLOCKS = " ▁▂▃▄▅▆▇█"
NO_DATA_CELL = "·"
SERIES_COLORS = (12, 14, 13, 10)  # ANSI 256 palette: blue, cyan, magenta, green
SERIES_STYLES = ("bright_blue", "bright_cyan", "bright_magenta", "bright_green")
# NO_COLOR: the series are told apart by shape; the first keeps the fine line.
NO_COLOR_MARKERS = ("hd", "•", "×", "+")
NO_COLOR_LEGEND = ("━", "•", "×", "+")
WARN_COLOR = 11  # yellow
DRIFT_COLOR = 9  # red
FLOOR_COLOR = 8  # grey
MARKER_COLOR = 13  # magenta


STATUS_LABELS = {
    "drift": ("DRIFT", "bold red"),
    "warn": ("warn", "yellow"),
    "ok": ("ok", "green"),
    "too-few-samples": ("too few", "magenta"),
    "no-data": ("no data", "dim"),
}

def fmt_psi(value: float | None) -> Text:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Text("—", style="dim")
    return Text(f"{value:.3f}")


def fmt_count(value: float | None) -> Text:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Text("—", style="dim")
    if value >= 1e6:
        return Text(f"{value / 1e6:.1f}M")
    if value >= 1e4:
        return Text(f"{value / 1e3:.0f}k")
    if value >= 1e3:
        return Text(f"{value / 1e3:.1f}k")
    return Text(f"{value:.0f}")


def status_text(status: str) -> Text:
    label, style = STATUS_LABELS.get(status, (status, ""))
    return Text(label, style=style)


def short_revision(revision: str, name: str) -> str:
    """fraud-detector-predictor-00002 -> …00002 (the status line names it in full)."""
    prefix = f"{name}-predictor-"
    return safe("…" + revision[len(prefix):] if name and revision.startswith(prefix) else revision)


def plotted(point: DriftPoint) -> float | None:
    """A PSI worth drawing: none where there is no data or too few samples (gaps, never 0)."""
    if point.status in ("no-data", "too-few-samples"):
        return None
    return point.psi


def status_rank(status: str) -> int:
    order = ("drift", "warn", "ok", "too-few-samples", "no-data")
    return order.index(status) if status in order else len(order)


def level_style(value: float | None, warn: float, drift: float) -> str:
    if value is None:
        return "dim"
    if value >= drift:
        return "bold red"
    if value >= warn:
        return "yellow"
    return "green"


def downsample_max(values: Sequence[float | None], width: int) -> list[float | None]:
    """`width` buckets, each the max of its values (a spike stays visible); None when a bucket
    has no value at all."""
    n = len(values)
    if width <= 0 or n == 0:
        return []
    if n <= width:
        return list(values)
    out: list[float | None] = []
    for i in range(width):
        lo = i * n // width
        hi = max((i + 1) * n // width, lo + 1)
        got = [v for v in values[lo:hi] if v is not None and not math.isnan(v)]
        out.append(max(got) if got else None)
    return out


def sparkline(values: Sequence[float | None], width: int, warn: float, drift: float) -> Text:
    """Unicode blocks scaled to max(drift threshold, largest value); None is a dim dot."""
    cells = downsample_max(values, width)
    finite = [v for v in cells if v is not None]
    top = max([drift * 1.2] + finite) if finite else drift * 1.2
    text = Text(no_wrap=True, overflow="crop")
    for v in cells:
        if v is None:
            text.append(NO_DATA_CELL, style="dim")
            continue
        idx = 1 + int(round(max(v, 0.0) / top * (len(BLOCKS) - 2))) if top > 0 else 1
        text.append(BLOCKS[min(idx, len(BLOCKS) - 1)], style=level_style(v, warn, drift))
    return text


def _segments(times: Sequence[float], values: Sequence[float | None]) -> list[tuple[list[float], list[float]]]:
    """Runs of consecutive points that have a value (a None breaks the line)."""
    out: list[tuple[list[float], list[float]]] = []
    xs: list[float] = []
    ys: list[float] = []
    for t, v in zip(times, values, strict=True):
        if v is None or (isinstance(v, float) and (math.isnan(v) or math.isinf(v))):
            if xs:
                out.append((xs, ys))
                xs, ys = [], []
            continue
        xs.append(float(t))
        ys.append(float(v))
    if xs:
        out.append((xs, ys))
    return out


def thin(points: Sequence[tuple[float, float | None]], limit: int) -> list[tuple[float, float | None]]:
    """At most `limit` points: each bucket of neighbours becomes its largest value (a spike stays
    visible) at the bucket's first time; a bucket with no value stays None (a gap)."""
    n = len(points)
    if limit <= 0 or n <= limit:
        return list(points)
    out: list[tuple[float, float | None]] = []
    for i in range(limit):
        lo = i * n // limit
        hi = max((i + 1) * n // limit, lo + 1)
        vals = [v for _, v in points[lo:hi] if v is not None and not math.isnan(v) and not math.isinf(v)]
        out.append((points[lo][0], max(vals) if vals else None))
    return out


def _time_ticks(start: float, end: float, width: int, fmt_time: Callable[[float], str]) -> tuple[list[float], list[str]]:
    """Round-time ticks that fit: about one every 12 columns."""
    span = max(end - start, 1.0)
    wanted = max(2, min(8, width // 12))
    steps = (60, 300, 600, 900, 1800, 3600, 7200, 3 * 3600, 6 * 3600, 12 * 3600, 86400)
    step = next((s for s in steps if span / s <= wanted), steps[-1])
    first = math.ceil(start / step) * step
    positions = []
    t = first
    while t <= end + 1e-9:
        positions.append(float(t))
        t += step
    return positions, [fmt_time(p) for p in positions]


def local_hhmm(t: float) -> str:
    return time.strftime("%H:%M", time.localtime(t))


def psi_chart(series: Mapping[str, Sequence[tuple[float, float | None]]], *, width: int, height: int,
              warn: float, drift: float, span: tuple[float, float] | None = None,
              markers: Sequence[Marker] = (), floor: Sequence[tuple[float, float | None]] | None = None,
              fmt_time: Callable[[float], str] = local_hhmm, no_color: bool = False) -> str:
    """PSI over time as an ANSI string of `height` lines, `width` columns.

    series: {feature: [(t, psi or None)]}, up to 4 features; warn/drift threshold lines;
    markers: rollout actions as vertical lines; floor: the noise floor of the first feature
    (dim), so a reader sees when a PSI is within noise.
    """
    from plotext._kernel.terminal import terminal
    from plotext._primitives.marker import marker as plt_marker
    from plotext._primitives.pixel import pixel

    width = max(int(width), 20)
    height = max(int(height), 5)
    term = terminal()  # a private terminal owns a private master figure: no global state
    term.limit(False, False)
    fig = term._master
    fig.plot_size(width, height)
    fig.theme("simple")
    fig.canvas("default")
    fig.legend(False)

    all_t = [t for pts in series.values() for t, _ in pts]
    if span is not None:
        start, end = float(span[0]), float(span[1])
    elif all_t:
        start, end = min(all_t), max(all_t)
    else:
        start, end = 0.0, 1.0
    if end <= start:
        end = start + 1.0
    top = drift * 1.3
    for pts in series.values():
        for _, v in pts:
            if v is not None and not math.isnan(v) and not math.isinf(v):
                top = max(top, v * 1.1)

    limit = width  # about one point per column: more points draw nothing a reader can see
    if floor:
        floor = thin(floor, limit // 2)
        for xs, ys in _segments([t for t, _ in floor], [v for _, v in floor]):
            s = fig.signal(xs, ys, marker=plt_marker("hd", pixel(foreground=FLOOR_COLOR)))
            if len(xs) > 1:
                s.lines()
            fig.draw(s)
    for i, (_name, pts) in enumerate(list(series.items())[:len(SERIES_COLORS)]):
        color = SERIES_COLORS[i]
        pts = thin(pts, limit)
        for xs, ys in _segments([t for t, _ in pts], [v for _, v in pts]):
            shape = NO_COLOR_MARKERS[i] if no_color else "hd"
            s = fig.signal(xs, ys, marker=plt_marker(shape, pixel(foreground=color)))
            if len(xs) > 1:
                s.lines()
            fig.draw(s)
    fig.line(warn, 0, pixel=pixel(foreground=WARN_COLOR))
    fig.line(drift, 0, pixel=pixel(foreground=DRIFT_COLOR))
    for m in markers:
        if start <= m.t <= end:
            fig.line(m.t, 1, pixel=pixel(foreground=MARKER_COLOR))
    fig.ruler("x").lim(start, end)
    fig.ruler("y").lim(0.0, top)
    y_ticks = [0.0, warn, drift] + ([top] if top > drift * 1.15 else [])
    fig.ruler("y").ticks(y_ticks, [f"{v:.2f}" for v in y_ticks])
    positions, labels = _time_ticks(start, end, width, fmt_time)
    fig.ruler("x").ticks(positions, labels)
    # plotext fills a line's unset background from its white default: drop every background
    # so the chart sits on the panel's own colours.
    return _BACKGROUND.sub("", fig.build().string())


def chart_legend(names: Sequence[str], warn: float, drift: float, markers: Sequence[Marker],
                 fmt_time: Callable[[float], str] = local_hhmm, with_floor: bool = False,
                 no_color: bool = False) -> Text:
    """One compact line naming the series, the threshold lines and the rollout markers."""
    text = Text(no_wrap=True, overflow="ellipsis")
    names = [safe(name) for name in names]  # feature names are Prometheus label values
    for i, name in enumerate(list(names)[:len(SERIES_STYLES)]):
        text.append(NO_COLOR_LEGEND[i] if no_color else "━", style=SERIES_STYLES[i])
        text.append(f"{name} ")
    text.append("─", style="yellow")
    text.append(f"warn {warn:g} ")
    text.append("─", style="red")
    text.append(f"drift {drift:g} ")
    if with_floor:
        text.append("─", style="bright_black")
        text.append("floor ")
    for m in markers:
        text.append("│", style="magenta")
        text.append(f"{m.label} {fmt_time(m.t)} ")
    text.rstrip()
    return text


def _fmt_bound(b: float) -> str:
    if b == math.inf:
        return "+Inf"
    if b == -math.inf:
        return "-Inf"
    a = abs(b)
    if a and (a >= 1e5 or a < 1e-3):
        return f"{b:.1e}"
    return f"{b:.4g}"


REFERENCE_FULL = "░"  # the reference's full cells: a shade, so it reads apart from live without colour


def histogram_bars(live_bounds: Sequence[float] | None, live_counts: Sequence[float] | None,
                   ref_counts: Sequence[float] | None, *, height: int, width: int,
                   live_label: str = "live", ref_label: str = "reference") -> Text:
    """Reference and live bin shares side by side, as vertical bars (eighth blocks).

    Each bin is two columns: reference (blue, shaded ░) then live (yellow, solid █), a gap between
    bins: the shade tells them apart without colour (NO_COLOR). The last line names the range of
    the first and last bins.
    """
    text = Text(no_wrap=True, overflow="crop")
    live_ok = live_counts is not None and sum(live_counts) > 0
    ref_ok = ref_counts is not None and sum(ref_counts) > 0
    if not live_ok and not ref_ok:
        text.append("no histogram: no samples on either side", style="dim")
        return text
    bins = len(live_counts if live_ok else ref_counts)  # type: ignore[arg-type]
    if live_ok and ref_ok and len(ref_counts) != bins:  # type: ignore[arg-type]
        text.append("the reference bins differ from the live bins", style="dim")
        return text

    def shares(counts: Sequence[float]) -> list[float]:
        total = float(sum(counts))
        return [c / total for c in counts]

    live_s = shares(live_counts) if live_ok and live_counts is not None else None
    ref_s = shares(ref_counts) if ref_ok and ref_counts is not None else None
    top = max((live_s or [0]) + (ref_s or [0])) or 1.0
    rows = max(height - 2, 2)
    gap = 1 if bins * 3 <= width else 0
    col = max(1, (width // bins - gap) // 2) if bins else 1  # columns per series in a bin
    text.append(f"{top * 100:.0f}% ", style="dim")
    text.append(REFERENCE_FULL, style="blue")
    text.append(f" {ref_label}" if ref_ok else f" {ref_label}: no samples", style="dim")
    text.append("  ")
    text.append("█", style="yellow")
    text.append(f" {live_label}" if live_ok else f" {live_label}: no samples", style="dim")
    text.append("\n")
    for r in range(rows, 0, -1):
        for i in range(bins):
            for s, style in ((ref_s, "blue"), (live_s, "yellow")):
                if s is None:
                    text.append(" " * col)
                    continue
                level = s[i] / top * rows  # in rows
                full = level - (r - 1)
                if full >= 1:
                    ch = REFERENCE_FULL if s is ref_s else "█"
                elif full > 0:
                    ch = BLOCKS[max(1, int(round(full * 8)))]
                else:
                    ch = " "
                text.append(ch * col, style=style)
            if gap:
                text.append(" ")
        text.append("\n")
    if live_bounds:
        lo = f"≤{_fmt_bound(live_bounds[0])}"
        hi = f">{_fmt_bound(live_bounds[-2])}" if len(live_bounds) > 1 else ""
        used = bins * (2 * col + gap)
        pad = max(used - len(lo) - len(hi), 1)
        text.append(lo + " " * pad + hi, style="dim")
    return text


class AnsiChart(Static):
    """A Static that draws itself with a render function at its own size.

    `set_drawer(fn, key)` keeps fn(width, height) -> str (ANSI) or Text; the widget calls it when
    its size changes and when the key (what the drawing shows) changes, and writes to the
    terminal only when the drawing differs from the one on screen. `show(text)` puts a message
    in place of a drawing.
    """

    DEFAULT_CSS = "AnsiChart { height: 1fr; }"

    def __init__(self, *, id: str | None = None):
        super().__init__("", markup=False, id=id)
        self._drawer: Callable[[int, int], str | Text] | None = None
        self._key: Hashable = None
        self._drawn_size: tuple[int, int] | None = None
        self._shown: str | tuple[str, tuple[object, ...]] | None = None
        self.last_draw_seconds: float | None = None

    def set_drawer(self, drawer: Callable[[int, int], str | Text] | None, key: Hashable = None) -> None:
        """key: the data drawn; None draws again on every call."""
        if drawer is not None and key is not None and key == self._key and self._drawer is not None:
            return
        self._drawer = drawer
        self._key = key
        self._drawn_size = None
        self.redraw()

    def show(self, text: Text) -> None:
        self._drawer = None
        self._key = None
        self._drawn_size = None
        self._put(text)

    def _put(self, out: str | Text) -> None:
        shown = out if isinstance(out, str) else (out.plain, (str(out.style), *out.spans))
        if shown == self._shown:
            return  # the same picture: nothing to write
        self._shown = shown
        self.update(Text.from_ansi(out, no_wrap=True, overflow="crop") if isinstance(out, str) else out)

    def redraw(self) -> None:
        width, height = self.content_size.width, self.content_size.height
        if self._drawer is None or width <= 0 or height <= 0:
            return
        t0 = time.perf_counter()
        self._put(self._drawer(width, height))
        self.last_draw_seconds = time.perf_counter() - t0
        self._drawn_size = (width, height)

    def on_resize(self) -> None:
        if self._drawn_size != (self.content_size.width, self.content_size.height):
            self.redraw()
