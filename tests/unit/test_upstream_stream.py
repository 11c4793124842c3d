"""UpstreamStream: pings during silences, the idle timeout, draining after the end
event, closing when the consumer fails. Driven by a body the test feeds by hand."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from copilot_hybrid.errors import UpstreamUnavailable
from copilot_hybrid.server.streams import UpstreamStream


class Feed(httpx.AsyncByteStream):
    """A response body whose chunks the test hands over one by one (None ends it)."""

    def __init__(self) -> None:
        self.chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.read_to_end = False
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while (chunk := await self.chunks.get()) is not None:
            yield chunk
        self.read_to_end = True

    async def aclose(self) -> None:
        self.closed = True


def _response(feed: Feed) -> httpx.Response:
    return httpx.Response(200, stream=feed, request=httpx.Request("POST", "http://upstream.test/chat/completions"))


def test_silences_become_pings_and_chunks_pass_in_order() -> None:
    async def go() -> list[bytes | None]:
        feed = Feed()
        seen: list[bytes | None] = []
        async with UpstreamStream(_response(feed), ping_interval=0.01, idle_timeout=60) as body:
            await feed.chunks.put(b"first")
            async for item in body:
                seen.append(item)
                if seen.count(None) == 3 and b"second" not in seen:
                    await feed.chunks.put(b"second")
                    await feed.chunks.put(None)
        assert feed.read_to_end and feed.closed
        return seen

    seen = asyncio.run(asyncio.wait_for(go(), 30))
    assert seen[0] == b"first" and seen[-1] == b"second"
    assert seen.count(None) >= 3 and [s for s in seen if s is not None] == [b"first", b"second"]


def test_idle_timeout_raises_and_closes() -> None:
    async def go() -> tuple[Feed, list[bytes | None]]:
        feed = Feed()
        seen: list[bytes | None] = []
        with pytest.raises(UpstreamUnavailable, match="--stream-idle-timeout") as caught:
            async with UpstreamStream(_response(feed), ping_interval=0.02, idle_timeout=0.1) as body:
                await feed.chunks.put(b"only")
                async for item in body:
                    seen.append(item)
        assert caught.value.timeout
        return feed, seen

    feed, seen = asyncio.run(asyncio.wait_for(go(), 30))
    assert seen[0] == b"only" and None in seen
    assert feed.closed and not feed.read_to_end


def test_leaving_after_the_end_event_drains_the_rest() -> None:
    async def go() -> Feed:
        feed = Feed()
        for chunk in (b"data: [DONE]\n\n", b"trailing bytes"):
            await feed.chunks.put(chunk)
        await feed.chunks.put(None)
        async with UpstreamStream(_response(feed), ping_interval=60, idle_timeout=60) as body:
            async for item in body:
                assert item == b"data: [DONE]\n\n"
                break  # the route stops at [DONE]; the body goes on
        return feed

    feed = asyncio.run(asyncio.wait_for(go(), 30))
    assert feed.read_to_end and feed.closed  # read to its end: httpx can keep the connection


def test_leaving_with_an_error_closes_without_draining() -> None:
    async def go() -> Feed:
        feed = Feed()
        await feed.chunks.put(b"data: {}\n\n")
        with pytest.raises(RuntimeError):
            async with UpstreamStream(_response(feed), ping_interval=60, idle_timeout=60) as body:
                async for _ in body:
                    raise RuntimeError("the client went away")
        return feed

    feed = asyncio.run(asyncio.wait_for(go(), 30))
    assert feed.closed and not feed.read_to_end


def test_a_broken_transfer_is_raised_to_the_consumer() -> None:
    class Broken(Feed):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield b"half"
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")

    async def go() -> list[bytes | None]:
        seen: list[bytes | None] = []
        with pytest.raises(httpx.RemoteProtocolError):
            async with UpstreamStream(_response(Broken()), ping_interval=60, idle_timeout=60) as body:
                async for item in body:
                    seen.append(item)
        return seen

    assert asyncio.run(asyncio.wait_for(go(), 30)) == [b"half"]
