"""The Pipelines screen (key 2) driven through Pilot against the KFP sandbox over real HTTP.

The sandbox is pinned: its world starts at FROZEN (seed 7) and time_scale=0 stops its clock, so
states do not move unless a test advances them; the app's clock is frozen at the same instant.
"""

from __future__ import annotations

import html
import re
import socket
import time
from pathlib import Path

import pytest

from console import demo_data
from console.app import MlopsConsole
from console.config import Settings
from console.context import Context
from console.sandbox.kfp_server import KfpSandbox
from screens.pipelines import FIRST_PAGE

FROZEN = 1717336800.0  # 2024-06-02 14:00:00 UTC, the sandbox world's t0


@pytest.fixture(autouse=True)
def _utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def make_sandbox(state_dir: Path, n_runs: int = 50) -> KfpSandbox:
    # time_scale 0 and a fixed t0 pin the world to one instant, so runs, names and times never vary
    sandbox = KfpSandbox(state_dir, n_runs=n_runs, time_scale=0.0, seed=7, t0=FROZEN)
    sandbox.start()
    return sandbox


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> Path:
    from console.demo_catalog import build_demo_catalog

    path = tmp_path_factory.mktemp("catalog") / "catalog.db"
    build_demo_catalog(path)
    return path


@pytest.fixture(scope="module")
def kfp(tmp_path_factory):
    """A shared sandbox for tests that do not change runs (faults are cleared after each test)."""
    sandbox = make_sandbox(tmp_path_factory.mktemp("kfp"))
    yield sandbox
    sandbox.stop()


@pytest.fixture
def shared(kfp):
    yield kfp
    kfp.faults.clear()


@pytest.fixture
def own_kfp(tmp_path):
    sandbox = make_sandbox(tmp_path / "kfp-own")
    yield sandbox
    sandbox.stop()


def make_app(tmp_path: Path, kfp_url: str, catalog: Path, *, read_only: bool = False) -> MlopsConsole:
    settings = Settings(catalog=catalog, audit=tmp_path / "audit.db", kfp_url=kfp_url, read_only=read_only)
    settings.kfp.timeout = 3.0
    return MlopsConsole(Context(settings), clock=lambda: FROZEN, cursor_blink=False)


async def until(pilot, condition, what: str, tries: int = 200):
    """Poll a condition while the app runs (bounded; never asserts on elapsed time)."""
    for _ in range(tries):
        value = condition()
        if value:
            return value
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def open_pipelines(pilot):
    from screens.pipelines import PipelinesScreen

    await pilot.press("2")
    return await until(pilot, lambda: isinstance(pilot.app.screen, PipelinesScreen) and pilot.app.screen,
                       "the Pipelines screen")


async def loaded(pilot, screen):
    await until(pilot, lambda: screen._loaded_generation == screen.generation and not screen._busy
                and screen.experiments, "runs and experiment names loaded")
    await pilot.pause()
    return screen.query_one("#runs")


def cell(table, run_id: str, column: str) -> str:
    return table.get_cell(run_id, column).plain


def column_values(table, column: str) -> list[str]:
    return [table.get_cell(row.key, column).plain for row in table.ordered_rows]


def screen_text(app) -> str:
    """What the terminal shows, as plain text (from the SVG screenshot)."""
    svg = app.export_screenshot()
    text = re.sub(r"<[^>]+>", "", svg)
    return html.unescape(text).replace("\xa0", " ")


def run_named(sandbox: KfpSandbox, display_name: str) -> str:
    return next(r.run_id for r in sandbox.world.runs.values() if r.display_name == display_name)


async def select(pilot, screen, run_id: str) -> None:
    table = screen.query_one("#runs")
    table.move_cursor(row=table.get_row_index(run_id))
    await until(pilot, lambda: screen.detail_run is not None and screen.detail_run.run_id == run_id,
                f"the detail of {run_id}")


# ---------------------------------------------------------------------------------------------
# The table


