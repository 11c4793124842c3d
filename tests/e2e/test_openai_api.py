"""The OpenAI surface through the real proxy, driven by the official openai SDK."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from copilot_hybrid.emulator import Emulator
from tests.support import Proxy


@pytest.fixture
def client(proxy: Proxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.url + "/v1", api_key=proxy.api_key or "dummy", max_retries=0, timeout=30)


def test_models_list(client: openai.OpenAI) -> None:
    models = {m.id: m for m in client.models.list()}
    assert "gpt-4.1" in models and "claude-sonnet-4.5" in models
    assert "gpt-5.5" in models and "text-embedding-3-small" in models  # every model Copilot lists
    opus = models["claude-opus-5.5"].model_dump()
    assert opus["owned_by"] == "Anthropic" and opus["display_name"] == "Claude Opus 5.5"
    assert (opus["context_window"], opus["max_prompt_tokens"], opus["max_output_tokens"]) == (
        1_000_000,
        872_000,
        128_000,
    )
    assert opus["routes"] == {"/v1/messages": "/v1/messages", "/v1/chat/completions": "/chat/completions"}
    # Responses only: the chat and Anthropic APIs reach it through the Responses translators.
    assert models["gpt-5.5"].model_dump()["routes"] == {
        "/v1/chat/completions": "/responses",
        "/v1/messages": "/responses",
    }
    assert models["gpt-4.1"].model_dump()["supported_endpoints"] == ["/chat/completions"]
    assert client.models.retrieve("claude-opus-5-5").id == "claude-opus-5.5"


def test_chat_non_stream(client: openai.OpenAI, emulator: Emulator) -> None:
    result = client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "hello there"}])
    assert result.choices[0].message.content == "Hello from emulated gpt-4.1: hello there"
    sent = emulator.last_request("/chat/completions")
    assert sent.header("x-initiator") == "user"
    assert (sent.header("authorization") or "").startswith("Bearer tid=")
    for name, value in {
        "copilot-integration-id": "vscode-chat",
        "editor-version": "vscode/1.104.3",
        "editor-plugin-version": "copilot-chat/0.26.7",
        "user-agent": "GitHubCopilotChat/0.26.7",
        "openai-intent": "conversation-panel",
        "x-github-api-version": "2025-04-01",
        "x-vscode-user-agent-library-version": "electron-fetch",
    }.items():
        assert sent.header(name) == value, name
    assert len(sent.header("x-request-id") or "") == 36
    assert sent.header("copilot-vision-request") is None
    # max_tokens absent: filled from the model's max_output_tokens, as copilot-api does.
    assert isinstance(sent.body["max_tokens"], int)


def test_request_ids_are_fresh(client: openai.OpenAI, emulator: Emulator) -> None:
    for _ in range(2):
        client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "x"}], max_tokens=5)
    ids = {r.header("x-request-id") for r in emulator.requests_to("/chat/completions")}
    assert len(ids) == 2
    assert all(r.body["max_tokens"] == 5 for r in emulator.requests_to("/chat/completions"))


def test_chat_stream(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="gpt-4.1", messages=[{"role": "user", "content": "stream please"}], stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "Hello from emulated gpt-4.1: stream please"


def test_stream_is_copied_verbatim(proxy: Proxy) -> None:
    body = {"model": "gpt-4.1", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    with httpx.stream(
        "POST", proxy.url + "/chat/completions", headers=proxy.headers, json=body, timeout=30
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = b"".join(response.iter_bytes())
    assert raw.endswith(b"data: [DONE]\n\n")
    assert raw.count(b"data: ") >= 4


def test_tool_call_and_agent_initiator(client: openai.OpenAI, emulator: Emulator) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    messages: list[dict[str, object]] = [{"role": "user", "content": 'Weather? [[tool:get_weather {"city":"Paris"}]]'}]
    first = client.chat.completions.create(model="gpt-4.1", messages=messages, tools=tools)  # type: ignore[arg-type]
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"city": "Paris"}  # type: ignore[union-attr]
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"},
    ]
    second = client.chat.completions.create(model="gpt-4.1", messages=messages, tools=tools)  # type: ignore[arg-type]
    assert second.choices[0].message.content
    assert emulator.last_request("/chat/completions").header("x-initiator") == "agent"


def test_vision_header(client: openai.OpenAI, emulator: Emulator) -> None:
    image = "data:image/png;base64,iVBORw0KGgo="
    client.chat.completions.create(
        model="gpt-4.1",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this"},
                    {"type": "image_url", "image_url": {"url": image}},
                ],
            }
        ],
    )
    assert emulator.last_request("/chat/completions").header("copilot-vision-request") == "true"


def test_embeddings(client: openai.OpenAI) -> None:
    result = client.embeddings.create(model="text-embedding-3-small", input=["one", "two"])
    assert len(result.data) == 2 and len(result.data[0].embedding) > 0


def test_upstream_error_keeps_status_and_readable_message(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "[[error:400 nope]]"}])
    assert info.value.status_code == 400
    body = info.value.body
    assert isinstance(body, dict) and body["message"] == "nope"  # the text, not a JSON string
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "[[error:429]]"}])


def test_a_model_the_plan_lacks_is_a_404_that_says_what_to_do(client: openai.OpenAI, emulator: Emulator) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "x"}])
    assert info.value.code == "model_not_found" and info.value.param == "model"
    body = info.value.body
    assert isinstance(body, dict)
    # Only models the chat API reaches are suggested (Responses-only ones through the translators).
    assert body["message"] == (
        "Model `gpt-9` is not available on this Copilot plan. GPT models it offers: gpt-5.5, gpt-5.4, gpt-5.3-codex, "
        'gpt-5-mini, gpt-5, gpt-4.1, gpt-4o. Choose one in the request (`"model": "gpt-5.5"`), or map the id for '
        'every client: `copilot-hybrid serve --model-alias gpt-9=gpt-5.5` or `"gpt-9" = "gpt-5.5"` under '
        "[models.aliases] in config.toml."
    )
    assert not emulator.requests_to("/chat/completions")


def test_chat_models_are_resolved_and_responses_only_ones_served(client: openai.OpenAI, emulator: Emulator) -> None:
    client.chat.completions.create(model="claude-sonnet-4-5", messages=[{"role": "user", "content": "x"}])
    assert emulator.last_request("/chat/completions").body["model"] == "claude-sonnet-4.5"
    client.chat.completions.create(model="gpt-5.3-codex", messages=[{"role": "user", "content": "x"}])
    assert emulator.last_request("/responses").body["model"] == "gpt-5.3-codex"


def test_midstream_failure_surfaces_as_error(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="gpt-4.1", messages=[{"role": "user", "content": "long answer [[fail-midstream]]"}], stream=True
    )
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass


def test_midstream_failure_non_stream_is_502(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "x [[fail-midstream]]"}])
    assert info.value.status_code == 502


def _openai_error(response: httpx.Response) -> dict[str, object]:
    data = response.json()
    assert set(data) == {"error"}
    assert set(data["error"]) == {"message", "type", "param", "code"}
    return dict(data["error"])


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b"", "empty"),
        (b'{"model": 5, "messages": []}', "`model`"),
        (b'{"model": "gpt-4.1", "messages": "hi"}', "`messages`"),
        (b'{"model": "gpt-4.1", "messages": [], "stream": "yes"}', "`stream`"),
    ],
)
def test_bad_requests_are_400_in_openai_format(proxy: Proxy, body: bytes, needle: str) -> None:
    response = httpx.post(proxy.url + "/v1/chat/completions", headers=proxy.headers, content=body, timeout=10)
    assert response.status_code == 400
    error = _openai_error(response)
    assert error["type"] == "invalid_request_error"
    assert needle in str(error["message"])


def test_embeddings_bad_input(proxy: Proxy) -> None:
    response = httpx.post(
        proxy.url + "/v1/embeddings", headers=proxy.headers, json={"model": "text-embedding-3-small"}, timeout=10
    )
    assert response.status_code == 400
    assert "`input`" in str(_openai_error(response)["message"])


def test_unknown_route_and_method(proxy: Proxy) -> None:
    response = httpx.post(proxy.url + "/v1/nope", headers=proxy.headers, json={}, timeout=10)
    assert response.status_code == 404
    assert "Invalid URL" in str(_openai_error(response)["message"])
    response = httpx.delete(proxy.url + "/v1/models", headers=proxy.headers, timeout=10)
    assert response.status_code == 405
    _openai_error(response)


def test_oversized_body_is_413(proxy: Proxy) -> None:
    big = b'{"model":"gpt-4.1","messages":[{"role":"user","content":"' + b"x" * (1024 * 1024 + 10) + b'"}]}'
    response = httpx.post(proxy.url + "/v1/chat/completions", headers=proxy.headers, content=big, timeout=30)
    assert response.status_code == 413
    assert "limit" in str(_openai_error(response)["message"])

    def chunks() -> object:
        for _ in range(20):
            yield b" " * 100_000

    response = httpx.post(proxy.url + "/v1/chat/completions", headers=proxy.headers, content=chunks(), timeout=30)  # type: ignore[arg-type]
    assert response.status_code == 413


def test_trailing_slash_and_unversioned_paths(proxy: Proxy) -> None:
    assert httpx.get(proxy.url + "/v1/models/", headers=proxy.headers, timeout=10).status_code == 200
    assert httpx.get(proxy.url + "/models", headers=proxy.headers, timeout=10).status_code == 200
    body = {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]}
    assert httpx.post(proxy.url + "/chat/completions/", headers=proxy.headers, json=body, timeout=10).status_code == 200
    emb = {"model": "text-embedding-3-small", "input": "hi"}
    assert httpx.post(proxy.url + "/embeddings", headers=proxy.headers, json=emb, timeout=10).status_code == 200


def test_health_usage_and_no_open_cors(proxy: Proxy) -> None:
    health = httpx.get(proxy.url + "/", timeout=10)  # health needs no key
    assert health.text == "Server running"
    usage = httpx.get(proxy.url + "/usage", headers=proxy.headers, timeout=10)
    assert usage.status_code == 200 and "quota_snapshots" in usage.json()
    assert "access-control-allow-origin" not in usage.headers
    # copilot-api answered any origin with `access-control-allow-origin: *`; a foreign page now gets 403.
    foreign = httpx.get(proxy.url + "/usage", headers={**proxy.headers, "origin": "https://example.org"}, timeout=10)
    assert foreign.status_code == 403
    assert "access-control-allow-origin" not in foreign.headers


def test_token_route_is_off_by_default(proxy: Proxy) -> None:
    response = httpx.get(proxy.url + "/token", headers=proxy.headers, timeout=10)
    assert response.status_code == 404
    assert "tid=" not in response.text


GARBAGE = [
    b"[" * 100_000,
    b'{"model": "gpt-4.1", "messages": [' + b"[" * 50_000 + b"]}",
    b"\xff\xfe\x00garbage",
    b'{"model": "gpt-4.1", "messages": [1, null, "x", {"role": 5}]}',
    b'{"model": "gpt-4.1", "messages": [{"role": "user", "content": {"weird": true}}], "tools": "no"}',
    b'{"model": "claude-sonnet-4.5", "max_tokens": 1e400, "messages": [{"role": "user", "content": "x"}]}',
    b'{"model": "claude-sonnet-4.5", "max_tokens": 5, '
    b'"messages": [{"role": "user", "content": [{"type": "tool_result"}]}]}',
    b'{"model": "claude-sonnet-4.5", "max_tokens": 5, "system": 7, "tools": [1], "messages": [{"role": "x"}]}',
    b'{"model": "\\ud800", "input": [[1, 2]], "messages": []}',
]


@pytest.mark.parametrize(
    "path", ["/v1/chat/completions", "/v1/messages", "/v1/messages/count_tokens", "/v1/embeddings"]
)
def test_garbage_never_takes_the_server_down(proxy: Proxy, path: str) -> None:
    for body in GARBAGE:
        response = httpx.post(proxy.url + path, headers=proxy.headers, content=body, timeout=30)
        assert response.status_code < 500 or response.status_code in (502, 503, 504), (body[:80], response.text)
        assert response.headers["content-type"].startswith("application/json")
    assert httpx.get(proxy.url + "/", timeout=10).text == "Server running"
