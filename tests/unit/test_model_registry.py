"""The model registry: /models entries read into ModelInfo, the routing decision,
and the cache (load, background refresh, the model-access headers upstream sees)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from copilot_hybrid.copilot.client import CopilotClient
from copilot_hybrid.copilot.registry import (
    CHAT,
    EMBEDDINGS,
    MESSAGES,
    RESPONSES,
    ModelInfo,
    ModelRegistry,
    choose_endpoint,
    parse_models,
)
from copilot_hybrid.copilot.token import CopilotTokenManager
from copilot_hybrid.emulator import Emulator
from copilot_hybrid.emulator.catalog import default_models
from copilot_hybrid.errors import ModelEndpointUnavailable, UpstreamError

pytestmark = pytest.mark.timeout(60)

CATALOG = {m.id: m for m in parse_models({"data": default_models()})}


def entry(model_id: str = "m", **fields: Any) -> dict[str, Any]:
    return {"id": model_id, "capabilities": {"type": "chat"}, **fields}


def info(endpoints: list[str] | None, *, kind: str = "chat") -> ModelInfo:
    raw: dict[str, Any] = {"id": "m", "capabilities": {"type": kind}}
    if endpoints is not None:
        raw["supported_endpoints"] = endpoints
    parsed = ModelInfo.from_entry(raw)
    assert parsed is not None
    return parsed


# --------------------------------------------------------------------------- ModelInfo


def test_a_claude_entry_is_read_whole() -> None:
    opus = CATALOG["claude-opus-4.6"]
    assert opus.endpoints == (MESSAGES, CHAT) and opus.endpoints_listed
    assert (opus.context_window, opus.max_prompt_tokens, opus.max_output_tokens) == (1_000_000, 936_000, 64_000)
    assert opus.max_non_streaming_output_tokens == 16_000
    assert opus.vendor == "Anthropic" and opus.tokenizer == "o200k_base" and opus.type == "chat"
    assert opus.adaptive_thinking and opus.thinking
    assert (opus.min_thinking_budget, opus.max_thinking_budget) == (1_024, 32_000)
    assert opus.reasoning_efforts == ("low", "medium", "high", "max")
    assert opus.tool_calls and opus.parallel_tool_calls and opus.streaming and opus.vision and opus.structured_outputs
    assert "application/pdf" in opus.vision_media_types
    assert opus.premium is True and opus.multiplier == 1.0 and opus.picker_enabled
    assert opus.raw["warning_message"].startswith("Your billing plan has changed")


def test_haiku_4_5_thinks_with_budgets_only() -> None:
    haiku = CATALOG["claude-haiku-4.5"]
    assert haiku.thinking and not haiku.adaptive_thinking and haiku.reasoning_efforts == ()
    assert haiku.max_thinking_budget == 32_000


def test_codex_is_responses_only_and_embeddings_infer_their_endpoint() -> None:
    assert CATALOG["gpt-5.3-codex"].endpoints == (RESPONSES, "ws:/responses")
    assert CATALOG["gpt-5.3-codex"].reasoning_efforts == ("low", "medium", "high", "xhigh")
    embedding = CATALOG["text-embedding-3-small"]
    assert embedding.type == "embeddings" and embedding.endpoints == (EMBEDDINGS,)
    assert not embedding.endpoints_listed


def test_malformed_fields_read_as_unknown() -> None:
    parsed = ModelInfo.from_entry(
        {
            "id": "odd",
            "capabilities": {"limits": {"max_output_tokens": "lots", "max_prompt_tokens": -1}, "supports": []},
            "billing": {"multiplier": True},
            "supported_endpoints": ["/chat/completions", 7, ""],
            "model_picker_enabled": "yes",
        }
    )
    assert parsed is not None
    assert parsed.max_output_tokens is None and parsed.max_prompt_tokens is None
    assert parsed.multiplier is None and parsed.picker_enabled is False and not parsed.thinking
    assert parsed.endpoints == (CHAT,) and parsed.type == "chat" and parsed.name == "odd"
    assert ModelInfo.from_entry({"name": "no id"}) is None
    assert ModelInfo.from_entry({"id": ""}) is None


def test_parse_models_skips_what_is_not_a_model() -> None:
    models = parse_models({"data": [entry("a"), "junk", {"id": 3}, entry("b")]})
    assert [m.id for m in models] == ["a", "b"]
    assert parse_models({"data": "nope"}) == () and parse_models(None) == ()


# --------------------------------------------------------------------------- routing


@pytest.mark.parametrize(
    ("endpoints", "inbound", "expected"),
    [
        # Anthropic requests: Messages, then Responses, then chat completions.
        ([MESSAGES, CHAT], "anthropic", MESSAGES),
        ([CHAT, MESSAGES], "anthropic", MESSAGES),  # Copilot's order does not matter
        ([RESPONSES, "ws:/responses"], "anthropic", RESPONSES),
        ([RESPONSES, CHAT], "anthropic", RESPONSES),
        ([CHAT], "anthropic", CHAT),
        # Responses requests: Responses, then Messages, then chat.
        ([RESPONSES, CHAT], "responses", RESPONSES),
        ([MESSAGES, CHAT], "responses", MESSAGES),
        ([CHAT], "responses", CHAT),
        # Chat requests: chat, then Responses (Chat -> Responses for codex models).
        ([MESSAGES, CHAT], "chat", CHAT),
        ([RESPONSES, "ws:/responses"], "chat", RESPONSES),
        # No supported_endpoints: chat-only.
        (None, "anthropic", CHAT),
        (None, "chat", CHAT),
    ],
)
def test_endpoint_order(endpoints: list[str] | None, inbound: Any, expected: str) -> None:
    assert choose_endpoint(info(endpoints), inbound) == expected


def test_no_native_messages_keeps_anthropic_requests_on_the_translation() -> None:
    assert choose_endpoint(info([MESSAGES, CHAT]), "anthropic", native_messages=False) == CHAT
    assert choose_endpoint(info([MESSAGES, RESPONSES]), "anthropic", native_messages=False) == RESPONSES
    with pytest.raises(ModelEndpointUnavailable, match="--no-native-messages"):
        choose_endpoint(info([MESSAGES]), "anthropic", native_messages=False)


def test_the_catalog_routes_as_the_reference_says() -> None:
    assert choose_endpoint(CATALOG["claude-opus-5.5"], "anthropic") == MESSAGES
    assert choose_endpoint(CATALOG["gpt-5.3-codex"], "anthropic") == RESPONSES
    assert choose_endpoint(CATALOG["gemini-2.5-pro"], "anthropic") == CHAT
    assert choose_endpoint(CATALOG["gpt-5.5"], "chat") == RESPONSES
    assert choose_endpoint(CATALOG["gpt-5.4"], "chat") == CHAT
    assert choose_endpoint(CATALOG["gpt-5.4"], "responses") == RESPONSES


def test_a_model_no_endpoint_fits_says_which_api_does() -> None:
    with pytest.raises(ModelEndpointUnavailable) as caught:
        choose_endpoint(info([MESSAGES]), "chat")
    error = caught.value
    assert error.status == 400 and error.type == "invalid_request_error" and error.param == "model"
    assert "Model m cannot be used through the OpenAI Chat Completions API" in error.message
    assert "Anthropic Messages API (POST /v1/messages)" in error.message
    assert error.endpoints == (MESSAGES,)
    with pytest.raises(ModelEndpointUnavailable, match="embeddings API"):
        choose_endpoint(info(None, kind="embeddings"), "anthropic")
    with pytest.raises(ModelEndpointUnavailable, match="Pick another model"):
        choose_endpoint(info([]), "anthropic")


# --------------------------------------------------------------------------- the cache


class FakeClient:
    """Answers models() from a queue (the last answer repeats); `reached(n)` is an
    event set when call number n starts, so call n-1 has been fully handled."""

    def __init__(self, *answers: dict[str, Any] | Exception) -> None:
        self.answers = list(answers)
        self.calls = 0
        self._events: dict[int, asyncio.Event] = {}

    def reached(self, n: int) -> asyncio.Event:
        return self._events.setdefault(n, asyncio.Event())

    async def models(self) -> dict[str, Any]:
        self.calls += 1
        self.reached(self.calls).set()
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def listing(*ids: str) -> dict[str, Any]:
    return {"data": [entry(i) for i in ids]}


def registry(client: FakeClient, **kwargs: Any) -> ModelRegistry:
    return ModelRegistry(client, **kwargs)  # type: ignore[arg-type]


def test_load_keeps_entries_and_records() -> None:
    async def go() -> None:
        models = registry(FakeClient({"data": [entry("a"), {"no": "id"}, entry("b", vendor="V")]}))
        assert not models.loaded
        await models.load()
        assert models.loaded and models.ids() == ("a", "b")
        assert models.find("b") == entry("b", vendor="V") and models.find("zz") is None and models.find(3) is None
        b = models.info("b")
        assert b is not None and b.vendor == "V"
        assert [m.id for m in models.infos()] == ["a", "b"]
        assert set(models.by_id()) == {"a", "b"}

    asyncio.run(go())


def test_a_stale_list_is_refreshed_in_the_background_and_a_failure_keeps_it() -> None:
    async def go() -> None:
        now = [0.0]
        client = FakeClient(listing("a"), UpstreamError(503, b"{}"), listing("a", "new"))
        models = registry(client, max_age=10, clock=lambda: now[0])
        assert [m["id"] for m in await models.get()] == ["a"]
        assert await models.get() is not None and client.calls == 1  # fresh: no refetch
        now[0] = 11
        assert [m["id"] for m in await models.get()] == ["a"]  # answered at once, refresh started
        refresh = models._refreshing
        assert refresh is not None
        await asyncio.wait_for(refresh, 5)
        assert client.calls == 2 and models.ids() == ("a",)  # the 503 kept the old list
        now[0] = 22
        await models.get()
        assert models._refreshing is not None
        await asyncio.wait_for(models._refreshing, 5)
        assert models.ids() == ("a", "new")
        await models.aclose()

    asyncio.run(go())


def test_start_background_refreshes_until_closed() -> None:
    async def go() -> None:
        client = FakeClient(listing("a"), listing("a", "b"))
        models = registry(client, max_age=0.01)
        await models.load()
        models.start_background()
        await asyncio.wait_for(client.reached(3).wait(), 5)  # so call 2 has been installed
        assert models.ids() == ("a", "b")
        await models.aclose()
        calls = client.calls
        await asyncio.sleep(0)
        assert client.calls == calls and models._loop_task is None

    asyncio.run(go())


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


def test_models_are_fetched_with_the_model_access_headers(emulator: Emulator) -> None:
    async def go() -> list[dict[str, Any]]:
        async with httpx.AsyncClient() as http:
            tokens = CopilotTokenManager(
                http, github_api_url=emulator.github_api_url, github_token=emulator.github_token, vscode_version="1.2"
            )
            client = CopilotClient(http, tokens, vscode_version="1.2")
            models = ModelRegistry(client)
            entries = await models.load()
            await tokens.aclose()
            return entries

    entries = asyncio.run(go())
    assert {"claude-opus-5.5", "gpt-5.3-codex", "text-embedding-3-small"} <= {e["id"] for e in entries}
    sent = emulator.last_request("/copilot/models")
    assert sent.header("openai-intent") == "model-access"
    assert sent.header("x-interaction-type") == "model-access"
    assert sent.header("content-type") is None
    assert sent.header("editor-version") == "vscode/1.2"
