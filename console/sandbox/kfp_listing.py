"""Listing in the simulated Kubeflow Pipelines, as KFP's apiserver lists (no I/O): sort, filter
(v2beta1Filter), page sizes and page tokens."""

from __future__ import annotations

import base64
import json
from typing import Any

from console.sandbox.kfp_wire import ApiError, parse_ts

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 200


def list_page(items: list, now: float, *, kind: str, key_of, fields, render, page_size, page_token,
              sort_by, filter_json) -> dict[str, Any]:
    """One page. A page token is KFP's list options token: base64 JSON that carries the sort, the
    filter and where the next page starts, with no expiry and no signature; a request with only a
    token continues that query, and one that also names a sort or filter must name the same
    (backend/src/apiserver/list/list.go token, server/list_request_util.go validatedListOptions)."""
    if page_size is None or page_size == 0:
        page_size = DEFAULT_PAGE_SIZE
    if page_size < 0:
        raise ApiError(3, f"Failed to create list options: Invalid input error: The page size should be "
                          f"greater than 0. Got {page_size}")
    page_size = min(page_size, MAX_PAGE_SIZE)
    asked = list_options(kind, now, fields, sort_by, filter_json) if not page_token or sort_by or filter_json \
        else None
    after = None
    if page_token:
        token = _read_token(page_token)
        options = (token["SortByFieldName"], token["IsDesc"], token.get("Filter") or [])
        if asked is not None and asked != options:
            raise ApiError(3, "Failed to create list options: Invalid input error: page token does not match the "
                              "supplied sort by and/or filtering criteria. Either specify the same criteria or "
                              "leave the latter empty if page token is specified")
        list_options(kind, now, fields, options[0], None)  # the token's field must exist
        after = (token["SortByFieldValue"], token["KeyFieldValue"])
    else:
        assert asked is not None
        options = asked
    sort_field, desc, predicates = options
    sort_get = fields(sort_field, now)
    checks = [(fields(pred["key"], now), pred) for pred in predicates]
    if checks:
        items = [i for i in items if all(_matches(get(i), pred) for get, pred in checks)]
    total = len(items)
    items.sort(key=lambda i: (sort_get(i), key_of(i)), reverse=desc)
    if after is not None:
        position = len(items)
        for index, item in enumerate(items):
            key = (sort_get(item), key_of(item))
            if (key <= after) if desc else (key >= after):
                position = index
                break
        items = items[position:]
    page = items[:page_size]
    out: dict[str, Any] = {}
    if page:
        out[kind] = [render(i) for i in page]
    if total:
        out["total_size"] = total
    if len(items) > page_size:
        first = items[page_size]  # KFP's token points at the first row of the next page
        out["next_page_token"] = _make_token(sort_field, sort_get(first), key_of(first), desc, predicates)
    return out


def list_options(kind: str, now: float, fields, sort_by: str | None,
                 filter_json: str | None) -> tuple[str, bool, list]:
    """(sort field, descending, predicates) of a request, checked as KFP checks them."""
    sort_text = (sort_by or "").strip()
    parts = sort_text.split()
    if len(parts) > 2 or (len(parts) == 2 and parts[1].lower() not in ("asc", "desc")):
        raise ApiError(3, f"Failed to create list options: Invalid input error: Received invalid sort by format "
                          f"{sort_text!r}. Supported format: \"field_name\", \"field_name desc\", or "
                          "\"field_name asc\"")
    sort_field = parts[0] if parts else "created_at"
    if fields(sort_field, now) is None:
        raise ApiError(3, f"Failed to create list options: Invalid input error: Invalid sorting field: "
                          f"{sort_field!r} on listable type {kind}")
    predicates = parse_filter(filter_json) if filter_json else []
    for pred in predicates:
        if fields(pred["key"], now) is None:
            raise ApiError(3, f"Failed to create list options: Invalid input error: cannot filter {kind} on "
                              f"{pred['key']!r}")
    return sort_field, len(parts) == 2 and parts[1].lower() == "desc", predicates


def _make_token(sort_field: str, value: Any, key: str, desc: bool, predicates: list) -> str:
    token = {"SortByFieldName": sort_field, "SortByFieldValue": value, "KeyFieldName": "UUID",
             "KeyFieldValue": key, "IsDesc": desc, "Filter": predicates or None}
    return base64.b64encode(json.dumps(token, separators=(",", ":")).encode()).decode()


