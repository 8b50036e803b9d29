"""The Rollouts screen's small questions, asked before the confirmation modal: an exact percentage,
and a catalog version to start a canary of. They only collect input; the change itself is shown,
checked and confirmed by the safe action path afterwards."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from console.safe_text import literal, safe

MODAL_CSS = """
PercentScreen, VersionPickerScreen { align: center middle; }
#percent-box, #picker-box { width: 72; max-width: 95%; height: auto; max-height: 90%;
    border: thick $warning; padding: 0 1; background: $surface; }
#percent-value, #picker-percent { margin: 1 0 0 0; }
#picker-versions { height: auto; max-height: 12; border: round $primary 50%; }
#picker-versions:focus { border: round $accent; }
#percent-error, #picker-error { color: $error; height: auto; }
.rollouts-hint { color: $text-muted; height: 1; }
"""


class PercentScreen(ModalScreen[str | None]):
    """Asks for the canary's share of traffic; dismisses with the text typed (validated later by
    the action, so a bad value is refused AND written to the audit journal)."""

    DEFAULT_CSS = MODAL_CSS
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, target: str, current: int | None, split: str):
        super().__init__()
        self.target, self.current, self.split = target, current, split

    def compose(self) -> ComposeResult:
        text = Text()
        text.append("Set the canary's share of traffic on ")
        text.append(safe(self.target), style="bold")
        text.append("\nspec canaryTrafficPercent now: ", style="dim")
        text.append("unset" if self.current is None else str(self.current))
        text.append("\nserved now: ", style="dim")
        text.append(safe(self.split))
        with Vertical(id="percent-box"):
            yield Static(text, markup=False)
            yield Input(value="" if self.current is None else str(self.current), placeholder="0-100",
                        id="percent-value")
            yield Static("", id="percent-error", markup=False)
            yield Static("enter continues to the confirmation · esc cancels", markup=False,
                         classes="rollouts-hint")

    def on_mount(self) -> None:
        self.query_one("#percent-value", Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value.strip()
        if not value:
            self.query_one("#percent-error", Static).update("Type a whole number from 0 to 100.")
            return
        self.dismiss(value)


class VersionPickerScreen(ModalScreen[tuple[Any, str] | None]):
    """Lists a model's catalog versions (newest first); dismisses with (version record, percent text)."""

    DEFAULT_CSS = MODAL_CSS
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("tab", "focus_next", "Next field", show=False)]

    def __init__(self, target: str, model: str, versions: list[Any], served_uri: str | None, percent: int):
        super().__init__()
        self.target, self.model, self.versions = target, model, versions
        self.served_uri, self.percent = served_uri, percent

    def compose(self) -> ComposeResult:
        text = Text()
        text.append("Start a canary on ")
        text.append(safe(self.target), style="bold")
        text.append(" with a version of ")
        text.append(safe(self.model), style="bold")
        text.append("\nIt patches the model's storageUri and canaryTrafficPercent.", style="dim")
        with Vertical(id="picker-box"):
            yield Static(text, markup=False)
            table = DataTable(id="picker-versions", cursor_type="row")
            table.border_title = literal(f"Versions of {self.model} ({len(self.versions)})")
            yield table
            yield Input(value=str(self.percent), placeholder="canary percent, 0-100", id="picker-percent")
            yield Static("", id="picker-error", markup=False)
            yield Static("enter picks · tab: percent · esc cancels", markup=False, classes="rollouts-hint")

    def on_mount(self) -> None:
        table = self.query_one("#picker-versions", DataTable)
        table.add_column("ver", key="version")
        table.add_column("created", key="created")
        table.add_column("aliases", key="aliases")
        table.add_column("", key="served")
        first_other = None
        for index, record in enumerate(self.versions):
            served = record.artifact_uri == self.served_uri
            if not served and first_other is None:
                first_other = index
            table.add_row(literal(record.version, "bold"), literal((record.created_at or "")[:10]),
                          literal(", ".join(record.aliases), "cyan"),
                          literal("in spec" if served else "", "magenta"), key=str(index))
        if first_other is not None:
            table.move_cursor(row=first_other)
        table.focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _pick(self) -> None:
        table = self.query_one("#picker-versions", DataTable)
        if not table.row_count:
            self.query_one("#picker-error", Static).update("This model has no versions in the catalog.")
            return
        record = self.versions[table.cursor_row]
        if not record.artifact_uri:
            self.query_one("#picker-error", Static).update(
                f"Version {safe(record.version)} has no artifact URI in the catalog: nothing to serve.")
            return
        self.dismiss((record, self.query_one("#picker-percent", Input).value.strip() or str(self.percent)))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self._pick()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._pick()
