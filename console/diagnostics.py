"""Why is it failing: the events, logs and YAML of an InferenceService or a pipeline task, as the
CLI (`rollout events`, `rollout logs`) and the screens (e, l, y) show them. Pure logic and calls
through adapters.kube: no Textual.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from adapters.errors import InvalidInput, NotFound

DEFAULT_CONTAINER = "kserve-container"


def age(ts: str | None, now: datetime | None = None) -> str:
    """kubectl's short age: 42s, 5m, 3h, 2d ('-' when unknown)."""
    from console import humanize

    return humanize.age(ts, (now or datetime.now(UTC)).timestamp(), short=True) or "-"


def event_row(event: Any) -> dict[str, Any]:
    """The JSON of one event in `rollout events --json`."""
    return {"time": event.last_seen, "type": event.type, "reason": event.reason, "object": event.object,
            "message": event.message, "count": event.count or 1}


def pods_for_logs(client: Any, namespace: str, name: str, revision: str | None = None) -> tuple[str | None, list[Any]]:
    """(revision, predictor pods) whose logs `rollout logs` and the log view show: those of
    `revision`, else of the latest created revision (the one that fails, when one does); a
    RawDeployment has no revisions, so all its predictor pods. NotFound names what exists."""
    isvc = client.get_inference_service(namespace, name)  # NotFound when the InferenceService is not there
    wanted = revision or (None if isvc.is_raw else isvc.latest_created_revision)
    pods = client.predictor_pods(namespace, name, wanted)
    if not pods:
        others = sorted({p.revision for p in client.predictor_pods(namespace, name) if p.revision})
        which = f"revision {wanted}" if wanted else f"{namespace}/{name}"
        hint = f"; revisions with pods: {', '.join(others)} (--revision)" if others else ""
        raise NotFound(f"no predictor pods of {which}{hint}")
    return wanted, pods


def check_container(pods: Iterable[Any], container: str) -> None:
    for pod in pods:
        names = pod.containers + pod.init_containers
        if container not in names:
            raise InvalidInput(f"pod {pod.name} has no container {container!r}: use one of {', '.join(names)} "
                               f"(--container)")


# -- YAML (PyYAML is a test extra only) ----------------------------------------------------------------

_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./@ -]*$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED and not text.endswith(" ") and ": " not in text:
        return text
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def to_yaml(obj: Any, indent: int = 0) -> str:
    """Block-style YAML of a JSON value, as `kubectl get -o yaml` lays it out (keys in the
    object's order, lists not indented under their key); strings that could be read as
    something else are double-quoted (JSON escapes are YAML escapes)."""
    return "\n".join(_yaml_lines(obj, indent)) + "\n"


def _yaml_lines(obj: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(obj, dict):
        if not obj:
            return [pad + "{}"]
        out = []
        for key, value in obj.items():
            head = f"{pad}{_scalar(key)}:"
            if isinstance(value, dict) and value:
                out += [head] + _yaml_lines(value, indent + 2)
            elif isinstance(value, list) and value:
                out += [head] + _yaml_lines(value, indent)
            else:
                out.append(f"{head} {_inline(value)}")
        return out
    if isinstance(obj, list):
        if not obj:
            return [pad + "[]"]
        out = []
        for item in obj:
            if isinstance(item, (dict, list)) and item:
                inner = _yaml_lines(item, indent + 2)
                out.append(f"{pad}- {inner[0][indent + 2:]}")
                out += inner[1:]
            else:
                out.append(f"{pad}- {_inline(item)}")
        return out
    return [pad + _scalar(obj)]


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _scalar(value)
