"""XDG locations for config, data and state (logs), and private files in them."""

from __future__ import annotations

import os
from pathlib import Path

APP = "mlops-console"


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    base = Path(value) if value and os.path.isabs(value) else Path.home() / fallback
    return base / APP


def config_dir() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config")


def data_dir() -> Path:
    return _xdg("XDG_DATA_HOME", ".local/share")


def state_dir() -> Path:
    return _xdg("XDG_STATE_HOME", ".local/state")


def default_config_file() -> Path:
    return config_dir() / "config.toml"


def log_file() -> Path:
    return state_dir() / "mlops-console.log"


def create_private(path: Path) -> None:
    """Create `path` empty with mode 0600, in a folder made 0700 when it is new or when it is one of
    our own XDG folders (the log and the audit journal are nobody else's business; `catalog import`
    may have made the data folder first); an existing file is left as it is."""
    folder = path.parent
    if not folder.exists():
        os.makedirs(folder, mode=0o700, exist_ok=True)
    elif folder in (data_dir(), state_dir()) and folder.stat().st_mode & 0o077:
        os.chmod(folder, 0o700)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
