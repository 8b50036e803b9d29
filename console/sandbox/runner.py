"""Start and stop the whole sandbox: the Kubernetes API (with the KServe simulator and the demo
world), and, when their modules are importable, the demo catalog, the Kubeflow Pipelines
endpoint and the metrics exporter / Prometheus. Writes DIR/kubeconfig and DIR/endpoints.json.

In-process:   sb = Sandbox(tmp_path); endpoints = sb.start(); ...; sb.stop()
Foreground:   python -m console.sandbox.runner up --state-dir DIR
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from console.sandbox import tls as tls_mod
from console.sandbox.kserve_sim import KServeController, seed_demo
from console.sandbox.kube_api import KubeApiServer, User, default_users
from console.sandbox.kube_pods import PodSimulator
from console.sandbox.kube_store import ClusterState, random_token

if TYPE_CHECKING:  # both load at start(), and only when asked for
    from console.sandbox.kfp_server import KfpSandbox
    from console.sandbox.metrics_server import MetricsSandbox

ADMIN_CONTEXT = "sandbox-admin"
VIEWER_CONTEXT = "sandbox-viewer"
CLUSTER_NAME = "mlops-sandbox"
# Kubeflow users, as the gateway names them in the kubeflow-userid header (multi-user KFP)
KFP_USER_HEADER = "kubeflow-userid"
KFP_ADMIN_USER, KFP_VIEWER_USER = "admin@example.com", "viewer@example.com"


def kubeconfig_text(server: str, ca_pem: bytes, admin_token: str, viewer_token: str) -> str:
    ca = base64.b64encode(ca_pem).decode()
    return f"""apiVersion: v1
kind: Config
preferences: {{}}
clusters:
- name: {CLUSTER_NAME}
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: {ADMIN_CONTEXT}
  user:
    token: {admin_token}
- name: {VIEWER_CONTEXT}
  user:
    token: {viewer_token}
contexts:
- name: {ADMIN_CONTEXT}
  context:
    cluster: {CLUSTER_NAME}
    user: {ADMIN_CONTEXT}
- name: {VIEWER_CONTEXT}
  context:
    cluster: {CLUSTER_NAME}
    user: {VIEWER_CONTEXT}
