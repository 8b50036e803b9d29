"""KServe canary rollouts (key 3): every InferenceService's traffic split, kept live by list+watch,
a detail view (split bar, revisions, conditions, model -> catalog version), canary health from
Prometheus, and the rollout actions (step, set, promote, roll back, start a canary), each through
the safe action path.

Live data:
- one thread worker runs adapters.kube.KubeClient.follow_inference_services (list, then watch;
  bookmarks skipped, relist on 410) and posts Listed / Changed messages; rows are updated by key.
  When the API is lost the worker posts Lost (the reason and the next retry), waits with
  exponential backoff and lists again; the table keeps the last rows and says they are stale.
- the canary health panel refreshes itself with set_timer after each answer (backoff on errors).
- both pause while the screen is not the active one (on_screen_suspend / on_screen_resume).

Cross-screen: app.selected_isvc = (namespace, name) follows the cursor (the Drift screen opens on
it); c jumps to the catalog version the model's storageUri maps to (app.show_catalog_version).
"""

from __future__ import annotations

import bisect
import threading
from typing import Any, Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static

from adapters.errors import ConsoleError, Forbidden, InvalidInput
from console.safe_text import literal, safe
from screens import rollouts_render as render
from screens.action_flow import ActionFlowMixin
from screens.filter_input import FilterInput
from screens.header import StatusHeader
from screens.keybar import KeyBar
from screens.list_table import ListTable
from screens.rollouts_modals import PercentScreen, VersionPickerScreen

WATCH_BACKOFF = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
HEALTH_INTERVAL = 15.0
HEALTH_BACKOFF = (5.0, 10.0, 20.0, 40.0, 60.0)
HEALTH_WINDOW = "5m"
HEALTH_DEBOUNCE = 0.3
AGE_INTERVAL = 30.0
PAGE = 80  # rows in the DataTable at a time (it measures every cell it holds: ~1 ms a row here)
LOAD_MORE_MARGIN = 15


def order_key(key: str) -> tuple[str, ...]:
    """Table order: by namespace, then name ("ns/name" as a string would put "a-b/x" before "a/x")."""
    return tuple(key.split("/", 1))


