"""Kubeflow Pipelines, over its v2beta1 REST API (httpx, imported lazily).

    client = PipelinesClient("https://kfp.example", token_file="/run/secrets/kfp-token")
    page = client.list_runs(page_size=50, sort_by="created_at desc", state="FAILED")
    run = client.get_run(page.runs[0].run_id)
    print(run.failure)            # the failing task's error, readable
    client.retry_run(run.run_id)

The wire format has traps, and this module absorbs them: zero values are left out (an empty list
may be absent or arrive as {}), int64 values arrive as strings, an unfinished run has finished_at
1970-01-01T00:00:00Z (here: None), unknown fields are ignored, and errors arrive as
google.rpc.Status ({"code", "message", "details"}) and become the shared errors of adapters.errors.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from adapters.errors import BackendUnavailable, Conflict, DataError, Forbidden, InvalidInput, NotFound
from adapters.http import Hints, LazyClient, body_text, ca_context, request_json, snippet
from adapters.timestamps import parse_timestamp

if TYPE_CHECKING:
    import httpx

API_PREFIX = "/apis/v2beta1"
IAP_PREFIX = "accounts.google.com:"  # KFP's default user-id prefix (KUBEFLOW_USERID_PREFIX)

RUN_STATES = ("PENDING", "RUNNING", "SUCCEEDED", "SKIPPED", "FAILED", "CANCELING", "CANCELED", "PAUSED")
FINAL_STATES = frozenset({"SUCCEEDED", "SKIPPED", "FAILED", "CANCELED"})
ACTIVE_STATES = frozenset({"PENDING", "RUNNING", "CANCELING", "PAUSED"})
HINTS = Hints(timeout="it may be overloaded, try again",
              tls="set [kfp] ca_file to the CA that signed its certificate",
              unreachable="check kfp_url and that the API server is up",
              not_json="is kfp_url the KFP API?")


class PageTokenExpired(InvalidInput):
    """The server refused a page token: restart the listing from the first page. KFP's tokens carry
    their own query and do not expire (backend/src/apiserver/list/list.go), but a token can still be
    refused, e.g. by a server of another version behind the same URL."""

    kind = "page token expired"


# ---------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class StateChange:
    state: str
    at: datetime | None
    error: str | None = None
    error_code: int | None = None


@dataclass
class Task:
    task_id: str
    display_name: str
    state: str
    pod_name: str | None = None
    parent_task_id: str | None = None
    create_time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None  # None while unfinished
    error: str | None = None
    error_code: int | None = None
    state_history: list[StateChange] = field(default_factory=list)
    child_task_ids: list[str] = field(default_factory=list)
    child_pod_names: list[str] = field(default_factory=list)
    execution_id: int | None = None
    failed_pods: list[str] = field(default_factory=list)  # earlier attempts (retries)

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    def duration(self, now: datetime | None = None) -> float | None:
        """Seconds from start to end (or to now while running); None when it never started."""
        if self.start_time is None:
            return None
        end = self.end_time or (None if self.finished else (now or datetime.now(UTC)))
        return None if end is None else max(0.0, (end - self.start_time).total_seconds())


@dataclass
class Run:
    run_id: str
    display_name: str
    experiment_id: str | None
    state: str
    created_at: datetime | None = None
    scheduled_at: datetime | None = None
    finished_at: datetime | None = None  # None while unfinished (the API sends 1970-01-01)
    description: str = ""
    storage_state: str | None = None
    error: str | None = None  # the run's own error field, when the server set one
    error_code: int | None = None
    state_history: list[StateChange] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    pipeline_id: str | None = None
    pipeline_version_id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    recurring_run_id: str | None = None
    service_account: str | None = None
    has_details: bool = False  # whether tasks came with it (GET does, LIST does not)

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    def duration(self, now: datetime | None = None) -> float | None:
        start = self.created_at
        if start is None:
            return None
        end = self.finished_at or (None if self.finished else (now or datetime.now(UTC)))
        return None if end is None else max(0.0, (end - start).total_seconds())

    @property
    def failing_task(self) -> Task | None:
        """The task whose error explains the failure: a failed leaf task with an error, first."""
        parents = {t.parent_task_id for t in self.tasks if t.parent_task_id}
        candidates = [t for t in self.tasks if t.state == "FAILED" and t.error]
        leaves = [t for t in candidates if t.task_id not in parents]
        chosen = leaves or candidates
        return chosen[0] if chosen else None

    @property
    def failure(self) -> str | None:
        """One readable line of why this run failed (or was canceled), or None."""
        task = self.failing_task
        if task is not None:
            return f"{task.display_name}: {task.error}"
        if self.error:
            return self.error
        for change in reversed(self.state_history):
            if change.error:
                return change.error
        return None

    def task_tree(self) -> list[tuple[int, Task]]:
        """Tasks in tree order, each with its depth (root tasks first, children by start time)."""
        ids = {t.task_id for t in self.tasks}
        children: dict[str | None, list[Task]] = {}
        for task in self.tasks:
            parent = task.parent_task_id if task.parent_task_id in ids else None
            children.setdefault(parent, []).append(task)
        for group in children.values():
            group.sort(key=lambda t: (t.create_time or t.start_time or datetime.max.replace(tzinfo=UTC),
                                      t.display_name))
        out: list[tuple[int, Task]] = []
        seen: set[str] = set()

        def walk(parent: str | None, depth: int) -> None:
            for task in children.get(parent, []):
                if task.task_id in seen:
                    continue
                seen.add(task.task_id)
                out.append((depth, task))
                walk(task.task_id, depth + 1)

        walk(None, 0)
        out += [(0, t) for t in self.tasks if t.task_id not in seen]  # cycles: show them anyway
        return out

    def to_json(self) -> dict[str, Any]:
        """A plain JSON object (for --json): the fields a script needs."""
        return run_to_json(self)


@dataclass
class Experiment:
    experiment_id: str
    display_name: str
    description: str = ""
    namespace: str | None = None
    created_at: datetime | None = None
    storage_state: str | None = None
    last_run_created_at: datetime | None = None


@dataclass
class RunPage:
    runs: list[Run]
    next_page_token: str | None
    total_size: int


# ---------------------------------------------------------------------------------------------
# Parsing (tolerant: the server leaves zero values out and may add fields we do not know)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 -> aware datetime; absent, empty, unparsable or the epoch (protobuf's zero) -> None."""
    parsed = parse_timestamp(value)
    return None if parsed is None or parsed.timestamp() <= 0 else parsed


