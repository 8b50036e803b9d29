"""Shared test set-up: snapshots live in the top-level snapshots/ folder, and tests never touch
the real XDG directories of the machine they run on."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_textual_snapshot

from sandbox_fixtures import kube_sandbox  # noqa: F401 - the fixture, for every test module that names it

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT.parent / "shared" / "reference"


class _SnapshotsDir(pytest_textual_snapshot.SVGImageExtension):
    @classmethod
    def dirname(cls, *, test_location) -> str:
        return str(ROOT / "snapshots" / Path(test_location.filepath).stem)


# snap_compare looks the extension up in its module at call time.
pytest_textual_snapshot.SVGImageExtension = _SnapshotsDir


@pytest.fixture(autouse=True)
def _isolated_xdg(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"), ("XDG_STATE_HOME", "state")):
        monkeypatch.setenv(var, str(home / sub))
    for var in ("MLOPS_CONSOLE_CATALOG", "MLOPS_CONSOLE_PROMETHEUS_URL", "MLOPS_CONSOLE_KFP_URL",
                "MLOPS_CONSOLE_READ_ONLY", "MLOPS_CONSOLE_CONFIG", "MLOPS_CONSOLE_CONTEXT",
                "MLOPS_CONSOLE_NAMESPACE", "KUBECONFIG", "NO_COLOR"):
        monkeypatch.delenv(var, raising=False)
    yield home


def reference_file(name: str) -> Path:
    """A file of ../shared/reference, or a clean skip when it is not there."""
    path = REFERENCE / name
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path
