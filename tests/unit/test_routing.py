"""Routing (server/routing.py): which Copilot endpoint serves each inbound API,
--small-model's decision on requests recorded from Claude Code 2.1.332, the
route of a /v1/messages request, and what the models offered to Claude Code are."""

from __future__ import annotations

import logging
from typing import Any, cast

import pytest

from copilot_hybrid.copilot.registry import CHAT, MESSAGES, RESPONSES, ModelInfo, ModelRegistry, parse_models
from copilot_hybrid.emulator.catalog import default_models
from copilot_hybrid.errors import ModelEndpointUnavailable, ModelNotAvailable
from copilot_hybrid.server.claude_code import claude_code_models, default_picks
from copilot_hybrid.server.routing import (
    check_small_model,
    endpoint_for,
    messages_route,
    reachable,
    small_model_reason,
)
from copilot_hybrid.server.runtime import Runtime
from copilot_hybrid.server.settings import ServerSettings
from tests.support import claude_code_request

CATALOGUE = {m.id: m for m in parse_models({"data": default_models()})}


def recorded(name: str) -> tuple[dict[str, Any], str]:
    data = claude_code_request(name)
    return data["body"], data["headers"]["anthropic-beta"]


def runtime(**settings: Any) -> Runtime:
    """A Runtime whose registry holds the emulator's catalogue (no network)."""
    rt = Runtime(ServerSettings(**settings))
    registry = ModelRegistry(cast(Any, None))
    registry.replace(default_models())
    rt._models = registry
    return rt


# --------------------------------------------------------------------------- endpoints


@pytest.mark.parametrize(
    ("model", "native", "expected"),
    [
        ("claude-opus-5.5", True, MESSAGES),  # lists /v1/messages and chat: native
        ("claude-opus-5.5", False, CHAT),  # --no-native-messages: the translation
        ("gpt-5", True, RESPONSES),  # /responses and chat: Responses first, the reference's order
        ("gemini-3-pro", True, CHAT),
    ],
)
def test_anthropic_requests(model: str, native: bool, expected: str) -> None:
    assert endpoint_for(CATALOGUE[model], "anthropic", native_messages=native) == expected


def test_chat_requests() -> None:
    assert endpoint_for(CATALOGUE["gpt-4.1"], "chat") == CHAT
    assert endpoint_for(CATALOGUE["claude-sonnet-4.6"], "chat") == CHAT
    with pytest.raises(ModelEndpointUnavailable) as caught:
        endpoint_for(CATALOGUE["text-embedding-3-small"], "chat")
    assert "Send it through the embeddings API" in caught.value.message


@pytest.mark.parametrize("inbound", ["anthropic", "chat"])
def test_a_responses_only_model_is_served_on_responses(inbound: Any) -> None:
    assert endpoint_for(CATALOGUE["gpt-5.3-codex"], inbound) == RESPONSES
    assert reachable(CATALOGUE["gpt-5.3-codex"], inbound, ServerSettings())


@pytest.mark.parametrize("inbound", ["anthropic", "chat", "responses"])
def test_a_model_on_no_endpoint_the_proxy_speaks_gets_a_400_naming_its_endpoints(inbound: Any) -> None:
    websocket_only = ModelInfo.from_entry(
        {"id": "gpt-realtime-x", "capabilities": {"type": "chat"}, "supported_endpoints": ["ws:/responses"]}
    )
    assert websocket_only is not None
    with pytest.raises(ModelEndpointUnavailable) as caught:
        endpoint_for(websocket_only, inbound)
    error = caught.value
    assert error.status == 400 and error.code == "unsupported_api_for_model" and error.param == "model"
    assert error.message.startswith("Model gpt-realtime-x cannot be used through the ")
    assert error.message.endswith(": Copilot serves it on ws:/responses. Pick another model.")
    assert not reachable(websocket_only, inbound, ServerSettings())


# --------------------------------------------------------------------------- --small-model


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("title_probe", "warm-up probe"),  # tool-less, with betas: the session-title request
        ("compaction", "compaction"),
        ("first_turn", None),
        ("sonnet_first_turn", None),
        ("tool_result_turn", None),
        ("haiku_tool_result_turn", None),
        ("interactive_turn", None),
    ],
)
def test_which_recorded_requests_the_small_model_takes(name: str, reason: str | None) -> None:
    body, beta = recorded(name)
    assert small_model_reason(body, beta) == reason


