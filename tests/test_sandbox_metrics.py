"""The sandbox metrics exporter (metrics contract, traffic split, determinism) and the sandbox's
real Prometheus (backfilled history continuing into live scrapes)."""

from __future__ import annotations

import math
import re
import urllib.error
import urllib.request

import pytest

from adapters.metrics import MetricsClient
from console import demo_data
from console.sandbox.metrics_model import Simulation, backfill_openmetrics
from console.sandbox.metrics_server import INSTALL_HINT, Exporter, MetricsSandbox
from metrics_fake import FakeCluster
from metrics_fixtures import CANARY, STABLE, start_sandbox, wait_until

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text: str) -> dict[tuple[str, frozenset], float]:
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(LABEL.findall(m.group(2)))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def total(samples, name, **match) -> float:
    return sum(v for (n, labels), v in samples.items()
               if n == name and all((k, val) in labels for k, val in match.items()))


class Clock:
    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_exposition_follows_the_metrics_contract():
    cluster = FakeCluster()
    exporter = Exporter(Simulation(seed=3, profile="console"), cluster, start_time=1_000_000.0, tick=5)
    text = exporter.render(now=1_000_000.0 + 600)
    assert "# TYPE model_requests_total counter" in text
    assert "# TYPE model_feature_value histogram" in text
    samples = parse_exposition(text)
    # the revision label is exactly the revisionName of the status traffic
    traffic_revs = {(i["metadata"]["namespace"], i["metadata"]["name"], t["revisionName"])
                    for i in cluster.inference_services()
                    for t in i["status"]["components"]["predictor"]["traffic"]}
    exported = {(dict(l)["namespace"], dict(l)["model"], dict(l)["revision"]) for (n, l) in samples
                if n == "model_requests_total"}
    assert exported == traffic_revs
    # feature buckets are the demo Feature's edges e1..e(N-1) and +Inf (the catalog convention)
    feature = demo_data.MODELS_BY_NAME["fraud-detector"].features[0]
    les = sorted((dict(l)["le"] for (n, l) in samples if n == "model_feature_value_bucket"
                  and ("feature", feature.name) in l and ("revision", CANARY) in l),
                 key=lambda x: math.inf if x == "+Inf" else float(x))
    assert les == [repr(float(e)) for e in feature.edges()[1:-1]] + ["+Inf"]
    # cumulative buckets; +Inf equals _count
    for (n, l), v in samples.items():
        if n == "model_feature_value_count":
            assert samples[("model_feature_value_bucket", l | {("le", "+Inf")})] == v
    assert total(samples, "model_requests_total", revision=CANARY) > 0
    assert total(samples, "model_requests_total", revision=CANARY, code="500") > 0  # 3% errors on the canary


def test_request_rates_follow_the_split_and_a_rollback_moves_traffic():
    cluster = FakeCluster()
    t0 = 2_000_000.0
    exporter = Exporter(Simulation(seed=5, profile="console"), cluster, start_time=t0, tick=5)
    s1 = parse_exposition(exporter.render(now=t0 + 3600))
    canary1 = total(s1, "model_requests_total", revision=CANARY)
    stable1 = total(s1, "model_requests_total", revision=STABLE)
    # 12 req/s split 20/80 over an hour
    assert canary1 == pytest.approx(12 * 3600 * 0.2, rel=0.05)
    assert stable1 == pytest.approx(12 * 3600 * 0.8, rel=0.05)
    cluster.set_canary_percent("fraud", "fraud-detector", 0)  # roll back
    s2 = parse_exposition(exporter.render(now=t0 + 7200))
    assert total(s2, "model_requests_total", revision=CANARY) == canary1  # no more traffic
    assert total(s2, "model_requests_total", revision=STABLE) - stable1 == pytest.approx(12 * 3600, rel=0.05)
    cluster.set_canary_percent("fraud", "fraud-detector", 100)  # promote
    s3 = parse_exposition(exporter.render(now=t0 + 7200 + 600))
    assert total(s3, "model_requests_total", revision=STABLE) == total(s2, "model_requests_total", revision=STABLE)
    assert total(s3, "model_requests_total", revision=CANARY) > canary1


