"""The MLflow Model Registry, over MLflow's REST API 2.0 (httpx, imported lazily; no mlflow package).

    client = MlflowClient("https://mlflow.example", token="...")
    for page in client.search_registered_models():      # paged with page_token
        ...
    versions = list(client.search_model_versions())      # every version of every model
    runs = client.get_runs({"run-id", ...})              # runs/get, bounded concurrency
    client.set_alias("fraud-detector", "production", "4")

What the server sends follows mlflow/server/handlers.py and mlflow/protos/model_registry.proto
and service.proto:
* registered-models/search: max_results <= 1000, next_page_token while more remain; each model
  carries its tags [{key, value}] and aliases [{alias, version}]. model-versions/search: max_results
  <= 200,000; versions there carry no aliases (the model's list is the source of them).
* Zero values are left out of the JSON (an empty description is absent), int64 timestamps are
  numbers in milliseconds, and a metric that is NaN or infinite arrives as the string "NaN" /
  "Infinity".
* registered-models/alias: GET (name, alias) answers the version, or 400 INVALID_PARAMETER_VALUE
  "... alias X not found." when unset; POST {name, alias, version} (404 when the version does not
  exist); DELETE takes its parameters as a JSON body, like POST.
* Errors are {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": ...}; MLflow's basic-auth app
  answers 401 / 403 with a plain-text body (mlflow/server/auth/__init__.py).

Credentials never reach an error message or a log line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from adapters.errors import BackendUnavailable, Conflict, DataError, Forbidden, InvalidInput, NotFound
from adapters.http import Hints, LazyClient, body_text, ca_context, request_json, snippet

if TYPE_CHECKING:
    import ssl

    import httpx

API_PREFIX = "/api/2.0/mlflow"
MODELS_PAGE = 1000  # registered-models/search refuses more
VERSIONS_PAGE = 1000
RUN_FINAL_STATES = frozenset({"FINISHED", "FAILED", "KILLED"})
HINTS = Hints(timeout="it may be overloaded, try again (or raise [catalog.mlflow] timeout)",
              tls="point MLFLOW_TRACKING_SERVER_CERT_PATH or [catalog.mlflow] ca_file at the CA that signed its "
                  "certificate",
              unreachable="check the URL and that the tracking server is up",
              not_json="is the URL an MLflow tracking server?")
T = TypeVar("T")


@dataclass
class RegisteredModel:
    name: str
    creation_ms: int | None
    updated_ms: int | None
    description: str
    user_id: str | None
    tags: dict[str, str]
    aliases: dict[str, str]  # alias -> version


@dataclass
class ModelVersion:
    name: str
    version: str
    creation_ms: int | None
    updated_ms: int | None
    user_id: str | None
    stage: str | None
    description: str
    source: str | None
    run_id: str | None
    status: str | None
    status_message: str | None
    tags: dict[str, str]
    model_id: str | None = None


@dataclass
class Run:
    run_id: str
    status: str | None
    user_id: str | None
    artifact_uri: str | None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)  # latest value of each, finite only

    @property
    def finished(self) -> bool:
        return self.status in RUN_FINAL_STATES


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():  # int64 as a string (proto3 JSON)
        return int(value)
    return None


def _pairs(items: Any, key: str = "key", value: str = "value") -> dict[str, str]:
    if not isinstance(items, list):
        return {}
    out = {}
    for item in items:
        if isinstance(item, dict) and isinstance(item.get(key), str):
            out[item[key]] = "" if item.get(value) is None else str(item.get(value))
    return out


def parse_registered_model(data: Any) -> RegisteredModel:
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"]:
        raise ValueError(f"a registered model without a name: {snippet(repr(data))}")
    return RegisteredModel(
        name=data["name"], creation_ms=_int(data.get("creation_timestamp")),
        updated_ms=_int(data.get("last_updated_timestamp")), description=data.get("description") or "",
        user_id=_text(data.get("user_id")), tags=_pairs(data.get("tags")),
        aliases=_pairs(data.get("aliases"), "alias", "version"),
    )


def parse_model_version(data: Any) -> ModelVersion:
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or data.get("version") in (None, ""):
        raise ValueError(f"a model version without a name or version: {snippet(repr(data))}")
    return ModelVersion(
        name=data["name"], version=str(data["version"]), creation_ms=_int(data.get("creation_timestamp")),
        updated_ms=_int(data.get("last_updated_timestamp")), user_id=_text(data.get("user_id")),
        stage=_text(data.get("current_stage")), description=data.get("description") or "",
        source=_text(data.get("source")), run_id=_text(data.get("run_id")), status=_text(data.get("status")),
        status_message=_text(data.get("status_message")), tags=_pairs(data.get("tags")),
        model_id=_text(data.get("model_id")),
    )


def parse_run(data: Any) -> Run:
    info = data.get("info") if isinstance(data, dict) else None
    if not isinstance(info, dict) or not (info.get("run_id") or info.get("run_uuid")):
        raise ValueError(f"a run without info.run_id: {snippet(repr(data))}")
    body = data.get("data") if isinstance(data.get("data"), dict) else {}
    metrics = {}
    for item in body.get("metrics") or []:
        value = item.get("value") if isinstance(item, dict) else None
        # runs/get answers the latest value of each metric; NaN and infinities arrive as strings
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            metrics[str(item.get("key"))] = value
    return Run(run_id=info.get("run_id") or info["run_uuid"], status=_text(info.get("status")),
               user_id=_text(info.get("user_id")), artifact_uri=_text(info.get("artifact_uri")),
               params=_pairs(body.get("params")), metrics=metrics)


def quote_filter(value: str) -> str | None:
    """A string literal for a search filter. MLflow strips the quotes without unescaping
    (SearchUtils._strip_quotes), so a value holding both quote characters cannot be written."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    return None


