"""Settings: defaults < config file < per-context config < environment < command-line flags.

The config file is TOML at $XDG_CONFIG_HOME/mlops-console/config.toml (or --config / 
MLOPS_CONSOLE_CONFIG). Validation is strict: an unknown key or a wrong type is an error that names
the file, the line and the key.

    catalog = "~/models/catalog.db"
    read_only = false
    prometheus_url = "https://prometheus.example:9090"
    kfp_url = "https://kfp.example"

    [prometheus]          # auth for Prometheus
    bearer_token_file = "/run/secrets/prom-token"
    ca_file = "/etc/ssl/corp-ca.pem"
    timeout = 10

    [kfp]                 # auth for Kubeflow Pipelines
    token_env = "KFP_TOKEN"
    user_header = "kubeflow-userid: oncall@example.com"   # or MLOPS_CONSOLE_KFP_USER_HEADER
    namespace = "fraud"   # multi-user KFP: the profile namespace (after -n and the context's namespace)

    [rollout]
    step = 10

    [logs]                # the log view (l on Rollouts and Pipelines)
    max_lines = 10000     # lines kept; older ones are dropped as new ones arrive

    [catalog]             # instead of the top-level catalog = "...", when it has a registry
    path = "~/models/catalog.db"
    [catalog.mlflow]      # the MLflow Model Registry that `catalog sync` (and r on the Catalog) follows
    url = "https://mlflow.example"   # or MLOPS_CONSOLE_MLFLOW_URL, --mlflow-url; else MLFLOW_TRACKING_URI
    ca_file = "/etc/ssl/corp-ca.pem" # credentials come from MLFLOW_TRACKING_TOKEN or _USERNAME/_PASSWORD

    [drift]
    warn = 0.1
    drift = 0.25
    floor_factor = 3
    min_samples = 50

    [health]
    min_success_rate = 0.99
    max_p99_seconds = 0.5
    min_requests = 20     # on the canary, per window, before any verdict

    [metrics]             # where request health and drift inputs come from (adapters/metrics.py)
    profile = "auto"      # or knative, knative-otel, knative-otel-target-info, knative-unprefixed, kserve, console
    requests_metric = "revision_app_request_count"   # overrides need a profile; "" = no counter
    duration_metric = "revision_app_request_latencies"
    duration_unit = "ms"
    feature_metric = "model_feature_value"

    [contexts."prod-eu"]  # per kube context
    prometheus_url = "..."
    kfp_url = "..."
    mlflow_url = "..."
    read_only = true
    namespace = "fraud"
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from adapters.errors import InvalidInput
from console import paths


@dataclass
class PrometheusAuth:
    """How to reach Prometheus: the config's [prometheus] table."""

    bearer_token: str | None = None
    bearer_token_file: str | None = None
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    timeout: float = 10.0


@dataclass
class KfpAuth:
    """How to reach Kubeflow Pipelines: the config's [kfp] table."""

    token: str | None = None
    token_file: str | None = None
    token_env: str | None = None
    cookie: str | None = None
    user_header: str | None = None  # "Header-Name: value"
    ca_file: str | None = None
    namespace: str | None = None
    timeout: float = 10.0


@dataclass
class MlflowSettings:
    """An MLflow registry the catalog syncs from: the config's [catalog.mlflow] table."""

    url: str | None = None
    ca_file: str | None = None
    insecure_tls: bool = False
    timeout: float = 30.0
    concurrency: int = 8  # runs read at once


@dataclass
class RolloutSettings:
    """The config's [rollout] table."""

    step: int = 10


@dataclass
class LogSettings:
    """The config's [logs] table."""

    max_lines: int = 10_000


@dataclass
class DriftSettings:
    """Drift thresholds: the config's [drift] table."""

    warn: float = 0.1
    drift: float = 0.25
    floor_factor: float = 3.0
    min_samples: int = 50


@dataclass
class HealthSettings:
    """When a canary is judged unhealthy: the config's [health] table."""

    min_success_rate: float = 0.99
    max_p99_seconds: float = 0.5
    min_requests: int = 20


@dataclass
class TriageSettings:
    """What `triage` and the Now screen look at."""

    contexts: list[str] = field(default_factory=list)  # kube contexts besides the current one
    failed_within_hours: float = 24.0  # a failed run is news for this long


@dataclass
class MetricsSettings:
    """Whose request metrics to read, and their names: the config's [metrics] table."""

    profile: str = "auto"
    # request metrics: each replaces the picked profile's own name (needs profile != auto)
    requests_metric: str | None = None
    duration_metric: str | None = None
    duration_unit: str | None = None  # s | ms
    namespace_label: str | None = None
    revision_label: str | None = None
    revision_prefix: str | None = None  # before the revision in its label's values ("isvc." before KServe 0.15)
    code_label: str | None = None
    # drift inputs: the feature histogram contract
    feature_metric: str | None = None
    feature_namespace_label: str | None = None
    feature_model_label: str | None = None
    feature_revision_label: str | None = None
    feature_label: str | None = None


