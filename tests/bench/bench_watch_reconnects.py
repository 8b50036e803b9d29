"""Benchmark: watch reconnects per hour on a quiet cluster, with a real API server's bookmark timing
(one BOOKMARK a minute: defaultBookmarkFrequency in k8s.io/apiserver's cacher).

    .venv/bin/python tests/bench/bench_watch_reconnects.py [--seconds 130]

Two sandboxes run side by side for the same quiet period, each watched by one
KubeClient.follow_inference_services:
- the adapter as it is: timeoutSeconds of 5-10 minutes (client-go reflector's jitter), a read
  timeout past it, stop by closing the socket;
- the baseline, measured in the same run: the old way, a 2 s idle read timeout that re-arms the
  watch whenever the stream is silent (what the Rollouts screen passed before).
Each server counts the watches opened; reconnects per hour are extrapolated from the period. A
period shorter than the watch's timeoutSeconds cannot see the server ending it: that adds about
3600 / 450 = 8 reconnects an hour (printed as the expected figure).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from adapters.kube import WATCH_MIN_TIMEOUT, KubeClient  # noqa: E402
from console.sandbox.runner import Sandbox  # noqa: E402


def quiet_sandbox(state: Path) -> Sandbox:
    sb = Sandbox(state, prometheus=False, kfp=False, catalog=False, seed=False, ready_delay=0.0, pods=False,
                 bookmark_interval=60.0)
    sb.start()
    sb.cluster.bulk_create(5, 1)
    return sb


def watch_quietly(sb: Sandbox, seconds: float, **follow_kwargs) -> int:
    client = KubeClient(str(sb.kubeconfig_path))
    stop = threading.Event()

    def follow() -> None:
        for _ in client.follow_inference_services(None, stop, **follow_kwargs):
            pass

    worker = threading.Thread(target=follow, daemon=True)
    worker.start()
    stop.wait(seconds)
    stop.set()
    worker.join(10)
    return sb.kube.watches_opened


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=130.0, help="quiet period (default 130: two bookmarks)")
    args = parser.parse_args()
    results: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        runs = {"adapter (timeoutSeconds 5-10 min)": {},
                "baseline (2 s idle read timeout)": {"idle_timeout": 2.0}}
        sandboxes = [quiet_sandbox(Path(tmp) / str(i)) for i in range(len(runs))]  # one at a time
        try:
            threads = [threading.Thread(target=lambda name=name, kw=kw, sb=sb: results.__setitem__(
                name, watch_quietly(sb, args.seconds, **kw))) for sb, (name, kw) in zip(sandboxes, runs.items(), strict=True)]
            start = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - start
        finally:
            for sb in sandboxes:
                sb.stop()
    print(f"quiet cluster, bookmarks every 60 s, {args.seconds:.0f} s watched ({elapsed:.0f} s wall):")
    for name, opened in results.items():
        per_hour = (opened - 1) * 3600 / args.seconds
        print(f"  {name:36s} watches opened {opened:4d}  reconnects/hour {per_hour:7.0f}")
    print(f"  expected for the adapter over an hour: about {3600 / (1.5 * WATCH_MIN_TIMEOUT):.0f} "
          f"(the server ends each watch at its timeoutSeconds)")


if __name__ == "__main__":
    main()
