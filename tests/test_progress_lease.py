"""Issue 12 §3: one driver at a time, with a coordination.k8s.io/v1 Lease.

The sandbox serves Leases as the API server does (kubernetes pkg/registry/coordination/lease/strategy.go:
updates need a resourceVersion; pkg/apis/coordination/validation: leaseDurationSeconds > 0;
pkg/printers/internalversion/printers.go: NAME, HOLDER, AGE), checked with kubectl and the official
client; the console's LeaseHolder follows client-go's leader election (tools/leaderelection: a Lease
whose renewTime + leaseDurationSeconds has passed may be taken, counting a transition); rollout
changes from another console are refused while the Lease is held, unless --force (audited).
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest

from adapters import leases
from adapters.errors import Conflict, StateConflict
from adapters.kube import KubeClient
from console import cli, lease
from sandbox_fixtures import kubectl, start_kube_sandbox, wait_until

NS = "leasetest"


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    sandbox = start_kube_sandbox(tmp_path_factory.mktemp("lease"))
    sandbox.cluster.ensure_namespace(NS)
    yield sandbox
    sandbox.stop()


def kc(sb, context: str | None = None) -> KubeClient:
    return KubeClient(str(sb.kubeconfig_path), context=context)


def make_canary(sb, name: str) -> None:
    obj = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
           "metadata": {"name": name, "namespace": NS},
           "spec": {"predictor": {"model": {"modelFormat": {"name": "xgboost"},
                                            "storageUri": "s3://mlops-models/fraud-detector/v38"}}}}
    sb.cluster.put(obj)
    c = kc(sb)
    wait_until(lambda: c.get_inference_service(NS, name).latest_rolledout_revision)
    obj["spec"]["predictor"]["model"]["storageUri"] = "s3://mlops-models/fraud-detector/v39"
    obj["spec"]["predictor"]["canaryTrafficPercent"] = 10
    sb.cluster.put(obj)
    wait_until(lambda: c.get_inference_service(NS, name).latest_percent == 10)


def test_the_sandbox_serves_leases_to_the_client_and_kubectl(sb):
    c = kc(sb)
    at = lease.now()
    made = leases.create_lease(c, leases.lease_body(NS, "plain", holder="alice@bastion (admin)", acquired=at,
                                                    renewed=at, duration_seconds=60, transitions=0))
    assert made.holder == "alice@bastion (admin)" and made.duration_seconds == 60 and made.resource_version
    with pytest.raises(Conflict):  # AlreadyExists
        leases.create_lease(c, leases.lease_body(NS, "plain", holder="bob", acquired=at, renewed=at,
                                                 duration_seconds=60, transitions=0))
    got = leases.get_lease(c, NS, "plain")
    assert got == made
    renewed = leases.replace_lease(c, leases.lease_body(NS, "plain", holder=made.holder, acquired=at,
                                                        renewed=at + timedelta(seconds=20), duration_seconds=60,
                                                        transitions=0, resource_version=made.resource_version))
    assert renewed.renewed == at + timedelta(seconds=20)
    with pytest.raises(Conflict):  # a stale resourceVersion
        leases.replace_lease(c, leases.lease_body(NS, "plain", holder="bob", acquired=at, renewed=at,
                                                  duration_seconds=60, transitions=1,
                                                  resource_version=made.resource_version))
    out = kubectl(sb, "get", "lease", "-n", NS, check=True).stdout.splitlines()
    assert out[0].split() == ["NAME", "HOLDER", "AGE"]
    assert out[1].split()[:3] == ["plain", "alice@bastion", "(admin)"]
    raw = json.loads(kubectl(sb, "get", "lease", "plain", "-n", NS, "-o", "json", check=True).stdout)
    assert raw["apiVersion"] == "coordination.k8s.io/v1" and raw["spec"]["leaseDurationSeconds"] == 60
    bad = kubectl(sb, "create", "-f", "-", input=json.dumps(
        {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "bad", "namespace": NS},
         "spec": {"leaseDurationSeconds": 0}}))
    assert bad.returncode != 0 and "spec.leaseDurationSeconds" in bad.stderr
    with pytest.raises(Conflict):  # delete with a stale precondition
        leases.delete_lease(c, NS, "plain", made.resource_version)
    leases.delete_lease(c, NS, "plain", renewed.resource_version)
    assert leases.get_lease(c, NS, "plain") is None
    assert "plain" not in kubectl(sb, "get", "lease", "-n", NS).stdout
    # a viewer reads Leases but may not write them
    viewer = kc(sb, "sandbox-viewer")
    assert leases.get_lease(viewer, NS, "plain") is None


def test_a_holder_renews_and_releases_and_a_second_is_refused(sb):
    one = lease.LeaseHolder(kc(sb), NS, "model-a", lease.holder_identity("alice", "admin"))
    one.acquire()
    first = one.lease
    assert first is not None and first.name == "mlops-console-model-a" and first.duration_seconds == 60
    assert first.holder is not None and first.holder.startswith("alice@") and first.holder.endswith(" (admin)")
    one.renew()
    assert one.lease is not None and one.lease.resource_version != first.resource_version
    two = lease.LeaseHolder(kc(sb), NS, "model-a", lease.holder_identity("bob", "admin"))
    with pytest.raises(StateConflict) as refused:
        two.acquire()
    assert f"held by {first.holder} since " in refused.value.message
    one.release()
    assert leases.get_lease(kc(sb), NS, "mlops-console-model-a") is None
    two.acquire()  # free now
    two.release()


def test_the_holder_renews_on_its_own_until_released(sb):
    holder = lease.LeaseHolder(kc(sb), NS, "model-r", "erin@bastion (admin)")
    holder.acquire()
    first = holder.lease
    assert first is not None and first.renewed is not None
    holder.start_renewing(every=0.05)
    c = kc(sb)
    wait_until(lambda: (leases.get_lease(c, NS, "mlops-console-model-r").renewed or first.renewed) > first.renewed,
               timeout=30)
    holder.release()
    assert leases.get_lease(c, NS, "mlops-console-model-r") is None


def test_an_expired_lease_is_taken_over(sb):
    c = kc(sb)
    long_ago = lease.now() - timedelta(minutes=5)
    leases.create_lease(c, leases.lease_body(NS, "mlops-console-model-b", holder="gone@host (admin)",
                                             acquired=long_ago, renewed=long_ago, duration_seconds=60, transitions=0))
    holder = lease.LeaseHolder(c, NS, "model-b", lease.holder_identity("carol", "admin"))
    holder.acquire()
    assert holder.took_over is not None and holder.took_over.holder == "gone@host (admin)"
    assert holder.lease is not None and holder.lease.transitions == 1 and holder.lease.holder.startswith("carol@")
    # the one it replaced finds out at its next renewal
    gone = lease.LeaseHolder(c, NS, "model-b", "gone@host (admin)")
    gone.lease = holder.took_over
    gone.renew()
    assert gone.lost.is_set() and "carol@" in gone.lost_reason
    holder.release()


def test_other_consoles_changes_are_refused_while_held_unless_forced(sb, capsys):
    make_canary(sb, "model-c")
    holder = lease.LeaseHolder(kc(sb), NS, "model-c", "dave@bastion (admin)")
    holder.acquire()
    try:
        base = ["--kubeconfig", str(sb.kubeconfig_path), "rollout"]
        for argv in (["set", "model-c", "--percent", "50"], ["step", "model-c", "--up"], ["promote", "model-c"],
                     ["rollback", "model-c"]):
            code = cli.main([*base, *argv, "-n", NS, "--reason", "hot fix", "--yes"])
            err = capsys.readouterr().err
            assert code == 6, err
            assert "is being steered by a progress: lease mlops-console-model-c in leasetest is held by " \
                   "dave@bastion (admin) since " in err and "--force" in err
        assert kc(sb).get_inference_service(NS, "model-c").canary_traffic_percent == 10
        code = cli.main([*base, "set", "model-c", "--percent", "50", "-n", NS, "--reason", "hot fix", "--yes",
                         "--force"])
        assert code == 0, capsys.readouterr().err
        assert kc(sb).get_inference_service(NS, "model-c").canary_traffic_percent == 50
        capsys.readouterr()
        assert cli.main(["audit", "list", "--json", "--all", "--target", f"{NS}/model-c"]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert sum(r["outcome"] == "refused: conflict" for r in rows) == 4
        intent = next(r for r in rows if r["outcome"] == "intent")
        assert "forced past the lease mlops-console-model-c" in intent["message"]
        events = kc(sb).list_events(NS, involved_name="model-c")
        assert any("forced past the lease" in (e.message or "") for e in events)
    finally:
        holder.release()
    # released: no refusal any more
    code = cli.main(["--kubeconfig", str(sb.kubeconfig_path), "rollout", "set", "model-c", "--percent", "20",
                     "-n", NS, "--reason", "after", "--yes"])
    assert code == 0, capsys.readouterr().err


def test_a_progress_whose_lease_was_forced_away_stops_without_advancing(sb, tmp_path):
    from console.actions import ActionPath
    from console.audit import AuditJournal, Identity
    from console.progress_run import Plan, ProgressRun

    make_canary(sb, "model-f")
    mine = lease.LeaseHolder(kc(sb), NS, "model-f", "frank@bastion (admin)")
    mine.acquire()
    lease.LeaseHolder(kc(sb), NS, "model-f", "grace@laptop (admin)").acquire(force=True)
    mine.renew()  # finds out
    assert mine.lost.is_set()
    journal = AuditJournal(tmp_path / "audit.db")
    lines: list[str] = []

    class Lines:
        def line(self, text):
            lines.append(text)

        def step(self, *a):
            pass

        verdict = countdown = step

    run = ProgressRun(Plan(NS, "model-f", [50, 100], 1.0, "60s", 2, "test"), client=kc(sb),
                      path=ActionPath(journal, read_only=False), judge=lambda isvc: None, holder=mine,
                      reporter=Lines(), stop=threading.Event(), identity=Identity("frank", None, "admin"))
    with pytest.raises(lease.LeaseLost, match="the lease was taken: lease mlops-console-model-f in leasetest is held "
                                            "by grace@laptop"):
        run.run()
    assert kc(sb).get_inference_service(NS, "model-f").canary_traffic_percent == 10  # no step was taken
    rows = journal.list(target=f"{NS}/model-f")
    journal.close()
    assert [r.outcome for r in rows][:2] == ["stopped: lease lost", "started"]
