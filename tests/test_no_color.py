"""NO_COLOR=1 (no-color.org): no colours, states told apart by words, symbols and bold, and every
text at least 4.5:1 against its background (WCAG AA), measured on the segments the snapshot SVG
is drawn from (tests/contrast.py). One snapshot per screen that shows a failing state.

Textual turns NO_COLOR into a greyscale line filter (textual/app.py, textual/filter.py); the app
replaces it with screens/no_color.py's ReadableMonochrome.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from unittest import mock

import pytest

from contrast import MINIMUM, is_text, screen_segments, too_faint
from pilot_wait import settled_frame
from test_drift_screen import make_app as drift_app
from test_drift_screen import open_drift, world  # noqa: F401 - module fixture
from test_pipelines_screen import (  # noqa: F401 - catalog, kfp, no_live_refresh, shared: fixtures
    _utc,
    catalog,
    kfp,
    loaded,
    no_live_refresh,
    open_pipelines,
    run_named,
    select,
    shared,
)
from test_pipelines_screen import make_app as pipelines_app
from test_rollouts_screen import (  # noqa: F401 - snapshot_sandbox: a module fixture
    _settled,
    admin,
    open_rollouts,
    select_row,
    snapshot_app,
    snapshot_sandbox,
    table,
    text_of,
    wait_for,
    wait_until,
)


@pytest.fixture(autouse=True)
def _no_color(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")  # read when the App is made


def assert_readable(app) -> None:
    faint = too_faint(app)
    assert not faint, f"{len(faint)} texts below {MINIMUM}:1 under NO_COLOR:\n" + "\n".join(faint)
    colours = {c for cell in screen_segments(app) for c in (cell.fg, cell.bg) if len(set(c)) > 1}
    assert not colours, f"colours drawn under NO_COLOR: {sorted(c.hex for c in colours)}"


def drawn(app, text: str) -> list:
    """The segments on screen that contain `text`."""
    return [cell for cell in screen_segments(app) if text in cell.text]


def assert_stands_out(app, text: str) -> None:
    """A failing state is on screen in words, and no fainter than any other text on its row: it
    does not recede (red turned grey drew it darker than the rest)."""
    cells = [cell for cell in screen_segments(app) if is_text(cell)]
    states = [cell for cell in cells if text in cell.text]
    assert states, f"{text!r} is not on screen"
    for state in states:
        brightest = max(cell.ratio for cell in cells if cell.row == state.row)
        assert state.ratio >= brightest - 0.01, f"{state} is fainter than its row ({brightest:.2f}:1)"


def test_no_color_rollouts_failed_canary_80x24(snap_compare, snapshot_sandbox, tmp_path):  # noqa: F811
    async def run_before(pilot) -> None:
        await _settled("recsys/churn-predictor")(pilot)
        app = pilot.app
        assert_readable(app)
        # The failed revision says so in words and a symbol, bold and bright: not by colour alone.
        assert_stands_out(app, "(the new model) FAILED")
        assert_stands_out(app, "False")

    assert snap_compare(snapshot_app(snapshot_sandbox, tmp_path), terminal_size=(80, 24), run_before=run_before)


def test_no_color_pipelines_failed_run_80x24(shared, catalog, tmp_path, snap_compare, no_live_refresh,  # noqa: F811
                                             monkeypatch):
    monkeypatch.chdir(catalog.parent)
    app = pipelines_app(tmp_path, shared.base_url, Path(catalog.name))
    oom = run_named(shared, "train-churn-predictor-v31")

    async def run_before(pilot):
        screen = await open_pipelines(pilot)
        await loaded(pilot, screen)
        await select(pilot, screen, oom)
        await pilot.pause()
        assert_readable(pilot.app)
        assert_stands_out(pilot.app, "✖ FAILED")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_no_color_drift_drifting_features_80x24(world, tmp_path, snap_compare, monkeypatch):  # noqa: F811
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.chdir(world.catalog.parent)
    app = drift_app(world, tmp_path, catalog=Path(world.catalog.name))
    app.selected_isvc = ("fraud", "fraud-detector")

    async def run_before(pilot):
        screen = await open_drift(app, pilot)
        assert screen.report is not None, screen.state
        await pilot.pause()
        assert_readable(pilot.app)
        assert_stands_out(pilot.app, "DRIFT")

    try:
        assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()



async def test_no_color_charted_features_differ_by_shape(world, tmp_path):  # noqa: F811
    """Up to four features share the PSI chart; without colour their lines differ by marker."""
    from test_drift_screen import table_features

    app = drift_app(world, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_drift(app, pilot)
        names = table_features(screen)
        await pilot.press("space", "down", "space", "down", "space")
        await pilot.pause()
        assert screen.marked == names[:3]
        legend = re.sub(r"\[/?[a-z_]+\]", "", str(screen.query_one("#drift-chart-pane").border_subtitle))
        assert f"━{names[0]}" in legend and f"•{names[1]}" in legend and f"×{names[2]}" in legend
        chart = str(screen.query_one("#drift-chart").render())
        assert "•" in chart and "×" in chart
        assert_readable(app)


@pytest.fixture(scope="module")
def health_world(world, tmp_path_factory):  # noqa: F811
    """The sandbox cluster seeded at the metrics world's instant T0, beside its Prometheus (whose
    history ends at T0): the canary health panel shows the same figures on every run."""
    from console.sandbox.kserve_sim import seed_demo
    from console.sandbox.runner import Sandbox
    from test_drift_screen import T0

    sb = Sandbox(tmp_path_factory.mktemp("no-color-health"), prometheus=False, kfp=False, catalog=True, seed=False,
                 ready_delay=0.05)
    with mock.patch("time.time", return_value=T0):
        seed_demo(sb.cluster, sb.controller)
    sb.start()
    with admin(sb) as client:  # the controller has done its work: resourceVersions on screen stay put
        def settled() -> bool:
            items = {i.key: i for i in client.list_inference_services(None)[0]}
            return (all(i.latest_ready_revision or (i.is_raw and i.conditions) for i in items.values())
                    and items["recsys/churn-predictor"].failing_revision
                    and items["fraud/fraud-detector"].latest_percent == 20)

        wait_until(settled)
    yield sb, world.prometheus_url, T0
    sb.stop()


def test_no_color_rollouts_failing_health_checks_80x24(snap_compare, health_world, tmp_path):
    sb, prometheus_url, t0 = health_world
    app = snapshot_app(sb, tmp_path)
    app.ctx.settings.prometheus_url = prometheus_url
    app.clock = lambda: t0

    async def run_before(pilot) -> None:
        # The first row is selected on arrival and asks for its verdict: wait for it, so that the
        # frame does not depend on whether it came before the move (a race under load).
        await open_rollouts(pilot, app, select=None)
        await wait_for(pilot, lambda: table(app).get_cell("fraud/credit-risk", "verdict").plain == "✓ ok", timeout=30,
                       what="the first row's verdict")
        await select_row(pilot, app, "fraud/fraud-detector")
        await wait_for(pilot, lambda: "FAILING CHECKS" in text_of(app, "#isvc-health-body")
                       and "fraud-detector at" in text_of(app, "#isvc-health-body"), timeout=30,
                       what="the failing verdict")
        await wait_for(pilot, lambda: "catalog    " in text_of(app, "#isvc-detail-body")
                       and "looking up" not in text_of(app, "#isvc-detail-body"), what="the catalog lookup")
        await settled_frame(pilot)
        assert_readable(app)
        assert_stands_out(app, "FAILING CHECKS 1 OF 2")
        assert_stands_out(app, "False")
        assert "✗ success rate" in text_of(app, "#isvc-health-body")  # the check that fails, by symbol and words

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_no_color_histogram_tells_reference_from_live_by_shape():
    """Walkthrough: under NO_COLOR the legend's two series looked the same (one glyph, two
    colours). The reference's bars are shaded, live's solid, in the legend and in the bars."""
    from screens.drift_chart import histogram_bars

    text = histogram_bars([1.0, 2.0, 3.0], [10, 40, 50], [30, 40, 30], height=8, width=20).plain
    legend, *bars = text.splitlines()
    assert "░ reference" in legend and "█ live" in legend
    assert any("░" in line for line in bars) and any("█" in line for line in bars)