class MlflowClient(LazyClient):
    """A client for one MLflow tracking server. Thread-safe: one httpx.Client with a pool."""

    def __init__(self, url: str, *, token: str | None = None, username: str | None = None,
                 password: str | None = None, ca_file: str | None = None, insecure: bool = False,
                 client_cert: str | None = None, timeout: float = 30.0, concurrency: int = 8,
                 page_size: int = VERSIONS_PAGE):
        from urllib.parse import unquote, urlsplit, urlunsplit

        url = (url or "").strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise InvalidInput(f"MLflow URL {snippet(url, 60)!r} must start with http:// or https:// "
                               "(e.g. http://mlflow.example:5000)")
        parts = urlsplit(url)
        if parts.username is not None:  # user:password@host: sent as basic auth, never shown or logged
            username = username or unquote(parts.username)
            password = password or unquote(parts.password or "")
            parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
            url = urlunsplit(parts)
        self.url = url
        self.token = token
        self.username, self.password = username, password
        self.ca_file = ca_file
        self.insecure = insecure
        self.client_cert = client_cert
        self.timeout = float(timeout)
        self.concurrency = max(1, int(concurrency))
        self.page_size = max(1, int(page_size))
        self.requests = 0  # how many requests were sent (benchmarks and tests read it)
        super().__init__()

    # -- plumbing -------------------------------------------------------------------------------

    def _build(self) -> httpx.Client:
        import httpx

        verify: ssl.SSLContext | bool = True
        if self.insecure:
            verify = False
        elif self.ca_file:
            verify = ca_context(self.ca_file, "MLflow CA file")
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        auth = (self.username, self.password or "") if self.username and not self.token else None
        limits = httpx.Limits(max_connections=self.concurrency + 2, max_keepalive_connections=self.concurrency + 2)
        return httpx.Client(base_url=self.url + API_PREFIX, verify=verify, cert=self.client_cert,
                            timeout=self.timeout, headers=headers, auth=auth, limits=limits)

    def _request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                 body: dict[str, Any] | None = None, what: str | None = None) -> dict[str, Any]:
        where = f"MLflow at {self.url}"
        self.requests += 1
        response, data = request_json(self._http(), method, path, where=where, timeout=self.timeout, hints=HINTS,
                                      params=params, json=body)
        if data is not None:
            return data
        status = response.status_code
        code, message = self._error(response)
        if status == 401:
            raise Forbidden(f"{where} wants credentials for {method} {path} (401: {message}); set "
                            "MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD")
        if status == 403:
            raise Forbidden(f"{where} refused {method} {path} (403: {message}); the user needs permission "
                            "on the registered model")
        if status == 404 or code == "RESOURCE_DOES_NOT_EXIST":
            if code is None:
                raise NotFound(f"{where} has no {API_PREFIX}{path} (404); is the URL an MLflow tracking server?")
            raise NotFound(f"{what + ': ' if what else ''}{message} (in MLflow at {self.url})")
        if status == 409 or code in ("RESOURCE_ALREADY_EXISTS", "ABORTED", "RESOURCE_CONFLICT"):
            raise Conflict(f"{where} refused {method} {path}: {message}")
        if status == 429 or status >= 500:
            raise BackendUnavailable(f"{where} answered {status} to {method} {path}: {message}; try again shortly")
        if status == 400:
            raise InvalidInput(f"{where} rejected {method} {path}: {message}")
        raise BackendUnavailable(f"{where} answered {status} to {method} {path}: {message}")

    @staticmethod
    def _error(response: httpx.Response) -> tuple[str | None, str]:
        try:
            data = response.json()
        except (ValueError, UnicodeDecodeError):
            return None, body_text(response)
        if isinstance(data, dict) and isinstance(data.get("error_code"), str):
            return data["error_code"], snippet(str(data.get("message") or data["error_code"]))
        return None, snippet(response.text) or f"HTTP {response.status_code}"

    def _paged(self, path: str, key: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        token: str | None = None
        seen: set[str] = set()
        while True:
            data = self._request("GET", path, params={**params, **({"page_token": token} if token else {})})
            items = data.get(key) or []
            if not isinstance(items, list):
                raise DataError(f"MLflow at {self.url} sent {key} as {type(items).__name__}, not a list, for GET {path}")
            yield items
            token = data.get("next_page_token") or None
            if token is None:
                return
            if not isinstance(token, str) or token in seen:
                raise DataError(f"MLflow at {self.url} sent a next_page_token for GET {path} that repeats or is "
                                "not a string; the listing cannot be trusted")
            seen.add(token)

    @staticmethod
    def _parse(parser: Callable[[Any], T], items: list[Any], what: str, url: str) -> list[T]:
        try:
            return [parser(item) for item in items]
        except (ValueError, TypeError, AttributeError) as exc:
            raise DataError(f"MLflow at {url} sent a malformed {what}: {exc}") from None

    # -- registry -------------------------------------------------------------------------------

    def search_registered_models(self, filter: str | None = None) -> Iterator[list[RegisteredModel]]:
        """Every registered model (prompts excluded, as the server does), one page at a time."""
        params: dict[str, Any] = {"max_results": min(self.page_size, MODELS_PAGE)}
        if filter:
            params["filter"] = filter
        for items in self._paged("/registered-models/search", "registered_models", params):
            yield self._parse(parse_registered_model, items, "registered model", self.url)

    def search_model_versions(self, filter: str | None = None) -> Iterator[list[ModelVersion]]:
        params: dict[str, Any] = {"max_results": self.page_size}
        if filter:
            params["filter"] = filter
        for items in self._paged("/model-versions/search", "model_versions", params):
            yield self._parse(parse_model_version, items, "model version", self.url)

    def get_registered_model(self, name: str) -> RegisteredModel:
        data = self._request("GET", "/registered-models/get", params={"name": name},
                             what=f"registered model {name!r}")
        return self._parse(parse_registered_model, [data.get("registered_model")], "registered model", self.url)[0]

    def get_alias(self, name: str, alias: str) -> str | None:
        """The version `alias` points at, or None when it is unset."""
        try:
            data = self._request("GET", "/registered-models/alias", params={"name": name, "alias": alias},
                                 what=f"model {name!r}")
        except InvalidInput as error:
            if "not found" in error.message.lower():  # the server's answer for an unset alias
                return None
            raise
        version = (data.get("model_version") or {}).get("version")
        if version in (None, ""):
            raise DataError(f"MLflow at {self.url} answered alias {alias!r} of {name!r} without a version")
        return str(version)

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self._request("POST", "/registered-models/alias", body={"name": name, "alias": alias, "version": str(version)},
                      what=f"{name}:{version}")

    def delete_alias(self, name: str, alias: str) -> None:
        self._request("DELETE", "/registered-models/alias", body={"name": name, "alias": alias},
                      what=f"model {name!r}")

    def download_uri(self, name: str, version: str) -> str | None:
        """Where the version's files are (the server resolves models:/ and runs:/ sources)."""
        data = self._request("GET", "/model-versions/get-download-uri", params={"name": name, "version": version},
                             what=f"{name}:{version}")
        return _text(data.get("artifact_uri"))

    # -- runs -----------------------------------------------------------------------------------

    def get_run(self, run_id: str) -> Run | None:
        """The run, or None when the server no longer has it."""
        try:
            data = self._request("GET", "/runs/get", params={"run_id": run_id}, what=f"run {run_id}")
        except NotFound:
            return None
        return self._parse(parse_run, [data.get("run")], "run", self.url)[0]

    def get_runs(self, run_ids: Iterable[str], *, on_done: Callable[[int], None] | None = None) -> dict[str, Run | None]:
        """runs/get for each id, `concurrency` at a time, in batches so memory stays flat.
        The first failure stops the rest and is raised."""
        ids = list(dict.fromkeys(run_ids))
        out: dict[str, Run | None] = {}
        if not ids:
            return out
        batch = self.concurrency * 8
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="mlflow-runs") as pool:
            for start in range(0, len(ids), batch):
                chunk = ids[start:start + batch]
                for run_id, run in zip(chunk, pool.map(self.get_run, chunk), strict=True):
                    out[run_id] = run
                if on_done is not None:
                    on_done(len(out))
        return out
