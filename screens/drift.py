"""Drift (key 4): per-feature drift of one InferenceService, live, from Prometheus.

- Opens on the model selected on another screen (`app.selected_isvc = (namespace, name)`; from the
  Now screen also `app.selected_feature`, whose row is then highlighted and charted, over the
  window the Now screen judged it on), else on the first model with metrics, preferring one with
  a canary in progress, without further input. `m` picks another model, `w` the window
  (15m/1h/6h/24h), `b` the reference (stable revision / catalog training histograms / the same
  revision one window before).
- Features sorted by drift: status, PSI, noise floor, sample sizes, and a PSI sparkline.
- A plotext chart of PSI over time for the feature under the cursor (or the features marked with
  space) with the warn/drift thresholds from settings.drift, the noise floor, and the rollout
  actions of the audit journal as vertical markers.
- The reference histogram against the live one for the feature under the cursor.

One thread worker per refresh gathers everything (console/drift_view.py) and answers with a
Loaded or Failed message; the refresh reschedules itself after each answer (backing off while a
backend fails) and pauses while the screen is hidden. The evaluation instant is `app.clock()`
floored to the chart's step (console/drift_service.py evaluation_instant), so a frozen clock pins
the data (snapshot tests) and refreshes within one step ask for the same instant.

Light over SSH: every update repaints the whole widget, so an answer is compared with what is on
screen first: only changed table cells are updated, and a title, line or chart whose content did
not change is not touched (a refresh whose answer did not change writes nothing).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable

from console.drift import format_duration
from console.drift_service import evaluation_instant
from console.drift_view import DriftView, Marker, Model, Target
from console.safe_text import literal, safe
from screens.base import Backoff, ConsoleScreen, clock_text, retry_text
from screens.drift_chart import (
    STATUS_LABELS,
    AnsiChart,
    chart_legend,
    fmt_count,
    fmt_psi,
    histogram_bars,
    plotted,
    psi_chart,
    short_revision,
    sparkline,
    status_rank,
    status_text,
)
from screens.list_table import ListTable
from screens.repaint import TextPane, looks, set_border_subtitle, set_border_title

if TYPE_CHECKING:
    from console.drift_service import DriftReport

WINDOWS = ("15m", "1h", "6h", "24h")
REFERENCES = ("stable", "catalog", "before")
REFRESH_SECONDS = 15.0
RETRY_SECONDS = (2.0, 4.0, 8.0, 15.0, 30.0, 60.0)
SPARK_WIDTH = 16
MAX_CHART_FEATURES = 4
COLUMNS = (("feature", "feature"), ("status", "status"), ("PSI", "psi"), ("floor", "floor"), ("n live", "live"),
           ("n ref", "ref"), ("PSI trend", "trend"))

REFERENCE_WORDS = {"stable": "stable revision", "catalog": "catalog training data",
                   "before": "the window before"}


class DriftScreen(ConsoleScreen):
    screen_title = "Drift"
    BINDINGS = [
        Binding("m", "pick_model", "Model"),
        Binding("w", "cycle_window", "Window"),
        Binding("b", "cycle_reference", "Reference"),
        Binding("space", "mark_feature", "Mark feature"),
        Binding("r", "refresh", "Refresh"),
        Binding("c", "open_catalog", "Catalog version"),
    ]
    HELP_NOTES = ("Features are sorted most drifting first. PSI compares the live histogram with the "
                  "reference; the noise floor is the PSI expected from sample size alone, "
                  "(bins-1)(1/n+1/m), and 'drift' needs PSI above the drift threshold and 3x the floor. "
                  "Space marks features to chart together; the cursor feature's histograms are on the "
                  "right. Magenta lines on the chart are rollout actions from the audit journal.")
    DEFAULT_CSS = """
    DriftScreen #drift-context { height: 1; padding: 0 1; background: $boost; }
    DriftScreen #drift-features { height: auto; max-height: 45%; min-height: 6; border: round $primary 50%; }
    DriftScreen #drift-features:focus { border: round $accent; }
    DriftScreen #drift-bottom { height: 1fr; min-height: 8; }
    DriftScreen #drift-chart-pane { width: 3fr; border: round $primary 50%; }
    DriftScreen #drift-chart { height: 1fr; }
    DriftScreen #drift-hist { width: 2fr; min-width: 26; height: 1fr; border: round $primary 50%; }
    """

    class Loaded(Message):
        def __init__(self, generation: int, view: DriftView, fetched_at: float):
            super().__init__()
            self.generation, self.view, self.fetched_at = generation, view, fetched_at

    class Failed(Message):
        def __init__(self, generation: int, error: str, models: list[Model] | None = None, *, config: bool = False):
            super().__init__()
            self.generation, self.error, self.models = generation, error, models
            self.config = config  # a setting is missing or wrong: retrying soon will not help

    def __init__(self) -> None:
        super().__init__()
        self.want: tuple[str, str] | None = None  # the model asked for (None: choose one)
        self.window = WINDOWS[0]
        self.reference: str | None = None  # None: stable when there is a canary, else before
        self.target: Target | None = None
        self.report: DriftReport | None = None
        self.markers: list[Marker] = []
        self.history_start: float | None = None  # the reference window is only partly covered
        self.models: list[Model] = []
        self.marked: list[str] = []
        self.selected: str | None = None  # feature under the cursor
        self.updated_at: float | None = None
        self.state: str | None = None  # the error shown, when the last refresh failed
        self.next_retry: float | None = None
        self._generation = 0
        self._backoff = Backoff(RETRY_SECONDS)
        self._seen_isvc: tuple[str, str] | None = None  # app.selected_isvc when last looked at
        self._last_load_monotonic: float | None = None
        self._loading = False
        self._rows: set[str] = set()  # the features in the table

    # -- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield self.header()
        yield TextPane(id="drift-context")
        table = ListTable(id="drift-features", cursor_type="row", zebra_stripes=False)
        table.border_title = "Features"
        yield table
        with Horizontal(id="drift-bottom"):
            with Vertical(id="drift-chart-pane"):
                yield AnsiChart(id="drift-chart")
            yield AnsiChart(id="drift-hist")
        yield self.status_line(id="drift-status")
        yield self.key_bar()

    def on_mount(self) -> None:
        table = self.query_one("#drift-features", DataTable)
        for label, key in COLUMNS:
            table.add_column(label, key=key)
        set_border_title(self.query_one("#drift-chart-pane"), "PSI over time")
        set_border_title(self.query_one("#drift-hist"), "Histogram")
        table.focus()

    def focus_after_filter(self) -> Widget:
        return self.query_one("#drift-features", DataTable)

    def _now(self) -> float:
        return self.app.clock()

    # -- lifecycle ---------------------------------------------------------------------------
    def on_activate(self) -> None:
        if self._take_selection():
            return
        if self._last_load_monotonic is None:
            self._show_context()
            self.set_status("Loading…")
            self.load()
            return
        if self._loading:
            return
        since = time.monotonic() - self._last_load_monotonic
        due = REFRESH_SECONDS if self.state is None else RETRY_SECONDS[0]
        if since >= due:
            self.load()
        else:
            self.schedule("refresh", due - since, self._tick)

    def _take_selection(self) -> bool:
        """Open on a model chosen on another screen since this one last looked (and on the feature
        the Now screen names, which is taken: its next enter sets it again). True when it loads."""
        isvc = getattr(self.app, "selected_isvc", None)
        feature = getattr(self.app, "selected_feature", None)
        if feature is not None:
            self.app.selected_feature = None
        key = (str(isvc[0]), str(isvc[1])) if isvc else None
        if key is None or (key == self._seen_isvc and feature is None):
            return False
        self._seen_isvc = key
        if feature is None:
            self._open(key, window=self.window)
        else:
            from console.triage import DRIFT_WINDOW  # the window the Now screen judged it on

            self._open(key, feature=str(feature), window=DRIFT_WINDOW)
        return True

    # -- loading -----------------------------------------------------------------------------
    def load(self) -> None:
        """Start a refresh now (cancelling a scheduled one); answers come back as messages."""
        self.cancel("refresh")
        self._generation += 1
        self._loading = True
        self._last_load_monotonic = time.monotonic()
        at = evaluation_instant(self.window, self._now())
        self._fetch(self._generation, self.want, self.window, self.reference, at)

    def _tick(self) -> None:
        if not self._loading:
            self.load()

    @work(thread=True, exclusive=True, group="drift", exit_on_error=False)
    def _fetch(self, generation: int, want: tuple[str, str] | None, window: str, reference: str | None,
               at: float) -> None:
        from console.drift_view import ViewFailed, load_view

        try:
            view = load_view(self.services, want, window, reference, at)
        except ViewFailed as failure:
            self.post_message(self.Failed(generation, failure.message, failure.models, config=failure.config))
            return
        except Exception as exc:  # a bug or an unmapped failure: the panel says so and keeps retrying
            self.post_message(self.Failed(generation, f"unexpected error: {type(exc).__name__}: {exc}"[:300]))
            return
        self.post_message(self.Loaded(generation, view, at))

    # -- answers -----------------------------------------------------------------------------
    def on_drift_screen_loaded(self, message: Loaded) -> None:
        if message.generation != self._generation:
            return
        self._loading = False
        self._backoff.reset()
        self.state = None
        self.next_retry = None
        view = message.view
        model_changed = self.target is None or self.target.key != view.target.key
        self.target = view.target
        self.want = view.target.key
        self.report = report = view.report
        self.history_start = view.history_start
        self.markers = view.markers
        self.models = view.models
        self.updated_at = message.fetched_at
        if model_changed:
            self.marked = []
        self._fill_table(rebuild=model_changed)
        self._show_context()
        self._draw_selected()
        if report.message:
            self.set_status(report.message, error=True)
        else:
            label = f"reference: {report.reference_label}"
            if self.history_start is not None:
                label += f" (partial: history starts at {clock_text(self.history_start)[:5]})"
            self.set_status(" · ".join([*view.notes, label]))
        self.schedule("refresh", REFRESH_SECONDS, self._tick)

    def on_drift_screen_failed(self, message: Failed) -> None:
        if message.generation != self._generation:
            return
        self._loading = False
        if message.models is not None:
            self.models = message.models
        delay = self._backoff.next()
        if message.config:
            delay = self._backoff.steps[-1]
        self.next_retry = delay
        self.state = message.error
        # the retry time and the age of what is shown come first: a long error is cut at the right edge
        stale = f" · showing data from {clock_text(self.updated_at or 0)}" if self.report is not None else ""
        self.set_status(f"{retry_text(delay, self._now())}{stale} · {message.error}", error=True)
        table = self.query_one("#drift-features", DataTable)
        if self.report is None:
            self._clear_panels(Text(safe(message.error, multiline=True), style="red"))
            set_border_title(table, "Features · no data")
        else:
            set_border_title(table, f"Features · {self.window} · updated {clock_text(self.updated_at or 0)} · stale")
        self._show_context()
        self.schedule("refresh", delay, self._tick)

    # -- rendering ---------------------------------------------------------------------------
    def _show_context(self) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        target = self.target
        key = target.key if target else self.want
        if key is None:
            text.append("choosing the first model with metrics…", style="dim")
        else:
            text.append(safe(f"{key[0]}/{key[1]}"), style="bold")
        if target and target.live_revision:
            text.append(" · live ", style="dim")
            text.append(short_revision(target.live_revision, target.name))
            pct = target.traffic.get(target.live_revision)
            if pct is not None:
                text.append(f" {pct}%", style="cyan")
        report = self.report
        ref = report.reference if report is not None else (self.reference or "auto")
        if report is not None and report.reference == "stable" and report.reference_revision:
            text.append(" vs stable ", style="dim")
            text.append(short_revision(report.reference_revision, target.name if target else ""))
            pct = target.traffic.get(report.reference_revision) if target else None
            if pct is not None:
                text.append(f" {pct}%", style="cyan")
        elif report is not None:
            text.append(" vs ", style="dim")
            text.append(REFERENCE_WORDS.get(ref, ref))
            if ref == "before" and self.history_start is not None:
                text.append(" (partial)", style="yellow")
        text.append(" · ", style="dim")
        text.append(self.window, style="bold")
        if report is not None:
            text.append(" at ", style="dim")
            text.append(clock_text(report.at))
        self.query_one("#drift-context", TextPane).show(text)

    def _cells(self, f: Any, report: DriftReport) -> tuple[Text, ...]:
        th = report.thresholds
        points = report.series.get(f.feature, [])
        return (literal(("● " if f.feature in self.marked else "") + f.feature), status_text(f.status),
                fmt_psi(f.psi), fmt_psi(f.noise_floor), fmt_count(f.live_count), fmt_count(f.reference_count),
                sparkline([plotted(p) for p in points], SPARK_WIDTH, th.warn, th.drift))

    def _fill_table(self, *, rebuild: bool) -> None:
        """The features as rows, by feature name: only the cells that changed are repainted, and
        the rows are laid out again only when the order changed."""
        report = self.report
        assert report is not None
        table = self.query_one("#drift-features", ListTable)
        names = [f.feature for f in report.features]
        cells = {f.feature: self._cells(f, report) for f in report.features}
        with self.app.batch_update():
            if rebuild:
                table.clear()
            table.show_rows([(name, cells[name]) for name in names])
        self._rows = set(names)
        if self.selected not in names:
            self.selected = names[0] if names else None
        if self.selected is not None:
            row = table.get_row_index(self.selected)
            if table.cursor_row != row:
                table.move_cursor(row=row, scroll=True)
        counts = report.counts()
        summary = " · ".join(f"{n} {STATUS_LABELS.get(s, (s,))[0]}" for s, n in
                             sorted(counts.items(), key=lambda kv: status_rank(kv[0])))
        set_border_title(table, f"Features by drift · {self.window} · updated {clock_text(self.updated_at or 0)}")
        set_border_subtitle(table, summary)

    def _chart_features(self) -> list[str]:
        if self.marked:
            return self.marked[:MAX_CHART_FEATURES]
        return [self.selected] if self.selected else []

    def _draw_selected(self) -> None:
        self._draw_chart()
        self._draw_histogram()

    def _draw_chart(self) -> None:
        chart = self.query_one("#drift-chart", AnsiChart)
        pane = self.query_one("#drift-chart-pane")
        report = self.report
        names = self._chart_features()
        if report is None or not names or not report.span:
            message = report.message if report is not None and report.message else "no feature selected"
            chart.show(Text(safe(message, multiline=True), style="dim"))
            set_border_subtitle(pane, "")
            return
        th = report.thresholds
        series = {n: [(p.t, plotted(p)) for p in report.series.get(n, [])] for n in names}
        floor = [(p.t, p.noise_floor) for p in report.series.get(names[0], [])] if len(names) == 1 else None
        span = (report.span[0], report.span[1])
        markers = list(self.markers)
        no_color = self.app.no_color
        set_border_subtitle(pane, chart_legend(names, th.warn, th.drift, markers, with_floor=floor is not None,
                                     no_color=no_color))
        set_border_title(pane, f"PSI · {self.window} windows, every {format_duration(report.span[2])}")
        if not any(v is not None for pts in series.values() for _, v in pts):
            chart.show(Text("no PSI in this span: no samples, or too few, on one side", style="dim"))
            return
        # What the chart shows: it is drawn again only when this (or the panel's size) changes.
        key = (tuple((n, tuple(pts)) for n, pts in series.items()), tuple(floor or ()), span, tuple(markers),
               th.warn, th.drift, no_color)
        chart.set_drawer(lambda w, h: psi_chart(series, width=w, height=h, warn=th.warn, drift=th.drift,
                                                span=span, markers=markers, floor=floor, no_color=no_color),
                         key)

    def _draw_histogram(self) -> None:
        hist = self.query_one("#drift-hist", AnsiChart)
        report = self.report
        f = next((x for x in report.features if x.feature == self.selected), None) if report else None
        if f is None:
            hist.show(Text("—", style="dim"))
            set_border_title(hist, "Histogram")
            set_border_subtitle(hist, "")
            return
        set_border_title(hist, literal(f"{f.feature}: reference vs live"))
        live, ref = f.live, f.reference
        bounds = live.bounds if live else (ref.bounds if ref else None)
        live_counts = live.counts if live else None
        ref_counts = ref.counts if ref else None
        note = None
        if f.reason and f.status in ("no-data", "too-few-samples"):
            note = Text(safe(f.reason) + "\n", style="magenta" if f.status == "too-few-samples" else "dim")

        def draw(width: int, height: int) -> Text:
            body = histogram_bars(bounds, live_counts, ref_counts, height=height - (1 if note else 0), width=width)
            return note + body if note else body

        hist.set_drawer(draw, (f.feature, bounds, live_counts, ref_counts, looks(note) if note else None))
        js = f"JS {f.js:.3f}" if f.js is not None else "JS —"
        psi = f"PSI {f.psi:.3f}" if f.psi is not None else "PSI —"
        set_border_subtitle(hist, f"{psi} · {js}")

    # -- events ------------------------------------------------------------------------------
    @on(DataTable.RowHighlighted, "#drift-features")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        if key is None or key == self.selected:
            return
        self.selected = str(key)
        if self.report is not None:
            self._draw_selected()

    # -- actions -----------------------------------------------------------------------------
    def _open(self, key: tuple[str, str], *, window: str, feature: str | None = None) -> None:
        """Show model `key` over `window`, with `feature` (when given) under the cursor."""
        same_model = self.target is not None and self.target.key == key and self.want == key
        if same_model and window == self.window:
            if feature is not None:
                self._select_feature(feature)
            self.load()
            return
        self.want = key
        self.window = window
        self.selected = feature
        if not same_model:
            self.target = None
            self.marked = []
            self.reference = None
        self._clear_panels()
        self._show_context()
        self.set_status(f"Loading {key[0]}/{key[1]}…")
        self.load()

    def _select_feature(self, feature: str) -> None:
        self.selected = feature
        if feature in self._rows:
            table = self.query_one("#drift-features", DataTable)
            table.move_cursor(row=table.get_row_index(feature), scroll=True)
            self._draw_selected()

    def _clear_panels(self, chart_text: Text | None = None) -> None:
        """Forget the data on screen and blank every panel, titles included.

        Called whenever what is compared changes (model, window, reference), so that nothing
        computed for the previous choice stays on screen under the new one while it loads or
        when the load fails.
        """
        self.report = None
        self.history_start = None
        self.markers = []
        self.updated_at = None
        self._rows = set()
        table = self.query_one("#drift-features", DataTable)
        pane = self.query_one("#drift-chart-pane")
        hist = self.query_one("#drift-hist", AnsiChart)
        with self.app.batch_update():
            table.clear()
            set_border_title(table, f"Features · {self.window} · loading…")
            set_border_subtitle(table, "")
            self.query_one("#drift-chart", AnsiChart).show(chart_text or Text("Loading…", style="dim"))
            set_border_title(pane, "PSI over time")
            set_border_subtitle(pane, "")
            hist.show(Text("—", style="dim"))
            set_border_title(hist, "Histogram")
            set_border_subtitle(hist, "")

    def action_pick_model(self) -> None:
        from screens.drift_picker import ModelPickerScreen

        current = self.target.key if self.target else self.want

        def chosen(key: tuple[str, str] | None) -> None:
            if key:
                self._open(key, window=self.window)

        self.app.push_screen(ModelPickerScreen(self.models, current), chosen)

    def action_cycle_window(self) -> None:
        i = WINDOWS.index(self.window) if self.window in WINDOWS else -1
        self.window = WINDOWS[(i + 1) % len(WINDOWS)]
        self._clear_panels()
        self._show_context()
        self.set_status(f"Loading the {self.window} window…")
        self.load()

    def action_cycle_reference(self) -> None:
        current = self.reference or (self.report.reference if self.report is not None else "stable")
        i = REFERENCES.index(current) if current in REFERENCES else -1
        self.reference = REFERENCES[(i + 1) % len(REFERENCES)]
        self._clear_panels()
        self._show_context()
        self.set_status(f"Loading against the {REFERENCE_WORDS[self.reference]}…")
        self.load()

    def action_refresh(self) -> None:
        self.set_status("Refreshing…")
        self.load()

    def action_mark_feature(self) -> None:
        if not self.selected or self.report is None:
            return
        if self.selected in self.marked:
            self.marked.remove(self.selected)
        else:
            if len(self.marked) >= MAX_CHART_FEATURES:
                self.notify(f"The chart shows at most {MAX_CHART_FEATURES} features; unmark one first.")
                return
            self.marked.append(self.selected)
        self._fill_table(rebuild=False)
        self._draw_chart()

    def action_open_catalog(self) -> None:
        if self.target is None or not self.target.storage_uri:
            self.notify("The served version is not known (no storageUri from Kubernetes).", severity="warning")
            return
        self._find_version(self.target.storage_uri)

    @work(thread=True, exclusive=True, group="drift-catalog", exit_on_error=False)
    def _find_version(self, uri: str) -> None:
        from adapters.errors import ConsoleError

        try:
            record = self.services.catalog.version_by_artifact_uri(uri)
        except ConsoleError as error:
            self.app.call_from_thread(self.notify, error.message, severity="error")
            return
        if record is None:
            self.app.call_from_thread(self.notify, f"No catalog version has artifact {uri}.", severity="warning")
            return
        if hasattr(self.app, "show_catalog_version"):
            self.app.call_from_thread(self.app.show_catalog_version, record.model, record.version)
