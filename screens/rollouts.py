"""KServe canary rollouts (key 3): every InferenceService's traffic split, kept live by list+watch,
a detail view (split bar, revisions, conditions, model -> catalog version), canary health from
Prometheus, and the rollout actions (step, set, promote, roll back, start a canary), each through
the safe action path.

Live data:
- one thread worker runs adapters.kube.KubeClient.follow_inference_services (list, then watch;
  bookmarks skipped, relist on 410) and posts Listed / Changed messages; rows are updated by key.
  When the API is lost the worker posts Lost (the reason and the next retry), waits with
  exponential backoff and lists again; the table keeps the last rows and says they are stale.
- the canary health of the selected row refreshes itself after each answer (backoff on errors);
  each row's last verdict is shown in the table.
- both pause while the screen is hidden (ConsoleScreen's on_activate / on_deactivate).

Light over SSH: the panes are TextPanes (only the lines that changed are repainted, nothing when
an answer is the same), titles repaint their border line only, table cells are updated one by
one, and a row revisited shows its last health answer at once instead of a placeholder.

Cross-screen: app.selected_isvc = (namespace, name) follows the cursor (the Drift screen opens on
it); c jumps to the catalog version the model's storageUri maps to (app.show_catalog_version).
"""

from __future__ import annotations

import bisect
import threading
import time
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable

from adapters.errors import ConsoleError, Forbidden, InvalidInput
from console import rollouts
from console.safe_text import literal, safe
from screens import rollouts_render as render
from screens.base import Backoff, ConsoleScreen, clock_text, retry_text
from screens.list_table import ListTable
from screens.repaint import TextPane, set_border_title
from screens.rollouts_actions import HEALTH_DEBOUNCE, RolloutActions
from screens.rollouts_progress import ProgressKeys

if TYPE_CHECKING:
    from adapters.kube import InferenceService
    from console.canary import Verdict

WATCH_BACKOFF = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
HEALTH_INTERVAL = 15.0
HEALTH_BACKOFF = (5.0, 10.0, 20.0, 40.0, 60.0)
HEALTH_WINDOW = "5m"
PODS_AGAIN = 15.0  # seconds before a not-ready revision's pods are asked again why
HEALTH_PENDING_AFTER = 0.3  # a first health answer this late (after asking) shows "Asking Prometheus…"
AGE_INTERVAL = 30.0
PAGE = 80  # rows in the DataTable at a time (it measures every cell it holds: ~1 ms a row here)
LOAD_MORE_MARGIN = 15


def order_key(key: str) -> tuple[str, ...]:
    """Table order: by namespace, then name ("ns/name" as a string would put "a-b/x" before "a/x")."""
    return tuple(key.split("/", 1))


