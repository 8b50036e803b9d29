"""One kubeconfig context's connection to the Kubernetes API, and the mapping of every client
failure to the shared errors (part of adapters.kube, which re-exports it).

The `kubernetes` package is imported lazily, at the first client built. One `ApiClient` and
`Configuration` per context (never the library's global default); every request carries a
`_request_timeout`; urllib3 retries are off, so a dead server fails fast and the caller decides
about backoff.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from typing import Any

from adapters.errors import (
    BackendUnavailable,
    Conflict,
    ConsoleError,
    DataError,
    Forbidden,
    InvalidInput,
    NotFound,
)
from adapters.kube_model import PLURAL, _as_dict, _str_or_none


class WatchExpired(ConsoleError):
    """The watch's resourceVersion is too old (410 Gone): list again and watch from the new one."""

    exit_code = 3
    kind = "watch expired"


# Kubeconfig


def kubeconfig_paths(explicit: str | None = None) -> str:
    """The kubeconfig location(s) kubectl would use: --kubeconfig, else $KUBECONFIG, else
    ~/.kube/config. May be a path list separated by os.pathsep (as $KUBECONFIG allows)."""
    if explicit:
        return os.path.expanduser(explicit)
    env = os.environ.get("KUBECONFIG")
    if env:
        return env
    return os.path.expanduser("~/.kube/config")


def _status_message(body: Any) -> str:
    """The `message` of a Kubernetes Status body, or the body's first line."""
    if body is None:
        return ""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    text = str(body).strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text.splitlines()[0][:300] if text else ""
    if isinstance(data, dict):
        return str(data.get("message") or data.get("reason") or "")[:500]
    return text[:300]


def close_on_stop(resp: Any, stop: threading.Event, ended: threading.Event) -> None:
    """Shut a stream's socket (a watch, a followed log) when stop is set, so a blocked read returns at once."""
    while not ended.is_set():
        if stop.wait(0.1):
            if not ended.is_set():
                try:
                    resp.shutdown()
                except Exception:
                    pass
            return


