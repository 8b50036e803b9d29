"""Layered settings: config file < per-context section < environment < flags; strict validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.errors import InvalidInput
from console import config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_defaults_live_in_xdg_dirs(_isolated_xdg):
    settings = config.resolve({}, environ={"XDG_DATA_HOME": str(_isolated_xdg / "data")})
    assert settings.catalog == _isolated_xdg / "data" / "mlops-console" / "catalog.db"
    assert settings.read_only is False
    assert settings.config_path is None


def test_flags_beat_environment_beat_file(tmp_path):
    path = write(tmp_path, 'prometheus_url = "http://file"\nkfp_url = "http://file-kfp"\ncatalog = "/file.db"\n')
    env = {"MLOPS_CONSOLE_PROMETHEUS_URL": "http://env", "MLOPS_CONSOLE_CATALOG": "/env.db"}
    settings = config.resolve({"config": str(path), "catalog": "/flag.db"}, environ=env)
    assert settings.prometheus_url == "http://env"
    assert settings.kfp_url == "http://file-kfp"
    assert settings.catalog == Path("/flag.db")


def test_default_config_file_is_read(_isolated_xdg, monkeypatch):
    cfg_dir = _isolated_xdg / "config" / "mlops-console"
    cfg_dir.mkdir(parents=True)
    (cfg_dir / "config.toml").write_text("read_only = true\n[rollout]\nstep = 5\n")
    settings = config.resolve({})
    assert settings.read_only is True
    assert settings.rollout.step == 5


def test_per_context_section_applies_to_the_active_context(tmp_path):
    path = write(tmp_path, 'prometheus_url = "http://top"\n[contexts."prod"]\nprometheus_url = "http://prod"\n'
                           'read_only = true\n[contexts."dev"]\nprometheus_url = "http://dev"\n')
    prod = config.resolve({"config": str(path), "context": "prod"}, environ={})
    dev = config.resolve({"config": str(path), "context": "dev"}, environ={})
    assert (prod.prometheus_url, prod.read_only) == ("http://prod", True)
    assert (dev.prometheus_url, dev.read_only) == ("http://dev", False)


def test_context_defaults_to_kubeconfig_current_context(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\ncurrent-context: prod\ncontexts: []\n")
    path = write(tmp_path, '[contexts."prod"]\nkfp_url = "http://prod-kfp"\n')
    settings = config.resolve({"config": str(path)}, environ={"KUBECONFIG": str(kubeconfig)})
    assert settings.kfp_url == "http://prod-kfp"


def test_read_only_from_environment(tmp_path):
    assert config.resolve({}, environ={"MLOPS_CONSOLE_READ_ONLY": "yes"}).read_only is True
    assert config.resolve({}, environ={"MLOPS_CONSOLE_READ_ONLY": "0"}).read_only is False
    with pytest.raises(InvalidInput, match="MLOPS_CONSOLE_READ_ONLY"):
        config.resolve({}, environ={"MLOPS_CONSOLE_READ_ONLY": "maybe"})


def test_invalid_toml_names_file_and_line(tmp_path):
    path = write(tmp_path, 'catalog = "/x.db"\nprometheus_url = \n')
    with pytest.raises(InvalidInput) as error:
        config.resolve({"config": str(path)}, environ={})
    assert f"{path}:2" in error.value.message
    assert "invalid TOML" in error.value.message


def test_unknown_key_names_file_line_and_key(tmp_path):
    path = write(tmp_path, 'catalog = "/x.db"\n\n[drift]\nwarn = 0.2\nwran = 0.3\n')
    with pytest.raises(InvalidInput) as error:
        config.resolve({"config": str(path)}, environ={})
    assert f"{path}:5" in error.value.message
    assert "'drift.wran'" in error.value.message


def test_wrong_type_is_refused(tmp_path):
    path = write(tmp_path, 'read_only = "yes"\n')
    with pytest.raises(InvalidInput, match=r"config .*:1: 'read_only' must be true or false"):
        config.resolve({"config": str(path)}, environ={})


def test_missing_explicit_config_is_an_error(tmp_path):
    with pytest.raises(InvalidInput, match="does not exist"):
        config.resolve({"config": str(tmp_path / "nope.toml")}, environ={})


@pytest.mark.parametrize(("text", "line", "key", "problem"), [
    ("[rollout]\nstep = 0\n", 2, "rollout.step", "must be from 1 to 100, not 0"),
    ("[rollout]\nstep = 150\n", 2, "rollout.step", "must be from 1 to 100, not 150"),
    ("[rollout]\nstep = -5\n", 2, "rollout.step", "must be from 1 to 100, not -5"),
    ('catalog = "/x.db"\n\n[prometheus]\ntimeout = 0\n', 4, "prometheus.timeout", "must be greater than 0"),
    ("[kfp]\ntimeout = -1\n", 2, "kfp.timeout", "must be greater than 0"),
    ("[drift]\nwarn = nan\n", 2, "drift.warn", "must be greater than 0, not nan"),
    ("[drift]\nwarn = 0.1\ndrift = inf\n", 3, "drift.drift", "must be greater than 0, not inf"),
    ("[drift]\nwarn = 0.3\ndrift = 0.2\n", 3, "drift.drift", "must be greater than drift.warn (0.3), not 0.2"),
    ("[drift]\nwarn = 0.5\n", 2, "drift.warn", "must be less than drift.drift (0.25), not 0.5"),
    ("[drift]\nmin_samples = 0\n", 2, "drift.min_samples", "must be at least 1, not 0"),
    ("[drift]\nfloor_factor = -1\n", 2, "drift.floor_factor", "must be at least 0, not -1.0"),
    ("[health]\nmin_success_rate = 99\n", 2, "health.min_success_rate", "must be from 0 to 1, not 99.0"),
    ("[health]\nmax_p99_seconds = 0\n", 2, "health.max_p99_seconds", "must be greater than 0, not 0.0"),
    ("[triage]\nfailed_within_hours = -2\n", 2, "triage.failed_within_hours",
     "must be greater than 0 and at most 8784, not -2.0"),
    ("[catalog.mlflow]\nconcurrency = 0\n", 2, "catalog.mlflow.concurrency", "must be from 1 to 64, not 0"),
    ("[catalog.mlflow]\ntimeout = 0\n", 2, "catalog.mlflow.timeout", "must be greater than 0"),
])
def test_numeric_settings_are_checked_on_load_with_file_line_and_key(tmp_path, text, line, key, problem):
    path = write(tmp_path, text)
    with pytest.raises(InvalidInput) as error:
        config.resolve({"config": str(path)}, environ={})
    assert error.value.message.startswith(f"config {path}:{line}: '{key}' {problem}")


# -- [metrics]: the metric profile and the drift contract's names -------------------------------


def test_metrics_section_picks_a_profile_and_overrides_names(tmp_path):
    from adapters.metrics import PROFILES
    from console.clients import metrics_client

    path = write(tmp_path, '[metrics]\nprofile = "knative"\nrequests_metric = "revision_app_request_count"\n'
                           'duration_metric = "revision_app_request_latencies"\ncode_label = ""\n'
                           'feature_metric = "inputs"\nfeature_model_label = "isvc"\nfeature_label = "input"\n')
    settings = config.resolve({"config": str(path), "prometheus_url": "http://prom:9090"}, environ={})
    client = metrics_client(settings)
    [p] = client.profiles
    assert (p.name, p.requests, p.duration, p.unit) == ("knative", "revision_app_request_count",
                                                        "revision_app_request_latencies", 0.001)
    assert p.code_label is None and p.revision_label == "revision_name"  # "" means: no response codes
    fc = client.features_contract
    assert (fc.metric, fc.model_label, fc.feature_label, fc.revision_label) == ("inputs", "isvc", "input", "revision")
    # no [metrics] section: every profile, detected in order; the documented feature contract
    default = metrics_client(config.resolve({"prometheus_url": "http://prom:9090"}, environ={}))
    assert default.profiles == PROFILES and default.features_contract.metric == "model_feature_value"


@pytest.mark.parametrize("body, key, problem", [
    ('profile = "knativ"', "metrics.profile", "must be auto or one of knative, knative-otel"),
    ('profile = "console"\nrevision_label = "rev-name"', "metrics.revision_label", "Prometheus label name"),
    ('feature_metric = "feature value"', "metrics.feature_metric", "Prometheus metric name"),
    ('profile = "knative"\nduration_unit = "us"', "metrics.duration_unit", 'must be "s" or "ms"'),
    ('duration_metric = "my_latency"', "metrics.duration_metric", "needs 'profile' set"),
    ('profile = 3', "metrics.profile", "must be a string"),
])
def test_metrics_section_is_validated_strictly(tmp_path, body, key, problem):
    path = write(tmp_path, f"[metrics]\n{body}\n")
    with pytest.raises(InvalidInput) as error:
        config.resolve({"config": str(path)}, environ={})
    line = body.count("\n") + 2
    assert f"{path}:{line}: '{key}'" in error.value.message
    assert problem in error.value.message


def test_every_numeric_setting_has_a_range():
    from dataclasses import fields

    tables = {**config._SECTIONS, "catalog.mlflow": config.MlflowSettings}
    numeric = {(table, f.name) for table, cls in tables.items() for f in fields(cls)
               if str(f.type) in ("int", "float")}
    assert numeric and numeric <= set(config._RANGES), numeric - set(config._RANGES)
