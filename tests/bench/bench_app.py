"""Start-up and catalog-screen benchmarks (issues 2 and 10 §5). Not part of the default run:

    .venv/bin/python tests/bench/bench_app.py [--first-frame-only] [--repeats N]

Every figure is printed next to a baseline measured in the same run, because absolute times on
these 2-core machines drift by 25% or more.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNS = 5

BARE_APP = """
import time; t0 = time.perf_counter()
import asyncio
from textual.app import App
from textual.widgets import DataTable, Footer, Static
class Bare(App):
    def compose(self):
        yield Static("bare"); yield DataTable(); yield Footer()
async def main():
    app = Bare()
    async with app.run_test(size=(80, 24)) as pilot:
        print(time.perf_counter() - t0)
asyncio.run(main())
"""

BARE_FILTER = """
import asyncio, json, statistics, time
from textual import events
from textual.app import App
from textual.widgets import DataTable, Input
ROWS = [(f"model-{i:04d}", str(i % 97), "production=1") for i in range(1000)]
class Bare(App):
    shown = 0
    def compose(self):
        yield Input(id="f"); yield DataTable(id="t")
    def on_mount(self):
        self.query_one("#t").add_columns("model", "vers", "aliases")
    def on_input_changed(self, event):
        table = self.query_one("#t")
        table.clear()
        table.add_rows([r for r in ROWS if event.value in r[0]][:60])
        self.shown += 1
async def main():
    app = Bare()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        times = []
        for key in "model-00":
            shown, before = app.shown, time.perf_counter()
            app.post_message(events.Key(key, key))
            while app.shown == shown:
                await asyncio.sleep(0.0005)
            times.append(time.perf_counter() - before)
            await pilot.pause(0.05)
        print(statistics.median(times))
asyncio.run(main())
"""

CONSOLE_APP = """
import time; t0 = time.perf_counter()
import asyncio, json, statistics, sys
from pathlib import Path
from console.app import MlopsConsole
from textual import events
from console.config import Settings
from console.context import Context
catalog, audit, keys = sys.argv[1], sys.argv[2], sys.argv[3]
async def main():
    app = MlopsConsole(Context(Settings(catalog=Path(catalog), audit=Path(audit))), cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        first_frame = time.perf_counter() - t0
        screen = app.screen
        models = screen.query_one("#models"); versions = screen.query_one("#versions")
        while not (models.row_count and versions.row_count):
            await asyncio.sleep(0.002)
        opened = time.perf_counter() - t0 - first_frame
        keystrokes = []
        await pilot.press("slash")
        for key in keys:  # posted like a terminal would, timed to the table showing the new page
            generation = screen._models_generation
            before = time.perf_counter()
            app.post_message(events.Key(key, key))
            while screen.shown_models_generation <= generation:
                await asyncio.sleep(0.0005)
            keystrokes.append(time.perf_counter() - before)
            await pilot.pause(0.05)
        # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so it would report the parent's
        rss_mb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) / 1024
        print(json.dumps({"first_frame": first_frame, "open": opened,
                          "keystroke_median": statistics.median(keystrokes) if keystrokes else None,
                          "rss_mb": rss_mb, "rows": models.row_count}))
asyncio.run(main())
"""


def run(code: str, *args: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    if out.returncode:
        raise AssertionError(out.stderr[-2000:])
    return out.stdout.strip().splitlines()[-1]


def build_catalog(path: Path, versions: int, models: int) -> float:
    """Write the records as JSON Lines (untimed), then time `import_file` of that file, as
    `mlops-console catalog import FILE` does it."""
    import time

    from adapters.catalog import Catalog
    from console.demo_catalog import generate_records

    source = path.with_suffix(".jsonl")
    with open(source, "w") as out:
        for record in generate_records(versions, models, seed=1):
            out.write(json.dumps(record) + "\n")
    catalog = Catalog(path)
    start = time.perf_counter()
    catalog.import_file(source)
    elapsed = time.perf_counter() - start
    catalog.close()
    source.unlink()
    return elapsed


def median_of(code: str, *args: str, key: str | None = None) -> float | dict:
    results = [run(code, *args) for _ in range(RUNS)]
    if key is None:
        return statistics.median(float(r) for r in results)
    parsed = [json.loads(r) for r in results]
    return {k: statistics.median(p[k] for p in parsed) for k in parsed[0] if k != "rows" and parsed[0][k] is not None}


BARE_STATIC = """
from textual.app import App
from textual.widgets import Static
class Bare(App):
    def compose(self):
        yield Static("bare-textual-ready")
