"""adapters.http, the request and error mapping the KFP and MLflow adapters share, against real
servers on 127.0.0.1: each transport failure and each unreadable answer becomes the shared error with
the backend's hint, and both adapters word it through the one helper."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters import mlflow, pipelines
from adapters.errors import BackendUnavailable, DataError, InvalidInput
from adapters.http import Hints, body_text, ca_context, request_json, snippet
from adapters.mlflow import MlflowClient
from adapters.pipelines import PipelinesClient

HINTS = Hints(timeout="HINT-TIMEOUT", tls="HINT-TLS", unreachable="HINT-UNREACHABLE", not_json="HINT-NOT-JSON")

# path -> (status, content type, body)
ANSWERS = {
    "/object": (200, "application/json", json.dumps({"ok": True})),
    "/list": (200, "application/json", "[1, 2]"),
    "/html": (200, "text/html", "<html>\n  <body>Sign in</body>\n</html>"),
    "/missing": (404, "text/plain", "no such thing"),
    "/empty": (502, "text/plain", ""),
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, ctype, body = ANSWERS[self.path]
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def serve(context: ssl.SSLContext | None = None) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    scheme = "https" if context else "http"
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    yield from serve()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    for base in serve(context):
        yield base, ca_file


@pytest.fixture
def silent() -> Iterator[str]:
    """A server that takes connections (the kernel's backlog) and never answers."""
    with socket.create_server(("127.0.0.1", 0), backlog=8) as sock:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(base: str, path: str, *, timeout: float = 5.0, **client: Any) -> tuple[httpx.Response, object]:
    with httpx.Client(base_url=base, timeout=timeout, **client) as http:
        return request_json(http, "GET", path, where=f"Svc at {base}", timeout=timeout, hints=HINTS)


def test_a_2xx_json_object_comes_back_as_the_dict(url: str) -> None:
    response, data = call(url, "/object")
    assert (response.status_code, data) == (200, {"ok": True})


def test_any_other_status_comes_back_for_the_caller_with_its_body_in_one_line(url: str) -> None:
    response, data = call(url, "/missing")
    assert (response.status_code, data, body_text(response)) == (404, None, "no such thing")
    response, data = call(url, "/empty")
    assert (data, body_text(response)) == (None, "Bad Gateway")  # no body: the reason phrase


def test_a_2xx_that_is_not_a_json_object_is_a_data_error_with_the_hint(url: str) -> None:
    with pytest.raises(DataError) as info:
        call(url, "/html")
    assert info.value.message == (f"Svc at {url} sent malformed JSON for GET /html "
                                  "('<html> <body>Sign in</body> </html>'); HINT-NOT-JSON")
    with pytest.raises(DataError) as info:
        call(url, "/list")
    assert info.value.message == f"Svc at {url} sent list instead of a JSON object for GET /list"


def test_nothing_listening_is_unreachable_with_the_hint() -> None:
    base = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(BackendUnavailable) as info:
        call(base, "/object")
    assert info.value.message.startswith(f"Svc at {base} cannot be reached (")
    assert info.value.message.endswith("); HINT-UNREACHABLE") and info.value.exit_code == 3


def test_no_answer_in_time_says_how_long_it_waited(silent: str) -> None:
    with pytest.raises(BackendUnavailable) as info:
        call(silent, "/object", timeout=0.2)
    assert info.value.message == f"Svc at {silent} did not answer GET /object within 0.2 s; HINT-TIMEOUT"


def test_an_untrusted_certificate_is_a_tls_failure_and_ca_context_trusts_it(tls: tuple[str, Path]) -> None:
    base, ca_file = tls
    with pytest.raises(BackendUnavailable) as info:
        call(base, "/object")
    assert info.value.message.startswith(f"Svc at {base}: TLS verification failed (")
    assert info.value.message.endswith("); HINT-TLS")
    _, data = call(base, "/object", verify=ca_context(str(ca_file), "svc ca_file"))
    assert data == {"ok": True}


def test_ca_context_names_the_setting_when_the_file_cannot_be_used(tmp_path: Path) -> None:
    missing = tmp_path / "absent.pem"
    with pytest.raises(InvalidInput) as info:
        ca_context(str(missing), "KFP ca_file")
    assert info.value.message.startswith(f"KFP ca_file {missing} cannot be used: ")
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(InvalidInput, match="MLflow CA file"):
        ca_context(str(bad), "MLflow CA file")


def test_snippet_folds_and_cuts() -> None:
    assert snippet("  a\n b\t c ") == "a b c"
    assert snippet("x" * 10, limit=5) == "xxxx…" and len(snippet("y" * 500)) == 160


@pytest.mark.parametrize("make,hints", [
    (lambda base: PipelinesClient(base, timeout=0.2).healthz(), pipelines.HINTS),
    (lambda base: MlflowClient(base, timeout=0.2).get_alias("m", "a"), mlflow.HINTS),
], ids=["kfp", "mlflow"])
def test_both_adapters_word_their_failures_through_the_helper(make, hints: Hints, silent: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(BackendUnavailable) as info:
        make(dead)
    assert info.value.message.endswith(f"); {hints.unreachable}")
    with pytest.raises(BackendUnavailable) as info:
        make(silent)
    assert " within 0.2 s; " in info.value.message and info.value.message.endswith(hints.timeout)
