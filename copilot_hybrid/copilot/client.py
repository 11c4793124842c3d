"""The Copilot upstream client: one shared httpx.AsyncClient, pooled keep-alive.

Bodies go out as the bytes the caller hands in (no re-serialising of
pass-through requests). A 401 forces one token refresh and one retry.
Response headers must come within --upstream-timeout (then 504); upstream's
Retry-After travels with its error to the client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import httpx

from copilot_hybrid.config import DEFAULT_UPSTREAM_TIMEOUT, DEFAULT_UPSTREAM_TRANSPORT, UPSTREAM_TRANSPORTS
from copilot_hybrid.copilot.headers import copilot_headers, models_headers
from copilot_hybrid.copilot.token import CopilotToken, CopilotTokenManager
from copilot_hybrid.errors import UpstreamError, UpstreamUnavailable

log = logging.getLogger(__name__)

#: Upstream response headers an error answer passes on to the client.
PASSED_ERROR_HEADERS = ("retry-after",)


INDIVIDUAL_COPILOT_API_URL = "https://api.githubcopilot.com"


def copilot_base_for_account(account_type: str) -> str:
    """copilot-api's rule: `individual` is the plain host, anything else a sub-host."""
    kind = account_type.strip().lower() or "individual"
    if kind == "individual":
        return INDIVIDUAL_COPILOT_API_URL
    return f"https://api.{kind}.githubcopilot.com"


def make_http_client(
    *,
    proxy_env: bool = False,
    read_timeout: float = DEFAULT_UPSTREAM_TIMEOUT,
    transport: str = DEFAULT_UPSTREAM_TRANSPORT,
) -> httpx.AsyncClient:
    """The process's one upstream client.

    `trust_env` is what --proxy-env switches: httpx then honours HTTPS_PROXY /
    HTTP_PROXY / ALL_PROXY / NO_PROXY like copilot-api's proxy-from-env. Without
    it no proxy variable is read, as copilot-api does. `read_timeout` bounds each
    read of a body (a non-streamed answer comes in one piece at the end); streams
    have their own idle timeout (server/streams.py).

    `transport` is --upstream-transport: `aiohttp` (the default, the fastest:
    copilot/transport.py has the figures) or `httpx` (httpcore). With --proxy-env
    the httpx transport is used whatever was asked: httpx reads the proxy
    variables and would send proxied hosts through its own pool beside
    aiohttp's, so one transport with httpx's proxy rules is the simpler truth.
    The write timeout is httpcore's only (aiohttp has none per request).
    """
    if transport not in UPSTREAM_TRANSPORTS:
        raise ValueError(f"unknown upstream transport {transport!r}")
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=60.0)
    chosen: httpx.AsyncBaseTransport | None = None
    if transport == "aiohttp" and proxy_env:
        log.info("--proxy-env: using the httpx upstream transport (httpx's proxy rules; aiohttp would skip them)")
    elif transport == "aiohttp":
        from copilot_hybrid.copilot.transport import UpstreamAiohttpTransport

        chosen = UpstreamAiohttpTransport(limits=limits)
    return httpx.AsyncClient(
        timeout=httpx.Timeout(connect=15.0, read=read_timeout, write=60.0, pool=30.0),
        limits=limits,
        trust_env=proxy_env,
        follow_redirects=False,
        transport=chosen,
    )


def transport_name(client: httpx.AsyncClient) -> str:
    """Which upstream transport `client` runs on (for logs and tests)."""
    from copilot_hybrid.copilot.transport import UpstreamAiohttpTransport

    return "aiohttp" if isinstance(client._transport, UpstreamAiohttpTransport) else "httpx"


class CopilotClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        tokens: CopilotTokenManager,
        *,
        vscode_version: str,
        base_override: str | None = None,
        account_type: str = "individual",
        upstream_timeout: float = DEFAULT_UPSTREAM_TIMEOUT,
    ) -> None:
        self.http = http
        self.upstream_timeout = upstream_timeout
        self.tokens = tokens
        self.vscode_version = vscode_version
        self.base_override = base_override.rstrip("/") if base_override else None
        self.account_type = account_type
        self.retried_401 = 0

    def base_url(self, token: CopilotToken | None = None) -> str:
        """--copilot-api-url, else the token's endpoints.api, else the account type's host."""
        if self.base_override:
            return self.base_override
        token = token or self.tokens.current
        if token is not None and token.api_base:
            return token.api_base
        return copilot_base_for_account(self.account_type)

    async def send(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        vision: bool = False,
        initiator: str | None = None,
        headers: Callable[[str], dict[str, str]] | None = None,
    ) -> httpx.Response:
        """Sends and returns a 2xx response whose body is NOT read yet: the caller must
        `aread()`/iterate and `aclose()` it. Non-2xx raises UpstreamError, transport
        trouble UpstreamUnavailable, no headers within `upstream_timeout` seconds
        UpstreamUnavailable(timeout=True). `headers`, when given, builds the whole
        header set from the Copilot token (an endpoint's own set, copilot.headers)."""
        for attempt in (1, 2):
            token = await self.tokens.get()
            request = self.http.build_request(
                method,
                self.base_url(token) + path,
                content=content,
                headers=headers(token.token)
                if headers is not None
                else copilot_headers(token.token, self.vscode_version, vision=vision, initiator=initiator),
            )
            try:
                async with asyncio.timeout(self.upstream_timeout):
                    response = await self.http.send(request, stream=True)
            except (TimeoutError, httpx.ReadTimeout) as exc:
                raise UpstreamUnavailable(
                    f"Copilot sent no response within {self.upstream_timeout:g} s (--upstream-timeout)", timeout=True
                ) from exc
            except httpx.TimeoutException as exc:
                raise UpstreamUnavailable(
                    f"Copilot did not answer in time ({type(exc).__name__})", timeout=True
                ) from exc
            except httpx.HTTPError as exc:
                raise UpstreamUnavailable(f"Copilot could not be reached: {type(exc).__name__}: {exc}") from exc
            if response.status_code < 400:
                return response
            try:
                body = await response.aread()
            except httpx.HTTPError:
                body = b""
            finally:
                await response.aclose()
            if response.status_code == 401 and attempt == 1:
                # The token may have expired early or been revoked: refresh once and retry.
                log.info("Copilot answered 401; refreshing the Copilot token and retrying once")
                self.retried_401 += 1
                await self.tokens.refresh(stale=token.token)
                continue
            raise UpstreamError(
                response.status_code,
                body,
                content_type=response.headers.get("content-type", ""),
                url=str(request.url),
                headers={name: response.headers[name] for name in PASSED_ERROR_HEADERS if name in response.headers},
            )
        raise AssertionError("unreachable")

    async def request(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        headers: Callable[[str], dict[str, str]] | None = None,
    ) -> httpx.Response:
        """Like send(), with the body read and the connection released."""
        response = await self.send(method, path, content=content, headers=headers)
        await read_whole(response)
        return response

    async def chat_completions(self, body: bytes, *, vision: bool, initiator: str) -> httpx.Response:
        """The unread response (SSE or JSON): the caller streams or reads it, then closes it."""
        return await self.send("POST", "/chat/completions", content=body, vision=vision, initiator=initiator)

    async def embeddings(self, body: bytes) -> httpx.Response:
        return await self.request("POST", "/embeddings", content=body)

    async def models(self) -> dict[str, Any]:
        response = await self.request(
            "GET", "/models", headers=lambda token: models_headers(token, self.vscode_version)
        )
        try:
            data = response.json()
        except ValueError as exc:
            raise UpstreamError(502, b'{"message":"Copilot sent a non-JSON model list"}') from exc
        if not isinstance(data, dict):
            raise UpstreamError(502, b'{"message":"Copilot sent an unexpected model list"}')
        return data


async def read_whole(response: httpx.Response) -> bytes:
    """Reads a response's whole body and releases its connection; a transfer
    that breaks off becomes UpstreamUnavailable (a 502 for the client)."""
    try:
        return await response.aread()
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable(f"Copilot's answer broke off: {type(exc).__name__}: {exc}") from exc
    finally:
        await response.aclose()
