"""catalog sync against a real MLflow tracking server (`mlflow server`, SQLite backend, one per
module), populated through its REST API; alias writes through the action path; faults through a
proxy in front of the real server.

What the server does follows mlflow/server/handlers.py (search, alias, rename, delete), and the
fields follow mlflow/protos/model_registry.proto and service.proto (runs/get); the 401/403 bodies
of the fault proxy follow mlflow/server/auth/__init__.py."""

from __future__ import annotations

import itertools
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.catalog import Catalog
from adapters.errors import BackendUnavailable, Conflict, DataError, Forbidden, InvalidInput, NotFound
from adapters.mlflow import MlflowClient
from console.actions import ActionPath
from console.audit import AuditJournal
from console.catalog_actions import RemoveAlias, SetAlias
from console.catalog_sync import sync
from console.cli import main
from console.config import resolve
from mlflow_fixtures import FaultProxy, MlflowServer, Rest

pytestmark = pytest.mark.slow
_names = itertools.count()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = MlflowServer.start(tmp_path_factory.mktemp("mlflow"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def rest(server):
    client = Rest(server.url)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def _no_mlflow_env(monkeypatch):
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD",
                "MLFLOW_TRACKING_INSECURE_TLS", "MLFLOW_TRACKING_SERVER_CERT_PATH", "MLOPS_CONSOLE_MLFLOW_URL"):
        monkeypatch.delenv(var, raising=False)


def unique(prefix: str) -> str:
    return f"{prefix} {next(_names)}"


def digest(path: Path) -> str:
    """The catalog file's bytes (checked while no connection holds it: the WAL is folded in)."""
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_every_mapped_field(server, rest, tmp_path):
    name = unique("fraud [v2] é")
    model = rest.model(name, description="Card fraud scoring", tags={"team": "risk", "tier": "1"})
    run1 = rest.run(params={"eta": "0.1", "depth": "6"}, metrics={"auc": 0.93, "broken": "NaN"}, user="ana")
    v1 = rest.version(name, source=f"s3://models/{name}/1", run_id=run1, description="first cut",
                      tags={"validated": "yes", "tier": "2"})
    rest.call("POST", "/model-versions/transition-stage", {"name": name, "version": "1", "stage": "Staging",
                                                           "archive_existing_versions": False})
    run2 = rest.run(params={"eta": "0.2"}, metrics={"auc": 0.95}, user="bo")
    v2 = rest.version(name, source=f"runs:/{run2}/model", run_id=run2)
    rest.alias(name, "champion", "2")
    rest.alias(name, "previous", "1")
    run2_info = rest.call("GET", "/runs/get", {"run_id": run2})["run"]["info"]

    with Catalog(tmp_path / "c.db") as catalog, MlflowClient(server.url) as client:
        result = sync(catalog, client, models=[name])
        assert (result.versions_added, result.models_added) == (2, [name])
        first = catalog.get_version(name, "1").to_record()
        assert first == {
            "model": name, "version": "1", "aliases": ["previous"], "description": "first cut",
            "tags": ["mlflow.stage=Staging", "team=risk", "tier=2", "validated=yes"], "author": "ana",
            "created_at": iso(v1["creation_timestamp"]), "hyperparameters": {"depth": "6", "eta": "0.1"},
            "metrics": {"auc": 0.93}, "artifact_uri": f"s3://models/{name}/1", "run_id": run1,
        }
        second = catalog.get_version(name, "2")
        # no version description: the registered model's; a runs:/ source resolves against the run
        assert second.description == model["description"]
        assert second.artifact_uri == run2_info["artifact_uri"] + "/model"
        assert (second.author, second.hyperparameters, second.metrics) == ("bo", {"eta": "0.2"}, {"auc": 0.95})
        assert second.created_at == iso(v2["creation_timestamp"])
        assert (second.origin, second.source, second.deleted_at) == ("mlflow", server.url, None)
        summary = catalog.get_model(name)
        assert summary.aliases == {"champion": "2", "previous": "1"}
        assert (summary.source, summary.deleted, summary.latest_version) == (server.url, False, "2")
        # the Rollouts screen finds a served storageUri in the catalog
        assert catalog.version_by_artifact_uri(f"s3://models/{name}/1/").version == "1"
        assert catalog.model_source(name) == server.url


def test_a_second_sync_with_no_change_writes_nothing(server, rest, tmp_path):
    name = unique("steady")
    rest.model(name)
    rest.version(name, source="s3://m/steady/1", run_id=rest.run(metrics={"auc": 0.8}))
    path = tmp_path / "c.db"
    with Catalog(path) as catalog, MlflowClient(server.url) as client:
        assert sync(catalog, client).changed
        observer = sqlite3.connect(path)  # another process: PRAGMA data_version moves when anyone commits
        before = observer.execute("PRAGMA data_version").fetchone()[0]
        changes = catalog._conn.total_changes
        client.requests = 0
        again = sync(catalog, client)
        assert not again.changed and again.versions_unchanged >= 1
        assert client.requests == 2  # the two listings; finished runs are not read again
        assert catalog._conn.total_changes == changes
        assert observer.execute("PRAGMA data_version").fetchone()[0] == before
        rest.update_version(name, "1", "now described")  # and the same probe sees a real change
        assert sync(catalog, client).versions_changed == 1
        assert observer.execute("PRAGMA data_version").fetchone()[0] != before
    observer.close()


def test_deleted_version_is_marked_and_its_alias_goes(server, rest, tmp_path):
    name = unique("shrinking")
    rest.model(name)
    for n in (1, 2, 3):
        rest.version(name, source=f"s3://m/shrink/{n}")
    rest.alias(name, "production", "3")
    with Catalog(tmp_path / "c.db") as catalog, MlflowClient(server.url) as client:
        sync(catalog, client, models=[name])
        rest.delete_version(name, "3")
        result = sync(catalog, client, models=[name])
        assert (result.versions_deleted, result.aliases_deleted) == (1, [f"{name}@production (was 3)"])
        gone = catalog.get_version(name, "3")
        assert gone.deleted_at is not None  # kept as history
        assert [v.version for v in catalog.list_versions(name)] == ["3", "2", "1"]
        summary = catalog.get_model(name)
        assert (summary.latest_version, summary.aliases, summary.versions) == ("2", {}, 3)
        with pytest.raises(InvalidInput, match="deleted from its registry"):
            SetAlias(catalog, name, "production", "3", registry=lambda url: MlflowClient(url)).validate()


def test_alias_moved_in_mlflow_moves_here(server, rest, tmp_path):
    name = unique("moving")
    rest.model(name)
    for n in (1, 2):
        rest.version(name, source=f"s3://m/moving/{n}")
    rest.alias(name, "production", "1")
    with Catalog(tmp_path / "c.db") as catalog, MlflowClient(server.url) as client:
        sync(catalog, client, models=[name])
        rest.alias(name, "production", "2")
        result = sync(catalog, client, models=[name])
        assert result.aliases_moved == [f"{name}@production: 1 -> 2"]
        assert result.versions_changed == 0
        assert catalog.aliases(name) == {"production": "2"}


def test_renamed_model_is_followed(server, rest, tmp_path):
    old, new = unique("before-rename"), unique("after [rename] ü")
    rest.model(old, tags={"team": "risk"})
    rest.version(old, source="s3://m/rename/1")
    rest.alias(old, "production", "1")
    with Catalog(tmp_path / "c.db") as catalog, MlflowClient(server.url) as client:
        sync(catalog, client)
        rest.rename(old, new)
        result = sync(catalog, client)
        assert result.models_renamed == [(old, new)]
        assert old not in result.models_deleted and new not in result.models_added
        assert not catalog.has_model(old)
        assert catalog.get_model(new).aliases == {"production": "1"}
        assert catalog.get_version(new, "1").artifact_uri == "s3://m/rename/1"
        assert catalog.model_source(new) == server.url


def test_a_run_still_running_is_read_again(server, rest, tmp_path):
    name = unique("training")
    run = rest.run(metrics={"auc": 0.7}, status="RUNNING")
    rest.model(name)
    rest.version(name, source="s3://m/training/1", run_id=run)
    with Catalog(tmp_path / "c.db") as catalog, MlflowClient(server.url) as client:
        sync(catalog, client, models=[name])
        rest.log_metric(run, "auc", 0.9, step=1)
        rest.call("POST", "/runs/update", {"run_id": run, "status": "FINISHED"})
        result = sync(catalog, client, models=[name])
        assert result.versions_changed == 1
        assert catalog.get_version(name, "1").metrics == {"auc": 0.9}


def test_cli_sync_alias_round_trip_and_audit(server, rest, tmp_path, capsys):
    name = unique("cli model")
    rest.model(name)
    for n in (1, 2):
        rest.version(name, source=f"s3://m/cli/{n}")
    rest.alias(name, "production", "1")
    path = tmp_path / "c.db"
    base = ["--catalog", str(path)]
    code, out, err = run_cli(capsys, *base, "catalog", "sync", "--mlflow-url", server.url, "--model", name, "--json")
    assert (code, err) == (0, "")
    assert json.loads(out)["versions"]["added"] == 2

    code, out, err = run_cli(capsys, *base, "catalog", "alias", f"{name}:2", "production", "--reason", "review passed",
                             "--yes")
    assert code == 0, err
    assert f"production: 1 -> 2 in MLflow at {server.url}" in err
    assert rest.get_alias(name, "production") == "2"  # written to the registry
    with Catalog(path) as catalog:
        assert catalog.aliases(name) == {"production": "2"}  # and the catalog followed
    code, out, err = run_cli(capsys, *base, "catalog", "alias", name, "production", "--delete", "--reason", "retired",
                             "--yes")
    assert code == 0, err
    assert rest.get_alias(name, "production") is None
    code, out, _ = run_cli(capsys, *base, "audit", "list", "--json")
    rows = [r for r in json.loads(out) if r["target"] == f"{name}@production"]
    assert {(r["action"], r["outcome"]) for r in rows} >= {("catalog.set_alias", "applied"),
                                                            ("catalog.remove_alias", "applied")}
    assert any(r["action"] == "catalog.sync" and r["outcome"] == "applied" for r in json.loads(out))


def test_alias_precondition_is_read_again_just_before_writing(server, rest, tmp_path):
    name = unique("raced")
    rest.model(name)
    for n in (1, 2, 3):
        rest.version(name, source=f"s3://m/raced/{n}")
    rest.alias(name, "production", "1")
    with Catalog(tmp_path / "c.db") as catalog, MlflowClient(server.url) as client:
        sync(catalog, client, models=[name])
        path = ActionPath(AuditJournal(tmp_path / "audit.db"), read_only=False)
        action = SetAlias(catalog, name, "production", "2", registry=lambda url: MlflowClient(url))
        change = path.prepare(action)
        assert change.lines == [f"{name} alias production: 1 -> 2 in MLflow at {server.url}"]
        rest.alias(name, "production", "3")  # someone else moves it while the confirmation is open
        with pytest.raises(Conflict, match="changed in MLflow since you looked: now 3"):
            path.execute(action, change, "promote")
        assert rest.get_alias(name, "production") == "3"  # not overwritten
        assert catalog.aliases(name) == {"production": "1"}  # nothing changed here either
        rows = path.audit.list(limit=5)
        assert rows[0].outcome == "failed: conflict"


@pytest.mark.parametrize("status, error", [(403, Forbidden), (404, NotFound), (409, Conflict)])
def test_a_refusal_from_mlflow_changes_nothing_locally(server, rest, tmp_path, status, error):
    name = unique("refused")
    rest.model(name)
    for n in (1, 2):
        rest.version(name, source=f"s3://m/refused/{n}")
    rest.alias(name, "production", "1")
    proxy = FaultProxy(server.url)
    try:
        with Catalog(tmp_path / "c.db") as catalog, MlflowClient(proxy.url) as client:
            sync(catalog, client, models=[name])
            path = ActionPath(AuditJournal(tmp_path / "audit.db"), read_only=False)
            for action in (SetAlias(catalog, name, "production", "2", registry=lambda url: MlflowClient(url)),
                           RemoveAlias(catalog, name, "production", registry=lambda url: MlflowClient(url))):
                change = path.prepare(action)
                proxy.mode = f"status:{status}"
                with pytest.raises(error):
                    path.execute(action, change, "try")
                proxy.mode = None
                assert catalog.aliases(name) == {"production": "1"}
                assert rest.get_alias(name, "production") == "1"
    finally:
        proxy.close()


def test_read_only_refuses_alias_and_sync_before_asking_mlflow(server, rest, tmp_path, capsys):
    name = unique("locked")
    rest.model(name)
    rest.version(name, source="s3://m/locked/1")
    path = tmp_path / "c.db"
    assert run_cli(capsys, "--catalog", str(path), "catalog", "sync", "--mlflow-url", server.url,
                   "--model", name)[0] == 0
    proxy = FaultProxy(server.url)
    try:
        code, _, err = run_cli(capsys, "--catalog", str(path), "--read-only", "catalog", "sync", "--mlflow-url",
                               proxy.url)
        assert code == 7 and "read-only" in err
        code, _, err = run_cli(capsys, "--catalog", str(path), "--read-only", "catalog", "alias", f"{name}:1",
                               "production", "--reason", "x", "--yes")
        assert code == 7 and "read-only" in err
        assert proxy.seen == []
    finally:
        proxy.close()


FAULTS = [
    ("status:401", Forbidden, 4, "MLFLOW_TRACKING_TOKEN"),
    ("status:403", Forbidden, 4, "403"),
    ("status:500", BackendUnavailable, 3, "answered 500"),
    ("status:503", BackendUnavailable, 3, "answered 503"),
    ("garbage", DataError, 8, "malformed JSON"),
    ("page-token:500", BackendUnavailable, 3, "answered 500"),
    ("page-token:400", InvalidInput, 2, "page token"),
    ("hang", BackendUnavailable, 3, "did not answer"),
]


@pytest.fixture(scope="module")
def synced(server, rest, tmp_path_factory):
    """A catalog synced from the server, and the model it holds (the faults must not change it)."""
    name = unique("faulted")
    rest.model(name)
    for n in (1, 2, 3):
        rest.version(name, source=f"s3://m/faulted/{n}", run_id=rest.run(metrics={"auc": n / 10}))
    path = tmp_path_factory.mktemp("faults") / "c.db"
    with Catalog(path) as catalog, MlflowClient(server.url) as client:
        sync(catalog, client)
    rest.version(name, source="s3://m/faulted/4")  # a change a failed sync must not half-apply
    rest.alias(name, "production", "4")
    return path, name


@pytest.mark.parametrize("mode, error, exit_code, words", FAULTS, ids=[f[0] for f in FAULTS])
def test_faults_leave_the_catalog_untouched(server, synced, mode, error, exit_code, words, capsys):
    path, name = synced
    before = digest(path)
    proxy = FaultProxy(server.url)
    proxy.mode = mode
    try:
        with Catalog(path) as catalog, MlflowClient(proxy.url, timeout=2, page_size=1) as client:
            with pytest.raises(error) as info:
                sync(catalog, client)
            assert words in info.value.message and "\n" not in info.value.message
            assert catalog.count_versions(name) == 3 and catalog.aliases(name) == {}
        proxy.release.set()
        if mode.startswith("page-token"):
            assert any("page_token=" in line for line in proxy.seen)  # it failed mid-way, not on page one
        else:  # (the command line reads pages of 1,000: one page here)
            code, out, err = run_cli(capsys, "--catalog", str(path), "catalog", "sync", "--mlflow-url", proxy.url)
            assert code == exit_code and out == "" and err.count("\n") == 1 and "Traceback" not in err
    finally:
        proxy.close()
    assert digest(path) == before


def test_down_is_unavailable(tmp_path, capsys):
    from mlflow_fixtures import free_port

    code, out, err = run_cli(capsys, "--catalog", str(tmp_path / "c.db"), "catalog", "sync", "--mlflow-url",
                             f"http://127.0.0.1:{free_port()}")
    assert code == 3 and "cannot be reached" in err and out == ""


def test_credentials_are_sent_as_mlflows_client_sends_them_and_never_shown(server, tmp_path, monkeypatch, capsys):
    proxy = FaultProxy(server.url)
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "s3cr3t-token")
        proxy.mode = "status:403"
        code, _, err = run_cli(capsys, "--catalog", str(tmp_path / "c.db"), "catalog", "sync", "--mlflow-url", proxy.url)
        assert code == 4 and "s3cr3t" not in err
        assert proxy.headers[-1]["authorization"] == "Bearer s3cr3t-token"
        monkeypatch.delenv("MLFLOW_TRACKING_TOKEN")
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ana")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "pa55")
        run_cli(capsys, "--catalog", str(tmp_path / "c.db"), "catalog", "sync", "--mlflow-url", proxy.url)
        import base64

        assert proxy.headers[-1]["authorization"] == "Basic " + base64.b64encode(b"ana:pa55").decode()
        monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
        monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
        code, _, err = run_cli(capsys, "--catalog", str(tmp_path / "c.db"), "catalog", "sync", "--mlflow-url",
                               proxy.url.replace("http://", "http://bo:in-url-s3cret@"))
        assert code == 4 and "in-url-s3cret" not in err and proxy.url in err
        assert proxy.headers[-1]["authorization"] == "Basic " + base64.b64encode(b"bo:in-url-s3cret").decode()
    finally:
        proxy.close()


