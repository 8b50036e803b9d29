"""Action objects for KServe canary rollouts, run by console.actions.ActionPath.

Each one: validate (input only, no I/O) -> check_permission (SelfSubjectAccessReview: may this
user patch this InferenceService?) -> plan (read the object, refuse what KServe cannot do, build the
merge patch, server-side dry-run, Change with lines/notes and precondition = resourceVersion) ->
apply (the same patch with metadata.resourceVersion = the precondition: a concurrent change gives
Conflict "changed since you looked", never a silent overwrite).

No Textual import: the CLI and the Rollouts screen use these alike.
"""

from __future__ import annotations

import json
import re
from typing import Any

from adapters.errors import ConsoleError, Forbidden, InvalidInput
from adapters.kube import GROUP, PLURAL, VERSION, InferenceService, KubeClient, parse_inference_service
from console import lease, rollouts
from console.actions import Change

_DNS_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


class RolloutAction:
    """Shared steps; subclasses give kind, refusal() and patch()."""

    kind = "rollout"
    event_reason = "CanaryChange"  # the reason of the Kubernetes Event announce() writes
    force = False  # act even while another console's progress holds the Lease (console/lease.py)
    lease_holder: Any = None  # the LeaseHolder of the progress running this action, if any

    def __init__(self, client: KubeClient, namespace: str, name: str):
        self.client = client
        self.namespace = namespace
        self.name = name
        self.target = f"{namespace}/{name}"
        self._actor: str | None = None
        self.before_object: InferenceService | None = None  # what plan() read
        self.after_object: InferenceService | None = None  # what apply() got back
        # Set by a caller that judged the canary failing (the Rollouts screen's last verdict): shown
        # first in the confirmation of any change that gives the new revision more traffic.
        self.health_warning: str | None = None

    # -- identity for the audit row --------------------------------------------------------
    def actor(self) -> str | None:
        """The kube identity (SelfSubjectReview, else the kubeconfig user); asked once."""
        if self._actor is None:
            try:
                self._actor = self.client.whoami()
            except ConsoleError:
                self._actor = self.client.user
        return self._actor

    # -- the Action protocol ----------------------------------------------------------------
    def validate(self) -> None:
        for label, value in (("namespace", self.namespace), ("name", self.name)):
            if not value or not _DNS_NAME.match(str(value)) or len(str(value)) > 253:
                raise InvalidInput(f"{label} {value!r} is not a valid Kubernetes name"
                                   + (" (pass -n NAMESPACE)" if label == "namespace" else ""))
        self.validate_params()

    def validate_params(self) -> None:
        pass

    def check_permission(self) -> None:
        allowed, why = self.client.can_i("patch", PLURAL, GROUP, self.namespace, self.name)
        if not allowed:
            who = self.actor() or self.client.user
            raise Forbidden(f"not allowed to patch {PLURAL} in {self.namespace} as {who}"
                            + (f": {why}" if why else " (the API server's access review said no)")
                            + "; ask for the permission or use another --context")

    def refusal(self, isvc: InferenceService) -> str | None:
        raise NotImplementedError

    def patch(self, isvc: InferenceService) -> dict:
        raise NotImplementedError

    def expected_percent(self, isvc: InferenceService) -> int | None:
        return None

    def raises_canary(self, isvc: InferenceService) -> bool:
        """Whether the change gives the newest revision more of the traffic than it has now."""
        expected = self.expected_percent(isvc)
        return expected is not None and expected > (isvc.canary_traffic_percent or 0)

    def plan(self) -> Change:
        raw = self.client.get_raw(self.namespace, self.name)
        isvc = parse_inference_service(raw)
        self.before_object = isvc
        forced = lease.refusal(self.client, self.namespace, self.name, own=self.lease_holder, force=self.force)
        why = self.refusal(isvc)
        if why:
            raise rollouts.refusal_error(f"{self.kind} on {self.target} refused: {why}", why)
        patch = self.patch(isvc)
        dry = self.client.patch_inference_service(self.namespace, self.name, patch,
                                                  resource_version=isvc.resource_version, dry_run=True)
        after = parse_inference_service(dry)
        dropped = rollouts.dry_run_dropped_canary(isvc, after, patch)
        if dropped:
            raise InvalidInput(f"{self.kind} on {self.target} refused: {dropped}")
        lines = rollouts.change_lines(isvc, after) or rollouts.patch_lines(isvc, patch)
        if forced:  # in the intent row and the Event: the team sees who overrode a running progress
            lines.append(forced)
        return Change(
            kind=self.kind,
            target=self.target,
            before=rollouts.spec_view(isvc),
            after=_spec_only(rollouts.spec_view(after)),
            lines=lines,
            notes=([f"WARNING: {self.health_warning}"] if self.health_warning and self.raises_canary(isvc) else [])
            + rollouts.notes_for(self.kind, isvc, self.expected_percent(isvc)),
            precondition=isvc.resource_version,
            dry_run="accepted by the API server (server-side dry run)",
            payload=patch,
        )

    def apply(self, change: Change) -> dict[str, Any]:
        result = self.client.patch_inference_service(self.namespace, self.name, change.payload,
                                                      resource_version=change.precondition, dry_run=False)
        after = parse_inference_service(result)
        self.after_object = after
        return _spec_only(rollouts.spec_view(after))


    def announce(self, change: Change, after: dict[str, Any], reason: str | None, identity: Any) -> dict:
        """Tell the team: a core/v1 Event on the InferenceService, in its namespace, so kubectl get
        events, kubectl describe isvc and k9s show who changed what, why, and before -> after.
        Never the object's metadata: KServe copies annotations into the revision template, and a
        changed annotation can roll out a new revision. Raises ConsoleError when the Event cannot be
        written (the caller reports it; the change stands and the journal has the full record)."""
        obj = self.after_object or self.before_object
        involved = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "InferenceService", "name": self.name,
                    "namespace": self.namespace, "uid": obj.uid if obj else None,
                    "resourceVersion": obj.resource_version if obj else None}
        return self.client.create_event(self.namespace, involved, reason=self.event_reason,
                                        message=event_message(change, reason, identity),
                                        action=self.kind)


