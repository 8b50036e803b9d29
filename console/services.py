"""Backends as the app's screens see them: each blocking client lives on one thread of its own.

SQLite connections belong to the thread that opened them, and Textual's thread workers run on
whichever pool thread is free, so a screen's worker reaches the catalog through a proxy that runs
every call on the catalog's own thread.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable


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
        finally:
            self._executor.shutdown(wait=False)