def test_canary_features_drift_on_the_story_features_only():
    from console import drift

    exporter = Exporter(Simulation(seed=9), FakeCluster(), start_time=0.0, tick=60)
    samples = parse_exposition(exporter.render(now=3 * 3600))

    def hist(rev, feature):
        return drift.from_buckets([(dict(l)["le"], v) for (n, l), v in samples.items()
                                   if n == "model_feature_value_bucket" and ("revision", rev) in l
                                   and ("feature", feature) in l])

    for f in demo_data.MODELS_BY_NAME["fraud-detector"].features:
        res = drift.compare(f.name, hist(CANARY, f.name), hist(STABLE, f.name))
        if f.name in ("amount", "txn_velocity", "device_score"):
            assert res.status == drift.DRIFT and 0.28 < res.psi < 0.45
        else:
            assert res.status == drift.OK


def test_deterministic_given_a_seed():
    def run(seed):
        exporter = Exporter(Simulation(seed=seed), FakeCluster(), start_time=500_000.0, tick=5)
        exporter.render(now=500_000.0 + 300)
        return exporter.render(now=500_000.0 + 900)

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_backfill_ends_where_the_exporter_continues(tmp_path):
    sim = Simulation(seed=4)
    specs = sim.specs(FakeCluster().inference_services())
    path = tmp_path / "h.om"
    with open(path, "w") as fh:
        n = backfill_openmetrics(sim, specs, 0.0, 600.0, 60.0, fh)
    text = path.read_text()
    assert text.endswith("# EOF\n")
    assert "job=" not in text and "instance=" not in text
    last = {}
    for line in text.splitlines()[:-1]:
        series, value, ts = line.rsplit(" ", 2)
        last[series] = (float(ts), float(value))
    assert n == len(text.splitlines()) - 1
    assert {ts for ts, _ in last.values()} == {600.0}
    # the final backfilled values are the exporter's starting values
    exposition = {f"{n}{{{','.join(f'{k}=' + chr(34) + v + chr(34) for k, v in sorted(l))}}}": v
                  for (n, l), v in parse_exposition(sim.exposition()).items()}
    normalised = {}
    for series, (_, v) in last.items():
        name, labels = series.split("{", 1)
        pairs = sorted(LABEL.findall(labels[:-1]))
        normalised[f"{name}{{{','.join(f'{k}=' + chr(34) + val + chr(34) for k, val in pairs)}}}"] = v
    assert normalised == exposition


def test_http_exporter_and_no_prometheus_message(tmp_path):
    sb = MetricsSandbox(tmp_path, FakeCluster(), prometheus="/nonexistent/prometheus", history_hours=0.5)
    try:
        assert sb.start() is None
        assert sb.message == INSTALL_HINT
        with urllib.request.urlopen(sb.exporter_url + "/metrics", timeout=5) as r:
            assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            body = r.read().decode()
        assert total(parse_exposition(body), "revision_request_count", revision_name=STABLE) > 0  # knative: default
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(sb.exporter_url + "/other", timeout=5)
        assert info.value.code == 404
    finally:
        sb.stop()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    cluster = FakeCluster()
    sb = start_sandbox(tmp_path_factory.mktemp("live"), cluster=cluster, scrape_interval=1, tick=1)
    yield sb, cluster
    sb.stop()


