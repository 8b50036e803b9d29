"""The Now screen (key 0, the first screen): the items from the sandbox, critical first, enter opens
an item on its screen, a cleared item stays a minute marked done, a gathering failure is a state
of the screen; snapshots at 80x24 and 120x35 with a frozen clock and fixed items."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

from console import triage
from console.app import MlopsConsole
from console.config import Settings
from console.context import Context
from console.sandbox.runner import Sandbox
from console.triage import CRITICAL, INFO, WARNING, Item

FROZEN = 1_795_000_000.0  # 2026-11-18 04:26:40 UTC


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    sandbox = Sandbox(tmp_path_factory.mktemp("now"), ready_delay=0.05)
    sandbox.start()
    yield sandbox
    sandbox.stop()


def sandbox_app(sb: Sandbox, tmp_path: Path) -> MlopsConsole:
    settings = Settings(catalog=Path(sb.endpoints["catalog"]), audit=tmp_path / "audit.db",
                        kubeconfig=str(sb.kubeconfig_path), context="sandbox-admin",
                        kfp_url=sb.endpoints["kfp_url"], prometheus_url=sb.endpoints["prometheus_url"])
    return MlopsConsole(Context(settings), cursor_blink=False, first_screen="now")


def table(app) -> DataTable:
    return app.screen.query_one("#now-items", DataTable)


def rows(app) -> list[list[str]]:
    t = table(app)
    return [[str(cell) for cell in t.get_row_at(i)] for i in range(t.row_count)]


async def wait_for(pilot, condition, what: str = "the condition", timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"{what} did not happen")


async def test_opens_first_and_lists_the_sandbox_stories_critical_first(sb, tmp_path):
    app = sandbox_app(sb, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.current_mode == "now"
        await wait_for(pilot, lambda: {"revision-failed", "canary-failing", "run-failed"} <= {r[1] for r in rows(app)},
                       "the items")
        shown = rows(app)
        severities = [r[0] for r in shown]
        assert severities == sorted(severities, key=lambda s: ["✖ CRIT", "▲ WARN", "· info"].index(s))
        assert "2 critical" in str(table(app).border_title)


async def select_kind(pilot, app, kind: str) -> Item:
    """Put the cursor on the first item of `kind`, again if answers coming in re-sorted the list
    meanwhile (under load, items keep arriving after the first ones show)."""
    for _ in range(100):
        kinds = [r[1] for r in rows(app)]
        if kind in kinds:
            table(app).move_cursor(row=kinds.index(kind))
            await pilot.pause()
            item = app.screen.selected()
            if item is not None and item.kind == kind:
                return item
        await pilot.pause(0.1)
    raise AssertionError(f"no {kind} item could be selected")


async def test_enter_opens_the_item_on_its_screen(sb, tmp_path):
    app = sandbox_app(sb, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        # every critical item in first: one arriving later could take the top row (the cursor on the
        # top row stays on the most severe item) between choosing an item and pressing enter
        await wait_for(pilot, lambda: {"revision-failed", "canary-failing", "run-failed"} <= {r[1] for r in rows(app)},
                       "the items")
        item = await select_kind(pilot, app, "revision-failed")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.current_mode == "rollouts", "the Rollouts screen")
        await wait_for(pilot, lambda: getattr(app.screen.selected(), "key", None) == "recsys/churn-predictor",
                       f"churn-predictor selected (the item chosen: {item.namespace}/{item.name})")
        assert app.selected_isvc == ("recsys", "churn-predictor")
        await pilot.press("0")
        await wait_for(pilot, lambda: app.current_mode == "now", "back to Now")
        item = await select_kind(pilot, app, "run-failed")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.current_mode == "pipelines", "the Pipelines screen")
        await wait_for(pilot, lambda: getattr(app.screen.selected_run(), "run_id", None) == item.ref,
                       "the failed run selected")


class Script:
    """What the poll answers, one list per call (the last repeats); a ConsoleError fails a call.
    Installed with the watches idle, so the script's items are all there is."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = 0

    def __call__(self, settings_for, scope, watches, **kwargs):
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        if isinstance(answer, Exception):
            raise answer
        return triage.sort_items(answer)

    def install(self, monkeypatch) -> Script:
        monkeypatch.setattr(triage, "poll", self)
        monkeypatch.setattr(triage.ServingWatch, "run", lambda watch, stop, on_change: stop.wait())
        return self


