"""Copilot header set, vision detection, the initiator rule, account-type hosts."""

from __future__ import annotations

import uuid

import pytest

from copilot_hybrid.copilot.client import copilot_base_for_account
from copilot_hybrid.copilot.headers import (
    anthropic_initiator,
    copilot_headers,
    github_headers,
    has_vision,
    initiator_for,
)


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
