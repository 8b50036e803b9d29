"""The demo world of the simulated Kubeflow Pipelines behind the sandbox endpoint (no I/O, no HTTP):
seeded experiments and runs telling the demo's stories, the mutations a user can make (terminate,
retry) and the listings, rendered in the KFP v2beta1 wire format. A restarted sandbox with the
same seed tells the same story.

The parts: kfp_wire (errors, timestamps), kfp_runs (a run's plan and state machine), kfp_specs
(compiled pipeline specs), kfp_listing (sort, filter, page tokens).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from typing import Any

from console import demo_data
from console.sandbox.kfp_listing import list_page
from console.sandbox.kfp_runs import (
    CANCEL_DELAY,
    FAILED,
    RETRYABLE,
    RUNNING,
    SUCCEEDED,
    TERMINABLE,
    TERMINAL,
    Experiment,
    RunPlan,
    TaskPlan,
    random_uuid,
    stable_uuid,
)
from console.sandbox.kfp_specs import pipeline_spec
from console.sandbox.kfp_wire import EPOCH, ApiError, status, ts

# what callers import from here (the server, kfp_pods, tests), wherever it is defined
__all__ = ["CANCEL_DELAY", "EPOCH", "FAILED", "RUNNING", "SUCCEEDED", "TERMINAL", "ApiError", "RunPlan", "World",
           "read_catalog_versions"]

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
            exp = Experiment(stable_uuid(f"experiment/{key}"), name, description, namespace,
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
            template: tuple[tuple[str, float], ...] = TRAINING_TASKS
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
            pipeline_name=pipeline, pipeline_id=stable_uuid(f"pipeline/{pipeline}"),
            pipeline_version_id=stable_uuid(f"pipeline/{pipeline}/v{3 + len(pipeline) % 4}"),
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
            lambda: self._new_run(run_id=random_uuid(rng), model="churn-predictor", version="31", created_ago=2700,
                                  durations={"train-model": 1500}, failure=("train-model", OOM, False)),
            # a data-validation failure with a message that says what to fix
            lambda: self._new_run(run_id=random_uuid(rng), model="credit-risk", version="36", created_ago=5400,
                                  failure=("validate-data", DATA_VALIDATION, False)),
            # a transient failure: a retry succeeds
            lambda: self._new_run(run_id=random_uuid(rng), model="ad-ctr", version="31", created_ago=9000,
                                  failure=("ingest-data", S3_TIMEOUT, True)),
            # long runners, to try terminate on
            lambda: self._new_run(run_id=random_uuid(rng), model="fraud-detector", version="41", created_ago=300,
                                  pending=15, durations={"ingest-data": 120, "validate-data": 60, "train-model": 2700}),
            lambda: self._new_run(run_id=random_uuid(rng), model="search-ranker", version="33", created_ago=600,
                                  pending=25, durations={"ingest-data": 200, "validate-data": 90, "train-model": 1800}),
            # pending for a few minutes (waiting for a GPU node)
            lambda: self._new_run(run_id=random_uuid(rng), model="demand-forecast", version="29", created_ago=20,
                                  pending=240),
            # will finish soon
            lambda: self._new_run(run_id=random_uuid(rng), model="product-embedder", version="26", created_ago=900,
                                  pending=10, durations={"ingest-data": 150, "validate-data": 60,
                                                         "train-model": 900, "evaluate-model": 120}),
            # will fail at its evaluation gate in a few minutes
            lambda: self._new_run(run_id=random_uuid(rng), model="image-moderation", version="25", created_ago=1200,
                                  pending=10, durations={"ingest-data": 200, "validate-data": 60,
                                                         "train-model": 900, "evaluate-model": 300},
                                  failure=("evaluate-model", EVAL_GATE, False)),
            # terminated yesterday
            lambda: self._terminated(self._new_run(run_id=random_uuid(rng), model="eta-regressor", version="27",
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
            for m_index, demo in enumerate(demo_data.MODELS):
                for back in range(per_model):
                    number = demo.versions - back
                    if number >= 1:
                        catalog_runs.append((demo.name, str(number), 86400 * (2 * back + 1) + 3600 * m_index + 600,
                                             None, demo_data.run_id_for(demo.name, str(number))))
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
            plan = self._new_run(run_id=random_uuid(rng), model=model, version=None, kind=kind,
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
        return list_page(
            list(items), now, kind="runs", key_of=lambda r: r.run_id, fields=self._run_fields,
            render=lambda r: r.render(now, details=True), page_size=page_size, page_token=page_token,
            sort_by=sort_by, filter_json=filter_json)

    def list_experiments(self, now: float, *, page_size: int | None, page_token: str | None,
                         sort_by: str | None, filter_json: str | None, namespace: str | None) -> dict[str, Any]:
        items = list(self.experiments.values())
        if namespace:
            items = [e for e in items if e.namespace == namespace]
        return list_page(
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