async def test_runs_table_fills_with_state_icons_and_experiment_names(shared, catalog, tmp_path):
    app = make_app(tmp_path, shared.base_url, catalog)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_pipelines(pilot)
        table = await loaded(pilot, screen)
        assert table.row_count == FIRST_PAGE
        oom = run_named(shared, "train-churn-predictor-v31")
        state = table.get_cell(oom, "state")
        assert state.plain == "✖ FAILED" and "red" in str(state.style)
        assert cell(table, oom, "experiment") == "recsys-training"  # the name, not the id
        assert cell(table, oom, "started") == "06-02 13:15"
        plan = shared.world.runs[oom]
        took = int(plan.finished_at(FROZEN) - plan.created_at)
        assert cell(table, oom, "duration") == f"{took // 60}m {took % 60:02d}s"
        running = run_named(shared, "train-fraud-detector-v41")
        assert cell(table, running, "state") == "⟳ RUNNING"
        assert cell(table, running, "duration") == "5m 00s"  # the app's frozen clock minus created_at
        states = set(column_values(table, "state"))
        assert {"✔ SUCCEEDED", "✖ FAILED", "⟳ RUNNING", "… PENDING", "⊘ CANCELED"} <= states
        assert table.border_title.startswith(f"Runs {FIRST_PAGE}/50") and "updated 14:00:00" in table.border_title


async def test_failed_run_error_is_readable_without_scrolling(shared, catalog, tmp_path):
    app = make_app(tmp_path, shared.base_url, catalog)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_pipelines(pilot)
        await loaded(pilot, screen)
        oom = run_named(shared, "train-churn-predictor-v31")
        await select(pilot, screen, oom)
        await pilot.pause()
        detail = screen.query_one("#run-detail")
        assert detail.scroll_y == 0
        shown = screen_text(app)
        assert "OOMKilled" in shown and "train-model" in shown
        assert "set_memory_limit('16Gi')" in shown  # the whole error, to its advice, on screen
        body = str(screen.query_one("#run-detail-body").render())
        assert body.index("OOMKilled") < body.index("Tasks")  # the failure comes before the task tree
        assert "State history" in body and "pod train-churn-predictor-" in body


async def test_filter_by_state_asks_the_server_and_cycles(shared, catalog, tmp_path):
    app = make_app(tmp_path, shared.base_url, catalog)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_pipelines(pilot)
        await loaded(pilot, screen)
        await pilot.press("s")
        table = await loaded(pilot, screen)
        failed = shared.runs_in_state("FAILED")
        assert screen.query_state.state == "FAILED"
        assert sorted(row.key.value for row in table.ordered_rows) == sorted(failed)
        assert set(column_values(table, "state")) == {"✖ FAILED"}
        await pilot.press("s")
        table = await loaded(pilot, screen)
        assert set(column_values(table, "state")) == {"⟳ RUNNING"}
        assert table.row_count == len(shared.runs_in_state("RUNNING"))
        assert "RUNNING" in screen.query_one("#runs-summary").render().plain


async def test_failed_first_toggle_puts_failed_runs_on_top(shared, catalog, tmp_path):
    app = make_app(tmp_path, shared.base_url, catalog)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_pipelines(pilot)
        table = await loaded(pilot, screen)
        before = column_values(table, "state")
        assert before[0] != "✖ FAILED"  # newest first by default
        await pilot.press("f")
        table = await loaded(pilot, screen)
        states = column_values(table, "state")
        n_failed = len(shared.runs_in_state("FAILED"))
        assert n_failed > 0 and states[:n_failed] == ["✖ FAILED"] * n_failed
        assert "✖ FAILED" not in states[n_failed:]
        assert table.row_count == FIRST_PAGE and table.border_title.startswith(f"Runs {FIRST_PAGE}/50")
        await pilot.press("f")
        table = await loaded(pilot, screen)
        assert column_values(table, "state") == before


async def test_text_and_experiment_filters(shared, catalog, tmp_path):
    app = make_app(tmp_path, shared.base_url, catalog)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_pipelines(pilot)
        await loaded(pilot, screen)
        await pilot.press("slash")
        await pilot.press(*"churn")
        await until(pilot, lambda: screen.query_state.text == "churn", "the text filter")
        table = await loaded(pilot, screen)
        names = [shared.world.runs[row.key.value].display_name for row in table.ordered_rows]
        expected = [r for r in shared.world.runs.values() if "churn" in r.display_name]
        assert names and len(names) == len(expected) and all("churn" in n for n in names)
        await pilot.press("enter")  # keeps the filter
        assert table.has_focus
        await pilot.press("e")  # experiments sorted by name: ads-and-trust first
        table = await loaded(pilot, screen)
        assert set(column_values(table, "experiment")) <= {"ads-and-trust"}
        assert all("churn" in shared.world.runs[row.key.value].display_name for row in table.ordered_rows)


