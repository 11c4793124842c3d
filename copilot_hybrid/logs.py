"""Logging for every command: one stderr handler whose filter masks secrets
(`copilot_hybrid.redact`). A record carrying `show_secret=True` (the
`--show-token` output) is left alone: that is the operator's explicit request.

`serve --log-format json` swaps the text formatter for JsonFormatter: one
JSON object per line, for log shippers."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from copilot_hybrid.redact import redact


class RedactingFilter(logging.Filter):
    """Attach to handlers: it sees records from every logger, uvicorn's included."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "show_secret", False):
            return True
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", ...}` per line; a record's
    `fields` extra (the request log: the history's fields) is merged in, and
    the whole line is redacted, fields included."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update({k: v for k, v in fields.items() if k not in entry})
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        line = json.dumps(entry, ensure_ascii=False, default=str)
        return line if getattr(record, "show_secret", False) else redact(line)


def setup_logging(verbose: bool = False, log_format: str = "text") -> None:
    """One stderr handler on the root logger, with redaction; uvicorn propagates to it."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_copilot_hybrid", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler._copilot_hybrid = True  # type: ignore[attr-defined]
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-5s %(name)s: %(message)s", "%H:%M:%S"))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    # httpx logs every request URL at info; keep that for --verbose only.
    logging.getLogger("httpx").setLevel(logging.DEBUG if verbose else logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.INFO)
