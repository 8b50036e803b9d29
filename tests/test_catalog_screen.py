"""The catalog screen, driven with the keyboard as a person would, on a real SQLite catalog."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from adapters.catalog import Catalog
from console.app import MlopsConsole
from console.config import Settings
from console.context import Context
from console.demo_catalog import build_demo_catalog
from screens.catalog import CatalogScreen
from screens.catalog_modals import CompareScreen
from screens.confirm import ConfirmChangeScreen

FROZEN = 1_795_000_000.0  # 2026-11-18


@pytest.fixture(scope="module")
def demo_catalog_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("catalog") / "catalog.db"
    build_demo_catalog(path)
    return path


@pytest.fixture
def catalog_file(demo_catalog_file, tmp_path) -> Path:
    """A private copy, so that alias changes in one test do not leak into another."""
    path = tmp_path / "catalog.db"
    shutil.copy(demo_catalog_file, path)
    return path


def make_app(catalog: Path, tmp_path: Path, *, read_only: bool = False) -> MlopsConsole:
    settings = Settings(catalog=catalog, audit=tmp_path / "audit.db", read_only=read_only)
    return MlopsConsole(Context(settings), clock=lambda: FROZEN, cursor_blink=False)


async def wait_for(pilot, condition, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("the screen did not reach the expected state in time")


def models_table(app) -> DataTable:
    return app.screen.query_one("#models", DataTable)


def versions_table(app) -> DataTable:
    return app.screen.query_one("#versions", DataTable)


def row_keys(table: DataTable) -> list[str]:
    return [row.key.value for row in table.ordered_rows]


async def loaded(pilot, app) -> None:
    await wait_for(pilot, lambda: isinstance(app.screen, CatalogScreen) and models_table(app).row_count > 0
                   and versions_table(app).row_count > 0)


async def test_filter_narrows_as_you_type_and_keys_work_from_the_first_frame(catalog_file, tmp_path):
    app = make_app(catalog_file, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        assert len(row_keys(models_table(app))) == 12
        # Typing without "/" does not reach the filter: "s" sorts, it is not text.
        await pilot.press("s")
        assert app.screen.query_one("#catalog-filter", Input).value == ""
        await pilot.press("slash", "f", "r")
        await wait_for(pilot, lambda: len(row_keys(models_table(app))) < 12)
        narrowed = row_keys(models_table(app))
        assert "fraud-detector" in narrowed and "credit-risk" not in narrowed
        await pilot.press("a", "u", "d")
        await wait_for(pilot, lambda: row_keys(models_table(app)) == ["fraud-detector"])
        await pilot.press("enter")  # leaves the filter; now keys are commands again
        assert isinstance(app.focused, DataTable)
        await pilot.press("2")
        await wait_for(pilot, lambda: app.current_mode == "pipelines")
        await pilot.press("1")
        await wait_for(pilot, lambda: app.current_mode == "catalog")
        assert app.screen.query_one("#catalog-filter", Input).value == "fraud"


async def test_home_end_and_g_G_go_to_the_first_and_last_row_of_each_table(catalog_file, tmp_path):
    app = make_app(catalog_file, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        for table in (models_table(app), versions_table(app)):
            table.focus()
            await pilot.pause()
            last = table.row_count - 1
            assert last > 5
            for key, row in (("end", last), ("home", 0), ("G", last), ("g", 0)):
                await pilot.press(key)
                await wait_for(pilot, lambda table=table, row=row: table.cursor_row == row)


async def test_esc_in_the_filter_clears_it_and_leaves_it(catalog_file, tmp_path):
    app = make_app(catalog_file, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        await pilot.press("slash", *"fraud")
        await wait_for(pilot, lambda: row_keys(models_table(app)) == ["fraud-detector"])
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(row_keys(models_table(app))) == 12)
        assert app.screen.query_one("#catalog-filter", Input).value == ""
        assert app.focused is models_table(app)
        await pilot.press("s")  # a command again, not text
        assert app.screen.query_one("#catalog-filter", Input).value == ""


async def test_version_detail_shows_user_text_literally(catalog_file, tmp_path):
    app = make_app(catalog_file, tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await loaded(pilot, app)
        await pilot.press("slash", *"ranker[v", "enter")
        await wait_for(pilot, lambda: row_keys(models_table(app)) == ["ranker[v2]"])
        await wait_for(pilot, lambda: "ranker[v2]" in str(app.screen.query_one("#detail-body", Static).render()))
        detail = str(app.screen.query_one("#detail-body", Static).render())
        assert "[b]do not[/b]" in detail and "[red]beta[/red]" in detail
        assert "[experimental]" in detail


async def test_compare_two_versions_colours_better_and_worse(catalog_file, tmp_path):
    app = make_app(catalog_file, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("slash", *"fraud-detector", "enter")
        await wait_for(pilot, lambda: row_keys(models_table(app)) == ["fraud-detector"])
        await wait_for(pilot, lambda: versions_table(app).row_count == 40)
        await pilot.press("tab")  # to the versions table
        assert app.focused is versions_table(app)
        await pilot.press("c", "down", "c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and app.focused is not None)
        compare = app.screen
        first, second = compare.a, compare.b
        assert (first.version, second.version) == ("40", "39")
        table = compare.query_one("#compare", DataTable)
        rows = {str(table.get_row_at(i)[0]): table.get_row_at(i) for i in range(table.row_count)}
        metric_rows = {k: v for k, v in rows.items() if k.startswith("metric ")}
        assert metric_rows, "metrics are compared"
        for label, (_, a, b, delta) in metric_rows.items():
            name = label.removeprefix("metric ")
            va, vb = float(str(a)), float(str(b))
            if va == vb:
                continue
            lower_better = any(w in name for w in ("loss", "error", "rmse", "mae"))
            better = vb < va if lower_better else vb > va
            assert ("green" if better else "red") in str(b.style), label
            assert str(delta).endswith(" ✓" if better else " ✗"), label  # a symbol too, for NO_COLOR
        params = [k for k in rows if k.startswith("param ")]
        assert params, "hyperparameters are compared"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, CatalogScreen))


async def move_alias(pilot, app, reason: str | None) -> ConfirmChangeScreen:
    await pilot.press("slash", *"fraud-detector", "enter")
    await wait_for(pilot, lambda: row_keys(models_table(app)) == ["fraud-detector"])
    await wait_for(pilot, lambda: versions_table(app).row_count == 40)
    await pilot.press("tab", "a")  # newest version (40) is selected
    await wait_for(pilot, lambda: app.screen.query("#alias-name") and app.focused is not None)
    assert app.screen.query_one("#alias-name", Input).value == ""  # nothing chosen for the user
    await pilot.press("enter")  # empty: refused in place, the modal stays
    await pilot.pause(0.1)
    assert "Type an alias name" in str(app.screen.query_one("#alias-error", Static).render())
    await pilot.press(*"Prod!", "enter")  # invalid: refused in place, what was typed is kept
    await pilot.pause(0.1)
    assert "not valid" in str(app.screen.query_one("#alias-error", Static).render())
    assert app.screen.query_one("#alias-name", Input).value == "Prod!"
    await pilot.press(*["backspace"] * 5, *"production", "enter")
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmChangeScreen) and app.focused is not None)
    confirm = app.screen
    assert confirm.change.lines == ["fraud-detector alias production: 39 -> 40"]
    assert app.focused.id == "confirm-cancel"  # cancel is the default
    if reason is None:
        await pilot.press("enter")
    else:
        await pilot.press("shift+tab", *reason, "enter")
    return confirm


async def test_alias_move_is_confirmed_applied_and_audited(catalog_file, tmp_path):
    app = make_app(catalog_file, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await move_alias(pilot, app, "promote v40 after review")
        await wait_for(pilot, lambda: app.ctx.audit.list())
        await wait_for(pilot, lambda: isinstance(app.screen, CatalogScreen))
    [row] = app.ctx.audit.list()
    assert (row.action, row.target, row.outcome) == ("catalog.set_alias", "fraud-detector@production", "applied")
    assert row.reason == "promote v40 after review"
    assert row.before["version"] == "39" and row.after["version"] == "40"
    catalog = Catalog(catalog_file)
    assert catalog.aliases("fraud-detector")["production"] == "40"
    catalog.close()


async def test_alias_cancel_changes_nothing_but_is_audited(catalog_file, tmp_path):
    app = make_app(catalog_file, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await move_alias(pilot, app, None)
        await wait_for(pilot, lambda: app.ctx.audit.list())
    assert [row.outcome for row in app.ctx.audit.list()] == ["cancelled"]
    catalog = Catalog(catalog_file)
    assert catalog.aliases("fraud-detector")["production"] == "39"
    catalog.close()


async def test_read_only_refuses_alias_change_and_shows_the_lock(catalog_file, tmp_path):
    app = make_app(catalog_file, tmp_path, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        assert "READ-ONLY" in str(app.screen.query_one("StatusHeader").render())
        await pilot.press("tab", "a")
        await wait_for(pilot, lambda: app.screen.query("#alias-name") and app.focused is not None)
        await pilot.press(*"production", "enter")
        await wait_for(pilot, lambda: app.ctx.audit.list())
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ConfirmChangeScreen)
    [row] = app.ctx.audit.list()
    assert row.outcome == "refused: read-only"


async def test_corrupt_catalog_is_a_panel_state_not_a_crash(tmp_path):
    bad = tmp_path / "catalog.db"
    bad.write_bytes(b"this is not a database at all" * 100)
    app = make_app(bad, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "unavailable" in str(app.screen.query_one("#detail-body", Static).render()))
        assert str(bad) in str(app.screen.query_one("#detail-body", Static).render())
        await pilot.press("3")
        await wait_for(pilot, lambda: app.current_mode == "rollouts")
    assert bad.read_bytes() == b"this is not a database at all" * 100


async def test_help_lists_every_key_of_the_screen(catalog_file, tmp_path):
    app = make_app(catalog_file, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        await pilot.press("question_mark")
        await pilot.pause(0.1)
        text = str(app.screen.query_one("#help-body Static", Static).render())
        for binding in CatalogScreen.BINDINGS:
            assert binding.description in text
        for name in ("Catalog", "Pipelines", "Rollouts", "Drift", "Quit"):
            assert name in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, CatalogScreen))


def snapshot_app(catalog_file, tmp_path):
    """The header shows the catalog path, so snapshots use one fixed path."""
    fixed = Path(tempfile.gettempdir()) / "mlops-console-snapshots" / "catalog.db"
    fixed.parent.mkdir(exist_ok=True)
    shutil.copy(catalog_file, fixed)
    for suffix in ("-wal", "-shm"):
        Path(f"{fixed}{suffix}").unlink(missing_ok=True)
    return make_app(fixed, tmp_path)


async def _settle(pilot) -> None:
    app = pilot.app
    await loaded(pilot, app)
    await app.workers.wait_for_complete()
    await pilot.pause(0.1)


def test_snapshot_catalog_80x24(snap_compare, catalog_file, tmp_path):
    assert snap_compare(snapshot_app(catalog_file, tmp_path), terminal_size=(80, 24), run_before=_settle)


def test_snapshot_catalog_filtered_120x35(snap_compare, catalog_file, tmp_path):
    async def run_before(pilot):
        await _settle(pilot)
        await pilot.press("slash", *"fraud", "enter")
        await wait_for(pilot, lambda: row_keys(models_table(pilot.app)) == ["fraud-detector"])
        await wait_for(pilot, lambda: versions_table(pilot.app).row_count == 40)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.1)

    assert snap_compare(snapshot_app(catalog_file, tmp_path), terminal_size=(120, 35), run_before=run_before)


def test_snapshot_help(snap_compare, catalog_file, tmp_path):
    async def run_before(pilot):
        await _settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.1)

    assert snap_compare(snapshot_app(catalog_file, tmp_path), terminal_size=(80, 24), run_before=run_before)


async def test_keys_typed_in_one_burst_after_slash_reach_the_filter(catalog_file, tmp_path):
    """Over slow SSH "/fra" can arrive as one read: none of it may run as a command."""
    from textual import events

    app = make_app(catalog_file, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        for character, key in (("/", "slash"), ("f", "f"), ("r", "r"), ("a", "a")):
            app.post_message(events.Key(key, character))
        await wait_for(pilot, lambda: app.screen.query_one("#catalog-filter", Input).value == "fra")
        await wait_for(pilot, lambda: row_keys(models_table(app)) == ["fraud-detector"])
        assert app.ctx.audit.list() == [] and isinstance(app.screen, CatalogScreen)


async def test_compare_fits_both_versions_at_80_columns(catalog_file, tmp_path):
    """Long values (data URIs) must not push the second version off screen."""
    app = make_app(catalog_file, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash", *"fraud-detector", "enter")
        await wait_for(pilot, lambda: versions_table(app).row_count == 40)
        await pilot.press("tab", "c", "down", "c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and app.focused is not None)
        await pilot.pause(0.1)
        table = app.screen.query_one("#compare", DataTable)
        assert table.virtual_size.width <= table.scrollable_content_region.width


def spy(monkeypatch, obj, name: str, calls: list[str]) -> None:
    original = getattr(obj, name)

    def wrapper(*args, **kwargs):
        calls.append(name)
        return original(*args, **kwargs)

    monkeypatch.setattr(obj, name, wrapper)


async def reload_and_count(pilot, app, monkeypatch) -> dict[str, list[str]]:
    """Press r and return the table and detail writes it caused, per widget."""
    screen = app.screen
    calls: dict[str, list[str]] = {"models": [], "versions": [], "detail": []}
    for table, key in ((models_table(app), "models"), (versions_table(app), "versions")):
        for name in ("clear", "add_row", "add_column", "update_cell", "move_cursor"):
            spy(monkeypatch, table, name, calls[key])
    spy(monkeypatch, screen.query_one("#detail-body", Static), "update", calls["detail"])
    models_before, versions_before = screen.shown_models_generation, screen.shown_versions_generation
    await pilot.press("r")
    await wait_for(pilot, lambda: screen.shown_models_generation > models_before
                   and screen.shown_versions_generation > versions_before)
    await app.workers.wait_for_complete()
    await pilot.pause()
    return calls


async def test_a_refresh_whose_data_did_not_change_redraws_nothing(catalog_file, tmp_path, monkeypatch):
    app = make_app(catalog_file, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        await pilot.press("down", "down")  # a model other than the first is selected
        await wait_for(pilot, lambda: app.screen.model == row_keys(models_table(app))[2]
                       and versions_table(app).row_count > 0 and app.screen._versions_total > 0)
        await app.workers.wait_for_complete()
        await pilot.pause()
        selected = app.screen.model
        calls = await reload_and_count(pilot, app, monkeypatch)
        assert calls == {"models": [], "versions": [], "detail": []}
        assert app.screen.model == selected and models_table(app).cursor_row == 2


async def test_a_refresh_after_an_alias_moved_elsewhere_updates_only_those_cells(catalog_file, tmp_path, monkeypatch):
    app = make_app(catalog_file, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash", *"fraud-detector", "enter")
        await wait_for(pilot, lambda: row_keys(models_table(app)) == ["fraud-detector"])
        await wait_for(pilot, lambda: versions_table(app).row_count == 40)
        await app.workers.wait_for_complete()
        with Catalog(catalog_file) as other:  # another console moves production 39 -> 40
            other.set_alias("fraud-detector", "production", "40", expected="39")
        calls = await reload_and_count(pilot, app, monkeypatch)
        assert "clear" not in calls["models"] + calls["versions"]
        assert "add_row" not in calls["models"] + calls["versions"]
        assert calls["models"] == ["update_cell"]  # the aliases cell
        assert calls["versions"] == ["update_cell", "update_cell"]  # 40 gains production, 39 loses it
        assert "production" in str(versions_table(app).get_row("40")[3])
        assert "production" not in str(versions_table(app).get_row("39")[3])


# -- what the screen shows, without the screen ----------------------------------------------------

def version(number: str, **fields) -> object:
    from adapters.catalog_records import VersionRecord

    base = dict(model="m", version=number, aliases=[], description=None, tags=[], author="ana", created_at=None,
                training_data=None, hyperparameters={}, metrics={}, artifact_uri=None, framework=None,
                framework_version=None, environment={}, run_id=None, reference_histograms={})
    base.update(fields)
    return VersionRecord(**base)


def test_compare_judges_each_metric_by_its_direction():
    from console.catalog_view import compare_rows

    a = version("1", metrics={"test": {"auc": 0.8, "log_loss": 0.3}, "latency_ms": 20}, hyperparameters={"depth": 4})
    b = version("2", metrics={"test": {"auc": 0.9, "log_loss": 0.4}, "latency_ms": 20}, hyperparameters={"depth": 6})
    rows = {row.label: row for row in compare_rows(a, b)}
    assert (rows["metric test.auc"].verdict, rows["metric test.auc"].delta) == ("better", "+0.1 ✓")
    assert (rows["metric test.log_loss"].verdict, rows["metric test.log_loss"].delta) == ("worse", "+0.1 ✗")
    assert (rows["metric latency_ms"].verdict, rows["metric latency_ms"].delta) == ("", "+0")
    assert (rows["param depth"].a, rows["param depth"].b, rows["param depth"].verdict) == ("4", "6", "changed")
    assert rows["author"].verdict == ""


def test_rows_put_the_aliases_looked_for_first_first():
    from adapters.catalog_records import ModelSummary
    from console.catalog_view import model_cells, version_cells

    summary = ModelSummary("m", 3, {"staging": "3", "champion": "2", "production": "1", "a-b": "3"}, "3", None,
                           None, [], None)
    assert model_cells(summary) == ("m", "3", "production=1, champion=2, staging=3, a-b=3")
    record = version("3", aliases=["staging", "a-b", "canary"], metrics={"test": {"auc": 0.91234}},
                     created_at="2026-11-20T09:30:00Z")
    assert version_cells(record, "test.auc", marked=True) == ("● 3", "2026-11-20", "0.9123", "canary, staging, a-b",
                                                               "ana")


async def test_the_first_frame_shows_the_first_page_of_models(catalog_file, tmp_path, monkeypatch):
    """Issue 10 s.5: one full render with the rows, not an empty frame and then the rows (a
    catalog slower than FIRST_PAGE_WAIT still gets its rows after the first frame)."""
    from textual.app import App

    frames: list[int] = []
    display = App._display

    def counting_display(self, screen, renderable):
        if renderable is not None and isinstance(screen, CatalogScreen) and not frames:
            frames.append(screen.query_one("#models", DataTable).row_count)
        return display(self, screen, renderable)

    monkeypatch.setattr(App, "_display", counting_display)
    settings = Settings(catalog=catalog_file, audit=tmp_path / "audit.db")
    app = MlopsConsole(Context(settings), clock=lambda: FROZEN, cursor_blink=False, first_screen="catalog")
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
    assert frames and frames[0] > 0, frames
