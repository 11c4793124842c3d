"""The upstream client under both transports (--upstream-transport aiohttp|httpx),
over real loopback sockets: what client.py and server/streams.py rely on holds
for each — one pooled keep-alive connection, a response closed early closes its
connection, and every failure is the httpx exception httpcore raises for it."""

from __future__ import annotations

import asyncio
import gzip
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import httpx
import pytest

from copilot_hybrid.config import UPSTREAM_TRANSPORTS
from copilot_hybrid.copilot.client import make_http_client, transport_name
from copilot_hybrid.copilot.transport import as_httpx_error

CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _answer(body: bytes, *headers: bytes) -> bytes:
    head = b"".join(h + b"\r\n" for h in headers)
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n%s\r\n%s" % (len(body), head, body)


@dataclass
class Upstream:
    """A loopback HTTP/1.1 server: each request line's path picks a behaviour."""

    port: int = 0
    connections: int = 0
    request_heads: list[bytes] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)  # a client hung up mid-stream
    release: asyncio.Event = field(default_factory=asyncio.Event)  # lets a held answer go on

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                self.request_heads.append(head)
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                await reader.readexactly(length)
                target = head.split(b" ")[1]
                if target.startswith(b"http://"):  # a proxy's absolute-form request line
                    target = b"/" + target.split(b"/", 3)[3]
                if not await self._answer(target, reader, writer):
                    return
        finally:
            writer.close()

    async def _answer(self, path: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answers; False closes the connection."""
        if path == b"/json":
            writer.write(_answer(b'{"ok":true}', b"content-type: application/json"))
        elif path == b"/stream":
            writer.write(CHUNKED_HEAD + b"".join(_chunk(b"data: %d\n\n" % i) for i in range(50)) + b"0\r\n\r\n")
        elif path == b"/gzip":
            writer.write(_answer(gzip.compress(b'{"zipped":true}'), b"content-encoding: gzip"))
        elif path == b"/cookie":
            writer.write(_answer(b"{}", b"set-cookie: session=abc; Path=/"))
        elif path == b"/held-stream":  # one event, then nothing until the client hangs up
            writer.write(CHUNKED_HEAD + _chunk(b"data: first\n\n"))
            await writer.drain()
            await reader.read()  # b"" once the client closed its end
            self.closed.set()
            return False
        elif path == b"/hang-up":
            return False
        elif path == b"/cut-length":
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly a part")
            await writer.drain()
            return False
        elif path == b"/cut-chunked":
            writer.write(CHUNKED_HEAD + _chunk(b"data: first\n\n"))
            await writer.drain()
            return False
        elif path == b"/not-http":
            writer.write(b"SMTP ready\r\n\r\n")
            await writer.drain()
            return False
        elif path == b"/silent":
            await self.release.wait()
            return False
        else:
            writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()
        return True


def _run(
    transport: str, body: Callable[[httpx.AsyncClient, Upstream], Awaitable[None]], **client_options: float
) -> None:
    async def go() -> None:
        upstream = Upstream()
        server = await asyncio.start_server(upstream.handle, "127.0.0.1", 0)
        upstream.port = server.sockets[0].getsockname()[1]
        try:
            async with make_http_client(transport=transport, **client_options) as client:
                assert transport_name(client) == transport
                await body(client, upstream)
        finally:
            upstream.release.set()
            server.close()

    asyncio.run(asyncio.wait_for(go(), 60))


def _url(upstream: Upstream, path: str) -> str:
    return f"http://127.0.0.1:{upstream.port}{path}"


async def _stream_body(client: httpx.AsyncClient, url: str) -> bytes:
    response = await client.send(client.build_request("POST", url, content=b'{"stream":true}'), stream=True)
    try:
        return b"".join([chunk async for chunk in response.aiter_bytes()])
    finally:
        await response.aclose()


transports = pytest.mark.parametrize("transport", UPSTREAM_TRANSPORTS)


@transports
def test_sequential_requests_and_streams_share_one_connection(transport: str) -> None:
    async def body(client: httpx.AsyncClient, upstream: Upstream) -> None:
        for _ in range(5):
            assert (await client.post(_url(upstream, "/json"), content=b"{}")).json() == {"ok": True}
            streamed = await _stream_body(client, _url(upstream, "/stream"))
            assert streamed.count(b"data: ") == 50 and streamed.endswith(b"data: 49\n\n")
        assert upstream.connections == 1

    _run(transport, body)


@transports
def test_closing_a_stream_early_closes_its_connection(transport: str) -> None:
    """The client went away: closing the response must hang up on upstream (the
    generation stops), and the next request gets a new connection."""

    async def body(client: httpx.AsyncClient, upstream: Upstream) -> None:
        response = await client.send(client.build_request("POST", _url(upstream, "/held-stream")), stream=True)
        first = await response.aiter_bytes().__anext__()
        assert first.startswith(b"data: first")
        await response.aclose()
        await asyncio.wait_for(upstream.closed.wait(), 10)
        assert (await client.post(_url(upstream, "/json"))).status_code == 200
        assert upstream.connections == 2

    _run(transport, body)


@transports
@pytest.mark.parametrize("path", ["/cut-length", "/cut-chunked"])
def test_a_body_cut_off_midway_raises_remote_protocol_error(transport: str, path: str) -> None:
    """Every byte that came before the cut reaches the reader, then the error."""

    async def body(client: httpx.AsyncClient, upstream: Upstream) -> None:
        received: list[bytes] = []
        response = await client.send(client.build_request("POST", _url(upstream, path)), stream=True)
        with pytest.raises(httpx.RemoteProtocolError):
            async for chunk in response.aiter_bytes():
                received.append(chunk)
        await response.aclose()
        assert b"".join(received) == (b"only a part" if path == "/cut-length" else b"data: first\n\n")
        assert (await client.post(_url(upstream, "/json"))).status_code == 200  # the pool carries on

    _run(transport, body)


@transports
@pytest.mark.parametrize("path", ["/hang-up", "/not-http"])
def test_no_valid_answer_is_remote_protocol_error_not_a_timeout(transport: str, path: str) -> None:
    async def body(client: httpx.AsyncClient, upstream: Upstream) -> None:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post(_url(upstream, path))

    _run(transport, body)


@transports
def test_silence_past_the_read_timeout_is_read_timeout(transport: str) -> None:
    async def body(client: httpx.AsyncClient, upstream: Upstream) -> None:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(_url(upstream, "/silent"))

    _run(transport, body, read_timeout=0.2)


@transports
def test_a_refused_connection_is_connect_error(transport: str) -> None:
    async def body(client: httpx.AsyncClient, upstream: Upstream) -> None:
        probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = probe.sockets[0].getsockname()[1]
        probe.close()
        await probe.wait_closed()
        with pytest.raises(httpx.ConnectError):
            await client.post(f"http://127.0.0.1:{port}/json")

    _run(transport, body)


@transports
def test_gzip_bodies_are_decoded_and_cookies_sent_once(transport: str) -> None:
    async def body(client: httpx.AsyncClient, upstream: Upstream) -> None:
        assert (await client.get(_url(upstream, "/gzip"))).json() == {"zipped": True}
        await client.get(_url(upstream, "/cookie"))
        await client.get(_url(upstream, "/json"))
        assert upstream.request_heads[-1].lower().count(b"cookie: session=abc") == 1

    _run(transport, body)


def test_aiohttp_timeouts_map_to_httpx_timeouts() -> None:
    """The connect timeout cannot be provoked on loopback; its mapping is checked directly."""
    assert type(as_httpx_error(aiohttp.ConnectionTimeoutError("slow connect"))) is httpx.ConnectTimeout
    assert type(as_httpx_error(aiohttp.SocketTimeoutError("slow read"))) is httpx.ReadTimeout
    wrapped = httpx.ConnectTimeout("the library's mapping")
    wrapped.__cause__ = aiohttp.ServerDisconnectedError()
    assert type(as_httpx_error(wrapped)) is httpx.RemoteProtocolError
    plain = ValueError("not a transport error")
    assert as_httpx_error(plain) is plain


def test_proxy_env_falls_back_to_the_httpx_transport_and_uses_the_proxy(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """--proxy-env: the request goes to HTTP_PROXY (absolute-form request line), through httpx's transport."""

    async def go() -> None:
        proxy = Upstream()
        server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("http_proxy", raising=False)
        monkeypatch.delenv("ALL_PROXY", raising=False)
        monkeypatch.delenv("all_proxy", raising=False)
        try:
            with caplog.at_level(logging.INFO, logger="copilot_hybrid.copilot.client"):
                client = make_http_client(transport="aiohttp", proxy_env=True)
            async with client:
                assert transport_name(client) == "httpx"
                response = await client.get("http://copilot.invalid/json")
                assert response.json() == {"ok": True}
        finally:
            server.close()
        assert proxy.request_heads[0].startswith(b"GET http://copilot.invalid/json HTTP/1.1")
        assert any("--proxy-env" in record.getMessage() for record in caplog.records)

    asyncio.run(asyncio.wait_for(go(), 60))
