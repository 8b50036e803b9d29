"""Text from outside (catalog, cluster, KFP, Prometheus, config, error messages) made safe to draw.

A terminal obeys control characters: ESC ] 0 ; ... BEL sets the window title, ESC [ 2 J clears
the screen, U+202E reverses what follows. safe() replaces every C0/C1 control character and
bidi control with a visible escape (\\x1b, \\u202e), and redacts credentials in URLs, so
nothing shown on a screen or printed as text carries a password.
Markup is the other half: Textual parses str titles, cells and notifications as markup, so
outside text reaches widgets as rich Text (literal()) or with markup=False.
"""

from __future__ import annotations

import json
import logging
import re
from typing import IO, Any

from adapters.redact import redact

_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
_UNSAFE_MULTILINE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")  # keeps \t and \n


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(value: Any, *, multiline: bool = False) -> str:
    """str(value) as a terminal should show it: credentials redacted (adapters.redact), control
    and bidi characters made visible; newline and tab are kept only where a multi-line field
    allows them. None is ''."""
    if value is None:
        return ""
    return (_UNSAFE_MULTILINE if multiline else _UNSAFE).sub(_escape, redact(str(value)))


def same_width(value: str) -> str:
    """value with each control or bidi character replaced by one visible '�', for an editable
    field (Input), where the cursor must keep lining up with the characters."""
    return _UNSAFE.sub("\ufffd", value)


def literal(value: Any, style: str = ""):
    """Outside text for a widget (cell, title, label): safe(), and never parsed as markup."""
    from rich.text import Text

    return Text(safe(value), style=style, no_wrap=True, overflow="ellipsis")


def json_text(obj: Any, **dumps: Any) -> str:
    """json.dumps(obj, ensure_ascii=False) with the characters json leaves raw (DEL, C1, bidi)
    written as \\uXXXX escapes: the same JSON value (exact, for scripts), and nothing a terminal
    obeys."""
    text = json.dumps(obj, ensure_ascii=False, **dumps)  # C0 inside strings is escaped already
    return _UNSAFE_MULTILINE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class SafeStream:
    """A text stream (the CLI's stdout and stderr) whose every write passes through
    safe(multiline=True). print_json writes json_text() to .stream itself."""

    def __init__(self, stream: IO[str]):
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(safe(text, multiline=True))

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno, encoding, ...
        return getattr(self.stream, name)


class LogFormatter(logging.Formatter):
    """Every log line (message, arguments and traceback alike) with credentials redacted and
    control characters made visible, so `tail -f` on the log cannot be attacked either."""

    def format(self, record: logging.LogRecord) -> str:
        return safe(super().format(record), multiline=True)
