"""The sandbox serves apps/v1 Deployments as the controllers make them (issue 13: "Deployments per
canary"), so `kubectl get deploy` and the official client's AppsV1Api work unmodified:

- Knative makes `<revision>-deployment` for each revision it runs (owned by the Revision);
- KServe in Standard mode makes `<isvc>-predictor` and, per spec.canary[] entry (0.20),
  `<isvc>-<canary>-predictor` (pkg/apis/serving/v1beta1 constants PredictorServiceName; owned by
  the InferenceService), their pods labelled app=<Deployment> (constants.go GetRawServiceLabel);
- status and conditions as the deployment controller writes them (kubernetes
  pkg/controller/deployment/util/deployment_util.go: Available MinimumReplicasAvailable /
  MinimumReplicasUnavailable, Progressing NewReplicaSetAvailable); kubectl's columns from
  printDeployment (pkg/printers/internalversion/printers.go).
"""

from __future__ import annotations

import json

import pytest

from sandbox_fixtures import api_client, kubectl, start_kube_sandbox, wait_until

BROKEN = "s3://mlops-models/ad-ctr/v66"


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    sandbox = start_kube_sandbox(tmp_path_factory.mktemp("deployments"))
    yield sandbox
    sandbox.stop()


def test_kubectl_get_deploy_shows_the_standard_predictor_and_its_canary(sb):
    def rows() -> dict[str, list[str]]:
        out = kubectl(sb, "get", "deploy", "-n", "marketing", check=True).stdout.splitlines()
        assert out[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
        return {line.split()[0]: line.split() for line in out[1:]}

    got = wait_until(lambda: (lambda r: r if {"ad-ctr-predictor", "ad-ctr-v30-predictor"} <= set(r) else None)(rows()),
                     timeout=10)
    assert got["ad-ctr-predictor"][1:4] == ["1/1", "1", "1"]
    assert got["ad-ctr-v30-predictor"][1:4] == ["1/1", "1", "1"]
    body = json.loads(kubectl(sb, "get", "deploy", "ad-ctr-v30-predictor", "-n", "marketing", "-o", "json",
                              check=True).stdout)
    assert body["metadata"]["ownerReferences"][0]["kind"] == "InferenceService"
    assert body["spec"]["selector"]["matchLabels"] == {"app": "ad-ctr-v30-predictor"}
    pods = kubectl(sb, "get", "pods", "-n", "marketing", "-l", "app=ad-ctr-v30-predictor", "-o", "name",
                   check=True).stdout.split()
    assert len(pods) == 1  # the selector finds the canary's pod


def test_the_official_client_lists_knative_revision_deployments(sb):
    from kubernetes.client import AppsV1Api

    apps = AppsV1Api(api_client(sb))
    names = {d.metadata.name: d for d in apps.list_namespaced_deployment("fraud").items}
    assert {"fraud-detector-predictor-00001-deployment", "fraud-detector-predictor-00002-deployment"} <= set(names)
    revision = names["fraud-detector-predictor-00002-deployment"]
    assert revision.metadata.owner_references[0].kind == "Revision"
    assert revision.status.available_replicas == 1
    assert {d.metadata.name for d in apps.list_deployment_for_all_namespaces().items} >= set(names)


def test_a_canary_that_never_gets_ready_has_an_unavailable_deployment_and_rollback_removes_it(sb):
    sb.controller.broken_uris.add(BROKEN)
    kubectl(sb, "patch", "isvc", "ad-ctr", "-n", "marketing", "--type", "merge", "-p", json.dumps(
        {"spec": {"canary": [{"trafficPercent": 20, "predictor": {"name": "v66", "model": {
            "name": "kserve-container", "modelFormat": {"name": "tensorflow"}, "storageUri": BROKEN}}}]}}),
        check=True)

    def deployment():
        res = kubectl(sb, "get", "deploy", "ad-ctr-v66-predictor", "-n", "marketing", "-o", "json")
        return json.loads(res.stdout) if res.returncode == 0 else None

    dep = wait_until(deployment, timeout=10)
    available = next(c for c in dep["status"]["conditions"] if c["type"] == "Available")
    assert (available["status"], available["reason"]) == ("False", "MinimumReplicasUnavailable")
    assert dep["status"].get("availableReplicas") is None and dep["status"]["unavailableReplicas"] == 1
    # KServe's rollback: the entry goes, and with it the canary's Deployment
    kubectl(sb, "patch", "isvc", "ad-ctr", "-n", "marketing", "--type", "json", "-p",
            json.dumps([{"op": "remove", "path": "/spec/canary"}]), check=True)
    wait_until(lambda: deployment() is None, timeout=10)
    assert kubectl(sb, "get", "deploy", "ad-ctr-predictor", "-n", "marketing").returncode == 0
