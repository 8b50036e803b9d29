"""Benchmark: the Rollouts screen with 2,000 InferenceServices across 20 namespaces, live from the
sandbox Kubernetes API over HTTPS (issue 3's targets).

    .venv/bin/python tests/bench/bench_rollouts_screen.py [--isvcs 2000] [--namespaces 20]
                                                          [--seconds 60] [--rate 50]

The sandbox runs in a child process (as `mlops-console demo` runs it), so the console's memory and
CPU are measured alone. Every figure is printed next to a baseline measured in the same run,
because absolute times on these 2-core machines drift by 25% or more:

1. initial list -> rendered table: from switching to the screen until all rows are in the table and
   a frame has been drawn, vs a bare Textual app mounting an empty DataTable (same process, same size);
2. watch event -> row updated (median of single changes): from the moment the cluster commits the
   status carrying the new split (a listener in the store, CLOCK_MONOTONIC shared by both
   processes) until the screen has updated that row's cells, vs one GET of a single object;
3. 50 changes/s for 60 s: each change moves one canary's percentage, the simulator answers with a
   new status; the screen must apply every one (lag percentiles, and how far behind it is when the
   load stops), and its RSS may grow by no more than 10%.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


# -- the child: a sandbox with many InferenceServices, driven over stdin ------------------------------

def serve(state_dir: Path, n: int, namespaces: int) -> int:
    from console.sandbox.runner import Sandbox

    sb = Sandbox(state_dir, prometheus=False, kfp=False, catalog=False, seed=False, ready_delay=0.0, pods=False,
                 bookmark_interval=5.0, history=max(5000, 10 * n))
    sb.start()
    cluster = sb.cluster
    keys = cluster.bulk_create(n, namespaces)
    for ns, name in keys:  # every object mid-canary: a second revision at 10%
        sb.controller.sync(ns, name, ready_delay=0)
        obj = cluster.get("inferenceservices", ns, name)
        obj["spec"]["predictor"]["model"]["storageUri"] = "s3://mlops-models/bench/v2"
        obj["spec"]["predictor"]["canaryTrafficPercent"] = 10
        cluster.update("inferenceservices", ns, name, obj)
        sb.controller.sync(ns, name, ready_delay=0)
    expected: dict[str, int] = {}
    lock = threading.Lock()
    out_lock = threading.Lock()

    def say(line: str) -> None:
        with out_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def listener(ev) -> None:
        if ev.resource != "inferenceservices" or ev.type != "MODIFIED":
            return
        key = f"{ev.namespace}/{ev.obj['metadata']['name']}"
        with lock:
            want = expected.get(key)
        if want is None:
            return
        traffic = (((ev.obj.get("status") or {}).get("components") or {}).get("predictor") or {}).get("traffic") or []
        latest = [t.get("percent") for t in traffic if t.get("latestRevision")]
        if latest and latest[0] == want:
            with lock:
                expected.pop(key, None)
            say(f"event {key} {want} {time.monotonic():.6f}")

    cluster.add_listener(listener)
    rng = random.Random(7)
    current = {f"{ns}/{name}": 10 for ns, name in keys}

    def change() -> None:
        ns, name = keys[rng.randrange(len(keys))]
        key = f"{ns}/{name}"
        with lock:
            if key in expected:
                return
            pct = rng.choice([p for p in range(5, 96, 5) if p != current[key]])
            expected[key] = pct
        current[key] = pct
        obj = cluster.get("inferenceservices", ns, name)
        obj["spec"]["predictor"]["canaryTrafficPercent"] = pct
        cluster.update("inferenceservices", ns, name, obj)

    say(f"ready {sb.kubeconfig_path}")
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "change":
            change()
        elif words[0] == "load":
            seconds, rate = float(words[1]), float(words[2])
            start = time.monotonic()
            count = 0
            while time.monotonic() - start < seconds:
                change()
                count += 1
                delay = start + count / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            say(f"loaded {count}")
        elif words[0] == "quit":
            break
    sb.stop()
    return 0


# -- the parent: the console ------------------------------------------------------------------------

def rss_kb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def bare_table_seconds(size=(80, 24), repeat: int = 3) -> float:
    from textual.app import App
    from textual.widgets import DataTable, Footer, Static

    class Bare(App):
        def compose(self):
            yield Static("bare")
            yield DataTable()
            yield Footer()

    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        app = Bare()
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            samples.append(time.perf_counter() - start)
    return statistics.median(samples)


class Child:
    def __init__(self, state_dir: Path, n: int, namespaces: int):
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(state_dir), "--isvcs", str(n), "--namespaces", str(namespaces)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1, cwd=str(ROOT))
        self.events: list[tuple[str, int, float]] = []
        self.loaded = threading.Event()
        self.ready = threading.Event()
        self.kubeconfig = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            words = line.split()
            if not words:
                continue
            if words[0] == "ready":
                self.kubeconfig = words[1]
                self.ready.set()
            elif words[0] == "event":
                self.events.append((words[1], int(words[2]), float(words[3])))
            elif words[0] == "loaded":
                self.loaded.set()

    def send(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        try:
            self.send("quit")
            self.proc.wait(timeout=20)
        except Exception:
            self.proc.kill()


def latencies(events, ui_log) -> tuple[list[float], int]:
    """For each committed event, the first UI update of that key showing that percentage after it."""
    by_key: dict[str, list[tuple[float, int | None]]] = {}
    for t, key, pct in ui_log:
        by_key.setdefault(key, []).append((t, pct))
    out, missing = [], 0
    for key, pct, t_event in events:
        hit = next((t for t, shown in by_key.get(key, []) if shown == pct and t >= t_event), None)
        if hit is None:
            missing += 1
        else:
            out.append(hit - t_event)
    return out, missing


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def run(n: int, namespaces: int, seconds: float, rate: float, singles: int = 60) -> dict:
    from console.app import MlopsConsole
    from console.config import Settings
    from console.context import Context
    from screens.rollouts import PAGE

    results: dict = {"isvcs": n, "namespaces": namespaces, "page": PAGE}
    results["baseline_bare_table_s"] = await bare_table_seconds()
    with tempfile.TemporaryDirectory() as state:
        child = Child(Path(state), n, namespaces)
        try:
            if not child.ready.wait(300):
                raise RuntimeError("the sandbox child did not start")
            settings = Settings(catalog=Path(state) / "catalog.db", audit=Path(state) / "audit.db",
                                kubeconfig=child.kubeconfig)
            from adapters.kube import KubeClient

            with KubeClient(child.kubeconfig) as probe:  # baseline for the latency: one GET round trip
                probe.get_raw("bench-ns-00", "bench-model-00000")
                samples = []
                for _ in range(20):
                    start = time.perf_counter()
                    probe.get_raw("bench-ns-00", "bench-model-00000")
                    samples.append(time.perf_counter() - start)
                results["baseline_get_s"] = statistics.median(samples)

            async def open_screen(app, pilot) -> float:
                await pilot.pause()
                start = time.perf_counter()
                await pilot.press("3")
                # Every object listed, and the table holding its window of rows (screens.rollouts.PAGE).
                while not (app.current_mode == "rollouts" and app.screen.query("#isvcs")
                           and len(app.screen._items) >= n
                           and app.screen.query_one("#isvcs").row_count >= min(n, PAGE)):
                    if time.perf_counter() - start > 120:
                        raise RuntimeError("the table did not fill in 120 s")
                    await asyncio.sleep(0.005)
                await pilot.pause()  # one frame with the rows
                return time.perf_counter() - start

            # Cold: the first time in this process (imports kubernetes, builds the client, TLS).
            cold_app = MlopsConsole(Context(settings), cursor_blink=False)
            async with cold_app.run_test(size=(80, 24)) as pilot:
                results["cold_open_to_table_s"] = await open_screen(cold_app, pilot)
            # Warm: a new console in the same process: its own client, TLS handshake, list, rows.
            app = MlopsConsole(Context(settings), cursor_blink=False)
            async with app.run_test(size=(80, 24)) as pilot:
                results["initial_list_to_table_s"] = await open_screen(app, pilot)
                results["initial_ratio"] = results["initial_list_to_table_s"] / results["baseline_bare_table_s"]

                screen = app.screen
                ui_log: list[tuple[float, str, int | None]] = []
                original = screen._sync_rows

                def hooked(only=None):
                    original(only)
                    if only is not None:
                        isvc = screen._items.get(only)
                        if isvc is not None:
                            ui_log.append((time.monotonic(), only, isvc.latest_percent))

                screen._sync_rows = hooked

                # 2. single changes, one at a time
                before = len(child.events)
                for _ in range(singles):
                    child.send("change")
                    await asyncio.sleep(0.1)
                await asyncio.sleep(1.0)
                single, missing = latencies(child.events[before:], ui_log)
                results["watch_to_row_median_s"] = statistics.median(single) if single else float("nan")
                results["watch_to_row_p95_s"] = pct(single, 0.95)
                results["watch_ratio"] = results["watch_to_row_median_s"] / results["baseline_get_s"]
                results["single_changes_missed"] = missing

                # 3. sustained load
                rss_start = rss_kb()
                rss_peak = rss_start
                before = len(child.events)
                ui_log.clear()
                child.send(f"load {seconds} {rate}")
                load_start = time.monotonic()
                while not child.loaded.is_set():
                    await asyncio.sleep(0.25)
                    rss_peak = max(rss_peak, rss_kb())
                load_end = time.monotonic()
                # How long until every committed change is on screen?
                deadline = time.monotonic() + 30
                while True:
                    lat, missing = latencies(child.events[before:], ui_log)
                    if not missing or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.05)
                caught_up = time.monotonic() - load_end
                rss_end = rss_kb()
                results.update({
                    "load_seconds": round(load_end - load_start, 1),
                    "load_changes": len(child.events) - before,
                    "load_changes_per_s": (len(child.events) - before) / max(0.001, load_end - load_start),
                    "load_lag_median_s": statistics.median(lat) if lat else float("nan"),
                    "load_lag_p95_s": pct(lat, 0.95),
                    "load_lag_max_s": max(lat) if lat else float("nan"),
                    "load_missed": missing,
                    "caught_up_after_load_s": caught_up,
                    "rss_start_mb": rss_start / 1024, "rss_end_mb": rss_end / 1024, "rss_peak_mb": rss_peak / 1024,
                    "rss_growth": (rss_end - rss_start) / rss_start,
                })
        finally:
            child.close()
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--isvcs", type=int, default=2000)
    p.add_argument("--namespaces", type=int, default=20)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--rate", type=float, default=50.0)
    p.add_argument("--serve", metavar="STATE_DIR", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve:
        return serve(Path(args.serve), args.isvcs, args.namespaces)
    r = asyncio.run(run(args.isvcs, args.namespaces, args.seconds, args.rate))
    print(json.dumps(r, indent=2, default=lambda v: round(v, 4)))
    print(f"initial list -> rendered table: {r['initial_list_to_table_s']:.3f} s for {r['isvcs']} rows "
          f"listed, first {r['page']} in the table ({r['initial_ratio']:.1f}x a bare app mounting an empty DataTable, {r['baseline_bare_table_s']:.3f} s); "
          f"target <= 1 s; cold, with the first import of kubernetes: {r['cold_open_to_table_s']:.3f} s")
    print(f"watch event -> row updated: median {r['watch_to_row_median_s'] * 1000:.1f} ms, "
          f"p95 {r['watch_to_row_p95_s'] * 1000:.1f} ms ({r['watch_ratio']:.1f}x one GET round trip, "
          f"{r['baseline_get_s'] * 1000:.1f} ms); target <= 100 ms median")
    print(f"{r['load_changes_per_s']:.0f} changes/s for {r['load_seconds']:.0f} s: lag median "
          f"{r['load_lag_median_s'] * 1000:.0f} ms, p95 {r['load_lag_p95_s'] * 1000:.0f} ms, max "
          f"{r['load_lag_max_s'] * 1000:.0f} ms, missed {r['load_missed']}, all on screen "
          f"{r['caught_up_after_load_s']:.2f} s after the load stopped; RSS {r['rss_start_mb']:.0f} -> "
          f"{r['rss_end_mb']:.0f} MB ({r['rss_growth'] * 100:+.1f}%, peak {r['rss_peak_mb']:.0f} MB); "
          f"target <= +10%")
    return 0


def test_bench_rollouts_screen():
    """For `pytest tests/bench/bench_rollouts_screen.py -s -o python_files='bench_*.py'`."""
    assert main(["--seconds", os.environ.get("BENCH_SECONDS", "60")]) == 0


if __name__ == "__main__":
    raise SystemExit(main())
