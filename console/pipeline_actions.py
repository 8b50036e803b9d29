"""Action objects for Kubeflow Pipelines runs (terminate, retry), run by console.actions.ActionPath.

validate (the run exists and is in a state where the action makes sense, else say why not) ->
check_permission (KFP has no access review: a 401/403 surfaces when applying) -> plan (read the run
again, Change with before -> after state lines and what will stop or re-run) -> apply (re-read: if
the run moved on since plan() so the action no longer makes sense, Conflict "changed since you
looked"; else call the API and return the run's state after).

No Textual import: the CLI and the Pipelines screen share these.
"""

from __future__ import annotations

from typing import Any

from adapters.errors import Conflict, InvalidInput, StateConflict
from adapters.pipelines import PipelinesClient, Run, _check_id
from console.actions import Change

TERMINABLE = ("PENDING", "RUNNING", "PAUSED")
RETRYABLE = ("FAILED", "CANCELED")


def _summary(run: Run) -> dict[str, Any]:
    return {"run_id": run.run_id, "display_name": run.display_name, "state": run.state,
            "finished_at": run.finished_at.strftime("%Y-%m-%dT%H:%M:%SZ") if run.finished_at else None}


class RunAction:
    kind = "run"
    allowed: tuple[str, ...] = ()
    verb = ""

    def __init__(self, client: PipelinesClient, run_id: str):
        self.client = client
        self.run_id = (run_id or "").strip()
        self.target = f"kfp-run/{self.run_id}"
        self.run: Run | None = None  # what validate()/plan() read

    def _refusal(self, run: Run) -> str:
        return (f"run {run.display_name} ({run.run_id}) is {run.state}: only a "
                f"{', '.join(self.allowed[:-1])} or {self.allowed[-1]} run can be {self.verb}")

    def validate(self) -> None:
        try:
            _check_id(self.run_id, "run id")
        except InvalidInput:
            raise InvalidInput(f"run id {self.run_id!r} is not valid; copy it from 'mlops-console runs list'") from None
        run = self.client.get_run(self.run_id)
        self.target = f"kfp-run/{run.run_id} ({run.display_name})"
        if run.state not in self.allowed:
            raise StateConflict(self._refusal(run))
        self.run = run

    def check_permission(self) -> None:
        """KFP offers no access review for runs; a refusal (401/403) surfaces as Forbidden on apply."""

    def plan(self) -> Change:
        run = self.client.get_run(self.run_id)
        if run.state not in self.allowed:
            raise StateConflict(self._refusal(run))
        self.run = run
        lines, notes, after_state = self.describe(run)
        return Change(kind=self.kind, target=self.target, before=_summary(run),
                      after={**_summary(run), "state": after_state, "finished_at": None},
                      lines=lines, notes=notes + ["KFP has no server-side dry run: the run's state is checked "
                                                  "again just before applying"],
                      precondition=f"run still {run.state}")

    def describe(self, run: Run) -> tuple[list[str], list[str], str]:
        raise NotImplementedError

    def call(self) -> None:
        raise NotImplementedError

    def apply(self, change: Change) -> dict[str, Any]:
        current = self.client.get_run(self.run_id)
        if current.state not in self.allowed:
            seen = change.before.get("state")
            raise Conflict(f"run {current.display_name} ({current.run_id}) changed since you looked: it was {seen}, "
                           f"it is now {current.state}; nothing was done")
        self.call()
        after = self.client.get_run(self.run_id)
        return _summary(after)


class TerminateRun(RunAction):
    kind = "run.terminate"
    allowed = TERMINABLE
    verb = "terminated"

    def describe(self, run: Run) -> tuple[list[str], list[str], str]:
        lines = [f"run: {run.display_name} ({run.run_id})", f"state: {run.state} -> CANCELING -> CANCELED"]
        active = [t for t in run.tasks if t.state in ("RUNNING", "PENDING") and t.parent_task_id]
        for task in active:
            lines.append(f"stops task {task.display_name}" + (f" (pod {task.pod_name})" if task.pod_name else ""))
        notes = ["tasks that already finished keep their outputs; the run can be retried later"]
        return lines, notes, "CANCELED"

    def call(self) -> None:
        self.client.terminate_run(self.run_id)


class RetryRun(RunAction):
    kind = "run.retry"
    allowed = RETRYABLE
    verb = "retried"

    def describe(self, run: Run) -> tuple[list[str], list[str], str]:
        lines = [f"run: {run.display_name} ({run.run_id})", f"state: {run.state} -> RUNNING"]
        again = [t for t in run.tasks if t.state in ("FAILED", "CANCELED") and t.parent_task_id]
        for task in again:
            lines.append(f"re-runs task {task.display_name}" + (f" (was {task.state}: {task.error})" if task.error
                                                               else f" (was {task.state})"))
        notes = ["tasks that succeeded are not run again; the failed tasks re-run with the same inputs, so a "
                 "deterministic failure (out of memory, bad data) fails again until its cause is fixed"]
        return lines, notes, "RUNNING"

    def call(self) -> None:
        self.client.retry_run(self.run_id)
