"""The catalog adapter on real SQLite files: import, idempotency, bad input, damaged/foreign/newer
files, read-only file and filesystem, a writer holding the lock, FTS search, sorting, aliases,
and the demo catalog."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from adapters.catalog import Catalog, ImportResult, load_file, version_key
from adapters.errors import BackendUnavailable, Conflict, DataError, InvalidInput, NotFound, ReadOnly

ROOT = Path(__file__).resolve().parent.parent


def rec(model: str, version: str, **extra) -> dict:
    base = {
        "model": model,
        "version": version,
        "description": f"{model} model",
        "tags": ["tabular"],
        "author": "ana",
        "created_at": f"2026-01-{int(version) % 28 + 1:02d}T10:00:00Z" if version.isdigit() else "2026-02-01T00:00:00Z",
        "metrics": {"auc": 0.5 + int(version) / 100 if version.isdigit() else 0.5},
    }
    base.update(extra)
    return base


FULL = {
    "model": "fraud-detector",
    "version": "7",
    "aliases": ["production"],
    "description": "Card fraud; [b]x[/b] stays literal",
    "tags": ["payments", "tier-1"],
    "author": "priya.raman",
    "created_at": "2026-05-01T12:30:00+02:00",
    "training_data": {"uri": "s3://data/fraud/train.parquet", "hash": "sha256:" + "ab" * 32, "rows": 125000},
    "hyperparameters": {"max_depth": 6, "eta": 0.1, "objective": "binary:logistic", "nested": {"a": [1, 2]}},
    "metrics": {"train": {"auc": 0.95, "f1": 0.8}, "test": {"auc": 0.91, "f1": 0.77}},
    "artifact_uri": "s3://mlops-models/fraud-detector/v7",
    "framework": "xgboost",
    "framework_version": "2.0.3",
    "environment": {"cpu_type": "AMD EPYC", "cpu_count": 16, "gpu_type": None, "gpu_count": 0, "memory_gib": 64},
    "run_id": "3f1c9e4e-1111-2222-3333-444455556666",
    "reference_histograms": {"amount": {"edges": [0, 10, 20, 30], "counts": [5, 10, 2]}},
}


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def version_count(path: Path) -> int:
    with Catalog(path, create=False) as c:
        return sum(m.versions for m in c.list_models())


@pytest.fixture
def cat(tmp_path):
    catalog = Catalog(tmp_path / "catalog.db")
    yield catalog
    catalog.close()


# -- import ----------------------------------------------------------------------------------------


def test_jsonl_import_round_trips_every_key_unchanged(tmp_path, cat):
    other = rec("fraud-detector", "6")
    path = write_jsonl(tmp_path / "records.jsonl", [other, FULL])
    result = cat.import_file(path)
    assert result == ImportResult(inserted=2, updated=0, unchanged=0)
    got = cat.get_version("fraud-detector", "7")
    assert got.to_record() == FULL
    assert got.aliases == ["production"]
    assert got.metrics["test"]["auc"] == 0.91
    assert got.training_data["rows"] == 125000
    assert got.reference_histograms["amount"]["counts"] == [5, 10, 2]
    assert got.created_at == "2026-05-01T12:30:00+02:00"  # as imported, not normalised
    # keys not given are omitted, not invented
    assert set(cat.get_version("fraud-detector", "6").to_record()) == set(other)
    summary = cat.list_models()[0]
    assert (summary.model, summary.versions, summary.aliases) == ("fraud-detector", 2, {"production": "7"})
    assert cat.count_versions("fraud-detector") == 2


def test_json_array_import_with_whitespace_and_bom(tmp_path, cat):
    path = tmp_path / "records.json"
    path.write_bytes(b"\xef\xbb\xbf \n[\n  " + json.dumps(FULL).encode() + b" ,\n" + json.dumps(rec("m", "1")).encode() + b"\n]\n")
    assert cat.import_file(path).inserted == 2
    assert cat.get_version("m", "1").to_record() == rec("m", "1")
    labels = [label for label, _ in load_file(path)]
    assert labels == [f"{path} index 0 (line 3)", f"{path} index 1 (line 4)"]


def test_import_is_idempotent_and_detects_changes(tmp_path, cat):
    records = [rec("a", str(i)) for i in range(1, 6)]
    path = write_jsonl(tmp_path / "r.jsonl", records)
    assert cat.import_file(path) == ImportResult(5, 0, 0)
    assert cat.import_file(path) == ImportResult(0, 0, 5)
    # the same records written differently (an indented array, keys reversed) are unchanged too
    reordered = tmp_path / "r.json"
    reordered.write_text(json.dumps([dict(reversed(list(r.items()))) for r in records], indent=4))
    assert cat.import_file(reordered) == ImportResult(0, 0, 5)
    assert cat.import_records(records) == ImportResult(0, 0, 5)
    records[2]["metrics"] = {"auc": 0.99}
    records.append(rec("a", "6"))
    write_jsonl(path, records)
    assert cat.import_file(path) == ImportResult(1, 1, 4)
    assert cat.get_version("a", "3").metrics == {"auc": 0.99}
    assert cat.count_versions("a") == 6
    # the sort index follows the update
    assert cat.list_versions("a", sort="metric:auc")[0].version == "3"


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"metrics": {"auc": "high"}}, "metrics.auc"),
        ({"metrics": {"test": {"auc": True}}}, "metrics.test.auc"),
        ({"created_at": "last tuesday"}, "created_at"),
        ({"tags": "a,b"}, "tags"),
        ({"aliases": ["Production"]}, "aliases[0]"),
        ({"training_data": {"rows": -1}}, "training_data.rows"),
        ({"reference_histograms": {"x": {"edges": [0, 1, 2], "counts": [1]}}}, "reference_histograms.x.counts"),
        ({"reference_histograms": {"x": {"edges": [0, 2, 1], "counts": [1, 1]}}}, "reference_histograms.x.edges[2]"),
        ({"hyperparameters": [1, 2]}, "hyperparameters"),
        ({"metrcs": {}}, "metrcs"),
        ({"version": "1:2"}, "version"),
        ({"model": ""}, "model"),
    ],
)
def test_bad_record_names_line_and_field_and_imports_nothing(tmp_path, cat, bad, field):
    records = [rec("m", str(i)) for i in range(1, 10)]
    records[6] = {**records[6], **bad}
    path = write_jsonl(tmp_path / "records.jsonl", records)
    with pytest.raises(InvalidInput) as info:
        cat.import_file(path)
    assert info.value.message.startswith(f"{path} line 7: field '{field}' ")
    assert "\n" not in info.value.message
    assert cat.count_models() == 0
    # the same in a JSON array names the index
    path2 = tmp_path / "records.json"
    path2.write_text(json.dumps(records, indent=1))
    with pytest.raises(InvalidInput, match=r"index 6 \(line \d+\): field " + re.escape(f"'{field}' ")):
        cat.import_file(path2)
    assert cat.count_models() == 0


def test_missing_required_field_and_non_object(tmp_path, cat):
    with pytest.raises(InvalidInput, match=r"in index 1: field 'version' is required"):
        cat.import_records([rec("m", "1"), {"model": "m"}], source="in")
    with pytest.raises(InvalidInput, match=r"in index 0: a record must be a JSON object, not a list"):
        cat.import_records([[1]], source="in")
    assert cat.count_models() == 0


def test_bad_record_late_in_file_leaves_earlier_import_intact(tmp_path, cat):
    cat.import_records([rec("keep", "1")])
    records = [rec("new", str(i)) for i in range(1, 5000)] + [{"model": "new", "version": "x", "metrics": {"a": None}}]
    with pytest.raises(InvalidInput, match="line 5000: field 'metrics.a'"):
        cat.import_file(write_jsonl(tmp_path / "big.jsonl", records))
    assert [m.model for m in cat.list_models()] == ["keep"]
    assert cat.count_versions("new") == 0
    assert cat.get_version("keep", "1").to_record() == rec("keep", "1")


def test_malformed_json_reports_line_and_column(tmp_path, cat):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(rec("m", "1")) + "\n\n" + '{"model": "m", "version": "2",}\n')
    with pytest.raises(InvalidInput, match=r"r\.jsonl line 3 column \d+: invalid JSON"):
        cat.import_file(path)
    arr = tmp_path / "r.json"
    arr.write_text('[\n {"model": "m", "version": "1"},\n {"model": "m" "version": "2"}\n]')
    with pytest.raises(InvalidInput, match=r"r\.json line 3 column 16: invalid JSON"):
        cat.import_file(arr)
    arr.write_text('[{"model": "m", "version": "1"}')
    with pytest.raises(InvalidInput, match="not closed"):
        cat.import_file(arr)
    nan = tmp_path / "nan.jsonl"
    nan.write_text('{"model": "m", "version": "1", "metrics": {"auc": NaN}}\n')
    with pytest.raises(InvalidInput, match="line 1: invalid JSON: NaN"):
        cat.import_file(nan)
    with pytest.raises(InvalidInput, match="no such file"):
        cat.import_file(tmp_path / "missing.jsonl")
    assert cat.count_models() == 0


def test_duplicates_within_one_file_are_refused(tmp_path, cat):
    with pytest.raises(InvalidInput, match=r"line 3: model 'm' version '1' already appears at .*line 1"):
        cat.import_file(write_jsonl(tmp_path / "d.jsonl", [rec("m", "1"), rec("m", "2"), rec("m", "1")]))
    with pytest.raises(InvalidInput, match=r"alias 'production' of m is also given to version 1"):
        cat.import_records([rec("m", "1", aliases=["production"]), rec("m", "2", aliases=["production"])])
    assert cat.count_models() == 0


def test_aliases_on_import_declare_a_versions_aliases(cat):
    cat.import_records([rec("m", "1", aliases=["production", "champion"]), rec("m", "2")])
    assert cat.aliases("m") == {"champion": "1", "production": "1"}
    cat.import_records([rec("m", "2", aliases=["production"])])  # updated record moves production
    assert cat.aliases("m") == {"champion": "1", "production": "2"}
    assert cat.get_version("m", "1").to_record()["aliases"] == ["champion"]
    cat.import_records([rec("m", "1", aliases=[])])  # updated record drops champion
    assert cat.aliases("m") == {"production": "2"}


# -- files that are not (usable) catalogs -------------------------------------------------------------


def test_non_sqlite_file_is_reported_and_untouched(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 50)
    digest = sha(path)
    with pytest.raises(DataError) as info:
        Catalog(path)
    assert str(path) in info.value.message and "not a SQLite file" in info.value.message
    assert sha(path) == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


def test_corrupt_catalog_is_reported_and_untouched(tmp_path):
    path = tmp_path / "catalog.db"
    with Catalog(path) as c:
        c.import_records([rec(f"model-{i:03d}", str(v), description="x" * 400) for i in range(60) for v in range(1, 6)])
    size = path.stat().st_size
    assert size > 20 * 4096
    data = bytearray(path.read_bytes())
    for offset in range(4096, size, 4096):  # smash every page but the header page
        data[offset:offset + 4096] = os.urandom(4096)
    path.write_bytes(bytes(data))
    digest = sha(path)
    with pytest.raises(DataError) as info:
        with Catalog(path) as c:
            c.list_models()
            c.list_versions("model-001")
    assert str(path) in info.value.message
    assert "corrupt" in info.value.message
    assert sha(path) == digest


def test_foreign_sqlite_database_is_refused(tmp_path):
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (id INTEGER, email TEXT)")
    conn.commit()
    conn.close()
    digest = sha(path)
    with pytest.raises(DataError, match=r"not an mlops-console catalog \(it has tables users\)"):
        Catalog(path)
    assert sha(path) == digest


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "catalog.db"
    Catalog(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 7")
    conn.close()
    digest = sha(path)
    with pytest.raises(DataError) as info:
        Catalog(path)
    assert info.value.message == (f"catalog {path} was written by a newer mlops-console (schema 7 > 2); "
                                  "upgrade mlops-console")
    assert sha(path) == digest


def test_missing_catalog_without_create_is_not_found(tmp_path):
    with pytest.raises(NotFound, match="does not exist"):
        Catalog(tmp_path / "nope.db", create=False)
    assert not (tmp_path / "nope.db").exists()
    with pytest.raises(DataError, match="is a directory"):
        Catalog(tmp_path)


def test_wal_mode_and_schema_version(tmp_path):
    path = tmp_path / "c.db"
    Catalog(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    conn.close()


# -- read-only file and filesystem ---------------------------------------------------------------------
#
# We run as root, and root ignores file permission bits (CAP_DAC_OVERRIDE). Two honest ways
# to meet a real read-only catalog without that: (1) run the child with CAP_DAC_OVERRIDE and
# CAP_DAC_READ_SEARCH dropped from its capability bounding set (setpriv), so the kernel checks
# the 0444 file / 0555 directory bits as it would for any user; (2) a private mount namespace
# (unshare -m) with the directory bind-mounted read-only, so writes fail with EROFS. Each test
# first checks that its sandbox really refuses a plain write, and skips cleanly if the machine
# does not allow it.

CHILD = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    from adapters.catalog import Catalog
    from adapters.errors import ConsoleError
    out = {}
    try:
        with Catalog(sys.argv[2]) as c:
            out["models"] = [m.model for m in c.list_models()]
            out["read_only"] = c.read_only
            try:
                c.import_records([{"model": "new", "version": "1"}])
                out["import"] = "ok"
            except ConsoleError as e:
                out["import"] = [type(e).__name__, e.message]
            try:
                c.set_alias("m", "production", "1", expected=None)
                out["alias"] = "ok"
            except ConsoleError as e:
                out["alias"] = [type(e).__name__, e.message]
    except ConsoleError as e:
        out["open"] = [type(e).__name__, e.message]
    try:
        Catalog(sys.argv[3])
        out["create"] = "ok"
    except ConsoleError as e:
        out["create"] = [type(e).__name__, e.message]
    print(json.dumps(out))
    """
)