def event_message(change: Change, reason: str | None, identity: Any) -> str:
    """e.g. 'rollout.rollback by alice (kube: admin, ssh from 10.0.0.5) via mlops-console:
    spec.predictor.canaryTrafficPercent: 20 -> 0; reason: "p99 doubled"'."""
    who = [f"kube: {identity.kube_identity or 'unknown'}"]
    if getattr(identity, "ssh_client", None):
        who.append(f"ssh from {identity.ssh_client}")
    what = "; ".join(change.lines) or "no spec change"
    return (f"{change.kind} by {identity.os_user} ({', '.join(who)}) via mlops-console: {what}; "
            f"reason: {json.dumps(reason or '', ensure_ascii=False)}")


def _spec_only(view: dict[str, Any]) -> dict[str, Any]:
    """After a patch the status has not moved yet: keep only what the patch decides."""
    out = {key: view.get(key) for key in ("canaryTrafficPercent", "storageUri", "resourceVersion")}
    out.update({key: view[key] for key in ("predictorName", "canaries") if key in view})  # Standard mode
    return out


class SetCanaryPercent(RolloutAction):
    kind = "rollout.set"
    event_reason = "CanarySet"

    def __init__(self, client: KubeClient, namespace: str, name: str, percent: Any):
        super().__init__(client, namespace, name)
        self.raw_percent = percent
        self.percent: int | None = None

    def validate_params(self) -> None:
        self.percent = rollouts.parse_percent(self.raw_percent)

    def refusal(self, isvc: InferenceService) -> str | None:
        assert self.percent is not None  # validate_params() runs first
        return rollouts.set_percent_refusal(isvc, self.percent)

    def patch(self, isvc: InferenceService) -> dict:
        assert self.percent is not None
        return rollouts.set_percent_patch(self.percent, isvc)

    def expected_percent(self, isvc: InferenceService) -> int | None:
        return self.percent


class StepCanary(SetCanaryPercent):
    """+/- on the screen: the target is computed from the object as read in plan()."""

    kind = "rollout.set"
    event_reason = "CanaryStep"

    def __init__(self, client: KubeClient, namespace: str, name: str, direction: int, step: int = 10):
        super().__init__(client, namespace, name, None)
        self.direction = 1 if direction > 0 else -1
        self.step = step

    def validate_params(self) -> None:
        self.step = rollouts.parse_step(self.step)

    def refusal(self, isvc: InferenceService) -> str | None:
        impossible = rollouts.canary_refusal(isvc)  # say "not in RawDeployment" before "cannot step"
        if impossible:
            return impossible
        self.percent = rollouts.stepped_percent(isvc, self.direction, self.step)
        if rollouts.current_percent(isvc) == self.percent:
            return rollouts.NotNow(f"canary traffic is already at {self.percent}%; cannot step further")
        return rollouts.set_percent_refusal(isvc, self.percent)


class Promote(RolloutAction):
    kind = "rollout.promote"
    event_reason = "CanaryPromote"

    def refusal(self, isvc: InferenceService) -> str | None:
        return rollouts.promote_refusal(isvc)

    def patch(self, isvc: InferenceService) -> dict:
        return rollouts.promote_patch(isvc)

    def expected_percent(self, isvc: InferenceService) -> int | None:
        return None  # promoting takes the percentage away: the new revision serves everything

    def raises_canary(self, isvc: InferenceService) -> bool:
        return True


class Rollback(RolloutAction):
    kind = "rollout.rollback"
    event_reason = "CanaryRollback"

    def refusal(self, isvc: InferenceService) -> str | None:
        return rollouts.rollback_refusal(isvc)

    def patch(self, isvc: InferenceService) -> dict:
        return rollouts.rollback_patch(isvc)

    def expected_percent(self, isvc: InferenceService) -> int | None:
        return 0


class StartCanary(RolloutAction):
    """Serve a catalog version as a canary: new storageUri + canaryTrafficPercent."""

    kind = "rollout.start-canary"
    event_reason = "CanaryStart"

    def __init__(self, client: KubeClient, namespace: str, name: str, storage_uri: str, percent: Any = 10):
        super().__init__(client, namespace, name)
        self.storage_uri = storage_uri
        self.raw_percent = percent
        self.percent: int | None = None

    def validate_params(self) -> None:
        self.storage_uri = rollouts.validate_storage_uri(self.storage_uri)
        self.percent = rollouts.parse_percent(self.raw_percent)

    def refusal(self, isvc: InferenceService) -> str | None:
        assert self.percent is not None  # validate_params() runs first
        return rollouts.start_canary_refusal(isvc, self.storage_uri, self.percent)

    def patch(self, isvc: InferenceService) -> dict:
        assert self.percent is not None
        return rollouts.start_canary_patch(isvc, self.storage_uri, self.percent)

    def expected_percent(self, isvc: InferenceService) -> int | None:
        return self.percent
