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

import pytest

from contrast import MINIMUM, screen_segments, too_faint
from test_drift_screen import make_app as drift_app
from test_drift_screen import open_drift, world  # noqa: F401 - module fixture
from test_pipelines_screen import _utc, catalog, kfp, loaded, no_live_refresh, open_pipelines, run_named, select, \
    shared  # noqa: F401 - fixtures
from test_pipelines_screen import make_app as pipelines_app
from test_rollouts_screen import _settled, snapshot_app, snapshot_sandbox  # noqa: F401 - module fixture


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


def test_no_color_rollouts_failed_canary_80x24(snap_compare, snapshot_sandbox, tmp_path):  # noqa: F811
    async def run_before(pilot) -> None:
        await _settled("recsys/churn-predictor")(pilot)
        app = pilot.app
        assert_readable(app)
        # The failed revision says so in words and a symbol, in bold: not by colour alone.
        assert drawn(app, "✗ 00002 (the new model) is not ready")
        assert drawn(app, "False")

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
        assert drawn(pilot.app, "✖ FAILED")

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
        assert drawn(pilot.app, "DRIFT")

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
