"""Native /v1/messages through the real proxy (models that list it go to Copilot's own
Anthropic endpoint): the anthropic SDK, Claude Code's recorded requests and what Copilot
receives from them (the emulator's record), errors in Anthropic's format, model
resolution, count_tokens and /v1/models. test_anthropic_api.py has the chat translation."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from copilot_hybrid.copilot.headers import messages_initiator
from copilot_hybrid.copilot.registry import parse_models
from copilot_hybrid.copilot.resolution import resolve_model
from copilot_hybrid.emulator import Emulator
from copilot_hybrid.emulator.catalog import default_models
from copilot_hybrid.emulator.messages import sign_thinking
from copilot_hybrid.translate.messages_native import ALLOWED_BETAS, MESSAGE_FIELDS, prepare_messages_request
from tests.support import CLAUDE_CODE_REQUESTS, Proxy, claude_code_request

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MODEL = "claude-sonnet-4-6"  # Copilot's claude-sonnet-4.6: /v1/messages, adaptive thinking
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


def recorded(name: str) -> tuple[dict[str, Any], str]:
    """A recorded Claude Code request as (body, anthropic-beta), its thinking signed."""
    data = claude_code_request(name, signed=True)
    return data["body"], str(data["headers"]["anthropic-beta"])


def error_message(exc: anthropic.APIStatusError) -> str:
    body = exc.body
    assert isinstance(body, dict) and body["type"] == "error", body
    return str(body["error"]["message"])


def events_of(raw: bytes) -> list[str]:
    return [line.split(": ", 1)[1] for line in raw.decode().splitlines() if line.startswith("event: ")]


def _cache_scopes(value: Any) -> int:
    if isinstance(value, dict):
        here = int(isinstance(value.get("cache_control"), dict) and "scope" in value["cache_control"])
        return here + sum(_cache_scopes(v) for v in value.values())
    if isinstance(value, list):
        return sum(_cache_scopes(v) for v in value)
    return 0


# --------------------------------------------------------------------------- the SDK, both ways


def test_non_stream_answer_passes_through(client: anthropic.Anthropic, emulator: Emulator) -> None:
    message = client.messages.create(
        model="claude-opus-5-5", max_tokens=200, messages=[{"role": "user", "content": "hi there"}]
    )
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello from emulated claude-opus-5.5: hi there"
    assert message.model == "claude-opus-5.5" and message.stop_reason == "end_turn"
    assert message.usage.cache_read_input_tokens == 0  # Copilot's Anthropic usage, untranslated
    sent = emulator.last_request("/v1/messages")
    assert sent.body == {
        "model": "claude-opus-5.5",
        "max_tokens": 200,
        "messages": [{"role": "user", "content": "hi there"}],
    }
    expected_headers = {
        "openai-intent": "messages-proxy",
        "x-interaction-type": "messages-proxy",
        "anthropic-version": "2023-06-01",
        "x-github-api-version": "2025-10-01",
        "x-initiator": "user",
        "copilot-integration-id": "vscode-chat",  # not Claude Code: the editor identity stays
        "editor-version": "vscode/1.104.3",
    }
    for name, value in expected_headers.items():
        assert sent.header(name) == value, name
    assert sent.header("x-agent-task-id") == sent.header("x-request-id")
    assert sent.header("anthropic-beta") is None
    assert not emulator.requests_to("/chat/completions")


def test_stream_is_copilots_minus_its_own_events(proxy: Proxy, emulator: Emulator) -> None:
    body = {"model": MODEL, "max_tokens": 300, "stream": True, "messages": [{"role": "user", "content": "stream"}]}
    with httpx.stream("POST", proxy.url + "/v1/messages", headers=proxy.headers, json=body, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        through_proxy = b"".join(response.iter_bytes())
    sent = emulator.last_request("/v1/messages")
    # The same request straight to the emulated Copilot (its answers are deterministic).
    direct = httpx.post(emulator.copilot_url + "/v1/messages", headers=sent.headers, json=sent.body, timeout=30)
    copilot_events = [e + b"\n\n" for e in direct.content.split(b"\n\n") if e.strip()]
    assert any(e.startswith(b"event: copilot_usage") for e in copilot_events)
    assert through_proxy == b"".join(e for e in copilot_events if not e.startswith(b"event: copilot_usage"))
    names = events_of(through_proxy)
    assert names[:2] == ["message_start", "ping"] and names[-1] == "message_stop"


def test_sdk_stream_and_a_stream_answered_with_json(client: anthropic.Anthropic, emulator: Emulator) -> None:
    with client.messages.stream(model=MODEL, max_tokens=200, messages=[{"role": "user", "content": "go"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello from emulated claude-sonnet-4.6: go" and final.stop_reason == "end_turn"
    # Copilot ignoring `stream` and answering JSON: the client still gets the events it asked for.
    emulator.script({"no_stream": True, "content": "one piece"})
    with client.messages.stream(model=MODEL, max_tokens=200, messages=[{"role": "user", "content": "x"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "one piece" and final.stop_reason == "end_turn"
    assert emulator.last_request("/v1/messages").body["stream"] is True
    # ... with thinking and a tool call: the SDK reassembles exactly Copilot's message.
    script = {
        "no_stream": True,
        "content": "Let me look.",
        "tool_calls": [{"name": "get_weather", "arguments": {"city": "Ōsaka"}}],
    }
    emulator.script(script)
    with client.messages.stream(
        model=MODEL,
        max_tokens=2000,
        thinking={"type": "adaptive"},  # type: ignore[typeddict-item]
        tools=TOOLS,  # type: ignore[arg-type]
        messages=[{"role": "user", "content": "weather?"}],
    ) as stream:
        final = stream.get_final_message()
    sent = emulator.last_request("/v1/messages")
    emulator.script(script)
    copilots = httpx.post(emulator.copilot_url + "/v1/messages", headers=sent.headers, json=sent.body).json()
    assert [block.type for block in final.content] == ["thinking", "text", "tool_use"]
    assert final.model_dump(exclude_none=True) == anthropic.types.Message.model_validate(copilots).model_dump(
        exclude_none=True
    )


def test_tool_round_trip(client: anthropic.Anthropic, emulator: Emulator) -> None:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": 'What is the weather? [[tool:get_weather {"city":"Paris"}]]'}
    ]
    first = client.messages.create(model=MODEL, max_tokens=300, tools=TOOLS, messages=messages)  # type: ignore[arg-type]
    assert first.stop_reason == "tool_use"
    tool_use = next(block for block in first.content if block.type == "tool_use")
    assert tool_use.id.startswith("toolu_") and tool_use.input == {"city": "Paris"}
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
    with client.messages.stream(model=MODEL, max_tokens=300, tools=TOOLS, messages=messages) as stream:  # type: ignore[arg-type]
        final = stream.get_final_message()
    assert final.stop_reason == "end_turn"
    assert final.content[0].type == "text" and 'the get_weather tool returned "sunny, 21 C' in final.content[0].text
    sent = emulator.last_request("/v1/messages")
    assert sent.header("x-initiator") == "agent"  # a tool result continues the agent's loop
    # The reminder is folded into the tool result, so the turn reads as the agent's (reference §4.3).
    assert sent.body["messages"][-1]["content"] == [
        {
            "type": "tool_result",
            "tool_use_id": tool_use.id,
            "content": [
                {"type": "text", "text": "sunny, 21 C"},
                {"type": "text", "text": "<system-reminder>keep going</system-reminder>"},
            ],
        }
    ]
    assert sent.body["messages"][1]["content"][0]["id"] == tool_use.id


def test_thinking_round_trip_keeps_signatures_intact(client: anthropic.Anthropic, emulator: Emulator) -> None:
    question: list[dict[str, Any]] = [
        {"role": "user", "content": 'Think, then look it up [[tool:get_weather {"city":"Rome"}]]'}
    ]
    with client.messages.stream(
        model=MODEL,
        max_tokens=4000,
        thinking={"type": "adaptive"},  # type: ignore[typeddict-item]
        tools=TOOLS,  # type: ignore[arg-type]
        messages=question,  # type: ignore[arg-type]
    ) as stream:
        first = stream.get_final_message()
    thinking = first.content[0]
    assert thinking.type == "thinking" and thinking.signature == sign_thinking(thinking.thinking)
    tool_use = next(block for block in first.content if block.type == "tool_use")
    follow_up = [
        *question,
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "rainy"}]},
    ]
    second = client.messages.create(
        model=MODEL,
        max_tokens=4000,
        thinking={"type": "adaptive"},  # type: ignore[typeddict-item]
        tools=TOOLS,  # type: ignore[arg-type]
        messages=follow_up,  # type: ignore[arg-type]
    )
    assert second.content[0].type == "thinking"  # Copilot accepted the replayed signature
    replayed = emulator.last_request("/v1/messages").body["messages"][1]["content"][0]
    assert replayed == {"type": "thinking", "thinking": thinking.thinking, "signature": thinking.signature}
    tampered = copy.deepcopy(follow_up)
    tampered[1]["content"][0]["signature"] = "Ep" + "A" * 43 + "="
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(model=MODEL, max_tokens=4000, tools=TOOLS, messages=tampered)  # type: ignore[arg-type]
    assert "Invalid `signature` in `thinking` block" in info.value.message


# --------------------------------------------------------------------------- what Copilot receives


@pytest.mark.parametrize("name", CLAUDE_CODE_REQUESTS)
def test_claude_codes_requests_reach_copilot_as_the_reference_prescribes(
    proxy: Proxy, emulator: Emulator, name: str
) -> None:
    """Each request recorded from Claude Code 2.1.332, through the proxy: Copilot (which
    refuses them raw: eight betas, inline system turns, `safeguards`...) gets the
    prepared request of reference §4 with the headers of §3.4, and answers 200."""
    body, beta = recorded(name)
    response = httpx.post(
        proxy.url + "/v1/messages?beta=true",
        headers={**proxy.headers, "anthropic-beta": beta, "anthropic-version": "2023-06-01"},
        json=body,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    sent = emulator.last_request("/v1/messages")
    # Headers (§3.4): the allow-listed betas in the client's order, the messages-proxy
    # identity of Copilot's own Claude agent (Claude Code's metadata names a session).
    assert sent.header("anthropic-beta") == ",".join(b for b in beta.split(",") if b in ALLOWED_BETAS)
    assert sent.header("openai-intent") == sent.header("x-interaction-type") == "messages-proxy"
    assert (sent.header("user-agent") or "").startswith("vscode_claude_code/")
    assert sent.header("copilot-integration-id") is None
    assert sent.header("x-initiator") == messages_initiator(body)
    # Body (§4): the Copilot id, Messages fields only, no inline system turns, no cache scopes.
    assert sent.body["model"] == body["model"].replace("-5-5", "-5.5")
    assert set(sent.body) <= MESSAGE_FIELDS and "safeguards" not in sent.body
    assert all(m["role"] in ("user", "assistant") for m in sent.body["messages"])
    assert _cache_scopes(sent.body) == 0
    display = (sent.body.get("thinking") or {}).get("display")
    assert display in (None, "summarized", "omitted")
    # ... and exactly the unit-tested preparation, nothing else.
    models = parse_models({"data": default_models()})
    expected = prepare_messages_request(body, model=resolve_model(body["model"], models), anthropic_beta=beta)
    assert sent.body == expected.payload


def test_small_model_takes_claude_codes_side_requests(emulator: Emulator, tmp_path: Path) -> None:
    """--small-model: the session-title probe and compaction go to the small model, the
    conversation stays on the client's."""
    proxy = Proxy(emulator, tmp_path / "home", "--small-model", "claude-haiku-4.5")
    try:
        models = {}
        for name in ("title_probe", "compaction", "first_turn", "tool_result_turn"):
            body, beta = recorded(name)
            response = httpx.post(
                proxy.url + "/v1/messages?beta=true", headers={"anthropic-beta": beta}, json=body, timeout=30
            )
            assert response.status_code == 200, response.text
            models[name] = emulator.last_request("/v1/messages").body["model"]
    finally:
        proxy.stop()
    assert models == {
        "title_probe": "claude-haiku-4.5",
        "compaction": "claude-haiku-4.5",
        "first_turn": "claude-opus-5.5",
        "tool_result_turn": "claude-opus-5.5",
    }


