"""Kubeflow Pipelines runs (key 2): which run failed, which task failed and why; terminate, retry.

The runs table is paged in from KFP (the first page fast, more as the cursor nears the end) and
kept live by a self-scheduling refresh that re-reads the head page and every active run, updating
rows by key. The detail puts the failing task's error at the top, then the task tree (state,
timings, pod) and the state history.

Cross-screen contract: `app.selected_run_id` is the run this screen shows. The screen keeps it in
step with its selection (the highlighted row, or None when no run is shown), and on resume it selects
the run named there when that differs, so the catalog side can jump back to a version's run by
setting it and calling `app.action_show_screen("pipelines")`. A requested run that is not in the
list is shown alone: the table cursor is hidden (no row claims to be it) until the cursor moves, and
t / R act only on a highlighted row; a run KFP does not have says "not found".
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widgets import DataTable, Input, OptionList, Static
from textual.widgets.option_list import Option

from adapters.errors import ConsoleError, DataError, InvalidInput, NotFound
from console.safe_text import safe
from screens.action_flow import ActionFlowMixin
from screens.filter_input import FilterInput
from screens.list_table import ListTable
from screens.header import StatusHeader
from screens.keybar import KeyBar
from screens.pipelines_view import (
    STATE_CYCLE,
    ProducedVersion,
    RunPager,
    RunQuery,
    clock_dt,
    filter_summary,
    literal,
    refresh_runs,
    render_detail,
    row_cells,
    state_text,
)

# KFP sends every run with its details and compiled pipeline (~15 KB each): ask for what fills the
# table, and page in more as the cursor nears the end
FIRST_PAGE = 30
PAGE = 200
LOAD_MORE_MARGIN = 25
REFRESH_SECONDS = 5.0
MAX_BACKOFF = 60.0
DETAIL_DEBOUNCE = 0.15
FILTER_DEBOUNCE = 0.3
COLUMNS = (("state", "state"), ("run", "name"), ("experiment", "experiment"), ("started", "started"),
           ("duration", "duration"))


class RunsTable(ListTable):
    """The runs table. While a requested run that is not listed is shown, its cursor is hidden; the
    first cursor key (or a click) shows it again, which highlights a row and so selects it."""

    def _reveal(self) -> bool:
        if self.show_cursor:
            return False
        self.show_cursor = True  # posts RowHighlighted for the row under the cursor
        return True

    def action_cursor_up(self) -> None:
        if not self._reveal():
            super().action_cursor_up()

    def action_cursor_down(self) -> None:
        if not self._reveal():
            super().action_cursor_down()

    def action_page_up(self) -> None:
        if not self._reveal():
            super().action_page_up()

    def action_page_down(self) -> None:
        if not self._reveal():
            super().action_page_down()

    def action_scroll_top(self) -> None:
        self._reveal()
        super().action_scroll_top()

    def action_scroll_bottom(self) -> None:
        self._reveal()
        super().action_scroll_bottom()

    def action_select_cursor(self) -> None:
        if not self._reveal():
            super().action_select_cursor()

    def _on_click(self, event: Any) -> None:
        # runs before DataTable's own click handler (Textual calls both, subclass first)
        if not self.show_cursor and event.style.meta.get("row", -1) >= 0:
            self.show_cursor = True


class PipelinesScreen(ActionFlowMixin, Screen):
    screen_title = "Pipelines"
    BINDINGS = [
        Binding("slash", "filter", "Filter", priority=True),
        Binding("escape", "leave_filter", "Clear and leave the filter", show=False),
        Binding("s", "cycle_state", "State"),
        Binding("e", "cycle_experiment", "Experiment"),
        Binding("f", "failed_first", "Failed first"),
        Binding("t", "terminate", "Terminate"),
        Binding("R", "retry", "Retry"),
        Binding("m", "models", "Models"),
        Binding("l", "logs", "Logs"),
        Binding("r", "refresh", "Refresh"),
    ]
    HELP_NOTES = ("Runs refresh every few seconds while this screen is shown. Enter or tab moves to the "
                  "detail (scroll it with the arrows); esc goes back. s cycles the state filter, e the "
                  "experiment, / filters by name, f puts failed runs first. t terminates a running run, "
                  "R retries a failed one (both ask for a reason and are audited). m opens the catalog "
                  "versions the run produced.")
    DEFAULT_CSS = """
    PipelinesScreen #runs-bar { height: 1; }
    PipelinesScreen #runs-filter { width: 1fr; height: 1; border: none; padding: 0 1; background: $boost; }
    PipelinesScreen #runs-filter:focus { background: $accent 30%; }
    PipelinesScreen #runs-summary { width: auto; height: 1; padding: 0 0 0 1; }
    PipelinesScreen #runs { height: 42%; min-height: 6; border: round $primary 50%; }
    PipelinesScreen #runs:focus { border: round $accent; }
    PipelinesScreen #run-detail { height: 1fr; border: round $primary 50%; padding: 0 1; }
    PipelinesScreen #run-detail:focus { border: round $accent; }
    PipelinesScreen #runs-status { height: auto; max-height: 3; padding: 0 1; }
    """

    # -- messages (workers -> UI) -----------------------------------------------------------
    class RunsPage(Message):
        def __init__(self, generation: int, pager: RunPager, runs: list, append: bool,
                     experiments: dict[str, str] | None, note: str | None = None):
            super().__init__()
            self.generation, self.pager, self.runs, self.append = generation, pager, runs, append
            self.experiments, self.note = experiments, note

    class ExperimentsLoaded(Message):
        def __init__(self, experiments: dict[str, str], error: str | None):
            super().__init__()
            self.experiments, self.error = experiments, error

    class Refreshed(Message):
        def __init__(self, generation: int, runs: list, vanished: list[str], totals: list[int]):
            super().__init__()
            self.generation, self.runs, self.vanished, self.totals = generation, runs, vanished, totals

    class DetailLoaded(Message):
        def __init__(self, run: Any, versions: list[ProducedVersion], catalog_note: str | None):
            super().__init__()
            self.run, self.versions, self.catalog_note = run, versions, catalog_note

    class DetailFailed(Message):
        def __init__(self, run_id: str, error: ConsoleError):
            super().__init__()
            self.run_id, self.error = run_id, error

    class Failed(Message):
        def __init__(self, panel: str, generation: int, error: ConsoleError, retry: bool = True):
            super().__init__()
            self.panel, self.generation, self.error, self.retry = panel, generation, error, retry

    class VersionsFound(Message):
        def __init__(self, run_id: str, versions: list[ProducedVersion], error: str | None = None):
            super().__init__()
            self.run_id, self.versions, self.error = run_id, versions, error

    def __init__(self) -> None:
        super().__init__()
        self.query_state = RunQuery()
        self.generation = 0
        self.pager: RunPager | None = None
        self.runs: dict[str, Any] = {}  # run_id -> Run, the rows of the table
        self.experiments: dict[str, str] = {}  # experiment_id -> display name
        self.selected_run_id: str | None = None
        self._outside = False  # selected_run_id was requested from another screen and is not a listed row
        self.detail_run: Any = None
        self.detail_versions: list[ProducedVersion] = []
        self.detail_catalog_note: str | None = None
        self.detail_note: str | None = None
        self.state_message: str | None = None  # a backend problem, shown until the next success
        self.last_ok: float | None = None
        self.failures = 0
        self.retry_in: float | None = None
        self._loaded_generation: int | None = None
        self._loading_more = False
        self._busy = False
        self._active = False
        self._timer: Timer | None = None
        self._detail_timer: Timer | None = None
        self._filter_timer: Timer | None = None
        self._client: Any = None
        self._name_width = 0

    def compose(self) -> ComposeResult:
        yield StatusHeader(self.screen_title)
        with Horizontal(id="runs-bar"):
            yield FilterInput(placeholder="/ filter runs by name", id="runs-filter")
            yield Static("", id="runs-summary", markup=False)
        table = RunsTable(id="runs", cursor_type="row", zebra_stripes=False)
        table.border_title = "Runs"
        yield table
        with VerticalScroll(id="run-detail"):
            yield Static(Text("Loading runs…", style="dim"), id="run-detail-body", markup=False)
        yield Static("", id="runs-status", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#run-detail").border_title = "Run detail"
        table = self.query_one("#runs", DataTable)
        widths = self._column_widths(self.app.size.width)
        self._name_width = widths["name"]
        for label, key in COLUMNS:
            table.add_column(label, key=key, width=widths[key])
        table.focus()
        self._show_summary()
        self._active = True
        self.reload()

    # -- layout ----------------------------------------------------------------------------
    @staticmethod
    def _column_widths(width: int) -> dict[str, int]:
        experiment = 14 if width < 100 else 22
        fixed = {"state": 11, "experiment": experiment, "started": 11, "duration": 8}
        # border 2, scrollbar 2, one cell of padding on each side of every column
        name = max(12, width - 4 - 2 * len(COLUMNS) - sum(fixed.values()))
        return {**fixed, "name": name}

    def on_resize(self) -> None:
        table = self.query_one("#runs", DataTable)
        widths = self._column_widths(self.size.width)
        changed = False
        for key, column in table.columns.items():
            wanted = widths.get(str(key.value))
            if wanted and column.width != wanted:
                column.width = wanted
                changed = True
        if widths["name"] != self._name_width:
            self._name_width = widths["name"]
            with self.app.batch_update():
                for run_id, run in self.runs.items():
                    table.update_cell(run_id, "name", self._cells(run)[1])
        if changed:
            table.refresh(layout=True)
            table._require_update_dimensions = True  # DataTable recomputes its virtual size on idle
        self._render_detail()

    # -- screen life -----------------------------------------------------------------------
    def on_screen_suspend(self) -> None:
        self._active = False
        self._stop_timer()

    def on_screen_resume(self) -> None:
        was_active = self._active
        self._active = True
        wanted = getattr(self.app, "selected_run_id", None)
        if wanted and wanted != self.selected_run_id:
            self.select_run(wanted)
        if not was_active and self._loaded_generation is not None and not self._busy:
            self._schedule(0.05)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _schedule(self, delay: float) -> None:
        self._stop_timer()
        if self._active:
            self._timer = self.set_timer(max(0.01, delay), self._tick)

    def _tick(self) -> None:
        self._timer = None
        if not self._active or self._busy:
            return
        if self._loaded_generation != self.generation:
            self.reload(keep_state=True)
            return
        self._busy = True
        known_active = [run_id for run_id, run in self.runs.items() if not run.finished]
        if self.detail_run is not None and not self.detail_run.finished and self.detail_run.run_id not in known_active:
            known_active.append(self.detail_run.run_id)
        self._set_loading(True)
        self._refresh(self.query_state, self.generation, known_active, self.selected_run_id)

    # -- loading ---------------------------------------------------------------------------
    def reload(self, *, keep_state: bool = False) -> None:
        """List from the first page with the current query."""
        self.generation += 1
        self._loading_more = False
        self._busy = True
        self._stop_timer()
        self._set_loading(True)
        if not keep_state:
            self._set_status("")
        self._load_first(self.query_state, self.generation, not self.experiments)

    def _get_client(self) -> Any:
        client = self.app.services.pipelines()
        self._client = client
        return client

    @work(thread=True, group="pipelines-list", exclusive=True, exit_on_error=False)
    def _load_first(self, query: RunQuery, generation: int, want_experiments: bool) -> None:
        try:
            client = self._get_client()
        except Exception as exc:  # noqa: BLE001 - a worker must always answer
            error = as_console_error(exc)
            self.post_message(self.Failed("runs", generation, error, retry=False))
            return
        try:
            pager = RunPager(client, query)
            runs = pager.next_page(FIRST_PAGE)
        except Exception as exc:  # noqa: BLE001 - a worker must always answer
            error = as_console_error(exc)
            self.post_message(self.Failed("runs", generation, error))
            return
        self.post_message(self.RunsPage(generation, pager, runs, False, None))
        if want_experiments:  # after the first page, so the rows appear first; names follow
            try:
                experiments = {e.experiment_id: e.display_name for e in client.list_experiments()}
            except Exception as exc:  # noqa: BLE001 - the runs still show, with experiment ids
                self.post_message(self.ExperimentsLoaded({}, as_console_error(exc).message))
                return
            self.post_message(self.ExperimentsLoaded(experiments, None))

    @work(thread=True, group="pipelines-more", exclusive=True, exit_on_error=False)
    def _load_more(self, pager: RunPager, generation: int) -> None:
        restarts = pager.restarts
        try:
            runs = pager.next_page(PAGE)
        except Exception as exc:  # noqa: BLE001 - a worker must always answer
            error = as_console_error(exc)
            self.post_message(self.Failed("more", generation, error))
            return
        note = None
        if pager.restarts != restarts:
            note = "KFP no longer accepted the page token; listing resumed from the last run shown"
        self.post_message(self.RunsPage(generation, pager, runs, True, None, note))

    @work(thread=True, group="pipelines-refresh", exclusive=True, exit_on_error=False)
    def _refresh(self, query: RunQuery, generation: int, known_active: list[str], selected: str | None) -> None:
        try:
            client = self._get_client()
            runs, vanished, totals = refresh_runs(client, query, known_active)
        except Exception as exc:  # noqa: BLE001 - a worker must always answer
            error = as_console_error(exc)
            self.post_message(self.Failed("refresh", generation, error))
            return
        self.post_message(self.Refreshed(generation, runs, vanished, totals))
        by_id = {run.run_id: run for run in runs}
        if selected and selected not in vanished:
            current = by_id.get(selected)
            shown = self.detail_run
            if current is None or not current.finished or shown is None or shown.run_id != selected \
                    or shown.state != current.state:
                self._load_detail_now(client, selected)

    def _load_detail_now(self, client: Any, run_id: str) -> None:
        """(worker thread) get one run and the catalog versions it produced."""
        try:
            run = client.get_run(run_id)
        except Exception as exc:  # noqa: BLE001 - a worker must always answer
            error = as_console_error(exc)
            self.post_message(self.DetailFailed(run_id, error))
            return
        versions, note = self._versions_of(run_id)
        self.post_message(self.DetailLoaded(run, versions, note))

    def _versions_of(self, run_id: str) -> tuple[list[ProducedVersion], str | None]:
        try:
            records = self.app.catalog.versions_by_run_id(run_id)
        except Exception as exc:  # noqa: BLE001 - the catalog may be unavailable or closing
            return [], f"catalog: {as_console_error(exc).message}"
        versions = [ProducedVersion(r.model, str(r.version)) for r in records]
        return versions, None if versions else "produced no catalog version"

    @work(thread=True, group="pipelines-detail", exclusive=True, exit_on_error=False)
    def _fetch_detail(self, run_id: str) -> None:
        try:
            client = self._get_client()
        except Exception as exc:  # noqa: BLE001 - a worker must always answer
            error = as_console_error(exc)
            self.post_message(self.DetailFailed(run_id, error))
            return
        self._load_detail_now(client, run_id)

    @work(thread=True, group="pipelines-versions", exclusive=True, exit_on_error=False)
    def _find_versions(self, run_id: str) -> None:
        try:
            records = self.app.catalog.versions_by_run_id(run_id)
        except Exception as exc:  # noqa: BLE001 - a worker must always answer
            error = as_console_error(exc)
            self.post_message(self.VersionsFound(run_id, [], error.message))
            return
        self.post_message(self.VersionsFound(run_id, [ProducedVersion(r.model, str(r.version)) for r in records]))

    # -- rendering -------------------------------------------------------------------------
    def _experiment_name(self, experiment_id: str | None) -> str:
        if not experiment_id:
            return ""
        return self.experiments.get(experiment_id) or experiment_id[:8]

    def _now(self) -> Any:
        return clock_dt(self.app.clock())

    def _cells(self, run: Any) -> tuple:
        return row_cells(run, self._experiment_name(run.experiment_id), self._now(), self.query_state.sort_key(run),
                         self._name_width)

    def on_pipelines_screen_runs_page(self, message: RunsPage) -> None:
        if message.generation != self.generation:
            return
        self._busy = False if not message.append else self._busy
        self._loading_more = False
        if message.experiments is not None:
            self.experiments = message.experiments
        self.pager = message.pager
        table = self.query_one("#runs", DataTable)
        with self.app.batch_update():
            if not message.append:
                table.clear()
                self.runs = {}
            for run in message.runs:
                if run.run_id in self.runs:
                    continue
                self.runs[run.run_id] = run
                table.add_row(*self._cells(run), key=run.run_id)
        self._ok()
        if not message.append:
            self._loaded_generation = message.generation
            self._set_loading(False)
            if self._outside and self.selected_run_id not in self.runs:
                self._render_detail()  # the requested run stays shown alone; no row is highlighted
            else:
                target = self.selected_run_id if self.selected_run_id in self.runs else None
                if target is None and message.runs:
                    target = next(iter(self.runs))
                if target is not None:
                    self._show_cursor_on(target)
                    self._select(target)
                else:
                    self._clear_selection()
            self._schedule(REFRESH_SECONDS)
        if message.note:
            self._set_status(message.note)
        elif message.append and not self.state_message:
            self._set_status("")  # "loading more runs…" is done
        self._update_titles()
        self._show_summary()

    def on_pipelines_screen_experiments_loaded(self, message: ExperimentsLoaded) -> None:
        if message.error:
            self._set_status(f"experiment names unavailable ({message.error}); showing experiment ids", error=True)
            return
        self.experiments = message.experiments
        table = self.query_one("#runs", DataTable)
        with self.app.batch_update():
            for run_id, run in self.runs.items():
                table.update_cell(run_id, "experiment", self._cells(run)[2])
        self._show_summary()
        self._render_detail()

    def on_pipelines_screen_refreshed(self, message: Refreshed) -> None:
        if message.generation != self.generation:
            return  # a reload is under way; it schedules the next refresh
        self._busy = False
        self._set_loading(False)
        table = self.query_one("#runs", DataTable)
        query = self.query_state
        oldest = min((r.created_at for r in self.runs.values() if r.created_at), default=None)
        complete = self.pager is None or self.pager.done
        resort = False
        with self.app.batch_update():
            for run in message.runs:
                old = self.runs.get(run.run_id)
                if old is not None:
                    if not query.matches(run):
                        self._remove_row(run.run_id)
                        continue
                    self.runs[run.run_id] = run
                    if query.rank(old) != query.rank(run):
                        resort = True
                    self._update_row(run, old)
                elif query.matches(run) and (complete or oldest is None or
                                             (run.created_at is not None and run.created_at >= oldest)):
                    self.runs[run.run_id] = run
                    table.add_row(*self._cells(run), key=run.run_id)
                    resort = True
            for run_id in message.vanished:
                self._mark_gone(run_id)
            now = self._now()
            for run_id, run in self.runs.items():  # the durations of running runs move with the clock
                if not run.finished and run.state != "GONE":
                    table.update_cell(run_id, "duration", literal(_duration(run, now)))
            if resort:
                self._resort()
            if self._outside and self.selected_run_id in self.runs:
                self._show_cursor_on(self.selected_run_id)
            elif not self._outside and self.runs:
                key = self._highlighted_key()
                if key is not None and key != self.selected_run_id:
                    self._select(key)  # a removed row moved the cursor: follow it
            elif not self.runs and self.selected_run_id is not None and not self._outside:
                self._clear_selection()
        if self.pager is not None and len(message.totals) == len(self.pager.segments):
            self.pager.totals = dict(enumerate(message.totals))
        self._ok()
        self._update_titles()
        self._schedule(REFRESH_SECONDS)

    def _update_row(self, run: Any, old: Any) -> None:
        """Update the cells of one row that changed (by key, no refill)."""
        table = self.query_one("#runs", DataTable)
        cells = self._cells(run)
        if run.state != old.state:
            table.update_cell(run.run_id, "state", cells[0])
        if run.state != old.state or run.display_name != old.display_name:
            table.update_cell(run.run_id, "name", cells[1])
        if run.experiment_id != old.experiment_id:
            table.update_cell(run.run_id, "experiment", cells[2])
        if self.query_state.rank(run) != self.query_state.rank(old) or run.created_at != old.created_at:
            table.update_cell(run.run_id, "started", cells[3])  # it carries the sort key
        if run.state != old.state or run.finished_at != old.finished_at or not run.finished:
            table.update_cell(run.run_id, "duration", cells[4])

    def _remove_row(self, run_id: str) -> None:
        table = self.query_one("#runs", DataTable)
        self.runs.pop(run_id, None)
        try:
            table.remove_row(run_id)
        except Exception:  # already gone
            pass

    def _mark_gone(self, run_id: str) -> None:
        run = self.runs.get(run_id)
        if run is None:
            return
        run.state = "GONE"
        table = self.query_one("#runs", DataTable)
        table.update_cell(run_id, "state", state_text("GONE"))
        if self.selected_run_id == run_id:
            self.detail_note = "this run no longer exists on KFP (deleted?); r reloads the list"
            self._render_detail()

    def _resort(self) -> None:
        table = self.query_one("#runs", DataTable)
        selected = self.selected_run_id
        table.sort("started", key=lambda cell: getattr(cell, "sort_key", ()))
        if selected in self.runs:
            table.move_cursor(row=table.get_row_index(selected), animate=False)

    def on_pipelines_screen_failed(self, message: Failed) -> None:
        if message.generation != self.generation:
            return
        if message.panel == "more":
            self._loading_more = False
            self._set_status(f"loading more runs failed: {message.error.message} (move the cursor to try again)",
                             error=True)
            return
        self._busy = False
        self._set_loading(False)
        self.failures += 1
        if message.retry:
            delay = min(MAX_BACKOFF, 2.0 ** self.failures)
            self.retry_in = delay
            self.state_message = f"{_problem(message.error)}: {message.error.message} · retrying in {delay:g} s"
            self._schedule(delay)
        else:
            self.retry_in = None
            self.state_message = f"{_problem(message.error)}: {message.error.message}"
        self._set_status(self.state_message, error=True)
        self._update_titles()
        if not self.runs:
            self._render_detail()

    def on_pipelines_screen_detail_loaded(self, message: DetailLoaded) -> None:
        run = message.run
        if run.run_id != self.selected_run_id:
            return
        self.detail_run = run
        self.detail_versions = message.versions
        self.detail_catalog_note = message.catalog_note
        self.detail_note = None if run.run_id in self.runs else (
            "not in the list above (another filter or an older page)")
        old = self.runs.get(run.run_id)
        if old is not None:
            summary = _summary_of(run)
            self.runs[run.run_id] = summary
            if old.state != run.state:
                with self.app.batch_update():
                    self._update_row(summary, old)
                    if self.query_state.rank(old) != self.query_state.rank(summary):
                        self._resort()
        self._render_detail()

    def on_pipelines_screen_detail_failed(self, message: DetailFailed) -> None:
        if message.run_id != self.selected_run_id:
            return
        if isinstance(message.error, NotFound):
            self._mark_gone(message.run_id)
        self.detail_note = f"{_problem(message.error)}: {message.error.message}"
        self._render_detail()

    def on_pipelines_screen_versions_found(self, message: VersionsFound) -> None:
        if message.error:
            self._set_status(f"catalog: {message.error}", error=True)
            return
        if not message.versions:
            self._set_status(f"run {message.run_id} produced no version in the catalog.")
            return
        if len(message.versions) == 1:
            self._jump_to_version(message.run_id, message.versions[0])
            return

        def chosen(version: ProducedVersion | None) -> None:
            if version is not None:
                self._jump_to_version(message.run_id, version)

        self.app.push_screen(VersionPickerScreen(message.versions), chosen)

    def _jump_to_version(self, run_id: str, version: ProducedVersion) -> None:
        self.app.selected_run_id = run_id
        if hasattr(self.app, "show_catalog_version"):
            self.app.show_catalog_version(version.model, version.version)
        else:
            self.app.action_show_screen("catalog")

    def _render_detail(self) -> None:
        body = self.query_one("#run-detail-body", Static)
        pane = self.query_one("#run-detail")
        width = max(20, pane.size.width - 2 if pane.size.width else 76)
        run = self.detail_run
        if run is not None and run.run_id == self.selected_run_id:
            body.update(render_detail(run, experiment=self._experiment_name(run.experiment_id), now=self._now(),
                                      width=width, versions=self.detail_versions,
                                      catalog_note=self.detail_catalog_note, note=self.detail_note))
            pane.border_title = literal(f"Run detail · {run.display_name}")
            return
        text = Text()
        if self.state_message and not self.runs:
            text.append("Kubeflow Pipelines is not available\n\n", style="bold red")
            text.append(safe(self.state_message) + "\n", style="red")
            text.append("\nThe list fills as soon as KFP answers; r retries now.", style="dim")
        elif self.selected_run_id and self.detail_note:
            text.append(f"run {safe(self.selected_run_id)}\n", style="bold")
            text.append(safe(self.detail_note), style="red")
        elif self.selected_run_id:
            text.append("Loading…", style="dim")
        elif self._loaded_generation == self.generation and not self.runs:
            text.append("No runs match the filters.", style="dim")
            text.append("\n\ns cycles the state, e the experiment, / edits the name filter.", style="dim")
        else:
            text.append("Loading runs…", style="dim")
        body.update(text)
        pane.border_title = "Run detail"

    def _ok(self) -> None:
        self.failures = 0
        self.retry_in = None
        if self.state_message:
            self.state_message = None
            self._set_status("")
        self.last_ok = self.app.clock()

    def _update_titles(self) -> None:
        table = self.query_one("#runs", DataTable)
        total = self.pager.total if self.pager is not None else None
        shown = table.row_count
        title = f"Runs {shown}/{total}" if total is not None else f"Runs {shown}"
        if self.pager is not None and not self.pager.done:
            title += " · more below"
        elif shown == 0 and self._loaded_generation == self.generation and not self.state_message:
            title += " · no runs match the filters"
        if self.state_message:
            title += " · KFP unavailable"
        if self.last_ok is not None:
            from datetime import datetime

            title += " · updated " + datetime.fromtimestamp(self.last_ok).strftime("%H:%M:%S")
        table.border_title = title

    def _set_loading(self, loading: bool) -> None:
        table = self.query_one("#runs", DataTable)
        table.border_subtitle = "loading…" if loading else ""

    def _show_summary(self) -> None:
        name = self._experiment_name(self.query_state.experiment_id) if self.query_state.experiment_id else None
        self.query_one("#runs-summary", Static).update(filter_summary(self.query_state, name))

    def _set_status(self, text: str, *, error: bool = False) -> None:
        self.query_one("#runs-status", Static).update(Text(safe(text), style="red" if error else "dim"))

    # -- selection -------------------------------------------------------------------------
    def _select(self, run_id: str) -> None:
        self.app.selected_run_id = run_id
        if run_id != self.selected_run_id:
            self.selected_run_id = run_id
            self.detail_note = None
            if self.detail_run is None or self.detail_run.run_id != run_id:
                self._render_detail()
        if self._detail_timer is not None:
            self._detail_timer.stop()
        self._detail_timer = self.set_timer(DETAIL_DEBOUNCE, lambda: self._fetch_detail(run_id))

    def _clear_selection(self) -> None:
        """No run is shown (the list is empty): the detail says so and no action has a target."""
        if self._detail_timer is not None:
            self._detail_timer.stop()
            self._detail_timer = None
        self._outside = False
        self.selected_run_id = None
        self.detail_run = None
        self.detail_note = None
        self.app.selected_run_id = None
        self._render_detail()

    def _show_cursor_on(self, run_id: str) -> None:
        """Highlight a listed run (showing the cursor again if a requested run had hidden it)."""
        table = self.query_one("#runs", DataTable)
        self._outside = False
        table.move_cursor(row=table.get_row_index(run_id))
        if not table.show_cursor:
            table.show_cursor = True

    def _highlighted_key(self) -> str | None:
        """The run of the highlighted row (None when the table is empty or its cursor hidden)."""
        table = self.query_one("#runs", DataTable)
        if not table.row_count or not table.show_cursor or self._outside:
            return None
        try:
            return table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        except Exception:  # noqa: BLE001 - a cursor past the rows: nothing highlighted
            return None

    def select_run(self, run_id: str) -> None:
        """Show `run_id` (from another screen): move the cursor to it when it is listed; otherwise
        show it alone, with the cursor hidden so no other row passes for it."""
        if run_id in self.runs:
            self._show_cursor_on(run_id)
        else:
            self._outside = True
            self.query_one("#runs", DataTable).show_cursor = False
        self._select(run_id)

    def selected_run(self) -> Any | None:
        """The target of t and R: the highlighted row, and only that (the detail follows it)."""
        key = self._highlighted_key()
        if key is None or key not in self.runs:
            return None
        if key != self.selected_run_id:
            self._select(key)  # never act on one run while the detail shows another
        return self.runs[key]

    @on(DataTable.RowHighlighted, "#runs")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        table = event.data_table
        if self._outside:  # the cursor moved: the highlighted row is shown again
            self._outside = False
            table.show_cursor = True
        run_id = self._highlighted_key()  # the row now under the cursor, not a stale event's
        if run_id:
            self._select(run_id)
        pager = self.pager
        if (pager is not None and not pager.done and not self._loading_more
                and self._loaded_generation == self.generation
                and event.cursor_row >= table.row_count - LOAD_MORE_MARGIN):
            self._loading_more = True
            self._set_status("loading more runs…")
            self._load_more(pager, self.generation)

    @on(DataTable.RowSelected, "#runs")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if self._outside:  # enter or a click on the hidden cursor's row: show that row
            self._outside = False
            event.data_table.show_cursor = True
            return
        self.query_one("#run-detail").focus()

    @on(Input.Changed, "#runs-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        text = event.value.strip()
        if text == self.query_state.text:
            return
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(FILTER_DEBOUNCE, lambda: self._set_query(text=text))

    @on(Input.Submitted, "#runs-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#runs-filter", FilterInput).close(self.query_one("#runs", DataTable))

    def _set_query(self, **changes: Any) -> None:
        from dataclasses import replace

        query = replace(self.query_state, **changes)
        if query == self.query_state:
            return
        self.query_state = query
        if self._outside:  # new filters: the list decides the selection again
            self._outside = False
            self.query_one("#runs", DataTable).show_cursor = True
        self._show_summary()
        self.reload()

    # -- actions ---------------------------------------------------------------------------
    def action_filter(self) -> None:
        self.query_one("#runs-filter", FilterInput).open()

    def action_leave_filter(self) -> None:
        self.query_one("#runs-filter", FilterInput).clear_and_close(self.query_one("#runs", DataTable))

    def action_cycle_state(self) -> None:
        states = list(STATE_CYCLE)
        current = self.query_state.state
        index = states.index(current) if current in states else 0
        self._set_query(state=states[(index + 1) % len(states)])

    def action_cycle_experiment(self) -> None:
        if not self.experiments:
            self._set_status("No experiments loaded yet.")
            return
        ids: list[str | None] = [None] + sorted(self.experiments, key=lambda i: self.experiments[i].lower())
        current = self.query_state.experiment_id
        index = ids.index(current) if current in ids else 0
        self._set_query(experiment_id=ids[(index + 1) % len(ids)])

    def action_failed_first(self) -> None:
        self._set_query(failed_first=not self.query_state.failed_first)

    def action_refresh(self) -> None:
        self.failures = 0
        if self._busy:
            return
        if self._loaded_generation != self.generation:
            self.reload(keep_state=True)
        else:
            self._schedule(0)

    def _action_client(self) -> Any | None:
        try:
            return self._client or self.app.services.pipelines()
        except ConsoleError as error:
            self._set_status(error.message, error=True)
            return None

    def _run_action(self, cls: Any) -> None:
        from textual.worker import WorkerState

        if any(w.group == "action" and w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in self.workers):
            self._set_status("A change is being prepared; wait for its confirmation.")
            return
        run = self.selected_run()
        if run is None:
            self._set_status("Select a run first.")
            return
        client = self._action_client()
        if client is None:
            return
        self.start_action(cls(client, run.run_id, kube=lambda: self.app.services.kube()),
                          on_done=lambda outcome: self.action_refresh())

    def action_terminate(self) -> None:
        from console.pipeline_actions import TerminateRun

        self._run_action(TerminateRun)

    def action_retry(self) -> None:
        from console.pipeline_actions import RetryRun

        self._run_action(RetryRun)

    def action_models(self) -> None:
        run_id = self.selected_run_id  # the run the detail shows (read-only, so a requested run is fine)
        if run_id is None:
            self._set_status("Select a run first.")
            return
        self._find_versions(run_id)

    def action_logs(self) -> None:
        """The failing task's pod logs (else the last task's): an OOMKilled trainer's last lines."""
        from screens.object_view import task_logs

        run = self.detail_run
        tasks = [t for t in (run.tasks if run is not None else []) if t.pod_name and t.parent_task_id]
        task = (run.failing_task if run is not None else None) or (tasks[-1] if tasks else None)
        if run is None or task is None or not task.pod_name:
            self._set_status("No task with a pod to show the logs of: select a run that has started.")
            return
        self.app.push_screen(task_logs(self.app.services, run, task))


