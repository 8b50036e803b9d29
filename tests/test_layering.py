"""DESIGN section 2: adapters never pull in Textual; the CLI starts without heavy imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_adapters_do_not_import_textual_screens_or_console():
    adapters = sorted(p.stem for p in (ROOT / "adapters").glob("*.py") if p.stem != "__init__")
    loaded = modules_after("\n".join(f"import adapters.{name}" for name in adapters))
    assert not {m for m in loaded if m.split(".")[0] in ("textual", "screens", "console")}


def test_cli_parser_does_not_import_heavy_libraries():
    loaded = modules_after("from console.cli import build_parser; build_parser()")
    heavy = {"textual", "kubernetes", "prometheus_api_client", "plotext", "httpx", "sqlite_utils"}
    assert not {m.split(".")[0] for m in loaded} & heavy