async def test_esc_clears_the_filter_and_home_end_g_G_go_to_the_first_and_last_run(shared, catalog, tmp_path):
    app = make_app(tmp_path, shared.base_url, catalog)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_pipelines(pilot)
        table = await loaded(pilot, screen)
        everything = table.row_count
        await pilot.press("slash", *"churn")
        await until(pilot, lambda: screen.query_state.text == "churn", "the text filter")
        await loaded(pilot, screen)
        assert table.row_count < everything
        await pilot.press("escape")
        # >=: the cursor goes back to the run it was on, and near the end of the first page that
        # brings the next page in at once
        await until(pilot, lambda: screen.query_state.text == "" and table.row_count >= everything, "every run back")
        assert screen.query_one("#runs-filter").value == "" and table.has_focus
        for key, last in (("end", True), ("home", False), ("G", True), ("g", False)):
            await loaded(pilot, screen)  # reaching the end loads the next page: settle before each key
            row = table.row_count - 1 if last else 0
            await pilot.press(key)
            await until(pilot, lambda row=row: table.cursor_row == row, f"row {row} after {key}")


# ---------------------------------------------------------------------------------------------
# Changes: terminate and retry through the safe action path


async def test_terminate_asks_cancel_by_default_then_applies_and_audits(own_kfp, catalog, tmp_path):
    from textual.widgets import Button

    from screens.confirm import ConfirmChangeScreen

    app = make_app(tmp_path, own_kfp.base_url, catalog)
    run_id = run_named(own_kfp, "train-fraud-detector-v41")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_pipelines(pilot)
        await loaded(pilot, screen)
        await select(pilot, screen, run_id)
        # first: cancel at the confirmation (the default) changes nothing
        await pilot.press("t")
        modal = await until(pilot, lambda: isinstance(app.screen, ConfirmChangeScreen) and app.focused is not None and app.screen,
                            "confirm")
        assert isinstance(app.focused, Button) and app.focused.id == "confirm-cancel"
        assert any("RUNNING -> CANCELING" in line for line in modal.change.lines)
        # single-user KFP authorizes nothing (resource_manager.go IsAuthorized): the confirmation says so
        assert any("this Kubeflow Pipelines does not check permissions" in note for note in modal.change.notes)
        await pilot.press("enter")  # on Cancel
        await until(pilot, lambda: app.ctx.audit.list(action_prefix="run.terminate"), "the cancel audit row")
        assert own_kfp.runs_in_state("RUNNING").count(run_id) == 1
        assert app.ctx.audit.list(action_prefix="run.terminate")[0].outcome == "cancelled"
        await until(pilot, lambda: not screen._action_busy, "the flow free again")  # one change at a time
        # then: a reason, applied
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, ConfirmChangeScreen) and app.focused is not None, "confirm")
        await pilot.press("shift+tab")
        await pilot.press(*"stuck on a dead node")
        await pilot.press("enter")
        await until(pilot, lambda: run_id in own_kfp.runs_in_state("CANCELING"), "the run to be canceling")
        rows = await until(pilot, lambda: [r for r in app.ctx.audit.list(action_prefix="run.terminate")
                                           if r.outcome == "applied"], "the applied audit row")
        assert rows[0].reason == "stuck on a dead node" and run_id in rows[0].target
        assert rows[0].before["state"] == "RUNNING"
        table = screen.query_one("#runs")
        await until(pilot, lambda: cell(table, run_id, "state") == "⊘ CANCELING", "the row to show CANCELING")
        own_kfp.advance(11)  # CANCELING lasts 10 simulated seconds
        await pilot.press("r")
        await until(pilot, lambda: cell(table, run_id, "state") == "⊘ CANCELED", "the row to show CANCELED")


async def test_retry_reruns_a_failed_run(own_kfp, catalog, tmp_path):
    from screens.confirm import ConfirmChangeScreen

    app = make_app(tmp_path, own_kfp.base_url, catalog)
    run_id = run_named(own_kfp, "train-ad-ctr-v31")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_pipelines(pilot)
        await loaded(pilot, screen)
        await select(pilot, screen, run_id)
        await pilot.press("R")
        modal = await until(pilot, lambda: isinstance(app.screen, ConfirmChangeScreen) and app.focused is not None and app.screen,
                            "confirm")
        assert any("re-runs task ingest-data" in line for line in modal.change.lines)
        await pilot.press("shift+tab")
        await pilot.press(*"transient S3 timeout")
        await pilot.press("enter")
        await until(pilot, lambda: run_id in own_kfp.runs_in_state("RUNNING"), "the run to run again")
        rows = await until(pilot, lambda: app.ctx.audit.list(action_prefix="run.retry"), "the audit row")
        assert rows[0].outcome == "applied" and rows[0].reason == "transient S3 timeout"
        table = screen.query_one("#runs")
        await until(pilot, lambda: cell(table, run_id, "state") == "⟳ RUNNING", "the row to show RUNNING")