def _read_token(text: str) -> dict[str, Any]:
    try:
        token = json.loads(base64.b64decode(text, validate=True))
        if not isinstance(token, dict) or not isinstance(token.get("SortByFieldName"), str) \
                or "KeyFieldValue" not in token:
            raise ValueError("not a list options token")
    except (ValueError, TypeError) as exc:
        raise ApiError(3, f"Failed to create list options: InvalidInputError: Invalid page token: {exc}") from None
    token["IsDesc"] = bool(token.get("IsDesc"))
    return token


OPERATIONS = {"EQUALS", "NOT_EQUALS", "GREATER_THAN", "GREATER_THAN_EQUALS", "LESS_THAN", "LESS_THAN_EQUALS",
              "IN", "IS_SUBSTRING"}
_OP_NUMBERS = {1: "EQUALS", 2: "NOT_EQUALS", 3: "GREATER_THAN", 5: "GREATER_THAN_EQUALS", 6: "LESS_THAN",
               7: "LESS_THAN_EQUALS", 8: "IN", 9: "IS_SUBSTRING"}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def parse_filter(text: str) -> list[dict[str, Any]]:
    """The predicates of a filter, each {"key", "op", "value"} with value a scalar or a list."""

    def bad(why: str) -> ApiError:
        return ApiError(3, f"Invalid input error: failed to parse valid filter from {text!r}: {why}")

    try:
        data = json.loads(text)
    except ValueError as exc:
        raise bad(f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise bad("a filter is a JSON object with a 'predicates' list")
    predicates = data.get("predicates", [])
    if not isinstance(predicates, list):
        raise bad("'predicates' must be a list")
    out = []
    for raw in predicates:
        if not isinstance(raw, dict):
            raise bad("each predicate must be an object")

        def get(name: str, raw: dict[str, Any] = raw) -> Any:
            return raw.get(name, raw.get(_camel(name)))

        op = get("operation") or get("op")
        if isinstance(op, int):
            op = _OP_NUMBERS.get(op)
        if op not in OPERATIONS:
            raise bad(f"unknown operation {op!r}")
        key = get("key")
        if not isinstance(key, str) or not key:
            raise bad("a predicate needs a key")
        value: Any = None
        if op == "IN":
            for name, conv in (("string_values", str), ("int_values", int), ("long_values", int)):
                holder = get(name)
                if holder is not None:
                    values = holder.get("values", []) if isinstance(holder, dict) else None
                    if not isinstance(values, list):
                        raise bad(f"'{name}' must be an object with a 'values' list")
                    try:
                        value = [conv(v) for v in values]
                    except (TypeError, ValueError):
                        raise bad(f"'{name}' holds a value of the wrong type") from None
                    break
            if value is None:
                raise bad("IN needs string_values, int_values or long_values")
        else:
            if get("string_value") is not None:
                value = str(get("string_value"))
            elif get("int_value") is not None:
                value = int(get("int_value"))
            elif get("long_value") is not None:
                try:
                    value = int(get("long_value"))
                except (TypeError, ValueError):
                    raise bad("long_value must be an int64 (as a string)") from None
            elif get("timestamp_value") is not None:
                value = parse_ts(str(get("timestamp_value")))
            else:
                raise bad(f"predicate on {key!r} has no value")
            if op == "IS_SUBSTRING" and not isinstance(value, str):
                raise bad("IS_SUBSTRING applies to string_value only")
        out.append({"key": key, "op": op, "value": value})
    return out


def _matches(actual: Any, pred: dict[str, Any]) -> bool:
    op, value = pred["op"], pred["value"]
    if op == "IN":
        return actual in value or str(actual) in [str(v) for v in value]
    if op == "IS_SUBSTRING":
        return value in str(actual)
    if isinstance(actual, float) and isinstance(value, (int, float)):
        return _compare(op, actual, float(value))
    return _compare(op, str(actual), str(value))


def _compare(op: str, a: Any, b: Any) -> bool:
    return {
        "EQUALS": a == b, "NOT_EQUALS": a != b, "GREATER_THAN": a > b, "GREATER_THAN_EQUALS": a >= b,
        "LESS_THAN": a < b, "LESS_THAN_EQUALS": a <= b,
    }[op]
