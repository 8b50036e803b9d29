"""Runs of the simulated Kubeflow Pipelines as plans (no I/O, no HTTP): when a run was created, how
long it waits, which tasks it runs for how long, which task fails and how, plus the mutations a user
made (terminate, retry). A run's state at any moment is computed from its plan and its mutations,
so states progress with the (scaled) clock without a background thread. RunPlan.render writes the
v2beta1 Run with its traps intact: snake_case fields, zero values left out, int64 as strings,
unfinished runs with finished_at 1970-01-01T00:00:00Z, errors as google.rpc.Status."""

from __future__ import annotations

import hashlib
import random
import uuid
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

from console.sandbox.kfp_wire import EPOCH, status, ts

CANCEL_DELAY = 10.0  # sim seconds a run spends CANCELING before it is CANCELED

PENDING, RUNNING, SUCCEEDED, FAILED, CANCELING, CANCELED, PAUSED, SKIPPED = (
    "PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELING", "CANCELED", "PAUSED", "SKIPPED")
TERMINAL = {SUCCEEDED, FAILED, CANCELED, SKIPPED}
TERMINABLE = {PENDING, RUNNING, PAUSED}
RETRYABLE = {FAILED, CANCELED}


def random_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def stable_uuid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"mlops-console-demo/kfp/{name}"))


# ---------------------------------------------------------------------------------------------
# Plans


@dataclass
class TaskPlan:
    name: str
    duration: float
    failure: dict[str, Any] | None = None  # google.rpc.Status of the failure
    transient: bool = False  # a retry of a transient failure succeeds


@dataclass
class Experiment:
    experiment_id: str
    display_name: str
    description: str
    namespace: str
    created_at: float


@dataclass
class Attempt:
    task_index: int
    number: int
    start: float
    pod_name: str
    events: list[tuple[float, str, dict | None]]


@dataclass
class Timeline:
    run_events: list[tuple[float, str, dict | None]]
    attempts: list[Attempt]


