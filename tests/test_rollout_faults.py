"""Faults on the Kubernetes side, over real sockets: down at start, lost later, slow, 5xx, 429,
403, 409, dropped connections, garbage, bad TLS, expired watch, malformed objects; and the
concurrent-rollback conflict (two consoles roll back from the same resourceVersion)."""

from __future__ import annotations

import base64
import json
import re
import socket
import threading

import pytest

from adapters.errors import BackendUnavailable, Conflict, DataError, Forbidden
from adapters.kube import KubeClient, WatchExpired
from console.actions import ActionPath
from console.audit import AuditJournal, Identity
from console.rollout_actions import Rollback
from sandbox_fixtures import settled, start_kube_sandbox, wait_until

NS = "faults"


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    sandbox = start_kube_sandbox(tmp_path_factory.mktemp("kube-faults"))
    yield sandbox
    sandbox.stop()


@pytest.fixture(autouse=True)
def _no_leftover_faults(sb):
    sb.cluster.faults.clear()
    yield
    sb.cluster.faults.clear()


def client(sb, **kw) -> KubeClient:
    return KubeClient(str(sb.kubeconfig_path), **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kubeconfig_with(sb, tmp_path, *, server: str | None = None, ca_pem: bytes | None = None) -> str:
    text = sb.kubeconfig_path.read_text()
    if server:
        text = re.sub(r"server: \S+", f"server: {server}", text)
    if ca_pem:
        text = re.sub(r"certificate-authority-data: \S+",
                      f"certificate-authority-data: {base64.b64encode(ca_pem).decode()}", text)
    path = tmp_path / "kubeconfig"
    path.write_text(text)
    return str(path)


def make_canary(sb, name: str, percent: int = 20) -> None:
    """An InferenceService mid-canary: v1 rolled out, v2 at `percent`."""
    sb.cluster.ensure_namespace(NS)
    obj = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
           "metadata": {"name": name, "namespace": NS},
           "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"},
                                            "storageUri": "s3://mlops-models/churn-predictor/v1"}}}}
    sb.cluster.put(obj)
    c = client(sb)
    wait_until(lambda: c.get_inference_service(NS, name).latest_rolledout_revision)
    obj["spec"]["predictor"]["model"]["storageUri"] = "s3://mlops-models/churn-predictor/v2"
    obj["spec"]["predictor"]["canaryTrafficPercent"] = percent
    sb.cluster.put(obj)
    wait_until(lambda: settled(c.get_inference_service(NS, name), percent))


# -- the server is not there ------------------------------------------------------------------


def test_down_at_start(sb, tmp_path):
    path = kubeconfig_with(sb, tmp_path, server=f"https://127.0.0.1:{free_port()}")
    c = KubeClient(path)
    with pytest.raises(BackendUnavailable) as err:
        c.list_inference_services(None)
    msg = err.value.message
    assert "unreachable (connection refused)" in msg and "sandbox-admin" in msg and "127.0.0.1" in msg
    with pytest.raises(BackendUnavailable):
        next(iter(c.watch_inference_services(NS, None, threading.Event())))


def test_lost_later_while_listing_and_watching(tmp_path):
    own = start_kube_sandbox(tmp_path / "sb")
    c = client(own)
    items, rv = c.list_inference_services(None)
    assert items
    errors: list = []
    events: list = []

    def watch():
        try:
            for e in c.watch_inference_services(None, rv, threading.Event(), idle_timeout=0.5):
                events.append(e)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    t = threading.Thread(target=watch)
    t.start()
    own.stop()
    t.join(10)
    assert not t.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], BackendUnavailable), errors
    with pytest.raises(BackendUnavailable) as err:
        c.list_inference_services(None)
    assert "unreachable" in err.value.message or "dropped the connection" in err.value.message


def test_wrong_ca_is_a_tls_error(sb, tmp_path):
    trustme = pytest.importorskip("trustme")
    other_ca = trustme.CA().cert_pem.bytes()
    c = KubeClient(kubeconfig_with(sb, tmp_path, ca_pem=other_ca))
    with pytest.raises(BackendUnavailable) as err:
        c.get_inference_service("fraud", "fraud-detector")
    assert "TLS" in err.value.message and "CA" in err.value.message


# -- the server answers badly -----------------------------------------------------------------


def test_slow_server_times_out(sb):
    sb.cluster.faults.add(r"/inferenceservices", delay=1.5, times=1)
    c = client(sb, timeout=0.3)
    with pytest.raises(BackendUnavailable) as err:
        c.list_inference_services("fraud")
    assert "did not answer within 0.3 s" in err.value.message
    assert c.list_inference_services("fraud")[0]  # the next call works again


@pytest.mark.parametrize("status,words", [(503, "answered 503"), (500, "answered 500"), (429, "throttling")])
def test_5xx_and_429(sb, status, words):
    sb.cluster.faults.add(r"/inferenceservices", status=status, times=1)
    with pytest.raises(BackendUnavailable) as err:
        client(sb).list_inference_services(None)
    assert words in err.value.message


def test_injected_403_on_list(sb):
    sb.cluster.faults.add(r"/inferenceservices", status=403, times=1)
    with pytest.raises(Forbidden) as err:
        client(sb).list_inference_services("fraud")
    assert err.value.message.startswith("not allowed to list inferenceservices in fraud as sandbox-admin")


def test_dropped_connection(sb):
    sb.cluster.faults.add(r"/inferenceservices", drop=True, times=1)
    with pytest.raises(BackendUnavailable) as err:
        client(sb).list_inference_services("fraud")
    assert "dropped the connection" in err.value.message


