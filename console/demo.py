"""`mlops-console demo`: a local sandbox (cluster, pipelines, metrics, catalog) and the console on it.

The sandbox runs in a child process (`python -m console.sandbox.runner up`), so its servers never
compete with the UI for the interpreter, and it is stopped when the console exits.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from adapters.errors import BackendUnavailable
from console.sandbox import die_with_parent

STARTUP_TIMEOUT = 90.0


def _wait_for_endpoints(process: subprocess.Popen, endpoints: Path, log: Path) -> dict[str, Any]:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if endpoints.exists():
            try:
                return json.loads(endpoints.read_text())
            except json.JSONDecodeError:
                pass  # being written
        if process.poll() is not None:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-5:]) if log.exists() else ""
            raise BackendUnavailable(f"the sandbox exited with code {process.returncode} before it was ready "
                                     f"(log: {log}){': ' + tail if tail else ''}")
        time.sleep(0.1)
    raise BackendUnavailable(f"the sandbox did not become ready in {STARTUP_TIMEOUT:.0f} s (log: {log})")


def start_sandbox(state_dir: Path) -> tuple[subprocess.Popen, dict[str, Any]]:
    endpoints = state_dir / "endpoints.json"
    endpoints.unlink(missing_ok=True)
    log = state_dir / "sandbox.log"
    with open(log, "ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "console.sandbox.runner", "up", "--state-dir", str(state_dir)],
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=die_with_parent,  # a killed console (closed SSH session) takes its sandbox along
        )
    try:
        return process, _wait_for_endpoints(process, endpoints, log)
    except BaseException:
        stop_sandbox(process)
        raise


def stop_sandbox(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run_demo(args: Any, ctx: Any) -> int:
    from console.app import run_app

    state_dir = Path(args.state_dir) if args.state_dir else Path(tempfile.mkdtemp(prefix="mlops-console-demo-"))
    state_dir.mkdir(parents=True, exist_ok=True)
    settings = ctx.settings
    settings.audit = state_dir / "audit.db"
    process = None
    if args.no_sandbox:
        from console.demo_catalog import build_demo_catalog

        settings.catalog = state_dir / "catalog.db"
        if not settings.catalog.exists():
            build_demo_catalog(settings.catalog)
    else:
        sys.stderr.write(f"Starting the sandbox in {state_dir} …\n")
        process, endpoints = start_sandbox(state_dir)
        if endpoints.get("catalog"):
            settings.catalog = Path(endpoints["catalog"])
        settings.kubeconfig = endpoints.get("kubeconfig")
        settings.context = (endpoints.get("contexts") or {}).get("admin")
        settings.prometheus_url = settings.prometheus_url or endpoints.get("prometheus_url")
        settings.kfp_url = settings.kfp_url or endpoints.get("kfp_url")
    # As if given on the command line: settings resolved again for another context (the palette's
    # `context NAME`, the Now screen's other contexts) keep the demo's files and endpoints.
    ctx.flags = {**(ctx.flags or {}), "audit": str(settings.audit), "catalog": str(settings.catalog),
                 **{key: value for key in ("kubeconfig", "context", "prometheus_url", "kfp_url")
                    if (value := getattr(settings, key)) is not None}}
    first = getattr(args, "screen", None) or ("catalog" if args.no_sandbox else "now")
    try:
        return run_app(ctx, first)
    finally:
        if process is not None:
            stop_sandbox(process)
        sys.stderr.write(f"The demo's audit journal is {settings.audit}; read it with:\n"
                         f"  MLOPS_CONSOLE_AUDIT={settings.audit} mlops-console audit list\n")
