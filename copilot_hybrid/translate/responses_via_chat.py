"""The OpenAI Responses API served by a chat-completions model.

For Codex (which speaks only Responses) on models Copilot offers only on
`/chat/completions` (GPT-4.x, Gemini, ...). `responses_to_chat_request`
translates the request; `chat_to_responses_result` and
`ChatToResponsesStream` the answer. Freeform (`custom`) tools are offered as
functions with one string parameter and their calls come back as
`custom_tool_call` items; namespaced tools are flattened to
`<namespace>__<name>` and restored. A model's opaque reasoning
(`reasoning_opaque`, Copilot's field for Claude's and Gemini's thinking)
travels through the client as a reasoning item's `encrypted_content`.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping
from typing import Any

from copilot_hybrid.errors import TranslationError
from copilot_hybrid.jsonutil import loads

from .responses_common import (
    ResponsesStreamWriter,
    ToolNames,
    chat_usage_to_responses,
    clamp_effort,
    custom_call_arguments,
    custom_tool_as_function,
    custom_tool_input,
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

__all__ = [
    "ChatToResponsesStream",
    "chat_to_responses_result",
    "max_tokens_field",
    "responses_to_chat_request",
]

_IMAGE_MOVED_NOTE = "[image attached in the next message]"
_FILE_OMITTED = "[file omitted: {name} cannot be sent to this model through the proxy]"
#: OpenAI reasoning models take `max_completion_tokens` and reject `max_tokens`.
_MAX_COMPLETION_MODELS = re.compile(r"^(o\d|gpt-5)")
# Effort -> share of a Claude thinking-budget range (Copilot's chat API for Claude).
_BUDGET_SHARE = {"minimal": 0.0, "low": 0.0, "medium": 0.5}


def max_tokens_field(model_id: str) -> str:
    """The chat-completions field a model takes its output limit in."""
    return "max_completion_tokens" if _MAX_COMPLETION_MODELS.match(model_id) else "max_tokens"


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


def _user_content(parts: Any, param: str) -> str | list[dict[str, Any]] | None:
    if isinstance(parts, str):
        return parts or None
    if not isinstance(parts, list):
        raise TranslationError("message content must be a string or an array", param=param)
    out: list[dict[str, Any]] = []
    for j, part in enumerate(parts):
        if not isinstance(part, dict):
            raise TranslationError("content part must be an object", param=f"{param}.{j}")
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text") and isinstance(part.get("text"), str):
            if part["text"]:
                out.append({"type": "text", "text": part["text"]})
        elif kind == "input_image":
            url = part.get("image_url")
            if isinstance(url, str) and url:
                image: dict[str, Any] = {"url": url}
                if part.get("detail") in ("low", "high", "auto"):
                    image["detail"] = part["detail"]
                out.append({"type": "image_url", "image_url": image})
            # a `file_id` image refers to OpenAI's file store: nothing Copilot has.
        elif kind == "input_file":
            name = part.get("filename") if isinstance(part.get("filename"), str) else "a file"
            out.append({"type": "text", "text": _FILE_OMITTED.format(name=name)})
    if not out:
        return None
    if all(p["type"] == "text" for p in out):
        return "\n\n".join(p["text"] for p in out)
    return out


class _Chat:
    """Builds the chat message list; consecutive assistant items are one turn."""

    def __init__(self, names: ToolNames) -> None:
        self.names = names
        self.messages: list[dict[str, Any]] = []
        self.assistant: dict[str, Any] | None = None
        self.moved_images: list[dict[str, Any]] = []

    def _turn(self) -> dict[str, Any]:
        if self.assistant is None:
            self.flush_images()
            self.assistant = {"role": "assistant", "content": None}
            self.messages.append(self.assistant)
        return self.assistant

    def end_turn(self) -> None:
        self.assistant = None

    def flush_images(self) -> None:
        # OpenAI allows images only in user messages: those of tool outputs follow them.
        if self.moved_images:
            self.messages.append({"role": "user", "content": self.moved_images})
            self.moved_images = []

    def add(self, item: Mapping[str, Any], param: str) -> None:
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            content = item.get("content")
            if role == "assistant":
                text = _text(content)
                if text:
                    turn = self._turn()
                    turn["content"] = (turn["content"] or "") + text
                return
            self.end_turn()
            self.flush_images()
            if role in ("system", "developer"):
                text = _text(content)
                if text:
                    self.messages.append({"role": "system", "content": text})
            elif role == "user":
                user = _user_content(content, f"{param}.content")
                if user is not None:
                    self.messages.append({"role": "user", "content": user})
            else:
                raise TranslationError("message role must be user, assistant, system or developer", param=param)
        elif kind in ("function_call", "custom_tool_call"):
            call_id = item.get("call_id")
            name = item.get("name")
            if not isinstance(call_id, str) or not call_id or not isinstance(name, str) or not name:
                raise TranslationError("a tool call item needs string `call_id` and `name`", param=param)
            namespace = item.get("namespace") if isinstance(item.get("namespace"), str) else None
            custom = kind == "custom_tool_call"
            arguments = custom_call_arguments(item.get("input")) if custom else item.get("arguments")
            call = {
                "id": call_id,
                "type": "function",
                "function": {
                    "name": self.names.register(name, namespace=namespace, custom=custom),
                    "arguments": arguments if isinstance(arguments, str) and arguments else "{}",
                },
            }
            self._turn().setdefault("tool_calls", []).append(call)
        elif kind in ("function_call_output", "custom_tool_call_output"):
            call_id = item.get("call_id")
            if not isinstance(call_id, str) or not call_id:
                raise TranslationError("a tool output item needs a string `call_id`", param=param)
            self.end_turn()
            output = item.get("output")
            text = _text(output)
            if isinstance(output, list):
                images = [
                    {"type": "image_url", "image_url": {"url": p["image_url"]}}
                    for p in output
                    if isinstance(p, dict) and p.get("type") == "input_image" and isinstance(p.get("image_url"), str)
                ]
                if images:
                    text = f"{text}\n\n{_IMAGE_MOVED_NOTE}" if text else _IMAGE_MOVED_NOTE
                    self.moved_images.extend(images)
            self.messages.append({"role": "tool", "tool_call_id": call_id, "content": text})
        elif kind == "reasoning":
            opaque = decode_carrier(item.get("encrypted_content"), "chat_opaque")
            if opaque is not None:
                turn = self._turn()
                summary = _summary(item)
                if summary:
                    turn["reasoning_text"] = summary
                turn["reasoning_opaque"] = opaque
            # Reasoning a Responses model encrypted: unreadable for a chat model.
        # item_reference, web_search_call, compaction, tool_search_* and other
        # hosted-tool items have no chat-completions counterpart.


def _summary(item: Mapping[str, Any]) -> str:
    summary = item.get("summary")
    parts = summary if isinstance(summary, list) else []
    return "\n\n".join(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))


def _function(name: str, tool: Mapping[str, Any]) -> dict[str, Any]:
    function: dict[str, Any] = {"name": name}
    if isinstance(tool.get("description"), str):
        function["description"] = tool["description"]
    function["parameters"] = tool.get("parameters") or {"type": "object", "properties": {}}
    return {"type": "function", "function": function}


def _tools(tools: Any, names: ToolNames) -> list[dict[str, Any]]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise TranslationError("`tools` must be an array", param="tools")
    out: list[dict[str, Any]] = []
    for tool in tools:
        if not isinstance(tool, dict):
            continue
        kind = tool.get("type")
        if kind == "function" and isinstance(tool.get("name"), str):
            out.append(_function(names.register(tool["name"]), tool))
        elif kind == "custom" and isinstance(tool.get("name"), str):
            upstream = names.register(tool["name"], custom=True)
            out.append(_function(upstream, custom_tool_as_function(tool, upstream)))
        elif kind == "namespace" and isinstance(tool.get("name"), str):
            for child in tool.get("tools") or []:
                if isinstance(child, dict) and isinstance(child.get("name"), str):
                    custom = child.get("type") == "custom"
                    upstream = names.register(child["name"], namespace=tool["name"], custom=custom)
                    out.append(_function(upstream, custom_tool_as_function(child, upstream) if custom else child))
        # web_search, tool_search, file_search, image_generation and other hosted
        # tools: a chat model cannot run them.
    return out


def _tool_choice(choice: Any, names: ToolNames, offered: set[str]) -> str | dict[str, Any] | None:
    if choice in ("auto", "none", "required"):
        return str(choice)
    if isinstance(choice, dict):
        kind = choice.get("type")
        if kind in ("function", "custom") and isinstance(choice.get("name"), str):
            namespace = choice.get("namespace") if isinstance(choice.get("namespace"), str) else None
            name = names.register(choice["name"], namespace=namespace, custom=kind == "custom")
            if name in offered:
                return {"type": "function", "function": {"name": name}}
        if kind == "allowed_tools":
            return "required" if choice.get("mode") == "required" else "auto"
    return None


def _reasoning_fields(reasoning: Any, model: Mapping[str, Any] | None, limit: int | None) -> dict[str, Any]:
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    if not isinstance(effort, str):
        return {}
    levels = model_efforts(model)
    if levels:
        clamped = clamp_effort(effort, levels)
        return {"reasoning_effort": clamped} if clamped else {}
    supports = model_supports(model)
    low, high = supports.get("min_thinking_budget"), supports.get("max_thinking_budget")
    if effort == "none" or not isinstance(low, int) or not isinstance(high, int) or high < low:
        return {}
    if limit is not None:
        high = min(high, limit - 1)  # Claude needs max_tokens > budget
    budget = int(low + (high - low) * _BUDGET_SHARE.get(effort, 1.0))
    return {"thinking_budget": budget} if low <= budget <= high else {}


def _response_format(text: Any) -> dict[str, Any] | None:
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        schema.setdefault("name", "output")
        return {"type": "json_schema", "json_schema": schema}
    if fmt.get("type") == "json_object":
        return {"type": "json_object"}
    return None


def responses_to_chat_request(
    payload: Mapping[str, Any], model: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], ToolNames]:
    """A Responses request as a Copilot `/chat/completions` request.

    `model` is the target's `/models` entry. Returns the body and the tool
    names (custom and namespaced tools) the answer's translation needs.
    Raises TranslationError for what cannot work (e.g. `previous_response_id`:
    the proxy keeps no conversation state).
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
    chat = _Chat(names)
    instructions = payload.get("instructions")
    if isinstance(instructions, str) and instructions:
        chat.messages.append({"role": "system", "content": instructions})
    items = payload.get("input")
    if isinstance(items, str):
        items = [{"type": "message", "role": "user", "content": items}]
    if not isinstance(items, list):
        raise TranslationError("`input` must be a string or an array of items", param="input")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise TranslationError("input item must be an object", param=f"input.{i}")
        chat.add(item, f"input.{i}")
    chat.flush_images()
    body: dict[str, Any] = {"model": target, "messages": chat.messages}

    tools = _tools(payload.get("tools"), names)
    if tools:
        body["tools"] = tools
        choice = _tool_choice(payload.get("tool_choice"), names, {t["function"]["name"] for t in tools})
        if choice is not None:
            body["tool_choice"] = choice
        if isinstance(payload.get("parallel_tool_calls"), bool):
            body["parallel_tool_calls"] = payload["parallel_tool_calls"]
    limit = payload.get("max_output_tokens")
    if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
        ceiling = model_limit(model, "max_output_tokens")
        limit = min(limit, ceiling) if ceiling else limit
        body[max_tokens_field(target)] = limit
    else:
        limit = None
    body.update(_reasoning_fields(payload.get("reasoning"), model, limit))
    for key in ("temperature", "top_p"):
        value = payload.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            body[key] = value
    response_format = _response_format(payload.get("text"))
    if response_format is not None:
        body["response_format"] = response_format
    stream = payload.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise TranslationError("`stream` must be a boolean", param="stream")
    if stream:
        body["stream"] = True
    # Dropped, no chat-completions equivalent: store, include, prompt_cache_key,
    # client_metadata, metadata, service_tier, truncation, background,
    # text.verbosity, reasoning.summary, and the hosted tools (above).
    return body, names


