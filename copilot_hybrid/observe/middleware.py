"""The recording middleware: a pure ASGI wrapper (no BaseHTTPMiddleware, no
task per request) that makes one RequestRecord per HTTP request.

It reads only the ASGI messages going past: the status and content type
of `http.response.start` (an event stream is a stream), the time of the
first and the last body bytes, the number of body chunks. It keeps
references to the body chunks (the whole body of a JSON answer up to
BODY_KEEP_LIMIT, the last STREAM_TAIL_CHUNKS chunks of a stream) so that
the recorder's thread can read usage and errors from them afterwards.

The record is handed over just before the last body message is sent, so
that a client that reads the end of its answer and then scrapes /metrics
finds the request counted. Requests to /metrics and /dashboard are not
recorded (the observer does not count its own polling), nor are CORS
preflights.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from copilot_hybrid.observe.record import RequestRecord, bind, unbind
from copilot_hybrid.observe.recorder import Recorder

log = logging.getLogger("copilot_hybrid.server")

UNRECORDED_PREFIXES: Final = ("/metrics", "/dashboard")
BODY_KEEP_LIMIT: Final = 8 * 1024 * 1024
STREAM_TAIL_CHUNKS: Final = 4
#: With --history-text: request bytes and streamed answer bytes kept for the texts.
TEXT_KEEP_LIMIT: Final = 1024 * 1024


def unrecorded(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in UNRECORDED_PREFIXES)


class RecordRequests:
    def __init__(
        self,
        app: ASGIApp,
        *,
        recorder: Recorder,
        route_label: Callable[[str], str],
        keep_text: bool = False,
        on_shutdown: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        self.recorder = recorder
        self.route_label = route_label
        self.keep_text = keep_text
        self.on_shutdown = on_shutdown

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._lifespan_send(send))
            return
        if scope["type"] != "http" or scope["method"] == "OPTIONS" or unrecorded(scope["path"]):
            await self.app(scope, receive, send)
            return
        record = RequestRecord(
            time=time.time(),
            method=scope["method"],
            route=self.route_label(scope["path"]),
            started_ns=time.perf_counter_ns(),
        )
        await _Exchange(self, record).run(scope, receive, send)

    def _lifespan_send(self, send: Send) -> Send:
        async def lifespan_send(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete" and self.on_shutdown is not None:
                self.on_shutdown()
            await send(message)

        return lifespan_send


class _Exchange:
    """One request's bookkeeping."""

    __slots__ = ("finished", "head", "middleware", "record", "request_chunks", "tail")

    def __init__(self, middleware: RecordRequests, record: RequestRecord) -> None:
        self.middleware = middleware
        self.record = record
        self.finished = False
        self.tail: collections.deque[bytes] | None = None
        # A stream's first chunk: Anthropic's message_start carries the prompt's usage.
        self.head: bytes | None = None
        self.request_chunks: list[bytes] = []

    async def run(self, scope: Scope, receive: Receive, send: Send) -> None:
        record = self.record
        token = bind(record)
        try:
            await self.middleware.app(
                scope, self._receive(receive) if self.middleware.keep_text else receive, self._send(send)
            )
        except BaseException as exc:
            if not self.finished:  # once handed over, the record is the recorder's
                record.status = record.status or 500
                record.error_type = record.error_type or type(exc).__name__
                record.error_message = record.error_message or str(exc)
            raise
        finally:
            unbind(token)
            if not self.finished:
                if record.status and record.error_type is None:
                    record.error_type = "client_disconnected"
                    record.error_message = "the connection ended before the whole response was sent"
                self._finish()

    def _receive(self, receive: Receive) -> Receive:
        """--history-text: keeps the request body (joined once, when the record is handed over)."""
        size = 0

        async def receive_and_keep() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request" and size < TEXT_KEEP_LIMIT:
                chunk: bytes = message.get("body", b"")
                self.request_chunks.append(chunk)
                size += len(chunk)
            return message

        return receive_and_keep

    def _send(self, send: Send) -> Send:
        record = self.record
        keep_all_of_stream = self.middleware.keep_text
        kept = 0

        async def send_and_record(message: Message) -> None:
            nonlocal kept
            kind = message["type"]
            if kind == "http.response.start":
                record.status = message["status"]
                for name, value in message.get("headers", ()):
                    if name.lower() == b"content-type":
                        record.stream = value.startswith(b"text/event-stream")
                        break
                if record.stream and not keep_all_of_stream:
                    self.tail = collections.deque(maxlen=STREAM_TAIL_CHUNKS)
            elif kind == "http.response.body":
                body: bytes = message.get("body", b"")
                if body:
                    if record.ttfb_ms is None:
                        record.ttfb_ms = (time.perf_counter_ns() - record.started_ns) / 1e6
                    if record.stream:
                        record.stream_chunks += 1
                    if self.tail is not None:
                        if self.head is None:
                            self.head = body
                        self.tail.append(body)
                    elif kept < (TEXT_KEEP_LIMIT if record.stream else BODY_KEEP_LIMIT):
                        record.response_body.append(body)
                        kept += len(body)
                if not message.get("more_body", False):
                    self._finish()
            await send(message)

        return send_and_record

    def _finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        record = self.record
        record.latency_ms = (time.perf_counter_ns() - record.started_ns) / 1e6
        if self.tail is not None:
            head = [self.head] if self.head is not None and record.stream_chunks > len(self.tail) else []
            record.response_body = head + list(self.tail)
        if self.request_chunks:
            record.request_body = b"".join(self.request_chunks)
        record.sealed = True
        self.middleware.recorder.record(record)
