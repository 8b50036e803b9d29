"""The KFP v2beta1 sandbox endpoint, over real HTTP: wire format, paging, filters, state progression,
terminate/retry, faults, the official spec (jsonschema) and the official generated client."""

from __future__ import annotations

import copy
import json
import re
import ssl
import time
from pathlib import Path

import httpx
import pytest

from console import demo_data
from console.sandbox.kfp_server import KfpSandbox
from console.sandbox.kfp_world import CANCEL_DELAY, EPOCH

SPEC = Path(__file__).resolve().parent.parent.parent / "shared" / "reference" / "kfp_v2beta1.swagger.json"

API = "/apis/v2beta1"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    sb = KfpSandbox(tmp_path_factory.mktemp("kfp"), n_runs=50, time_scale=1.0, seed=7)
    sb.start()
    yield sb
    sb.stop()


@pytest.fixture(scope="module")
def http(sandbox):
    with httpx.Client(base_url=sandbox.base_url + API, timeout=10) as client:
        yield client


@pytest.fixture
def fresh(tmp_path):
    """A sandbox of its own, for tests that change runs."""
    sb = KfpSandbox(tmp_path / "state", n_runs=50, time_scale=1.0, seed=7)
    sb.start()
    client = httpx.Client(base_url=sb.base_url + API, timeout=10)
    yield sb, client
    client.close()
    sb.stop()


