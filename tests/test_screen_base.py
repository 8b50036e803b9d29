"""The screen base every screen is built on (screens/base.py): the filter keys, the pause while
hidden, the self-scheduling timers, the backoff, and panels that write nothing when unchanged."""

from __future__ import annotations

from textual.app import App
from textual.screen import Screen
from textual.widgets import DataTable, Static

from screens.base import Backoff, ConsoleScreen, StateBanner, StatusLine, retry_text


class Things(ConsoleScreen):
    screen_title = "Things"

    def __init__(self) -> None:
        super().__init__()
        self.polls = 0
        self.filters: list[str] = []

    def compose(self):
        yield self.header()
        yield self.filter_input("/ filter", id="things-filter")
        yield self.state_banner(id="things-state")
        yield DataTable(id="things")
        yield self.status_line(id="things-status")
        yield self.key_bar()

    def focus_after_filter(self):
        return self.query_one("#things", DataTable)

    def on_activate(self) -> None:
        self.schedule("poll", 0, self.poll)  # "at once" must work too

    def poll(self) -> None:
        self.polls += 1
        self.schedule("poll", 0.01, self.poll)

    def filter_changed(self, text: str) -> None:
        self.filters.append(text)


class Other(Screen):
    def compose(self):
        yield Static("other")


class Host(App):
    read_only = False

    def connection_summary(self):
        return [("kube", "test")]

    def on_mount(self) -> None:
        self.push_screen(Things())


async def wait_for(pilot, condition) -> None:
    for _ in range(200):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition not reached")


async def test_slash_filters_and_esc_clears_and_gives_the_keys_back():
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await pilot.press("slash", *"abc")
        await wait_for(pilot, lambda: screen.filters[-1:] == ["abc"])
        assert screen.filter_text == "abc"
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen.filters[-1:] == [""])
        assert screen.filter_text == "" and screen.query_one("#things-filter").value == ""
        assert app.focused is screen.query_one("#things")
        await pilot.press("slash", "x", "enter")
        await wait_for(pilot, lambda: screen.filters[-1:] == ["x"])
        assert app.focused is screen.query_one("#things")  # enter keeps the filter, leaves it


async def test_polls_run_only_while_shown():
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.polls >= 3)
        app.push_screen(Other())
        await pilot.pause(0.05)
        assert not screen.active and not screen.scheduled("poll")
        hidden = screen.polls
        await pilot.pause(0.2)
        assert screen.polls == hidden
        app.pop_screen()
        await wait_for(pilot, lambda: screen.polls > hidden)
        assert screen.active


async def test_unchanged_status_and_state_do_not_redraw():
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        line = screen.query_one(StatusLine)
        banner = screen.query_one(StateBanner)
        updates: list[object] = []
        for widget in (line, banner):
            original = widget.update
            widget.update = lambda content="", _o=original: (updates.append(content), _o(content))[1]
        screen.set_status("loaded 3")
        screen.set_status("loaded 3")
        screen.show_state("API down · retrying in 1 s")
        screen.show_state("API down · retrying in 1 s")
        assert len(updates) == 2
        assert banner.display
        screen.hide_state()
        assert not banner.display
        await pilot.pause()


def test_backoff_repeats_its_last_step_and_resets():
    backoff = Backoff((1.0, 2.0, 4.0))
    assert [backoff.next() for _ in range(5)] == [1.0, 2.0, 4.0, 4.0, 4.0]
    backoff.reset()
    assert backoff.next() == 1.0
    assert retry_text(2.5, 0.0) == "retrying in 2.5 s (at 00:00:02)"
