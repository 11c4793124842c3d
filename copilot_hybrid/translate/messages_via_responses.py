"""The Anthropic Messages API served by a Responses-only model (reference §5-6).

`messages_to_responses_request` turns a Messages request (Claude Code's) into
a Copilot `/responses` request; `responses_to_messages_result` and
`ResponsesToMessagesStream` turn the answer back. Thinking survives the round
trip: a reasoning item comes back as a thinking block whose signature is
`<encrypted_content>@<item id>` (a compaction item: `cm1#<encrypted>@<id>`),
and such thinking blocks in the history go up as those items again; genuine
Claude signatures (no `@`) cannot be read by an OpenAI model and are dropped.
Tool names over 64 characters are shortened and restored (`ToolNames`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from copilot_hybrid.errors import TranslationError
from copilot_hybrid.jsonutil import loads

from ._js import js_stringify
from .anthropic_request import strip_billing_line
from .anthropic_response import anthropic_error, parse_tool_arguments
from .responses_common import (
    ToolNames,
    clamp_effort,
    model_efforts,
    model_limit,
    nonempty,
    obj,
    responses_usage_to_anthropic,
)

__all__ = [
    "ResponsesToMessagesStream",
    "messages_to_responses_request",
    "responses_to_messages_result",
]

#: Reasoning models spend output tokens on thinking before they answer; a
#: small max_tokens (Claude Code's title and summary calls) would leave no
#: answer at all. CZ's floor.
MIN_OUTPUT_TOKENS = 12_800
_PLACEHOLDER_THINKING = "Thinking..."
_COMPACTION = "cm1#"
_LEGACY_SESSION = re.compile(r"_session_([^_\s]+)$")
# Thinking budgets -> the effort a Responses model understands.
_BUDGET_EFFORTS = ((4_096, "low"), (16_384, "medium"))
_INTERRUPTED_RESULT = "Tool call was interrupted; no result is available."


# --------------------------------------------------------------------------- request


def _text_of(block: Mapping[str, Any], param: str) -> str:
    text = block.get("text")
    if not isinstance(text, str):
        raise TranslationError("text block needs a string `text`", param=f"{param}.text")
    return text


def _block_type(block: Any, param: str) -> str:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise TranslationError("content block must be an object with a string `type`", param=param)
    return str(block["type"])


def _system_text(system: Any) -> list[str]:
    if system is None:
        return []
    if isinstance(system, str):
        text = strip_billing_line(system)
        return [text] if text.strip() else []
    if not isinstance(system, list):
        raise TranslationError("`system` must be a string or an array of text blocks", param="system")
    texts = []
    for i, block in enumerate(system):
        if _block_type(block, f"system.{i}") == "text":
            text = strip_billing_line(_text_of(block, f"system.{i}"))
            if text.strip():
                texts.append(text)
    return texts


def _image_part(block: Mapping[str, Any], param: str) -> dict[str, Any] | None:
    source = block.get("source")
    if not isinstance(source, dict):
        raise TranslationError("image block needs a `source` object", param=f"{param}.source")
    if source.get("type") == "base64" and isinstance(source.get("data"), str):
        media = source.get("media_type") if isinstance(source.get("media_type"), str) else "image/png"
        return {"type": "input_image", "image_url": f"data:{media};base64,{source['data']}", "detail": "auto"}
    if source.get("type") == "url" and isinstance(source.get("url"), str):
        return {"type": "input_image", "image_url": source["url"], "detail": "auto"}
    return None  # Files API sources: nothing Copilot can fetch


def _document_part(block: Mapping[str, Any], param: str) -> dict[str, Any] | None:
    source = block.get("source")
    if not isinstance(source, dict):
        raise TranslationError("document block needs a `source` object", param=f"{param}.source")
    title = block.get("title") if isinstance(block.get("title"), str) else None
    kind = source.get("type")
    if kind == "text" and isinstance(source.get("data"), str):
        return {"type": "input_text", "text": "\n\n".join(x for x in (title, source["data"]) if x)}
    if kind == "base64" and isinstance(source.get("data"), str):
        media = source.get("media_type") if isinstance(source.get("media_type"), str) else "application/pdf"
        return {
            "type": "input_file",
            "filename": title or "document.pdf",
            "file_data": f"data:{media};base64,{source['data']}",
        }
    if kind == "url" and isinstance(source.get("url"), str):
        return {"type": "input_file", "file_url": source["url"]}
    if kind == "content" and isinstance(source.get("content"), str):
        return {"type": "input_text", "text": source["content"]}
    return None


def _user_parts(block: Mapping[str, Any], param: str) -> list[dict[str, Any]]:
    kind = _block_type(block, param)
    if kind == "text":
        text = _text_of(block, param)
        return [{"type": "input_text", "text": text}] if text else []
    if kind == "image":
        part = _image_part(block, param)
        return [part] if part else []
    if kind == "document":
        part = _document_part(block, param)
        return [part] if part else []
    if kind == "search_result":
        texts = [block.get("title"), block.get("source")]
        content = block.get("content")
        if isinstance(content, list):
            texts += [c.get("text") for c in content if isinstance(c, dict)]
        text = "\n\n".join(t for t in texts if isinstance(t, str) and t)
        return [{"type": "input_text", "text": text}] if text else []
    if kind == "tool_reference" and isinstance(block.get("tool_name"), str):
        return [{"type": "input_text", "text": f"Tool {block['tool_name']} loaded"}]
    return []


def _tool_output(block: Mapping[str, Any], param: str) -> str | list[dict[str, Any]]:
    content = block.get("content")
    parts: list[dict[str, Any]] = []
    if isinstance(content, str):
        parts = [{"type": "input_text", "text": content}] if content else []
    elif isinstance(content, list):
        for j, sub in enumerate(content):
            parts.extend(_user_parts(sub, f"{param}.content.{j}"))
    elif content is not None:
        raise TranslationError("tool_result `content` must be a string or an array", param=f"{param}.content")
    if block.get("is_error") is True:
        # Responses has no error flag a model reads reliably; say it in words.
        parts.insert(0, {"type": "input_text", "text": "Error:"})
    if all(p["type"] == "input_text" for p in parts):
        return "\n\n".join(p["text"] for p in parts)
    return parts


def _reasoning_item(block: Mapping[str, Any]) -> dict[str, Any] | None:
    """A thinking block that came from a Responses model, as its item again."""
    signature = block.get("signature")
    if not isinstance(signature, str) or "@" not in signature:
        return None  # a genuine Claude signature: meaningless to an OpenAI model
    encrypted, _, item_id = signature.rpartition("@")
    if not item_id:
        return None
    if encrypted.startswith(_COMPACTION):
        return {"type": "compaction", "id": item_id, "encrypted_content": encrypted[len(_COMPACTION) :]}
    if not encrypted:
        return None  # without its encrypted content the item cannot be replayed (store is off)
    text = block.get("thinking")
    summary = (
        [{"type": "summary_text", "text": text}]
        if isinstance(text, str) and text not in ("", _PLACEHOLDER_THINKING)
        else []
    )
    # The id must be kept: without it Copilot misses its prompt cache (CZ-src).
    return {"type": "reasoning", "id": item_id, "summary": summary, "encrypted_content": encrypted}


class _Input:
    """Builds the Responses input list, keeping every call answered."""

    def __init__(self, names: ToolNames) -> None:
        self.names = names
        self.items: list[dict[str, Any]] = []
        self.pending: list[str] = []  # call ids of the last assistant turn still unanswered

    def close_round(self) -> None:
        # Every function_call needs its output; an interrupted call gets a stand-in.
        for call_id in self.pending:
            self.items.append({"type": "function_call_output", "call_id": call_id, "output": _INTERRUPTED_RESULT})
        self.pending = []

    def message(self, role: str, parts: list[dict[str, Any]]) -> None:
        if parts:
            self.items.append({"type": "message", "role": role, "content": parts})

    def assistant(self, content: Any, param: str) -> None:
        self.close_round()
        if isinstance(content, str):
            if content:
                self.message("assistant", [{"type": "output_text", "text": content}])
            return
        texts: list[dict[str, Any]] = []
        for j, block in enumerate(content):
            p = f"{param}.{j}"
            kind = _block_type(block, p)
            if kind == "text":
                text = _text_of(block, p)
                if text:
                    texts.append({"type": "output_text", "text": text})
                continue
            self.message("assistant", texts)
            texts = []
            if kind == "thinking":
                item = _reasoning_item(block)
                if item is not None:
                    self.items.append(item)
            elif kind == "tool_use":
                call_id, name = block.get("id"), block.get("name")
                if not isinstance(call_id, str) or not call_id:
                    raise TranslationError("tool_use block needs a string `id`", param=f"{p}.id")
                if not isinstance(name, str) or not name:
                    raise TranslationError("tool_use block needs a string `name`", param=f"{p}.name")
                tool_input = block.get("input")
                self.items.append(
                    {
                        "type": "function_call",
                        "call_id": call_id,
                        "name": self.names.register(name),
                        "arguments": js_stringify(tool_input if isinstance(tool_input, dict) else {}),
                        "status": "completed",
                    }
                )
                self.pending.append(call_id)
            # redacted_thinking (Claude's), server tool blocks: nothing an OpenAI model reads.
        self.message("assistant", texts)

    def user(self, content: Any, param: str) -> None:
        if isinstance(content, str):
            self.close_round()
            self.message("user", [{"type": "input_text", "text": content}] if content else [])
            return
        parts: list[dict[str, Any]] = []
        for j, block in enumerate(content):
            p = f"{param}.{j}"
            if _block_type(block, p) != "tool_result":
                parts.extend(_user_parts(block, p))
                continue
            call_id = block.get("tool_use_id")
            if not isinstance(call_id, str) or not call_id:
                raise TranslationError("tool_result needs a string `tool_use_id`", param=f"{p}.tool_use_id")
            output = _tool_output(block, p)
            if call_id in self.pending:
                self.pending.remove(call_id)
                self.items.append({"type": "function_call_output", "call_id": call_id, "output": output})
            else:
                # No matching call right before (trimmed history): keep it as text.
                text = (
                    output
                    if isinstance(output, str)
                    else "\n\n".join(x["text"] for x in output if x["type"] == "input_text")
                )
                parts.insert(0, {"type": "input_text", "text": f"[Result of tool call {call_id}]\n{text}"})
        self.close_round()
        self.message("user", parts)


def _translate_tools(tools: Any, names: ToolNames) -> list[dict[str, Any]]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise TranslationError("`tools` must be an array", param="tools")
    out: list[dict[str, Any]] = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str) or not tool["name"]:
            raise TranslationError("tool needs a string `name`", param=f"tools.{i}.name")
        kind = tool.get("type")
        if isinstance(kind, str) and kind.startswith("web_search"):
            out.append({"type": "web_search"})  # Copilot runs web search for Responses models
            continue
        schema = tool.get("input_schema")
        if schema is None and kind not in (None, "custom"):
            continue  # other Anthropic server tools run on Anthropic's side only
        if schema is not None and not isinstance(schema, dict):
            raise TranslationError("`input_schema` must be an object", param=f"tools.{i}.input_schema")
        function: dict[str, Any] = {"type": "function", "name": names.register(tool["name"])}
        if isinstance(tool.get("description"), str):
            function["description"] = tool["description"]
        function["parameters"] = schema if schema is not None else {"type": "object", "properties": {}}
        function["strict"] = False
        out.append(function)
    return out


def _tool_choice(choice: Any, names: ToolNames, functions: set[str]) -> str | dict[str, Any]:
    if choice is None:
        return "auto"
    if not isinstance(choice, dict) or not isinstance(choice.get("type"), str):
        raise TranslationError("`tool_choice` must be an object with a `type`", param="tool_choice")
    kind = choice["type"]
    if kind == "any":
        return "required"
    if kind == "none":
        return "none"
    if kind == "tool" and isinstance(choice.get("name"), str):
        name = names.register(choice["name"])
        if name in functions:
            return {"type": "function", "name": name}
    return "auto"


def _session_id(metadata: Any) -> str | None:
    """Claude Code's session id from `metadata.user_id` (legacy string or JSON)."""
    user_id = metadata.get("user_id") if isinstance(metadata, dict) else None
    if not isinstance(user_id, str):
        return None
    try:
        parsed = loads(user_id)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("session_id"), str):
        return str(parsed["session_id"])
    match = _LEGACY_SESSION.search(user_id)
    return match.group(1) if match else None


