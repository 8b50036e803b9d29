"""The sandbox's HTTP servers: a client that hangs up is not a traceback on the terminal."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler

from console.sandbox.server_base import SandboxHTTPServer


def test_a_client_that_hung_up_prints_nothing_and_a_handler_bug_prints_its_traceback(capsys):
    server = SandboxHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    try:
        for hang_up in (BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "Connection reset by peer")):
            try:
                raise hang_up
            except ConnectionError:
                server.handle_error(None, ("127.0.0.1", 50816))
        assert capsys.readouterr().err == ""
        try:
            raise KeyError("a bug in a handler")
        except KeyError:
            server.handle_error(None, ("127.0.0.1", 50816))
        assert "a bug in a handler" in capsys.readouterr().err
    finally:
        server.server_close()