# --------------------------------------------------------------------------- response


def _reasoning_id(opaque: str) -> str:
    # Deterministic, so a replayed item keeps the id it was first given.
    return "rs_" + hashlib.sha256(opaque.encode("utf-8")).hexdigest()[:32]


def _status(finish_reason: Any) -> tuple[str, str | None]:
    if finish_reason == "length":
        return "incomplete", "max_output_tokens"
    if finish_reason == "content_filter":
        return "incomplete", "content_filter"
    return "completed", None


def _call_item(call: Mapping[str, Any], names: ToolNames) -> dict[str, Any] | None:
    function = call.get("function")
    if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
        return None
    tool = names.client(function["name"])
    call_id = call.get("id") if isinstance(call.get("id"), str) and call.get("id") else new_id("call")
    arguments = function.get("arguments") if isinstance(function.get("arguments"), str) else ""
    if tool.custom:
        return {
            "type": "custom_tool_call",
            "id": new_id("ctc"),
            "call_id": call_id,
            "name": tool.name,
            "input": custom_tool_input(arguments),
            "status": "completed",
        }
    item = {"type": "function_call", "id": new_id("fc"), "call_id": call_id, "name": tool.name}
    if tool.namespace:
        item["namespace"] = tool.namespace
    item.update(arguments=arguments, status="completed")
    return item


