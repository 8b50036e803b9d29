"""Issue 12 §2, last bullet: progressive rollouts from the Rollouts screen, driven with Pilot against the
sandbox (Kubernetes API, KServe simulator, exporter and a real Prometheus scraping every second) with
short intervals (5 s, windows of 30 s), as tests/test_progress_run.py does for the CLI.

- g asks for the plan (Cancel focused; a bad value keeps the dialog open and says why), then the same
  console/progress_run.py ProgressRun runs in the app's worker; the detail shows step N of M, the
  checks and the countdown; space pauses (the countdown holds, no check, no step) and resumes; a
  rolls back after a confirmation, audited;
- q while a progress runs asks; confirmed, the progress is interrupted (audit row and Event
  "progress interrupted at step N"), the InferenceService stays at its step, the console quits.

Follows KServe's canary rollout (the "Canary rollout strategy" docs; pkg/controller/v1beta1/
inferenceservice/reconcilers/knative/ksvc_reconciler.go for the split) and Flagger's analysis
(fluxcd/flagger pkg/controller/scheduler.go).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from textual.widgets import Button, DataTable, Input, Static

from console.app import MlopsConsole
from console.config import HealthSettings, Settings
from console.context import Context
from console.sandbox.runner import Sandbox
from pilot_wait import wait_for
from sandbox_fixtures import start_progress_sandbox
from screens.rollouts_progress import AskScreen, ProgressDriver, ProgressScreen
from test_progress_run import events, kc, new_canary


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    sandbox = start_progress_sandbox(tmp_path_factory.mktemp("progress-tui"))
    yield sandbox
    sandbox.stop()


def make_app(sb: Sandbox, tmp_path: Path) -> MlopsConsole:
    # "healthy" at 98%, so one 5xx in a small window is not a failure (as the CLI's test)
    settings = Settings(catalog=tmp_path / "catalog.db", audit=tmp_path / "audit.db",
                        kubeconfig=str(sb.kubeconfig_path), prometheus_url=sb.endpoints["prometheus_url"],
                        health=HealthSettings(min_success_rate=0.98, min_requests=10))
    return MlopsConsole(Context(settings), cursor_blink=False)


def detail(app) -> str:
    return str(app.screen.query_one("#isvc-detail-body").render())  # a TextPane: its text


async def open_on(pilot, app, key: str) -> None:
    await pilot.press("3")
    await wait_for(pilot, lambda: app.current_mode == "rollouts"
                   and key in [r.key.value for r in app.screen.query_one("#isvcs", DataTable).ordered_rows],
                   what=f"{key} listed")
    table = app.screen.query_one("#isvcs", DataTable)
    table.move_cursor(row=table.get_row_index(key))
    await wait_for(pilot, lambda: app.screen.selected() is not None and app.screen.selected().key == key,
                   what=f"{key} selected")


async def start_progress(pilot, app, reason: str) -> None:
    await pilot.press("g")
    await wait_for(pilot, lambda: isinstance(app.screen, ProgressScreen) and app.focused is not None, what="the progress dialog")
    dialog = app.screen
    assert app.focused is dialog.query_one("#progress-cancel", Button)
    dialog.query_one("#progress-steps", Input).value = "50,25"
    dialog.query_one("#progress-interval", Input).value = "5s"
    dialog.query_one("#progress-window", Input).value = "30s"
    dialog.query_one("#progress-reason", Input).value = reason
    dialog.query_one("#progress-start", Button).press()
    await wait_for(pilot, lambda: "must rise" in str(dialog.query_one("#progress-error", Static).render()),
                   what="the dialog saying why the steps are wrong")
    assert app.screen is dialog  # still open
    dialog.query_one("#progress-steps", Input).value = "50,100"
    dialog.query_one("#progress-start", Button).press()
    await wait_for(pilot, lambda: not isinstance(app.screen, ProgressScreen) and app.focused is not None, what="the dialog closed")


def driver_of(app, key: str) -> ProgressDriver:
    return app.progresses[key]


def audit(app, target: str) -> list:
    return app.ctx.audit.list(target=target, all_rows=True)


async def test_g_starts_a_progress_space_pauses_it_and_a_rolls_it_back(sb, tmp_path):
    ns, key = "pt-ok", "pt-ok/search-ranker"
    new_canary(sb, ns, "search-ranker")
    client = kc(sb)
    app = make_app(sb, tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await open_on(pilot, app, key)
        await start_progress(pilot, app, "v31 looks good")
        driver = driver_of(app, key)
        await wait_for(pilot, lambda: "next check in" in detail(app), timeout=60, what="the countdown of step 1")
        assert "progress: step 1 of 2 (50%)" in detail(app)
        assert client.get_inference_service(ns, "search-ranker").canary_traffic_percent == 50

        await pilot.press("space")
        await wait_for(pilot, lambda: "paused" in detail(app), what="paused")
        held = driver.seconds_left
        since = time.monotonic()
        # Longer than the interval: a running countdown would have judged and stepped by now.
        await wait_for(pilot, lambda: time.monotonic() - since > 7, what="an interval passing")
        assert driver.verdicts == [] and driver.at == (1, 2, 50) and driver.seconds_left == held
        assert client.get_inference_service(ns, "search-ranker").canary_traffic_percent == 50

        await pilot.press("space")
        await wait_for(pilot, lambda: "progress: step 2 of 2 (100%)" in detail(app), timeout=60, what="step 2")
        assert "checks: healthy" in detail(app)

        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AskScreen) and app.focused is not None, what="the abort question")
        assert app.focused is app.screen.query_one("#ask-cancel", Button)
        app.screen.query_one("#ask-yes", Button).press()
        await wait_for(pilot, lambda: not driver.running, timeout=30, what="the progress ended")
        assert driver.outcome == "rolled back"
        await wait_for(pilot, lambda: "rolled back" in detail(app), what="the outcome in the detail")
    assert client.get_inference_service(ns, "search-ranker").canary_traffic_percent == 0
    rows = audit(app, key)
    messages = [r.message or "" for r in rows]
    assert any("progress started: steps 50,100" in m for m in messages)
    assert any("progress aborted at step 2" in m for m in messages)
    outcomes = [(r.action, r.outcome) for r in reversed(rows)]
    assert [a for a, o in outcomes if o == "applied"] == ["rollout.set", "rollout.set", "rollout.rollback"]
    assert ("rollout.progress", "aborted") in outcomes
    assert all(r.reason == "v31 looks good" for r in rows)


async def test_quitting_mid_progress_asks_then_interrupts_and_the_step_stays(sb, tmp_path):
    ns, key = "pt-quit", "pt-quit/search-ranker"
    new_canary(sb, ns, "search-ranker")
    client = kc(sb)
    app = make_app(sb, tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await open_on(pilot, app, key)
        await start_progress(pilot, app, "v31 quit test")
        await wait_for(pilot, lambda: "next check in" in detail(app), timeout=60, what="the countdown of step 1")
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, AskScreen) and app.focused is not None, what="the quit question")
        assert app.is_running
        app.screen.query_one("#ask-cancel", Button).press()  # cancelled: still running
        await wait_for(pilot, lambda: not isinstance(app.screen, AskScreen) and app.focused is not None, what="the question gone")
        assert app.is_running and driver_of(app, key).running
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, AskScreen) and app.focused is not None, what="the quit question again")
        app.screen.query_one("#ask-yes", Button).press()
        await wait_for(pilot, lambda: not app.is_running, timeout=30, what="the console quit")
    assert not driver_of(app, key).running
    assert client.get_inference_service(ns, "search-ranker").canary_traffic_percent == 50
    messages = [r.message or "" for r in audit(app, key)]
    assert any("progress interrupted at step 1 (console quit)" in m for m in messages)
    assert any("progress interrupted at step 1" in (e.message or "") for e in events(sb, ns, "search-ranker"))


# -- snapshot: the detail mid-progress (a driver with a fixed state: no run, no clock) --------------

@pytest.fixture(scope="module")
def snapshot_sandbox(tmp_path_factory):
    from test_rollouts_screen import admin, start_sandbox, wait_until

    sandbox = start_sandbox(tmp_path_factory.mktemp("progress-snapshots"))
    with admin(sandbox) as client:
        wait_until(lambda: client.get_inference_service("fraud", "fraud-detector").latest_percent == 20)
    yield sandbox
    sandbox.stop()


def test_snapshot_rollouts_detail_mid_progress_80x24(snap_compare, snapshot_sandbox, tmp_path):
    from console.progress_run import Plan
    from test_rollouts_screen import FRAUD, _settled, snapshot_app

    app = snapshot_app(snapshot_sandbox, tmp_path)
    plan = Plan("fraud", "fraud-detector", [10, 20, 50, 100], 60.0, "60s", 2, "v3 canary")
    app.progresses[FRAUD] = ProgressDriver(
        FRAUD, plan, at=(2, 4, 20), verdicts=["healthy", "healthy"], seconds_left=42,
        last_line="step 2/4: revision fraud-detector-predictor-00002 is ready and serves 20%")
    assert snap_compare(app, terminal_size=(80, 24), run_before=_settled(FRAUD))
