"""`mlops-console catalog ...` through console.cli.main: JSON on stdout, one line on stderr,
exit codes (0 ok, 2 bad input, others for other failures), and the audit rows of changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from console.cli import main

RECORDS = [
    {"model": "fraud-detector", "version": "1", "description": "Card fraud scoring", "tags": ["payments"],
     "created_at": "2026-01-01T00:00:00Z", "metrics": {"test": {"auc": 0.81}}},
    {"model": "fraud-detector", "version": "2", "aliases": ["production"], "description": "Card fraud scoring",
     "tags": ["payments", "tier-1"], "author": "ana", "created_at": "2026-02-01T00:00:00Z",
     "training_data": {"uri": "s3://d/t.parquet", "hash": "sha256:00", "rows": 10},
     "hyperparameters": {"eta": 0.1, "depth": 6}, "metrics": {"test": {"auc": 0.93}, "train": {"auc": 0.97}},
     "artifact_uri": "s3://mlops-models/fraud-detector/v2", "framework": "xgboost", "framework_version": "2.0.3",
     "environment": {"gpu_count": 0, "memory_gib": 32}, "run_id": "run-2",
     "reference_histograms": {"amount": {"edges": [0, 1, 2], "counts": [3, 4]}}},
    {"model": "ranker[v2]", "version": "3", "description": "[b]do not[/b] serve", "tags": ["[experimental]"]},
    {"model": "team:model", "version": "1"},
]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def catalog(tmp_path, capsys) -> Path:
    src = tmp_path / "records.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    path = tmp_path / "catalog.db"
    code, out, err = run(capsys, "--catalog", str(path), "catalog", "import", str(src))
    assert (code, err) == (0, "")
    assert "4 inserted, 0 updated, 0 unchanged" in out
    return path


def test_list_json(capsys, catalog):
    code, out, err = run(capsys, "catalog", "list", "--json", "--catalog", str(catalog))  # global option after
    assert code == 0 and err == ""
    rows = json.loads(out)
    assert [r["model"] for r in rows] == ["fraud-detector", "ranker[v2]", "team:model"]
    assert rows[0]["versions"] == 2 and rows[0]["aliases"] == {"production": "2"}
    code, out, _ = run(capsys, "--catalog", str(catalog), "catalog", "list", "--filter", "tier", "--json")
    assert [r["model"] for r in json.loads(out)] == ["fraud-detector"]


def test_list_human_is_literal_and_aligned(capsys, catalog):
    code, out, _ = run(capsys, "--catalog", str(catalog), "catalog", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["MODEL", "VERSIONS", "LATEST", "CREATED", "ALIASES", "FRAMEWORK", "DESCRIPTION"]
    assert any(line.startswith("ranker[v2] ") and "[b]do not[/b] serve" in line for line in lines)
    col = lines[0].index("VERSIONS")
    assert all(line[col:col + 1].strip() for line in lines[1:4])
    assert lines[-1] == "3 models"


def test_show_model_json(capsys, catalog):
    code, out, err = run(capsys, "--catalog", str(catalog), "catalog", "show", "fraud-detector", "--json")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["model"] == "fraud-detector"
    assert [v["version"] for v in data["versions"]] == ["2", "1"]  # newest first
    assert data["aliases"] == {"production": "2"}
    code, out, _ = run(capsys, "--catalog", str(catalog), "catalog", "show", "fraud-detector",
                       "--sort", "metric:test.auc", "--ascending", "--json")
    assert [v["version"] for v in json.loads(out)["versions"]] == ["1", "2"]


def test_show_version_json_has_every_key_unchanged(capsys, catalog):
    code, out, err = run(capsys, "--catalog", str(catalog), "catalog", "show", "fraud-detector:2", "--json")
    assert code == 0 and err == ""
    assert json.loads(out) == RECORDS[1]
    code, out, _ = run(capsys, "--catalog", str(catalog), "catalog", "show", "ranker[v2]:3", "--json")
    assert json.loads(out) == RECORDS[2]
    # a model whose name holds ':' is shown whole; MODEL:VERSION splits on the last ':'
    code, out, _ = run(capsys, "--catalog", str(catalog), "catalog", "show", "team:model", "--json")
    assert json.loads(out)["model"] == "team:model"
    code, out, _ = run(capsys, "--catalog", str(catalog), "catalog", "show", "team:model:1", "--json")
    assert json.loads(out) == RECORDS[3]


def test_show_human(capsys, catalog):
    code, out, _ = run(capsys, "--catalog", str(catalog), "catalog", "show", "fraud-detector:2")
    assert code == 0
    assert out.splitlines()[0] == "fraud-detector:2"
    assert "production" in out and "s3://mlops-models/fraud-detector/v2" in out and "2 bins over [0, 2], 7 rows" in out
    code, out, _ = run(capsys, "--catalog", str(catalog), "catalog", "show", "fraud-detector")
    assert "VERSION" in out and "test.auc" in out and "0.93" in out


def test_not_found_and_bad_input_exit_codes(capsys, catalog, tmp_path):
    code, out, err = run(capsys, "--catalog", str(catalog), "catalog", "show", "nope")
    assert (code, out) == (5, "") and err.startswith("mlops-console: model 'nope' is not in catalog")
    code, _, err = run(capsys, "--catalog", str(catalog), "catalog", "show", "fraud-detector:9")
    assert code == 5 and "fraud-detector:9" in err and err.count("\n") == 1
    code, _, err = run(capsys, "--catalog", str(catalog), "catalog", "show", "fraud-detector", "--sort", "metric:loss")
    assert code == 2 and "no metric 'loss'" in err
    code, _, err = run(capsys, "--catalog", str(tmp_path / "missing.db"), "catalog", "list")
    assert code == 5 and "does not exist" in err
    assert not (tmp_path / "missing.db").exists()
    with pytest.raises(SystemExit) as info:
        main(["catalog", "list", "--bogus"])
    assert info.value.code == 2


def test_bad_record_exit_2_and_nothing_imported(capsys, catalog, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"model": "new", "version": "1"}) + "\n"
                   + json.dumps({"model": "new", "version": "2", "metrics": {"auc": "high"}}) + "\n")
    code, out, err = run(capsys, "--catalog", str(catalog), "catalog", "import", str(bad))
    assert code == 2 and out == ""
    assert err == f"mlops-console: {bad} line 2: field 'metrics.auc' must be a number (or an object of split metrics), not a string\n"
    code, out, _ = run(capsys, "--catalog", str(catalog), "catalog", "list", "--json")
    assert "new" not in [r["model"] for r in json.loads(out)]
    code, _, err = run(capsys, "--catalog", str(catalog), "catalog", "import", str(tmp_path / "none.json"))
    assert code == 2 and "no such file" in err


def test_import_is_idempotent_and_audited(capsys, catalog, tmp_path):
    src = tmp_path / "records.jsonl"
    code, out, _ = run(capsys, "--catalog", str(catalog), "catalog", "import", str(src), "--json", "--reason", "again")
    assert code == 0 and json.loads(out)["unchanged"] == 4
    code, out, _ = run(capsys, "audit", "list", "--json")
    rows = [r for r in json.loads(out) if r["action"] == "catalog.import"]
    assert [r["outcome"] for r in rows] == ["applied", "applied"]
    assert rows[0]["reason"] == "again" and rows[0]["after"]["unchanged"] == 4


def test_read_only_refuses_import_and_alias(capsys, catalog, tmp_path, monkeypatch):
    src = tmp_path / "records.jsonl"
    before = catalog.read_bytes()
    code, out, err = run(capsys, "--catalog", str(catalog), "--read-only", "catalog", "import", str(src))
    assert code == 7 and out == "" and "read-only" in err
    monkeypatch.setenv("MLOPS_CONSOLE_READ_ONLY", "1")
    code, _, err = run(capsys, "--catalog", str(catalog), "catalog", "alias", "fraud-detector:1", "champion",
                       "--yes", "--reason", "r")
    assert code == 7 and "read-only" in err
    assert catalog.read_bytes() == before
    code, out, _ = run(capsys, "--catalog", str(catalog), "catalog", "list", "--json")
    assert code == 0  # reading still works


def test_alias_through_the_action_path(capsys, catalog):
    code, out, err = run(capsys, "--catalog", str(catalog), "catalog", "alias", "fraud-detector:1", "production",
                         "--yes", "--reason", "roll back the bad model")
    assert code == 0, err
    assert "production: 2 -> 1" in err
    code, out, _ = run(capsys, "--catalog", str(catalog), "catalog", "list", "--json")
    assert json.loads(out)[0]["aliases"] == {"production": "1"}
    code, out, _ = run(capsys, "audit", "list", "--json")
    row = json.loads(out)[0]
    assert (row["action"], row["outcome"], row["reason"]) == ("catalog.set_alias", "applied", "roll back the bad model")
    assert row["before"]["version"] == "2" and row["after"]["version"] == "1"
    # the same again: a conflict with the current state (6), not bad input (2); journaled as refused
    code, _, err = run(capsys, "--catalog", str(catalog), "catalog", "alias", "fraud-detector:1", "production",
                       "--yes", "--reason", "again")
    assert code == 6 and "already points to version 1" in err
    code, out, _ = run(capsys, "audit", "list", "--json")
    assert json.loads(out)[0]["outcome"] == "refused: conflict"
    code, _, err = run(capsys, "--catalog", str(catalog), "catalog", "alias", "fraud-detector:1", "Bad Alias", "--yes",
                       "--reason", "r")
    assert code == 2 and "not valid" in err
    code, _, err = run(capsys, "--catalog", str(catalog), "catalog", "alias", "fraud-detector", "staging", "--yes",
                       "--reason", "r")
    assert code == 2 and "MODEL:VERSION" in err


def test_corrupt_catalog_is_one_line_not_a_traceback(capsys, tmp_path):
    path = tmp_path / "catalog.db"
    path.write_text("not sqlite at all\n" * 100)
    code, out, err = run(capsys, "--catalog", str(path), "catalog", "list")
    assert code == 8 and out == ""
    assert err.count("\n") == 1 and str(path) in err and "Traceback" not in err


def test_help_on_every_subcommand(capsys):
    for argv in (["catalog", "--help"], ["catalog", "import", "--help"], ["catalog", "list", "--help"],
                 ["catalog", "show", "--help"], ["catalog", "alias", "--help"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 0
        assert "usage:" in capsys.readouterr().out


def test_terminal_escapes_in_user_text_are_shown_not_obeyed(capsys, tmp_path):
    src = tmp_path / "esc.jsonl"
    src.write_text(json.dumps({"model": "m", "version": "1", "description": "red \x1b[31malert\x1b[0m"}) + "\n")
    path = tmp_path / "c.db"
    assert run(capsys, "--catalog", str(path), "catalog", "import", str(src))[0] == 0
    code, out, _ = run(capsys, "--catalog", str(path), "catalog", "list")
    assert "\x1b" not in out and "red \\x1b[31malert\\x1b[0m" in out
    code, out, _ = run(capsys, "--catalog", str(path), "catalog", "show", "m:1", "--json")
    assert json.loads(out)["description"] == "red \x1b[31malert\x1b[0m"  # JSON keeps the value unchanged
