"""The pods Kubeflow Pipelines' tasks ran in, with the logs that tell each demo story, in the sandbox
cluster (the run's experiment namespace: where multi-user KFP runs a profile's pipelines).

KFP v2 on Argo Workflows runs each task as a pod named `<workflow>-system-container-impl-<n>` (the
task detail's `pod_name`) with Argo's `wait` and `main` containers and the KFP launcher as an init
container, labelled `workflows.argoproj.io/workflow` and `pipeline/runid`. The trainer that ran out
of memory ends OOMKilled (exit code 137) with its last lines; the data validation failure ends with
the expectation report and a traceback (exit code 1).
"""

from __future__ import annotations

import time
from typing import Any

from console.sandbox.kfp_world import FAILED, RUNNING, SUCCEEDED, TERMINAL, RunPlan, World
from console.sandbox.kube_pods import ContainerLog, rfc3339_nano
from console.sandbox.kube_store import ClusterState, KubeError, make_event, now_rfc3339

LAUNCHER_IMAGE = "gcr.io/ml-pipeline/kfp-launcher:2.3.0"
ARGO_IMAGE = "quay.io/argoproj/argoexec:v3.4.17"
KEEP = 2 * 86400  # s: older task pods are gone (Argo's pod GC / the workflow TTL)


def _main_log(plan: RunPlan, task: str, failure: dict[str, Any] | None, start: float) -> list[str]:
    params = plan.parameters
    lines = [f"I{time.strftime('%m%d %H:%M:%S', time.gmtime(start))}.000000      22 launcher_v2.go:90] "
             f"input ComponentSpec: {task}",
             f"I{time.strftime('%m%d %H:%M:%S', time.gmtime(start))}.000000      22 cache.go:116] "
             "Connecting to cache endpoint ml-pipeline.kubeflow:8887",
             f"INFO:root:{task}: model {params.get('model_name')} learning_rate {params.get('learning_rate', '-')}"]
    message = (failure or {}).get("message", "")
    if task == "train-model":
        lines += [f"INFO:root:building the training matrix from {params.get('output_uri', 's3://mlops-data')}",
                  "INFO:root:loaded 4,100,000 rows x 212 features (float64)"]
        if "OOMKilled" in message:
            rss = [5.1, 6.0, 6.8, 7.4, 7.8, 7.95]
            lines += [f"INFO:root:epoch 1/{params.get('max_epochs', 20)} batch {i * 128}/1024 batch_size 65536 "
                      f"rss={gib:.2f}GiB" for i, gib in enumerate(rss, 1)]
            lines.append("WARNING:root:memory limit 8Gi nearly reached (rss 7.95GiB); consider a smaller batch_size")
            return lines  # the kernel killed it here: no traceback, no last words
        lines += [f"INFO:root:epoch {e}/{params.get('max_epochs', 20)} loss {0.9 / e:.4f}" for e in range(1, 4)]
    elif task == "validate-data":
        suite = "credit-risk-input-v4" if "credit-risk-input-v4" in message else "input-v1"
        lines += [f"INFO:great_expectations:Validating expectation suite '{suite}' on partition dt=2024-06-02",
                  "INFO:great_expectations:expect_table_row_count_to_be_between: passed (1,208,455 rows)"]
        if failure:
            lines += ["ERROR:great_expectations:expect_column_values_to_not_be_null(income): FAILED "
                      "12.4% null values (mostly=0.99)",
                      "ERROR:great_expectations:expect_column_values_to_be_between(debt_ratio, 0, 1): FAILED "
                      "214 unexpected values",
                      "ERROR:great_expectations:expect_column_to_exist(tenure_months): FAILED",
                      "Traceback (most recent call last):",
                      '  File "/tmp/tmp.kfp/ephemeral_component.py", line 31, in validate_data',
                      "    raise ValueError(report)",
                      f"ValueError: {message}"]
            return lines
    elif failure:
        lines += ["Traceback (most recent call last):", f'  File "/tmp/tmp.kfp/ephemeral_component.py", line 24, in '
                  f'{task.replace("-", "_")}', f"RuntimeError: {message}"]
        return lines
    return lines + [f"INFO:root:{task}: wrote output to s3://mlops-pipelines/root/{plan.pipeline_name}/"
                    f"{plan.run_id}/{task}/output", "I0000 launcher_v2.go:160] publish success."]


