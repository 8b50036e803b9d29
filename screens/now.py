"""Now (key 0): what needs you now, across the contexts in scope, most severe first.

Every item says where (context, namespace, name), what (a failed revision, a failing canary, a
failed or slow run, drift, an unreachable backend), why in one line, and since when. `enter` opens
it on its screen, selected. The list is live while the screen is shown:
- serving items (failed or not-ready revisions, canaries) from one watch per context in scope
  (console.triage.ServingWatch: list + watch in a thread worker, relist on 410; a lost watch is a
  backend-unavailable item with the next retry);
- runs (KFP), canary verdicts and drift (Prometheus) from a poll that reschedules when its answer
  is in (backoff on errors).
Both stop while the screen is hidden and when the context switches (the app rebuilds the screens).
An item that clears stays a minute marked resolved, so a fix is seen to land rather than an item
silently vanishing.
"""

from __future__ import annotations

import threading
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable, Static

from console.safe_text import literal, safe
from screens.base import Backoff, ConsoleScreen, clock_text, retry_text
from screens.list_table import ListTable

REFRESH_INTERVAL = 15.0
REFRESH_BACKOFF = (5.0, 10.0, 20.0, 40.0, 60.0)
RESOLVED_FOR = 60.0
SERVING_SETTLE = 0.05  # watch events within this are shown together
FIRST_POLL_AFTER = 1.0

# Symbol and word as well as colour: the severity reads the same under NO_COLOR.
SEVERITY_CELLS = {
    "critical": ("✖ CRIT", "bold red"),
    "warning": ("▲ WARN", "bold yellow"),
    "info": ("· info", "cyan"),
    "resolved": ("✓ done", "green"),
}
COLUMNS = (("severity", "sev"), ("kind", "kind"), ("where", "where"), ("since", "for"), ("summary", "summary"))
WIDE = 100  # narrower than this, the kind column gives its room to the summary (the detail names it)
WHERE_WIDTH = 30
SERVING_KINDS = ("revision-failed", "not-ready", "canary-failing", "canary-in-progress")


def item_key(item: Any) -> str:
    return "\x1f".join(str(part) for part in item.key)


def place(item: Any) -> tuple[str, str | None, str]:
    return (item.context, item.namespace, item.name)


def where(item: Any, with_context: bool = True) -> str:
    return "/".join(part for part in (item.context if with_context else None, item.namespace, item.name) if part)


def age(since: str | None, now: float) -> str:
    from console import humanize

    return humanize.age(since, now) or (since or "")


