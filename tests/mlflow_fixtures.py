"""A real MLflow tracking server for tests and benchmarks, populated through its REST API, and a
small faulting HTTP proxy to put in front of it.

    server = MlflowServer.start(tmp_dir)      # mlflow server --backend-store-uri sqlite:///... --port FREE
    rest = Rest(server.url)
    rest.model("fraud [v2] é", description="...", tags={"team": "risk"})
    run = rest.run(params={"eta": "0.1"}, metrics={"auc": 0.93})
    rest.version("fraud [v2] é", source=f"s3://b/{run}/model", run_id=run)
    rest.alias("fraud [v2] é", "champion", "1")
    server.stop()

The server is slow to start on a busy 2-core machine (it imports MLflow twice: the CLI, then the
uvicorn worker), so callers share one per module and wait for /health on a deadline.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

START_TIMEOUT = float(os.environ.get("MLFLOW_TEST_START_TIMEOUT", "300"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MlflowServer:
    def __init__(self, process: subprocess.Popen, url: str, log: Path):
        self.process, self.url, self.log = process, url, log

    @classmethod
    def start(cls, directory: Path) -> MlflowServer:
        directory.mkdir(parents=True, exist_ok=True)
        port = free_port()
        log = directory / "mlflow-server.log"
        # No job runner: it starts seven more processes (GenAI scorers), each importing MLflow.
        env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
               "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "PYTHONWARNINGS": "ignore"}
        for var in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME",
                    "MLFLOW_TRACKING_PASSWORD"):
            env.pop(var, None)
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{directory / 'mlflow.db'}",
                 "--default-artifact-root", (directory / "artifacts").as_uri(),
                 "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                stdout=out, stderr=subprocess.STDOUT, cwd=directory, env=env, start_new_session=True)
        server = cls(process, f"http://127.0.0.1:{port}", log)
        server.wait_ready()
        return server

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        with httpx.Client(timeout=5) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"mlflow server exited with {self.process.returncode}:\n{self.log_tail()}")
                try:
                    if client.get(self.url + "/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.2)  # polling a condition (the server answering), not waiting a fixed time
        self.stop()
        raise RuntimeError(f"mlflow server did not answer /health within {START_TIMEOUT:g} s:\n{self.log_tail()}")

    def log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)  # the server and its uvicorn worker
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


class Rest:
    """Populates a server through REST 2.0, as any MLflow client would."""

    def __init__(self, url: str):
        self.http = httpx.Client(base_url=url + "/api/2.0/mlflow", timeout=60)
        self._experiment: str | None = None

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        if method == "GET":
            response = self.http.get(path, params=body)
        else:
            response = self.http.request(method, path, json=body)
        if response.status_code != 200:
            raise AssertionError(f"{method} {path} -> {response.status_code} {response.text}")
        return response.json()

    @staticmethod
    def _tags(tags: dict[str, str] | None) -> list[dict[str, str]]:
        return [{"key": k, "value": v} for k, v in (tags or {}).items()]

    def experiment(self) -> str:
        if self._experiment is None:
            self._experiment = self.call("POST", "/experiments/create", {"name": f"exp-{time.time_ns()}"})["experiment_id"]
        return self._experiment

    def model(self, name: str, *, description: str = "", tags: dict[str, str] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, "tags": self._tags(tags)}
        if description:
            body["description"] = description
        return self.call("POST", "/registered-models/create", body)["registered_model"]

    def run(self, *, params: dict[str, str] | None = None, metrics: dict[str, Any] | None = None,
            user: str = "ana", status: str = "FINISHED", start_ms: int = 1_795_000_000_000) -> str:
        info = self.call("POST", "/runs/create", {"experiment_id": self.experiment(), "user_id": user,
                                                   "start_time": start_ms})["run"]["info"]
        run_id = info["run_id"]
        batch: dict[str, Any] = {"run_id": run_id, "params": [{"key": k, "value": v} for k, v in (params or {}).items()]}
        batch["metrics"] = [{"key": k, "value": v, "timestamp": start_ms, "step": 0} for k, v in (metrics or {}).items()]
        if batch["params"] or batch["metrics"]:
            self.call("POST", "/runs/log-batch", batch)
        if status != "RUNNING":
            self.call("POST", "/runs/update", {"run_id": run_id, "status": status, "end_time": start_ms + 60_000})
        return run_id

    def log_metric(self, run_id: str, key: str, value: float, step: int) -> None:
        self.call("POST", "/runs/log-metric", {"run_id": run_id, "key": key, "value": value,
                                               "timestamp": 1_795_000_000_000 + step, "step": step})

    def version(self, name: str, *, source: str, run_id: str | None = None, description: str = "",
                tags: dict[str, str] | None = None, model_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, "source": source, "tags": self._tags(tags)}
        if run_id:
            body["run_id"] = run_id
        if model_id:
            body["model_id"] = model_id
        if description:
            body["description"] = description
        return self.call("POST", "/model-versions/create", body)["model_version"]

    def alias(self, name: str, alias: str, version: str) -> None:
        self.call("POST", "/registered-models/alias", {"name": name, "alias": alias, "version": str(version)})

    def get_alias(self, name: str, alias: str) -> str | None:
        response = self.http.get("/registered-models/alias", params={"name": name, "alias": alias})
        return response.json()["model_version"]["version"] if response.status_code == 200 else None

    def delete_version(self, name: str, version: str) -> None:
        self.call("DELETE", "/model-versions/delete", {"name": name, "version": str(version)})

    def rename(self, name: str, new_name: str) -> None:
        self.call("POST", "/registered-models/rename", {"name": name, "new_name": new_name})

    def update_version(self, name: str, version: str, description: str) -> None:
        self.call("PATCH", "/model-versions/update", {"name": name, "version": str(version), "description": description})


def populate_scale(rest: Rest, models: int, versions_per_model: int, *, prefix: str = "scale",
                   threads: int = 4) -> int:
    """models x versions_per_model versions, each with its own finished run (params, metrics);
    models are filled `threads` at a time."""
    from concurrent.futures import ThreadPoolExecutor

    rest.experiment()

    def fill(m: int) -> int:
        name = f"{prefix}-{m:03d}"
        rest.model(name, description=f"model {m}", tags={"team": f"t{m % 7}"})
        for v in range(versions_per_model):
            run_id = rest.run(params={"eta": str(0.01 * (v + 1)), "depth": str(3 + v % 5)},
                              metrics={"auc": 0.5 + (m * versions_per_model + v) % 50 / 100, "loss": 1.0 / (v + 1)})
            rest.version(name, source=f"s3://models/{name}/{v + 1}", run_id=run_id, tags={"n": str(v)})
        rest.alias(name, "production", str(versions_per_model))
        return versions_per_model

    with ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(fill, range(models)))


class FaultProxy:
    """An HTTP proxy to a real server that can misbehave on purpose, for fault tests.

    mode: None (pass through), "status:NNN" (answer NNN with MLflow's body for it), "garbage"
    (200 with a body that is not JSON), "hang" (hold the request until released or the client
    gives up), "page-token:NNN" (pass the first page, answer NNN to any request with a page_token).
    """

    def __init__(self, upstream: str, ssl_context: Any = None):
        self.upstream = upstream
        self.mode: str | None = None
        self.release = threading.Event()
        self.seen: list[str] = []
        self.headers: list[dict[str, str]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                proxy.seen.append(f"{self.command} {self.path}")
                proxy.headers.append({k.lower(): v for k, v in self.headers.items()})
                mode = proxy.mode or ""
                if mode.startswith("status:"):
                    return self._fault(int(mode.split(":")[1]))
                if mode == "garbage":
                    return self._answer(200, b"<html>proxy error page</html>", "text/html")
                if mode == "hang":
                    proxy.release.wait(60)
                    return self._answer(504, b"released")
                if mode.startswith("page-token:") and "page_token=" in self.path:
                    return self._fault(int(mode.split(":")[1]))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                with httpx.Client(timeout=60) as client:
                    upstream = client.request(self.command, proxy.upstream + self.path, content=body, headers=headers)
                self._answer(upstream.status_code, upstream.content,
                             upstream.headers.get("content-type", "application/json"))

            def _fault(self, status: int) -> None:
                # The bodies MLflow sends: its basic-auth app (mlflow/server/auth/__init__.py) for 401/403,
                # its error JSON (mlflow/server/handlers.py, catch_mlflow_exception) otherwise.
                if status == 401:
                    text = b"You are not authenticated. Please see the docs on how to authenticate."
                    return self._answer(401, text, "text/html")
                if status == 403:
                    return self._answer(403, b"Permission denied", "text/html")
                code = {400: "INVALID_PARAMETER_VALUE", 404: "RESOURCE_DOES_NOT_EXIST"}.get(status, "INTERNAL_ERROR")
                payload = {"error_code": code, "message": f"injected {status}"}
                if status == 400 and "page_token=" in self.path:
                    payload["message"] = "Invalid page token, could not base64-decode"
                return self._answer(status, json.dumps(payload).encode())

            do_GET = do_POST = do_DELETE = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # a client that gave up on a held request
        if ssl_context is not None:  # an HTTPS front, for the TLS settings
            self.server.socket = ssl_context.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if ssl_context is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
