"""Action objects for Kubeflow Pipelines runs (terminate, retry), run by console.actions.ActionPath.

validate (the run exists and is in a state where the action makes sense, else a StateConflict that says
why not) -> check_permission (multi-user KFP authorizes a run action with a SubjectAccessReview on
pipelines.kubeflow.org runs in the run's namespace, backend/src/apiserver/server/run_server.go
canAccessRun: ask the cluster the same question with a SelfSubjectAccessReview and refuse with
Forbidden; single-user KFP checks nothing, and the confirmation says so) -> plan (read the run again,
Change with before -> after state lines and what will stop or re-run) -> apply (re-read: if the run
moved on since plan() so the action no longer makes sense, Conflict "changed since you looked"; else
call the API and return the run's state after).

No Textual import: the CLI and the Pipelines screen share these.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adapters.errors import Conflict, ConsoleError, Forbidden, InvalidInput, StateConflict
from adapters.pipelines import PipelinesClient, Run, _check_id
from console.actions import Change

TERMINABLE = ("PENDING", "RUNNING", "PAUSED")
RETRYABLE = ("FAILED", "CANCELED")
RBAC_GROUP, RBAC_RESOURCE = "pipelines.kubeflow.org", "runs"  # KFP's common/const.go
UNCHECKED = "this Kubeflow Pipelines does not check permissions (single-user mode): anyone who can reach it may do this"


def _summary(run: Run) -> dict[str, Any]:
    return {"run_id": run.run_id, "display_name": run.display_name, "state": run.state,
            "finished_at": run.finished_at.strftime("%Y-%m-%dT%H:%M:%SZ") if run.finished_at else None}


class RunAction:
    kind = "run"
    allowed: tuple[str, ...] = ()
    verb = ""
    rbac_verb = ""

    def __init__(self, client: PipelinesClient, run_id: str, kube: Callable[[], Any] | None = None):
        """kube: makes the Kubernetes client that answers access reviews (None: there is none)."""
        self.client = client
        self.run_id = (run_id or "").strip()
        self.target = f"kfp-run/{self.run_id}"
        self.run: Run | None = None  # what validate()/plan() read
        self._kube_factory = kube
        self._kube: Any = None
        self._actor: str | None = None
        self.permission_note: str | None = None  # what check_permission() could not check

    def kube(self) -> Any | None:
        if self._kube is None and self._kube_factory is not None:
            try:
                self._kube = self._kube_factory()
            except ConsoleError:
                self._kube_factory = None
        return self._kube

    def actor(self) -> str | None:
        """Who acts: the kube identity, else the KFP user the user header names."""
        if self._actor is None:
            kube = self.kube()
            if kube is not None:
                try:
                    self._actor = kube.whoami()
                except ConsoleError:
                    self._actor = None
            self._actor = self._actor or self.client.user
        return self._actor

    def namespace(self, run: Run) -> str | None:
        """A v2beta1 run has no namespace of its own: it is its experiment's."""
        if run.experiment_id:
            try:
                return self.client.get_experiment(run.experiment_id).namespace or self.client.namespace
            except ConsoleError:
                pass
        return self.client.namespace

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
        if not self.client.multi_user():
            self.permission_note = UNCHECKED
            return
        assert self.run is not None
        namespace = self.namespace(self.run)
        permission = f"{self.rbac_verb} {RBAC_RESOURCE}.{RBAC_GROUP} in namespace {namespace}"
        kube = self.kube()
        try:
            if kube is None:
                raise InvalidInput("no Kubernetes context to ask")
            allowed, why = kube.can_i(self.rbac_verb, RBAC_RESOURCE, RBAC_GROUP, namespace)
        except Forbidden:
            raise
        except ConsoleError as error:
            self.permission_note = (f"could not ask the cluster whether you may {permission} ({error.message}); "
                                    "Kubeflow Pipelines checks it when applying")
            return
        if not allowed:
            raise Forbidden(f"not allowed to {permission} as {self.actor() or 'this identity'}"
                            + (f": {why}" if why else " (the cluster's access review said no)")
                            + "; ask for the permission or use another --context")

    def plan(self) -> Change:
        run = self.client.get_run(self.run_id)
        if run.state not in self.allowed:
            raise StateConflict(self._refusal(run))
        self.run = run
        lines, notes, after_state = self.describe(run)
        if self.permission_note:
            notes = [self.permission_note] + notes
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
    rbac_verb = "terminate"

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
    rbac_verb = "retry"

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