class RolloutsScreen(ProgressKeys, RolloutActions, ConsoleScreen):
    screen_title = "Rollouts"
    # Timing, as class attributes so a test (or a benchmark) can shorten them.
    watch_backoff = WATCH_BACKOFF
    health_interval = HEALTH_INTERVAL
    health_backoff = HEALTH_BACKOFF
    DEFAULT_CSS = """
    #rollouts-filter { height: 1; border: none; padding: 0 1; background: $boost; }
    #rollouts-filter:focus { background: $accent 30%; }
    #isvcs { height: 2fr; min-height: 5; border: round $primary 50%; }
    #isvcs:focus { border: round $accent; }
    #rollouts-lower { height: 3fr; }
    #isvc-detail { width: 1fr; border: round $primary 50%; padding: 0 1; }
    #isvc-detail:focus-within { border: round $accent; }
    #isvc-health { width: 40%; min-width: 36; max-width: 60; border: round $primary 50%; padding: 0 1; }
    #isvc-health:focus-within { border: round $accent; }
    #isvc-detail-body, #isvc-health-body { scrollbar-size-vertical: 1; overflow-y: scroll; }  /* no layout when a text outgrows it */
    """
    BINDINGS = [
        *ConsoleScreen.BINDINGS,  # / and esc, listed by ? with this screen's keys
        Binding("plus,equals_sign", "step(1)", "Step up"),
        Binding("minus", "step(-1)", "Step down"),
        Binding("p", "set_percent", "Set %"),
        Binding("o,P", "promote", "Promote"),
        Binding("b", "rollback", "Roll back"),
        Binding("n", "start_canary", "New canary"),
        Binding("g", "progress", "Progress", show=False, priority=True),  # before the table's g (first row)
        Binding("space", "progress_pause", "Pause progress", show=False),
        Binding("a", "progress_abort", "Abort progress", show=False),
        Binding("r", "refresh", "Refresh"),
        Binding("c", "open_catalog", "Catalog ver", show=False),
        Binding("d", "open_drift", "Drift", show=False),
        Binding("e", "events", "Events"),
        Binding("l", "logs", "Logs"),
        Binding("y", "yaml", "YAML", show=False),
    ]
    HELP_NOTES = ("The table follows the cluster live (list + watch): the served split (prev, latest and their "
                  "%), the spec's canaryTrafficPercent and the last canary verdict of the row (– until its health "
                  "was checked); ✗ marks a new revision that failed. + and - step the canary by the configured "
                  "step ([rollout] step); p sets an exact share; o (or P) promotes: the latest revision takes "
                  "all traffic; b rolls back: canaryTrafficPercent 0 sends traffic to the previous revision but "
                  "leaves the new model in the spec; n starts a canary of a catalog version. Every change shows "
                  "the exact patch and the server's dry-run verdict and asks for a reason; cancel is the "
                  "default. Canary traffic is impossible in RawDeployment (Standard) mode and on the first "
                  "revision. g runs a progressive rollout (rollout progress): steps, checks, then promote or "
                  "roll back; it goes on off this screen; space pauses it, a aborts it (rolls back). c opens the served version in the catalog, d the Drift screen on this model. r lists "
                  "again now, as on every list.")

    # -- messages from the workers ---------------------------------------------------------
    class Listed(Message):
        def __init__(self, generation: int, items: list[InferenceService], relist: bool, scope: str):
            super().__init__()
            self.generation, self.items, self.relist, self.scope = generation, items, relist, scope

    class Changed(Message):
        def __init__(self, generation: int, kind: str, isvc: InferenceService | None):
            super().__init__()
            self.generation, self.kind, self.isvc = generation, kind, isvc

    class Lost(Message):
        def __init__(self, generation: int, error: str, retry_in: float, kind: str):
            super().__init__()
            self.generation, self.error, self.retry_in, self.kind = generation, error, retry_in, kind

    class HealthReady(Message):
        def __init__(self, key: str, verdict: Verdict):
            super().__init__()
            self.key, self.verdict = key, verdict

    class HealthFailed(Message):
        def __init__(self, key: str, error: str, kind: str, retry: bool):
            super().__init__()
            self.key, self.error, self.kind, self.retry = key, error, kind, retry

    class PodsSaid(Message):
        def __init__(self, key: str, revision: str, said: str | None):
            super().__init__()
            self.key, self.revision, self.said = key, revision, said

    class CatalogFound(Message):
        def __init__(self, uri: str, found: tuple[str, str] | str):
            super().__init__()
            self.uri, self.found = uri, found  # (model, version) | why not; never None

    def __init__(self) -> None:
        super().__init__()
        self._items: dict[str, InferenceService] = {}  # every InferenceService seen, by "ns/name"
        self._shown: set[str] = set()  # the row keys in the table
        self._matching: list[str] = []  # keys that pass the filter, in namespace/name order
        self._limit = PAGE  # how many of them the DataTable holds
        self._layout: tuple[tuple[str, str, int], ...] = ()  # the table's columns (render.columns)
        self._selected: str | None = None
        self._wanted: str | None = None  # asked for by another screen before its row arrived
        self._generation = 0
        self._watch_stop: threading.Event | None = None
        self._scope = "…"
        self._live = False
        self._updated_at: float | None = None
        self._catalog: dict[str, tuple[str, str] | str] = {}  # storage URI -> (model, version) | why not
        self._catalog_pending: set[str] = set()
        # why a not-ready revision's (or canary Deployment's) pods are not ready: key -> (revision, words, when)
        self._pods_said: dict[str, tuple[str, str | None, float]] = {}
        self._pods_pending: set[str] = set()
        self._last_result: dict[str, str] = {}
        self._verdicts: dict[str, Verdict] = {}  # row key -> its last canary verdict
        self._answers: dict[str, Text] = {}  # row key -> its last health panel (it names the row and when)
        self._no_metrics: Text | None = None  # the panel for every row while Prometheus is not configured
        self._health_backoff = Backoff(self.health_backoff)
        self._refreshing = False  # r asked for a new list; the next Listed says so

    # -- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield self.header()
        yield self.filter_input("/ filter: namespace/name, mode or model URI", id="rollouts-filter")
        yield self.state_banner(id="rollouts-state")
        table = ListTable(id="isvcs", cursor_type="row")
        table.border_title = "InferenceServices · connecting…"
        yield table
        with Horizontal(id="rollouts-lower"):
            with Vertical(id="isvc-detail"):
                yield TextPane(Text("Waiting for the cluster…", style="dim"), id="isvc-detail-body", can_focus=True)
            with Vertical(id="isvc-health"):
                yield TextPane(Text("Select an InferenceService.", style="dim"), id="isvc-health-body", can_focus=True)
        yield self.status_line(id="rollouts-status")
        yield self.key_bar()

    def on_mount(self) -> None:
        self.query_one("#isvc-detail").border_title = "Detail"
        self.query_one("#isvc-health").border_title = f"Canary health · {HEALTH_WINDOW}"
        self._lay_out_columns()
        self._table().focus()

    def on_resize(self) -> None:
        if self._lay_out_columns():
            self._sync_rows()
        self.call_after_refresh(self._show_detail)  # the traffic bar follows the pane's width

    def _lay_out_columns(self) -> bool:
        """The columns for this width (render.columns); True when they changed: the rows are then
        added again (a resize, rare)."""
        layout = render.columns(self.size.width or self.app.size.width)
        if layout == self._layout:
            return False
        table = self._table()
        table.clear(columns=True)
        for key, label, width in layout:
            table.add_column(label, key=key, width=width)
        self._layout = layout
        self._shown = set()
        return True

    def _table(self) -> ListTable:
        return self.query_one("#isvcs", ListTable)

    def focus_after_filter(self) -> DataTable[Any]:
        return self._table()

    # -- live while shown ----------------------------------------------------------------------
    def on_activate(self) -> None:
        self._start_watch()
        self.schedule("health", HEALTH_DEBOUNCE, self._request_health)
        self.schedule("ages", AGE_INTERVAL, self._tick_ages)

    def on_deactivate(self) -> None:
        if self._watch_stop is not None:
            self._watch_stop.set()

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

        backoff = Backoff(self.watch_backoff)
        settings = self.services.settings
        namespace = None if settings.all_namespaces or not settings.namespace else settings.namespace
        while not stop.is_set():
            try:
                client = self.services.kube()
                scope = f"namespace {namespace}" if namespace else "all namespaces"
                for item in client.follow_inference_services(namespace, stop):
                    if stop.is_set():
                        return
                    if isinstance(item, Snapshot):
                        backoff.reset()
                        self.post_message(self.Listed(generation, item.items, item.relist, scope))
                    else:
                        self.post_message(self.Changed(generation, item.type, item.object))
            except Forbidden as error:
                if namespace is None:  # no cluster-wide list: fall back to the context's namespace
                    try:
                        namespace = self.services.kube().namespace
                        continue
                    except ConsoleError:
                        pass
                self._report_lost(generation, stop, error, backoff)
            except ConsoleError as error:
                self._report_lost(generation, stop, error, backoff)
            except Exception as error:  # noqa: BLE001 - a bug in a worker must not end the watch silently
                self._report_lost(generation, stop, ConsoleError(f"{type(error).__name__}: {error}"), backoff)

    def _report_lost(self, generation: int, stop: threading.Event, error: ConsoleError, backoff: Backoff) -> None:
        if stop.is_set():
            return
        delay = backoff.next()
        self.post_message(self.Lost(generation, error.message, delay, error.kind))
        stop.wait(delay)

    def on_rollouts_screen_listed(self, message: Listed) -> None:
        if message.generation != self._generation:
            return
        self._scope = message.scope
        self._live = True
        self._updated_at = self.app.clock()
        self._items = {isvc.key: isvc for isvc in message.items}
        self.hide_state()
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
        what = "Kubernetes API unreachable" if message.kind == "backend unavailable" else f"Kubernetes: {message.kind}"
        self.show_state(f"{what}: {message.error} · {retry_text(message.retry_in, self.app.clock())}")
        self._update_title()

    # -- rows ---------------------------------------------------------------------------------
    def filter_changed(self, text: str) -> None:
        self._limit = PAGE
        self._sync_rows()

    def _sync_rows(self, only: str | None = None) -> None:
        """Bring the table in line with self._items: update changed cells by key, add and remove
        rows; the table is never cleared for live data. Only a window of the matching rows (the
        first `self._limit`, in namespace/name order) is in the DataTable, which measures every
        cell it is given; moving the cursor near its end brings the next page in."""
        table = self._table()
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
                self._shown.discard(key)
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
            self._wanted, wanted_key = None, self._wanted
            self._select(wanted_key)
        self._restore_cursor()
        self._update_title()
        if self._selected is None or self._selected not in self._shown:
            self._select_row_under_cursor()
        elif only is None or only == self._selected:
            self._show_detail()

    def _put_row(self, table: ListTable, key: str, now: float) -> bool:
        """Add or update one row (only the cells that changed); True when it was added."""
        added = key not in self._shown
        self._shown.add(key)
        table.put_row(key, render.row_cells(self._items[key], now, self._layout, self._verdicts.get(key)))
        return added

    def _refresh_row(self, key: str) -> None:
        """Its cells again (a verdict came), leaving the cursor and the selection alone."""
        if key in self._shown and key in self._items:
            self._put_row(self._table(), key, self.app.clock())

    def _load_more(self) -> None:
        if len(self._matching) > self._limit:
            self._limit += PAGE
            self._sync_rows()

    def _restore_cursor(self) -> None:
        table = self._table()
        if self._selected in self._shown:
            index = table.get_row_index(self._selected)
            if index != table.cursor_row:
                table.move_cursor(row=index, animate=False)

    def _select_row_under_cursor(self) -> None:
        table = self._table()
        if not table.row_count:
            self._select(None)
            return
        row = min(max(table.cursor_row, 0), table.row_count - 1)
        key = table.coordinate_to_cell_key(Coordinate(row, 0)).row_key.value
        self._select(key)

    def _update_title(self) -> None:
        parts = [f"InferenceServices {len(self._matching)}/{len(self._items)}", self._scope]
        if len(self._shown) < len(self._matching):
            parts.append(f"first {len(self._shown)}, ↓ for more")
        if self.filter_text:
            parts.append(f"filter: {self.filter_text}")
        if self._updated_at is not None:
            parts.append(("live · updated " if self._live else "STALE since ") + clock_text(self._updated_at))
        elif not self._live:
            parts.append("connecting…")
        set_border_title(self._table(), literal(" · ".join(parts)))

    def _tick_ages(self) -> None:
        if self._shown:
            self._sync_rows()
        self.schedule("ages", AGE_INTERVAL, self._tick_ages)

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
            self._health_backoff.reset()
            self._show_health_waiting()
            self.schedule("health", HEALTH_DEBOUNCE, self._request_health)

    def selected(self) -> InferenceService | None:
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
        body = self.query_one("#isvc-detail-body", TextPane)
        isvc = self.selected()
        if isvc is None:
            if self._items and not self._shown:
                body.show(Text(f"No InferenceService matches {safe(self.filter_text)!r}.", style="dim"))
            elif self._live and not self._items:
                body.show(Text(f"No InferenceServices in {self._scope}.", style="dim"))
            return
        for uri in render.catalog_uris(isvc):  # the stable model, and each Standard-mode canary's
            if uri not in self._catalog and uri not in self._catalog_pending:
                self._catalog_pending.add(uri)
                self._lookup_catalog(uri)
        self._ask_pods_why(isvc)
        width = body.scrollable_content_region.width
        bar_width = max(8, min(40, width - 21)) if width else render.BAR_WIDTH
        said = self._pods_said.get(isvc.key)
        not_ready = rollouts.latest_not_ready(isvc)
        pods = said[1] if said is not None and not_ready is not None and said[0] == not_ready.revision else None
        text = render.detail(isvc, catalog=self._catalog, last_result=self._last_result.get(isvc.key),
                             bar_width=bar_width, pods_say=pods)
        if (driver := self.progress_of(isvc.key)) is not None:
            text = Text.assemble(driver.text(), text)
        body.show(text)  # its first line names the row: the pane's title stays the same

    def _ask_pods_why(self, isvc: InferenceService) -> None:
        """For a revision (or Standard-mode canary) that is not ready, what its pods say, asked
        again every PODS_AGAIN seconds while it is shown."""
        not_ready = rollouts.latest_not_ready(isvc)
        if not_ready is None or isvc.key in self._pods_pending:
            return
        said = self._pods_said.get(isvc.key)
        if said is not None and said[0] == not_ready.revision and time.monotonic() - said[2] < PODS_AGAIN:
            return
        self._pods_pending.add(isvc.key)
        self._fetch_pods_why(isvc.key, isvc.namespace, not_ready.revision, rollouts.pods_selector(isvc, not_ready))

    @work(thread=True, group="rollouts-pods", exit_on_error=False)
    def _fetch_pods_why(self, key: str, namespace: str, revision: str, selector: str) -> None:
        try:
            said = rollouts.pods_say(self.services.kube().list_pods(namespace, selector))
        except ConsoleError as error:
            said = f"(its pods could not be read: {error.message})"
        self.post_message(self.PodsSaid(key, revision, said))

    def on_rollouts_screen_pods_said(self, message: PodsSaid) -> None:
        self._pods_pending.discard(message.key)
        self._pods_said[message.key] = (message.revision, message.said, time.monotonic())
        if message.key == self._selected:
            self._show_detail()

    @work(thread=True, group="rollouts-catalog", exit_on_error=False)
    def _lookup_catalog(self, uri: str) -> None:
        try:
            record = self.services.catalog.version_by_artifact_uri(uri)
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
    def _request_health(self) -> None:
        isvc = self.selected()
        if isvc is None:
            return
        target = rollouts.health_target(isvc)
        if target is None:
            self._set_health(Text(f"{safe(isvc.key)}: no revision serves traffic yet: nothing to measure.",
                                  style="dim"))
            self.schedule("health", self.health_interval, self._request_health)
            return
        self._fetch_health(isvc.key, isvc.namespace, isvc.name, target)

    @work(thread=True, exclusive=True, group="rollouts-health", exit_on_error=False)
    def _fetch_health(self, key: str, namespace: str, name: str, target: rollouts.HealthTarget) -> None:
        try:
            metrics = self.services.metrics()
        except InvalidInput as error:
            self.post_message(self.HealthFailed(key, error.message, "not configured", retry=False))
            return
        except ConsoleError as error:
            self.post_message(self.HealthFailed(key, error.message, error.kind, retry=True))
            return
        from console import canary as canary_mod
        from console import drift
        from console.drift_service import DriftService

        settings = self.services.settings
        service = DriftService(metrics, thresholds=drift.Thresholds.from_settings(settings.drift),
                               health_thresholds=canary_mod.HealthThresholds.from_settings(settings.health))
        try:
            verdict = service.health(namespace, name, canary_revision=target.canary, stable_revision=target.stable,
                                     window=HEALTH_WINDOW, traffic=target.traffic, at=self.app.clock())
            not_ready = target.not_ready
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
        self._verdicts[message.key] = message.verdict
        self._refresh_row(message.key)  # its verdict cell
        isvc = self._items.get(message.key)
        if message.key != self._selected or isvc is None:
            return
        self._health_backoff.reset()
        answer = render.health(message.verdict, isvc, clock_text(self.app.clock()))
        self._answers[message.key] = answer
        self._set_health(answer)
        self.schedule("health", self.health_interval, self._request_health)

    def on_rollouts_screen_health_failed(self, message: HealthFailed) -> None:
        if self._verdicts.pop(message.key, None) is not None:
            self._refresh_row(message.key)  # no verdict known any more
        if message.key != self._selected:
            return
        text = Text()
        if message.kind == "not configured":
            text.append("Prometheus not configured\n", style="bold yellow")
            text.append(safe(message.error, multiline=True) + "\n", style="dim")
            text.append("\nThe rest of this screen works without it.", style="dim")
            self._no_metrics = text
            self._set_health(text)
            return
        delay = self._health_backoff.next()
        text.append("Prometheus unavailable\n", style="bold red")
        text.append(safe(message.error, multiline=True) + "\n")
        text.append(f"\n{retry_text(delay, self.app.clock())}", style="dim")
        self._set_health(text)
        self.schedule("health", delay, self._request_health)

    def _show_health_waiting(self) -> None:
        """A newly selected row: its last answer (it names its row and time), or, when its first
        answer is slow, the words for "not yet". Until then the pane keeps what it shows, which
        names the row it is about: most answers come sooner, and the pane is drawn once (over
        SSH, "Asking…" and then the answer cost twice the bytes of a move)."""
        isvc = self.selected()
        if isvc is None:
            return
        if isvc.key in self._answers:
            self._set_health(self._answers[isvc.key])
        elif self._no_metrics is not None:
            self._set_health(self._no_metrics)
        elif not self.query_one("#isvc-health-body", TextPane).text.plain.strip():
            self._show_health_pending()
        else:  # the last row's panel (it names its row) stays until this row's answer, or its delay
            self.schedule("health-pending", HEALTH_DEBOUNCE + HEALTH_PENDING_AFTER, self._show_health_pending)

    def _show_health_pending(self) -> None:
        isvc = self.selected()
        if isvc is not None and isvc.key not in self._answers:
            self._set_health(Text(f"Asking Prometheus about {safe(isvc.key)}…", style="dim"), hold=True)

    def _set_health(self, text: Text, *, hold: bool = False) -> None:
        self.cancel("health-pending")  # whatever is shown now is newer than "Asking…"
        self.query_one("#isvc-health-body", TextPane).show(text, hold=hold)

    # -- why it is failing: e events, l logs, y YAML (screens/object_view.py) ----------------------
    def action_events(self) -> None:
        from screens.object_view import isvc_events

        if (isvc := self._need_selection()) is not None:
            self.app.push_screen(isvc_events(self.services, isvc.namespace, isvc.name))

    def action_logs(self) -> None:
        from screens.object_view import isvc_logs

        if (isvc := self._need_selection()) is not None:
            self.app.push_screen(isvc_logs(self.services, isvc.namespace, isvc.name))

    def action_yaml(self) -> None:
        from screens.object_view import isvc_yaml

        if (isvc := self._need_selection()) is not None:
            self.app.push_screen(isvc_yaml(self.services, isvc.namespace, isvc.name))
