"""Backends as the app's screens see them: each blocking client lives on one thread of its own.

SQLite connections belong to the thread that opened them, and Textual's thread workers run on
whichever pool thread is free, so a screen's worker reaches the catalog through a proxy that runs
every call on the catalog's own thread.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the clients are imported when first made, not when the app starts
    from adapters.catalog_backend import CatalogBackend
    from adapters.kube import KubeClient
    from adapters.metrics import MetricsClient
    from adapters.mlflow import MlflowClient
    from adapters.pipelines import PipelinesClient
    from console.actions import ActionPath
    from console.audit import AuditJournal
    from console.config import Settings
    from console.context import Context


class ThreadBound:
    """Opens an object with factory() on a private thread and runs every method call there."""

    def __init__(self, name: str, factory: Callable[[], Any]):
        self._name = name
        self._factory = factory
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._target: Any = None

    def _get(self) -> Any:
        if self._target is None:
            self._target = self._factory()
        return self._target

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._executor.submit(lambda: getattr(self._get(), method)(*args, **kwargs)).result()

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_"):
            raise AttributeError(method)
        return lambda *args, **kwargs: self.call(method, *args, **kwargs)

    def close(self) -> None:
        def _close() -> None:
            if self._target is not None and hasattr(self._target, "close"):
                self._target.close()
            self._target = None

        try:
            self._executor.submit(_close).result(timeout=5)
        except TimeoutError:  # a slow call still running: the thread closes it when that call ends
            pass
        finally:
            self._executor.shutdown(wait=False)


class Services:
    """What a screen is given instead of the app's Context: typed, each client made on first use
    (from a worker: making one may read files or fail; a client that cannot be made raises
    ConsoleError naming the setting to fix)."""

    def __init__(self, ctx: Context, catalog: CatalogBackend):
        self._ctx = ctx
        self.catalog = catalog  # runs every call on the catalog's own thread (ThreadBound)

    @property
    def settings(self) -> Settings:
        return self._ctx.settings

    @property
    def flags(self) -> dict[str, Any] | None:
        return self._ctx.flags

    @property
    def kube_context(self) -> str | None:
        return self._ctx.kube_context

    @property
    def audit(self) -> AuditJournal:
        return self._ctx.audit

    @property
    def actions(self) -> ActionPath:
        return self._ctx.actions

    def kube(self) -> KubeClient:
        return self._ctx.client("kube")

    def pipelines(self) -> PipelinesClient:
        return self._ctx.client("pipelines")

    def metrics(self) -> MetricsClient:
        return self._ctx.client("metrics")

    def mlflow(self) -> MlflowClient:
        return self._ctx.client("mlflow")
