"""Server-sent events: upstream parsing, the pass-through copier's helpers, and
reading upstream's stream with keep-alive pings and an idle timeout."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator

import httpx

from copilot_hybrid.errors import UpstreamUnavailable
from copilot_hybrid.jsonutil import dumps
from copilot_hybrid.stream_translate import SseFramer

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


async def iter_sse_data(chunks: AsyncIterable[bytes | None]) -> AsyncIterator[bytes | None]:
    """The `data` of each upstream event (stream_translate.SseFramer frames them). A
    None chunk (UpstreamStream's time-for-a-ping) is passed on as None."""
    framer = SseFramer()
    async for chunk in chunks:
        if chunk is None:
            yield None
            continue
        for data in framer.feed(chunk):
            yield data
    for data in framer.end():
        yield data


def event_boundary(buffer: bytes) -> int:
    """Where the last complete event in `buffer` ends (0: none yet)."""
    end = buffer.rfind(b"\n\n")
    end = end + 2 if end >= 0 else 0
    crlf = buffer.rfind(b"\r\n\r\n")
    return max(end, crlf + 4) if crlf >= 0 else end


def openai_stream_error(message: str, kind: str = "api_error") -> bytes:
    """An OpenAI-style error chunk: the openai SDK raises APIError when it reads one."""
    return b"data: " + dumps({"error": {"message": message, "type": kind, "param": None, "code": None}}) + b"\n\n"


# ---- reading upstream's stream: keep-alive pings, idle timeout, connection reuse --------

#: Keep-alive pings: Anthropic's own event, and an SSE comment (ignored by every SSE parser).
ANTHROPIC_PING = b'event: ping\ndata: {"type": "ping"}\n\n'
OPENAI_PING = b": ping\n\n"
#: After a stream's end event ([DONE]) the rest of the body is read for this long, at
#: most this much, so that the connection can go back to the pool.
DRAIN_SECONDS = 2.0
DRAIN_BYTES = 1024 * 1024
#: Chunks read ahead of a slow client; the reader waits beyond that (backpressure).
_READ_AHEAD = 16
_END = object()
#: Readers of abandoned streams, still ending (a task needs a reference to run).
_finishing: set[asyncio.Task[None]] = set()


class UpstreamStream:
    """Upstream's body, read by its own task so that a wait never cancels a read.

    Iterating gives the body's chunks as they come and None after each
    `ping_interval` seconds of silence (time for a keep-alive ping); after
    `idle_timeout` seconds without a byte it raises UpstreamUnavailable(timeout=True).
    A transfer that breaks off raises the httpx error. Use it with `async with`:
    leaving normally, e.g. after the stream's end event, drains what is left so
    that httpx keeps the connection for the next request; leaving with an error or
    a cancellation (the client went away) closes the upstream connection instead,
    which also stops the generation.
    """

    def __init__(self, response: httpx.Response, *, ping_interval: float, idle_timeout: float) -> None:
        self.response = response
        self.ping_interval = ping_interval
        self.idle_timeout = idle_timeout
        self._queue: asyncio.Queue[object] = asyncio.Queue(_READ_AHEAD)
        self._reader: asyncio.Task[None] | None = None
        self._ended = False
        # Set when the consumer has left before the end: the reader stops handing over.
        self._abandoned = False
        # True while the reader waits for room in the queue (the only place it may be cancelled).
        self._waiting_to_put = False

    async def __aenter__(self) -> UpstreamStream:
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        reader = self._reader
        try:
            if exc_type is None and reader is not None and (self._ended or await self._drain()):
                await asyncio.wait({reader}, timeout=DRAIN_SECONDS)  # it releases the connection
        finally:
            if reader is not None and not reader.done():
                self._abandoned = True
                # The reader is cancelled only while it waits for room in the queue. Inside
                # httpx it may be closing the connection after an error: httpcore marks the
                # connection closed first, so a cancellation there would leave the socket
                # open for good (and the generation running). Closing the response below
                # ends a read in progress instead, and the reader then returns by itself.
                if self._waiting_to_put:
                    reader.cancel()
                _finishing.add(reader)
                reader.add_done_callback(_finishing.discard)
            with contextlib.suppress(httpx.HTTPError):  # the client already has its ending
                await self.response.aclose()

    async def _read(self) -> None:
        try:
            async for chunk in self.response.aiter_bytes():
                if self._abandoned:
                    return
                await self._put(chunk)
        except httpx.ReadTimeout:
            # The client's read timeout is at least the idle timeout: the same silence.
            await self._put(self._idle_error())
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            await self._put(exc)
        else:
            await self._put(_END)

    async def _put(self, item: object) -> None:
        if self._abandoned:
            return
        self._waiting_to_put = True
        try:
            await self._queue.put(item)
        finally:
            self._waiting_to_put = False

    def _idle_error(self) -> UpstreamUnavailable:
        return UpstreamUnavailable(
            f"Copilot sent nothing for {self.idle_timeout:g} s (--stream-idle-timeout)", timeout=True
        )

    async def __aiter__(self) -> AsyncIterator[bytes | None]:
        loop = asyncio.get_running_loop()
        last_byte = last_out = loop.time()
        while True:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                now = loop.time()
                idle_left = last_byte + self.idle_timeout - now
                if idle_left <= 0:
                    raise self._idle_error() from None
                ping_left = last_out + self.ping_interval - now
                if ping_left <= 0:
                    last_out = now
                    yield None
                    continue
                try:
                    async with asyncio.timeout(min(idle_left, ping_left)):
                        item = await self._queue.get()
                except TimeoutError:
                    continue
            if item is _END:
                self._ended = True
                return
            if isinstance(item, BaseException):
                self._ended = True
                raise item
            assert isinstance(item, bytes)
            last_byte = last_out = loop.time()
            yield item

    async def _drain(self) -> bool:
        """Reads and drops the rest of the body, within bounds; whether it ended cleanly."""
        drained = 0
        try:
            async with asyncio.timeout(DRAIN_SECONDS):
                while drained <= DRAIN_BYTES:
                    item = await self._queue.get()
                    if not isinstance(item, bytes):
                        return item is _END
                    drained += len(item)
        except TimeoutError:
            pass
        return False
