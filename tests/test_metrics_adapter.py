"""adapters.metrics and the drift service against a REAL Prometheus with backfilled history, and
the faults: down, slow, not ready, wrong URL (HTML), auth failure, custom CA, missing series,
a single sample, a counter reset."""

from __future__ import annotations

import base64
import math
import socket
import ssl
import time

import pytest

from adapters.errors import BackendUnavailable, DataError, Forbidden, InvalidInput, NotFound
from adapters.metrics import MAX_POINTS, MetricsClient, clamp_step, parse_value
from console import drift
from console.drift_service import DriftService
from console.sandbox.metrics_server import PrometheusProcess
from metrics_fixtures import CANARY, STABLE, Server, auth_proxy, need_prometheus, start_sandbox

DRIFTING = {"amount", "txn_velocity", "device_score"}  # demo_data.SERVED: the fraud canary


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    sb = start_sandbox(tmp_path_factory.mktemp("metrics"))
    yield sb
    sb.stop()


@pytest.fixture(scope="module")
def client(sandbox):
    c = MetricsClient(sandbox.prometheus_url, timeout=10)
    yield c
    c.close()


@pytest.fixture(scope="module")
def at(sandbox):
    """An instant inside the backfilled history, 10 minutes before its end."""
    return sandbox.history_end - 600


def test_parse_value_handles_nan_and_infinities():
    assert math.isnan(parse_value("NaN"))
    assert parse_value("+Inf") == math.inf and parse_value("-Inf") == -math.inf
    assert parse_value("1.5e3") == 1500.0
    with pytest.raises(DataError):
        parse_value("twelve")


def test_clamp_step_keeps_points_under_the_limit():
    assert clamp_step(0, 3600, 60) == 60
    step = clamp_step(0, 30 * 86400, 1)
    assert 30 * 86400 / step <= MAX_POINTS
    assert step < 30 * 86400 / (MAX_POINTS - 1)


# -- raw queries ----------------------------------------------------------------------------


def test_instant_and_special_values(client):
    assert [s.value for s in client.instant("vector(3)")] == [3.0]
    assert math.isnan(client.instant("NaN")[0].value)
    assert client.instant("+Inf")[0].value == math.inf
    assert client.instant("-Inf")[0].value == -math.inf


def test_range_query_with_a_step_clamped_to_11000_points(client, sandbox):
    end = sandbox.history_end
    start = end - 2 * 86400
    series = client.range("vector(1)", start, end, 1)  # 172,800 points unclamped: Prometheus refuses that
    assert len(series) == 1
    assert 10_000 <= len(series[0].points) <= MAX_POINTS + 1
    assert all(v == 1.0 for _, v in series[0].points)


def test_long_queries_go_by_post(client, sandbox):
    proxy = auth_proxy(sandbox.prometheus_url)
    try:
        c = MetricsClient(proxy.url, timeout=10)
        long_alternatives = "|".join(f"no-such-model-{i}" for i in range(150))
        q = f'sum(model_requests_total{{model=~"{long_alternatives}"}}) or vector(7)'
        assert [s.value for s in c.instant(q)] == [7.0]
        assert [s.value for s in c.instant("vector(8)")] == [8.0]
        methods = [m for m, path, _ in proxy.requests if path.startswith("/api/v1/query")]
        assert methods == ["POST", "GET"]
        # the long query is in the body, not the URL
        assert len(proxy.requests[0][1]) < 200
    finally:
        proxy.close()


def test_queries_go_through_prometheus_api_client(client, sandbox, monkeypatch):
    """Issue 10 §2: the library's query API does the asking (with our timeout and headers); only long
    queries take the raw POST path."""
    from prometheus_api_client import PrometheusConnect

    calls = []
    for name in ("custom_query", "custom_query_range"):
        original = getattr(PrometheusConnect, name)

        def spy(self, *args, _name=name, _original=original, **kwargs):
            calls.append((_name, dict(self.headers or {}), kwargs.get("params", {})))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(PrometheusConnect, name, spy)
    end = sandbox.history_end - 0.5  # not a whole second: the library alone would round it
    assert [s.value for s in client.instant("vector(2)", end)] == [2.0]
    series = client.range("vector(1)", end - 120, end, 60)
    assert [name for name, _, _ in calls] == ["custom_query", "custom_query_range"]
    assert all(headers["Accept"] == "application/json" and params["timeout"].endswith("ms")
               for _, headers, params in calls)
    assert [t for t, _ in series[0].points] == [end - 120, end - 60, end]


