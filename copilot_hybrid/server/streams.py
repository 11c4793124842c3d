"""Server-sent events: upstream parsing and the pass-through copier."""

from __future__ import annotations

from collections.abc import AsyncIterator

from copilot_hybrid.jsonutil import dumps

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


async def iter_sse_data(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The `data` of each upstream event (multi-line data joined with \\n); comments,
    `event:`, `id:` and `retry:` lines are skipped."""
    buffer = b""
    data: list[bytes] = []
    async for chunk in chunks:
        buffer += chunk
        if b"\n" not in chunk:
            continue
        lines = buffer.split(b"\n")
        buffer = lines.pop()
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if data:
                    yield b"\n".join(data)
                    data = []
            elif line.startswith(b"data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(b" ") else value)
    if buffer.startswith(b"data:"):
        value = buffer[5:].rstrip(b"\r")
        data.append(value[1:] if value.startswith(b" ") else value)
    if data:
        yield b"\n".join(data)


def event_boundary(buffer: bytes) -> int:
    """Where the last complete event in `buffer` ends (0: none yet)."""
    end = buffer.rfind(b"\n\n")
    end = end + 2 if end >= 0 else 0
    crlf = buffer.rfind(b"\r\n\r\n")
    return max(end, crlf + 4) if crlf >= 0 else end


def openai_stream_error(message: str, kind: str = "api_error") -> bytes:
    """An OpenAI-style error chunk: the openai SDK raises APIError when it reads one."""
    return b"data: " + dumps({"error": {"message": message, "type": kind, "param": None, "code": None}}) + b"\n\n"