def all_runs(http, **params):
    runs, token, pages = [], None, 0
    while True:
        query = dict(params)
        if token:
            query["page_token"] = token
        response = http.get("/runs", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        runs += body.get("runs", [])
        pages += 1
        token = body.get("next_page_token")
        if not token:
            return runs, pages


def flt(*predicates):
    return json.dumps({"predicates": list(predicates)})


def find(runs, fragment):
    return next(r for r in runs if fragment in r["display_name"])


# -- listing and paging -----------------------------------------------------------------------


def test_pages_through_every_run_once_newest_first(http):
    runs, pages = all_runs(http, page_size=7, sort_by="created_at desc")
    ids = [r["run_id"] for r in runs]
    assert len(ids) == 50 and len(set(ids)) == 50
    assert pages == 8
    created = [r["created_at"] for r in runs]
    assert created == sorted(created, reverse=True)
    first = http.get("/runs", params={"page_size": 7}).json()
    assert first["total_size"] == 50 and isinstance(first["total_size"], int)


def test_sort_ascending_and_by_name(http):
    runs, _ = all_runs(http, page_size=20, sort_by="display_name")
    names = [(r["display_name"], r["run_id"]) for r in runs]
    assert names == sorted(names)
    bad = http.get("/runs", params={"sort_by": "colour desc"})
    assert bad.status_code == 400 and bad.json()["code"] == 3


def test_wire_format_traps(http):
    runs, _ = all_runs(http, page_size=50)
    unfinished = [r for r in runs if r["state"] in ("PENDING", "RUNNING")]
    finished = [r for r in runs if r["state"] in ("SUCCEEDED", "FAILED", "CANCELED")]
    assert unfinished and finished
    assert all(r["finished_at"] == EPOCH for r in unfinished)
    assert all(r["finished_at"] != EPOCH for r in finished)
    detail = http.get(f"/runs/{finished[0]['run_id']}").json()
    assert isinstance(detail["run_details"]["pipeline_context_id"], str)  # int64 as a string
    tasks = detail["run_details"]["task_details"]
    assert all(isinstance(t["execution_id"], str) and t["execution_id"].isdigit() for t in tasks)

    def walk(value, path="$"):
        if isinstance(value, dict):
            for key, item in value.items():
                if key not in ("parameters",):
                    assert re.fullmatch(r"[a-z0-9_@]+", key), f"{path}.{key} is not snake_case"
                assert item is not None and item != [] and item != "", f"zero value sent at {path}.{key}"
                if key != "pipeline_spec":  # a google.protobuf.Struct: the compiled pipeline's own keys
                    walk(item, f"{path}.{key}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{path}[{i}]")

    walk(runs)
    walk(detail)
    # nothing matches: the whole answer is the zero value, {}
    empty = http.get("/runs", params={"filter": flt({"key": "display_name", "operation": "EQUALS",
                                                      "string_value": "no-such-run"})})
    assert empty.status_code == 200 and empty.json() == {}


def test_filters(http):
    failed, _ = all_runs(http, filter=flt({"key": "state", "operation": "EQUALS", "string_value": "FAILED"}))
    assert failed and all(r["state"] == "FAILED" for r in failed)
    active, _ = all_runs(http, filter=flt({"key": "state", "operation": "IN",
                                           "string_values": {"values": ["RUNNING", "PENDING"]}}))
    assert {r["state"] for r in active} == {"RUNNING", "PENDING"}
    # protojson also accepts lowerCamelCase field names
    camel, _ = all_runs(http, filter=json.dumps({"predicates": [
        {"key": "state", "operation": "NOT_EQUALS", "stringValue": "SUCCEEDED"}]}))
    assert camel and all(r["state"] != "SUCCEEDED" for r in camel)
    sub, _ = all_runs(http, filter=flt({"key": "display_name", "operation": "IS_SUBSTRING",
                                        "string_value": "fraud-detector"}))
    assert sub and all("fraud-detector" in r["display_name"] for r in sub)
    everything, _ = all_runs(http, page_size=50)
    cutoff = sorted(r["created_at"] for r in everything)[25]
    newer, _ = all_runs(http, filter=flt({"key": "created_at", "operation": "GREATER_THAN_EQUALS",
                                          "timestamp_value": cutoff}))
    assert len(newer) == len([r for r in everything if r["created_at"] >= cutoff])


def test_experiment_and_namespace_scopes(http):
    exps = http.get("/experiments").json()["experiments"]
    recsys = next(e for e in exps if e["display_name"] == "recsys-training")
    in_exp, _ = all_runs(http, experiment_id=recsys["experiment_id"])
    assert in_exp and all(r["experiment_id"] == recsys["experiment_id"] for r in in_exp)
    # single-user KFP ignores the namespace of a list (resource/resource_manager.go ReplaceNamespace)
    in_ns, _ = all_runs(http, namespace="recsys")
    assert len(in_ns) == 50
    by_key, _ = all_runs(http, filter=flt({"key": "namespace", "operation": "EQUALS", "string_value": "recsys"}))
    assert {r["run_id"] for r in by_key} == {r["run_id"] for r in in_exp}
    one = http.get(f"/experiments/{recsys['experiment_id']}").json()
    assert one["display_name"] == "recsys-training" and one["namespace"] == "recsys"
    missing = http.get("/experiments/nope")
    assert missing.status_code == 404 and missing.json()["code"] == 5


def test_bad_filters_and_page_tokens_answer_400_with_a_status(sandbox, http):
    for bad in ("{not json", json.dumps({"predicates": [{"key": "state", "operation": "LIKE",
                                                          "string_value": "x"}]}),
                flt({"key": "colour", "operation": "EQUALS", "string_value": "red"})):
        response = http.get("/runs", params={"filter": bad})
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == 3 and body["details"] == [] and "filter" in body["message"]
    garbage = http.get("/runs", params={"page_token": "bm90LWEtdG9rZW4"})
    assert garbage.status_code == 400 and "Invalid page token" in garbage.json()["message"]
    # backend/src/apiserver/server/list_request_util.go validatedListOptions: a token with another
    # sort or filter is refused in KFP's words
    token = http.get("/runs", params={"page_size": 5}).json()["next_page_token"]
    other_query = http.get("/runs", params={"page_size": 5, "page_token": token, "sort_by": "display_name"})
    assert other_query.status_code == 400 and other_query.json()["code"] == 3
    assert "page token does not match the supplied sort by and/or filtering criteria" in other_query.json()["message"]
    assert http.get("/runs", params={"page_size": 5, "page_token": token}).status_code == 200


def test_page_tokens_carry_their_query_and_never_expire(tmp_path):
    """backend/src/apiserver/list/list.go: a page token is base64 JSON of the list options (sort,
    filter, where the next page starts), unsigned and with no expiry, so a request with only the token
    continues the original query, even on a restarted server."""
    failed = flt({"key": "state", "operation": "EQUALS", "string_value": "FAILED"})
    first = KfpSandbox(tmp_path / "state", n_runs=200, seed=7, time_scale=0.0)
    first.start()
    try:
        with httpx.Client(base_url=first.base_url + API, timeout=10) as http:
            everything, _ = all_runs(http, page_size=50, sort_by="display_name desc", filter=failed)
            page1 = http.get("/runs", params={"page_size": 3, "sort_by": "display_name desc", "filter": failed}).json()
    finally:
        first.stop()
    assert len(everything) > 6
    token = page1["next_page_token"]
    decoded = json.loads(__import__("base64").b64decode(token))
    assert decoded["SortByFieldName"] == "display_name" and decoded["IsDesc"] is True and decoded["Filter"]
    again = KfpSandbox(tmp_path / "state", n_runs=200, seed=7, time_scale=0.0)
    again.start()
    try:
        with httpx.Client(base_url=again.base_url + API, timeout=10) as http:
            page2 = http.get("/runs", params={"page_size": 3, "page_token": token}).json()
            same = http.get("/runs", params={"page_size": 3, "page_token": token, "sort_by": "display_name desc",
                                             "filter": failed})
    finally:
        again.stop()
    names = [r["display_name"] for r in page1["runs"] + page2["runs"]]
    assert names == [r["display_name"] for r in everything[:6]]
    assert all(r["state"] == "FAILED" for r in page2["runs"])
    assert same.status_code == 200 and [r["run_id"] for r in same.json()["runs"]] == [r["run_id"] for r in page2["runs"]]


def test_unknown_run_is_404_naming_it(http):
    response = http.get("/runs/0000-not-a-run")
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == 5 and "0000-not-a-run" in body["message"] and body["details"] == []
    assert http.get("/healthz").json() == {"pipeline_store": "database"}
    assert http.delete("/runs/x").status_code in (404, 405)


def test_task_details_tell_the_story_of_a_failure(http):
    runs, _ = all_runs(http, page_size=50)
    # ListRuns sends what GetRun sends: run_details for every run, and the compiled pipeline of a run
    # submitted as a package (backend/src/apiserver/server/api_converter.go toApiRun, KFP 2.17)
    started = [r for r in runs if r["state"] != "PENDING"]
    assert all("task_details" in r["run_details"] for r in started)
    inline = [r for r in runs if "pipeline_spec" in r]
    assert inline and all("pipeline_version_reference" not in r for r in inline)
    assert all(r["pipeline_spec"]["schemaVersion"] == "2.1.0" for r in inline)
    assert min(len(json.dumps(r)) for r in inline) > 10_000  # real pages are heavy
    oom = http.get(f"/runs/{find(runs, 'churn-predictor-v31')['run_id']}").json()
    assert oom["state"] == "FAILED"
    tasks = oom["run_details"]["task_details"]
    root = next(t for t in tasks if "parent_task_id" not in t)
    children = [t for t in tasks if t.get("parent_task_id") == root["task_id"]]
    assert {c["task_id"] for c in children} == {c["task_id"] for c in root["child_tasks"]}
    assert all(t["pod_name"] for t in tasks)
    trainer = next(t for t in children if t["display_name"] == "train-model")
    assert trainer["state"] == "FAILED"
    assert "OOMKilled" in trainer["error"]["message"] and trainer["error"]["code"] > 0
    assert trainer["pod_name"] in trainer["error"]["message"]
    assert [s["state"] for s in trainer["state_history"]] == ["RUNNING", "FAILED"]
    assert [s["state"] for s in oom["state_history"]] == ["PENDING", "RUNNING", "FAILED"]


def test_trained_versions_link_to_the_catalog(http):
    runs, _ = all_runs(http, page_size=50)
    by_id = {r["run_id"]: r for r in runs}
    linked = 0
    for model in demo_data.MODELS:
        run = by_id.get(demo_data.run_id_for(model.name, str(model.versions)))
        assert run is not None, f"no run for {model.name} v{model.versions}"
        assert run["state"] == "SUCCEEDED"
        assert run["runtime_config"]["parameters"]["output_uri"] == demo_data.storage_uri(model.name, str(model.versions))
        linked += 1
    assert linked == len(demo_data.MODELS)


# -- progression, terminate, retry -------------------------------------------------------------


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def test_states_progress_with_the_simulated_clock(tmp_path):
    # The clock is moved by advance(), not by wall time: however slow the machine, the run is seen
    # in each state it passes through (a scaled clock raced a busy machine's first request).
    with KfpSandbox(tmp_path, n_runs=50, time_scale=1.0) as sb, \
            httpx.Client(base_url=sb.base_url + API) as http:
        runs, _ = all_runs(http, page_size=50)
        pending = find(runs, "demand-forecast-v29")
        assert pending["state"] == "PENDING"
        seen = [pending["state"]]
        for _ in range(2000):  # 30 simulated seconds a step: at most ~17 hours
            sb.advance(30)
            state = http.get(f"/runs/{pending['run_id']}").json()["state"]
            if seen[-1] != state:
                seen.append(state)
            if state == "SUCCEEDED":
                break
        assert seen == ["PENDING", "RUNNING", "SUCCEEDED"]
        done = http.get(f"/runs/{pending['run_id']}").json()
        assert done["finished_at"] != EPOCH
        assert all(t["state"] == "SUCCEEDED" for t in done["run_details"]["task_details"])


def test_terminate_goes_canceling_then_canceled(fresh):
    sb, http = fresh
    runs, _ = all_runs(http, page_size=50)
    target = find(runs, "fraud-detector-v41")
    assert target["state"] == "RUNNING"
    response = http.post(f"/runs/{target['run_id']}:terminate")
    assert response.status_code == 200 and response.json() == {}
    now = http.get(f"/runs/{target['run_id']}").json()
    assert now["state"] == "CANCELING" and now["finished_at"] == EPOCH
    # storage/run_store.go TerminateRun: the UPDATE matches only PAUSED/PENDING/RUNNING rows; otherwise
    # InvalidArgument (code 3, HTTP 400) "Row not found"
    again = http.post(f"/runs/{target['run_id']}:terminate")
    assert again.status_code == 400 and again.json()["code"] == 3
    assert again.json()["message"].endswith(f"Failed to terminate a run {target['run_id']}. Row not found")
    sb.advance(CANCEL_DELAY + 1)
    done = http.get(f"/runs/{target['run_id']}").json()
    assert done["state"] == "CANCELED" and done["finished_at"] != EPOCH
    trainer = next(t for t in done["run_details"]["task_details"] if t["display_name"] == "train-model")
    assert trainer["state"] == "CANCELED"
    finished = find(runs, "fraud-detector-v40")
    refused = http.post(f"/runs/{finished['run_id']}:terminate")
    assert refused.status_code == 400 and refused.json()["code"] == 3 and "Row not found" in refused.json()["message"]
    # a restarted sandbox on the same state directory remembers the terminate
    sb2 = KfpSandbox(sb.state_dir, n_runs=50, time_scale=1.0, seed=7)
    assert sb2.world.run(target["run_id"]).state_at(sb2.now()) == "CANCELED"


def test_retry_reruns_the_failed_task(fresh):
    sb, http = fresh
    runs, _ = all_runs(http, page_size=50)
    transient = find(runs, "ad-ctr-v31")
    assert transient["state"] == "FAILED"
    assert http.post(f"/runs/{transient['run_id']}:retry").status_code == 200
    running = http.get(f"/runs/{transient['run_id']}").json()
    assert running["state"] == "RUNNING" and running["finished_at"] == EPOCH
    ingest = next(t for t in running["run_details"]["task_details"] if t["display_name"] == "ingest-data")
    assert ingest["state"] == "RUNNING" and "error" not in ingest
    assert ingest["executor_detail"]["failed_main_jobs"] and ingest["pod_name"] not in ingest["executor_detail"]["failed_main_jobs"]
    assert [s["state"] for s in ingest["state_history"]] == ["RUNNING", "FAILED", "RUNNING"]
    sb.advance(3 * 3600)
    done = http.get(f"/runs/{transient['run_id']}").json()
    assert done["state"] == "SUCCEEDED"
    assert [s["state"] for s in done["state_history"]][-3:] == ["FAILED", "RUNNING", "SUCCEEDED"]
    # a deterministic failure fails again
    oom = find(runs, "churn-predictor-v31")
    assert http.post(f"/runs/{oom['run_id']}:retry").status_code == 200
    sb.advance(3 * 3600)
    again = http.get(f"/runs/{oom['run_id']}").json()
    assert again["state"] == "FAILED"
    trainer = next(t for t in again["run_details"]["task_details"] if t["display_name"] == "train-model")
    assert len(trainer["executor_detail"]["failed_main_jobs"]) == 1
    ok = find(runs, "fraud-detector-v40")
    # common/util/workflow.go GenerateRetryExecution: NewBadRequestError, i.e. gRPC Aborted (10), HTTP 409
    refused = http.post(f"/runs/{ok['run_id']}:retry")
    assert refused.status_code == 409 and refused.json()["code"] == 10
    assert "Workflow must be Failed/Error to retry" in refused.json()["message"]


# -- faults and auth ---------------------------------------------------------------------------


def test_injected_faults(fresh):
    sb, http = fresh
    sb.faults.add(r"/runs$", status=503, times=1)
    first = http.get("/runs")
    assert first.status_code == 503 and first.json()["code"] == 14
    assert http.get("/runs").status_code == 200  # times=1: gone
    sb.faults.add(r"/runs$", body="{\"runs\": [", times=1)
    garbled = http.get("/runs")
    assert garbled.status_code == 200
    with pytest.raises(ValueError):
        garbled.json()
    sb.faults.add(r"/healthz", delay=0.3, times=1)
    with pytest.raises(httpx.TimeoutException):
        http.get("/healthz", timeout=0.1)
    sb.faults.add(r"/healthz", drop=True, times=1)
    with pytest.raises(httpx.TransportError):
        http.get("/healthz")
    fault = sb.faults.add(r"/experiments", status=403, method="POST")
    assert http.get("/experiments").status_code == 200 and fault.hits == 0
    sb.faults.clear()


def test_bearer_token_required_when_configured(tmp_path):
    with KfpSandbox(tmp_path, n_runs=10, token="s3cret") as sb, httpx.Client(base_url=sb.base_url + API) as http:
        refused = http.get("/runs")
        assert refused.status_code == 401 and refused.json()["code"] == 16
        assert http.get("/runs", headers={"Authorization": "Bearer s3cret"}).status_code == 200


# -- the official spec and the official client -------------------------------------------------


def _strict(definitions):
    """The swagger definitions, with undeclared fields forbidden (catches misspelt field names)."""
    out = copy.deepcopy(definitions)
    for schema in out.values():
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
    return out


def test_responses_validate_against_the_official_spec(fresh):
    jsonschema = pytest.importorskip("jsonschema")
    if not SPEC.exists():
        pytest.skip(f"{SPEC} is not available")
    spec = json.loads(SPEC.read_text())
    definitions = _strict(spec["definitions"])

    validators = {}

    def check(instance, name):
        if name not in validators:
            schema = {"definitions": definitions, "$ref": f"#/definitions/{name}"}
            validators[name] = jsonschema.Draft4Validator(schema)
        validators[name].validate(instance)

    sb, http = fresh
    runs, _ = all_runs(http, page_size=50)
    check(http.get("/runs", params={"page_size": 10}).json(), "v2beta1ListRunsResponse")
    # exercise every story: failed, running, pending, canceled, retried
    http.post(f"/runs/{find(runs, 'ad-ctr-v31')['run_id']}:retry")
    http.post(f"/runs/{find(runs, 'search-ranker-v33')['run_id']}:terminate")
    for run in runs:
        check(http.get(f"/runs/{run['run_id']}").json(), "v2beta1Run")
    check(http.get("/experiments").json(), "v2beta1ListExperimentsResponse")
    exp_id = runs[0]["experiment_id"]
    check(http.get(f"/experiments/{exp_id}").json(), "v2beta1Experiment")
    check(http.get("/healthz").json(), "v2beta1GetHealthzResponse")
    check(http.get("/runs/nope").json(), "googleRpcStatus")
    check(http.get("/runs", params={"page_token": "x"}).json(), "googleRpcStatus")
    # and the validation can fail: a misspelt field is caught
    bad = dict(runs[0], finishedAt=EPOCH)
    with pytest.raises(jsonschema.ValidationError):
        check(bad, "v2beta1Run")
    with pytest.raises(jsonschema.ValidationError):
        check(dict(runs[0], state="DONE"), "v2beta1Run")


def test_official_generated_client_lists_and_gets_runs(sandbox):
    kfp_server_api = pytest.importorskip("kfp_server_api")
    config = kfp_server_api.Configuration(host=sandbox.base_url)
    with kfp_server_api.ApiClient(config) as api_client:
        runs_api = kfp_server_api.RunServiceApi(api_client)
        page = runs_api.run_service_list_runs(page_size=20, sort_by="created_at desc")
        assert len(page.runs) == 20 and page.total_size == 50 and page.next_page_token
        second = runs_api.run_service_list_runs(page_size=20, page_token=page.next_page_token,
                                                sort_by="created_at desc")
        assert not {r.run_id for r in page.runs} & {r.run_id for r in second.runs}
        failed = next(r for r in page.runs + second.runs if r.state == "FAILED")
        run = runs_api.run_service_get_run(failed.run_id)
        assert run.run_id == failed.run_id and run.finished_at.year > 1970
        errors = [t.error.message for t in run.run_details.task_details if t.error]
        assert errors and errors[0]
        assert run.run_details.task_details[0].child_tasks[0].pod_name
        exps = kfp_server_api.ExperimentServiceApi(api_client).experiment_service_list_experiments()
        assert {e.display_name for e in exps.experiments} >= {"recsys-training", "payments-training"}
        with pytest.raises(kfp_server_api.ApiException) as info:
            runs_api.run_service_get_run("nope")
        assert info.value.status == 404


def test_runs_follow_a_catalog_file(tmp_path):
    from adapters.catalog import Catalog
    from console.demo_catalog import build_demo_catalog

    catalog_path = tmp_path / "catalog.db"
    build_demo_catalog(catalog_path)
    with KfpSandbox(tmp_path / "kfp", catalog_path, n_runs=50) as sb, \
            httpx.Client(base_url=sb.base_url + API) as http, Catalog(catalog_path, read_only=True) as catalog:
        runs, _ = all_runs(http, page_size=50)
        linked = []
        for run in runs:
            versions = catalog.versions_by_run_id(run["run_id"])
            if versions:
                version = versions[0]
                assert run["state"] == "SUCCEEDED"
                params = run["runtime_config"]["parameters"]
                assert (params["model_name"], params["version"]) == (version.model, version.version)
                assert run["finished_at"] < version.created_at  # trained, then registered
                linked.append(version)
        assert len(linked) >= 30
        latest = {m.name for m in demo_data.MODELS}
        assert {v.model for v in linked} == latest


# -- multi-user mode (full Kubeflow) ------------------------------------------------------------


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    """The whole sandbox with KFP multi-user: KFP asks the sandbox's Kubernetes RBAC over its socket."""
    from console.sandbox.runner import Sandbox

    sb = Sandbox(tmp_path_factory.mktemp("multi"), prometheus=False, catalog=False, kfp_multi_user=True)
    endpoints = sb.start()
    with httpx.Client(base_url=endpoints["kfp_url"] + API, timeout=10) as client:
        yield sb, endpoints, client
    sb.stop()


ADMIN = {"kubeflow-userid": "admin@example.com"}
VIEWER = {"kubeflow-userid": "viewer@example.com"}


def test_multi_user_list_without_a_namespace_is_kfps_own_400(multi):
    """run_server.go listRuns -> canAccessRun: an empty namespace is InvalidArgument before any auth;
    experiment_server.go canAccessExperiment likewise."""
    _, endpoints, http = multi
    assert endpoints["kfp_multi_user"] is True and endpoints["kfp_user_header"] == "kubeflow-userid: admin@example.com"
    assert http.get("/healthz").json()["multi_user"] is True
    response = http.get("/runs", headers=ADMIN)
    assert response.status_code == 400 and response.json()["code"] == 3
    assert response.json()["message"] == (
        "Failed to list runs: Failed to list runs due to authorization error. Check if you have permission to access "
        "namespace : Invalid input error: A run cannot have an empty namespace in multi-user mode")
    experiments = http.get("/experiments", headers=ADMIN)
    assert experiments.status_code == 400 and "An experiment cannot have an empty namespace" in experiments.json()["message"]
    listed = http.get("/runs", params={"namespace": "recsys"}, headers=ADMIN).json()["runs"]
    recsys = {e["experiment_id"] for e in http.get("/experiments", params={"namespace": "recsys"},
                                                   headers=ADMIN).json()["experiments"]}
    assert listed and all(r["experiment_id"] in recsys for r in listed)


def test_multi_user_identity_comes_from_the_gateway_header_or_a_bearer_token(multi):
    """auth/auth.go GetAuthenticators: the user-id header first, then a TokenReview of a bearer token;
    resource_manager.go IsAuthorized: neither is Unauthenticated (16, HTTP 401)."""
    sb, _, http = multi
    nobody = http.get("/runs", params={"namespace": "recsys"})
    assert nobody.status_code == 401 and nobody.json()["code"] == 16
    assert "there is no user identity header" in nobody.json()["message"]
    by_token = http.get("/runs", params={"namespace": "recsys", "page_size": 1},
                        headers={"Authorization": f"Bearer {sb.viewer_token}"})
    assert by_token.status_code == 200 and by_token.json()["runs"]
    bad_token = http.get("/runs", params={"namespace": "recsys"}, headers={"Authorization": "Bearer nope"})
    assert bad_token.status_code == 401


def test_multi_user_run_actions_are_authorized_by_kube_rbac(multi):
    """run_server.go canAccessRun: a SubjectAccessReview on pipelines.kubeflow.org/v1beta1 runs, verb
    terminate/retry/get, in the run's (experiment's) namespace; a denial is PermissionDenied (7, 403)."""
    sb, _, http = multi
    runs = http.get("/runs", params={"namespace": "fraud", "page_size": 50}, headers=ADMIN).json()["runs"]
    running = find(runs, "fraud-detector-v41")
    assert http.get(f"/runs/{running['run_id']}", headers=VIEWER).status_code == 200  # viewers may read
    denied = http.post(f"/runs/{running['run_id']}:terminate", headers=VIEWER)
    assert denied.status_code == 403 and denied.json()["code"] == 7
    message = denied.json()["message"]
    assert "User 'viewer@example.com' is not authorized" in message
    assert "Namespace:fraud,Verb:terminate,Group:pipelines.kubeflow.org,Version:v1beta1,Resource:runs" in message
    assert http.get(f"/runs/{running['run_id']}", headers=ADMIN).json()["state"] == "RUNNING"
    assert http.post(f"/runs/{running['run_id']}:terminate", headers=ADMIN).status_code == 200


def test_kube_api_answers_the_reviews_kfp_asks(multi):
    """k8s.io/api/authorization/v1 SubjectAccessReview and authentication/v1 TokenReview, created by a
    privileged identity (KFP's service account); a viewer may not create them."""
    sb, endpoints, _ = multi
    ca = endpoints["ca"]
    with httpx.Client(base_url=endpoints["kube_url"], verify=ssl.create_default_context(cafile=ca), timeout=10) as kube:
        def sar(user, verb, token=sb.admin_token):
            return kube.post("/apis/authorization.k8s.io/v1/subjectaccessreviews",
                             headers={"Authorization": f"Bearer {token}"},
                             json={"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                                   "spec": {"user": user, "resourceAttributes": {
                                       "namespace": "fraud", "verb": verb, "group": "pipelines.kubeflow.org",
                                       "resource": "runs"}}})
        assert sar("admin@example.com", "retry").json()["status"]["allowed"] is True
        assert sar("viewer@example.com", "retry").json()["status"]["allowed"] is False
        assert sar("viewer@example.com", "list").json()["status"]["allowed"] is True
        assert sar("viewer@example.com", "list", token=sb.viewer_token).status_code == 403
        review = kube.post("/apis/authentication.k8s.io/v1/tokenreviews", headers={"Authorization": f"Bearer {sb.admin_token}"},
                           json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                                 "spec": {"token": sb.viewer_token}}).json()
        assert review["status"]["authenticated"] is True and review["status"]["user"]["username"] == "viewer"


