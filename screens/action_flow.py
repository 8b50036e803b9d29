"""Runs a change along the safe action path from a screen: plan in a worker, confirm in a modal,
apply in a worker, then report. Refusals and failures are shown, never raised."""

from __future__ import annotations

from typing import Any, Callable

from textual import work

from adapters.errors import ConsoleError
from console.actions import Action, Change, Outcome
from screens.confirm import ConfirmChangeScreen

Done = Callable[[Outcome], None]


class ActionFlowMixin:
    """Mix into a Screen. Calls on_action_result(outcome) / on_action_error(error) hooks if present."""

    app: Any

    def start_action(self, action: Action, on_done: Done | None = None) -> None:
        self._plan_action(action, on_done)

    @work(thread=True, group="action", exit_on_error=False)
    def _plan_action(self, action: Action, on_done: Done | None) -> None:
        try:
            change = self.app.ctx.actions.prepare(action)
        except ConsoleError as error:
            self.app.call_from_thread(self._report_error, action, error)
            return
        self.app.call_from_thread(self._ask, action, change, on_done)

    def _ask(self, action: Action, change: Change, on_done: Done | None) -> None:
        def answered(reason: str | None) -> None:
            if reason is None:
                self._cancel_action(action, change)
            else:
                self._apply_action(action, change, reason, on_done)

        self._status("")  # the modal now says what is happening
        self.app.push_screen(ConfirmChangeScreen(change), answered)

    def _status(self, text: str) -> None:
        """The screen's status line, when it has one (set_status), follows the action."""
        set_status = getattr(self, "set_status", None)
        if set_status is not None:
            set_status(text)

    @work(thread=True, group="action", exit_on_error=False)
    def _cancel_action(self, action: Action, change: Change) -> None:
        self.app.ctx.actions.cancel(action, change)
        message = f"Cancelled: nothing was changed on {action.target}."
        self.app.call_from_thread(self._status, message)
        self.app.call_from_thread(self.app.notify, message)

    @work(thread=True, group="action", exit_on_error=False)
    def _apply_action(self, action: Action, change: Change, reason: str, on_done: Done | None) -> None:
        try:
            outcome = self.app.ctx.actions.execute(action, change, reason)
        except ConsoleError as error:
            self.app.call_from_thread(self._report_error, action, error)
            return
        self.app.call_from_thread(self.app.notify, f"Done: {' · '.join(change.lines)}", title=action.kind)
        if on_done is not None:
            self.app.call_from_thread(on_done, outcome)

    def _report_error(self, action: Action, error: ConsoleError) -> None:
        self.app.notify(error.message, title=f"{action.kind}: {error.kind}", severity="error", timeout=10)