def _status(value: Any) -> tuple[str | None, int | None]:
    """(message, code) of a google.rpc.Status (or of a bare string)."""
    if isinstance(value, str):
        return (value or None), None
    data = _dict(value)
    message = _str(data.get("message")) or _str(data.get("error"))
    code = _int(data.get("code"))
    if message is None and code:
        message = f"error code {code}"
    return message, code


def _state(value: Any) -> str:
    return value.upper() if isinstance(value, str) and value else "RUNTIME_STATE_UNSPECIFIED"


def _history(value: Any) -> list[StateChange]:
    out = []
    for item in _list(value):
        item = _dict(item)
        message, code = _status(item.get("error"))
        out.append(StateChange(_state(item.get("state")), parse_time(item.get("update_time")), message, code))
    return out


def parse_task(data: Any) -> Task:
    data = _dict(data)
    message, code = _status(data.get("error"))
    children = [_dict(c) for c in _list(data.get("child_tasks"))]
    executor = _dict(data.get("executor_detail"))
    return Task(
        task_id=_str(data.get("task_id")) or _str(data.get("pod_name")) or "",
        display_name=_str(data.get("display_name")) or _str(data.get("task_id")) or "?",
        state=_state(data.get("state")),
        pod_name=_str(data.get("pod_name")),
        parent_task_id=_str(data.get("parent_task_id")),
        create_time=parse_time(data.get("create_time")),
        start_time=parse_time(data.get("start_time")),
        end_time=parse_time(data.get("end_time")),
        error=message,
        error_code=code,
        state_history=_history(data.get("state_history")),
        child_task_ids=[c["task_id"] for c in children if _str(c.get("task_id"))],
        child_pod_names=[c["pod_name"] for c in children if _str(c.get("pod_name"))],
        execution_id=_int(data.get("execution_id")),
        failed_pods=[p for p in _list(executor.get("failed_main_jobs")) if isinstance(p, str)],
    )