class NowScreen(ConsoleScreen):
    screen_title = "Now"
    refresh_interval = REFRESH_INTERVAL
    BINDINGS = [
        Binding("enter", "open_item", "Open"),
        Binding("r", "refresh", "Refresh"),
    ]
    HELP_NOTES = ("Everything that needs you now, across the contexts in scope, most severe first: failed or "
                  "not-ready revisions, canaries and their verdict, failed or unusually slow pipeline runs, "
                  "drifting inputs, unreachable backends. enter opens the item on its screen; an item that "
                  "clears stays a minute marked done. `mlops-console triage` prints the same list.")
    DEFAULT_CSS = """
    #now-filter { height: 1; border: none; padding: 0 1; background: $boost; }
    #now-filter:focus { background: $accent 30%; }
    #now-items { height: 2fr; min-height: 5; border: round $primary 50%; }
    #now-items:focus { border: round $accent; }
    #now-detail { height: 1fr; min-height: 4; border: round $primary 50%; padding: 0 1; }
    """

    class Gathered(Message):
        def __init__(self, items: list[Any], error: str | None, partial: bool = False):
            super().__init__()
            self.items, self.error, self.partial = items, error, partial

    class ServingChanged(Message):
        """A watch has news (coalesced: see ServingWatch.changed)."""

    def __init__(self) -> None:
        super().__init__()
        self._items: dict[str, Any] = {}  # key -> Item, open now, sorted
        self._polled: dict[str, Any] = {}  # key -> Item, from the last poll
        self._serving: dict[str | None, list[Any]] = {}  # context in scope -> its watch's items
        self._watches: list[Any] = []  # triage.ServingWatch, one per context in scope
        self._watch_stop: threading.Event | None = None
        self._resolved: dict[str, tuple[Any, float]] = {}  # key -> (Item, when it cleared)
        self._shown: dict[str, tuple[str, ...]] = {}  # row key -> the cells on screen
        self._backoff = Backoff(REFRESH_BACKOFF)
        self._updated_at: float | None = None
        self._loading = False
        self._sync_pending = False
        self._poll_waits_for_watch = False
        self._detail_shown: Text | None = None

    def compose(self) -> ComposeResult:
        yield self.header()
        yield self.filter_input("/ filter: context, namespace, name, kind or text", id="now-filter")
        yield self.state_banner(id="now-state")
        table = ListTable(id="now-items", cursor_type="row")
        table.border_title = "Needs you now · gathering…"
        yield table
        with VerticalScroll(id="now-detail"):
            yield Static(Text("Gathering from every context in scope…", style="dim"), id="now-detail-body",
                         markup=False)
        yield self.status_line(id="now-status")
        yield self.key_bar()

    def on_mount(self) -> None:
        self._columns: tuple[tuple[str, str], ...] = ()
        self._lay_out_columns()
        self.query_one("#now-items", DataTable).focus()

    def on_resize(self) -> None:
        if self._lay_out_columns():
            self.call_after_refresh(self._sync_rows)

    def _lay_out_columns(self) -> bool:
        """The columns for this width; True when they changed (the rows are then laid out again)."""
        wanted = COLUMNS if self.size.width >= WIDE else tuple(c for c in COLUMNS if c[0] != "kind")
        if wanted == self._columns:
            return False
        table = self.query_one("#now-items", DataTable)
        table.clear(columns=True)
        for key, label in wanted:
            table.add_column(label, key=key)
        self._columns = wanted
        self._shown = {}
        return True

    def focus_after_filter(self) -> DataTable[Any]:
        return self.query_one("#now-items", DataTable)

    # -- gathering ------------------------------------------------------------------------------
    def _scope(self) -> tuple[Any, Any]:
        from console.triage import Scope, scope_contexts, settings_resolver

        settings = self.services.settings
        return (settings_resolver(settings, self.services.flags),
                Scope(scope_contexts(settings), None if settings.all_namespaces else settings.namespace))

    def on_activate(self) -> None:
        from console.triage import ServingWatch

        settings_for, scope = self._scope()
        self._watch_stop = stop = threading.Event()
        self._watches = [ServingWatch(settings_for, context, scope.namespace) for context in scope.contexts]
        for watch in self._watches:
            self._watch(watch, stop)
        # The serving items first (critical, and the watches' lists are the bulk of the start): the
        # poll follows the first watch's answer, or FIRST_POLL_AFTER, whichever comes first.
        self._poll_waits_for_watch = True
        self.schedule("refresh", FIRST_POLL_AFTER, self._request)

    def on_deactivate(self) -> None:
        if self._watch_stop is not None:
            self._watch_stop.set()
            self._watch_stop = None

    @work(thread=True, group="now-watch", exit_on_error=False)
    def _watch(self, watch: Any, stop: threading.Event) -> None:
        watch.run(stop, lambda: self.post_message(self.ServingChanged()))

    def on_now_screen_serving_changed(self, message: ServingChanged) -> None:
        if not self.scheduled("serving"):
            self.schedule("serving", SERVING_SETTLE, self._read_watches)

    def _read_watches(self) -> None:
        changed = False
        for watch in self._watches:
            if watch.changed.is_set():
                items = watch.items()
                if items != self._serving.get(watch.context):
                    self._serving[watch.context] = items
                    changed = True
        if self._poll_waits_for_watch:
            self.cancel("refresh")
            self._request()
        if changed or self._updated_at is None:
            self._updated_at = self.app.clock()
            self._merge()

    def _request(self) -> None:
        self._poll_waits_for_watch = False
        if self._loading:
            return
        self._loading = True
        self._gather(list(self._watches))

    @work(thread=True, exclusive=True, group="now-gather", exit_on_error=False)
    def _gather(self, watches: list[Any]) -> None:
        from adapters.errors import ConsoleError
        from console.triage import poll

        settings_for, scope = self._scope()
        try:
            def partial(so_far: list[Any]) -> None:
                self.post_message(self.Gathered(so_far, None, partial=True))

            polled = poll(settings_for, scope, watches, on_partial=partial)
        except ConsoleError as error:
            self.post_message(self.Gathered([], error.message))
            return
        except Exception as error:  # noqa: BLE001 - a state of this screen, never a crash
            self.post_message(self.Gathered([], f"{type(error).__name__}: {error}"))
            return
        self.post_message(self.Gathered(polled, None))

    def on_now_screen_gathered(self, message: Gathered) -> None:
        self._loading = False
        now = self.app.clock()
        if message.error is not None:
            delay = self._backoff.next()
            self.show_state(f"Could not gather: {message.error} · {retry_text(delay, now)}")
            self.schedule("refresh", delay, self._request)
            return
        fresh = {item_key(item): item for item in message.items}
        if message.partial:
            # The first answers while slower backends are still asked: shown at once; nothing of the
            # poll's is marked resolved until its whole answer is in.
            self._loading = True
            self._polled = {**self._polled, **fresh}
            self._merge()
            return
        self._backoff.reset()
        self.hide_state()
        self._polled = fresh
        self._updated_at = now
        self._read_watches()  # with the canaries' new verdicts (ServingWatch.judge)
        self._merge()
        self.schedule("refresh", self.refresh_interval, self._request)

    def _merge(self) -> None:
        """The open items from the watches and the poll; those that left are resolved for a minute."""
        from console.triage import sort_items

        now = self.app.clock()
        every = [item for items in self._serving.values() for item in items] + list(self._polled.values())
        fresh = {item_key(item): item for item in sort_items(every)}
        places = {place(item) for item in fresh.values()}
        for key, item in self._items.items():
            if key not in fresh and place(item) not in places:  # changed kind (a canary judged): not cleared
                self._resolved[key] = (item, now)
        for key in fresh:
            self._resolved.pop(key, None)
        self._items = fresh
        if not self._sync_pending:
            # After the next refresh (rows given to a DataTable before its first frame keep the
            # width of the column labels), once for all the merges before it.
            self._sync_pending = True
            self.call_after_refresh(self._sync_rows)

    # -- rows -------------------------------------------------------------------------------------
    def _rows(self, now: float) -> list[tuple[str, Any, bool]]:
        """(key, item, resolved) in the order shown: the open items as triage sorts them, then the
        ones that cleared within the last minute."""
        for key in [k for k, (_, at) in self._resolved.items() if now - at >= RESOLVED_FOR]:
            del self._resolved[key]
        rows = [(key, item, False) for key, item in self._items.items()]
        rows += [(key, item, True) for key, (item, _) in self._resolved.items()]
        text = self.filter_text.lower()
        if text:
            rows = [r for r in rows if text in " ".join((where(r[1]), r[1].kind, r[1].summary)).lower()]
        return rows

    def _one_context(self) -> bool:
        return len({item.context for item in self._items.values()} | {i.context for i, _ in self._resolved.values()}) <= 1

    def _cells(self, item: Any, resolved: bool, now: float) -> tuple[Text, ...]:
        label, style = SEVERITY_CELLS["resolved" if resolved else item.severity]
        dim = "dim" if resolved else ""
        place = where(item, with_context=not self._one_context())
        if len(place) > WHERE_WIDTH:
            place = "…" + place[-(WHERE_WIDTH - 1):]
        cells = {"severity": Text(label, style=style), "kind": Text(safe(item.kind), style=dim),
                 "where": Text(safe(place), style=dim), "since": Text(age(item.since, now), style=dim)}
        # The summary takes what is left of the line (the detail below shows it whole).
        room = max(12, self.size.width - 6 - sum(len(c.plain) + 2 for k, c in cells.items()
                                                 if k in dict(self._columns)) - 2)
        summary = item.summary if len(item.summary) <= room else item.summary[:room - 1] + "…"
        cells["summary"] = Text(safe(summary), style=dim)
        return tuple(cells[key] for key, _ in self._columns)

    def _sync_rows(self) -> None:
        """Update the table by row key: changed cells only. When the order changes (an item comes,
        goes or changes severity: rare, and the list is short) the rows are laid out again."""
        self._sync_pending = False
        table = self.query_one("#now-items", DataTable)
        now = self.app.clock()
        rows = self._rows(now)
        cells = {key: self._cells(item, resolved, now) for key, item, resolved in rows}
        plain = {key: tuple(c.plain + "\0" + str(c.style) for c in row) for key, row in cells.items()}
        selected = self._selected_key()
        at_top = table.row_count == 0 or table.cursor_row <= 0  # the top stays on the most severe item
        order = [key for key, _, _ in rows]
        same_order = order == list(self._shown) and all(plain[k][0] == self._shown[k][0] for k in order)
        with self.app.batch_update():
            if same_order:
                for key in order:
                    for (column, _), cell, before, after in zip(self._columns, cells[key], self._shown[key],
                                                                plain[key], strict=True):
                        if before != after:
                            table.update_cell(key, column, cell)
            else:
                for key in list(self._shown):
                    table.remove_row(key)
                for key in order:
                    table.add_row(*cells[key], key=key)
        self._shown = {key: plain[key] for key in order}
        if at_top and order:
            table.move_cursor(row=0, animate=False)
        elif selected in self._shown:
            table.move_cursor(row=table.get_row_index(selected), animate=False)
        self._update_title()
        self._show_detail()

    def _update_title(self) -> None:
        table = self.query_one("#now-items", DataTable)
        counts: dict[str, int] = {}
        for item in self._items.values():
            counts[item.severity] = counts.get(item.severity, 0) + 1
        parts = [f"Needs you now: {counts.get('critical', 0)} critical, {counts.get('warning', 0)} warning, "
                 f"{counts.get('info', 0)} info"]
        if self.filter_text:
            parts.append(f"filter: {self.filter_text}")
        if self._updated_at is not None:
            parts.append(f"updated {clock_text(self._updated_at)}")
        title = literal(" · ".join(parts))
        if title != table.border_title:  # an unchanged title redraws nothing
            table.border_title = title

    # -- selection --------------------------------------------------------------------------------
    def _selected_key(self) -> str | None:
        table = self.query_one("#now-items", DataTable)
        if not table.row_count:
            return None
        row = min(max(table.cursor_row, 0), table.row_count - 1)
        return table.coordinate_to_cell_key(Coordinate(row, 0)).row_key.value

    def selected(self) -> Any | None:
        key = self._selected_key()
        if key is None:
            return None
        if key in self._items:
            return self._items[key]
        return self._resolved.get(key, (None, 0))[0]

    @on(DataTable.RowHighlighted, "#now-items")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    @on(DataTable.RowSelected, "#now-items")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open_item()  # the table takes enter before the screen's binding sees it

    def _show_detail(self) -> None:
        body = self.query_one("#now-detail-body", Static)
        item = self.selected()
        if item is None:
            if self._updated_at is not None and not self._items:
                self._detail_shown = None
                body.update(Text("Nothing needs you now.", style="bold green"))
            return
        text = Text()
        label, style = SEVERITY_CELLS["resolved" if self._selected_key() in self._resolved else item.severity]
        text.append(f"{label} ", style=style)
        text.append(f"{safe(item.kind)}  ", style="bold")
        text.append(safe(where(item)) + "\n")
        text.append(safe(item.summary, multiline=True) + "\n")
        if item.ref and item.kind.startswith("run-"):
            text.append(f"run {safe(item.ref)}\n", style="dim")
        if item.since:
            text.append(f"since {safe(item.since)} ({age(item.since, self.app.clock())} ago)\n", style="dim")
        text.append("\nenter opens it on its screen", style="dim")
        if text != self._detail_shown:  # an unchanged detail redraws nothing
            self._detail_shown = text
            body.update(text)

    # -- keys ---------------------------------------------------------------------------------------
    def action_refresh(self) -> None:
        self.set_status("Gathering…")
        self.cancel("refresh")
        self._request()

    def action_open_item(self) -> None:
        item = self.selected()
        if item is None:
            return
        if item.kind not in (*SERVING_KINDS, "run-failed", "run-slow", "drift"):
            self.set_status(f"{item.summary}: see `mlops-console doctor` for what to check", error=True)
            return
        app = self.app
        if item.context and item.context != self.services.kube_context:
            # Another cluster's item: every screen follows to its context first (as the palette's
            # `context NAME` does), then the item opens there.
            app.switch_context(context=item.context, then=lambda: open_item(app, item))
            return
        open_item(app, item)


def open_item(app: Any, item: Any) -> None:
    """Show the item on its screen, selected."""
    if item.kind in SERVING_KINDS:
        app.selected_isvc = (item.namespace, item.name)
        app.action_show_screen("rollouts")
        app.call_after_refresh(lambda: _call(app.screen, "select_isvc", item.namespace, item.name))
    elif item.kind in ("run-failed", "run-slow") and item.ref:
        app.action_show_screen("pipelines")
        app.call_after_refresh(lambda: _call(app.screen, "select_run", item.ref))
    elif item.kind == "drift":
        app.selected_isvc = (item.namespace, item.name)
        app.selected_feature = item.ref
        app.action_show_screen("drift")


def _call(screen: Any, method: str, *args: Any) -> None:
    if hasattr(screen, method):
        getattr(screen, method)(*args)