async def test_read_only_refuses_terminate_and_audits_it(own_kfp, catalog, tmp_path):
    app = make_app(tmp_path, own_kfp.base_url, catalog, read_only=True)
    run_id = run_named(own_kfp, "train-search-ranker-v33")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_pipelines(pilot)
        await loaded(pilot, screen)
        await select(pilot, screen, run_id)
        await pilot.press("t")
        rows = await until(pilot, lambda: app.ctx.audit.list(action_prefix="run.terminate"), "the refusal row")
        assert rows[0].outcome == "refused: read-only"
        assert run_id in own_kfp.runs_in_state("RUNNING")
        assert type(app.screen).__name__ == "PipelinesScreen"  # no confirmation was offered


# ---------------------------------------------------------------------------------------------
# Faults are states, never crashes


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_kfp_down_is_a_state_with_a_retry(catalog, tmp_path):
    app = make_app(tmp_path, f"http://127.0.0.1:{_closed_port()}", catalog)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_pipelines(pilot)
        status = screen.query_one("#runs-status")
        await until(pilot, lambda: "retrying in" in status.render().plain, "the down state")
        text = status.render().plain
        assert "cannot be reached" in text and "retrying in 2 s" in text
        assert "not available" in screen.query_one("#run-detail-body").render().plain
        assert "KFP unavailable" in screen.query_one("#runs").border_title
        assert app.is_running and app.screen is screen


