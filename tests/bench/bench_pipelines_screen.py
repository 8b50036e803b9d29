"""Benchmark: the Pipelines screen with 5,000 runs, paged in from the KFP sandbox over HTTP (issue 5).

    .venv/bin/python tests/bench/bench_pipelines_screen.py [--runs 5000] [--repeat 5] [--size 120x35]

The sandbox runs in a child process (its clock stopped: time_scale 0), so the console is measured
alone. Every figure is printed next to a baseline measured in the same run, because absolute times
on these 2-core machines drift by 25% or more:

1. first page: from switching to the Pipelines screen until its table first paints rows (the KFP
   request included), vs switching to a bare screen that mounts an empty DataTable (same
   app, same size); budget: the first page in <= 300 ms;
2. scrolling: the cursor walks the whole list with page-down (more pages load as it nears the
   end); the latency of each key press, vs the same key presses on a bare DataTable that already
   holds the same number of rows.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def start_sandbox(n_runs: int, state: Path) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "console.sandbox.kfp_server", "--runs", str(n_runs), "--scale", "0",
         "--state", str(state)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    if not url.startswith("http"):
        process.kill()
        raise SystemExit(f"the KFP sandbox did not start (got {url!r})")
    return process, url


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def ms(value: float) -> str:
    return f"{value * 1000:.1f} ms"


def make_app(url: str, tmp: Path, n_rows_for_bare: int = 0):
    from textual.screen import Screen
    from textual.widgets import DataTable, Footer

    from console.app import SCREENS, MlopsConsole
    from console.config import Settings
    from console.context import Context
    from screens.header import StatusHeader

    class BareScreen(Screen):
        """The baseline: a header, an empty (or pre-filled) DataTable and a footer."""

        def compose(self):
            yield StatusHeader("bare")
            table = DataTable(id="bare", cursor_type="row")
            yield table
            yield Footer()

        def on_mount(self) -> None:
            table = self.query_one("#bare", DataTable)
            for key in ("state", "run", "experiment", "started", "duration"):
                table.add_column(key, key=key)
            if n_rows_for_bare:
                table.add_rows([("✔ SUCCEEDED", f"batch-score-model-{i:05d}", "nightly-batch-scoring",
                                 "06-02 13:15", "20m 06s") for i in range(n_rows_for_bare)])
            table.focus()

    factories = {entry.mode: entry.build for entry in SCREENS}
    factories["bare"] = BareScreen
    settings = Settings(catalog=tmp / "catalog.db", audit=tmp / "audit.db", kfp_url=url)
    return MlopsConsole(Context(settings), screen_factories=factories, cursor_blink=False)


PAINTED: dict[str, float] = {}


def hook_paint() -> None:
    """Record when a table first paints rows: the moment the person sees them."""
    from textual.widgets import DataTable

    original = DataTable.render_lines

    def render_lines(self, crop):
        if self.id in ("runs", "bare") and self.id not in PAINTED and (self.id == "bare" or self.row_count):
            PAINTED[self.id] = time.perf_counter()
        return original(self, crop)

    DataTable.render_lines = render_lines


async def first_page(url: str, tmp: Path, size: tuple[int, int], target: str) -> float:
    app = make_app(url, tmp)
    table_id = "bare" if target == "bare" else "runs"
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.3)  # the catalog screen settles first
        PAINTED.clear()
        start = time.perf_counter()
        app.action_show_screen(target)
        for _ in range(20_000):
            if table_id in PAINTED:
                break
            await asyncio.sleep(0.001)
        return PAINTED[table_id] - start


async def scrolling(url: str, tmp: Path, size: tuple[int, int], target: str, n_runs: int,
                    max_presses: int) -> dict:
    app = make_app(url, tmp, n_rows_for_bare=n_runs if target == "bare" else 0)
    async with app.run_test(size=size) as pilot:
        app.action_show_screen(target)
        table_id = "#bare" if target == "bare" else "#runs"
        while True:
            tables = app.screen.query(table_id)
            if tables and tables.first().row_count:
                break
            await pilot.pause(0.01)
        table = app.screen.query_one(table_id)
        await pilot.pause(0.2)
        latencies = []
        waits_for_page = 0
        for _ in range(max_presses):
            if table.cursor_row >= n_runs - 1:
                break
            before = time.perf_counter()
            await pilot.press("pagedown")
            latencies.append(time.perf_counter() - before)
            if table.cursor_row >= table.row_count - 1 and table.row_count < n_runs:
                # at the end of what is loaded: the next page is on its way (it loads ahead of the cursor)
                waits_for_page += 1
                while table.row_count <= table.cursor_row + 1 and table.row_count < n_runs:
                    await pilot.pause(0.005)
        return {"presses": len(latencies), "median": statistics.median(latencies),
                "p95": percentile(latencies, 0.95), "max": max(latencies), "row": table.cursor_row,
                "rows": table.row_count, "waits": waits_for_page}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--size", default="120x35")
    args = parser.parse_args()
    size = tuple(int(x) for x in args.size.split("x"))
    tmp = Path(tempfile.mkdtemp(prefix="bench-pipelines-"))
    from console.demo_catalog import build_demo_catalog

    build_demo_catalog(tmp / "catalog.db")
    process, url = start_sandbox(args.runs, tmp / "kfp")
    try:
        import httpx

        started = time.perf_counter()
        httpx.get(f"{url}/apis/v2beta1/runs", params={"page_size": 1}, timeout=60).raise_for_status()
        print(f"KFP sandbox with {args.runs} runs at {url} (first list: {ms(time.perf_counter() - started)})")

        hook_paint()
        bare, screen = [], []
        for _ in range(args.repeat):  # alternate, so drift hits both the same
            bare.append(asyncio.run(first_page(url, tmp, size, "bare")))
            screen.append(asyncio.run(first_page(url, tmp, size, "pipelines")))
        b, s = statistics.median(bare), statistics.median(screen)
        print(f"\n1. first page ({size[0]}x{size[1]}, median of {args.repeat}):")
        from screens.pipelines import FIRST_PAGE

        print(f"   Pipelines screen, first {FIRST_PAGE} of {args.runs} runs drawn: {ms(s)} (budget <= 300 ms)")
        print(f"   bare screen with an empty DataTable:             {ms(b)}")
        print(f"   ratio {s / b:.2f}  (the first, cold, repeat: screen {ms(screen[0])}, bare {ms(bare[0])}; "
              "it includes importing httpx)")

        presses = args.runs  # enough page-downs to walk the whole list
        walk = asyncio.run(scrolling(url, tmp, size, "pipelines", args.runs, presses))
        base = asyncio.run(scrolling(url, tmp, size, "bare", args.runs, presses))
        print(f"\n2. scrolling with page-down through {args.runs} runs ({walk['presses']} presses, "
              f"{walk['rows']} rows loaded, cursor at row {walk['row']}):")
        print(f"   Pipelines screen: median {ms(walk['median'])}, p95 {ms(walk['p95'])}, max {ms(walk['max'])}; "
              f"{walk['waits']} presses reached the end of the loaded rows before the next page")
        print(f"   bare DataTable holding {args.runs} rows: median {ms(base['median'])}, p95 {ms(base['p95'])}, "
              f"max {ms(base['max'])}")
        print(f"   ratio (median) {walk['median'] / base['median']:.2f}, (p95) {walk['p95'] / base['p95']:.2f}")
    finally:
        process.terminate()
        process.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
