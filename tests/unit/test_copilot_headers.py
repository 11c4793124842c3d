"""Copilot header set, vision detection, the initiator rule, account-type hosts."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from copilot_hybrid.copilot.client import copilot_base_for_account
from copilot_hybrid.copilot.headers import (
    anthropic_initiator,
    claude_code_session,
    copilot_headers,
    github_headers,
    has_anthropic_vision,
    has_responses_vision,
    has_vision,
    initiator_for,
    is_compaction_request,
    messages_headers,
    messages_initiator,
    models_headers,
    responses_headers,
)
from tests.support import claude_code_request


def recorded(name: str) -> dict[str, Any]:
    body: dict[str, Any] = claude_code_request(name)["body"]
    return body


def test_copilot_header_set() -> None:
    headers = copilot_headers("tok", "1.2.3", initiator="user")
    assert headers == {
        "authorization": "Bearer tok",
        "content-type": "application/json",
        "copilot-integration-id": "vscode-chat",
        "editor-version": "vscode/1.2.3",
        "editor-plugin-version": "copilot-chat/0.26.7",
        "user-agent": "GitHubCopilotChat/0.26.7",
        "openai-intent": "conversation-panel",
        "x-github-api-version": "2025-04-01",
        "x-request-id": headers["x-request-id"],
        "x-vscode-user-agent-library-version": "electron-fetch",
        "x-initiator": "user",
    }
    assert uuid.UUID(headers["x-request-id"]).version == 4
    assert copilot_headers("tok", "1")["x-request-id"] != copilot_headers("tok", "1")["x-request-id"]
    assert "accept" not in headers
    assert copilot_headers("t", "1", vision=True)["copilot-vision-request"] == "true"
    assert "x-initiator" not in copilot_headers("t", "1")


def test_github_header_set() -> None:
    headers = github_headers("gho_x", "1.104.3")
    assert headers["authorization"] == "token gho_x"
    assert headers["accept"] == "application/json"
    assert headers["x-github-api-version"] == "2025-04-01"


def test_vision_detection() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}
    assert not has_vision([{"role": "user", "content": "hi"}])
    assert has_vision([{"role": "user", "content": [{"type": "text", "text": "x"}, image]}])
    assert has_vision([{"role": "tool", "tool_call_id": "1", "content": [image]}])
    assert not has_vision("nonsense")
    assert not has_vision([None, 3, {"content": [None]}])


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ([{"role": "user", "content": "hi"}], "user"),
        ([{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}], "user"),
        ([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "agent"),
        ([{"role": "assistant", "tool_calls": []}, {"role": "tool", "content": "r"}], "agent"),
        # A typed follow-up in a long conversation is the user's (copilot-api said agent).
        (
            [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}],
            "user",
        ),
        ([], "user"),
        ("bad", "user"),
    ],
)
def test_openai_initiator(messages: object, expected: str) -> None:
    assert initiator_for(messages) == expected


def test_anthropic_initiator() -> None:
    tool_result = {"type": "tool_result", "tool_use_id": "t", "content": "ok"}
    assert anthropic_initiator([{"role": "user", "content": "hi"}]) == "user"
    assert anthropic_initiator([{"role": "user", "content": [tool_result]}]) == "agent"
    reminder = {"type": "text", "text": "<system-reminder>x</system-reminder>"}
    assert anthropic_initiator([{"role": "user", "content": [tool_result, reminder]}]) == "agent"
    assert anthropic_initiator([{"role": "user", "content": [reminder]}]) == "user"
    assert anthropic_initiator([{"role": "assistant", "content": "prefill"}]) == "agent"
    assert anthropic_initiator(None) == "user"


@pytest.mark.parametrize(
    ("account", "base"),
    [
        ("individual", "https://api.githubcopilot.com"),
        ("business", "https://api.business.githubcopilot.com"),
        ("Enterprise", "https://api.enterprise.githubcopilot.com"),
        ("", "https://api.githubcopilot.com"),
    ],
)
def test_account_type_hosts(account: str, base: str) -> None:
    assert copilot_base_for_account(account) == base


def test_anthropic_initiator_skips_inline_system_turns() -> None:
    tool_result = {"type": "tool_result", "tool_use_id": "t", "content": "ok"}
    note = {"role": "system", "content": "<total_tokens>1 tokens left</total_tokens>"}
    assert anthropic_initiator([{"role": "user", "content": [tool_result]}, note]) == "agent"
    assert anthropic_initiator([{"role": "user", "content": "hi"}, note]) == "user"
    assert anthropic_initiator([note]) == "user"


# --------------------------------------------------------------------------- recorded Claude Code turns


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("first_turn", "user"),  # the person typed it
        ("sonnet_first_turn", "user"),
        ("interactive_turn", "user"),
        ("tool_result_turn", "agent"),  # only the tool result
        ("haiku_tool_result_turn", "agent"),  # tool result, then Haiku's inline <total_tokens> turn
        ("compaction", "agent"),  # /compact: Claude Code asks on its own
        ("title_probe", "user"),
    ],
)
def test_messages_initiator_on_claude_code_requests(fixture: str, expected: str) -> None:
    assert messages_initiator(recorded(fixture)) == expected


def test_compaction_detection() -> None:
    assert is_compaction_request(recorded("compaction"))
    assert not any(is_compaction_request(recorded(n)) for n in ("first_turn", "tool_result_turn", "title_probe"))
    older = {"system": "You are a helpful AI assistant tasked with summarizing conversations.", "messages": []}
    assert is_compaction_request(older)
    opencode = {
        "system": [
            {"type": "text", "text": "You are an anchored context summarization assistant for coding sessions."}
        ],
        "messages": [{"role": "user", "content": "go"}],
    }
    assert is_compaction_request(opencode)
    assert messages_initiator({**opencode}) == "agent"
    assert not is_compaction_request({"messages": "bad", "system": 3})


def test_claude_code_session() -> None:
    assert claude_code_session(recorded("first_turn")) == "fafc9966-1b06-4f49-b049-3c4669881524"
    legacy = {"metadata": {"user_id": "user_abc_account_def_session_1234"}}
    assert claude_code_session(legacy) == "1234"
    for user_id in ("someone@example.com", '{"session_id": "s"}', "{bad json", 7):
        assert claude_code_session({"metadata": {"user_id": user_id}}) is None
    assert claude_code_session({}) is None


def test_anthropic_vision_includes_images_inside_tool_results() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}}
    assert has_anthropic_vision([{"role": "user", "content": [image]}])
    nested = {"type": "tool_result", "tool_use_id": "t", "content": [image]}
    assert has_anthropic_vision([{"role": "user", "content": [nested]}])
    assert not has_anthropic_vision([{"role": "user", "content": "hi"}])
    assert not has_anthropic_vision(None)


def test_models_headers() -> None:
    headers = models_headers("tok", "1.2.3")
    assert headers["openai-intent"] == "model-access" and headers["x-interaction-type"] == "model-access"
    assert "content-type" not in headers and "x-initiator" not in headers
    assert headers["authorization"] == "Bearer tok" and headers["editor-version"] == "vscode/1.2.3"


def test_messages_headers_for_claude_code() -> None:
    body = recorded("first_turn")
    headers = messages_headers("tok", "1.2.3", body, anthropic_beta="interleaved-thinking-2025-05-14")
    assert headers["openai-intent"] == "messages-proxy" and headers["x-interaction-type"] == "messages-proxy"
    assert headers["x-github-api-version"] == "2025-10-01"
    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"
    assert headers["x-initiator"] == "user"
    assert headers["x-agent-task-id"] == headers["x-request-id"]
    assert uuid.UUID(headers["x-request-id"]).version == 4
    # Claude Code's own traffic: Copilot's Claude-agent identity, no integration id.
    assert headers["user-agent"].startswith("vscode_claude_code/")
    assert "copilot-integration-id" not in headers
    assert "copilot-vision-request" not in headers


def test_messages_headers_for_other_clients() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}}
    result = {"type": "tool_result", "tool_use_id": "t", "content": [image]}
    body = {"model": "m", "messages": [{"role": "user", "content": [result]}]}
    headers = messages_headers("tok", "1.2.3", body)
    assert headers["copilot-integration-id"] == "vscode-chat"
    assert headers["user-agent"] == "GitHubCopilotChat/0.26.7"
    assert headers["copilot-vision-request"] == "true"
    assert headers["x-initiator"] == "agent"
    assert "anthropic-beta" not in headers


def test_responses_headers() -> None:
    headers = responses_headers("tok", "1.2.3", initiator="user")
    base = copilot_headers("tok", "1.2.3", initiator="user")
    changed = {k: v for k, v in headers.items() if base.get(k) != v and k != "x-request-id"}
    assert changed == {
        "x-github-api-version": "2025-10-01",
        "openai-intent": "conversation-agent",
        "x-interaction-type": "conversation-agent",
        "x-agent-task-id": headers["x-request-id"],
    }
    assert headers["x-initiator"] == "user" and "copilot-vision-request" not in headers
    assert "x-interaction-id" not in headers
    assert responses_headers("tok", "1.2.3", initiator="agent", vision=True)["copilot-vision-request"] == "true"


def test_responses_headers_for_compaction_and_sessions() -> None:
    compaction = responses_headers("tok", "1.2.3", initiator="user", compaction=True)
    assert compaction["x-initiator"] == "agent"
    assert compaction["openai-intent"] == compaction["x-interaction-type"] == "conversation-other"
    first = responses_headers("tok", "1.2.3", initiator="user", session_id="session-a")
    again = responses_headers("tok", "1.2.3", initiator="agent", session_id="session-a")
    other = responses_headers("tok", "1.2.3", initiator="user", session_id="session-b")
    assert first["x-interaction-id"] == again["x-interaction-id"] != other["x-interaction-id"]
    assert uuid.UUID(first["x-interaction-id"]) and "session-a" not in first["x-interaction-id"]
    assert first["x-request-id"] != again["x-request-id"]


def test_responses_vision_detection() -> None:
    image = {"type": "input_image", "image_url": "data:image/png;base64,AAAA"}
    assert has_responses_vision([{"role": "user", "content": [{"type": "input_text", "text": "x"}, image]}])
    assert has_responses_vision([{"type": "function_call_output", "call_id": "c", "output": [image]}])
    assert not has_responses_vision([{"role": "user", "content": "no image"}])
    assert not has_responses_vision("a string input")
    assert not has_responses_vision([{"type": "function_call_output", "call_id": "c", "output": "text"}])