async def test_not_configured_says_which_setting(catalog, tmp_path):
    settings = Settings(catalog=catalog, audit=tmp_path / "audit.db")
    app = MlopsConsole(Context(settings), clock=lambda: FROZEN, cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_pipelines(pilot)
        status = screen.query_one("#runs-status")
        await until(pilot, lambda: "kfp" in status.render().plain.lower(), "the not-configured state")
        assert "retrying" not in status.render().plain
        assert app.is_running


@pytest.mark.parametrize("fault, expected", [
    ({"status": 503}, "answered 503"),
    ({"status": 401}, "refused"),
    ({"status": 403}, "PermissionDenied"),
    ({"status": 500}, "answered 500"),
    ({"status": 200, "body": "<html>login</html>", "content_type": "text/html"}, "malformed JSON"),
])
async def test_faults_are_states_and_the_screen_recovers(shared, catalog, tmp_path, fault, expected):
    shared.faults.add(r"/runs$", times=1, **fault)
    app = make_app(tmp_path, shared.base_url, catalog)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_pipelines(pilot)
        status = screen.query_one("#runs-status")
        await until(pilot, lambda: expected in status.render().plain, f"the {expected} state")
        assert "retrying in" in status.render().plain
        await pilot.press("r")  # retry now instead of waiting for the backoff
        table = await until(pilot, lambda: screen.runs and screen.query_one("#runs"), "the recovery")
        assert table.row_count == FIRST_PAGE
        await until(pilot, lambda: status.render().plain == "", "the state to clear")


async def test_slow_kfp_keeps_the_ui_responsive(shared, catalog, tmp_path):
    shared.faults.add(r"/runs$", delay=1.5, times=1)
    app = make_app(tmp_path, shared.base_url, catalog)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_pipelines(pilot)
        table = screen.query_one("#runs")
        await until(pilot, lambda: table.border_subtitle == "loading…", "the loading mark")
        await pilot.press("f")  # keys are handled while the request waits
        assert screen.query_state.failed_first
        await loaded(pilot, screen)
        assert screen.query_one("#runs").row_count == FIRST_PAGE


async def test_vanished_run_is_marked_not_crashed(own_kfp, catalog, tmp_path):
    app = make_app(tmp_path, own_kfp.base_url, catalog)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_pipelines(pilot)
        table = await loaded(pilot, screen)
        victim = run_named(own_kfp, "train-credit-risk-v36")
        own_kfp.delete_run(victim)
        table.move_cursor(row=table.get_row_index(victim))
        body = screen.query_one("#run-detail-body")
        await until(pilot, lambda: "not found" in body.render().plain, "the vanished state")
        assert victim in body.render().plain
        assert cell(table, victim, "state") == "? GONE"


async def test_refused_page_token_resumes_where_it_was(tmp_path, catalog):
    sandbox = make_sandbox(tmp_path / "kfp-big", n_runs=260)
    try:
        app = make_app(tmp_path, sandbox.base_url, catalog)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_pipelines(pilot)
            table = await loaded(pilot, screen)
            assert table.row_count == FIRST_PAGE and "more below" in table.border_title
            sandbox.reject_page_tokens()  # as after a KFP upgrade: its tokens never expire
            table.move_cursor(row=table.row_count - 1)
            await until(pilot, lambda: table.row_count > 50, "the next page")
            assert "page token" in screen.query_one("#runs-status").render().plain  # said, and resumed
            for _ in range(10):
                if screen.pager.done:
                    break
                table.move_cursor(row=table.row_count - 1)
                await pilot.pause(0.05)
                await until(pilot, lambda: not screen._loading_more, "a page")
            assert screen.pager.done
            keys = [row.key.value for row in table.ordered_rows]
            assert len(keys) == len(set(keys)) == 260
            assert table.border_title.startswith("Runs 260/260")
    finally:
        sandbox.stop()


# ---------------------------------------------------------------------------------------------
# The jump to the catalog and back


async def test_jump_to_catalog_versions_and_back(shared, catalog, tmp_path):
    app = make_app(tmp_path, shared.base_url, catalog)
    model = demo_data.MODELS[0]
    version = str(model.versions)
    run_id = demo_data.run_id_for(model.name, version)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_pipelines(pilot)
        await loaded(pilot, screen)
        await select(pilot, screen, run_id)
        body = screen.query_one("#run-detail-body")
        await until(pilot, lambda: f"{model.name} v{version}" in body.render().plain, "the produced version")
        await pilot.press("m")
        await until(pilot, lambda: app.current_mode == "catalog", "the catalog")
        assert app.selected_run_id == run_id
        # the catalog shows the version the run produced ...
        catalog_screen = app.screen
        await until(pilot, lambda: f"{model.name} : {version}" in
                    str(catalog_screen.query_one("#detail-body").render()), "the version in the catalog detail")
        # ... and p on another version goes back to the run that produced it
        await pilot.press("down", "p")
        older = demo_data.run_id_for(model.name, str(model.versions - 1))
        await until(pilot, lambda: app.current_mode == "pipelines", "the pipelines screen again")
        await until(pilot, lambda: screen.selected_run_id == older, "the run from the catalog")
        table = screen.query_one("#runs")
        assert table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value == older


MISSING_RUN = "00000000-0000-0000-0000-000000000000"


def highlighted(table) -> str | None:
    if not table.row_count or not table.show_cursor:
        return None
    return table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value


async def test_first_visit_to_a_missing_run_says_not_found(shared, catalog, tmp_path):
    """The catalog's p names a run KFP does not have: the first visit says so, it shows no other run."""
    app = make_app(tmp_path, shared.base_url, catalog)
    async with app.run_test(size=(80, 24)) as pilot:
        app.selected_run_id = MISSING_RUN
        screen = await open_pipelines(pilot)
        table = await loaded(pilot, screen)
        body = screen.query_one("#run-detail-body")
        await until(pilot, lambda: "not found" in body.render().plain, "the not-found detail")
        text = body.render().plain
        assert MISSING_RUN in text
        assert not any(shared.world.runs[row.key.value].display_name in text for row in table.ordered_rows)
        assert screen.selected_run_id == MISSING_RUN and highlighted(table) is None  # no row claims to be it
        await pilot.press("t")
        assert "Select a run first" in screen.query_one("#runs-status").render().plain
        # moving the cursor shows the highlighted run again
        await pilot.press("down")
        key = await until(pilot, lambda: highlighted(table), "the cursor back")
        await until(pilot, lambda: screen.detail_run is not None and screen.detail_run.run_id == key, "its detail")
        assert shared.world.runs[key].display_name in body.render().plain


async def test_empty_filtered_list_clears_the_detail_and_the_target(shared, catalog, tmp_path):
    app = make_app(tmp_path, shared.base_url, catalog)
    pending = shared.runs_in_state("PENDING")
    busy = {shared.world.runs[r].experiment_id for r in pending}
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_pipelines(pilot)
        await loaded(pilot, screen)
        await select(pilot, screen, pending[0])
        for _ in range(3):  # all -> FAILED -> RUNNING -> PENDING
            await pilot.press("s")
            table = await loaded(pilot, screen)
        assert screen.query_state.state == "PENDING" and table.row_count == len(pending)
        ids = sorted(screen.experiments, key=lambda i: screen.experiments[i].lower())
        idle = next(i for i, e in enumerate(ids) if e not in busy)
        for _ in range(idle + 1):
            await pilot.press("e")
            table = await loaded(pilot, screen)
        assert table.row_count == 0 and table.border_title.startswith("Runs 0/0")
        body = screen.query_one("#run-detail-body")
        assert "No runs match the filters" in body.render().plain
        assert "No runs match" in screen_text(app)
        assert screen.selected_run_id is None and screen.selected_run() is None
        status = screen.query_one("#runs-status")
        for key in ("t", "R"):
            await pilot.press(key)
            assert "Select a run first" in status.render().plain
            assert type(app.screen).__name__ == "PipelinesScreen"  # no confirmation was offered


async def test_after_a_retry_the_detail_and_target_follow_the_cursor(own_kfp, catalog, tmp_path):
    from screens.confirm import ConfirmChangeScreen

    app = make_app(tmp_path, own_kfp.base_url, catalog)
    run_id = run_named(own_kfp, "train-ad-ctr-v31")
    async with app.run_test(size=(80, 24)) as pilot:
        app.selected_run_id = MISSING_RUN  # an old jump target from the catalog
        screen = await open_pipelines(pilot)
        table = await loaded(pilot, screen)
        await select(pilot, screen, run_id)
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, ConfirmChangeScreen) and app.focused is not None, "confirm")
        await pilot.press("shift+tab")
        await pilot.press(*"transient S3 timeout")
        await pilot.press("enter")
        await until(pilot, lambda: run_id in own_kfp.runs_in_state("RUNNING"), "the run to run again")
        await until(pilot, lambda: cell(table, run_id, "state") == "⟳ RUNNING", "the row to show RUNNING")
        await pilot.pause(0.3)
        assert highlighted(table) == run_id
        assert screen.selected_run_id == run_id and screen.selected_run().run_id == run_id
        body = screen.query_one("#run-detail-body")
        await until(pilot, lambda: "train-ad-ctr-v31" in body.render().plain, "the detail of the highlighted run")
        await until(pilot, lambda: not screen._action_busy, "the flow free again")  # one change at a time
        await pilot.press("t")  # the action goes to the highlighted (now running) run
        modal = await until(pilot, lambda: isinstance(app.screen, ConfirmChangeScreen) and app.focused is not None and app.screen,
                            "confirm")
        assert any("RUNNING -> CANCELING" in line for line in modal.change.lines)
        await pilot.press("enter")  # Cancel


