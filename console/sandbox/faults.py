"""Injected failures for the sandbox's HTTP servers (Kubernetes API and Kubeflow Pipelines), so
tests can make a backend slow, failing, garbled or gone without stubbing the client.

    faults.add(r"inferenceservices", status=503, times=1)
    - status: answer with that code (the server's own error body unless `body` is given)
    - delay: sleep that many seconds first (a slow server); alone, the request then proceeds
    - body: bytes/str/dict to send instead (garbage); with no status, sent with 200
    - drop: close the connection without an answer
    - times: how many requests it hits; None = until cleared
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

_UNSET: Any = object()


@dataclass
class Fault:
    pattern: re.Pattern
    method: str | None = None
    status: int | None = None
    delay: float = 0.0
    body: bytes | None = None
    times: int | None = None
    headers: dict = field(default_factory=dict)
    drop: bool = False
    content_type: str = "application/json"
    hits: int = 0

    @property
    def answers(self) -> bool:
        """Whether the fault replaces the server's answer (otherwise it only delays it)."""
        return self.status is not None or self.body is not None


class Faults:
    """Matched in the order they were added: path regex against the request path, and method."""

    def __init__(self, *, default_times: int | None = None) -> None:
        self.default_times = default_times
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, path_regex: str = ".*", status: int | None = None, delay: float = 0.0,
            body: bytes | str | dict | None = None, times: int | None = _UNSET, *, method: str | None = None,
            drop: bool = False, headers: dict | None = None, content_type: str = "application/json") -> Fault:
        if isinstance(body, dict):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        fault = Fault(re.compile(path_regex), method.upper() if method else None, status, delay, body,
                      self.default_times if times is _UNSET else times, dict(headers or {}), drop, content_type)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The fault for this request, counting it as hit, or None."""
        with self._lock:
            for fault in self._faults:
                if fault.method and fault.method != method.upper():
                    continue
                if not fault.pattern.search(path):
                    continue
                fault.hits += 1
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
        return None


def stall_or_drop(handler: Any, fault: Fault) -> bool:
    """In a request handler: wait out the fault's delay, and drop the connection if it says so.
    True when the connection was dropped (the handler must not answer)."""
    if fault.delay:
        time.sleep(fault.delay)
    if not fault.drop:
        return False
    handler.close_connection = True
    try:
        handler.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    return True