def test_config_section_and_per_context_url(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[catalog]\npath = "/tmp/x/catalog.db"\n[catalog.mlflow]\nurl = "http://mlflow.example:5000"\n'
                      'timeout = 5\n[contexts."prod-eu"]\nmlflow_url = "https://mlflow.eu"\n')
    settings = resolve({"config": str(config)}, {})
    assert (str(settings.catalog), settings.mlflow.url, settings.mlflow.timeout) == (
        "/tmp/x/catalog.db", "http://mlflow.example:5000", 5.0)
    assert resolve({"config": str(config), "context": "prod-eu"}, {}).mlflow.url == "https://mlflow.eu"
    assert resolve({"config": str(config)}, {"MLOPS_CONSOLE_MLFLOW_URL": "http://env"}).mlflow.url == "http://env"
    assert resolve({}, {"MLFLOW_TRACKING_URI": "http://tracking:5000"}).mlflow.url == "http://tracking:5000"
    assert resolve({}, {"MLFLOW_TRACKING_URI": "databricks"}).mlflow.url is None
    config.write_text('[catalog.mlflow]\nurl = "http://x"\nurll = "typo"\n')
    with pytest.raises(InvalidInput, match=r"config .*:3: 'catalog.mlflow.urll' is not a known setting"):
        resolve({"config": str(config)}, {})


