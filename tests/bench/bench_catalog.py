"""Benchmark: a 100,000-version catalog through adapters.catalog.

    .venv/bin/python tests/bench/bench_catalog.py [--versions 100000] [--models 2000]

Each figure is printed with a baseline measured in the same run, because absolute times on these
2-core machines drift by 25% or more:

* import: `Catalog.import_file` of a JSON Lines file (parse, validate, insert rows, metric rows,
  aliases, per-model summaries, FTS) against the least any import must do: json.loads each line
  and a plain sqlite3 executemany of (model, version, record) into one table, in one transaction.
  Target: <= 30 s.
* list/filter: median of list_models(filter, limit=50) + count_models(filter) per keystroke of a
  typed filter, against a plain `SELECT ... FROM models ORDER BY name LIMIT 50` on the same file.
  Target: <= 50 ms per keystroke.
* versions: list_versions(model, sort=metric, limit=50) median.
* RSS: peak RSS of a fresh process that opens the catalog and runs the filter queries, against a
  fresh process that only imports sqlite3. Target: <= 150 MB.
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from adapters.catalog import Catalog  # noqa: E402
from console.demo_catalog import generate_records  # noqa: E402

KEYSTROKES = ["f", "fr", "fra", "frau", "fraud", "fraud-", "fraud-0", "fraud-00", "t", "ti", "tie", "tier",
              "tier-1", "payments", "zzz"]


def median_ms(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def baseline_import(src: Path, db: Path) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE v (model TEXT, version TEXT, record TEXT, PRIMARY KEY (model, version))")
    conn.execute("BEGIN")
    batch = []
    with open(src, "rb") as f:
        for line in f:
            r = json.loads(line)
            batch.append((r["model"], r["version"], json.dumps(r)))
            if len(batch) >= 2000:
                conn.executemany("INSERT INTO v VALUES (?,?,?)", batch)
                batch.clear()
    conn.executemany("INSERT INTO v VALUES (?,?,?)", batch)
    conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - start, time.process_time() - cpu


# ru_maxrss survives execve on Linux (a child would report its parent's peak); VmHWM does not.
PEAK = """
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""

BROWSE = PEAK + """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from adapters.catalog import Catalog
c = Catalog(sys.argv[2], create=False)
for f in [None] + json.loads(sys.argv[3]):
    c.list_models(f, limit=50); c.count_models(f)
m = c.list_models(limit=1)[0].model
c.list_versions(m, sort="metric:test.auc", limit=50)
print(peak_mb())
"""