def test_the_small_model_is_off_by_default() -> None:
    body, beta = recorded("title_probe")
    route = messages_route(runtime(), body, beta)
    assert route.model.id == "claude-opus-5.5" and route.small_model_for is None


def test_the_small_model_takes_probes_and_compaction() -> None:
    rt = runtime(small_model="haiku")  # resolved like any model id: the newest Haiku
    for name, expected in (("title_probe", "claude-haiku-5.5"), ("compaction", "claude-haiku-5.5")):
        body, beta = recorded(name)
        route = messages_route(rt, body, beta)
        assert (route.model.id, route.endpoint) == (expected, MESSAGES)
    body, beta = recorded("first_turn")
    assert messages_route(rt, body, beta).model.id == "claude-opus-5.5"
    # A small model without /v1/messages: on its Responses endpoint (gpt-5-mini lists /responses and chat).
    body, beta = recorded("title_probe")
    route = messages_route(runtime(small_model="gpt-5-mini"), body, beta)
    assert (route.model.id, route.endpoint, route.small_model_for) == ("gpt-5-mini", RESPONSES, "warm-up probe")


@pytest.mark.parametrize("small", ["claude-haiku-9", "text-embedding-3-small"])
def test_a_small_model_that_cannot_serve_keeps_the_clients_model(small: str, caplog: pytest.LogCaptureFixture) -> None:
    rt = runtime(small_model=small)
    body, beta = recorded("title_probe")
    with caplog.at_level(logging.WARNING, "copilot_hybrid.server"):
        route = messages_route(rt, body, beta)
        check_small_model(rt)
    assert route.model.id == "claude-opus-5.5" and route.small_model_for is None
    assert f"--small-model {small} cannot take a warm-up probe" in caplog.text
    assert "Warm-up probes and compaction keep the client's model." in caplog.text


def test_a_model_the_plan_lacks_is_the_anthropic_callers_400() -> None:
    with pytest.raises(ModelNotAvailable) as caught:
        messages_route(runtime(), {"model": "claude-opus-9", "messages": []}, None)
    assert caught.value.status == 400 and caught.value.type == "invalid_request_error"
    with pytest.raises(ModelNotAvailable) as openai_caught:
        runtime().resolve("claude-opus-9", "openai")
    assert openai_caught.value.status == 404


def test_aliases_from_the_settings_win() -> None:
    rt = runtime(model_aliases={"claude-opus-5-5": "claude-opus-4.8"})
    route = messages_route(rt, {"model": "claude-opus-5-5", "messages": []}, None)
    assert route.model.id == "claude-opus-4.8"


def test_suggestions_are_models_the_callers_api_reaches() -> None:
    with pytest.raises(ModelNotAvailable) as caught:
        runtime().resolve("gpt-9", "openai")
    # Responses-only models are reached through the Responses translators; embeddings are not chat models.
    assert "gpt-5.3-codex" in caught.value.message and "text-embedding" not in caught.value.message
    assert caught.value.same_family[0] == "gpt-5.5"


# --------------------------------------------------------------------------- --claude-code


def test_claude_code_is_offered_todays_models() -> None:
    offered = claude_code_models(CATALOGUE.values())
    ids = [m.id for m in offered]
    assert ids[:3] == ["claude-opus-5.5", "claude-sonnet-5.5", "claude-haiku-5.5"]
    assert all(i.startswith("claude-") for i in ids[:13]) and len([i for i in ids if i.startswith("claude")]) == 13
    assert "text-embedding-3-small" not in ids and "gpt-4o-mini" not in ids
    assert ids.index("gpt-5.5") > 12  # every model Claude Code can reach, Claude's first
    assert default_picks(offered) == ("claude-opus-5.5", "claude-haiku-5.5")
    assert default_picks([]) is None
    assert default_picks([CATALOGUE["gpt-4.1"]]) == ("gpt-4.1", "gpt-4.1")