def test_prometheus_backfill_continues_into_live_scrapes(live):
    sb, _ = live
    c = MetricsClient(sb.prometheus_url, timeout=5)
    c.ready()
    assert sb.history_end - sb.history_start >= 6 * 3600
    # history at the very start of the backfill
    early = c.instant('sum(increase(revision_request_count{configuration_name="fraud-detector-predictor"}[10m]))',
                      sb.history_start + 900)
    assert early and early[0].value > 0
    # scrapes land on the same series (no job/instance), so increase() spans the junction
    q = 'revision_request_count{configuration_name="fraud-detector-predictor", response_code="200"}'
    fresh = wait_until(lambda: any(s.value > sb.history_end + 0.5 for s in c.instant(f"timestamp({q})")),
                       timeout=20)
    assert fresh, "no live scrape arrived"
    assert len(c.instant(q)) == 2  # one series per revision, not two (backfilled + scraped)
    assert all("job" not in s.labels for s in c.instant(q))


def test_a_rollback_shows_in_prometheus(live):
    sb, cluster = live
    c = MetricsClient(sb.prometheus_url, timeout=5)
    cluster.set_canary_percent("fraud", "fraud-detector", 0)
    try:
        rate_q = ('sum by (revision_name) (increase(revision_request_count'
                  '{configuration_name="fraud-detector-predictor"}[3s]))')

        def canary_idle():
            import time

            now = time.time()
            got = {s.labels["revision_name"]: s.value for s in c.instant(rate_q, now)}
            return got.get(CANARY) == 0 and got.get(STABLE, 0) > 0

        assert wait_until(canary_idle, timeout=20, interval=0.5)
    finally:
        cluster.set_canary_percent("fraud", "fraud-detector", 20)


def test_two_traffic_entries_naming_one_revision_are_one_series():
    from console.sandbox.metrics_model import revision_specs

    isvc = FakeCluster().inference_services()[1]  # fraud/credit-risk, one revision at 100%
    traffic = isvc["status"]["components"]["predictor"]["traffic"]
    rev = traffic[0]["revisionName"]
    traffic[:] = [{"revisionName": rev, "percent": 10, "latestRevision": True},
                  {"revisionName": rev, "percent": 90, "latestRevision": False, "tag": "prev"}]
    specs = revision_specs([isvc])
    assert len(specs) == 1 and specs[0].percent == 100 and specs[0].rate == pytest.approx(4.0)


# -- the request metrics of each profile, as the real systems export them ------------------------


def test_knative_exposition_follows_the_knative_docs():
    """knative.dev "Service metrics" (queue-proxy, OpenCensus) and knative/serving
    pkg/queue/request_metric.go: counters and millisecond histograms, with these labels."""
    from console.sandbox.metrics_model import KNATIVE_MS_BUCKETS

    cluster = FakeCluster()
    text = Exporter(Simulation(seed=3, profile="knative"), cluster, start_time=0.0, tick=5).render(now=600.0)
    for family, kind in (("revision_request_count", "counter"), ("revision_request_latencies", "histogram"),
                         ("revision_app_request_count", "counter"), ("revision_app_request_latencies", "histogram")):
        assert f"# TYPE {family} {kind}" in text
    assert "model_requests_total" not in text and "# TYPE model_feature_value histogram" in text
    samples = parse_exposition(text)
    common = {"configuration_name", "namespace_name", "pod_name", "response_code", "response_code_class",
              "revision_name", "service_name"}
    names = {n: {k for k, _ in labels} for (n, labels) in samples}
    assert names["revision_request_count"] == names["revision_app_request_count"] == common | {"container_name"}
    assert names["revision_app_request_latencies_bucket"] == common | {"le"}  # no container_name (docs table)
    revs = {(i["metadata"]["name"], t["revisionName"]) for i in cluster.inference_services()
            for t in i["status"]["components"]["predictor"]["traffic"]}
    exported = {(dict(l)["configuration_name"].removesuffix("-predictor"), dict(l)["revision_name"])
                for (n, l) in samples if n == "revision_request_count"}
    assert exported == revs
    les = {dict(l)["le"] for (n, l) in samples if n == "revision_request_latencies_bucket"}
    assert les == {repr(float(b)) for b in KNATIVE_MS_BUCKETS} | {"+Inf"}
    errors = [(dict(l), v) for (n, l), v in samples.items() if n == "revision_request_count"
              and ("response_code", "500") in l and ("revision_name", CANARY) in l]
    assert errors and errors[0][0]["response_code_class"] == "5xx" and errors[0][1] > 0
    # milliseconds: the mean latency of the demo (~48 ms) reads as ~48, not ~0.048
    count = total(samples, "revision_request_latencies_count", revision_name=STABLE)
    assert 20 < total(samples, "revision_request_latencies_sum", revision_name=STABLE) / count < 200


