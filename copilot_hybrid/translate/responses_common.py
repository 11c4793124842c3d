"""What every translation to or from the OpenAI Responses API shares.

Model capabilities (reasoning efforts, output limits), reversible tool names,
reasoning carriers (how another API's thinking travels in a Responses
`encrypted_content` and back), usage in the three APIs' shapes, and
`ResponsesStreamWriter`, which builds a well-formed Responses event stream
from whatever an upstream sends. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from copilot_hybrid.jsonutil import loads

__all__ = [
    "EFFORT_LEVELS",
    "MAX_TOOL_NAME",
    "ClientTool",
    "JsonStringFieldStream",
    "ResponsesStreamWriter",
    "ToolNames",
    "anthropic_usage_to_responses",
    "chat_usage_to_responses",
    "clamp_effort",
    "custom_call_arguments",
    "custom_tool_as_function",
    "custom_tool_input",
    "decode_carrier",
    "encode_carrier",
    "is_foreign_reasoning",
    "model_efforts",
    "model_limit",
    "model_supports",
    "new_id",
    "nonempty",
    "obj",
    "response_object",
    "responses_usage_to_anthropic",
    "responses_usage_to_chat",
    "short_tool_name",
]

# --------------------------------------------------------------------------- JSON values


def obj(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else {} (client JSON is never trusted)."""
    return value if isinstance(value, dict) else {}


def nonempty(value: Any, default: str = "") -> str:
    """`value` if it is a non-empty string, else `default`."""
    return value if isinstance(value, str) and value else default


# --------------------------------------------------------------------------- models

#: Reasoning efforts from least to most; models list a subset (Copilot `/models`).
EFFORT_LEVELS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")


