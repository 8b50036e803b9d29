"""The confirmation every change goes through: the exact change, a reason, cancel by default."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from console.actions import Change


class ConfirmChangeScreen(ModalScreen[str | None]):
    """Dismisses with the reason when applied, None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, change: Change, *, reason: str = ""):
        super().__init__()
        self.change = change
        self.initial_reason = reason

    def compose(self) -> ComposeResult:
        change = self.change
        text = Text()
        text.append(f"{change.kind}", style="bold")
        text.append(" on ")
        text.append(change.target, style="bold")
        text.append("\n\n")
        for line in change.lines:
            text.append(f"  {line}\n", style="yellow")
        if change.precondition:
            text.append(f"  precondition: {change.precondition}\n", style="dim")
        if change.dry_run:
            text.append(f"  dry-run: {change.dry_run}\n", style="green")
        for note in change.notes:
            text.append(f"  note: {note}\n", style="magenta")
        with Vertical(id="confirm-box"):
            yield Static(text, id="confirm-change", markup=False)
            yield Input(value=self.initial_reason, placeholder="why? (required; written to the audit journal)",
                        id="confirm-reason")
            yield Static("", id="confirm-error", markup=False)
            with Horizontal(id="confirm-buttons"):
                yield Button("Cancel", id="confirm-cancel", variant="default")
                yield Button("Apply", id="confirm-apply", variant="warning")
            yield Static("esc cancels · shift+tab: reason · enter in the reason field applies", id="confirm-hint",
                         markup=False)

    def on_mount(self) -> None:
        self.query_one("#confirm-cancel", Button).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _apply(self) -> None:
        reason = self.query_one("#confirm-reason", Input).value.strip()
        if not reason:
            self.query_one("#confirm-error", Static).update("A reason is required: it goes into the audit journal.")
            self.query_one("#confirm-reason", Input).focus()
            return
        self.dismiss(reason)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "confirm-apply":
            self._apply()
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._apply()
