"""OpenAI chat-completions response -> Anthropic Messages response, and the
shared pieces the stream translator uses (stop reasons, usage, errors)."""

from __future__ import annotations

import uuid
from typing import Any

from copilot_hybrid.jsonutil import loads

__all__ = [
    "ANTHROPIC_ERROR_TYPES",
    "anthropic_error",
    "anthropic_error_from_upstream",
    "anthropic_usage",
    "error_type_for_status",
    "map_stop_reason",
    "openai_to_anthropic",
    "parse_tool_arguments",
]

_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",  # legacy OpenAI name for the same thing
    "content_filter": "end_turn",
}


def map_stop_reason(finish_reason: str | None) -> str | None:
    """OpenAI finish_reason -> Anthropic stop_reason.

    An unknown value becomes `end_turn` (copilot-api left the key undefined,
    so it vanished from the JSON and clients choked on the missing field).
    """
    if finish_reason is None:
        return None
    return _STOP_REASONS.get(finish_reason, "end_turn")


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def anthropic_usage(usage: Any) -> dict[str, int]:
    """OpenAI usage -> Anthropic usage.

    Anthropic's `input_tokens` excludes cache reads and writes, which are
    reported on their own; Copilot's `prompt_tokens` includes them. A cache
    field is present only when upstream reported it (0 included).
    """
    if not isinstance(usage, dict):
        return {"input_tokens": 0, "output_tokens": 0}
    details = usage.get("prompt_tokens_details")
    details = details if isinstance(details, dict) else {}
    cached = details.get("cached_tokens")
    written = details.get("cache_creation_input_tokens")
    prompt = _count(usage.get("prompt_tokens"))
    result = {
        "input_tokens": max(0, prompt - _count(cached) - _count(written)),
        "output_tokens": _count(usage.get("completion_tokens")),
    }
    if cached is not None:
        result["cache_read_input_tokens"] = _count(cached)
    if written is not None:
        result["cache_creation_input_tokens"] = _count(written)
    return result


def parse_tool_arguments(arguments: Any) -> dict[str, Any]:
    """A tool call's `arguments` string -> the tool_use `input` object.

    copilot-api threw on invalid JSON, turning a whole answer into a 500.
    Here "" means `{}`; JSON that is not an object is wrapped as
    `{"value": ...}`; text that is not JSON (e.g. cut off by max_tokens) is
    kept as `{"_raw_arguments": text}`, so the client's tool validation
    reports it to the model instead of the request failing.
    """
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        parsed = loads(arguments)
    except ValueError:
        return {"_raw_arguments": arguments}
    return parsed if isinstance(parsed, dict) else {"value": parsed}


def _text_blocks(content: Any) -> list[dict[str, Any]]:
    # Empty text blocks are dropped: Claude rejects them when the client sends
    # the turn back (copilot-api emitted one for content "").
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if isinstance(content, list):
        return [
            {"type": "text", "text": part["text"]}
            for part in content
            if isinstance(part, dict)
            and part.get("type") == "text"
            and isinstance(part.get("text"), str)
            and part["text"]
        ]
    return []


def _thinking_block(message: dict[str, Any]) -> dict[str, Any] | None:
    text = message.get("reasoning_text")
    signature = message.get("reasoning_opaque")
    text = text if isinstance(text, str) else ""
    signature = signature if isinstance(signature, str) else ""
    if not text and not signature:
        return None
    return {"type": "thinking", "thinking": text, "signature": signature}


def _tool_use_blocks(tool_calls: Any) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if not isinstance(tool_calls, list):
        return blocks
    for call in tool_calls:
        if not isinstance(call, dict):
            continue
        function = call.get("function")
        function = function if isinstance(function, dict) else {}
        name = function.get("name")
        if not isinstance(name, str) or not name:
            continue  # a tool_use without a name cannot be run or replayed
        call_id = call.get("id")
        blocks.append(
            {
                "type": "tool_use",
                "id": call_id if isinstance(call_id, str) and call_id else f"toolu_{uuid.uuid4().hex[:24]}",
                "name": name,
                "input": parse_tool_arguments(function.get("arguments")),
            }
        )
    return blocks


