"""An unexpected error never exits 0 and never prints locals (issue 8, section 5): a bug in a screen
ends the console with one line naming the log (exit 1); a failed worker is a notification and the
console stays up; the CLI's internal-error path is one line naming the log file."""

from __future__ import annotations

import pytest
from textual import work
from textual.screen import Screen
from textual.widgets import Static

from console import paths
from console.app import MlopsConsole, run_app
from console.config import Settings
from console.context import Context
from screens.action_flow import ActionFlowMixin

SECRET = "hunter2-do-not-print"


class BrokenScreen(Screen):
    def compose(self):
        yield Static("broken")

    def on_mount(self) -> None:
        password = SECRET  # a local that a traceback with locals would show
        raise RuntimeError("bug in a screen " + password[:0])


class FailingWorkerScreen(Screen):
    def compose(self):
        yield Static("worker")

    def on_mount(self) -> None:
        self.fail()

    @work(thread=True)
    def fail(self) -> None:
        token = SECRET
        raise KeyError("bug in a worker" + token[:0])


class QuietWorkerScreen(ActionFlowMixin, Screen):
    """A screen whose worker does not exit the app on error: its bug must still be reported."""

    def compose(self):
        yield Static("quiet")

    def on_mount(self) -> None:
        self.fail()

    @work(thread=True, exit_on_error=False)
    def fail(self) -> None:
        raise IndexError("bug in a quiet worker")


def app_with(tmp_path, screen_class) -> MlopsConsole:
    ctx = Context(Settings(catalog=tmp_path / "c.db", audit=tmp_path / "audit.db"))
    return MlopsConsole(ctx, screen_factories={"catalog": screen_class}, cursor_blink=False, first_screen="catalog")


def test_a_crash_exits_non_zero_with_one_line_naming_the_log(tmp_path, capfd):
    from console.cli import _setup_logging

    _setup_logging()
    app = app_with(tmp_path, BrokenScreen)
    code = run_app(app.ctx, app=app, headless=True)
    out, err = capfd.readouterr()
    assert code == 1
    assert SECRET not in out + err and "Traceback" not in out + err and "locals" not in out + err
    assert f"mlops-console: internal error: RuntimeError (details in {paths.log_file()})\n" in err
    assert "bug in a screen" in paths.log_file().read_text()


@pytest.mark.parametrize("screen_class,error", [(FailingWorkerScreen, "KeyError"), (QuietWorkerScreen, "IndexError")])
async def test_a_failed_worker_is_a_notification_and_the_console_stays_up(tmp_path, screen_class, error):
    app = app_with(tmp_path, screen_class)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(200):
            if app._notifications:
                break
            await pilot.pause(0.05)
        [note] = list(app._notifications)
        assert note.severity == "error" and error in note.message and str(paths.log_file()) in note.message
        assert SECRET not in note.message
        assert app.is_running and app.return_code is None