FAILED = Item(CRITICAL, "revision-failed", "prod-eu", "recsys", "churn-predictor",
              'Revision "churn-predictor-predictor-00002" failed: ModelLoadFailed: no such key [b]v30[/b]',
              "2026-11-18T03:40:00Z")
CANARY = Item(INFO, "canary-in-progress", "prod-eu", "fraud", "fraud-detector",
              "canary fraud-detector-predictor-00002 at 20%: healthy", "2026-11-18T04:00:00Z")
RUN = Item(WARNING, "run-failed", "prod-eu", None, "train-churn-predictor-v31",
           "train-model: pod was OOMKilled (exit code 137)", "2026-11-18T02:10:00Z", "run-1")
DRIFT = Item(WARNING, "drift", "prod-us", "fraud", "fraud-detector",
             "feature amount drifts (PSI 0.36) and 2 more, window 1h", None, "amount")
DOWN = Item(CRITICAL, "backend-unavailable", "prod-us", None, "prometheus",
            "prometheus unreachable: connection refused", "2026-11-18T04:20:00Z")


def scripted_app(tmp_path: Path, clock) -> MlopsConsole:
    # The header shows the catalog path: a fixed one keeps snapshots the same wherever tmp is.
    settings = Settings(catalog=Path("no-catalog-here.db"), audit=tmp_path / "audit.db",
                        kubeconfig=str(tmp_path / "kubeconfig"), context="prod-eu")
    return MlopsConsole(Context(settings), clock=clock, cursor_blink=False, first_screen="now")


async def test_a_cleared_item_stays_a_minute_marked_done(tmp_path, monkeypatch):
    script = Script([FAILED, RUN, CANARY], [RUN, CANARY]).install(monkeypatch)
    now = [FROZEN]
    app = scripted_app(tmp_path, lambda: now[0])
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 3, "the first answer")
        assert [r[1] for r in rows(app)] == ["revision-failed", "run-failed", "canary-in-progress"]
        now[0] += 20
        await pilot.press("r")
        await wait_for(pilot, lambda: script.calls == 2 and any(r[0] == "✓ done" for r in rows(app)), "done mark")
        assert rows(app)[-1][:3] == ["✓ done", "revision-failed", "recsys/churn-predictor"]
        assert "1 critical" not in str(table(app).border_title)
        now[0] += 61
        await pilot.press("r")
        await wait_for(pilot, lambda: script.calls == 3 and table(app).row_count == 2, "the done item leaves")


async def test_gathering_failure_is_a_state_and_retries(tmp_path, monkeypatch):
    from adapters.errors import BackendUnavailable

    Script(BackendUnavailable("kubeconfig context prod-eu: TLS handshake failed"), [RUN]).install(monkeypatch)
    monkeypatch.setattr("screens.now.REFRESH_BACKOFF", (0.2,))
    app = scripted_app(tmp_path, lambda: FROZEN)
    async with app.run_test(size=(80, 24)) as pilot:
        state = app.screen.query_one("#now-state")
        await wait_for(pilot, lambda: state.display, "the failure state")
        assert "TLS handshake failed" in str(state.render()) and "retrying in" in str(state.render())
        await wait_for(pilot, lambda: table(app).row_count == 1, "the retry's answer")
        assert not state.display


async def test_filter_and_literal_text(tmp_path, monkeypatch):
    Script([FAILED, RUN, CANARY, DRIFT, DOWN]).install(monkeypatch)
    app = scripted_app(tmp_path, lambda: FROZEN)
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 5, "the items")
        table(app).move_cursor(row=[r[1] for r in rows(app)].index("revision-failed"))
        await pilot.pause()
        assert "[b]v30[/b]" in str(app.screen.query_one("#now-detail-body").render())  # literal, never markup
        await pilot.press("slash", *"oom")
        await wait_for(pilot, lambda: table(app).row_count == 1, "the filtered list")
        assert rows(app)[0][1] == "run-failed"
        await pilot.press("escape")
        await wait_for(pilot, lambda: table(app).row_count == 5, "the filter cleared")


