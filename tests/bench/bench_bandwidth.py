"""Bytes the console writes to the terminal, per screen idle and per key press (issue 10 s.4). Not
part of the default run:

    .venv/bin/python tests/bench/bench_bandwidth.py [--idle 30] [--keys 5] [--screen rollouts]

The console runs in a pseudo-terminal of 80x24 (as over SSH), against a demo sandbox in another
process; a reader thread counts what reaches the terminal. Bytes are not timings, so they do not
drift with the machine's load as much, but a bare Textual app idling in the same terminal is
measured first as the baseline (it writes nothing).
Budgets: an idle screen whose data did not change writes only what visibly changed (an age, a
countdown); moving the Rollouts selection writes at most 4 KB per key.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

COLS, ROWS = 80, 24
SCREENS = (("1", "catalog"), ("2", "pipelines"), ("3", "rollouts"), ("4", "drift"))
BARE = ("from textual.app import App\nfrom textual.widgets import Static\n"
        "class Bare(App):\n    def compose(self):\n        yield Static('bare')\nBare().run()\n")


class Terminal:
    """A child process on a pseudo-terminal; counts the bytes it writes."""

    def __init__(self, argv: list[str], env: dict[str, str]):
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        self.master = master
        self.process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT,
                                        start_new_session=True)
        os.close(slave)
        self.total = 0
        self.last_write = time.monotonic()
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self.total += len(data)
                self.last_write = time.monotonic()

    def written(self) -> int:
        with self._lock:
            return self.total

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def settle(self, quiet: float = 2.0, limit: float = 30.0, after: int | None = None) -> None:
        """Wait until nothing was written for `quiet` seconds (or `limit` passed); with `after`,
        first until more than `after` bytes were written in all (the answer to a key began)."""
        end = time.monotonic() + limit
        while after is not None and self.written() <= after and time.monotonic() < end:
            time.sleep(0.02)
        while time.monotonic() < end:
            with self._lock:
                if time.monotonic() - self.last_write >= quiet:
                    return
            time.sleep(0.1)

    def bytes_over(self, seconds: float) -> int:
        start = self.written()
        time.sleep(seconds)
        return self.written() - start

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        os.close(self.master)


def env_for(home: Path) -> dict[str, str]:
    env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(COLS), LINES=str(ROWS))
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        env[var] = str(home / var.lower())
    return env


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of idle measured per screen")
    parser.add_argument("--keys", type=int, default=5, help="selection moves measured per list screen")
    parser.add_argument("--screen", action="append", choices=[name for _, name in SCREENS],
                        help="measure only this screen (again for more); default: all")
    args = parser.parse_args()
    from console.demo import start_sandbox, stop_sandbox

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        bare = Terminal([sys.executable, "-c", BARE], env_for(home))
        bare.settle()
        bare_idle = bare.bytes_over(args.idle) / args.idle
        bare.close()
        print(f"baseline: bare Textual app idle {bare_idle:.0f} B/s")

        (home / "sandbox").mkdir()
        sandbox, endpoints = start_sandbox(home / "sandbox")
        try:
            argv = [sys.executable, "-m", "console", "--kubeconfig", endpoints["kubeconfig"],
                    "--catalog", endpoints["catalog"], "--kfp-url", endpoints["kfp_url"],
                    "--prometheus-url", endpoints["prometheus_url"]]
            term = Terminal(argv, env_for(home))
            term.settle(limit=20)
            print(f"{'screen':<10} {'idle B/s':>9} {'bytes/key (down), each':>40}")
            for key, name in SCREENS:
                if args.screen and name not in args.screen:
                    continue
                before = term.written()
                term.send(key)
                term.settle(limit=30, after=before)
                idle = term.bytes_over(args.idle) / args.idle
                per_key = []
                if name != "drift":
                    for _ in range(args.keys):
                        before = term.written()
                        term.send("\x1b[B")  # down arrow
                        term.settle(quiet=1.0, limit=10, after=before)
                        per_key.append(term.written() - before)
                keys = " ".join(f"{b / 1024:.1f}K" for b in per_key) or "-"
                print(f"{name:<10} {idle:>9.0f} {keys:>40}")
            term.close()
        finally:
            stop_sandbox(sandbox)


if __name__ == "__main__":
    main()
