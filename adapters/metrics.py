"""Prometheus, through prometheus-api-client (DESIGN section 6).

- `PrometheusConnect` is built with retries off and a timeout (its defaults retry 3 times with
  no timeout, so a dead server would block a worker for seconds). We hand it our own
  `requests.Session` (custom CA, bearer token, basic auth) and send the query requests on that
  session ourselves: the library's POST puts the query in the URL (defeating the point of POST
  for long queries) and folds Prometheus's JSON error into a repr'd string.
- Instant and range queries; POST with a form body when the query string is long; range steps
  clamped so (end - start) / step <= 11,000 (Prometheus refuses more points).
- Values are parsed from strings: "NaN", "+Inf" and "-Inf" become float nan/inf here; callers
  turn NaN into None (no data) and never into 0.
- Errors map to adapters.errors: bad query -> InvalidInput with Prometheus's own text; HTML or
  anything that is not the Prometheus API -> DataError("not a Prometheus API at URL"); down,
  timeout, 5xx, 429, 503 not ready -> BackendUnavailable naming the URL; 401/403 -> Forbidden.

Request health follows a metric profile (`PROFILES`: what Knative's queue-proxy, its OpenTelemetry
successor, KServe's model server, or the console's own contract export), configured or detected
per InferenceService (`detect_profile`); drift reads the feature-histogram contract
(`FeatureContract`). Every name is configurable. Queries aggregate by the namespace, revision
(and feature) labels, never by job/instance: backfilled series carry none.

This module never imports textual, screens or console.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from adapters.errors import BackendUnavailable, DataError, Forbidden, InvalidInput

MAX_POINTS = 11_000
POST_AFTER_CHARS = 1_500  # query-string length above which we POST the query as a form body


# -- metric profiles: which request metrics a real install exports --------------------------------


@dataclass(frozen=True)
class MetricProfile:
    """Where request health comes from: one request-latency histogram (and, where the system has
    one, a request counter with a response-code label), and the labels carrying the namespace and
    the KServe revision name. Every query groups by the revision label, so the figures join the
    InferenceService's status traffic."""

    name: str
    duration: str  # histogram base name (_bucket, _count)
    unit: float = 1.0  # seconds per unit of the histogram (0.001: milliseconds)
    requests: str | None = None  # counter; None: count requests from the histogram's _count
    namespace_label: str = "namespace"
    revision_label: str = "revision"
    code_label: str | None = "code"  # None: the system exports no response codes
    model_label: str | None = None  # a label naming the InferenceService, as "<isvc><model_suffix>"
    model_suffix: str = ""
    info_join: str | None = None  # the namespace/revision labels are only on this info metric
    source: str = ""
    deployments: bool = False  # the revision label names Deployments (Standard mode), not Knative revisions
    # The revision label holds this before the name: KServe before 0.15 labelled Standard-mode
    # pods app="isvc.<Deployment>" (constants.go GetRawServiceLabel), later ones app="<Deployment>"
    revision_prefix: str = ""

    @property
    def count_metric(self) -> str:
        return self.requests or f"{self.duration}_count"

    def revision_of(self, labels: dict[str, str]) -> str:
        """The revision (or Standard-mode Deployment) a series is of, without the label's prefix."""
        return labels.get(self.revision_label, "").removeprefix(self.revision_prefix)

    def revisions_of_isvc(self, isvc: str) -> str:
        """A regex of the label values of an InferenceService's revisions: Knative names them
        <isvc>-predictor-NNNNN; Standard-mode Deployments are <isvc>-predictor and
        <isvc>-<canary>-predictor."""
        name = re.escape(self.revision_prefix) + re.escape(isvc)
        return f"{name}(-.+)?-predictor" if self.deployments else f"{name}-predictor-[0-9]+"

    def describe(self) -> str:
        names = f"{self.requests}, {self.duration}" if self.requests else self.duration
        join = f" joined with {self.info_join}" if self.info_join else ""
        return f"{self.name}: {names}{join} ({self.source})"


_KNATIVE_OC: dict[str, Any] = dict(unit=0.001, namespace_label="namespace_name", revision_label="revision_name",
                                    code_label="response_code", model_label="configuration_name",
                                    model_suffix="-predictor")