class KubeConnection:
    """One kubeconfig context: one ApiClient, its own Configuration.

    timeout: read timeout of every non-watch request (seconds); connect_timeout: TCP/TLS connect.
    """

    def __init__(self, kubeconfig: str | None = None, context: str | None = None,
                 namespace: str | None = None, *, timeout: float = 10.0, connect_timeout: float = 3.0):
        self.kubeconfig = kubeconfig_paths(kubeconfig)
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self._explicit_namespace = namespace
        self._lock = threading.Lock()
        self._api_client: Any = None
        self.server: str | None = None
        self._whoami: str | None = None
        contexts, current = self._read_contexts()
        self._contexts = contexts
        names = [c.get("name") for c in contexts]
        if context is not None and context not in names:
            raise InvalidInput(
                f"context {context!r} is not in kubeconfig {self.kubeconfig} "
                f"(it has: {', '.join(n for n in names if n) or 'none'}); pick one with --context")
        chosen = context or (current or {}).get("name")
        if not chosen:
            raise InvalidInput(f"kubeconfig {self.kubeconfig} has no current-context; pass --context")
        self.context = chosen
        ctx = next((c for c in contexts if c.get("name") == chosen), {})
        self._context_info = _as_dict(ctx.get("context"))
        self.user = _str_or_none(self._context_info.get("user")) or chosen

    # -- kubeconfig -------------------------------------------------------------------------
    def _read_contexts(self) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        from kubernetes.config.config_exception import ConfigException
        from kubernetes.config.kube_config import list_kube_config_contexts

        paths = [p for p in self.kubeconfig.split(os.pathsep) if p]
        if not any(os.path.exists(p) for p in paths):
            raise InvalidInput(
                f"kubeconfig {self.kubeconfig} does not exist; pass --kubeconfig or set KUBECONFIG")
        try:
            contexts, current = list_kube_config_contexts(self.kubeconfig)  # type: ignore[no-untyped-call]
        except ConfigException as exc:
            raise InvalidInput(f"kubeconfig {self.kubeconfig} is not usable: {exc}") from None
        except Exception as exc:  # YAML errors and the like
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InvalidInput(f"kubeconfig {self.kubeconfig} cannot be read: {first}") from None
        return list(contexts or []), current

    def contexts(self) -> list[str]:
        return [str(c.get("name")) for c in self._contexts if c.get("name")]

    @property
    def current_context(self) -> str:
        return self.context

    @property
    def namespace(self) -> str:
        """-n if given, else the context's namespace, else "default" (kubectl's habit)."""
        return self._explicit_namespace or _str_or_none(self._context_info.get("namespace")) or "default"

    @property
    def api_client(self) -> Any:
        with self._lock:
            if self._api_client is None:
                self._api_client = self._build_api_client()
            return self._api_client

    def _build_api_client(self) -> Any:
        from kubernetes.client import ApiClient, Configuration
        from kubernetes.config.config_exception import ConfigException
        from kubernetes.config.kube_config import load_kube_config

        configuration = type.__call__(Configuration)  # a fresh one, not the global default
        try:
            load_kube_config(config_file=self.kubeconfig, context=self.context,  # type: ignore[no-untyped-call]
                             client_configuration=configuration, persist_config=False)
        except ConfigException as exc:
            raise InvalidInput(
                f"kubeconfig {self.kubeconfig}, context {self.context!r} is not usable: {exc}") from None
        except Exception as exc:
            raise InvalidInput(
                f"kubeconfig {self.kubeconfig}, context {self.context!r} cannot be loaded: {exc}") from None
        configuration.retries = False  # fail fast; callers own retry and backoff
        self.server = configuration.host
        client = ApiClient(configuration=configuration)
        client.user_agent = "mlops-console"
        return client

    def close(self) -> None:
        with self._lock:
            if self._api_client is not None:
                try:
                    self._api_client.close()
                except Exception:
                    pass
                self._api_client = None

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _timeout(self, read: float | None = None) -> tuple[float, float]:
        return (self.connect_timeout, read if read is not None else self.timeout)

    # -- error mapping ----------------------------------------------------------------------
    def _where(self) -> str:
        server = getattr(self, "server", None) or "the Kubernetes API"
        return f"Kubernetes API {server} (context {self.context})"

    def map_error(self, exc: BaseException, *, verb: str, resource: str = PLURAL,
                  namespace: str | None = None, name: str | None = None,
                  resource_version: str | None = None) -> ConsoleError:
        """Turn a client/urllib3 exception into a shared error with an actionable message."""
        import urllib3
        from kubernetes.client.exceptions import ApiException

        if isinstance(exc, ConsoleError):
            return exc
        where = self._where()
        in_ns = f" in {namespace}" if namespace else " in all namespaces"
        target = f"{namespace}/{name}" if namespace and name else (name or resource)
        if isinstance(exc, ApiException):
            status = exc.status or 0
            msg = _status_message(exc.body) or (exc.reason or "").strip().splitlines()[0:1]
            if isinstance(msg, list):
                msg = msg[0] if msg else ""
            if status == 0:
                reason = (exc.reason or "").replace("\n", ": ")
                if "SSL" in reason or "certificate" in reason.lower():
                    return BackendUnavailable(
                        f"TLS handshake with {where} failed: {reason[:200]}; check the CA data in "
                        f"{self.kubeconfig}")
                return BackendUnavailable(f"{where} failed: {reason[:200]}; retry, or check the server")
            if status == 401:
                return Forbidden(
                    f"{where} did not accept the credentials of user {self.user}: {msg or 'Unauthorized'}; "
                    f"refresh them in {self.kubeconfig}")
            if status == 403:
                return Forbidden(f"not allowed to {verb} {resource}{in_ns} as {self._whoami or self.user}: "
                                 f"{msg or 'forbidden'}")
            if status == 404:
                if name:
                    return NotFound(f"{resource[:-1] if resource.endswith('s') else resource} "
                                    f"{target} not found; check the name and namespace (-n)")
                return NotFound(f"{resource}{in_ns}: not found ({msg or 'is KServe installed?'})")
            if status == 409:
                if resource_version and namespace and name:
                    now = self._current_rv(namespace, name)
                    arrow = f"resourceVersion {resource_version} -> {now}" if now else \
                        f"resourceVersion {resource_version} is stale"
                    return Conflict(f"{target} changed since you looked ({arrow}); reload and try again")
                return Conflict(f"{target}: conflict: {msg}; reload and try again")
            if status == 410:
                return WatchExpired(f"watch of {resource}{in_ns} expired ({msg or 'Gone'}); list again")
            if status in (400, 422):
                return InvalidInput(f"{where} rejected the {verb} of {target}: {msg or exc.reason}")
            if status == 429:
                return BackendUnavailable(
                    f"{where} is throttling requests (429 Too Many Requests); wait a little and retry")
            if 500 <= status <= 599:
                return BackendUnavailable(
                    f"{where} answered {status} {exc.reason or ''}".rstrip()
                    + (f": {msg}" if msg else "") + "; retry later or check the API server")
            return BackendUnavailable(f"{where} answered {status} to {verb} {target}: {msg}")
        if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
            exc = exc.reason
        if isinstance(exc, urllib3.exceptions.SSLError):
            return BackendUnavailable(
                f"TLS handshake with {where} failed: {exc}; check the CA data in {self.kubeconfig}")
        if isinstance(exc, urllib3.exceptions.NewConnectionError):
            text = str(exc)
            why = "connection refused" if "refused" in text.lower() else text.split(": ", 1)[-1][:160]
            return BackendUnavailable(
                f"{where} is unreachable ({why}); check that the cluster is up and the kubeconfig "
                f"server address, then retry")
        if isinstance(exc, (urllib3.exceptions.ConnectTimeoutError,)):
            return BackendUnavailable(
                f"{where} did not accept a connection within {self.connect_timeout:g} s; check the "
                f"network/VPN, then retry")
        if isinstance(exc, (urllib3.exceptions.ReadTimeoutError, TimeoutError)):
            return BackendUnavailable(
                f"{where} did not answer within {self.timeout:g} s (timeout); it may be overloaded, "
                f"retry later")
        if isinstance(exc, (urllib3.exceptions.ProtocolError, ConnectionError, OSError)):
            return BackendUnavailable(
                f"{where} dropped the connection ({str(exc)[:160]}); retry, or check the server")
        if isinstance(exc, urllib3.exceptions.HTTPError):
            return BackendUnavailable(f"{where} failed: {str(exc)[:200]}; retry later")
        if isinstance(exc, ValueError):
            return DataError(f"{where} sent a malformed answer to {verb} {target}: {str(exc)[:200]}")
        return BackendUnavailable(f"{where} failed: {type(exc).__name__}: {str(exc)[:200]}")

    def _current_rv(self, namespace: str, name: str) -> str | None:
        """The object's resourceVersion now, for a 409's message (the resource's API says how)."""
        return None

    def _raw_json(self, call: Callable[..., Any], *args: Any, verb: str, namespace: str | None = None,
                  name: str | None = None, resource: str = PLURAL, resource_version: str | None = None,
                  read_timeout: float | None = None, **kwargs: Any) -> Any:
        """Make one request with _preload_content=False and decode its JSON ourselves (fast,
        and garbage becomes a DataError instead of an obscure traceback)."""
        try:
            resp = call(*args, _preload_content=False, _request_timeout=self._timeout(read_timeout),
                        **kwargs)
            data = resp.data
        except Exception as exc:  # noqa: BLE001 - everything is mapped
            raise self.map_error(exc, verb=verb, resource=resource, namespace=namespace, name=name,
                                 resource_version=resource_version) from None
        try:
            return json.loads(data)
        except ValueError:
            snippet = data[:80].decode("utf-8", "replace") if isinstance(data, bytes) else str(data)[:80]
            raise DataError(
                f"{self._where()} sent a malformed answer to {verb} "
                f"{(namespace + '/' + name) if namespace and name else resource}: not JSON "
                f"({snippet!r}); is the server address right?") from None

    def _custom(self) -> Any:
        from kubernetes.client import CustomObjectsApi
        return CustomObjectsApi(self.api_client)

    def served_resources(self, group: str, version: str) -> list[str]:
        """Discovery: the resource names the API server serves in group/version ([] when the
        group/version is not served, as a cluster without the CRD answers 404)."""
        api = self.api_client

        def discover(**kwargs: Any) -> Any:
            method, url, headers, body, post = api.param_serialize(
                "GET", f"/apis/{group}/{version}", header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"])
            response = api.call_api(method, url, header_params=headers, body=body, post_params=post,
                                    _request_timeout=kwargs.get("_request_timeout"))
            response.read()
            if not 200 <= response.status < 300:
                from kubernetes.client.exceptions import ApiException
                raise ApiException(http_resp=response)
            return response

        try:
            data = self._raw_json(discover, verb="discover", resource=f"{group}/{version}")
        except NotFound:
            return []
        return [str(r.get("name")) for r in _as_dict(data).get("resources") or [] if isinstance(r, dict)]

    # -- reads ------------------------------------------------------------------------------
    # -- identity and permission ------------------------------------------------------------
    def can_i(self, verb: str, resource: str, group: str = "", namespace: str | None = None,
              name: str | None = None) -> tuple[bool, str]:
        """Ask the API server (SelfSubjectAccessReview): (allowed, reason)."""
        from kubernetes.client import AuthorizationV1Api

        attrs: dict[str, Any] = {"verb": verb, "resource": resource, "group": group}
        if namespace:
            attrs["namespace"] = namespace
        if name:
            attrs["name"] = name
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": attrs}}
        data = self._raw_json(AuthorizationV1Api(self.api_client).create_self_subject_access_review, body,
                              verb="create", resource="selfsubjectaccessreviews")
        st = _as_dict(_as_dict(data).get("status"))
        allowed = st.get("allowed") is True and st.get("denied") is not True
        reason = str(st.get("reason") or st.get("evaluationError") or "")
        return allowed, reason

    def whoami(self) -> str:
        """The user name the API server sees (SelfSubjectReview), or the kubeconfig user name
        when the server does not offer SelfSubjectReview."""
        if self._whoami:
            return self._whoami
        from kubernetes.client import AuthenticationV1Api

        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        try:
            data = self._raw_json(AuthenticationV1Api(self.api_client).create_self_subject_review, body,
                                  verb="create", resource="selfsubjectreviews")
            user = _as_dict(_as_dict(_as_dict(data).get("status")).get("userInfo")).get("username")
        except (NotFound, Forbidden, InvalidInput, DataError):
            user = None
        self._whoami = str(user) if user else self.user
        return self._whoami