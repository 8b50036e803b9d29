"""Numbers as people read them, shared by the command line and the screens."""

from __future__ import annotations


def duration(seconds: float | None) -> str:
    """5 -> "5s", 65 -> "1m 05s", 3725 -> "1h 02m", 90000 -> "1d 01h"; None -> ""."""
    if seconds is None:
        return ""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600:02d}h"