def _pod(ns: str, name: str, plan: RunPlan, task: str, start: float, state: str, end: float | None,
         failure: dict[str, Any] | None) -> dict[str, Any]:
    message = (failure or {}).get("message", "")
    oom = "OOMKilled" in message
    main: dict[str, Any] = {"name": "main", "image": "python:3.11-slim", "ready": state == RUNNING,
                            "restartCount": 0, "started": state == RUNNING, "lastState": {},
                            "imageID": "docker.io/library/python@sha256:" + "0" * 64,
                            "containerID": "containerd://" + "0" * 64}
    if state == RUNNING:
        main["state"] = {"running": {"startedAt": now_rfc3339(start + 5)}}
    else:
        code, reason = (137, "OOMKilled") if oom else (1, "Error") if state == FAILED else (0, "Completed")
        main["state"] = {"terminated": {"exitCode": code, "reason": reason, "startedAt": now_rfc3339(start + 5),
                                        "finishedAt": now_rfc3339(end or start)}}
    phase = {RUNNING: "Running", SUCCEEDED: "Succeeded", FAILED: "Failed"}.get(state, "Failed")
    resources = {"limits": {"cpu": "4", "memory": "8Gi"}} if task == "train-model" else {}
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns,
                     "labels": {"workflows.argoproj.io/workflow": plan.workflow_name, "pipeline/runid": plan.run_id,
                                "pipelines.kubeflow.org/v2_component": "true",
                                "workflows.argoproj.io/completed": "true" if state in TERMINAL else "false"},
                     "annotations": {"workflows.argoproj.io/node-name": f"{plan.workflow_name}.{task}",
                                     "pipelines.kubeflow.org/task_display_name": task},
                     "ownerReferences": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                                          "name": plan.workflow_name, "uid": plan.run_id, "controller": True,
                                          "blockOwnerDeletion": True}]},
        "spec": {"initContainers": [{"name": "kfp-launcher", "image": LAUNCHER_IMAGE}],
                 "containers": [{"name": "wait", "image": ARGO_IMAGE},
                                {"name": "main", "image": "python:3.11-slim", "resources": resources}],
                 "nodeName": "sandbox-node-1", "restartPolicy": "Never", "serviceAccountName": "pipeline-runner"},
        "status": {"phase": phase, "startTime": now_rfc3339(start), "podIP": "10.244.1.17",
                   "containerStatuses": [main, {"name": "wait", "image": ARGO_IMAGE, "ready": state == RUNNING,
                                                "restartCount": 0, "started": state == RUNNING, "lastState": {},
                                                "state": main["state"] if state != RUNNING else
                                                {"running": {"startedAt": now_rfc3339(start + 4)}}}]},
    }


def seed_kfp_pods(cluster: ClusterState, world: World, now: float) -> int:
    """Create the task pods (and their logs and kubelet's events) of every attempt that started in
    the last two days. Returns how many pods were made."""
    made = 0
    for plan in world.runs.values():
        ns = world.experiments[plan.experiment_id].namespace
        for attempt in plan.timeline().attempts:
            if attempt.start > now or attempt.start < now - KEEP:
                continue
            seen = [e for e in attempt.events if e[0] <= now]
            at, state, failure = seen[-1]
            task = plan.tasks[attempt.task_index].name
            cluster.ensure_namespace(ns)
            end = at if state in TERMINAL else None
            try:
                pod = cluster.create("pods", ns, _pod(ns, attempt.pod_name, plan, task, attempt.start, state, end,
                                                      failure), created_at=attempt.start)
            except KubeError:
                continue
            made += 1
            head = _main_log(plan, task, failure, attempt.start + 5)
            if state == RUNNING:
                cluster.pod_logs[(ns, attempt.pod_name, "main", False)] = ContainerLog(
                    attempt.start + 5, head, lambda i, t=task: f"INFO:root:{t}: step {i + 1} done", every=5.0)
            else:
                cluster.pod_logs[(ns, attempt.pod_name, "main", False)] = ContainerLog(
                    attempt.start + 5, head, stopped_at=end)
            cluster.pod_logs[(ns, attempt.pod_name, "wait", False)] = ContainerLog(
                attempt.start + 4, [f'time="{rfc3339_nano(attempt.start + 4)}" level=info msg="Starting Workflow '
                                    f'Executor" version=v3.4.17'])
            if failure and "OOMKilled" in failure.get("message", ""):
                ref = {"apiVersion": "v1", "kind": "Pod", "name": attempt.pod_name, "namespace": ns,
                       "uid": pod["metadata"]["uid"], "fieldPath": "spec.containers{main}"}
                try:
                    cluster.create("events", ns, make_event(
                        ref, "Warning", "OOMKilling", "Memory cgroup out of memory: Killed process 22 (python3) "
                        "total-vm:9123456kB, anon-rss:8388608kB", "kernel-monitor", at, host="sandbox-node-1"))
                except KubeError:
                    pass
    return made
