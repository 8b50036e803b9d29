"""The simulated Kubeflow Pipelines world behind the sandbox endpoint (no I/O, no HTTP).

Runs are plans (when created, how long they wait, which tasks they run for how long, which task
fails and how) plus the mutations a user made (terminate, retry). A run's state at any moment is
computed from its plan and its mutations, so states progress with the (scaled) clock without a
background thread, and a restarted sandbox with the same seed tells the same story.

Everything here renders the KFP v2beta1 wire format with its traps intact: snake_case fields,
zero values left out, int64 as strings, unfinished runs with finished_at 1970-01-01T00:00:00Z,
errors as google.rpc.Status.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import time
import uuid
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from console import demo_data

EPOCH = "1970-01-01T00:00:00Z"
CANCEL_DELAY = 10.0  # sim seconds a run spends CANCELING before it is CANCELED
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 200

PENDING, RUNNING, SUCCEEDED, FAILED, CANCELING, CANCELED, PAUSED, SKIPPED = (
    "PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELING", "CANCELED", "PAUSED", "SKIPPED")
TERMINAL = {SUCCEEDED, FAILED, CANCELED, SKIPPED}
TERMINABLE = {PENDING, RUNNING, PAUSED}
RETRYABLE = {FAILED, CANCELED}

# google.rpc.Code values and the HTTP status grpc-gateway maps them to
CODE_HTTP = {3: 400, 5: 404, 6: 409, 7: 403, 9: 400, 10: 409, 13: 500, 14: 503, 16: 401}


class ApiError(Exception):
    """An error the API answers with: an HTTP status and a google.rpc.Status body."""

    def __init__(self, code: int, message: str, http_status: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status or CODE_HTTP.get(code, 500)

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": []}


def status(code: int, message: str) -> dict[str, Any]:
    """An embedded google.rpc.Status (zero values left out: no empty details list)."""
    return {"code": code, "message": message}


def ts(t: float | None) -> str:
    """RFC 3339 in UTC, as protojson writes a Timestamp (whole seconds here)."""
    if t is None:
        return EPOCH
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(t)))


def parse_ts(text: str) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (TypeError, ValueError, AttributeError):
        raise ApiError(3, f"Invalid input error: timestamp_value {text!r} is not an RFC 3339 timestamp") from None


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _uuid5(name: str) -> str:
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
        root_id = _uuid5(f"{self.run_id}/root")
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
            task_id = _uuid5(f"{self.run_id}/task/{plan.name}")
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


# ---------------------------------------------------------------------------------------------
# Compiled pipelines: what the KFP SDK (2.x) submits for a pipeline of lightweight Python
# components. Each executor embeds its component's source, which is what makes real runs heavy.

_KFP_SDK = "2.9.0"
_PIP_BOOTSTRAP = (
    "\nif ! [ -x \"$(command -v pip)\" ]; then\n    python3 -m ensurepip || python3 -m ensurepip --user || "
    "apt-get install python3-pip\nfi\n\nPIP_DISABLE_PIP_VERSION_CHECK=1 python3 -m pip install --quiet "
    f"--no-warn-script-location 'kfp=={_KFP_SDK}' '--no-deps' 'typing-extensions>=3.7.4,<5; "
    "python_version<\"3.9\"'  &&  python3 -m pip install --quiet --no-warn-script-location 'pandas==2.2.2' "
    "'pyarrow==16.1.0' 's3fs==2024.6.0' 'scikit-learn==1.5.0' && \"$0\" \"$@\"\n")
_LAUNCHER = ("\nprogram_path=$(mktemp -d)\n\nprintf \"%s\" \"$0\" > \"$program_path/ephemeral_component.py\"\n"
             "_KFP_RUNTIME=true python3 -m kfp.dsl.executor_main                         "
             "--component_module_path                         \"$program_path/ephemeral_component.py\"                         "
             "\"$@\"\n")


def _component_source(func: str, params: list[str]) -> str:
    args = ",\n    ".join([f"{p}: str" for p in params] + ["dataset: Input[Dataset]", "output: Output[Dataset]"])
    body = [
        "import kfp",
        "from kfp import dsl",
        "from kfp.dsl import *",
        "from typing import *",
        "",
        f"def {func}(\n    {args},\n):",
        f'    """{func.replace("_", " ").capitalize()}: reads the upstream dataset, checks it and writes its output."""',
        "    import json",
        "    import logging",
        "    import os",
        "    import time",
        "",
        "    import pandas as pd",
        "    import pyarrow.parquet as pq",
        "",
        "    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')",
        "    log = logging.getLogger(__name__)",
        "    started = time.time()",
        "    frame = pd.read_parquet(dataset.path) if os.path.exists(dataset.path) else pd.DataFrame()",
        "    log.info('read %d rows x %d columns from %s', len(frame), len(frame.columns), dataset.uri)",
        "    nulls = frame.isna().mean().to_dict() if len(frame) else {}",
        "    bad = {column: share for column, share in nulls.items() if share > 0.01}",
        "    if bad:",
        "        raise ValueError(f'columns with too many nulls: {json.dumps(bad, sort_keys=True)}')",
        "    frame = frame.dropna().reset_index(drop=True)",
        "    os.makedirs(os.path.dirname(output.path), exist_ok=True)",
        "    pq.write_table(pyarrow.Table.from_pandas(frame), output.path, compression='zstd')",
        "    output.metadata['rows'] = len(frame)",
        "    output.metadata['columns'] = list(frame.columns)",
        "    output.metadata['seconds'] = round(time.time() - started, 3)",
        "    log.info('wrote %d rows to %s in %.1fs', len(frame), output.uri, time.time() - started)",
        "",
    ]
    return "\n".join(body)


def pipeline_spec(name: str, tasks: list[str], params: list[str]) -> dict[str, Any]:
    """A compiled PipelineSpec (schemaVersion 2.1.0) of a linear pipeline of lightweight components."""
    string = {"parameterType": "STRING"}
    dataset = {"artifactType": {"schemaTitle": "system.Dataset", "schemaVersion": "0.0.1"}}
    components: dict[str, Any] = {}
    executors: dict[str, Any] = {}
    dag: dict[str, Any] = {}
    for index, task in enumerate(tasks):
        func = task.replace("-", "_")
        components[f"comp-{task}"] = {
            "executorLabel": f"exec-{task}",
            "inputDefinitions": {"parameters": {p: dict(string) for p in params},
                                 **({"artifacts": {"dataset": dataset}} if index else {})},
            "outputDefinitions": {"artifacts": {"output": dataset}},
        }
        executors[f"exec-{task}"] = {"container": {
            "args": ["--executor_input", "{{$}}", "--function_to_execute", func],
            "command": ["sh", "-c", _PIP_BOOTSTRAP, "sh", "-ec", _LAUNCHER, _component_source(func, params)],
            "image": "python:3.11-slim",
            "resources": {"cpuLimit": 4.0, "memoryLimit": 17.179869184, "resourceCpuLimit": "4",
                          "resourceMemoryLimit": "16Gi"} if task == "train-model" else {},
        }}
        inputs: dict[str, Any] = {"parameters": {p: {"componentInputParameter": p} for p in params}}
        entry: dict[str, Any] = {"cachingOptions": {"enableCache": True}, "componentRef": {"name": f"comp-{task}"},
                                 "inputs": inputs, "taskInfo": {"name": task}}
        if index:
            previous = tasks[index - 1]
            inputs["artifacts"] = {"dataset": {"taskOutputArtifact": {"outputArtifactKey": "output",
                                                                      "producerTask": previous}}}
            entry["dependentTasks"] = [previous]
        dag[task] = entry
    return {
        "components": components,
        "deploymentSpec": {"executors": executors},
        "pipelineInfo": {"name": name},
        "root": {"dag": {"tasks": dag}, "inputDefinitions": {"parameters": {p: dict(string) for p in params}}},
        "schemaVersion": "2.1.0",
        "sdkVersion": f"kfp-{_KFP_SDK}",
    }


# ---------------------------------------------------------------------------------------------
# The demo world

TRAINING_TASKS = (("ingest-data", 180.0), ("validate-data", 75.0), ("train-model", 900.0),
                  ("evaluate-model", 150.0), ("register-model", 40.0))
BATCH_TASKS = (("load-features", 120.0), ("score-batch", 600.0), ("write-predictions", 90.0))

EXPERIMENTS = (
    # key, display name, namespace, description, models
    ("default", "Default", "kubeflow", "All runs created without specifying an experiment will be grouped here.", ()),
    ("payments", "payments-training", "fraud", "Training pipelines of the payments and lending models.",
     ("fraud-detector", "credit-risk", "price-optimizer")),
    ("recsys", "recsys-training", "recsys", "Training pipelines of the recommendation and search models.",
     ("churn-predictor", "search-ranker", "product-embedder", "ranker[v2]")),
    ("forecasting", "forecasting", "ml-platform", "Demand and delivery-time forecasters.",
     ("demand-forecast", "eta-regressor")),
    ("ads", "ads-and-trust", "ml-platform", "Ads, support and trust-and-safety models.",
     ("ad-ctr", "support-triage", "image-moderation")),
    ("batch", "nightly-batch-scoring", "ml-platform", "Nightly batch scoring jobs.", ()),
)

OOM = status(9, "pod {pod} was OOMKilled (exit code 137): container 'main' exceeded its memory limit of 8Gi "
                "while building the training matrix (4.1M rows x 212 features); raise the limit with "
                ".set_memory_limit('16Gi') on train-model or lower batch_size (now 65536)")
DATA_VALIDATION = status(3, "data validation failed against expectation suite 'credit-risk-input-v4': "
                            "income has 12.4% null values (max 1%); debt_ratio has 214 values above 1.0 "
                            "(expected range [0, 1]); column 'tenure_months' is missing from partition "
                            "dt=2024-06-02. Fix the upstream export or pin the previous partition.")
S3_TIMEOUT = status(14, "failed to read s3://mlops-data/ads/impressions/dt=2024-06-02/part-00017.parquet: "
                        "RequestTimeout: Your socket connection to the server was not read from or written to "
                        "within the timeout period (after 3 retries)")
EVAL_GATE = status(9, "evaluation gate failed: AUC 0.871 on the holdout set is below the gate 0.900 "
                      "(current production v24: 0.912); the model was not registered")
FILLER_FAILURES = (
    ("train-model", status(9, "pod {pod} was evicted: the node was low on resource: ephemeral-storage"), True),
    ("ingest-data", status(14, "connection to feature store feast-online.ml-platform:6566 refused "
                               "(after 5 attempts)"), True),
    ("validate-data", status(3, "data validation failed: 3.2% of rows have a null label (max 0.5%)"), False),
    ("score-batch", status(13, "main container exited with code 1: ValueError: Input contains NaN"), False),
)


class World:
    """Experiments and runs, and the queries the API answers."""

    def __init__(self, *, n_runs: int = 50, seed: int = 7, t0: float | None = None,
                 catalog_versions: list[tuple[str, str, float | None, str]] | None = None):
        self.rng = random.Random(seed)
        self.t0 = float(int(t0 if t0 is not None else time.time()))
        self.experiments: dict[str, Experiment] = {}
        self.experiment_keys: dict[str, str] = {}
        self.runs: dict[str, RunPlan] = {}
        self._context_ids = 100
        self._specs: dict[str, dict[str, Any]] = {}
        self._build_experiments()
        self._build_runs(n_runs, catalog_versions)

    # -- building -------------------------------------------------------------------------------

    def _build_experiments(self) -> None:
        for i, (key, name, namespace, description, _models) in enumerate(EXPERIMENTS):
            exp = Experiment(_uuid5(f"experiment/{key}"), name, description, namespace,
                             self.t0 - 86400 * (120 - i * 7))
            self.experiments[exp.experiment_id] = exp
            self.experiment_keys[key] = exp.experiment_id

    def _spec(self, pipeline: str, template: Iterable[tuple[str, float]], params: dict[str, Any]) -> dict[str, Any]:
        if pipeline not in self._specs:
            self._specs[pipeline] = pipeline_spec(pipeline, [name for name, _ in template], sorted(params))
        return self._specs[pipeline]

    def experiment_for_model(self, model: str) -> str:
        for key, _name, _ns, _desc, models in EXPERIMENTS:
            if model in models:
                return self.experiment_keys[key]
        return self.experiment_keys["default"]

    def _new_run(self, *, run_id: str, model: str, version: str | None, created_ago: float,
                 pending: float = 20.0, durations: dict[str, float] | None = None,
                 failure: tuple[str, dict, bool] | None = None, kind: str = "train",
                 experiment_id: str | None = None, finish_before: float | None = None) -> RunPlan:
        rng = self.rng
        if kind == "train":
            pipeline = f"train-{model.replace('[', '-').replace(']', '')}"
            template = TRAINING_TASKS
            display = f"{pipeline}-v{version}" if version else f"{pipeline}-{rng.randrange(1000, 9999)}"
            description = f"Train {model} v{version}" if version else f"Ad-hoc training of {model}"
            params: dict[str, Any] = {"model_name": model, "learning_rate": round(rng.choice([0.01, 0.03, 0.05, 0.1]), 3),
                                      "max_epochs": rng.choice([10, 20, 40])}
            if version:
                params["version"] = version
                params["output_uri"] = demo_data.storage_uri(model, version)
        else:
            pipeline = f"batch-score-{model.replace('[', '-').replace(']', '')}"
            template = BATCH_TASKS
            display = f"{pipeline}-{time.strftime('%Y%m%d', time.gmtime(self.t0 - created_ago))}"
            description = f"Nightly batch scoring with {model}"
            params = {"model_name": model, "partition": time.strftime("%Y-%m-%d", time.gmtime(self.t0 - created_ago))}
        durations = durations or {}
        tasks = []
        for name, base in template:
            duration = durations.get(name, round(base * rng.uniform(0.7, 1.4)))
            tasks.append(TaskPlan(name, duration))
        if failure:
            task_name, error, transient = failure
            for task in tasks:
                if task.name == task_name:
                    task.failure = error
                    task.transient = transient
        if finish_before is not None:  # a catalog version: its run finished a little before it was registered
            created_ago = self.t0 - (finish_before - 120 - pending - sum(t.duration for t in tasks))
        workflow = f"{pipeline[:40]}-{''.join(rng.choice('bcdfghjklmnpqrstvwxz2456789') for _ in range(5))}"
        self._context_ids += 10
        plan = RunPlan(
            run_id=run_id, display_name=display, description=description,
            experiment_id=experiment_id or (self.experiment_keys["batch"] if kind != "train"
                                            else self.experiment_for_model(model) if version
                                            else self.experiment_keys["default"]),
            pipeline_name=pipeline, pipeline_id=_uuid5(f"pipeline/{pipeline}"),
            pipeline_version_id=_uuid5(f"pipeline/{pipeline}/v{3 + len(pipeline) % 4}"),
            workflow_name=workflow, created_at=float(int(self.t0 - created_ago)), pending=pending,
            tasks=tasks, parameters=params, context_id=self._context_ids,
            spec=self._spec(pipeline, template, params) if kind == "train" else None)
        # fill in {pod} in failure messages with the pod of the first attempt
        for i, task in enumerate(plan.tasks):
            if task.failure and "{pod}" in task.failure["message"]:
                task.failure = status(task.failure["code"], task.failure["message"].format(pod=plan.pod_name(i, 0)))
        self.runs[plan.run_id] = plan
        return plan

    def _build_runs(self, n_runs: int, catalog_versions: list[tuple[str, str, float | None, str]] | None) -> None:
        rng = self.rng
        stories: list[Callable[[], RunPlan]] = [
            # an OOMKilled trainer: the next churn-predictor version never made it
            lambda: self._new_run(run_id=_uuid(rng), model="churn-predictor", version="31", created_ago=2700,
                                  durations={"train-model": 1500}, failure=("train-model", OOM, False)),
            # a data-validation failure with a message that says what to fix
            lambda: self._new_run(run_id=_uuid(rng), model="credit-risk", version="36", created_ago=5400,
                                  failure=("validate-data", DATA_VALIDATION, False)),
            # a transient failure: a retry succeeds
            lambda: self._new_run(run_id=_uuid(rng), model="ad-ctr", version="31", created_ago=9000,
                                  failure=("ingest-data", S3_TIMEOUT, True)),
            # long runners, to try terminate on
            lambda: self._new_run(run_id=_uuid(rng), model="fraud-detector", version="41", created_ago=300,
                                  pending=15, durations={"ingest-data": 120, "validate-data": 60, "train-model": 2700}),
            lambda: self._new_run(run_id=_uuid(rng), model="search-ranker", version="33", created_ago=600,
                                  pending=25, durations={"ingest-data": 200, "validate-data": 90, "train-model": 1800}),
            # pending for a few minutes (waiting for a GPU node)
            lambda: self._new_run(run_id=_uuid(rng), model="demand-forecast", version="29", created_ago=20,
                                  pending=240),
            # will finish soon
            lambda: self._new_run(run_id=_uuid(rng), model="product-embedder", version="26", created_ago=900,
                                  pending=10, durations={"ingest-data": 150, "validate-data": 60,
                                                         "train-model": 900, "evaluate-model": 120}),
            # will fail at its evaluation gate in a few minutes
            lambda: self._new_run(run_id=_uuid(rng), model="image-moderation", version="25", created_ago=1200,
                                  pending=10, durations={"ingest-data": 200, "validate-data": 60,
                                                         "train-model": 900, "evaluate-model": 300},
                                  failure=("evaluate-model", EVAL_GATE, False)),
            # terminated yesterday
            lambda: self._terminated(self._new_run(run_id=_uuid(rng), model="eta-regressor", version="27",
                                                   created_ago=86400 + 3000), 86400 + 2000),
        ]
        for make in stories[:n_runs]:
            make()
        # the runs that trained the catalog's recent versions (all succeeded): from the catalog file
        # when there is one (its run ids and registration times), else from the demo world
        per_model = 3
        catalog_runs: list[tuple[str, str, float, float | None, str]] = []
        if catalog_versions:
            taken: dict[str, int] = {}
            for model, version, created, run_id in catalog_versions:  # newest first
                if taken.get(model, 0) >= per_model or (created is not None and created > self.t0 - 3600):
                    continue
                taken[model] = taken.get(model, 0) + 1
                catalog_runs.append((model, version, 86400.0 * taken[model], created, run_id))
        else:
            for m_index, model in enumerate(demo_data.MODELS):
                for back in range(per_model):
                    version = model.versions - back
                    if version >= 1:
                        catalog_runs.append((model.name, str(version), 86400 * (2 * back + 1) + 3600 * m_index + 600,
                                             None, demo_data.run_id_for(model.name, str(version))))
        for model, version, ago, created, run_id in catalog_runs:
            if len(self.runs) >= n_runs:
                break
            if run_id in self.runs:
                continue
            self._new_run(run_id=run_id, model=model, version=version, created_ago=ago, finish_before=created)
        # other runs: batch scoring and ad-hoc trainings over the past weeks
        span = max(30 * 86400, n_runs * 3600)
        names = [m.name for m in demo_data.MODELS]
        while len(self.runs) < n_runs:
            model = rng.choice(names)
            kind = rng.choice(["batch", "batch", "train"])
            roll = rng.random()
            failure = None
            if roll < 0.12:
                task, error, transient = rng.choice(FILLER_FAILURES)
                template = TRAINING_TASKS if kind == "train" else BATCH_TASKS
                if task not in [n for n, _ in template]:
                    task = template[-1][0] if kind == "batch" else "train-model"
                failure = (task, error, transient)
            plan = self._new_run(run_id=_uuid(rng), model=model, version=None, kind=kind,
                                 created_ago=rng.uniform(2 * 86400, span), failure=failure)
            if roll > 0.97:
                plan.add_mutation(plan.created_at + plan.pending + 100, "terminate")

    def _terminated(self, plan: RunPlan, ago: float) -> RunPlan:
        plan.add_mutation(self.t0 - ago, "terminate")
        return plan

    # -- queries --------------------------------------------------------------------------------

    def experiment(self, experiment_id: str) -> Experiment:
        try:
            return self.experiments[experiment_id]
        except KeyError:
            raise ApiError(5, f"Failed to get experiment: ResourceNotFoundError: Experiment {experiment_id} "
                              "not found") from None

    def run(self, run_id: str) -> RunPlan:
        try:
            return self.runs[run_id]
        except KeyError:
            raise ApiError(5, f"Failed to get run {run_id}: ResourceNotFoundError: Run {run_id} not found") from None

    def render_experiment(self, exp: Experiment, now: float) -> dict[str, Any]:
        out: dict[str, Any] = {
            "experiment_id": exp.experiment_id,
            "display_name": exp.display_name,
            "description": exp.description,
            "created_at": ts(exp.created_at),
            "namespace": exp.namespace,
            "storage_state": "AVAILABLE",
        }
        last = max((r.created_at for r in self.runs.values()
                    if r.experiment_id == exp.experiment_id and r.created_at <= now), default=None)
        if last is not None:
            out["last_run_created_at"] = ts(last)
        return out

    def terminate(self, run_id: str, now: float) -> None:
        """KFP's run store terminates only a PAUSED, PENDING or RUNNING run; otherwise its UPDATE matches
        no row and the answer is InvalidArgument (backend/src/apiserver/storage/run_store.go TerminateRun,
        wrapped by resource_manager.go TerminateRun and run_server.go TerminateRun)."""
        plan = self.run(run_id)
        if plan.state_at(now) not in TERMINABLE:
            raise ApiError(3, f"Failed to terminate a run: Failed to terminate run {run_id}: Invalid input error: "
                              f"Failed to terminate a run {run_id}. Row not found")
        plan.add_mutation(now, "terminate")

    def retry(self, run_id: str, now: float) -> None:
        """Argo retries only a Failed/Error workflow (a terminated one is Failed); anything else is a
        BadRequestError, gRPC Aborted, HTTP 409 (backend/src/common/util/workflow.go
        GenerateRetryExecution, util/error.go NewBadRequestError)."""
        plan = self.run(run_id)
        if plan.state_at(now) not in RETRYABLE:
            raise ApiError(10, f"Failed to retry a run: Failed to retry run {run_id}: BadRequestError: Workflow must "
                               "be Failed/Error to retry: workflow cannot be retried")
        plan.add_mutation(now, "retry")

    # -- listing: filter, sort, page -----------------------------------------------------------

    def list_runs(self, now: float, *, page_size: int | None, page_token: str | None, sort_by: str | None,
                  filter_json: str | None, experiment_id: str | None, namespace: str | None) -> dict[str, Any]:
        items: Iterable[RunPlan] = self.runs.values()
        if experiment_id:
            items = [r for r in items if r.experiment_id == experiment_id]
        if namespace:
            spaces = {e.experiment_id for e in self.experiments.values() if e.namespace == namespace}
            items = [r for r in items if r.experiment_id in spaces]
        return self._page(
            list(items), now, kind="runs", key_of=lambda r: r.run_id, fields=self._run_fields,
            render=lambda r: r.render(now, details=True), page_size=page_size, page_token=page_token,
            sort_by=sort_by, filter_json=filter_json)

    def list_experiments(self, now: float, *, page_size: int | None, page_token: str | None,
                         sort_by: str | None, filter_json: str | None, namespace: str | None) -> dict[str, Any]:
        items = list(self.experiments.values())
        if namespace:
            items = [e for e in items if e.namespace == namespace]
        return self._page(
            items, now, kind="experiments", key_of=lambda e: e.experiment_id, fields=self._experiment_fields,
            render=lambda e: self.render_experiment(e, now), page_size=page_size, page_token=page_token,
            sort_by=sort_by, filter_json=filter_json)

    _RUN_ALIASES = {"name": "display_name", "id": "run_id", "status": "state"}

    def _run_fields(self, key: str, now: float) -> Callable[[RunPlan], Any] | None:
        key = self._RUN_ALIASES.get(key, key)
        return {
            "run_id": lambda r: r.run_id,
            "display_name": lambda r: r.display_name,
            "description": lambda r: r.description,
            "experiment_id": lambda r: r.experiment_id,
            "state": lambda r: r.state_at(now),
            "storage_state": lambda r: "AVAILABLE",
            "created_at": lambda r: r.created_at,
            "scheduled_at": lambda r: r.created_at,
            "finished_at": lambda r: r.finished_at(now) or 0.0,
            "pipeline_version_id": lambda r: r.pipeline_version_id,
            "namespace": lambda r: self.experiments[r.experiment_id].namespace,
        }.get(key)

    def _experiment_fields(self, key: str, now: float) -> Callable[[Experiment], Any] | None:
        key = {"name": "display_name", "id": "experiment_id"}.get(key, key)
        return {
            "experiment_id": lambda e: e.experiment_id,
            "display_name": lambda e: e.display_name,
            "description": lambda e: e.description,
            "namespace": lambda e: e.namespace,
            "created_at": lambda e: e.created_at,
            "storage_state": lambda e: "AVAILABLE",
        }.get(key)

    def _page(self, items: list, now: float, *, kind: str, key_of, fields, render, page_size, page_token,
              sort_by, filter_json) -> dict[str, Any]:
        """One page. A page token is KFP's list options token: base64 JSON that carries the sort, the
        filter and where the next page starts, with no expiry and no signature; a request with only a
        token continues that query, and one that also names a sort or filter must name the same
        (backend/src/apiserver/list/list.go token, server/list_request_util.go validatedListOptions)."""
        if page_size is None or page_size == 0:
            page_size = DEFAULT_PAGE_SIZE
        if page_size < 0:
            raise ApiError(3, f"Failed to create list options: Invalid input error: The page size should be "
                              f"greater than 0. Got {page_size}")
        page_size = min(page_size, MAX_PAGE_SIZE)
        asked = self._options(kind, now, fields, sort_by, filter_json) if not page_token or sort_by or filter_json \
            else None
        after = None
        if page_token:
            token = _read_token(page_token)
            options = (token["SortByFieldName"], token["IsDesc"], token.get("Filter") or [])
            if asked is not None and asked != options:
                raise ApiError(3, "Failed to create list options: Invalid input error: page token does not match the "
                                  "supplied sort by and/or filtering criteria. Either specify the same criteria or "
                                  "leave the latter empty if page token is specified")
            self._options(kind, now, fields, options[0], None)  # the token's field must exist
            after = (token["SortByFieldValue"], token["KeyFieldValue"])
        else:
            assert asked is not None
            options = asked
        sort_field, desc, predicates = options
        sort_get = fields(sort_field, now)
        checks = [(fields(pred["key"], now), pred) for pred in predicates]
        if checks:
            items = [i for i in items if all(_matches(get(i), pred) for get, pred in checks)]
        total = len(items)
        items.sort(key=lambda i: (sort_get(i), key_of(i)), reverse=desc)
        if after is not None:
            position = len(items)
            for index, item in enumerate(items):
                key = (sort_get(item), key_of(item))
                if (key <= after) if desc else (key >= after):
                    position = index
                    break
            items = items[position:]
        page = items[:page_size]
        out: dict[str, Any] = {}
        if page:
            out[kind] = [render(i) for i in page]
        if total:
            out["total_size"] = total
        if len(items) > page_size:
            first = items[page_size]  # KFP's token points at the first row of the next page
            out["next_page_token"] = _make_token(sort_field, sort_get(first), key_of(first), desc, predicates)
        return out

    def _options(self, kind: str, now: float, fields, sort_by: str | None,
                 filter_json: str | None) -> tuple[str, bool, list]:
        """(sort field, descending, predicates) of a request, checked as KFP checks them."""
        sort_text = (sort_by or "").strip()
        parts = sort_text.split()
        if len(parts) > 2 or (len(parts) == 2 and parts[1].lower() not in ("asc", "desc")):
            raise ApiError(3, f"Failed to create list options: Invalid input error: Received invalid sort by format "
                              f"{sort_text!r}. Supported format: \"field_name\", \"field_name desc\", or "
                              "\"field_name asc\"")
        sort_field = parts[0] if parts else "created_at"
        if fields(sort_field, now) is None:
            raise ApiError(3, f"Failed to create list options: Invalid input error: Invalid sorting field: "
                              f"{sort_field!r} on listable type {kind}")
        predicates = parse_filter(filter_json) if filter_json else []
        for pred in predicates:
            if fields(pred["key"], now) is None:
                raise ApiError(3, f"Failed to create list options: Invalid input error: cannot filter {kind} on "
                                  f"{pred['key']!r}")
        return sort_field, len(parts) == 2 and parts[1].lower() == "desc", predicates


def _make_token(sort_field: str, value: Any, key: str, desc: bool, predicates: list) -> str:
    token = {"SortByFieldName": sort_field, "SortByFieldValue": value, "KeyFieldName": "UUID",
             "KeyFieldValue": key, "IsDesc": desc, "Filter": predicates or None}
    return base64.b64encode(json.dumps(token, separators=(",", ":")).encode()).decode()


def _read_token(text: str) -> dict[str, Any]:
    try:
        token = json.loads(base64.b64decode(text, validate=True))
        if not isinstance(token, dict) or not isinstance(token.get("SortByFieldName"), str) \
                or "KeyFieldValue" not in token:
            raise ValueError("not a list options token")
    except (ValueError, TypeError) as exc:
        raise ApiError(3, f"Failed to create list options: InvalidInputError: Invalid page token: {exc}") from None
    token["IsDesc"] = bool(token.get("IsDesc"))
    return token


def read_catalog_versions(path: Any) -> list[tuple[str, str, float | None, str]] | None:
    """(model, version, created epoch, run_id) of a catalog file's versions with a run id, newest
    first; None when the file is absent or not a catalog. Read-only, stdlib sqlite3."""
    import sqlite3
    from pathlib import Path

    if path is None or not Path(path).is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True, timeout=2)
        try:
            rows = conn.execute(
                "SELECT model, version, created_key, run_id FROM versions WHERE run_id IS NOT NULL AND run_id != '' "
                "ORDER BY created_key IS NULL, created_key DESC").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return [(str(m), str(v), float(c) if c is not None else None, str(r)) for m, v, c, r in rows] or None


# ---------------------------------------------------------------------------------------------
# Filters (v2beta1Filter as protojson: snake_case or lowerCamelCase field names)

OPERATIONS = {"EQUALS", "NOT_EQUALS", "GREATER_THAN", "GREATER_THAN_EQUALS", "LESS_THAN", "LESS_THAN_EQUALS",
              "IN", "IS_SUBSTRING"}
_OP_NUMBERS = {1: "EQUALS", 2: "NOT_EQUALS", 3: "GREATER_THAN", 5: "GREATER_THAN_EQUALS", 6: "LESS_THAN",
               7: "LESS_THAN_EQUALS", 8: "IN", 9: "IS_SUBSTRING"}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def parse_filter(text: str) -> list[dict[str, Any]]:
    """The predicates of a filter, each {"key", "op", "value"} with value a scalar or a list."""

    def bad(why: str) -> ApiError:
        return ApiError(3, f"Invalid input error: failed to parse valid filter from {text!r}: {why}")

    try:
        data = json.loads(text)
    except ValueError as exc:
        raise bad(f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise bad("a filter is a JSON object with a 'predicates' list")
    predicates = data.get("predicates", [])
    if not isinstance(predicates, list):
        raise bad("'predicates' must be a list")
    out = []
    for raw in predicates:
        if not isinstance(raw, dict):
            raise bad("each predicate must be an object")

        def get(name: str) -> Any:
            return raw.get(name, raw.get(_camel(name)))

        op = get("operation") or get("op")
        if isinstance(op, int):
            op = _OP_NUMBERS.get(op)
        if op not in OPERATIONS:
            raise bad(f"unknown operation {op!r}")
        key = get("key")
        if not isinstance(key, str) or not key:
            raise bad("a predicate needs a key")
        value: Any = None
        if op == "IN":
            for name, conv in (("string_values", str), ("int_values", int), ("long_values", int)):
                holder = get(name)
                if holder is not None:
                    values = holder.get("values", []) if isinstance(holder, dict) else None
                    if not isinstance(values, list):
                        raise bad(f"'{name}' must be an object with a 'values' list")
                    try:
                        value = [conv(v) for v in values]
                    except (TypeError, ValueError):
                        raise bad(f"'{name}' holds a value of the wrong type") from None
                    break
            if value is None:
                raise bad("IN needs string_values, int_values or long_values")
        else:
            if get("string_value") is not None:
                value = str(get("string_value"))
            elif get("int_value") is not None:
                value = int(get("int_value"))
            elif get("long_value") is not None:
                try:
                    value = int(get("long_value"))
                except (TypeError, ValueError):
                    raise bad("long_value must be an int64 (as a string)") from None
            elif get("timestamp_value") is not None:
                value = parse_ts(str(get("timestamp_value")))
            else:
                raise bad(f"predicate on {key!r} has no value")
            if op == "IS_SUBSTRING" and not isinstance(value, str):
                raise bad("IS_SUBSTRING applies to string_value only")
        out.append({"key": key, "op": op, "value": value})
    return out


def _matches(actual: Any, pred: dict[str, Any]) -> bool:
    op, value = pred["op"], pred["value"]
    if op == "IN":
        return actual in value or str(actual) in [str(v) for v in value]
    if op == "IS_SUBSTRING":
        return value in str(actual)
    if isinstance(actual, float) and isinstance(value, (int, float)):
        a, b = actual, float(value)
    else:
        a, b = str(actual), str(value)
    return {
        "EQUALS": a == b, "NOT_EQUALS": a != b, "GREATER_THAN": a > b, "GREATER_THAN_EQUALS": a >= b,
        "LESS_THAN": a < b, "LESS_THAN_EQUALS": a <= b,
    }[op]