def test_bad_query_gives_prometheus_error_text(client):
    with pytest.raises(InvalidInput) as info:
        client.instant("sum(rate(model_requests_total[5m])")
    assert "Prometheus rejected the query" in info.value.message
    assert "parse error" in info.value.message


# -- the metrics contract on backfilled history -----------------------------------------------


def test_backfill_covers_six_hours_without_job_or_instance(client, sandbox):
    early = sandbox.history_start + 1800
    assert sandbox.history_end - sandbox.history_start >= 6 * 3600
    samples = client.instant('sum by (revision_name) (increase(revision_request_count{namespace_name="fraud"}[15m]))',
                             early)
    assert {s.labels["revision_name"] for s in samples} == {CANARY, STABLE, "credit-risk-predictor-00001"}
    assert all(s.value > 0 for s in samples)
    raw = client.instant('revision_request_count{configuration_name="credit-risk-predictor"}', early)
    assert raw and all("job" not in s.labels and "instance" not in s.labels for s in raw)


def test_feature_buckets_per_revision(client, at):
    b = client.feature_buckets("fraud", "fraud-detector", window="15m", at=at, revisions=[CANARY, STABLE])
    assert {rev for rev, _ in b} == {CANARY, STABLE}
    assert {f for _, f in b} == {f.name for f in __import__("console.demo_data").demo_data.MODELS_BY_NAME[
        "fraud-detector"].features}
    one = b[(CANARY, "amount")]
    assert len(one) == 10 and "+Inf" in one


def test_stable_reference_finds_the_canary_drift(client, at):
    service = DriftService(client)
    report = service.report("fraud", "fraud-detector", window="15m", reference="stable", at=at,
                            live_revision=CANARY, stable_revision=STABLE, span=3600, step=60)
    by = {f.feature: f for f in report.features}
    assert {f for f, r in by.items() if r.status == drift.DRIFT} == DRIFTING
    assert all(by[f].status == drift.OK for f in by if f not in DRIFTING)
    for f in DRIFTING:
        assert 0.25 < by[f].psi < 0.5  # 0.6 sigma apart: ~0.36
        assert by[f].live_count > 1000 and by[f].reference_count > 3 * by[f].live_count  # 20/80 split
        assert by[f].noise_floor == pytest.approx(9 * (1 / by[f].live_count + 1 / by[f].reference_count))
    assert report.features[0].feature in DRIFTING  # sorted by drift
    # PSI over time: one point a minute for the last hour, ending at `at`, no gaps in the history
    series = report.series["amount"]
    assert len(series) == 61 and series[-1].t == pytest.approx(at)
    assert all(p.psi is not None and p.status == drift.DRIFT for p in series)
    assert series[-1].psi == pytest.approx(by["amount"].psi, rel=1e-6)
    assert all(p.psi < 0.1 for p in report.series["hour_of_day"])
    # the live and reference histograms for a chart
    assert len(by["amount"].live.counts) == len(by["amount"].reference.counts) == 10


def test_before_reference_sees_no_drift_in_a_stable_history(client, at):
    report = DriftService(client).report("fraud", "fraud-detector", window="15m", reference="before", at=at,
                                         live_revision=CANARY, with_series=False)
    assert report.features and all(f.status in (drift.OK, drift.WARN) for f in report.features)
    assert all(f.psi < 0.1 for f in report.features)


def test_pinned_reference_before_history_is_no_data(client, sandbox, at):
    report = DriftService(client).report("fraud", "fraud-detector", window="15m",
                                         reference=sandbox.history_start - 3600, at=at,
                                         live_revision=CANARY, span=1800, step=300)
    assert report.features and all(f.status == drift.NO_DATA and f.psi is None for f in report.features)
    assert all(f.live_count > 0 for f in report.features)
    assert all(p.psi is None for p in report.series["amount"])


