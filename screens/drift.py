"""Drift (key 4): per-feature drift of one InferenceService, live, from Prometheus.

- Opens on the model selected on the Rollouts screen (`app.selected_isvc = (namespace, name)`),
  else on the first model with metrics, preferring one with a canary in progress (two revisions
  taking traffic), without further input. `m` picks another model, `w` the window
  (15m/1h/6h/24h), `b` the reference (stable revision / catalog training histograms / the same
  revision one window before).
- Features sorted by drift: status, PSI, noise floor, sample sizes, and a PSI sparkline.
- A plotext chart of PSI over time for the feature under the cursor (or the features marked with
  space) with the warn/drift thresholds from settings.drift, the noise floor, and the rollout
  actions of the audit journal as vertical markers.
- The reference histogram against the live one for the feature under the cursor.

All I/O runs in one thread worker per refresh, which answers with a Loaded or Failed message.
The refresh reschedules itself with set_timer after each answer (backing off while a backend is
failing) and pauses while the screen is not the active one. The evaluation instant is
`app.clock()`, so a frozen clock pins the data (snapshot tests), and every "updated" stamp comes
from the same clock.

Which revision is live (canary) and which is stable comes from the InferenceService's status
traffic through the kube client; when Kubernetes is not reachable, from the revisions that
export metrics (the newest name is taken as live) and the status line says so.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widgets import DataTable, Input, OptionList, Static
from textual.widgets.option_list import Option

from adapters.errors import ConsoleError
from console.safe_text import literal, safe
from screens.drift_chart import AnsiChart, Marker, chart_legend, histogram_bars, psi_chart, sparkline
from screens.header import StatusHeader
from screens.keybar import KeyBar
from screens.list_table import ListTable

WINDOWS = ("15m", "1h", "6h", "24h")
REFERENCES = ("stable", "catalog", "before")
REFRESH_SECONDS = 15.0
RETRY_SECONDS = (2.0, 4.0, 8.0, 15.0, 30.0, 60.0)
SPARK_WIDTH = 16
MAX_CHART_FEATURES = 4

STATUS_LABELS = {
    "drift": ("DRIFT", "bold red"),
    "warn": ("warn", "yellow"),
    "ok": ("ok", "green"),
    "too-few-samples": ("too few", "magenta"),
    "no-data": ("no data", "dim"),
}
REFERENCE_WORDS = {"stable": "stable revision", "catalog": "catalog training data",
                   "before": "the window before"}


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


@dataclass
class Target:
    """The InferenceService on screen and which of its revisions are compared."""

    namespace: str
    name: str
    live_revision: str | None = None
    stable_revision: str | None = None
    storage_uri: str | None = None
    traffic: dict[str, int | None] = field(default_factory=dict)
    source: str = "kube"  # kube | metrics
    note: str | None = None  # why the revisions come from metrics, when they do

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


def short_revision(revision: str, name: str) -> str:
    """fraud-detector-predictor-00002 -> …00002 (the status line names it in full)."""
    prefix = f"{name}-predictor-"
    return safe("…" + revision[len(prefix):] if name and revision.startswith(prefix) else revision)


def choose_model(models: list[tuple[str, str, list[str]]]) -> tuple[str, str] | None:
    """The first model with metrics, preferring one with a canary (two or more revisions)."""
    for ns, name, revs in models:
        if len(revs) >= 2:
            return (ns, name)
    return (models[0][0], models[0][1]) if models else None


def revisions_from_metrics(revs: list[str]) -> tuple[str | None, str | None]:
    """(live, stable) guessed from revision names: Knative numbers them, the newest is live."""
    ordered = sorted(revs)
    if not ordered:
        return None, None
    return ordered[-1], (ordered[-2] if len(ordered) >= 2 else None)


def audit_markers(rows: list[Any], start: float, end: float) -> list[Marker]:
    """Applied rollout actions inside [start, end] as chart markers, oldest first."""
    out: list[Marker] = []
    for row in rows:
        if getattr(row, "outcome", "applied") != "applied":
            continue
        try:
            t = datetime.fromisoformat(str(row.ts).replace("Z", "+00:00")).timestamp()
        except ValueError:
            continue
        if start <= t <= end:
            out.append(Marker(t, str(row.action).removeprefix("rollout.")))
    return sorted(out, key=lambda m: m.t)


def reference_history_start(metrics: Any, target: Target, window: str, at: float) -> float | None:
    """When the "before" reference window (the window ending one window before `at`) begins before
    the live revision's feature history does, the time that history starts; else None.

    A partial reference has fewer samples than the live window and its PSI is less trustworthy;
    the screen says so. Any failure of this extra query gives None (nothing is claimed).
    """
    try:
        from console import drift as drift_stats

        window_s = drift_stats.parse_duration(window)
        res = max(60, int(window_s // 360))
        fc = metrics.features_contract
        revisions = [target.live_revision] if target.live_revision else None
        series = f"{fc.metric}_count{fc.selector(target.namespace, target.name, revisions)}"
        query = f"min(min_over_time(timestamp({series})[{window}:{res}s]))"
        samples = metrics.instant(query, at - window_s)
    except (ConsoleError, ValueError, AttributeError):
        return None
    values = [s.value for s in samples if s.value is not None and math.isfinite(s.value)]
    if not values:
        return None  # no history at all in the reference window: the features say "no data"
    first = min(values)
    ref_start = at - 2 * window_s
    return first if first - ref_start > max(2 * res, 0.05 * window_s) else None


class ModelPickerScreen(ModalScreen[tuple[str, str] | None]):
    """Pick namespace/name from the models that export metrics, or type one."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    ModelPickerScreen { align: center middle; }
    #picker-box { width: 60; max-width: 95%; height: auto; max-height: 90%; border: round $accent;
                  background: $surface; padding: 0 1; }
    #picker-filter { margin: 0 0 1 0; }
    #picker-list { height: auto; max-height: 14; }
    """

    def __init__(self, models: list[tuple[str, str, list[str]]], current: tuple[str, str] | None):
        super().__init__()
        self.models = models
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box"):
            yield Static("Model (namespace/name): type to filter, enter opens, esc cancels",
                         markup=False, classes="hint")
            yield Input(placeholder="namespace/name", id="picker-filter")
            yield OptionList(id="picker-list")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one("#picker-filter", Input).focus()

    def _fill(self, text: str) -> None:
        options = self.query_one("#picker-list", OptionList)
        options.clear_options()
        for ns, name, revs in self.models:
            key = f"{ns}/{name}"
            if text and text.lower() not in key.lower():
                continue
            label = Text(safe(key))
            label.append(f"  {len(revs)} revision{'s' if len(revs) != 1 else ''}", style="dim")
            options.add_option(Option(label, id=key))
        if options.option_count:
            index = 0
            for i in range(options.option_count):
                if self.current and options.get_option_at_index(i).id == f"{self.current[0]}/{self.current[1]}":
                    index = i
            options.highlighted = index

    @on(Input.Changed, "#picker-filter")
    def _changed(self, event: Input.Changed) -> None:
        self._fill(event.value.strip())

    @on(Input.Submitted, "#picker-filter")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        options = self.query_one("#picker-list", OptionList)
        typed = event.value.strip()
        if options.highlighted is not None and options.option_count:
            self._choose(options.get_option_at_index(options.highlighted).id or "")
        elif "/" in typed:
            self._choose(typed)

    @on(OptionList.OptionSelected, "#picker-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id or "")

    def key_down(self) -> None:
        self.query_one("#picker-list", OptionList).action_cursor_down()

    def key_up(self) -> None:
        self.query_one("#picker-list", OptionList).action_cursor_up()

    def _choose(self, key: str) -> None:
        ns, _, name = key.partition("/")
        if ns and name:
            self.dismiss((ns, name))

    def action_cancel(self) -> None:
        self.dismiss(None)


class DriftScreen(Screen):
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
    DriftScreen #drift-status { height: 1; padding: 0 1; }
    """

    class Loaded(Message):
        def __init__(self, generation: int, target: Target, report: Any, markers: list[Marker],
                     models: list[tuple[str, str, list[str]]], notes: list[str], fetched_at: float,
                     history_start: float | None = None):
            super().__init__()
            self.generation, self.target, self.report, self.markers = generation, target, report, markers
            self.models, self.notes, self.fetched_at = models, notes, fetched_at
            self.history_start = history_start  # set when a "before" reference starts after its window

    class Failed(Message):
        def __init__(self, generation: int, error: str, target: tuple[str, str] | None,
                     models: list[tuple[str, str, list[str]]] | None = None, *, config: bool = False):
            super().__init__()
            self.generation, self.error, self.target, self.models = generation, error, target, models
            self.config = config  # a setting is missing or wrong: retrying soon will not help

    def __init__(self) -> None:
        super().__init__()
        self.want: tuple[str, str] | None = None  # the model asked for (None: choose one)
        self.window = WINDOWS[0]
        self.reference: str | None = None  # None: stable when there is a canary, else before
        self.target: Target | None = None
        self.report: Any = None
        self.markers: list[Marker] = []
        self.history_start: float | None = None  # the reference window is only partly covered
        self.models: list[tuple[str, str, list[str]]] = []
        self.marked: list[str] = []
        self.selected: str | None = None  # feature under the cursor
        self.updated_at: float | None = None
        self.state: str | None = None  # the error shown, when the last refresh failed
        self.next_retry: float | None = None
        self._generation = 0
        self._failures = 0
        self._timer: Timer | None = None
        self._suspended = False
        self._seen_selection: Any = None
        self._last_load_monotonic: float | None = None
        self._loading = False

    # -- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusHeader(self.screen_title)
        yield Static("", id="drift-context", markup=False)
        table = ListTable(id="drift-features", cursor_type="row", zebra_stripes=False)
        table.border_title = "Features"
        yield table
        with Horizontal(id="drift-bottom"):
            with Vertical(id="drift-chart-pane"):
                yield AnsiChart(id="drift-chart")
            yield AnsiChart(id="drift-hist")
        yield Static("", id="drift-status", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        table = self.query_one("#drift-features", DataTable)
        for label, key in (("feature", "feature"), ("status", "status"), ("PSI", "psi"), ("floor", "floor"),
                           ("n live", "live"), ("n ref", "ref"), ("PSI trend", "trend")):
            table.add_column(label, key=key)
        self.query_one("#drift-chart-pane").border_title = "PSI over time"
        self.query_one("#drift-hist").border_title = "Histogram"
        table.focus()
        self._seen_selection = getattr(self.app, "selected_isvc", None)
        if self._seen_selection:
            self.want = tuple(self._seen_selection)  # type: ignore[assignment]
        self._show_context()
        self.set_status("Loading…")
        self.load()

    # -- loading -----------------------------------------------------------------------------
    def load(self) -> None:
        """Start a refresh now (cancelling a scheduled one); answers come back as messages."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._generation += 1
        self._loading = True
        self._last_load_monotonic = time.monotonic()
        self._fetch(self._generation, self.want, self.window, self.reference, self.app.clock())

    @work(thread=True, exclusive=True, group="drift", exit_on_error=False)
    def _fetch(self, generation: int, want: tuple[str, str] | None, window: str, reference: str | None,
               at: float) -> None:
        models: list[tuple[str, str, list[str]]] | None = None
        try:
            from console import drift as drift_stats
            from console.drift_service import DriftService

            try:
                metrics = self.app.services.metrics()
            except ConsoleError as error:
                self.post_message(self.Failed(generation, error.message, want, config=True))
                return
            catalog = getattr(self.app, "catalog", None)
            service = DriftService(metrics, catalog=catalog,
                                   thresholds=drift_stats.Thresholds.from_settings(self.app.services.settings.drift))
            models = service.models_with_metrics(at)
            if want is None:
                want = choose_model(models)
                if want is None:
                    self.post_message(self.Failed(
                        generation, "no model exports request metrics in this Prometheus "
                        f"({metrics.request_metrics_hint()}): check prometheus_url, or that the model servers "
                        "are scraped",
                        None, models))
                    return
            target = self._resolve(want, models)
            notes: list[str] = []
            if target.note:
                notes.append(target.note)
            ref = reference or ("stable" if target.stable_revision else "before")
            report = service.report(target.namespace, target.name, window=window, reference=ref, at=at,
                                    live_revision=target.live_revision, stable_revision=target.stable_revision,
                                    storage_uri=target.storage_uri)
            history_start = None
            if ref == "before" and not report.message:
                history_start = reference_history_start(metrics, target, window, at)
            markers: list[Marker] = []
            if report.span:
                try:
                    rows = self.app.services.audit.list(target=f"{target.namespace}/{target.name}",
                                                   action_prefix="rollout.", since=report.span[0])
                    markers = audit_markers(rows, report.span[0], report.span[1])
                except ConsoleError as error:
                    notes.append(f"audit journal: {error.message}")
        except ConsoleError as error:
            self.post_message(self.Failed(generation, error.message, want, models,
                                          config=type(error).__name__ == "InvalidInput"))
            return
        except Exception as exc:  # a bug or an unmapped failure: the panel says so and keeps retrying
            self.post_message(self.Failed(generation, f"unexpected error: {type(exc).__name__}: {exc}"[:300],
                                          want, models))
            return
        self.post_message(self.Loaded(generation, target, report, markers, models or [], notes, at,
                                      history_start))

    def _resolve(self, want: tuple[str, str], models: list[tuple[str, str, list[str]]]) -> Target:
        """Live and stable revisions: from the InferenceService's status traffic, else from metrics."""
        ns, name = want
        try:
            isvc = self.app.services.kube().get_inference_service(ns, name)
        except ConsoleError as error:
            revs = next((r for m_ns, m_name, r in models if (m_ns, m_name) == want), [])
            live, stable = revisions_from_metrics(revs)
            return Target(ns, name, live, stable, None, {}, "metrics",
                          f"revisions guessed from metrics (Kubernetes: {error.message})")
        traffic = {t.revision: t.percent for t in isvc.traffic if t.revision}
        live = isvc.latest_revision or isvc.latest_ready_revision
        stable = isvc.prev_revision if isvc.prev_revision != live else None
        return Target(ns, name, live, stable, isvc.storage_uri, traffic, "kube")

    def _schedule(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = None
        if not self._suspended:
            self._timer = self.set_timer(delay, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if not self._suspended and not self._loading:
            self.load()

    def on_screen_suspend(self) -> None:
        self._suspended = True
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def on_screen_resume(self) -> None:
        self._suspended = False
        selection = getattr(self.app, "selected_isvc", None)
        if selection and selection != self._seen_selection:
            self._seen_selection = selection
            self._switch_model(tuple(selection))  # type: ignore[arg-type]
            return
        if self._loading:
            return
        since = time.monotonic() - (self._last_load_monotonic or 0.0)
        due = REFRESH_SECONDS if self.state is None else RETRY_SECONDS[0]
        if since >= due:
            self.load()
        else:
            self._schedule(due - since)

    # -- answers -----------------------------------------------------------------------------
    def on_drift_screen_loaded(self, message: Loaded) -> None:
        if message.generation != self._generation:
            return
        self._loading = False
        self._failures = 0
        self.state = None
        self.next_retry = None
        model_changed = self.target is None or self.target.key != message.target.key
        self.target = message.target
        self.want = message.target.key
        self.report = message.report
        self.history_start = message.history_start
        self.markers = message.markers
        self.models = message.models
        self.updated_at = message.fetched_at
        if model_changed:
            self.marked = []
        self._fill_table(rebuild=model_changed)
        self._show_context()
        self._draw_selected()
        notes = list(message.notes)
        if self.report.message:
            self.set_status(self.report.message, error=True)
        else:
            label = f"reference: {self.report.reference_label}"
            if self.history_start is not None:
                label += f" (partial: history starts at {time.strftime('%H:%M', time.localtime(self.history_start))})"
            notes.append(label)
            self.set_status(" · ".join(notes))
        self._schedule(REFRESH_SECONDS)

    def on_drift_screen_failed(self, message: Failed) -> None:
        if message.generation != self._generation:
            return
        self._loading = False
        if message.models is not None:
            self.models = message.models
        self._failures += 1
        delay = RETRY_SECONDS[min(self._failures - 1, len(RETRY_SECONDS) - 1)]
        if message.config:
            delay = RETRY_SECONDS[-1]
        self.next_retry = delay
        self.state = message.error
        # the retry time and the age of what is shown come first: a long error is cut at the right edge
        stale = f" · showing data from {self._clock_text(self.updated_at)}" if self.report is not None else ""
        self.set_status(f"retrying in {delay:g} s{stale} · {message.error}", error=True)
        table = self.query_one("#drift-features", DataTable)
        if self.report is None:
            self._clear_panels(Text(safe(message.error, multiline=True), style="red"))
            table.border_title = "Features · no data"
        else:
            table.border_title = f"Features · {self.window} · updated {self._clock_text(self.updated_at)} · stale"
        self._show_context()
        self._schedule(delay)

    # -- rendering ---------------------------------------------------------------------------
    def _clock_text(self, t: float | None) -> str:
        return time.strftime("%H:%M:%S", time.localtime(t)) if t is not None else "never"

    def set_status(self, text: str, *, error: bool = False) -> None:
        self.query_one("#drift-status", Static).update(Text(safe(text), style="red" if error else "dim",
                                                            no_wrap=True, overflow="ellipsis"))

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
            text.append(self._clock_text(report.at))
        self.query_one("#drift-context", Static).update(text)

    def _fill_table(self, *, rebuild: bool) -> None:
        report = self.report
        table = self.query_one("#drift-features", DataTable)
        th = report.thresholds
        features = report.features
        names = [f.feature for f in features]
        existing = {str(k.value) for k in table.rows}
        rebuild = rebuild or existing != set(names)
        with self.app.batch_update():
            if rebuild:
                table.clear()
            for f in features:
                points = report.series.get(f.feature, [])
                cells = {
                    "feature": literal(("● " if f.feature in self.marked else "") + f.feature),
                    "status": status_text(f.status),
                    "psi": fmt_psi(f.psi),
                    "floor": fmt_psi(f.noise_floor),
                    "live": fmt_count(f.live_count),
                    "ref": fmt_count(f.reference_count),
                    "trend": sparkline([_plotted(p) for p in points], SPARK_WIDTH, th.warn, th.drift),
                }
                if rebuild:
                    table.add_row(*cells.values(), key=f.feature)
                else:
                    for column, value in cells.items():
                        table.update_cell(f.feature, column, value)
            if not rebuild:
                rank = {name: i for i, name in enumerate(names)}
                table.sort(key=lambda row: rank.get(row[0].plain.removeprefix("● "), len(rank)))
        if self.selected not in names:
            self.selected = names[0] if names else None
        if self.selected is not None:
            table.move_cursor(row=table.get_row_index(self.selected), scroll=True)
        counts = report.counts()
        summary = " · ".join(f"{n} {STATUS_LABELS.get(s, (s,))[0]}" for s, n in
                             sorted(counts.items(), key=lambda kv: _status_rank(kv[0])))
        table.border_title = f"Features by drift · {self.window} · updated {self._clock_text(self.updated_at)}"
        table.border_subtitle = summary

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
            chart.set_drawer(None)
            message = report.message if report is not None and report.message else "no feature selected"
            chart.update(Text(safe(message, multiline=True), style="dim"))
            pane.border_subtitle = ""
            return
        th = report.thresholds
        series = {n: [(p.t, _plotted(p)) for p in report.series.get(n, [])] for n in names}
        floor = [(p.t, p.noise_floor) for p in report.series.get(names[0], [])] if len(names) == 1 else None
        span = (report.span[0], report.span[1])
        markers = list(self.markers)
        no_color = self.app.no_color
        chart.set_drawer(lambda w, h: psi_chart(series, width=w, height=h, warn=th.warn, drift=th.drift,
                                                span=span, markers=markers, floor=floor, no_color=no_color))
        pane.border_subtitle = chart_legend(names, th.warn, th.drift, markers, with_floor=floor is not None,
                                            no_color=no_color)
        step = report.span[2]
        pane.border_title = (f"PSI · {self.window} windows, every {_duration(step)} · "
                             f"updated {self._clock_text(self.updated_at)}")
        has_points = any(v is not None for pts in series.values() for _, v in pts)
        if not has_points:
            chart.set_drawer(None)
            chart.update(Text("no PSI in this span: no samples, or too few, on one side", style="dim"))

    def _draw_histogram(self) -> None:
        hist = self.query_one("#drift-hist", AnsiChart)
        report = self.report
        f = next((x for x in report.features if x.feature == self.selected), None) if report else None
        if f is None:
            hist.set_drawer(None)
            hist.update(Text("—", style="dim"))
            hist.border_title = "Histogram"
            hist.border_subtitle = ""
            return
        hist.border_title = literal(f"{f.feature}: reference vs live")
        live, ref = f.live, f.reference
        bounds = live.bounds if live else (ref.bounds if ref else None)
        note = None
        if f.reason and f.status in ("no-data", "too-few-samples"):
            note = Text(safe(f.reason) + "\n", style="magenta" if f.status == "too-few-samples" else "dim")

        def draw(width: int, height: int) -> Text:
            body = histogram_bars(bounds, live.counts if live else None, ref.counts if ref else None,
                                  height=height - (1 if note else 0), width=width)
            return note + body if note else body

        hist.set_drawer(draw)
        js = f"JS {f.js:.3f}" if f.js is not None else "JS —"
        psi = f"PSI {f.psi:.3f}" if f.psi is not None else "PSI —"
        hist.border_subtitle = f"{psi} · {js}"

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
    def _switch_model(self, key: tuple[str, str]) -> None:
        if self.target is not None and self.target.key == key and self.want == key:
            self.load()
            return
        self.want = key
        self.target = None
        self.marked = []
        self.selected = None
        self.reference = None
        self._clear_panels()
        self._show_context()
        self.set_status(f"Loading {key[0]}/{key[1]}…")
        self.load()

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
        table = self.query_one("#drift-features", DataTable)
        chart = self.query_one("#drift-chart", AnsiChart)
        pane = self.query_one("#drift-chart-pane")
        hist = self.query_one("#drift-hist", AnsiChart)
        with self.app.batch_update():
            table.clear()
            table.border_title = f"Features · {self.window} · loading…"
            table.border_subtitle = ""
            chart.set_drawer(None)
            chart.update(chart_text if chart_text is not None else Text("Loading…", style="dim"))
            pane.border_title = "PSI over time"
            pane.border_subtitle = ""
            hist.set_drawer(None)
            hist.update(Text("—", style="dim"))
            hist.border_title = "Histogram"
            hist.border_subtitle = ""

    def action_pick_model(self) -> None:
        current = self.target.key if self.target else self.want

        def chosen(key: tuple[str, str] | None) -> None:
            if key:
                self._switch_model(key)

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
        table = self.query_one("#drift-features", DataTable)
        for name in [f.feature for f in self.report.features]:
            table.update_cell(name, "feature", literal(("● " if name in self.marked else "") + name))
        self._draw_chart()

    def action_open_catalog(self) -> None:
        if self.target is None or not self.target.storage_uri:
            self.notify("The served version is not known (no storageUri from Kubernetes).", severity="warning")
            return
        self._find_version(self.target.storage_uri)

    @work(thread=True, exclusive=True, group="drift-catalog", exit_on_error=False)
    def _find_version(self, uri: str) -> None:
        try:
            record = self.app.catalog.version_by_artifact_uri(uri)
        except ConsoleError as error:
            self.app.call_from_thread(self.notify, error.message, severity="error")
            return
        if record is None:
            self.app.call_from_thread(self.notify, f"No catalog version has artifact {uri}.", severity="warning")
            return
        if hasattr(self.app, "show_catalog_version"):
            self.app.call_from_thread(self.app.show_catalog_version, record.model, record.version)


def _plotted(point: Any) -> float | None:
    """A PSI worth drawing: none where there is no data or too few samples (gaps, never 0)."""
    if point.status in ("no-data", "too-few-samples"):
        return None
    return point.psi


def _status_rank(status: str) -> int:
    order = ("drift", "warn", "ok", "too-few-samples", "no-data")
    return order.index(status) if status in order else len(order)


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    for unit, size in (("h", 3600), ("m", 60)):
        if s >= size and s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"
