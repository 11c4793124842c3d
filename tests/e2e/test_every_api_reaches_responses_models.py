"""Issue 10: the openai SDK's chat API and the anthropic SDK reach a
Responses-only model (GPT-5.x codex) through the real proxy: the route
dispatches to the Responses translators, and Copilot receives `/responses`."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai

from copilot_hybrid.emulator import Emulator
from tests.support import Proxy

CODEX = "gpt-5.3-codex"  # lists only /responses in the emulator's catalog
ASK_WEATHER = 'Weather in Paris? [[tool:get_weather {"city": "Paris"}]]'
WEATHER_CHAT = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
WEATHER_ANTHROPIC = {
    "name": "get_weather",
    "description": "Weather of a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def _chat(proxy: Proxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.url + "/v1", api_key=proxy.api_key or "dummy", max_retries=0, timeout=30)


def _claude(proxy: Proxy) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=proxy.url, api_key=proxy.api_key or "dummy", max_retries=0, timeout=30)


def test_chat_api_on_a_responses_only_model(proxy: Proxy, emulator: Emulator) -> None:
    client = _chat(proxy)
    answer = client.chat.completions.create(model=CODEX, messages=[{"role": "user", "content": "hello there"}])
    assert answer.choices[0].message.content == f"Hello from emulated {CODEX}: hello there"
    assert emulator.last_request("/responses").body["model"] == CODEX
    stream = client.chat.completions.create(
        model=CODEX, messages=[{"role": "user", "content": "hello there"}], stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == f"Hello from emulated {CODEX}: hello there"


def test_chat_api_tool_round_trip_on_a_responses_only_model(proxy: Proxy, emulator: Emulator) -> None:
    client = _chat(proxy)
    messages: list[Any] = [{"role": "user", "content": ASK_WEATHER}]
    first = client.chat.completions.create(model=CODEX, messages=messages, tools=[WEATHER_CHAT])  # type: ignore[list-item]
    assert first.choices[0].finish_reason == "tool_calls"
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "Paris"})  # type: ignore[union-attr]
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    second = client.chat.completions.create(model=CODEX, messages=messages, tools=[WEATHER_CHAT])  # type: ignore[list-item]
    assert second.choices[0].message.content == f'Hello from emulated {CODEX}: the get_weather tool returned "sunny".'
    sent = emulator.last_request("/responses")
    assert sent.status == 200 and sent.header("x-initiator") == "agent"


def test_anthropic_sdk_on_a_responses_only_model(proxy: Proxy, emulator: Emulator) -> None:
    client = _claude(proxy)
    message = client.messages.create(model=CODEX, max_tokens=256, messages=[{"role": "user", "content": "hello there"}])
    # The model's reasoning item comes back as a thinking block (its encrypted content in the signature).
    assert [block.type for block in message.content] == ["thinking", "text"]
    assert message.content[1].text == f"Hello from emulated {CODEX}: hello there"  # type: ignore[union-attr]
    assert emulator.last_request("/responses").body["model"] == CODEX
    with client.messages.stream(
        model=CODEX, max_tokens=256, messages=[{"role": "user", "content": "hello there"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == f"Hello from emulated {CODEX}: hello there"
    assert final.stop_reason == "end_turn"


def test_anthropic_sdk_tool_round_trip_on_a_responses_only_model(proxy: Proxy, emulator: Emulator) -> None:
    client = _claude(proxy)
    messages: list[Any] = [{"role": "user", "content": ASK_WEATHER}]
    first = client.messages.create(model=CODEX, max_tokens=256, messages=messages, tools=[WEATHER_ANTHROPIC])  # type: ignore[list-item]
    assert first.stop_reason == "tool_use"
    use = next(block for block in first.content if block.type == "tool_use")
    assert (use.name, use.input) == ("get_weather", {"city": "Paris"})
    messages += [
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny"}]},
    ]
    second = client.messages.create(model=CODEX, max_tokens=256, messages=messages, tools=[WEATHER_ANTHROPIC])  # type: ignore[list-item]
    texts = [block.text for block in second.content if block.type == "text"]
    assert texts == [f'Hello from emulated {CODEX}: the get_weather tool returned "sunny".']
    sent = emulator.last_request("/responses")
    assert sent.status == 200 and sent.header("x-initiator") == "agent"
