"""The last-resort 500 (server/internal_errors.py): a fixed message and a
request id for the client, one log line for the operator, in the caller's
format, and the server keeps answering."""

from __future__ import annotations

import asyncio
import logging
import re

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response

from copilot_hybrid.server.app import create_app
from copilot_hybrid.server.runtime import Runtime
from copilot_hybrid.server.settings import ServerSettings

SECRET_DETAIL = "internal detail /home/user/.config 0xdeadbeef"


def boom_app() -> object:
    settings = ServerSettings()
    app = create_app(settings, runtime=Runtime(settings))

    async def boom(request: Request) -> Response:
        raise RuntimeError(SECRET_DETAIL)

    async def fine(request: Request) -> Response:
        return Response("fine")

    for path in ("/v1/boom", "/v1/messages/boom"):
        app.add_api_route(path, boom, methods=["POST"])
    app.add_api_route("/v1/fine", fine, methods=["GET"])
    return app


def requests(*calls: tuple[str, str]) -> list[httpx.Response]:
    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=boom_app())  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return [await client.request(method, path) for method, path in calls]

    return asyncio.run(go())


def test_unexpected_exception_is_a_fixed_500_with_a_request_id(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    openai, anthropic, after = requests(("POST", "/v1/boom"), ("POST", "/v1/messages/boom"), ("GET", "/v1/fine"))
    assert openai.status_code == 500 and anthropic.status_code == 500
    error = openai.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["type"] == "api_error"
    assert anthropic.json()["type"] == "error" and anthropic.json()["error"]["type"] == "api_error"
    for response in (openai, anthropic):
        assert SECRET_DETAIL not in response.text and "RuntimeError" not in response.text
    match = re.search(r"request id ([0-9a-f]{12})", error["message"])
    assert match is not None
    assert after.status_code == 200 and after.text == "fine"
    records = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(records) == 2  # one line per failed request
    first = records[0].getMessage()
    assert match.group(1) in first and SECRET_DETAIL in first and "RuntimeError" in first
    assert "\n" not in first
    assert not records[0].exc_info  # the traceback only with --verbose


def test_verbose_logs_the_traceback_too(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    (response,) = requests(("POST", "/v1/boom"))
    assert response.status_code == 500
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.exc_info is not None
