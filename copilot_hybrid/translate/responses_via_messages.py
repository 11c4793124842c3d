"""The OpenAI Responses API served by a Claude model over Copilot's native
Anthropic `/v1/messages`.

For Codex on Claude models. `responses_to_messages_request` translates the
request; `messages_to_responses_result` and `MessagesToResponsesStream` the
answer. Claude's thinking travels through the client as reasoning items:
the signature (or a redacted block's data) in `encrypted_content`, the text
as the summary, so the next request gives Claude its thinking back intact.
Freeform tools become functions with one string parameter and come back as
`custom_tool_call` items; namespaced tools are flattened and restored.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from copilot_hybrid.errors import TranslationError

from .anthropic_response import parse_tool_arguments
from .responses_common import (
    ResponsesStreamWriter,
    ToolNames,
    anthropic_usage_to_responses,
    clamp_effort,
    custom_tool_as_function,
    decode_carrier,
    encode_carrier,
    model_efforts,
    model_limit,
    model_supports,
    new_id,
    nonempty,
    obj,
    response_object,
)

__all__ = ["MessagesToResponsesStream", "messages_to_responses_result", "responses_to_messages_request"]

#: Output limit when the request and the model entry give none.
DEFAULT_MAX_TOKENS = 8_192
_INTERRUPTED_RESULT = "Tool call was interrupted; no result is available."
_EPHEMERAL = {"type": "ephemeral"}
# Effort -> share of the model's thinking-budget range.
_BUDGET_SHARE = {"minimal": 0.0, "low": 0.0, "medium": 0.5}
_MIN_BUDGET = 1_024  # Anthropic's minimum budget_tokens


# --------------------------------------------------------------------------- request


def _text(parts: Any) -> str:
    if isinstance(parts, str):
        return parts
    if not isinstance(parts, list):
        return ""
    return "".join(
        str(p.get("text") or p.get("refusal") or "")
        for p in parts
        if isinstance(p, dict) and p.get("type") in ("input_text", "output_text", "text", "refusal")
    )


def _data_url(url: str) -> tuple[str, str] | None:
    """(media type, base64 data) of a `data:<type>;base64,<data>` URL."""
    if not url.startswith("data:") or ";base64," not in url:
        return None
    head, _, data = url[5:].partition(";base64,")
    return head or "application/octet-stream", data


def _user_blocks(parts: Any, param: str) -> list[dict[str, Any]]:
    if isinstance(parts, str):
        return [{"type": "text", "text": parts}] if parts else []
    if not isinstance(parts, list):
        raise TranslationError("message content must be a string or an array", param=param)
    blocks: list[dict[str, Any]] = []
    for j, part in enumerate(parts):
        if not isinstance(part, dict):
            raise TranslationError("content part must be an object", param=f"{param}.{j}")
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text") and isinstance(part.get("text"), str):
            if part["text"]:
                blocks.append({"type": "text", "text": part["text"]})
        elif kind == "input_image" and isinstance(part.get("image_url"), str):
            decoded = _data_url(part["image_url"])
            source = (
                {"type": "base64", "media_type": decoded[0], "data": decoded[1]}
                if decoded
                else {"type": "url", "url": part["image_url"]}
            )
            blocks.append({"type": "image", "source": source})
        elif kind == "input_file":
            block = _document(part)
            if block is not None:
                blocks.append(block)
    return blocks


def _document(part: Mapping[str, Any]) -> dict[str, Any] | None:
    title = part.get("filename") if isinstance(part.get("filename"), str) else None
    source: dict[str, Any] | None = None
    if isinstance(part.get("file_data"), str):
        decoded = _data_url(part["file_data"])
        if decoded:
            source = {"type": "base64", "media_type": decoded[0], "data": decoded[1]}
    elif isinstance(part.get("file_url"), str):
        source = {"type": "url", "url": part["file_url"]}
    if source is None:
        return None  # a `file_id` refers to OpenAI's file store
    block: dict[str, Any] = {"type": "document", "source": source}
    if title:
        block["title"] = title
    return block


def _tool_result_content(output: Any) -> str | list[dict[str, Any]]:
    if isinstance(output, str):
        return output
    blocks = [b for b in _user_blocks(output, "output") if b["type"] in ("text", "image")]
    return blocks if any(b["type"] == "image" for b in blocks) else "\n\n".join(b["text"] for b in blocks)


def _thinking_block(item: Mapping[str, Any]) -> dict[str, Any] | None:
    encrypted = item.get("encrypted_content")
    signature = decode_carrier(encrypted, "anthropic_signature")
    if signature is not None:
        summary = item.get("summary")
        parts = summary if isinstance(summary, list) else []
        text = "".join(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))
        return {"type": "thinking", "thinking": text, "signature": signature}
    data = decode_carrier(encrypted, "anthropic_redacted")
    if data is not None:
        return {"type": "redacted_thinking", "data": data}
    return None  # an OpenAI model's encrypted reasoning: Claude cannot read it


class _Conversation:
    def __init__(self, names: ToolNames) -> None:
        self.names = names
        self.system: list[str] = []
        self.messages: list[dict[str, Any]] = []

    def append(self, role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        if self.messages and self.messages[-1]["role"] == role:
            self.messages[-1]["content"].extend(blocks)
        else:
            self.messages.append({"role": role, "content": list(blocks)})

    def add(self, item: Mapping[str, Any], param: str) -> None:
        kind = item.get("type", "message")
        if kind == "message":
            role, content = item.get("role"), item.get("content")
            if role in ("system", "developer"):
                text = _text(content)
                if not self.messages:
                    if text:
                        self.system.append(text)
                elif text:
                    # Messages takes one system prompt: later instructions ride in the user turn.
                    self.append("user", [{"type": "text", "text": f"<system-reminder>\n{text}\n</system-reminder>"}])
            elif role == "assistant":
                text = _text(content)
                self.append("assistant", [{"type": "text", "text": text}] if text else [])
            elif role == "user":
                self.append("user", _user_blocks(content, f"{param}.content"))
            else:
                raise TranslationError("message role must be user, assistant, system or developer", param=param)
        elif kind in ("function_call", "custom_tool_call"):
            call_id, name = item.get("call_id"), item.get("name")
            if not isinstance(call_id, str) or not call_id or not isinstance(name, str) or not name:
                raise TranslationError("a tool call item needs string `call_id` and `name`", param=param)
            namespace = item.get("namespace") if isinstance(item.get("namespace"), str) else None
            custom = kind == "custom_tool_call"
            tool_input = (
                {"input": item.get("input") if isinstance(item.get("input"), str) else ""}
                if custom
                else parse_tool_arguments(item.get("arguments"))
            )
            upstream = self.names.register(name, namespace=namespace, custom=custom)
            self.append("assistant", [{"type": "tool_use", "id": call_id, "name": upstream, "input": tool_input}])
        elif kind in ("function_call_output", "custom_tool_call_output"):
            call_id = item.get("call_id")
            if not isinstance(call_id, str) or not call_id:
                raise TranslationError("a tool output item needs a string `call_id`", param=param)
            content = _tool_result_content(item.get("output"))
            self.append("user", [{"type": "tool_result", "tool_use_id": call_id, "content": content}])
        elif kind == "reasoning":
            block = _thinking_block(item)
            if block is not None:
                self.append("assistant", [block])
        # item_reference, web_search_call, compaction, tool_search_* : no Messages counterpart.

    def finish(self) -> list[dict[str, Any]]:
        """Pairs every tool_use with a tool_result in the next user turn, as the
        Messages API requires; results are put first in their turn."""
        out: list[dict[str, Any]] = []
        expected: list[str] = []
        for message in self.messages:
            blocks = message["content"]
            if message["role"] == "user":
                results = [b for b in blocks if b["type"] == "tool_result" and b["tool_use_id"] in expected]
                answered = {b["tool_use_id"] for b in results}
                results += [
                    {"type": "tool_result", "tool_use_id": call_id, "content": _INTERRUPTED_RESULT}
                    for call_id in expected
                    if call_id not in answered
                ]
                rest = []
                for block in blocks:
                    if block["type"] != "tool_result":
                        rest.append(block)
                    elif block["tool_use_id"] not in expected:
                        text = _text_of_result(block["content"])
                        rest.append({"type": "text", "text": f"[Result of tool call {block['tool_use_id']}]\n{text}"})
                message = {"role": "user", "content": results + rest}
                expected = []
            else:
                if expected:
                    out.append({"role": "user", "content": _stand_ins(expected)})
                expected = [b["id"] for b in blocks if b["type"] == "tool_use"]
            out.append(message)
        if expected:
            out.append({"role": "user", "content": _stand_ins(expected)})
        return out


def _stand_ins(call_ids: list[str]) -> list[dict[str, Any]]:
    return [{"type": "tool_result", "tool_use_id": c, "content": _INTERRUPTED_RESULT} for c in call_ids]


def _text_of_result(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n\n".join(b["text"] for b in content if isinstance(b, dict) and b.get("type") == "text")


def _tool(name: str, tool: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    if isinstance(tool.get("description"), str):
        out["description"] = tool["description"]
    out["input_schema"] = tool.get("parameters") or {"type": "object", "properties": {}}
    return out


def _tools(tools: Any, names: ToolNames) -> list[dict[str, Any]]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise TranslationError("`tools` must be an array", param="tools")
    out: list[dict[str, Any]] = []
    for tool in tools:
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            continue
        kind = tool.get("type")
        if kind == "function":
            out.append(_tool(names.register(tool["name"]), tool))
        elif kind == "custom":
            upstream = names.register(tool["name"], custom=True)
            out.append(_tool(upstream, custom_tool_as_function(tool, upstream)))
        elif kind == "namespace":
            for child in tool.get("tools") or []:
                if isinstance(child, dict) and isinstance(child.get("name"), str):
                    custom = child.get("type") == "custom"
                    upstream = names.register(child["name"], namespace=tool["name"], custom=custom)
                    out.append(_tool(upstream, custom_tool_as_function(child, upstream) if custom else child))
        # web_search, tool_search and other hosted tools: nothing Claude runs here.
    return out


def _tool_choice(choice: Any, names: ToolNames, offered: set[str]) -> dict[str, Any] | None:
    if choice == "required":
        return {"type": "any"}
    if choice == "none":
        return {"type": "none"}
    if (
        isinstance(choice, dict)
        and choice.get("type") in ("function", "custom")
        and isinstance(choice.get("name"), str)
    ):
        namespace = choice.get("namespace") if isinstance(choice.get("namespace"), str) else None
        name = names.register(choice["name"], namespace=namespace, custom=choice["type"] == "custom")
        if name in offered:
            return {"type": "tool", "name": name}
    if isinstance(choice, dict) and choice.get("type") == "allowed_tools" and choice.get("mode") == "required":
        return {"type": "any"}
    return None  # auto (the default)


def _thinking(effort: Any, model: Mapping[str, Any] | None, max_tokens: int) -> dict[str, Any]:
    """`thinking` (+ `output_config.effort`) for a Responses reasoning effort."""
    if not isinstance(effort, str) or effort == "none":
        return {}
    supports = model_supports(model)
    if supports.get("adaptive_thinking"):
        fields: dict[str, Any] = {"thinking": {"type": "adaptive"}}
        clamped = clamp_effort(effort, model_efforts(model))
        if clamped is not None:
            fields["output_config"] = {"effort": clamped}
        return fields
    low, high = supports.get("min_thinking_budget", _MIN_BUDGET), supports.get("max_thinking_budget")
    if not isinstance(low, int) or not isinstance(high, int):
        return {}
    low = max(low, _MIN_BUDGET)
    high = min(high, max_tokens - 1)  # Claude needs max_tokens > budget_tokens
    if high < low:
        return {}
    budget = int(low + (high - low) * _BUDGET_SHARE.get(effort, 1.0))
    return {"thinking": {"type": "enabled", "budget_tokens": budget}}


def _mark_cache(messages: list[dict[str, Any]]) -> None:
    # Prompt-cache breakpoint on the newest cacheable block: Claude caches only
    # up to explicit breakpoints, and Codex resends its whole history each turn.
    for message in reversed(messages):
        for block in reversed(message["content"]):
            if block["type"] not in ("thinking", "redacted_thinking"):
                block["cache_control"] = dict(_EPHEMERAL)
                return


def responses_to_messages_request(
    payload: Mapping[str, Any], model: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], ToolNames]:
    """A Responses request as a Copilot `/v1/messages` (Anthropic) request.

    `model` is the target's `/models` entry (thinking support, limits).
    Returns the body and the tool names the answer's translation needs.
    Raises TranslationError for what cannot work (an empty conversation,
    `previous_response_id`).
    """
    if not isinstance(payload, Mapping):
        raise TranslationError("request body must be a JSON object")
    target = payload.get("model")
    if not isinstance(target, str) or not target:
        raise TranslationError("`model` is required and must be a string", param="model")
    if payload.get("previous_response_id") is not None:
        raise TranslationError(
            "previous_response_id is not supported for this model: send the whole conversation in `input`",
            param="previous_response_id",
        )
    names = ToolNames()
    conversation = _Conversation(names)
    instructions = payload.get("instructions")
    if isinstance(instructions, str) and instructions:
        conversation.system.append(instructions)
    items = payload.get("input")
    if isinstance(items, str):
        items = [{"type": "message", "role": "user", "content": items}]
    if not isinstance(items, list):
        raise TranslationError("`input` must be a string or an array of items", param="input")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise TranslationError("input item must be an object", param=f"input.{i}")
        conversation.add(item, f"input.{i}")
    messages = conversation.finish()
    if not messages:
        raise TranslationError("`input` must contain at least one message", param="input")
    _mark_cache(messages)

    stream = payload.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise TranslationError("`stream` must be a boolean", param="stream")
    limit = model_limit(model, "max_output_tokens")
    if not stream:
        # Copilot caps non-streamed Claude answers lower (max_non_streaming_output_tokens).
        limit = model_limit(model, "max_non_streaming_output_tokens") or limit
    requested = payload.get("max_output_tokens")
    if isinstance(requested, int) and not isinstance(requested, bool) and requested > 0:
        max_tokens = min(requested, limit) if limit else requested
    else:
        max_tokens = limit or DEFAULT_MAX_TOKENS
    body: dict[str, Any] = {"model": target, "max_tokens": max_tokens}
    if conversation.system:
        body["system"] = [{"type": "text", "text": "\n\n".join(conversation.system), "cache_control": dict(_EPHEMERAL)}]
    body["messages"] = messages

    tools = _tools(payload.get("tools"), names)
    choice: dict[str, Any] | None = None
    if tools:
        tools[-1]["cache_control"] = dict(_EPHEMERAL)
        body["tools"] = tools
        choice = _tool_choice(payload.get("tool_choice"), names, {t["name"] for t in tools})
        if payload.get("parallel_tool_calls") is False:
            choice = {**(choice or {"type": "auto"}), "disable_parallel_tool_use": True}
        if choice is not None:
            body["tool_choice"] = choice
    forced = choice is not None and choice.get("type") in ("any", "tool")
    reasoning = payload.get("reasoning")
    # Claude cannot think when a tool call is forced (a 400 upstream).
    thinking = (
        {} if forced else _thinking(reasoning.get("effort") if isinstance(reasoning, dict) else None, model, max_tokens)
    )
    body.update({k: v for k, v in thinking.items() if k != "output_config"})
    output_config: dict[str, Any] = dict(thinking.get("output_config", {}))
    text = payload.get("text")
    fmt = text.get("format") if isinstance(text, dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and isinstance(fmt.get("schema"), dict):
        output_config["format"] = {"type": "json_schema", "schema": fmt["schema"]}
    if output_config:
        body["output_config"] = output_config
    if not thinking:
        # Thinking takes no sampling changes; Copilot rejects temperature with top_p.
        temperature, top_p = payload.get("temperature"), payload.get("top_p")
        if isinstance(temperature, (int, float)) and not isinstance(temperature, bool):
            body["temperature"] = temperature
        elif isinstance(top_p, (int, float)) and not isinstance(top_p, bool):
            body["top_p"] = top_p
    body["stream"] = bool(stream)
    # Dropped, no Messages equivalent: store, include, prompt_cache_key,
    # client_metadata, metadata, service_tier, truncation, background,
    # text.verbosity, reasoning.summary, json_object format, hosted tools.
    return body, names


# --------------------------------------------------------------------------- response


def _status(stop_reason: Any) -> tuple[str, str | None]:
    if stop_reason == "max_tokens":
        return "incomplete", "max_output_tokens"
    if stop_reason == "refusal":
        return "incomplete", "content_filter"
    return "completed", None


def _reasoning(block: Mapping[str, Any]) -> dict[str, Any]:
    if block.get("type") == "redacted_thinking":
        data = nonempty(block.get("data"))
        return {
            "type": "reasoning",
            "id": new_id("rs"),
            "summary": [],
            "encrypted_content": encode_carrier("anthropic_redacted", data),
        }
    text = nonempty(block.get("thinking"))
    signature = nonempty(block.get("signature"))
    return {
        "type": "reasoning",
        "id": new_id("rs"),
        "summary": [{"type": "summary_text", "text": text}] if text else [],
        "encrypted_content": encode_carrier("anthropic_signature", signature),
    }


def _call(block: Mapping[str, Any], names: ToolNames) -> dict[str, Any]:
    tool = names.client(str(block.get("name") or ""))
    call_id = block.get("id") if isinstance(block.get("id"), str) and block.get("id") else new_id("call")
    tool_input = obj(block.get("input"))
    if tool.custom:
        text = tool_input.get("input")
        return {
            "type": "custom_tool_call",
            "id": new_id("ctc"),
            "call_id": call_id,
            "name": tool.name,
            "input": text if isinstance(text, str) else json.dumps(tool_input, ensure_ascii=False),
            "status": "completed",
        }
    item: dict[str, Any] = {"type": "function_call", "id": new_id("fc"), "call_id": call_id, "name": tool.name}
    if tool.namespace:
        item["namespace"] = tool.namespace
    item.update(arguments=json.dumps(tool_input, ensure_ascii=False), status="completed")
    return item


def messages_to_responses_result(
    message: Mapping[str, Any], names: ToolNames | None = None, *, request: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A non-stream Anthropic message as a Response object."""
    names = names or ToolNames()
    output: list[dict[str, Any]] = []
    texts: list[str] = []

    def flush_text() -> None:
        if texts:
            output.append(
                {
                    "type": "message",
                    "id": new_id("msg"),
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": "".join(texts), "annotations": []}],
                }
            )
            texts.clear()

    for block in message.get("content") or []:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
            continue
        flush_text()
        if kind in ("thinking", "redacted_thinking"):
            output.append(_reasoning(block))
        elif kind == "tool_use":
            output.append(_call(block, names))
        # server_tool_use, web_search_tool_result...: no Responses item for them here.
    flush_text()
    status, reason = _status(message.get("stop_reason"))
    model = message.get("model")
    return response_object(
        response_id=message["id"] if isinstance(message.get("id"), str) and message["id"] else new_id("resp"),
        model=model if isinstance(model, str) else "",
        created_at=int(time.time()),
        status=status,
        output=output,
        usage=anthropic_usage_to_responses(message.get("usage")),
        incomplete_reason=reason,
        request=request,
    )


