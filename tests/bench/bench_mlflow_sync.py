"""Benchmark: `catalog sync` of 2,000 versions across 200 models from a local MLflow server.

    .venv/bin/python tests/bench/bench_mlflow_sync.py [--models 200] [--versions 10]

Starts a real `mlflow server` (SQLite backend), fills it through its REST API (each version with
its own finished run carrying params and metrics), then measures against baselines taken in the
same run, because absolute times on these 2-core machines drift by 25% or more:
  * raw paging: every version through model-versions/search with bare httpx, no parsing;
  * raw paging + runs/get of every run with the same concurrency (the floor of a first sync).
Budgets (issue 14): a first sync in < 60 s, a no-change re-sync in under a third of that, and
memory flat over repeated syncs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import httpx  # noqa: E402

from adapters.catalog import Catalog  # noqa: E402
from adapters.mlflow import MlflowClient  # noqa: E402
from console.catalog_sync import sync  # noqa: E402
from mlflow_fixtures import MlflowServer, Rest, populate_scale  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def raw_paging(url: str, concurrency: int, with_runs: bool) -> tuple[float, int]:
    start = time.perf_counter()
    run_ids = []
    with httpx.Client(base_url=url + "/api/2.0/mlflow", timeout=120) as http:
        token = None
        count = 0
        while True:
            params = {"max_results": 1000, **({"page_token": token} if token else {})}
            data = http.get("/model-versions/search", params=params).json()
            versions = data.get("model_versions", [])
            count += len(versions)
            run_ids += [v["run_id"] for v in versions if v.get("run_id")]
            token = data.get("next_page_token")
            if not token:
                break
        if with_runs:
            with ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(lambda r: http.get("/runs/get", params={"run_id": r}).json(), run_ids))
    return time.perf_counter() - start, count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--versions", type=int, default=10, help="versions per model")
    parser.add_argument("--resyncs", type=int, default=5)
    parser.add_argument("--keep", metavar="DIR", help="keep the MLflow server's files here and reuse them next time "
                        "(filling 2,000 versions takes minutes)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        server = MlflowServer.start(Path(args.keep or tmp) / "mlflow")
        print(f"mlflow server up in {time.perf_counter() - started:.1f} s")
        try:
            total = args.models * args.versions
            if raw_paging(server.url, 8, with_runs=False)[1] != total:
                rest = Rest(server.url)
                started = time.perf_counter()
                populate_scale(rest, args.models, args.versions)
                rest.close()
                print(f"populated {total} versions across {args.models} models in "
                      f"{time.perf_counter() - started:.1f} s")
            raw, counted = raw_paging(server.url, 8, with_runs=False)
            raw_runs, _ = raw_paging(server.url, 8, with_runs=True)
            assert counted == total, counted
            path = Path(tmp) / "catalog.db"
            with Catalog(path) as catalog, MlflowClient(server.url, timeout=120) as client:
                rss0 = rss_mb()
                start = time.perf_counter()
                first = sync(catalog, client)
                full = time.perf_counter() - start
                assert first.versions_added == total, first.counts()
                rss1 = rss_mb()
                again = []
                for _ in range(args.resyncs):
                    client.requests = 0
                    start = time.perf_counter()
                    result = sync(catalog, client)
                    again.append(time.perf_counter() - start)
                    assert not result.changed, result.counts()
                    requests = client.requests  # the listings only: one page of models, pages of 1,000 versions
                rss2 = rss_mb()
        finally:
            server.stop()
    resync = sorted(again)[len(again) // 2]
    print(f"baseline: raw paging of {total} versions over HTTP        {raw * 1000:8.0f} ms")
    print(f"baseline: raw paging + runs/get of every run (8 at once) {raw_runs * 1000:8.0f} ms")
    print(f"first sync (catalog empty)                              {full * 1000:8.0f} ms   "
          f"ratio to raw+runs {full / raw_runs:.2f}   budget 60 s: {'ok' if full < 60 else 'OVER'}")
    print(f"no-change re-sync, median of {args.resyncs}                       {resync * 1000:8.0f} ms   "
          f"ratio to raw paging {resync / raw:.2f}   budget {full / 3:.1f} s (a third): "
          f"{'ok' if resync < full / 3 else 'OVER'}")
    print(f"requests of a no-change re-sync: {requests}")
    print(f"RSS: {rss0:.0f} MB before, {rss1:.0f} MB after the first sync, {rss2:.0f} MB after "
          f"{args.resyncs} re-syncs ({rss2 - rss1:+.1f} MB)")


if __name__ == "__main__":
    main()