async def test_home_end_g_G_go_to_the_first_and_last_item(tmp_path, monkeypatch):
    Script([FAILED, RUN, CANARY, DRIFT, DOWN]).install(monkeypatch)
    app = scripted_app(tmp_path, lambda: FROZEN)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 5, "the items")
        table(app).focus()
        for key, row in (("end", 4), ("home", 0), ("G", 4), ("g", 0)):
            await pilot.press(key)
            await wait_for(pilot, lambda row=row: table(app).cursor_row == row, f"row {row} after {key}")


def _snapshot_app(tmp_path, monkeypatch):
    Script([FAILED, RUN, CANARY, DRIFT, DOWN]).install(monkeypatch)
    return scripted_app(tmp_path, lambda: FROZEN)


async def _settled(pilot) -> None:
    await wait_for(pilot, lambda: table(pilot.app).row_count == 5, "the items")
    await pilot.pause()


def test_snapshot_now_80x24(snap_compare, tmp_path, monkeypatch):
    assert snap_compare(_snapshot_app(tmp_path, monkeypatch), terminal_size=(80, 24), run_before=_settled)


def test_snapshot_now_120x35(snap_compare, tmp_path, monkeypatch):
    assert snap_compare(_snapshot_app(tmp_path, monkeypatch), terminal_size=(120, 35), run_before=_settled)


async def test_enter_on_another_contexts_item_switches_every_screen_to_it(sb, tmp_path):
    """Issue 11 §1/§3: an item from a context in scope but not current opens there: the console
    switches context (as the palette's `context NAME` does) and shows the item selected."""
    from console import config

    cfg = tmp_path / "config.toml"
    cfg.write_text('[triage]\ncontexts = ["sandbox-viewer"]\n')
    flags = {"config": str(cfg), "kubeconfig": str(sb.kubeconfig_path), "context": "sandbox-admin",
             "catalog": sb.endpoints["catalog"], "audit": str(tmp_path / "audit.db"),
             "kfp_url": sb.endpoints["kfp_url"], "prometheus_url": sb.endpoints["prometheus_url"]}
    app = MlopsConsole(Context(config.resolve(flags), flags=flags), cursor_blink=False, first_screen="now")
    async with app.run_test(size=(120, 30)) as pilot:
        def viewer_row() -> int | None:
            for i in range(table(app).row_count):
                key = table(app).coordinate_to_cell_key((i, 0)).row_key.value
                item = app.screen._items.get(key)
                if item is not None and item.kind == "revision-failed" and item.context == "sandbox-viewer":
                    return i
            return None

        await wait_for(pilot, lambda: viewer_row() is not None, "the viewer context's failed revision")
        table(app).move_cursor(row=viewer_row())
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.current_mode == "rollouts" and app.services.kube_context == "sandbox-viewer"
                       and app.screen.query("#isvcs")
                       and getattr(app.screen.selected(), "key", None) == "recsys/churn-predictor",
                       "churn-predictor selected on the viewer context", timeout=60)
        header = str(app.screen.query_one("StatusHeader").render())
        assert header.index("sandbox-viewer") < header.index("catalog")


LIVE_ISVC = """apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: live-check
  namespace: recsys
  annotations: {"sandbox.mlops-console.dev/never-ready": "%s"}
spec:
  predictor:
    model:
      modelFormat: {name: sklearn}
      storageUri: %s
"""