def model_supports(model: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """`capabilities.supports` of a Copilot `/models` entry ({} when unknown)."""
    caps = model.get("capabilities") if isinstance(model, Mapping) else None
    supports = caps.get("supports") if isinstance(caps, Mapping) else None
    return supports if isinstance(supports, Mapping) else {}


def model_limit(model: Mapping[str, Any] | None, key: str) -> int | None:
    """A positive integer from `capabilities.limits` (e.g. `max_output_tokens`)."""
    caps = model.get("capabilities") if isinstance(model, Mapping) else None
    limits = caps.get("limits") if isinstance(caps, Mapping) else None
    value = limits.get(key) if isinstance(limits, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def model_efforts(model: Mapping[str, Any] | None) -> list[str]:
    """The reasoning efforts a model lists, in its order ([] when it lists none)."""
    raw = model_supports(model).get("reasoning_effort")
    return [x for x in raw if isinstance(x, str)] if isinstance(raw, list) else []


def clamp_effort(effort: Any, levels: Sequence[str]) -> str | None:
    """The effort to send a model that lists `levels`.

    A listed effort is kept; an unlisted known one becomes the nearest listed
    level (ties go to the cheaper one); unknown values and models that list
    nothing give None (the field is then left out: an effort the model does not
    take is a 400).
    """
    if not isinstance(effort, str) or not levels:
        return None
    if effort in levels:
        return effort
    if effort not in EFFORT_LEVELS:
        return None
    rank = EFFORT_LEVELS.index(effort)
    known = [level for level in levels if level in EFFORT_LEVELS]
    if not known:
        return None
    return min(known, key=lambda level: (abs(EFFORT_LEVELS.index(level) - rank), EFFORT_LEVELS.index(level)))


# --------------------------------------------------------------------------- tool names

#: OpenAI's chat and Responses APIs (and Anthropic's) take function names of at
#: most 64 characters from [A-Za-z0-9_-]; Claude Code's MCP tools are often longer.
MAX_TOOL_NAME = 64
_VALID_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_INVALID_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_HASH_CHARS = 8


def short_tool_name(name: str) -> str:
    """`name` if an OpenAI-side API takes it, else a deterministic stand-in.

    The stand-in keeps the start of the name (invalid characters as `_`) and
    ends with `_` + 8 hex digits of the name's SHA-256, so it is the same on
    every request (history replays the same calls) and two long names that
    share a prefix stay apart.
    """
    if _VALID_NAME.fullmatch(name):
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:_HASH_CHARS]
    head = _INVALID_CHARS.sub("_", name)[: MAX_TOOL_NAME - _HASH_CHARS - 1]
    return f"{head}_{digest}"


@dataclass(frozen=True)
class ClientTool:
    """A tool as the client named it: its name, its Responses namespace, whether
    it is a freeform (`custom`) tool whose calls must go back as custom calls."""

    name: str
    namespace: str | None = None
    custom: bool = False


@dataclass
class ToolNames:
    """The tool names of one translated request, both ways.

    Built while the request is translated and handed to the response
    translator, which turns upstream names back into the client's. Names that
    were never registered (a call to a tool the request did not list) pass
    through unchanged.
    """

    _by_upstream: dict[str, ClientTool] = field(default_factory=dict)

    def register(self, name: str, *, namespace: str | None = None, custom: bool = False) -> str:
        """The upstream name for a client tool, or for a call to one in the
        history; remembered for the way back (a tool once seen as freeform stays so)."""
        upstream = short_tool_name(f"{namespace}__{name}" if namespace else name)
        known = self._by_upstream.get(upstream)
        if known is None or (custom and not known.custom):
            self._by_upstream[upstream] = ClientTool(name, namespace, custom)
        return upstream

    def client(self, upstream_name: str) -> ClientTool:
        """The client's tool for an upstream name."""
        return self._by_upstream.get(upstream_name) or ClientTool(upstream_name)

    def is_custom(self, name: str) -> bool:
        return self.client(name).custom

    @property
    def custom_names(self) -> frozenset[str]:
        """Client names of the freeform tools."""
        return frozenset(t.name for t in self._by_upstream.values() if t.custom)


# --------------------------------------------------------------------------- custom tools

#: The one parameter a freeform tool has once it is offered as a function.
CUSTOM_INPUT_FIELD = "input"


def custom_tool_as_function(tool: Mapping[str, Any], upstream_name: str) -> dict[str, Any]:
    """A Responses `custom` (freeform) tool as a Responses function tool.

    Copilot (and every chat/Messages upstream) only takes JSON-schema
    functions: the freeform text becomes the string parameter `input`, and the
    grammar, if any, is spelled out in the description so the model still
    follows it.
    """
    description = tool.get("description") if isinstance(tool.get("description"), str) else ""
    notes = [description] if description else []
    notes.append(
        f"Call this tool with one JSON string parameter `{CUSTOM_INPUT_FIELD}` holding the complete raw text"
        " (not JSON-encoded inside it)."
    )
    fmt = tool.get("format")
    if isinstance(fmt, Mapping) and fmt.get("type") == "grammar" and isinstance(fmt.get("definition"), str):
        syntax = fmt.get("syntax") if isinstance(fmt.get("syntax"), str) else "grammar"
        notes.append(f"The text must follow this {syntax} grammar:\n{fmt['definition']}")
    return {
        "type": "function",
        "name": upstream_name,
        "description": "\n\n".join(notes),
        "parameters": {
            "type": "object",
            "properties": {CUSTOM_INPUT_FIELD: {"type": "string", "description": "The raw freeform input."}},
            "required": [CUSTOM_INPUT_FIELD],
            "additionalProperties": False,
        },
        "strict": False,
    }


def custom_tool_input(arguments: Any) -> str:
    """The freeform text of a function call made to a custom tool.

    `{"input": "..."}` gives its string; anything else (the model ignored the
    schema) is passed on as it came, so the client reports the problem instead
    of the proxy dropping the call.
    """
    if not isinstance(arguments, str):
        return ""
    try:
        parsed = loads(arguments)
    except ValueError:
        return arguments
    if isinstance(parsed, dict) and isinstance(parsed.get(CUSTOM_INPUT_FIELD), str):
        return str(parsed[CUSTOM_INPUT_FIELD])
    return "" if parsed == {} else arguments  # a call with no input at all


def custom_call_arguments(text: Any) -> str:
    """A replayed custom call's text as the arguments of the function it was sent as."""
    return json.dumps({CUSTOM_INPUT_FIELD: text if isinstance(text, str) else ""}, ensure_ascii=False)


_FIELD_OPENING = re.compile(r'\s*\{\s*"' + CUSTOM_INPUT_FIELD + r'"\s*:\s*"')


class JsonStringFieldStream:
    """Decodes `{"input": "<text>"}` as its JSON arrives in fragments, giving the
    text as it grows (custom tool input deltas out of function-argument deltas).

    Anything of another shape stops the decoding: `feed` then returns "" and
    the caller sends the whole input once the arguments are complete.
    """

    def __init__(self) -> None:
        self._buffer = ""
        self._start: int | None = None
        self._scanned = 0  # buffer position up to which text was decoded
        self._closed = False
        self.failed = False
        self.emitted = ""

    def feed(self, fragment: str) -> str:
        if self.failed or self._closed:
            self._buffer += fragment
            return ""
        self._buffer += fragment
        if self._start is None:
            match = _FIELD_OPENING.match(self._buffer)
            if match is None:
                # Still a possible prefix of `{"input": "`? Then wait for more.
                compact = re.sub(r"\s+", "", self._buffer)
                if not ('{"' + CUSTOM_INPUT_FIELD + '":"').startswith(compact):
                    self.failed = True
                return ""
            self._start = self._scanned = match.end()
        end = self._safe_end()
        if end is None:
            return ""
        segment = self._buffer[self._scanned : end]
        if not segment:
            return ""
        try:
            text = json.loads('"' + segment + '"')
        except ValueError:
            self.failed = True
            return ""
        self._scanned = end
        self.emitted += text
        return str(text)

    def _safe_end(self) -> int | None:
        """Where the decodable part of the string ends (before a cut escape)."""
        buffer, i, end = self._buffer, self._scanned, len(self._buffer)
        while i < end:
            char = buffer[i]
            if char == '"':
                self._closed = True
                return i
            if char != "\\":
                i += 1
                continue
            if i + 1 >= end:
                return i
            if buffer[i + 1] != "u":
                i += 2
                continue
            if i + 6 > end:
                return i
            try:
                code = int(buffer[i + 2 : i + 6], 16)
            except ValueError:
                self.failed = True
                return None
            if 0xD800 <= code < 0xDC00:  # a surrogate pair decodes as one character
                if i + 12 > end:
                    return i
                i += 12
            else:
                i += 6
        return i


# --------------------------------------------------------------------------- reasoning carriers

# How another API's reasoning travels through a Responses client (Codex) in a
# reasoning item's `encrypted_content`, so the next request can give it back.
# A real Responses upstream cannot decrypt these: is_foreign_reasoning finds them.
_CARRIERS = {
    "anthropic_signature": "x-copilot-hybrid-anthropic-signature:",
    "anthropic_redacted": "x-copilot-hybrid-anthropic-redacted:",
    "chat_opaque": "x-copilot-hybrid-chat-reasoning-opaque:",
}


def encode_carrier(kind: str, value: str) -> str:
    """`value` (a Claude signature, redacted-thinking data, a chat reasoning_opaque)
    as Responses `encrypted_content`."""
    return _CARRIERS[kind] + value


def decode_carrier(encrypted: Any, kind: str) -> str | None:
    """The value a carrier of `kind` holds, or None when it is not one."""
    prefix = _CARRIERS[kind]
    if isinstance(encrypted, str) and encrypted.startswith(prefix):
        return encrypted[len(prefix) :]
    return None


def is_foreign_reasoning(encrypted: Any) -> bool:
    """True for encrypted_content made by this proxy from another API's reasoning."""
    return isinstance(encrypted, str) and any(encrypted.startswith(p) for p in _CARRIERS.values())


# --------------------------------------------------------------------------- usage


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _details(usage: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    details = usage.get(key)
    return details if isinstance(details, Mapping) else {}


def responses_usage_to_chat(usage: Any) -> dict[str, Any] | None:
    """Responses usage -> chat-completions usage (cached and reasoning tokens kept)."""
    if not isinstance(usage, Mapping):
        return None
    prompt, completion = _count(usage.get("input_tokens")), _count(usage.get("output_tokens"))
    result: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": _count(usage.get("total_tokens")) or prompt + completion,
        "prompt_tokens_details": {
            "cached_tokens": _count(_details(usage, "input_tokens_details").get("cached_tokens"))
        },
    }
    reasoning = _details(usage, "output_tokens_details").get("reasoning_tokens")
    if reasoning is not None:
        result["completion_tokens_details"] = {"reasoning_tokens": _count(reasoning)}
    return result


def chat_usage_to_responses(usage: Any) -> dict[str, Any]:
    """Chat-completions usage -> Responses usage; always has the integer
    `input_tokens`, `output_tokens` and `total_tokens` Codex requires."""
    usage = usage if isinstance(usage, Mapping) else {}
    prompt, completion = _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": _count(_details(usage, "prompt_tokens_details").get("cached_tokens"))
        },
        "output_tokens": completion,
        "output_tokens_details": {
            "reasoning_tokens": _count(_details(usage, "completion_tokens_details").get("reasoning_tokens"))
        },
        "total_tokens": _count(usage.get("total_tokens")) or prompt + completion,
    }


