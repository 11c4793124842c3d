"""The GitHub token file: mode 0600, under the data dir (COPILOT_HYBRID_HOME relocates it).

Written by `config.write_private_file` (random temp name, O_EXCL | O_NOFOLLOW,
fsync, rename) into a folder `config.ensure_private_dir` keeps private."""

from __future__ import annotations

from pathlib import Path

from copilot_hybrid import config


def token_path() -> Path:
    return config.github_token_path()


def read_github_token(path: Path | None = None) -> str | None:
    """The stored token, trimmed (a hand-edited file may end in a newline); None if absent or empty."""
    path = path or token_path()
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    return token or None


def write_github_token(token: str, path: Path | None = None) -> Path:
    path = path or token_path()
    config.write_private_file(path, token.strip())
    return path
