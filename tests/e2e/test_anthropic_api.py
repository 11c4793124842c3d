"""The Anthropic surface through the real proxy, driven by the official anthropic SDK,
on the chat-completions translation: this file's proxy runs with --no-native-messages
(test_anthropic_native.py has the native /v1/messages path)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from copilot_hybrid.emulator import Emulator
from tests.support import API_KEY, Proxy, claude_code_request

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module", params=["no-key", "api-key"])
def proxy(
    request: pytest.FixtureRequest, emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    """conftest's `proxy` (with and without a client key), with --no-native-messages."""
    keyed = request.param == "api-key"
    running = Proxy(
        emulator,
        tmp_path_factory.mktemp(f"home-chat-{request.param}"),
        "--max-body-bytes",
        str(1024 * 1024),
        "--no-native-messages",
        api_key=API_KEY if keyed else None,
    )
    yield running
    running.stop()


MODEL = "claude-sonnet-4-5-20250929"  # what Claude Code sends; Copilot calls it claude-sonnet-4.5
TOOLS: list[dict[str, Any]] = [
    {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
]


@pytest.fixture
def client(proxy: Proxy) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=proxy.url, api_key=proxy.api_key or "dummy", max_retries=0, timeout=30)


def test_messages_non_stream(client: anthropic.Anthropic, emulator: Emulator) -> None:
    message = client.messages.create(model=MODEL, max_tokens=200, messages=[{"role": "user", "content": "hi there"}])
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello from emulated claude-sonnet-4.5: hi there"
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens > 0
    sent = emulator.last_request("/chat/completions")
    assert sent.body["model"] == "claude-sonnet-4.5"
    assert sent.header("x-initiator") == "user"


def test_beta_query_and_header(client: anthropic.Anthropic, emulator: Emulator) -> None:
    # The beta client calls /v1/messages?beta=true with an anthropic-beta header, as Claude Code does.
    message = client.beta.messages.create(
        model=MODEL,
        max_tokens=100,
        messages=[{"role": "user", "content": "beta"}],
        betas=["interleaved-thinking-2025-05-14"],
    )
    assert message.content[0].type == "text"
    assert emulator.last_request("/chat/completions").body["model"] == "claude-sonnet-4.5"


def test_thinking_reaches_copilot_as_its_budget(emulator: Emulator, proxy: Proxy) -> None:
    """Claude Code 2.1's adaptive thinking and explicit budgets become the
    thinking_budget the model advertises in Copilot's model list."""
    for thinking, expected in (({"type": "adaptive"}, 7_999), ({"type": "enabled", "budget_tokens": 2_000}, 2_000)):
        response = httpx.post(
            f"{proxy.url}/v1/messages",
            headers=proxy.headers,
            json={
                "model": MODEL,
                "max_tokens": 8_000,
                "thinking": thinking,
                "messages": [{"role": "user", "content": "think"}],
            },
            timeout=30,
        )
        assert response.status_code == 200, response.text
        assert emulator.last_request("/chat/completions").body["thinking_budget"] == expected


