"""The upstream client's transport: aiohttp's connection pool under httpx's interface.

Why: measured on loopback against a minimal upstream (2 cores, one pinned to
the client), `httpx-aiohttp` (aiohttp's pool and C HTTP parser under the
httpx API) serves a small JSON answer with ~half the CPU of httpx's own
httpcore transport and ~4x its throughput at 16 concurrent requests, a
100-event SSE stream with a third of the CPU (README, "Upstream transport").
`--upstream-transport httpx` keeps httpcore selectable.

Everything above the transport is httpx's: requests, `Response.aiter_bytes`,
`aclose`, event hooks, timeouts as `httpx.Timeout`. What this module adds to
the library's transport is the error contract the proxy relies on: every
failure surfaces as the httpx exception httpcore would raise for it (the
library maps a refused connection and a server hang-up to ConnectTimeout, and
lets a bad status line through as an aiohttp error), so client.py and
server/streams.py need not know which transport runs. Cookies stay with
httpx's own jar (aiohttp's would add a second one), and no proxy variable is
read by aiohttp: --proxy-env uses the httpx transport (make_http_client).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import NoReturn

import aiohttp
import httpx
from httpx_aiohttp.transport import AiohttpResponseStream, AiohttpTransport

__all__ = ["UpstreamAiohttpTransport", "as_httpx_error"]


# Most specific first: the first class the error is an instance of decides.
_ERROR_MAP: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientProxyConnectionError, httpx.ProxyError),
    (aiohttp.ClientHttpProxyError, httpx.ProxyError),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.NonHttpUrlClientError, httpx.UnsupportedProtocol),
    (aiohttp.ClientConnectionError, httpx.ReadError),
    (aiohttp.ClientError, httpx.TransportError),
)


def as_httpx_error(exc: BaseException) -> BaseException:
    """The httpx exception for a failure inside aiohttp (the library's own
    mapping is undone through `__cause__`); anything else is returned as is."""
    cause = exc.__cause__ if isinstance(exc, httpx.TransportError) else exc
    if isinstance(cause, aiohttp.ClientError):
        for aiohttp_class, httpx_class in _ERROR_MAP:
            if isinstance(cause, aiohttp_class):
                mapped = httpx_class(str(cause) or type(cause).__name__)
                mapped.__cause__ = cause
                return mapped
    return exc


def _raise_mapped(exc: BaseException) -> NoReturn:
    mapped = as_httpx_error(exc)
    if mapped is exc:
        raise exc
    raise mapped from mapped.__cause__


class _MappedStream(httpx.AsyncByteStream):
    """The response body as aiohttp reads it (each read hands over all that has
    arrived), with aiohttp's errors as httpx's. When the connection breaks,
    aiohttp raises at once and would drop the bytes that came before the break;
    httpcore hands them over first, and so does this stream: a client then sees
    a cut-off answer's every byte before its error."""

    def __init__(self, inner: AiohttpResponseStream) -> None:
        self._inner = inner
        self._content: aiohttp.StreamReader = inner._aiohttp_response.content

    async def __aiter__(self) -> AsyncIterator[bytes]:
        content = self._content
        while True:
            try:
                chunk = await content.readany()
            except (httpx.TransportError, aiohttp.ClientError) as exc:
                left = _buffered(content)
                if left:
                    yield left
                _raise_mapped(exc)
            if not chunk:
                return
            yield chunk

    async def aclose(self) -> None:
        # Closing before the end of the body closes the connection (aiohttp does not
        # reuse a connection whose payload was not read to the end): the generation stops.
        try:
            await self._inner.aclose()
        except (httpx.TransportError, aiohttp.ClientError) as exc:
            _raise_mapped(exc)


def _buffered(content: aiohttp.StreamReader) -> bytes:
    """What arrived before the error (aiohttp's public reads raise instead)."""
    if not getattr(content, "_buffer", None):
        return b""
    return bytes(content._read_nowait(-1))


class UpstreamAiohttpTransport(AiohttpTransport):
    """httpx-aiohttp's transport with the proxy's pool settings and httpcore's errors."""

    def __init__(self, *, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False, client=self._make_session)

    def _make_session(self) -> aiohttp.ClientSession:
        # Made on first use, inside the running loop (aiohttp binds a session to its loop).
        connector = aiohttp.TCPConnector(
            limit=self.limits.max_connections or 0,
            keepalive_timeout=self.limits.keepalive_expiry,
            ssl=self.ssl_context,
        )
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await super().handle_async_request(request)
        except (httpx.TransportError, aiohttp.ClientError) as exc:
            _raise_mapped(exc)
        assert isinstance(response.stream, AiohttpResponseStream)
        response.stream = _MappedStream(response.stream)
        return response