def test_catalog_reference_from_the_demo_catalog(client, at, tmp_path):
    from adapters.catalog import Catalog
    from console import demo_data
    from console.demo_catalog import build_demo_catalog

    build_demo_catalog(tmp_path / "catalog.db")
    catalog = Catalog(tmp_path / "catalog.db")
    service = DriftService(client, catalog=catalog)
    try:
        # v40's training data already carries the canary's shift (demo_catalog), v39's does not
        own = service.report("fraud", "fraud-detector", window="15m", reference="catalog", at=at,
                             live_revision=CANARY, storage_uri=demo_data.storage_uri("fraud-detector", "40"),
                             span=1800, step=300)
        prev = service.report("fraud", "fraud-detector", window="15m", reference="catalog", at=at,
                              live_revision=CANARY, storage_uri=demo_data.storage_uri("fraud-detector", "39"),
                              with_series=False)
        with pytest.raises(NotFound):
            service.report("fraud", "fraud-detector", reference="catalog", at=at, live_revision=CANARY,
                           storage_uri="s3://elsewhere/x/v1")
    finally:
        catalog.close()
    assert all(f.status == drift.OK for f in own.features) and len(own.features) == 8
    assert all(f.reference_count >= 1000 for f in own.features)
    assert "catalog" in own.reference_label
    assert all(p.psi is not None and p.psi < 0.1 for p in own.series["amount"])
    assert {f.feature for f in prev.features if f.status == drift.DRIFT} == DRIFTING
    with pytest.raises(InvalidInput, match="needs the model catalog"):
        DriftService(client).report("fraud", "fraud-detector", reference="catalog", at=at, live_revision=CANARY,
                                    storage_uri=demo_data.storage_uri("fraud-detector", "40"))


def test_a_model_without_metrics_is_no_data_not_zero(client, at):
    report = DriftService(client).report("fraud", "no-such-model", window="15m", reference="before", at=at,
                                         live_revision="no-such-model-predictor-00001")
    assert report.features == [] and "no feature metrics" in report.message
    assert client.revision_stats("fraud", ["no-such-model-predictor-00001"], window="5m", at=at) == {}


def test_health_of_the_canary_and_of_a_healthy_model(client, at):
    service = DriftService(client)
    v = service.health("fraud", "fraud-detector", canary_revision=CANARY, stable_revision=STABLE, at=at,
                       traffic={CANARY: 20, STABLE: 80})
    assert v.text == "failing checks 1 of 2"  # 3% errors on the canary
    assert v.checks[0].name == "success_rate" and v.checks[0].passed is False
    assert v.canary.success_rate < 0.99 < v.stable.success_rate
    assert v.canary.request_rate < v.stable.request_rate  # 20/80 split
    assert 0 < v.canary.p50_seconds < v.canary.p99_seconds <= 0.5
    assert {f.feature for f in v.top_drift} == DRIFTING
    ok = service.health("fraud", "credit-risk", canary_revision="credit-risk-predictor-00001", at=at)
    assert ok.text == "healthy" and ok.stable is None
    # churn-predictor's canary is stuck (not ready): its own revision name has no requests at all
    none = service.health("recsys", "churn-predictor", canary_revision="churn-predictor-predictor-00002",
                          stable_revision="churn-predictor-predictor-00001", at=at)
    assert none.text == "not enough data"


def test_models_with_metrics(client, at):
    found = DriftService(client).models_with_metrics(at)
    assert ("fraud", "fraud-detector", [STABLE, CANARY]) in found
    from console import demo_data

    assert {(ns, model) for ns, model, _ in found} == {(s.namespace, s.name) for s in demo_data.SERVED}


# -- faults -----------------------------------------------------------------------------------


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_prometheus_down_is_unavailable_naming_the_url():
    url = _dead_url()
    c = MetricsClient(url, timeout=2)
    with pytest.raises(BackendUnavailable) as info:
        c.instant("vector(1)")
    assert url in info.value.message and "not reachable" in info.value.message


