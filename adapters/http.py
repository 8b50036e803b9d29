"""What the httpx-based adapters (KFP, MLflow) share: one request whose transport failures and
unreadable answers become the shared errors, worded with a hint for the backend at hand.

    response, data = request_json(client, "GET", "/runs", where="KFP at https://kfp", timeout=10,
                                  hints=KFP_HINTS, params={...})
    if data is None:   # not 2xx: the caller maps the status and its backend's error body
        ...

httpx and ssl are imported at first use; this module only names them for the type checker.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

from adapters.errors import BackendUnavailable, DataError, InvalidInput

if TYPE_CHECKING:
    import ssl

    import httpx


class LazyClient:
    """One httpx.Client, built by the subclass's _build() at first use and shared by its threads;
    close() it, or use the adapter as a context manager."""

    def __init__(self) -> None:
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def _build(self) -> httpx.Client:
        raise NotImplementedError

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = self._build()
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Hints:
    """What the user can do, in the backend's own terms, after each kind of failure."""

    timeout: str  # the server did not answer in time
    tls: str  # its certificate did not verify
    unreachable: str  # nothing answered at the URL
    not_json: str  # a 2xx answer that is not JSON (a proxy, a login page, another server)


def request_json(client: httpx.Client, method: str, path: str, *, where: str, timeout: float, hints: Hints,
                 **kwargs: Any) -> tuple[httpx.Response, dict[str, Any] | None]:
    """Send one request (kwargs go to httpx.Client.request). A transport failure raises
    BackendUnavailable; a 2xx answer must be a JSON object (DataError otherwise) and comes back as
    the dict; any other answer comes back with None, for the caller to map by its status and body."""
    import httpx

    try:
        response = client.request(method, path, **kwargs)
    except httpx.TimeoutException:
        raise BackendUnavailable(f"{where} did not answer {method} {path} within {timeout:g} s; "
                                 f"{hints.timeout}") from None
    except httpx.ConnectError as exc:
        text = str(exc)
        if "certificate" in text.lower():
            raise BackendUnavailable(f"{where}: TLS verification failed ({text}); {hints.tls}") from None
        raise BackendUnavailable(f"{where} cannot be reached ({text or type(exc).__name__}); "
                                 f"{hints.unreachable}") from None
    except httpx.TransportError as exc:
        raise BackendUnavailable(f"{where} dropped the connection on {method} {path} "
                                 f"({exc or type(exc).__name__}); try again") from None
    if not response.is_success:
        return response, None
    try:
        data = response.json()
    except (ValueError, UnicodeDecodeError):
        raise DataError(f"{where} sent malformed JSON for {method} {path} ({snippet(response.text)!r}); "
                        f"{hints.not_json}") from None
    if not isinstance(data, dict):
        raise DataError(f"{where} sent {type(data).__name__} instead of a JSON object for {method} {path}")
    return response, data


def body_text(response: httpx.Response) -> str:
    """An error answer's body in one short line, or its reason phrase when it has none."""
    return snippet(response.text) or response.reason_phrase or f"HTTP {response.status_code}"


def snippet(text: str, limit: int = 160) -> str:
    """Text folded onto one line and cut to limit characters (the last one an ellipsis)."""
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def ca_context(ca_file: str, setting: str) -> ssl.SSLContext:
    """A TLS context trusting ca_file; InvalidInput naming the setting when the file cannot be used."""
    import ssl

    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidInput(f"{setting} {ca_file} cannot be used: {exc}") from None