current-context: {ADMIN_CONTEXT}
"""


class Sandbox:
    """The sandbox, in-process. `cluster` is the thread-safe store behind the API server."""

    def __init__(self, state_dir: Path, *, prometheus: bool = True, kfp: bool = True, catalog: bool = True,
                 seed: bool = True, ready_delay: float = 0.5, bookmark_interval: float = 60.0,
                 history: int = 1000, watch_timeout: float = 1800.0, metrics_profile: str = "knative",
                 kfp_multi_user: bool = False, pods: bool = True, scrape_interval: float = 5.0):
        self.state_dir = Path(state_dir)
        self.want_prometheus, self.want_kfp, self.want_catalog, self.seed = prometheus, kfp, catalog, seed
        self.kfp_multi_user = kfp_multi_user
        self.cluster = ClusterState(history=history)
        self.controller = KServeController(self.cluster, ready_delay=ready_delay)
        # the pods kubelet would run, with their logs and Events (pods=False: benchmarks of the API alone)
        self.pods = PodSimulator(self.cluster, self.controller) if pods else None
        self.bookmark_interval = bookmark_interval
        self.metrics_profile = metrics_profile
        self.scrape_interval = scrape_interval  # the exporter's tick and Prometheus's scrape (short for tests)
        self.watch_timeout = watch_timeout
        self.admin_token = random_token()
        self.viewer_token = random_token()
        self.kube: KubeApiServer | None = None
        self.kfp: KfpSandbox | None = None
        self.metrics: MetricsSandbox | None = None
        self.messages: dict[str, str] = {}
        self.endpoints: dict = {}
        self.kubeconfig_path = self.state_dir / "kubeconfig"
        self.endpoints_path = self.state_dir / "endpoints.json"

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> dict:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        material = tls_mod.generate(self.state_dir / "pki")
        if self.seed:
            seed_demo(self.cluster, self.controller)
        self.controller.start()
        users = default_users(self.admin_token, self.viewer_token)
        users[random_token()] = User(KFP_ADMIN_USER, "admin", ("system:authenticated",), "kubeflow-admin-uid")
        users[random_token()] = User(KFP_VIEWER_USER, "viewer", ("system:authenticated",), "kubeflow-viewer-uid")
        self.kube = KubeApiServer(self.cluster, users,
                                  ssl_context=material.server_context(), bookmark_interval=self.bookmark_interval,
                                  watch_timeout=self.watch_timeout)
        kube_url = self.kube.start()
        self.kubeconfig_path.touch(mode=0o600)
        self.kubeconfig_path.write_text(kubeconfig_text(kube_url, material.ca_pem, self.admin_token,
                                                        self.viewer_token))
        catalog_path = self._start_catalog()
        kfp_url = self._start_kfp(catalog_path, kube_url, str(material.ca_path))
        prometheus_url = self._start_metrics()
        self.endpoints = {
            "kubeconfig": str(self.kubeconfig_path),
            "contexts": {"admin": ADMIN_CONTEXT, "viewer": VIEWER_CONTEXT},
            "kube_url": kube_url,
            "kfp_url": kfp_url,
            "kfp_multi_user": bool(kfp_url and self.kfp_multi_user),
            "kfp_user_header": f"{KFP_USER_HEADER}: {KFP_ADMIN_USER}" if kfp_url and self.kfp_multi_user else None,
            "prometheus_url": prometheus_url,
            "metrics_profile": self.metrics_profile if prometheus_url else None,
            "catalog": str(catalog_path) if catalog_path else None,
            "ca": str(material.ca_path),
            "messages": dict(self.messages),
            "pid": os.getpid(),
        }
        tmp = self.endpoints_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.endpoints, indent=2) + "\n")
        tmp.replace(self.endpoints_path)
        return dict(self.endpoints)

    def _start_catalog(self) -> Path | None:
        if not self.want_catalog:
            return None
        try:
            from console.demo_catalog import build_demo_catalog
        except ImportError as exc:
            self.messages["catalog"] = f"demo catalog not available: {exc}"
            return None
        path = self.state_dir / "catalog.db"
        try:
            if not path.exists():
                build_demo_catalog(path)
        except Exception as exc:  # another part's failure must not take the cluster down
            self.messages["catalog"] = f"demo catalog failed: {exc}"
            return None
        return path

    def _start_kfp(self, catalog_path: Path | None, kube_url: str, ca_file: str) -> str | None:
        if not self.want_kfp:
            return None
        try:
            from console.sandbox.kfp_server import KfpSandbox, KubeAuthorizer
        except ImportError as exc:
            self.messages["kfp"] = f"pipelines sandbox not available: {exc}"
            return None
        try:
            # multi-user KFP asks the cluster's RBAC, as its service account may (TokenReview, SubjectAccessReview)
            authorizer = KubeAuthorizer(kube_url, self.admin_token, ca_file) if self.kfp_multi_user else None
            self.kfp = KfpSandbox(self.state_dir, catalog_path, multi_user=self.kfp_multi_user, authorizer=authorizer,
                                  user_header=KFP_USER_HEADER)
            url = self.kfp.start()
            from console.sandbox.kfp_pods import seed_kfp_pods
            seed_kfp_pods(self.cluster, self.kfp.world, self.kfp.now())  # the task pods and their logs
            return url
        except Exception as exc:
            self.messages["kfp"] = f"pipelines sandbox failed: {exc}"
            self.kfp = None
            return None

    def _start_metrics(self) -> str | None:
        if not self.want_prometheus:
            return None
        try:
            from console.sandbox.metrics_server import MetricsSandbox
        except ImportError as exc:
            self.messages["prometheus"] = f"metrics sandbox not available: {exc}"
            return None
        try:
            self.metrics = MetricsSandbox(self.state_dir, self.cluster, profile=self.metrics_profile,
                                          tick=self.scrape_interval, scrape_interval=self.scrape_interval)
            url = self.metrics.start()
            if self.metrics.message:
                self.messages["prometheus"] = self.metrics.message
            return url
        except Exception as exc:
            self.messages["prometheus"] = f"metrics sandbox failed: {exc}"
            self.metrics = None
            return None

    def stop(self) -> None:
        for part in (self.metrics, self.kfp):
            if part is not None:
                try:
                    part.stop()
                except Exception:
                    pass
        self.cluster.close()
        if self.kube is not None:
            self.kube.stop()
        self.controller.stop()

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- conveniences for tests ------------------------------------------------------------------
    @property
    def kube_url(self) -> str:
        return self.kube.url if self.kube else ""

    def kubectl_env(self, context: str = ADMIN_CONTEXT) -> dict:
        env = dict(os.environ)
        env["KUBECONFIG"] = str(self.kubeconfig_path)
        env.pop("HTTPS_PROXY", None)
        env.pop("https_proxy", None)
        return env


def usage_text(endpoints: dict) -> str:
    lines = ["mlops-console sandbox is up (127.0.0.1 only). Endpoints:",
             f"  Kubernetes API  {endpoints['kube_url']}",
             f"  Pipelines (KFP) {endpoints.get('kfp_url') or '-'}"
             + (" (multi-user)" if endpoints.get("kfp_multi_user") else ""),
             f"  Prometheus      {endpoints.get('prometheus_url') or '-'}"
             + (f"  (metrics as {endpoints['metrics_profile']} exports them)" if endpoints.get("metrics_profile") else ""),
             f"  Catalog         {endpoints.get('catalog') or '-'}"]
    for part, msg in (endpoints.get("messages") or {}).items():
        lines.append(f"  note ({part}): {msg}")
    lines += ["",
              "Use it:",
              f"  export KUBECONFIG={endpoints['kubeconfig']}",
              "  kubectl get isvc -A",
              f"  kubectl --context {VIEWER_CONTEXT} get isvc -A     (read-only identity: writes get 403)",
              *([f"  export MLOPS_CONSOLE_KFP_USER_HEADER='{endpoints['kfp_user_header']}'   (multi-user KFP: "
                 "who you are; pass -n NAMESPACE)"] if endpoints.get("kfp_user_header") else []),
              f"  endpoints: {Path(endpoints['kubeconfig']).parent / 'endpoints.json'}",
              "",
              "Press Ctrl-C to stop."]
    return "\n".join(lines)


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "mlops-console" / "sandbox"


def run_foreground(state_dir: Path, *, out: TextIO = sys.stdout, prometheus: bool = True, kfp: bool = True,
                   catalog: bool = True, seed: bool = True, ready_delay: float = 0.5,
                   as_json: bool = False, stop_event: threading.Event | None = None,
                   metrics_profile: str = "knative", kfp_multi_user: bool = False,
                   scrape_interval: float = 5.0) -> int:
    """Start the sandbox, print how to use it, and serve until SIGINT/SIGTERM (or stop_event)."""
    stop = stop_event or threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    sandbox = Sandbox(Path(state_dir), prometheus=prometheus, kfp=kfp, catalog=catalog, seed=seed,
                      ready_delay=ready_delay, metrics_profile=metrics_profile, kfp_multi_user=kfp_multi_user,
                      scrape_interval=scrape_interval)
    try:
        endpoints = sandbox.start()
        out.write((json.dumps(endpoints) if as_json else usage_text(endpoints)) + "\n")
        out.flush()
        while not stop.wait(0.5):
            pass
    finally:
        sandbox.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not as_json:
        out.write("sandbox stopped\n")
    return 0


def up_from_args(args, out: TextIO) -> int:
    from adapters.errors import InvalidInput
    from console.sandbox.metrics_model import EMISSIONS

    if args.ready_delay < 0:
        raise InvalidInput("--ready-delay must be 0 or more seconds")
    if not 1 <= getattr(args, "scrape_interval", 5.0) <= 300:
        raise InvalidInput("--scrape-interval must be from 1 to 300 seconds")
    if args.metrics_profile not in EMISSIONS:
        raise InvalidInput(f"--metrics-profile {args.metrics_profile!r} is not a profile: use one of "
                           f"{', '.join(EMISSIONS)}")
    state_dir = args.state_dir or default_state_dir()
    try:
        Path(state_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"cannot use --state-dir {state_dir}: {exc.strerror}") from None
    return run_foreground(Path(state_dir), out=out, prometheus=not args.no_prometheus, kfp=not args.no_kfp,
                          catalog=not args.no_catalog, seed=not args.empty, ready_delay=args.ready_delay,
                          as_json=getattr(args, "json", False), metrics_profile=args.metrics_profile,
                          scrape_interval=getattr(args, "scrape_interval", 5.0),
                          kfp_multi_user=getattr(args, "kfp_multi_user", False))


def main(argv: list[str] | None = None) -> int:
    from adapters.errors import ConsoleError
    from console.commands.sandbox import add_up_arguments

    parser = argparse.ArgumentParser(prog="python -m console.sandbox.runner")
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="run the sandbox in the foreground")
    add_up_arguments(up)
    up.add_argument("--json", action="store_true", help="print the endpoints as JSON")
    args = parser.parse_args(argv)
    try:
        return up_from_args(args, sys.stdout)
    except ConsoleError as exc:
        print(f"mlops-console: {exc.message}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
