"""Benchmark: 2,000 InferenceServices across 20 namespaces through adapters.kube, from the sandbox
Kubernetes API over HTTPS.

    .venv/bin/python tests/bench/bench_rollouts.py [--isvcs 2000] [--namespaces 20] [--changes 50]

Printed against baselines measured in the same run, because absolute times on these 2-core machines
drift by 25% or more:
- initial list: KubeClient.list_inference_services(None) (request + JSON + parsing into dataclasses)
  vs a bare GET of the same list through the same urllib3 pool with only json.loads;
- watch-event latency (median): from a change committed in the cluster to the WatchEvent coming out
  of KubeClient.watch_inference_services, vs one GET of a single object (a round trip).
The issue's targets (list to a rendered table <= 1 s; a watch event updating its row <= 100 ms
median) include the screen; these are the adapter's share.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from adapters.kube import KubeClient  # noqa: E402
from console.sandbox.runner import Sandbox  # noqa: E402


def timed(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run(n: int = 2000, namespaces: int = 20, changes: int = 50, repeat: int = 5) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as state:
        sb = Sandbox(Path(state), prometheus=False, kfp=False, catalog=False, seed=False, ready_delay=0.0, pods=False,
                     bookmark_interval=1.0, history=max(1000, 4 * n))
        sb.start()
        try:
            keys = sb.cluster.bulk_create(n, namespaces)
            client = KubeClient(str(sb.kubeconfig_path), timeout=30)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # let the simulator give every object its status
                items, _ = client.list_inference_services(None)
                if len(items) >= n and all(i.latest_rolledout_revision for i in items):
                    break
                time.sleep(0.5)

            api = client.api_client
            url = api.configuration.host + "/apis/serving.kserve.io/v1beta1/inferenceservices"
            headers = {"Authorization": api.configuration.auth_settings()["BearerToken"]["value"],
                       "Accept": "application/json"}
            pool = api.rest_client.pool_manager

            def bare_list():
                resp = pool.request("GET", url, headers=headers, timeout=30.0)
                data = json.loads(resp.data)
                assert len(data["items"]) >= n

            def adapter_list():
                items, _ = client.list_inference_services(None)
                assert len(items) >= n

            adapter_list()  # warm the connection and the imports
            baseline_list = timed(bare_list, repeat)
            list_s = timed(adapter_list, repeat)
            one_ns = timed(lambda: client.list_inference_services(keys[0][0]), repeat)

            ns0, name0 = keys[0]
            baseline_get = timed(lambda: client.get_raw(ns0, name0), 20)

            # watch-event latency: the cluster commits a change; when does the adapter yield it?
            _, rv = client.list_inference_services(None)
            stop = threading.Event()
            arrived: dict[str, float] = {}
            ready = threading.Event()

            def watch():
                ready.set()
                for ev in client.watch_inference_services(None, rv, stop, idle_timeout=2.0):
                    labels = ((ev.raw or {}).get("metadata") or {}).get("labels") or {}
                    mark = labels.get("bench-mark")
                    if mark and mark not in arrived:
                        arrived[mark] = time.perf_counter()

            t = threading.Thread(target=watch, daemon=True)
            t.start()
            ready.wait()
            time.sleep(0.3)
            sent: dict[str, float] = {}
            for i in range(changes):
                ns, name = keys[(i * 37) % len(keys)]
                obj = sb.cluster.get("inferenceservices", ns, name)
                obj["metadata"].setdefault("labels", {})["bench-mark"] = f"m{i}"
                mark = f"m{i}"
                sent[mark] = time.perf_counter()
                sb.cluster.put(obj)
                time.sleep(0.02)  # 50 changes/s
            end = time.monotonic() + 10
            while len(arrived) < changes and time.monotonic() < end:
                time.sleep(0.05)
            stop.set()
            lat = [arrived[m] - sent[m] for m in sent if m in arrived]
            watch_median = statistics.median(lat) if lat else float("nan")
            return {
                "isvcs": n, "namespaces": namespaces,
                "baseline_list_s": baseline_list, "list_s": list_s, "list_ratio": list_s / baseline_list,
                "one_namespace_list_s": one_ns,
                "baseline_get_s": baseline_get, "watch_median_s": watch_median,
                "watch_ratio": watch_median / baseline_get, "events_seen": len(lat), "events_sent": changes,
            }
        finally:
            sb.stop()


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--isvcs", type=int, default=2000)
    p.add_argument("--namespaces", type=int, default=20)
    p.add_argument("--changes", type=int, default=50)
    a = p.parse_args()
    r = run(a.isvcs, a.namespaces, a.changes)
    print(f"InferenceServices: {r['isvcs']} across {r['namespaces']} namespaces")
    print(f"initial list (all namespaces): {r['list_s'] * 1000:.0f} ms = {r['list_ratio']:.2f}x the bare "
          f"GET+json baseline ({r['baseline_list_s'] * 1000:.0f} ms); one namespace: "
          f"{r['one_namespace_list_s'] * 1000:.0f} ms")
    print(f"watch event latency, median of {r['events_seen']}/{r['events_sent']}: "
          f"{r['watch_median_s'] * 1000:.1f} ms = {r['watch_ratio']:.2f}x one GET round trip "
          f"({r['baseline_get_s'] * 1000:.1f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
