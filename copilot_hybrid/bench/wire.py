"""The little HTTP/1.1 both bench ends need: request and response framing over
prebuilt bytes. Only what the fake upstream and the load generator must read
(start line, headers, Content-Length or chunked bodies); nothing is decoded."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import cast


def fast_event_loop_policy() -> str:
    """uvloop where it is installed (the bench ends must not be the bottleneck), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


def header_value(head: bytes, name: bytes) -> bytes | None:
    """The value of header `name` (lower case) in a raw head, or None."""
    lowered = head.lower()
    start = lowered.find(b"\r\n" + name + b":")
    if start < 0:
        return None
    start += len(name) + 3
    end = lowered.find(b"\r\n", start)
    return head[start : len(head) if end < 0 else end].strip()


def chunked(parts: list[bytes]) -> bytes:
    """`parts` as one chunked-transfer body, one chunk each, with the final zero chunk."""
    out = bytearray()
    for part in parts:
        out += b"%x\r\n%b\r\n" % (len(part), part)
    out += b"0\r\n\r\n"
    return bytes(out)


def response(status: int, content_type: str, body: bytes, *, stream_parts: list[bytes] | None = None) -> bytes:
    """A whole keep-alive response: Content-Length for `body`, or chunked for `stream_parts`."""
    reason = {200: "OK", 404: "Not Found", 400: "Bad Request"}.get(status, "Status")
    head = f"HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\n"
    if stream_parts is not None:
        return (head + "transfer-encoding: chunked\r\n\r\n").encode() + chunked(stream_parts)
    return (head + f"content-length: {len(body)}\r\n\r\n").encode() + body


class ResponseReader:
    """Finds where one response ends in the bytes of a keep-alive connection.

    `feed` returns None while the response is incomplete, else (status, leftover bytes).
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._status = 0
        self._body_start = -1
        self._length: int | None = None  # Content-Length; None means chunked
        self._scan = 0  # chunked: where the next chunk-size line starts

    def feed(self, data: bytes) -> tuple[int, bytes] | None:
        buf = self._buffer
        buf += data
        if self._body_start < 0:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return None
            head = bytes(buf[:end])
            self._status = int(head[9:12])
            length = header_value(head, b"content-length")
            if length is not None:
                self._length = int(length)
            elif (header_value(head, b"transfer-encoding") or b"").lower() != b"chunked":
                raise ValueError("response has neither content-length nor chunked encoding")
            self._body_start = self._scan = end + 4
        if self._length is not None:
            end = self._body_start + self._length
            return self._finish(end) if len(buf) >= end else None
        while True:
            line_end = buf.find(b"\r\n", self._scan)
            if line_end < 0:
                return None
            size = int(bytes(buf[self._scan : line_end]).split(b";")[0], 16)
            next_scan = line_end + 2 + size + 2
            if len(buf) < next_scan:
                return None
            self._scan = next_scan
            if size == 0:
                return self._finish(next_scan)

    def _finish(self, end: int) -> tuple[int, bytes]:
        leftover = bytes(self._buffer[end:])
        status = self._status
        self.__init__()  # type: ignore[misc]  # ready for the next response on the connection
        return status, leftover


class RequestFramer(asyncio.Protocol):
    """Server side: calls `answer(head, body)` for each whole request and writes what it returns."""

    def __init__(self, answer: Callable[[bytes, bytes], bytes]) -> None:
        self._answer = answer
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast("asyncio.Transport", transport)  # uvloop's is not an asyncio.Transport subclass
        with contextlib.suppress(OSError, AttributeError):
            import socket

            sock = transport.get_extra_info("socket")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        buf = self._buffer
        buf += data
        assert self._transport is not None
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end])
            length = header_value(head, b"content-length")
            if length is None and header_value(head, b"transfer-encoding") is not None:
                # Chunked request bodies: no client of the bench sends them.
                self._transport.write(response(400, "text/plain", b"chunked request bodies are not supported"))
                self._transport.close()
                return
            total = end + 4 + (int(length) if length else 0)
            if len(buf) < total:
                return
            body = bytes(buf[end + 4 : total])
            del buf[:total]
            self._transport.write(self._answer(head, body))
