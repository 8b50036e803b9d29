"""Validation of InferenceService objects, as the API server (CRD schema) and KServe's webhook do.

The sandbox does not ship the CRD: it checks what matters in code (required fields, types, ranges,
names) and knows the field names of the levels we touch, so it can report or drop unknown fields
the way fieldValidation=Strict/Warn/Ignore asks. Deeper levels (containers, resources, ...) are
accepted as they come.
"""

from __future__ import annotations

import re
from typing import Any

DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

TOP_FIELDS = {"apiVersion", "kind", "metadata", "spec", "status"}
META_FIELDS = {
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
    "ownerReferences", "finalizers", "managedFields",
}
SPEC_FIELDS = {"predictor", "explainer", "transformer", "canary"}
# Field names of the PredictorSpec level (KServe v1beta1): component extension + pod spec + frameworks.
PREDICTOR_FIELDS = {
    "activeDeadlineSeconds", "affinity", "annotations", "autoScaling", "automountServiceAccountToken",
    "batcher", "canaryTrafficPercent", "containerConcurrency", "containers", "deploymentStrategy",
    "dnsConfig", "dnsPolicy", "enableServiceLinks", "hostAliases", "hostIPC", "hostNetwork", "hostPID",
    "hostUsers", "hostname", "hostnameOverride", "huggingface", "imagePullSecrets", "initContainers",
    "labels", "lightgbm", "logger", "maxReplicas", "minReplicas", "model", "name", "nodeName",
    "nodeSelector", "onnx", "os", "overhead", "paddle", "pmml", "preemptionPolicy", "priority",
    "priorityClassName", "pytorch", "readinessGates", "resourceClaims", "resources", "restartPolicy",
    "runtimeClassName", "scaleMetric", "scaleMetricType", "scaleTarget", "schedulerName",
    "schedulingGates", "securityContext", "serviceAccount", "serviceAccountName", "setHostnameAsFQDN",
    "shareProcessNamespace", "sklearn", "storageContainerName", "storageUris", "subdomain", "tensorflow",
    "terminationGracePeriodSeconds", "timeout", "tolerations", "topologySpreadConstraints", "triton",
    "volumes", "workerSpec", "xgboost",
}
FRAMEWORKS = {"huggingface", "lightgbm", "model", "onnx", "paddle", "pmml", "pytorch", "sklearn",
              "tensorflow", "triton", "xgboost"}
MODEL_FIELDS = {
    "args", "command", "confidential", "env", "envFrom", "image", "imagePullPolicy", "lifecycle",
    "livenessProbe", "modelFormat", "name", "ports", "protocolVersion", "readinessProbe", "resizePolicy",
    "resources", "restartPolicy", "restartPolicyRules", "runtime", "runtimeVersion", "securityContext",
    "startupProbe", "stdin", "stdinOnce", "storage", "storageUri", "terminationMessagePath",
    "terminationMessagePolicy", "tty", "volumeDevices", "volumeMounts", "workingDir",
}
INT_FIELDS = {"canaryTrafficPercent", "minReplicas", "maxReplicas", "containerConcurrency", "timeout",
              "scaleTarget", "activeDeadlineSeconds", "terminationGracePeriodSeconds", "priority"}
STR_FIELDS = {"serviceAccountName", "scaleMetric", "scaleMetricType", "priorityClassName", "nodeName",
              "schedulerName", "dnsPolicy", "restartPolicy", "runtimeClassName", "hostname", "subdomain"}


