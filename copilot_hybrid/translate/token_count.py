"""copilot-api's token-count arithmetic (spec §11 and §7.7), JS semantics kept.

The tokenizer is injected as `count(text) -> int`; it must count special-token
text such as "<|endoftext|>" as ordinary text (tiktoken's `encode_ordinary`).
Nothing here raises on odd shapes: where copilot-api would throw a TypeError
(and answer `{"input_tokens": 1}`), the odd part is counted as best we can.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from ._js import js_key_order, js_round, js_string, js_stringify
from .anthropic_request import anthropic_to_openai

__all__ = ["TokenCount", "count_anthropic_request_tokens", "count_openai_payload_tokens"]

Counter = Callable[[str], int]

_PROP_INIT = 3
_PROP_KEY = 3
_ENUM_INIT = -3
_ENUM_ITEM = 3
_FUNC_END = 12
_TOKENS_PER_MESSAGE = 3
_TOKENS_PER_NAME = 1
_REPLY_PRIMING = 3  # <|start|>assistant<|message|>
_IMAGE_TOKENS = 85
# Opaque upstream data, not text the model reads (not in copilot-api's payloads).
_UNCOUNTED_KEYS = frozenset({"reasoning_opaque"})


class TokenCount(NamedTuple):
    input: int
    output: int


def _func_init(model_id: str) -> int:
    return 10 if model_id in ("gpt-3.5-turbo", "gpt-4") else 7


def _entries(value: dict[str, Any] | list[Any]) -> list[tuple[str, Any]]:
    """`Object.entries(value)` for a JSON object or array (never a string:
    one entry per character is a cost nobody should be able to ask for)."""
    if isinstance(value, dict):
        return js_key_order(value)
    return [(str(i), v) for i, v in enumerate(value)]


def _text_or_json(value: Any) -> str:
    return value if isinstance(value, str) else js_stringify(value)


def _strip_one_dot(text: str) -> str:
    return text[:-1] if text.endswith(".") else text


def _truthy(value: Any) -> bool:
    """JS truthiness for a JSON value (`||` defaults treat "" and 0 as missing)."""
    if isinstance(value, (dict, list)):
        return True
    return bool(value)


def _message_tokens(message: Any, count: Counter, func_init: int) -> int:
    tokens = _TOKENS_PER_MESSAGE
    if not isinstance(message, dict):
        return tokens
    for key, value in js_key_order(message):
        if key in _UNCOUNTED_KEYS:
            continue
        if isinstance(value, str):
            tokens += count(value)
        if key == "name":
            tokens += _TOKENS_PER_NAME
        if key == "tool_calls" and isinstance(value, list):
            for call in value:
                tokens += func_init + count(js_stringify(call))
            tokens += _FUNC_END
        if key == "content" and isinstance(value, list):
            for part in value:
                if not isinstance(part, dict):
                    continue
                if part.get("type") == "image_url":
                    image = part.get("image_url")
                    url = image.get("url") if isinstance(image, dict) else None
                    tokens += (count(url) if isinstance(url, str) else 0) + _IMAGE_TOKENS
                elif _truthy(part.get("text")):
                    tokens += count(js_string(part["text"]))
    return tokens


def _messages_tokens(messages: list[Any], count: Counter, func_init: int) -> int:
    if not messages:
        return 0
    return sum(_message_tokens(m, count, func_init) for m in messages) + _REPLY_PRIMING


def _property_tokens(name: str, prop: Any, count: Counter) -> int:
    tokens = _PROP_KEY
    if not isinstance(prop, (dict, list)):
        return tokens
    fields = dict(_entries(prop))
    enum = fields.get("enum")
    if isinstance(enum, list):
        tokens += _ENUM_INIT
        for item in enum:
            tokens += _ENUM_ITEM + count(js_string(item))
    kind = js_string(fields["type"]) if _truthy(fields.get("type")) else "string"
    desc = js_string(fields["description"]) if _truthy(fields.get("description")) else ""
    tokens += count(f"{name}:{kind}:{_strip_one_dot(desc)}")
    for key, value in fields.items():
        if key not in ("type", "description", "enum"):
            tokens += count(f"{key}:{_text_or_json(value)}")
    return tokens


def _parameters_tokens(parameters: Any, count: Counter) -> int:
    tokens = 0
    for key, value in _entries(parameters):
        if key == "properties" and isinstance(value, (dict, list)):
            properties = _entries(value)
            if properties:
                tokens += _PROP_INIT
                for name, prop in properties:
                    tokens += _property_tokens(name, prop, count)
        elif key == "properties" and value is None:
            pass  # Object.entries(null) threw in copilot-api; nothing to count
        else:
            # Any other key, and a `properties` that is not an object: its text.
            # (copilot-api's Object.entries made a string one property per
            # character: 16 MB of `properties` counted 57 M tokens.)
            tokens += count(f"{key}:{_text_or_json(value)}")
    return tokens


def _tools_tokens(tools: list[Any], count: Counter, func_init: int) -> int:
    tokens = 0
    for tool in tools:
        tokens += func_init
        function = tool.get("function") if isinstance(tool, dict) else None
        function = function if isinstance(function, dict) else {}
        name = js_string(function["name"]) if "name" in function else "undefined"
        desc = js_string(function["description"]) if _truthy(function.get("description")) else ""
        tokens += count(f"{name}:{_strip_one_dot(desc)}")
        parameters = function.get("parameters")
        if isinstance(parameters, (dict, list)):
            tokens += _parameters_tokens(parameters, count)
    return tokens + _FUNC_END


def count_openai_payload_tokens(payload: dict[str, Any], *, model_id: str, count: Callable[[str], int]) -> TokenCount:
    """copilot-api's getTokenCount: prompt tokens of a chat-completions payload.

    `input` counts every non-assistant message plus the tools, `output` the
    assistant messages. `model_id` only selects the per-tool constant.
    """
    func_init = _func_init(model_id)
    messages = payload.get("messages") if isinstance(payload, dict) else None
    messages = messages if isinstance(messages, list) else []
    inputs = [m for m in messages if not (isinstance(m, dict) and m.get("role") == "assistant")]
    outputs = [m for m in messages if isinstance(m, dict) and m.get("role") == "assistant"]
    input_tokens = _messages_tokens(inputs, count, func_init)
    tools = payload.get("tools") if isinstance(payload, dict) else None
    if isinstance(tools, list) and tools:
        input_tokens += _tools_tokens(tools, count, func_init)
    return TokenCount(input_tokens, _messages_tokens(outputs, count, func_init))


def count_anthropic_request_tokens(
    anthropic_payload: dict[str, Any],
    *,
    count: Callable[[str], int],
    model_id: str,
    anthropic_beta: str | None = None,
) -> int:
    """The `input_tokens` answer of `/v1/messages/count_tokens`.

    The request is translated as for `/v1/messages`, counted with
    copilot-api's arithmetic, then adjusted as copilot-api does: +346 (Claude)
    or +480 (Grok) for a request with tools (skipped when Claude Code sends MCP
    tools), and x1.15 (Claude) or x1.03 (Grok), rounded like JS Math.round.
    The Claude/Grok checks look at the request's own model string.
    Raises TranslationError for a structurally invalid request.
    """
    translated = anthropic_to_openai(anthropic_payload)
    tokens = count_openai_payload_tokens(translated, model_id=model_id, count=count)
    input_tokens = tokens.input
    requested = anthropic_payload.get("model")
    model = requested if isinstance(requested, str) else model_id
    tools = anthropic_payload.get("tools")
    if isinstance(tools, list) and tools:
        mcp_tools = bool(anthropic_beta and anthropic_beta.startswith("claude-code")) and any(
            isinstance(t, dict) and isinstance(t.get("name"), str) and t["name"].startswith("mcp__") for t in tools
        )
        if not mcp_tools:
            if model.startswith("claude"):
                input_tokens += 346  # Anthropic's tool-use system prompt
            elif model.startswith("grok"):
                input_tokens += 480
    total = input_tokens + tokens.output
    if model.startswith("claude"):
        return js_round(total * 1.15)
    if model.startswith("grok"):
        return js_round(total * 1.03)
    return total
