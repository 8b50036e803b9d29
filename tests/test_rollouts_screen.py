"""The Rollouts screen (key 3), driven with the keyboard against the sandbox cluster over real
HTTPS: the live table, the rollback flow through the safe action path (confirm, cancel, read-only,
forbidden), the API lost and found again, and snapshots at 80x24 with a frozen clock."""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from unittest import mock

import pytest
from textual.widgets import DataTable, Input, Static

from adapters.kube import KubeClient
from console import demo_data, rollouts
from console.app import MlopsConsole
from console.config import Settings
from console.context import Context
from console.sandbox.kserve_sim import seed_demo
from console.sandbox.runner import Sandbox
from pilot_wait import settled_frame
from screens.confirm import ConfirmChangeScreen

SEED_NOW = 1_795_000_000.0  # 2026-11-18: the demo objects are created 3 days before this
FROZEN = SEED_NOW
FRAUD = "fraud/fraud-detector"


# -- fixtures -----------------------------------------------------------------------------------

def start_sandbox(state_dir: Path) -> Sandbox:
    """The sandbox cluster (no Prometheus, no KFP), seeded at a fixed time so ages are stable."""
    sandbox = Sandbox(state_dir, prometheus=False, kfp=False, catalog=True, seed=False, ready_delay=0.05)
    with mock.patch("time.time", return_value=SEED_NOW):
        seed_demo(sandbox.cluster, sandbox.controller)
    sandbox.start()
    return sandbox


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    sb = start_sandbox(tmp_path_factory.mktemp("rollouts-sandbox"))
    yield sb
    sb.stop()


@pytest.fixture
def own_sandbox(tmp_path_factory):
    """A sandbox for one test alone: no watcher left by another test's app can take its faults."""
    sb = start_sandbox(tmp_path_factory.mktemp("rollouts-own"))
    with admin(sb) as client:
        wait_until(lambda: client.get_inference_service("fraud", "fraud-detector").latest_percent == 20)
    yield sb
    sb.stop()


def admin(sb: Sandbox) -> KubeClient:
    return KubeClient(kubeconfig=str(sb.kubeconfig_path), context=sb.endpoints["contexts"]["admin"])


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("the cluster did not reach the expected state in time")


@pytest.fixture
def fraud_at_20(sandbox):
    """fraud/fraud-detector mid-canary at 20% (put back if an earlier test moved it)."""
    with admin(sandbox) as client:
        isvc = client.get_inference_service("fraud", "fraud-detector")
        if isvc.canary_traffic_percent != 20:
            client.patch_inference_service("fraud", "fraud-detector",
                                           {"spec": {"predictor": {"canaryTrafficPercent": 20}}},
                                           resource_version=isvc.resource_version)
        wait_until(lambda: client.get_inference_service("fraud", "fraud-detector").latest_percent == 20)
    return sandbox


def make_app(sb: Sandbox, tmp_path: Path, *, context: str = "admin", read_only: bool = False,
             kubeconfig: Path | None = None, catalog: Path | None = None) -> MlopsConsole:
    settings = Settings(catalog=catalog or Path(sb.endpoints["catalog"]), audit=tmp_path / "audit.db",
                        kubeconfig=str(kubeconfig or sb.kubeconfig_path),
                        context=sb.endpoints["contexts"][context], read_only=read_only)
    return MlopsConsole(Context(settings), clock=lambda: FROZEN, cursor_blink=False)


async def wait_for(pilot, condition, timeout: float = 15.0, what: str = "the expected state") -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    status = app_status(pilot.app)
    raise AssertionError(f"the screen did not reach {what} in time (status line: {status!r})")


def app_status(app) -> str:
    try:
        return str(app.screen.query_one("#rollouts-status", Static).render())
    except Exception:
        return f"(screen {type(app.screen).__name__})"


def table(app) -> DataTable:
    return app.screen.query_one("#isvcs", DataTable)


def cell(app, key: str, column: str) -> str:
    return table(app).get_cell(key, column).plain


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector).render())  # a Static, or a TextPane (its text)


async def open_rollouts(pilot, app, select: str | None = FRAUD) -> None:
    await pilot.press("3")
    await wait_for(pilot, lambda: app.current_mode == "rollouts" and table(app).row_count >= 5, what="the table")
    if select is not None:
        await select_row(pilot, app, select)