async def test_a_revision_that_fails_shows_from_the_watch_and_its_recovery_is_resolved(tmp_path, monkeypatch):
    """Issue 11 §1 "refreshes live": the serving items come from a watch per context
    (KubeClient.follow_inference_services, as the Rollouts screen's), not from the poll: with the
    poll an hour away, a revision made to fail with kubectl shows by itself, and when a good
    revision replaces it the item is marked done. Follows Knative's revision readiness as
    console/sandbox/kserve_sim.py simulates it (a never-ready revision fails its readiness probe)."""
    from sandbox_fixtures import kubectl, start_kube_sandbox

    sb = start_kube_sandbox(tmp_path / "sb")
    try:
        polls = []
        real_poll = getattr(triage, "poll", None)
        monkeypatch.setattr(triage, "poll", lambda *a, **k: (polls.append(1), real_poll(*a, **k))[1], raising=False)
        monkeypatch.setattr("screens.now.NowScreen.refresh_interval", 3600.0)
        settings = Settings(catalog=Path("no-catalog-here.db"), audit=tmp_path / "audit.db",
                            kubeconfig=str(sb.kubeconfig_path), context="sandbox-admin")
        app = MlopsConsole(Context(settings), cursor_blink=False, first_screen="now")
        async with app.run_test(size=(120, 30)) as pilot:
            def live_check() -> list[str] | None:
                return next((r for r in rows(app) if r[2].endswith("recsys/live-check")), None)

            await wait_for(pilot, lambda: table(app).row_count >= 1 and not app.screen._loading, "the first items")
            assert live_check() is None
            kubectl(sb, "apply", "-f", "-", input=LIVE_ISVC % ("true", "s3://models/live-check/v1"), check=True)
            await wait_for(pilot, lambda: live_check() is not None and live_check()[0] == "✖ CRIT",
                           "the failed revision, from the watch")
            failed = next(i for i in app.screen._items.values() if i.name == "live-check")
            assert failed.kind == "revision-failed" and "readiness probe failed" in failed.summary
            kubectl(sb, "apply", "-f", "-", input=LIVE_ISVC % ("false", "s3://models/live-check/v2"), check=True)
            await wait_for(pilot, lambda: live_check() is not None and live_check()[0] == "✓ done",
                           "the recovered item marked done")
            assert len(polls) <= 1  # the first poll only: only the watch can explain both
    finally:
        sb.stop()


async def test_a_context_whose_watch_fails_is_one_item_with_the_next_retry(tmp_path, monkeypatch):
    """A context in scope whose API server is gone: one critical backend-unavailable item naming the
    reason and the next retry (ServingWatch backs off and lists again), never a blank screen; the
    other context's items still show. The watches stop when the screen goes."""
    import socket

    import yaml

    from sandbox_fixtures import start_kube_sandbox

    sb = start_kube_sandbox(tmp_path / "sb")
    try:
        config = yaml.safe_load(sb.kubeconfig_path.read_text())
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead_port = s.getsockname()[1]
        cluster = dict(config["clusters"][0], name="dead")
        cluster["cluster"] = dict(cluster["cluster"], server=f"https://127.0.0.1:{dead_port}")
        config["clusters"].append(cluster)
        admin = next(c for c in config["contexts"] if c["name"] == "sandbox-admin")
        config["contexts"].append({"name": "dead", "context": dict(admin["context"], cluster="dead")})
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(config))
        cfg = tmp_path / "config.toml"
        cfg.write_text('[triage]\ncontexts = ["dead"]\n')
        flags = {"config": str(cfg), "kubeconfig": str(kubeconfig), "context": "sandbox-admin",
                 "catalog": "no-catalog-here.db", "audit": str(tmp_path / "audit.db")}
        from console import config as console_config

        monkeypatch.setattr(triage, "WATCH_BACKOFF", (0.2, 0.4), raising=False)
        app = MlopsConsole(Context(console_config.resolve(flags), flags=flags), cursor_blink=False,
                           first_screen="now")
        async with app.run_test(size=(120, 30)) as pilot:
            def dead() -> list:
                return [i for i in app.screen._items.values() if i.context == "dead"]

            await wait_for(pilot, lambda: dead() and any(i.context == "sandbox-admin" for i in app.screen._items.values()),
                           "the dead context's item and the live one's")
            assert [(i.kind, i.severity, i.name) for i in dead()] == [("backend-unavailable", "critical", "kubernetes")]
            assert "unreachable" in dead()[0].summary and "retrying in" in dead()[0].summary
            stop = getattr(app.screen, "_watch_stop", None)
            await pilot.press("2")  # another screen: the Now screen's watches stop while it is hidden
            await wait_for(pilot, lambda: stop is not None and stop.is_set(), "the watches stopped")
    finally:
        sb.stop()


