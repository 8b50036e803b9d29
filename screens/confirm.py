"""The confirmation every change goes through: the exact change, a reason, cancel by default."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from console.actions import Change, precondition_text
from console.safe_text import safe


class ConfirmChangeScreen(ModalScreen[str | None]):
    """Dismisses with the reason when applied, None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    AUTO_FOCUS = "#confirm-cancel"  # Cancel is focused: enter never applies by accident

    def __init__(self, change: Change, *, reason: str = ""):
        super().__init__()
        self.change = change
        self.initial_reason = reason

    def compose(self) -> ComposeResult:
        change = self.change
        title = Text()
        title.append(f"{change.kind}", style="bold")
        title.append(" on ")
        title.append(safe(change.target), style="bold")
        text = Text()
        for line in change.lines:
            text.append(f"  {safe(line)}\n", style="yellow")
        if change.precondition:
            text.append(f"  {precondition_text(change)}\n", style="dim")
        if change.dry_run:
            text.append(f"  dry-run: {safe(change.dry_run)}\n", style="green")
        for note in change.notes:
            text.append(f"  note: {safe(note)}\n", style="magenta")
        with Vertical(id="confirm-box"):
            yield Static(title, id="confirm-title", markup=False)
            # The change scrolls on its own, so at 80x24 the reason and the buttons stay in view.
            with VerticalScroll(id="confirm-change-scroll"):
                yield Static(text, id="confirm-change", markup=False)
            yield Input(value=self.initial_reason, placeholder="why? (required; written to the audit journal)",
                        id="confirm-reason")
            yield Static("", id="confirm-error", markup=False)
            with Horizontal(id="confirm-buttons"):
                yield Button("Cancel", id="confirm-cancel", variant="default")
                yield Button("Apply", id="confirm-apply", variant="warning")
            yield Static("esc cancels · shift+tab: reason · enter in the reason field applies", id="confirm-hint",
                         markup=False)

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
