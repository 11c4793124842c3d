"""The floor `bench proxy` measures the proxy against: a bare passthrough on the
proxy's own stack (FastAPI on uvicorn with uvloop and httptools, the shared httpx
client on the aiohttp transport, orjson), with no logic: parse the body, forward
it to the same upstream path, stream upstream's bytes back. No access checks,
routing, translation, metrics or logging.

    python -m copilot_hybrid.bench.passthrough PORT   (the upstream: COPILOT_HYBRID_COPILOT_API_URL)
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from copilot_hybrid import config
from copilot_hybrid.copilot.client import make_http_client
from copilot_hybrid.jsonutil import loads
from copilot_hybrid.server.stack import choose_stack

#: The proxy's routes and the upstream path each is forwarded to.
UPSTREAM_PATHS = {"/v1/chat/completions": "/chat/completions", "/v1/messages": "/v1/messages"}


def create(upstream: str) -> FastAPI:
    http = make_http_client()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await http.aclose()

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def forward(request: Request) -> Response:
        body = await request.body()
        loads(body)  # what every proxy does first
        sent = http.build_request(
            "POST",
            upstream + UPSTREAM_PATHS[request.url.path],
            content=body,
            headers={"content-type": "application/json"},
        )
        answer = await http.send(sent, stream=True)

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in answer.aiter_raw():
                    yield chunk
            finally:
                await answer.aclose()

        kept = {k: v for k, v in answer.headers.items() if k in ("content-type",)}
        return StreamingResponse(relay(), status_code=answer.status_code, headers=kept)

    app.add_route("/", health, methods=["GET"])
    for path in UPSTREAM_PATHS:
        app.add_route(path, forward, methods=["POST"])
    return app


def main() -> None:
    port = int(sys.argv[1])
    upstream = (config.env(config.COPILOT_API_URL_ENV) or "").rstrip("/")
    stack = choose_stack(None, None)
    server = uvicorn.Server(
        uvicorn.Config(
            create(upstream),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            http=stack.http_parser,
            loop="none",
            access_log=False,
        )
    )
    with asyncio.Runner(loop_factory=stack.loop_factory()) as runner:
        runner.run(server.serve())


if __name__ == "__main__":
    main()
