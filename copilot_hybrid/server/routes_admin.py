"""Health, usage and the opt-in token route."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from copilot_hybrid.errors import ApiError
from copilot_hybrid.github.api import get_usage
from copilot_hybrid.server.errors import json_response
from copilot_hybrid.server.runtime import Runtime


def register(app: FastAPI, rt: Runtime) -> None:
    async def health(request: Request) -> Response:
        return PlainTextResponse("Server running")

    async def usage(request: Request) -> Response:
        assert rt.login is not None
        upstream = await get_usage(rt.http, rt.settings.github_api_url, rt.login.token, rt.vscode_version)
        return Response(upstream.content, media_type="application/json")

    async def token(request: Request) -> Response:
        # copilot-api always served this: anyone who could reach the port got the token.
        if not rt.settings.show_token:
            raise ApiError(404, f"Invalid URL (GET {request.url.path}); /token needs --show-token", type="not_found")
        current = await rt.tokens.get()
        return json_response({"token": current.token})

    app.add_route("/", health, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_route("/usage", usage, methods=["GET"], include_in_schema=False)
    app.add_route("/v1/usage", usage, methods=["GET"], include_in_schema=False)
    app.add_route("/token", token, methods=["GET"], include_in_schema=False)