def _effort(payload: Mapping[str, Any], levels: list[str]) -> str | None:
    thinking = payload.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind == "disabled":
        return levels[0] if levels else None  # the cheapest the model has
    output_config = payload.get("output_config")
    requested = output_config.get("effort") if isinstance(output_config, dict) else None
    if requested is None and kind == "enabled":
        budget = thinking.get("budget_tokens") if isinstance(thinking, dict) else None
        if isinstance(budget, int) and not isinstance(budget, bool):
            requested = next((effort for limit, effort in _BUDGET_EFFORTS if budget < limit), "high")
    return clamp_effort(requested, levels)


def _text_format(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """Anthropic structured output (`output_config.format`, or the beta's
    `output_format`) as Responses `text.format`."""
    output_config = payload.get("output_config")
    fmt = output_config.get("format") if isinstance(output_config, dict) else None
    if fmt is None:
        fmt = payload.get("output_format")
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema" or not isinstance(fmt.get("schema"), dict):
        return None
    # strict is off: Anthropic's schemas need not meet OpenAI's strict-mode rules.
    return {"type": "json_schema", "name": "output", "schema": fmt["schema"], "strict": False}


def _compact_input(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Everything before the latest compaction item is inside it already."""
    for i in range(len(items) - 1, -1, -1):
        if items[i].get("type") == "compaction":
            return items[i:]
    return items


def messages_to_responses_request(
    payload: Mapping[str, Any], model: Mapping[str, Any] | None = None, *, model_id: str | None = None
) -> tuple[dict[str, Any], ToolNames]:
    """An Anthropic Messages request as a Copilot `/responses` request.

    `model` is the target's Copilot `/models` entry (efforts, output limit);
    `model_id` the resolved Copilot id (default: the entry's id, else the
    request's `model`). Returns the body and the tool names the answer's
    translation needs. Raises TranslationError for malformed requests.
    """
    if not isinstance(payload, Mapping):
        raise TranslationError("request body must be a JSON object")
    requested = payload.get("model")
    if not isinstance(requested, str) or not requested.strip():
        raise TranslationError("`model` is required and must be a string", param="model")
    messages = payload.get("messages")
    if not isinstance(messages, list):
        raise TranslationError("`messages` is required and must be an array", param="messages")
    target = model_id or (model.get("id") if isinstance(model, Mapping) and isinstance(model.get("id"), str) else None)
    names = ToolNames()
    instructions = _system_text(payload.get("system"))
    builder = _Input(names)
    started = False
    for i, message in enumerate(messages):
        param = f"messages.{i}"
        if not isinstance(message, dict):
            raise TranslationError("message must be an object", param=param)
        role, content = message.get("role"), message.get("content")
        if role not in ("user", "assistant", "system"):
            raise TranslationError("role must be `user`, `assistant` or `system`", param=f"{param}.role")
        if not isinstance(content, (str, list)):
            raise TranslationError("content must be a string or an array", param=f"{param}.content")
        if role == "system":
            texts = _system_text(content)
            if not started:
                instructions.extend(texts)  # leading system messages are more system prompt
            elif texts:
                builder.message("developer", [{"type": "input_text", "text": "\n\n".join(texts)}])
            continue
        started = True
        if role == "assistant":
            builder.assistant(content, f"{param}.content")
        else:
            builder.user(content, f"{param}.content")
    builder.close_round()

    body: dict[str, Any] = {"model": target or requested}
    if instructions:
        body["instructions"] = "\n\n".join(instructions)
    body["input"] = _compact_input(builder.items)
    tools = _translate_tools(payload.get("tools"), names)
    if tools:
        body["tools"] = tools
        functions = {t["name"] for t in tools if t["type"] == "function"}
        body["tool_choice"] = _tool_choice(payload.get("tool_choice"), names, functions)
        choice = payload.get("tool_choice")
        parallel = not (isinstance(choice, dict) and choice.get("disable_parallel_tool_use") is True)
        body["parallel_tool_calls"] = parallel

    max_tokens = payload.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool)):
        raise TranslationError("`max_tokens` must be an integer", param="max_tokens")
    limit = model_limit(model, "max_output_tokens")
    if isinstance(max_tokens, int):
        wanted = max(max_tokens, MIN_OUTPUT_TOKENS)
        body["max_output_tokens"] = min(wanted, limit) if limit else wanted

    levels = model_efforts(model)
    if levels or model is None:
        reasoning: dict[str, Any] = {}
        effort = _effort(payload, levels)
        if effort is not None:
            reasoning["effort"] = effort
        thinking = payload.get("thinking")
        if not (isinstance(thinking, dict) and thinking.get("type") == "disabled"):
            reasoning["summary"] = "detailed"  # summaries become the thinking text
        if reasoning:
            body["reasoning"] = reasoning
        body["include"] = ["reasoning.encrypted_content"]
    else:
        # Not a reasoning model: sampling parameters apply (reasoning models reject them).
        for key in ("temperature", "top_p"):
            value = payload.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                body[key] = value

    text_format = _text_format(payload)
    if text_format is not None:
        body["text"] = {"format": text_format}
    session = _session_id(payload.get("metadata"))
    if session:
        body["prompt_cache_key"] = session
    stream = payload.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise TranslationError("`stream` must be a boolean", param="stream")
    body["stream"] = bool(stream)
    body["store"] = False
    # Dropped, no Responses equivalent: stop_sequences, top_k, context_management,
    # container, mcp_servers, service_tier, metadata (other than the session id).
    return body, names


# --------------------------------------------------------------------------- response


def _stop_reason(status: Any, incomplete: Any, has_tool_use: bool) -> str:
    if status == "incomplete":
        # Without a reason an incomplete answer ran out of tokens (the usual case).
        reason = incomplete.get("reason") if isinstance(incomplete, dict) else None
        return "end_turn" if reason == "content_filter" else "max_tokens"
    return "tool_use" if has_tool_use else "end_turn"


def _signature(item: Mapping[str, Any], *, compaction: bool = False) -> str:
    encrypted = item.get("encrypted_content") if isinstance(item.get("encrypted_content"), str) else ""
    item_id = item.get("id") if isinstance(item.get("id"), str) else ""
    return f"{_COMPACTION if compaction else ''}{encrypted}@{item_id}"


def _summary_text(item: Mapping[str, Any]) -> str:
    summary = item.get("summary")
    if not isinstance(summary, list):
        return ""
    return "\n\n".join(p["text"] for p in summary if isinstance(p, dict) and isinstance(p.get("text"), str))


def _message_text(item: Mapping[str, Any]) -> str:
    content = item.get("content")
    if not isinstance(content, list):
        return ""
    texts = []
    for part in content:
        if isinstance(part, dict):
            for key in ("text", "refusal"):
                if isinstance(part.get(key), str):
                    texts.append(part[key])
    return "".join(texts)


def _tool_use(item: Mapping[str, Any], names: ToolNames) -> dict[str, Any]:
    call_id = item.get("call_id")
    name = nonempty(item.get("name"))
    return {
        "type": "tool_use",
        "id": call_id if isinstance(call_id, str) and call_id else f"toolu_{uuid.uuid4().hex[:24]}",
        "name": names.client(name).name,
        "input": parse_tool_arguments(item.get("arguments")),
    }


def responses_to_messages_result(
    result: Mapping[str, Any], names: ToolNames | None = None, *, model: str | None = None
) -> dict[str, Any]:
    """A non-stream Copilot Response as an Anthropic message (a failed one as
    an Anthropic error body)."""
    names = names or ToolNames()
    if result.get("status") == "failed":
        error = result.get("error")
        message = error.get("message") if isinstance(error, dict) else None
        return anthropic_error(message if isinstance(message, str) and message else "Upstream response failed")
    content: list[dict[str, Any]] = []
    for item in result.get("output") or []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "reasoning":
            text = _summary_text(item) or _PLACEHOLDER_THINKING
            content.append({"type": "thinking", "thinking": text, "signature": _signature(item)})
        elif kind == "compaction":
            content.append(
                {"type": "thinking", "thinking": _PLACEHOLDER_THINKING, "signature": _signature(item, compaction=True)}
            )
        elif kind == "function_call":
            content.append(_tool_use(item, names))
        elif kind == "message":
            text = _message_text(item)
            if text:
                content.append({"type": "text", "text": text})
        # web_search_call and other hosted-tool items: no Anthropic block to put them in.
    has_tool_use = any(b["type"] == "tool_use" for b in content)
    response_id = result.get("id")
    return {
        "id": response_id if isinstance(response_id, str) and response_id else f"msg_{uuid.uuid4().hex}",
        "type": "message",
        "role": "assistant",
        "model": model or (result.get("model") if isinstance(result.get("model"), str) else ""),
        "content": content,
        "stop_reason": _stop_reason(result.get("status"), result.get("incomplete_details"), has_tool_use),
        "stop_sequence": None,
        "usage": responses_usage_to_anthropic(result.get("usage")),
    }


# --------------------------------------------------------------------------- stream


class ResponsesToMessagesStream:
    """Copilot Responses events -> Anthropic Messages SSE events.

    Same guarantees as AnthropicStreamTranslator: `message_start` first; blocks
    started, given deltas while open, and stopped once, one open at a time;
    exactly one `message_delta` + `message_stop` at the end, or one `error`
    event instead (response.failed, an upstream `error`, a stream that stops
    before its terminal event); nothing after that.
    """

    def __init__(self, names: ToolNames | None = None, *, model: str | None = None) -> None:
        self._names = names or ToolNames()
        self._model = model
        self._started = False
        self.done = False
        self._next_index = 0
        self._open_index: int | None = None
        self._open_key: Any = None
        self._sent: set[Any] = set()  # keys whose content was sent (deltas or whole)
        self._tool_use = False
        self._usage: Any = None

    def feed(self, event: Any) -> list[dict[str, Any]]:
        if self.done or not isinstance(event, dict):
            return []
        events: list[dict[str, Any]] = []
        kind = event.get("type")
        response = obj(event.get("response"))
        self._start(response, events)
        index = event.get("output_index")
        if kind == "response.output_item.added":
            self._item_added(event.get("item"), index, events)
        elif kind == "response.output_item.done":
            self._item_done(event.get("item"), index, events)
        elif kind == "response.function_call_arguments.delta":
            self._arguments(index, event.get("delta"), events)
        elif kind == "response.function_call_arguments.done":
            if ("tool", index) not in self._sent:
                self._arguments(index, event.get("arguments"), events)
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            self._thinking(index, event.get("delta"), events)
        elif kind in ("response.reasoning_summary_text.done", "response.reasoning_text.done"):
            if ("reasoning", index) not in self._sent:
                self._thinking(index, event.get("text"), events)
        elif kind == "response.reasoning_summary_part.added":
            part = event.get("summary_index")
            if isinstance(part, int) and part > 0 and ("reasoning", index) in self._sent:
                self._thinking(index, "\n\n", events)
        elif kind in ("response.output_text.delta", "response.refusal.delta"):
            self._text(index, event.get("delta"), events)
        elif kind in ("response.output_text.done", "response.refusal.done"):
            if ("text", index) not in self._sent:
                self._text(index, event.get("text", event.get("refusal")), events)
        elif kind in ("response.completed", "response.incomplete"):
            status = "incomplete" if kind == "response.incomplete" else response.get("status", "completed")
            stop = _stop_reason(status, response.get("incomplete_details"), self._tool_use)
            self._usage = response.get("usage", self._usage)
            events.extend(self._complete(stop))
        elif kind == "response.failed":
            error = response.get("error")
            message = error.get("message") if isinstance(error, dict) else None
            events.extend(self.error(message if isinstance(message, str) and message else "Upstream response failed"))
        elif kind == "error":
            message = event.get("message")
            events.extend(self.error(message if isinstance(message, str) and message else "Upstream error"))
        return events

    def finish(self) -> list[dict[str, Any]]:
        """Upstream ended; without its terminal event that is an error."""
        return self.error("Responses stream ended without completion")

    def error(self, message: str, *, error_type: str = "api_error") -> list[dict[str, Any]]:
        """Closes the open block, then one Anthropic `error` event; nothing after."""
        if self.done:
            return []
        events: list[dict[str, Any]] = []
        self._close(events)
        self.done = True
        events.append(anthropic_error(message, error_type=error_type))
        return events

    # ------------------------------------------------------------ blocks

    def _start(self, response: Mapping[str, Any], events: list[dict[str, Any]]) -> None:
        if self._started:
            return
        self._started = True
        response_id = response.get("id")
        model = response.get("model")
        events.append(
            {
                "type": "message_start",
                "message": {
                    "id": response_id if isinstance(response_id, str) and response_id else f"msg_{uuid.uuid4().hex}",
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "model": self._model or (model if isinstance(model, str) and model else "unknown"),
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {**responses_usage_to_anthropic(response.get("usage")), "output_tokens": 0},
                },
            }
        )

    def _open(self, key: Any, block: dict[str, Any], events: list[dict[str, Any]]) -> None:
        self._close(events)
        self._open_index, self._open_key = self._next_index, key
        self._next_index += 1
        events.append({"type": "content_block_start", "index": self._open_index, "content_block": block})

    def _close(self, events: list[dict[str, Any]]) -> None:
        if self._open_index is not None:
            events.append({"type": "content_block_stop", "index": self._open_index})
        self._open_index = self._open_key = None

    def _delta(self, delta: dict[str, Any], events: list[dict[str, Any]]) -> None:
        events.append({"type": "content_block_delta", "index": self._open_index, "delta": delta})

    def _item_added(self, item: Any, index: Any, events: list[dict[str, Any]]) -> None:
        if not isinstance(item, dict) or item.get("type") != "function_call":
            return  # other blocks open lazily on their first content
        self._open_tool(item, index, events)
        if isinstance(item.get("arguments"), str) and item["arguments"]:
            self._arguments(index, item["arguments"], events)

    def _open_tool(self, item: Mapping[str, Any], index: Any, events: list[dict[str, Any]]) -> None:
        block = _tool_use(item, self._names)
        block["input"] = {}
        self._open(("tool", index), block, events)
        self._tool_use = True

    def _arguments(self, index: Any, text: Any, events: list[dict[str, Any]]) -> None:
        if not isinstance(text, str) or not text or self._open_key != ("tool", index):
            return  # arguments of a closed call (interleaved upstream) cannot be delivered
        self._sent.add(("tool", index))
        self._delta({"type": "input_json_delta", "partial_json": text}, events)

    def _thinking(self, index: Any, text: Any, events: list[dict[str, Any]]) -> None:
        if not isinstance(text, str) or not text:
            return
        if self._open_key != ("reasoning", index):
            self._open(("reasoning", index), {"type": "thinking", "thinking": "", "signature": ""}, events)
        self._sent.add(("reasoning", index))
        self._delta({"type": "thinking_delta", "thinking": text}, events)

    def _text(self, index: Any, text: Any, events: list[dict[str, Any]]) -> None:
        if not isinstance(text, str) or not text:
            return
        if self._open_key != ("text", index):
            self._open(("text", index), {"type": "text", "text": ""}, events)
        self._sent.add(("text", index))
        self._delta({"type": "text_delta", "text": text}, events)

    def _item_done(self, item: Any, index: Any, events: list[dict[str, Any]]) -> None:
        if not isinstance(item, dict):
            return
        kind = item.get("type")
        if kind in ("reasoning", "compaction"):
            key = ("reasoning", index)
            if self._open_key != key:
                self._open(key, {"type": "thinking", "thinking": "", "signature": ""}, events)
            if key not in self._sent:
                text = _summary_text(item) if kind == "reasoning" else ""
                self._delta({"type": "thinking_delta", "thinking": text or _PLACEHOLDER_THINKING}, events)
                self._sent.add(key)
            signature = _signature(item, compaction=kind == "compaction")
            self._delta({"type": "signature_delta", "signature": signature}, events)
            self._close(events)
        elif kind == "function_call":
            key = ("tool", index)
            if key not in self._sent and self._open_key != key:
                self._open_tool(item, index, events)
            if key not in self._sent:
                self._arguments(index, item.get("arguments"), events)
            if self._open_key == key:
                self._close(events)
        elif kind == "message":
            key = ("text", index)
            if key not in self._sent:
                self._text(index, _message_text(item), events)
            if self._open_key == key:
                self._close(events)

    def _complete(self, stop_reason: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        self._close(events)
        events.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": responses_usage_to_anthropic(self._usage),
            }
        )
        events.append({"type": "message_stop"})
        self.done = True
        return events