def parse_run(data: Any, *, tasks: bool = True) -> Run:
    """A run; tasks=False leaves run_details unread (a listing carries them for every run, and
    nothing that lists needs them: the detail GETs its run)."""
    if not isinstance(data, dict):
        raise DataError(f"KFP sent a run that is not a JSON object: {str(data)[:80]!r}")
    run_id = _str(data.get("run_id"))
    if run_id is None:
        raise DataError("KFP sent a run without a run_id")
    message, code = _status(data.get("error"))
    details = data.get("run_details") if tasks else None
    reference = _dict(data.get("pipeline_version_reference"))
    return Run(
        run_id=run_id,
        display_name=_str(data.get("display_name")) or run_id,
        experiment_id=_str(data.get("experiment_id")),
        state=_state(data.get("state")),
        created_at=parse_time(data.get("created_at")),
        scheduled_at=parse_time(data.get("scheduled_at")),
        finished_at=parse_time(data.get("finished_at")),
        description=_str(data.get("description")) or "",
        storage_state=_str(data.get("storage_state")),
        error=message,
        error_code=code,
        state_history=_history(data.get("state_history")),
        tasks=[parse_task(t) for t in _list(_dict(details).get("task_details"))],
        pipeline_id=_str(reference.get("pipeline_id")),
        pipeline_version_id=_str(reference.get("pipeline_version_id")) or _str(data.get("pipeline_version_id")),
        parameters=dict(_dict(_dict(data.get("runtime_config")).get("parameters"))),
        recurring_run_id=_str(data.get("recurring_run_id")),
        service_account=_str(data.get("service_account")),
        has_details=isinstance(details, dict),
    )


def parse_experiment(data: Any) -> Experiment:
    if not isinstance(data, dict) or not _str(data.get("experiment_id")):
        raise DataError(f"KFP sent an experiment without an experiment_id: {str(data)[:80]!r}")
    return Experiment(
        experiment_id=data["experiment_id"],
        display_name=_str(data.get("display_name")) or data["experiment_id"],
        description=_str(data.get("description")) or "",
        namespace=_str(data.get("namespace")),
        created_at=parse_time(data.get("created_at")),
        storage_state=_str(data.get("storage_state")),
        last_run_created_at=parse_time(data.get("last_run_created_at")),
    )


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _change_json(change: StateChange) -> dict[str, Any]:
    return {"state": change.state, "at": _iso(change.at), "error": change.error}


def run_to_json(run: Run) -> dict[str, Any]:
    out: dict[str, Any] = {
        "run_id": run.run_id,
        "display_name": run.display_name,
        "experiment_id": run.experiment_id,
        "state": run.state,
        "created_at": _iso(run.created_at),
        "finished_at": _iso(run.finished_at),
        "duration_seconds": run.duration(),
        "description": run.description,
        "pipeline_id": run.pipeline_id,
        "pipeline_version_id": run.pipeline_version_id,
        "parameters": run.parameters,
        "error": run.failure,
    }
    if run.has_details:
        out["state_history"] = [_change_json(c) for c in run.state_history]
        out["tasks"] = [
            {"task_id": t.task_id, "display_name": t.display_name, "state": t.state, "depth": depth,
             "parent_task_id": t.parent_task_id, "pod_name": t.pod_name, "start_time": _iso(t.start_time),
             "end_time": _iso(t.end_time), "duration_seconds": t.duration(), "error": t.error,
             "failed_pods": t.failed_pods, "state_history": [_change_json(c) for c in t.state_history]}
            for depth, t in run.task_tree()
        ]
    return out


