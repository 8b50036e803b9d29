"""Benchmark: a live redraw of the Drift screen's PSI chart at 120x30 (issue 4: <= 60 ms).

    .venv/bin/python tests/bench/bench_drift_screen.py [--runs 30]

Runs the real app on the sandbox (Kubernetes API + a real Prometheus with backfilled history on a
fixed clock), opens the Drift screen on the canary, then measures, in the same run and the same
app at 120x30:

  baseline  the chart widget updated with an already-rendered chart (Text) and its lines
            rendered: what Textual itself costs for a panel of that size
  redraw    what a refresh does on the UI thread: the PSI chart drawn again by plotext on a
            figure of its own (threshold lines, noise floor, rollout markers), ANSI -> rich Text,
            update, lines rendered
  chart     the plotext part alone (psi_chart + Text.from_ansi), from AnsiChart.last_draw_seconds
  frame_*   the same two, end to end until the app is idle again (includes Pilot's own wait)

and prints medians, p90 and the ratios redraw / baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # metrics_fake, a test double

T0 = 1_790_000_040.0


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]


async def measure(settings, runs: int) -> dict[str, list[float]]:
    from console.app import MlopsConsole
    from console.context import Context
    from screens.drift_chart import AnsiChart

    app = MlopsConsole(Context(settings), clock=lambda: T0, cursor_blink=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("4")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            await pilot.pause(0.05)
            screen = app.screen
            if getattr(screen, "report", None) is not None or getattr(screen, "state", None):
                break
        screen = app.screen
        if screen.report is None:
            raise SystemExit(f"the drift screen has no data: {screen.state}")
        screen._deactivate()  # no scheduled refresh in the middle of the measurement

        def redraw() -> None:  # the chart draws again only when its data changed: make it forget
            chart._key = chart._shown = None
            screen._draw_chart()

        chart = screen.query_one("#drift-chart", AnsiChart)
        await pilot.pause()
        rendered = chart.render()
        from textual.geometry import Region

        crop = Region(0, 0, chart.size.width, chart.size.height)
        out: dict[str, list[float]] = {k: [] for k in ("baseline", "redraw", "chart", "frame_baseline", "frame_redraw")}
        for _ in range(3):  # warm-up
            redraw()
            await pilot.pause()
        for _ in range(runs):
            # UI-thread work: update the widget and render its lines (what blocks the event loop)
            t = time.perf_counter()
            chart.update(rendered)
            chart.render_lines(crop)
            out["baseline"].append(time.perf_counter() - t)
            await pilot.pause()
            t = time.perf_counter()
            redraw()
            chart.render_lines(crop)
            out["redraw"].append(time.perf_counter() - t)
            out["chart"].append(chart.last_draw_seconds or 0.0)
            await pilot.pause()
            # the same, end to end through the app until it is idle again (includes Pilot's wait)
            t = time.perf_counter()
            chart.update(rendered)
            await pilot.pause()
            out["frame_baseline"].append(time.perf_counter() - t)
            t = time.perf_counter()
            redraw()
            await pilot.pause()
            out["frame_redraw"].append(time.perf_counter() - t)
        size = chart.content_size
        print(f"chart panel: {size.width}x{size.height} cells, {len(screen.report.series)} features, "
              f"{len(next(iter(screen.report.series.values())))} points per series")
        return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    if not (shutil.which("prometheus") and shutil.which("promtool")):
        print("skipped: the prometheus package is not installed (apt-get install prometheus)")
        return 0
    from console.config import Settings
    from console.demo_catalog import build_demo_catalog
    from console.sandbox.metrics_server import MetricsSandbox
    from console.sandbox.runner import ADMIN_CONTEXT, Sandbox
    from metrics_fake import FakeCluster

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        kube = Sandbox(root / "kube", prometheus=False, kfp=False, catalog=False)
        kube.start()
        metrics = MetricsSandbox(root / "metrics", FakeCluster(), seed=1, clock=lambda: T0)
        try:
            url = metrics.start()
            if url is None:
                print(f"the metrics sandbox did not start Prometheus: {metrics.message}")
                return 1
            build_demo_catalog(root / "catalog.db")
            settings = Settings(catalog=root / "catalog.db", audit=root / "audit.db",
                                kubeconfig=str(kube.kubeconfig_path), context=ADMIN_CONTEXT, prometheus_url=url)
            figures = asyncio.run(measure(settings, args.runs))
        finally:
            metrics.stop()
            kube.stop()
    med = {k: statistics.median(v) for k, v in figures.items()}

    def row(label: str, key: str) -> None:
        print(f"{label:<58} median {med[key] * 1000:7.1f} ms  p90 {_p90(figures[key]) * 1000:7.1f} ms")

    row("baseline: update with a rendered chart + render lines", "baseline")
    row("redraw:   plotext chart + from_ansi + update + render lines", "redraw")
    row("  of which plotext + from_ansi", "chart")
    print(f"ratio redraw / baseline (UI-thread work): {med['redraw'] / med['baseline']:.1f}x")
    row("frame baseline: update, then Pilot waits for idle", "frame_baseline")
    row("frame redraw:   redraw, then Pilot waits for idle", "frame_redraw")
    print(f"ratio frame redraw / frame baseline: {med['frame_redraw'] / med['frame_baseline']:.2f}x")
    print(f"target: a redraw <= 60 ms at 120x30 -> UI-thread redraw {med['redraw'] * 1000:.1f} ms: "
          f"{'met' if med['redraw'] <= 0.060 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