def test_schema_1_catalog_is_read_as_it_is_and_upgraded_by_the_first_write(tmp_path, capsys):
    import os

    import sqlite_utils

    from adapters.catalog import MIGRATIONS

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    MIGRATIONS[1](sqlite_utils.Database(conn))
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with Catalog(path) as catalog:  # as `catalog import` opens it: upgraded
        catalog.import_records([{"model": "m", "version": "1", "aliases": ["production"]}], source="file.jsonl")
    conn = sqlite3.connect(path)
    for statement in ("DROP INDEX versions_registry", "ALTER TABLE versions DROP COLUMN origin",
                      "ALTER TABLE versions DROP COLUMN deleted_at", "DROP TABLE registry_models",
                      "DROP TABLE registry_runs", "PRAGMA user_version = 1"):  # back to schema 1, with its data
        conn.execute(statement)
    conn.commit()
    conn.close()
    stat = os.stat(path)
    before = (path.read_bytes(), stat.st_mtime_ns)
    code, out, err = run_cli(capsys, "--catalog", str(path), "catalog", "show", "m:1", "--json")
    assert (code, err) == (0, "") and json.loads(out)["aliases"] == ["production"]
    with Catalog(path, create=False) as catalog:  # reading never writes, not even a schema upgrade
        record = catalog.get_version("m", "1")
        assert (record.origin, record.deleted_at, record.source) == ("import", None, "file.jsonl")
        assert catalog.get_model("m").source is None and catalog.model_source("m") is None
        assert [v.version for v in catalog.list_versions("m")] == ["1"]
    assert (path.read_bytes(), os.stat(path).st_mtime_ns) == before
    with Catalog(path, create=False) as catalog:  # the first write upgrades it
        catalog.mirror_alias("m", "production", None)
        assert catalog.schema == 2 and catalog.model_source("m") is None
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    conn.close()