def experiment_to_json(exp: Experiment) -> dict[str, Any]:
    return {"experiment_id": exp.experiment_id, "display_name": exp.display_name, "description": exp.description,
            "namespace": exp.namespace, "created_at": _iso(exp.created_at),
            "last_run_created_at": _iso(exp.last_run_created_at)}


def build_filter(predicates: Iterable[dict[str, Any]]) -> str | None:
    """The `filter` query value: JSON of a v2beta1Filter (httpx URL-encodes it)."""
    predicates = list(predicates)
    return json.dumps({"predicates": predicates}, separators=(",", ":")) if predicates else None


def run_predicates(state: str | Iterable[str] | None = None, text: str | None = None) -> list[dict[str, Any]]:
    predicates: list[dict[str, Any]] = []
    if state:
        states = [state] if isinstance(state, str) else list(state)
        states = [s.upper() for s in states]
        unknown = [s for s in states if s not in RUN_STATES]
        if unknown:
            raise InvalidInput(f"unknown run state {unknown[0]!r}; use one of {', '.join(RUN_STATES)}")
        if len(states) == 1:
            predicates.append({"key": "state", "operation": "EQUALS", "string_value": states[0]})
        elif states:
            predicates.append({"key": "state", "operation": "IN", "string_values": {"values": states}})
    if text:
        predicates.append({"key": "display_name", "operation": "IS_SUBSTRING", "string_value": text})
    return predicates


# ---------------------------------------------------------------------------------------------
# The client


