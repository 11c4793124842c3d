"""Keeps GitHub and Copilot tokens out of logs.

A logging filter on the output handler masks (1) every secret registered at
runtime (the exact GitHub and Copilot tokens in use) and (2) anything shaped
like one. A record carrying `show_secret=True` (the `--show-token` output) is
left alone: that is the operator's explicit request.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "[REDACTED]"
_PATTERN = re.compile(
    r"gh[pousr]_[A-Za-z0-9_]{8,}"
    r"|github_pat_[A-Za-z0-9_]{8,}"
    r"|(?i:bearer|token)\s+[A-Za-z0-9._~+/=:;-]{12,}"
    # Copilot tokens: "tid=...;exp=...;...:<hex signature>"
    r"|tid=[^\s\"',]+"
)

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Masks this exact value in every later log line."""
    if value and len(value) >= 8:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return _PATTERN.sub(MASK, text)


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


def setup_logging(verbose: bool = False) -> None:
    """One stderr handler on the root logger, with redaction; uvicorn propagates to it."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_copilot_hybrid", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler._copilot_hybrid = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-5s %(name)s: %(message)s", "%H:%M:%S"))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    # httpx logs every request URL at info; keep that for --verbose only.
    logging.getLogger("httpx").setLevel(logging.DEBUG if verbose else logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.INFO)
