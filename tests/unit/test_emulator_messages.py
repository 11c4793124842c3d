"""The emulated Copilot's catalogue and its Anthropic-native endpoints
(/v1/messages, /v1/messages/count_tokens), over real sockets: raw HTTP with
httpx, and the official anthropic SDK pointed straight at the emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from copilot_hybrid.copilot.headers import messages_headers, messages_initiator
from copilot_hybrid.copilot.registry import parse_models
from copilot_hybrid.copilot.resolution import resolve_model
from copilot_hybrid.emulator import Emulator
from copilot_hybrid.emulator.messages import MIN_CACHEABLE_TOKENS, sign_thinking
from copilot_hybrid.translate.messages_native import prepare_messages_request
from tests.support import CLAUDE_CODE_REQUESTS, claude_code_request

pytestmark = pytest.mark.timeout(60)

ALLOWED = "interleaved-thinking-2025-05-14,context-management-2025-06-27,advanced-tool-use-2025-11-20"
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c


def headers(emu: Emulator, **extra: str) -> dict[str, str]:
    return {
        "authorization": f"Bearer {emu.issue_copilot_token()}",
        "editor-version": "vscode/1.104.3",
        **extra,
    }


def body(text: str = "hello there", **fields: Any) -> dict[str, Any]:
    return {"model": "claude-opus-5.5", "max_tokens": 1000, "messages": [{"role": "user", "content": text}], **fields}


def post(emu: Emulator, client: httpx.Client, payload: Any, path: str = "/v1/messages", **extra: str) -> httpx.Response:
    return client.post(emu.copilot_url + path, json=payload, headers=headers(emu, **extra))


def events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in response.text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in lines:
            out.append((lines["event"], json.loads(lines["data"])))
    return out


def sdk(emu: Emulator) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=emu.copilot_url,
        auth_token=emu.issue_copilot_token(),
        api_key=None,
        default_headers={"editor-version": "vscode/1.104.3"},
        max_retries=0,
    )


# --------------------------------------------------------------------------- the catalogue


def test_todays_families_with_endpoints_limits_and_billing(emu: Emulator, client: httpx.Client) -> None:
    models = {m["id"]: m for m in client.get(emu.copilot_url + "/models", headers=headers(emu)).json()["data"]}
    for model_id in (
        "claude-opus-5.5",
        "claude-opus-4.6",
        "claude-sonnet-5.5",
        "claude-sonnet-4.6",
        "claude-haiku-4.5",
    ):
        assert models[model_id]["supported_endpoints"] == ["/v1/messages", "/chat/completions"]
        assert models[model_id]["vendor"] == "Anthropic"
    assert models["gpt-5.3-codex"]["supported_endpoints"] == ["/responses", "ws:/responses"]
    assert "policy" not in models["gpt-5.3-codex"]
    assert models["gpt-5.5"]["supported_endpoints"] == ["/responses", "ws:/responses"]
    assert models["gemini-2.5-pro"]["supported_endpoints"] == ["/chat/completions"]
    assert "supported_endpoints" not in models["text-embedding-3-small"]
    opus = models["claude-opus-4.6"]
    assert opus["billing"] == {
        "is_premium": True,
        "multiplier": 1.0,
        "restricted_to": ["pro", "pro_plus", "business", "enterprise"],
    }
    assert opus["warning_message"].startswith("Your billing plan has changed to usage-based billing")
    supports = opus["capabilities"]["supports"]
    assert supports["adaptive_thinking"] is True and supports["reasoning_effort"] == ["low", "medium", "high", "max"]
    assert opus["capabilities"]["limits"]["max_non_streaming_output_tokens"] == 16000
    haiku = models["claude-haiku-4.5"]["capabilities"]["supports"]
    assert (
        "adaptive_thinking" not in haiku and "reasoning_effort" not in haiku and haiku["max_thinking_budget"] == 32000
    )


def test_the_plan_option_makes_a_model_unavailable(emu: Emulator, client: httpx.Client) -> None:
    emu.configure(unavailable_models=["claude-opus-5.5"])
    ids = {m["id"] for m in client.get(emu.copilot_url + "/models", headers=headers(emu)).json()["data"]}
    assert "claude-opus-5.5" not in ids and "claude-opus-4.8" in ids
    response = post(emu, client, body())
    assert response.status_code == 400 and response.json()["error"]["code"] == "model_not_supported"
    assert response.json()["error"]["message"] == "The requested model is not supported."
    with pytest.raises(ValueError, match="unavailable_models"):
        emu.configure(unavailable_models="claude-opus-5.5")


# --------------------------------------------------------------------------- /v1/messages


def test_a_plain_answer(emu: Emulator, client: httpx.Client) -> None:
    response = post(emu, client, body("Say hello please"))
    assert response.status_code == 200
    message = response.json()
    assert message["type"] == "message" and message["role"] == "assistant" and message["model"] == "claude-opus-5.5"
    assert message["content"] == [{"type": "text", "text": "Hello from emulated claude-opus-5.5: Say hello please"}]
    assert message["stop_reason"] == "end_turn" and message["id"].startswith("msg_")
    assert set(message["usage"]) == {
        "input_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "output_tokens",
    }
    sent = emu.last_request("/v1/messages")
    assert sent.path == "/copilot/v1/messages" and sent.body["model"] == "claude-opus-5.5" and sent.status == 200


def test_a_stream_in_anthropics_order_with_copilots_extras(emu: Emulator, client: httpx.Client) -> None:
    tools = [WEATHER]
    payload = body(
        'Check [[tool:get_weather {"city": "Paris"}]]', stream=True, tools=tools, thinking={"type": "adaptive"}
    )
    response = post(emu, client, payload)
    assert response.headers["content-type"].startswith("text/event-stream")
    names = [name for name, _ in events(response)]
    assert names[:2] == ["message_start", "ping"]
    assert names[-3:] == ["message_delta", "copilot_usage", "message_stop"]
    starts = [d["content_block"] for n, d in events(response) if n == "content_block_start"]
    assert [s["type"] for s in starts] == ["thinking", "tool_use"]
    assert starts[1]["name"] == "get_weather" and starts[1]["id"].startswith("toolu_")
    deltas = [d["delta"] for n, d in events(response) if n == "content_block_delta"]
    thought = "".join(d.get("thinking", "") for d in deltas)
    assert thought == "Emulated thinking about: Check"
    assert [d["signature"] for d in deltas if d["type"] == "signature_delta"] == [sign_thinking(thought)]
    assert json.loads("".join(d.get("partial_json", "") for d in deltas)) == {"city": "Paris"}
    assert events(response)[-3][1]["delta"]["stop_reason"] == "tool_use"
    assert "amazon-bedrock-invocationMetrics" in events(response)[-1][1]
    emu.configure(messages_internal_events=False)
    assert "copilot_usage" not in [n for n, _ in events(post(emu, client, payload))]


def test_thinking_round_trip_with_signatures(emu: Emulator, client: httpx.Client) -> None:
    first = post(
        emu, client, body('go [[tool:get_weather {"city": "Oslo"}]]', tools=[WEATHER], thinking={"type": "adaptive"})
    )
    content = first.json()["content"]
    assert content[0]["type"] == "thinking" and content[0]["signature"] == sign_thinking(content[0]["thinking"])
    tool_use = content[1]
    history = [
        {"role": "user", "content": 'go [[tool:get_weather {"city": "Oslo"}]]'},
        {"role": "assistant", "content": content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use["id"], "content": "sunny"}]},
    ]
    follow = {
        "model": "claude-opus-5.5",
        "max_tokens": 1000,
        "messages": history,
        "tools": [WEATHER],
        "thinking": {"type": "adaptive"},
    }
    answer = post(emu, client, follow, **{"x-initiator": "agent"})
    assert answer.status_code == 200, answer.text
    assert (
        answer.json()["content"][-1]["text"]
        == 'Hello from emulated claude-opus-5.5: the get_weather tool returned "sunny".'
    )
    # A signature this Copilot did not issue is refused, as Anthropic does.
    history[1]["content"] = [{**content[0], "signature": "forged"}, tool_use]
    refused = post(emu, client, follow)
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == "messages.1.content.0: Invalid `signature` in `thinking` block"


def test_prompt_cache_reads_and_writes(emu: Emulator, client: httpx.Client) -> None:
    system = [{"type": "text", "text": "x " * (MIN_CACHEABLE_TOKENS * 4), "cache_control": {"type": "ephemeral"}}]
    first = post(emu, client, body("one", system=system)).json()["usage"]
    assert first["cache_read_input_tokens"] == 0 and first["cache_creation_input_tokens"] >= MIN_CACHEABLE_TOKENS
    second = post(emu, client, body("two", system=system)).json()["usage"]
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    assert second["cache_creation_input_tokens"] == 0 and second["input_tokens"] > 0
    other_model = post(emu, client, body("two", system=system, model="claude-sonnet-5.5")).json()["usage"]
    assert other_model["cache_read_input_tokens"] == 0  # caches are per model
    assert post(emu, client, body("[[cached:7]] three")).json()["usage"]["cache_read_input_tokens"] == 7
    emu.reset()
    assert post(emu, client, body("two", system=system)).json()["usage"]["cache_read_input_tokens"] == 0


@pytest.mark.parametrize(
    ("change", "extra_headers", "message"),
    [
        ({}, {"anthropic-beta": "claude-code-20250219," + ALLOWED}, "unsupported beta header(s): claude-code-20250219"),
        ({"safeguards": []}, {}, "safeguards: Extra inputs are not permitted"),
        ({"max_tokens": 200000, "stream": True}, {}, "max_tokens: 200000 > 128000, which is the maximum allowed"),
        ({"max_tokens": 20000}, {}, "max_tokens: 20000 > 16000"),  # the non-streaming limit
        ({"max_tokens": None}, {}, "max_tokens: Field required"),
        ({"temperature": 1, "top_p": 0.5}, {}, "`temperature` and `top_p` cannot both be specified"),
        (
            {"system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral", "scope": "global"}}]},
            {},
            "system.0.cache_control.scope: Extra inputs are not permitted",
        ),
        ({"model": "claude-sonnet-4.5", "cache_control": {"type": "ephemeral"}}, {}, "top-level cache_control"),
        ({"model": "claude-haiku-4.5", "thinking": {"type": "adaptive"}}, {}, "adaptive thinking is not supported"),
        ({"thinking": {"type": "enabled", "budget_tokens": 2000}, "max_tokens": 1000}, {}, "must be greater than"),
        ({"thinking": {"type": "adaptive", "display": "updates"}}, {}, "thinking.display"),
        ({"model": "claude-haiku-4.5", "output_config": {"effort": "high"}}, {}, "output_config.effort"),
        ({"messages": []}, {}, "at least one message"),
    ],
)
def test_what_copilot_refuses(
    emu: Emulator, client: httpx.Client, change: dict[str, Any], extra_headers: dict[str, str], message: str
) -> None:
    payload = {**body(), **change}
    payload = {k: v for k, v in payload.items() if v is not None}
    response = post(emu, client, payload, **extra_headers)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]["message"]
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_allowed_betas_pass(emu: Emulator, client: httpx.Client) -> None:
    assert post(emu, client, body(), **{"anthropic-beta": ALLOWED}).status_code == 200


@pytest.mark.parametrize("model", ["gpt-4.1", "gpt-5.3-codex", "claude-opus-9", "text-embedding-3-small"])
def test_models_without_messages_are_not_supported(emu: Emulator, client: httpx.Client, model: str) -> None:
    response = post(emu, client, body(model=model))
    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": "The requested model is not supported.",
        "code": "model_not_supported",
        "param": "model",
        "type": "invalid_request_error",
    }


def test_auth_and_editor_version_checks(emu: Emulator, client: httpx.Client) -> None:
    no_auth = client.post(emu.copilot_url + "/v1/messages", json=body(), headers={"editor-version": "vscode/1"})
    assert no_auth.status_code == 401
    no_editor = client.post(
        emu.copilot_url + "/v1/messages", json=body(), headers={"authorization": f"Bearer {emu.issue_copilot_token()}"}
    )
    assert no_editor.status_code == 400 and "Editor-Version" in no_editor.json()["error"]["message"]


def test_images_need_the_vision_header(emu: Emulator, client: httpx.Client) -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
    nested = [{"type": "tool_result", "tool_use_id": "t", "content": [image]}]
    payload = body(messages=[{"role": "user", "content": nested}])
    refused = post(emu, client, payload)
    assert refused.status_code == 400 and "Copilot-Vision-Request" in refused.json()["error"]["message"]
    assert post(emu, client, payload, **{"copilot-vision-request": "true"}).status_code == 200


def test_premium_is_charged_for_user_turns_only(emu: Emulator, client: httpx.Client) -> None:
    post(emu, client, body(), **{"x-initiator": "agent"})
    assert emu.premium_used == 0
    post(emu, client, body())  # no initiator: Copilot bills it
    post(emu, client, body(model="claude-haiku-4.5"), **{"x-initiator": "user"})
    assert emu.premium_used == pytest.approx(3.33)


def test_scripts_and_keywords_apply(emu: Emulator, client: httpx.Client) -> None:
    emu.script({"content": "scripted", "usage": {"prompt_tokens": 50, "completion_tokens": 5}})
    message = post(emu, client, body()).json()
    assert message["content"] == [{"type": "text", "text": "scripted"}]
    assert message["usage"]["input_tokens"] == 50 and message["usage"]["output_tokens"] == 5
    failed = post(emu, client, body("[[error:429]]"))
    assert failed.status_code == 429 and failed.headers["retry-after"] == "1"
    assert post(emu, client, body("[[length]] one two three four")).json()["stop_reason"] == "max_tokens"
    with pytest.raises(httpx.HTTPError):
        post(emu, client, body("[[fail-midstream]] hi", stream=True))


def test_tool_choice_forces_a_call(emu: Emulator, client: httpx.Client) -> None:
    content = post(emu, client, body(tools=[WEATHER], tool_choice={"type": "any"})).json()["content"]
    assert content == [{"type": "tool_use", "id": content[0]["id"], "name": "get_weather", "input": {}}]


# --------------------------------------------------------------------------- count_tokens


def test_count_tokens(emu: Emulator, client: httpx.Client) -> None:
    small = post(emu, client, body("hi"), path="/v1/messages/count_tokens")
    assert small.status_code == 200 and small.json()["input_tokens"] > 0
    bigger = post(emu, client, body("hi " * 400), path="/v1/messages/count_tokens")
    assert bigger.json()["input_tokens"] > small.json()["input_tokens"]
    # Dashed Claude names, GPT and Gemini models, stream:true and unknown betas are all fine.
    for payload in (
        body(model="claude-opus-4-6"),
        body(model="gpt-4.1"),
        body(model="gemini-2.5-pro"),
        body(stream=True),
    ):
        response = post(
            emu, client, payload, path="/v1/messages/count_tokens", **{"anthropic-beta": "effort-2025-11-24"}
        )
        assert response.status_code == 200 and set(response.json()) == {"input_tokens"}
    for model in ("claude-opus-9", "text-embedding-3-small"):
        refused = post(emu, client, body(model=model), path="/v1/messages/count_tokens")
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "model_not_supported"
    assert emu.last_request("/v1/messages/count_tokens").body["model"] == "text-embedding-3-small"


# --------------------------------------------------------------------------- the anthropic SDK


def test_sdk_create_and_stream(emu: Emulator) -> None:
    api = sdk(emu)
    message = api.messages.create(
        model="claude-sonnet-5.5", max_tokens=500, messages=[{"role": "user", "content": "Hi SDK"}]
    )
    assert (
        message.content[0].type == "text" and message.content[0].text == "Hello from emulated claude-sonnet-5.5: Hi SDK"
    )
    with api.messages.stream(
        model="claude-opus-5.5",
        max_tokens=4000,
        thinking={"type": "adaptive"},
        messages=[{"role": "user", "content": "Stream it"}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello from emulated claude-opus-5.5: Stream it"
    assert final.content[0].type == "thinking" and final.content[0].signature == sign_thinking(
        final.content[0].thinking
    )
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0


def test_sdk_tool_round_trip_with_thinking(emu: Emulator) -> None:
    api = sdk(emu)
    question = {"role": "user", "content": 'Weather? [[tool:get_weather {"city": "Rome"}]]'}
    with api.messages.stream(
        model="claude-opus-5.5", max_tokens=4000, thinking={"type": "adaptive"}, tools=[WEATHER], messages=[question]
    ) as stream:
        first = stream.get_final_message()
    assert first.stop_reason == "tool_use"
    call = first.content[-1]
    assert call.type == "tool_use" and call.input == {"city": "Rome"}
    answer = api.messages.create(
        model="claude-opus-5.5",
        max_tokens=4000,
        thinking={"type": "adaptive"},
        tools=[WEATHER],
        messages=[
            question,
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "22 C"}]},
        ],
    )
    assert answer.content[-1].type == "text"
    assert answer.content[-1].text == 'Hello from emulated claude-opus-5.5: the get_weather tool returned "22 C".'
    sent = emu.last_request("/v1/messages").body["messages"][1]["content"][0]
    assert sent["type"] == "thinking" and sent["signature"] == first.content[0].signature


def test_sdk_errors_and_count_tokens(emu: Emulator) -> None:
    api = sdk(emu)
    with pytest.raises(anthropic.BadRequestError, match="model_not_supported"):
        api.messages.create(model="gpt-4.1", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(anthropic.BadRequestError, match="unsupported beta header"):
        api.messages.create(
            model="claude-opus-5.5",
            max_tokens=5,
            messages=[{"role": "user", "content": "x"}],
            extra_headers={"anthropic-beta": "effort-2025-11-24"},
        )
    counted = api.messages.count_tokens(model="claude-opus-4-6", messages=[{"role": "user", "content": "count me"}])
    assert counted.input_tokens > 0


# --------------------------------------------------------------------------- Claude Code's requests, prepared


@pytest.mark.parametrize("name", CLAUDE_CODE_REQUESTS)
def test_claude_code_requests_are_refused_raw_and_accepted_prepared(
    emu: Emulator, client: httpx.Client, name: str
) -> None:
    """What Claude Code 2.1.332 sends, against the emulated Copilot: refused as is (its
    betas), accepted after prepare_messages_request with the Messages headers."""
    recorded = claude_code_request(name, signed=True)
    payload = recorded["body"]
    beta = recorded["headers"]["anthropic-beta"]
    raw = post(emu, client, {**payload, "model": "claude-opus-5.5"}, **{"anthropic-beta": beta})
    assert raw.status_code == 400 and "unsupported beta header(s): claude-code-20250219" in raw.text

    models = {m.id: m for m in parse_models(client.get(emu.copilot_url + "/models", headers=headers(emu)).json())}
    target = resolve_model(payload["model"], models.values())
    prepared = prepare_messages_request(payload, model=target, anthropic_beta=beta)
    token = emu.issue_copilot_token()
    sent_headers = messages_headers(token, "1.104.3", prepared.payload, anthropic_beta=prepared.anthropic_beta)
    response = client.post(emu.copilot_url + "/v1/messages", json=prepared.payload, headers=sent_headers)
    assert response.status_code == 200, response.text
    received = emu.last_request("/v1/messages")
    assert received.body == prepared.payload
    assert received.header("anthropic-beta") == prepared.anthropic_beta
    assert received.header("x-initiator") == messages_initiator(payload)
    assert received.header("openai-intent") == "messages-proxy"
    assert all(m["role"] in ("user", "assistant") for m in received.body["messages"])


# --------------------------------------------------------------------------- Claude's thinking on chat completions


def test_chat_completions_carry_claudes_thinking_signed(emu: Emulator, client: httpx.Client) -> None:
    """Copilot's chat API gives Claude's thinking as reasoning_text + reasoning_opaque,
    and takes them back only with the signature it issued."""
    ask = {"model": "claude-sonnet-4.5", "thinking_budget": 2000, "messages": [{"role": "user", "content": "why?"}]}
    message = post(emu, client, ask, "/chat/completions").json()["choices"][0]["message"]
    assert message["reasoning_text"] == "Emulated thinking about: why?"
    assert message["reasoning_opaque"] == sign_thinking("Emulated thinking about: why?")
    streamed = post(emu, client, {**ask, "stream": True}, "/chat/completions").text
    deltas = [
        json.loads(line[6:])["choices"][0]["delta"]
        for line in streamed.splitlines()
        if line.startswith("data: {") and '"choices":[{' in line
    ]
    assert "".join(d.get("reasoning_text", "") for d in deltas) == message["reasoning_text"]
    assert [d["reasoning_opaque"] for d in deltas if "reasoning_opaque" in d] == [message["reasoning_opaque"]]
    assert deltas.index(next(d for d in deltas if "reasoning_opaque" in d)) < deltas.index(
        next(d for d in deltas if d.get("content"))
    )  # thinking comes before the text
    follow = {
        **ask,
        "messages": [*ask["messages"], {**message, "content": "because"}, {"role": "user", "content": "ok"}],
    }
    assert post(emu, client, follow, "/chat/completions").status_code == 200
    follow["messages"][1]["reasoning_opaque"] = "forged"
    refused = post(emu, client, follow, "/chat/completions")
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == "messages.1.reasoning_opaque: Invalid signature for reasoning_text"
    gpt = post(emu, client, {**ask, "model": "gpt-4.1", "reasoning_effort": "low"}, "/chat/completions").json()
    assert "reasoning_opaque" not in gpt["choices"][0]["message"]