def screen_text(app, selector: str) -> str:
    from textual.widgets import Static

    return str(app.screen.query_one(selector, Static).render())


async def wait_for(pilot, condition, timeout: float = 60.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("the screen did not reach the expected state in time")


async def test_catalog_screen_r_syncs_in_a_worker_and_shows_each_rows_source(server, rest, tmp_path):
    from textual.widgets import DataTable

    from console.app import MlopsConsole
    from console.config import MlflowSettings, Settings
    from console.context import Context
    from screens.catalog import CatalogScreen

    name = unique("screen model")
    rest.model(name)
    rest.version(name, source="s3://m/screen/1")
    path = tmp_path / "c.db"
    with Catalog(path) as catalog:
        catalog.import_records([{"model": "local-model", "version": "1"}], source="records.jsonl")
    proxy = FaultProxy(server.url)
    settings = Settings(catalog=path, audit=tmp_path / "audit.db", mlflow=MlflowSettings(url=proxy.url, timeout=5))
    app = MlopsConsole(Context(settings), clock=lambda: 1_795_000_000.0, cursor_blink=False)
    try:
        async with app.run_test(size=(120, 35)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, CatalogScreen)
                           and "source" in screen_text(app, "#detail-body"))
            assert "import records.jsonl" in screen_text(app, "#detail-body")
            proxy.mode = "status:503"
            await pilot.press("r")
            await wait_for(pilot, lambda: "Sync failed" in screen_text(app, "#catalog-status"))
            assert "answered 503" in screen_text(app, "#catalog-status")
            assert app.screen.query_one("#models", DataTable).row_count == 1  # still shows what it had
            proxy.mode = None
            await pilot.press("r")
            await wait_for(pilot, lambda: "Synced from MLflow" in screen_text(app, "#catalog-status"))
            await wait_for(pilot, lambda: app.screen.query_one("#models", DataTable).row_count > 1)
            app.screen.show_version(name, "1")
            await wait_for(pilot, lambda: f"MLflow {proxy.url}" in screen_text(app, "#detail-body"))
    finally:
        proxy.close()