def test_garbage_bodies_are_data_errors(sb):
    sb.cluster.faults.add(r"/inferenceservices", status=200, body=b"<html>proxy login</html>",
                          content_type="text/html", times=1)
    with pytest.raises(DataError) as err:
        client(sb).list_inference_services("fraud")
    assert "not JSON" in err.value.message
    sb.cluster.faults.add(r"watch=true", status=200, body=b"this is not an event\n", times=1)
    with pytest.raises(DataError) as err:
        for _ in client(sb).watch_inference_services("fraud", None, threading.Event()):
            pass
    assert "malformed watch event" in err.value.message


def test_watch_that_keeps_ending_empty_gives_up(sb):
    sb.cluster.faults.add(r"watch=true", status=200, body=b"", times=None)
    with pytest.raises(BackendUnavailable) as err:
        for _ in client(sb).watch_inference_services("fraud", None, threading.Event()):
            pass
    assert "keeps ending the watch" in err.value.message
    assert sb.cluster.faults.take("GET", "/x?watch=true") is not None  # still armed: it was not a one-off


def test_malformed_objects_are_shown_not_fatal(sb):
    items = [
        {"metadata": {"name": "no-status", "namespace": NS, "resourceVersion": "5"},
         "spec": {"predictor": {"model": {"storageUri": "s3://x/y"}}}},
        {"metadata": {"name": "odd-split", "namespace": NS, "resourceVersion": "6"}, "unexpected": {"a": 1},
         "spec": {"predictor": {"model": {"storageUri": "s3://x/y"}, "canaryTrafficPercent": 10, "newField": 1}},
         "status": {"components": {"predictor": {"traffic": [
             {"revisionName": "r2", "percent": 10, "latestRevision": True},
             {"revisionName": "r1", "percent": 80, "latestRevision": False, "tag": "prev"}]}}}},
        {"metadata": {"name": "weird-types", "namespace": NS}, "spec": "nope", "status": {"conditions": 7}},
    ]
    body = json.dumps({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceServiceList",
                       "metadata": {"resourceVersion": "9"}, "items": items})
    sb.cluster.faults.add(r"/inferenceservices", status=200, body=body, times=1)
    got, rv = client(sb).list_inference_services(NS)
    assert rv == "9"
    by_name = {i.name: i for i in got}
    assert "no status yet" in by_name["no-status"].problems
    assert "traffic sums to 90, not 100" in by_name["odd-split"].problems
    assert by_name["odd-split"].latest_percent == 10 and by_name["odd-split"].prev_percent == 80
    assert "no spec" in by_name["weird-types"].problems


def test_expired_watch_is_its_own_error(sb):
    c = client(sb)
    sb.cluster.faults.add(r"watch=true", status=410, times=1)
    with pytest.raises(WatchExpired):
        next(iter(c.watch_inference_services(None, "1", threading.Event())))


def test_injected_409_on_patch(sb):
    make_canary(sb, "conflict-inject")
    c = client(sb)
    rv = c.get_inference_service(NS, "conflict-inject").resource_version
    sb.cluster.faults.add(r"/inferenceservices/conflict-inject", method="PATCH", status=409, times=1)
    with pytest.raises(Conflict) as err:
        c.patch_inference_service(NS, "conflict-inject", {"spec": {"predictor": {"canaryTrafficPercent": 0}}},
                                  resource_version=rv)
    assert f"{NS}/conflict-inject changed since you looked (resourceVersion {rv}" in err.value.message
    assert c.get_inference_service(NS, "conflict-inject").canary_traffic_percent == 20


# -- two consoles roll back at once -----------------------------------------------------------


def test_concurrent_rollback_exactly_one_wins(sb, tmp_path):
    make_canary(sb, "race")
    journal = AuditJournal(tmp_path / "audit.db")
    consoles = []
    for who in ("alice", "bob"):
        path = ActionPath(journal, read_only=False, identity=Identity(who, None))
        action = Rollback(client(sb), NS, "race")
        change = path.prepare(action, f"{who} saw errors")
        consoles.append((path, action, change))
    assert consoles[0][2].precondition == consoles[1][2].precondition
    assert consoles[0][2].lines == ["spec.predictor.canaryTrafficPercent: 20 -> 0"]
    assert any("leaves the new model in the spec" in n for n in consoles[0][2].notes)

    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def go(i):
        path, action, change = consoles[i]
        barrier.wait()
        try:
            results[action.actor() + str(i)] = path.execute(action, change, f"console {i} rolls back")
        except Conflict as exc:
            results[action.actor() + str(i)] = exc

    threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    outcomes = list(results.values())
    conflicts = [o for o in outcomes if isinstance(o, Conflict)]
    applied = [o for o in outcomes if not isinstance(o, Conflict)]
    assert len(conflicts) == 1 and len(applied) == 1, outcomes
    assert "changed since you looked" in conflicts[0].message
    rows = journal.list(target=f"{NS}/race")
    assert sorted(r.outcome for r in rows) == ["applied", "failed: conflict"]
    assert all(r.kube_identity == "admin" for r in rows)
    c = client(sb)
    wait_until(lambda: c.get_inference_service(NS, "race").latest_percent == 0)
    final = c.get_inference_service(NS, "race")
    assert final.canary_traffic_percent == 0 and final.prev_percent == 100
    assert final.storage_uri == "s3://mlops-models/churn-predictor/v2"  # the new model stays in the spec
    journal.close()
