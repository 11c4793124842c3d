"""Who the proxy is to Copilot, and the headers that say so.

The identity mimics the VS Code Copilot Chat extension, as copilot-api 0.7.0
does; Copilot and GitHub's /copilot_internal/* endpoints check these
headers. Per endpoint on top of that (reference §3): `GET /models` with the
model-access intent, `POST /v1/messages` with the messages-proxy identity,
`POST /responses` with the agent intent.
Also the per-request decisions (vision, initiator, compaction).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Final

from copilot_hybrid.jsonutil import loads

COPILOT_CHAT_VERSION = "0.26.7"
EDITOR_PLUGIN_VERSION = f"copilot-chat/{COPILOT_CHAT_VERSION}"
USER_AGENT = f"GitHubCopilotChat/{COPILOT_CHAT_VERSION}"
API_VERSION = "2025-04-01"
INTEGRATION_ID = "vscode-chat"
OPENAI_INTENT = "conversation-panel"
USER_AGENT_LIBRARY = "electron-fetch"

MODEL_ACCESS_INTENT: Final = "model-access"
MESSAGES_PROXY_INTENT: Final = "messages-proxy"
#: The newest API version seen with live /v1/messages and count_tokens probes (caozhiyuan's).
MESSAGES_API_VERSION: Final = "2025-10-01"
ANTHROPIC_VERSION: Final = "2023-06-01"
#: `/responses` callers are coding agents (Codex); caozhiyuan's intent on every inference call.
AGENT_INTENT: Final = "conversation-agent"
#: Compaction (summarising the conversation): neither a user turn nor a step of the agent's task.
COMPACTION_INTENT: Final = "conversation-other"
#: caozhiyuan's identity for Claude Code traffic on /v1/messages (prepareMessageProxyHeaders).
CLAUDE_AGENT_USER_AGENT: Final = "vscode_claude_code/2.1.112 (external, sdk-ts, agent-sdk/0.2.112)"


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


def models_headers(copilot_token: str, vscode_version: str) -> dict[str, str]:
    """`GET /models`: the base set with the model-access intent and no body headers (§3.2)."""
    headers = copilot_headers(copilot_token, vscode_version)
    del headers["content-type"]
    headers["openai-intent"] = MODEL_ACCESS_INTENT
    headers["x-interaction-type"] = MODEL_ACCESS_INTENT
    return headers


def messages_headers(
    copilot_token: str,
    vscode_version: str,
    payload: Mapping[str, Any],
    *,
    anthropic_beta: str | None = None,
) -> dict[str, str]:
    """`POST /v1/messages` and `/v1/messages/count_tokens` (§3.4), for a prepared payload.

    `anthropic_beta` is the already filtered header (translate.messages_native).
    Every caller gets the messages-proxy intent (caozhiyuan for Claude Code,
    LiteLLM for everyone) and `anthropic-version`; Claude Code's own requests
    (its `metadata.user_id` names a session) also get caozhiyuan's Claude-agent
    user agent without `copilot-integration-id`, the identity Copilot sees
    from its own Claude agent.
    """
    headers = copilot_headers(
        copilot_token,
        vscode_version,
        vision=has_anthropic_vision(payload.get("messages")),
        initiator=messages_initiator(payload),
    )
    headers["x-github-api-version"] = MESSAGES_API_VERSION
    headers["openai-intent"] = MESSAGES_PROXY_INTENT
    headers["x-interaction-type"] = MESSAGES_PROXY_INTENT
    headers["x-agent-task-id"] = headers["x-request-id"]
    headers["anthropic-version"] = ANTHROPIC_VERSION
    if anthropic_beta:
        headers["anthropic-beta"] = anthropic_beta
    if claude_code_session(payload) is not None:
        headers["user-agent"] = CLAUDE_AGENT_USER_AGENT
        del headers["copilot-integration-id"]
    return headers


def responses_headers(
    copilot_token: str,
    vscode_version: str,
    *,
    initiator: str,
    vision: bool = False,
    compaction: bool = False,
    session_id: str | None = None,
) -> dict[str, str]:
    """`POST /responses` (§3.5): the base set with the agent intent and the
    newest API version, `x-initiator` as the caller decided it (from the last
    input item: `translate.responses_fixes.responses_initiator`).

    A compaction request is the agent's (`x-initiator: agent`) and says so in
    its intent. `session_id` (Codex's `session-id`, Claude Code's session)
    gives a stable `x-interaction-id`, as VS Code sends one per conversation.
    """
    headers = copilot_headers(copilot_token, vscode_version, vision=vision, initiator=initiator)
    headers["x-github-api-version"] = MESSAGES_API_VERSION
    headers["openai-intent"] = AGENT_INTENT
    headers["x-interaction-type"] = AGENT_INTENT
    headers["x-agent-task-id"] = headers["x-request-id"]
    if compaction:
        headers["x-initiator"] = "agent"
        headers["openai-intent"] = COMPACTION_INTENT
        headers["x-interaction-type"] = COMPACTION_INTENT
    if session_id:
        headers["x-interaction-id"] = interaction_id(session_id)
    return headers


def interaction_id(session_id: str) -> str:
    """A UUID that is the same for every request of one client session (and
    says nothing about the session id itself)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"copilot-hybrid:session:{session_id}"))