async def test_catalog_screen_alias_is_set_in_mlflow_then_followed_here(server, rest, tmp_path):
    from textual.widgets import Input

    from console.app import MlopsConsole
    from console.config import MlflowSettings, Settings
    from console.context import Context
    from screens.catalog import CatalogScreen
    from screens.confirm import ConfirmChangeScreen

    name = f"screen-alias-{next(_names)}"
    rest.model(name)
    for n in (1, 2):
        rest.version(name, source=f"s3://m/screen-alias/{n}")
    rest.alias(name, "production", "1")
    path = tmp_path / "c.db"
    with Catalog(path) as catalog, MlflowClient(server.url) as client:
        sync(catalog, client, models=[name])
    settings = Settings(catalog=path, audit=tmp_path / "audit.db", mlflow=MlflowSettings(url=server.url))
    app = MlopsConsole(Context(settings), clock=lambda: 1_795_000_000.0, cursor_blink=False)
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, CatalogScreen) and app.screen.model == name)
        app.screen.show_version(name, "2")
        await wait_for(pilot, lambda: (app.screen.selected_version() is not None
                                       and app.screen.selected_version().version == "2"))
        await pilot.press("a")
        await wait_for(pilot, lambda: app.screen.query("#alias-name") and app.focused is not None)
        app.screen.query_one("#alias-name", Input).value = "production"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmChangeScreen) and app.focused is not None)
        assert app.screen.change.lines == [f"{name} alias production: 1 -> 2 in MLflow at {server.url}"]
        await pilot.press("shift+tab", *"canary healthy", "enter")
        await wait_for(pilot, lambda: any(r.outcome == "applied" for r in app.ctx.audit.list()))
    assert rest.get_alias(name, "production") == "2"
    with Catalog(path) as catalog:
        assert catalog.aliases(name) == {"production": "2"}
    [row] = [r for r in app.ctx.audit.list() if r.outcome == "applied"]
    assert (row.action, row.target, row.after["registry"]) == ("catalog.set_alias", f"{name}@production", server.url)