def test_models_without_messages_keep_the_chat_translation(emulator: Emulator, tmp_path: Path) -> None:
    """A Claude entry that lists only /chat/completions is translated, by default."""
    catalogue = default_models()
    for entry in catalogue:
        if entry["id"] == "claude-sonnet-4.5":
            entry["supported_endpoints"] = ["/chat/completions"]
    emulator.configure(models=catalogue)
    proxy = Proxy(emulator, tmp_path / "home")
    try:
        client = anthropic.Anthropic(base_url=proxy.url, api_key="dummy", max_retries=0, timeout=30)
        chat = client.messages.create(
            model="claude-sonnet-4-5", max_tokens=50, messages=[{"role": "user", "content": "a"}]
        )
        native = client.messages.create(
            model="claude-opus-5-5", max_tokens=50, messages=[{"role": "user", "content": "b"}]
        )
    finally:
        proxy.stop()
    assert chat.content[0].type == "text" and chat.content[0].text.startswith("Hello from emulated claude-sonnet-4.5")
    assert native.content[0].type == "text" and native.content[0].text.startswith("Hello from emulated claude-opus-5.5")
    assert [r.body["model"] for r in emulator.requests_to("/chat/completions")] == ["claude-sonnet-4.5"]
    assert [r.body["model"] for r in emulator.requests_to("/v1/messages")] == ["claude-opus-5.5"]


