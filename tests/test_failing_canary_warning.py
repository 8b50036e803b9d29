"""Trust at 3 a.m. (issue 8 §4): a canary whose health checks fail is never stepped up, set higher
or promoted without the confirmation saying so first. Lowering it or rolling back carries no
such warning."""

from __future__ import annotations

from textual.widgets import Static

from pilot_wait import wait_for
from screens.confirm import ConfirmChangeScreen
from test_drift_screen import world  # noqa: F401 - module fixture
from test_no_color import health_world  # noqa: F401 - module fixture
from test_rollouts_screen import open_rollouts, snapshot_app, text_of


def confirmation_text(app) -> str:
    return str(app.screen.query_one("#confirm-change", Static).render())


async def test_stepping_up_a_failing_canary_warns_first_and_stepping_down_does_not(health_world, tmp_path):  # noqa: F811
    sb, prometheus_url, t0 = health_world
    app = snapshot_app(sb, tmp_path)
    app.ctx.settings.prometheus_url = prometheus_url
    app.clock = lambda: t0
    async with app.run_test(size=(100, 30)) as pilot:
        await open_rollouts(pilot, app, select="fraud/fraud-detector")
        await wait_for(pilot, lambda: "FAILING CHECKS" in text_of(app, "#isvc-health-body"), what="the failing verdict")
        await pilot.press("plus")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmChangeScreen) and app.screen.query("#confirm-change"),
                       what="the confirmation")
        text = confirmation_text(app)
        assert "WARNING: this canary is FAILING its health checks (failing checks 1 of 2)" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmChangeScreen)
                       and not app.screen._action_busy, what="the dialog closed")
        await pilot.press("minus")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmChangeScreen) and app.screen.query("#confirm-change"),
                       what="the second confirmation")
        assert "WARNING" not in confirmation_text(app)
        await pilot.press("escape")
