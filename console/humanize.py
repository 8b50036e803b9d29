"""Numbers as people read them, shared by the command line and the screens: the one duration
formatter (run durations, ages, "since ... ago")."""

from __future__ import annotations

from adapters.timestamps import parse_timestamp

# (unit, its seconds, the next smaller unit, its seconds), largest first
_STEPS = (("d", 86400, "h", 3600), ("h", 3600, "m", 60), ("m", 60, "s", 1))


def duration(seconds: float | None, *, short: bool = False) -> str:
    """5 -> "5s", 65 -> "1m 05s", 3725 -> "1h 02m", 90000 -> "1d 01h"; short keeps the first unit
    only ("1m", "1h", "1d"), for narrow columns such as AGE. None -> ""; below 0 (clock skew) is 0s."""
    if seconds is None:
        return ""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    unit, size, small, small_size = next(step for step in _STEPS if s >= step[1])
    head = f"{s // size}{unit}"
    return head if short else f"{head} {s % size // small_size:02d}{small}"


def age(stamp: str | None, now: float, *, short: bool = False) -> str:
    """The duration from an RFC 3339 timestamp to `now` (unix seconds); "" when unknown or unreadable."""
    began = parse_timestamp(stamp)
    return "" if began is None else duration(now - began.timestamp(), short=short)
