"""Helpers shared by the metrics tests: a real Prometheus with backfilled history (through the
sandbox), and small local HTTP servers for faults (a proxy that checks credentials and records
request methods, an HTML page, a slow server, a not-ready server)."""

from __future__ import annotations

import shutil
import ssl
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler

import pytest

from console.sandbox.metrics_server import MetricsSandbox
from console.sandbox.server_base import SandboxHTTPServer
from metrics_fake import FakeCluster

CANARY = "fraud-detector-predictor-00002"
STABLE = "fraud-detector-predictor-00001"


def need_prometheus() -> None:
    if not (shutil.which("prometheus") and shutil.which("promtool")):
        pytest.skip("the prometheus package is not installed (apt-get install prometheus)")


def start_sandbox(state_dir, **kwargs) -> MetricsSandbox:
    need_prometheus()
    sandbox = MetricsSandbox(state_dir, kwargs.pop("cluster", None) or FakeCluster(), seed=kwargs.pop("seed", 1),
                             **kwargs)
    url = sandbox.start()
    if url is None:
        sandbox.stop()
        pytest.fail(f"the metrics sandbox did not start Prometheus: {sandbox.message}")
    return sandbox


class Server:
    """A ThreadingHTTPServer on 127.0.0.1 running `handler` (a function of the request handler)."""

    def __init__(self, handle, tls_context: ssl.SSLContext | None = None):
        outer = self
        self.requests: list[tuple[str, str, dict]] = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.requests.append((self.command, self.path, dict(self.headers)))
                status, headers, payload = handle(self, body)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _any

            def log_message(self, *args):
                pass

        self.httpd = SandboxHTTPServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        if tls_context is not None:
            self.httpd.socket = tls_context.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def forward(upstream: str, handler, body: bytes):
    """Forward a request to `upstream` (a real Prometheus) and return its answer."""
    req = urllib.request.Request(upstream + handler.path, data=body or None, method=handler.command)
    if body:
        req.add_header("Content-Type", handler.headers.get("Content-Type", "application/x-www-form-urlencoded"))
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, {"Content-Type": r.headers.get("Content-Type", "")}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {"Content-Type": e.headers.get("Content-Type", "")}, e.read()


def auth_proxy(upstream: str, *, token: str | None = None, basic: str | None = None,
               tls_context: ssl.SSLContext | None = None) -> Server:
    """A proxy in front of Prometheus that answers 401 unless the right credentials come."""

    def handle(h, body):
        auth = h.headers.get("Authorization", "")
        ok = (token is None or auth == f"Bearer {token}") and (basic is None or auth == f"Basic {basic}")
        if not ok:
            return 401, {"Content-Type": "text/plain", "WWW-Authenticate": "Bearer"}, b"Unauthorized\n"
        return forward(upstream, h, body)

    return Server(handle, tls_context)


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()
