"""Emit the drift inputs the console reads, from a KServe custom predictor (README, "Drift inputs").

No standard exports per-feature histograms, so the console reads a documented contract:
`model_feature_value_bucket{model, revision, feature, le}` (a histogram per input feature, with the
training reference's bin edges) plus `namespace`, which the scrape adds. In the predictor:

    FEATURES = FeatureHistograms({"amount": [10, 50, 100, 500], "hour_of_day": [6, 12, 18]})
    prometheus_client.REGISTRY.register(FEATURES)

    class FraudModel(kserve.Model):
        def predict(self, payload, headers=None):
            for row in payload["instances"]:
                FEATURES.observe(row)
            ...

Knative sets K_SERVICE (<isvc>-predictor) and K_REVISION in the serving container, so the model and
revision labels match the InferenceService and its status traffic. prometheus_client's own
Histogram has one set of buckets per metric; a collector lets each feature keep its own edges.
"""

import bisect
import os
import threading

from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector


class FeatureHistograms(Collector):
    def __init__(self, edges, model=None, revision=None):
        self.edges = {name: sorted(map(float, e)) for name, e in edges.items()}  # upper bounds, +Inf implied
        self.model = model or os.environ.get("K_SERVICE", "").removesuffix("-predictor")
        self.revision = revision or os.environ.get("K_REVISION", "")
        self.counts = {name: [0] * (len(e) + 1) for name, e in self.edges.items()}
        self.sums = dict.fromkeys(self.edges, 0.0)
        self.lock = threading.Lock()

    def observe(self, row):
        with self.lock:
            for name, value in row.items():
                if name in self.edges:
                    self.counts[name][bisect.bisect_left(self.edges[name], value)] += 1  # le: value <= bound
                    self.sums[name] += value

    def collect(self):
        family = HistogramMetricFamily("model_feature_value", "Values of each input feature.",
                                       labels=["model", "revision", "feature"])
        with self.lock:
            for name, edges in self.edges.items():
                cumulative, buckets = 0, []
                for bound, count in zip([*map(str, edges), "+Inf"], self.counts[name], strict=True):
                    cumulative += count
                    buckets.append((bound, cumulative))
                family.add_metric([self.model, self.revision, name], buckets, self.sums[name])
        yield family
