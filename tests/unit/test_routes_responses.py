"""`chat_via_responses` and `messages_via_responses` (server/routes_responses.py):
the Chat Completions and Anthropic Messages APIs on a model Copilot offers only
on `/responses`, driven by the openai and anthropic SDKs through a small app
that routes every request to them (the real routes dispatch there once they
have resolved such a model), against the emulator; plus `events_of_response`."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any
from unittest import mock

import anthropic
import httpx
import openai
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from copilot_hybrid.emulator import Emulator
from copilot_hybrid.server.app import install_error_handlers
from copilot_hybrid.server.body import parse_object
from copilot_hybrid.server.routes_responses import (
    chat_via_responses,
    events_of_response,
    messages_via_responses,
    resolve,
)
from copilot_hybrid.server.runtime import Runtime
from copilot_hybrid.server.settings import ServerSettings

pytestmark = pytest.mark.timeout(60)

MODEL = "gpt-5.3-codex"  # Responses only
WEATHER_CHAT = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
WEATHER_ANTHROPIC = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
ASK_WEATHER = 'Weather in Paris? [[tool:get_weather {"city": "Paris"}]]'


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture(autouse=True)
def _fresh(emulator: Emulator) -> Iterator[None]:
    yield
    emulator.reset()


def via_responses_app(settings: ServerSettings) -> FastAPI:
    """Every chat and Messages request to the functions under test."""
    rt = Runtime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await rt.start()
        try:
            yield
        finally:
            await rt.aclose()

    app = FastAPI(lifespan=lifespan)
    install_error_handlers(app)

    async def chat(request: Request) -> Response:
        payload = parse_object(await request.body())
        return await chat_via_responses(rt, request, payload, await resolve(rt, payload["model"]))

    async def messages(request: Request) -> Response:
        payload = parse_object(await request.body())
        return await messages_via_responses(rt, request, payload, await resolve(rt, payload["model"]))

    app.add_api_route("/v1/chat/completions", chat, methods=["POST"])
    app.add_api_route("/v1/messages", messages, methods=["POST"])
    return app


@pytest.fixture(scope="module")
def server(emulator: Emulator) -> Iterator[str]:
    """The app on a real loopback socket (uvicorn in a thread); its base URL.

    The socket listens before the thread starts, so the first request waits in
    the backlog until the app is up: no polling."""
    settings = ServerSettings(
        github_url=emulator.github_url,
        github_api_url=emulator.github_api_url,
        github_token=emulator.github_token,
        persist_token=False,
        offline=True,
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    with mock.patch.dict(os.environ, {"COPILOT_HYBRID_VSCODE_VERSION": "9.9.9"}):
        config = uvicorn.Config(via_responses_app(settings), log_level="warning", lifespan="on")
        running = uvicorn.Server(config)
        thread = threading.Thread(target=running.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            running.should_exit = True
            thread.join(timeout=30)
            sock.close()


@pytest.fixture
def chat(server: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server + "/v1", api_key="k", max_retries=0, timeout=30)


@pytest.fixture
def claude(server: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server, api_key="k", max_retries=0, timeout=30)


def sse_data(raw: str) -> list[str]:
    return [line[len("data: ") :] for line in raw.splitlines() if line.startswith("data: ")]


# --------------------------------------------------------------------------- chat -> Responses


def test_chat_text(chat: openai.OpenAI, emulator: Emulator) -> None:
    completion = chat.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hello"}])
    assert completion.choices[0].message.content == f"Hello from emulated {MODEL}: hello"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.prompt_tokens > 0
    sent = emulator.last_request("/responses")
    assert sent.status == 200 and sent.body["model"] == MODEL
    assert sent.header("x-initiator") == "user"
    assert sent.header("openai-intent") == "conversation-agent"
    assert emulator.requests_to("/chat/completions") == []


def test_chat_stream_with_usage_ends_with_done(chat: openai.OpenAI, server: str) -> None:
    stream = chat.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "stream it"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"Hello from emulated {MODEL}: stream it"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "raw"}]}
    data = sse_data(httpx.post(server + "/v1/chat/completions", json=body, timeout=30).text)
    assert data[-1] == "[DONE]" and data.count("[DONE]") == 1


def test_chat_tool_round_trip(chat: openai.OpenAI, emulator: Emulator) -> None:
    messages: list[Any] = [{"role": "user", "content": ASK_WEATHER}]
    first = chat.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_CHAT])
    assert first.choices[0].finish_reason == "tool_calls"
    call = first.choices[0].message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "Paris"})
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    second = chat.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_CHAT])
    assert second.choices[0].message.content == f'Hello from emulated {MODEL}: the get_weather tool returned "sunny".'
    sent = emulator.last_request("/responses")
    assert sent.status == 200 and sent.header("x-initiator") == "agent"
    # The assistant's reasoning went back up as the reasoning item the emulator made.
    assert [i["type"] for i in sent.body["input"]] == ["message", "reasoning", "function_call", "function_call_output"]


def test_chat_reasoning_round_trip(chat: openai.OpenAI, emulator: Emulator) -> None:
    question = {"role": "user", "content": "think"}
    first = chat.chat.completions.create(model=MODEL, messages=[question], reasoning_effort="high")
    extra = first.choices[0].message.model_extra or {}
    assert extra.get("reasoning_text") and "@" in extra.get("reasoning_opaque", "")
    replay = first.choices[0].message.model_dump(exclude_none=True)
    chat.chat.completions.create(
        model=MODEL, messages=[question, replay, {"role": "user", "content": "more"}], reasoning_effort="high"
    )
    sent = emulator.last_request("/responses")
    assert sent.status == 200  # the emulator verified the replayed encrypted reasoning
    assert sent.body["reasoning"]["effort"] == "high"
    assert [i["type"] for i in sent.body["input"]] == ["message", "reasoning", "message", "message"]


def test_chat_failure_mid_stream_is_an_error_chunk_without_done(server: str) -> None:
    body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "[[fail-midstream]]"}]}
    data = sse_data(httpx.post(server + "/v1/chat/completions", json=body, timeout=30).text)
    assert "[DONE]" not in data
    chunks = [json.loads(d) for d in data]
    assert set(chunks[-1]) == {"error"} and chunks[-1]["error"]["message"]
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1] if c.get("choices"))


def test_chat_refusals_are_openai_errors(server: str) -> None:
    several = httpx.post(
        server + "/v1/chat/completions",
        json={"model": MODEL, "n": 2, "messages": [{"role": "user", "content": "x"}]},
        timeout=30,
    )
    assert several.status_code == 400 and several.json()["error"]["param"] == "n"
    upstream = httpx.post(
        server + "/v1/chat/completions",
        json={"model": MODEL, "messages": [{"role": "user", "content": "[[error:400 bad thing]]"}]},
        timeout=30,
    )
    assert upstream.status_code == 400 and upstream.json()["error"]["message"] == "bad thing"


# --------------------------------------------------------------------------- Anthropic -> Responses


def test_messages_text(claude: anthropic.Anthropic, emulator: Emulator) -> None:
    message = claude.messages.create(model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "hello"}])
    assert message.model == MODEL
    assert [b.text for b in message.content if b.type == "text"] == [f"Hello from emulated {MODEL}: hello"]
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    sent = emulator.last_request("/responses")
    assert sent.header("x-initiator") == "user"
    assert sent.body["max_output_tokens"] >= 12_800  # room for the reasoning


def test_messages_stream(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "stream it"}]
    ) as stream:
        kinds = [event.type for event in stream]
        message = stream.get_final_message()
    assert [b.text for b in message.content if b.type == "text"] == [f"Hello from emulated {MODEL}: stream it"]
    assert kinds.count("message_stop") == 1 and kinds[-1] == "message_stop"


def test_messages_tool_round_trip_with_thinking(claude: anthropic.Anthropic, emulator: Emulator) -> None:
    """Claude Code's loop: thinking comes back signed `<encrypted>@<id>`, and the
    replayed thinking block goes up as the reasoning item Copilot made."""
    thinking: Any = {"type": "enabled", "budget_tokens": 2048}
    messages: list[Any] = [{"role": "user", "content": ASK_WEATHER}]
    first = claude.messages.create(
        model=MODEL, max_tokens=4096, messages=messages, tools=[WEATHER_ANTHROPIC], thinking=thinking
    )
    assert first.stop_reason == "tool_use"
    [thought] = [b for b in first.content if b.type == "thinking"]
    assert "@" in thought.signature and thought.thinking
    [use] = [b for b in first.content if b.type == "tool_use"]
    assert (use.name, use.input) == ("get_weather", {"city": "Paris"})
    messages += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny"}]},
    ]
    second = claude.messages.create(
        model=MODEL, max_tokens=4096, messages=messages, tools=[WEATHER_ANTHROPIC], thinking=thinking
    )
    texts = [b.text for b in second.content if b.type == "text"]
    assert texts == [f'Hello from emulated {MODEL}: the get_weather tool returned "sunny".']
    sent = emulator.last_request("/responses")
    assert sent.status == 200 and sent.header("x-initiator") == "agent"
    assert [i["type"] for i in sent.body["input"]] == ["message", "reasoning", "function_call", "function_call_output"]


def test_messages_long_tool_names_are_restored(claude: anthropic.Anthropic, emulator: Emulator) -> None:
    name = "mcp__a_very_long_server_name_for_testing__and_an_even_longer_tool_name_here"
    message = claude.messages.create(
        model=MODEL,
        max_tokens=100,
        messages=[{"role": "user", "content": "call it"}],
        tools=[{**WEATHER_ANTHROPIC, "name": name}],
        tool_choice={"type": "tool", "name": name},
    )
    sent_name = emulator.last_request("/responses").body["tools"][0]["name"]
    assert len(name) > 64 and len(sent_name) <= 64
    assert [b.name for b in message.content if b.type == "tool_use"] == [name]


def test_messages_compaction_is_the_agents(claude: anthropic.Anthropic, emulator: Emulator) -> None:
    prompt = "Your task is to create a detailed summary of the conversation so far."
    claude.messages.create(model=MODEL, max_tokens=100, messages=[{"role": "user", "content": prompt}])
    sent = emulator.last_request("/responses")
    assert sent.header("x-initiator") == "agent"
    assert sent.header("openai-intent") == "conversation-other"


def test_messages_failure_mid_stream_is_one_error_event(server: str) -> None:
    body = {
        "model": MODEL,
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": "[[response-failed]]"}],
    }
    events = [json.loads(d) for d in sse_data(httpx.post(server + "/v1/messages", json=body, timeout=30).text)]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "message_start" and kinds[-1] == "error"
    assert "message_stop" not in kinds and kinds.count("error") == 1
    assert kinds.count("content_block_start") == kinds.count("content_block_stop")


def test_messages_refusals_are_anthropic_errors(server: str) -> None:
    body = {"model": MODEL, "max_tokens": 10, "messages": [{"role": "robot", "content": "x"}]}
    response = httpx.post(server + "/v1/messages", json=body, timeout=30)
    assert response.status_code == 400
    assert response.json()["type"] == "error" and response.json()["error"]["type"] == "invalid_request_error"


# --------------------------------------------------------------------------- a whole Response as events


def test_events_of_response_replay_every_item_once() -> None:
    result = {
        "id": "resp_1",
        "object": "response",
        "status": "incomplete",
        "model": "m",
        "output": [
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "e"},
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "hi", "annotations": []}],
            },
            {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "f", "arguments": '{"a":1}'},
            {"type": "custom_tool_call", "id": "ct_1", "call_id": "c2", "name": "apply_patch", "input": "patch"},
        ],
        "usage": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
        "incomplete_details": {"reason": "max_output_tokens"},
    }
    events = events_of_response(result)
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.incomplete"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[0]["response"]["output"] == [] and events[-1]["response"] == result
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert done == result["output"]
    added = [e["item"]["id"] for e in events if e["type"] == "response.output_item.added"]
    assert added == ["rs_1", "msg_1", "fc_1", "ct_1"]
    by_kind = {e["type"]: e for e in events}
    assert by_kind["response.output_text.delta"]["delta"] == "hi"
    assert by_kind["response.output_text.delta"]["item_id"] == "msg_1"
    assert by_kind["response.function_call_arguments.done"]["arguments"] == '{"a":1}'
    assert by_kind["response.custom_tool_call_input.done"]["input"] == "patch"
    assert events_of_response({**result, "status": "failed"})[-1]["type"] == "response.failed"
    assert events_of_response({**result, "status": "completed"})[-1]["type"] == "response.completed"
