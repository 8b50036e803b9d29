"""A read command never writes (issue 8, section 6): `catalog list` (and show, and the console's
Catalog screen) on a file that is not a catalog refuse it and leave it byte-identical with the same
mtime; only `catalog import` and `catalog alias` create a schema."""

from __future__ import annotations

import os

import pytest

from adapters.catalog import Catalog
from adapters.errors import DataError
from console.cli import main


def fingerprint(path):
    stat = os.stat(path)
    return path.read_bytes(), stat.st_mtime_ns, stat.st_size


def side_files(path):
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.name))


@pytest.mark.parametrize("command", [["catalog", "list"], ["catalog", "list", "--json"], ["catalog", "show", "m"]])
def test_reading_an_empty_file_refuses_it_untouched(tmp_path, capsys, command):
    path = tmp_path / "catalog.db"
    path.touch()
    before = fingerprint(path)
    code = main(["--catalog", str(path), *command])
    out, err = capsys.readouterr()
    assert code == DataError.exit_code and out == ""
    assert err.count("\n") == 1 and str(path) in err and "not an mlops-console catalog" in err
    assert "catalog import" in err  # what to do
    assert fingerprint(path) == before and side_files(path) == ["catalog.db"]


def test_the_adapter_opened_for_reading_refuses_an_empty_file(tmp_path):
    path = tmp_path / "catalog.db"
    path.touch()
    before = fingerprint(path)
    with pytest.raises(DataError, match="not an mlops-console catalog"):
        Catalog(path, create=False)
    assert fingerprint(path) == before
    with Catalog(path) as catalog:  # the writers' way of opening still creates the schema
        assert catalog.list_models() == []
    assert path.stat().st_size > 0


def test_only_import_and_alias_create(tmp_path, capsys):
    src = tmp_path / "records.jsonl"
    src.write_text('{"model": "m", "version": "1"}\n')
    path = tmp_path / "catalog.db"
    path.touch()
    assert main(["--catalog", str(path), "catalog", "list"]) == DataError.exit_code
    assert path.stat().st_size == 0
    assert main(["--catalog", str(path), "catalog", "import", str(src)]) == 0
    assert main(["--catalog", str(path), "catalog", "alias", "m:1", "production", "--yes", "--reason", "r"]) == 0
    capsys.readouterr()
    assert main(["--catalog", str(path), "catalog", "list", "--json"]) == 0
    assert '"production": "1"' in capsys.readouterr().out


async def test_the_console_browsing_an_empty_file_leaves_it_untouched(tmp_path):
    from textual.widgets import Static

    from console.app import MlopsConsole
    from console.config import Settings
    from console.context import Context

    path = tmp_path / "catalog.db"
    path.touch()
    before = fingerprint(path)
    app = MlopsConsole(Context(Settings(catalog=path, audit=tmp_path / "audit.db")), cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(200):
            status = " ".join(str(s.render()) for s in app.screen.query(Static))
            if "not an mlops-console catalog" in status:
                break
            await pilot.pause(0.05)
        assert "not an mlops-console catalog" in status
    assert fingerprint(path) == before
