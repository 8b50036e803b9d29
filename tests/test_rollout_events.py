"""Every applied rollout change is announced as a core/v1 Event on the InferenceService (issue 8
s.2), and the console relies on KServe as it really behaves (issue 9 s.5): a rollback after a
promotion, canaryTrafficPercent 150 stopped by the console (the server would take it), a deleting
InferenceService. Peers: the CLI and the official `kubernetes` client against the sandbox."""

from __future__ import annotations

import getpass
import json

import pytest

from adapters.kube import KubeClient
from console import cli
from sandbox_fixtures import api_client, start_kube_sandbox, wait_until

NS = "evt"
G, V, P = "serving.kserve.io", "v1beta1", "inferenceservices"


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    sandbox = start_kube_sandbox(tmp_path_factory.mktemp("kube-events"))
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def core(sb):
    from kubernetes import client
    return client.CoreV1Api(api_client(sb))


def kc(sb) -> KubeClient:
    return KubeClient(str(sb.kubeconfig_path))


def run(capsys, sb, *argv) -> tuple[int, str, str]:
    code = cli.main(["--kubeconfig", str(sb.kubeconfig_path), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def make_isvc(sb, name: str, version: int = 38, canary: int | None = None) -> dict:
    sb.cluster.ensure_namespace(NS)
    pred: dict = {"model": {"modelFormat": {"name": "xgboost"},
                            "storageUri": f"s3://mlops-models/fraud-detector/v{version}"}}
    if canary is not None:
        pred["canaryTrafficPercent"] = canary
    return sb.cluster.put({"apiVersion": f"{G}/{V}", "kind": "InferenceService",
                           "metadata": {"name": name, "namespace": NS}, "spec": {"predictor": pred}})


def make_canary(sb, name: str, percent: int = 20) -> None:
    make_isvc(sb, name, 38)
    c = kc(sb)
    wait_until(lambda: c.get_inference_service(NS, name).latest_rolledout_revision)
    make_isvc(sb, name, 39, percent)
    wait_until(lambda: c.get_inference_service(NS, name).latest_percent == percent)


def console_events(core, name: str) -> list:
    return [e for e in core.list_namespaced_event(NS, field_selector=f"involvedObject.name={name}").items
            if e.source and e.source.component == "mlops-console"]


def test_a_cli_rollback_is_an_event_on_the_inference_service(sb, capsys, core):
    make_canary(sb, "announced")
    before = sb.cluster.get(P, NS, "announced")
    code, _, err = run(capsys, sb, "rollout", "rollback", "announced", "-n", NS, "--reason", "p99 doubled", "--yes")
    assert code == 0, err
    [event] = console_events(core, "announced")
    after = sb.cluster.get(P, NS, "announced")
    inv = event.involved_object
    assert (inv.api_version, inv.kind, inv.name, inv.namespace, inv.uid) == (
        f"{G}/{V}", "InferenceService", "announced", NS, before["metadata"]["uid"])
    assert int(inv.resource_version) > int(before["metadata"]["resourceVersion"])
    assert event.metadata.namespace == NS and event.type == "Normal" and event.reason == "CanaryRollback"
    assert event.source.component == "mlops-console" and event.reporting_component == "mlops-console"
    assert getpass.getuser() in event.message and "kube: admin" in event.message
    assert '"p99 doubled"' in event.message
    assert "spec.predictor.canaryTrafficPercent: 20 -> 0" in event.message
    from sandbox_fixtures import kubectl
    described = kubectl(sb, "describe", "isvc", "announced", "-n", NS, check=True).stdout.split("Events:", 1)[1]
    assert "CanaryRollback" in described and "mlops-console" in described
    listed = kubectl(sb, "get", "events", "-n", NS, "--field-selector", "reason=CanaryRollback", check=True).stdout
    assert "inferenceservice/announced" in listed
    # recorded beside the object, never in it: annotations are copied into the revision template
    assert after["metadata"].get("annotations") == before["metadata"].get("annotations")
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1  # the patch only


@pytest.fixture(scope="module")
def stepped(sb):
    make_canary(sb, "stepped")
    return "stepped"


@pytest.mark.parametrize("argv, reason", [  # in this order: set, step from there, promote
    (["set", "stepped", "--percent", "40"], "CanarySet"),
    (["step", "stepped", "--up", "--step", "10"], "CanaryStep"),
    (["promote", "stepped"], "CanaryPromote"),
])
def test_each_action_names_its_reason(sb, capsys, core, stepped, argv, reason):
    code, _, err = run(capsys, sb, "rollout", *argv, "-n", NS, "--reason", "walk", "--yes")
    assert code == 0, err
    assert reason in [e.reason for e in console_events(core, "stepped")]


def test_start_canary_event(sb, capsys, core):
    make_isvc(sb, "started", 38)
    wait_until(lambda: kc(sb).get_inference_service(NS, "started").latest_rolledout_revision)
    code, _, err = run(capsys, sb, "rollout", "start-canary", "started", "-n", NS, "--storage-uri",
                       "s3://mlops-models/fraud-detector/v40", "--percent", "5", "--reason", "try v40", "--yes")
    assert code == 0, err
    [event] = console_events(core, "started")
    assert event.reason == "CanaryStart" and "v38 -> s3://mlops-models/fraud-detector/v40" in event.message


def test_an_event_that_cannot_be_written_is_a_warning_not_an_undo(sb, capsys, core):
    make_canary(sb, "unannounced")
    sb.cluster.faults.add(r"/api/v1/namespaces/evt/events$", status=500, method="POST", times=1)
    code, _, err = run(capsys, sb, "rollout", "rollback", "unannounced", "-n", NS, "--reason", "r", "--yes")
    assert code == 0
    assert "warning: applied, but the Kubernetes Event could not be written" in err
    assert kc(sb).get_inference_service(NS, "unannounced").canary_traffic_percent == 0
    assert console_events(core, "unannounced") == []


# -- issue 9 s.5: what the console relies on ---------------------------------------------------


def test_rollback_after_a_promotion_goes_back_to_the_previous_rolled_out_revision(sb, capsys):
    """KServe's documented rollback: canaryTrafficPercent 0 after a promotion pins
    latestRolledoutRevision to previousRolledoutRevision (inference_service_status.go, PropagateStatus)."""
    make_canary(sb, "promoted")
    c = kc(sb)
    code, _, err = run(capsys, sb, "rollout", "promote", "promoted", "-n", NS, "--reason", "good", "--yes")
    assert code == 0, err
    wait_until(lambda: c.get_inference_service(NS, "promoted").latest_rolledout_revision == "promoted-predictor-00002")
    code, _, err = run(capsys, sb, "rollout", "rollback", "promoted", "-n", NS, "--reason", "bad after all",
                       "--yes", "--dry-run")
    assert code == 0 and "undoes the promotion of promoted-predictor-00002" in err
    assert "expected after: promoted-predictor-00001 100% / promoted-predictor-00002 0%" in err
    code, _, err = run(capsys, sb, "rollout", "rollback", "promoted", "-n", NS, "--reason", "bad after all", "--yes")
    assert code == 0, err
    wait_until(lambda: {(t.revision, t.percent) for t in c.get_inference_service(NS, "promoted").traffic}
               == {("promoted-predictor-00001", 100), ("promoted-predictor-00002", 0)})
    code, _, err = run(capsys, sb, "rollout", "rollback", "promoted", "-n", NS, "--reason", "again", "--yes")
    assert code != 0 and "already rolled back" in err


def test_150_percent_is_stopped_by_the_console_not_the_server(sb, capsys):
    """The server accepts canaryTrafficPercent 150 (KServe has no range check); the console refuses it
    before asking the server anything."""
    from kubernetes import client
    make_canary(sb, "too-big")
    custom = client.CustomObjectsApi(api_client(sb))
    dry = custom.patch_namespaced_custom_object(G, V, NS, P, "too-big",
                                                {"spec": {"predictor": {"canaryTrafficPercent": 150}}}, dry_run="All")
    assert dry["spec"]["predictor"]["canaryTrafficPercent"] == 150
    served = sb.kube.requests_served
    code, _, err = run(capsys, sb, "rollout", "set", "too-big", "-n", NS, "--percent", "150", "--reason", "x", "--yes")
    assert code == 2 and "percent must be from 0 to 100, not 150" in err
    assert sb.kube.requests_served == served


def test_a_deleting_inference_service_is_listed_as_deleting_and_not_steered(sb, capsys):
    make_canary(sb, "leaving")
    sb.controller.finalize_delay = 3600
    try:
        sb.cluster.delete(P, NS, "leaving")
        code, out, _ = run(capsys, sb, "rollout", "list", "-n", NS, "--json")
        assert code == 0
        row = next(r for r in json.loads(out) if r["name"] == "leaving")
        assert row["deleting"] is True
        code, _, err = run(capsys, sb, "rollout", "rollback", "leaving", "-n", NS, "--reason", "r", "--yes")
        assert code == 6 and "being deleted" in err  # a conflict with its current state
    finally:
        sb.controller.finalize_delay = 0
        sb.controller.sync(NS, "leaving")


def test_at_100_percent_there_is_no_prev_entry_and_the_console_agrees_with_kubectl(sb, capsys):
    """ksvc_reconciler.go adds the `prev` target only below 100%: at 100 the console shows no
    previous share, as kubectl's PREV column (the CRD's printer columns) shows none."""
    from sandbox_fixtures import kubectl
    make_canary(sb, "full")
    code, _, err = run(capsys, sb, "rollout", "set", "full", "-n", NS, "--percent", "100", "--reason", "all in",
                       "--yes")
    assert code == 0, err
    c = kc(sb)
    wait_until(lambda: len(c.get_inference_service(NS, "full").traffic) == 1)
    assert [t.tag for t in c.get_inference_service(NS, "full").traffic] == [None]  # no tag routing annotation
    code, out, _ = run(capsys, sb, "rollout", "list", "-n", NS, "--json")
    row = next(r for r in json.loads(out) if r["name"] == "full")
    cols = next(line.split() for line in kubectl(sb, "get", "isvc", "full", "-n", NS, "-o",
                                                  "custom-columns=PREV:.status.components.predictor.traffic[?(@.tag=='prev')].percent,"
                                                  "LATEST:.status.components.predictor.traffic[?(@.latestRevision==true)].percent",
                                                  check=True).stdout.splitlines()[1:])
    assert cols == ["<none>", "100"]
    assert (row["prev_percent"], row["latest_percent"]) == (None, 100)
