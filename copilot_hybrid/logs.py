"""Logging for every command: one stderr handler whose filter masks secrets
(`copilot_hybrid.redact`) and escapes control characters. A record carrying
`show_secret=True` (the `--show-token` output) is not masked: that is the
operator's explicit request.

`serve --log-format json` swaps the text formatter for JsonFormatter: one
JSON object per line, for log shippers."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from copilot_hybrid.redact import redact

#: C0 controls, DEL, C1 controls and Unicode's line/paragraph separators: what
#: could end a log line early, rewrite it (\r, ANSI ESC sequences) or hide it.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def escape_control(text: str, *, keep_newlines: bool = False) -> str:
    """`text` with every control character written as an escape (`\\n`, `\\x1b`)."""
    return (_CONTROL_BUT_NEWLINE if keep_newlines else _CONTROL).sub(_escape_one, text)


class _Escaped:
    """A log argument whose str() and repr() come out escaped, so %s and %r both work."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __str__(self) -> str:
        return escape_control(str(self.value))

    def __repr__(self) -> str:
        return escape_control(repr(self.value))


def _escaped(value: object) -> object:
    # Numbers stay themselves for %d / %.1f; they cannot carry a control character.
    if value is None or isinstance(value, (int, float)):
        return value
    # The common case (a path, an address) costs one C call: isprintable() is False for
    # every character _CONTROL matches (and for a few more, which then take the escape).
    if isinstance(value, str) and value.isprintable():
        return value
    return _Escaped(value)


class RedactingFilter(logging.Filter):
    """Attach to handlers: it sees records from every logger, uvicorn's included.

    A message's format string is the program's own structure and is kept as is;
    everything substituted into it (the model a client named, a path, an
    exception's text) has its control characters escaped, so no client string
    can forge a line. A message logged without arguments (an f-string) is
    escaped whole. Tracebacks keep their line breaks and lose the rest."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_copilot_hybrid_clean", False):
            return True  # a second handler with this filter: the record is final already
        record._copilot_hybrid_clean = True
        args = record.args
        if isinstance(args, Mapping):
            record.args = {key: _escaped(value) for key, value in args.items()}
        elif args:
            record.args = tuple(_escaped(value) for value in args)
        else:
            record.msg = escape_control(str(record.msg))
        message = record.getMessage()
        show_secret = getattr(record, "show_secret", False)
        record.msg, record.args = (message if show_secret else redact(message)), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            text = escape_control(record.exc_text, keep_newlines=True)
            record.exc_text = text if show_secret else redact(text)
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
    # No format here shows the caller's file and line, thread or process: skip
    # looking them up for every record (the logging docs' "Optimization" switches).
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    # httpx logs every request URL at info; keep that for --verbose only.
    logging.getLogger("httpx").setLevel(logging.DEBUG if verbose else logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.INFO)
