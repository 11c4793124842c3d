"""`GET /metrics`, `GET /dashboard` and its JSON API, and the request recording.

`register(app, rt)` is called last in create_app, so that the recording
middleware is the outermost of the app's own middlewares and also records
the requests that the others answer (413, 429, the access rules' 401/403).
With COPILOT_HYBRID_NO_METRICS=1 nothing is recorded: no middleware, no
hooks, /metrics answers 404, and the dashboard shows only the account and
the rollout state. Access rules (Host, Origin, API key) are not decided
here: the server's access middleware applies to these routes like to all.

| route | answer |
| --- | --- |
| GET /metrics | Prometheus text (or OpenMetrics, by Accept) |
| GET /dashboard | the page (static HTML/CSS/JS from copilot_hybrid/observe/static) |
| GET /dashboard/static/NAME | the page's assets |
| GET /dashboard/api/status | version, whether recording is on, history settings |
| GET /dashboard/api/traffic | per-minute series and totals of the last hour |
| GET /dashboard/api/history?limit=&model=&route=&status= | newest requests first, and the filter choices |
| GET /dashboard/api/native | native library and per-feature rollout state |
| GET /dashboard/api/account | plan, quotas and reset date (cached ACCOUNT_TTL_SECONDS) |
"""

from __future__ import annotations

import asyncio
import time
from importlib import resources
from typing import Any, Final

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from copilot_hybrid import __version__
from copilot_hybrid.errors import ApiError
from copilot_hybrid.jsonutil import dumps
from copilot_hybrid.observe import dashboard
from copilot_hybrid.observe.settings import history_path
from copilot_hybrid.server.runtime import Runtime

ACCOUNT_TTL_SECONDS: Final = 30.0
HISTORY_PAGE_LIMIT: Final = 500
#: The page loads nothing from elsewhere and may not be framed.
PAGE_HEADERS: Final = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
_ASSETS: Final = {
    "dashboard.css": "text/css; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}


def _asset(name: str) -> bytes:
    return resources.files("copilot_hybrid.observe").joinpath("static", name).read_bytes()


class RouteLabels:
    """The `route` label: one of the app's own paths (trailing slash dropped), else `other`."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._paths: frozenset[str] | None = None

    def __call__(self, path: str) -> str:
        if self._paths is None:
            self._paths = frozenset(str(getattr(r, "path", "")) for r in self.app.routes)
        if len(path) > 1:
            path = path.rstrip("/") or "/"
        return path if path in self._paths else "other"


def _json(value: Any, status: int = 200) -> Response:
    return Response(
        dumps(value), status_code=status, media_type="application/json", headers={"cache-control": "no-store"}
    )


def register(app: FastAPI, rt: Runtime) -> None:
    from copilot_hybrid.rollout import observers

    settings = rt.settings.observe
    history_file = settings.history_file or history_path()
    timings = dashboard.RolloutTimings()
    recorder = None
    if settings.enabled:
        from copilot_hybrid.observe.history import History
        from copilot_hybrid.observe.metrics import Metrics
        from copilot_hybrid.observe.middleware import RecordRequests
        from copilot_hybrid.observe.recorder import Recorder

        metrics = Metrics(known_models=lambda: rt.models.by_id() if rt.started else {})
        recorder = Recorder(
            metrics,
            History(history_file, settings.history_rows),
            keep_text=settings.history_text,
            log_requests=settings.log_format == "json",
        )
        observers.subscribe(metrics.observe_rollout)
        observers.subscribe(timings)

        def shutdown() -> None:
            observers.unsubscribe(metrics.observe_rollout)
            observers.unsubscribe(timings)
            recorder.close()

        app.add_middleware(
            RecordRequests,
            recorder=recorder,
            route_label=RouteLabels(app),
            keep_text=settings.history_text,
            on_shutdown=shutdown,
        )
        app.state.observe_shutdown = shutdown  # for tests that drive the app without a lifespan
    app.state.recorder = recorder
    page = _asset("dashboard.html")
    account_cache: dict[str, Any] = {}

    async def synced() -> None:
        if recorder is not None:
            await asyncio.to_thread(recorder.sync)

    async def metrics_route(request: Request) -> Response:
        if recorder is None:
            raise ApiError(404, "Metrics are off (COPILOT_HYBRID_NO_METRICS=1)", type="not_found")
        from prometheus_client.exposition import choose_encoder

        await synced()
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        body = await asyncio.to_thread(encoder, recorder.metrics.registry)
        return Response(body, headers={"content-type": content_type, "cache-control": "no-store"})

    async def page_route(request: Request) -> Response:
        return Response(page, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)

    async def asset_route(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _ASSETS:
            raise ApiError(404, f"Invalid URL (GET {request.url.path})", type="not_found")
        return Response(_asset(name), media_type=_ASSETS[name], headers=PAGE_HEADERS)

    async def status_route(request: Request) -> Response:
        return _json(
            {
                "version": __version__,
                "recording": recorder is not None,
                "history": {"file": str(history_file), "rows": settings.history_rows, "text": settings.history_text},
                "started_at": started_at,
            }
        )

    async def traffic_route(request: Request) -> Response:
        if recorder is None:
            return _json({"recording": False})
        await synced()
        return _json({"recording": True, **await asyncio.to_thread(dashboard.traffic, history_file)})

    async def history_route(request: Request) -> Response:
        if recorder is None:
            return _json({"recording": False, "rows": [], "filters": {"models": [], "routes": []}})
        query = request.query_params
        try:
            limit = min(HISTORY_PAGE_LIMIT, max(1, int(query.get("limit", "100"))))
        except ValueError:
            raise ApiError(400, "limit must be an integer", param="limit") from None
        await synced()
        try:
            result = await asyncio.to_thread(
                dashboard.history,
                history_file,
                limit=limit,
                model=query.get("model") or None,
                route=query.get("route") or None,
                status=query.get("status") or None,
            )
        except ValueError as exc:
            raise ApiError(400, str(exc), param="status") from exc
        return _json({"recording": True, **result})

    async def native_route(request: Request) -> Response:
        return _json(await asyncio.to_thread(dashboard.native, timings))

    async def account_route(request: Request) -> Response:
        from copilot_hybrid.github.api import get_usage

        cached = account_cache.get("value")
        if cached is None or time.monotonic() - account_cache["at"] > ACCOUNT_TTL_SECONDS:
            if rt.login is None:
                raise ApiError(503, "Not logged in to GitHub yet", type="api_error")
            upstream = await get_usage(rt.http, rt.settings.github_api_url, rt.login.token, rt.vscode_version)
            try:
                usage = upstream.json()
            except ValueError:
                usage = None
            cached = dashboard.account(usage)
            account_cache.update(value=cached, at=time.monotonic())
        return _json({**cached, "fetched_at": time.time() - (time.monotonic() - account_cache["at"])})

    started_at = time.time()
    add = app.add_route
    add("/metrics", metrics_route, methods=["GET"], include_in_schema=False)
    add("/dashboard", page_route, methods=["GET"], include_in_schema=False)
    add("/dashboard/static/{name}", asset_route, methods=["GET"], include_in_schema=False)
    add("/dashboard/api/status", status_route, methods=["GET"], include_in_schema=False)
    add("/dashboard/api/traffic", traffic_route, methods=["GET"], include_in_schema=False)
    add("/dashboard/api/history", history_route, methods=["GET"], include_in_schema=False)
    add("/dashboard/api/native", native_route, methods=["GET"], include_in_schema=False)
    add("/dashboard/api/account", account_route, methods=["GET"], include_in_schema=False)
