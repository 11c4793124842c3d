"""The FastAPI app factory: `create_app(settings)`.

Only pure ASGI wrappers (no BaseHTTPMiddleware, which costs a task per request):
path normalisation (trailing slash), then who may call (`access`: Host and
Origin checks, CORS for allowed origins only, client keys), the last-resort 500
(server/internal_errors.py) and, outermost, the request recorder (observe).
Every error becomes an answer in the caller's own format; nothing a client
sends can stop the server.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from copilot_hybrid.errors import ApiError, AuthError, RateLimited, UpstreamError, UpstreamUnavailable
from copilot_hybrid.server import (
    access,
    routes_admin,
    routes_anthropic,
    routes_models,
    routes_observe,
    routes_openai,
    routes_responses,
)
from copilot_hybrid.server.errors import error_response, request_path, upstream_error_response
from copilot_hybrid.server.internal_errors import InternalErrors
from copilot_hybrid.server.runtime import Runtime
from copilot_hybrid.server.settings import ServerSettings

log = logging.getLogger("copilot_hybrid.server")


class TrailingSlash:
    """`/v1/models/` is `/v1/models` (copilot-api answered 404; a redirect would make
    clients resend the body)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if len(path) > 1 and path.endswith("/"):
                scope = dict(scope)
                scope["path"] = path.rstrip("/") or "/"
                raw = scope.get("raw_path")
                if isinstance(raw, bytes):
                    scope["raw_path"] = raw.rstrip(b"/") or b"/"
        await self.app(scope, receive, send)


def create_app(settings: ServerSettings, *, runtime: Runtime | None = None) -> FastAPI:
    rt = runtime or Runtime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not rt.started:
            try:
                await rt.start()
            except BaseException:
                await rt.aclose()
                raise
        try:
            yield
        finally:
            await rt.aclose()

    app = FastAPI(
        title="copilot-hybrid",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
        redirect_slashes=False,
    )
    app.state.runtime = rt
    routes_openai.register(app, rt)
    routes_models.register(app, rt)
    routes_anthropic.register(app, rt)
    routes_responses.register(app, rt)
    routes_admin.register(app, rt)
    install_error_handlers(app)
    access.install(app, settings)  # Host, Origin and CORS, client keys
    app.add_middleware(TrailingSlash)
    app.add_middleware(InternalErrors)  # outside the others: also catches what they raise
    routes_observe.register(app, rt)  # last: its recording middleware wraps all the others, the 500s included
    return app


def install_error_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        log.info("Rejected %s %s: %d %s", request.method, request_path(request), exc.status, exc.message)
        return error_response(
            request_path(request),
            exc.status,
            exc.message,
            type=exc.type,
            param=exc.param,
            code=exc.code,
            headers=exc.headers,
        )

    async def rate_limited(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RateLimited)
        log.warning("Rate limit: request rejected, retry in %d s", exc.retry_after_seconds)
        return error_response(
            request_path(request),
            429,
            f"Rate limit exceeded (--rate-limit): retry in {exc.retry_after_seconds} s",
            type="rate_limit_error",
            headers={"retry-after": str(exc.retry_after_seconds)},
        )

    async def upstream_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, UpstreamError)
        log.warning("Upstream answered HTTP %s: %s", exc.status, exc.message)
        return upstream_error_response(request_path(request), exc)

    async def upstream_unavailable(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, UpstreamUnavailable)
        log.warning("Upstream unavailable: %s", exc)
        status = 504 if exc.timeout else 502
        return error_response(request_path(request), status, str(exc), type="api_error")

    async def auth_error(request: Request, exc: Exception) -> Response:
        log.error("Copilot authentication failed: %s", exc)
        return error_response(request_path(request), 502, f"Copilot authentication failed: {exc}", type="api_error")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        path = request_path(request)
        if exc.status_code == 404:
            message = f"Invalid URL ({request.method} {path})"
        elif exc.status_code == 405:
            message = f"Method {request.method} is not allowed on {path}"
        else:
            message = str(exc.detail)
        return error_response(path, exc.status_code, message, headers=exc.headers)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RateLimited, rate_limited)
    app.add_exception_handler(UpstreamError, upstream_error)
    app.add_exception_handler(UpstreamUnavailable, upstream_unavailable)
    app.add_exception_handler(AuthError, auth_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    # Anything else: server/internal_errors.py (a fixed 500, one log line).
