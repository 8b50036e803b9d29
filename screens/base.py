"""What every screen shares, so that a screen keeps only what is its own (compose, bindings,
workers, rendering):

- the pieces of the frame: StatusHeader, a `/` FilterInput, a StateBanner (a backend that is down
  is a state of the screen, with the reason and the next retry), a StatusLine and the KeyBar;
- `/` and `esc` for the filter (esc clears it and hands the keys back), with one hook,
  filter_changed(text);
- a lifecycle that pauses while the screen is hidden: on_activate / on_deactivate, and named
  self-scheduling timers (`schedule`) that stop with it, so polls never overlap and never run
  unseen;
- Backoff: the delays after consecutive failures, and the words for the next retry;
- the action flow (one action at a time, through the safe action path), from ActionFlowMixin.

Subclasses set `screen_title` and compose with the pieces:

    class MyScreen(ConsoleScreen):
        screen_title = "Mine"
        def compose(self):
            yield self.header()
            yield self.filter_input("/ filter things", id="mine-filter")
            yield self.state_banner(id="mine-state")
            yield ListTable(id="things")  # screens/list_table.py: Home/End, g/G
            yield self.status_line(id="mine-status")
            yield self.key_bar()
        def on_activate(self):
            self.schedule("poll", 0, self.poll)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.message_pump import MessagePump
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Input, Static

from console.safe_text import safe
from screens.action_flow import ActionFlowMixin
from screens.filter_input import FilterInput
from screens.header import StatusHeader
from screens.keybar import KeyBar

if TYPE_CHECKING:
    from console.services import Services


def app_services(node: MessagePump) -> Services:
    """The app's typed services, from any screen or widget (its App class is not imported here)."""
    services: Services = node.app.services  # type: ignore[attr-defined]
    return services


def clock_text(t: float) -> str:
    """HH:MM:SS UTC, as every panel's freshness and retry times read."""
    return time.strftime("%H:%M:%S", time.gmtime(t))


class Backoff:
    """Delays after consecutive failures (the last one repeats); reset() after a success."""

    def __init__(self, steps: tuple[float, ...]):
        if not steps:
            raise ValueError("a backoff needs at least one delay")
        self.steps = tuple(steps)
        self.failures = 0

    def next(self) -> float:
        delay = self.steps[min(self.failures, len(self.steps) - 1)]
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0


def retry_text(delay: float, now: float) -> str:
    return f"retrying in {delay:g} s (at {clock_text(now + delay)})"


class StateBanner(Static):
    """One or two lines above a screen's content, shown only while something is wrong."""

    DEFAULT_CSS = """
    StateBanner { height: auto; max-height: 3; padding: 0 1; background: $error 25%; display: none; }
    """

    def __init__(self, *, id: str | None = None):
        super().__init__("", id=id, markup=False)
        self._shown: str | None = None

    def show(self, text: str) -> None:
        if text != self._shown:  # an unchanged state writes nothing to the terminal
            self._shown = text
            self.update(Text(safe(text), style="bold"))
        self.display = True

    def hide(self) -> None:
        self._shown = None
        self.display = False


