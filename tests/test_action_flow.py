"""The screens' action flow (screens/action_flow.py) with stand-in actions, driven with Pilot: a bug
anywhere on the path is an error notification (the console stays up, the flow is free again), and
the warnings of an applied change (the Kubernetes Event could not be written) are a warning
notification."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Static

from console.app import MlopsConsole
from console.config import Settings
from console.context import Context
from screens.action_flow import ActionFlowMixin
from screens.confirm import ConfirmChangeScreen
from test_audit_actions import FakeAction

STORE = {"value": 20, "version": 1}


class PlanBug(FakeAction):
    def plan(self):
        raise ZeroDivisionError("division by zero")


class EventDown(FakeAction):
    def announce(self, change, after, reason, identity):
        raise ConnectionRefusedError("events endpoint refused")


class ActScreen(ActionFlowMixin, Screen):
    BINDINGS = [("b", "act('bug')", "bug"), ("e", "act('event')", "event")]

    def compose(self):
        yield Static("act")

    def action_act(self, which: str) -> None:
        action = PlanBug(STORE, 0) if which == "bug" else EventDown(STORE, 0)
        self.start_action(action)


def make_app(tmp_path) -> MlopsConsole:
    ctx = Context(Settings(catalog=tmp_path / "c.db", audit=tmp_path / "audit.db"))
    return MlopsConsole(ctx, screen_factories={"catalog": ActScreen}, cursor_blink=False, first_screen="catalog")


async def until(pilot, condition, what: str):
    for _ in range(300):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"not reached: {what}")


async def test_a_bug_in_the_action_is_an_error_notification_and_the_flow_is_free_again(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("b")
        await until(pilot, lambda: app._notifications, "the notification")
        [note] = list(app._notifications)
        assert note.severity == "error" and "ZeroDivisionError" in note.message and "details in" in note.message
        assert app.is_running
        await until(pilot, lambda: not app.screen._action_busy, "the flow free")
        assert [r.outcome for r in app.ctx.audit.list()] == []  # not a refusal: nothing to journal


async def test_warnings_of_an_applied_change_are_a_warning_notification(tmp_path):
    STORE.update(value=20, version=1)
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ConfirmChangeScreen) and app.focused is not None,
                    "the confirmation")
        await pilot.press("shift+tab", *"why", "enter")
        await until(pilot, lambda: any(n.severity == "warning" for n in app._notifications), "the warning")
        [warning] = [n for n in app._notifications if n.severity == "warning"]
        assert warning.message == ("applied, but the Kubernetes Event could not be written: "
                                   "ConnectionRefusedError: events endpoint refused")
        assert STORE["value"] == 0 and app.ctx.audit.list()[0].outcome == "applied"