def has_responses_vision(items: Any) -> bool:
    """True when a Responses `input` carries an `input_image`, tool outputs included."""
    if not isinstance(items, list):
        return False
    for item in items:
        if not isinstance(item, Mapping):
            continue
        for key in ("content", "output"):
            parts = item.get(key)
            if isinstance(parts, list) and any(
                isinstance(p, Mapping) and p.get("type") == "input_image" for p in parts
            ):
                return True
    return False


def claude_code_session(payload: Mapping[str, Any]) -> str | None:
    """The session id in `metadata.user_id` when the caller is Claude Code: JSON
    `{"device_id"|"account_uuid", "session_id"}` (2.1.x) or the legacy
    `user_<x>_account_<y>_session_<z>`; None for other callers."""
    metadata = payload.get("metadata")
    user_id = metadata.get("user_id") if isinstance(metadata, Mapping) else None
    if not isinstance(user_id, str):
        return None
    if user_id.startswith("{"):
        try:
            data = loads(user_id)
        except ValueError:
            return None
        if isinstance(data, dict) and (data.get("device_id") or data.get("account_uuid")):
            session = data.get("session_id")
            return session if isinstance(session, str) and session else None
        return None
    head, sep, session = user_id.rpartition("_session_")
    return session if sep and head.startswith("user_") and "_account_" in head and session else None


def has_anthropic_vision(messages: Any) -> bool:
    """True when an Anthropic request carries an image block, tool results included."""
    if not isinstance(messages, list):
        return False
    return any(isinstance(m, Mapping) and _has_image_block(m.get("content")) for m in messages)


def _has_image_block(content: Any) -> bool:
    if not isinstance(content, list):
        return False
    for block in content:
        if not isinstance(block, Mapping):
            continue
        if block.get("type") == "image":
            return True
        if block.get("type") == "tool_result" and _has_image_block(block.get("content")):
            return True
    return False


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
    """The same rule on Anthropic messages: a user turn that carries tool_result blocks
    continues the agent's loop (Claude Code appends reminder text to them), so it is `agent`.

    Claude Code's inline `role: system` turns (e.g. Haiku's `<total_tokens>` note
    after a tool result) are the harness's, not a person's: the newest other turn decides.
    """
    if not isinstance(messages, list):
        return "user"
    turns = [m for m in messages if not (isinstance(m, Mapping) and m.get("role") == "system")]
    if not turns or not isinstance(turns[-1], Mapping):
        return "user"
    last = turns[-1]
    if last.get("role") == "assistant":
        return "agent"
    content = last.get("content")
    if isinstance(content, list) and any(isinstance(b, Mapping) and b.get("type") == "tool_result" for b in content):
        return "agent"
    return "user"


def messages_initiator(payload: Mapping[str, Any]) -> str:
    """`x-initiator` of an Anthropic request (§3.4, §10): the messages rule above, and
    `agent` for a compaction request, which Claude Code sends on its own."""
    if is_compaction_request(payload):
        return "agent"
    return anthropic_initiator(payload.get("messages"))


#: How summarisation requests announce themselves (last user text, or the system prompt's start).
_COMPACTION_PROMPTS: Final = (
    "Your task is to create a detailed summary of the conversation so far",  # Claude Code 2.1.x /compact
)
_COMPACTION_SYSTEMS: Final = (
    "You are a helpful AI assistant tasked with summarizing conversations",  # older Claude Code
    "You are an anchored context summarization assistant for coding sessions.",  # OpenCode
)


def is_compaction_request(payload: Mapping[str, Any]) -> bool:
    """Whether an Anthropic request asks the model to summarise the conversation
    (Claude Code's /compact and auto-compaction, OpenCode's summariser)."""
    system = payload.get("system")
    system_texts = [system] if isinstance(system, str) else _block_texts(system)
    if any(t.lstrip().startswith(_COMPACTION_SYSTEMS) for t in system_texts[:3]):
        return True
    messages = payload.get("messages")
    if not isinstance(messages, list):
        return False
    last_user = next(
        (m for m in reversed(messages) if isinstance(m, Mapping) and m.get("role") == "user"),
        None,
    )
    if last_user is None:
        return False
    content = last_user.get("content")
    texts = [content] if isinstance(content, str) else _block_texts(content)
    return any(marker in text for text in texts for marker in _COMPACTION_PROMPTS)


def _block_texts(content: Any) -> list[str]:
    if not isinstance(content, list):
        return []
    return [b["text"] for b in content if isinstance(b, Mapping) and isinstance(b.get("text"), str)]
