"""Benchmark: drift for 20 features x 6 h at 60 s steps on a real Prometheus (sandbox backfill).

    .venv/bin/python tests/bench/bench_drift.py

Measures, in the same run:
  baseline  the raw bucket range query alone (the one the drift service sends for live+stable)
  full      DriftService.report (instant + range queries, PSI/JS/floor/status per feature per
            step) plus a plotext render of the PSI chart for the top 3 features, 120x30, on a
            figure of its own (never plotext's module-global figure)
and prints medians and the ratio full / baseline (target: <= 2x, and <= 1.5 s absolute).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from adapters.metrics import MetricsClient  # noqa: E402
from console import demo_data  # noqa: E402
from console.drift_service import DriftService  # noqa: E402
from console.sandbox.metrics_server import MetricsSandbox  # noqa: E402

MODEL = "bench-model"
CANARY, STABLE = f"{MODEL}-predictor-00002", f"{MODEL}-predictor-00001"
FEATURES = tuple(demo_data.Feature(f"f{i:02d}", 10.0 * (i + 1), 2.0 + i) for i in range(20))
BENCH_MODEL = demo_data.DemoModel(MODEL, "xgboost", "2.0.3", "benchmark model", (), FEATURES, versions=2)


class BenchCluster:
    def inference_services(self):
        return [{
            "metadata": {"namespace": "bench", "name": MODEL},
            "spec": {"predictor": {"model": {"storageUri": demo_data.storage_uri(MODEL, "2")}}},
            "status": {"components": {"predictor": {"traffic": [
                {"revisionName": CANARY, "percent": 30, "latestRevision": True, "tag": "latest"},
                {"revisionName": STABLE, "percent": 70, "latestRevision": False, "tag": "prev"}]}}},
        }]


def render(report, width=120, height=30) -> str:
    from plotext._kernel.terminal import terminal

    fig = terminal()._master  # a figure of its own
    fig.plot_size(width, height)
    for f in report.features[:3]:
        pts = [(p.t, p.psi) for p in report.series[f.feature] if p.psi is not None]
        if pts:
            fig.draw(fig.signal([t for t, _ in pts], [v for _, v in pts]))
    fig.title(f"PSI {report.model}")
    return fig.build().string(colorless=True)


def timed(fn, repeat=7):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        sb = MetricsSandbox(Path(tmp), BenchCluster(), models={MODEL: BENCH_MODEL}, rates={MODEL: 10.0})
        url = sb.start()
        if url is None:
            print(f"skipped: {sb.message}")
            return 0
        try:
            client = MetricsClient(url, timeout=30)
            at = sb.history_end
            span, step = 6 * 3600, 60
            start = at - span
            service = DriftService(client)
            expr = client._feature_expr("bench", MODEL, [CANARY, STABLE], "15m")

            def raw():
                client.range(expr, start, at, step)

            chart = {}

            def full():
                rep = service.report("bench", MODEL, window="15m", reference="stable", at=at, live_revision=CANARY,
                                     stable_revision=STABLE, span=span, step=step)
                chart["text"] = render(rep)
                chart["report"] = rep

            raw()
            full()  # warm up both
            base = timed(raw)
            total = timed(full)
            rep = chart["report"]
            points = sum(len(v) for v in rep.series.values())
            print(f"features={len(rep.features)} points={points} (20 x {span // step + 1} expected)")
            print(f"raw bucket range query     median {base * 1000:7.1f} ms  (baseline)")
            print(f"query + statistics + chart median {total * 1000:7.1f} ms  ratio {total / base:.2f}x")
            print("targets: ratio <= 2.00x, absolute <= 1500 ms")
        finally:
            sb.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
