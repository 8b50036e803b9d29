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

Queries follow the metrics contract; metric names are configurable (`MetricNames`). Every query
aggregates `by (namespace, model, revision, ...)` because backfilled series carry no
job/instance labels.

This module never imports textual, screens or console.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Iterable, Sequence
from urllib.parse import urlencode

from adapters.errors import BackendUnavailable, DataError, Forbidden, InvalidInput

MAX_POINTS = 11_000
POST_AFTER_CHARS = 1_500  # query-string length above which we POST the query as a form body


@dataclass(frozen=True)
class MetricNames:
    requests: str = "model_requests_total"
    duration: str = "model_request_duration_seconds"  # histogram base name
    feature: str = "model_feature_value"  # histogram base name

    @classmethod
    def from_settings(cls, section: object | None) -> "MetricNames":
        kwargs = {}
        for name in ("requests", "duration", "feature"):
            value = getattr(section, name, None) if section is not None else None
            if value:
                kwargs[name] = value
        return cls(**kwargs)


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


class MetricsClient:
    """A synchronous Prometheus client. Call it from thread workers, never the UI thread."""

    def __init__(self, url: str, *, bearer_token: str | None = None, bearer_token_file: str | None = None,
                 username: str | None = None, password: str | None = None, ca_file: str | None = None,
                 timeout: float = 10.0, names: MetricNames | None = None):
        if not url or not str(url).startswith(("http://", "https://")):
            raise InvalidInput(f"Prometheus URL must start with http:// or https://, got {url!r}")
        self.url = str(url).rstrip("/")
        self.timeout = float(timeout) if timeout else 10.0
        self.names = names or MetricNames()
        self._bearer_token = bearer_token
        self._bearer_token_file = bearer_token_file
        self._auth = (username, password or "") if username else None
        self._ca_file = ca_file
        self._pc = None
        self._session = None

    @classmethod
    def from_settings(cls, url: str, section: object | None = None,
                      names: MetricNames | None = None) -> "MetricsClient":
        """From a config section with attributes bearer_token, bearer_token_file, username,
        password, ca_file, timeout (each optional)."""
        g = (lambda n: getattr(section, n, None)) if section is not None else (lambda n: None)
        return cls(url, bearer_token=g("bearer_token"), bearer_token_file=g("bearer_token_file"),
                   username=g("username"), password=g("password"), ca_file=g("ca_file"),
                   timeout=g("timeout") or 10.0, names=names or MetricNames.from_settings(g("metric_names")))

    # -- connection -----------------------------------------------------------------------

    def _connect(self):
        if self._pc is not None:
            return self._pc
        import requests
        from prometheus_api_client import PrometheusConnect
        from urllib3.util.retry import Retry

        session = requests.Session()
        session.trust_env = False  # an HTTP(S)_PROXY meant for the internet must not capture loopback
        if self._ca_file:
            session.verify = self._ca_file
        self._session = session
        self._pc = PrometheusConnect(url=self.url, headers=None, retry=Retry(total=0, raise_on_status=False),
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

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _get(self, path: str, params: dict | None = None, *, expect_json: bool = True):
        import requests

        pc = self._connect()
        params = params or {}
        url = f"{pc.url}{path}"
        long = len(urlencode(params)) > POST_AFTER_CHARS
        try:
            if long:
                response = self._session.post(url, data=params, headers=self._headers(), auth=self._auth,
                                              timeout=self.timeout)
            else:
                response = self._session.get(url, params=params, headers=self._headers(), auth=self._auth,
                                             timeout=self.timeout)
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
        return self._check(response, expect_json)

    def _check(self, response, expect_json: bool):
        status = response.status_code
        if status in (401, 403):
            what = "rejected the credentials" if status == 401 else "refused access"
            raise Forbidden(f"Prometheus at {self.url} {what} ({status}); check prometheus.bearer_token "
                            "or prometheus.username/password in the config")
        ctype = response.headers.get("Content-Type", "")
        body = None
        if "json" in ctype:
            try:
                body = response.json()
            except ValueError:
                body = None
        if status == 503 and (body is None or not isinstance(body, dict)):
            raise BackendUnavailable(f"Prometheus at {self.url} is not ready (503); it is starting or "
                                     "restarting, retry in a few seconds")
        if isinstance(body, dict) and body.get("status") == "error":
            etype = body.get("errorType", "")
            text = body.get("error", "unknown error")
            if status in (400, 422) or etype in ("bad_data", "execution"):
                raise InvalidInput(f"Prometheus rejected the query: {text}")
            if etype == "timeout" or status == 503:
                raise BackendUnavailable(f"Prometheus at {self.url} gave up on the query ({etype}): {text}")
            raise BackendUnavailable(f"Prometheus at {self.url} failed ({status} {etype}): {text}")
        if status == 429 or status >= 500:
            raise BackendUnavailable(f"Prometheus at {self.url} answered {status} {response.reason}; retry later")
        if not expect_json:
            if status >= 400:
                raise DataError(f"not a Prometheus API at {self.url} (HTTP {status} on {response.url})")
            return response.text
        if body is None or not isinstance(body, dict) or "status" not in body:
            head = response.text[:60].strip().lower()
            kind = "HTML" if ("html" in ctype or head.startswith("<")) else (ctype or "no content type")
            raise DataError(f"not a Prometheus API at {self.url} (got {kind}, HTTP {status}); "
                            "check the URL (a proxy or login page answered)")
        if status >= 400:
            raise DataError(f"not a Prometheus API at {self.url} (HTTP {status})")
        data = body.get("data")
        if not isinstance(data, dict):
            raise DataError(f"Prometheus at {self.url} answered without data")
        return data

    # -- raw queries -------------------------------------------------------------------------

    def ready(self) -> None:
        """Raise BackendUnavailable unless /-/ready says 200 (503 while starting up)."""
        self._get("/-/ready", expect_json=False)

    def _server_timeout(self) -> str:
        """Ask Prometheus to give up a little before we do, so a slow query ends with its own
        error rather than a client timeout."""
        return f"{int(max(self.timeout - 0.5, 1.0) * 1000)}ms"

    def instant(self, query: str, at: float | None = None) -> list[Sample]:
        params = {"query": query}
        if at is not None:
            params["time"] = _fmt_time(at)
        params["timeout"] = self._server_timeout()
        data = self._get("/api/v1/query", params)
        rtype = data.get("resultType")
        result = data.get("result")
        try:
            if rtype == "vector":
                return [Sample(dict(r.get("metric", {})), parse_value(r["value"][1]), float(r["value"][0]))
                        for r in result]
            if rtype in ("scalar", "string"):
                return [Sample({}, parse_value(result[1]), float(result[0]))]
            if rtype == "matrix":
                raise InvalidInput("an instant query returned a range vector: wrap the selector in a function "
                                   "such as increase() or rate()")
        except (KeyError, IndexError, TypeError):
            raise DataError(f"Prometheus at {self.url} sent a malformed {rtype} result") from None
        raise DataError(f"Prometheus at {self.url} sent an unknown result type {rtype!r}")

    def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        if end < start:
            raise InvalidInput("the range ends before it starts")
        step = clamp_step(start, end, step)
        params = {"query": query, "start": _fmt_time(start), "end": _fmt_time(end), "step": f"{step:g}",
                  "timeout": self._server_timeout()}
        data = self._get("/api/v1/query_range", params)
        if data.get("resultType") != "matrix":
            raise DataError(f"Prometheus at {self.url} answered a range query with {data.get('resultType')!r}")
        try:
            return [Series(dict(r.get("metric", {})), [(float(t), parse_value(v)) for t, v in r["values"]])
                    for r in data["result"]]
        except (KeyError, TypeError, ValueError):
            raise DataError(f"Prometheus at {self.url} sent a malformed matrix result") from None

    # -- the metrics contract -----------------------------------------------------------------

    def _feature_expr(self, namespace: str, model: str, revisions: Sequence[str] | None,
                      window: str, offset: str | None = None) -> str:
        sel = {"namespace": namespace, "model": model}
        matcher = selector(**sel)
        if revisions:
            matcher = matcher[:-1] + f', revision=~"{escape_label(_regex_alternatives(revisions))}"' + "}"
        off = f" offset {offset}" if offset else ""
        return (f"sum by (namespace, model, revision, feature, le) "
                f"(increase({self.names.feature}_bucket{matcher}[{window}]{off}))")

    def feature_buckets(self, namespace: str, model: str, *, window: str, at: float | None = None,
                        revisions: Sequence[str] | None = None, offset: str | None = None) -> Buckets:
        """Bucket increases over `window` ending at `at` (minus `offset`), per (revision, feature).

        Missing series give an empty dict; a series with a single sample in the window gives
        nothing (increase() needs two), so no fake number can come out.
        """
        out: Buckets = {}
        for s in self.instant(self._feature_expr(namespace, model, revisions, window, offset), at):
            key = (s.labels.get("revision", ""), s.labels.get("feature", ""))
            if "le" in s.labels:
                out.setdefault(key, {})[s.labels["le"]] = s.value
        return out

    def feature_bucket_series(self, namespace: str, model: str, *, window: str, start: float, end: float,
                              step: float, revisions: Sequence[str] | None = None,
                              offset: str | None = None) -> BucketSeries:
        """Range version of feature_buckets: {(revision, feature): {t: {le: value}}}."""
        out: BucketSeries = {}
        expr = self._feature_expr(namespace, model, revisions, window, offset)
        for series in self.range(expr, start, end, step):
            key = (series.labels.get("revision", ""), series.labels.get("feature", ""))
            le = series.labels.get("le")
            if le is None:
                continue
            per_t = out.setdefault(key, {})
            for t, v in series.points:
                per_t.setdefault(t, {})[le] = v
        return out

    def revision_stats(self, namespace: str, model: str, *, window: str, at: float | None = None,
                       window_seconds: float | None = None) -> dict[str, RevisionStats]:
        """Requests, 5xx, rate, success rate, p50 and p99 per revision over `window`."""
        matcher = selector(namespace=namespace, model=model)
        counts = self.instant(
            f"sum by (namespace, model, revision, code) (increase({self.names.requests}{matcher}[{window}]))", at)
        stats: dict[str, RevisionStats] = {}
        for s in counts:
            rev = s.labels.get("revision", "")
            st = stats.setdefault(rev, RevisionStats(rev, requests=0.0, errors=0.0))
            v = finite_or_none(s.value)
            if v is None:
                continue
            st.requests += v
            if str(s.labels.get("code", "")).startswith("5"):
                st.errors += v
        for st in stats.values():
            if window_seconds:
                st.request_rate = st.requests / window_seconds
            st.success_rate = (1.0 - st.errors / st.requests) if st.requests else None
        for q, attr in ((0.5, "p50_seconds"), (0.99, "p99_seconds")):
            expr = (f"histogram_quantile({q}, sum by (namespace, model, revision, le) "
                    f"(rate({self.names.duration}_bucket{matcher}[{window}])))")
            for s in self.instant(expr, at):
                rev = s.labels.get("revision", "")
                st = stats.setdefault(rev, RevisionStats(rev))
                setattr(st, attr, finite_or_none(s.value))
        return stats

    def served_models(self, at: float | None = None, namespace: str | None = None) -> list[tuple[str, str, str]]:
        """(namespace, model, revision) triples that export request metrics, sorted."""
        matcher = selector(namespace=namespace) if namespace else ""
        expr = f"count by (namespace, model, revision) ({self.names.requests}{matcher})"
        found = {(s.labels.get("namespace", ""), s.labels.get("model", ""), s.labels.get("revision", ""))
                 for s in self.instant(expr, at)}
        return sorted(found)

    def features(self, namespace: str, model: str, at: float | None = None) -> list[str]:
        expr = f"count by (feature) ({self.names.feature}_bucket{selector(namespace=namespace, model=model)})"
        return sorted({s.labels.get("feature", "") for s in self.instant(expr, at)} - {""})


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