def chat_to_responses_result(
    completion: Mapping[str, Any], names: ToolNames | None = None, *, request: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A non-stream `chat.completion` as a Response object; `request` is the
    client's Responses request (its fields are echoed, as the API does)."""
    names = names or ToolNames()
    reasoning: list[str] = []
    opaque: str | None = None
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    finish: Any = None
    for choice in completion.get("choices") or []:
        if not isinstance(choice, dict):
            continue
        message = obj(choice.get("message"))
        if isinstance(message.get("reasoning_text"), str) and message["reasoning_text"]:
            reasoning.append(message["reasoning_text"])
        if isinstance(message.get("reasoning_opaque"), str) and message["reasoning_opaque"]:
            opaque = opaque or message["reasoning_opaque"]
        content = message.get("content")
        text = content if isinstance(content, str) else _text(content)
        if text:
            texts.append(text)
        for call in message.get("tool_calls") or []:
            item = _call_item(call, names) if isinstance(call, dict) else None
            if item is not None:
                calls.append(item)
        # Copilot splits Claude answers over choices: a tool_calls reason wins.
        if finish is None or choice.get("finish_reason") == "tool_calls":
            finish = choice.get("finish_reason")
    output: list[dict[str, Any]] = []
    if reasoning or opaque:
        thought: dict[str, Any] = {
            "type": "reasoning",
            "id": _reasoning_id(opaque) if opaque else new_id("rs"),
            "summary": [{"type": "summary_text", "text": "\n\n".join(reasoning)}] if reasoning else [],
        }
        if opaque:
            thought["encrypted_content"] = encode_carrier("chat_opaque", opaque)
        output.append(thought)
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
    output.extend(calls)
    status, reason = _status(finish)
    created = completion.get("created")
    model = completion.get("model")
    return response_object(
        response_id=new_id("resp"),
        model=model if isinstance(model, str) else _request_model(request),
        created_at=created if isinstance(created, int) else int(time.time()),
        status=status,
        output=output,
        usage=chat_usage_to_responses(completion.get("usage")),
        incomplete_reason=reason,
        request=request,
    )


def _request_model(request: Mapping[str, Any] | None) -> str:
    model = request.get("model") if request else None
    return model if isinstance(model, str) else ""


# --------------------------------------------------------------------------- stream


class ChatToResponsesStream:
    """Copilot `chat.completion.chunk`s -> Responses events (ResponsesStreamWriter's guarantees).

    Feed parsed chunks, then call finish() at `[DONE]` or EOF. The answer is
    complete once upstream sent a finish_reason and its usage (Copilot sends
    usage in a chunk of its own after the finish_reason); a stream cut before
    any finish_reason ends `incomplete` when a tool call's arguments are not
    whole JSON, else completed. An upstream error chunk ends in
    `response.failed`.
    """

    def __init__(
        self, names: ToolNames | None = None, *, model: str = "", request: Mapping[str, Any] | None = None
    ) -> None:
        self._names = names or ToolNames()
        self._writer = ResponsesStreamWriter(model=model, request=request)
        self._finish_reason: str | None = None
        self._usage: Any = None
        self._calls: dict[Any, tuple[str, list[str]]] = {}  # key -> (call id, arguments)
        self._slots: dict[int, Any] = {}  # tool-call index -> current key
        self._calls_seen = 0

    @property
    def done(self) -> bool:
        return self._writer.done

    def feed(self, chunk: Any) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        if self.done or not isinstance(chunk, dict):
            return events
        if isinstance(chunk.get("error"), dict):
            message = chunk["error"].get("message")
            self._writer.fail(events, message if isinstance(message, str) and message else "Upstream error")
            return events
        self._writer.start(events, model=chunk.get("model") if isinstance(chunk.get("model"), str) else None)
        if isinstance(chunk.get("usage"), dict):
            self._usage = chunk["usage"]
        choices = chunk.get("choices")
        choices = choices if isinstance(choices, list) else []
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            delta = obj(choice.get("delta"))
            self._on_delta(delta, events)
            reason = choice.get("finish_reason")
            if isinstance(reason, str) and reason and (self._finish_reason in (None, "stop") or reason == "tool_calls"):
                self._finish_reason = reason
        if not choices and self._usage is not None and self._finish_reason is not None:
            self._complete(events)
        return events

    def finish(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        if not self.done:
            self._complete(events)
        return events

    def error(self, message: str, *, code: str = "server_error") -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        self._writer.fail(events, message, code=code)
        return events

    def _on_delta(self, delta: Mapping[str, Any], events: list[dict[str, Any]]) -> None:
        thinking = delta.get("reasoning_text") or delta.get("reasoning_content")
        if isinstance(thinking, str) and thinking:
            self._writer.reasoning(events, thinking)
        opaque = delta.get("reasoning_opaque")
        if isinstance(opaque, str) and opaque:
            self._writer.end_reasoning(events, encrypted_content=encode_carrier("chat_opaque", opaque))
        content = delta.get("content")
        if isinstance(content, str) and content:
            self._writer.text(events, content)
        for entry in delta.get("tool_calls") or []:
            if isinstance(entry, dict):
                self._on_tool_call(entry, events)

    def _on_tool_call(self, entry: Mapping[str, Any], events: list[dict[str, Any]]) -> None:
        function = obj(entry.get("function"))
        call_id = nonempty(entry.get("id")) or None
        name = nonempty(function.get("name")) or None
        index = entry.get("index")
        index = index if isinstance(index, int) and not isinstance(index, bool) else -1
        key = self._slots.get(index)
        if key is None or (call_id is not None and call_id != self._calls[key][0]):
            # A new call (also: a used index with another id, Copilot's split choices).
            if name is None:
                return  # arguments for a call never announced cannot be placed
            key = ("call", self._calls_seen)
            self._calls_seen += 1
            self._slots[index] = key
            self._calls[key] = (call_id or new_id("call"), [])
            self._writer.tool_call(events, key, call_id=self._calls[key][0], name=name, tool=self._names.client(name))
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            self._calls[key][1].append(arguments)
            self._writer.tool_arguments(events, key, arguments)

    def _complete(self, events: list[dict[str, Any]]) -> None:
        reason = self._finish_reason
        if reason is None and any(not _whole_json("".join(args)) for _, args in self._calls.values()):
            reason = "length"  # cut off inside a tool call: it must not look runnable
        _, incomplete = _status(reason)
        self._writer.complete(events, usage=chat_usage_to_responses(self._usage), incomplete_reason=incomplete)


def _whole_json(text: str) -> bool:
    if not text.strip():
        return True
    try:
        loads(text)
    except ValueError:
        return False
    return True
