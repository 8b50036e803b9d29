"""The Rollouts screen shows an InferenceService being deleted (deletionTimestamp set, finalizers
holding it: k8s.io/apiserver registry/store.go; KServe's inferenceservice.finalizers) as
"deleting", then drops the row when the DELETED event comes."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable

from console.app import MlopsConsole
from console.config import Settings
from console.context import Context
from sandbox_fixtures import start_kube_sandbox, wait_until

KEY = "fraud/credit-risk"


async def wait_for(pilot, condition, timeout: float = 15.0, what: str = "the expected state") -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"the screen did not reach {what} in time")


async def test_deleting_then_gone(tmp_path: Path):
    sb = start_kube_sandbox(tmp_path / "sb", catalog=True)
    try:
        wait_until(lambda: sb.cluster.get("inferenceservices", "fraud", "credit-risk")["metadata"].get("finalizers"))
        settings = Settings(catalog=Path(sb.endpoints["catalog"]), audit=tmp_path / "audit.db",
                            kubeconfig=str(sb.kubeconfig_path), context="sandbox-admin")
        app = MlopsConsole(Context(settings), cursor_blink=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("3")
            table = lambda: app.screen.query_one("#isvcs", DataTable)  # noqa: E731
            await wait_for(pilot, lambda: app.current_mode == "rollouts" and table().row_count >= 5, what="the table")
            keys = lambda: {row.key.value for row in table().ordered_rows}  # noqa: E731
            assert KEY in keys()
            sb.controller.finalize_delay = 3600
            sb.cluster.delete("inferenceservices", "fraud", "credit-risk")
            await wait_for(pilot, lambda: table().get_cell(KEY, "ready").plain == "deleting", what="deleting")
            sb.controller.finalize_delay = 0
            sb.controller.sync("fraud", "credit-risk")
            await wait_for(pilot, lambda: KEY not in keys(), what="the row gone")
    finally:
        sb.stop()