@dataclass
class RunPlan:
    run_id: str
    display_name: str
    description: str
    experiment_id: str
    pipeline_name: str
    pipeline_id: str
    pipeline_version_id: str
    workflow_name: str
    created_at: float
    pending: float
    tasks: list[TaskPlan]
    parameters: dict[str, Any]
    context_id: int
    spec: dict[str, Any] | None = None  # the compiled pipeline it was submitted with (None: a pipeline version)
    mutations: list[tuple[float, str]] = field(default_factory=list)
    _timeline: Timeline | None = None

    # -- simulation ---------------------------------------------------------------------------

    def pod_name(self, index: int, attempt: int) -> str:
        digest = hashlib.sha1(f"{self.run_id}/{index}/{attempt}".encode()).hexdigest()
        return f"{self.workflow_name}-system-container-impl-{int(digest[:8], 16) % 10**10:010d}"

    def root_pod(self) -> str:
        digest = hashlib.sha1(f"{self.run_id}/root".encode()).hexdigest()
        return f"{self.workflow_name}-system-dag-driver-{int(digest[:8], 16) % 10**10:010d}"

    def timeline(self) -> Timeline:
        if self._timeline is None:
            self._timeline = self._simulate()
        return self._timeline

    def _simulate(self) -> Timeline:
        events: list[tuple[float, str, dict | None]] = [(self.created_at, PENDING, None)]
        attempts: list[Attempt] = []
        mutations = sorted(self.mutations)
        mi = 0
        t = self.created_at + self.pending
        counts = [0] * len(self.tasks)
        idx = 0
        if mi < len(mutations) and mutations[mi][1] == "terminate" and mutations[mi][0] < t:
            stop = mutations[mi][0]
            mi += 1
            events += [(stop, CANCELING, None), (stop + CANCEL_DELAY, CANCELED, None)]
            t = stop + CANCEL_DELAY
            finished = True
        else:
            events.append((t, RUNNING, None))
            finished = False
        while True:
            while not finished:
                if idx == len(self.tasks):
                    events.append((t, SUCCEEDED, None))
                    return Timeline(events, attempts)
                task = self.tasks[idx]
                n = counts[idx]
                counts[idx] += 1
                fails = task.failure is not None and (not task.transient or n == 0)
                end = t + (task.duration * 0.6 if fails else task.duration)
                attempt = Attempt(idx, n, t, self.pod_name(idx, n), [(t, RUNNING, None)])
                attempts.append(attempt)
                if mi < len(mutations) and mutations[mi][1] == "terminate" and mutations[mi][0] < end:
                    stop = max(mutations[mi][0], t)
                    mi += 1
                    cancel = status(1, f"task '{task.name}' was canceled: the run was terminated")
                    attempt.events += [(stop, CANCELING, None), (stop + CANCEL_DELAY, CANCELED, cancel)]
                    events += [(stop, CANCELING, None), (stop + CANCEL_DELAY, CANCELED, None)]
                    t = stop + CANCEL_DELAY
                    finished = True
                elif fails:
                    assert task.failure is not None
                    attempt.events.append((end, FAILED, task.failure))
                    events.append((end, FAILED, status(task.failure["code"],
                                                       f"task '{task.name}' failed: {task.failure['message']}")))
                    t = end
                    finished = True
                else:
                    attempt.events.append((end, SUCCEEDED, None))
                    t = end
                    idx += 1
            if mi < len(mutations) and mutations[mi][1] == "retry":
                again = max(mutations[mi][0], t)
                mi += 1
                events.append((again, RUNNING, None))
                t = again
                finished = False
                continue
            return Timeline(events, attempts)

    # -- views at a moment ----------------------------------------------------------------------

    def state_at(self, now: float) -> str:
        events = self.timeline().run_events
        i = bisect_right([e[0] for e in events], now)
        return events[i - 1][1] if i else PENDING

    def finished_at(self, now: float) -> float | None:
        events = [e for e in self.timeline().run_events if e[0] <= now]
        if events and events[-1][1] in TERMINAL:
            return events[-1][0]
        return None

    def add_mutation(self, now: float, kind: str) -> None:
        self.mutations.append((now, kind))
        self._timeline = None

    def render(self, now: float, *, details: bool) -> dict[str, Any]:
        timeline = self.timeline()
        events = [e for e in timeline.run_events if e[0] <= now] or [timeline.run_events[0]]
        state = events[-1][1]
        run: dict[str, Any] = {
            "experiment_id": self.experiment_id,
            "run_id": self.run_id,
            "display_name": self.display_name,
            "storage_state": "AVAILABLE",
            "runtime_config": {"parameters": dict(self.parameters),
                               "pipeline_root": f"s3://mlops-pipelines/root/{self.pipeline_name}"},
            "service_account": "pipeline-runner",
            "created_at": ts(self.created_at),
            "scheduled_at": ts(self.created_at),
            "finished_at": ts(events[-1][0]) if state in TERMINAL else EPOCH,
            "state": state,
            "state_history": [_runtime_status(e) for e in events],
        }
        if self.description:
            run["description"] = self.description
        # pipeline_source is a oneof: a run submitted as a package carries its whole compiled spec
        # (backend/src/apiserver/server/api_converter.go toApiRun)
        if self.spec is not None:
            run["pipeline_spec"] = self.spec
        else:
            run["pipeline_version_reference"] = {"pipeline_id": self.pipeline_id,
                                                 "pipeline_version_id": self.pipeline_version_id}
        if details:
            run["run_details"] = self._details(now, events)
        return run

    def _details(self, now: float, run_events: list) -> dict[str, Any]:
        details: dict[str, Any] = {
            "pipeline_context_id": str(self.context_id),
            "pipeline_run_context_id": str(self.context_id + 1),
        }
        started = [e for e in run_events if e[1] != PENDING]
        if not started:
            return details
        root_id = stable_uuid(f"{self.run_id}/root")
        by_task: dict[int, list[Attempt]] = {}
        for attempt in self.timeline().attempts:
            if attempt.start <= now:
                by_task.setdefault(attempt.task_index, []).append(attempt)
        tasks: list[dict[str, Any]] = []
        children = []
        for index in sorted(by_task):
            attempts = by_task[index]
            plan = self.tasks[index]
            last = attempts[-1]
            history = [e for a in attempts for e in a.events if e[0] <= now]
            current = [e for e in last.events if e[0] <= now]
            task_state = current[-1][1]
            task_id = stable_uuid(f"{self.run_id}/task/{plan.name}")
            task: dict[str, Any] = {
                "run_id": self.run_id,
                "task_id": task_id,
                "display_name": plan.name,
                "create_time": ts(attempts[0].start),
                "start_time": ts(last.start),
                "end_time": ts(current[-1][0]) if task_state in TERMINAL else EPOCH,
                "executor_detail": {"main_job": last.pod_name},
                "state": task_state,
                "execution_id": str(self.context_id * 10 + index + 2),
                "parent_task_id": root_id,
                "state_history": [_runtime_status(e) for e in history],
                "pod_name": last.pod_name,
            }
            if len(attempts) > 1:
                task["executor_detail"]["failed_main_jobs"] = [a.pod_name for a in attempts[:-1]]
            if current[-1][2] is not None:
                task["error"] = current[-1][2]
            if index > 0:
                task["inputs"] = {"dataset": {"artifact_ids": [str(self.context_id * 10 + index)]}}
            if task_state == SUCCEEDED:
                task["outputs"] = {"output": {"artifact_ids": [str(self.context_id * 10 + index + 1)]}}
            tasks.append(task)
            children.append({"task_id": task_id, "pod_name": last.pod_name})
        root_events = started
        root_state = root_events[-1][1]
        root: dict[str, Any] = {
            "run_id": self.run_id,
            "task_id": root_id,
            "display_name": self.pipeline_name,
            "create_time": ts(root_events[0][0]),
            "start_time": ts(root_events[0][0]),
            "end_time": ts(root_events[-1][0]) if root_state in TERMINAL else EPOCH,
            "state": root_state,
            "execution_id": str(self.context_id * 10 + 1),
            "state_history": [_runtime_status(e) for e in root_events],
            "pod_name": self.root_pod(),
        }
        if children:
            root["child_tasks"] = children
        details["task_details"] = [root] + tasks
        return details


def _runtime_status(event: tuple[float, str, dict | None]) -> dict[str, Any]:
    out: dict[str, Any] = {"update_time": ts(event[0]), "state": event[1]}
    if event[2] is not None:
        out["error"] = event[2]
    return out