# --------------------------------------------------------------------------- what the user reads


def test_a_model_the_plan_lacks_says_what_to_do(client: anthropic.Anthropic, emulator: Emulator) -> None:
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(model="claude-opus-9", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert info.value.body == {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "Model `claude-opus-9` is not available on this Copilot plan. Claude Opus models it offers: "
            "claude-opus-5.5, claude-opus-5, claude-opus-4.8, claude-opus-4.7, claude-opus-4.6, claude-opus-4.1. "
            "Choose one with `claude --model claude-opus-5.5` or `ANTHROPIC_MODEL=claude-opus-5.5`, or map the id "
            "for every client: `copilot-hybrid serve --model-alias claude-opus-9=claude-opus-5.5` or "
            '`"claude-opus-9" = "claude-opus-5.5"` under [models.aliases] in config.toml.',
        },
    }
    assert not emulator.requests_to("/v1/messages")  # answered by the proxy, not a bare upstream 400


def test_a_responses_only_model_is_served_through_responses(client: anthropic.Anthropic, emulator: Emulator) -> None:
    message = client.messages.create(model="gpt-5.5", max_tokens=100, messages=[{"role": "user", "content": "x"}])
    assert [block.type for block in message.content][-1] == "text"
    assert emulator.last_request("/responses").body["model"] == "gpt-5.5"


