"""A failed canary is never "healthy", and the split is what kubectl says (issue 8, section 4).

- `rollout list --json`'s latest_percent / prev_percent / latest_revision / prev_revision equal
  KServe's printer columns (additionalPrinterColumns in the InferenceService CRD, read from
  ../shared/reference) evaluated on the sandbox's objects, and the sandbox's own server-side Table
  (what `kubectl get isvc` prints); `traffic` is the status traffic merged by revision.
- The JSONPath semantics follow k8s.io/client-go/util/jsonpath/jsonpath.go (filters skip elements
  without the field, fail on values of another kind) and apiextensions-apiserver's
  tableconvertor.go (first result; integer columns truncate floats, are empty for anything else).
- `health churn-predictor -n recsys` on the demo story (its new revision failed: RevisionFailed)
  is failing, naming the revision and the condition's message; exit code 1 (issue 12).
"""

from __future__ import annotations

import json

import pytest
import yaml

from adapters.kube import KubeClient, printer_cell
from conftest import reference_file
from console.cli import main
from sandbox_fixtures import api_client, split_of, start_kube_sandbox

# CRD printer column -> the key of `rollout list --json` that must print the same
COLUMN_KEYS = {"Prev": "prev_percent", "Latest": "latest_percent",
               "PrevRolledoutRevision": "prev_revision", "LatestReadyRevision": "latest_revision"}
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


@pytest.fixture(scope="module")
def kube(tmp_path_factory):
    sb = start_kube_sandbox(tmp_path_factory.mktemp("canary-truth"))
    yield sb
    sb.stop()


