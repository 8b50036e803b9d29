"""The Drift screen (key 4) against a real Prometheus with backfilled history and the sandbox
Kubernetes API (for which revision is canary and which stable).

The metrics sandbox runs on a fixed clock (T0), so its backfilled history - and every number on
the screen - is the same on every run; the app's clock is frozen at T0, which is also the
evaluation instant the screen passes to the drift service.
"""

from __future__ import annotations

import math
import re
import shutil
import socket
import sqlite3
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from console.app import MlopsConsole
from console.config import Settings
from console.context import Context

T0 = 1_790_000_040.0  # a whole minute; the end of the backfilled history
CANARY = "fraud-detector-predictor-00002"
STABLE = "fraud-detector-predictor-00001"
DRIFTING = {"amount", "txn_velocity", "device_score"}  # console/demo_data.SERVED, fraud-detector


def _need_prometheus() -> None:
    if not (shutil.which("prometheus") and shutil.which("promtool")):
        pytest.skip("the prometheus package is not installed (apt-get install prometheus)")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    _need_prometheus()
    from console.demo_catalog import build_demo_catalog
    from console.sandbox.metrics_server import MetricsSandbox
    from console.sandbox.runner import ADMIN_CONTEXT, Sandbox
    from metrics_fake import FakeCluster

    root = tmp_path_factory.mktemp("drift-world")
    kube = Sandbox(root / "kube", prometheus=False, kfp=False, catalog=False)
    kube.start()
    # FakeCluster describes the same demo world (same revision names and traffic split) for the
    # exporter; the screen reads revisions from the sandbox Kubernetes API.
    metrics = MetricsSandbox(root / "metrics", FakeCluster(), seed=1, clock=lambda: T0)
    url = metrics.start()
    if url is None:
        kube.stop()
        metrics.stop()
        pytest.fail(f"the metrics sandbox did not start Prometheus: {metrics.message}")
    catalog = root / "catalog.db"
    build_demo_catalog(catalog)
    yield SimpleNamespace(prometheus_url=url, kubeconfig=str(kube.kubeconfig_path), context=ADMIN_CONTEXT,
                          catalog=catalog)
    metrics.stop()
    kube.stop()


def make_app(world, tmp_path: Path, **overrides) -> MlopsConsole:
    settings = Settings(catalog=world.catalog, audit=tmp_path / "audit.db", kubeconfig=world.kubeconfig,
                        context=world.context, prometheus_url=world.prometheus_url)
    for key, value in overrides.items():
        setattr(settings, key, value)
    return MlopsConsole(Context(settings), clock=lambda: T0, cursor_blink=False)