def test_slow_prometheus_times_out():
    def handle(h, body):
        time.sleep(1.5)
        return 200, {"Content-Type": "application/json"}, b'{"status":"success","data":{"resultType":"vector","result":[]}}'

    server = Server(handle)
    try:
        with pytest.raises(BackendUnavailable) as info:
            MetricsClient(server.url, timeout=0.5).instant("vector(1)")
        assert "did not answer within 0.5 s" in info.value.message
        assert len(server.requests) == 1  # retries are off
    finally:
        server.close()


def test_not_ready_and_5xx_are_unavailable():
    def handle(h, body):
        if h.path.startswith("/-/ready"):
            return 503, {"Content-Type": "text/plain"}, b"Service Unavailable"
        return 502, {"Content-Type": "text/html"}, b"<html>bad gateway</html>"

    server = Server(handle)
    try:
        c = MetricsClient(server.url, timeout=2)
        with pytest.raises(BackendUnavailable, match="not ready"):
            c.ready()
        with pytest.raises(BackendUnavailable, match="502"):
            c.instant("vector(1)")
        assert len(server.requests) == 2  # no retries
    finally:
        server.close()


def test_html_from_a_proxy_is_not_a_prometheus_api():
    def handle(h, body):
        return 200, {"Content-Type": "text/html; charset=utf-8"}, b"<!doctype html><html><body>Sign in</body></html>"

    server = Server(handle)
    try:
        with pytest.raises(DataError) as info:
            MetricsClient(server.url, timeout=2).instant("vector(1)")
        assert f"not a Prometheus API at {server.url}" in info.value.message
    finally:
        server.close()


def test_wrong_path_on_a_real_prometheus_is_not_a_prometheus_api(sandbox):
    with pytest.raises(DataError, match="not a Prometheus API"):
        MetricsClient(sandbox.prometheus_url + "/graph", timeout=5).instant("vector(1)")


def test_bearer_token_and_auth_failure(sandbox):
    proxy = auth_proxy(sandbox.prometheus_url, token="s3cret")
    try:
        with pytest.raises(Forbidden) as info:
            MetricsClient(proxy.url, bearer_token="wrong", timeout=5).instant("vector(1)")
        assert "401" in info.value.message and "bearer_token" in info.value.message
        assert [s.value for s in MetricsClient(proxy.url, bearer_token="s3cret", timeout=5).instant("vector(2)")] == [2.0]
    finally:
        proxy.close()