def test_user_header_prefix_as_kfp_configures_it(tmp_path):
    """auth/util.go singlePrefixedHeaderFromMetadata: a value without the configured prefix
    (KUBEFLOW_USERID_PREFIX, e.g. accounts.google.com:) is refused; with it, the prefix is stripped."""
    class Allow:
        seen: list = []

        def authenticate(self, token):
            return None

        def authorize(self, user, attributes):
            self.seen.append(user)
            return True, ""

    allow = Allow()
    sb = KfpSandbox(tmp_path, n_runs=20, multi_user=True, authorizer=allow, user_header="x-goog-authenticated-user-email",
                    user_prefix="accounts.google.com:")
    sb.start()
    try:
        with httpx.Client(base_url=sb.base_url + API, timeout=10) as http:
            ok = http.get("/runs", params={"namespace": "recsys"},
                          headers={"X-Goog-Authenticated-User-Email": "accounts.google.com:me@example.com"})
            bad = http.get("/runs", params={"namespace": "recsys"},
                           headers={"X-Goog-Authenticated-User-Email": "me@example.com"})
    finally:
        sb.stop()
    assert ok.status_code == 200 and allow.seen == ["me@example.com"]
    assert bad.status_code == 409 and "Expected prefix 'accounts.google.com:'" in bad.json()["message"]