_KNATIVE_OTEL: dict[str, Any] = dict(namespace_label="k8s_namespace_name", revision_label="kn_revision_name",
                                      code_label="http_response_status_code", model_label="kn_configuration_name",
                                      model_suffix="-predictor")

# In detection order: the first profile with series for the InferenceService's revisions wins.
PROFILES: tuple[MetricProfile, ...] = (
    MetricProfile("knative", "revision_request_latencies", requests="revision_request_count", **_KNATIVE_OC,
                  source="Knative queue-proxy up to 1.18, OpenCensus"),
    MetricProfile("knative-otel", "kn_serving_invocation_duration_seconds", **_KNATIVE_OTEL,
                  source="Knative queue-proxy 1.19+, OpenTelemetry, resource attributes promoted"),
    MetricProfile("knative-otel-target-info", "kn_serving_invocation_duration_seconds", **_KNATIVE_OTEL,
                  info_join="target_info", source="Knative queue-proxy 1.19+, OpenTelemetry"),
    MetricProfile("knative-unprefixed", "request_latencies", requests="request_count", **_KNATIVE_OC,
                  source="Knative queue-proxy, OpenShift Serverless names"),
    MetricProfile("kserve", "request_predict_seconds", revision_label="serving_knative_dev_revision",
                  code_label=None, model_label="model_name", source="KServe model server, pod labels as labels"),
    MetricProfile("kserve-standard", "request_predict_seconds", revision_label="app", deployments=True,
                  code_label=None, model_label="model_name",
                  source="KServe model server in Standard mode, the pod label app=<Deployment> as a label"),
    MetricProfile("console", "model_request_duration_seconds", requests="model_requests_total",
                  model_label="model", source="the console's own contract"),
)
PROFILE_NAMES = tuple(p.name for p in PROFILES)
AUTO = "auto"


def profile(name: str, **overrides: Any) -> MetricProfile:
    """A profile by name, with metric or label names replaced."""
    for p in PROFILES:
        if p.name == name:
            return replace(p, **overrides)
    raise InvalidInput(f"unknown metric profile {name!r}: use {AUTO} or one of {', '.join(PROFILE_NAMES)}")


@dataclass(frozen=True)
class FeatureContract:
    """The drift inputs: a histogram of each input feature's values, per revision. No standard
    exports one; this is the console's documented contract, every name configurable."""

    metric: str = "model_feature_value"  # histogram base name
    namespace_label: str = "namespace"
    model_label: str = "model"
    revision_label: str = "revision"
    feature_label: str = "feature"

    def selector(self, namespace: str | None, model: str | None, revisions: Sequence[str] | None = None) -> str:
        labels = {self.namespace_label: namespace, self.model_label: model}
        return _with_revisions(selector(**labels), self.revision_label, revisions)

    @property
    def group(self) -> str:
        return f"{self.namespace_label}, {self.model_label}, {self.revision_label}, {self.feature_label}"


@dataclass
class ProfileMatch:
    """What `detect_profile` found. `name` is the profile picked (None: no profile has series);
    `found_series` the number of its series for the revisions asked about; `revisions` those that
    have series; `missing` what the user lacks: the revisions asked about without series (when a
    profile matched), else every metric looked for; `candidates` series found per profile."""

    name: str | None
    found_series: int = 0
    revisions: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    candidates: dict[str, int] = field(default_factory=dict)
    profile: MetricProfile | None = None
    detected: bool = True  # False: the profile was set in the config

    def describe(self) -> str:
        if self.profile is None:
            return ("no request metrics for these revisions in Prometheus (looked for "
                    + ", ".join(self.missing) + "); set [metrics] profile and names in the config")
        return f"metrics: {self.name} ({'detected' if self.detected else 'configured'})"

    def to_json(self) -> dict[str, Any]:
        p = self.profile
        names = [] if p is None else list(dict.fromkeys([p.count_metric, f"{p.duration}_bucket"]))
        return {"profile": self.name, "detected": self.detected, "metric_names": names,
                "unit_seconds": p.unit if p else None, "found_series": self.found_series,
                "revisions": list(self.revisions), "missing": list(self.missing),
                "candidates": dict(self.candidates)}


