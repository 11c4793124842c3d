"""`POST /v1/responses` through the real proxy, driven by the openai SDK's
`client.responses`, on a Responses model (passthrough with the fixes), a
chat-only model (translated to chat completions) and a Claude model
(translated to Copilot's /v1/messages)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from copilot_hybrid.emulator import Emulator
from tests.support import Proxy

#: Model -> the Copilot endpoint the proxy must use for it.
MODELS = {
    "gpt-5.3-codex": "/responses",  # Responses only
    "gpt-4.1": "/chat/completions",  # chat only
    "claude-sonnet-4.5": "/v1/messages",  # Claude: native Messages
}
TERMINAL = {"response.completed", "response.incomplete", "response.failed"}
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": False,
}
PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hello from the patch\n*** End Patch\n"
APPLY_PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Use the `apply_patch` tool to edit files.",
    "format": {"type": "grammar", "syntax": "lark", "definition": 'start: "*** Begin Patch" /(.|\\n)*/'},
}


@pytest.fixture
def client(proxy: Proxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.url + "/v1", api_key=proxy.api_key or "dummy", max_retries=0, timeout=30)


def create(client: openai.OpenAI, *, stream: bool, **kwargs: Any) -> tuple[Any, list[Any]]:
    """(the Response, the stream's events): streamed, the Response is the terminal event's,
    which must be the one terminal event, last."""
    if not stream:
        return client.responses.create(**kwargs), []
    events = list(client.responses.create(stream=True, **kwargs))
    assert_one_terminal([e.type for e in events])
    return events[-1].response, events


def assert_one_terminal(kinds: list[str]) -> None:
    assert [k for k in kinds if k in TERMINAL] == kinds[-1:], kinds
    assert kinds[-1] in TERMINAL, kinds


def raw_events(proxy: Proxy, body: dict[str, Any], path: str = "/v1/responses") -> list[dict[str, Any]]:
    """The proxy's SSE events as parsed JSON, read with a plain HTTP client."""
    with httpx.stream("POST", proxy.url + path, headers=proxy.headers, json=body, timeout=30) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        text = response.read().decode()
    events = []
    for block in text.split("\n\n"):
        lines = block.strip().splitlines()
        if not lines:
            continue
        assert lines[0].startswith("event: ") and lines[1].startswith("data: "), block
        event = json.loads(lines[1][len("data: ") :])
        assert event["type"] == lines[0][len("event: ") :]
        events.append(event)
    return events


# --------------------------------------------------------------------------- text


@pytest.mark.parametrize("model", MODELS)
def test_non_stream(client: openai.OpenAI, emulator: Emulator, model: str) -> None:
    result = client.responses.create(model=model, input="hello there")
    assert result.status == "completed"
    assert result.output_text == f"Hello from emulated {model}: hello there"
    assert result.usage is not None and result.usage.input_tokens > 0 and result.usage.output_tokens > 0
    assert result.usage.total_tokens == result.usage.input_tokens + result.usage.output_tokens
    sent = emulator.last_request(MODELS[model])
    assert sent.status == 200
    assert sent.body["model"] == model
    assert sent.header("x-initiator") == "user"


def test_responses_headers_upstream(client: openai.OpenAI, emulator: Emulator) -> None:
    client.responses.create(model="gpt-5.3-codex", input="hi", service_tier="priority")
    sent = emulator.last_request("/responses")
    for name, value in {
        "copilot-integration-id": "vscode-chat",
        "editor-version": "vscode/1.104.3",
        "openai-intent": "conversation-agent",
        "x-interaction-type": "conversation-agent",
        "x-github-api-version": "2025-10-01",
        "x-initiator": "user",
    }.items():
        assert sent.header(name) == value, name
    assert sent.header("x-agent-task-id") == sent.header("x-request-id")
    assert "service_tier" not in sent.body  # Copilot does not take it


@pytest.mark.parametrize("model", MODELS)
def test_stream(client: openai.OpenAI, emulator: Emulator, model: str) -> None:
    # The SDK's stream helper raises when an item's id changes between added and done,
    # which Copilot's own stream does: the proxy keeps the first id.
    with client.responses.stream(model=model, input="stream please") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert_one_terminal(kinds)
    assert kinds[0] == "response.created"
    assert "response.output_text.delta" in kinds
    assert final.output_text == f"Hello from emulated {model}: stream please"
    assert final.usage is not None and final.usage.total_tokens > 0
    assert emulator.last_request(MODELS[model]).body["stream"] is True


def test_stream_item_ids_match_between_added_and_done(proxy: Proxy) -> None:
    events = raw_events(proxy, {"model": "gpt-5.3-codex", "input": "ids", "stream": True})
    added = {e["output_index"]: e["item"]["id"] for e in events if e["type"] == "response.output_item.added"}
    done = {e["output_index"]: e["item"]["id"] for e in events if e["type"] == "response.output_item.done"}
    assert added and added == done
    final = events[-1]["response"]["output"]
    assert [item["id"] for item in final] == [added[i] for i in sorted(added)]
    for event in events:
        if "item_id" in event:
            assert event["item_id"] == added[event["output_index"]]


def test_unversioned_path_and_usage_with_cached_tokens(proxy: Proxy) -> None:
    events = raw_events(proxy, {"model": "gpt-5.3-codex", "input": "cached [[cached:3]]", "stream": True}, "/responses")
    usage = events[-1]["response"]["usage"]
    assert usage["input_tokens_details"]["cached_tokens"] == 3
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def test_reasoning_survives_the_round_trip(client: openai.OpenAI, emulator: Emulator) -> None:
    """Codex's way: encrypted reasoning asked for, store false, the whole history replayed."""
    asked = {"include": ["reasoning.encrypted_content"], "store": False, "reasoning": {"effort": "high"}}
    first = client.responses.create(model="gpt-5.3-codex", input="think", **asked)
    reasoning = [item for item in first.output if item.type == "reasoning"]
    assert reasoning and reasoning[0].encrypted_content
    history = [{"role": "user", "content": "think"}, *[item.model_dump(exclude_none=True) for item in first.output]]
    second = client.responses.create(
        model="gpt-5.3-codex", input=[*history, {"role": "user", "content": "again"}], **asked
    )
    assert second.output_text == "Hello from emulated gpt-5.3-codex: again"
    assert emulator.last_request("/responses").status == 200  # the emulator verified the encrypted content


PNG = (  # one transparent pixel
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.mark.parametrize("model", MODELS)
def test_image_input_sends_the_vision_header(client: openai.OpenAI, emulator: Emulator, model: str) -> None:
    image = {"type": "input_image", "image_url": PNG, "detail": "auto"}
    content = [{"type": "input_text", "text": "what is this"}, image]
    result = client.responses.create(model=model, input=[{"role": "user", "content": content}])
    assert result.output_text.startswith(f"Hello from emulated {model}")
    sent = emulator.last_request(MODELS[model])
    assert sent.status == 200 and sent.header("copilot-vision-request") == "true"


# --------------------------------------------------------------------------- tools


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("model", MODELS)
def test_function_call_round_trip(client: openai.OpenAI, emulator: Emulator, model: str, stream: bool) -> None:
    question = {"role": "user", "content": 'Weather in Paris? [[tool:get_weather {"city": "Paris"}]]'}
    asked: dict[str, Any] = {"tools": [WEATHER], "include": ["reasoning.encrypted_content"], "store": False}
    first, _ = create(client, stream=stream, model=model, input=[question], **asked)
    calls = [item for item in first.output if item.type == "function_call"]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("get_weather", {"city": "Paris"})]
    assert calls[0].call_id
    history = [question, *[item.model_dump(exclude_none=True) for item in first.output]]
    result = {"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny, 21 C"}
    second, _ = create(client, stream=stream, model=model, input=[*history, result], **asked)
    assert second.output_text == f'Hello from emulated {model}: the get_weather tool returned "sunny, 21 C".'
    sent = emulator.last_request(MODELS[model])
    assert sent.status == 200
    assert sent.header("x-initiator") == "agent"  # the last item is a tool output


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("model", ["gpt-5.5", "gpt-4.1", "claude-sonnet-4.5"])
def test_custom_tool_round_trip(client: openai.OpenAI, emulator: Emulator, model: str, stream: bool) -> None:
    """Codex's freeform apply_patch: Copilot refuses `custom` tools, so it goes up as a
    function; the call comes back as a custom_tool_call and goes up again as a function call."""
    emulator.script({"tool_calls": [{"name": "apply_patch", "arguments": {"input": PATCH}}]})
    question = {"role": "user", "content": "Add hello.txt"}
    first, events = create(client, stream=stream, model=model, input=[question], tools=[APPLY_PATCH])
    calls = [item for item in first.output if item.type == "custom_tool_call"]
    assert [(c.name, c.input) for c in calls] == [("apply_patch", PATCH)]
    if stream:
        streamed = "".join(e.delta for e in events if e.type == "response.custom_tool_call_input.delta")
        assert streamed == PATCH
        done = [e.item for e in events if e.type == "response.output_item.done"]
        assert [(i.type, i.input) for i in done if i.type == "custom_tool_call"] == [("custom_tool_call", PATCH)]
    upstream_tools = emulator.last_request(MODELS.get(model, "/responses")).body["tools"]
    assert all(tool.get("type") != "custom" for tool in upstream_tools)

    history = [question, *[item.model_dump(exclude_none=True) for item in first.output]]
    output = {"type": "custom_tool_call_output", "call_id": calls[0].call_id, "output": "Done"}
    second, _ = create(client, stream=stream, model=model, input=[*history, output], tools=[APPLY_PATCH])
    assert second.output_text == f'Hello from emulated {model}: the apply_patch tool returned "Done".'
    assert emulator.last_request(MODELS.get(model, "/responses")).status == 200


def test_custom_call_goes_up_as_a_function_call(client: openai.OpenAI, emulator: Emulator) -> None:
    history = [
        {"role": "user", "content": "Add hello.txt"},
        {"type": "custom_tool_call", "call_id": "call_1", "name": "apply_patch", "input": PATCH},
        {"type": "custom_tool_call_output", "call_id": "call_1", "output": "Done"},
    ]
    client.responses.create(model="gpt-5.5", input=history, tools=[APPLY_PATCH])
    items = emulator.last_request("/responses").body["input"]
    assert items[1]["type"] == "function_call" and json.loads(items[1]["arguments"]) == {"input": PATCH}
    assert items[2] == {"type": "function_call_output", "call_id": "call_1", "output": "Done"}


# --------------------------------------------------------------------------- initiator


def test_codex_compaction_is_the_agents(proxy: Proxy, emulator: Emulator) -> None:
    body = {"model": "gpt-5.3-codex", "input": [{"role": "user", "content": "Summarise the conversation"}]}
    metadata = json.dumps({"session_id": "s-1", "turn_id": "t-1", "request_kind": "compaction"})
    response = httpx.post(
        proxy.url + "/v1/responses",
        headers={**proxy.headers, "x-codex-turn-metadata": metadata, "session-id": "s-1"},
        json=body,
        timeout=30,
    )
    assert response.status_code == 200
    sent = emulator.last_request("/responses")
    assert sent.header("x-initiator") == "agent"
    assert sent.header("openai-intent") == "conversation-other"
    interaction = sent.header("x-interaction-id")
    assert interaction and "s-1" not in interaction
    httpx.post(proxy.url + "/v1/responses", headers={**proxy.headers, "session-id": "s-1"}, json=body, timeout=30)
    assert emulator.last_request("/responses").header("x-interaction-id") == interaction
    assert emulator.last_request("/responses").header("x-initiator") == "user"


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize("model", MODELS)
def test_upstream_failing_mid_stream_ends_in_response_failed(proxy: Proxy, model: str) -> None:
    events = raw_events(proxy, {"model": model, "input": "break [[fail-midstream]]", "stream": True})
    assert_one_terminal([e["type"] for e in events])
    assert events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["error"]["message"]


def test_response_failed_from_copilot_is_passed_on(proxy: Proxy) -> None:
    events = raw_events(proxy, {"model": "gpt-5.3-codex", "input": "fail [[response-failed]]", "stream": True})
    assert_one_terminal([e["type"] for e in events])
    assert events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["error"]["code"] == "server_error"
    assert events[-1]["response"]["error"]["message"]


# The emulator's /v1/messages cuts only streams short, not JSON bodies.
@pytest.mark.parametrize("model", ["gpt-5.3-codex", "gpt-4.1"])
def test_upstream_failing_mid_body_is_a_502(client: openai.OpenAI, model: str) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client.responses.create(model=model, input="break [[fail-midstream]]")
    assert caught.value.status_code == 502
    body = caught.value.response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}


