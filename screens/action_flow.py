"""Runs a change along the safe action path from a screen: plan in a worker, confirm in a modal,
apply in a worker, then report. Refusals and failures are shown, never raised; one change at a
time per screen (a second key press while one is being planned or confirmed is turned away)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual import work
from textual.worker import Worker, WorkerState

from adapters.errors import ConsoleError

if TYPE_CHECKING:  # the action path and its modal are imported with the first change, not at start-up
    from console.actions import Action, Change, Outcome

Done = Callable[["Outcome"], None]
STICKY = 24 * 3600.0  # seconds: an error notification that stays until dismissed (click, or the palette)
log = logging.getLogger("mlops-console")


class UnexpectedError(ConsoleError):
    """A bug met on the action path, reported as a ConsoleError so every screen's hook can show it."""

    kind = "internal error"


def _reportable(action: Action, error: Exception) -> ConsoleError:
    if isinstance(error, ConsoleError):
        return error
    from console.paths import log_file

    log.error("%s on %s failed", action.kind, action.target, exc_info=(type(error), error, error.__traceback__))
    return UnexpectedError(f"{type(error).__name__}: {action.kind} on {action.target} failed unexpectedly "
                           f"(details in {log_file()})")


class ActionFlowMixin:
    """Mix into a Screen. Calls on_action_result(outcome) / on_action_error(error) hooks if present."""

    app: Any
    _action_busy: bool = False

    def start_action(self, action: Action | Callable[[], Action], on_done: Done | None = None) -> None:
        """action may be a function that builds it: it is called in the planning worker, so the
        clients it makes (files, TLS) are never made on the UI thread."""
        if self._action_busy:
            self.app.notify("A change is already in progress: finish or cancel it first.",
                            title=getattr(action, "kind", "change"), severity="warning", markup=False)
            return
        self._action_busy = True
        self._plan_action(action, on_done)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker of this screen that failed on its own (exit_on_error=False) is reported by the
        app too; one with exit_on_error reaches the app's exception handler instead. Textual calls
        this beside the screen's own handler, if it has one."""
        worker = event.worker
        if event.state == WorkerState.ERROR and not worker.exit_on_error and worker.error is not None:
            report = getattr(self.app, "report_failure", None)
            if report is not None:
                report(worker.error)

    def _action_finished(self) -> None:
        self._action_busy = False

    def _finish_from_thread(self) -> None:
        try:
            self.app.call_from_thread(self._action_finished)
        except Exception:  # the app is closing
            self._action_busy = False

    @work(thread=True, group="action")
    def _plan_action(self, action: Action | Callable[[], Action], on_done: Done | None) -> None:
        if callable(action):
            try:
                action = action()
            except ConsoleError as error:
                self.app.call_from_thread(self._action_unavailable, error)
                self._finish_from_thread()
                return
        try:
            change = self.app.services.actions.prepare(action)
        except Exception as error:
            self.app.call_from_thread(self._report_error, action, _reportable(action, error))
            self._finish_from_thread()
            return
        try:
            self.app.call_from_thread(self._ask, action, change, on_done)
        except Exception:
            self._finish_from_thread()
            raise

    def _ask(self, action: Action, change: Change, on_done: Done | None) -> None:
        def answered(reason: str | None) -> None:
            if reason is None:
                self._cancel_action(action, change)
            else:
                self._apply_action(action, change, reason, on_done)

        from screens.confirm import ConfirmChangeScreen

        self._status("")  # the modal now says what is happening
        self.app.push_screen(ConfirmChangeScreen(change), answered)

    def _status(self, text: str) -> None:
        """The screen's status line, when it has one (set_status), follows the action."""
        set_status = getattr(self, "set_status", None)
        if set_status is not None:
            set_status(text)

    @work(thread=True, group="action")
    def _cancel_action(self, action: Action, change: Change) -> None:
        try:
            note = self.app.services.actions.cancel(action, change)
            message = f"Cancelled: nothing was changed on {action.target}.{note}"
            self.app.call_from_thread(self._status, message)
            self.app.call_from_thread(self.app.notify, message, severity="warning" if note else "information",
                                      markup=False)
        finally:
            self._finish_from_thread()

    @work(thread=True, group="action")
    def _apply_action(self, action: Action, change: Change, reason: str, on_done: Done | None) -> None:
        from console.actions import AuditIncomplete

        try:
            try:
                outcome = self.app.services.actions.execute(action, change, reason)
            except AuditIncomplete as error:  # applied: say so loudly, and still show the new state
                self.app.call_from_thread(self._report_error, action, error)
                outcome = error.outcome
            except Exception as error:
                self.app.call_from_thread(self._report_error, action, _reportable(action, error))
                return
            else:
                self.app.call_from_thread(self.app.notify, f"Done: {' · '.join(change.lines)}", title=action.kind,
                                          markup=False)
            for warning in outcome.warnings:
                self.app.call_from_thread(self.app.notify, warning, title=action.kind, severity="warning",
                                          timeout=10, markup=False)
            if on_done is not None:
                self.app.call_from_thread(on_done, outcome)
        finally:
            self._finish_from_thread()

    def _action_unavailable(self, error: ConsoleError) -> None:
        """The action could not be built (a client that cannot be made): nothing was asked or changed."""
        set_status = getattr(self, "set_status", None)
        if set_status is not None:
            set_status(error.message, error=True)
        else:
            self.app.notify(error.message, title=error.kind, severity="error", markup=False)

    def _report_error(self, action: Action, error: ConsoleError) -> None:
        # An applied change the journal could not finish, or a bug: stays until dismissed.
        from console.actions import AuditIncomplete

        sticky = isinstance(error, (AuditIncomplete, UnexpectedError))
        self.app.notify(error.message, title=f"{action.kind}: {error.kind}", severity="error",
                        timeout=STICKY if sticky else 10, markup=False)
