"""`mlops-console drift show` and `mlops-console health`, through console.cli.main, against the
sandbox's real Prometheus."""

from __future__ import annotations

import json

import pytest

from console.cli import main
from metrics_fixtures import CANARY, STABLE, start_sandbox

FLAGS = ["--canary-revision", CANARY, "--stable-revision", STABLE]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    sb = start_sandbox(tmp_path_factory.mktemp("cli"))
    yield sb
    sb.stop()


@pytest.fixture(autouse=True)
def _no_cluster(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_drift_show_json(sandbox, capsys):
    at = str(sandbox.history_end - 600)
    code, out, err = run(capsys, "drift", "show", "fraud-detector", "-n", "fraud", "--prometheus-url",
                         sandbox.prometheus_url, "--at", at, "--json", *FLAGS)
    assert code == 0, err
    body = json.loads(out)
    assert body["live_revision"] == CANARY and body["reference_revision"] == STABLE
    assert body["window"] == "15m" and body["reference"] == "stable"
    features = body["features"]
    assert len(features) == 8
    assert set(features[0]) >= {"feature", "psi", "js", "live_count", "reference_count", "noise_floor", "status"}
    drifting = {f["feature"] for f in features if f["status"] == "drift"}
    assert drifting == {"amount", "txn_velocity", "device_score"}
    assert [f["feature"] for f in features[:3]] and features[0]["status"] == "drift"  # sorted
    # --at pins the instant: the same numbers again
    code, out2, _ = run(capsys, "drift", "show", "fraud-detector", "-n", "fraud", "--prometheus-url",
                        sandbox.prometheus_url, "--at", at, "--json", *FLAGS)
    assert json.loads(out2)["features"] == features


def test_drift_show_no_data_is_null(sandbox, capsys):
    # the window before the backfilled history: nothing to compare with
    at = str(sandbox.history_start + 300)
    code, out, err = run(capsys, "drift", "show", "credit-risk", "-n", "fraud", "--prometheus-url",
                         sandbox.prometheus_url, "--at", at, "--reference", "before", "--json")
    assert code == 0, err
    body = json.loads(out)
    assert body["traffic_source"] == "prometheus"  # no cluster: the only revision with metrics
    assert body["features"] and all(f["psi"] is None and f["js"] is None and f["status"] == "no-data"
                                    for f in body["features"])
    assert all(f["reference_count"] is None for f in body["features"])


def test_drift_show_text_and_series(sandbox, capsys):
    at = str(sandbox.history_end - 600)
    code, out, err = run(capsys, "drift", "show", "fraud-detector", "-n", "fraud", "--prometheus-url",
                         sandbox.prometheus_url, "--at", at, "--window", "1h", *FLAGS)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[2].split() == ["FEATURE", "STATUS", "PSI", "JS", "LIVE", "N", "REF", "N", "FLOOR"]
    assert lines[3].split()[1] == "drift"
    code, out, err = run(capsys, "drift", "show", "fraud-detector", "-n", "fraud", "--prometheus-url",
                         sandbox.prometheus_url, "--at", at, "--json", "--series", *FLAGS)
    series = json.loads(out)["series"]["amount"]
    assert len(series) > 100 and all(p["psi"] is not None for p in series)


def test_health_json_and_text(sandbox, capsys):
    at = str(sandbox.history_end - 600)
    code, out, err = run(capsys, "health", "fraud-detector", "-n", "fraud", "--prometheus-url",
                         sandbox.prometheus_url, "--at", at, "--json", *FLAGS)
    assert code == 1, err  # failing (issue 12: health is a gate)
    body = json.loads(out)
    assert body["verdict"] == "failing checks 1 of 2" and body["exit_code"] == 1
    assert body["canary"]["revision"] == CANARY and body["stable"]["revision"] == STABLE
    assert body["canary"]["success_rate"] < 0.99
    assert {f["feature"] for f in body["top_drift"]} == {"amount", "txn_velocity", "device_score"}
    code, out, err = run(capsys, "health", "credit-risk", "-n", "fraud", "--prometheus-url",
                         sandbox.prometheus_url, "--at", at)
    assert code == 0, err
    assert out.splitlines()[0] == "fraud/credit-risk: healthy"


def test_health_exit_codes_are_a_gate(sandbox, capsys):
    """Issue 12 §1: 0 healthy, 1 failing, 10 not enough data (a window before any history)."""
    at = sandbox.history_end - 600
    base = ["--prometheus-url", sandbox.prometheus_url, "-n", "fraud"]
    assert run(capsys, "health", "credit-risk", *base, "--at", str(at))[0] == 0
    assert run(capsys, "health", "fraud-detector", *base, "--at", str(at), *FLAGS)[0] == 1
    code, out, _ = run(capsys, "health", "credit-risk", *base, "--at", str(sandbox.history_start - 3600), "--json")
    assert code == 10 and json.loads(out)["status"] == "not-enough-data"


def test_thresholds_come_from_the_config(sandbox, capsys, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[health]\nmin_success_rate = 0.9\n\n[drift]\nwarn = 0.5\ndrift = 0.9\n")
    at = str(sandbox.history_end - 600)
    code, out, err = run(capsys, "--config", str(config), "health", "fraud-detector", "-n", "fraud",
                         "--prometheus-url", sandbox.prometheus_url, "--at", at, "--json", *FLAGS)
    assert code == 0, err
    assert json.loads(out)["verdict"] == "healthy"
    code, out, err = run(capsys, "--config", str(config), "drift", "show", "fraud-detector", "-n", "fraud",
                         "--prometheus-url", sandbox.prometheus_url, "--at", at, "--json", *FLAGS)
    assert {f["status"] for f in json.loads(out)["features"]} == {"ok"}


def test_errors_are_one_line_with_exit_codes(sandbox, capsys):
    code, out, err = run(capsys, "drift", "show", "fraud-detector", "-n", "fraud", *FLAGS)
    assert code == 2 and err.startswith("mlops-console: no Prometheus URL") and "--prometheus-url" in err
    code, out, err = run(capsys, "drift", "show", "fraud-detector", "-n", "fraud", "--prometheus-url",
                         sandbox.prometheus_url, "--window", "soon", *FLAGS)
    assert code == 2 and "bad window" in err
    code, out, err = run(capsys, "drift", "show", "fraud-detector", "-n", "fraud", "--prometheus-url",
                         sandbox.prometheus_url, "--at", "yesterday", *FLAGS)
    assert code == 2 and "unix time" in err
    code, out, err = run(capsys, "drift", "show", "fraud-detector", "-n", "fraud", "--prometheus-url",
                         sandbox.prometheus_url)
    assert code == 2 and "--canary-revision" in err  # two revisions, no cluster to say which is which
    code, out, err = run(capsys, "health", "nope", "-n", "fraud", "--prometheus-url", sandbox.prometheus_url)
    assert code == 5 and "no request metrics for fraud/nope (metric profiles knative, " in err
    code, out, err = run(capsys, "health", "credit-risk", "-n", "fraud", "--prometheus-url", "http://127.0.0.1:9")
    assert code == 3 and "http://127.0.0.1:9" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