def test_messages_stream(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model=MODEL, max_tokens=200, messages=[{"role": "user", "content": "stream it"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello from emulated claude-sonnet-4.5: stream it"
    assert final.stop_reason == "end_turn"


def test_stream_request_answered_with_json_upstream_still_streams(
    client: anthropic.Anthropic, emulator: Emulator
) -> None:
    """Upstream ignored `stream` and sent one JSON body: the client still gets events."""
    emulator.script({"no_stream": True, "content": "one piece"})
    with client.messages.stream(model=MODEL, max_tokens=200, messages=[{"role": "user", "content": "x"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "one piece" and final.stop_reason == "end_turn"
    assert emulator.last_request("/chat/completions").body["stream"] is True


def test_tool_use_round_trip(client: anthropic.Anthropic, emulator: Emulator) -> None:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": 'What is the weather? [[tool:get_weather {"city":"Paris"}]]'}
    ]
    first = client.messages.create(model=MODEL, max_tokens=300, tools=TOOLS, messages=messages)  # type: ignore[arg-type]
    assert first.stop_reason == "tool_use"
    tool_use = next(block for block in first.content if block.type == "tool_use")
    assert tool_use.name == "get_weather" and tool_use.input == {"city": "Paris"}
    messages += [
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": tool_use.id, "content": "sunny, 21 C"},
                {"type": "text", "text": "<system-reminder>keep going</system-reminder>"},
            ],
        },
    ]
    # Streamed second turn, as Claude Code does it.
    with client.messages.stream(model=MODEL, max_tokens=300, tools=TOOLS, messages=messages) as stream:  # type: ignore[arg-type]
        final = stream.get_final_message()
    assert final.stop_reason == "end_turn"
    assert any(block.type == "text" and block.text for block in final.content)
    sent = emulator.last_request("/chat/completions")
    assert sent.header("x-initiator") == "agent"  # a tool result continues the agent's loop
    assert any(m["role"] == "tool" and m["tool_call_id"] == tool_use.id for m in sent.body["messages"])


def test_streamed_tool_use(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model=MODEL,
        max_tokens=300,
        tools=TOOLS,  # type: ignore[arg-type]
        messages=[{"role": "user", "content": 'Look it up [[tool:get_weather {"city":"Oslo"}]]'}],
    ) as stream:
        final = stream.get_final_message()
    tool_use = next(block for block in final.content if block.type == "tool_use")
    assert tool_use.input == {"city": "Oslo"}
    assert final.stop_reason == "tool_use"


def test_count_tokens(client: anthropic.Anthropic) -> None:
    small = client.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "hello"}])
    large = client.messages.count_tokens(
        model=MODEL,
        tools=TOOLS,  # type: ignore[arg-type]
        messages=[{"role": "user", "content": "hello " * 200}],
    )
    assert 1 < small.input_tokens < large.input_tokens
    # An unknown model is counted with o200k_base, never answered with 1.
    unknown = client.messages.count_tokens(model="mystery-model", messages=[{"role": "user", "content": "hello " * 50}])
    assert unknown.input_tokens > 40


def test_upstream_error_in_anthropic_format(client: anthropic.Anthropic, proxy: Proxy) -> None:
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "[[error:400 nope]]"}])
    assert info.value.status_code == 400
    assert info.value.body == {"type": "error", "error": {"type": "invalid_request_error", "message": "nope"}}
    with pytest.raises(anthropic.InternalServerError) as server_info:
        client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "[[error:503]]"}])
    assert server_info.value.status_code == 503
    # An error before the stream starts is a plain HTTP error, even for stream=true.
    response = httpx.post(
        proxy.url + "/v1/messages",
        headers=proxy.headers,
        json={
            "model": MODEL,
            "max_tokens": 10,
            "stream": True,
            "messages": [{"role": "user", "content": "[[error:429]]"}],
        },
        timeout=10,
    )
    assert response.status_code == 429
    assert response.json()["error"]["type"] == "rate_limit_error"


def test_midstream_failure_sends_error_event(proxy: Proxy, client: anthropic.Anthropic) -> None:
    body = {
        "model": MODEL,
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": "tell me a long story [[fail-midstream]]"}],
    }
    with httpx.stream("POST", proxy.url + "/v1/messages", headers=proxy.headers, json=body, timeout=30) as response:
        assert response.status_code == 200
        raw = b"".join(response.iter_bytes()).decode()
    events = [line.split(": ", 1)[1] for line in raw.splitlines() if line.startswith("event: ")]
    assert events[0] == "message_start"
    assert events[-1] == "error"
    assert "message_stop" not in events
    with pytest.raises(anthropic.APIError):  # the SDK turns the error event into an exception
        with client.messages.stream(
            model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "again [[fail-midstream]]"}]
        ) as stream:
            for _ in stream:
                pass


def _anthropic_error(response: httpx.Response) -> dict[str, Any]:
    data = response.json()
    assert data["type"] == "error"
    assert set(data["error"]) == {"type", "message"}
    return dict(data["error"])


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/count_tokens"])
@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"{oops", "not valid JSON"),
        (b'"text"', "JSON object"),
        (b'{"model": "claude-sonnet-4.5", "max_tokens": 5, "messages": "hi"}', "`messages`"),
        (b'{"model": ["x"], "max_tokens": 5, "messages": []}', "`model`"),
    ],
)
def test_bad_requests_are_400_in_anthropic_format(proxy: Proxy, path: str, body: bytes, needle: str) -> None:
    response = httpx.post(proxy.url + path, headers=proxy.headers, content=body, timeout=10)
    assert response.status_code == 400
    error = _anthropic_error(response)
    assert error["type"] == "invalid_request_error"
    assert needle in error["message"]