class FieldError:
    def __init__(self, path: str, kind: str, detail: str, value: Any = None):
        self.path, self.kind, self.detail, self.value = path, kind, detail, value

    def text(self) -> str:
        if self.kind == "Required":
            return f"{self.path}: Required value"
        if self.kind == "Unknown":
            return f'unknown field "{self.path}"'
        if self.kind == "Type":
            return f'{self.path}: Invalid value: "{_type_name(self.value)}": {self.detail}'
        if self.kind == "Forbidden":
            return f"{self.path}: Forbidden: {self.detail}"
        return f"{self.path}: Invalid value: {_render(self.value)}: {self.detail}"

    def cause(self) -> dict:
        reason = {"Required": "FieldValueRequired", "Unknown": "FieldValueInvalid", "Forbidden": "FieldValueForbidden",
                  "Type": "FieldValueTypeInvalid"}.get(self.kind, "FieldValueInvalid")
        return {"reason": reason, "message": self.text(), "field": self.path}


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _render(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def _is_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _unknown(obj: dict, known: set[str], prefix: str, out: list[FieldError], prune: bool) -> None:
    for key in list(obj):
        if key not in known:
            out.append(FieldError(f"{prefix}{key}", "Unknown", "unknown field"))
            if prune:
                del obj[key]


def find_unknown_fields(obj: dict, prune: bool = False) -> list[FieldError]:
    """Fields the InferenceService schema does not know (on the levels we model). Prunes if asked."""
    out: list[FieldError] = []
    _unknown(obj, TOP_FIELDS, "", out, prune)
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        _unknown(meta, META_FIELDS, "metadata.", out, prune)
    spec = obj.get("spec")
    if isinstance(spec, dict):
        _unknown(spec, SPEC_FIELDS, "spec.", out, prune)
        pred = spec.get("predictor")
        if isinstance(pred, dict):
            _unknown(pred, PREDICTOR_FIELDS, "spec.predictor.", out, prune)
            for fw in FRAMEWORKS:
                body = pred.get(fw)
                if isinstance(body, dict):
                    _unknown(body, MODEL_FIELDS, f"spec.predictor.{fw}.", out, prune)
    return out


def _check_string_map(value: Any, path: str, out: list[FieldError]) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        out.append(FieldError(path, "Type", "must be of type object", value))
        return
    for k, v in value.items():
        if not isinstance(v, str):
            out.append(FieldError(f"{path}.{k}", "Type", "must be of type string", v))


def validate_metadata(meta: Any, out: list[FieldError], *, name_rule: str = "dns1123") -> None:
    if not isinstance(meta, dict):
        out.append(FieldError("metadata", "Type", "must be of type object", meta))
        return
    name = meta.get("name")
    if not name:
        out.append(FieldError("metadata.name", "Required", "name or generateName is required"))
    elif not isinstance(name, str):
        out.append(FieldError("metadata.name", "Type", "must be of type string", name))
    _check_string_map(meta.get("labels"), "metadata.labels", out)
    _check_string_map(meta.get("annotations"), "metadata.annotations", out)


def validate_isvc(obj: dict) -> list[FieldError]:
    """Schema and webhook checks for an InferenceService. Returns the errors (empty = valid)."""
    out: list[FieldError] = []
    meta = obj.get("metadata")
    validate_metadata(meta, out)
    if isinstance(meta, dict) and isinstance(meta.get("name"), str) and meta["name"]:
        name = meta["name"]
        if len(name) > 63 or not DNS1035.match(name):
            out.append(FieldError(
                "metadata.name", "Invalid",
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
                "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
                "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')", name))
    spec = obj.get("spec")
    if spec is None:
        out.append(FieldError("spec", "Required", ""))
        return out
    if not isinstance(spec, dict):
        out.append(FieldError("spec", "Type", "must be of type object", spec))
        return out
    pred = spec.get("predictor")
    if pred is None:
        out.append(FieldError("spec.predictor", "Required", ""))
        return out
    if not isinstance(pred, dict):
        out.append(FieldError("spec.predictor", "Type", "must be of type object", pred))
        return out
    for key in INT_FIELDS:
        if key in pred and pred[key] is not None and not _is_int(pred[key]):
            out.append(FieldError(f"spec.predictor.{key}", "Type", "must be of type integer", pred[key]))
    for key in STR_FIELDS:
        if key in pred and pred[key] is not None and not isinstance(pred[key], str):
            out.append(FieldError(f"spec.predictor.{key}", "Type", "must be of type string", pred[key]))
    # canaryTrafficPercent has no range check in KServe (pkg/apis/serving/v1beta1/component.go): 150 is stored
    for key in ("minReplicas", "maxReplicas"):
        if _is_int(pred.get(key)) and pred[key] < 0:
            out.append(FieldError(f"spec.predictor.{key}", "Invalid", "must be greater than or equal to 0",
                                  pred[key]))
    if _is_int(pred.get("minReplicas")) and _is_int(pred.get("maxReplicas")) and pred["maxReplicas"] \
            and pred["minReplicas"] > pred["maxReplicas"]:
        out.append(FieldError("spec.predictor.maxReplicas", "Invalid",
                              "MinReplicas cannot be greater than MaxReplicas", pred["maxReplicas"]))
    _check_string_map(pred.get("annotations"), "spec.predictor.annotations", out)
    _check_string_map(pred.get("labels"), "spec.predictor.labels", out)
    frameworks = [fw for fw in FRAMEWORKS if fw in pred]
    for fw in frameworks:
        body = pred[fw]
        path = f"spec.predictor.{fw}"
        if not isinstance(body, dict):
            out.append(FieldError(path, "Type", "must be of type object", body))
            continue
        for key in ("storageUri", "runtime", "runtimeVersion", "protocolVersion", "image", "name"):
            if key in body and body[key] is not None and not isinstance(body[key], str):
                out.append(FieldError(f"{path}.{key}", "Type", "must be of type string", body[key]))
        mf = body.get("modelFormat")
        if mf is not None:
            if not isinstance(mf, dict):
                out.append(FieldError(f"{path}.modelFormat", "Type", "must be of type object", mf))
            elif not isinstance(mf.get("name"), str) or not mf.get("name"):
                out.append(FieldError(f"{path}.modelFormat.name", "Required", ""))
    if len(frameworks) > 1:
        out.append(FieldError("spec.predictor", "Invalid",
                              "exactly one predictor implementation must be specified, found "
                              + ", ".join(sorted(frameworks)), "..."))
    containers = pred.get("containers")
    if containers is not None and not isinstance(containers, list):
        out.append(FieldError("spec.predictor.containers", "Type", "must be of type array", containers))
    if not frameworks and not containers:
        out.append(FieldError("spec.predictor", "Invalid",
                              "no predictor implementation: set model (modelFormat + storageUri), a "
                              "framework such as sklearn, or containers", "{}"))
    _validate_canary_schema(spec.get("canary"), out)
    status = obj.get("status")
    if status is not None and not isinstance(status, dict):
        out.append(FieldError("status", "Type", "must be of type object", status))
    return out


def _validate_canary_schema(canary: Any, out: list[FieldError]) -> None:
    """The CRD's structural schema of spec.canary[] (items require predictor and trafficPercent,
    an int32 from 0 to 100; a canary's model requires modelFormat and name)."""
    if canary is None:
        return
    if not isinstance(canary, list):
        out.append(FieldError("spec.canary", "Type", "must be of type array", canary))
        return
    for i, entry in enumerate(canary):
        path = f"spec.canary[{i}]"
        if not isinstance(entry, dict):
            out.append(FieldError(path, "Type", "must be of type object", entry))
            continue
        pred = entry.get("predictor")
        if not isinstance(pred, dict):
            out.append(FieldError(f"{path}.predictor", "Required", "") if pred is None else
                       FieldError(f"{path}.predictor", "Type", "must be of type object", pred))
        elif isinstance(pred.get("model"), dict):
            # the CRD's canary model is a full container: modelFormat and name are required
            for key in ("modelFormat", "name"):
                if key not in pred["model"]:
                    out.append(FieldError(f"{path}.predictor.model.{key}", "Required", ""))
        pct = entry.get("trafficPercent")
        if pct is None:
            out.append(FieldError(f"{path}.trafficPercent", "Required", ""))
        elif not _is_int(pct):
            out.append(FieldError(f"{path}.trafficPercent", "Type", "must be of type integer", pct))
        elif not 0 <= pct <= 100:
            bound = "less than or equal to 100" if pct > 100 else "greater than or equal to 0"
            out.append(FieldError(f"{path}.trafficPercent", "Invalid", f"should be {bound}", pct))


_AUTOSCALING = ("maxReplicas", "scaleTarget", "scaleMetric", "autoScaling")


def canary_webhook_refusal(obj: dict) -> str | None:
    """KServe's validating webhook on spec.canary[] (pkg/apis/serving/v1beta1/inference_service_validation.go,
    validateCanarySpecs), with its messages. The defaulter has already turned the legacy
    "RawDeployment" annotation into "Standard" (inference_service_defaults.go), so both pass."""
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    canaries = spec.get("canary")
    schema_errors: list[FieldError] = []
    _validate_canary_schema(canaries, schema_errors)
    if not isinstance(canaries, list) or not canaries or schema_errors:
        return None  # the API server's schema check (422) comes before the webhooks
    annotations = ((obj.get("metadata") or {}).get("annotations")) or {}
    if annotations.get(DEPLOYMENT_MODE_ANNOTATION) not in ("Standard", "RawDeployment"):
        return "canary is only supported in Standard deployment mode"
    stable = spec.get("predictor") if isinstance(spec.get("predictor"), dict) else {}
    if not any(isinstance(stable.get(fw), dict) and (fw == "model" or stable[fw].get("storageUri"))
               for fw in FRAMEWORKS):
        return "canary requires a stable predictor with a model (multi-model serving is not supported with canary)"
    names: set[str] = set()
    total = 0
    for i, entry in enumerate(canaries):
        pred = entry.get("predictor") if isinstance(entry, dict) and isinstance(entry.get("predictor"), dict) else {}
        name = pred.get("name") or ""
        if not name:
            return f"canary[{i}] predictor.name is required"
        if name in names:
            return f'canary predictor.name "{name}" is duplicated'
        names.add(name)
        if name == stable.get("name"):
            return f'canary predictor.name "{name}" conflicts with stable predictor name'
        pct = entry.get("trafficPercent") if _is_int(entry.get("trafficPercent")) else 0
        if not 0 <= pct <= 100:
            return f'canary "{name}" trafficPercent must be between 0 and 100, got {pct}'
        total += pct
        if pred.get("workerSpec") is not None:
            return f'canary "{name}" must not set workerSpec (multi-node is not yet supported for canary)'
        for key in _AUTOSCALING:
            if pred.get(key) not in (None, 0 if key == "maxReplicas" else None):  # MaxReplicas > 0, others != nil
                return f'canary "{name}" must not set {key} (canary uses fixed replicas)'
        if _is_int(pred.get("minReplicas")):
            stable_min = stable.get("minReplicas") if _is_int(stable.get("minReplicas")) else 1
            if pred["minReplicas"] > stable_min:
                return (f'canary "{name}" minReplicas ({pred["minReplicas"]}) must not exceed stable predictor '
                        f"minReplicas ({stable_min})")
    if total > 100:
        return f"sum of canary trafficPercent values ({total}) must be <= 100"
    return None


def validate_namespace(obj: dict) -> list[FieldError]:
    out: list[FieldError] = []
    meta = obj.get("metadata")
    validate_metadata(meta, out)
    if isinstance(meta, dict) and isinstance(meta.get("name"), str) and meta["name"]:
        name = meta["name"]
        if len(name) > 63 or not DNS1123_LABEL.match(name):
            out.append(FieldError(
                "metadata.name", "Invalid",
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
                "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
                "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')", name))
    return out


# Kinds the sandbox knows: is the kind namespaced? (what isNamespacedKind asks the REST mapper)
_NAMESPACED_KINDS: dict[tuple[str | None, str | None], bool] = {
    ("v1", "Namespace"): False, ("v1", "Event"): True, ("v1", "Pod"): True,
    ("serving.kserve.io/v1beta1", "InferenceService"): True}
EVENT_LIMITS = {"action": 128, "reason": 128, "reportingInstance": 128, "message": 1024}


def validate_event(obj: dict) -> list[FieldError]:
    """ValidateEvent of kubernetes pkg/apis/core/validation/events.go (core/v1 Events)."""
    out: list[FieldError] = []
    meta = obj.get("metadata")
    validate_metadata(meta, out)
    ns = meta.get("namespace") if isinstance(meta, dict) else None
    involved = obj.get("involvedObject")
    inv: dict[str, Any] = involved if isinstance(involved, dict) else {}
    inv_ns = inv.get("namespace") or ""
    if not obj.get("eventTime"):  # an "old" Event: its namespace and the object's agree
        if not inv_ns:
            if ns not in ("", None, "default"):
                out.append(FieldError("involvedObject.namespace", "Invalid", "does not match event.namespace", inv_ns))
        elif ns != inv_ns:
            out.append(FieldError("involvedObject.namespace", "Invalid", "does not match event.namespace", inv_ns))
    else:  # a "new" Event (events.k8s.io semantics) needs who reported it and what it did
        if not inv_ns and ns != "kube-system":
            out.append(FieldError("involvedObject.namespace", "Invalid", "does not match event.namespace", inv_ns))
        # the JSON of core/v1 calls reportingController "reportingComponent"; errors use the Go name
        for key, path in (("reportingComponent", "reportingController"), ("reportingInstance", "reportingInstance"),
                          ("action", "action"), ("reason", "reason")):
            if not obj.get(key):
                out.append(FieldError(path, "Required", ""))
    for key, limit in EVENT_LIMITS.items():
        value = obj.get(key)
        if isinstance(value, str) and len(value) > limit and obj.get("eventTime"):
            out.append(FieldError(key, "Invalid", f"can have at most {limit} characters", ""))
    namespaced = _NAMESPACED_KINDS.get((inv.get("apiVersion"), inv.get("kind")))
    if namespaced is True and not inv_ns:
        out.append(FieldError("involvedObject.namespace", "Required", f"required for kind {inv.get('kind')}"))
    if namespaced is False and inv_ns:
        out.append(FieldError("involvedObject.namespace", "Invalid", f"not allowed for kind {inv.get('kind')}", inv_ns))
    return out


LEGACY_MODES = {"Serverless": "Knative", "RawDeployment": "Standard"}
DEPLOYMENT_MODE_ANNOTATION = "serving.kserve.io/deploymentMode"


def deployment_mode_change(old: dict, new: dict) -> str | None:
    """KServe's webhook (pkg/apis/serving/v1beta1/inference_service_validation.go, validateDeploymentMode):
    the deploymentMode annotation may not differ from the mode the controller recorded in the status.
    Legacy names (Serverless, RawDeployment) and new ones (Knative, Standard) name the same modes."""
    recorded = ((old.get("status") or {}).get("deploymentMode")) or ""
    if not recorded:
        return None  # the controller has not run yet: nothing to protect
    annotations = ((new.get("metadata") or {}).get("annotations")) or {}
    if DEPLOYMENT_MODE_ANNOTATION not in annotations:
        return None
    wanted = annotations[DEPLOYMENT_MODE_ANNOTATION]
    normal = LEGACY_MODES.get(recorded, recorded)
    if LEGACY_MODES.get(wanted, wanted) != normal:
        return f"update rejected: deploymentMode cannot be changed from '{normal}' to '{wanted}'"
    return None


def validate_lease(obj: dict) -> list[FieldError]:
    """ValidateLease of kubernetes pkg/apis/coordination/validation/validation.go (ValidateLeaseSpec:
    leaseDurationSeconds and leaseTransitions)."""
    out: list[FieldError] = []
    validate_metadata(obj.get("metadata"), out)
    raw_spec = obj.get("spec")
    spec: dict[str, Any] = raw_spec if isinstance(raw_spec, dict) else {}
    duration, transitions = spec.get("leaseDurationSeconds"), spec.get("leaseTransitions")
    if duration is not None and (not isinstance(duration, int) or duration <= 0):
        out.append(FieldError("spec.leaseDurationSeconds", "Invalid", "must be greater than 0", duration))
    if transitions is not None and (not isinstance(transitions, int) or transitions < 0):
        out.append(FieldError("spec.leaseTransitions", "Invalid", "must be greater than or equal to 0", transitions))
    return out
