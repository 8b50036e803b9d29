"""e, l and y on the Rollouts screen and l on Pipelines, driven with Pilot against the sandbox (cluster
and KFP) over real sockets: the events view, the log view (streaming in a worker, capped, literal,
container / previous / follow keys) and the YAML view."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from textual.widgets import DataTable, Log, Static

from console.app import MlopsConsole
from console.config import LogSettings, Settings
from console.context import Context
from console.sandbox.kube_pods import ContainerLog, Lines
from sandbox_fixtures import start_kube_sandbox
from screens.object_view import EventsView, LogView, YamlView

CHURN = "recsys/churn-predictor"


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    sandbox = start_kube_sandbox(tmp_path_factory.mktemp("views"), kfp=True, catalog=True)
    yield sandbox
    sandbox.stop()


def make_app(sb, tmp_path: Path, *, max_lines: int = 10_000) -> MlopsConsole:
    settings = Settings(catalog=Path(sb.endpoints["catalog"]), audit=tmp_path / "audit.db",
                        kubeconfig=str(sb.kubeconfig_path), context=sb.endpoints["contexts"]["admin"],
                        kfp_url=sb.endpoints["kfp_url"], logs=LogSettings(max_lines=max_lines))
    return MlopsConsole(Context(settings), cursor_blink=False)


async def wait_for(pilot, condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"not reached in time: {what} (screen {type(pilot.app.screen).__name__}: "
                         f"{status(pilot.app)!r})")


def status(app) -> str:
    try:
        return str(app.screen.query_one(".view-status", Static).render())
    except Exception:
        return ""


async def open_churn(pilot, app) -> None:
    await pilot.press("3")
    table = lambda: app.screen.query_one("#isvcs", DataTable)  # noqa: E731
    await wait_for(pilot, lambda: app.current_mode == "rollouts" and table().row_count >= 5, "the rollouts table")
    table().focus()
    rows = [row.key.value for row in table().ordered_rows]
    for _ in range(rows.index(CHURN) - table().cursor_row):
        await pilot.press("down")
    await wait_for(pilot, lambda: app.screen.selected() is not None and app.screen.selected().key == CHURN,
                   "churn-predictor selected")


def log_lines(app) -> list[str]:
    return list(app.screen.query_one(Log).lines)


async def test_e_shows_the_events_of_the_isvc_and_its_pods_newest_first(sb, tmp_path):
    app = make_app(sb, tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_churn(pilot, app)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EventsView)
                       and app.screen.query_one(DataTable).row_count > 0, "events listed")
        table = app.screen.query_one(DataTable)
        reasons = [table.get_row_at(i)[2].plain for i in range(table.row_count)]
        objects = {table.get_row_at(i)[5].plain.split("/")[0] for i in range(table.row_count)}
        assert {"BackOff", "Unhealthy", "LatestCreatedFailed"} <= set(reasons)
        assert {"inferenceservice", "configuration", "pod"} <= objects
        backoff = next(table.get_row_at(i) for i in range(table.row_count) if reasons[i] == "BackOff")
        assert int(backoff[3].plain) > 1 and "newest first" in status(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.current_mode == "rollouts" and not isinstance(app.screen, EventsView),
                       "back on Rollouts")


async def test_l_shows_the_crashed_container_then_c_p_switch(sb, tmp_path):
    """l: the latest revision's pod, container kserve-container: crash-looping, so kubelet serves the
    last instance's log (the model load failure); c moves to queue-proxy; p asks for a previous
    instance it does not have and says so."""
    app = make_app(sb, tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_churn(pilot, app)
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, LogView) and any(
            "ModelLoadFailed" in line for line in log_lines(app)), "the crash in the log")
        title = lambda: str(app.screen.query_one(".view-title", Static).render())  # noqa: E731
        assert "[kserve-container]" in status(app) and "-00002-deployment-" in title()
        assert " · kserve-container · pod " in title() and "(predictor)" not in title()
        await pilot.press("c")
        await wait_for(pilot, lambda: "[queue-proxy]" in status(app) and any(
            "Starting queue-proxy" in line for line in log_lines(app)), "queue-proxy's log")
        assert " · queue-proxy · pod " in title()  # the title follows c (walkthrough: it did not)
        assert not any("ModelLoadFailed" in line for line in log_lines(app))
        await pilot.press("p")
        await wait_for(pilot, lambda: "previous terminated container" in status(app), "no previous instance")
        assert log_lines(app) == []


async def test_log_view_caps_lines_and_shows_escape_sequences_literally(sb, tmp_path):
    """A followed log far larger than [logs] max_lines keeps the last max_lines lines; an escape
    sequence in a line is shown as text, never sent to the terminal."""
    pods = [p for p in sb.cluster.snapshot("pods", "recsys")[0]
            if p["metadata"]["labels"].get("serving.kserve.io/inferenceservice") == "churn-predictor"]
    for pod in pods:
        sb.cluster.pod_logs[("recsys", pod["metadata"]["name"], "storage-initializer", False)] = ContainerLog(
            time.time() - 60, Lines(5_000, lambda i: "\x1b]0;pwned\x07\x1b[2J evil" if i == 4_999 else f"line {i}"))
    app = make_app(sb, tmp_path, max_lines=50)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_churn(pilot, app)
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, LogView) and "[kserve-container]" in status(app),
                       "the log view")
        await pilot.press("c", "c")  # kserve-container -> queue-proxy -> storage-initializer
        await pilot.press("f")  # follow: the whole log streams; the view keeps the last 50 lines
        await wait_for(pilot, lambda: "[storage-initializer]" in status(app) and app.screen.received == 5_000,
                       "the whole log received")
        lines = log_lines(app)
        assert len(lines) == 50 and lines[0] == "line 4950"
        assert lines[-1] == "\\x1b]0;pwned\\x07\\x1b[2J evil"
        assert "oldest 4950 dropped (max 50)" in status(app)


async def test_y_shows_the_objects_yaml(sb, tmp_path):
    import yaml

    app = make_app(sb, tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_churn(pilot, app)
        await pilot.press("y")
        body = lambda: str(app.screen.query_one("#yaml-body", Static).render())  # noqa: E731
        await wait_for(pilot, lambda: isinstance(app.screen, YamlView) and "kind: InferenceService" in body(),
                       "the YAML")
        shown = yaml.safe_load(body())
        assert shown["metadata"]["name"] == "churn-predictor"
        assert shown["spec"]["predictor"]["canaryTrafficPercent"] == 10
        assert shown["status"]["components"]["predictor"]["latestCreatedRevision"].endswith("-00002")


async def test_l_on_pipelines_shows_the_oomkilled_trainers_last_lines(sb, tmp_path):
    app = make_app(sb, tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("2")
        await wait_for(pilot, lambda: app.current_mode == "pipelines"
                       and app.screen.query_one("#runs", DataTable).row_count > 5, "the runs")
        runs = app.screen.query_one("#runs", DataTable)
        oom = next(k for k, r in app.screen.runs.items() if r.display_name.startswith("train-churn-predictor")
                   and r.state == "FAILED")
        runs.focus()
        for _ in range(runs.get_row_index(oom) - runs.cursor_row):
            await pilot.press("down")
        await wait_for(pilot, lambda: app.screen.detail_run is not None and app.screen.detail_run.run_id == oom
                       and app.screen.detail_run.tasks, "the OOM run's detail")
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, LogView) and any(
            "memory limit 8Gi" in line for line in log_lines(app)), "the trainer's last lines")
        assert "[main]" in status(app) and "train-model" in app.screen.view_title
        assert "rss=7.95GiB" in log_lines(app)[-2]


async def test_events_at_80x24_show_count_and_message_and_the_whole_message_below(sb, tmp_path):
    """Walkthrough: at 80 columns the object names pushed COUNT and MESSAGE off the screen. The
    count and the message come first, and the highlighted event's object and whole message are
    shown wrapped under the table."""
    app = make_app(sb, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_churn(pilot, app)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EventsView)
                       and app.screen.query_one(DataTable).row_count > 0, "events listed")
        await pilot.pause()
        header = app.screen.query_one(DataTable)
        columns = [c.label.plain for c in header.ordered_columns]
        assert columns[:5] == ["LAST SEEN", "TYPE", "REASON", "COUNT", "MESSAGE"]
        first = app.screen.events[0]
        detail = str(app.screen.query_one("#event-detail", Static).render())
        assert first.object in detail and " ".join(first.message.split())[:40] in " ".join(detail.split())
        await pilot.press("down")
        second = app.screen.events[1]
        await wait_for(pilot, lambda: second.object in str(app.screen.query_one("#event-detail", Static).render()),
                       "the next event's message")


async def test_long_log_lines_wrap_at_80_columns_and_w_unwraps(sb, tmp_path):
    """Walkthrough: at 80 columns the log's long lines (the model server's traceback) were cut.
    They wrap to the view's width, continuations indented; w shows them whole again (left/right
    scroll); the keys are in the key bar."""
    app = make_app(sb, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_churn(pilot, app)
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, LogView) and any(
            "ModelLoadFailed" in line for line in log_lines(app)), "the crash in the log")
        width = app.screen.query_one(Log).scrollable_content_region.width
        wrapped = log_lines(app)
        assert all(len(line) <= width for line in wrapped)
        longest = max(app.screen._kept, key=len)
        assert len(longest) > width  # this log has lines longer than the view
        assert any(line.startswith("  ") for line in wrapped)
        assert "".join(wrapped).replace(" ", "").count(longest.replace(" ", "")) == 1  # nothing lost
        await pilot.press("w")
        await wait_for(pilot, lambda: longest in log_lines(app), "the line whole again")
        assert "not wrapped" in status(app)
        keys = str(app.screen.query_one("KeyBar").render())
        assert "Container" in keys and "Wrap" in keys and "Previous" in keys
        # p on a container with no previous instance: kubelet's whole answer, wrapped, not cut at 80
        await pilot.press("c", "p")
        await wait_for(pilot, lambda: "previous terminated container" in status(app), "kubelet's refusal")
        await pilot.pause()
        line = app.screen.query_one(".view-status", Static)
        assert len(status(app)) > line.size.width and line.size.height >= 2 and status(app).rstrip().endswith("not found")