def test_copilot_refusing_a_listed_model_is_explained(client: anthropic.Anthropic, emulator: Emulator) -> None:
    refusal = {"error": {"message": "The requested model is not supported.", "code": "model_not_supported"}}
    emulator.fail("/copilot/v1/messages", 400, body=refusal)
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert error_message(info.value).startswith(
        "Copilot refused model claude-sonnet-4.6 (The requested model is not supported.) although its model list "
        "offers it: it may have to be enabled in your GitHub Copilot settings"
    )


def test_a_model_that_left_the_plan_is_explained(emulator: Emulator, tmp_path: Path) -> None:
    """The plan changed after the proxy read the model list: Copilot's bare refusal
    makes the proxy read the list again and answer with the plan's other models."""
    proxy = Proxy(emulator, tmp_path / "home")
    try:
        emulator.configure(unavailable_models=["claude-opus-5.5"])
        client = anthropic.Anthropic(base_url=proxy.url, api_key="dummy", max_retries=0, timeout=30)
        for _ in range(2):  # the second is answered from the reloaded list, without Copilot
            with pytest.raises(anthropic.BadRequestError) as info:
                client.messages.create(
                    model="claude-opus-5-5", max_tokens=10, messages=[{"role": "user", "content": "x"}]
                )
            assert error_message(info.value).startswith(
                "Model `claude-opus-5-5` (Copilot id `claude-opus-5.5`) is not available on this Copilot plan. "
                "Claude Opus models it offers: claude-opus-5, claude-opus-4.8"
            )
    finally:
        proxy.stop()
    assert len(emulator.requests_to("/v1/messages")) == 1
    assert len(emulator.requests_to("/copilot/models")) == 2  # at start, and after the refusal


