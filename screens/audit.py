"""The palette's Audit journal: recent changes, newest first, with who, why and before -> after
(`mlops-console audit list` in a window). It reads the local journal, so it polls it (cheap) while
shown and redraws only when a new row came in."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable, Static

from console.safe_text import safe
from screens.base import ConsoleScreen
from screens.list_table import ListTable

POLL_INTERVAL = 5.0
LIMIT = 500
COLUMNS = (("ts", "when (UTC)"), ("outcome", "outcome"), ("action", "action"), ("target", "target"),
           ("who", "who"), ("change", "before -> after"))


def outcome_style(outcome: str) -> str:
    if outcome == "applied":
        return "bold green"
    if outcome.startswith(("failed", "refused")) or outcome == "intent":
        return "bold red"
    return ""


class AuditScreen(ConsoleScreen):
    screen_title = "Audit"
    BINDINGS = [
        Binding("escape", "leave_filter", "Close", show=False),
        Binding("q", "close", "Close"),
        Binding("r", "refresh", "Refresh"),
    ]
    DEFAULT_CSS = """
    AuditScreen #audit-rows { height: 2fr; min-height: 5; border: round $primary 50%; }
    AuditScreen #audit-detail { height: 1fr; min-height: 4; border: round $primary 50%; padding: 0 1; }
    """

    class Loaded(Message):
        def __init__(self, rows: list[Any], error: str | None):
            super().__init__()
            self.rows, self.error = rows, error

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Any] = []
        self._newest: tuple[int, int] | None = None  # (newest id, count): unchanged -> nothing redrawn

    def compose(self) -> ComposeResult:
        yield self.header()
        yield self.filter_input("/ filter: target, action, who or reason", id="audit-filter")
        yield self.state_banner(id="audit-state")
        table = ListTable(id="audit-rows", cursor_type="row")
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        yield table
        with VerticalScroll(id="audit-detail"):
            yield Static("", id="audit-detail-body", markup=False)
        yield self.status_line(id="audit-status")
        yield self.key_bar()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#audit-rows", DataTable).focus()

    def focus_after_filter(self) -> DataTable:
        return self.query_one("#audit-rows", DataTable)

    def on_activate(self) -> None:
        self.schedule("poll", 0, self._load)

    @work(thread=True, exclusive=True, group="audit-load", exit_on_error=False)
    def _load(self) -> None:
        try:
            rows = self.services.audit.list(limit=LIMIT)
            self.post_message(self.Loaded(rows, None))
        except Exception as error:  # a locked or unreadable journal is a state of this screen
            self.post_message(self.Loaded([], f"{type(error).__name__}: {error}"))

    def on_audit_screen_loaded(self, message: Loaded) -> None:
        self.schedule("poll", POLL_INTERVAL, self._load)
        if message.error:
            self.show_state(f"The audit journal {self.services.settings.audit} cannot be read: {message.error}")
            return
        self.hide_state()
        newest = (message.rows[0].id if message.rows else 0, len(message.rows))
        if newest == self._newest:
            return
        self._newest = newest
        self.rows = message.rows
        self._fill()

    def filter_changed(self, text: str) -> None:
        self._fill()

    def _visible(self) -> list[Any]:
        needle = self.filter_text.lower()
        if not needle:
            return self.rows
        return [row for row in self.rows
                if needle in " ".join(str(v) for v in (row.target, row.action, row.who, row.reason or "",
                                                        row.outcome)).lower()]

    def _fill(self) -> None:
        table = self.query_one("#audit-rows", DataTable)
        visible = self._visible()
        with self.app.batch_update():
            table.clear()
            for row in visible:
                table.add_row(Text(safe(row.ts[:19].replace("T", " "))),
                              Text(safe(row.outcome), style=outcome_style(row.outcome)),
                              Text(safe(row.action)), Text(safe(row.target)), Text(safe(row.who)),
                              Text(safe(row.change(limit=1))), key=str(row.id))
        path = self.services.settings.audit
        table.border_title = safe(f"Audit journal · {len(visible)} of {len(self.rows)} rows · {path}")
        self.set_status("newest first; enter or the cursor shows a row whole" if visible
                        else f"no audit rows in {path}")
        self._show_detail()

    def selected(self) -> Any | None:
        table = self.query_one("#audit-rows", DataTable)
        if not table.row_count:
            return None
        row = min(max(table.cursor_row, 0), table.row_count - 1)
        key = table.coordinate_to_cell_key(Coordinate(row, 0)).row_key.value
        return next((row for row in self.rows if str(row.id) == key), None)

    @on(DataTable.RowHighlighted, "#audit-rows")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        row = self.selected()
        body = self.query_one("#audit-detail-body", Static)
        if row is None:
            body.update("")
            return
        text = Text()
        text.append(f"#{row.id} ", style="bold")
        text.append(safe(row.outcome), style=outcome_style(row.outcome))
        text.append(f"  {safe(row.action)} {safe(row.target)}\n", style="bold")
        text.append(f"at {safe(row.ts)} by {safe(row.who)}")
        text.append(f" in {safe(row.context)}\n" if row.context else "\n")
        text.append(f"reason: {safe(row.reason, multiline=True) if row.reason else '(none given)'}\n")
        change = row.change(limit=10)
        if change:
            text.append(f"change: {safe(change)}\n")
        if row.intent_id is not None:
            text.append(f"result of intent #{row.intent_id}\n", style="dim")
        elif row.outcome == "intent":
            text.append("no result recorded: check the target's state\n", style="bold red")
        if row.message:
            text.append(safe(row.message, multiline=True) + "\n", style="dim")
        body.update(text)

    def action_refresh(self) -> None:
        self._newest = None
        self.cancel("poll")
        self._load()

    def action_leave_filter(self) -> None:
        """esc clears an open filter first, then closes the view."""
        if self.filter_text or self.focused is not self.focus_after_filter():
            super().action_leave_filter()
        else:
            self.action_close()

    def action_close(self) -> None:
        self.app.pop_screen()
