"""Reading version records from a file: a JSON array or JSON Lines, detected from the first
character, each record with where it stands (for error messages) and its JSON text as written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from adapters.errors import InvalidInput


class _NotJson(ValueError):
    pass


def _no_constants(name: str) -> Any:
    raise _NotJson(f"{name} is not valid JSON")


_WS = re.compile(r"[ \t\n\r]*")


def _skip(text: str, pos: int) -> int:
    """The position after the whitespace at pos."""
    match = _WS.match(text, pos)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def load_file(path: str | Path) -> Iterator[tuple[str, Any]]:
    """Yield (location, record) from a JSON array or JSON Lines file, detected from its first
    character. Locations read "FILE line 7" (JSON Lines) or "FILE index 3 (line 12)" (array).
    Malformed JSON raises InvalidInput naming the line and column; records are not validated here.
    """
    for where, record, _raw in load_raw(path):
        yield where, record


def load_raw(path: str | Path) -> Iterator[tuple[str, Any, str]]:
    """load_file, plus each record's JSON text as it stands in the file (stored as is)."""
    name = str(path)
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise InvalidInput(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InvalidInput(f"{name}: is a directory, not a JSON or JSON Lines file") from None
    except OSError as exc:
        raise InvalidInput(f"{name}: cannot be read ({exc.strerror})") from None
    decoder = json.JSONDecoder(parse_constant=_no_constants)
    with handle:
        head = handle.read(4096)
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if stripped.startswith(b"["):
            data = head + handle.read()
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                at = data.count(b"\n", 0, exc.start) + 1
                raise InvalidInput(f"{name} line {at}: not UTF-8 text") from None
            yield from _array_records(name, text, decoder)
            return
        handle.seek(0)
        for lineno, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError:
                raise InvalidInput(f"{name} line {lineno}: not UTF-8 text") from None
            if not line.strip():
                continue
            try:
                record = decoder.decode(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{name} line {lineno} column {exc.colno}: invalid JSON: {exc.msg}") from None
            except _NotJson as exc:
                raise InvalidInput(f"{name} line {lineno}: invalid JSON: {exc}") from None
            yield f"{name} line {lineno}", record, line.strip()


def _array_records(name: str, text: str, decoder: json.JSONDecoder) -> Iterator[tuple[str, Any, str]]:
    pos = _skip(text, 0) + 1  # past '['
    line, counted = 1, 0
    index = 0

    def fail(at: int, msg: str) -> InvalidInput:
        ln = text.count("\n", 0, at) + 1
        col = at - (text.rfind("\n", 0, at) + 1) + 1
        return InvalidInput(f"{name} line {ln} column {col}: invalid JSON: {msg}")

    pos = _skip(text, pos)
    if pos < len(text) and text[pos] == "]":
        pos = _skip(text, pos + 1)
        if pos != len(text):
            raise fail(pos, "extra data after the array")
        return
    while True:
        try:
            record, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{name} line {exc.lineno} column {exc.colno}: invalid JSON: {exc.msg}") from None
        except _NotJson as exc:
            raise fail(pos, str(exc)) from None
        line += text.count("\n", counted, pos)
        counted = pos
        yield f"{name} index {index} (line {line})", record, text[pos:end]
        index += 1
        pos = _skip(text, end)
        if pos >= len(text):
            raise fail(pos, "the array is not closed with ']'")
        if text[pos] == "]":
            pos = _skip(text, pos + 1)
            if pos != len(text):
                raise fail(pos, "extra data after the array")
            return
        if text[pos] != ",":
            raise fail(pos, "expected ',' or ']' between records")
        pos = _skip(text, pos + 1)
