"""What `serve` records, and where."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from copilot_hybrid import config

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")


def history_path() -> Path:
    return config.data_dir() / "history.sqlite3"


def _metrics_enabled() -> bool:
    return not config.env_flag(config.NO_METRICS_ENV)


@dataclass
class ObserveSettings:
    #: False with COPILOT_HYBRID_NO_METRICS=1: no recording middleware, no
    #: /metrics, no history; the dashboard still shows the account and rollout.
    enabled: bool = field(default_factory=_metrics_enabled)
    #: The history keeps the newest this many requests.
    history_rows: int = config.DEFAULT_HISTORY_ROWS
    #: Opt-in: keep each request's last user text and the answer's text, redacted and capped.
    history_text: bool = False
    #: `json`: one JSON object per log line, and one line per request with the history's fields.
    log_format: LogFormat = "text"
    #: None: `history_path()` at the time the server starts.
    history_file: Path | None = None
