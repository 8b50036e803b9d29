"""Kubeflow Pipelines runs (key 2): which run failed, which task failed and why; terminate, retry.

The runs table is paged in from KFP (the first page fast, more as the cursor nears the end) and
kept live by a self-scheduling refresh that re-reads the head page and every active run; the
listing and its merge rules are console/runs_paging.py, and the table repaints only the cells that
changed (screens/pipelines_widgets.py). The detail puts the failing task's error at the top, then
the task tree (state, timings, pod) and the state history.

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
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import DataTable

from adapters.errors import ConsoleError, DataError, NotFound
from adapters.pipelines import Run
from console.runs_paging import GONE, STATE_CYCLE, Changes, Refresh, RunList, RunPager, RunQuery, refresh_runs
from screens.base import Backoff, ConsoleScreen, retry_text
from screens.pipelines_modals import open_produced_version
from screens.pipelines_view import (
    COLUMNS,
    ProducedVersion,
    clock_dt,
    column_widths,
    detail_placeholder,
    filter_summary,
    problem,
    render_detail,
    row_cells,
    runs_title,
)
from screens.pipelines_widgets import RunDetail, RunsTable
from screens.repaint import TextPane

# KFP sends every run with its details and compiled pipeline (~15 KB each): ask for what fills the
# table, and page in more as the cursor nears the end
FIRST_PAGE = 30
PAGE = 200
LOAD_MORE_MARGIN = 25
REFRESH_SECONDS = 5.0
BACKOFF = (2.0, 4.0, 8.0, 16.0, 32.0, 60.0)
DETAIL_DEBOUNCE = 0.15
FILTER_DEBOUNCE = 0.3


class PipelinesScreen(ConsoleScreen):
    screen_title = "Pipelines"
    BINDINGS = [
        Binding("slash", "filter", "Filter", priority=True),  # as the base's, but shown in the key bar
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
        def __init__(self, generation: int, pager: RunPager, runs: list[Run], append: bool, note: str | None = None):
            super().__init__()
            self.generation, self.pager, self.runs, self.append, self.note = generation, pager, runs, append, note

    class ExperimentsLoaded(Message):
        def __init__(self, experiments: dict[str, str], error: str | None):
            super().__init__()
            self.experiments, self.error = experiments, error

    class Refreshed(Message):
        def __init__(self, generation: int, refresh: Refresh):
            super().__init__()
            self.generation, self.refresh = generation, refresh

    class DetailLoaded(Message):
        def __init__(self, run: Run, versions: list[ProducedVersion], catalog_note: str | None):
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
        self.listing = RunList(self.query_state)  # the rows of the table
        self.experiments: dict[str, str] = {}  # experiment_id -> display name
        self.selected_run_id: str | None = None
        self._outside = False  # selected_run_id was requested from another screen and is not a listed row
        self.detail_run: Run | None = None
        self.detail_versions: list[ProducedVersion] = []
        self.detail_catalog_note: str | None = None
        self.detail_note: str | None = None
        self.state_message: str | None = None  # a backend problem, shown until the next success
        self.last_ok: float | None = None
        self._backoff = Backoff(BACKOFF)
        self._loaded_generation: int | None = None
        self._loading_more = False
        self._busy = False
        self._name_width = 0

    @property
    def runs(self) -> dict[str, Run]:
        return self.listing.runs

    @property
    def pager(self) -> RunPager | None:
        return self.listing.pager

    def compose(self) -> ComposeResult:
        yield self.header()
        with Horizontal(id="runs-bar"):
            yield self.filter_input("/ filter runs by name", id="runs-filter")
            yield TextPane(id="runs-summary")
        self.table = RunsTable(id="runs", cursor_type="row", zebra_stripes=False)
        self.table.border_title = "Runs"
        yield self.table
        yield RunDetail(Text("Loading runs…", style="dim"), id="run-detail", body_id="run-detail-body")
        yield self.status_line(id="runs-status")
        yield self.key_bar()

    def on_mount(self) -> None:
        widths = column_widths(self.app.size.width)
        self._name_width = widths["name"]
        for label, key in COLUMNS:
            self.table.add_column(label, key=key, width=widths[key])
        self.table.focus()
        self._show_summary()

    def focus_after_filter(self) -> RunsTable:
        return self.table

    # -- layout ----------------------------------------------------------------------------
    def on_resize(self) -> None:
        widths = column_widths(self.size.width)
        self.table.set_widths(widths)
        if widths["name"] != self._name_width:
            self._name_width = widths["name"]
            self.table.redraw_column("name", {run_id: self._cells(run)[1] for run_id, run in self.runs.items()})
        self._render_detail()

    # -- screen life: live only while shown (ConsoleScreen) ------------------------------------
    def on_activate(self) -> None:
        if not self._busy:
            if self._loaded_generation == self.generation:
                self.schedule("refresh", 0.05, self._tick)
            else:
                self.reload(keep_state=True)
        wanted = getattr(self.app, "selected_run_id", None)
        if wanted and wanted != self.selected_run_id:
            self.select_run(wanted)

    def _tick(self) -> None:
        if self._busy:
            return
        if self._loaded_generation != self.generation:
            self.reload(keep_state=True)
            return
        self._busy = True
        known_active = self.listing.active_ids()
        detail = self.detail_run
        if detail is not None and not detail.finished and detail.run_id not in known_active:
            known_active.append(detail.run_id)
        self._refresh(self.query_state, self.generation, known_active, self.selected_run_id)

    # -- loading (workers) ----------------------------------------------------------------------
    def reload(self, *, keep_state: bool = False) -> None:
        """List from the first page with the current query."""
        self.generation += 1
        self._loading_more = False
        self._busy = True
        self.cancel("refresh")
        self.table.set_subtitle("loading…")
        if not keep_state:
            self.set_status("")
        self._load_first(self.query_state, self.generation, not self.experiments)

    @work(thread=True, group="pipelines-list", exclusive=True, exit_on_error=False)
    def _load_first(self, query: RunQuery, generation: int, want_experiments: bool) -> None:
        try:
            client = self.services.pipelines()
        except Exception as exc:  # noqa: BLE001 - a worker must always answer
            self.post_message(self.Failed("runs", generation, as_console_error(exc), retry=False))
            return
        try:
            pager = RunPager(client, query)
            runs = pager.next_page(FIRST_PAGE)
        except Exception as exc:  # noqa: BLE001 - a worker must always answer
            self.post_message(self.Failed("runs", generation, as_console_error(exc)))
            return
        self.post_message(self.RunsPage(generation, pager, runs, False))
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
            self.post_message(self.Failed("more", generation, as_console_error(exc)))
            return
        note = None
        if pager.restarts != restarts:
            note = "KFP no longer accepted the page token; listing resumed from the last run shown"
        self.post_message(self.RunsPage(generation, pager, runs, True, note))

    @work(thread=True, group="pipelines-refresh", exclusive=True, exit_on_error=False)
    def _refresh(self, query: RunQuery, generation: int, known_active: list[str], selected: str | None) -> None:
        try:
            client = self.services.pipelines()
            refresh = refresh_runs(client, query, known_active)
        except Exception as exc:  # noqa: BLE001 - a worker must always answer
            self.post_message(self.Failed("refresh", generation, as_console_error(exc)))
            return
        self.post_message(self.Refreshed(generation, refresh))
        if selected and selected not in refresh.vanished:
            current = next((run for run in refresh.runs if run.run_id == selected), None)
            shown = self.detail_run
            if current is None or not current.finished or shown is None or shown.run_id != selected \
                    or shown.state != current.state:
                self._load_detail_now(selected)

    def _load_detail_now(self, run_id: str) -> None:
        """(worker thread) get one run and the catalog versions it produced."""
        try:
            run = self.services.pipelines().get_run(run_id)
        except Exception as exc:  # noqa: BLE001 - a worker must always answer
            self.post_message(self.DetailFailed(run_id, as_console_error(exc)))
            return
        try:
            versions = self._produced(run_id)
        except Exception as exc:  # noqa: BLE001 - the catalog may be unavailable or closing
            self.post_message(self.DetailLoaded(run, [], f"catalog: {as_console_error(exc).message}"))
            return
        self.post_message(self.DetailLoaded(run, versions, None if versions else "produced no catalog version"))

    def _produced(self, run_id: str) -> list[ProducedVersion]:
        return [ProducedVersion(r.model, str(r.version)) for r in self.services.catalog.versions_by_run_id(run_id)]

    @work(thread=True, group="pipelines-detail", exclusive=True, exit_on_error=False)
    def _fetch_detail(self, run_id: str) -> None:
        self._load_detail_now(run_id)

    @work(thread=True, group="pipelines-versions", exclusive=True, exit_on_error=False)
    def _find_versions(self, run_id: str) -> None:
        try:
            self.post_message(self.VersionsFound(run_id, self._produced(run_id)))
        except Exception as exc:  # noqa: BLE001 - a worker must always answer
            self.post_message(self.VersionsFound(run_id, [], as_console_error(exc).message))

    # -- answers (UI thread) ------------------------------------------------------------------
    def on_pipelines_screen_runs_page(self, message: RunsPage) -> None:
        if message.generation != self.generation:
            return
        self._loading_more = False
        table = self.table
        with self.app.batch_update():
            if not message.append:
                self._busy = False
                self.listing = RunList(message.pager.query, message.pager)
                table.clear()
            for run in self.listing.extend(message.runs):
                table.put_row(run.run_id, self._cells(run))
        self._ok()
        if not message.append:
            self._loaded_generation = message.generation
            table.set_subtitle("")
            if self._outside and self.selected_run_id not in self.runs:
                self._render_detail()  # the requested run stays shown alone; no row is highlighted
            else:
                target = self.selected_run_id if self.selected_run_id in self.runs else next(iter(self.runs), None)
                if target is not None:
                    self._show_cursor_on(target)
                    self._select(target)
                else:
                    self._clear_selection()
            self.schedule("refresh", REFRESH_SECONDS, self._tick)
        if message.note:
            self.set_status(message.note)
        elif message.append and not self.state_message:
            self.set_status("")  # "loading more runs…" is done
        self._update_titles()
        self._show_summary()

    def on_pipelines_screen_experiments_loaded(self, message: ExperimentsLoaded) -> None:
        if message.error:
            self.set_status(f"experiment names unavailable ({message.error}); showing experiment ids", error=True)
            return
        self.experiments = message.experiments
        self.table.redraw_column("experiment", {run_id: self._cells(run)[2] for run_id, run in self.runs.items()})
        self._show_summary()
        self._render_detail()

    def on_pipelines_screen_refreshed(self, message: Refreshed) -> None:
        if message.generation != self.generation:
            return  # a reload is under way; it schedules the next refresh
        self._busy = False
        self._show_changes(self.listing.merge(message.refresh))
        if self._outside and self.selected_run_id in self.runs:
            self._show_cursor_on(self.selected_run_id)
        elif not self._outside and self.runs:
            key = self._highlighted_key()
            if key is not None and key != self.selected_run_id:
                self._select(key)  # a removed row moved the cursor: follow it
        elif not self.runs and self.selected_run_id is not None and not self._outside:
            self._clear_selection()
        self._ok()
        self._update_titles()
        self.schedule("refresh", REFRESH_SECONDS, self._tick)

    def _show_changes(self, changes: Changes) -> None:
        """Repaint what a merge changed, and the durations of running runs (they move with the clock);
        the table leaves alone the cells that look the same."""
        table = self.table
        rows = {run.run_id: run for run in changes.added + changes.updated}
        rows.update((run_id, self.runs[run_id]) for run_id in self.listing.active_ids())
        with self.app.batch_update():
            for run_id in changes.removed:
                table.drop_row(run_id)
            for run_id, run in rows.items():
                table.put_row(run_id, self._cells(run))
            if changes.resort:
                self._resort()
        gone = next((run for run in changes.updated if run.state == GONE and run.run_id == self.selected_run_id), None)
        if gone is not None:
            self.detail_note = "this run no longer exists on KFP (deleted?); r reloads the list"
            self._render_detail()

    def _resort(self) -> None:
        table = self.table
        table.sort("started", key=lambda cell: getattr(cell, "sort_key", ()))
        if self.selected_run_id in self.runs:
            table.move_cursor(row=table.get_row_index(self.selected_run_id), animate=False)

    def on_pipelines_screen_failed(self, message: Failed) -> None:
        if message.generation != self.generation:
            return
        error = message.error
        if message.panel == "more":
            self._loading_more = False
            self.set_status(f"loading more runs failed: {error.message} (move the cursor to try again)", error=True)
            return
        self._busy = False
        self.table.set_subtitle("")
        self.state_message = f"{problem(error)}: {error.message}"
        if message.retry:
            delay = self._backoff.next()
            self.state_message += f" · {retry_text(delay, self.app.clock())}"
            self.schedule("refresh", delay, self._tick)
        self.set_status(self.state_message, error=True)
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
        self.detail_note = None if run.run_id in self.runs else "not in the list above (another filter or an older page)"
        self._show_changes(self.listing.update(run))
        self._render_detail()

    def on_pipelines_screen_detail_failed(self, message: DetailFailed) -> None:
        if message.run_id != self.selected_run_id:
            return
        if isinstance(message.error, NotFound):
            gone = self.listing.mark_gone(message.run_id)
            if gone is not None:
                self.table.put_row(gone.run_id, self._cells(gone))
        self.detail_note = f"{problem(message.error)}: {message.error.message}"
        self._render_detail()

    def on_pipelines_screen_versions_found(self, message: VersionsFound) -> None:
        if message.error:
            self.set_status(f"catalog: {message.error}", error=True)
        elif not message.versions:
            self.set_status(f"run {message.run_id} produced no version in the catalog.")
        else:
            open_produced_version(self.app, message.run_id, message.versions)

    # -- rendering -------------------------------------------------------------------------
    def _experiment_name(self, experiment_id: str | None) -> str:
        if not experiment_id:
            return ""
        return self.experiments.get(experiment_id) or experiment_id[:8]

    def _cells(self, run: Run) -> tuple[Text, ...]:
        return row_cells(run, self._experiment_name(run.experiment_id), clock_dt(self.app.clock()),
                         self.query_state.sort_key(run), self._name_width)

    def _render_detail(self) -> None:
        pane = self.query_one(RunDetail)
        run = self.detail_run
        if run is None or run.run_id != self.selected_run_id:
            pane.show(detail_placeholder(
                unavailable=None if self.runs else self.state_message, selected=self.selected_run_id,
                note=self.detail_note, empty=self._loaded_generation == self.generation and not self.runs))
            return
        width = max(20, pane.size.width - 2 if pane.size.width else 76)
        pane.show(render_detail(run, experiment=self._experiment_name(run.experiment_id), now=clock_dt(self.app.clock()),
                                width=width, versions=self.detail_versions, catalog_note=self.detail_catalog_note,
                                note=self.detail_note), f"Run detail · {run.display_name}")

    def _ok(self) -> None:
        self._backoff.reset()
        if self.state_message:
            self.state_message = None
            self.set_status("")
        self.last_ok = self.app.clock()

    def _update_titles(self) -> None:
        listing = self.listing
        self.table.set_title(runs_title(
            self.table.row_count, listing.total, more=not listing.complete,
            empty=not self.runs and self._loaded_generation == self.generation, unavailable=bool(self.state_message),
            updated=self.last_ok))

    def _show_summary(self) -> None:
        name = self._experiment_name(self.query_state.experiment_id) if self.query_state.experiment_id else None
        self.query_one("#runs-summary", TextPane).show(filter_summary(self.query_state, name))

    # -- selection -------------------------------------------------------------------------
    def _select(self, run_id: str) -> None:
        self.app.selected_run_id = run_id
        if run_id != self.selected_run_id:
            self.selected_run_id = run_id
            self.detail_note = None
            if self.detail_run is None or self.detail_run.run_id != run_id:
                self._render_detail()
        self.schedule("detail", DETAIL_DEBOUNCE, lambda: self._fetch_detail(run_id))

    def _clear_selection(self) -> None:
        """No run is shown (the list is empty): the detail says so and no action has a target."""
        self.cancel("detail")
        self._outside = False
        self.selected_run_id = None
        self.detail_run = None
        self.detail_note = None
        self.app.selected_run_id = None
        self._render_detail()

    def _show_cursor_on(self, run_id: str) -> None:
        self._outside = False
        self.table.highlight(run_id)

    def _highlighted_key(self) -> str | None:
        """The run of the highlighted row (None while a requested run that is not listed is shown)."""
        return None if self._outside else self.table.highlighted_key()

    def select_run(self, run_id: str) -> None:
        """Show `run_id` (from another screen): move the cursor to it when it is listed; otherwise
        show it alone, with the cursor hidden so no other row passes for it."""
        if run_id in self.runs:
            self._show_cursor_on(run_id)
        else:
            self._outside = True
            self.table.show_cursor = False
        self._select(run_id)

    def selected_run(self) -> Run | None:
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
            self.set_status("loading more runs…")
            self._load_more(pager, self.generation)

    @on(DataTable.RowSelected, "#runs")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if self._outside:  # enter or a click on the hidden cursor's row: show that row
            self._outside = False
            event.data_table.show_cursor = True
            return
        self.query_one("#run-detail").focus()

    # -- the query ---------------------------------------------------------------------------
    def filter_changed(self, text: str) -> None:
        if text == self.query_state.text:
            self.cancel("filter")
            return
        self.schedule("filter", FILTER_DEBOUNCE, lambda: self._set_query(text=text))

    def _set_query(self, **changes: Any) -> None:
        from dataclasses import replace

        query = replace(self.query_state, **changes)
        if query == self.query_state:
            return
        self.query_state = query
        if self._outside:  # new filters: the list decides the selection again
            self._outside = False
            self.table.show_cursor = True
        self._show_summary()
        self.reload()

    def action_cycle_state(self) -> None:
        states = list(STATE_CYCLE)
        current = self.query_state.state
        index = states.index(current) if current in states else 0
        self._set_query(state=states[(index + 1) % len(states)])

    def action_cycle_experiment(self) -> None:
        if not self.experiments:
            self.set_status("No experiments loaded yet.")
            return
        ids: list[str | None] = [None] + sorted(self.experiments, key=lambda i: self.experiments[i].lower())
        current = self.query_state.experiment_id
        index = ids.index(current) if current in ids else 0
        self._set_query(experiment_id=ids[(index + 1) % len(ids)])

    def action_failed_first(self) -> None:
        self._set_query(failed_first=not self.query_state.failed_first)

    def action_refresh(self) -> None:
        self._backoff.reset()
        if self._busy:
            return
        if self._loaded_generation != self.generation:
            self.reload(keep_state=True)
        else:
            self.schedule("refresh", 0, self._tick)

    # -- changes, along the safe action path ---------------------------------------------------
    def _run_action(self, cls: Any) -> None:
        run = self.selected_run()
        if run is None:
            self.set_status("Select a run first.")
            return
        services, run_id = self.services, run.run_id
        # built in the planning worker: making the clients may read files and fail
        self.start_action(lambda: cls(services.pipelines(), run_id, kube=services.kube),
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
            self.set_status("Select a run first.")
            return
        self._find_versions(run_id)

    def action_logs(self) -> None:
        """The failing task's pod logs (else the last task's): an OOMKilled trainer's last lines."""
        from screens.object_view import task_logs

        run = self.detail_run
        tasks = [t for t in (run.tasks if run is not None else []) if t.pod_name and t.parent_task_id]
        task = (run.failing_task if run is not None else None) or (tasks[-1] if tasks else None)
        if run is None or task is None or not task.pod_name:
            self.set_status("No task with a pod to show the logs of: select a run that has started.")
            return
        self.app.push_screen(task_logs(self.services, run, task))


def as_console_error(exc: Exception) -> ConsoleError:
    """Expected failures pass through; a bug becomes a visible state (and a log line), not a stall."""
    if isinstance(exc, ConsoleError):
        return exc
    import logging

    logging.getLogger("mlops-console.pipelines").error("unexpected error in a worker", exc_info=exc)
    return DataError(f"unexpected {type(exc).__name__}: {exc} (details in the log)")