def _with_revisions(matcher: str, label: str, revisions: Sequence[str] | None, prefix: str = "") -> str:
    if revisions is None:
        return matcher
    extra = f'{label}=~"{escape_label(_regex_alternatives(prefix + r for r in revisions))}"'
    return "{" + extra + "}" if matcher == "{}" else matcher[:-1] + ", " + extra + "}"


def scoped(p: MetricProfile, inner: str, namespace: str | None, revisions: Sequence[str] | None,
           info_window: str | None = None) -> str:
    """`inner` (an expression containing SELECTOR where the series selector goes) narrowed to
    `namespace` and `revisions` (None: any revision), carrying p's namespace and revision labels.
    Where those labels are only on an info metric (OpenTelemetry's target_info), the
    expression is joined with it on (job, instance)."""
    rev = list(revisions) if revisions is not None else None
    own = selector(**{p.namespace_label: namespace})
    if rev is None:
        any_revision = (f'{p.revision_label}=~"{escape_label(re.escape(p.revision_prefix))}.+"' if p.revision_prefix
                        else f'{p.revision_label}!=""')
        own = own[:-1] + (", " if own != "{}" else "") + any_revision + "}"
    else:
        own = _with_revisions(own, p.revision_label, rev, p.revision_prefix)
    if not p.info_join:
        return inner.replace("SELECTOR", own)
    info = f"{p.info_join}{own}"
    if info_window:
        info = f"last_over_time({info}[{info_window}])"
    return (f"({inner.replace('SELECTOR', '')} * on (job, instance) "
            f"group_left ({p.revision_label}, {p.namespace_label}) {info})")


def isvc_of(p: MetricProfile, labels: dict[str, str]) -> str:
    """The InferenceService a series belongs to: from the profile's model label, else from the
    KServe revision name (<isvc>-predictor-00001)."""
    value = labels.get(p.model_label or "", "")
    if value:
        return value.removesuffix(p.model_suffix) if p.model_suffix else value
    rev = p.revision_of(labels)
    m = re.match(r"^(.+)-predictor(-\d+)?$", rev)
    return m.group(1) if m else rev


def detect_profile(prom_client: MetricsClient, namespace: str | None = None, isvc: str | None = None,
                   revisions: Sequence[str] | None = None, *, at: float | None = None, lookback: str = "1h",
                   profiles: Sequence[MetricProfile] | None = None) -> ProfileMatch:
    """Which metric profile this Prometheus has request series of, for an InferenceService.

    Pure over the client (one instant query, no state), for the health checks and `doctor`:

        match = detect_profile(client, "fraud", "fraud-detector",
                               ["fraud-detector-predictor-00002", "fraud-detector-predictor-00001"])
        match.name          # "knative", ... or None when no profile has series
        match.found_series  # series of that profile for those revisions
        match.missing       # revisions without series; with no match, every metric looked for
        match.candidates    # {profile: series} for every profile that has some

    `revisions` None means every revision of `isvc` (KServe names them <isvc>-predictor-NNNNN);
    `isvc` None as well means anything in `namespace` (None: anywhere). A series counts when it
    has a sample in the `lookback` before `at` (default now). Profiles are tried in the order
    given (default: the client's, i.e. PROFILES, or the one set in the config).
    """
    profiles = list(profiles if profiles is not None else prom_client.profiles)
    revs = list(revisions) if revisions else None
    parts = []
    for p in profiles:
        inner = f"last_over_time({p.count_metric}SELECTOR[{lookback}])"
        if revs is None and isvc:
            expr = scoped(p, inner, namespace, [], lookback).replace(
                f'{p.revision_label}=~""', f'{p.revision_label}=~"{escape_label(p.revisions_of_isvc(isvc))}"')
        else:
            expr = scoped(p, inner, namespace, revs, lookback)
        parts.append(f'label_replace(count by ({p.revision_label}) ({expr}), "mlops_profile", "{p.name}", "", "")')
    found: dict[str, dict[str, int]] = {}
    for s in prom_client.instant(" or ".join(parts), at):
        name = s.labels.get("mlops_profile", "")
        hit = next((x for x in profiles if x.name == name), None)
        if hit is not None and finite_or_none(s.value):
            found.setdefault(name, {})[hit.revision_of(s.labels)] = int(s.value)
    for p in profiles:
        if p.name in found:
            per_rev = found[p.name]
            return ProfileMatch(p.name, sum(per_rev.values()), sorted(per_rev),
                                [r for r in (revs or []) if r not in per_rev],
                                {n: sum(v.values()) for n, v in found.items()}, p, detected=len(profiles) > 1)
    return ProfileMatch(None, missing=[p.count_metric + (f" with {p.info_join}" if p.info_join else "")
                                       for p in profiles], detected=len(profiles) > 1)


