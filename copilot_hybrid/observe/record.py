"""The one record of one proxied request, and how code on the request path adds to it.

The recording middleware (observe/middleware.py) creates a `RequestRecord` per
request, makes it the *current* record for the request's context, fills in
what the ASGI messages show (route, status, latency, first byte, stream
flag), and hands it to the recorder once the last byte is on its way. Code
that knows more adds it with one call:

    note(requested_model="claude-sonnet-4-5", resolved_model="claude-sonnet-4.5")

The current record lives in a ContextVar rather than on `request.state`, so
that the upstream client's hooks (observe/upstream.py) and the stream
generators can reach it without being handed the request. Outside a
recorded request (recording off, a CLI command, a background task) `note`
does nothing.
"""

from __future__ import annotations

import dataclasses
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any, Final


@dataclass(slots=True)
class RequestRecord:
    """What the history stores, the JSON log prints and the metrics count.

    Times are milliseconds; `time` is the wall-clock start (epoch seconds).
    `ttfb_ms` is the first response byte sent to the client,
    `upstream_ttfb_ms` the time from sending the upstream request to its
    response headers. `prompt` and `completion` stay None unless the
    operator opted in (`serve --history-text`), and are then redacted and
    capped.
    """

    time: float
    method: str
    route: str
    requested_model: str | None = None
    resolved_model: str | None = None
    upstream_endpoint: str | None = None
    upstream_status: int | None = None
    stream: bool = False
    status: int = 0
    latency_ms: float | None = None
    ttfb_ms: float | None = None
    upstream_ttfb_ms: float | None = None
    stream_chunks: int = 0
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None
    initiator: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    prompt: str | None = None
    completion: str | None = None
    # Raw material for the recorder's thread (usage, error and text are parsed
    # there, off the request path); never stored, cleared once parsed.
    started_ns: int = field(default=0, repr=False)
    upstream_started_ns: int | None = field(default=None, repr=False)
    response_body: list[bytes] = field(default_factory=list, repr=False)
    request_body: bytes | None = field(default=None, repr=False)
    # Set when the middleware hands the record over: from then on the recorder's
    # thread owns it (a background task started during the request may outlive it).
    sealed: bool = field(default=False, repr=False)

    def fields(self) -> dict[str, Any]:
        """The stored fields (HISTORY_FIELDS) as a dict."""
        return {name: getattr(self, name) for name in HISTORY_FIELDS}


_RAW_FIELDS: Final = ("started_ns", "upstream_started_ns", "response_body", "request_body", "sealed")
#: Column order of the history, the JSON log and `copilot-hybrid requests --json`.
HISTORY_FIELDS: Final = tuple(f.name for f in dataclasses.fields(RequestRecord) if f.name not in _RAW_FIELDS)

_current: ContextVar[RequestRecord | None] = ContextVar("copilot_hybrid_request_record", default=None)


def bind(record: RequestRecord) -> Token[RequestRecord | None]:
    """Makes `record` the current one for this context (the middleware, per request)."""
    return _current.set(record)


def unbind(token: Token[RequestRecord | None]) -> None:
    _current.reset(token)


def current() -> RequestRecord | None:
    """The record of the request being served in this context, if it is recorded
    and not handed over yet."""
    record = _current.get()
    return None if record is None or record.sealed else record


def note(
    *,
    requested_model: str | None = None,
    resolved_model: str | None = None,
    initiator: str | None = None,
) -> None:
    """Adds what a route knows to the current record (a no-op when nothing is recorded)."""
    record = current()
    if record is None:
        return
    if requested_model is not None:
        record.requested_model = requested_model
    if resolved_model is not None:
        record.resolved_model = resolved_model
    if initiator is not None:
        record.initiator = initiator