def test_bad_content_blocks_are_400(proxy: Proxy) -> None:
    body = {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "image"}]}]}
    response = httpx.post(proxy.url + "/v1/messages", headers=proxy.headers, json=body, timeout=10)
    assert response.status_code == 400
    assert _anthropic_error(response)["type"] == "invalid_request_error"


def test_unknown_anthropic_route_and_oversized_body(proxy: Proxy) -> None:
    response = httpx.post(proxy.url + "/v1/messages/batches", headers=proxy.headers, json={}, timeout=10)
    assert response.status_code == 404
    assert _anthropic_error(response)["type"] == "not_found_error"
    big = b'{"model":"x","max_tokens":1,"messages":[{"role":"user","content":"' + b"y" * (1024 * 1024) + b'"}]}'
    response = httpx.post(proxy.url + "/v1/messages?beta=true", headers=proxy.headers, content=big, timeout=30)
    assert response.status_code == 413
    assert _anthropic_error(response)["type"] == "request_too_large"


def test_expired_copilot_token_is_refreshed_and_retried(client: anthropic.Anthropic, emulator: Emulator) -> None:
    client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "warm up"}])
    before = len(emulator.requests_to("/copilot_internal/v2/token"))
    emulator.expire_copilot_tokens()  # Copilot now answers 401 "token expired" to the proxy's token
    message = client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "after"}])
    assert message.content[0].type == "text"
    chats = emulator.requests_to("/chat/completions")
    assert [r.status for r in chats[-2:]] == [401, 200]
    assert len(emulator.requests_to("/copilot_internal/v2/token")) == before + 1


def test_thinking_round_trip_keeps_signatures_on_the_chat_translation(
    client: anthropic.Anthropic, emulator: Emulator
) -> None:
    """Claude's thinking on Copilot's chat API is `reasoning_text` + `reasoning_opaque`:
    it comes back as a signed thinking block and goes out again unchanged (the
    emulator refuses a signature it did not issue)."""
    question: list[dict[str, Any]] = [
        {"role": "user", "content": 'Think, then look it up [[tool:get_weather {"city":"Rome"}]]'}
    ]
    with client.messages.stream(
        model="claude-sonnet-4-6",
        max_tokens=4000,
        thinking={"type": "adaptive"},  # type: ignore[typeddict-item]
        tools=TOOLS,  # type: ignore[arg-type]
        messages=question,  # type: ignore[arg-type]
    ) as stream:
        first = stream.get_final_message()
    thinking = next(block for block in first.content if block.type == "thinking")
    assert thinking.thinking.startswith("Emulated thinking about: Think, then look it up")
    assert thinking.signature
    tool_use = next(block for block in first.content if block.type == "tool_use")
    follow_up = [
        *question,
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "rainy"}]},
    ]
    second = client.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=4000,
        thinking={"type": "adaptive"},  # type: ignore[typeddict-item]
        tools=TOOLS,  # type: ignore[arg-type]
        messages=follow_up,  # type: ignore[arg-type]
    )
    assert second.content[0].type == "thinking" and second.content[0].signature
    sent = emulator.last_request("/chat/completions")
    replayed = next(m for m in sent.body["messages"] if m["role"] == "assistant")
    assert replayed["reasoning_opaque"] == thinking.signature
    assert replayed["reasoning_text"] == thinking.thinking
    # A tampered signature is Copilot's 400, in Anthropic's format.
    follow_up[1]["content"][0]["signature"] = "forged"
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(model="claude-sonnet-4-6", max_tokens=4000, tools=TOOLS, messages=follow_up)  # type: ignore[arg-type]
    assert "Invalid signature" in info.value.message


def test_compaction_is_agent_initiated_on_the_chat_translation(proxy: Proxy, emulator: Emulator) -> None:
    """Claude Code's compaction request (recorded) does not spend a premium request on either path."""
    recorded = claude_code_request("compaction", signed=True)
    response = httpx.post(
        proxy.url + "/v1/messages?beta=true",
        headers={**proxy.headers, "anthropic-beta": recorded["headers"]["anthropic-beta"]},
        json=recorded["body"],
        timeout=30,
    )
    assert response.status_code == 200, response.text
    sent = emulator.last_request("/chat/completions")
    assert sent.body["model"] == "claude-opus-5.5"
    assert sent.header("x-initiator") == "agent"