@dataclass
class Sample:
    labels: dict[str, str]
    value: float  # may be nan or +/-inf
    timestamp: float


@dataclass
class Series:
    labels: dict[str, str]
    points: list[tuple[float, float]]  # (unix time, value), value may be nan or +/-inf


@dataclass
class RevisionStats:
    """Raw request figures of one revision over a window. None is "no data"."""

    revision: str
    requests: float | None = None
    errors: float | None = None
    request_rate: float | None = None
    success_rate: float | None = None
    p50_seconds: float | None = None
    p99_seconds: float | None = None


# Feature buckets: {(revision, feature): {le: value}} for instant queries and
# {(revision, feature): {timestamp: {le: value}}} for range queries.
Buckets = dict[tuple[str, str], dict[str, float]]
BucketSeries = dict[tuple[str, str], dict[float, dict[str, float]]]


def parse_value(text: str | float | int) -> float:
    """A Prometheus sample value ("1.5", "NaN", "+Inf", "-Inf") as a float."""
    try:
        return float(text)  # float() reads "NaN", "+Inf" and "-Inf" itself; this runs per sample
    except (TypeError, ValueError):
        raise DataError(f"Prometheus returned a value that is not a number: {str(text)[:40]!r}") from None


def finite_or_none(v: float | None) -> float | None:
    if v is None or math.isnan(v) or math.isinf(v):
        return None
    return v


def clamp_step(start: float, end: float, step: float, max_points: int = MAX_POINTS) -> float:
    """The step to use so the range has at most `max_points` points (and a step >= 1 ms)."""
    span = max(float(end) - float(start), 0.0)
    step = max(float(step), 0.001)
    if span / step > max_points:
        step = math.ceil(span / max_points * 1000) / 1000
        while span / step > max_points:
            step += 0.001
    return step


