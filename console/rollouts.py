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

Standard (RawDeployment) mode, KServe 0.20 (pkg/apis/serving/v1beta1/inference_service.go, CanarySpec):
- a canary is a spec.canary[] entry {predictor: {name, model...}, trafficPercent}; the entries'
  percentages sum to at most 100 (the webhook refuses more), the stable predictor takes the rest;
- set / step = that entry's trafficPercent; promote = the stable predictor takes the canary's name
  and model and the entry goes (its Deployment is adopted, no restart); roll back = remove the entry;
- start-canary adds an entry named after the version, without replicas: KServe runs
  ceil(stable minReplicas x percent / 100) of them.
The Standard-mode actions act on the first entry (the one latest_* describes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from adapters.errors import ConsoleError, InvalidInput, StateConflict
from adapters.kube import InferenceService, canary_name, parse_inference_service
from console.merge_patch import merge_patch

PERCENT_PATH = "spec.predictor.canaryTrafficPercent"
UNSET = "(unset)"

ROLLBACK_NOTE = ("a rollback sends all traffic back to the previous revision but leaves the new model "
                 "in the spec: the next change to the InferenceService (or a promote) serves it again")
RAW_REASON = ("canaryTrafficPercent is not possible in {mode} mode: it splits traffic between Knative "
              "revisions; in Standard mode (KServe 0.20) a canary is a spec.canary[] entry: start one with "
              "start-canary")
CANARY_PATH = "spec.canary"
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
    (KServe's default: the latest revision takes everything); in Standard mode the first
    spec.canary[] entry's trafficPercent."""
    if isvc.standard_canary:
        return clamp_percent(isvc.canaries[0].percent or 0)
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
        return None if isvc.canaries else RAW_REASON.format(mode=isvc.raw_deployment_mode or isvc.mode)
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
    if isvc.is_raw:
        return standard_set_refusal(isvc, percent)
    if not has_canary_revision(isvc):
        return NotNow(f"no canary to steer: the latest revision {isvc.latest_rolledout_revision} is already "
                      f"rolled out; start a canary of another model version first")
    if isvc.canary_traffic_percent is not None and isvc.canary_traffic_percent == percent:
        return NotNow(f"canaryTrafficPercent is already {percent}; nothing to change")
    return None


def promote_refusal(isvc: InferenceService) -> str | None:
    if isvc.deleting or isvc.is_raw:
        return canary_refusal(isvc)
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
    if reason or isvc.is_raw:
        return reason
    if not has_canary_revision(isvc) and not rolls_back_a_promotion(isvc):
        return NotNow(f"nothing to roll back: the latest revision {isvc.latest_rolledout_revision} is the "
                      f"rolled-out one and no earlier revision was rolled out; to go back to an earlier model, "
                      f"start a canary of that version")
    if isvc.canary_traffic_percent == 0:
        return NotNow("already rolled back: canaryTrafficPercent is 0")
    return None


def start_canary_refusal(isvc: InferenceService, storage_uri: str, percent: int) -> str | None:
    if isvc.is_raw and not isvc.deleting:
        return standard_start_refusal(isvc, storage_uri, percent)
    reason = canary_refusal(isvc)
    if reason:
        return reason
    if isvc.predictor_key is None:
        return "the predictor has no model with a storageUri to replace (spec.predictor.model is missing)"
    if storage_uri == isvc.storage_uri:
        return NotNow(f"{storage_uri} is already the model in the spec; pick another version")
    return None


def standard_set_refusal(isvc: InferenceService, percent: int) -> str | None:
    """Standard mode: the first canary's trafficPercent; all entries may sum to at most 100 (the
    webhook's rule, inference_service_validation.go validateCanarySpecs)."""
    first, others = isvc.canaries[0], sum(c.percent or 0 for c in isvc.canaries[1:])
    if first.percent == percent:
        return NotNow(f"canary {first.name} trafficPercent is already {percent}; nothing to change")
    if others + percent > 100:
        return (f"canary percentages would sum to {others + percent}: the other canaries take {others}%, "
                f"so {first.name} can take at most {100 - others}%")
    return None


def standard_start_refusal(isvc: InferenceService, storage_uri: str, percent: int) -> str | None:
    """Standard mode: a new spec.canary[] entry for this model version."""
    name = canary_name_for(storage_uri)
    taken = sum(c.percent or 0 for c in isvc.canaries)
    if isvc.predictor_key is None:
        return "the predictor has no model with a storageUri to run as a canary (spec.predictor.model is missing)"
    if storage_uri == isvc.storage_uri:
        return NotNow(f"{storage_uri} is the stable predictor's model already; pick another version")
    if any(c.storage_uri == storage_uri for c in isvc.canaries):
        return NotNow(f"{storage_uri} already runs as a canary; step it with set, + or -")
    if name in {c.name for c in isvc.canaries} | {isvc.predictor_name}:
        return NotNow(f"a predictor named {name} exists already (derived from the version); promote or roll "
                      f"it back first")
    if taken + percent > 100:
        return (f"canary percentages would sum to {taken + percent}: the canaries already take {taken}%, so a "
                f"new one can take at most {100 - taken}%")
    return None


def canary_name_for(storage_uri: str) -> str:
    """The canary's predictor name: the version, the last segment of the storage URI (".../v31")."""
    return canary_name(storage_uri.rstrip("/").rsplit("/", 1)[-1])


def standard_canary_entry(isvc: InferenceService, storage_uri: str, percent: int) -> dict[str, Any]:
    """A spec.canary[] entry: the stable model's format, the new storageUri, no replicas (KServe runs
    ceil(stable minReplicas x percent / 100): canaryReplicaCount). The CRD makes the canary's model a
    full container, so it carries a container name."""
    key = isvc.predictor_key or "model"
    model: dict[str, Any] = {"name": "kserve-container", "storageUri": validate_storage_uri(storage_uri)}
    if key == "model" and isvc.model_format:
        model["modelFormat"] = {"name": isvc.model_format}
    return {"trafficPercent": parse_percent(percent),
            "predictor": {"name": canary_name_for(storage_uri), key: model}}


def dry_run_dropped_canary(before: InferenceService, after: InferenceService, patch: dict[str, Any]) -> str | None:
    """An API server whose CRD predates KServe 0.20 prunes spec.canary silently: the dry run's answer
    shows it. Then nothing would happen, so say so instead of applying."""
    wanted = (patch.get("spec") or {}).get("canary")
    if wanted and len(after.canaries) != len(wanted):
        return ("the API server dropped spec.canary from the change: this cluster's InferenceService CRD has no "
                "Standard-mode canaries (KServe 0.20 or later is needed)")
    return None


def canary_replicas(isvc: InferenceService, percent: int) -> int:
    """KServe's canaryReplicaCount for a canary without minReplicas."""
    return -(-(isvc.min_replicas if isvc.min_replicas is not None else 1) * percent // 100)


def validate_storage_uri(uri: Any) -> str:
    text = str(uri or "").strip()
    if not text or "://" not in text or any(c.isspace() for c in text):
        raise InvalidInput(f"storage URI must look like s3://bucket/path, not {str(uri)!r}")
    return text


# ----------------------------------------------------------------------------------------------
# Patches (JSON merge patch bodies; the adapter adds metadata.resourceVersion)


def set_percent_patch(percent: int, isvc: InferenceService | None = None) -> dict[str, Any]:
    if isvc is not None and isvc.standard_canary:
        first = {**isvc.canaries[0].entry, "trafficPercent": parse_percent(percent)}
        return _canary_list_patch(isvc, [first] + [c.entry for c in isvc.canaries[1:]])
    return {"spec": {"predictor": {"canaryTrafficPercent": parse_percent(percent)}}}


def promote_patch(isvc: InferenceService | None = None) -> dict[str, Any]:
    """Remove canaryTrafficPercent: merge-patch null deletes the field, the latest revision gets 100%.
    Standard mode: the stable predictor takes the first canary's predictor (its name and model,
    merged over the stable one as KServe's buildCanaryPredictor does; the stable replicas stay) and
    the entry goes."""
    if isvc is not None and isvc.standard_canary:
        predictor = {k: v for k, v in (isvc.canaries[0].entry.get("predictor") or {}).items()
                     if k != "minReplicas"}
        patch = _canary_list_patch(isvc, [c.entry for c in isvc.canaries[1:]])
        patch["spec"]["predictor"] = predictor
        return patch
    return {"spec": {"predictor": {"canaryTrafficPercent": None}}}


def rollback_patch(isvc: InferenceService | None = None) -> dict[str, Any]:
    if isvc is not None and isvc.standard_canary:  # remove the entry: its Deployment goes
        return _canary_list_patch(isvc, [c.entry for c in isvc.canaries[1:]])
    return {"spec": {"predictor": {"canaryTrafficPercent": 0}}}


def _canary_list_patch(isvc: InferenceService, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """spec.canary is an atomic list (x-kubernetes-list-type: atomic): a merge patch replaces it
    whole, or deletes it (null) when nothing is left. The resourceVersion precondition makes the
    replacement safe against a concurrent change."""
    return {"spec": {"canary": entries or None}}


def start_canary_patch(isvc: InferenceService, storage_uri: str, percent: int) -> dict[str, Any]:
    """New storageUri at whichever place the object keeps it, plus canaryTrafficPercent; in
    Standard mode a new spec.canary[] entry (standard_canary_entry)."""
    if isvc.is_raw:
        entries = [c.entry for c in isvc.canaries] + [standard_canary_entry(isvc, storage_uri, percent)]
        return _canary_list_patch(isvc, entries)
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
        **standard_view(isvc),
    }


def standard_view(isvc: InferenceService) -> dict[str, Any]:
    """Standard mode's spec fields (only for such objects, so a Serverless view keeps its shape)."""
    if not (isvc.is_raw or isvc.canaries or isvc.predictor_name):
        return {}
    return {"predictorName": isvc.predictor_name,
            "canaries": [{"name": c.name, "trafficPercent": c.percent, "storageUri": c.storage_uri}
                         for c in isvc.canaries]}


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
    if before.predictor_name != after.predictor_name:
        lines.append(f"spec.predictor.name: {_show(before.predictor_name)} -> {_show(after.predictor_name)}")
    old = {c.name: c for c in before.canaries}
    new = {c.name: c for c in after.canaries}
    for name in [*old, *(n for n in new if n not in old)]:
        was, now = old.get(name), new.get(name)
        if was and now and was.percent != now.percent:
            lines.append(f"{CANARY_PATH}[{name}].trafficPercent: {_show(was.percent)} -> {_show(now.percent)}")
        elif was and now and was.storage_uri != now.storage_uri:
            lines.append(f"{CANARY_PATH}[{name}].storageUri: {_show(was.storage_uri)} -> {_show(now.storage_uri)}")
        elif bool(was) != bool(now):
            lines.append(f"{CANARY_PATH}[{name}]: {_canary_text(was)} -> {_canary_text(now)}")
    return lines


def _canary_text(canary: Any) -> str:
    return UNSET if canary is None else f"{canary.storage_uri or '?'} at {_show(canary.percent)}%"


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
    if isvc.predictor_name:
        predictor["name"] = isvc.predictor_name
    spec: dict[str, Any] = {"predictor": predictor}
    if isvc.canaries:
        spec["canary"] = [c.entry for c in isvc.canaries]
    return {"metadata": {"name": isvc.name, "namespace": isvc.namespace}, "spec": spec}


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
    if isvc.is_raw:
        return standard_notes(kind, isvc, canary_percent)
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


def standard_notes(kind: str, isvc: InferenceService, percent: int | None) -> list[str]:
    """Standard mode's caveats: the served split now and after (only ready canaries get their
    weight: httproute_reconciler.go applyCanaryWeights), what promote and rollback do to the
    Deployments, and the replicas a new canary gets."""
    notes: list[str] = []
    first = isvc.canaries[0] if isvc.canaries else None
    if first is not None and kind in ("rollout.set", "rollout.rollback", "rollout.promote"):
        stable = isvc.stable_deployment
        if kind == "rollout.promote":
            after = f"{first.deployment} 100%"
        else:
            share = 0 if kind == "rollout.rollback" else (percent if first.ready else 0) or 0
            rest = sum((c.percent or 0) for c in isvc.canaries[1:] if c.ready)
            after = f"{stable} {100 - share - rest}% / {first.deployment} {share}%"
            if kind == "rollout.set" and not first.ready:
                after += f" (the canary gets its {percent}% once ready)"
        notes.append(f"traffic now: {split_text(isvc)}; expected after: {after}")
    if first is not None and kind == "rollout.promote":
        notes.append(f"the stable predictor takes {first.name}'s name and model and keeps running in its Deployment "
                     f"{first.deployment} (no restart); {stable} is deleted")
        notes.append("merge patch: " + json.dumps(promote_patch(isvc), separators=(", ", ": ")))
    if first is not None and kind == "rollout.rollback":
        notes.append(f"removes canary {first.name}: its Deployment {first.deployment} is deleted and "
                     f"{isvc.stable_deployment} takes its traffic back")
    if kind == "rollout.start-canary" and percent is not None:
        replicas = canary_replicas(isvc, percent)
        notes.append(f"a Deployment with {replicas} replica{'s' if replicas != 1 else ''} (KServe's default: "
                     f"ceil({isvc.min_replicas if isvc.min_replicas is not None else 1} x {percent} / 100)); "
                     f"it takes its share only once ready")
    not_ready = latest_not_ready(isvc)
    if not_ready:
        notes.append(not_ready.text)
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
    kind: str = "revision"  # or "canary Deployment" (Standard mode)

    @property
    def text(self) -> str:
        return f"{self.kind} {self.revision} {'failed' if self.failed else 'is not ready yet'}: {self.message}"


def latest_not_ready(isvc: InferenceService) -> NotReady | None:
    """Why the newest revision takes no traffic, or None when it is the latest ready one. Knative
    keeps routing "latest" to the last ready revision meanwhile, so its metrics say nothing of it.
    In Standard mode: the first canary that is not ready (the HTTPRoute gives it no traffic)."""
    if isvc.standard_canary:
        return canary_not_ready(isvc)
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


def canary_not_ready(isvc: InferenceService) -> NotReady | None:
    """A Standard-mode canary whose Deployment has no available replica (canaryStatuses ready
    false). KServe writes no message for it (reconcileCanaryDeployments): the reason is in its
    pods; a modelStatus failure, when present, counts as failed."""
    for c in isvc.canaries:
        if c.ready is False:
            message = c.message or (f"CanaryPredictorReady is False: its Deployment {c.deployment} has no available "
                                    f"replica; its pods say why")
            return NotReady(c.deployment, c.message is not None, message, "canary Deployment")
    return None


def pods_selector(isvc: InferenceService, not_ready: NotReady) -> str:
    """The label selector of the pods behind a revision or a Standard-mode Deployment: Knative
    labels a revision's pods serving.knative.dev/revision; KServe labels a Standard-mode
    Deployment's pods app=<Deployment> (0.15+, constants.go GetRawServiceLabel)."""
    from adapters.kube_pods import predictor_selector

    if not_ready.kind == "canary Deployment":
        return f"app={not_ready.revision}"
    return predictor_selector(isvc.name, not_ready.revision)


def pods_say(pods: list[Any]) -> str | None:
    """Why pods are not ready, in kubectl describe's words: the first container that is not
    ready, its state's reason and message, and how its previous run ended (a crash's last line)."""
    for pod in pods:
        for status in pod.statuses:
            if status.ready:
                continue
            said = status.reason or status.state
            if status.message:
                said += f": {status.message}"
            if status.last_reason or status.last_exit_code is not None:
                ended = ", ".join(x for x in (status.last_reason, status.last_exit_code is not None
                                              and f"exit code {status.last_exit_code}") if x)
                said += f"; last run: {ended}"
                last_line = (status.last_message or "").strip().splitlines()[-1:]
                if last_line:
                    said += f": {last_line[0]}"
            return f"pod {pod.name}, container {status.name}: {said}"
    return None


def problems(isvc: InferenceService) -> list[str]:
    """What is wrong: a failed newest revision first, then what is malformed in the object."""
    not_ready = latest_not_ready(isvc)
    return ([not_ready.text] if not_ready and not_ready.failed else []) + list(isvc.problems)


def traffic(isvc: InferenceService) -> list[dict[str, Any]]:
    """Where requests really go, one entry per revision (status traffic merged by revision)."""
    return [{"revision": t.revision, "percent": t.percent, "ready": t.ready, "tags": list(t.tags),
             "latest": t.latest, "tag": t.tag} for t in isvc.traffic]


def canaries(isvc: InferenceService) -> list[dict[str, Any]]:
    """Standard-mode canaries (spec.canary[] with their status): percent is the spec's trafficPercent."""
    return [{"name": c.name, "percent": c.percent, "ready": c.ready, "storage_uri": c.storage_uri}
            for c in isvc.canaries]


def row(isvc: InferenceService) -> dict[str, Any]:
    """The JSON shape of one InferenceService for `rollout list --json`. latest_/prev_revision and
    _percent are what `kubectl get isvc` prints (KServe's printer columns, from the unmerged
    status traffic); `traffic` is where requests really go. In Standard mode (no printer columns)
    latest_* is the first canary's Deployment and the share it serves (0 until it is ready),
    prev_* the stable predictor's; `canaries` lists spec.canary[]."""
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
        "canaries": canaries(isvc),
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
    predictor's name, which takes all traffic; a Standard-mode canary is judged by its Deployment's
    name against the stable predictor's, the names its pods' metrics carry."""
    not_ready = latest_not_ready(isvc)
    if isvc.standard_canary:
        traffic = {t.revision: t.percent for t in isvc.traffic if t.revision}
        return HealthTarget(isvc.canaries[0].deployment, isvc.stable_deployment, traffic, not_ready)
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
