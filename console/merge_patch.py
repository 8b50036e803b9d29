"""JSON merge patch (RFC 7386): the one implementation, for the console's previews (console/rollouts.py)
and the sandbox's API server (console/sandbox/kube_patch.py)."""

from __future__ import annotations

import copy
from typing import Any


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 merge patch: null removes a key, an object merges, anything else replaces.
    Returns a new value, never mutates its inputs."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
