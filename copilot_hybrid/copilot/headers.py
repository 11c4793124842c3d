"""Who the proxy is to Copilot, and the headers that say so.

The identity mimics the VS Code Copilot Chat extension, as copilot-api 0.7.0
does; Copilot and GitHub's /copilot_internal/* endpoints check these
headers. Also the two per-request decisions (vision, initiator).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

COPILOT_CHAT_VERSION = "0.26.7"
EDITOR_PLUGIN_VERSION = f"copilot-chat/{COPILOT_CHAT_VERSION}"
USER_AGENT = f"GitHubCopilotChat/{COPILOT_CHAT_VERSION}"
API_VERSION = "2025-04-01"
INTEGRATION_ID = "vscode-chat"
OPENAI_INTENT = "conversation-panel"
USER_AGENT_LIBRARY = "electron-fetch"


def github_headers(github_token: str, vscode_version: str) -> dict[str, str]:
    """The header set for GitHub's /copilot_internal/* endpoints."""
    return {
        "content-type": "application/json",
        "accept": "application/json",
        "authorization": f"token {github_token}",
        "editor-version": f"vscode/{vscode_version}",
        "editor-plugin-version": EDITOR_PLUGIN_VERSION,
        "user-agent": USER_AGENT,
        "x-github-api-version": API_VERSION,
        "x-vscode-user-agent-library-version": USER_AGENT_LIBRARY,
    }


def copilot_headers(
    copilot_token: str, vscode_version: str, *, vision: bool = False, initiator: str | None = None
) -> dict[str, str]:
    headers = {
        "authorization": f"Bearer {copilot_token}",
        "content-type": "application/json",
        "copilot-integration-id": INTEGRATION_ID,
        "editor-version": f"vscode/{vscode_version}",
        "editor-plugin-version": EDITOR_PLUGIN_VERSION,
        "user-agent": USER_AGENT,
        "openai-intent": OPENAI_INTENT,
        "x-github-api-version": API_VERSION,
        "x-request-id": str(uuid.uuid4()),
        "x-vscode-user-agent-library-version": USER_AGENT_LIBRARY,
    }
    if vision:
        headers["copilot-vision-request"] = "true"
    if initiator is not None:
        headers["x-initiator"] = initiator
    return headers


def has_vision(messages: Any) -> bool:
    """True when any message (tool results included) carries an image_url part."""
    if not isinstance(messages, list):
        return False
    for message in messages:
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, list):
            for part in content:
                if isinstance(part, Mapping) and part.get("type") == "image_url":
                    return True
    return False


def initiator_for(messages: Any) -> str:
    """`agent` when the newest message is the model's own turn or a tool result, else `user`.

    copilot-api says `agent` as soon as ANY assistant/tool message exists, so every
    typed follow-up in a conversation passes as agent-initiated. Copilot bills
    user-initiated turns; VS Code marks a turn `user` exactly when a person typed it,
    which is the newest message being a user message (a tool result is not).
    """
    if not isinstance(messages, list) or not messages:
        return "user"
    last = messages[-1]
    role = last.get("role") if isinstance(last, Mapping) else None
    return "agent" if role in ("assistant", "tool") else "user"


def anthropic_initiator(messages: Any) -> str:
    """The same rule on an Anthropic request: a user turn that carries tool_result blocks
    continues the agent's loop (Claude Code appends reminder text to them), so it is `agent`."""
    if not isinstance(messages, list) or not messages:
        return "user"
    last = messages[-1]
    if not isinstance(last, Mapping):
        return "user"
    if last.get("role") == "assistant":
        return "agent"
    content = last.get("content")
    if isinstance(content, list) and any(isinstance(b, Mapping) and b.get("type") == "tool_result" for b in content):
        return "agent"
    return "user"