# ---------------------------------------------------------------------------------------------
# Snapshots (frozen clock and sandbox)


@pytest.fixture
def no_live_refresh(monkeypatch):
    import screens.pipelines as pipelines

    monkeypatch.setattr(pipelines, "REFRESH_SECONDS", 3600.0)


def test_snapshot_failed_run_80x24(shared, catalog, tmp_path, snap_compare, no_live_refresh, monkeypatch):
    monkeypatch.chdir(catalog.parent)
    app = make_app(tmp_path, shared.base_url, Path(catalog.name))
    oom = run_named(shared, "train-churn-predictor-v31")

    async def run_before(pilot):
        screen = await open_pipelines(pilot)
        await loaded(pilot, screen)
        await select(pilot, screen, oom)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_snapshot_failed_first_120x35(shared, catalog, tmp_path, snap_compare, no_live_refresh, monkeypatch):
    monkeypatch.chdir(catalog.parent)
    app = make_app(tmp_path, shared.base_url, Path(catalog.name))

    async def run_before(pilot):
        screen = await open_pipelines(pilot)
        await loaded(pilot, screen)
        await pilot.press("f")
        await loaded(pilot, screen)
        await select(pilot, screen, run_named(shared, "train-credit-risk-v36"))
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 35), run_before=run_before)


async def test_resize_widens_the_name_column(shared, catalog, tmp_path):
    app = make_app(tmp_path, shared.base_url, catalog)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_pipelines(pilot)
        table = await loaded(pilot, screen)
        long_name = run_named(shared, "train-product-embedder-v26")
        narrow = cell(table, long_name, "name")
        assert "…" in narrow and narrow.endswith("-v26")  # shortened in the middle: the version stays
        await pilot.resize_terminal(120, 35)
        await until(pilot, lambda: cell(table, long_name, "name") == "train-product-embedder-v26", "the full name")


# ---------------------------------------------------------------------------------------------
# Light over SSH (issue 10 s.4): every repaint is bytes on the wire