def test_upstream_errors_keep_anthropics_format(client: anthropic.Anthropic, proxy: Proxy) -> None:
    with pytest.raises(anthropic.RateLimitError) as info:
        client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "[[error:429 slow]]"}])
    assert info.value.body == {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}}
    with pytest.raises(anthropic.InternalServerError):
        client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "[[error:503]]"}])
    body = {
        "model": MODEL,
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": "[[fail-midstream]]"}],
    }
    with httpx.stream("POST", proxy.url + "/v1/messages", headers=proxy.headers, json=body, timeout=30) as response:
        assert response.status_code == 200
        names = events_of(b"".join(response.iter_bytes()))
    assert names[0] == "message_start" and names[-1] == "error" and "message_stop" not in names


# --------------------------------------------------------------------------- count_tokens and /v1/models


def test_count_tokens_asks_copilot_for_messages_models(client: anthropic.Anthropic, emulator: Emulator) -> None:
    counted = client.messages.count_tokens(model="claude-opus-5-5", messages=[{"role": "user", "content": "hello"}])
    sent = emulator.last_request("/v1/messages/count_tokens")
    assert sent.body["model"] == "claude-opus-5.5" and sent.header("x-initiator") == "agent"
    direct = httpx.post(emulator.copilot_url + "/v1/messages/count_tokens", headers=sent.headers, json=sent.body)
    assert counted.input_tokens == direct.json()["input_tokens"]
    # Copilot failing: the local count answers.
    emulator.fail("/copilot/v1/messages/count_tokens", 500)
    assert (
        client.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "hello " * 50}]).input_tokens
        > 40
    )
    # A model without /v1/messages: the local count only.
    before = len(emulator.requests_to("/v1/messages/count_tokens"))
    assert client.messages.count_tokens(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}]).input_tokens > 0
    assert len(emulator.requests_to("/v1/messages/count_tokens")) == before


