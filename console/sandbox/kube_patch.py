"""JSON merge patch (RFC 7386) and JSON patch (RFC 6902), as the Kubernetes API server applies them.

Pure functions on plain JSON values; errors raise PatchError with a message the API server would give.
"""

from __future__ import annotations

import copy
from typing import Any

from console.merge_patch import merge_patch  # noqa: F401 - the sandbox's patch functions in one place


class PatchError(ValueError):
    """The patch could not be applied (bad document, failed test, missing path)."""


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _split(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"invalid JSON pointer {pointer!r}: must start with '/'")
    return [_unescape(t) for t in pointer[1:].split("/")]


def _index(container: list, token: str, *, for_add: bool = False) -> int:
    if token == "-" and for_add:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchError(f"invalid array index {token!r}")
    i = int(token)
    limit = len(container) if for_add else len(container) - 1
    if i > limit:
        raise PatchError(f"array index {i} out of bounds")
    return i


def _walk(doc: Any, tokens: list[str], pointer: str) -> Any:
    node = doc
    for token in tokens:
        if isinstance(node, dict):
            if token not in node:
                raise PatchError(f"doc is missing path: {pointer!r}")
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token)]
        else:
            raise PatchError(f"doc is missing path: {pointer!r}")
    return node


def _parent(doc: Any, tokens: list[str], pointer: str) -> Any:
    return _walk(doc, tokens[:-1], pointer)


def _get(doc: Any, pointer: str) -> Any:
    return _walk(doc, _split(pointer), pointer)


def _add(doc: Any, pointer: str, value: Any) -> Any:
    tokens = _split(pointer)
    if not tokens:
        return value
    parent = _parent(doc, tokens, pointer)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, for_add=True), value)
    else:
        raise PatchError(f"doc is missing path: {pointer!r}")
    return doc


def _remove(doc: Any, pointer: str) -> tuple[Any, Any]:
    tokens = _split(pointer)
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent = _parent(doc, tokens, pointer)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"unable to remove nonexistent key: {last}: missing value")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, last))
    raise PatchError(f"doc is missing path: {pointer!r}")


def json_patch(target: Any, operations: Any) -> Any:
    """Apply an RFC 6902 JSON patch; returns a new value."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"invalid JSON patch operation: {op!r}")
        kind, path = op["op"], op["path"]
        if not isinstance(path, str):
            raise PatchError(f"invalid JSON patch path: {path!r}")
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"JSON patch operation {kind!r} needs a value")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            doc, _ = _remove(doc, path)
        elif kind == "replace":
            _get(doc, path)  # must exist
            if path == "":
                doc = copy.deepcopy(op["value"])
            else:
                doc, _ = _remove(doc, path)
                doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "move":
            src = op.get("from")
            if not isinstance(src, str):
                raise PatchError("JSON patch 'move' needs 'from'")
            doc, value = _remove(doc, src)
            doc = _add(doc, path, value)
        elif kind == "copy":
            src = op.get("from")
            if not isinstance(src, str):
                raise PatchError("JSON patch 'copy' needs 'from'")
            doc = _add(doc, path, copy.deepcopy(_get(doc, src)))
        elif kind == "test":
            if _get(doc, path) != op["value"]:
                raise PatchError(f"testing value {path} failed")
        else:
            raise PatchError(f"unexpected JSON patch operation {kind!r}")
    return doc


# -- server-side apply (the sandbox's simplified field ownership) -------------------------------

_APPLY_IGNORED = {".apiVersion", ".kind", ".metadata.name", ".metadata.namespace", ".metadata.resourceVersion"}


def leaves(obj: Any, prefix: str = "") -> dict[str, Any]:
    """{".spec.predictor.canaryTrafficPercent": 10, ...}: the fields an applied configuration sets
    (lists are atomic, as for CRD fields without list-type markers)."""
    out: dict[str, Any] = {}
    if isinstance(obj, dict) and obj:
        for key, value in obj.items():
            out.update(leaves(value, f"{prefix}.{key}"))
    elif prefix and prefix not in _APPLY_IGNORED and not prefix.startswith(".status"):
        out[prefix] = copy.deepcopy(obj)
    return out


def apply_merge(current: dict, applied: dict, removed: list[str]) -> dict:
    """current with the applied configuration merged in and the `removed` field paths dropped."""
    result = copy.deepcopy(current)
    for path in removed:
        tokens = path.lstrip(".").split(".")
        node: Any = result
        for token in tokens[:-1]:
            node = node.get(token) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(tokens[-1], None)
    for path, value in leaves(applied).items():
        tokens = path.lstrip(".").split(".")
        node = result
        for token in tokens[:-1]:
            if not isinstance(node.get(token), dict):
                node[token] = {}
            node = node[token]
        node[tokens[-1]] = copy.deepcopy(value)
    return result