class Repaints:
    """What the runs table and the text panes were asked to repaint (the table's partial repaints
    are its cells and its title line; a full one is every visible row)."""

    def __init__(self, monkeypatch):
        from textual.widget import Widget

        from screens.pipelines_widgets import RunsTable
        from screens.repaint import TextPane, looks

        self.full: list[str] = []
        self.cells: list[tuple[str, str]] = []
        self.partial = 0
        self.panes: list[str | None] = []
        log = self

        def wrap(cls, name, record):
            original = getattr(cls, name)

            def wrapper(self, *args, **kwargs):
                record(self, *args, **kwargs)
                return original(self, *args, **kwargs)

            monkeypatch.setattr(cls, name, wrapper)

        def refresh(widget, *regions, **kwargs):  # what reaches Textual, after RunsTable's own refresh
            if isinstance(widget, RunsTable) and widget.is_mounted and widget.row_count:
                if regions:
                    log.partial += 1
                else:
                    log.full.append("refresh")

        wrap(Widget, "refresh", refresh)
        for name in ("clear", "add_row", "remove_row", "sort"):
            wrap(RunsTable, name, lambda table, *a, _name=name, **k: log.full.append(_name))
        wrap(RunsTable, "update_cell", lambda table, key, column, cell, **k:
             log.cells.append((str(key.value if hasattr(key, "value") else key), str(column.value))))
        wrap(TextPane, "show", lambda pane, text, **k: looks(text) != looks(pane.text) and log.panes.append(pane.id))

    def clear(self) -> None:
        self.full, self.cells, self.partial, self.panes = [], [], 0, []


def cells_of(table) -> dict[tuple[str, str], tuple]:
    from screens.repaint import looks

    return {(row.key.value, column.key.value): looks(table.get_cell(row.key, column.key))
            for row in table.ordered_rows for column in table.ordered_columns}


async def test_refreshes_repaint_only_the_cells_that_changed(own_kfp, catalog, tmp_path, monkeypatch,
                                                             no_live_refresh):
    """An idle refresh whose runs did not change repaints nothing; the clock moving repaints the
    durations of running runs (and the title's time), a run changing state its own cells: never the
    whole table, which over SSH is a screenful of bytes every few seconds."""
    import screens.pipelines as pipelines

    answers = {"refreshed": 0, "detail": 0}
    for handler, key in (("on_pipelines_screen_refreshed", "refreshed"), ("on_pipelines_screen_detail_loaded", "detail")):
        original = getattr(pipelines.PipelinesScreen, handler)

        def counted(self, message, _original=original, _key=key):
            _original(self, message)
            answers[_key] += 1

        monkeypatch.setattr(pipelines.PipelinesScreen, handler, counted)
    now = [FROZEN]
    settings = Settings(catalog=catalog, audit=tmp_path / "audit.db", kfp_url=own_kfp.base_url)
    app = MlopsConsole(Context(settings), clock=lambda: now[0], cursor_blink=False)
    running = run_named(own_kfp, "train-fraud-detector-v41")
    repaints = Repaints(monkeypatch)

    async def refresh_once():
        seen = dict(answers)
        await pilot.press("r")  # the selected run is running: its detail is read again too
        await until(pilot, lambda: answers["refreshed"] > seen["refreshed"] and answers["detail"] > seen["detail"]
                    and not screen._busy, "a refresh and the detail after it")
        await pilot.pause()

    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_pipelines(pilot)
        table = await loaded(pilot, screen)
        await select(pilot, screen, running)
        await pilot.pause()

        repaints.clear()
        await refresh_once()
        assert (repaints.full, repaints.cells, repaints.partial, repaints.panes) == ([], [], 0, [])

        before = cells_of(table)
        now[0] += 7  # the app's clock moves; KFP's world does not
        await refresh_once()
        after = cells_of(table)
        changed = {cell for cell in after if after[cell] != before[cell]}
        assert changed and {column for _, column in changed} == {"duration"}
        assert repaints.full == [] and set(repaints.cells) == changed and len(repaints.cells) == len(changed)
        assert repaints.panes == ["run-detail-body"]  # "running for" moved on
        assert table.get_cell(running, "duration").plain == duration_at(own_kfp, running, now[0])

        repaints.clear()
        before = {run_id: run.state for run_id, run in screen.runs.items()}
        own_kfp.advance(400)  # some runs finish, one starts
        now[0] += 400
        await refresh_once()
        after = cells_of(table)
        moved = [run_id for run_id, state in before.items() if screen.runs[run_id].state != state]
        assert moved, "no listed run changed state: the test needs one that does"
        assert all(table.get_cell(run_id, "state").plain.endswith(screen.runs[run_id].state) for run_id in moved)
        assert repaints.full == [] and len(repaints.cells) == len(set(repaints.cells))
        assert {(run_id, "state") for run_id in moved} <= set(repaints.cells)