# --------------------------------------------------------------------------- stream


@dataclass
class _Block:
    """An Anthropic content block being streamed."""

    kind: str
    signature: str = ""
    arguments: list[str] = field(default_factory=list)


class MessagesToResponsesStream:
    """Copilot's Anthropic SSE events -> Responses events (ResponsesStreamWriter's guarantees).

    `message_stop` completes the response (incomplete on `max_tokens`); an
    Anthropic `error` event, or a stream that stops before `message_stop`
    without a stop reason, ends in `response.failed`.
    """

    def __init__(
        self, names: ToolNames | None = None, *, model: str = "", request: Mapping[str, Any] | None = None
    ) -> None:
        self._names = names or ToolNames()
        self._writer = ResponsesStreamWriter(model=model, request=request)
        self._blocks: dict[Any, _Block] = {}  # open blocks by index
        self._usage: dict[str, Any] = {}
        self._stop_reason: Any = None

    @property
    def done(self) -> bool:
        return self._writer.done

    def feed(self, event: Any) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        if self.done or not isinstance(event, dict):
            return events
        kind = event.get("type")
        if kind == "message_start":
            message = obj(event.get("message"))
            self._merge_usage(message.get("usage"))
            model = message.get("model")
            self._writer.start(
                events,
                response_id=message.get("id") if isinstance(message.get("id"), str) else None,
                model=model if isinstance(model, str) else None,
            )
        elif kind == "content_block_start":
            self._block_start(event.get("index"), event.get("content_block"), events)
        elif kind == "content_block_delta":
            self._block_delta(event.get("index"), event.get("delta"), events)
        elif kind == "content_block_stop":
            self._block_stop(event.get("index"), events)
        elif kind == "message_delta":
            delta = obj(event.get("delta"))
            self._stop_reason = delta.get("stop_reason") or self._stop_reason
            self._merge_usage(event.get("usage"))
        elif kind == "message_stop":
            self._complete(events)
        elif kind == "error":
            failure = obj(event.get("error"))
            self._writer.fail(
                events,
                nonempty(failure.get("message"), "Upstream error"),
                code=nonempty(failure.get("type"), "server_error"),
            )
        return events

    def finish(self) -> list[dict[str, Any]]:
        """Upstream ended: complete if it said how it stopped, else fail."""
        events: list[dict[str, Any]] = []
        if self.done:
            return events
        if self._stop_reason is not None:
            self._complete(events)
        else:
            self._writer.fail(events, "Messages stream ended without completion")
        return events

    def error(self, message: str, *, code: str = "server_error") -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        self._writer.fail(events, message, code=code)
        return events

    def _merge_usage(self, usage: Any) -> None:
        if isinstance(usage, dict):
            self._usage.update({k: v for k, v in usage.items() if v is not None})

    def _block_start(self, index: Any, block: Any, events: list[dict[str, Any]]) -> None:
        if not isinstance(block, dict):
            return
        kind = nonempty(block.get("type"))
        state = _Block(kind)
        self._blocks[index] = state
        if kind == "thinking":
            self._writer.reasoning(events, nonempty(block.get("thinking")), key=index)
            state.signature = nonempty(block.get("signature"))
        elif kind == "redacted_thinking":
            carrier = encode_carrier("anthropic_redacted", nonempty(block.get("data")))
            self._writer.end_reasoning(events, encrypted_content=carrier, key=index)
        elif kind == "text":
            self._writer.text(events, nonempty(block.get("text")), key=index)
        elif kind == "tool_use":
            name = nonempty(block.get("name"))
            call_id = nonempty(block.get("id")) or new_id("call")
            self._writer.tool_call(events, index, call_id=call_id, name=name, tool=self._names.client(name))
            if isinstance(block.get("input"), dict) and block["input"]:
                whole = json.dumps(block["input"], ensure_ascii=False)
                state.arguments.append(whole)
                self._writer.tool_arguments(events, index, whole)
        # server_tool_use / web_search_tool_result and other blocks: not streamed.

    def _block_delta(self, index: Any, delta: Any, events: list[dict[str, Any]]) -> None:
        state = self._blocks.get(index)
        if state is None or not isinstance(delta, dict):
            return
        kind = delta.get("type")
        if kind == "text_delta" and state.kind == "text":
            self._writer.text(events, nonempty(delta.get("text")), key=index)
        elif kind == "thinking_delta" and state.kind == "thinking":
            self._writer.reasoning(events, nonempty(delta.get("thinking")), key=index)
        elif kind == "signature_delta" and state.kind == "thinking":
            state.signature += nonempty(delta.get("signature"))
        elif kind == "input_json_delta" and state.kind == "tool_use":
            fragment = nonempty(delta.get("partial_json"))
            state.arguments.append(fragment)
            self._writer.tool_arguments(events, index, fragment)

    def _block_stop(self, index: Any, events: list[dict[str, Any]]) -> None:
        state = self._blocks.pop(index, None)
        if state is None:
            return
        if state.kind == "thinking":
            encrypted = encode_carrier("anthropic_signature", state.signature)
            self._writer.end_reasoning(events, encrypted_content=encrypted, key=index)
        elif state.kind == "tool_use":
            if not "".join(state.arguments).strip():
                self._writer.tool_arguments(events, index, "{}")  # a call without input: {}
            self._writer.close(events, index)
        elif state.kind == "text":
            self._writer.close(events, index)

    def _complete(self, events: list[dict[str, Any]]) -> None:
        _, reason = _status(self._stop_reason)
        self._writer.complete(events, usage=anthropic_usage_to_responses(self._usage), incomplete_reason=reason)
