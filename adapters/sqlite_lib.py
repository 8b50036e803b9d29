"""sqlite-utils, imported without pandas and numpy.

sqlite_utils.db imports pandas and numpy whenever they are installed (mlflow, in the test extras,
brings both), only to map their scalar types to column types in inserts, which the catalog never
passes. That import took longer than the rest of the console's start-up together and held the GIL
while the first frame was drawn (issue 10 §5), so the catalog takes sqlite-utils from here.
"""

from __future__ import annotations

import importlib
import sys
import threading
from types import ModuleType

_lock = threading.Lock()


def load_sqlite_utils() -> ModuleType:
    """The sqlite_utils module; imported on first use with pandas and numpy hidden (unless
    something in this process imported them already, then they are used as usual)."""
    with _lock:
        module = sys.modules.get("sqlite_utils")
        if module is not None:
            return module
        hidden = [name for name in ("pandas", "numpy") if name not in sys.modules]
        for name in hidden:
            sys.modules[name] = None  # type: ignore[assignment]  # `import name` raises ImportError
        try:
            return importlib.import_module("sqlite_utils")
        finally:
            for name in hidden:
                if sys.modules.get(name) is None:
                    del sys.modules[name]