Bare().run()
"""


TMUX = ["tmux", "-L", f"mlops-bench-{__import__('os').getpid()}"]  # a server of our own, ended by main()


def _tmux_first_frame(command: list[str], text: str, env: dict[str, str], timeout: float = 60.0) -> float:
    """Seconds from starting `command` in a new 100x30 tmux session to `text` on its screen, read by
    polling `tmux capture-pane -p` (what a person on the other end of SSH would see)."""
    import shlex
    import time

    session = f"run-{time.monotonic_ns()}"
    start = time.perf_counter()
    subprocess.run([*TMUX, "new-session", "-d", "-s", session, "-x", "100", "-y", "30",
                    "env -u PYTHONDONTWRITEBYTECODE " + " ".join(shlex.quote(f"{k}={v}") for k, v in env.items()) + " " + shlex.join(command)],
                   check=True)
    try:
        while time.perf_counter() - start < timeout:
            pane = subprocess.run([*TMUX, "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout
            if text in pane:
                return time.perf_counter() - start
            time.sleep(0.005)
        raise AssertionError(f"{text!r} did not appear within {timeout:g} s; the pane shows:\n{pane}")
    finally:
        subprocess.run([*TMUX, "kill-session", "-t", session], capture_output=True)


def first_frame_in_tmux(catalog: Path, base: Path, repeats: int = 7) -> None:
    """Issue 10 §5: `mlops-console --screen catalog --catalog C` until its first model shows, and the
    default first screen (Now), each against a bare Textual app showing one Static, measured in the
    same run, alternating, same Python, tmux at 100x30; medians and their ratio (budget 1.5)."""
    import shutil

    if not shutil.which("tmux"):
        print("\nfirst frame: skipped, tmux is not installed")
        return
    from adapters.catalog import Catalog

    reader = Catalog(catalog, create=False)
    first_model = reader.list_models(limit=1)[0].model
    reader.close()
    home = base / "home"
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"), "XDG_STATE_HOME": str(home / "state"),
           "KUBECONFIG": str(home / "no-kubeconfig"), "TERM": "xterm-256color", "PYTHONPATH": str(ROOT)}
    console = [sys.executable, "-m", "console", "--catalog", str(catalog)]
    cases = {
        "bare": ([sys.executable, "-c", BARE_STATIC], "bare-textual-ready"),
        "catalog": ([*console, "--screen", "catalog"], first_model),
        "now": (console, "Now"),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    # one idle session keeps the server up between runs (a server that just lost its last session exits)
    subprocess.run([*TMUX, "new-session", "-d", "-s", "keep", "-x", "100", "-y", "30"], check=True)
    try:
        for command, text in cases.values():  # once each, untimed: the file cache is warm, the .pyc written
            _tmux_first_frame(command, text, env)
        for _ in range(repeats):
            for name, (command, text) in cases.items():
                times[name].append(_tmux_first_frame(command, text, env))
    finally:
        subprocess.run([*TMUX, "kill-server"], capture_output=True)
    bare = statistics.median(times["bare"])
    print(f"\nfirst frame in tmux 100x30, median of {repeats} alternating runs; bare Textual app showing one "
          f"Static: {bare * 1000:.0f} ms")
    for name, what in (("catalog", f"--screen catalog, 1,000 versions, first model {first_model!r} shown"),
                       ("now", "default screen (Now), its title shown")):
        figure = statistics.median(times[name])
        print(f"  {what}: {figure * 1000:.0f} ms, ratio {figure / bare:.2f} (budget <= 1.5)")


def large_catalog_open_filter_and_memory(large: Path, import_seconds: float, base: Path) -> None:
    figures = median_of(CONSOLE_APP, str(large), str(base / "audit.db"), "fraud", key="first_frame")
    bare = median_of(BARE_APP)
    print(f"\n100,000 versions / 1,000 models: import {import_seconds:.1f} s (budget <= 30 s)")
    print(f"  first frame {figures['first_frame']*1000:.0f} ms (bare Textual {bare*1000:.0f} ms, "
          f"ratio {figures['first_frame']/bare:.2f})")
    print(f"  catalog screen filled {figures['open']*1000:.0f} ms after the first frame (budget <= 500 ms)")
    bare_key = median_of(BARE_FILTER)
    print(f"  filter keystroke to updated table, median {figures['keystroke_median']*1000:.1f} ms (budget <= 50 ms); "
          f"bare Textual Input+DataTable filtering in memory {bare_key*1000:.1f} ms, "
          f"ratio {figures['keystroke_median']/bare_key:.2f}")
    print(f"  max RSS {figures['rss_mb']:.0f} MB (budget <= 150 MB)")


def main() -> None:
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description="start-up and catalog-screen benchmarks")
    parser.add_argument("--first-frame-only", action="store_true", help="only the first frame in tmux (issue 10 §5)")
    parser.add_argument("--repeats", type=int, default=7, help="alternating runs of each first-frame case")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        small, large = base / "small.db", base / "large.db"
        build_catalog(small, 1_000, 12)
        first_frame_in_tmux(small, base, args.repeats)
        if args.first_frame_only:
            return
        import_seconds = build_catalog(large, 100_000, 1_000)
        large_catalog_open_filter_and_memory(large, import_seconds, base)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
