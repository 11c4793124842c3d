"""Where copilot-hybrid reads and writes its files.

Every file the tool writes lives under one of two directories: the user
config dir (config.toml) and the user data dir (GitHub token, verify records,
mismatch logs, metrics). `COPILOT_HYBRID_HOME` relocates both to one folder,
which the tests use to stay out of the real home directory.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "copilot-hybrid"
HOME_ENV = "COPILOT_HYBRID_HOME"


def _home_override() -> Path | None:
    value = os.environ.get(HOME_ENV, "").strip()
    return Path(value).expanduser() if value else None


def config_dir() -> Path:
    home = _home_override()
    if home is not None:
        return home
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    home = _home_override()
    if home is not None:
        return home
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_file() -> Path:
    return config_dir() / "config.toml"


def github_token_path() -> Path:
    return data_dir() / "github_token"


def ensure_private_dir(path: Path) -> Path:
    """Creates `path` (and parents) readable only by the user; returns it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def write_private_file(path: Path, content: str) -> None:
    """Writes `content` to `path` with mode 0600, atomically.

    The temporary file is created 0600 before anything is written, so the
    secret is never readable by others, not even for a moment.
    """
    ensure_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
