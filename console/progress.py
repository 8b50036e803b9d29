"""Gates and progressive rollouts for KServe canaries: pure logic, no I/O, no Textual.

- `rollout_state`: is the newest revision ready and serving its intended share (what
  `rollout status --wait` waits for), failed, or still on its way;
- exit codes of the gates (`health`, `rollout status --wait`, `rollout progress`);
- `Analysis`: Flagger's analysis discipline (fluxcd/flagger pkg/controller/scheduler.go,
  `analysis.threshold`: rollback once the number of failed checks reaches the threshold; the
  count is kept for the whole analysis, a healthy check does not reset it), plus the issue's
  rule for checks without enough data: wait another interval, up to `threshold` times.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.errors import InvalidInput
from adapters.kube import InferenceService
from console import canary, rollouts
from console.drift import parse_duration

# Exit codes of the gates (documented in --help and the README, "Use in CI/CD").
EXIT_OK = 0
EXIT_FAILING = 1
EXIT_NOT_ENOUGH_DATA = 10
EXIT_TIMEOUT = 124  # what timeout(1) returns
VERDICT_EXIT = {canary.HEALTHY: EXIT_OK, canary.FAILING: EXIT_FAILING, canary.NOT_ENOUGH_DATA: EXIT_NOT_ENOUGH_DATA}

READY, FAILED, WAITING = "ready", "failed", "waiting"
DEFAULT_THRESHOLD = 2  # Flagger's default analysis.threshold
MIN_WINDOW = 60.0  # the default window: the interval, at least a minute


@dataclass(frozen=True)
class RolloutState:
    state: str  # ready | failed | waiting
    text: str


def intended_percent(isvc: InferenceService) -> int:
    """The share the newest revision should serve: canaryTrafficPercent once a rolled-out revision
    exists, else 100 (KServe gives the first revision everything)."""
    if isvc.canary_traffic_percent is None or not isvc.latest_rolledout_revision:
        return 100
    return rollouts.clamp_percent(isvc.canary_traffic_percent)


def rollout_state(isvc: InferenceService) -> RolloutState:
    """Ready when the newest revision is the latest ready one, Ready is True and the newest revision
    serves its intended share; failed as soon as a condition says False (RevisionFailed and the like)."""
    not_ready = rollouts.latest_not_ready(isvc)
    if not_ready is not None:
        return RolloutState(FAILED if not_ready.failed else WAITING, not_ready.text)
    ready = next((c for c in isvc.conditions if c.type == "Ready"), None)
    if ready is not None and ready.status == "False":
        return RolloutState(FAILED, f"Ready is False: {ready.message or ready.reason or 'no message'}")
    if isvc.deleting:
        return RolloutState(FAILED, "the InferenceService is being deleted")
    if ready is None or ready.status != "True":
        why = (ready.message or ready.reason) if ready is not None else None
        return RolloutState(WAITING, f"Ready is {ready.status if ready else 'not reported yet'}"
                                     + (f": {why}" if why else ""))
    if isvc.standard_canary:  # KServe 0.20: ready canary Deployments, weighted by the HTTPRoute
        return _standard_state(isvc)
    newest = isvc.latest_created_revision or isvc.latest_ready_revision
    if isvc.is_raw:
        return RolloutState(READY, f"{newest or 'the deployment'} is ready (RawDeployment: no traffic split)")
    want = intended_percent(isvc)
    served = sum(t.percent or 0 for t in isvc.traffic if t.revision == newest)
    if served != want:
        return RolloutState(WAITING, f"revision {newest} serves {served}%, waiting for {want}%")
    return RolloutState(READY, f"revision {newest} is ready and serves {want}%")


def _standard_state(isvc: InferenceService) -> RolloutState:
    """A Standard-mode canary is ready when CanaryPredictorReady is True (every canary Deployment
    has its replicas available: reconcileCanaryDeployments) and each canary is served the
    trafficPercent its spec asks for (the HTTPRoute weighs in only ready canaries)."""
    gate = next((c for c in isvc.conditions if c.type == "CanaryPredictorReady"), None)
    if gate is None or gate.status != "True":
        why = (gate.message or gate.reason) if gate is not None else None
        return RolloutState(WAITING, f"CanaryPredictorReady is {gate.status if gate else 'not reported yet'}"
                                     + (f": {why}" if why else ""))
    for c in isvc.canaries:
        served = next((t.percent or 0 for t in isvc.traffic if t.revision == c.deployment), 0)
        if served != (c.percent or 0):
            return RolloutState(WAITING, f"canary {c.name} serves {served}%, waiting for {c.percent or 0}%")
    first = isvc.canaries[0]
    return RolloutState(READY, f"canary {first.name} ({first.deployment}) is ready and serves {first.percent or 0}%")


# ----------------------------------------------------------------------------------------------
# The plan of a progress


def parse_steps(text: str) -> list[int]:
    """'10,25,50,100' -> [10, 25, 50, 100]: rising percentages that end at 100 (promote follows)."""
    try:
        steps = [int(part.strip().rstrip("%")) for part in str(text).split(",") if part.strip()]
    except ValueError:
        raise InvalidInput(f"--steps {text!r} is not a list of percentages such as 10,25,50,100") from None
    if not steps:
        raise InvalidInput("--steps is empty: give rising percentages such as 10,25,50,100")
    if any(not 1 <= s <= 100 for s in steps):
        raise InvalidInput(f"--steps {text!r}: every step must be from 1 to 100")
    if any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
        raise InvalidInput(f"--steps {text!r}: the steps must rise")
    if steps[-1] != 100:
        raise InvalidInput(f"--steps {text!r} must end at 100 (the promotion follows the last step)")
    return steps


def parse_seconds(flag: str, text: str) -> float:
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise InvalidInput(f"{flag} {text!r}: {exc}") from None
    return value


def default_window(interval: float) -> str:
    return f"{int(max(interval, MIN_WINDOW))}s"


def parse_threshold(text: str | int) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise InvalidInput(f"--threshold {text!r} is not a whole number") from None
    if value < 1:
        raise InvalidInput(f"--threshold must be 1 or more, not {value}")
    return value


# ----------------------------------------------------------------------------------------------
# Flagger's analysis


NEXT, HOLD, ROLLBACK, STOP = "next", "hold", "rollback", "stop"


@dataclass
class Analysis:
    threshold: int = DEFAULT_THRESHOLD
    failed_checks: int = 0  # over the whole progress, as Flagger's status.failedChecks
    no_data_checks: int = 0  # at the current step
    verdicts: list[str] = field(default_factory=list)  # the last few, for the display

    def judge(self, status: str) -> str:
        """What to do after a check: next (healthy), hold (judge again after another interval),
        rollback (failed checks reached the threshold) or stop (still not enough data after waiting
        `threshold` more intervals)."""
        self.verdicts = (self.verdicts + [status])[-5:]
        if status == canary.HEALTHY:
            self.no_data_checks = 0
            return NEXT
        if status == canary.FAILING:
            self.failed_checks += 1
            return ROLLBACK if self.failed_checks >= self.threshold else HOLD
        self.no_data_checks += 1  # the first check plus `threshold` more, an interval apart
        return STOP if self.no_data_checks > self.threshold else HOLD
