"""Why it is failing, from the cluster: the sandbox's core/v1 pods, pods/log and kubelet's Events,
with kubectl (unmodified) as the peer, then adapters.kube and `rollout events` / `rollout logs`.

Sources followed: pods/log and PodLogOptions (kubernetes.io API reference "Pod v1 core: read log";
k8s.io/kubernetes pkg/registry/core/pod/strategy.go LogLocation for the container, and
pkg/kubelet/kubelet_pods.go validateContainerLogStatus for which instance), printPod in
pkg/printers/internalversion/printers.go (kubectl get pods), kubectl describe pod
(staging/src/k8s.io/kubectl/pkg/describe/describe.go: container states, Events by involvedObject),
Knative's revision pod labels (pkg/apis/serving/register.go) and KServe's
(constants.InferenceServicePodLabelKey, component: predictor).
"""

from __future__ import annotations

import io
import json
import subprocess
import threading
import time

import pytest

from adapters.errors import InvalidInput, NotFound
from adapters.kube import KubeClient
from console.sandbox.kube_pods import ContainerLog, Lines
from sandbox_fixtures import KUBECTL, kubectl, start_kube_sandbox, wait_until

CHURN = "serving.kserve.io/inferenceservice=churn-predictor,component=predictor"


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    sandbox = start_kube_sandbox(tmp_path_factory.mktemp("pods"), kfp=True)
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def client(sb):
    with KubeClient(kubeconfig=str(sb.kubeconfig_path)) as c:
        yield c


def churn_pods(client) -> dict[str, object]:
    """{revision: pod} of churn-predictor (the demo's failing revision is its latest created one)."""
    wait_until(lambda: len(client.predictor_pods("recsys", "churn-predictor")) == 2, timeout=10)
    return {p.revision: p for p in client.predictor_pods("recsys", "churn-predictor")}


def failing_pod(client):
    isvc = client.get_inference_service("recsys", "churn-predictor")
    return churn_pods(client)[isvc.latest_created_revision]


# -- the sandbox, with kubectl -----------------------------------------------------------------