def merge_finish_reason(current: str | None, new: str | None, *, first: bool) -> str | None:
    """copilot-api's rule across choices: the first choice's reason, except that
    a later `tool_calls` wins, and a later reason replaces `stop`."""
    if first:
        return new
    if new is not None and (new == "tool_calls" or current == "stop"):
        return new
    return current


def openai_to_anthropic(response: dict[str, Any]) -> dict[str, Any]:
    """Translates a non-streaming chat completion into an Anthropic message.

    All choices are merged (Copilot puts text and tool calls in separate
    choices): thinking blocks, then text blocks, then tool_use blocks.
    """
    choices = response.get("choices") if isinstance(response, dict) else None
    choices = [c for c in choices if isinstance(c, dict)] if isinstance(choices, list) else []
    thinking: list[dict[str, Any]] = []
    texts: list[dict[str, Any]] = []
    tools: list[dict[str, Any]] = []
    finish: str | None = None
    for i, choice in enumerate(choices):
        message = choice.get("message")
        message = message if isinstance(message, dict) else {}
        block = _thinking_block(message)
        if block is not None:
            thinking.append(block)
        texts.extend(_text_blocks(message.get("content")))
        tools.extend(_tool_use_blocks(message.get("tool_calls")))
        reason = choice.get("finish_reason")
        finish = merge_finish_reason(finish, reason if isinstance(reason, str) else None, first=i == 0)

    stop_reason = map_stop_reason(finish)
    # A complete response always has a reason; Copilot sometimes says "stop"
    # while returning tool calls, and the client only runs tools on tool_use.
    if tools and stop_reason in (None, "end_turn") and finish != "content_filter":
        stop_reason = "tool_use"
    elif stop_reason is None:
        stop_reason = "end_turn"

    response_id = response.get("id") if isinstance(response, dict) else None
    model = response.get("model") if isinstance(response, dict) else None
    return {
        "id": response_id if isinstance(response_id, str) and response_id else f"msg_{uuid.uuid4().hex}",
        "type": "message",
        "role": "assistant",
        "model": model if isinstance(model, str) else "",
        "content": [*thinking, *texts, *tools],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": anthropic_usage(response.get("usage") if isinstance(response, dict) else None),
    }


# --------------------------------------------------------------------------- errors

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


#: Every `type` an Anthropic error body may carry.
ANTHROPIC_ERROR_TYPES = frozenset({*_ERROR_TYPES.values(), "api_error"})


def error_type_for_status(status: int) -> str:
    """The Anthropic error `type` for an HTTP status."""
    if status in _ERROR_TYPES:
        return _ERROR_TYPES[status]
    return "invalid_request_error" if 400 <= status < 500 else "api_error"


def anthropic_error(message: str, *, error_type: str = "api_error") -> dict[str, Any]:
    """An Anthropic error body; also the payload of a mid-stream `error` event."""
    return {"type": "error", "error": {"type": error_type, "message": message}}


def anthropic_error_from_upstream(status: int, body: str | bytes) -> dict[str, Any]:
    """An upstream (Copilot) error response -> an Anthropic error body.

    copilot-api embedded the raw upstream body as a string in a non-Anthropic
    shape; clients then showed JSON-in-JSON. The message is extracted from
    `{"error": {"message": ...}}` / `{"message": ...}` when present.
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    message = text.strip()
    try:
        parsed = loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        inner = parsed.get("error")
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            message = inner["message"]
        elif isinstance(inner, str):
            message = inner
        elif isinstance(parsed.get("message"), str):
            message = parsed["message"]
    return anthropic_error(message or f"upstream returned HTTP {status}", error_type=error_type_for_status(status))