async def wait_for(pilot, predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(0.05)
        if predicate():
            return True
    return predicate()


async def open_drift(app, pilot, *, settled=None):
    await pilot.press("4")
    await wait_for(pilot, lambda: type(app.screen).__name__ == "DriftScreen", 10)
    screen = app.screen
    assert type(screen).__name__ == "DriftScreen"
    await wait_for(pilot, settled or (lambda: screen.report is not None or screen.state is not None))
    await pilot.pause()
    return screen


def table_features(screen) -> list[str]:
    from textual.widgets import DataTable

    table = screen.query_one("#drift-features", DataTable)
    return [table.get_row_at(i)[0].plain.removeprefix("● ") for i in range(table.row_count)]


def static_text(screen, selector: str) -> str:
    widget = screen.query_one(selector)
    return str(widget.render())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the screen against the real backends --------------------------------------------------------

async def test_opens_on_the_canary_without_input_and_sorts_drifting_features_first(world, tmp_path):
    app = make_app(world, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_drift(app, pilot)
        assert screen.state is None, screen.state
        assert screen.target.key == ("fraud", "fraud-detector")
        assert screen.target.live_revision == CANARY and screen.target.stable_revision == STABLE
        assert screen.target.source == "kube"
        report = screen.report
        assert report.reference == "stable" and report.reference_revision == STABLE
        assert report.at == T0
        names = table_features(screen)
        assert names == [f.feature for f in report.features]
        assert set(names[:3]) == DRIFTING
        assert [f.status for f in report.features[:3]] == ["drift"] * 3
        assert all(f.status == "ok" for f in report.features[3:])
        psis = [f.psi for f in report.features[:3]]
        assert psis == sorted(psis, reverse=True) and min(psis) > 0.25
        from textual.widgets import DataTable

        table = screen.query_one("#drift-features", DataTable)
        first = table.get_row_at(0)
        assert first[1].plain == "DRIFT"
        assert first[2].plain == f"{report.features[0].psi:.3f}"
        assert "updated" in str(table.border_title)
        # the chart and the histogram follow the feature under the cursor
        assert screen.selected == names[0]
        assert names[0] in str(screen.query_one("#drift-hist").border_title)
        await pilot.press("down")
        await pilot.pause()
        assert screen.selected == names[1]
        assert names[1] in str(screen.query_one("#drift-hist").border_title)


async def test_opens_on_the_model_selected_on_the_rollouts_screen(world, tmp_path):
    app = make_app(world, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.selected_isvc = ("fraud", "credit-risk")
        screen = await open_drift(app, pilot)
        assert screen.target.key == ("fraud", "credit-risk")
        # no canary: the reference is the same revision one window earlier
        assert screen.report.reference == "before"
        assert screen.report.features and all(f.status != "drift" for f in screen.report.features)
        assert "credit-risk" in static_text(screen, "#drift-context")
        # a new selection made elsewhere is picked up when the screen comes back
        await pilot.press("1")
        app.selected_isvc = ("fraud", "fraud-detector")
        screen2 = await open_drift(app, pilot, settled=lambda: (
            app.screen.report is not None and app.screen.report.model == "fraud-detector"))
        assert screen2 is screen
        assert screen.target.key == ("fraud", "fraud-detector")


async def test_window_change_reloads_with_the_longer_window(world, tmp_path):
    app = make_app(world, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_drift(app, pilot)
        short = {f.feature: f.live_count for f in screen.report.features}
        await pilot.press("w")
        await wait_for(pilot, lambda: screen.report is not None and screen.report.window == "1h")
        assert screen.window == "1h" and screen.report.window == "1h"
        long = {f.feature: f.live_count for f in screen.report.features}
        ratio = long["amount"] / short["amount"]
        assert 3.0 < ratio < 5.0, ratio  # four times the samples, give or take the noise
        assert "1h" in str(screen.query_one("#drift-features").border_title)
        assert set(table_features(screen)[:3]) == DRIFTING
        for expected in ("6h", "24h", "15m"):
            await pilot.press("w")
            await wait_for(pilot, lambda expected=expected: (screen.report is not None and screen.report.window == expected
                                           and not screen._loading))
            assert screen.report.window == expected


async def test_reference_cycles_through_catalog_and_before(world, tmp_path):
    app = make_app(world, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_drift(app, pilot)
        await pilot.press("b")
        await wait_for(pilot, lambda: screen.report is not None and screen.report.reference == "catalog")
        assert "training reference" in screen.report.reference_label
        assert "fraud-detector v40" in screen.report.reference_label  # the served version's histograms
        assert all(f.psi is not None for f in screen.report.features)
        await pilot.press("b")
        await wait_for(pilot, lambda: screen.report is not None and screen.report.reference == "before")
        assert "before" in static_text(screen, "#drift-context")


async def test_a_before_reference_older_than_the_history_is_marked_partial(world, tmp_path):
    app = make_app(world, tmp_path)
    async with app.run_test(size=(120, 24)) as pilot:
        screen = await open_drift(app, pilot)
        await pilot.press("b", "b")  # stable -> catalog -> before
        await wait_for(pilot, lambda: screen.report is not None and screen.report.reference == "before")
        assert screen.history_start is None  # 15m: the window before is fully in the history
        assert "partial" not in static_text(screen, "#drift-status")
        await pilot.press("w", "w")  # 1h, 6h
        await wait_for(pilot, lambda: screen.report is not None and screen.report.window == "6h"
                       and not screen._loading)
        assert screen.report.reference == "before"
        assert screen.history_start is not None and T0 - 12 * 3600 < screen.history_start < T0
        status = static_text(screen, "#drift-status")
        assert "partial: history starts at" in status, status
        assert "(partial)" in static_text(screen, "#drift-context")


async def test_prometheus_down_is_a_state_with_its_reason_and_the_next_retry(world, tmp_path):
    app = make_app(world, tmp_path, prometheus_url=f"http://127.0.0.1:{free_port()}")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_drift(app, pilot)
        assert screen.report is None
        assert "not reachable" in screen.state
        status = static_text(screen, "#drift-status")
        assert "not reachable" in status and re.search(r"retrying in \d+ s", status)
        # the retry time comes first, so a long error cut at 80 columns does not hide it
        assert re.match(r"retrying in \d+ s", status.strip()), status
        first = screen.next_retry
        assert screen.scheduled("refresh")  # a retry is scheduled, the app is still up
        assert table_features(screen) == []
        assert "no data" in str(screen.query_one("#drift-features").border_title)
        assert app.is_running
        # it keeps retrying, backing off
        failures = screen._backoff.failures
        await wait_for(pilot, lambda: screen._backoff.failures > failures, 10)
        assert screen._backoff.failures > failures and screen.next_retry > first


async def test_switching_model_while_prometheus_is_down_shows_nothing_of_the_previous_model(
        world, tmp_path, monkeypatch):
    from console.clients import metrics_client

    app = make_app(world, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_drift(app, pilot)
        assert screen.target.key == ("fraud", "fraud-detector") and screen.report is not None
        old_features = table_features(screen)
        assert "amount" in old_features
        assert "DRIFT" in str(screen.query_one("#drift-features").border_subtitle)
        # Prometheus goes away: every later refresh fails to connect
        dead = metrics_client(Settings(prometheus_url=f"http://127.0.0.1:{free_port()}"))
        monkeypatch.setattr(app.services, "metrics", lambda: dead)
        await pilot.press("m")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ModelPickerScreen", 5)
        await pilot.press(*"credit", "enter")
        await wait_for(pilot, lambda: app.screen is screen and screen.state is not None)
        assert "not reachable" in screen.state
        assert screen.report is None and table_features(screen) == []
        assert "credit-risk" in static_text(screen, "#drift-context")
        table = screen.query_one("#drift-features")
        hist = screen.query_one("#drift-hist")
        pane = screen.query_one("#drift-chart-pane")
        shown = " ".join(str(x) for x in (
            table.border_title, table.border_subtitle, hist.border_title, hist.border_subtitle,
            pane.border_title, pane.border_subtitle, static_text(screen, "#drift-hist"),
            static_text(screen, "#drift-status")))
        assert "no data" in str(table.border_title)
        assert "DRIFT" not in shown and " ok" not in shown and "PSI 0." not in shown and "JS 0." not in shown
        for name in old_features:
            assert name not in shown, (name, shown)
        assert "showing data from" not in static_text(screen, "#drift-status")


async def test_no_prometheus_url_says_which_setting_to_set(world, tmp_path):
    app = make_app(world, tmp_path, prometheus_url=None)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_drift(app, pilot)
        assert screen.report is None
        assert "no Prometheus URL" in screen.state
        assert "prometheus_url" in static_text(screen, "#drift-status")


async def test_a_model_without_series_shows_why_and_no_numbers(world, tmp_path):
    app = make_app(world, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.selected_isvc = ("fraud", "no-such-model")
        screen = await open_drift(app, pilot)
        assert screen.report is not None and screen.report.features == []
        assert "no feature metrics" in screen.report.message
        assert "no feature metrics" in static_text(screen, "#drift-status")
        assert table_features(screen) == []


async def test_rollout_actions_from_the_audit_journal_are_chart_markers(world, tmp_path):
    from console.audit import AuditJournal, Identity

    journal = AuditJournal(tmp_path / "audit.db")
    journal.record(identity=Identity("oncall", None), action="rollout.set", target="fraud/fraud-detector",
                   outcome="applied")  # now: far outside the charted span, must not show
    journal.close()
    ts = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(T0 - 1800))
    with sqlite3.connect(tmp_path / "audit.db") as conn:
        for action, outcome, target in (("rollout.rollback", "applied", "fraud/fraud-detector"),
                                        ("rollout.promote", "refused", "fraud/fraud-detector"),
                                        ("rollout.promote", "applied", "fraud/credit-risk")):
            conn.execute("INSERT INTO audit (ts, os_user, action, target, outcome) VALUES (?,?,?,?,?)",
                         (ts, "oncall", action, target, outcome))
    app = make_app(world, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_drift(app, pilot)
        assert [(m.label, m.t) for m in screen.markers] == [("rollback", T0 - 1800)]
        legend = str(screen.query_one("#drift-chart-pane").border_subtitle)
        assert "rollback" in legend


async def test_marking_features_charts_them_together(world, tmp_path):
    app = make_app(world, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_drift(app, pilot)
        names = table_features(screen)
        await pilot.press("space", "down", "space")
        await pilot.pause()
        assert screen.marked == names[:2]
        legend = str(screen.query_one("#drift-chart-pane").border_subtitle)
        assert names[0] in legend and names[1] in legend
        assert table_features(screen)[:2] == names[:2]
        from textual.widgets import DataTable

        assert screen.query_one("#drift-features", DataTable).get_row_at(0)[0].plain.startswith("● ")


async def test_refresh_pauses_while_hidden_and_resumes(world, tmp_path):
    app = make_app(world, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_drift(app, pilot)
        assert screen.scheduled("refresh")  # the next refresh is scheduled after the answer
        await pilot.press("1")
        await pilot.pause()
        assert not screen.active and not screen.scheduled("refresh")
        await pilot.press("4")
        await pilot.pause()
        assert screen.active
        assert screen.scheduled("refresh") or screen._loading


async def test_model_picker_switches_model(world, tmp_path):
    app = make_app(world, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_drift(app, pilot)
        await pilot.press("m")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ModelPickerScreen", 5)
        await pilot.press(*"product", "enter")
        await wait_for(pilot, lambda: screen.report is not None and screen.report.model == "product-embedder")
        assert screen.target.key == ("recsys", "product-embedder")
        assert set(table_features(screen)) == {"title_tokens", "image_quality", "category_depth"}


async def test_home_end_g_G_go_to_the_first_and_last_feature(world, tmp_path):
    from textual.widgets import DataTable

    app = make_app(world, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_drift(app, pilot)
        table = screen.query_one("#drift-features", DataTable)
        table.focus()
        last = table.row_count - 1
        assert last > 1
        for key, row in (("end", last), ("home", 0), ("G", last), ("g", 0)):
            await pilot.press(key)
            assert await wait_for(pilot, lambda row=row: table.cursor_row == row, 5), f"row {row} after {key}"


async def test_a_refresh_whose_answer_did_not_change_repaints_nothing(world, tmp_path):
    """Issue 10 s.4: over SSH every repaint is bytes. The clock and the data are frozen, so the
    next refresh answers exactly what is on screen: no widget of the screen may be repainted
    (no table cell, title, line or chart), while the answer did come in."""
    app = make_app(world, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_drift(app, pilot)
        assert screen.report is not None and screen.state is None
        await pilot.pause()
        repaints: list[str] = []
        widgets = [screen.query_one(selector) for selector in (
            "#drift-features", "#drift-chart", "#drift-hist", "#drift-chart-pane", "#drift-context", "#drift-status")]
        for widget in widgets:
            def counting(*args, _widget=widget, _refresh=widget.refresh, **kwargs):
                repaints.append(_widget.id)
                return _refresh(*args, **kwargs)

            widget.refresh = counting
        before = screen.report
        screen._tick()  # what the scheduled refresh runs
        assert screen._loading
        assert await wait_for(pilot, lambda: not screen._loading and screen.report is not before)
        await pilot.pause()
        assert repaints == []
        assert screen.state is None and screen.scheduled("refresh")
        # a change on screen still repaints (the spy sees it)
        await pilot.press("space")
        assert await wait_for(pilot, lambda: "drift-features" in repaints, 5)


def test_load_view_without_textual_resolves_revisions_and_reports(world, tmp_path):
    """console/drift_view.py: one refresh of the screen, with no app, against the real backends."""
    from console.drift_view import ViewFailed, load_view
    from console.services import Services

    settings = Settings(catalog=world.catalog, audit=tmp_path / "audit.db", kubeconfig=world.kubeconfig,
                        context=world.context, prometheus_url=world.prometheus_url)
    ctx = Context(settings)
    services = Services(ctx, catalog=None)
    view = load_view(services, None, "15m", None, T0)  # no model asked: the canary is chosen
    assert view.target.key == ("fraud", "fraud-detector") and view.target.source == "kube"
    assert (view.target.live_revision, view.target.stable_revision) == (CANARY, STABLE)
    assert view.report.reference == "stable" and set(f.feature for f in view.report.features[:3]) == DRIFTING
    assert ("fraud", "fraud-detector", [STABLE, CANARY]) in view.models
    before = load_view(services, ("fraud", "credit-risk"), "6h", None, T0)  # no canary: the window before
    assert before.report.reference == "before"
    assert before.history_start is not None and T0 - 12 * 3600 < before.history_start < T0
    # Kubernetes unreachable: the revisions are guessed from the metrics, and a note says so
    settings.kubeconfig = str(tmp_path / "missing-kubeconfig")
    guessed = load_view(Services(Context(settings), catalog=None), ("fraud", "fraud-detector"), "15m", None, T0)
    assert guessed.target.source == "metrics" and guessed.target.live_revision == CANARY
    assert guessed.notes and "guessed from metrics" in guessed.notes[0]
    settings.prometheus_url = None
    with pytest.raises(ViewFailed) as failed:
        load_view(Services(Context(settings), catalog=None), None, "15m", None, T0)
    assert failed.value.config and "prometheus_url" in failed.value.message
    ctx.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The whole sandbox on the real clock, as the Now screen gathers from it (tests/test_now_screen.py)."""
    _need_prometheus()
    from console.sandbox.runner import Sandbox

    sandbox = Sandbox(tmp_path_factory.mktemp("drift-now"), ready_delay=0.05)
    sandbox.start()
    yield sandbox
    sandbox.stop()


async def test_enter_on_a_drift_item_of_the_now_screen_opens_drift_on_its_feature(live, tmp_path):
    """Issue 11: enter on a drift item opens the Drift screen on that model, over the window the
    item was judged on, with the item's feature highlighted, charted and its histogram shown; also
    when the Drift screen is already open with another feature under the cursor."""
    from textual.widgets import DataTable

    from console.triage import DRIFT_WINDOW

    settings = Settings(catalog=Path(live.endpoints["catalog"]), audit=tmp_path / "audit.db",
                        kubeconfig=str(live.kubeconfig_path), context="sandbox-admin",
                        kfp_url=live.endpoints["kfp_url"], prometheus_url=live.endpoints["prometheus_url"])
    app = MlopsConsole(Context(settings), cursor_blink=False, first_screen="now")

    def drift_rows() -> list[int]:
        if app.current_mode != "now":
            return []
        table = app.screen.query_one("#now-items", DataTable)
        return [i for i in range(table.row_count) if str(table.get_row_at(i)[1]) == "drift"]

    async def enter_on_the_drift_item():
        assert await wait_for(pilot, lambda: bool(drift_rows()), 60), "no drift item on the Now screen"
        app.screen.query_one("#now-items", DataTable).move_cursor(row=drift_rows()[0])
        item = app.screen.selected()
        assert item.kind == "drift" and item.ref
        await pilot.press("enter")
        return item

    def shows(screen, item) -> bool:
        return (app.screen is screen and screen.report is not None and screen.report.window == DRIFT_WINDOW
                and screen.selected == item.ref and not screen._loading)

    async with app.run_test(size=(100, 30)) as pilot:
        item = await enter_on_the_drift_item()
        assert await wait_for(pilot, lambda: app.current_mode == "drift", 10)
        screen = app.screen
        assert await wait_for(pilot, lambda: shows(screen, item), 60), (screen.window, screen.selected, item.ref)
        await pilot.pause()

        def on_screen(feature: str) -> None:
            table = screen.query_one("#drift-features", DataTable)
            assert table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value == feature
            assert screen.target.key == (item.namespace, item.name)
            assert str(screen.query_one("#drift-hist").border_title).startswith(f"{feature}:")
            legend = str(screen.query_one("#drift-chart-pane").border_subtitle)  # the charted features
            assert f"{feature} " in legend
            assert not [f.feature for f in screen.report.features if f.feature != feature and f.feature in legend]
            assert f"· {DRIFT_WINDOW} at" in static_text(screen, "#drift-context")

        on_screen(item.ref)
        assert app.selected_feature is None  # taken
        # another feature under the cursor, then enter on the item again
        await pilot.press("down", "down")
        assert await wait_for(pilot, lambda: screen.selected != item.ref, 5)
        await pilot.press("0")
        item = await enter_on_the_drift_item()
        assert await wait_for(pilot, lambda: shows(screen, item), 60), (screen.window, screen.selected, item.ref)
        await pilot.pause()
        on_screen(item.ref)


def test_snapshot_of_the_drift_screen(world, tmp_path, snap_compare, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.chdir(world.catalog.parent)  # the header shows the catalog path: keep it short and stable
    app = make_app(world, tmp_path, catalog=Path(world.catalog.name))
    app.selected_isvc = ("fraud", "fraud-detector")

    async def run_before(pilot):
        screen = await open_drift(app, pilot)
        assert screen.report is not None, screen.state
        await pilot.pause()

    try:
        assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


# -- drawing, without a backend -------------------------------------------------------------------

def test_sparkline_draws_missing_points_as_gaps_never_zero():
    from screens.drift_chart import NO_DATA_CELL, sparkline

    text = sparkline([None, 0.0, 0.3, None], 4, 0.1, 0.25)
    assert text.plain[0] == NO_DATA_CELL and text.plain[3] == NO_DATA_CELL
    assert text.plain[1] == "▁" and text.plain[2] not in (NO_DATA_CELL, "▁")


def test_psi_chart_keeps_gaps_and_draws_threshold_lines():
    from rich.text import Text

    from screens.drift_chart import Marker, psi_chart

    pts = [(1000.0 + 60 * i, None if 10 <= i < 20 else 0.3) for i in range(40)]
    out = psi_chart({"a": pts}, width=60, height=12, warn=0.1, drift=0.25, span=(1000.0, 1000.0 + 60 * 39),
                    markers=[Marker(1000.0 + 60 * 30, "rollback")], fmt_time=lambda t: "T")
    plain = Text.from_ansi(out).plain.splitlines()
    assert len(plain) == 12 and all(len(line) <= 60 for line in plain)
    assert any(line.startswith("0.10") for line in plain) and any(line.startswith("0.25") for line in plain)
    assert "\x1b[48;" not in out  # no painted backgrounds: the panel's colours show through
    empty = psi_chart({"a": [(1000.0, None), (1060.0, None)]}, width=40, height=8, warn=0.1, drift=0.25)
    assert len(Text.from_ansi(empty).plain.splitlines()) == 8


def test_histogram_bars_say_when_there_is_nothing_to_draw():
    from screens.drift_chart import histogram_bars

    assert "no samples" in histogram_bars(None, None, None, height=8, width=30).plain
    bounds = [1.0, 2.0, math.inf]
    text = histogram_bars(bounds, [0, 10, 0], [5, 5, 0], height=6, width=30).plain
    assert "reference" in text and "live" in text and "≤1" in text
    only_ref = histogram_bars(bounds, None, [5, 5, 0], height=6, width=30).plain
    assert "live: no samples" in only_ref


def test_thin_keeps_spikes_and_gaps():
    from screens.drift_chart import thin

    pts = [(float(i), 0.01) for i in range(100)]
    pts[37] = (37.0, 0.9)
    for i in range(60, 80):
        pts[i] = (float(i), None)
    out = thin(pts, 20)
    assert len(out) == 20
    assert max(v for _, v in out if v is not None) == 0.9  # the spike survives
    assert sum(1 for _, v in out if v is None) == 4  # the gap stays a gap, never 0
    assert thin(pts[:10], 20) == pts[:10]