async def test_the_cursor_stays_on_the_most_severe_item_as_answers_come_in(tmp_path, monkeypatch):
    """First answers show at once (streamed); a more severe item arriving later goes above them,
    and a person who has not moved the cursor is on it, not on what came first."""
    script = Script([RUN, CANARY], [FAILED, RUN, CANARY]).install(monkeypatch)
    app = scripted_app(tmp_path, lambda: FROZEN)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 2, "the first answer")
        assert app.screen.selected().kind == "run-failed"
        await pilot.press("r")
        await wait_for(pilot, lambda: table(app).row_count == 3, "the second answer")
        assert app.screen.selected().kind == "revision-failed"
        await pilot.press("down")
        await pilot.press("r")
        await wait_for(pilot, lambda: script.calls >= 3, "a third answer")
        await pilot.pause()
        assert app.screen.selected().kind == "run-failed"  # moved by the person: it stays where they put it


async def test_two_clusters_each_with_its_own_items_and_one_going_down(tmp_path, monkeypatch):
    """Issue 11 s.1 across clusters: two sandbox clusters (each its own API server, CA and token)
    under distinct context names in one kubeconfig, as an on-call engineer's is. Each cluster's
    failed revision is its own item, named by its context; when one cluster goes away it becomes one
    "unreachable" item and the other's items stay."""
    import yaml

    from console import config as console_config
    from sandbox_fixtures import start_kube_sandbox

    monkeypatch.setattr(triage, "WATCH_BACKOFF", (0.2, 0.4), raising=False)
    sandboxes = [start_kube_sandbox(tmp_path / f"sb{i}") for i in (1, 2)]
    try:
        merged: dict = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
        for name, sb in zip(("east", "west"), sandboxes, strict=True):
            cfg = yaml.safe_load(sb.kubeconfig_path.read_text())
            user = next(u for u in cfg["users"] if u["name"] == "sandbox-admin")
            merged["clusters"].append({"name": name, "cluster": cfg["clusters"][0]["cluster"]})
            merged["users"].append({"name": name, "user": user["user"]})
            merged["contexts"].append({"name": name, "context": {"cluster": name, "user": name}})
        merged["current-context"] = "east"
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(merged))
        cfg = tmp_path / "config.toml"
        cfg.write_text('[triage]\ncontexts = ["west"]\n')
        flags = {"config": str(cfg), "kubeconfig": str(kubeconfig), "catalog": "no-catalog-here.db",
                 "audit": str(tmp_path / "audit.db")}
        app = MlopsConsole(Context(console_config.resolve(flags), flags=flags), cursor_blink=False,
                           first_screen="now")
        async with app.run_test(size=(120, 30)) as pilot:
            def items(context: str, kind: str | None = None) -> list:
                return [i for i in app.screen._items.values() if i.context == context and (kind is None or i.kind == kind)
                        and not getattr(i, "resolved_at", None)]

            await wait_for(pilot, lambda: items("east", "revision-failed") and items("west", "revision-failed"),
                           "each cluster's failed revision")
            assert [i.name for i in items("east", "revision-failed")] == ["churn-predictor"]
            assert [i.name for i in items("west", "revision-failed")] == ["churn-predictor"]
            shown = rows(app)
            assert any("east" in " ".join(r) and "churn-predictor" in " ".join(r) for r in shown)
            assert any("west" in " ".join(r) and "churn-predictor" in " ".join(r) for r in shown)

            sandboxes[1].stop()  # the west cluster goes away
            await wait_for(pilot, lambda: items("west", "backend-unavailable"), "west unreachable")
            assert "unreachable" in items("west", "backend-unavailable")[0].summary
            assert items("east", "revision-failed")  # the other cluster's items stay
    finally:
        for sb in sandboxes:
            sb.stop()
