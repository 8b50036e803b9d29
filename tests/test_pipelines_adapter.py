"""adapters.pipelines against the KFP sandbox over real HTTP: listing, paging, parsing the wire
format's traps, terminate/retry, auth headers, TLS with a custom CA, and every fault mapped to the
shared errors with a message a person can act on."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.errors import BackendUnavailable, Conflict, DataError, Forbidden, InvalidInput, NotFound
from adapters.pipelines import (
    PageTokenExpired,
    PipelinesClient,
    Run,
    parse_run,
    parse_time,
)
from console import demo_data
from console.sandbox.kfp_server import KfpSandbox
from console.sandbox.kfp_world import CANCEL_DELAY

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    sb = KfpSandbox(tmp_path_factory.mktemp("kfp"), n_runs=50, seed=7)
    sb.start()
    yield sb
    sb.stop()


@pytest.fixture
def client(sandbox):
    sandbox.faults.clear()
    c = PipelinesClient(sandbox.base_url, timeout=5)
    yield c
    c.close()
    sandbox.faults.clear()


@pytest.fixture
def fresh(tmp_path):
    sb = KfpSandbox(tmp_path / "kfp", n_runs=50, seed=7)
    sb.start()
    c = PipelinesClient(sb.base_url, timeout=5)
    yield sb, c
    c.close()
    sb.stop()


def named(runs: list[Run], fragment: str) -> Run:
    return next(r for r in runs if fragment in r.display_name)


# -- listing ------------------------------------------------------------------------------------


def test_iter_runs_pages_through_everything(client, sandbox):
    runs = list(client.iter_runs(page_size=8))
    assert len(runs) == 50 and len({r.run_id for r in runs}) == 50
    created = [r.created_at for r in runs]
    assert created == sorted(created, reverse=True)
    list_calls = [p for m, p, _h in sandbox.requests if p.endswith("/runs")]
    assert len(list_calls) >= 7
    assert len(list(client.iter_runs(page_size=8, limit=11))) == 11


def test_list_runs_page(client):
    page = client.list_runs(page_size=10)
    assert len(page.runs) == 10 and page.total_size == 50 and page.next_page_token
    second = client.list_runs(page_size=10, page_token=page.next_page_token)
    assert not {r.run_id for r in page.runs} & {r.run_id for r in second.runs}
    by_name = client.list_runs(page_size=50, sort_by="display_name asc")
    names = [r.display_name for r in by_name.runs]
    assert names == sorted(names)


def test_parsed_runs_absorb_the_wire_format_traps(client):
    runs = list(client.iter_runs())
    unfinished = [r for r in runs if r.state in ("PENDING", "RUNNING")]
    finished = [r for r in runs if r.state in ("SUCCEEDED", "FAILED", "CANCELED")]
    assert unfinished and all(r.finished_at is None for r in unfinished)
    assert finished and all(isinstance(r.finished_at, datetime) and r.finished_at.year > 2000 for r in finished)
    assert all(r.created_at.tzinfo is not None for r in runs)
    # a listing carries every run's details (KFP 2.17 api_converter.go toApiRun); the adapter leaves them
    # unread: the detail GETs its run
    assert all(not r.has_details and r.tasks == [] for r in runs)
    running = unfinished[0]
    assert running.duration() is not None and running.duration() >= 0


def test_filters_by_state_text_and_experiment(client):
    failed = list(client.iter_runs(state="FAILED"))
    assert failed and all(r.state == "FAILED" for r in failed)
    active = list(client.iter_runs(state=["running", "PENDING"]))
    assert {r.state for r in active} == {"RUNNING", "PENDING"}
    fraud = list(client.iter_runs(text="fraud-detector"))
    assert fraud and all("fraud-detector" in r.display_name for r in fraud)
    exp = client.find_experiment("recsys-training")
    in_exp = list(client.iter_runs(experiment_id=exp.experiment_id))
    assert in_exp and all(r.experiment_id == exp.experiment_id for r in in_exp)
    # single-user KFP ignores a list's namespace (resource/resource_manager.go ReplaceNamespace)
    assert len(list(client.iter_runs(namespace="recsys"))) == len(list(client.iter_runs()))
    with pytest.raises(InvalidInput, match="unknown run state"):
        client.list_runs(state="DONE")


def test_experiments(client):
    experiments = client.list_experiments()
    names = {e.display_name for e in experiments}
    assert {"Default", "payments-training", "recsys-training"} <= names
    exp = client.find_experiment("Payments-Training")  # case-insensitive by name
    assert exp.namespace == "fraud"
    assert client.get_experiment(exp.experiment_id).display_name == "payments-training"
    assert client.find_experiment(exp.experiment_id).experiment_id == exp.experiment_id
    with pytest.raises(NotFound, match="no experiment 'nope'.*recsys-training"):
        client.find_experiment("nope")
    with pytest.raises(NotFound, match="experiment zzz"):
        client.get_experiment("zzz")


# -- one run ------------------------------------------------------------------------------------


def test_get_run_task_tree_and_failure(client):
    runs = list(client.iter_runs())
    oom = client.get_run(named(runs, "churn-predictor-v31").run_id)
    assert oom.has_details and oom.state == "FAILED"
    tree = oom.task_tree()
    assert tree[0][0] == 0 and tree[0][1].parent_task_id is None
    assert [t.display_name for d, t in tree if d == 1] == ["ingest-data", "validate-data", "train-model"]
    assert set(tree[0][1].child_task_ids) == {t.task_id for d, t in tree if d == 1}
    assert oom.failing_task.display_name == "train-model"
    assert "OOMKilled" in oom.failure and oom.failure.startswith("train-model: ")
    assert oom.failing_task.pod_name and oom.failing_task.execution_id > 0
    assert [c.state for c in oom.failing_task.state_history] == ["RUNNING", "FAILED"]
    assert oom.failing_task.end_time is not None and oom.failing_task.duration() > 0
    assert [c.state for c in oom.state_history] == ["PENDING", "RUNNING", "FAILED"]
    running = client.get_run(named(runs, "fraud-detector-v41").run_id)
    assert running.failure is None and running.finished_at is None
    assert any(t.state == "RUNNING" and t.end_time is None for t in running.tasks)
    catalog_run = client.get_run(demo_data.run_id_for("fraud-detector", "40"))
    assert catalog_run.parameters["output_uri"] == demo_data.storage_uri("fraud-detector", "40")
    json.dumps(oom.to_json())  # plain JSON all the way down
    assert oom.to_json()["tasks"][0]["depth"] == 0


def test_parse_tolerates_missing_lists_int64_strings_and_unknown_fields():
    run = parse_run({
        "run_id": "r1", "state": "RUNNING", "finished_at": "1970-01-01T00:00:00Z",
        "created_at": "2024-06-01T10:00:00.123456789Z", "brand_new_field": {"x": 1},
        "state_history": {}, "run_details": {"task_details": {}, "pipeline_context_id": "12"},
        "runtime_config": {},
    })
    assert run.finished_at is None and run.tasks == [] and run.state_history == []
    assert run.created_at == datetime(2024, 6, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert run.display_name == "r1" and run.has_details
    bare = parse_run({"run_id": "r2"})
    assert bare.state == "RUNTIME_STATE_UNSPECIFIED" and bare.created_at is None and bare.failure is None
    task_run = parse_run({"run_id": "r3", "state": "FAILED", "run_details": {"task_details": [
        {"task_id": "t", "display_name": "train", "state": "FAILED", "execution_id": "9007199254740993",
         "error": {"code": 9, "message": "boom"}, "child_tasks": {}}]}})
    assert task_run.tasks[0].execution_id == 9007199254740993
    assert task_run.failure == "train: boom"
    assert parse_time("garbage") is None and parse_time(None) is None and parse_time("1970-01-01T00:00:00Z") is None
    with pytest.raises(DataError):
        parse_run({"display_name": "no id"})


# -- terminate and retry -----------------------------------------------------------------------


def test_terminate_and_retry(fresh):
    sb, client = fresh
    runs = list(client.iter_runs())
    target = named(runs, "search-ranker-v33")
    client.terminate_run(target.run_id)
    assert client.get_run(target.run_id).state == "CANCELING"
    # KFP answers InvalidArgument (storage/run_store.go TerminateRun): by meaning, a state conflict
    with pytest.raises(Conflict, match="state does not allow it.*Row not found"):
        client.terminate_run(target.run_id)
    sb.advance(CANCEL_DELAY + 1)
    assert client.get_run(target.run_id).state == "CANCELED"
    client.retry_run(target.run_id)
    again = client.get_run(target.run_id)
    assert again.state == "RUNNING" and again.finished_at is None
    # Aborted, HTTP 409 (common/util/workflow.go GenerateRetryExecution)
    with pytest.raises(Conflict, match="Workflow must be Failed/Error to retry"):
        client.retry_run(named(runs, "fraud-detector-v40").run_id)
    with pytest.raises(NotFound, match="run missing-run"):
        client.terminate_run("missing-run")
    with pytest.raises(InvalidInput):
        client.retry_run("../etc")


# -- auth and TLS --------------------------------------------------------------------------------


def test_auth_headers_are_sent(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("first-token\n")
    with KfpSandbox(tmp_path / "kfp", n_runs=5, token="first-token") as sb:
        with PipelinesClient(sb.base_url, token_file=str(token_file), cookie="authservice_session=abc",
                             user_header="kubeflow-userid: oncall@example.com") as client:
            client.list_runs(page_size=1)
            _m, _p, headers = sb.requests[-1]
            lowered = {k.lower(): v for k, v in headers.items()}
            assert lowered["authorization"] == "Bearer first-token"
            assert lowered["cookie"] == "authservice_session=abc"
            assert lowered["kubeflow-userid"] == "oncall@example.com"
            sb.token = "rotated"
            token_file.write_text("rotated")
            os.utime(token_file, (1, 1))  # a different mtime: the client reads it again
            client.list_runs(page_size=1)
        with PipelinesClient(sb.base_url, token="wrong") as client:
            with pytest.raises(Forbidden, match=r"refused.*check the token"):
                client.list_runs()
    with pytest.raises(InvalidInput, match="token_file"):
        PipelinesClient("http://127.0.0.1:9", token_file=str(tmp_path / "absent")).list_runs()


def test_tls_with_a_custom_ca(tmp_path):
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    import ssl

    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with KfpSandbox(tmp_path / "kfp", n_runs=5, ssl_context=server_ctx) as sb:
        assert sb.base_url.startswith("https://")
        with PipelinesClient(sb.base_url, ca_file=str(ca_file)) as client:
            assert len(client.list_runs(page_size=5).runs) == 5
        with PipelinesClient(sb.base_url) as client:
            with pytest.raises(BackendUnavailable, match="ca_file"):
                client.list_runs()


# -- faults ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_down(client):
    url = f"http://127.0.0.1:{free_port()}"
    with PipelinesClient(url, timeout=2) as down:
        with pytest.raises(BackendUnavailable) as info:
            down.list_runs()
    assert url in info.value.message and "cannot be reached" in info.value.message


def test_slow_times_out(client, sandbox):
    sandbox.faults.add(r"/runs$", delay=1.0, times=1)
    with PipelinesClient(sandbox.base_url, timeout=0.2) as impatient:
        with pytest.raises(BackendUnavailable, match=r"did not answer .* within 0.2 s"):
            impatient.list_runs()


@pytest.mark.parametrize("status,error,words", [
    (401, Forbidden, "check the token"),
    (403, Forbidden, "PermissionDenied"),
    (500, BackendUnavailable, "answered 500"),
    (503, BackendUnavailable, "answered 503"),
    (429, BackendUnavailable, "try again"),
])
def test_http_errors_map_to_shared_errors(client, sandbox, status, error, words):
    sandbox.faults.add(r"/runs$", status=status, times=1)
    with pytest.raises(error) as info:
        client.list_runs()
    assert words in info.value.message and sandbox.base_url in info.value.message
    assert "\n" not in info.value.message


def test_error_body_that_is_not_json(client, sandbox):
    sandbox.faults.add(r"/runs$", status=502, body="<html>Bad Gateway</html>", content_type="text/html", times=1)
    with pytest.raises(BackendUnavailable, match="Bad Gateway"):
        client.list_runs()


def test_unknown_and_vanished_runs_are_named(fresh):
    sb, client = fresh
    with pytest.raises(NotFound) as info:
        client.get_run("no-such-run-id")
    assert "no-such-run-id" in info.value.message
    victim = client.list_runs(page_size=1).runs[0]
    sb.delete_run(victim.run_id)
    with pytest.raises(NotFound, match=victim.run_id):
        client.get_run(victim.run_id)


def test_malformed_json(client, sandbox):
    sandbox.faults.add(r"/runs$", body='{"runs": [{"run_id": ', times=1)
    with pytest.raises(DataError, match="malformed JSON"):
        client.list_runs()
    sandbox.faults.add(r"/runs/", body="[1, 2]", times=1)
    with pytest.raises(DataError):
        client.get_run("whatever")
    sandbox.faults.add(r"/runs$", body={"runs": [{"display_name": "no id"}]}, times=1)
    with pytest.raises(DataError, match="run_id"):
        client.list_runs()


def test_dropped_connection(client, sandbox):
    sandbox.faults.add(r"/runs$", drop=True, times=2)
    with pytest.raises(BackendUnavailable):
        client.list_runs()


def test_refused_page_token_is_distinct_and_recoverable(fresh):
    sb, client = fresh
    page = client.list_runs(page_size=5)
    sb.reject_page_tokens()
    with pytest.raises(PageTokenExpired) as info:
        client.list_runs(page_size=5, page_token=page.next_page_token)
    assert isinstance(info.value, InvalidInput) and "first page" in info.value.message
    assert len(client.list_runs(page_size=5).runs) == 5  # starting again works


def test_wrong_base_url_is_explained(client, sandbox):
    with PipelinesClient(sandbox.base_url + "/wrong") as wrong:
        with pytest.raises(NotFound, match="kfp_url"):
            wrong.list_runs()
    with pytest.raises(InvalidInput):
        PipelinesClient("kfp.example.com")
    assert PipelinesClient(sandbox.base_url + "/apis/v2beta1/").base_url == sandbox.base_url


def test_adapter_imports_neither_textual_nor_httpx_at_import():
    code = ("import sys, adapters.pipelines; "
            "print(sorted(m for m in ('textual', 'httpx', 'console') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- paging and multi-user --------------------------------------------------------------------


def test_a_page_token_alone_continues_its_query(client):
    """server/list_request_util.go validatedListOptions: with a token, KFP continues the token's own
    sort and filter; the adapter sends the token alone, so the next page is of the same query."""
    first = client.list_runs(page_size=2, state="FAILED", sort_by="display_name")
    assert first.next_page_token
    second = client.list_runs(page_size=2, page_token=first.next_page_token)  # no state, default sort
    everything = list(client.iter_runs(page_size=50, state="FAILED", sort_by="display_name"))
    assert [r.run_id for r in first.runs + second.runs] == [r.run_id for r in everything[:4]]


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    from console.sandbox.runner import Sandbox

    sb = Sandbox(tmp_path_factory.mktemp("multi"), prometheus=False, catalog=False, kfp_multi_user=True)
    endpoints = sb.start()
    yield sb, endpoints
    sb.stop()


def test_multi_user_without_a_namespace_says_how_to_name_one(multi):
    """run_server.go: a list without a namespace is KFP's own 400 in multi-user mode."""
    _, endpoints = multi
    with PipelinesClient(endpoints["kfp_url"], user_header=endpoints["kfp_user_header"]) as client:
        assert client.multi_user() is True and client.user == "admin@example.com"
        with pytest.raises(InvalidInput, match=r"multi-user mode.*-n NAMESPACE.*\[kfp\]"):
            client.list_runs()
    with PipelinesClient(endpoints["kfp_url"], user_header=endpoints["kfp_user_header"], namespace="recsys") as client:
        runs = list(client.iter_runs(page_size=7))
        recsys = {e.experiment_id for e in client.list_experiments()}
        assert runs and {r.experiment_id for r in runs} <= recsys
        assert {e.namespace for e in client.list_experiments()} == {"recsys"}


def test_multi_user_refusal_is_forbidden(multi):
    """run_server.go canAccessRun: PermissionDenied (7, HTTP 403) for a user RBAC does not let retry."""
    _, endpoints = multi
    with PipelinesClient(endpoints["kfp_url"], user_header="kubeflow-userid: viewer@example.com",
                         namespace="ml-platform") as client:
        failed = next(r for r in client.iter_runs(state="FAILED"))
        with pytest.raises(Forbidden, match="not authorized"):
            client.retry_run(failed.run_id)
        assert client.get_run(failed.run_id).state == "FAILED"


def test_user_header_prefix_is_not_part_of_the_user():
    client = PipelinesClient("http://127.0.0.1:1", user_header="x-goog-authenticated-user-email: "
                                                                "accounts.google.com:me@example.com")
    assert client.user == "me@example.com"
    assert PipelinesClient("http://127.0.0.1:1").user is None
