"""Issue 10 §5: what the console's first frame waits for. The figures come from
tests/bench/bench_app.py; these tests keep the causes out: opening the console parses only the
console's own options, building the full parser does not import the sandbox, browsing the catalog
does not import sqlite-utils, and sqlite-utils comes without pandas and numpy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from console.cli import build_parser, parse_ui_only
from pilot_wait import wait_for

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str, tmp_path: Path) -> str:
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_STATE_HOME": str(tmp_path / "state"), "KUBECONFIG": str(tmp_path / "none"), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=True).stdout


@pytest.mark.parametrize("argv", [[], ["--screen", "catalog"], ["--catalog", "c.db", "--screen", "drift"],
                                  ["-n", "fraud", "--context", "prod", "--read-only"], ["--cat", "c.db"]])
def test_opening_the_console_parses_as_the_full_parser_does(argv):
    fast = parse_ui_only(argv)
    assert fast is not None
    assert vars(fast) == vars(build_parser().parse_args(argv))


@pytest.mark.parametrize("argv", [["-h"], ["--version"], ["ui"], ["catalog", "list"], ["--screen", "nope"],
                                  ["--catalog"], ["--bogus"], ["--c", "x"]])
def test_anything_else_goes_to_the_full_parser(argv):
    assert parse_ui_only(argv) is None


def test_opening_the_console_imports_no_command_group(tmp_path):
    code = ("import sys, json\nimport console.cli as cli\n"
            "cli.run_ui = lambda args, ctx: print(json.dumps(sorted(sys.modules))) or 0\n"
            "cli.main(['--catalog', 'none.db', '--screen', 'catalog'])\n")
    loaded = json.loads(run_python(code, tmp_path))
    assert not [m for m in loaded if m.startswith(("console.commands", "console.sandbox"))]


def test_the_full_parser_does_not_import_the_sandbox(tmp_path):
    code = "import sys, json\nfrom console.cli import build_parser\nbuild_parser()\nprint(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(run_python(code, tmp_path))
    assert not [m for m in loaded if m.startswith("console.sandbox") or m in ("ssl", "http.server")]


def test_browsing_the_catalog_does_not_import_sqlite_utils(tmp_path):
    path = tmp_path / "c.db"
    run_python(f"from adapters.catalog import Catalog\nCatalog({str(path)!r}).close()", tmp_path)  # schema written
    code = (f"import sys, json\nfrom adapters.catalog import Catalog\nc = Catalog({str(path)!r}, create=False)\n"
            "c.count_models(None)\nc.list_models(limit=60)\nprint(json.dumps(sorted(sys.modules)))")
    loaded = json.loads(run_python(code, tmp_path))
    assert not [m for m in loaded if m.split(".")[0] in ("sqlite_utils", "pandas", "numpy")]


def test_sqlite_utils_comes_without_pandas_or_numpy(tmp_path):
    pytest.importorskip("pandas")  # installed with mlflow (test extras): what sqlite-utils would import
    code = ("import sys, json\nfrom adapters.sqlite_lib import load_sqlite_utils\n"
            "db = load_sqlite_utils().Database(memory=True)\ndb['t'].insert({'a': 1})\n"
            "print(json.dumps(sorted(sys.modules)))")
    loaded = json.loads(run_python(code, tmp_path))
    assert "sqlite_utils" in loaded
    assert not [m for m in loaded if m.split(".")[0] in ("pandas", "numpy")]


def test_the_collector_runs_rarely_from_start_up_until_the_app_runs(tmp_path):
    code = ("import gc, json\nimport console.app\n"
            "console.app.run_app = lambda ctx, screen: print(json.dumps(gc.get_threshold())) or 0\n"
            "import console.cli as cli\ncli.main(['--catalog', 'none.db', '--screen', 'catalog'])\n")
    from console.startup import STARTUP_GEN0_THRESHOLD

    assert json.loads(run_python(code, tmp_path))[0] == STARTUP_GEN0_THRESHOLD


def _catalog_app(tmp_path: Path):
    from adapters.catalog import Catalog
    from console.app import MlopsConsole
    from console.config import Settings
    from console.context import Context

    catalog = tmp_path / "catalog.db"
    with Catalog(catalog) as writer:
        writer.import_records([{"model": f"model-{number}", "version": "1", "created_at": "2026-11-01T00:00:00Z",
                                "author": "ana"} for number in range(1, 4)])
    settings = Settings(catalog=catalog, audit=tmp_path / "audit.db")
    return MlopsConsole(Context(settings), cursor_blink=False, first_screen="catalog")


async def test_the_collector_runs_as_usual_once_the_first_frame_is_drawn(tmp_path):
    import gc

    from console import startup

    usual = gc.get_threshold()
    startup.collect_rarely()
    try:
        app = _catalog_app(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: gc.get_threshold() == usual, what="the usual collector")
            assert app.screen.query_one("#models").row_count == 3  # drawn: the app is ready
    finally:
        gc.set_threshold(*usual)


async def test_no_frame_is_rendered_while_the_app_batches_its_start_up(tmp_path, monkeypatch):
    """Textual drops what is rendered during a batch (all its start-up is one): rendering it was
    half the first frame's render work. The screen waits for the batch's end instead."""
    from textual._compositor import Compositor

    batches_at_render: list[int] = []
    render_update = Compositor.render_update

    def recording_render_update(self, *args, **kwargs):
        batches_at_render.append(app._batch_count)
        return render_update(self, *args, **kwargs)

    monkeypatch.setattr(Compositor, "render_update", recording_render_update)
    app = _catalog_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one("#versions").row_count == 1, what="the versions")
        await pilot.pause()
    assert batches_at_render and set(batches_at_render) == {0}, batches_at_render


async def test_the_first_page_is_put_in_the_table_once(tmp_path, monkeypatch):
    """on_mount shows the first page before the first frame; its message, arriving after, is not
    shown again (a second full table write for the same rows)."""
    from screens.list_table import ListTable

    shown: list[str] = []
    show_rows = ListTable.show_rows

    def recording_show_rows(self, rows):
        shown.append(self.id)
        return show_rows(self, rows)

    monkeypatch.setattr(ListTable, "show_rows", recording_show_rows)
    app = _catalog_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one("#versions").row_count == 1, what="the versions")
        await pilot.pause(0.2)
    assert shown.count("models") == 1, shown


def test_the_catalog_screen_opens_without_the_action_path(tmp_path):
    """The action path (journal, confirm modal, alias and compare modals) loads with the first
    change, not on the first frame's path."""
    code = ("import asyncio, json, sys\nfrom pathlib import Path\n"
            "from adapters.catalog import Catalog\nfrom console.app import MlopsConsole\n"
            "from console.config import Settings\nfrom console.context import Context\n"
            f"tmp = Path({str(tmp_path)!r})\n"
            "with Catalog(tmp / 'c.db') as c:\n"
            "    c.import_records([{'model': 'm', 'version': '1', 'created_at': '2026-11-01T00:00:00Z'}])\n"
            "async def main():\n"
            "    app = MlopsConsole(Context(Settings(catalog=tmp / 'c.db', audit=tmp / 'a.db')), first_screen='catalog')\n"
            "    async with app.run_test() as pilot:\n"
            "        while app.screen.query_one('#versions').row_count < 1:\n"
            "            await pilot.pause(0.05)\n"
            "    print(json.dumps(sorted(sys.modules)))\n"
            "asyncio.run(main())\n")
    loaded = set(json.loads(run_python(code, tmp_path).splitlines()[-1]))
    assert "screens.catalog" in loaded
    assert not loaded & {"console.actions", "console.audit", "screens.confirm", "screens.catalog_modals",
                         "console.catalog_actions"}