def test_snapshot_synced_model_with_a_deleted_version_80x24(snap_compare, tmp_path):
    """A model synced from MLflow: each version's source in the detail, the version deleted there
    struck through and marked (the catalog is written through sync_registry, no server needed)."""
    import shutil
    import tempfile

    from adapters.mlflow import ModelVersion, RegisteredModel
    from console.app import MlopsConsole
    from console.catalog_sync import RunData, version_record
    from console.config import Settings
    from console.context import Context
    from screens.catalog import CatalogScreen

    url = "https://mlflow.example:5000"
    model = RegisteredModel("churn [eu] é", 1_790_000_000_000, None, "Churn risk per account", None,
                            {"team": "growth"}, {"production": "2"})
    records = []
    for n in (1, 2, 3):
        version = ModelVersion(model.name, str(n), 1_790_000_000_000 + n * 86_400_000, None, "ana", "None", "",
                               f"s3://models/churn/{n}", f"run{n}", "READY", None, {})
        run = RunData("FINISHED", "ana", None, {"eta": f"0.{n}"}, {"auc": 0.8 + n / 100})
        records.append(version_record(model, version, run, version.source))
    path = tmp_path / "built.db"
    with Catalog(path) as catalog:
        catalog.sync_registry(url, models={model.name: model.creation_ms}, records=records,
                              aliases={model.name: model.aliases}, runs={}, now="2026-11-20T09:00:00Z")
        catalog.sync_registry(url, models={model.name: model.creation_ms}, records=records[:2],
                              aliases={model.name: model.aliases}, runs={}, now="2026-11-21T09:00:00Z")
    fixed = Path(tempfile.gettempdir()) / "mlops-console-snapshots" / "catalog.db"
    fixed.parent.mkdir(exist_ok=True)
    shutil.copy(path, fixed)
    for suffix in ("-wal", "-shm"):
        Path(f"{fixed}{suffix}").unlink(missing_ok=True)
    settings = Settings(catalog=fixed, audit=tmp_path / "audit.db")
    app = MlopsConsole(Context(settings), clock=lambda: 1_795_000_000.0, cursor_blink=False)

    async def run_before(pilot):
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, CatalogScreen)
                       and "deleted from the registry" in screen_text(pilot.app, "#detail-body"))
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_a_models_uri_source_is_resolved_by_the_server_once(server, rest, tmp_path):
    """MLflow 3 registers logged models as models:/<model_id>; the catalog keeps where the files
    are (model-versions/get-download-uri), so the Rollouts screen can match a storageUri."""
    name = unique("logged model")
    info = rest.call("POST", "/logged-models", {"experiment_id": rest.experiment(), "name": "model"})["model"]["info"]
    rest.model(name)
    rest.version(name, source=f"models:/{info['model_id']}", model_id=info["model_id"])
    where = rest.call("GET", "/model-versions/get-download-uri", {"name": name, "version": "1"})["artifact_uri"]
    assert not where.startswith("models:/")
    with Catalog(tmp_path / "c.db") as catalog, MlflowClient(server.url) as client:
        sync(catalog, client, models=[name])
        assert catalog.get_version(name, "1").artifact_uri == where
        client.requests = 0
        assert not sync(catalog, client, models=[name]).changed
        assert client.requests == 2  # the model and its versions: the source is not resolved again