def test_bearer_token_file(sandbox, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("from-a-file\n")
    proxy = auth_proxy(sandbox.prometheus_url, token="from-a-file")
    try:
        c = MetricsClient(proxy.url, bearer_token_file=str(token_file), timeout=5)
        assert [s.value for s in c.instant("vector(4)")] == [4.0]
        with pytest.raises(InvalidInput, match="token file"):
            MetricsClient(proxy.url, bearer_token_file=str(tmp_path / "missing"), timeout=5).instant("vector(1)")
    finally:
        proxy.close()


def test_basic_auth(sandbox):
    proxy = auth_proxy(sandbox.prometheus_url, basic=base64.b64encode(b"oncall:pw").decode())
    try:
        assert MetricsClient(proxy.url, username="oncall", password="pw", timeout=5).instant("vector(5)")[0].value == 5
        with pytest.raises(Forbidden):
            MetricsClient(proxy.url, username="oncall", password="nope", timeout=5).instant("vector(5)")
    finally:
        proxy.close()


def test_custom_ca(sandbox, tmp_path):
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    proxy = auth_proxy(sandbox.prometheus_url, tls_context=ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    try:
        assert proxy.url.startswith("https://")
        with pytest.raises(BackendUnavailable, match="ca_file"):
            MetricsClient(proxy.url, timeout=5).instant("vector(1)")
        assert MetricsClient(proxy.url, ca_file=str(ca_file), timeout=5).instant("vector(6)")[0].value == 6
    finally:
        proxy.close()


# -- a single sample and a counter reset, on a Prometheus of their own -------------------------


def _bucket_lines(model, revision, feature, t, cumulative):
    les = ["1.0", "2.0", "+Inf"]
    return [f'model_feature_value_bucket{{namespace="t",model="{model}",revision="{revision}",'
            f'feature="{feature}",le="{le}"}} {v} {t:.3f}' for le, v in zip(les, cumulative, strict=True)]


@pytest.fixture(scope="module")
def edge_prometheus(tmp_path_factory):
    need_prometheus()
    work = tmp_path_factory.mktemp("edge")
    t_end = (time.time() // 60) * 60 - 3600
    lines: list[str] = []
    # "single": one sample only
    single = _bucket_lines("single", "r1", "x", t_end, [10, 20, 30])
    # "reset": every minute +10/+10/+10 per bin (shares 1/3 each); the process restarts halfway
    reset, ref = [], []
    total = 0
    for i in range(31):
        t = t_end - 1800 + i * 60
        if i == 15:
            total = 0  # counter reset
        else:
            total += 10
        reset += _bucket_lines("reset", "r1", "x", t, [total, 2 * total, 3 * total])
        ref += _bucket_lines("reset", "r0", "x", t, [i * 10, i * 20, i * 30])
    # the same "reset" data under other names: the feature contract is configurable
    custom = [line.replace("model_feature_value_bucket", "inputs_bucket").replace("namespace=", "ns=")
              .replace('model="reset"', 'isvc="custom"').replace("revision=", "rev=").replace("feature=", "input=")
              for line in reset + ref]
    # families must be contiguous: one series after the other
    lines = single + reset + ref + custom
    path = work / "edge.om"
    path.write_text("\n".join(lines) + "\n# EOF\n")
    prom = PrometheusProcess(work / "prom", "prometheus", "promtool")
    prom.backfill(path)
    url = prom.start([], scrape_interval=60)
    yield url, t_end
    prom.stop()


def test_single_sample_gives_no_data(edge_prometheus):
    url, t_end = edge_prometheus
    report = DriftService(MetricsClient(url, timeout=5)).report(
        "t", "single", window="15m", reference="before", at=t_end + 30, live_revision="r1", with_series=False)
    # increase() needs two samples: no number at all, never a made-up zero
    assert [f.feature for f in report.features] == ["x"]
    assert report.features[0].status == drift.NO_DATA and report.features[0].psi is None
    assert report.features[0].live_count is None
    assert MetricsClient(url, timeout=5).feature_buckets("t", "single", window="15m", at=t_end + 30) == {}


def test_counter_reset_is_handled_by_increase(edge_prometheus):
    url, t_end = edge_prometheus
    c = MetricsClient(url, timeout=5)
    b = c.feature_buckets("t", "reset", window="20m", at=t_end, revisions=["r1"])
    h = drift.from_buckets(b[("r1", "x")])
    # 20 one-minute steps of +10 per bin except the restart itself (counts from 0): all positive
    assert all(v > 0 for v in h.counts)
    assert h.counts[0] == pytest.approx(h.counts[1]) == pytest.approx(h.counts[2])
    report = DriftService(c).report("t", "reset", window="20m", reference="stable", at=t_end,
                                    live_revision="r1", stable_revision="r0", with_series=False)
    assert report.features[0].psi == pytest.approx(0.0, abs=1e-9)


def test_feature_contract_names_are_configurable(edge_prometheus):
    from adapters.metrics import FeatureContract

    url, t_end = edge_prometheus
    contract = FeatureContract(metric="inputs", namespace_label="ns", model_label="isvc", revision_label="rev",
                               feature_label="input")
    kwargs = dict(window="20m", reference="stable", at=t_end, live_revision="r1", stable_revision="r0", span=600,
                  step=60)
    custom = DriftService(MetricsClient(url, timeout=5, features=contract)).report("t", "custom", **kwargs)
    default = DriftService(MetricsClient(url, timeout=5)).report("t", "reset", **kwargs)
    assert [f.to_json() for f in custom.features] == [f.to_json() for f in default.features]
    assert [p.to_json() for p in custom.series["x"]] == [p.to_json() for p in default.series["x"]]
    assert custom.features[0].live_count > 0
    # with the default contract, the custom-named series are not there, and the message says which key to set
    missing = DriftService(MetricsClient(url, timeout=5)).report("t", "custom", **kwargs)
    assert missing.features == [] and "[metrics] feature_metric" in missing.message