def duration_at(sandbox, run_id: str, now: float) -> str:
    from console.humanize import duration

    return duration(now - sandbox.world.runs[run_id].created_at)


# ---------------------------------------------------------------------------------------------
# The view helpers (the pager's tests are in tests/test_runs_paging.py)


def test_view_helpers():
    from screens.pipelines_view import fmt_duration, middle_truncate, state_text

    assert [fmt_duration(s) for s in (None, 5, 65, 3725, 90000)] == ["", "5s", "1m 05s", "1h 02m", "1d 01h"]
    assert middle_truncate("short", 10) == "short"
    shortened = middle_truncate("batch-score-product-embedder-20240602", 20)
    assert len(shortened) == 20 and shortened.endswith("20240602") and "…" in shortened
    assert state_text("FAILED").plain == "✖ FAILED" and state_text("MYSTERY").plain == "? MYSTERY"


# ---------------------------------------------------------------------------------------------
# Multi-user Kubeflow Pipelines


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    from console.sandbox.runner import Sandbox

    sandbox = Sandbox(tmp_path_factory.mktemp("multi"), prometheus=False, catalog=False, kfp_multi_user=True)
    endpoints = sandbox.start()
    yield sandbox, endpoints
    sandbox.stop()


def make_multi_app(tmp_path: Path, endpoints: dict, catalog: Path, *, context: str, namespace: str | None):
    settings = Settings(catalog=catalog, audit=tmp_path / "audit.db", kfp_url=endpoints["kfp_url"],
                        kubeconfig=endpoints["kubeconfig"], context=context, namespace=namespace)
    settings.kfp.user_header = endpoints["kfp_user_header"]
    settings.kfp.timeout = 5.0
    return MlopsConsole(Context(settings), cursor_blink=False)


async def test_multi_user_lists_the_namespace_and_refuses_a_viewer(multi, catalog, tmp_path):
    """Multi-user KFP (run_server.go listRuns, canAccessRun): runs of the namespace only; a run action
    is asked of the cluster first (SelfSubjectAccessReview on pipelines.kubeflow.org runs), so the
    viewer is refused before any confirmation, and nothing reaches KFP."""
    sandbox, endpoints = multi
    kfp = sandbox.kfp
    recsys = {e.experiment_id for e in kfp.world.experiments.values() if e.namespace == "recsys"}
    run_id = run_named(kfp, "train-search-ranker-v33")
    app = make_multi_app(tmp_path, endpoints, catalog, context="sandbox-viewer", namespace="recsys")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_pipelines(pilot)
        table = await loaded(pilot, screen)
        shown = [row.key.value for row in table.ordered_rows]
        assert run_id in shown
        assert all(kfp.world.runs[r].experiment_id in recsys for r in shown)
        await select(pilot, screen, run_id)
        await pilot.press("t")
        rows = await until(pilot, lambda: app.ctx.audit.list(action_prefix="run.terminate"), "the refusal row")
        assert rows[0].outcome == "refused: forbidden" and rows[0].kube_identity == "viewer"
        assert "terminate runs.pipelines.kubeflow.org in namespace recsys" in rows[0].message
        await until(pilot, lambda: any("not allowed to terminate" in n.message for n in app._notifications),
                    "the refusal notified")
        assert type(app.screen).__name__ == "PipelinesScreen"  # no confirmation was offered
        assert run_id in kfp.runs_in_state("RUNNING")


async def test_multi_user_without_a_namespace_says_so(multi, catalog, tmp_path):
    _, endpoints = multi
    app = make_multi_app(tmp_path, endpoints, catalog, context="sandbox-admin", namespace=None)
    async with app.run_test(size=(120, 30)) as pilot:
        await open_pipelines(pilot)
        await until(pilot, lambda: "multi-user mode" in screen_text(app), "the multi-user message")


@pytest.mark.parametrize(("state", "words"), [("PENDING", "pending for"), ("RUNNING", "running for"),
                                              ("PAUSED", "paused for"), ("SUCCEEDED", "took")])
def test_the_detail_says_how_long_in_the_runs_own_words(state, words):
    """A run waiting for a node is not "running" (walkthrough: a PENDING run read "running for")."""
    from datetime import UTC, datetime, timedelta

    from adapters.pipelines import Run
    from screens.pipelines_view import render_detail

    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    run = Run("r1", "train", None, state, created_at=now - timedelta(minutes=5),
              finished_at=now if state == "SUCCEEDED" else None)
    text = render_detail(run, experiment="exp", now=now).plain
    assert f"{words} 5m" in text and ("running for" not in text or state == "RUNNING"), text
