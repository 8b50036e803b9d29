"""What every sandbox HTTP server shares."""

from __future__ import annotations

import sys
from http.server import ThreadingHTTPServer
from typing import Any


class SandboxHTTPServer(ThreadingHTTPServer):
    """Request threads that end with the process; and a client that hung up mid-answer (a
    Prometheus scrape that timed out, a watch or a page the console stopped reading) is not
    news: socketserver's default prints its traceback into whoever's terminal runs the sandbox."""

    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)