def test_kubectl_get_pods_by_kserve_and_knative_labels(sb, client):
    """Each routed revision has its pod, labelled as Knative and KServe label them; the failed
    revision's crash-loops (printPod: READY 0/2, STATUS CrashLoopBackOff, RESTARTS n (age ago))."""
    isvc = client.get_inference_service("recsys", "churn-predictor")
    out = kubectl(sb, "get", "pods", "-n", "recsys", "-l", CHURN, check=True).stdout.splitlines()
    assert out[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    rows = {line.split()[0]: line.split() for line in out[1:]}
    failed = [r for name, r in rows.items() if name.startswith(isvc.latest_created_revision + "-deployment-")]
    ready = [r for name, r in rows.items() if name.startswith(isvc.latest_ready_revision + "-deployment-")]
    assert failed and failed[0][1:3] == ["0/2", "CrashLoopBackOff"] and "ago)" in " ".join(failed[0])
    assert ready and ready[0][1:3] == ["2/2", "Running"]
    one = kubectl(sb, "get", "pods", "-n", "recsys", "-l",
                  f"serving.knative.dev/revision={isvc.latest_created_revision}", "-o", "json", check=True)
    labels = json.loads(one.stdout)["items"][0]["metadata"]["labels"]
    assert labels["serving.knative.dev/service"] == "churn-predictor-predictor"
    assert labels["serving.kserve.io/inferenceservice"] == "churn-predictor" and labels["component"] == "predictor"


def test_kubectl_logs_previous_tail_of_the_crashed_container(sb, client):
    """kubectl logs POD -c kserve-container --previous --tail 5: the last lines of the instance that
    died, ending with the reason the InferenceService's condition gives (ModelLoadFailed)."""
    pod = failing_pod(client)
    message = next(c.message for c in client.get_inference_service("recsys", "churn-predictor").conditions
                   if c.type == "Ready")
    res = kubectl(sb, "logs", pod.name, "-n", "recsys", "-c", "kserve-container", "--previous", "--tail", "5",
                  check=True)
    lines = res.stdout.splitlines()
    assert len(lines) == 5
    assert lines[-1].startswith("RuntimeError: ModelLoadFailed: failed to load model from s3://")
    assert lines[-1].split("RuntimeError: ")[1] in message
    # a healthy container has no previous instance: kubelet's words, a 400
    healthy = churn_pods(client)[client.get_inference_service("recsys", "churn-predictor").latest_ready_revision]
    bad = kubectl(sb, "logs", healthy.name, "-n", "recsys", "-c", "kserve-container", "--previous")
    assert bad.returncode != 0 and f'previous terminated container "kserve-container" in pod "{healthy.name}" ' \
        "not found" in bad.stderr
    wrong = kubectl(sb, "logs", pod.name, "-n", "recsys", "-c", "nope")
    assert wrong.returncode != 0 and f"container nope is not valid for pod {pod.name}" in wrong.stderr


def test_kubectl_logs_follow_streams_until_stopped(sb, client):
    """kubectl logs -f: the API server keeps the chunked stream open while the container runs; new
    lines arrive as they are written, and the stream is read until the test stops kubectl."""
    pod = churn_pods(client)[client.get_inference_service("recsys", "churn-predictor").latest_ready_revision]
    proc = subprocess.Popen([KUBECTL, "logs", "-f", pod.name, "-n", "recsys", "-c", "kserve-container",
                             "--tail", "1"], env=sb.kubectl_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    killer = threading.Timer(60, proc.kill)  # a safety net only: the test ends on the lines read
    killer.start()
    try:
        got = [proc.stdout.readline() for _ in range(3)]  # the tail line, then two written since
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        killer.cancel()
    assert all('"POST /v1/models/churn-predictor:predict HTTP/1.1"' in line for line in got[1:]), got
    assert len(set(got)) == 3 and all(line.endswith("\n") for line in got)


def test_kubectl_get_events_and_describe_pod(sb, client):
    """kubelet's Events beside the controllers': BackOff and Unhealthy on the failing pod, with
    counts; kubectl describe pod shows the waiting state, the last termination and them."""
    pod = failing_pod(client)
    events = kubectl(sb, "get", "events", "-n", "recsys", "--field-selector",
                     f"involvedObject.name={pod.name}", check=True).stdout
    assert "BackOff" in events and "Back-off restarting failed container kserve-container" in events
    assert "Unhealthy" in events and "Readiness probe failed" in events and "Scheduled" in events
    desc = kubectl(sb, "describe", "pod", pod.name, "-n", "recsys", check=True).stdout
    flat = " ".join(desc.split())
    assert "State: Waiting Reason: CrashLoopBackOff Last State: Terminated Reason: Error" in flat
    assert "Exit Code: 1" in flat and "Restart Count: 4" in flat and "serving.knative.dev/revision=" in desc
    assert "Back-off restarting failed container" in desc.split("Events:", 1)[1]


def test_kfp_task_pods_tell_the_oom_and_the_validation_failure(sb):
    """The task pods of the demo runs: the trainer killed for memory (OOMKilled, exit code 137) with
    its last lines, and the data-validation failure with its report (exit code 1)."""
    pods = json.loads(kubectl(sb, "get", "pods", "-A", "-l", "pipelines.kubeflow.org/v2_component=true",
                              "-o", "json", check=True).stdout)["items"]

    def ended(reason: str) -> dict:
        return next(p for p in pods if any((s.get("state") or {}).get("terminated", {}).get("reason") == reason
                                           and s["name"] == "main" for s in p["status"]["containerStatuses"]))

    oom = ended("OOMKilled")
    assert oom["metadata"]["name"].startswith("train-churn-predictor-")
    main = next(s for s in oom["status"]["containerStatuses"] if s["name"] == "main")
    assert main["state"]["terminated"]["exitCode"] == 137
    tail = kubectl(sb, "logs", oom["metadata"]["name"], "-n", oom["metadata"]["namespace"], "-c", "main",
                   "--tail", "2", check=True).stdout.splitlines()
    assert "rss=7.95GiB" in tail[0] and "memory limit 8Gi" in tail[1]
    failed = [p for p in pods if p["metadata"]["name"].startswith("train-credit-risk-")
              and p["status"]["phase"] == "Failed"]
    assert failed
    log = kubectl(sb, "logs", failed[0]["metadata"]["name"], "-n", failed[0]["metadata"]["namespace"], "-c", "main",
                  check=True).stdout
    assert "expect_column_values_to_not_be_null(income): FAILED" in log
    assert log.splitlines()[-1].startswith("ValueError: data validation failed against expectation suite")


# -- adapters.kube ---------------------------------------------------------------------------------

def test_read_log_keeps_only_the_last_lines_of_a_huge_log(sb, client):
    """A 200,000-line log read with max_lines 100: the last 100 lines, never the whole log in memory
    on the server (lines are made on demand) or here (a bounded deque)."""
    pod = failing_pod(client)
    sb.cluster.pod_logs[("recsys", pod.name, "storage-initializer", False)] = ContainerLog(
        time.time() - 60, Lines(200_000, lambda i: f"line {i}"))
    lines = client.read_log("recsys", pod.name, container="storage-initializer", max_lines=100)
    assert len(lines) == 100 and lines[0] == "line 199900" and lines[-1] == "line 199999"


def test_stream_log_follow_stops_at_once_when_asked(sb, client):
    """A followed log whose next line is an hour away: setting the stop event shuts the socket, so
    the blocked read returns at once instead of waiting for that line."""
    pod = churn_pods(client)[client.get_inference_service("recsys", "churn-predictor").latest_ready_revision]
    sb.cluster.pod_logs[("recsys", pod.name, "queue-proxy", False)] = ContainerLog(
        time.time() - 5, ["started"], lambda i: f"tick {i}", every=3600.0)
    stop = threading.Event()
    seen: list[str] = []

    def read() -> None:
        for line in client.stream_log("recsys", pod.name, container="queue-proxy", follow=True, stop_event=stop):
            seen.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    wait_until(lambda: seen == ["started"], timeout=20)
    stop.set()
    reader.join(timeout=10)
    assert not reader.is_alive()


def test_log_errors_are_one_line_and_typed(sb, client):
    pod = failing_pod(client)
    with pytest.raises(InvalidInput, match="a container name must be specified"):
        client.read_log("recsys", pod.name)
    with pytest.raises(NotFound, match="previous terminated container"):
        client.read_log("recsys", pod.name, container="queue-proxy", previous=True)


def test_inference_service_events_newest_first_with_its_pods(sb, client):
    events = client.inference_service_events("recsys", "churn-predictor")
    kinds = {e.object_kind for e in events}
    assert {"InferenceService", "Configuration", "Pod"} <= kinds
    stamps = [e.last_seen for e in events]
    assert stamps == sorted(stamps, reverse=True)
    backoff = next(e for e in events if e.reason == "BackOff")
    assert backoff.count and backoff.count > 1 and backoff.object.startswith("pod/churn-predictor-predictor-")


# -- the CLI --------------------------------------------------------------------------------------

def run_cli(sb, *args: str, monkeypatch) -> tuple[int, str, str]:
    from console import cli

    monkeypatch.setenv("KUBECONFIG", str(sb.kubeconfig_path))
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    code = cli.main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_cli_rollout_events_json(sb, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    code, out, _ = run_cli(sb, "rollout", "events", "churn-predictor", "-n", "recsys", "--json",
                           monkeypatch=monkeypatch)
    assert code == 0
    rows = json.loads(out)
    assert all(set(r) == {"time", "type", "reason", "object", "message", "count"} for r in rows)
    assert [r["time"] for r in rows] == sorted((r["time"] for r in rows), reverse=True)
    assert {"BackOff", "LatestCreatedFailed", "InferenceServiceNotReady"} <= {r["reason"] for r in rows}
    code, out, err = run_cli(sb, "rollout", "events", "nope", "-n", "recsys", monkeypatch=monkeypatch)
    assert code == 5 and err.count("\n") == 1 and "not found" in err


def test_cli_rollout_logs_previous_tail_and_one_line_errors(sb, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    code, out, _ = run_cli(sb, "rollout", "logs", "churn-predictor", "-n", "recsys", "--previous", "--tail", "3",
                           monkeypatch=monkeypatch)
    assert code == 0 and len(out.splitlines()) == 3 and "ModelLoadFailed" in out.splitlines()[-1]
    code, _, err = run_cli(sb, "rollout", "logs", "churn-predictor", "-n", "recsys", "--container", "nope",
                           monkeypatch=monkeypatch)
    assert code == 2 and err.count("\n") == 1 and "no container 'nope'" in err
    code, _, err = run_cli(sb, "rollout", "logs", "churn-predictor", "-n", "recsys", "--revision", "x-00009",
                           monkeypatch=monkeypatch)
    assert code == 5 and "revisions with pods: churn-predictor-predictor-00001" in err


def test_cli_rollout_logs_prints_escape_sequences_literally(sb, client, monkeypatch, tmp_path):
    """Log lines are untrusted: an escape sequence (set the window title, clear the screen) is shown,
    never obeyed."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    pod = churn_pods(client)[client.get_inference_service("recsys", "churn-predictor").latest_ready_revision]
    sb.cluster.pod_logs[("recsys", pod.name, "storage-initializer", False)] = ContainerLog(
        time.time() - 5, ["ok", "\x1b]0;pwned\x07\x1b[2Jgone \u202eevil"])
    code, out, _ = run_cli(sb, "rollout", "logs", "churn-predictor", "-n", "recsys", "--revision",
                           pod.revision, "-c", "storage-initializer", monkeypatch=monkeypatch)
    assert code == 0 and "\x1b" not in out and "\u202e" not in out
    assert out.splitlines()[-1] == "\\x1b]0;pwned\\x07\\x1b[2Jgone \\u202eevil"