def test_progress_bar_on_a_terminal_only(server, rest, tmp_path, monkeypatch, capsys):
    import io
    import sys

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    name = unique("progress")
    rest.model(name)
    rest.version(name, source="s3://m/progress/1", run_id=rest.run(metrics={"auc": 0.5}))
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    code = main(["--catalog", str(tmp_path / "c.db"), "catalog", "sync", "--mlflow-url", server.url, "--model", name])
    out = capsys.readouterr().out
    assert code == 0 and "1 added" in out
    drawn = terminal.getvalue()
    assert "\r[" in drawn and "runs 1/1" in drawn and drawn.endswith("\r\x1b[K")  # drawn, then wiped
    code, out, err = run_cli(capsys, "--catalog", str(tmp_path / "c.db"), "catalog", "sync", "--mlflow-url",
                             server.url, "--model", name)
    assert code == 0 and err == ""  # not a terminal: no bar


def test_tls_custom_ca_and_insecure_as_mlflows_client_reads_them(server, rest, tmp_path, monkeypatch, capsys):
    import ssl

    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    name = unique("over tls")
    rest.model(name)
    rest.version(name, source="s3://m/tls/1")
    proxy = FaultProxy(server.url, ssl_context=context)
    argv = ["--catalog", str(tmp_path / "c.db"), "catalog", "sync", "--mlflow-url", proxy.url, "--model", name]
    try:
        code, _, err = run_cli(capsys, *argv)
        assert code == 3 and "TLS verification failed" in err and "MLFLOW_TRACKING_SERVER_CERT_PATH" in err
        monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(ca_file))
        code, out, err = run_cli(capsys, *argv)
        assert (code, err) == (0, "") and "1 added" in out
        monkeypatch.delenv("MLFLOW_TRACKING_SERVER_CERT_PATH")
        monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "true")
        code, out, err = run_cli(capsys, *argv)
        assert (code, err) == (0, "") and "nothing changed" in out
    finally:
        proxy.close()
