"""Helpers for tests that need the sandbox Kubernetes API over real sockets.

    def test_x(kube_sandbox): ...   # a module-scoped fixture, which conftest.py shares with every test

or build your own:  sb = start_kube_sandbox(path, ready_delay=0.05); ...; sb.stop()
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # conftest.py imports this module for every test run: the sandbox loads at first use
    from console.sandbox.runner import Sandbox

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
CRD = Path(__file__).resolve().parent.parent.parent / "shared" / "reference" / "kserve_inferenceservices.crd.yaml"


def start_kube_sandbox(state_dir: Path, **kwargs) -> Sandbox:
    """A sandbox with only the Kubernetes API (no catalog, KFP, Prometheus), started."""
    from console.sandbox.runner import Sandbox

    opts = dict(prometheus=False, kfp=False, catalog=False, ready_delay=0.05, bookmark_interval=0.2)
    opts.update(kwargs)
    sb = Sandbox(state_dir, **opts)
    sb.start()
    return sb


def start_progress_sandbox(state_dir: Path) -> Sandbox:
    """A cluster and a real Prometheus scraping it every second (no KFP, no catalog): what
    `rollout progress` reads. Skips without the prometheus package; fails if Prometheus does not start."""
    from console.sandbox.runner import Sandbox

    if not (shutil.which("prometheus") and shutil.which("promtool")):
        pytest.skip("the prometheus package is not installed (apt-get install prometheus)")
    sb = Sandbox(state_dir, prometheus=True, kfp=False, catalog=False, ready_delay=0.2, scrape_interval=1.0)
    endpoints = sb.start()
    if not endpoints.get("prometheus_url"):
        sb.stop()
        pytest.fail(f"the sandbox did not start Prometheus: {endpoints.get('messages')}")
    return sb


@pytest.fixture(scope="module")
def kube_sandbox(tmp_path_factory):
    sb = start_kube_sandbox(tmp_path_factory.mktemp("kube-sandbox"))
    yield sb
    sb.stop()


def kubectl(sb: Sandbox, *args: str, input: str | None = None, context: str | None = None,
            check: bool = False, timeout: float = 30) -> subprocess.CompletedProcess:
    if not os.path.exists(KUBECTL):
        pytest.skip("kubectl is not installed")
    cmd = [KUBECTL, *(["--context", context] if context else []), *args]
    res = subprocess.run(cmd, env=sb.kubectl_env(), capture_output=True, text=True, input=input, timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed ({res.returncode}): {res.stderr}")
    return res


def api_client(sb: Sandbox, context: str = "sandbox-admin"):
    """An official `kubernetes` ApiClient for a sandbox context (the global config is left alone)."""
    from kubernetes import config

    return config.new_client_from_config(config_file=str(sb.kubeconfig_path), context=context)


def wait_until(fn, timeout: float = 5.0, interval: float = 0.02):
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not reached in {timeout}s (last value: {last!r})")


def settled(isvc, percent: int) -> bool:
    """The new revision is ready and takes `percent` (while it is not ready, kubectl's LATEST already
    shows the percent, on the old revision), so the controller writes no more status."""
    return isvc.latest_percent == percent and isvc.latest_revision == isvc.latest_created_revision


def split_of(obj: dict) -> dict[str, int]:
    """{revisionName: percent} from status.components.predictor.traffic (summed per revision)."""
    out: dict[str, int] = {}
    for t in ((obj.get("status") or {}).get("components") or {}).get("predictor", {}).get("traffic") or []:
        out[t["revisionName"]] = out.get(t["revisionName"], 0) + t["percent"]
    return out
