"""server/native_messages.py in process: who answers count_tokens (and the counter
the metrics read), the stream forwarder's endings, a whole message as events, and
the serve options that switch the native path."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from copilot_hybrid.cli import make_app
from copilot_hybrid.cli.serve import _model_settings
from copilot_hybrid.emulator import Emulator
from copilot_hybrid.errors import ConfigError
from copilot_hybrid.server.app import create_app
from copilot_hybrid.server.native_messages import forward_events
from copilot_hybrid.server.runtime import Runtime
from copilot_hybrid.server.settings import ServerSettings
from copilot_hybrid.translate.messages_native import message_as_events

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture(autouse=True)
def _pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COPILOT_HYBRID_VSCODE_VERSION", "9.9.9")


def count(emulator: Emulator, bodies: list[dict[str, Any]], **settings: Any) -> tuple[list[int], Runtime]:
    """POSTs each body to /v1/messages/count_tokens of an in-process app; the counts and the runtime."""

    async def go() -> tuple[list[int], Runtime]:
        config = ServerSettings(
            github_url=emulator.github_url,
            github_api_url=emulator.github_api_url,
            github_token=emulator.github_token,
            **settings,
        )
        rt = Runtime(config)
        await rt.start()
        app = create_app(config, runtime=rt)
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
                answers = []
                for body in bodies:
                    response = await client.post("/v1/messages/count_tokens", json=body)
                    assert response.status_code == 200, response.text
                    answers.append(response.json()["input_tokens"])
                return answers, rt
        finally:
            await rt.aclose()

    return asyncio.run(go())


HELLO = [{"role": "user", "content": "hello " * 30}]


def test_count_tokens_asks_copilot_for_messages_models_and_counts_who_answered(emulator: Emulator) -> None:
    emulator.reset()
    counts, rt = count(emulator, [{"model": "claude-opus-5-5", "messages": HELLO}])
    sent = emulator.last_request("/v1/messages/count_tokens")
    assert sent.body == {"model": "claude-opus-5.5", "messages": HELLO}
    direct = httpx.post(emulator.copilot_url + "/v1/messages/count_tokens", headers=sent.headers, json=sent.body)
    assert counts == [direct.json()["input_tokens"]] == [49]  # the emulator's estimate; o200k says 31
    assert rt.count_tokens_answers == {"copilot": 1}


def test_count_tokens_falls_back_to_the_local_count(emulator: Emulator) -> None:
    emulator.reset()
    emulator.fail("/copilot/v1/messages/count_tokens", 400, body={"error": {"message": "no", "code": "x"}})
    emulator.fail("/copilot/v1/messages/count_tokens", 503, times=None)
    bodies = [{"model": "claude-opus-5-5", "messages": HELLO}] * 2
    counts, rt = count(emulator, bodies)
    assert rt.count_tokens_answers == {"local_fallback": 2}
    assert counts[0] == counts[1] > 25


def test_count_tokens_is_local_for_other_models_and_offline(emulator: Emulator) -> None:
    emulator.reset()
    _, rt = count(emulator, [{"model": "gpt-4.1", "messages": HELLO}, {"model": "mystery", "messages": HELLO}])
    assert rt.count_tokens_answers == {"local": 2}
    _, rt = count(emulator, [{"model": "claude-opus-5-5", "messages": HELLO}], offline_count_tokens=True)
    assert rt.count_tokens_answers == {"local": 1}
    assert not emulator.requests_to("/v1/messages/count_tokens")


# --------------------------------------------------------------------------- the stream forwarder


def _upstream(*chunks: bytes, fail: bool = False) -> httpx.Response:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk
        if fail:
            raise httpx.ReadError("connection reset")

    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())


def _forwarded(response: httpx.Response) -> bytes:
    async def go() -> bytes:
        return b"".join([part async for part in forward_events(response, ping_interval=15, idle_timeout=120)])

    return asyncio.run(go())


START = b'event: message_start\ndata: {"type":"message_start","message":{}}\n\n'
STOP = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
OWN = b'event: copilot_usage\ndata: {"type":"copilot_usage"}\n\n'


def test_the_forwarder_drops_copilots_events_and_stops_at_the_end() -> None:
    split = OWN[:10], OWN[10:]  # events cut across chunks arrive whole
    out = _forwarded(_upstream(START, *split, b"event: ping\ndata: {}\n\n" + STOP, b"data: [DONE]\n\n"))
    assert out == START + b"event: ping\ndata: {}\n\n" + STOP


@pytest.mark.parametrize("fail", [True, False])
def test_a_stream_that_breaks_off_ends_with_an_error_event(fail: bool) -> None:
    out = _forwarded(_upstream(START, b'event: content_block_start\ndata: {"type"', fail=fail))
    assert out.startswith(START)
    last = out.rstrip(b"\n").rsplit(b"\n\n", 1)[-1]
    assert last.startswith(b"event: error\ndata: ")
    error = json.loads(last.split(b"data: ", 1)[1])
    assert error["type"] == "error" and error["error"]["type"] == "api_error"
    assert ("broke off (ReadError)" if fail else "ended before the message was complete") in error["error"]["message"]


def test_a_whole_message_as_anthropics_events() -> None:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-opus-5.5",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "Ep123"},
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Ōsaka"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": 9},
    }
    events = [
        (name.removeprefix("event: "), json.loads(data.removeprefix("data: ")))
        for name, data in (block.split("\n") for block in message_as_events(message).decode().split("\n\n") if block)
    ]
    assert [name for name, _ in events] == [
        "message_start",
        *["content_block_start", "content_block_delta", "content_block_delta", "content_block_stop"],
        *["content_block_start", "content_block_delta", "content_block_stop"],
        *["content_block_start", "content_block_delta", "content_block_stop"],
        "message_delta",
        "message_stop",
    ]
    assert all(name == data["type"] for name, data in events)
    assert events[0][1]["message"] == {**message, "content": [], "stop_reason": None}
    deltas = [data["delta"] for name, data in events if name == "content_block_delta"]
    assert deltas == [
        {"type": "thinking_delta", "thinking": "hmm"},
        {"type": "signature_delta", "signature": "Ep123"},
        {"type": "text_delta", "text": "Let me look."},
        {"type": "input_json_delta", "partial_json": '{"city":"Ōsaka"}'},
    ]
    assert events[-2][1]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert events[-2][1]["usage"] == {"output_tokens": 9}
    assert message_as_events({"type": "error"}).startswith(b"event: error\n")
    # The anthropic SDK reassembling these: test_anthropic_native.py (a stream answered with JSON).


# --------------------------------------------------------------------------- serve options


def test_native_messages_and_aliases_come_from_config_toml_then_the_flags(isolated_home: Path) -> None:
    assert _model_settings([], None) == ({}, True)
    (isolated_home / "config.toml").write_text(
        '[server]\nnative_messages = false\n[models.aliases]\n"claude-opus-5-5" = "claude-opus-4.8"\n'
    )
    assert _model_settings([], None) == ({"claude-opus-5-5": "claude-opus-4.8"}, False)
    aliases, native = _model_settings(["CLAUDE-OPUS-5-5=claude-opus-5", "sonnet=claude-sonnet-4.6"], True)
    assert aliases == {"CLAUDE-OPUS-5-5": "claude-opus-5", "sonnet": "claude-sonnet-4.6"} and native is True
    (isolated_home / "config.toml").write_text('[server]\nnative_messages = "no"\n')
    with pytest.raises(ConfigError, match=r"\[server\] native_messages must be true or false, not 'no'"):
        _model_settings([], None)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model-alias", "claude-opus-5-5"], "--model-alias takes FROM=TO (e.g. claude-opus-5-5=claude-opus-4.8)"),
        (["--model-alias", "=x"], "--model-alias takes FROM=TO"),
    ],
)
def test_serve_refuses_a_malformed_alias_before_starting(args: list[str], message: str) -> None:
    result = CliRunner().invoke(make_app(), ["serve", *args])
    assert result.exit_code == 1
    assert f"Startup failed: {message}" in result.output


def test_the_runtime_refreshes_the_registry_until_it_closes(emulator: Emulator) -> None:
    async def go() -> None:
        config = ServerSettings(
            github_url=emulator.github_url, github_api_url=emulator.github_api_url, github_token=emulator.github_token
        )
        rt = Runtime(config)
        await rt.start()
        refresher = rt.models._loop_task
        assert refresher is not None and not refresher.done()
        assert rt.models.info("claude-opus-5.5") is not None
        await rt.aclose()
        assert refresher.cancelled() and rt.models._loop_task is None

    asyncio.run(go())
