"""The KFP v2beta1 wire basics of the sandbox (no I/O): errors as google.rpc.Status with the HTTP status
grpc-gateway maps them to, and timestamps as protojson writes them (unfinished runs carry the epoch)."""

from __future__ import annotations

import time
from typing import Any

from adapters.timestamps import parse_timestamp

EPOCH = "1970-01-01T00:00:00Z"

# google.rpc.Code values and the HTTP status grpc-gateway maps them to
CODE_HTTP = {3: 400, 5: 404, 6: 409, 7: 403, 9: 400, 10: 409, 13: 500, 14: 503, 16: 401}


class ApiError(Exception):
    """An error the API answers with: an HTTP status and a google.rpc.Status body."""

    def __init__(self, code: int, message: str, http_status: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status or CODE_HTTP.get(code, 500)

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": []}


def status(code: int, message: str) -> dict[str, Any]:
    """An embedded google.rpc.Status (zero values left out: no empty details list)."""
    return {"code": code, "message": message}


def ts(t: float | None) -> str:
    """RFC 3339 in UTC, as protojson writes a Timestamp (whole seconds here)."""
    if t is None:
        return EPOCH
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(t)))



def parse_ts(text: str) -> float:
    parsed = parse_timestamp(text)
    if parsed is None:
        raise ApiError(3, f"Invalid input error: timestamp_value {text!r} is not an RFC 3339 timestamp")
    return parsed.timestamp()