class RolloutsScreen(ActionFlowMixin, Screen):
    screen_title = "Rollouts"
    # Timing, as class attributes so a test (or a benchmark) can shorten them.
    watch_backoff = WATCH_BACKOFF
    health_interval = HEALTH_INTERVAL
    health_backoff = HEALTH_BACKOFF
    DEFAULT_CSS = """
    RolloutsScreen { layout: vertical; }
    #rollouts-filter { height: 1; border: none; padding: 0 1; background: $boost; }
    #rollouts-filter:focus { background: $accent 30%; }
    #rollouts-state { height: auto; max-height: 3; padding: 0 1; background: $error 25%; display: none; }
    #isvcs { height: 2fr; min-height: 5; border: round $primary 50%; }
    #isvcs:focus { border: round $accent; }
    #rollouts-lower { height: 3fr; }
    #isvc-detail { width: 1fr; border: round $primary 50%; padding: 0 1; scrollbar-size-vertical: 1; }
    #isvc-detail:focus { border: round $accent; }
    #isvc-health { width: 40%; min-width: 36; max-width: 60; border: round $primary 50%; padding: 0 1; scrollbar-size-vertical: 1; }
    #isvc-health:focus { border: round $accent; }
    #rollouts-status { height: 1; padding: 0 1; }
    """
    BINDINGS = [
        Binding("slash", "filter", "Filter", show=False, priority=True),
        Binding("escape", "leave_filter", "Clear and leave the filter", show=False),
        Binding("plus,equals_sign", "step(1)", "Step up"),
        Binding("minus", "step(-1)", "Step down"),
        Binding("p", "set_percent", "Set %"),
        Binding("o,P", "promote", "Promote"),
        Binding("b", "rollback", "Roll back"),
        Binding("n", "start_canary", "New canary"),
        Binding("r", "refresh", "Refresh"),
        Binding("c", "open_catalog", "Catalog ver", show=False),
        Binding("d", "open_drift", "Drift", show=False),
        Binding("e", "events", "Events"),
        Binding("l", "logs", "Logs"),
        Binding("y", "yaml", "YAML", show=False),
    ]
    HELP_NOTES = ("The table follows the cluster live (list + watch). + and - step the canary by the configured "
                  "step ([rollout] step); p sets an exact share; o (or P) promotes: the latest revision takes "
                  "all traffic; b rolls back: canaryTrafficPercent 0 sends traffic to the previous revision but "
                  "leaves the new model in the spec; n starts a canary of a catalog version. Every change shows "
                  "the exact patch and the server's dry-run verdict and asks for a reason; cancel is the "
                  "default. Canary traffic is impossible in RawDeployment (Standard) mode and on the first "
                  "revision. c opens the served version in the catalog, d the Drift screen on this model. r lists "
                  "again now, as on every list.")

    # -- messages from the workers ---------------------------------------------------------
    class Listed(Message):
        def __init__(self, generation: int, items: list[Any], relist: bool, scope: str):
            super().__init__()
            self.generation, self.items, self.relist, self.scope = generation, items, relist, scope

    class Changed(Message):
        def __init__(self, generation: int, kind: str, isvc: Any):
            super().__init__()
            self.generation, self.kind, self.isvc = generation, kind, isvc

    class Lost(Message):
        def __init__(self, generation: int, error: str, retry_in: float, kind: str):
            super().__init__()
            self.generation, self.error, self.retry_in, self.kind = generation, error, retry_in, kind

    class HealthReady(Message):
        def __init__(self, key: str, verdict: Any):
            super().__init__()
            self.key, self.verdict = key, verdict

    class HealthFailed(Message):
        def __init__(self, key: str, error: str, kind: str, retry: bool):
            super().__init__()
            self.key, self.error, self.kind, self.retry = key, error, kind, retry

    class CatalogFound(Message):
        def __init__(self, uri: str, found: Any):
            super().__init__()
            self.uri, self.found = uri, found  # (model, version) | str (why not) ; never None

    def __init__(self) -> None:
        super().__init__()
        self.filter_text = ""
        self._items: dict[str, Any] = {}  # every InferenceService seen, by "ns/name"
        self._shown: dict[str, tuple[str, ...]] = {}  # row key -> plain cell texts on screen
        self._matching: list[str] = []  # keys that pass the filter, in namespace/name order
        self._limit = PAGE  # how many of them the DataTable holds
        self._selected: str | None = None
        self._wanted: str | None = None  # asked for by another screen before its row arrived
        self._generation = 0
        self._watch_stop: threading.Event | None = None
        self._scope = "…"
        self._live = False
        self._updated_at: float | None = None
        self._catalog: dict[str, Any] = {}  # storage URI -> (model, version) | reason string
        self._catalog_pending: set[str] = set()
        self._last_result: dict[str, str] = {}
        self._health_timer: Timer | None = None
        self._health_failures = 0
        self._health_key: str | None = None
        self._age_timer: Timer | None = None
        self._active = False
        self._refreshing = False  # r asked for a new list; the next Listed says so

    # -- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusHeader(self.screen_title)
        yield FilterInput(placeholder="/ filter: namespace/name, mode or model URI", id="rollouts-filter")
        yield Static("", id="rollouts-state", markup=False)
        table = ListTable(id="isvcs", cursor_type="row")
        table.border_title = "InferenceServices · connecting…"
        yield table
        with Horizontal(id="rollouts-lower"):
            with VerticalScroll(id="isvc-detail"):
                yield Static(Text("Waiting for the cluster…", style="dim"), id="isvc-detail-body", markup=False)
            with VerticalScroll(id="isvc-health"):
                yield Static(Text("Select an InferenceService.", style="dim"), id="isvc-health-body",
                             markup=False)
        yield Static("", id="rollouts-status", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#isvc-detail").border_title = "Detail"
        self.query_one("#isvc-health").border_title = "Canary health"
        table = self.query_one("#isvcs", DataTable)
        for key, label in render.COLUMNS:
            table.add_column(label, key=key)
        table.focus()
        self._resume()

    def on_resize(self) -> None:
        self.call_after_refresh(self._show_detail)

    def on_screen_resume(self) -> None:
        self._resume()

    def on_screen_suspend(self) -> None:
        self._pause()

    def on_unmount(self) -> None:
        self._pause()

    def _resume(self) -> None:
        if self._active:
            return
        self._active = True
        self._start_watch()
        self._schedule_health(HEALTH_DEBOUNCE)
        self._age_timer = self.set_timer(AGE_INTERVAL, self._tick_ages)

    def _pause(self) -> None:
        self._active = False
        if self._watch_stop is not None:
            self._watch_stop.set()
        for timer in (self._health_timer, self._age_timer):
            if timer is not None:
                timer.stop()
        self._health_timer = self._age_timer = None

    # -- the watch ---------------------------------------------------------------------------
    def _start_watch(self) -> None:
        if self._watch_stop is not None:
            self._watch_stop.set()
        self._generation += 1
        self._watch_stop = threading.Event()
        self._watch(self._generation, self._watch_stop)

    @work(thread=True, group="rollouts-watch", exit_on_error=False)
    def _watch(self, generation: int, stop: threading.Event) -> None:
        """List + watch until stopped; on failure report, back off, and list again."""
        from adapters.kube import Snapshot

        failures = 0
        settings = self.app.services.settings
        namespace = None if settings.all_namespaces or not settings.namespace else settings.namespace
        while not stop.is_set():
            try:
                client = self.app.services.kube()
                scope = f"namespace {namespace}" if namespace else "all namespaces"
                for item in client.follow_inference_services(namespace, stop):
                    if stop.is_set():
                        return
                    if isinstance(item, Snapshot):
                        failures = 0
                        self.post_message(self.Listed(generation, item.items, item.relist, scope))
                    else:
                        self.post_message(self.Changed(generation, item.type, item.object))
            except Forbidden as error:
                if namespace is None:  # no cluster-wide list: fall back to the context's namespace
                    try:
                        namespace = self.app.services.kube().namespace
                        continue
                    except ConsoleError:
                        pass
                failures = self._report_lost(generation, stop, error, failures)
            except ConsoleError as error:
                failures = self._report_lost(generation, stop, error, failures)
            except Exception as error:  # noqa: BLE001 - a bug in a worker must not end the watch silently
                failures = self._report_lost(generation, stop, ConsoleError(f"{type(error).__name__}: {error}"),
                                             failures)

    def _report_lost(self, generation: int, stop: threading.Event, error: ConsoleError, failures: int) -> int:
        if stop.is_set():
            return failures
        delay = self.watch_backoff[min(failures, len(self.watch_backoff) - 1)]
        self.post_message(self.Lost(generation, error.message, delay, error.kind))
        stop.wait(delay)
        return failures + 1

    def on_rollouts_screen_listed(self, message: Listed) -> None:
        if message.generation != self._generation:
            return
        self._scope = message.scope
        self._live = True
        self._updated_at = self.app.clock()
        self._items = {isvc.key: isvc for isvc in message.items}
        self._hide_state()
        self._sync_rows()
        if message.relist:
            self.set_status("The watch expired (410 Gone); listed again.")
        elif self._refreshing:
            self.set_status(f"Listed again: {len(self._items)} InferenceServices.")
        self._refreshing = False

    def on_rollouts_screen_changed(self, message: Changed) -> None:
        if message.generation != self._generation or message.isvc is None:
            return
        isvc = message.isvc
        self._updated_at = self.app.clock()
        if message.kind == "DELETED":
            self._items.pop(isvc.key, None)
        else:
            self._items[isvc.key] = isvc
        self._sync_rows(only=isvc.key)

    def on_rollouts_screen_lost(self, message: Lost) -> None:
        if message.generation != self._generation:
            return
        self._live = False
        when = render.clock_text(self.app.clock() + message.retry_in)
        what = "Kubernetes API unreachable" if message.kind == "backend unavailable" else f"Kubernetes: {message.kind}"
        state = self.query_one("#rollouts-state", Static)
        state.update(Text(safe(f"{what}: {message.error} · retrying in {message.retry_in:g} s (at {when})"),
                          style="bold"))
        state.display = True
        self._update_title()

    def _hide_state(self) -> None:
        self.query_one("#rollouts-state", Static).display = False

    # -- rows ---------------------------------------------------------------------------------
    def _sync_rows(self, only: str | None = None) -> None:
        """Bring the table in line with self._items: update changed cells by key, add and remove
        rows; the table is never cleared for live data. Only a window of the matching rows (the
        first `self._limit`, in namespace/name order) is in the DataTable, which measures every
        cell it is given; moving the cursor near its end brings the next page in."""
        table = self.query_one("#isvcs", DataTable)
        now = self.app.clock()
        if only is None:
            text = self.filter_text
            self._matching = sorted((k for k, i in self._items.items() if render.matches(i, text)), key=order_key)
            refresh: set[str] | None = None
        else:
            isvc = self._items.get(only)
            want = isvc is not None and render.matches(isvc, self.filter_text)
            index = bisect.bisect_left(self._matching, order_key(only), key=order_key)
            present = index < len(self._matching) and self._matching[index] == only
            if want and not present:
                self._matching.insert(index, only)
            elif not want and present:
                self._matching.pop(index)
            refresh = {only}
            if index >= self._limit and only not in self._shown:
                self._update_title()  # beyond the window: nothing on screen changes but the count
                return
        with self.app.batch_update():
            wanted = self._matching[:self._limit]
            wanted_set = set(wanted)
            for key in [k for k in self._shown if k not in wanted_set]:
                table.remove_row(key)
                del self._shown[key]
            last = max((order_key(k) for k in self._shown), default=None)
            out_of_order = False
            for key in wanted:
                if refresh is not None and key in self._shown and key not in refresh:
                    continue
                if self._put_row(table, key, now) and last is not None and order_key(key) < last:
                    out_of_order = True
            if out_of_order:
                table.sort("namespace", "name", key=lambda ns_name: (ns_name[0].plain, ns_name[1].plain))
        if self._wanted is not None and self._wanted in self._shown:
            self._wanted, wanted = None, self._wanted
            self._select(wanted)
        self._restore_cursor()
        self._update_title()
        if self._selected is None or self._selected not in self._shown:
            self._select_row_under_cursor()
        elif only is None or only == self._selected:
            self._show_detail()

    def _put_row(self, table: DataTable, key: str, now: float) -> bool:
        """Add or update one row; True when it was added."""
        cells = render.row_cells(self._items[key], now)
        plain = tuple(cell.plain + "\0" + str(cell.style) for cell in cells)
        old = self._shown.get(key)
        self._shown[key] = plain
        if old is None:
            table.add_row(*cells, key=key)
            return True
        if old != plain:
            for column, cell, before, after in zip(render.COLUMN_KEYS, cells, old, plain):
                if before != after:
                    table.update_cell(key, column, cell)
        return False

    def _load_more(self) -> None:
        if len(self._matching) > self._limit:
            self._limit += PAGE
            self._sync_rows()

    def _restore_cursor(self) -> None:
        table = self.query_one("#isvcs", DataTable)
        if self._selected in self._shown:
            index = table.get_row_index(self._selected)
            if index != table.cursor_row:
                table.move_cursor(row=index, animate=False)

    def _select_row_under_cursor(self) -> None:
        table = self.query_one("#isvcs", DataTable)
        if not table.row_count:
            self._select(None)
            return
        row = min(max(table.cursor_row, 0), table.row_count - 1)
        key = table.coordinate_to_cell_key((row, 0)).row_key.value
        self._select(key)

    def _update_title(self) -> None:
        table = self.query_one("#isvcs", DataTable)
        parts = [f"InferenceServices {len(self._matching)}/{len(self._items)}", self._scope]
        if len(self._shown) < len(self._matching):
            parts.append(f"first {len(self._shown)}, ↓ for more")
        if self.filter_text:
            parts.append(f"filter: {self.filter_text}")
        if self._updated_at is not None:
            parts.append(("live · updated " if self._live else "STALE since ") + render.clock_text(self._updated_at))
        elif not self._live:
            parts.append("connecting…")
        table.border_title = literal(" · ".join(parts))

    def _tick_ages(self) -> None:
        if not self._active:
            return
        if self._shown:
            self._sync_rows()
        self._age_timer = self.set_timer(AGE_INTERVAL, self._tick_ages)

    # -- selection and detail -----------------------------------------------------------------
    @on(DataTable.RowHighlighted, "#isvcs")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        # Events are queued: by the time one arrives, rows may have been added or sorted, so
        # select what is under the cursor now, not what was there when the event was posted.
        self._select_row_under_cursor()
        table = event.data_table
        if table.cursor_row >= table.row_count - LOAD_MORE_MARGIN and len(self._matching) > len(self._shown):
            self._load_more()

    def _select(self, key: str | None) -> None:
        changed = key != self._selected
        self._selected = key
        if key is not None and changed:
            isvc = self._items.get(key)
            if isvc is not None:
                self.app.selected_isvc = (isvc.namespace, isvc.name)
        self._show_detail()
        if changed:
            self._health_failures = 0
            self._show_health_waiting()
            self._schedule_health(HEALTH_DEBOUNCE)

    def selected(self) -> Any | None:
        return self._items.get(self._selected) if self._selected else None

    def select_isvc(self, namespace: str, name: str) -> None:
        """Select an InferenceService from another screen (now, or once its row arrives)."""
        key = f"{namespace}/{name}"
        if key in self._shown:
            self._select(key)
            self._restore_cursor()
        else:
            self._wanted = key

    def _show_detail(self) -> None:
        body = self.query_one("#isvc-detail-body", Static)
        isvc = self.selected()
        if isvc is None:
            if self._items and not self._shown:
                body.update(Text(f"No InferenceService matches {self.filter_text!r}.", style="dim"))
            elif self._live and not self._items:
                body.update(Text(f"No InferenceServices in {self._scope}.", style="dim"))
            return
        for uri in render.catalog_uris(isvc):  # the stable model, and each Standard-mode canary's
            if uri not in self._catalog and uri not in self._catalog_pending:
                self._catalog_pending.add(uri)
                self._lookup_catalog(uri)
        width = self.query_one("#isvc-detail").scrollable_content_region.width
        bar_width = max(8, min(40, width - 21)) if width else render.BAR_WIDTH
        body.update(render.detail(isvc, catalog=self._catalog, last_result=self._last_result.get(isvc.key),
                                  bar_width=bar_width))
        self.query_one("#isvc-detail").border_title = literal(f"Detail · {isvc.key}")

    @work(thread=True, group="rollouts-catalog", exit_on_error=False)
    def _lookup_catalog(self, uri: str) -> None:
        try:
            record = self.app.catalog.version_by_artifact_uri(uri)
        except ConsoleError as error:
            self.post_message(self.CatalogFound(uri, f"catalog unavailable: {error.message}"))
            return
        found = (record.model, record.version) if record is not None else "no catalog version has this artifact URI"
        self.post_message(self.CatalogFound(uri, found))

    def on_rollouts_screen_catalog_found(self, message: CatalogFound) -> None:
        self._catalog_pending.discard(message.uri)
        self._catalog[message.uri] = message.found
        isvc = self.selected()
        if isvc is not None and message.uri in render.catalog_uris(isvc):
            self._show_detail()

    # -- canary health ------------------------------------------------------------------------
    def _schedule_health(self, delay: float) -> None:
        if self._health_timer is not None:
            self._health_timer.stop()
            self._health_timer = None
        if self._active:
            self._health_timer = self.set_timer(delay, self._request_health)

    def _request_health(self) -> None:
        self._health_timer = None
        isvc = self.selected()
        if isvc is None or not self._active:
            return
        canary, stable = health_revisions(isvc)
        if canary is None:
            self._set_health(Text("No revision serves traffic yet: nothing to measure.", style="dim"), None)
            self._schedule_health(self.health_interval)
            return
        traffic = {t.revision: t.percent for t in isvc.traffic if t.revision}
        if isvc.is_raw:
            traffic[canary] = 100
        self._health_key = isvc.key
        from console.rollouts import latest_not_ready

        self._fetch_health(isvc.key, isvc.namespace, isvc.name, canary, stable, traffic, latest_not_ready(isvc))

    @work(thread=True, exclusive=True, group="rollouts-health", exit_on_error=False)
    def _fetch_health(self, key: str, namespace: str, name: str, canary: str, stable: str | None,
                      traffic: dict, not_ready: Any = None) -> None:
        try:
            metrics = self.app.services.metrics()
        except InvalidInput as error:
            self.post_message(self.HealthFailed(key, error.message, "not configured", retry=False))
            return
        except ConsoleError as error:
            self.post_message(self.HealthFailed(key, error.message, error.kind, retry=True))
            return
        from console import canary as canary_mod
        from console import drift
        from console.drift_service import DriftService

        settings = self.app.services.settings
        service = DriftService(metrics, thresholds=drift.Thresholds.from_settings(settings.drift),
                               health_thresholds=canary_mod.HealthThresholds.from_settings(settings.health))
        try:
            verdict = service.health(namespace, name, canary_revision=canary, stable_revision=stable,
                                     window=HEALTH_WINDOW, traffic=traffic, at=self.app.clock())
            if not_ready is not None:
                verdict = canary_mod.with_revision_not_ready(verdict, not_ready.revision, not_ready.failed,
                                                             not_ready.message)
        except ConsoleError as error:
            self.post_message(self.HealthFailed(key, error.message, error.kind, retry=True))
            return
        except Exception as error:  # noqa: BLE001 - shown as the panel's state, never a crash
            self.post_message(self.HealthFailed(key, f"{type(error).__name__}: {error}", "error", retry=True))
            return
        self.post_message(self.HealthReady(key, verdict))

    def on_rollouts_screen_health_ready(self, message: HealthReady) -> None:
        if message.key != self._selected:
            return
        self._health_failures = 0
        isvc = self.selected()
        self._set_health(render.health(message.verdict, isvc), render.clock_text(self.app.clock()))
        self._schedule_health(self.health_interval)

    def on_rollouts_screen_health_failed(self, message: HealthFailed) -> None:
        if message.key != self._selected:
            return
        text = Text()
        if message.kind == "not configured":
            text.append("Prometheus not configured\n", style="bold yellow")
            text.append(safe(message.error, multiline=True) + "\n", style="dim")
            text.append("\nThe rest of this screen works without it.", style="dim")
            self._set_health(text, None)
            return
        delay = self.health_backoff[min(self._health_failures, len(self.health_backoff) - 1)]
        self._health_failures += 1
        text.append("Prometheus unavailable\n", style="bold red")
        text.append(safe(message.error, multiline=True) + "\n")
        when = render.clock_text(self.app.clock() + delay)
        text.append(f"\nretrying in {delay:g} s (at {when})", style="dim")
        self._set_health(text, None)
        self._schedule_health(delay)

    def _show_health_waiting(self) -> None:
        isvc = self.selected()
        if isvc is not None:
            self._set_health(Text(f"Asking Prometheus about {safe(isvc.key)}…", style="dim"), None)

    def _set_health(self, text: Text, stamp: str | None) -> None:
        self.query_one("#isvc-health-body", Static).update(text)
        title = f"Canary health · {HEALTH_WINDOW}"
        if stamp:
            title += f" · {stamp}"
        self.query_one("#isvc-health").border_title = title

    # -- status line --------------------------------------------------------------------------
    def set_status(self, text: str, *, error: bool = False) -> None:
        self.query_one("#rollouts-status", Static).update(Text(safe(text), style="red" if error else "dim"))

    # -- filter -------------------------------------------------------------------------------
    def action_filter(self) -> None:
        self.query_one("#rollouts-filter", FilterInput).open()

    def action_leave_filter(self) -> None:
        self.query_one("#rollouts-filter", FilterInput).clear_and_close(self.query_one("#isvcs", DataTable))

    @on(Input.Changed, "#rollouts-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self._limit = PAGE
        self._sync_rows()

    @on(Input.Submitted, "#rollouts-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#rollouts-filter", FilterInput).close(self.query_one("#isvcs", DataTable))

    # -- actions ------------------------------------------------------------------------------
    def _need_selection(self) -> Any | None:
        isvc = self.selected()
        if isvc is None:
            self.set_status("Select an InferenceService first.", error=True)
        return isvc

    def _act(self, isvc: Any, build: Callable[[Any], Any]) -> None:
        self.set_status(f"Checking the change on {isvc.key}…")
        self._build_action(isvc.key, build)

    @work(thread=True, group="rollouts-client", exit_on_error=False)
    def _build_action(self, key: str, build: Callable[[Any], Any]) -> None:
        """The kube client may need building (files, TLS): never on the UI thread."""
        try:
            action = build(self.app.services.kube())
        except ConsoleError as error:
            self.app.call_from_thread(self.set_status, f"Kubernetes: {error.message}", error=True)
            return
        self.app.call_from_thread(self.start_action, action, lambda outcome: self._after_action(key, outcome))

    def _report_error(self, action: Any, error: ConsoleError) -> None:  # ActionFlowMixin hook
        super()._report_error(action, error)
        self.set_status(f"{action.kind} on {action.target}: {error.message}", error=True)

    def _after_action(self, key: str, outcome: Any) -> None:
        lines = ", ".join(f"{k}: {outcome.before.get(k)} -> {v}" for k, v in outcome.after.items()
                          if k != "resourceVersion" and outcome.before.get(k) != v)
        result = f"{outcome.kind} applied{(' (' + lines + ')') if lines else ''}; the split follows as KServe acts"
        self._last_result[key] = result
        self.set_status(result)
        if key == self._selected:
            self._show_detail()
            self._schedule_health(HEALTH_DEBOUNCE)

    def action_refresh(self) -> None:
        """List again now (a new list + watch) and ask Prometheus again."""
        self._refreshing = True
        self.set_status("Listing again…")
        if self._active:
            self._start_watch()
            self._schedule_health(HEALTH_DEBOUNCE)

    def action_step(self, direction: int) -> None:
        isvc = self._need_selection()
        if isvc is None:
            return
        from console.rollout_actions import StepCanary

        step = self.app.services.settings.rollout.step
        self._act(isvc, lambda client: StepCanary(client, isvc.namespace, isvc.name, direction, step))

    def action_set_percent(self) -> None:
        isvc = self._need_selection()
        if isvc is None:
            return
        from console import rollouts
        from console.rollout_actions import SetCanaryPercent

        def chosen(value: str | None) -> None:
            if value is not None:
                self._act(isvc, lambda client: SetCanaryPercent(client, isvc.namespace, isvc.name, value))

        self.app.push_screen(PercentScreen(isvc.key, isvc.canary_traffic_percent, rollouts.split_text(isvc)), chosen)

    def action_promote(self) -> None:
        isvc = self._need_selection()
        if isvc is None:
            return
        from console.rollout_actions import Promote

        self._act(isvc, lambda client: Promote(client, isvc.namespace, isvc.name))

    def action_rollback(self) -> None:
        isvc = self._need_selection()
        if isvc is None:
            return
        from console.rollout_actions import Rollback

        self._act(isvc, lambda client: Rollback(client, isvc.namespace, isvc.name))

    def action_start_canary(self) -> None:
        isvc = self._need_selection()
        if isvc is None:
            return
        found = self._catalog.get(isvc.storage_uri or "")
        model = found[0] if isinstance(found, tuple) else isvc.name
        self.set_status(f"Loading the catalog versions of {model}…")
        self._load_versions(isvc, model)

    @work(thread=True, exclusive=True, group="rollouts-versions", exit_on_error=False)
    def _load_versions(self, isvc: Any, model: str) -> None:
        try:
            versions = self.app.catalog.list_versions(model, sort="created_at", descending=True, limit=200)
        except ConsoleError as error:
            self.app.call_from_thread(self.set_status, f"Catalog: {error.message}", error=True)
            return
        self.app.call_from_thread(self._pick_version, isvc, model, versions)

    def _pick_version(self, isvc: Any, model: str, versions: list[Any]) -> None:
        if not versions:
            self.set_status(f"The catalog has no versions of {model!r}: nothing to start a canary of.", error=True)
            return
        self.set_status("")
        from console.rollout_actions import StartCanary

        def chosen(result: tuple[Any, str] | None) -> None:
            if result is None:
                return
            record, percent = result
            self._act(isvc, lambda client: StartCanary(client, isvc.namespace, isvc.name, record.artifact_uri,
                                                       percent))

        step = self.app.services.settings.rollout.step
        self.app.push_screen(VersionPickerScreen(isvc.key, model, versions, isvc.storage_uri, step), chosen)

    def action_open_catalog(self) -> None:
        isvc = self._need_selection()
        if isvc is None:
            return
        found = self._catalog.get(isvc.storage_uri or "")
        if not isinstance(found, tuple):
            self.set_status(f"{isvc.storage_uri or 'no storageUri'}: "
                            f"{found or 'still looking it up in the catalog'}", error=True)
            return
        if hasattr(self.app, "show_catalog_version"):
            self.app.show_catalog_version(found[0], found[1])
        else:
            self.app.action_show_screen("catalog")

    def action_open_drift(self) -> None:
        isvc = self._need_selection()
        if isvc is None:
            return
        self.app.selected_isvc = (isvc.namespace, isvc.name)
        self.app.action_show_screen("drift")

    # -- why it is failing: e events, l logs, y YAML (screens/object_view.py) ----------------------
    def action_events(self) -> None:
        from screens.object_view import isvc_events

        if (isvc := self._need_selection()) is not None:
            self.app.push_screen(isvc_events(self.app.services, isvc.namespace, isvc.name))

    def action_logs(self) -> None:
        from screens.object_view import isvc_logs

        if (isvc := self._need_selection()) is not None:
            self.app.push_screen(isvc_logs(self.app.services, isvc.namespace, isvc.name))

    def action_yaml(self) -> None:
        from screens.object_view import isvc_yaml

        if (isvc := self._need_selection()) is not None:
            self.app.push_screen(isvc_yaml(self.app.services, isvc.namespace, isvc.name))


def health_revisions(isvc: Any) -> tuple[str | None, str | None]:
    """(revision under test, stable revision or None) for the health panel, as the metrics name them."""
    if isvc.is_raw:
        return (f"{isvc.name}-predictor" if isvc.name else None), None
    canary = isvc.latest_revision
    stable = isvc.prev_revision if isvc.prev_revision and isvc.prev_revision != canary else None
    if canary is None and stable is not None:
        return stable, None
    return canary, stable
