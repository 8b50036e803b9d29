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
