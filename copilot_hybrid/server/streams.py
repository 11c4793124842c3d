"""Server-sent events: upstream parsing and the pass-through copier."""

from __future__ import annotations

from collections.abc import AsyncIterator

from copilot_hybrid.jsonutil import dumps
from copilot_hybrid.stream_translate import SseFramer

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


async def iter_sse_data(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The `data` of each upstream event (stream_translate.SseFramer frames them)."""
    framer = SseFramer()
    async for chunk in chunks:
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