def responses_usage_to_anthropic(usage: Any) -> dict[str, int]:
    """Responses usage -> Anthropic usage: Anthropic's input_tokens excludes the
    cache reads, which it reports on their own."""
    if not isinstance(usage, Mapping):
        return {"input_tokens": 0, "output_tokens": 0}
    cached = _count(_details(usage, "input_tokens_details").get("cached_tokens"))
    return {
        "input_tokens": max(0, _count(usage.get("input_tokens")) - cached),
        "output_tokens": _count(usage.get("output_tokens")),
        "cache_read_input_tokens": cached,
    }


def anthropic_usage_to_responses(usage: Any) -> dict[str, Any]:
    """Anthropic usage -> Responses usage: cache reads and writes are part of the input."""
    usage = usage if isinstance(usage, Mapping) else {}
    cached = _count(usage.get("cache_read_input_tokens"))
    prompt = _count(usage.get("input_tokens")) + cached + _count(usage.get("cache_creation_input_tokens"))
    output = _count(usage.get("output_tokens"))
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + output,
    }


# --------------------------------------------------------------------------- response objects


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


#: Request fields a Response object repeats back, as the real API does.
_ECHOED = (
    "instructions",
    "max_output_tokens",
    "metadata",
    "parallel_tool_calls",
    "reasoning",
    "temperature",
    "text",
    "tool_choice",
    "tools",
    "top_p",
)


