"""The sandbox's metrics: an HTTP exporter on 127.0.0.1 plus, when the `prometheus` binary is on
PATH, a real Prometheus scraping it with hours of history backfilled by promtool.

    sandbox = MetricsSandbox(state_dir, cluster, seed=0, profile="knative")
    url = sandbox.start()        # Prometheus URL, or None (then sandbox.message says why)
    ...
    sandbox.stop()

How the history stays consistent with the live exporter:
- the simulation (console/sandbox/metrics_model.py) runs from T0 - history to T0 under the
  current traffic split, writing every series every `backfill_step` seconds as OpenMetrics;
  `promtool tsdb create-blocks-from openmetrics` turns that into blocks (aligned on 2 h
  boundaries) in Prometheus's data dir before Prometheus starts, with a retention long enough
  that nothing is deleted at once;
- the exporter then continues the same counters from T0 in `tick`-second steps, following the
  live split read from `cluster.inference_services()` at every scrape;
- scraped series lose the scrape's job/instance labels (metric_relabel_configs), so a scraped
  series continues the very backfilled series with the same labels and increase() spans the
  junction; series that carry their own job/instance (OpenTelemetry's, joined with target_info
  on them) keep those (honor_labels), in the history and live alike. Queries aggregate by the
  namespace and revision labels, which is what works against a real deployment too.
- `profile` picks whose request metrics the exporter speaks (metrics_model.EMISSIONS); the
  default is Knative's queue-proxy, what a Serverless-mode KServe install has out of the box.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from console.sandbox import die_with_parent
from console.sandbox.metrics_model import EMISSIONS, Simulation, backfill_openmetrics
from console.sandbox.server_base import SandboxHTTPServer

DEFAULT_PROFILE = "knative"  # what a Serverless-mode KServe install exports out of the box

INSTALL_HINT = "prometheus not found on PATH: apt-get install prometheus"
SCRAPE_JOB = "mlops-sandbox-models"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Exporter:
    """GET /metrics: the simulation's counters in the Prometheus text format."""

    def __init__(self, sim: Simulation, cluster, start_time: float, tick: float = 5.0,
                 clock: Callable[[], float] = time.time):
        self.sim = sim
        self.cluster = cluster
        self.tick = tick
        self.clock = clock
        self.t = start_time  # the simulation has advanced up to here
        self._lock = threading.Lock()
        self._last_isvcs: list = []
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url: str | None = None

    def advance(self, now: float | None = None) -> None:
        now = self.clock() if now is None else now
        with self._lock:
            try:
                self._last_isvcs = self.cluster.inference_services()
            except Exception:  # the cluster being unwell must not take the exporter down
                pass
            specs = self.sim.specs(self._last_isvcs)
            for spec in specs:
                self.sim.state(spec)
            target = (now // self.tick) * self.tick
            while self.t + self.tick <= target + 1e-9:
                self.sim.tick(specs, self.t, self.tick)
                self.t += self.tick

    def render(self, now: float | None = None) -> str:
        self.advance(now)
        with self._lock:
            return self.sim.exposition()

    def start(self) -> str:
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404, "only /metrics here")
                    return
                body = exporter.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = SandboxHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-exporter", daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class PrometheusProcess:
    """A Prometheus on a free loopback port with its TSDB under `data_dir`."""

    def __init__(self, workdir: Path, binary: str, promtool: str | None = None):
        self.workdir = Path(workdir)
        self.binary = binary
        self.promtool = promtool
        self.data_dir = self.workdir / "data"
        self.log_path = self.workdir / "prometheus.log"
        self.proc: subprocess.Popen | None = None
        self.url: str | None = None

    def backfill(self, openmetrics_file: Path, timeout: float = 120) -> None:
        """Create TSDB blocks from an OpenMetrics file (2 h blocks, aligned)."""
        if not self.promtool:
            raise RuntimeError("promtool not found on PATH: apt-get install prometheus")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([self.promtool, "tsdb", "create-blocks-from", "openmetrics",
                               str(openmetrics_file), str(self.data_dir)],
                              capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"promtool could not backfill the history: {tail[0][:200]}")

    def write_config(self, targets: list[str], scrape_interval: float, labels: Mapping[str, str] | None = None) -> Path:
        lines = [
            "global:",
            f"  scrape_interval: {scrape_interval:g}s",
            f"  scrape_timeout: {max(min(scrape_interval - 1, 10), 1):g}s",
            f"  evaluation_interval: {scrape_interval:g}s",
            "scrape_configs:",
            f"  - job_name: {SCRAPE_JOB}",
            "    honor_labels: true",
            "    static_configs:",
            "      - targets: [" + ", ".join(f'"{t}"' for t in targets) + "]",
            *([f"        labels: {{{', '.join(f'{k}: {v!r}' for k, v in labels.items())}}}"] if labels else []),
            # The scrape's own job/instance go (backfilled history has none, so series continue);
            # series that name their own (OpenTelemetry's, joined with target_info) keep them.
            "    metric_relabel_configs:",
            *[line for label in ("instance", "job") for line in (
                "      - source_labels: [job]",
                f"        regex: {SCRAPE_JOB}",
                f"        target_label: {label}",
                '        replacement: ""')],
        ]
        path = self.workdir / "prometheus.yml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self, targets: list[str], scrape_interval: float = 5.0, retention: str = "30d",
              ready_timeout: float = 30.0, labels: Mapping[str, str] | None = None) -> str:
        """Start scraping `targets`; `labels` are added to their series, as a Kubernetes scrape
        adds the pod's namespace."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.write_config(targets, scrape_interval, labels)
        last_error = "did not start"
        for _attempt in range(3):  # a free port can be taken between probing and binding
            port = free_port()
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                [self.binary, f"--config.file={config}", f"--storage.tsdb.path={self.data_dir}",
                 f"--storage.tsdb.retention.time={retention}", f"--web.listen-address=127.0.0.1:{port}",
                 "--log.level=warn"],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
                preexec_fn=die_with_parent)
            log.close()
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + ready_timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    last_error = f"exited with code {self.proc.returncode}: {self._log_tail()}"
                    break
                try:
                    with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as r:
                        if r.status == 200:
                            self.url = url
                            return url
                except (urllib.error.URLError, OSError):
                    pass
                time.sleep(0.05)
            else:
                last_error = f"not ready after {ready_timeout:g} s"
                self.stop()
                break
        raise RuntimeError(f"prometheus {last_error}")

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return lines[-1][:300] if lines else "no log"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None


class MetricsSandbox:
    """The exporter and (when installed) a real Prometheus with backfilled history."""

    def __init__(self, state_dir: Path, cluster, *, seed: int = 0, history_hours: float = 6.5,
                 backfill_step: float = 60.0, tick: float = 5.0, scrape_interval: float = 5.0,
                 models: Mapping | None = None, rates: Mapping[str, float] | None = None,
                 prometheus: str | None = None, promtool: str | None = None,
                 clock: Callable[[], float] = time.time, profile: str = DEFAULT_PROFILE):
        if profile not in EMISSIONS:
            raise ValueError(f"unknown metrics profile {profile!r}: use one of {', '.join(EMISSIONS)}")
        self.profile = profile
        self.state_dir = Path(state_dir)
        self.cluster = cluster
        self.seed = seed
        self.history_hours = history_hours
        self.backfill_step = backfill_step
        self.tick = tick
        self.scrape_interval = scrape_interval
        self.models = models
        self.rates = rates
        self._prometheus_bin = prometheus
        self._promtool_bin = promtool
        self.clock = clock
        self.message: str | None = None
        self.exporter: Exporter | None = None
        self.prometheus: PrometheusProcess | None = None
        self.prometheus_url: str | None = None
        self.exporter_url: str | None = None
        self.history_start: float | None = None
        self.history_end: float | None = None
        self.samples_backfilled = 0

    def _which(self, name: str, override: str | None) -> str | None:
        if override is not None:
            return override if (os.path.isabs(override) and os.access(override, os.X_OK)) else shutil.which(override)
        return shutil.which(name)

    def start(self) -> str | None:
        """Start the exporter, then Prometheus if it is installed. Returns the Prometheus URL,
        or None with `.message` saying why there is none."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        sim = Simulation(self.seed, self.models, self.rates, self.profile)
        t0 = (self.clock() // self.backfill_step) * self.backfill_step
        start = t0 - self.history_hours * 3600
        specs = sim.specs(self.cluster.inference_services())
        prom_bin = self._which("prometheus", self._prometheus_bin)
        promtool = self._which("promtool", self._promtool_bin)
        work = self.state_dir / "prometheus"
        om_path = work / "history.om"
        if prom_bin and promtool:
            if work.exists():
                shutil.rmtree(work)  # a fresh TSDB: old blocks would overlap the new history
            work.mkdir(parents=True)
            with open(om_path, "w", encoding="utf-8") as fh:
                self.samples_backfilled = backfill_openmetrics(sim, specs, start, t0, self.backfill_step, fh)
        else:
            with open(os.devnull, "w") as fh:  # same counters, nothing to keep
                backfill_openmetrics(sim, specs, start, t0, self.backfill_step, fh)
        self.history_start, self.history_end = start, t0
        self.exporter = Exporter(sim, self.cluster, t0, self.tick, self.clock)
        self.exporter_url = self.exporter.start()
        if not prom_bin or not promtool:
            self.message = INSTALL_HINT if not prom_bin else "promtool not found on PATH: apt-get install prometheus"
            return None
        self.prometheus = PrometheusProcess(work, prom_bin, promtool)
        try:
            self.prometheus.backfill(om_path)
            om_path.unlink(missing_ok=True)
            target = self.exporter_url.removeprefix("http://")
            self.prometheus_url = self.prometheus.start([target], self.scrape_interval)
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            self.message = f"sandbox Prometheus is not running: {exc}"
            self.prometheus.stop()
            return None
        self.message = None
        return self.prometheus_url

    def stop(self) -> None:
        if self.prometheus is not None:
            self.prometheus.stop()
        if self.exporter is not None:
            self.exporter.stop()
        self.prometheus_url = None