_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_PROFILE_OVERRIDES = ("requests_metric", "duration_metric", "duration_unit", "namespace_label", "revision_label",
                      "revision_prefix", "code_label")


def _check_metrics(cfg: _ConfigFile, m: MetricsSettings) -> MetricsSettings:
    from adapters.metrics import AUTO, PROFILE_NAMES

    if m.profile not in (AUTO, *PROFILE_NAMES):
        raise cfg.fail("profile", f"must be {AUTO} or one of {', '.join(PROFILE_NAMES)}, not {m.profile!r}", "metrics")
    for f in fields(MetricsSettings):
        value = getattr(m, f.name)
        if f.name in ("profile", "duration_unit", "revision_prefix") or value is None:
            continue  # (a prefix is any text: it is matched literally)
        if value == "" and f.name in ("requests_metric", "code_label"):
            continue  # the system has no counter / no response codes
        pattern = _METRIC_NAME if f.name.endswith("_metric") else _LABEL_NAME
        if not pattern.match(value):
            kind = "metric" if f.name.endswith("_metric") else "label"
            raise cfg.fail(f.name, f"must be a Prometheus {kind} name (letters, digits, _), not {value!r}", "metrics")
    if m.duration_unit is not None and m.duration_unit not in ("s", "ms"):
        raise cfg.fail("duration_unit", f'must be "s" or "ms", not {m.duration_unit!r}', "metrics")
    if m.profile == AUTO:
        for key in _PROFILE_OVERRIDES:
            if getattr(m, key) is not None:
                raise cfg.fail(key, "changes a profile's names, so it needs 'profile' set to that profile "
                                    "(with auto, each profile is detected by its own names)", "metrics")
    return m


@dataclass
class ContextSettings:
    """What one kube context overrides: a [contexts.NAME] table."""

    prometheus_url: str | None = None
    kfp_url: str | None = None
    read_only: bool | None = None
    namespace: str | None = None
    mlflow_url: str | None = None


@dataclass
class Settings:
    """Everything resolved: flags over environment over config file over defaults."""

    config_path: Path | None = None
    catalog: Path = field(default_factory=lambda: paths.data_dir() / "catalog.db")
    audit: Path = field(default_factory=lambda: paths.data_dir() / "audit.db")
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    all_namespaces: bool = False
    prometheus_url: str | None = None
    kfp_url: str | None = None
    read_only: bool = False
    prometheus: PrometheusAuth = field(default_factory=PrometheusAuth)
    kfp: KfpAuth = field(default_factory=KfpAuth)
    mlflow: MlflowSettings = field(default_factory=MlflowSettings)
    rollout: RolloutSettings = field(default_factory=RolloutSettings)
    drift: DriftSettings = field(default_factory=DriftSettings)
    health: HealthSettings = field(default_factory=HealthSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    triage: TriageSettings = field(default_factory=TriageSettings)
    logs: LogSettings = field(default_factory=LogSettings)
    contexts: dict[str, ContextSettings] = field(default_factory=dict)


_SECTIONS = {
    "prometheus": PrometheusAuth,
    "kfp": KfpAuth,
    "rollout": RolloutSettings,
    "drift": DriftSettings,
    "health": HealthSettings,
    "metrics": MetricsSettings,
    "triage": TriageSettings,
    "logs": LogSettings,
}
_TOP_LEVEL = {
    "catalog": str, "audit": str, "kubeconfig": str, "context": str, "namespace": str,
    "prometheus_url": str, "kfp_url": str, "read_only": bool,
}
_TYPE_NAMES = {str: "a string", bool: "true or false", int: "an integer", float: "a number",
               list: "a list of strings"}
# The range of every numeric setting: (lowest, highest, whether the lowest itself is allowed).
_RANGES: dict[tuple[str, str], tuple[float, float, bool]] = {
    ("rollout", "step"): (1, 100, True),
    ("logs", "max_lines"): (1, 10_000_000, True),
    ("prometheus", "timeout"): (0, 3600, False),
    ("kfp", "timeout"): (0, 3600, False),
    ("drift", "warn"): (0, math.inf, False),
    ("drift", "drift"): (0, math.inf, False),
    ("drift", "floor_factor"): (0, math.inf, True),
    ("drift", "min_samples"): (1, math.inf, True),
    ("health", "min_success_rate"): (0, 1, True),
    ("health", "max_p99_seconds"): (0, math.inf, False),
    ("health", "min_requests"): (1, math.inf, True),
    ("triage", "failed_within_hours"): (0, 24 * 366, False),
    ("catalog.mlflow", "timeout"): (0, 3600, False),
    ("catalog.mlflow", "concurrency"): (1, 64, True),
}


def _range_text(low: float, high: float, low_allowed: bool) -> str:
    if high == math.inf:
        return f"at least {low:g}" if low_allowed else f"greater than {low:g}"
    return f"from {low:g} to {high:g}" if low_allowed else f"greater than {low:g} and at most {high:g}"


def _line_of(text: str, key: str, table: str | None) -> int | None:
    """The line where `key` is set (inside `table` when given), for error messages."""
    in_table = table is None
    header = re.compile(r"^\s*\[(.+?)\]\s*(#.*)?$")
    for number, line in enumerate(text.splitlines(), 1):
        match = header.match(line)
        if match:
            name = match.group(1).strip().replace('"', "").replace("'", "")
            in_table = table is not None and name == table
            if table is None:
                in_table = False
            continue
        if in_table and re.match(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=", line):
            return number
    return None


class _ConfigFile:
    def __init__(self, path: Path, text: str):
        self.path, self.text = path, text

    def fail(self, key: str, problem: str, table: str | None = None) -> InvalidInput:
        line = _line_of(self.text, key, table)
        where = f"{self.path}:{line}" if line else str(self.path)
        dotted = f"{table}.{key}" if table else key
        return InvalidInput(f"config {where}: '{dotted}' {problem}")

    def check(self, key: str, value: Any, expected: type[Any], table: str | None = None) -> Any:
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)) or (
                expected is list and not all(isinstance(v, str) and v for v in value)):
            raise self.fail(key, f"must be {_TYPE_NAMES[expected]}, not {value!r}", table)
        limits = _RANGES.get((table or "", key))
        if limits is not None:
            low, high, low_allowed = limits
            if not (math.isfinite(value) and (value >= low if low_allowed else value > low) and value <= high):
                raise self.fail(key, f"must be {_range_text(*limits)}, not {value!r}", table)
        return value