async def select_row(pilot, app, key: str) -> None:
    """Move the cursor with the arrow keys, as a person would."""
    rows = [row.key.value for row in table(app).ordered_rows]
    table(app).focus()
    steps = rows.index(key) - table(app).cursor_row
    for _ in range(abs(steps)):
        await pilot.press("down" if steps > 0 else "up")
    await wait_for(pilot, lambda: app.screen.selected() is not None and app.screen.selected().key == key,
                   what=f"{key} selected")


def audit_rows(app) -> list:
    return app.ctx.audit.list()


def row_outcome(row) -> str:
    return row.outcome


def row_field(row, name: str):
    return getattr(row, name)


# -- the table ------------------------------------------------------------------------------------

async def test_table_lists_every_story_and_the_detail_explains_the_split(sandbox, fraud_at_20, tmp_path):
    app = make_app(sandbox, tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await open_rollouts(pilot, app)
        keys = [row.key.value for row in table(app).ordered_rows]
        assert keys == sorted(keys) and {FRAUD, "recsys/search-ranker", "recsys/churn-predictor"} <= set(keys)
        assert (cell(app, FRAUD, "prev_pct"), cell(app, FRAUD, "latest_pct")) == ("80", "20")
        assert (cell(app, FRAUD, "prev"), cell(app, FRAUD, "latest")) == ("00001", "00002")
        assert cell(app, "recsys/search-ranker", "mode") == "Raw"
        assert cell(app, FRAUD, "age") == "3d"
        assert app.selected_isvc == ("fraud", "fraud-detector")
        await wait_for(pilot, lambda: "fraud-detector v40" in text_of(app, "#isvc-detail-body"),
                       what="the catalog version of the storage URI")
        detail = text_of(app, "#isvc-detail-body")
        assert "prev   00001" in detail and "latest 00002" in detail and "80%" in detail and "20%" in detail
        assert "leaves the new model in the spec" in detail
        assert "s3://mlops-models/fraud-detector/v40" in detail
        # Without a Prometheus URL only the health panel says so; the rest works.
        await wait_for(pilot, lambda: "Prometheus not configured" in text_of(app, "#isvc-health-body"))

        # The Standard/RawDeployment model says on screen that a canary is impossible...
        await select_row(pilot, app, "recsys/search-ranker")
        assert "not possible in RawDeployment mode" in text_of(app, "#isvc-detail-body")
        # ...and an action on it is refused by the action path, with that reason.
        await pilot.press("minus")
        await wait_for(pilot, lambda: "not possible in RawDeployment" in text_of(app, "#rollouts-status"),
                       what="the refusal")
        assert row_outcome(audit_rows(app)[0]) == "refused: invalid"


async def test_a_failed_canary_is_marked_in_the_list_and_explained_in_the_detail(sandbox, tmp_path):
    """churn-predictor's new revision failed (RevisionFailed): the row says so, the detail names the
    revision and the condition's message, beside the split that is really served."""
    churn = "recsys/churn-predictor"
    with admin(sandbox) as client:
        obj = client.get_raw("recsys", "churn-predictor")
    failed = obj["status"]["components"]["predictor"]["latestCreatedRevision"]
    message = next(c["message"] for c in obj["status"]["conditions"] if c["type"] == "Ready")
    app = make_app(sandbox, tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await open_rollouts(pilot, app, select=churn)
        assert cell(app, churn, "name") == "churn-predictor ✗" and "red" in str(table(app).get_cell(churn, "name").style)
        assert cell(app, FRAUD, "name") == "fraud-detector"
        detail = " ".join(text_of(app, "#isvc-detail-body").split())
        assert f"{failed.rsplit('-', 1)[1]} (the new model) FAILED: {' '.join(message.split())}" in detail
        assert "latest 00001" in detail and "100%" in detail and "spec canaryTrafficPercent: 10" in detail
        # what its pods say (fetched: Knative labels them with the revision), as kubectl describe would
        await wait_for(pilot, lambda: "its pods:" in text_of(app, "#isvc-detail-body"), what="what the pods say")
        detail = " ".join(text_of(app, "#isvc-detail-body").split())
        assert f"its pods: pod {failed}-deployment-" in detail and "container kserve-container:" in detail
        assert "CrashLoopBackOff: back-off" in detail and "last run: Error, exit code 1" in detail


async def test_filter_narrows_and_keys_are_commands_again_after_enter(sandbox, tmp_path):
    app = make_app(sandbox, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rollouts(pilot, app, select=None)
        await pilot.press("r")  # lists again; not typed into the filter: it is not focusable until "/"
        assert app.screen.query_one("#rollouts-filter", Input).value == ""
        await pilot.press("slash", *"recsys")
        await wait_for(pilot, lambda: table(app).row_count == 3, what="3 recsys rows")
        assert all(row.key.value.startswith("recsys/") for row in table(app).ordered_rows)
        await pilot.press("enter")
        assert isinstance(app.focused, DataTable)
        await pilot.press("slash", *["backspace"] * 6, "enter")
        await wait_for(pilot, lambda: table(app).row_count >= 5, what="every row back")


async def test_esc_clears_the_filter_and_home_end_G_go_to_the_first_and_last_row(sandbox, tmp_path):
    app = make_app(sandbox, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rollouts(pilot, app, select=None)
        everything = table(app).row_count
        await pilot.press("slash", *"recsys")
        await wait_for(pilot, lambda: table(app).row_count == 3, what="3 recsys rows")
        await pilot.press("escape")
        await wait_for(pilot, lambda: table(app).row_count == everything, what="every row back")
        assert app.screen.query_one("#rollouts-filter", Input).value == "" and app.focused is table(app)
        last = table(app).row_count - 1
        for key, row in (("end", last), ("home", 0), ("G", last), ("home", 0)):  # g starts a progress here
            await pilot.press(key)
            await wait_for(pilot, lambda row=row: table(app).cursor_row == row, what=f"row {row} after {key}")


async def test_watch_brings_changes_made_elsewhere(sandbox, fraud_at_20, tmp_path):
    app = make_app(sandbox, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rollouts(pilot, app)
        with admin(sandbox) as client:
            isvc = client.get_inference_service("fraud", "fraud-detector")
            client.patch_inference_service("fraud", "fraud-detector",
                                           {"spec": {"predictor": {"canaryTrafficPercent": 50}}},
                                           resource_version=isvc.resource_version)
        await wait_for(pilot, lambda: (cell(app, FRAUD, "prev_pct"), cell(app, FRAUD, "latest_pct")) == ("50", "50"),
                       what="the 50/50 split from the watch")
        assert "50%" in text_of(app, "#isvc-detail-body")


# -- the rollback flow --------------------------------------------------------------------------

async def press_rollback_and_wait_for_modal(pilot, app) -> ConfirmChangeScreen:
    await pilot.press("b")
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmChangeScreen) and app.focused is not None,
                   what="the confirmation")
    return app.screen


async def test_rollback_confirmed_moves_traffic_and_is_audited(sandbox, fraud_at_20, tmp_path):
    app = make_app(sandbox, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rollouts(pilot, app)
        modal = await press_rollback_and_wait_for_modal(pilot, app)
        shown = str(modal.query_one("#confirm-change", Static).render())
        assert "spec.predictor.canaryTrafficPercent: 20 -> 0" in shown
        assert "dry-run: accepted" in shown and "leaves the new model in the spec" in shown
        assert app.focused.id == "confirm-cancel"  # cancel is the default
        await pilot.press("shift+tab", *"canary 5xx at 3%", "enter")
        await wait_for(pilot, lambda: (cell(app, FRAUD, "prev_pct"), cell(app, FRAUD, "latest_pct")) == ("100", "0"),
                       what="the 100/0 split")
        await wait_for(pilot, lambda: "rollout.rollback applied" in text_of(app, "#rollouts-status"),
                       what="the result in the status line")  # after the Event is written
        rows = audit_rows(app)
        assert [row_outcome(r) for r in rows] == ["applied"]
        assert row_field(rows[0], "reason") == "canary 5xx at 3%"
        assert row_field(rows[0], "target") == FRAUD
    with admin(sandbox) as client:
        after = client.get_inference_service("fraud", "fraud-detector")
    assert after.canary_traffic_percent == 0
    assert after.storage_uri.endswith("/v40")  # the new model stays in the spec


async def test_rollback_cancelled_changes_nothing_and_is_audited(sandbox, fraud_at_20, tmp_path):
    app = make_app(sandbox, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rollouts(pilot, app)
        await press_rollback_and_wait_for_modal(pilot, app)
        await pilot.press("enter")  # on the focused Cancel button
        await wait_for(pilot, lambda: bool(audit_rows(app)), what="the audit row")
        assert [row_outcome(r) for r in audit_rows(app)] == ["cancelled"]
        assert (cell(app, FRAUD, "prev_pct"), cell(app, FRAUD, "latest_pct")) == ("80", "20")
    with admin(sandbox) as client:
        assert client.get_inference_service("fraud", "fraud-detector").canary_traffic_percent == 20


async def test_read_only_refuses_and_says_so(sandbox, fraud_at_20, tmp_path):
    app = make_app(sandbox, tmp_path, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rollouts(pilot, app)
        await pilot.press("b")
        await wait_for(pilot, lambda: "read-only" in text_of(app, "#rollouts-status"), what="the read-only refusal")
        assert not isinstance(app.screen, ConfirmChangeScreen)
        assert [row_outcome(r) for r in audit_rows(app)] == ["refused: read-only"]
    with admin(sandbox) as client:
        assert client.get_inference_service("fraud", "fraud-detector").canary_traffic_percent == 20


async def test_viewer_is_forbidden_by_the_api_server(sandbox, fraud_at_20, tmp_path):
    app = make_app(sandbox, tmp_path, context="viewer")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rollouts(pilot, app)  # a viewer may read: the table is there
        await pilot.press("b")
        await wait_for(pilot, lambda: "not allowed to patch" in text_of(app, "#rollouts-status"),
                       what="the forbidden message")
        assert [row_outcome(r) for r in audit_rows(app)] == ["refused: forbidden"]
    with admin(sandbox) as client:
        assert client.get_inference_service("fraud", "fraud-detector").canary_traffic_percent == 20


async def test_set_exact_percent_and_a_bad_value(sandbox, fraud_at_20, tmp_path):
    app = make_app(sandbox, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rollouts(pilot, app)
        await pilot.press("p")
        await wait_for(pilot, lambda: app.screen.query("#percent-value") and app.focused is not None,
                       what="the percent modal")
        await pilot.press(*["backspace"] * 3, *"150", "enter")
        await wait_for(pilot, lambda: "from 0 to 100, not 150" in text_of(app, "#percent-error"), what="the refusal")
        await pilot.press(*["backspace"] * 3, *"35", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmChangeScreen) and app.focused is not None,
                       what="the confirmation")
        assert "canaryTrafficPercent: 20 -> 35" in str(app.screen.query_one("#confirm-change", Static).render())
        await pilot.press("shift+tab", *"more traffic", "enter")
        await wait_for(pilot, lambda: cell(app, FRAUD, "latest_pct") == "35", what="35%")
        assert [row_outcome(r) for r in audit_rows(app)] == ["applied"]


async def test_a_bad_percent_keeps_the_dialog_open_and_later_keys_stay_in_it(sandbox, fraud_at_20, tmp_path):
    from screens.rollouts_modals import PercentScreen

    app = make_app(sandbox, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rollouts(pilot, app)
        status_before = text_of(app, "#rollouts-status")
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, PercentScreen) and app.focused is not None,
                       what="the percent modal")
        dialog = app.screen
        await pilot.press(*["backspace"] * 3, *"abc", "enter")
        await wait_for(pilot, lambda: "whole number from 0 to 100, not 'abc'" in text_of(app, "#percent-error"),
                       what="the reason in the dialog")
        # Keys that are commands on the screen behind: roll back, step down, refresh, set %, quit.
        await pilot.press("b", "minus", "r", "p", "q", "enter")
        assert app.screen is dialog and app.is_running
        assert app.screen.query_one("#percent-value", Input).value == "abcb-rpq"
        assert "not 'abcb-rpq'" in text_of(app, "#percent-error")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, PercentScreen), what="the dialog closed")
        await pilot.pause()
        assert text_of(app, "#rollouts-status") == status_before  # the screen behind got nothing
        assert audit_rows(app) == []
    with admin(sandbox) as client:
        assert client.get_inference_service("fraud", "fraud-detector").canary_traffic_percent == 20


async def test_a_bad_percent_in_the_version_picker_keeps_it_open(sandbox, fraud_at_20, tmp_path):
    from screens.rollouts_modals import VersionPickerScreen

    app = make_app(sandbox, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rollouts(pilot, app, select="fraud/credit-risk")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, VersionPickerScreen) and app.focused is not None,
                       what="the version picker")
        picker = app.screen
        await pilot.press("tab")
        assert app.focused.id == "picker-percent", app.focused
        await pilot.press(*["backspace"] * 3, *"101", "enter")
        await wait_for(pilot, lambda: "from 0 to 100, not 101" in text_of(app, "#picker-error"),
                       what="the reason in the picker")
        await pilot.press("b", "q")  # text in the percent field, not commands for the screen behind
        assert app.screen is picker and app.is_running
        assert app.screen.query_one("#picker-percent", Input).value == "101bq"
        assert audit_rows(app) == []


async def test_r_lists_again_and_b_rolls_back(sandbox, fraud_at_20, tmp_path):
    app = make_app(sandbox, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rollouts(pilot, app)
        bar = str(app.screen.query_one("KeyBar").render())
        assert " b Roll back " in bar and " r " not in bar.split("Roll back")[0]
        assert "b (roll back)" in text_of(app, "#isvc-detail-body")  # what the detail says to press
        await pilot.press("r")
        await wait_for(pilot, lambda: f"Listed again: {len(demo_data.SERVED)} InferenceServices" in text_of(app, "#rollouts-status"),
                       what="the new list")
        assert not isinstance(app.screen, ConfirmChangeScreen) and audit_rows(app) == []
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        help_text = str(app.screen.query_one("#help-body Static", Static).render())
        assert "  b           Roll back" in help_text and "  r           Refresh" in help_text
        await pilot.press("escape")
        await press_rollback_and_wait_for_modal(pilot, app)
        assert "canaryTrafficPercent: 20 -> 0" in str(app.screen.query_one("#confirm-change", Static).render())


# -- the API lost and found -----------------------------------------------------------------------

class TcpRelay:
    """A TCP relay on a fixed local port in front of the API server, that can be cut and restored:
    the console sees a real connection refusal, then the same address answering again."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()


async def test_api_lost_is_a_panel_state_and_the_screen_recovers(sandbox, tmp_path):
    host, port = sandbox.kube_url.split("://", 1)[1].rsplit(":", 1)
    relay = TcpRelay((host, int(port)))
    relay.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(sandbox.kubeconfig_path.read_text().replace(sandbox.kube_url,
                                                                      f"https://127.0.0.1:{relay.port}"))
    app = make_app(sandbox, tmp_path, kubeconfig=kubeconfig)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await open_rollouts(pilot, app)
            relay.cut()
            await wait_for(pilot, lambda: "unreachable" in text_of(app, "#rollouts-state"), what="the lost state")
            state = text_of(app, "#rollouts-state")
            assert "retrying in" in state and "Kubernetes API" in state
            assert "STALE" in str(table(app).border_title)
            assert table(app).row_count >= 5  # the last known rows stay on screen
            await pilot.press("2")  # other screens keep working
            await wait_for(pilot, lambda: app.current_mode == "pipelines")
            await pilot.press("3")
            await wait_for(pilot, lambda: app.current_mode == "rollouts")
            relay.start()
            await wait_for(pilot, lambda: "live" in str(table(app).border_title), timeout=40, what="the recovery")
            assert not app.screen.query_one("#rollouts-state").display
            assert app.is_running
    finally:
        relay.cut()


# -- snapshots ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def snapshot_sandbox(tmp_path_factory):
    """Its own sandbox that no test changes, so resourceVersions on screen are always the same."""
    sb = start_sandbox(tmp_path_factory.mktemp("rollouts-snapshots"))
    with admin(sb) as client:  # let the controller settle
        wait_until(lambda: client.get_inference_service("fraud", "fraud-detector").latest_percent == 20)
    yield sb
    sb.stop()


def snapshot_app(sb: Sandbox, tmp_path: Path) -> MlopsConsole:
    """The header shows the catalog path, so snapshots use one fixed path."""
    fixed = Path(tempfile.gettempdir()) / "mlops-console-snapshots" / "rollouts-catalog.db"
    fixed.parent.mkdir(exist_ok=True)
    shutil.copy(sb.endpoints["catalog"], fixed)
    for suffix in ("-wal", "-shm"):
        Path(f"{fixed}{suffix}").unlink(missing_ok=True)
    return make_app(sb, tmp_path, catalog=fixed)


def _settled(select: str):
    async def run_before(pilot) -> None:
        app = pilot.app
        await open_rollouts(pilot, app, select=select)
        await wait_for(pilot, lambda: "catalog    " in text_of(app, "#isvc-detail-body")
                       and "looking up" not in text_of(app, "#isvc-detail-body"), what="the catalog lookup")
        await wait_for(pilot, lambda: "Prometheus not configured" in text_of(app, "#isvc-health-body"))
        isvc = app.screen.selected()
        if isvc is not None and rollouts.latest_not_ready(isvc) is not None:  # what its pods say, fetched
            await wait_for(pilot, lambda: "its pods:" in text_of(app, "#isvc-detail-body"), what="what the pods say")
        await settled_frame(pilot)
    return run_before


def test_snapshot_rollouts_mid_canary_80x24(snap_compare, snapshot_sandbox, tmp_path):
    assert snap_compare(snapshot_app(snapshot_sandbox, tmp_path), terminal_size=(80, 24),
                        run_before=_settled(FRAUD))


def test_snapshot_rollouts_failing_revision_80x24(snap_compare, snapshot_sandbox, tmp_path):
    assert snap_compare(snapshot_app(snapshot_sandbox, tmp_path), terminal_size=(80, 24),
                        run_before=_settled("recsys/churn-predictor"))


def test_snapshot_rollouts_rollback_confirmation_80x24(snap_compare, snapshot_sandbox, tmp_path):
    async def run_before(pilot) -> None:
        await _settled(FRAUD)(pilot)
        await press_rollback_and_wait_for_modal(pilot, pilot.app)
        await settled_frame(pilot)

    assert snap_compare(snapshot_app(snapshot_sandbox, tmp_path), terminal_size=(80, 24), run_before=run_before)


# -- starting a canary, promoting, jumping to the catalog ----------------------------------------

async def test_start_canary_of_a_catalog_version_then_promote(sandbox, tmp_path):
    app = make_app(sandbox, tmp_path)
    key = "fraud/credit-risk"
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rollouts(pilot, app, select=key)
        await wait_for(pilot, lambda: "credit-risk v35" in text_of(app, "#isvc-detail-body"), what="the catalog version")
        await pilot.press("n")
        await wait_for(pilot, lambda: bool(app.screen.query("#picker-versions")), what="the version picker")
        picker = app.screen.query_one("#picker-versions", DataTable)
        assert picker.row_count > 1
        # Newest first; the served version (v35) is marked and the cursor starts on another one.
        served_row = next(i for i, row in enumerate(picker.ordered_rows)
                          if picker.get_row(row.key)[3].plain == "in spec")
        assert picker.get_row_at(served_row)[0].plain == "35" and picker.cursor_row != served_row
        chosen = picker.get_row_at(picker.cursor_row)[0].plain
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmChangeScreen) and app.focused is not None,
                       what="the confirmation")
        shown = str(app.screen.query_one("#confirm-change", Static).render())
        assert f"s3://mlops-models/credit-risk/v35 -> s3://mlops-models/credit-risk/v{chosen}" in shown
        assert "canaryTrafficPercent: (unset) -> 10" in shown
        await pilot.press("shift+tab", *"try the retrained model", "enter")
        await wait_for(pilot, lambda: (cell(app, key, "prev_pct"), cell(app, key, "latest_pct")) == ("90", "10"),
                       what="the 90/10 split of the new canary")
        await wait_for(pilot, lambda: f"credit-risk v{chosen}" in text_of(app, "#isvc-detail-body"),
                       what="the new version in the detail")
        # Promote: the new revision takes everything.
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmChangeScreen) and app.focused is not None,
                       what="the promote confirmation")
        assert "canaryTrafficPercent: 10 -> (unset)" in str(app.screen.query_one("#confirm-change", Static).render())
        await pilot.press("shift+tab", *"healthy", "enter")
        await wait_for(pilot, lambda: cell(app, key, "latest_pct") == "100" and cell(app, key, "prev") == "",
                       what="the promoted split")
        outcomes = [(r.action, r.outcome) for r in audit_rows(app)]
        assert outcomes == [("rollout.promote", "applied"), ("rollout.start-canary", "applied")]


async def test_c_opens_the_served_version_in_the_catalog(sandbox, fraud_at_20, tmp_path):
    app = make_app(sandbox, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rollouts(pilot, app)
        await wait_for(pilot, lambda: "fraud-detector v40" in text_of(app, "#isvc-detail-body"))
        await pilot.press("c")
        await wait_for(pilot, lambda: app.current_mode == "catalog", what="the catalog screen")
        await wait_for(pilot, lambda: "fraud-detector : 40" in str(app.screen.query_one("#detail-body", Static).render()),
                       what="version 40 in the catalog detail")


# -- canary health from a real Prometheus ---------------------------------------------------------

@pytest.fixture(scope="module")
def prom_sandbox(tmp_path_factory):
    import shutil as _shutil

    if not (_shutil.which("prometheus") and _shutil.which("promtool")):
        pytest.skip("the prometheus package is not installed (apt-get install prometheus)")
    sb = Sandbox(tmp_path_factory.mktemp("rollouts-prometheus"), prometheus=True, kfp=False, catalog=True)
    endpoints = sb.start()
    if not endpoints.get("prometheus_url"):
        sb.stop()
        pytest.fail(f"the sandbox did not start Prometheus: {endpoints.get('messages')}")
    yield sb
    sb.stop()


async def test_canary_health_panel_then_prometheus_lost(prom_sandbox, tmp_path, monkeypatch):
    from screens.rollouts import RolloutsScreen

    monkeypatch.setattr(RolloutsScreen, "health_interval", 0.5)
    monkeypatch.setattr(RolloutsScreen, "health_backoff", (0.5,))
    sb = prom_sandbox
    settings = Settings(catalog=Path(sb.endpoints["catalog"]), audit=tmp_path / "audit.db",
                        kubeconfig=str(sb.kubeconfig_path), context=sb.endpoints["contexts"]["admin"],
                        prometheus_url=sb.endpoints["prometheus_url"])
    app = MlopsConsole(Context(settings), clock=time.time, cursor_blink=False)  # a live Prometheus: now
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rollouts(pilot, app)
        await wait_for(pilot, lambda: "fraud-detector at " in text_of(app, "#isvc-health-body"), timeout=20,
                       what="the canary verdict")
        panel = text_of(app, "#isvc-health-body")
        # The demo canary serves more 5xx than the 99% threshold allows, and drifts on 3 features.
        assert "FAILING CHECKS 1 OF 2" in panel
        assert "canary" in panel and "stable" in panel and "00002" in panel and "00001" in panel
        assert "20%" in panel and "80%" in panel
        assert "✗ success rate" in panel and "✓ p99 latency" in panel
        assert any(feature in panel for feature in ("amount", "txn_velocity", "device_score"))
        assert "metrics: knative (detected)" in panel  # the sandbox's default: Knative's queue-proxy metrics
        # The answer names its row and time; the pane's title stays the same from row to row.
        assert "updated" not in panel and str(app.screen.query_one("#isvc-health").border_title) == "Canary health · 5m"
        # A model with one revision: its numbers, no stable column.
        await select_row(pilot, app, "fraud/credit-risk")
        await wait_for(pilot, lambda: "credit-risk at " in text_of(app, "#isvc-health-body"), timeout=20)
        assert "stable" not in text_of(app, "#isvc-health-body")
        # A canary whose new revision failed: failing, whatever the old revision's numbers say.
        with admin(sb) as client:
            failed = client.get_inference_service("recsys", "churn-predictor").latest_created_revision
        await select_row(pilot, app, "recsys/churn-predictor")
        await wait_for(pilot, lambda: "churn-predictor at " in text_of(app, "#isvc-health-body"), timeout=20)
        panel = " ".join(text_of(app, "#isvc-health-body").split())
        assert "FAILING CHECKS" in panel and f"✗ revision {failed} failed:" in panel and "serving" in panel
        # Prometheus goes away: a state of this panel only; the table stays live.
        sb.metrics.prometheus.stop()
        await wait_for(pilot, lambda: "Prometheus unavailable" in text_of(app, "#isvc-health-body"), timeout=20,
                       what="the Prometheus-down state")
        assert "retrying in" in text_of(app, "#isvc-health-body")
        assert "live" in str(table(app).border_title) and app.is_running


# -- faults: 5xx, garbage, malformed objects, an expired watch ------------------------------------

LIST_PATH = r"/inferenceservices$"  # the list (the watch carries a query string)


async def test_api_errors_are_a_state_then_the_list_arrives(own_sandbox, tmp_path, monkeypatch):
    from screens.rollouts import RolloutsScreen

    sandbox = own_sandbox

    monkeypatch.setattr(RolloutsScreen, "watch_backoff", (1.5,))
    sandbox.cluster.faults.add(LIST_PATH, status=503, times=1)
    app = make_app(sandbox, tmp_path)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("3")
            await wait_for(pilot, lambda: app.current_mode == "rollouts")
            await wait_for(pilot, lambda: "503" in text_of(app, "#rollouts-state"), what="the 503 state")
            assert "retrying in 1.5 s" in text_of(app, "#rollouts-state")
            # While it waits, the next answer will be garbage from a proxy.
            sandbox.cluster.faults.add(LIST_PATH, body="<html>proxy error</html>", times=1)
            await wait_for(pilot, lambda: "not JSON" in text_of(app, "#rollouts-state"), what="the garbage state")
            assert table(app).row_count == 0 and app.is_running
            await wait_for(pilot, lambda: table(app).row_count >= 5, what="the table once the API answers")
            assert not app.screen.query_one("#rollouts-state").display
    finally:
        sandbox.cluster.faults.clear()


async def test_malformed_objects_are_shown_with_their_problems(own_sandbox, tmp_path):
    sandbox = own_sandbox
    with admin(sandbox) as client:
        good = client.list_raw(None)
    broken = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "surprise": {"x": 1},
              "metadata": {"name": "broken-split", "namespace": "fraud", "resourceVersion": "1"},
              "spec": {"predictor": {"model": {"storageUri": "s3://mlops-models/[red]nope[/red]/v1"}}},
              "status": {"components": {"predictor": {"traffic": [
                  {"revisionName": "broken-split-predictor-00001", "percent": 60, "latestRevision": True}]}}}}
    no_status = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                 "metadata": {"name": "no-status", "namespace": "fraud", "resourceVersion": "2"},
                 "spec": {"predictor": {"model": {"storageUri": "s3://mlops-models/x/v1"}}}}
    body = dict(good, items=good["items"] + [broken, no_status])
    import json

    sandbox.cluster.faults.add(LIST_PATH, body=json.dumps(body), times=1)
    app = make_app(sandbox, tmp_path)
    try:
        async with app.run_test(size=(100, 40)) as pilot:
            await open_rollouts(pilot, app, select="fraud/broken-split")
            assert cell(app, "fraud/broken-split", "name").endswith("⚠")
            detail = text_of(app, "#isvc-detail-body")
            assert "traffic sums to 60, not 100" in detail
            assert "[red]nope[/red]" in detail  # literal, never markup
            await select_row(pilot, app, "fraud/no-status")
            assert "no status yet" in text_of(app, "#isvc-detail-body")
            assert cell(app, "fraud/no-status", "ready") == "?"
    finally:
        sandbox.cluster.faults.clear()


async def test_expired_watch_lists_again_and_keeps_up(own_sandbox, tmp_path):
    sandbox = own_sandbox
    app = make_app(sandbox, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rollouts(pilot, app)
        # The open stream ends, and resuming it answers 410 Gone: the screen must list again.
        # The stream may still be on its way when the test expires it (then it opens as if
        # nothing happened), so end it until a resumed watch has met the 410: a condition, not a sleep.
        gone = sandbox.cluster.faults.add(r"[?&]watch=", status=410, times=1)

        def met_the_410() -> bool:
            if gone.hits:
                return True
            sandbox.cluster.expire_watches()
            return False

        await wait_for(pilot, met_the_410, what="a resumed watch answered 410 Gone")
        with admin(sandbox) as client:
            isvc = client.get_inference_service("fraud", "fraud-detector")
            client.patch_inference_service("fraud", "fraud-detector",
                                           {"spec": {"predictor": {"canaryTrafficPercent": 40}}},
                                           resource_version=isvc.resource_version)
        try:
            await wait_for(pilot, lambda: cell(app, FRAUD, "latest_pct") == "40", what="the change after the 410")
            assert "listed again" in text_of(app, "#rollouts-status")
        finally:
            sandbox.cluster.faults.clear()


async def test_a_large_cluster_is_paged_into_the_table(tmp_path):
    from screens.rollouts import PAGE

    sb = Sandbox(tmp_path / "big", prometheus=False, kfp=False, catalog=False, seed=False, ready_delay=0.0)
    sb.start()
    try:
        keys = sb.cluster.bulk_create(2 * PAGE + 10, 4)
        settings = Settings(catalog=tmp_path / "catalog.db", audit=tmp_path / "audit.db",
                            kubeconfig=str(sb.kubeconfig_path))
        app = MlopsConsole(Context(settings), clock=lambda: FROZEN, cursor_blink=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("3")
            await wait_for(pilot, lambda: app.current_mode == "rollouts" and table(app).row_count == PAGE,
                           what="the first page")
            assert "first 80" in str(table(app).border_title) or f"first {PAGE}" in str(table(app).border_title)
            assert f"InferenceServices {len(keys)}/{len(keys)}" in str(table(app).border_title)
            rows = [row.key.value for row in table(app).ordered_rows]
            assert rows == sorted(rows, key=lambda k: tuple(k.split("/", 1)))
            # A new object that sorts first appears at the top, in order; one beyond the window does not.
            sb.cluster.put({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                            "metadata": {"name": "aaa-first", "namespace": "bench-ns-00"},
                            "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"},
                                                             "storageUri": "s3://b/v1"}}}})
            await wait_for(pilot, lambda: table(app).ordered_rows[0].key.value == "bench-ns-00/aaa-first",
                           what="the new object at the top")
            assert table(app).row_count == PAGE
            # Moving down near the end of the window brings the next page in.
            for _ in range(PAGE):
                await pilot.press("down")
            await wait_for(pilot, lambda: table(app).row_count == 2 * PAGE, what="the second page")
    finally:
        sb.stop()