def test_sandbox_up_kfp_multi_user_writes_the_admin_header(tmp_path):
    """`mlops-console sandbox up --kfp-multi-user` serves multi-user KFP and writes the admin user's
    header line into endpoints.json, for [kfp] user_header / MLOPS_CONSOLE_KFP_USER_HEADER."""
    import os
    import signal
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    state = tmp_path / "state"
    proc = subprocess.Popen([sys.executable, "-m", "console", "sandbox", "up", "--state-dir", str(state),
                             "--no-prometheus", "--no-catalog", "--kfp-multi-user"], cwd=root,
                            env=dict(os.environ, PYTHONPATH=str(root)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        endpoints_file = state / "endpoints.json"
        deadline = time.monotonic() + 60
        while not endpoints_file.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for the condition (the file), bounded
        assert proc.poll() is None and endpoints_file.exists(), proc.stderr.read() if proc.poll() is not None else ""
        endpoints = json.loads(endpoints_file.read_text())
        assert endpoints["kfp_multi_user"] is True
        assert endpoints["kfp_user_header"] == "kubeflow-userid: admin@example.com"
        name, _, value = endpoints["kfp_user_header"].partition(": ")
        with httpx.Client(base_url=endpoints["kfp_url"] + API, timeout=10) as http:
            assert http.get("/runs", headers={name: value}).status_code == 400
            assert http.get("/runs", params={"namespace": "fraud"}, headers={name: value}).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "(multi-user)" in out and "MLOPS_CONSOLE_KFP_USER_HEADER" in out
