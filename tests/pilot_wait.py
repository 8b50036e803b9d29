"""Waiting on a running app by condition, never by a fixed sleep (a test must not depend on load)."""

from __future__ import annotations

from collections.abc import Callable


async def wait_for(pilot, condition: Callable[[], bool], *, timeout: float = 30.0,
                   what: str = "the expected state") -> None:
    """Poll condition() between frames until it holds; fail naming `what` after `timeout` s."""
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"the app did not reach {what} within {timeout:g} s")


async def settled_frame(pilot, *, quiet_frames: int = 3, timeout: float = 30.0) -> None:
    """Wait until the screen renders the same SVG `quiet_frames` times in a row: every pending
    repaint (a row's highlight, a pane's style) has landed, however slow the machine is."""
    app = pilot.app
    last, same = None, 0
    for _ in range(int(timeout / 0.05)):
        await pilot.wait_for_scheduled_animations()
        await pilot.pause(0.05)
        frame = app.export_screenshot()
        same = same + 1 if frame == last else 0
        if same >= quiet_frames - 1:
            return
        last = frame
    raise AssertionError(f"the screen kept changing for {timeout:g} s")


def palette_offers(app, title: str) -> bool:
    """The open command palette lists a command whose prompt contains `title`."""
    from textual.command import CommandList

    found = app.screen.query(CommandList)
    if not found:
        return False
    options = found.first()
    return any(title in str(options.get_option_at_index(i).prompt) for i in range(options.option_count))


async def run_from_palette(pilot, command: str) -> None:
    """Open the palette with ':', type `command` once its input has the focus, and press enter once
    the palette offers it (its search runs in the background: an early enter runs nothing)."""
    from textual.command import CommandPalette

    app = pilot.app
    await pilot.press("colon")
    await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette) and app.focused is not None,
                   what="the command palette")
    await pilot.press(*command)
    await wait_for(pilot, lambda: palette_offers(app, command), what=f"the palette to offer {command!r}")
    await pilot.press("enter")
