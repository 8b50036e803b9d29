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
