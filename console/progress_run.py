"""`rollout progress` (issue 12 §2): step canaryTrafficPercent through the action path, judge each
step with the verdict of `health`, roll back or stop by Flagger's rules, promote after 100.

Blocking and UI-agnostic (no Textual): the CLI runs it in the main thread with a Reporter that
prints, a screen could run it in a worker with one that posts messages. `stop` is an Event that
an interruption sets: once set, nothing advances again and the run ends where it is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from adapters.errors import ConsoleError
from adapters.kube import GROUP, VERSION
from console import canary, progress
from console.actions import ActionPath
from console.audit import Identity
from console.lease import LeaseHolder, LeaseLost
from console.rollout_actions import Promote, Rollback, RolloutAction, SetCanaryPercent

PROGRESS_DEADLINE = 600.0  # seconds a step's revision may take to be ready (Flagger's progressDeadlineSeconds)
POLL = 1.0  # seconds between two reads of the InferenceService while waiting for readiness
KIND = "rollout.progress"


class Reporter(Protocol):
    def line(self, text: str) -> None: ...

    def step(self, index: int, total: int, percent: int) -> None: ...

    def verdict(self, text: str) -> None: ...

    def countdown(self, seconds_left: float) -> None: ...


@dataclass
class Plan:
    namespace: str
    name: str
    steps: list[int]
    interval: float
    window: str
    threshold: int
    reason: str | None
    standard: bool = False  # a Standard-mode canary (spec.canary[0].trafficPercent), else canaryTrafficPercent

    def lines(self) -> list[str]:
        promote, rollback = (("make the canary the stable predictor", "remove the canary entry") if self.standard
                             else ("remove canaryTrafficPercent", "canaryTrafficPercent 0"))
        return [f"rollout.progress on {self.namespace}/{self.name}:",
                "  steps: " + " -> ".join(f"{s}%" for s in self.steps) + f" -> promote ({promote})",
                f"  each step: ready, then a check every {self.interval:g}s over a {self.window} window "
                f"(the verdict of `health`)",
                f"  rollback ({rollback}) at {self.threshold} failed checks; without enough data, "
                f"{self.threshold} more intervals, then stop where it is"]


class ProgressRun:
    def __init__(self, plan: Plan, *, client: Any, path: ActionPath, judge: Callable[[Any], canary.Verdict],
                 holder: LeaseHolder, reporter: Reporter, stop: Any, identity: Identity):
        self.plan = plan
        self.client = client
        self.path = path
        self.judge = judge  # InferenceService -> Verdict (console/commands/drift.py judge)
        self.holder = holder
        self.reporter = reporter
        self.stop = stop  # threading.Event
        self.identity = identity
        self.analysis = progress.Analysis(plan.threshold)
        self.step_index = 0  # 1-based once the first step is applied
        self.signal_name: str | None = None  # set by whoever sets `stop`, for the messages
        # The console's keys (screens/rollouts_progress.py): space holds the countdown (no judgement,
        # no advance); a rolls back at once.
        self.paused = threading.Event()
        self.aborted = threading.Event()

    @property
    def target(self) -> str:
        return f"{self.plan.namespace}/{self.plan.name}"

    # -- recording ------------------------------------------------------------------------------
    def note(self, outcome: str, message: str, reason: str, type_: str = "Normal") -> None:
        """An audit row and an Event about the run itself."""
        try:
            self.path.audit.record(identity=self.identity, action=KIND, target=self.target, outcome=outcome,
                                   reason=self.plan.reason, message=message, context=self.path.context)
        except ConsoleError as error:
            self.reporter.line(f"warning: the audit journal did not take '{message}': {error.message}")
        try:
            isvc = self.client.get_inference_service(self.plan.namespace, self.plan.name)
            involved = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "InferenceService", "name": self.plan.name,
                        "namespace": self.plan.namespace, "uid": isvc.uid, "resourceVersion": isvc.resource_version}
            self.client.create_event(self.plan.namespace, involved, reason=reason, type_=type_,
                                     message=f"{message} (by {self.identity.os_user}, kube: "
                                             f"{self.identity.kube_identity or 'unknown'}, via mlops-console)",
                                     action=KIND)
        except ConsoleError as error:
            self.reporter.line(f"warning: the Kubernetes Event '{reason}' could not be written: {error.message}")

    def act(self, action: RolloutAction) -> str:
        """One change through the action path (read-only, permission, dry-run, precondition,
        audit rows, Event); returns a line saying what it did."""
        action.lease_holder = self.holder
        change = self.path.prepare(action, self.plan.reason)
        outcome = self.path.execute(action, change, self.plan.reason)
        for warning in outcome.warnings:
            self.reporter.line(f"warning: {warning}")
        return f"{'; '.join(change.lines) or action.kind} (audit #{outcome.audit_id})"

    # -- waiting --------------------------------------------------------------------------------
    def interrupted(self) -> bool:
        return self.stop.is_set() or self.holder.lost.is_set() or self.aborted.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep `seconds` showing the countdown; False when interrupted meanwhile. While paused the
        time left holds."""
        end = time.monotonic() + seconds
        left = seconds
        while not self.interrupted():
            if self.paused.is_set():
                self.stop.wait(POLL)
                end = time.monotonic() + left
                continue
            left = end - time.monotonic()
            if left <= 0:
                return True
            self.reporter.countdown(left)
            self.stop.wait(min(1.0, left))
        return False

    def wait_ready(self) -> progress.RolloutState | None:
        """The newest revision ready and serving its share, failed, or PROGRESS_DEADLINE passed
        (failed too); None when interrupted."""
        end = time.monotonic() + PROGRESS_DEADLINE
        said = None
        while not self.interrupted():
            state = progress.rollout_state(self.client.get_inference_service(self.plan.namespace, self.plan.name))
            if state.state != progress.WAITING:
                return state
            if state.text != said:
                self.reporter.line(f"waiting: {state.text}")
                said = state.text
            if time.monotonic() >= end:
                return progress.RolloutState(progress.FAILED, f"not ready after {PROGRESS_DEADLINE:g}s: {state.text}")
            self.stop.wait(POLL)
        return None

    # -- the run --------------------------------------------------------------------------------
    def rollback(self, why: str) -> int:
        self.reporter.line(f"rolling back: {why}")
        self.reporter.line("rolled back: " + self.act(Rollback(self.client, self.plan.namespace, self.plan.name)))
        self.reporter.line("the canary entry is removed (and its Deployment): all traffic goes to the stable predictor"
                           if self.plan.standard else
                           "the new model stays in the spec; canaryTrafficPercent 0 sends all traffic to the "
                           "previous revision")
        return progress.EXIT_FAILING

    def run(self) -> int:
        plan = self.plan
        total = len(plan.steps)
        self.note("started", f"progress started: steps {','.join(map(str, plan.steps))}, interval "
                             f"{plan.interval:g}s, window {plan.window}, threshold {plan.threshold}", "ProgressStarted")
        for index, percent in enumerate(plan.steps, start=1):
            if self.interrupted():
                return self.end_interrupted()
            self.step_index = index
            self.reporter.step(index, total, percent)
            isvc = self.client.get_inference_service(plan.namespace, plan.name)
            asked = isvc.canaries[0].percent if isvc.standard_canary else isvc.canary_traffic_percent
            if asked != percent:
                if self.interrupted():  # a signal while reading: still no advance
                    return self.end_interrupted()
                action = SetCanaryPercent(self.client, plan.namespace, plan.name, percent)
                self.reporter.line(f"step {index}/{total}: " + self.act(action))
            state = self.wait_ready()
            if state is None:
                return self.end_interrupted()
            if state.state == progress.FAILED:
                return self.rollback(state.text)
            self.reporter.line(f"step {index}/{total}: {state.text}")
            while True:
                if not self.wait(plan.interval):
                    return self.end_interrupted()
                isvc = self.client.get_inference_service(plan.namespace, plan.name)
                verdict = self.judge(isvc)
                decision = self.analysis.judge(verdict.status)
                text = verdict.text + (f" ({verdict.reason})" if verdict.reason else "")
                self.reporter.verdict(text)
                self.reporter.line(f"step {index}/{total} check: {text}"
                                   + (f"; failed checks {self.analysis.failed_checks}/{plan.threshold}"
                                      if verdict.status == canary.FAILING else ""))
                if decision == progress.NEXT:
                    break
                if decision == progress.ROLLBACK:
                    return self.rollback(f"{self.analysis.failed_checks} failed checks (threshold {plan.threshold})")
                if decision == progress.STOP:
                    message = (f"progress stopped at step {index} ({percent}%): not enough data after "
                               f"{plan.threshold} more intervals")
                    self.reporter.line(message)
                    self.note("stopped: not enough data", message, "ProgressStopped", "Warning")
                    return progress.EXIT_NOT_ENOUGH_DATA
        if self.interrupted():
            return self.end_interrupted()
        self.reporter.line("promoted: " + self.act(Promote(self.client, plan.namespace, plan.name)))
        return progress.EXIT_OK

    def end_interrupted(self) -> int:
        """Never advances again: the InferenceService stays at the current step (or, aborted from
        the console, rolls back)."""
        if self.aborted.is_set():
            self.note("aborted", f"progress aborted at step {self.step_index}", "ProgressAborted", "Warning")
            return self.rollback(f"aborted at step {self.step_index}")
        if self.holder.lost.is_set() and not self.stop.is_set():
            message = f"progress stopped at step {self.step_index}: the lease was taken: {self.holder.lost_reason}"
            self.reporter.line(message)
            self.note("stopped: lease lost", message, "ProgressStopped", "Warning")
            raise LeaseLost(message)
        message = f"progress interrupted at step {self.step_index}" + (
            f" ({self.signal_name})" if self.signal_name else "")
        self.reporter.line(message + "; the InferenceService stays where it is")
        self.note("interrupted", message, "ProgressInterrupted", "Warning")
        return -1  # the caller turns it into 128 + the signal