def _field_types(cls: type) -> dict[str, type]:
    types: dict[str, type] = {}
    for f in fields(cls):
        hint = str(f.type)
        types[f.name] = (list if "list" in hint else bool if "bool" in hint else int if "int" in hint
                         else float if "float" in hint else str)
    return types


def _section(cfg: _ConfigFile, cls: type, table: str, values: Any) -> Any:
    if not isinstance(values, dict):
        raise cfg.fail(table, "must be a table", None)
    types = _field_types(cls)
    kwargs = {}
    for key, value in values.items():
        if key not in types:
            raise cfg.fail(key, f"is not a known setting (known: {', '.join(types)})", table)
        kwargs[key] = cfg.check(key, value, types[key], table)
    section = cls(**kwargs)
    if isinstance(section, DriftSettings) and section.drift <= section.warn:
        if "drift" in kwargs:
            raise cfg.fail("drift", f"must be greater than drift.warn ({section.warn:g}), not {section.drift:g}", table)
        raise cfg.fail("warn", f"must be less than drift.drift ({section.drift:g}), not {section.warn:g}", table)
    return section


def load_file(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Parse and validate a config file: (top-level values, section objects)."""
    import tomllib

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"config {path} does not exist; create it or drop --config") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"config {path} cannot be read: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        number = line.group(1) if line else (str(len(text.splitlines())) if "end of document" in str(exc) else None)
        where = f"{path}:{number}" if number else str(path)
        raise InvalidInput(f"config {where}: invalid TOML: {exc}") from None
    cfg = _ConfigFile(path, text)
    top: dict[str, Any] = {}
    sections: dict[str, Any] = {}
    for key, value in data.items():
        if key == "catalog" and isinstance(value, dict):  # [catalog] path = ..., [catalog.mlflow]
            for inner, body in value.items():
                if inner == "path":
                    top["catalog"] = cfg.check("path", body, str, "catalog")
                elif inner == "mlflow":
                    sections["mlflow"] = _section(cfg, MlflowSettings, "catalog.mlflow", body)
                else:
                    raise cfg.fail(inner, "is not a known setting (known: path, mlflow)", "catalog")
        elif key in _TOP_LEVEL:
            top[key] = cfg.check(key, value, _TOP_LEVEL[key])
        elif key in _SECTIONS:
            sections[key] = _section(cfg, _SECTIONS[key], key, value)
            if key == "metrics":
                _check_metrics(cfg, sections[key])
        elif key == "contexts":
            if not isinstance(value, dict):
                raise cfg.fail(key, "must be a table of [contexts.\"NAME\"] tables")
            sections["contexts"] = {
                name: _section(cfg, ContextSettings, f"contexts.{name}", body) for name, body in value.items()
            }
        else:
            known = sorted([*_TOP_LEVEL, *_SECTIONS, "contexts"])
            raise cfg.fail(key, f"is not a known setting (known: {', '.join(known)})")
    return top, sections


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InvalidInput(f"{name}={raw!r} is not a boolean; use 1/0, true/false, yes/no or on/off")


def _expand(path: str) -> Path:
    return Path(os.path.expandvars(os.path.expanduser(path)))


def kubeconfig_current_context(kubeconfig: str | None) -> str | None:
    """current-context of the kubeconfig kubectl would use (first file of KUBECONFIG)."""
    candidates = (kubeconfig or os.environ.get("KUBECONFIG") or str(Path.home() / ".kube/config")).split(os.pathsep)
    for candidate in candidates:
        try:
            text = Path(candidate).expanduser().read_text(encoding="utf-8")
        except OSError:
            continue
        match = re.search(r"^current-context:\s*[\"']?([^\"'\n]+?)[\"']?\s*$", text, re.MULTILINE)
        if match:
            return match.group(1)
    return None


def resolve(flags: dict[str, Any], environ: dict[str, str] | None = None) -> Settings:
    """Build Settings from the flags given (only those the user set) and the environment."""
    env = os.environ if environ is None else environ
    settings = Settings()

    config_path = flags.get("config") or env.get("MLOPS_CONSOLE_CONFIG")
    if config_path:
        path = _expand(config_path)
        explicit = True
    else:
        path = paths.default_config_file()
        explicit = False
    if explicit or path.exists():
        top, sections = load_file(path)
        settings.config_path = path
        for key, value in top.items():
            setattr(settings, key, _expand(value) if key in ("catalog", "audit") else value)
        for key, value in sections.items():
            setattr(settings, key, value)

    env_strings = {
        "MLOPS_CONSOLE_CATALOG": "catalog",
        "MLOPS_CONSOLE_AUDIT": "audit",
        "MLOPS_CONSOLE_PROMETHEUS_URL": "prometheus_url",
        "MLOPS_CONSOLE_KFP_URL": "kfp_url",
        "MLOPS_CONSOLE_CONTEXT": "context",
        "MLOPS_CONSOLE_NAMESPACE": "namespace",
        "KUBECONFIG": "kubeconfig",
    }
    env_values: dict[str, Any] = {}
    for var, key in env_strings.items():
        if env.get(var):
            env_values[key] = _expand(env[var]) if key in ("catalog", "audit") else env[var]
    if env.get("MLOPS_CONSOLE_KFP_USER_HEADER"):
        settings.kfp = replace(settings.kfp, user_header=env["MLOPS_CONSOLE_KFP_USER_HEADER"])
    if "MLOPS_CONSOLE_READ_ONLY" in env:
        env_values["read_only"] = parse_bool("MLOPS_CONSOLE_READ_ONLY", env["MLOPS_CONSOLE_READ_ONLY"])

    flag_values = {k: v for k, v in flags.items() if k != "config" and v is not None}
    for key in ("catalog", "audit"):
        if key in flag_values:
            flag_values[key] = _expand(str(flag_values[key]))
    if flag_values.get("read_only") is False:
        del flag_values["read_only"]  # --read-only can only switch it on

    # Per-context settings sit between the file's top level and the environment.
    context = flag_values.get("context") or env_values.get("context") or settings.context
    if settings.contexts:
        context = context or kubeconfig_current_context(
            flag_values.get("kubeconfig") or env_values.get("kubeconfig") or settings.kubeconfig
        )
        per_context = settings.contexts.get(context or "")
        if per_context:
            for f in fields(ContextSettings):
                value = getattr(per_context, f.name)
                if f.name == "mlflow_url" and value is not None:
                    settings.mlflow = replace(settings.mlflow, url=value)
                elif value is not None:
                    setattr(settings, f.name, value)

    mlflow_url = flag_values.pop("mlflow_url", None) or env.get("MLOPS_CONSOLE_MLFLOW_URL") or settings.mlflow.url
    if not mlflow_url and env.get("MLFLOW_TRACKING_URI", "").startswith(("http://", "https://")):
        mlflow_url = env["MLFLOW_TRACKING_URI"]  # what MLflow's own client would talk to
    settings.mlflow = replace(settings.mlflow, url=mlflow_url or None)
    for key, value in {**env_values, **flag_values}.items():
        setattr(settings, key, value)
    if settings.read_only and not isinstance(settings.read_only, bool):
        settings = replace(settings, read_only=bool(settings.read_only))
    return settings