def test_models_in_anthropics_shape(client: anthropic.Anthropic, proxy: Proxy) -> None:
    listed = list(client.models.list())  # the SDK pages through (20 a page by default)
    ids = [m.id for m in listed]
    assert len(ids) == len(set(ids)) > 20
    assert ids[0] == "claude-opus-5.5" and "claude-haiku-4.5" in ids
    assert "gpt-5.5" in ids  # Responses only, reached through the Responses translators
    assert "text-embedding-3-small" not in ids  # no Anthropic request reaches an embeddings model
    raw = httpx.get(
        proxy.url + "/v1/models", params={"limit": 1000}, headers={**proxy.headers, "anthropic-version": "2023-06-01"}
    ).json()
    assert raw["has_more"] is False and raw["first_id"] == ids[0] and raw["last_id"] == ids[-1]
    opus = raw["data"][0]
    assert opus == {
        "type": "model",
        "id": "claude-opus-5.5",
        "display_name": "Claude Opus 5.5",
        "created_at": "1970-01-01T00:00:00Z",
        "max_input_tokens": 872_000,
        "max_tokens": 128_000,
        "supported_endpoints": ["/v1/messages", "/chat/completions"],
        "routes": {"/v1/messages": "/v1/messages", "/v1/chat/completions": "/chat/completions"},
    }
    one = client.models.retrieve("claude-opus-5-5")  # resolved like a request's model
    assert one.id == "claude-opus-5.5" and one.display_name == "Claude Opus 5.5"
    with pytest.raises(anthropic.BadRequestError):
        client.models.retrieve("claude-opus-9")


def test_models_pages_and_refuses_bad_cursors(proxy: Proxy) -> None:
    headers = {**proxy.headers, "anthropic-version": "2023-06-01"}

    def page(**params: Any) -> httpx.Response:
        return httpx.get(proxy.url + "/v1/models", params=params, headers=headers, timeout=10)

    everything = [m["id"] for m in page(limit=1000).json()["data"]]
    first = page(limit=3).json()
    assert [m["id"] for m in first["data"]] == everything[:3] and first["has_more"] is True
    after = page(limit=3, after_id=first["last_id"]).json()
    assert [m["id"] for m in after["data"]] == everything[3:6]
    before = page(limit=2, before_id=after["first_id"]).json()
    assert [m["id"] for m in before["data"]] == everything[1:3] and before["has_more"] is True
    tail = page(after_id=everything[-2]).json()
    assert [m["id"] for m in tail["data"]] == everything[-1:] and tail["has_more"] is False
    for params, message in (
        ({"limit": 0}, "limit must be an integer from 1 to 1000, not '0'"),
        ({"limit": "many"}, "limit must be an integer from 1 to 1000, not 'many'"),
        ({"after_id": "text-embedding-3-small"}, "after_id 'text-embedding-3-small' is not a model id of this list"),
    ):
        response = page(**params)
        assert response.status_code == 400
        assert response.json() == {"type": "error", "error": {"type": "invalid_request_error", "message": message}}
    response = httpx.get(proxy.url + "/v1/models/claude-opus-9", headers=headers, timeout=10)
    assert response.status_code == 400 and response.json()["type"] == "error"
    openai_style = httpx.get(proxy.url + "/v1/models/claude-opus-9", headers=proxy.headers, timeout=10)
    assert openai_style.status_code == 404 and openai_style.json()["error"]["code"] == "model_not_found"


PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def test_images_carry_the_vision_header(client: anthropic.Anthropic, emulator: Emulator) -> None:
    """Copilot refuses images without `copilot-vision-request: true`, also inside a tool result."""
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}}
    client.messages.create(
        model=MODEL,
        max_tokens=50,
        messages=[{"role": "user", "content": [image, {"type": "text", "text": "what is it?"}]}],  # type: ignore[list-item]
    )
    assert emulator.last_request("/v1/messages").header("copilot-vision-request") == "true"
    client.messages.create(
        model=MODEL,
        max_tokens=50,
        tools=TOOLS,  # type: ignore[arg-type]
        messages=[
            {"role": "user", "content": "screenshot"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [image]}]},  # type: ignore[list-item]
        ],
    )
    sent = emulator.last_request("/v1/messages")
    assert sent.header("copilot-vision-request") == "true" and sent.header("x-initiator") == "agent"
    client.messages.create(model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "no image"}])
    assert emulator.last_request("/v1/messages").header("copilot-vision-request") is None
