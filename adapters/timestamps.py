"""RFC 3339 timestamps as every backend writes them (Kubernetes, KFP's protojson, MLflow, the audit
journal): the one parser. It lives in adapters/ so adapters can use it; console and screens do too."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def parse_timestamp(value: Any) -> datetime | None:
    """An RFC 3339 / ISO 8601 string as an aware datetime ("Z" is UTC, a zone-less one is read as
    UTC, nanoseconds are cut to microseconds); None for anything absent, empty or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if "." in text:  # protojson writes up to 9 fractional digits; datetime reads at most 6
        head, _, rest = text.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits):]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}" if digits else head + zone
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
