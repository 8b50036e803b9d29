"""Checking a version record before it enters the catalog: every field's type and shape, with a
message that names the field and what to do. Derived column values come back for the import.
"""

from __future__ import annotations

import json
import math
import operator
import re
from typing import Any

from adapters.catalog_records import KNOWN_FIELDS, created_key, is_number

ALIAS_RE = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_KNOWN_SET = frozenset(KNOWN_FIELDS)
_STRING_FIELDS = ("description", "author", "artifact_uri", "framework", "framework_version", "run_id")
_NUMBER_TYPES = {int, float}
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_SPACE = re.compile(r"\s")


def _all_numbers(values: list[Any]) -> bool:
    """True when every item is a finite int or float (not bool); C-speed for long lists."""
    types = set(map(type, values))
    if not types <= _NUMBER_TYPES:
        return False
    return int in types and len(types) == 1 or all(map(math.isfinite, values))


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class BadField(Exception):
    """A record's field is wrong: field ("" for the whole record) and the problem."""

    def __init__(self, field_name: str, problem: str):
        super().__init__(field_name, problem)
        self.field = field_name
        self.problem = problem


def _check_name(value: Any, field_name: str, *, max_len: int, allow_colon: bool) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and field_name == "version":
        value = str(value)
    if not isinstance(value, str):
        raise BadField(field_name, f"must be a string, not {_kind(value)}")
    if not value or value != value.strip():
        raise BadField(field_name, "must be non-empty, without leading or trailing spaces")
    if len(value) > max_len:
        raise BadField(field_name, f"is longer than {max_len} characters")
    if _CONTROL_CHARS.search(value):
        raise BadField(field_name, "must not contain control characters")
    if not allow_colon and (":" in value or _SPACE.search(value)):
        raise BadField(field_name, f"{value!r} must not contain ':' or spaces")
    return value


def validate(record: Any) -> dict[str, Any]:
    """Check one record; returns the derived column values. Raises BadField(field, problem)."""
    if not isinstance(record, dict):
        raise BadField("", f"a record must be a JSON object, not {_kind(record)}")
    for key in record:
        if key not in _KNOWN_SET:
            raise BadField(str(key), f"is not a known field (known fields: {', '.join(KNOWN_FIELDS)})")
    for key in ("model", "version"):
        if key not in record or record[key] is None:
            raise BadField(key, "is required")
    model = _check_name(record["model"], "model", max_len=200, allow_colon=True)
    version = _check_name(record["version"], "version", max_len=64, allow_colon=False)
    for key in _STRING_FIELDS:
        value = record.get(key)
        if value is not None and not isinstance(value, str):
            raise BadField(key, f"must be a string, not {_kind(value)}")
    created_at = record.get("created_at")
    seconds = None
    if created_at is not None:
        if not isinstance(created_at, str):
            raise BadField("created_at", f"must be an ISO 8601 timestamp string, not {_kind(created_at)}")
        try:
            seconds = created_key(created_at)
        except ValueError:
            raise BadField("created_at", f"{created_at!r} is not an ISO 8601 timestamp (like 2026-11-20T09:30:00Z)") from None
    for key in ("tags", "aliases"):
        value = record.get(key)
        if value is None:
            continue
        if not isinstance(value, list):
            raise BadField(key, f"must be a list of strings, not {_kind(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise BadField(f"{key}[{i}]", f"must be a string, not {_kind(item)}")
            if key == "aliases" and not ALIAS_RE.fullmatch(item):
                raise BadField(f"{key}[{i}]", f"{item!r} is not a valid alias (lower-case letter, then up to 62 of a-z 0-9 _ -)")
        if key == "aliases" and len(set(value)) != len(value):
            raise BadField(key, "lists an alias twice")
    for key in ("hyperparameters", "environment"):
        value = record.get(key)
        if value is not None and not isinstance(value, dict):
            raise BadField(key, f"must be an object, not {_kind(value)}")
    training = record.get("training_data")
    if training is not None:
        if not isinstance(training, dict):
            raise BadField("training_data", f"must be an object with uri, hash and rows, not {_kind(training)}")
        for key in ("uri", "hash"):
            if training.get(key) is not None and not isinstance(training[key], str):
                raise BadField(f"training_data.{key}", f"must be a string, not {_kind(training[key])}")
        rows = training.get("rows")
        if rows is not None and (not isinstance(rows, int) or isinstance(rows, bool) or rows < 0):
            raise BadField("training_data.rows", "must be a whole number >= 0")
    metrics = record.get("metrics")
    if metrics is not None:
        if not isinstance(metrics, dict):
            raise BadField("metrics", f"must be an object (name -> number, or split -> {{name -> number}}), not {_kind(metrics)}")
        for name, value in metrics.items():
            if isinstance(value, dict):
                if _all_numbers(list(value.values())):
                    continue
                for inner, number in value.items():
                    if not is_number(number):
                        raise BadField(f"metrics.{name}.{inner}", f"must be a number, not {_kind(number)}"
                                   + (" (finite)" if isinstance(number, float) else ""))
            elif not is_number(value):
                raise BadField(f"metrics.{name}", f"must be a number (or an object of split metrics), not {_kind(value)}")
    histograms = record.get("reference_histograms")
    if histograms is not None:
        if not isinstance(histograms, dict):
            raise BadField("reference_histograms", f"must be an object (feature -> {{edges, counts}}), not {_kind(histograms)}")
        for feature, hist in histograms.items():
            where = f"reference_histograms.{feature}"
            if not isinstance(hist, dict):
                raise BadField(where, f"must be an object with edges and counts, not {_kind(hist)}")
            edges, counts = hist.get("edges"), hist.get("counts")
            if not isinstance(edges, list) or len(edges) < 2:
                raise BadField(f"{where}.edges", "must be a list of at least 2 numbers")
            if not isinstance(counts, list):
                raise BadField(f"{where}.counts", "must be a list of numbers")
            if (len(counts) == len(edges) - 1 and _all_numbers(edges) and _all_numbers(counts)
                    and all(map(operator.lt, edges, edges[1:])) and (not counts or min(counts) >= 0)):
                continue  # the fast path; the loops below find what is wrong otherwise
            for i, e in enumerate(edges):
                if not is_number(e):
                    raise BadField(f"{where}.edges[{i}]", f"must be a number, not {_kind(e)}")
                if i and e <= edges[i - 1]:
                    raise BadField(f"{where}.edges[{i}]", "must be greater than the edge before it")
            for i, c in enumerate(counts):
                if not is_number(c) or c < 0:
                    raise BadField(f"{where}.counts[{i}]", "must be a number >= 0")
            if len(counts) != len(edges) - 1:
                raise BadField(f"{where}.counts", f"has {len(counts)} counts for {len(edges)} edges (needs one fewer count than edges)")
    uri = record.get("artifact_uri")
    return {
        "model": model,
        "version": version,
        "created_key": seconds,
        "artifact_key": uri.rstrip("/") if isinstance(uri, str) else None,
    }


def compact(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