def escape_label(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def selector(**labels: str | None) -> str:
    """{a="x", b="y"}, skipping None values."""
    parts = [f'{k}="{escape_label(v)}"' for k, v in labels.items() if v is not None]
    return "{" + ", ".join(parts) + "}"


def _regex_alternatives(values: Iterable[str]) -> str:
    import re

    return "|".join(re.escape(v) for v in values)


_PROFILE_KEYS = {"requests_metric": "requests", "duration_metric": "duration", "namespace_label": "namespace_label",
                 "revision_label": "revision_label", "revision_prefix": "revision_prefix", "code_label": "code_label"}
_FEATURE_KEYS = {"feature_metric": "metric", "feature_namespace_label": "namespace_label",
                 "feature_model_label": "model_label", "feature_revision_label": "revision_label",
                 "feature_label": "feature_label"}


def profiles_from_settings(section: object | None) -> tuple[MetricProfile, ...]:
    """The profiles to try, from a `[metrics]` section (attributes profile, requests_metric,
    duration_metric, duration_unit "s"/"ms", namespace_label, revision_label, code_label; an
    empty requests_metric or code_label means the system has none): every profile when the
    profile is auto or unset, else that one with its names overridden."""
    name = getattr(section, "profile", None) or AUTO
    if name == AUTO:
        return PROFILES
    overrides = {}
    for key, attr in _PROFILE_KEYS.items():
        value = getattr(section, key, None)
        if value is not None:
            overrides[attr] = value or None
    unit = getattr(section, "duration_unit", None)
    if unit is not None:
        overrides["unit"] = {"s": 1.0, "ms": 0.001}[unit]
    return (profile(name, **overrides),)


def features_from_settings(section: object | None) -> FeatureContract:
    kwargs = {attr: getattr(section, key) for key, attr in _FEATURE_KEYS.items() if getattr(section, key, None)}
    return FeatureContract(**kwargs)


class MetricsClient:
    """A synchronous Prometheus client. Call it from thread workers, never the UI thread."""

    def __init__(self, url: str, *, bearer_token: str | None = None, bearer_token_file: str | None = None,
                 username: str | None = None, password: str | None = None, ca_file: str | None = None,
                 timeout: float = 10.0, profiles: Sequence[MetricProfile] | None = None,
                 features: FeatureContract | None = None):
        if not url or not str(url).startswith(("http://", "https://")):
            raise InvalidInput(f"Prometheus URL must start with http:// or https://, got {url!r}")
        self.url = str(url).rstrip("/")
        self.timeout = float(timeout) if timeout else 10.0
        self.profiles = tuple(profiles or PROFILES)  # one: configured; several: detect, in this order
        self.features_contract = features or FeatureContract()
        self._matches: dict[tuple[Any, ...], tuple[float, ProfileMatch]] = {}
        self._bearer_token = bearer_token
        self._bearer_token_file = bearer_token_file
        self._auth = (username, password or "") if username else None
        self._ca_file = ca_file
        self._pc: Any = None  # prometheus_api_client.PrometheusConnect, made on first use
        self._session: Any = None  # its requests.Session

    @classmethod
    def from_settings(cls, url: str, section: object | None = None,
                      metrics: object | None = None) -> MetricsClient:
        """From a config section with attributes bearer_token, bearer_token_file, username,
        password, ca_file, timeout (each optional), and a `[metrics]` section (see
        profiles_from_settings and FeatureContract)."""
        def g(name: str) -> Any:
            return getattr(section, name, None)

        return cls(url, bearer_token=g("bearer_token"), bearer_token_file=g("bearer_token_file"),
                   username=g("username"), password=g("password"), ca_file=g("ca_file"),
                   timeout=g("timeout") or 10.0, profiles=profiles_from_settings(metrics),
                   features=features_from_settings(metrics))

    # -- connection -----------------------------------------------------------------------

    def _connect(self) -> Any:
        """prometheus-api-client's PrometheusConnect over a requests.Session of ours (custom CA, no
        proxies from the environment), retries off, our timeout and auth. Every answer passes
        _check_answer (a session hook) before the library reads it, so an error keeps Prometheus's
        own text and status instead of the library's repr'd exception."""
        if self._pc is not None:
            return self._pc
        import requests
        from prometheus_api_client import PrometheusConnect
        from urllib3.util.retry import Retry

        session = requests.Session()
        session.trust_env = False  # an HTTP(S)_PROXY meant for the internet must not capture loopback
        if self._ca_file:
            session.verify = self._ca_file
        session.hooks["response"].append(self._check_answer)
        self._session = session
        self._pc = PrometheusConnect(url=self.url, headers=self._headers(), retry=Retry(total=0, raise_on_status=False),
                                     auth=self._auth, session=session, timeout=self.timeout, method="GET")
        return self._pc

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        token = self._bearer_token
        if not token and self._bearer_token_file:
            try:
                with open(self._bearer_token_file, encoding="utf-8") as fh:
                    token = fh.read().strip()
            except OSError as exc:
                raise InvalidInput(f"cannot read the Prometheus bearer token file "
                                   f"{self._bearer_token_file}: {exc.strerror}") from None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def close(self) -> None:
        if self._pc is not None:
            self._pc.close()
            self._pc = None

    def __enter__(self) -> MetricsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, request: Callable[[Any], Any]) -> Any:
        """request(PrometheusConnect) with the library's and requests' failures as ours. The
        headers are set per call: a bearer token file is read again each time (tokens rotate)."""
        import requests

        pc = self._connect()
        pc.headers = self._headers()
        try:
            return request(pc)
        except requests.exceptions.SSLError as exc:
            raise BackendUnavailable(f"TLS failed talking to Prometheus at {self.url}: "
                                     f"{_short(exc)}; set prometheus.ca_file to the CA that signed it") from None
        except requests.exceptions.Timeout:
            raise BackendUnavailable(f"Prometheus at {self.url} did not answer within {self.timeout:g} s; "
                                     "it may be overloaded, or raise prometheus.timeout") from None
        except requests.exceptions.ConnectionError as exc:
            if "Read timed out" in str(exc):  # with retries off, urllib3 wraps the read timeout
                raise BackendUnavailable(f"Prometheus at {self.url} did not answer within {self.timeout:g} s; "
                                         "it may be overloaded, or raise prometheus.timeout") from None
            raise BackendUnavailable(f"Prometheus at {self.url} is not reachable ({_short(exc)}); "
                                     "check the URL and that it is running") from None
        except requests.exceptions.RequestException as exc:
            raise BackendUnavailable(f"request to Prometheus at {self.url} failed: {_short(exc)}") from None
        except (ValueError, KeyError, TypeError):  # JSON that does not parse, or lacks data.result
            raise DataError(f"not a Prometheus API at {self.url} (its answer is not the API's JSON); "
                            "check the URL (a proxy or login page answered)") from None

    def _check_answer(self, response: Any, *args: Any, **kwargs: Any) -> None:
        """Every answer, before anyone reads it: errors as adapters.errors (Prometheus's own text
        for a bad query), and a page that is not the API (a proxy's login page) as DataError."""
        status = response.status_code
        if status in (401, 403):
            what = "rejected the credentials" if status == 401 else "refused access"
            raise Forbidden(f"Prometheus at {self.url} {what} ({status}); check prometheus.bearer_token "
                            "or prometheus.username/password in the config")
        ctype = response.headers.get("Content-Type", "")
        api = "/api/v1/" in response.url
        if 200 <= status < 300:
            if api and "json" not in ctype:
                head = response.text[:60].strip().lower()
                kind = "HTML" if ("html" in ctype or head.startswith("<")) else (ctype or "no content type")
                raise DataError(f"not a Prometheus API at {self.url} (got {kind}, HTTP {status}); "
                                "check the URL (a proxy or login page answered)")
            return
        body = None
        if "json" in ctype:
            try:
                body = response.json()
            except ValueError:
                body = None
        if isinstance(body, dict) and body.get("status") == "error":
            etype = body.get("errorType", "")
            text = body.get("error", "unknown error")
            if status in (400, 422) or etype in ("bad_data", "execution"):
                raise InvalidInput(f"Prometheus rejected the query: {text}")
            if etype == "timeout" or status == 503:
                raise BackendUnavailable(f"Prometheus at {self.url} gave up on the query ({etype}): {text}")
            raise BackendUnavailable(f"Prometheus at {self.url} failed ({status} {etype}): {text}")
        if status == 503:
            raise BackendUnavailable(f"Prometheus at {self.url} is not ready (503); it is starting or "
                                     "restarting, retry in a few seconds")
        if status == 429 or status >= 500:
            raise BackendUnavailable(f"Prometheus at {self.url} answered {status} {response.reason}; retry later")
        raise DataError(f"not a Prometheus API at {self.url} (HTTP {status} on {response.url})")

    def _post(self, path: str, form: dict[str, str]) -> Any:
        """The raw path, kept for long queries: prometheus-api-client's POST puts the query in the
        URL's parameters (as its GET does), which is what POST is meant to avoid (URL length limits
        of proxies and servers). The query goes as a form body, on the same session."""
        response = self._call(lambda pc: self._session.post(f"{pc.url}{path}", data=form, headers=pc.headers,
                                                             auth=self._auth, timeout=self.timeout))
        return self._call(lambda _: response.json()["data"]["result"])

    @staticmethod
    def _long(query: str, params: dict[str, str]) -> bool:
        return len(urlencode({"query": query, **params})) > POST_AFTER_CHARS

    # -- raw queries -------------------------------------------------------------------------

    def ready(self) -> None:
        """Raise BackendUnavailable unless /-/ready says 200 (503 while starting up)."""
        self._call(lambda pc: self._session.get(f"{pc.url}/-/ready", headers=pc.headers, auth=self._auth,
                                                timeout=self.timeout))

    def _server_timeout(self) -> str:
        """Ask Prometheus to give up a little before we do, so a slow query ends with its own
        error rather than a client timeout."""
        return f"{int(max(self.timeout - 0.5, 1.0) * 1000)}ms"

    def instant(self, query: str, at: float | None = None) -> list[Sample]:
        params = {"timeout": self._server_timeout()}
        if at is not None:
            params["time"] = _fmt_time(at)
        if self._long(query, params):
            result = self._post("/api/v1/query", {"query": query, **params})
        else:
            result = self._call(lambda pc: pc.custom_query(query, params=params))
        try:
            if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict):  # scalar, string
                return [Sample({}, parse_value(result[1]), float(result[0]))]
            if any("values" in r for r in result):
                raise InvalidInput("an instant query returned a range vector: wrap the selector in a function "
                                   "such as increase() or rate()")
            return [Sample(dict(r.get("metric", {})), parse_value(r["value"][1]), float(r["value"][0]))
                    for r in result]
        except (KeyError, IndexError, TypeError, AttributeError):
            raise DataError(f"Prometheus at {self.url} sent a malformed instant query result") from None

    def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        if end < start:
            raise InvalidInput("the range ends before it starts")
        step = clamp_step(start, end, step)
        # start and end as parameters too: the library rounds its datetimes to whole seconds
        params = {"start": _fmt_time(start), "end": _fmt_time(end), "timeout": self._server_timeout()}
        if self._long(query, {**params, "step": f"{step:g}"}):
            result = self._post("/api/v1/query_range", {"query": query, "step": f"{step:g}", **params})
        else:
            from datetime import UTC, datetime

            result = self._call(lambda pc: pc.custom_query_range(
                query, datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC), f"{step:g}", params=params))
        try:
            return [Series(dict(r.get("metric", {})), [(float(t), parse_value(v)) for t, v in r["values"]])
                    for r in result]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise DataError(f"Prometheus at {self.url} sent a malformed matrix result") from None

    # -- request health (metric profiles) -------------------------------------------------------

    MATCH_TTL = 300.0  # seconds a detected profile is reused before asking Prometheus again

    def profile_for(self, namespace: str | None, isvc: str | None, revisions: Sequence[str] | None = None,
                    at: float | None = None) -> ProfileMatch:
        """detect_profile, remembered for MATCH_TTL seconds once a profile matched (an install does
        not change what it exports from one poll to the next; a miss is asked again each time)."""
        key = (namespace, isvc, tuple(revisions or ()))
        hit = self._matches.get(key)
        if hit is not None and time.monotonic() - hit[0] < self.MATCH_TTL:
            return hit[1]
        match = detect_profile(self, namespace, isvc, revisions, at=at)
        if match.profile is not None:
            if len(self._matches) > 256:
                self._matches.clear()
            self._matches[key] = (time.monotonic(), match)
        return match

    def revision_stats(self, namespace: str, revisions: Sequence[str], *, window: str, at: float | None = None,
                       window_seconds: float | None = None,
                       profile: MetricProfile | None = None) -> dict[str, RevisionStats]:
        """Requests, 5xx, rate, success rate, p50 and p99 (in seconds) per revision over `window`,
        from `profile` (default: the one detected for these revisions; none: {})."""
        if profile is None:
            profile = self.profile_for(namespace, None, revisions, at).profile
            if profile is None:
                return {}
        p = profile
        by = f"{p.revision_label}, {p.code_label}" if p.code_label else p.revision_label
        counts = self.instant(
            f"sum by ({by}) ({scoped(p, f'increase({p.count_metric}SELECTOR[{window}])', namespace, revisions)})", at)
        stats: dict[str, RevisionStats] = {}
        for s in counts:
            rev = p.revision_of(s.labels)
            st = stats.setdefault(rev, RevisionStats(rev, requests=0.0, errors=0.0 if p.code_label else None))
            v = finite_or_none(s.value)
            if v is None:
                continue
            st.requests = (st.requests or 0.0) + v
            if st.errors is not None and str(s.labels.get(p.code_label or "", "")).startswith("5"):
                st.errors += v
        for st in stats.values():
            if window_seconds and st.requests is not None:
                st.request_rate = st.requests / window_seconds
            if st.errors is not None:
                st.success_rate = (1.0 - st.errors / st.requests) if st.requests else None
        rates = scoped(p, f"rate({p.duration}_bucketSELECTOR[{window}])", namespace, revisions)
        for q, attr in ((0.5, "p50_seconds"), (0.99, "p99_seconds")):
            expr = f"histogram_quantile({q}, sum by ({p.revision_label}, le) ({rates}))"
            for s in self.instant(expr, at):
                rev = p.revision_of(s.labels)
                st = stats.setdefault(rev, RevisionStats(rev))
                v = finite_or_none(s.value)
                setattr(st, attr, None if v is None else v * p.unit)
        return stats

    def served_models(self, at: float | None = None, namespace: str | None = None) -> list[tuple[str, str, str]]:
        """(namespace, InferenceService, revision) triples that export request metrics, sorted, in
        every profile that has series in `namespace` (None: everywhere): a cluster half-way through
        a Knative upgrade has both generations."""
        match = self.profile_for(namespace, None, None, at)
        found: set[tuple[str, str, str]] = set()
        for p in self.profiles:
            if p.name not in match.candidates:
                continue
            labels = ", ".join(dict.fromkeys(x for x in (p.namespace_label, p.revision_label, p.model_label) if x))
            expr = f"count by ({labels}) ({scoped(p, p.count_metric + 'SELECTOR', namespace, None)})"
            found |= {(s.labels.get(p.namespace_label, ""), isvc_of(p, s.labels), p.revision_of(s.labels))
                      for s in self.instant(expr, at)}
        return sorted(found)

    def request_metrics_hint(self) -> str:
        """What request metrics this client looks for, in a few words, for "nothing found" messages."""
        if len(self.profiles) == 1:
            return f"metric profile {self.profiles[0].describe()}"
        return "metric profiles " + ", ".join(p.name for p in self.profiles)

    # -- drift inputs (the feature histogram contract) -------------------------------------------

    def _feature_expr(self, namespace: str, model: str, revisions: Sequence[str] | None,
                      window: str, offset: str | None = None) -> str:
        fc = self.features_contract
        off = f" offset {offset}" if offset else ""
        return (f"sum by ({fc.group}, le) "
                f"(increase({fc.metric}_bucket{fc.selector(namespace, model, revisions or None)}[{window}]{off}))")

    def _feature_key(self, labels: dict[str, str]) -> tuple[str, str]:
        fc = self.features_contract
        return labels.get(fc.revision_label, ""), labels.get(fc.feature_label, "")

    def feature_buckets(self, namespace: str, model: str, *, window: str, at: float | None = None,
                        revisions: Sequence[str] | None = None, offset: str | None = None) -> Buckets:
        """Bucket increases over `window` ending at `at` (minus `offset`), per (revision, feature).

        Missing series give an empty dict; a series with a single sample in the window gives
        nothing (increase() needs two), so no fake number can come out.
        """
        out: Buckets = {}
        for s in self.instant(self._feature_expr(namespace, model, revisions, window, offset), at):
            if "le" in s.labels:
                out.setdefault(self._feature_key(s.labels), {})[s.labels["le"]] = s.value
        return out

    def feature_bucket_series(self, namespace: str, model: str, *, window: str, start: float, end: float,
                              step: float, revisions: Sequence[str] | None = None,
                              offset: str | None = None) -> BucketSeries:
        """Range version of feature_buckets: {(revision, feature): {t: {le: value}}}."""
        out: BucketSeries = {}
        expr = self._feature_expr(namespace, model, revisions, window, offset)
        for series in self.range(expr, start, end, step):
            le = series.labels.get("le")
            if le is None:
                continue
            per_t = out.setdefault(self._feature_key(series.labels), {})
            for t, v in series.points:
                per_t.setdefault(t, {})[le] = v
        return out

    def features(self, namespace: str, model: str, at: float | None = None) -> list[str]:
        fc = self.features_contract
        expr = f"count by ({fc.feature_label}) ({fc.metric}_bucket{fc.selector(namespace, model)})"
        return sorted({s.labels.get(fc.feature_label, "") for s in self.instant(expr, at)} - {""})


def _fmt_time(t: float) -> str:
    return f"{float(t):.3f}"


def _short(exc: BaseException) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "timed out", "certificate verify failed",
                   "No route to host", "Connection reset"):
        if marker in text:
            return marker.lower() if marker != "Connection refused" else "connection refused"
    return text.splitlines()[0][:120] if text else type(exc).__name__


def now() -> float:
    return time.time()
