"""Canary rollout logic for KServe InferenceServices: pure, no I/O, no Textual.

Shared by the CLI (console/commands/rollout.py), the Action objects (console/rollout_actions.py)
and the Rollouts screen. KServe facts it encodes (DESIGN section 4):

- canary traffic (spec.predictor.canaryTrafficPercent) works only in Serverless (Knative) mode,
  and only once a rolled-out revision exists (the first revision always takes 100%);
- promote = remove the field (JSON merge patch null); roll back = 0, which pins traffic to the
  previous revision but leaves the new model in the spec;
- a canary of a catalog version = a new storageUri (at spec.predictor.model.storageUri, or
  spec.predictor.<framework>.storageUri when the object uses the older layout) plus
  canaryTrafficPercent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapters.errors import ConsoleError, InvalidInput, StateConflict
from adapters.kube import InferenceService, parse_inference_service
from console.merge_patch import merge_patch

PERCENT_PATH = "spec.predictor.canaryTrafficPercent"
UNSET = "(unset)"

ROLLBACK_NOTE = ("a rollback sends all traffic back to the previous revision but leaves the new model "
                 "in the spec: the next change to the InferenceService (or a promote) serves it again")
RAW_REASON = ("canary traffic is not possible in {mode} mode: KServe splits traffic between revisions "
              "only in Serverless (Knative) mode")
FIRST_REVISION_REASON = ("no rolled-out revision yet: the first revision always takes 100% of the "
                         "traffic, so there is nothing to split with")


# ----------------------------------------------------------------------------------------------
# Input parsing


def parse_percent(value: Any) -> int:
    """A traffic percentage 0..100 from user input; InvalidInput otherwise (exit 2)."""
    if isinstance(value, bool):
        raise InvalidInput(f"percent must be a whole number from 0 to 100, not {value!r}")
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip().rstrip("%").strip()
        try:
            number = int(text, 10)
        except ValueError:
            raise InvalidInput(f"percent must be a whole number from 0 to 100, not {str(value)!r}") from None
    if not 0 <= number <= 100:
        raise InvalidInput(f"percent must be from 0 to 100, not {number}")
    return number


def parse_step(value: Any) -> int:
    """A step size 1..100 (the configurable +/- step)."""
    try:
        number = int(str(value).strip().rstrip("%"))
    except ValueError:
        raise InvalidInput(f"step must be a whole number from 1 to 100, not {value!r}") from None
    if not 1 <= number <= 100:
        raise InvalidInput(f"step must be from 1 to 100, not {number}")
    return number


def clamp_percent(value: int) -> int:
    return max(0, min(100, int(value)))


def current_percent(isvc: InferenceService) -> int:
    """The canary percentage the spec asks for now: canaryTrafficPercent, or 100 when unset
    (KServe's default: the latest revision takes everything)."""
    if isvc.canary_traffic_percent is not None:
        return clamp_percent(isvc.canary_traffic_percent)
    return 100


def stepped_percent(isvc: InferenceService, direction: int, step: int = 10) -> int:
    """The next percentage when stepping up (+1) or down (-1) by `step`, clamped to 0..100.

    Steps land on multiples of the step (17 -> 20 up, 17 -> 10 down), like a detent."""
    step = parse_step(step)
    now = current_percent(isvc)
    if direction > 0:
        target = (now // step + 1) * step
    elif direction < 0:
        target = ((now - 1) // step) * step
    else:
        return now
    return clamp_percent(target)


# ----------------------------------------------------------------------------------------------
# What an action cannot do


class NotNow(str):
    """A refusal because of the object's current state (already rolled back, nothing to promote):
    raised as StateConflict (exit 6). A plain string refusal means this object can never take the
    action (RawDeployment, no model in the spec): InvalidInput (exit 2)."""


DELETING_REASON = NotNow("the InferenceService is being deleted (deletionTimestamp is set); there is nothing to "
                         "steer")


def refusal_error(message: str, why: str) -> ConsoleError:
    """The error to raise for a refusal `why` (from the *_refusal functions below)."""
    return StateConflict(message) if isinstance(why, NotNow) else InvalidInput(message)


def canary_refusal(isvc: InferenceService) -> str | None:
    """Why no canary traffic can be set on this InferenceService, or None."""
    if isvc.deleting:
        return DELETING_REASON
    if isvc.is_raw:
        return RAW_REASON.format(mode=isvc.raw_deployment_mode or isvc.mode)
    if not isvc.latest_rolledout_revision:
        return NotNow(FIRST_REVISION_REASON)
    return None


def has_canary_revision(isvc: InferenceService) -> bool:
    """A revision newer than the rolled-out one exists (the thing a canary percentage moves)."""
    newest = isvc.latest_created_revision or isvc.latest_ready_revision or isvc.latest_revision
    return bool(newest) and newest != isvc.latest_rolledout_revision


def set_percent_refusal(isvc: InferenceService, percent: int) -> str | None:
    reason = canary_refusal(isvc)
    if reason:
        return reason
    if not has_canary_revision(isvc):
        return NotNow(f"no canary to steer: the latest revision {isvc.latest_rolledout_revision} is already "
                      f"rolled out; start a canary of another model version first")
    if isvc.canary_traffic_percent is not None and isvc.canary_traffic_percent == percent:
        return NotNow(f"canaryTrafficPercent is already {percent}; nothing to change")
    return None


def promote_refusal(isvc: InferenceService) -> str | None:
    if isvc.deleting:
        return DELETING_REASON
    if isvc.is_raw:
        return RAW_REASON.format(mode=isvc.raw_deployment_mode or isvc.mode)
    if isvc.canary_traffic_percent is None:
        if isvc.latest_percent in (None, 100) or not has_canary_revision(isvc):
            return NotNow("nothing to promote: no canary is set (canaryTrafficPercent is unset) and the latest "
                          "revision already takes all traffic")
        return NotNow("nothing to promote: canaryTrafficPercent is already unset; KServe is moving traffic to "
                      "the latest revision")
    return None


def rolls_back_a_promotion(isvc: InferenceService) -> bool:
    """The latest revision is the rolled-out one, and an earlier one was rolled out before it: a
    canaryTrafficPercent below 100 now sends traffic back to previousRolledoutRevision (KServe's
    PropagateStatus pins latestRolledoutRevision to it), the documented KServe rollback."""
    previous = isvc.previous_rolledout_revision
    return not has_canary_revision(isvc) and bool(previous) and previous != isvc.latest_rolledout_revision


def rollback_refusal(isvc: InferenceService) -> str | None:
    reason = canary_refusal(isvc)
    if reason:
        return reason
    if not has_canary_revision(isvc) and not rolls_back_a_promotion(isvc):
        return NotNow(f"nothing to roll back: the latest revision {isvc.latest_rolledout_revision} is the "
                      f"rolled-out one and no earlier revision was rolled out; to go back to an earlier model, "
                      f"start a canary of that version")
    if isvc.canary_traffic_percent == 0:
        return NotNow("already rolled back: canaryTrafficPercent is 0")
    return None


def start_canary_refusal(isvc: InferenceService, storage_uri: str, percent: int) -> str | None:
    reason = canary_refusal(isvc)
    if reason:
        return reason
    if isvc.predictor_key is None:
        return "the predictor has no model with a storageUri to replace (spec.predictor.model is missing)"
    if storage_uri == isvc.storage_uri:
        return NotNow(f"{storage_uri} is already the model in the spec; pick another version")
    return None


def validate_storage_uri(uri: Any) -> str:
    text = str(uri or "").strip()
    if not text or "://" not in text or any(c.isspace() for c in text):
        raise InvalidInput(f"storage URI must look like s3://bucket/path, not {str(uri)!r}")
    return text


# ----------------------------------------------------------------------------------------------
# Patches (JSON merge patch bodies; the adapter adds metadata.resourceVersion)


def set_percent_patch(percent: int) -> dict[str, Any]:
    return {"spec": {"predictor": {"canaryTrafficPercent": parse_percent(percent)}}}


def promote_patch() -> dict[str, Any]:
    """Remove canaryTrafficPercent: merge-patch null deletes the field, the latest revision gets 100%."""
    return {"spec": {"predictor": {"canaryTrafficPercent": None}}}


def rollback_patch() -> dict[str, Any]:
    return {"spec": {"predictor": {"canaryTrafficPercent": 0}}}


def start_canary_patch(isvc: InferenceService, storage_uri: str, percent: int) -> dict[str, Any]:
    """New storageUri at whichever place the object keeps it, plus canaryTrafficPercent."""
    key = isvc.predictor_key or "model"
    return {"spec": {"predictor": {key: {"storageUri": validate_storage_uri(storage_uri)},
                                   "canaryTrafficPercent": parse_percent(percent)}}}


# ----------------------------------------------------------------------------------------------
# What the person confirming sees


def spec_view(isvc: InferenceService) -> dict[str, Any]:
    """The fields an action changes, plus the served split, as a flat dict (Change.before/after)."""
    return {
        "canaryTrafficPercent": isvc.canary_traffic_percent,
        "storageUri": isvc.storage_uri,
        "latestRevision": isvc.latest_revision,
        "latestPercent": isvc.latest_percent,
        "prevRevision": isvc.prev_revision,
        "prevPercent": isvc.prev_percent,
        "resourceVersion": isvc.resource_version,
    }


def _show(value: Any) -> str:
    return UNSET if value is None else str(value)


def change_lines(before: InferenceService, after: InferenceService) -> list[str]:
    """Lines like "spec.predictor.canaryTrafficPercent: 20 -> 0", one per changed spec field."""
    lines = []
    if before.storage_uri != after.storage_uri:
        key = after.predictor_key or before.predictor_key or "model"
        lines.append(f"spec.predictor.{key}.storageUri: {_show(before.storage_uri)} -> {_show(after.storage_uri)}")
    if before.canary_traffic_percent != after.canary_traffic_percent:
        lines.append(f"{PERCENT_PATH}: {_show(before.canary_traffic_percent)} -> "
                     f"{_show(after.canary_traffic_percent)}")
    return lines


def patch_lines(isvc: InferenceService, patch: dict[str, Any]) -> list[str]:
    """The same lines, predicted from a patch without a server (for a screen's preview)."""
    after_obj = merge_patch(_as_object(isvc), patch)
    return change_lines(isvc, parse_inference_service(after_obj))


def _as_object(isvc: InferenceService) -> dict[str, Any]:
    predictor: dict[str, Any] = {}
    if isvc.canary_traffic_percent is not None:
        predictor["canaryTrafficPercent"] = isvc.canary_traffic_percent
    if isvc.predictor_key:
        predictor[isvc.predictor_key] = {"storageUri": isvc.storage_uri}
    return {"metadata": {"name": isvc.name, "namespace": isvc.namespace}, "spec": {"predictor": predictor}}


def expected_split(isvc: InferenceService, canary_percent: int | None) -> str:
    """What the served split should become once KServe acts on a canaryTrafficPercent."""
    latest = isvc.latest_created_revision or isvc.latest_revision or "latest"
    prev = isvc.latest_rolledout_revision or isvc.prev_revision or "previous"
    if rolls_back_a_promotion(isvc) and canary_percent is not None and clamp_percent(canary_percent) < 100:
        prev = isvc.previous_rolledout_revision or prev  # set: rolls_back_a_promotion checked it
    pct = 100 if canary_percent is None else clamp_percent(canary_percent)
    if latest == prev or pct == 100:
        return f"{latest} 100%"
    return f"{prev} {100 - pct}% / {latest} {pct}%"


def split_text(isvc: InferenceService) -> str:
    """The served split now, from status traffic ("00001 80% / 00002 20%")."""
    if not isvc.traffic:
        return "no traffic split reported" if not isvc.is_raw else "no traffic split (RawDeployment)"
    parts = []
    for t in sorted(isvc.traffic, key=lambda t: (t.latest, t.revision or "")):
        parts.append(f"{t.revision or '?'} {t.percent if t.percent is not None else '?'}%")
    return " / ".join(parts)


def notes_for(kind: str, isvc: InferenceService, canary_percent: int | None = None) -> list[str]:
    """Caveats shown with a change: what the action cannot do, and what the split will become."""
    notes: list[str] = []
    if kind == "rollout.rollback":
        notes.append(ROLLBACK_NOTE)
        if rolls_back_a_promotion(isvc):
            notes.append(f"this undoes the promotion of {isvc.latest_rolledout_revision}: KServe makes "
                         f"{isvc.previous_rolledout_revision} the rolled-out revision again and sends it all traffic")
    if kind in ("rollout.set", "rollout.rollback", "rollout.promote"):
        notes.append(f"traffic now: {split_text(isvc)}; expected after: {expected_split(isvc, canary_percent)}")
    if kind == "rollout.start-canary":
        notes.append("a new revision is created from the new model; it takes its share only once ready")
    not_ready = latest_not_ready(isvc)
    if not_ready:
        notes.append(f"{not_ready.text} (latest ready: {isvc.latest_ready_revision or 'none'})")
    for problem in isvc.problems:
        notes.append(f"object looks malformed: {problem}")
    return notes


# Conditions that speak of the newest revision, most specific first (KServe's
# inference_service_status.go copies Knative's ConfigurationsReady into them).
_REVISION_CONDITIONS = ("LatestDeploymentReady", "PredictorConfigurationReady", "PredictorReady", "Ready")


@dataclass(frozen=True)
class NotReady:
    """The newest revision is not the latest ready one (latestCreatedRevision != latestReadyRevision)."""

    revision: str
    failed: bool  # a condition says False (RevisionFailed): it will not become ready by itself
    message: str  # the condition's message (or reason), as the cluster wrote it

    @property
    def text(self) -> str:
        return f"revision {self.revision} {'failed' if self.failed else 'is not ready yet'}: {self.message}"


def latest_not_ready(isvc: InferenceService) -> NotReady | None:
    """Why the newest revision takes no traffic, or None when it is the latest ready one. Knative
    keeps routing "latest" to the last ready revision meanwhile, so its metrics say nothing of it."""
    if not isvc.failing_revision or not isvc.latest_created_revision:
        return None
    by_type = {c.type: c for c in isvc.conditions}
    said = [by_type[t] for t in _REVISION_CONDITIONS if t in by_type and by_type[t].status != "True"]
    failed = next((c for c in said if c.status == "False"), None)
    chosen = failed or (said[0] if said else None)
    message = (chosen.message or chosen.reason) if chosen else None
    if not message:
        message = (f"latestCreatedRevision {isvc.latest_created_revision} is not latestReadyRevision "
                   f"{isvc.latest_ready_revision or '(none)'}")
    return NotReady(isvc.latest_created_revision, failed is not None, message)


def problems(isvc: InferenceService) -> list[str]:
    """What is wrong: a failed newest revision first, then what is malformed in the object."""
    not_ready = latest_not_ready(isvc)
    return ([not_ready.text] if not_ready and not_ready.failed else []) + list(isvc.problems)


def traffic(isvc: InferenceService) -> list[dict[str, Any]]:
    """Where requests really go, one entry per revision (status traffic merged by revision)."""
    return [{"revision": t.revision, "percent": t.percent, "ready": t.ready, "tags": list(t.tags),
             "latest": t.latest, "tag": t.tag} for t in isvc.traffic]


def row(isvc: InferenceService) -> dict[str, Any]:
    """The JSON shape of one InferenceService for `rollout list --json`. latest_/prev_revision and
    _percent are what `kubectl get isvc` prints (KServe's printer columns, from the unmerged
    status traffic); `traffic` is where requests really go."""
    return {
        "namespace": isvc.namespace,
        "name": isvc.name,
        "mode": isvc.mode,
        "ready": isvc.ready,
        "latest_revision": isvc.latest_revision,
        "prev_revision": isvc.prev_revision,
        "latest_percent": isvc.latest_percent,
        "prev_percent": isvc.prev_percent,
        "canary_traffic_percent": isvc.canary_traffic_percent,
        "storage_uri": isvc.storage_uri,
        "url": isvc.url,
        "created_at": isvc.created_at,
        "problems": problems(isvc),
        "traffic": traffic(isvc),
        "deleting": isvc.deleting,
    }


def status(isvc: InferenceService) -> dict[str, Any]:
    """The JSON shape of `rollout status --json`: row() plus conditions and revisions."""
    data = row(isvc)
    data.update({
        "latest_created_revision": isvc.latest_created_revision,
        "latest_ready_revision": isvc.latest_ready_revision,
        "latest_rolledout_revision": isvc.latest_rolledout_revision,
        "previous_rolledout_revision": isvc.previous_rolledout_revision,
        "resource_version": isvc.resource_version,
        "conditions": [
            {"type": c.type, "status": c.status, "reason": c.reason, "message": c.message,
             "last_transition": c.last_transition} for c in isvc.conditions
        ],
        "revisions": revisions(isvc),
        "can_canary": canary_refusal(isvc) is None,
        "cannot": canary_refusal(isvc),
    })
    return data


def revisions(isvc: InferenceService) -> list[dict[str, Any]]:
    """Known revisions, newest first, with their role and served percent."""
    served = {t.revision: t.percent for t in isvc.traffic if t.revision}
    names: list[str] = []
    for name in (isvc.latest_created_revision, isvc.latest_ready_revision, isvc.latest_revision,
                 isvc.latest_rolledout_revision, isvc.prev_revision, isvc.previous_rolledout_revision,
                 *served.keys()):
        if name and name not in names:
            names.append(name)
    names.sort(reverse=True)
    out = []
    for name in names:
        roles = []
        if name == isvc.latest_created_revision:
            roles.append("latest-created")
        if name == isvc.latest_ready_revision:
            roles.append("latest-ready")
        if name == isvc.latest_rolledout_revision:
            roles.append("rolled-out")
        if name == isvc.previous_rolledout_revision:
            roles.append("previous-rolled-out")
        out.append({"name": name, "roles": roles, "percent": served.get(name),
                    "ready": None if name != isvc.latest_created_revision else not isvc.failing_revision})
    return out


# ----------------------------------------------------------------------------------------------
# Which revisions the canary health check judges


@dataclass(frozen=True)
class HealthTarget:
    """What the canary health check of one InferenceService compares, as the metrics name it."""

    canary: str  # the revision under test (the only one judged when there is no canary)
    stable: str | None  # the revision it is compared with, while a canary runs
    traffic: dict[str, int | None]  # revision -> the share it really serves (status traffic, merged)
    not_ready: NotReady | None  # the newest revision takes no traffic: it decides the verdict


def health_target(isvc: InferenceService) -> HealthTarget | None:
    """The revisions to judge, or None when no revision serves traffic yet.

    Serverless: the traffic entry with latestRevision (LATEST) against the one tagged prev (PREV),
    as `kubectl get isvc` names them; while the newest revision is not ready both name the last
    ready one, which is then judged alone. RawDeployment has no revisions: its metrics carry the
    predictor's name, which takes all traffic."""
    not_ready = latest_not_ready(isvc)
    if isvc.is_raw:
        if not isvc.name:
            return None
        predictor = f"{isvc.name}-predictor"
        return HealthTarget(predictor, None, {predictor: 100}, not_ready)
    canary = isvc.latest_revision
    stable = isvc.prev_revision if isvc.prev_revision and isvc.prev_revision != canary else None
    if canary is None:
        if stable is None:
            return None
        canary, stable = stable, None
    traffic = {t.revision: t.percent for t in isvc.traffic if t.revision}
    return HealthTarget(canary, stable, traffic, not_ready)
