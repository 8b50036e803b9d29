"""A Kubeflow Pipelines v2beta1 REST endpoint on loopback, for the demo and the tests.

    sandbox = KfpSandbox(state_dir, catalog_path, n_runs=50, time_scale=1.0, seed=7)
    base_url = sandbox.start()        # e.g. http://127.0.0.1:41234 (without /apis/v2beta1)
    sandbox.faults.add(r"/runs$", status=503, times=1)
    sandbox.advance(600)              # jump the simulated clock 10 minutes ahead
    sandbox.stop()

Serves GET /apis/v2beta1/healthz, GET /runs (page_size, page_token, sort_by, filter, experiment_id,
namespace), GET /runs/{id}, POST /runs/{id}:terminate, POST /runs/{id}:retry, GET /experiments and
GET /experiments/{id}. The world is described in kfp_world.py; terminate and retry are kept in
state_dir/kfp_state.json so a restarted sandbox remembers them.

Multi-user mode (full Kubeflow) is served as KFP's apiserver serves it: a list must name a namespace
(or an experiment), the user comes from the gateway's header (`kubeflow-userid` by default, with an
optional prefix such as `accounts.google.com:`) or from a bearer token (a TokenReview), and each
request is authorized with a SubjectAccessReview on pipelines.kubeflow.org runs or experiments in the
namespace (backend/src/apiserver/server/run_server.go canAccessRun, experiment_server.go
canAccessExperiment, resource/resource_manager.go IsAuthorized, auth/). `authorizer` answers those
reviews: KubeAuthorizer asks the sandbox's Kubernetes API, over its socket, as KFP asks its cluster.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from console.sandbox.faults import Faults, stall_or_drop
from console.sandbox.kfp_world import ApiError, World, read_catalog_versions
from console.sandbox.server_base import SandboxHTTPServer

API = "/apis/v2beta1"
STATE_FILE = "kfp_state.json"
STATE_MAX_AGE = 12 * 3600  # an older saved world is started afresh

_FAULT_MESSAGES = {
    400: (3, "Invalid input error: the request was rejected by a fault injected in the sandbox"),
    401: (16, "Unauthenticated: the request carries no valid credentials (token expired or missing)"),
    403: (7, "PermissionDenied: user is not authorized to access runs in this namespace"),
    404: (5, "Not Found"),
    409: (6, "Conflict"),
    429: (8, "ResourceExhausted: too many requests"),
    500: (13, "Internal error: failed to query the run store: database is locked"),
    502: (14, "upstream connect error or disconnect/reset before headers"),
    503: (14, "Unavailable: the ml-pipeline API server is not ready"),
    504: (4, "DeadlineExceeded: upstream request timeout"),
}


RBAC_GROUP, RBAC_VERSION = "pipelines.kubeflow.org", "v1beta1"  # common/const.go RbacPipelines*
NO_IDENTITY = "Request header error: there is no user identity header."


class Authorizer(Protocol):
    def authenticate(self, token: str) -> str | None:
        """The user name a bearer token belongs to (a TokenReview), or None."""

    def authorize(self, user: str, attributes: dict[str, str]) -> tuple[bool, str]:
        """(allowed, reason) of a SubjectAccessReview for user on resourceAttributes."""


class KubeAuthorizer:
    """TokenReview and SubjectAccessReview against a Kubernetes API server, as KFP's apiserver makes
    them with its service account (resource_manager.go IsAuthorized, auth/authenticator_token_review.go)."""

    def __init__(self, kube_url: str, token: str, ca_file: str | None = None):
        import ssl

        self.kube_url, self.token = kube_url.rstrip("/"), token
        self.context = ssl.create_default_context(cafile=ca_file) if ca_file else None

    def _create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        import urllib.request

        request = urllib.request.Request(self.kube_url + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Authorization": f"Bearer {self.token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10, context=self.context) as response:
            return json.loads(response.read())

    def authenticate(self, token: str) -> str | None:
        review = self._create("/apis/authentication.k8s.io/v1/tokenreviews", {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}})
        status = review.get("status") or {}
        return (status.get("user") or {}).get("username") if status.get("authenticated") else None

    def authorize(self, user: str, attributes: dict[str, str]) -> tuple[bool, str]:
        review = self._create("/apis/authorization.k8s.io/v1/subjectaccessreviews", {
            "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"user": user, "resourceAttributes": attributes}})
        status = review.get("status") or {}
        return bool(status.get("allowed")), str(status.get("reason") or "")


def _attributes_text(attributes: dict[str, str]) -> str:
    """Go's String() of a *ResourceAttributes, as KFP's error messages print it."""
    keys = ("namespace", "verb", "group", "version", "resource", "subresource", "name")
    return "&ResourceAttributes{" + ",".join(f"{k.title()}:{attributes.get(k, '')}" for k in keys) + \
        ",FieldSelector:nil,LabelSelector:nil,}"


class _Server(SandboxHTTPServer):
    sandbox: KfpSandbox


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls on keep-alive connections
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep the terminal clean
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def _send(self, code: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        # headers and body in one write (_headers_buffer is BaseHTTPRequestHandler's, not in typeshed)
        self._headers_buffer.append(b"\r\n" + body)  # type: ignore[attr-defined]
        self.flush_headers()

    def _serve(self, method: str) -> None:
        sandbox = self.server.sandbox
        url = urlsplit(self.path)
        path = unquote(url.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        sandbox._log(method, path, dict(self.headers.items()))
        fault = sandbox.faults.take(method, path)
        if fault is not None:
            if stall_or_drop(self, fault):
                return
            if fault.answers:
                code = fault.status or 200
                body = fault.body
                if body is None:
                    rpc, message = _FAULT_MESSAGES.get(code, (2, f"HTTP {code}"))
                    body = json.dumps({"code": rpc, "message": message, "details": []}).encode()
                self._send(code, body, fault.content_type)
                return
        try:
            if sandbox.token is not None:
                auth = self.headers.get("Authorization", "")
                if auth != f"Bearer {sandbox.token}":
                    raise ApiError(16, "Unauthenticated: Request header error: there is no user identity header "
                                       "or bearer token, or the token is not valid", 401)
            result = sandbox._route(method, path, parse_qs(url.query, keep_blank_values=True), self.headers)
            body = json.dumps(result, separators=(",", ":")).encode()
            self._send(200, body)
        except ApiError as error:
            self._send(error.http_status, json.dumps(error.body()).encode())
        except Exception as error:  # a bug in the sandbox still answers in the API's error form
            self._send(500, json.dumps({"code": 13, "message": f"Internal error: {error!r}", "details": []}).encode())


_RUN = re.compile(rf"^{API}/runs/([^/:]+)$")
_RUN_ACTION = re.compile(rf"^{API}/runs/([^/:]+):(terminate|retry)$")
_EXPERIMENT = re.compile(rf"^{API}/experiments/([^/:]+)$")


class KfpSandbox:
    def __init__(self, state_dir: Path, catalog_path: Path | None = None, *, n_runs: int = 50,
                 time_scale: float = 1.0, seed: int = 7, token: str | None = None, multi_user: bool = False,
                 authorizer: Authorizer | None = None, user_header: str = "kubeflow-userid", user_prefix: str = "",
                 host: str = "127.0.0.1", port: int = 0, ssl_context: Any = None, t0: float | None = None):
        """t0 pins the simulated world's start (tests and snapshots); by default it is now, or
        the start saved in state_dir by an earlier run. Multi-user mode needs an authorizer; the
        gateway's header is user_header (KUBEFLOW_USERID_HEADER) and user_prefix (KUBEFLOW_USERID_PREFIX)."""
        if multi_user and authorizer is None:
            raise ValueError("multi-user KFP needs an authorizer (e.g. KubeAuthorizer) to answer access reviews")
        self.authorizer = authorizer
        self.user_header, self.user_prefix = user_header.lower(), user_prefix
        self.state_dir = Path(state_dir)
        self.catalog_path = catalog_path
        self.n_runs = n_runs
        self.time_scale = float(time_scale)
        self.seed = seed
        self.token = token
        self.multi_user = multi_user
        self.host, self.port = host, port
        self.ssl_context = ssl_context  # an ssl.SSLContext (server side) serves https
        self.faults = Faults(default_times=None)
        self._reject_tokens = 0
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url: str | None = None
        self._offset = 0.0
        saved = self._load_state()
        self._wall0 = saved["t0"] if saved else (t0 if t0 is not None else time.time())
        self.world = World(n_runs=n_runs, seed=seed, t0=self._wall0,
                           catalog_versions=read_catalog_versions(catalog_path))
        if saved:
            self._offset = float(saved.get("offset", 0.0))
            for run_id, mutations in saved.get("mutations", {}).items():
                plan = self.world.runs.get(run_id)
                if plan is not None:
                    for when, kind in mutations:
                        plan.add_mutation(float(when), kind)

    # -- clock ----------------------------------------------------------------------------------

    def now(self) -> float:
        """The simulated time: wall clock since the world began, times time_scale, plus advance()."""
        return self._wall0 + (time.time() - self._wall0) * self.time_scale + self._offset

    def advance(self, seconds: float) -> None:
        """Move the simulated clock forward (tests and demos that cannot wait)."""
        with self._lock:
            self._offset += seconds
            self._save_state()

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> str:
        if self._server is not None:
            assert self.base_url is not None
            return self.base_url
        self._server = _Server((self.host, self.port), _Handler)
        self._server.sandbox = self
        if self.ssl_context is not None:
            self._server.socket = self.ssl_context.wrap_socket(self._server.socket, server_side=True)
        host, port = self.host, self._server.server_port
        scheme = "https" if self.ssl_context is not None else "http"
        self.base_url = f"{scheme}://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="kfp-sandbox", daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> KfpSandbox:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- helpers for tests and the demo ----------------------------------------------------------

    def reject_page_tokens(self, times: int = 1) -> None:
        """Refuse the next `times` page tokens as KFP refuses one it cannot read (list/list.go
        unmarshal), as after an upgrade behind the same URL: KFP's tokens themselves never expire."""
        with self._lock:
            self._reject_tokens += times

    def runs_in_state(self, *states: str) -> list[str]:
        now = self.now()
        with self._lock:
            return [r.run_id for r in self.world.runs.values() if r.state_at(now) in states]

    def delete_run(self, run_id: str) -> None:
        """A run that vanishes (as when someone deletes it in the KFP UI)."""
        with self._lock:
            self.world.runs.pop(run_id, None)

    def _log(self, method: str, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self.requests.append((method, path, headers))
            if len(self.requests) > 500:
                del self.requests[:250]

    # -- routing --------------------------------------------------------------------------------

    def _route(self, method: str, path: str, query: dict[str, list[str]], headers: Any = None) -> dict[str, Any]:
        def q(name: str) -> str | None:
            values = query.get(name)
            return values[-1] if values else None

        def int_q(name: str) -> int | None:
            value = q(name)
            if value in (None, ""):
                return None
            try:
                return int(value)
            except ValueError:
                raise ApiError(3, f"Invalid input error: {name} must be an integer, not {value!r}") from None

        now = self.now()
        if path == f"{API}/healthz":
            self._only(method, "GET")
            out: dict[str, Any] = {"pipeline_store": "database"}  # zero values left out: no multi_user: false
            if self.multi_user:
                out["multi_user"] = True
            return out
        if path == f"{API}/runs":
            self._only(method, "GET")
            experiment_id = q("experiment_id") or None
            # single-user KFP ignores the namespace (resource_manager.go ReplaceNamespace)
            namespace = (q("namespace") or None) if self.multi_user else None
            if self.multi_user:
                if experiment_id:
                    with self._lock:
                        namespace = self.world.experiment(experiment_id).namespace
                self._check(headers, {"namespace": namespace or "", "verb": "list"}, "runs", [
                    "Failed to list runs",
                    f"Failed to list runs due to authorization error. Check if you have permission to access "
                    f"namespace {namespace or ''}"])
            with self._lock:
                if q("page_token") and self._reject_tokens > 0:
                    self._reject_tokens -= 1
                    raise ApiError(3, "Failed to create list options: InvalidInputError: Invalid page token: "
                                      "invalid character 'x' looking for beginning of value")
                return self.world.list_runs(now, page_size=int_q("page_size"), page_token=q("page_token") or None,
                                            sort_by=q("sort_by"), filter_json=q("filter") or None,
                                            experiment_id=experiment_id, namespace=namespace)
        match = _RUN_ACTION.match(path) or _RUN.match(path)
        if match:
            run_id = match.group(1)
            verb = match.group(2) if match.re is _RUN_ACTION else "get"
            self._only(method, "GET" if verb == "get" else "POST")
            if self.multi_user:
                with self._lock:
                    plan = self.world.run(run_id)
                    namespace = self.world.experiments[plan.experiment_id].namespace
                outer = {"get": "Failed to get a run", "terminate": "Failed to terminate a run",
                         "retry": "Failed to retry a run"}[verb]
                self._check(headers, {"namespace": namespace, "verb": verb, "name": plan.workflow_name}, "runs",
                            [outer, "Failed to authorize the request",
                             f"Failed to access run {run_id}. Check if you have access to namespace {namespace}"])
            with self._lock:
                if verb == "get":
                    return self.world.run(run_id).render(now, details=True)
                if verb == "terminate":
                    self.world.terminate(run_id, now)
                else:
                    self.world.retry(run_id, now)
                self._save_state()
                return {}
        if path == f"{API}/experiments":
            self._only(method, "GET")
            namespace = (q("namespace") or None) if self.multi_user else None
            if self.multi_user:
                self._check(headers, {"namespace": namespace or "", "verb": "list"}, "experiments",
                            ["List experiments failed", "Failed to authorize with API"])
            with self._lock:
                return self.world.list_experiments(
                    now, page_size=int_q("page_size"), page_token=q("page_token") or None, sort_by=q("sort_by"),
                    filter_json=q("filter") or None, namespace=namespace)
        match = _EXPERIMENT.match(path)
        if match:
            self._only(method, "GET")
            with self._lock:
                experiment = self.world.experiment(match.group(1))
            if self.multi_user:
                self._check(headers, {"namespace": experiment.namespace, "verb": "get",
                                      "name": experiment.display_name}, "experiments",
                            ["Failed to get experiment", "Failed to authorize the request",
                             "Failed to authorize with API"])
            with self._lock:
                return self.world.render_experiment(experiment, now)
        raise ApiError(5, "Not Found", 404)

    def _check(self, headers: Any, attributes: dict[str, str], resource: str, wraps: list[str]) -> None:
        """KFP's canAccessRun / canAccessExperiment and IsAuthorized: a namespace, a user, then a
        SubjectAccessReview; errors keep KFP's wrapping (pkg/errors: "outer: inner")."""

        def fail(code: int, inner: str) -> ApiError:
            return ApiError(code, ": ".join(wraps + [inner]))

        if not attributes.get("namespace"):
            kind = "A run" if resource == "runs" else "An experiment"
            raise fail(3, f"Invalid input error: {kind} cannot have an empty namespace in multi-user mode")
        user = self._identity(headers, fail)
        attributes = {**attributes, "group": RBAC_GROUP, "version": RBAC_VERSION, "resource": resource}
        assert self.authorizer is not None
        try:
            allowed, reason = self.authorizer.authorize(user, attributes)
        except OSError as error:
            raise fail(13, f"InternalServerError: Failed to create SubjectAccessReview for user '{user}' "
                           f"(request: {_attributes_text(attributes)}): {error}") from None
        if not allowed:
            raise fail(7, f"PermissionDenied: User '{user}' is not authorized with reason: {reason} "
                          f"(request: {_attributes_text(attributes)}): Unauthorized access")

    def _identity(self, headers: Any, fail: Any) -> str:
        """The gateway's user header first, then a bearer token (auth/auth.go GetAuthenticators)."""
        values = headers.get_all(self.user_header) if headers is not None else None
        if values:
            if len(values) != 1:
                raise fail(10, f"BadRequestError: Request header error: unexpected number of '{self.user_header}' "
                               f"headers. Expect 1 got {len(values)}")
            if not values[0].startswith(self.user_prefix):
                raise fail(10, f"BadRequestError: Header '{self.user_header}' is incorrectly formatted. Expected "
                               f"prefix '{self.user_prefix}'")
            return values[0][len(self.user_prefix):]
        bearer = (headers.get("Authorization") or "") if headers is not None else ""
        if bearer.startswith("Bearer "):
            assert self.authorizer is not None
            try:
                user = self.authorizer.authenticate(bearer[len("Bearer "):])
            except OSError as error:
                raise fail(16, f"Unauthenticated: Request header error: Failed to review the token provided: "
                               f"{error}") from None
            if user:
                return user
            raise fail(16, "Unauthenticated: Failed to check authorization. User identity is empty in the request "
                           "header: [Authentication failure: Unauthenticated: Review.Status.Authenticated is false]")
        raise fail(16, f"Unauthenticated: Failed to check authorization. User identity is empty in the request "
                       f"header: [Unauthenticated: {NO_IDENTITY}: {NO_IDENTITY}, Unauthenticated: {NO_IDENTITY}: "
                       f"{NO_IDENTITY}]")

    @staticmethod
    def _only(method: str, allowed: str) -> None:
        if method != allowed:
            raise ApiError(12, "Method Not Allowed", 405)

    # -- persistence ----------------------------------------------------------------------------

    def _state_path(self) -> Path:
        return self.state_dir / STATE_FILE

    def _load_state(self) -> dict[str, Any] | None:
        try:
            saved = json.loads(self._state_path().read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(saved, dict):
            return None
        same = (saved.get("seed") == self.seed and saved.get("n_runs") == self.n_runs
                and saved.get("time_scale") == self.time_scale)
        fresh = isinstance(saved.get("t0"), (int, float)) and time.time() - saved["t0"] < STATE_MAX_AGE
        return saved if same and fresh else None

    def _save_state(self) -> None:
        mutations = {r.run_id: [list(m) for m in r.mutations] for r in self.world.runs.values()
                     if any(m[0] > self.world.t0 - 1 for m in r.mutations)}
        data = {"t0": self._wall0, "seed": self.seed, "n_runs": self.n_runs, "time_scale": self.time_scale,
                "offset": self._offset, "mutations": mutations}
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            tmp = self._state_path().with_suffix(".tmp")
            tmp.write_text(json.dumps(data))
            tmp.replace(self._state_path())
        except OSError:
            pass  # persistence is a convenience; the sandbox keeps serving from memory


def main(argv: list[str] | None = None) -> int:
    """Run the endpoint alone: python -m console.sandbox.kfp_server [--state DIR] [--runs N] [--scale X]."""
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(prog="kfp_server")
    parser.add_argument("--state", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    state = args.state or Path(tempfile.mkdtemp(prefix="kfp-sandbox-"))
    sandbox = KfpSandbox(state, n_runs=args.runs, time_scale=args.scale, seed=args.seed, port=args.port)
    print(sandbox.start(), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
