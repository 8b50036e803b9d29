"""Benchmark (issue 11 §1): the Now screen's first useful frame across 3 contexts of 500
InferenceServices each, with 5,000 KFP runs, and whether keys stay answered while it gathers.

    .venv/bin/python tests/bench/bench_now.py [--contexts 3] [--isvcs 500] [--runs 5000] [--repeats 3]

Three sandbox clusters (each its own API server over HTTPS), merged into one kubeconfig with
distinct context names, as an on-call engineer's kubeconfig is; one KFP sandbox with the runs.
Printed against baselines measured in the same run (timings on these machines drift by 25%):
- first useful frame: from building the app to the first item row on the Now screen, vs a bare
  Textual app showing one Static, both through App.run_test(); budget 2 s absolute.
- keys while gathering: the median time of a key press (down) while a refresh (`r`: the poll of
  runs and metrics; the watches keep the InferenceServices) is in flight, vs the same key press on
  the idle screen (ratio near 1: the refresh never blocks keys).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def merged_kubeconfig(sandboxes: list, path: Path) -> list[str]:
    """One kubeconfig with each sandbox's admin context renamed c1, c2, ... (distinct names)."""
    import yaml

    merged: dict = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
    names = []
    for i, sb in enumerate(sandboxes, 1):
        cfg = yaml.safe_load(Path(sb.kubeconfig_path).read_text())
        name = f"c{i}"
        cluster = cfg["clusters"][0]
        user = next(u for u in cfg["users"] if u["name"] == "sandbox-admin")
        merged["clusters"].append({"name": name, "cluster": cluster["cluster"]})
        merged["users"].append({"name": name, "user": user["user"]})
        merged["contexts"].append({"name": name, "context": {"cluster": name, "user": name}})
        names.append(name)
    merged["current-context"] = names[0]
    path.write_text(yaml.safe_dump(merged))
    path.chmod(0o600)
    return names


async def first_frame_bare() -> float:
    from textual.app import App
    from textual.widgets import Static

    class Bare(App):
        def compose(self):
            yield Static("ready", id="ready")

    start = time.perf_counter()
    app = Bare()
    async with app.run_test(size=(100, 30)) as pilot:
        while not app.query("#ready"):
            await pilot.pause(0.005)
        return time.perf_counter() - start


async def first_frame_now(flags: dict, *, keys: int = 0) -> tuple[float, list[float], list[float]]:
    from textual.widgets import DataTable

    from console import config
    from console.app import MlopsConsole
    from console.context import Context

    start = time.perf_counter()
    app = MlopsConsole(Context(config.resolve(flags), flags=flags), cursor_blink=False, first_screen="now")
    busy, idle = [], []
    async with app.run_test(size=(100, 30)) as pilot:
        def table():
            found = app.screen.query("#now-items")
            return found.first(DataTable) if found else None

        while table() is None or table().row_count == 0:
            await pilot.pause(0.005)
        first = time.perf_counter() - start
        screen = app.screen
        for _ in range(keys):
            screen.action_refresh()  # a gather in flight
            t = time.perf_counter()
            await pilot.press("down")
            busy.append(time.perf_counter() - t)
            while screen._loading:
                await pilot.pause(0.01)
            t = time.perf_counter()
            await pilot.press("down")
            idle.append(time.perf_counter() - t)
    return first, busy, idle


def serve(root: Path, n_contexts: int, n_isvcs: int, n_runs: int) -> None:
    """In a child process: the sandboxes, so that their serving does not share the console's GIL
    (a real cluster is another machine)."""
    from console.sandbox.kfp_server import KfpSandbox
    from console.sandbox.runner import Sandbox

    kfp = KfpSandbox(root / "kfp", n_runs=n_runs, seed=7)
    kfp_url = kfp.start()
    sandboxes = []
    for i in range(n_contexts):
        sb = Sandbox(root / f"c{i + 1}", prometheus=False, kfp=False, catalog=False, seed=True,
                     ready_delay=0.0, history=max(1000, 4 * n_isvcs))
        sb.start()
        sb.cluster.bulk_create(n_isvcs - 6, 10)  # plus the demo's stories
        sandboxes.append(sb)
    names = merged_kubeconfig(sandboxes, root / "kubeconfig")
    cfg = root / "config.toml"
    cfg.write_text(f'kfp_url = "{kfp_url}"\n[triage]\ncontexts = {names!r}\n'.replace("'", '"'))
    time.sleep(2)  # the simulator gives the new objects their status
    print(names[0], flush=True)
    sys.stdin.read()  # until the parent closes it
    for sb in sandboxes:
        sb.stop()
    kfp.stop()


def run(n_contexts: int, n_isvcs: int, n_runs: int, repeats: int) -> dict[str, float]:
    import subprocess

    with tempfile.TemporaryDirectory() as state:
        root = Path(state)
        child = subprocess.Popen([sys.executable, __file__, "--serve", state, "--contexts", str(n_contexts),
                                  "--isvcs", str(n_isvcs), "--runs", str(n_runs)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            first_context = child.stdout.readline().strip()
            flags = {"config": str(root / "config.toml"), "kubeconfig": str(root / "kubeconfig"),
                     "context": first_context, "catalog": str(root / "none.db"), "audit": str(root / "audit.db")}
            asyncio.run(first_frame_now(flags))  # warm: imports, the KFP world's caches
            bare, now = [], []
            busy: list[float] = []
            idle: list[float] = []
            for _ in range(repeats):  # alternate, so drift hits both alike
                bare.append(asyncio.run(first_frame_bare()))
                first, b, i = asyncio.run(first_frame_now(flags, keys=5))
                now.append(first)
                busy += b
                idle += i
            return {"bare": statistics.median(bare), "now": statistics.median(now),
                    "key_busy": statistics.median(busy), "key_idle": statistics.median(idle)}
        finally:
            child.stdin.close()
            child.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contexts", type=int, default=3)
    parser.add_argument("--isvcs", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve), args.contexts, args.isvcs, args.runs)
        return
    f = run(args.contexts, args.isvcs, args.runs, args.repeats)
    print(f"Now screen, {args.contexts} contexts x {args.isvcs} InferenceServices, {args.runs} KFP runs")
    print(f"  first useful frame: {f['now'] * 1000:.0f} ms (bare app {f['bare'] * 1000:.0f} ms, "
          f"ratio {f['now'] / f['bare']:.2f}); budget 2000 ms")
    print(f"  a key while gathering: {f['key_busy'] * 1000:.1f} ms vs idle {f['key_idle'] * 1000:.1f} ms "
          f"(ratio {f['key_busy'] / f['key_idle']:.2f})")


if __name__ == "__main__":
    main()