def response_object(
    *,
    response_id: str,
    model: str,
    created_at: int,
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
    incomplete_reason: str | None = None,
    request: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A Responses `response` object (the non-stream body, and the payload of
    response.created / .completed / .incomplete / .failed)."""
    body: dict[str, Any] = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "model": model,
        "output": output,
        "error": error,
        "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None,
        "usage": usage,
    }
    for key in _ECHOED:
        if request is not None and key in request:
            body[key] = request[key]
    body.setdefault("parallel_tool_calls", True)
    body.setdefault("tool_choice", "auto")
    body.setdefault("tools", [])
    return body


# --------------------------------------------------------------------------- stream writer


@dataclass
class _Item:
    output_index: int
    kind: str  # "message" | "reasoning" | "function_call" | "custom_tool_call"
    item: dict[str, Any]
    text: list[str] = field(default_factory=list)  # output text, summary, or arguments
    decoder: JsonStringFieldStream | None = None  # custom calls: input from arguments


class ResponsesStreamWriter:
    """Emits a Responses event stream that is well formed whatever the caller does.

    Translators from other APIs call text/reasoning/tool methods as upstream
    deltas arrive; the writer opens items (`output_item.added`, content and
    summary parts), streams deltas, closes items with their `.done` events, and
    ends with exactly one of `response.completed`, `response.incomplete` or
    `response.failed`, whose `response.output` holds every finished item.
    After that it emits nothing. Items are keyed by the caller (a block index,
    a tool-call index); at most one message and one reasoning item are open.
    """

    def __init__(self, *, model: str = "", request: Mapping[str, Any] | None = None) -> None:
        self._model = model
        self._request = request
        self._response_id = new_id("resp")
        self._created_at = int(time.time())
        self._sequence = 0
        self._started = False
        self.done = False
        self._open: dict[Any, _Item] = {}
        self._message_key: Any = None
        self._reasoning_key: Any = None
        self._finished: dict[int, dict[str, Any]] = {}
        self._next_index = 0
        self.tool_calls = 0

    # ------------------------------------------------------------ lifecycle

    def start(self, events: list[dict[str, Any]], *, response_id: str | None = None, model: str | None = None) -> None:
        """`response.created` + `response.in_progress` (once; implied by any other call)."""
        if self._started or self.done:
            return
        self._started = True
        if response_id:
            self._response_id = response_id
        if model:
            self._model = model
        snapshot = self._response("in_progress", [])
        self._emit(events, {"type": "response.created", "response": snapshot})
        self._emit(events, {"type": "response.in_progress", "response": snapshot})

    def complete(
        self, events: list[dict[str, Any]], *, usage: dict[str, Any] | None, incomplete_reason: str | None = None
    ) -> None:
        """Close every item, then `response.completed` (or `.incomplete` with a reason)."""
        if self.done:
            return
        self.start(events)
        self.close_all(events)
        status = "incomplete" if incomplete_reason else "completed"
        body = self._response(status, self._output(), usage=usage, incomplete_reason=incomplete_reason)
        self._emit(events, {"type": f"response.{status}", "response": body})
        self.done = True

    def fail(self, events: list[dict[str, Any]], message: str, *, code: str = "server_error") -> None:
        """Close every item, then `response.failed` with `error {code, message}`."""
        if self.done:
            return
        self.start(events)
        self.close_all(events)
        error = {"code": code, "message": message}
        body = self._response("failed", self._output(), error=error)
        self._emit(events, {"type": "response.failed", "response": body})
        self.done = True

    # ------------------------------------------------------------ items

    def text(self, events: list[dict[str, Any]], delta: str, *, key: Any = "message") -> None:
        """Output text, in the open message item (opened under `key` if none is)."""
        if self.done or not delta:
            return
        item = self._open.get(self._message_key) if self._message_key is not None else None
        if item is None:
            item = self._open_item(events, key, "message", {"type": "message", "role": "assistant", "content": []})
            self._message_key = key
            part = {"type": "output_text", "text": "", "annotations": []}
            self._emit(
                events,
                {
                    "type": "response.content_part.added",
                    "item_id": item.item["id"],
                    "output_index": item.output_index,
                    "content_index": 0,
                    "part": part,
                },
            )
        item.text.append(delta)
        self._emit(
            events,
            {
                "type": "response.output_text.delta",
                "item_id": item.item["id"],
                "output_index": item.output_index,
                "content_index": 0,
                "delta": delta,
                "logprobs": [],
            },
        )

    def reasoning(self, events: list[dict[str, Any]], delta: str, *, key: Any = "reasoning") -> None:
        """Reasoning summary text, in the open reasoning item (opened if none is)."""
        if self.done:
            return
        item = self._reasoning_item(events, key)
        if not delta:
            return
        item.text.append(delta)
        self._emit(
            events,
            {
                "type": "response.reasoning_summary_text.delta",
                "item_id": item.item["id"],
                "output_index": item.output_index,
                "summary_index": 0,
                "delta": delta,
            },
        )

    def end_reasoning(
        self, events: list[dict[str, Any]], *, encrypted_content: str | None, key: Any = "reasoning"
    ) -> None:
        """Closes the reasoning item (opening an empty one if none is open) with
        its `encrypted_content`."""
        if self.done:
            return
        item = self._reasoning_item(events, key)
        if encrypted_content:
            item.item["encrypted_content"] = encrypted_content
        self.close(events, self._reasoning_key)

    def _reasoning_item(self, events: list[dict[str, Any]], key: Any) -> _Item:
        item = self._open.get(self._reasoning_key) if self._reasoning_key is not None else None
        if item is not None:
            return item
        item = self._open_item(events, key, "reasoning", {"type": "reasoning", "summary": []})
        self._reasoning_key = key
        self._emit(
            events,
            {
                "type": "response.reasoning_summary_part.added",
                "item_id": item.item["id"],
                "output_index": item.output_index,
                "summary_index": 0,
                "part": {"type": "summary_text", "text": ""},
            },
        )
        return item

    def tool_call(
        self, events: list[dict[str, Any]], key: Any, *, call_id: str, name: str, tool: ClientTool | None = None
    ) -> None:
        """Opens a call item: `custom_tool_call` for a freeform tool, else `function_call`."""
        if self.done:
            return
        tool = tool or ClientTool(name)
        self.tool_calls += 1
        if tool.custom:
            body = {"type": "custom_tool_call", "call_id": call_id, "name": tool.name, "input": ""}
            item = self._open_item(events, key, "custom_tool_call", body)
            item.decoder = JsonStringFieldStream()
        else:
            body = {"type": "function_call", "call_id": call_id, "name": tool.name, "arguments": ""}
            if tool.namespace:
                body["namespace"] = tool.namespace
            self._open_item(events, key, "function_call", body)

    def tool_arguments(self, events: list[dict[str, Any]], key: Any, delta: str) -> None:
        """A fragment of a call's JSON arguments."""
        item = self._open.get(key)
        if self.done or item is None or not delta:
            return
        item.text.append(delta)
        if item.decoder is None:
            self._emit(
                events,
                {
                    "type": "response.function_call_arguments.delta",
                    "item_id": item.item["id"],
                    "output_index": item.output_index,
                    "delta": delta,
                },
            )
            return
        text = item.decoder.feed(delta)
        if text:
            self._emit(
                events,
                {
                    "type": "response.custom_tool_call_input.delta",
                    "item_id": item.item["id"],
                    "output_index": item.output_index,
                    "delta": text,
                },
            )

    def has_open(self, key: Any) -> bool:
        return key in self._open

    def close(self, events: list[dict[str, Any]], key: Any) -> None:
        """The `.done` events of one item, then `response.output_item.done`."""
        item = self._open.pop(key, None)
        if item is None:
            return
        if key == self._message_key:
            self._message_key = None
        if key == self._reasoning_key:
            self._reasoning_key = None
        base = {"item_id": item.item["id"], "output_index": item.output_index}
        text = "".join(item.text)
        if item.kind == "message":
            part = {"type": "output_text", "text": text, "annotations": []}
            self._emit(events, {"type": "response.output_text.done", **base, "content_index": 0, "text": text})
            self._emit(events, {"type": "response.content_part.done", **base, "content_index": 0, "part": part})
            item.item.update(content=[part], status="completed")
        elif item.kind == "reasoning":
            part = {"type": "summary_text", "text": text}
            self._emit(
                events, {"type": "response.reasoning_summary_text.done", **base, "summary_index": 0, "text": text}
            )
            self._emit(
                events, {"type": "response.reasoning_summary_part.done", **base, "summary_index": 0, "part": part}
            )
            item.item["summary"] = [part] if text else []
        elif item.kind == "custom_tool_call":
            full = custom_tool_input(text)
            assert item.decoder is not None
            if full.startswith(item.decoder.emitted) and len(full) > len(item.decoder.emitted):
                rest = full[len(item.decoder.emitted) :]
                self._emit(events, {"type": "response.custom_tool_call_input.delta", **base, "delta": rest})
            self._emit(events, {"type": "response.custom_tool_call_input.done", **base, "input": full})
            item.item.update(input=full, status="completed")
        else:
            self._emit(events, {"type": "response.function_call_arguments.done", **base, "arguments": text})
            item.item.update(arguments=text, status="completed")
        self._emit(events, {"type": "response.output_item.done", "output_index": item.output_index, "item": item.item})
        self._finished[item.output_index] = item.item

    def close_all(self, events: list[dict[str, Any]]) -> None:
        for key in sorted(self._open, key=lambda k: self._open[k].output_index):
            self.close(events, key)

    # ------------------------------------------------------------ helpers

    def _open_item(self, events: list[dict[str, Any]], key: Any, kind: str, body: dict[str, Any]) -> _Item:
        self.start(events)
        self.close(events, key)  # a key reused by upstream: its old item is finished
        prefix = {"message": "msg", "reasoning": "rs", "function_call": "fc", "custom_tool_call": "ctc"}[kind]
        body = {"id": new_id(prefix), **body}
        if kind != "reasoning":
            body["status"] = "in_progress"
        item = _Item(self._next_index, kind, body)
        self._next_index += 1
        self._open[key] = item
        self._emit(
            events, {"type": "response.output_item.added", "output_index": item.output_index, "item": dict(body)}
        )
        return item

    def _output(self) -> list[dict[str, Any]]:
        return [self._finished[i] for i in sorted(self._finished)]

    def _response(self, status: str, output: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return response_object(
            response_id=self._response_id,
            model=self._model,
            created_at=self._created_at,
            status=status,
            output=output,
            request=self._request,
            **extra,
        )

    def _emit(self, events: list[dict[str, Any]], event: dict[str, Any]) -> None:
        event["sequence_number"] = self._sequence
        self._sequence += 1
        events.append(event)
