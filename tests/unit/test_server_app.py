"""The app in-process (ASGI transport) against the emulator: --manual approval
both ways, copilot base selection, models cache, usage passthrough."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from copilot_hybrid.emulator import Emulator
from copilot_hybrid.server.app import create_app
from copilot_hybrid.server.runtime import Runtime
from copilot_hybrid.server.settings import ServerSettings

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture(autouse=True)
def _pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COPILOT_HYBRID_VSCODE_VERSION", "9.9.9")


def settings_for(emulator: Emulator, **changes: Any) -> ServerSettings:
    return ServerSettings(
        github_url=emulator.github_url,
        github_api_url=emulator.github_api_url,
        github_token=emulator.github_token,
        **changes,
    )


def call(settings: ServerSettings, method: str, path: str, **kwargs: Any) -> tuple[httpx.Response, Runtime]:
    async def go() -> tuple[httpx.Response, Runtime]:
        runtime = Runtime(settings)
        await runtime.start()
        app = create_app(settings, runtime=runtime)
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
                return await client.request(method, path, **kwargs), runtime
        finally:
            await runtime.aclose()

    return asyncio.run(go())


CHAT = {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]}
MESSAGES = {"model": "claude-sonnet-4.5", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}


def test_manual_approval_accept_and_reject(emulator: Emulator) -> None:
    asked: list[str] = []

    def approve(summary: str) -> bool:
        asked.append(summary)
        return True

    response, _ = call(settings_for(emulator, manual=True, approver=approve), "POST", "/v1/chat/completions", json=CHAT)
    assert response.status_code == 200 and asked == ["chat gpt-4.1"]
    response, _ = call(
        settings_for(emulator, manual=True, approver=lambda s: False), "POST", "/v1/messages", json=MESSAGES
    )
    assert response.status_code == 403
    assert response.json()["error"]["type"] == "permission_error"
    assert response.json()["type"] == "error"


def test_copilot_base_from_token_override_and_account_type(emulator: Emulator) -> None:
    _, runtime = call(settings_for(emulator), "GET", "/")
    assert runtime.copilot.base_url() == emulator.copilot_url  # the token's endpoints.api
    _, runtime = call(settings_for(emulator, copilot_api_url=emulator.copilot_url + "/"), "GET", "/")
    assert runtime.copilot.base_url() == emulator.copilot_url
    assert runtime.vscode_version == "9.9.9"
    assert emulator.last_request("/copilot/models").header("editor-version") == "vscode/9.9.9"


def test_usage_and_health(emulator: Emulator) -> None:
    response, _ = call(settings_for(emulator), "GET", "/usage")
    assert response.status_code == 200 and response.json()["copilot_plan"] == "individual"
    response, _ = call(settings_for(emulator), "HEAD", "/")
    assert response.status_code == 200


def test_upstream_unreachable_is_502(emulator: Emulator) -> None:
    settings = settings_for(emulator, copilot_api_url="http://127.0.0.1:9")

    async def go() -> tuple[httpx.Response, httpx.Response]:
        runtime = Runtime(settings)
        # Models load at startup; serve them from the real emulator, then point chat at a dead port.
        settings.copilot_api_url = None
        await runtime.start()
        runtime.copilot.base_override = "http://127.0.0.1:9"
        app = create_app(settings, runtime=runtime)
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as client:
                return (
                    await client.post("/v1/chat/completions", json=CHAT),
                    await client.post("/v1/messages", json=MESSAGES),
                )
        finally:
            await runtime.aclose()

    openai_answer, anthropic_answer = asyncio.run(go())
    assert openai_answer.status_code == 502 and openai_answer.json()["error"]["type"] == "api_error"
    assert anthropic_answer.status_code == 502 and anthropic_answer.json()["error"]["type"] == "api_error"


def test_copilot_token_failure_is_a_clear_502(emulator: Emulator) -> None:
    async def go() -> httpx.Response:
        settings = settings_for(emulator)
        runtime = Runtime(settings)
        await runtime.start()
        emulator.expire_copilot_tokens()
        emulator.fail("/api/copilot_internal/v2/token", 401, times=None)
        app = create_app(settings, runtime=runtime)
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as client:
                return await client.post("/v1/messages", json=MESSAGES)
        finally:
            await runtime.aclose()
            emulator.reset()

    response = asyncio.run(go())
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["type"] == "api_error"
    assert "Copilot token exchange answered HTTP 401" in error["message"]
