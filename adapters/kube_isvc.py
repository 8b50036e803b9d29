"""InferenceServices (serving.kserve.io/v1beta1): list, get, watch, patch (part of adapters.kube,
which re-exports it).

- Read with list + watch. `watch_inference_services` keeps one watch open for minutes
  (timeoutSeconds 5-10 min, as client-go's reflector; stop closes the socket), skips BOOKMARK
  events (it only remembers their resourceVersion) and raises `WatchExpired` on 410 Gone: the
  caller relists. `follow_inference_services` does list + watch + relist itself and yields
  `Snapshot` (a full list) followed by `WatchEvent`s.
- Patches are JSON merge patches carrying `metadata.resourceVersion` as the precondition, so a
  concurrent change answers 409 -> `Conflict`, never a silent overwrite.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

from adapters.errors import BackendUnavailable, ConsoleError, DataError, InvalidInput
from adapters.kube_connection import KubeConnection, WatchExpired, close_on_stop
from adapters.kube_model import (
    GROUP,
    MERGE_PATCH,
    PLURAL,
    VERSION,
    InferenceService,
    Snapshot,
    WatchEvent,
    _as_dict,
    _as_int,
    _str_or_none,
    parse_inference_service,
)

WATCH_MIN_TIMEOUT = 300  # s; client-go's reflector asks for 5-10 minutes (minWatchTimeout, jittered)
WATCH_READ_MARGIN = 30  # s past the server's timeoutSeconds before a silent stream counts as dead


class InferenceServiceApi(KubeConnection):
    """The InferenceService calls of a KubeClient."""

    def _current_rv(self, namespace: str, name: str) -> str | None:
        try:
            obj = self.get_raw(namespace, name)
        except ConsoleError:
            return None
        return _str_or_none(_as_dict(obj.get("metadata")).get("resourceVersion"))

    # -- reads ------------------------------------------------------------------------------
    def list_raw(self, namespace: str | None) -> dict[str, Any]:
        api = self._custom()
        if namespace:
            data = self._raw_json(api.list_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL,
                                  verb="list", namespace=namespace)
        else:
            data = self._raw_json(api.list_cluster_custom_object, GROUP, VERSION, PLURAL, verb="list")
        if not isinstance(data, dict) or not isinstance(data.get("items", []), list):
            raise DataError(f"{self._where()} sent a list of {PLURAL} that is not a list object")
        return data

    def list_inference_services(self, namespace: str | None) -> tuple[list[InferenceService], str | None]:
        """All InferenceServices in `namespace` (None: all namespaces), sorted by namespace/name,
        and the list's resourceVersion to start a watch from."""
        data = self.list_raw(namespace)
        items = [parse_inference_service(o) for o in data.get("items") or []]
        items.sort(key=lambda i: (i.namespace, i.name))
        rv = _str_or_none(_as_dict(data.get("metadata")).get("resourceVersion"))
        return items, rv

    def get_raw(self, namespace: str, name: str) -> dict[str, Any]:
        data = self._raw_json(self._custom().get_namespaced_custom_object, GROUP, VERSION, namespace,
                              PLURAL, name, verb="get", namespace=namespace, name=name)
        if not isinstance(data, dict):
            raise DataError(f"{self._where()} sent an {namespace}/{name} that is not an object")
        return data

    def get_inference_service(self, namespace: str, name: str) -> InferenceService:
        return parse_inference_service(self.get_raw(namespace, name))

    get = get_inference_service

    # -- watch ------------------------------------------------------------------------------
    def watch_inference_services(self, namespace: str | None, resource_version: str | None,
                                 stop_event: threading.Event | None = None, *,
                                 idle_timeout: float | None = None, server_timeout: int | None = None,
                                 include_bookmarks: bool = False) -> Iterator[WatchEvent]:
        """Yield WatchEvents from `resource_version` on, until stop_event is set.

        One watch stays open for minutes: the server ends it after timeoutSeconds (server_timeout,
        else 5-10 minutes, jittered as client-go's reflector does) and the watch resumes from the
        last resourceVersion seen. Bookmarks (about once a minute on a real API server) move the
        resume point and are not yielded unless include_bookmarks. The read timeout is the
        server's timeout plus a margin (idle_timeout overrides it), so a quiet cluster does not
        cause reconnects; stop_event is honoured at once, by shutting the stream's socket.
        A 410 Gone (at the start or as an ERROR event) raises WatchExpired: list again and watch
        from the list's resourceVersion. Connection failures raise BackendUnavailable.
        """
        import random

        import urllib3

        api = self._custom()
        rv = resource_version
        stop = stop_event or threading.Event()
        empty_streams = 0  # streams that ended at once with nothing in them, in a row
        while not stop.is_set():
            if empty_streams >= 3:
                raise BackendUnavailable(
                    f"{self._where()} keeps ending the watch of {PLURAL} without sending anything; "
                    f"is a proxy in the way? retry later")
            timeout_s = int(server_timeout or random.uniform(WATCH_MIN_TIMEOUT, 2 * WATCH_MIN_TIMEOUT))
            read_timeout = idle_timeout if idle_timeout is not None else timeout_s + WATCH_READ_MARGIN
            opened = time.monotonic()
            got_line = False
            kwargs: dict[str, Any] = dict(watch=True, allow_watch_bookmarks=True, timeout_seconds=timeout_s)
            if rv:
                kwargs["resource_version"] = str(rv)
            try:
                if namespace:
                    resp = api.list_namespaced_custom_object(
                        GROUP, VERSION, namespace, PLURAL, _preload_content=False,
                        _request_timeout=self._timeout(read_timeout), **kwargs)
                else:
                    resp = api.list_cluster_custom_object(
                        GROUP, VERSION, PLURAL, _preload_content=False,
                        _request_timeout=self._timeout(read_timeout), **kwargs)
            except Exception as exc:  # noqa: BLE001
                raise self.map_error(exc, verb="watch", namespace=namespace) from None
            ended = threading.Event()
            threading.Thread(target=close_on_stop, args=(resp, stop, ended), name="kube-watch-stop",
                             daemon=True).start()
            try:
                buffer = b""
                for chunk in resp.stream(amt=None, decode_content=False):
                    buffer += chunk
                    while b"\n" in buffer:
                        line, buffer = buffer.split(b"\n", 1)
                        if not line.strip():
                            continue
                        got_line = True
                        event = self._decode_event(line, namespace)
                        if event is None:
                            continue
                        etype, raw = event
                        meta = _as_dict(raw.get("metadata"))
                        if meta.get("resourceVersion"):
                            rv = str(meta["resourceVersion"])
                        if etype == "BOOKMARK":
                            if include_bookmarks:
                                yield WatchEvent("BOOKMARK", None, rv, raw)
                        else:
                            yield WatchEvent(etype, parse_inference_service(raw), rv, raw)
                        if stop.is_set():
                            return
            except (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ProtocolError,
                    TimeoutError, OSError, ValueError):
                # Silent past the read timeout, dropped, or shut by stop: check stop, then resume
                # from rv. If the server is gone the reconnect says so.
                if stop.is_set():
                    return
                if got_line:
                    empty_streams = 0
                elif time.monotonic() - opened < 1.0:
                    empty_streams += 1
                continue
            else:
                if got_line or time.monotonic() - opened >= 1.0:
                    empty_streams = 0
                else:
                    empty_streams += 1
            finally:
                ended.set()
                try:
                    resp.release_conn()
                except Exception:
                    pass
                try:
                    resp.close()
                except Exception:
                    pass

    def _decode_event(self, line: bytes, namespace: str | None) -> tuple[str, dict[str, Any]] | None:
        try:
            data = json.loads(line)
        except ValueError:
            raise DataError(f"{self._where()} sent a malformed watch event: "
                            f"{line[:80].decode('utf-8', 'replace')!r}") from None
        if not isinstance(data, dict):
            return None
        etype = str(data.get("type") or "")
        obj = _as_dict(data.get("object"))
        if etype == "ERROR":
            code = _as_int(obj.get("code"))
            msg = obj.get("message") or obj.get("reason") or "error"
            in_ns = f" in {namespace}" if namespace else " in all namespaces"
            if code == 410:
                raise WatchExpired(f"watch of {PLURAL}{in_ns} expired ({msg}); list again")
            raise BackendUnavailable(f"{self._where()} ended the watch of {PLURAL}{in_ns}: {msg}")
        if etype not in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK"):
            return None
        return etype, obj

    def follow_inference_services(self, namespace: str | None, stop_event: threading.Event | None = None,
                                  *, idle_timeout: float | None = None,
                                  server_timeout: int | None = None) -> Iterator[Snapshot | WatchEvent]:
        """List, then watch; on WatchExpired list again. Yields a Snapshot first (and after
        every relist, with relist=True), then WatchEvents. Connection failures propagate as
        BackendUnavailable: the caller shows them and calls again after a backoff."""
        stop = stop_event or threading.Event()
        relist = False
        expiries = 0
        while not stop.is_set():
            if expiries > 1:  # expiring again at once: do not hammer the server with lists
                if stop.wait(min(0.1 * 2 ** expiries, 5.0)):
                    return
            items, rv = self.list_inference_services(namespace)
            yield Snapshot(items, rv, relist=relist)
            try:
                yield from self.watch_inference_services(namespace, rv, stop, idle_timeout=idle_timeout,
                                                         server_timeout=server_timeout)
                return
            except WatchExpired:
                relist = True
                expiries += 1
                continue

    # -- writes -----------------------------------------------------------------------------
    def patch_inference_service(self, namespace: str, name: str, patch: dict[str, Any], *,
                                resource_version: str | None, dry_run: bool = False) -> dict[str, Any]:
        """Apply a JSON merge patch; metadata.resourceVersion in the body is the precondition
        (409 -> Conflict "changed since you looked"). dry_run asks the server to validate and
        return the result without storing it. Returns the object as the server answered."""
        body = json.loads(json.dumps(patch))  # deep copy; keeps explicit nulls (merge-patch delete)
        if resource_version is not None:
            body.setdefault("metadata", {})
            if not isinstance(body["metadata"], dict):
                raise InvalidInput("patch metadata must be an object")
            body["metadata"]["resourceVersion"] = str(resource_version)
        kwargs: dict[str, Any] = {"_content_type": MERGE_PATCH, "field_manager": "mlops-console"}
        if dry_run:
            kwargs["dry_run"] = "All"
        data = self._raw_json(self._custom().patch_namespaced_custom_object, GROUP, VERSION, namespace,
                              PLURAL, name, body, verb="patch", namespace=namespace, name=name,
                              resource_version=resource_version, **kwargs)
        if not isinstance(data, dict):
            raise DataError(f"{self._where()} answered the patch of {namespace}/{name} with a non-object")
        return data
