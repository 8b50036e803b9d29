"""Benchmark: 5,000 KFP runs, paged in through adapters.pipelines from the sandbox endpoint.

    .venv/bin/python tests/bench/bench_pipelines.py [--runs 5000]

Figures are printed against a baseline measured in the same run (a bare GET /healthz through the
same client), because absolute times on these 2-core machines drift by 25% or more. The issue's
target is the first page in <= 300 ms. Pages are real-size: as KFP 2.x does, ListRuns sends every
run with its run_details and, for a run submitted as a package, its compiled pipeline_spec.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from adapters.pipelines import PipelinesClient  # noqa: E402
from console.sandbox.kfp_server import KfpSandbox  # noqa: E402


def timed(fn, repeat: int) -> float:
    """Median seconds of fn() over `repeat` calls."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run(n_runs: int = 5000, page_size: int = 50) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as state:
        build_start = time.perf_counter()
        sandbox = KfpSandbox(Path(state), n_runs=n_runs, seed=7)
        build = time.perf_counter() - build_start
        base_url = sandbox.start()
        try:
            with PipelinesClient(base_url, timeout=30) as client:
                client.healthz()  # connect, warm up
                client.list_runs(page_size=page_size)
                baseline = timed(client.healthz, 30)
                first = timed(lambda: client.list_runs(page_size=page_size, sort_by="created_at desc"), 15)
                failed_first = timed(lambda: client.list_runs(page_size=page_size, state="FAILED"), 10)
                text = timed(lambda: client.list_runs(page_size=page_size, text="fraud"), 10)
                some = client.list_runs(page_size=1).runs[0].run_id
                page_bytes = len(client._http().get("/runs", params={"page_size": page_size}).content)
                get = timed(lambda: client.get_run(some), 15)
                start = time.perf_counter()
                total = sum(1 for _ in client.iter_runs(page_size=200))
                all_pages = time.perf_counter() - start
                assert total == n_runs, total
        finally:
            sandbox.stop()
    return {"build": build, "baseline": baseline, "first_page": first, "failed_page": failed_first,
            "text_page": text, "get_run": get, "all_pages": all_pages, "page_kb": page_bytes / 1024}


def report(figures: dict[str, float], n_runs: int, page_size: int) -> None:
    base = figures["baseline"]
    print(f"KFP sandbox with {n_runs} runs (world built in {figures['build'] * 1000:.0f} ms); "
          f"a page of {page_size} is {figures['page_kb']:.0f} KB")
    print(f"  baseline GET /healthz            {base * 1000:8.2f} ms   1.0x")
    for key, label in (("first_page", f"first page ({page_size}, newest first)"),
                       ("failed_page", "first page, state = FAILED"),
                       ("text_page", "first page, name contains 'fraud'"),
                       ("get_run", "get one run with task details"),
                       ("all_pages", f"all {n_runs} runs, pages of 200")):
        print(f"  {label:<33}{figures[key] * 1000:8.2f} ms {figures[key] / base:6.1f}x")
    verdict = "meets" if figures["first_page"] <= 0.3 else "MISSES"
    print(f"  first page {figures['first_page'] * 1000:.0f} ms {verdict} the 300 ms target")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--page-size", type=int, default=50)
    args = parser.parse_args(argv)
    report(run(args.runs, args.page_size), args.runs, args.page_size)
    return 0


def test_bench_pipelines():
    """pytest tests/bench/bench_pipelines.py -s runs it too."""
    figures = run(5000, 50)
    report(figures, 5000, 50)
    assert figures["first_page"] > 0


if __name__ == "__main__":
    raise SystemExit(main())
