"""The README's example (console/examples/feature_histograms.py): a KServe custom predictor emits
the feature histograms the Drift screen reads. A real Prometheus scrapes what the example exposes
(prometheus_client's own exposition), adding the namespace as a Kubernetes scrape does, and the
console reads it back through the same client and bucket parser it uses for drift."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from adapters.metrics import MetricsClient
from console import demo_data, drift
from console.sandbox.metrics_server import PrometheusProcess
from metrics_fixtures import Server, need_prometheus, wait_until

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "console" / "examples" / "feature_histograms.py"
MODEL, REVISION = "fraud-detector", "fraud-detector-predictor-00002"


def test_the_readme_quotes_the_example_as_it_is():
    readme = (ROOT / "README.md").read_text()
    code = EXAMPLE.read_text()
    body = code[code.index("import bisect"):]  # the docstring is the file's own; the code is quoted whole
    assert body.strip() in readme


def test_labels_come_from_the_knative_environment(monkeypatch):
    pytest.importorskip("prometheus_client")
    from console.examples.feature_histograms import FeatureHistograms

    monkeypatch.setenv("K_SERVICE", f"{MODEL}-predictor")
    monkeypatch.setenv("K_REVISION", REVISION)
    f = FeatureHistograms({"amount": [1, 2]})
    assert (f.model, f.revision) == (MODEL, REVISION)


def test_prometheus_scrapes_the_example_and_the_console_reads_it(tmp_path):
    pytest.importorskip("prometheus_client")
    need_prometheus()
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    from console.examples.feature_histograms import FeatureHistograms

    features = demo_data.MODELS_BY_NAME[MODEL].features
    edges = {f.name: [float(e) for e in f.edges()[1:-1]] for f in features}
    registry = CollectorRegistry()
    hist = FeatureHistograms(edges, model=MODEL, revision=REVISION)
    registry.register(hist)
    rng = random.Random(7)
    rows = [{f.name: rng.gauss(f.mean, f.sigma) for f in features} for _ in range(500)]
    rows.append({features[0].name: edges[features[0].name][0]})  # exactly on a bound: counted in that bucket (le)
    for row in rows:
        hist.observe(row)

    server = Server(lambda h, body: (200, {"Content-Type": CONTENT_TYPE_LATEST}, generate_latest(registry)))
    prom = PrometheusProcess(tmp_path / "prom", "prometheus", "promtool")
    try:
        url = prom.start([server.url.removeprefix("http://")], scrape_interval=1, labels={"namespace": "fraud"})
        client = MetricsClient(url, timeout=5)
        assert wait_until(lambda: client.features("fraud", MODEL) == sorted(edges), timeout=30), "never scraped"
        for f in features:
            samples = client.instant(f'model_feature_value_bucket{{namespace="fraud", model="{MODEL}", '
                                     f'revision="{REVISION}", feature="{f.name}"}}')
            hist_read = drift.from_buckets({s.labels["le"]: s.value for s in samples})
            bounds = [*edges[f.name], float("inf")]
            values = [row[f.name] for row in rows if f.name in row]
            expected = [sum(1 for v in values if (i == 0 or bounds[i - 1] < v) and v <= b)
                        for i, b in enumerate(bounds)]
            assert list(hist_read.counts) == expected
            assert hist_read.bounds == tuple(bounds)
    finally:
        prom.stop()
        server.close()