class StatusLine(Static):
    """The line under a screen's content: what the last action or refresh did."""

    DEFAULT_CSS = """
    StatusLine { height: 1; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None):
        super().__init__("", id=id, markup=False)
        self._shown: tuple[str, bool] | None = None

    def say(self, text: str, *, error: bool = False) -> None:
        if (text, error) != self._shown:
            self._shown = (text, error)
            self.update(Text(safe(text), style="bold red" if error else "dim"))


class ConsoleScreen(ActionFlowMixin, Screen):
    screen_title = ""
    BINDINGS = [
        Binding("slash", "filter", "Filter", show=False, priority=True),
        Binding("escape", "leave_filter", "Clear filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.active = False
        self.filter_text = ""
        self._scheduled: dict[str, Timer] = {}

    def _compositor_refresh(self) -> None:
        # Textual renders a frame while the app holds a batch (all through its own start-up:
        # compose, mount, our first-page wait) and then drops it at the display; the first frame
        # paid for two full renders. Keep the screen to repaint when the batch is over instead.
        app = self.app
        if app._batch_count and self is app.screen and not app.is_inline:
            self._repaint_required = True
            return
        super()._compositor_refresh()

    @property
    def services(self) -> Services:
        """The typed backends (console/services.py): settings, catalog, actions, kube(), ..."""
        return app_services(self)

    # -- the pieces of the frame --------------------------------------------------------------
    def header(self) -> StatusHeader:
        return StatusHeader(self.screen_title)

    def filter_input(self, placeholder: str, *, id: str) -> FilterInput:
        return FilterInput(placeholder=placeholder, id=id)

    def state_banner(self, *, id: str) -> StateBanner:
        return StateBanner(id=id)

    def status_line(self, *, id: str) -> StatusLine:
        return StatusLine(id=id)

    def key_bar(self) -> KeyBar:
        return KeyBar()

    def set_status(self, text: str, *, error: bool = False) -> None:
        for line in self.query(StatusLine):
            line.say(text, error=error)

    def show_state(self, text: str) -> None:
        for banner in self.query(StateBanner):
            banner.show(text)

    def hide_state(self) -> None:
        for banner in self.query(StateBanner):
            banner.hide()

    # -- the filter ----------------------------------------------------------------------------
    def focus_after_filter(self) -> Widget | None:
        """Where the keys go when the filter is left: the screen's main list."""
        return None

    def action_filter(self) -> None:
        for box in self.query(FilterInput):
            box.open()
            return

    def action_leave_filter(self) -> None:
        for box in self.query(FilterInput):
            box.clear_and_close(self.focus_after_filter() or self)
            return

    @on(Input.Changed)
    def _base_filter_changed(self, event: Input.Changed) -> None:
        if isinstance(event.input, FilterInput):
            event.stop()
            self.filter_text = event.value.strip()
            self.filter_changed(self.filter_text)

    @on(Input.Submitted)
    def _base_filter_submitted(self, event: Input.Submitted) -> None:
        if isinstance(event.input, FilterInput):
            event.stop()
            box = event.input
            box.close(self.focus_after_filter() or self)

    def filter_changed(self, text: str) -> None:
        """The filter's text changed (already stripped)."""

    # -- lifecycle: live only while shown -------------------------------------------------------
    def on_mount(self) -> None:
        self._activate()

    def on_screen_resume(self) -> None:
        self._activate()

    def on_screen_suspend(self) -> None:
        self._deactivate()

    def on_unmount(self) -> None:
        self._deactivate()

    def _activate(self) -> None:
        if self.active:
            return
        self.active = True
        self.on_activate()

    def _deactivate(self) -> None:
        if not self.active:
            return
        self.active = False
        for timer in self._scheduled.values():
            timer.stop()
        self._scheduled.clear()
        self.on_deactivate()

    def on_activate(self) -> None:
        """The screen is shown: start its watches and polls."""

    def on_deactivate(self) -> None:
        """The screen is hidden or gone: stop what on_activate started (timers stop by themselves)."""

    def schedule(self, name: str, delay: float, callback: Callable[[], object]) -> None:
        """Run callback once after delay, replacing any pending run of the same name; nothing
        runs while the screen is hidden. A poll reschedules itself when its answer is in, so two
        polls never overlap."""
        self.cancel(name)
        if not self.active:
            return

        def fire() -> None:
            self._scheduled.pop(name, None)
            if self.active:
                callback()

        self._scheduled[name] = self.set_timer(max(0.01, delay), fire)  # Textual's Timer cannot take 0

    def cancel(self, name: str) -> None:
        timer = self._scheduled.pop(name, None)
        if timer is not None:
            timer.stop()

    def scheduled(self, name: str) -> bool:
        return name in self._scheduled