class PipelinesClient(LazyClient):
    """A blocking client (call it from a thread worker). Thread-safe; close() when done."""

    def __init__(self, base_url: str, *, token: str | None = None, token_file: str | None = None,
                 cookie: str | None = None, user_header: tuple[str, str] | str | None = None,
                 ca_file: str | None = None, namespace: str | None = None, timeout: float = 10.0):
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise InvalidInput(f"KFP URL {base_url!r} must start with http:// or https:// (set kfp_url)")
        base = base_url.rstrip("/")
        if base.endswith(API_PREFIX):  # accept a URL given with the API prefix, too
            base = base[: -len(API_PREFIX)]
        self.base_url = base
        self.token = token
        self.token_file = token_file
        self.cookie = cookie
        if isinstance(user_header, str):
            name, sep, value = user_header.partition(":")
            if not sep or not name.strip():
                raise InvalidInput(f"KFP user_header {user_header!r} must look like 'Header-Name: value'")
            user_header = (name.strip(), value.strip())
        self.user_header = user_header
        self.ca_file = ca_file
        self.namespace = namespace
        self.timeout = float(timeout)
        super().__init__()
        self._token_cache: tuple[float, str] | None = None
        self._multi_user: bool | None = None

    @property
    def user(self) -> str | None:
        """The KFP user this client names in its user header (without an IAP-style prefix), if any."""
        if not self.user_header or not self.user_header[1]:
            return None
        value = self.user_header[1]
        return value[len(IAP_PREFIX):] if value.startswith(IAP_PREFIX) else value

    def multi_user(self) -> bool:
        """Whether KFP runs in multi-user mode (GET /healthz multi_user); asked once."""
        if self._multi_user is None:
            self._multi_user = self.healthz().get("multi_user") is True
        return self._multi_user

    # -- plumbing -------------------------------------------------------------------------------

    def _build(self) -> httpx.Client:
        import httpx

        return httpx.Client(base_url=self.base_url + API_PREFIX,
                            verify=ca_context(self.ca_file, "KFP ca_file") if self.ca_file else True,
                            timeout=self.timeout, headers={"Accept": "application/json"})

    def _bearer(self) -> str | None:
        if self.token_file:
            try:
                stat = os.stat(self.token_file)
                if self._token_cache is None or self._token_cache[0] != stat.st_mtime:
                    with open(self.token_file, encoding="utf-8") as handle:
                        self._token_cache = (stat.st_mtime, handle.read().strip())
            except OSError as exc:
                raise InvalidInput(f"KFP token_file {self.token_file} cannot be read: {exc.strerror or exc}") from None
            return self._token_cache[1] or None
        return self.token

    def _headers(self) -> dict[str, str]:
        headers = {}
        token = self._bearer()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if self.cookie:
            headers["Cookie"] = self.cookie
        if self.user_header:
            headers[self.user_header[0]] = self.user_header[1]
        return headers

    def _request(self, method: str, path: str, params: dict[str, Any] | None = None, *,
                 what: str | None = None, conflict_on_invalid: bool = False) -> dict[str, Any]:
        """One call; errors become the shared errors by meaning. conflict_on_invalid: KFP answers a run
        action the run's state does not allow with InvalidArgument (terminate, storage/run_store.go)
        or Aborted (retry, common/util/workflow.go): both are conflicts with the current state."""
        params = {k: v for k, v in (params or {}).items() if v is not None and v != ""}
        where = f"KFP at {self.base_url}"
        response, data = request_json(self._http(), method, path, where=where, timeout=self.timeout, hints=HINTS,
                                      params=params, headers=self._headers())
        if data is not None:
            return data
        status = response.status_code
        message, code = self._error_message(response)
        if status == 400 and "empty namespace in multi-user mode" in message:
            self._multi_user = True
            raise InvalidInput(f"{where} runs in multi-user mode and every list names a namespace: pass "
                               "-n NAMESPACE, or set namespace under [contexts.\"NAME\"] or [kfp] in the config")
        if status in (401, 403):
            raise Forbidden(f"{where} refused {method} {path} ({status}): {message}; check the token in the config "
                            "([kfp] token, token_file or token_env, cookie, user_header)")
        if status == 404:
            if what:
                raise NotFound(f"{what} not found on KFP {self.base_url}; it may have been deleted ({message})")
            raise NotFound(f"{where} has no {path} (404: {message}); check that kfp_url is the KFP API base URL")
        if status == 400 and params.get("page_token") and "token" in message.lower():
            raise PageTokenExpired(f"{where} no longer accepts the page token ({message}); list again from the "
                                   "first page")
        if status == 409 or code in (6, 9, 10) or (conflict_on_invalid and code == 3):
            raise Conflict(f"{where} refused {method} {path} (the run's state does not allow it): {message}")
        if status == 400:
            raise InvalidInput(f"{where} rejected {method} {path}: {message}")
        if status == 429 or status >= 500:
            raise BackendUnavailable(f"{where} answered {status} to {method} {path}: {message}; try again shortly")
        raise BackendUnavailable(f"{where} answered {status} to {method} {path}: {message}")

    @staticmethod
    def _error_message(response: httpx.Response) -> tuple[str, int | None]:
        try:
            data = response.json()
        except (ValueError, UnicodeDecodeError):
            return body_text(response), None
        message, code = _status(data) if isinstance(data, dict) else (None, None)
        return (message or snippet(response.text) or f"HTTP {response.status_code}"), code

    # -- API ------------------------------------------------------------------------------------

    def healthz(self) -> dict[str, Any]:
        return self._request("GET", "/healthz")

    def list_runs(self, page_size: int = 50, page_token: str | None = None, sort_by: str | None = "created_at desc",
                  state: str | Iterable[str] | None = None, experiment_id: str | None = None, text: str | None = None,
                  namespace: str | None = None, predicates: Iterable[dict[str, Any]] = ()) -> RunPage:
        """One page of runs. A page token carries its query's sort and filter, so with a token only the
        token is sent (backend/src/apiserver/server/list_request_util.go); the namespace and experiment
        are not in it and go with every page. Raises PageTokenExpired when the token is refused."""
        if page_size < 1:
            raise InvalidInput(f"page size must be at least 1, not {page_size}")
        filters = run_predicates(state, text) + list(predicates)
        data = self._request("GET", "/runs", {
            "page_size": page_size, "page_token": page_token,
            "sort_by": None if page_token else sort_by, "filter": None if page_token else build_filter(filters),
            "experiment_id": experiment_id, "namespace": namespace or self.namespace,
        })
        runs = [parse_run(r, tasks=False) for r in _list(data.get("runs"))]
        total = _int(data.get("total_size"))
        return RunPage(runs, _str(data.get("next_page_token")), total if total is not None else len(runs))

    def iter_runs(self, page_size: int = 100, sort_by: str | None = "created_at desc",
                  state: str | Iterable[str] | None = None, experiment_id: str | None = None,
                  text: str | None = None, namespace: str | None = None, limit: int | None = None) -> Iterator[Run]:
        """Every run (or the first `limit`), page by page."""
        token: str | None = None
        count = 0
        seen_tokens: set[str] = set()
        while True:
            size = page_size if limit is None else max(1, min(page_size, limit - count))
            page = self.list_runs(size, token, sort_by, state, experiment_id, text, namespace)
            for run in page.runs:
                yield run
                count += 1
                if limit is not None and count >= limit:
                    return
            token = page.next_page_token
            if not token or not page.runs:
                return
            if token in seen_tokens:
                raise DataError(f"KFP at {self.base_url} returned the same page token twice; stopping the listing")
            seen_tokens.add(token)

    def get_run(self, run_id: str) -> Run:
        _check_id(run_id, "run id")
        return parse_run(self._request("GET", f"/runs/{run_id}", what=f"run {run_id}"))

    def terminate_run(self, run_id: str) -> None:
        _check_id(run_id, "run id")
        self._request("POST", f"/runs/{run_id}:terminate", what=f"run {run_id}", conflict_on_invalid=True)

    def retry_run(self, run_id: str) -> None:
        _check_id(run_id, "run id")
        self._request("POST", f"/runs/{run_id}:retry", what=f"run {run_id}", conflict_on_invalid=True)

    def list_experiments(self, namespace: str | None = None, page_size: int = 100) -> list[Experiment]:
        out: list[Experiment] = []
        token: str | None = None
        while True:
            data = self._request("GET", "/experiments", {"page_size": page_size, "page_token": token,
                                                         "sort_by": "display_name",
                                                         "namespace": namespace or self.namespace})
            out += [parse_experiment(e) for e in _list(data.get("experiments"))]
            token = _str(data.get("next_page_token"))
            if not token:
                return out

    def get_experiment(self, experiment_id: str) -> Experiment:
        _check_id(experiment_id, "experiment id")
        return parse_experiment(self._request("GET", f"/experiments/{experiment_id}",
                                              what=f"experiment {experiment_id}"))

    def find_experiment(self, name_or_id: str, namespace: str | None = None) -> Experiment:
        """An experiment by id or by display name (exact, then case-insensitive)."""
        experiments = self.list_experiments(namespace)
        for exp in experiments:
            if exp.experiment_id == name_or_id or exp.display_name == name_or_id:
                return exp
        folded = [e for e in experiments if e.display_name.lower() == name_or_id.lower()]
        if len(folded) == 1:
            return folded[0]
        names = ", ".join(sorted(e.display_name for e in experiments)) or "none"
        raise NotFound(f"no experiment {name_or_id!r} at KFP {self.base_url}; known: {names}")


def _check_id(value: str, what: str) -> None:
    if not value or not isinstance(value, str) or any(c in "/?#:" or not c.isprintable() or c.isspace()
                                                       for c in value):
        raise InvalidInput(f"{what} {value!r} is not valid: it must be a single id such as a UUID")