def test_json_answer_to_a_stream_request_becomes_events(client: openai.OpenAI, emulator: Emulator) -> None:
    emulator.script({"content": "one piece", "no_stream": True})
    _, events = create(client, stream=True, model="gpt-5.3-codex", input="hi")
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "one piece"


def test_upstream_error_keeps_its_status_and_code(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        client.responses.create(model="gpt-5.3-codex", input="[[error:429 slow down]]")
    assert caught.value.response.json()["error"]["message"] == "slow down"


def test_unknown_model_is_a_404_in_openai_format(proxy: Proxy) -> None:
    response = httpx.post(
        proxy.url + "/v1/responses", headers=proxy.headers, json={"model": "gpt-9", "input": "x"}, timeout=30
    )
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["param"] == "model" and error["code"] == "model_not_found" and "gpt-9" in error["message"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "x"}, "model"),
        ({"model": "gpt-5.3-codex", "input": 5}, "input"),
        ({"model": "gpt-5.3-codex", "input": "x", "stream": "yes"}, "stream"),
        ({"model": "gpt-4.1", "input": "x", "previous_response_id": "resp_1"}, "previous_response_id"),
    ],
)
def test_bad_requests_are_400s_in_openai_format(proxy: Proxy, body: dict[str, Any], param: str) -> None:
    response = httpx.post(proxy.url + "/v1/responses", headers=proxy.headers, json=body, timeout=30)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert httpx.get(proxy.url + "/", timeout=5).status_code == 200  # still serving