def as_console_error(exc: Exception) -> ConsoleError:
    """Expected failures pass through; a bug becomes a visible state (and a log line), not a stall."""
    if isinstance(exc, ConsoleError):
        return exc
    import logging

    logging.getLogger("mlops-console.pipelines").error("unexpected error in a worker", exc_info=exc)
    return DataError(f"unexpected {type(exc).__name__}: {exc} (details in the log)")


def _duration(run: Any, now: Any) -> str:
    from screens.pipelines_view import fmt_duration

    return fmt_duration(run.duration(now))


def _summary_of(run: Any) -> Any:
    """A run as the table keeps it (the listing's fields; the detail's tasks dropped)."""
    from dataclasses import replace

    return replace(run, tasks=[], has_details=False)


def _problem(error: ConsoleError) -> str:
    if isinstance(error, InvalidInput) and "URL" in error.message:
        return "Kubeflow Pipelines is not configured"
    return {
        "unavailable": "KFP unavailable",
        "forbidden": "KFP refused access",
        "not found": "not found",
        "invalid input": "KFP rejected the request",
        "page token expired": "page token expired",
    }.get(error.kind, f"KFP error ({error.kind})")


class VersionPickerScreen(ModalScreen[ProducedVersion | None]):
    """Which of the versions a run produced to open in the catalog."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    VersionPickerScreen { align: center middle; }
    VersionPickerScreen #picker-box { width: 60; max-width: 95%; height: auto; border: round $accent;
                                      background: $surface; padding: 0 1; }
    VersionPickerScreen #picker { height: auto; max-height: 12; }
    """

    def __init__(self, versions: list[ProducedVersion]):
        super().__init__()
        self.versions = versions

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box"):
            yield Static("This run produced several versions; open which one?", markup=False)
            yield OptionList(*[Option(Text(safe(f"{v.model} v{v.version}")), id=str(i))
                               for i, v in enumerate(self.versions)], id="picker")
            yield Static("enter opens · esc cancels", markup=False, classes="hint")

    def on_mount(self) -> None:
        self.query_one("#picker", OptionList).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.versions[int(event.option.id or 0)])
