"""The OpenAI Chat Completions API served by a Responses-only model.

For the openai SDK's chat API (and every chat client) on a model Copilot
offers only on `/responses`. `chat_to_responses_request` translates the
request; `responses_to_chat_result` and `ResponsesToChatStream` the answer.
Reasoning travels the way Copilot's own chat API carries Claude's thinking:
`reasoning_text` (the summary) and `reasoning_opaque`, here
`<encrypted_content>@<item id>`, which a replayed assistant message turns
back into the reasoning item.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from copilot_hybrid.errors import TranslationError

from .responses_common import (
    ToolNames,
    clamp_effort,
    model_efforts,
    model_limit,
    obj,
    responses_usage_to_chat,
)

__all__ = ["ResponsesToChatStream", "chat_to_responses_request", "responses_to_chat_result"]


# --------------------------------------------------------------------------- request


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text") or p.get("refusal") or "")
            for p in content
            if isinstance(p, dict) and p.get("type") in ("text", "refusal", "output_text", "input_text")
        )
    return ""


def _user_parts(content: Any, param: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "input_text", "text": content}] if content else []
    if not isinstance(content, list):
        raise TranslationError("content must be a string or an array of parts", param=param)
    parts: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        if not isinstance(part, dict):
            raise TranslationError("content part must be an object", param=f"{param}.{j}")
        kind = part.get("type")
        if kind == "text" and isinstance(part.get("text"), str):
            if part["text"]:
                parts.append({"type": "input_text", "text": part["text"]})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str) or not url:
                raise TranslationError("image_url part needs a `url`", param=f"{param}.{j}.image_url")
            detail = image.get("detail") if isinstance(image, dict) else None
            parts.append({"type": "input_image", "image_url": url, "detail": detail or "auto"})
        elif kind == "file" and isinstance(part.get("file"), dict):
            file = part["file"]
            entry: dict[str, Any] = {"type": "input_file"}
            for key in ("file_id", "file_data", "filename"):
                if isinstance(file.get(key), str):
                    entry[key] = file[key]
            parts.append(entry)
        # input_audio and unknown parts: nothing a Responses model takes here.
    return parts


def _reasoning_item(message: Mapping[str, Any]) -> dict[str, Any] | None:
    opaque = message.get("reasoning_opaque")
    if not isinstance(opaque, str) or "@" not in opaque:
        return None  # another model's opaque reasoning (a Claude signature): unreadable here
    encrypted, _, item_id = opaque.rpartition("@")
    if not encrypted or not item_id:
        return None
    text = message.get("reasoning_text")
    summary = [{"type": "summary_text", "text": text}] if isinstance(text, str) and text else []
    return {"type": "reasoning", "id": item_id, "summary": summary, "encrypted_content": encrypted}


def _assistant_items(message: Mapping[str, Any], names: ToolNames, param: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    reasoning = _reasoning_item(message)
    if reasoning is not None:
        items.append(reasoning)
    text = _content_text(message.get("content"))
    if text:
        items.append({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]})
    calls = message.get("tool_calls")
    legacy = message.get("function_call")
    if isinstance(legacy, dict):
        calls = [*(calls if isinstance(calls, list) else []), {"id": legacy.get("name"), "function": legacy}]
    if calls is not None and not isinstance(calls, list):
        raise TranslationError("`tool_calls` must be an array", param=f"{param}.tool_calls")
    for k, call in enumerate(calls or []):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise TranslationError("tool call needs `function.name`", param=f"{param}.tool_calls.{k}")
        call_id = call.get("id")
        if not isinstance(call_id, str) or not call_id:
            raise TranslationError("tool call needs a string `id`", param=f"{param}.tool_calls.{k}.id")
        arguments = function.get("arguments")
        items.append(
            {
                "type": "function_call",
                "call_id": call_id,
                "name": names.register(function["name"]),
                "arguments": arguments if isinstance(arguments, str) else "{}",
                "status": "completed",
            }
        )
    return items


def _input_items(messages: list[Any], names: ToolNames) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        param = f"messages.{i}"
        if not isinstance(message, dict):
            raise TranslationError("message must be an object", param=param)
        role = message.get("role")
        if role in ("system", "developer"):
            text = _content_text(message.get("content"))
            if text:
                items.append({"type": "message", "role": role, "content": [{"type": "input_text", "text": text}]})
        elif role == "user":
            parts = _user_parts(message.get("content"), f"{param}.content")
            if parts:
                items.append({"type": "message", "role": "user", "content": parts})
        elif role == "assistant":
            items.extend(_assistant_items(message, names, param))
        elif role in ("tool", "function"):
            call_id = message.get("tool_call_id") if role == "tool" else message.get("name")
            if not isinstance(call_id, str) or not call_id:
                raise TranslationError("tool message needs a string `tool_call_id`", param=f"{param}.tool_call_id")
            items.append(
                {"type": "function_call_output", "call_id": call_id, "output": _content_text(message.get("content"))}
            )
        else:
            raise TranslationError("unknown message role", param=f"{param}.role")
    return items


def _tools(payload: Mapping[str, Any], names: ToolNames) -> list[dict[str, Any]]:
    raw = payload.get("tools")
    if raw is None and isinstance(payload.get("functions"), list):
        raw = [{"type": "function", "function": f} for f in payload["functions"]]  # legacy `functions`
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise TranslationError("`tools` must be an array", param="tools")
    tools = []
    for i, tool in enumerate(raw):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise TranslationError("tool needs `function.name`", param=f"tools.{i}.function.name")
        out: dict[str, Any] = {"type": "function", "name": names.register(function["name"])}
        if isinstance(function.get("description"), str):
            out["description"] = function["description"]
        out["parameters"] = function.get("parameters") or {"type": "object", "properties": {}}
        out["strict"] = function.get("strict") is True
        tools.append(out)
    return tools


def _tool_choice(payload: Mapping[str, Any], names: ToolNames) -> str | dict[str, Any] | None:
    choice = payload.get("tool_choice", payload.get("function_call"))
    if choice is None:
        return None
    if choice in ("auto", "none", "required"):
        return str(choice)
    if isinstance(choice, dict):
        function = obj(choice.get("function")) or choice
        if isinstance(function.get("name"), str):
            return {"type": "function", "name": names.register(function["name"])}
    raise TranslationError("`tool_choice` must be auto, none, required or a function", param="tool_choice")


def _text_format(response_format: Any) -> dict[str, Any] | None:
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_schema" and isinstance(response_format.get("json_schema"), dict):
        schema = response_format["json_schema"]
        fmt: dict[str, Any] = {"type": "json_schema", "name": schema.get("name") or "output"}
        for key in ("schema", "strict", "description"):
            if key in schema:
                fmt[key] = schema[key]
        return fmt
    if kind in ("json_object", "text"):
        return {"type": kind}
    return None


def chat_to_responses_request(
    payload: Mapping[str, Any], model: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], ToolNames]:
    """A Chat Completions request as a Copilot `/responses` request.

    `model` is the target's `/models` entry (efforts, output limit). Returns
    the body and the tool names for the answer. Raises TranslationError.
    """
    if not isinstance(payload, Mapping):
        raise TranslationError("request body must be a JSON object")
    target = payload.get("model")
    if not isinstance(target, str) or not target:
        raise TranslationError("`model` is required and must be a string", param="model")
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise TranslationError("`messages` must be a non-empty array", param="messages")
    n = payload.get("n")
    if n is not None and n != 1:
        raise TranslationError("this model answers one choice per request (`n` must be 1)", param="n")
    names = ToolNames()
    body: dict[str, Any] = {"model": target, "input": _input_items(messages, names)}
    tools = _tools(payload, names)
    if tools:
        body["tools"] = tools
        choice = _tool_choice(payload, names)
        if choice is not None:
            body["tool_choice"] = choice
        if isinstance(payload.get("parallel_tool_calls"), bool):
            body["parallel_tool_calls"] = payload["parallel_tool_calls"]
    limit = payload.get("max_completion_tokens", payload.get("max_tokens"))
    if limit is not None:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise TranslationError("`max_completion_tokens` must be a positive integer", param="max_completion_tokens")
        ceiling = model_limit(model, "max_output_tokens")
        body["max_output_tokens"] = min(limit, ceiling) if ceiling else limit
    levels = model_efforts(model)
    if levels or model is None:
        reasoning: dict[str, Any] = {"summary": "auto"}
        effort = clamp_effort(payload.get("reasoning_effort"), levels) if levels else payload.get("reasoning_effort")
        if isinstance(effort, str):
            reasoning["effort"] = effort
        body["reasoning"] = reasoning
        body["include"] = ["reasoning.encrypted_content"]
    else:
        for key in ("temperature", "top_p"):
            if isinstance(payload.get(key), (int, float)) and not isinstance(payload.get(key), bool):
                body[key] = payload[key]
    text: dict[str, Any] = {}
    fmt = _text_format(payload.get("response_format"))
    if fmt is not None:
        text["format"] = fmt
    if isinstance(payload.get("verbosity"), str):
        text["verbosity"] = payload["verbosity"]
    if text:
        body["text"] = text
    if isinstance(payload.get("prompt_cache_key"), str):
        body["prompt_cache_key"] = payload["prompt_cache_key"]
    stream = payload.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise TranslationError("`stream` must be a boolean", param="stream")
    body["stream"] = bool(stream)
    body["store"] = False
    # Dropped, no Responses equivalent: stop, seed, logprobs, top_logprobs,
    # logit_bias, presence/frequency_penalty, modalities, audio, prediction,
    # web_search_options, user, metadata, store (always false here).
    return body, names


# --------------------------------------------------------------------------- response


def _finish_reason(status: Any, incomplete: Any, has_calls: bool) -> str:
    if status == "incomplete":
        reason = incomplete.get("reason") if isinstance(incomplete, dict) else None
        return "content_filter" if reason == "content_filter" else "length"
    return "tool_calls" if has_calls else "stop"


def _opaque(item: Mapping[str, Any]) -> str | None:
    encrypted, item_id = item.get("encrypted_content"), item.get("id")
    if isinstance(encrypted, str) and encrypted and isinstance(item_id, str) and item_id:
        return f"{encrypted}@{item_id}"
    return None


def _summary(item: Mapping[str, Any]) -> str:
    summary = item.get("summary")
    parts = summary if isinstance(summary, list) else []
    return "\n\n".join(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))


def responses_to_chat_result(result: Mapping[str, Any], names: ToolNames | None = None) -> dict[str, Any]:
    """A non-stream Copilot Response as a `chat.completion`."""
    names = names or ToolNames()
    texts: list[str] = []
    refusals: list[str] = []
    calls: list[dict[str, Any]] = []
    reasoning: list[str] = []
    opaque: str | None = None
    for item in result.get("output") or []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "message":
            for part in item.get("content") or []:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    texts.append(part["text"])
                elif isinstance(part, dict) and isinstance(part.get("refusal"), str):
                    refusals.append(part["refusal"])
        elif kind == "function_call":
            call_id = item.get("call_id")
            calls.append(
                {
                    "id": call_id if isinstance(call_id, str) and call_id else f"call_{uuid.uuid4().hex[:24]}",
                    "type": "function",
                    "function": {
                        "name": names.client(str(item.get("name") or "")).name,
                        "arguments": item.get("arguments") if isinstance(item.get("arguments"), str) else "",
                    },
                }
            )
        elif kind == "reasoning":
            if _summary(item):
                reasoning.append(_summary(item))
            opaque = _opaque(item) or opaque
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if refusals:
        message["refusal"] = "".join(refusals)
    if reasoning:
        message["reasoning_text"] = "\n\n".join(reasoning)
    if opaque:
        message["reasoning_opaque"] = opaque
    if calls:
        message["tool_calls"] = calls
    response_id = result.get("id")
    created = result.get("created_at")
    completion: dict[str, Any] = {
        "id": response_id if isinstance(response_id, str) and response_id else f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": created if isinstance(created, int) else int(time.time()),
        "model": result.get("model") if isinstance(result.get("model"), str) else "",
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": _finish_reason(result.get("status"), result.get("incomplete_details"), bool(calls)),
                "logprobs": None,
            }
        ],
    }
    usage = responses_usage_to_chat(result.get("usage"))
    if usage is not None:
        completion["usage"] = usage
    return completion


# --------------------------------------------------------------------------- stream


class ResponsesToChatStream:
    """Copilot Responses events -> `chat.completion.chunk` objects.

    Guarantees, whatever upstream sends: the first chunk carries
    `role: assistant`; tool calls are numbered 0, 1, 2… in order; the stream
    ends with exactly one chunk carrying a `finish_reason` (followed by one
    usage-only chunk when `include_usage`), or with one error chunk
    `{"error": {...}}` (response.failed, an upstream `error`, a cut stream),
    which the openai SDK raises as an APIError; nothing after that. The caller
    writes `data: [DONE]` after a finished stream, as OpenAI does.
    """

    def __init__(
        self, names: ToolNames | None = None, *, model: str | None = None, include_usage: bool = False
    ) -> None:
        self._names = names or ToolNames()
        self._model = model
        self._include_usage = include_usage
        self._id = f"chatcmpl-{uuid.uuid4().hex}"
        self._created = int(time.time())
        self._started = False
        self.done = False
        self._calls: dict[Any, int] = {}  # output_index -> tool-call index
        self._sent_arguments: set[Any] = set()
        self._sent_text: set[Any] = set()
        self._sent_reasoning: set[Any] = set()

    def feed(self, event: Any) -> list[dict[str, Any]]:
        if self.done or not isinstance(event, dict):
            return []
        chunks: list[dict[str, Any]] = []
        kind = event.get("type")
        response = obj(event.get("response"))
        if response:
            if isinstance(response.get("id"), str) and not self._started:
                self._id = response["id"]
            if isinstance(response.get("model"), str) and response["model"] and not self._model:
                self._model = response["model"]
        index = event.get("output_index")
        if kind == "response.output_item.added":
            self._call_started(event.get("item"), index, chunks)
        elif kind == "response.function_call_arguments.delta":
            self._arguments(index, event.get("delta"), chunks)
        elif kind == "response.function_call_arguments.done" and index not in self._sent_arguments:
            self._arguments(index, event.get("arguments"), chunks)
        elif kind in ("response.output_text.delta", "response.refusal.delta"):
            self._delta({"content": event.get("delta")}, chunks, sent=(self._sent_text, index))
        elif kind == "response.output_text.done" and index not in self._sent_text:
            self._delta({"content": event.get("text")}, chunks, sent=(self._sent_text, index))
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            self._delta({"reasoning_text": event.get("delta")}, chunks, sent=(self._sent_reasoning, index))
        elif kind == "response.output_item.done":
            self._item_done(event.get("item"), index, chunks)
        elif kind in ("response.completed", "response.incomplete"):
            status = "incomplete" if kind == "response.incomplete" else response.get("status")
            self._finish(
                _finish_reason(status, response.get("incomplete_details"), bool(self._calls)), response, chunks
            )
        elif kind == "response.failed":
            error = response.get("error")
            message = error.get("message") if isinstance(error, dict) else None
            chunks.extend(self.error(message if isinstance(message, str) and message else "Upstream response failed"))
        elif kind == "error":
            message = event.get("message")
            chunks.extend(self.error(message if isinstance(message, str) and message else "Upstream error"))
        return chunks

    def finish(self) -> list[dict[str, Any]]:
        """Upstream ended; without its terminal event that is an error."""
        return self.error("Responses stream ended without completion")

    def error(self, message: str, *, error_type: str = "api_error") -> list[dict[str, Any]]:
        if self.done:
            return []
        self.done = True
        return [{"error": {"message": message, "type": error_type, "param": None, "code": None}}]

    # ------------------------------------------------------------ helpers

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        if not self._started:
            self._started = True
            delta = {"role": "assistant", **delta}
        return {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model or "",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
        }

    def _delta(self, delta: dict[str, Any], chunks: list[dict[str, Any]], *, sent: tuple[set[Any], Any]) -> None:
        value = next(iter(delta.values()))
        if isinstance(value, str) and value:
            sent[0].add(sent[1])
            chunks.append(self._chunk(delta))

    def _call_started(self, item: Any, index: Any, chunks: list[dict[str, Any]]) -> None:
        if not isinstance(item, dict) or item.get("type") != "function_call" or index in self._calls:
            return
        self._calls[index] = position = len(self._calls)
        call_id = item.get("call_id")
        header = {
            "index": position,
            "id": call_id if isinstance(call_id, str) and call_id else f"call_{uuid.uuid4().hex[:24]}",
            "type": "function",
            "function": {"name": self._names.client(str(item.get("name") or "")).name, "arguments": ""},
        }
        chunks.append(self._chunk({"tool_calls": [header]}))
        if isinstance(item.get("arguments"), str) and item["arguments"]:
            self._arguments(index, item["arguments"], chunks)

    def _arguments(self, index: Any, text: Any, chunks: list[dict[str, Any]]) -> None:
        if index not in self._calls or not isinstance(text, str) or not text:
            return
        self._sent_arguments.add(index)
        chunks.append(self._chunk({"tool_calls": [{"index": self._calls[index], "function": {"arguments": text}}]}))

    def _item_done(self, item: Any, index: Any, chunks: list[dict[str, Any]]) -> None:
        if not isinstance(item, dict):
            return
        kind = item.get("type")
        if kind == "function_call":
            self._call_started(item, index, chunks)
            if index not in self._sent_arguments:
                self._arguments(index, item.get("arguments"), chunks)
        elif kind == "message" and index not in self._sent_text:
            text = "".join(
                str(p.get("text") or p.get("refusal") or "") for p in item.get("content") or [] if isinstance(p, dict)
            )
            self._delta({"content": text}, chunks, sent=(self._sent_text, index))
        elif kind == "reasoning":
            if index not in self._sent_reasoning:
                self._delta({"reasoning_text": _summary(item)}, chunks, sent=(self._sent_reasoning, index))
            opaque = _opaque(item)
            if opaque:
                chunks.append(self._chunk({"reasoning_opaque": opaque}))

    def _finish(self, reason: str, response: Mapping[str, Any], chunks: list[dict[str, Any]]) -> None:
        chunks.append(self._chunk({}, reason))
        usage = responses_usage_to_chat(response.get("usage"))
        if self._include_usage and usage is not None:
            chunk = self._chunk({})
            chunk["choices"] = []
            chunk["usage"] = usage
            chunks.append(chunk)
        self.done = True