def peak_rss_mb(code: str, *args: str) -> float:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def run(n_versions: int, n_models: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        src = tmpdir / "records.jsonl"
        start = time.perf_counter()
        with open(src, "w") as f:
            for r in generate_records(n_versions, n_models, seed=7):
                f.write(json.dumps(r) + "\n")
        figures["generate_s"] = time.perf_counter() - start
        figures["file_mb"] = src.stat().st_size / 1e6

        figures["baseline_import_s"], figures["baseline_import_cpu_s"] = baseline_import(src, tmpdir / "baseline.db")
        path = tmpdir / "catalog.db"
        start, cpu = time.perf_counter(), time.process_time()
        with Catalog(path) as c:
            result = c.import_file(src)
        figures["import_s"] = time.perf_counter() - start
        figures["import_cpu_s"] = time.process_time() - cpu
        assert result.inserted == n_versions, result
        figures["db_mb"] = path.stat().st_size / 1e6
        figures["import_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        start = time.perf_counter()
        with Catalog(path) as c:
            c.import_file(src)  # everything unchanged
        figures["reimport_s"] = time.perf_counter() - start

        start = time.perf_counter()
        with Catalog(path, create=False) as c:
            figures["open_ms"] = (time.perf_counter() - start) * 1000
            start = time.perf_counter()
            c.list_models(limit=50)
            c.count_models()
            figures["first_page_ms"] = (time.perf_counter() - start) * 1000
            conn = sqlite3.connect(path)
            figures["baseline_page_ms"] = median_ms(
                lambda: conn.execute("SELECT name, versions FROM models ORDER BY name LIMIT 50").fetchall(), 50)
            conn.close()
            figures["page_ms"] = median_ms(lambda: (c.list_models(limit=50), c.count_models()), 30)
            # Typed in order, three times over: each keystroke is a new filter (no repeats of one
            # text back to back, so nothing is served from the last-filter memo).
            per_key = []
            for _ in range(3):
                for text in KEYSTROKES:
                    start = time.perf_counter()
                    c.count_models(text)
                    c.list_models(text, limit=50)
                    per_key.append((time.perf_counter() - start) * 1000)
            figures["filter_keystroke_median_ms"] = statistics.median(per_key)
            figures["filter_keystroke_max_ms"] = max(per_key)
            model = c.list_models(limit=1)[0].model
            figures["versions_metric_sort_ms"] = median_ms(
                lambda: c.list_versions(model, sort="metric:test.auc", limit=50), 30)
            figures["version_detail_ms"] = median_ms(lambda: c.get_version(model, "1"), 30)

        figures["browse_rss_mb"] = peak_rss_mb(BROWSE, str(ROOT), str(path), json.dumps(KEYSTROKES))
        figures["baseline_rss_mb"] = peak_rss_mb(PEAK + "import sqlite3; print(peak_mb())")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=100_000)
    parser.add_argument("--models", type=int, default=2_000)
    args = parser.parse_args()
    f = run(args.versions, args.models)
    print(f"catalog benchmark: {args.versions:,} versions over {args.models:,} models "
          f"(JSONL {f['file_mb']:.0f} MB -> SQLite {f['db_mb']:.0f} MB; records generated in {f['generate_s']:.1f} s)")
    print(f"  import            {f['import_s']:7.2f} s   baseline (json.loads + bare executemany) "
          f"{f['baseline_import_s']:.2f} s   ratio {f['import_s'] / f['baseline_import_s']:.2f}   target <= 30 s "
          f"{'OK' if f['import_s'] <= 30 else 'MISSED'}")
    print(f"  import CPU time   {f['import_cpu_s']:7.2f} s   baseline {f['baseline_import_cpu_s']:.2f} s   "
          f"ratio {f['import_cpu_s'] / f['baseline_import_cpu_s']:.2f}")
    print(f"  re-import (all unchanged) {f['reimport_s']:.2f} s   ratio {f['reimport_s'] / f['baseline_import_s']:.2f}")
    print(f"  open the catalog  {f['open_ms']:.2f} ms")
    print(f"  models page (50 + count)  {f['page_ms']:.2f} ms   first {f['first_page_ms']:.2f} ms   "
          f"baseline plain SELECT {f['baseline_page_ms']:.2f} ms   ratio {f['page_ms'] / f['baseline_page_ms']:.1f}")
    print(f"  filter keystroke  median {f['filter_keystroke_median_ms']:.2f} ms   max {f['filter_keystroke_max_ms']:.2f} ms"
          f"   ratio {f['filter_keystroke_median_ms'] / f['baseline_page_ms']:.1f}   target <= 50 ms "
          f"{'OK' if f['filter_keystroke_median_ms'] <= 50 else 'MISSED'}")
    print(f"  versions sorted by metric (50)  {f['versions_metric_sort_ms']:.2f} ms   "
          f"one version {f['version_detail_ms']:.2f} ms")
    print(f"  peak RSS browsing  {f['browse_rss_mb']:.0f} MB   baseline (python + sqlite3) {f['baseline_rss_mb']:.0f} MB   "
          f"ratio {f['browse_rss_mb'] / f['baseline_rss_mb']:.2f}   target <= 150 MB "
          f"{'OK' if f['browse_rss_mb'] <= 150 else 'MISSED'}")
    print(f"  peak RSS of the importing process  {f['import_rss_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