def _run_child(prefix: list[str], catalog: Path, new: Path) -> dict:
    proc = subprocess.run([*prefix, sys.executable, "-c", CHILD, str(ROOT), str(catalog), str(new)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _check_read_only_outcome(out: dict, catalog: Path, new: Path) -> None:
    assert "open" not in out, out
    assert out["models"] == ["m"]  # still browsable
    assert out["import"][0] == "ReadOnly" and str(catalog) in out["import"][1]
    assert out["alias"][0] == "ReadOnly"
    assert out["create"][0] == "ReadOnly" and str(new) in out["create"][1]


def _make_catalog(directory: Path) -> Path:
    directory.mkdir()
    path = directory / "catalog.db"
    with Catalog(path) as c:
        c.import_records([rec("m", "1")])
    return path


def test_opened_read_only_on_purpose(tmp_path):
    path = _make_catalog(tmp_path / "cat")
    digest = sha(path)
    with Catalog(path, read_only=True) as c:
        assert [m.model for m in c.list_models()] == ["m"]
        with pytest.raises(ReadOnly, match="opened read-only"):
            c.import_records([rec("m", "2")])
        with pytest.raises(ReadOnly):
            c.set_alias("m", "production", "1", expected=None)
    assert sha(path) == digest
    with pytest.raises(NotFound):
        Catalog(tmp_path / "cat" / "other.db", read_only=True)


def test_read_only_file_and_directory(tmp_path):
    if not shutil.which("setpriv"):
        pytest.skip("setpriv is not installed")
    prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
    path = _make_catalog(tmp_path / "ro")
    path.chmod(0o444)
    path.parent.chmod(0o555)
    try:
        probe = subprocess.run([*prefix, "sh", "-c", f"echo x >> '{path}'"], capture_output=True)
        if probe.returncode == 0 and b"x" in path.read_bytes()[-2:]:
            pytest.skip("cannot drop CAP_DAC_OVERRIDE here, so permission bits do not bind root")
        digest = sha(path)
        out = _run_child(prefix, path, path.parent / "new.db")
        _check_read_only_outcome(out, path, path.parent / "new.db")
        assert sha(path) == digest
    finally:
        path.parent.chmod(0o755)
        path.chmod(0o644)


def test_read_only_filesystem(tmp_path):
    if not shutil.which("unshare") or not shutil.which("mount"):
        pytest.skip("unshare/mount not available")
    path = _make_catalog(tmp_path / "rofs")
    digest = sha(path)
    d = path.parent
    probe = subprocess.run(["unshare", "-m", "sh", "-c",
                            f"mount --bind -o ro '{d}' '{d}' && ! touch '{d}/probe'"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a read-only bind mount here: {probe.stderr.decode().strip()}")
    script = f"mount --bind -o ro '{d}' '{d}' && exec \"$@\""
    out = _run_child(["unshare", "-m", "sh", "-c", script, "sh"], path, d / "new.db")
    _check_read_only_outcome(out, path, d / "new.db")
    assert out["read_only"] is True
    assert "read-only" in out["import"][1]
    assert sha(path) == digest
    assert not (d / "new.db").exists()


# -- a writer holding the lock -------------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO meta(key, value) VALUES ('other-writer', 'busy')")
    print("locked", flush=True)
    sys.stdin.readline()
    conn.execute("ROLLBACK")
    """
)


def test_locked_by_another_writer(tmp_path):
    path = tmp_path / "catalog.db"
    with Catalog(path) as c:
        c.import_records([rec("m", "1")])
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "locked"
        with Catalog(path, busy_timeout=0.2) as c:
            assert [m.model for m in c.list_models()] == ["m"]  # WAL: readers are not blocked
            with pytest.raises(BackendUnavailable) as info:
                c.import_records([rec("m", "2")])
            assert info.value.message == f"catalog {path} is locked by another process that is writing; try again"
            with pytest.raises(BackendUnavailable, match="locked"):
                c.set_alias("m", "production", "1", expected=None)
            writer.stdin.write("\n")
            writer.stdin.flush()
            writer.wait(timeout=10)
            assert c.import_records([rec("m", "2")]).inserted == 1  # the same object recovers
            assert c.count_versions("m") == 2
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()


def test_new_catalog_while_another_process_migrates(tmp_path):
    """Two processes creating the same new catalog at once both end up with a valid one."""
    path = tmp_path / "catalog.db"
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from adapters.catalog import Catalog; "
            f"Catalog({str(path)!r}).close()")
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]  # a deadlock guard, not a budget: imports take long on a busy machine
    with Catalog(path) as c:
        assert c.count_models() == 0


# -- queries -------------------------------------------------------------------------------------------


@pytest.fixture
def searchable(cat):
    cat.import_records([
        rec("fraud-detector", "1", description="Card-not-present fraud scoring", tags=["payments", "tier-1"]),
        rec("credit-risk", "1", description="Probability of default", tags=["lending"]),
        rec("ranker[v2]", "1", description="Experimental; [b]do not[/b] serve", tags=["search", "[experimental]"]),
        rec("Search-Ranker", "1", description="Learning to rank", tags=["search"]),
        rec("churn", "1", description="old description", tags=["crm"]),
        rec("churn", "2", description=None, tags=["crm", "retention"]),
    ])
    return cat


def test_filter_by_name_substring_and_fts(searchable):
    names = lambda f: [m.model for m in searchable.list_models(f)]  # noqa: E731
    assert names(None) == ["churn", "credit-risk", "fraud-detector", "ranker[v2]", "Search-Ranker"]
    assert names("RANK") == ["ranker[v2]", "Search-Ranker"]  # case-insensitive substring
    assert names("ranker[v2]") == ["ranker[v2]"]
    assert names("paym") == ["fraud-detector"]  # FTS prefix on a tag
    assert names("tier-1") == ["fraud-detector"]
    assert names("probab") == ["credit-risk"]  # FTS prefix on the description
    assert names("retention") == ["churn"]  # tags are the union over versions
    assert names("old descr") == ["churn"]  # newest non-empty description
    assert names("experimental") == ["ranker[v2]"]
    assert names('"; DROP TABLE models; --') == []
    assert names("zzz") == []
    assert searchable.count_models("search") == 2
    assert searchable.count_models() == 5
    assert [m.model for m in searchable.list_models(offset=1, limit=2)] == ["credit-risk", "fraud-detector"]


def test_filter_results_follow_writes_from_this_and_other_connections(tmp_path):
    path = tmp_path / "c.db"
    reader, writer = Catalog(path), Catalog(path)
    try:
        writer.import_records([rec("fraud-a", "1")])
        assert reader.count_models("fraud") == 1
        assert [m.model for m in reader.list_models("fraud")] == ["fraud-a"]
        writer.import_records([rec("fraud-b", "1"), rec("other", "1", tags=["fraudulent"])])  # another connection
        assert reader.count_models("fraud") == 3
        assert [m.model for m in reader.list_models("fraud", offset=1, limit=5)] == ["fraud-b", "other"]
        reader.import_records([rec("fraud-c", "1")])  # this connection
        assert reader.count_models("fraud") == 4
    finally:
        reader.close()
        writer.close()


def test_sorting_versions(cat):
    cat.import_records([
        rec("m", "9", created_at="2026-03-01T00:00:00Z", metrics={"test": {"auc": 0.7}, "loss": 0.3}),
        rec("m", "10", created_at="2026-02-01T00:00:00Z", metrics={"test": {"auc": 0.9}}),
        rec("m", "2", created_at="2026-04-01T00:00:00+05:00", metrics={"test": {"auc": 0.8}, "loss": 0.2}),
        rec("m", "1.10", created_at=None, metrics={}),
    ])
    order = lambda **kw: [v.version for v in cat.list_versions("m", **kw)]  # noqa: E731
    assert order() == ["2", "9", "10", "1.10"]  # newest first, no date last
    assert order(descending=False) == ["10", "9", "2", "1.10"]
    assert order(sort="version") == ["10", "9", "2", "1.10"]
    assert order(sort="version", descending=False) == ["1.10", "2", "9", "10"]
    assert order(sort="metric:test.auc") == ["10", "2", "9", "1.10"]
    assert order(sort="metric:test.auc", descending=False) == ["9", "2", "10", "1.10"]
    assert order(sort="metric:loss", descending=False) == ["2", "9", "10", "1.10"][:2] + ["10", "1.10"]
    assert order(sort="metric:test.auc", offset=1, limit=2) == ["2", "9"]
    assert cat.metric_names("m") == ["loss", "test.auc"]
    with pytest.raises(InvalidInput, match="unknown sort"):
        cat.list_versions("m", sort="size")
    summary = cat.list_models()[0]
    assert (summary.latest_version, summary.latest_created_at) == ("2", "2026-04-01T00:00:00+05:00")
    assert version_key("10") > version_key("9") and version_key("1.10") > version_key("1.9")


def test_lookup_by_run_id_and_artifact_uri(cat):
    cat.import_records([
        rec("a", "1", run_id="run-1", artifact_uri="s3://mlops-models/a/v1/"),
        rec("b", "4", run_id="run-1", artifact_uri="s3://mlops-models/b/v4"),
        rec("a", "2", run_id="run-2"),
    ])
    assert [(v.model, v.version) for v in cat.versions_by_run_id("run-1")] == [("a", "1"), ("b", "4")]
    assert cat.versions_by_run_id("nope") == []
    assert cat.version_by_artifact_uri("s3://mlops-models/a/v1").version == "1"
    assert cat.version_by_artifact_uri("s3://mlops-models/b/v4/").model == "b"
    assert cat.version_by_artifact_uri("s3://mlops-models/b/v5") is None


def test_get_version_not_found_names_model_and_version(cat):
    cat.import_records([rec("m", "1")])
    with pytest.raises(NotFound, match=r"m:2 is not in catalog"):
        cat.get_version("m", "2")
    with pytest.raises(NotFound, match=r"model 'x' is not in catalog"):
        cat.get_version("x", "1")


# -- aliases -------------------------------------------------------------------------------------------


def test_set_alias_with_precondition(tmp_path):
    path = tmp_path / "c.db"
    with Catalog(path) as c:
        c.import_records([rec("m", str(i)) for i in range(1, 13)])
    alice, bob = Catalog(path), Catalog(path)
    try:
        assert alice.set_alias("m", "production", "3", expected=None) == (None, "3")
        seen = alice.aliases("m")["production"]
        assert bob.set_alias("m", "production", "12", expected="3") == ("3", "12")  # bob moves it
        with pytest.raises(Conflict) as info:
            alice.set_alias("m", "production", "5", expected=seen)
        assert info.value.message == "alias 'production' of m changed since you looked: now 12"
        assert alice.aliases("m") == {"production": "12"}
        with pytest.raises(Conflict, match="now 12"):
            alice.set_alias("m", "production", "5", expected=None)
        with pytest.raises(InvalidInput, match="not valid"):
            alice.set_alias("m", "Prod uction", "5", expected=None)
        with pytest.raises(NotFound, match="m:99"):
            alice.set_alias("m", "staging", "99", expected=None)
        with pytest.raises(NotFound, match="model 'zz'"):
            alice.set_alias("zz", "staging", "1", expected=None)
        assert alice.aliases("m") == {"production": "12"}
        assert alice.list_models()[0].aliases == {"production": "12"}
        assert [v.aliases for v in alice.list_versions("m", sort="version", limit=1)] == [["production"]]
        assert alice.remove_alias("m", "production", expected="12") == "12"
        assert bob.aliases("m") == {}
    finally:
        alice.close()
        bob.close()


def test_usable_from_worker_threads(cat):
    cat.import_records([rec("m", str(i)) for i in range(1, 4)])
    results, errors = [], []

    def work():
        try:
            for _ in range(20):
                results.append(len(cat.list_versions("m")))
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and results == [3] * 80


def test_adapter_does_not_import_textual():
    code = "import sys; import adapters.catalog; print('textual' in sys.modules, 'console' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# -- the demo catalog ----------------------------------------------------------------------------------


def _dump(path: Path) -> list:
    out = []
    with Catalog(path, create=False) as c:
        for m in c.list_models():
            out.append(m.to_json())
            out.extend(v.to_record() for v in c.list_versions(m.model, sort="version"))
    return out


def test_demo_catalog_is_deterministic_and_tells_the_stories(tmp_path):
    from console import demo_data
    from console.demo_catalog import build_demo_catalog

    a, b = tmp_path / "a.db", tmp_path / "b.db"
    build_demo_catalog(a)
    build_demo_catalog(b)
    assert _dump(a) == _dump(b)
    with Catalog(a, create=False) as c:
        models = {m.model: m for m in c.list_models()}
        assert set(models) == {m.name for m in demo_data.MODELS}
        for m in demo_data.MODELS:
            assert models[m.name].versions == m.versions
        for served in demo_data.SERVED:
            aliases = models[served.model].aliases
            if served.story in demo_data.CANARY_STORIES:
                assert aliases["production"] == served.prev_version
                assert aliases["canary"] == served.latest_version
            else:
                assert aliases["production"] == served.latest_version
        assert any("champion" in m.aliases for m in models.values())
        assert any("staging" in m.aliases for m in models.values())
        fd = demo_data.MODELS_BY_NAME["fraud-detector"]
        v = c.get_version("fraud-detector", "40")
        assert v.artifact_uri == demo_data.storage_uri("fraud-detector", "40")
        assert v.run_id == demo_data.run_id_for("fraud-detector", "40")
        assert c.version_by_artifact_uri(demo_data.storage_uri("fraud-detector", "39")).version == "39"
        assert set(v.metrics) == {"train", "validation", "test"}
        assert set(c.get_version("churn-predictor", "3").metrics) == set(demo_data.MODELS_BY_NAME["churn-predictor"].metric_names)
        for f in fd.features:
            hist = v.reference_histograms[f.name]
            assert hist["edges"] == f.edges()
            assert 4700 <= sum(hist["counts"]) <= 5300
        # the canary's drifting features sit to the right of the previous version's
        def mean_bin(hist):
            return sum(i * n for i, n in enumerate(hist["counts"])) / sum(hist["counts"])
        prev = c.get_version("fraud-detector", "39")
        assert mean_bin(v.reference_histograms["amount"]) > mean_bin(prev.reference_histograms["amount"]) + 0.3
        assert abs(mean_bin(v.reference_histograms["hour_of_day"]) - mean_bin(prev.reference_histograms["hour_of_day"])) < 0.2
        hps = {json.dumps(c.get_version("fraud-detector", str(i)).hyperparameters, sort_keys=True) for i in range(1, 41)}
        assert len(hps) > 10
        dates = sorted(x.created_at for x in c.list_versions("fraud-detector"))
        assert dates[0] < "2025-01-01" and dates[-1].startswith("2026-11-")
        markup = c.get_version("ranker[v2]", "8")
        assert markup.description == demo_data.MODELS_BY_NAME["ranker[v2]"].description
        assert sum(m.versions for m in models.values()) == sum(m.versions for m in demo_data.MODELS)
    # building again into the same file changes nothing
    with Catalog(a) as c:
        from console.demo_catalog import demo_records

        assert c.import_records(demo_records()) == ImportResult(0, 0, sum(m.versions for m in demo_data.MODELS))


def test_generate_records_for_benchmarks():
    from console.demo_catalog import generate_records

    records = list(generate_records(300, 37, seed=1))
    assert len(records) == 300
    assert len({r["model"] for r in records}) == 37
    assert len({(r["model"], r["version"]) for r in records}) == 300
    assert records == list(generate_records(300, 37, seed=1))
    assert records != list(generate_records(300, 37, seed=2))


# -- the protocol the screens use, and the on-disk schema ----------------------------------------

def _catalog_calls(path: Path) -> set[str]:
    """Methods called on something named `catalog` (self.catalog, self.services.catalog, catalog)."""
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if (isinstance(owner, ast.Attribute) and owner.attr == "catalog") or (
                    isinstance(owner, ast.Name) and owner.id == "catalog"):
                names.add(node.func.attr)
    return names


def _protocol_methods() -> dict:
    from adapters.catalog_backend import CatalogBackend

    return {name: fn for name, fn in vars(CatalogBackend).items() if callable(fn) and not name.startswith("_")}


def test_the_protocol_lists_every_catalog_method_the_screens_and_their_actions_call():
    sources = [*sorted((ROOT / "screens").glob("*.py")),
               *(ROOT / "console" / name for name in ("catalog_actions.py", "catalog_sync.py", "drift_service.py"))]
    called = set().union(*(_catalog_calls(path) for path in sources))
    assert {"list_models", "get_version", "set_alias"} <= called  # the scan finds calls at all
    assert called - set(_protocol_methods()) == set()


def test_the_sqlite_catalog_has_every_protocol_method_with_the_same_parameters():
    import inspect

    def shape(fn) -> list:
        signature = inspect.signature(fn)
        return [(p.name, p.kind, p.default, p.annotation) for p in signature.parameters.values()] + [
            signature.return_annotation]

    for name, method in _protocol_methods().items():
        assert hasattr(Catalog, name), f"Catalog has no {name}"
        assert shape(getattr(Catalog, name)) == shape(method), name


LEGACY_DDL = {  # the schema of the catalog files in use (before sqlite-utils made it): frozen
    1: [
        """CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)""",
        """CREATE TABLE versions (
            model TEXT NOT NULL,
            version TEXT NOT NULL,
            version_key TEXT NOT NULL,
            created_at TEXT,
            created_key REAL,
            author TEXT,
            framework TEXT,
            run_id TEXT,
            artifact_key TEXT,
            metrics TEXT NOT NULL DEFAULT '{}',
            tags TEXT NOT NULL DEFAULT '[]',
            description TEXT,
            record_hash TEXT NOT NULL,
            source TEXT,
            imported_at TEXT NOT NULL,
            record TEXT NOT NULL,
            PRIMARY KEY (model, version)
        )""",
        "CREATE INDEX versions_model_created ON versions(model, created_key)",
        "CREATE INDEX versions_run_id ON versions(run_id) WHERE run_id IS NOT NULL",
        "CREATE INDEX versions_artifact ON versions(artifact_key) WHERE artifact_key IS NOT NULL",
        """CREATE TABLE aliases (
            model TEXT NOT NULL, alias TEXT NOT NULL, version TEXT NOT NULL, updated_at TEXT NOT NULL,
            PRIMARY KEY (model, alias)
        ) WITHOUT ROWID""",
        "CREATE INDEX aliases_version ON aliases(model, version)",
        """CREATE TABLE models (
            name TEXT PRIMARY KEY,
            name_lower TEXT NOT NULL,
            versions INTEGER NOT NULL,
            latest_version TEXT,
            latest_created_at TEXT,
            description TEXT,
            tags TEXT NOT NULL DEFAULT '[]',
            framework TEXT,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX models_name_lower ON models(name_lower, name)",
        "CREATE VIRTUAL TABLE models_fts USING fts5(name, description, tags, tokenize = 'unicode61')",
        """CREATE TABLE imports (
            id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT, imported_at TEXT NOT NULL,
            inserted INTEGER NOT NULL, updated INTEGER NOT NULL, unchanged INTEGER NOT NULL
        )""",
    ],
    2: [
        "ALTER TABLE versions ADD COLUMN origin TEXT NOT NULL DEFAULT 'import'",
        "ALTER TABLE versions ADD COLUMN deleted_at TEXT",
        "CREATE INDEX versions_registry ON versions(source, model) WHERE origin = 'mlflow'",
        """CREATE TABLE registry_models (
            name TEXT PRIMARY KEY, registry TEXT NOT NULL, created_ms INTEGER, deleted_at TEXT
        )""",
        """CREATE TABLE registry_runs (
            registry TEXT NOT NULL, run_id TEXT NOT NULL, status TEXT, data TEXT NOT NULL,
            PRIMARY KEY (registry, run_id)
        ) WITHOUT ROWID""",
    ],
}


def _partial_where(conn: sqlite3.Connection, index: str) -> str:
    row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (index,)).fetchone()
    return row[0].partition(" WHERE ")[2] if row and row[0] else ""


def _schema_of(path: Path) -> dict:
    conn = sqlite3.connect(path)
    tables = [name for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    schema = {}
    for table in tables:
        columns = conn.execute(f"PRAGMA table_info({table})").fetchall()
        indexes = {row[1]: (row[2], row[3], row[4], conn.execute(f"PRAGMA index_info({row[1]})").fetchall(),
                            _partial_where(conn, row[1]))
                   for row in conn.execute(f"PRAGMA index_list({table})")}
        schema[table] = (columns, indexes)
    schema["models_fts"] = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'models_fts'").fetchone()
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    conn.close()
    return {"user_version": version, **schema}


def test_a_new_catalog_has_the_schema_of_the_files_in_use(tmp_path):
    """Files made before sqlite-utils made the schema and files made now are read and written by
    the same code (and by consoles already deployed): same tables, columns, defaults, keys, indexes."""
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    for step in (1, 2):
        for statement in LEGACY_DDL[step]:
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    Catalog(tmp_path / "new.db").close()
    assert _schema_of(tmp_path / "new.db") == _schema_of(old)
    with Catalog(old) as catalog:  # and the old file takes an import as a new one does
        catalog.import_records([rec("m", "1", aliases=["production"])])
        assert catalog.aliases("m") == {"production": "1"} and catalog.count_models("tabular") == 1