def test_sandbox_up_metrics_profile_flag(tmp_path, capsys):
    from console.cli import main

    assert main(["sandbox", "up", "--state-dir", str(tmp_path), "--metrics-profile", "prometheus"]) == 2
    err = capsys.readouterr().err
    assert "--metrics-profile 'prometheus'" in err and "knative-otel" in err and "Traceback" not in err


@pytest.mark.parametrize("profile", [None, "knative-otel"], ids=["default", "knative-otel"])
def test_the_sandbox_serves_the_profile_asked_for_and_knative_by_default(tmp_path, profile):
    """The full sandbox (KServe simulator, real Prometheus): the console detects what it serves."""
    from adapters.metrics import detect_profile
    from console.sandbox.runner import Sandbox
    from metrics_fixtures import need_prometheus

    need_prometheus()
    sb = Sandbox(tmp_path, kfp=False, catalog=False, **({"metrics_profile": profile} if profile else {}))
    try:
        endpoints = sb.start()
        assert endpoints["prometheus_url"], endpoints["messages"]
        want = profile or "knative"
        assert endpoints["metrics_profile"] == want
        c = MetricsClient(endpoints["prometheus_url"], timeout=10)
        match = detect_profile(c, "fraud", "fraud-detector", at=sb.metrics.history_end)
        assert match.name == want and CANARY in match.revisions
    finally:
        sb.stop()


def test_otel_series_keep_their_own_job_and_instance_live(tmp_path):
    """Knative 1.19+ without promoted attributes: the series carry job/instance and target_info holds
    the revision (knative/serving pkg/queue/sharedmain/otel.go); the scrape keeps both, so the
    join works across the backfilled history and the live scrapes, on one series each."""
    from console.sandbox.metrics_model import pod_name

    sb = start_sandbox(tmp_path, profile="knative-otel-target-info", history_hours=0.5, scrape_interval=1, tick=1)
    try:
        c = MetricsClient(sb.prometheus_url, timeout=5)
        info = f'target_info{{kn_revision_name="{CANARY}"}}'
        assert wait_until(lambda: any(s.value > sb.history_end + 0.5 for s in c.instant(f"timestamp({info})")),
                          timeout=20), "no live scrape arrived"
        [target] = c.instant(info)
        assert target.labels["job"] == "queue-proxy" and target.labels["instance"] == pod_name(CANARY)
        assert target.labels["k8s_namespace_name"] == "fraud"
        q = 'kn_serving_invocation_duration_seconds_count{http_response_status_code="200"}'
        series = c.instant(q)
        revisions = {t["revisionName"] for i in FakeCluster().inference_services()
                     for t in i["status"]["components"]["predictor"]["traffic"]}
        # one series per revision, history and live alike
        assert sorted(s.labels["instance"] for s in series) == sorted(pod_name(r) for r in revisions)
        assert all("kn_revision_name" not in s.labels and s.labels["job"] == "queue-proxy" for s in series)
        joined = c.instant(f'sum by (kn_revision_name) (increase({q.split("{")[0]}[2m]) * on (job, instance) '
                           f'group_left (kn_revision_name) target_info{{k8s_namespace_name="fraud"}})')
        assert {s.labels["kn_revision_name"] for s in joined} >= {CANARY, STABLE}
        features = c.instant('model_feature_value_count{feature="amount"}')
        assert features and all("job" not in s.labels and "instance" not in s.labels for s in features)
    finally:
        sb.stop()