def printer_columns() -> list[dict]:
    """The v1beta1 printer columns of the CRD. The file is 2 MB of schema: only the block of
    additionalPrinterColumns is parsed (the whole file takes seconds even with libyaml)."""
    lines = reference_file("kserve_inferenceservices.crd.yaml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip(" -") == "additionalPrinterColumns:")
    indent = len(lines[start]) - len(lines[start].lstrip(" -"))  # where the version's keys start
    end = next(i for i in range(start + 1, len(lines))
               if lines[i].strip() and len(lines[i]) - len(lines[i].lstrip(" ")) <= indent)
    version = yaml.safe_load("\n".join(line[indent:] for line in lines[start:end + 1]))
    assert version["name"] == "v1beta1"
    columns = [c for c in version["additionalPrinterColumns"] if c["name"] in COLUMN_KEYS]
    assert len(columns) == len(COLUMN_KEYS)
    return columns


def raw_objects(sb) -> dict[tuple[str, str], dict]:
    with KubeClient(kubeconfig=str(sb.kubeconfig_path)) as client:
        items = client.list_raw(None)["items"]
    return {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in items}


def list_json(sb, capsys) -> dict[tuple[str, str], dict]:
    code = main(["--kubeconfig", str(sb.kubeconfig_path), "rollout", "list", "-A", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return {(r["namespace"], r["name"]): r for r in json.loads(out)}


def server_table(sb) -> dict[tuple[str, str], dict]:
    """The sandbox API server's Table for `kubectl get isvc -A`, by (namespace, name)."""
    from kubernetes import client

    api = client.CustomObjectsApi(api_client(sb))
    answer = api.list_cluster_custom_object("serving.kserve.io", "v1beta1", "inferenceservices",
                                            _preload_content=False, _headers={"Accept": TABLE})
    table = json.loads(answer.data)
    names = [c["name"] for c in table["columnDefinitions"]]
    return {(row["object"]["metadata"]["namespace"], row["object"]["metadata"]["name"]): dict(zip(names, row["cells"], strict=True))
            for row in table["rows"]}


def test_list_json_prints_what_kubectl_prints(kube, capsys):
    columns = printer_columns()
    objects = raw_objects(kube)
    rows = list_json(kube, capsys)
    table = server_table(kube)
    assert ("recsys", "churn-predictor") in objects and set(rows) == set(objects)
    for key, obj in objects.items():
        if obj["spec"].get("canary"):  # Standard mode: no printer columns; latest/prev name the canary/stable
            continue
        for column in columns:
            expected = printer_cell(obj, column["jsonPath"], column["type"])
            assert rows[key][COLUMN_KEYS[column["name"]]] == expected == table[key][column["name"]], (key, column)
    # the failed canary: kubectl shows its two entries (both name the old revision), not one at 100
    churn = rows[("recsys", "churn-predictor")]
    assert (churn["prev_percent"], churn["latest_percent"]) == (
        table[("recsys", "churn-predictor")]["Prev"], table[("recsys", "churn-predictor")]["Latest"])
    assert churn["prev_percent"] is not None and churn["latest_percent"] != 100


def test_traffic_is_where_requests_go_and_problems_name_the_failed_revision(kube, capsys):
    objects = raw_objects(kube)
    rows = list_json(kube, capsys)
    for key, obj in objects.items():
        served = {t["revision"]: t["percent"] for t in rows[key]["traffic"]}
        if obj["spec"].get("canary"):  # Standard mode: the HTTPRoute's weights (test_standard_canary.py)
            continue
        assert served == split_of(obj), key  # one entry per revision, summed
    churn_obj = objects[("recsys", "churn-predictor")]
    comp = churn_obj["status"]["components"]["predictor"]
    failed, ready = comp["latestCreatedRevision"], comp["latestReadyRevision"]
    churn = rows[("recsys", "churn-predictor")]
    [entry] = churn["traffic"]
    assert entry["revision"] == ready and entry["ready"] is True
    assert sorted(entry["tags"]) == sorted(t["tag"] for t in comp["traffic"] if t.get("tag"))  # latest: untagged
    message = next(c["message"] for c in churn_obj["status"]["conditions"] if c["type"] == "Ready")
    assert any(failed in p and message in p for p in churn["problems"])
    assert rows[("fraud", "fraud-detector")]["problems"] == []
    # status --json: the same traffic array, the existing keys kept
    code = main(["--kubeconfig", str(kube.kubeconfig_path), "rollout", "status", "churn-predictor", "-n", "recsys",
                 "--json"])
    status = json.loads(capsys.readouterr().out)
    assert code == 0 and status["traffic"] == churn["traffic"] and status["problems"] == churn["problems"]
    assert {"latest_created_revision", "revisions", "conditions", "can_canary"} <= set(status)


# -- the JSONPath semantics of the API server's printer, on objects the sandbox never makes --------

LATEST = ".status.components.predictor.traffic[?(@.latestRevision==true)].percent"
PREV = ".status.components.predictor.traffic[?(@.tag=='prev')].percent"


def with_traffic(*targets) -> dict:
    return {"status": {"components": {"predictor": {"traffic": list(targets)}}}}


@pytest.mark.parametrize("obj,path,expected", [
    # an element without the field is skipped (KServe tags "latest" only with tag routing on)
    (with_traffic({"revisionName": "a", "percent": 30, "latestRevision": True},
                  {"revisionName": "b", "percent": 70, "tag": "prev"}), PREV, 70),
    # the first match wins; floats are truncated as Go's int64(float64) does
    (with_traffic({"percent": 12.9, "tag": "prev"}, {"percent": 40, "tag": "prev"}), PREV, 12),
    # a value of another kind cannot be compared: the whole cell is empty, even with a match elsewhere
    (with_traffic({"percent": 10, "latestRevision": "true"}, {"percent": 90, "latestRevision": True}), LATEST, None),
    (with_traffic({"percent": 10, "tag": None}, {"percent": 90, "tag": "prev"}), PREV, None),
    # an integer column shows nothing for a string, a bool or a missing value
    (with_traffic({"percent": "90", "tag": "prev"}), PREV, None),
    (with_traffic({"percent": True, "latestRevision": True}), LATEST, None),
    (with_traffic({"latestRevision": True}), LATEST, None),
    # not an array: nothing to filter
    ({"status": {"components": {"predictor": {"traffic": {"percent": 5}}}}}, LATEST, None),
    ({"status": "weird"}, LATEST, None),
])
def test_printer_cell_follows_the_api_servers_jsonpath(obj, path, expected):
    assert printer_cell(obj, path, "integer") == expected


# -- health on the demo story -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo's sandbox: cluster and a real Prometheus whose metrics follow the traffic split."""
    import shutil

    from console.sandbox.runner import Sandbox

    if not (shutil.which("prometheus") and shutil.which("promtool")):
        pytest.skip("the prometheus package is not installed (apt-get install prometheus)")
    sb = Sandbox(tmp_path_factory.mktemp("canary-health"), prometheus=True, kfp=False, catalog=False)
    endpoints = sb.start()
    if not endpoints.get("prometheus_url"):
        sb.stop()
        pytest.fail(f"the sandbox did not start Prometheus: {endpoints.get('messages')}")
    yield sb
    sb.stop()


def health(sb, capsys, *argv) -> tuple[int, str, str]:
    code = main(["--kubeconfig", str(sb.kubeconfig_path), "--prometheus-url", sb.endpoints["prometheus_url"],
                 "health", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_health_of_a_canary_whose_new_revision_failed_is_failing(demo, capsys):
    obj = raw_objects(demo)[("recsys", "churn-predictor")]
    failed = obj["status"]["components"]["predictor"]["latestCreatedRevision"]
    serving = obj["status"]["components"]["predictor"]["latestReadyRevision"]
    ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == "RevisionFailed" and failed != serving

    code, out, err = health(demo, capsys, "churn-predictor", "-n", "recsys", "--json")
    assert code == 1, err  # failing (issue 12: health is a gate)
    body = json.loads(out)
    assert body["status"] == "failing" and body["verdict"].startswith("failing checks")
    assert failed in body["reason"] and ready["message"] in body["reason"]
    check = body["checks"][0]
    assert check["name"] == "revision_ready" and check["passed"] is False and failed in check["text"]
    # the numbers are the old revision's, and say so: it is not evaluated under the name "latest"
    assert body["canary"]["revision"] == serving and body["canary"]["role"] == "serving"

    code, out, err = health(demo, capsys, "churn-predictor", "-n", "recsys")
    first = out.splitlines()[0]
    assert code == 1 and first.startswith("recsys/churn-predictor: failing checks") and failed in first
    assert "healthy" not in first
