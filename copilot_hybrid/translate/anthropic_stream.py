"""OpenAI chat.completion.chunk stream -> Anthropic Messages SSE events.

Guarantees, whatever upstream sends (the hypothesis tests check them):
`message_start` first; block indexes 0, 1, 2… each started, given deltas only
while open, and stopped once; at most one block open at a time; exactly one
`message_delta` + `message_stop` at the end (or one `error` event instead);
nothing after that.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from copilot_hybrid.jsonutil import dumps, loads

from .anthropic_response import (
    anthropic_error,
    anthropic_usage,
    map_stop_reason,
    merge_finish_reason,
)

__all__ = ["AnthropicStreamTranslator", "completion_as_chunk", "format_sse"]


def format_sse(event: dict[str, Any]) -> bytes:
    """`event: <type>\\ndata: <compact json>\\n\\n` as UTF-8."""
    kind = str(event.get("type", "message")).encode("utf-8", "replace")
    return b"event: " + kind + b"\ndata: " + dumps(event) + b"\n\n"


@dataclass
class _ToolCall:
    id: str = ""
    name: str = ""
    block: int | None = None  # Anthropic block index once started
    pending: list[str] = field(default_factory=list)  # arguments seen before the name
    arguments: list[str] = field(default_factory=list)


def _nonempty_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class AnthropicStreamTranslator:
    """Per-request state machine; feed it parsed chunks, then call finish()."""

    def __init__(self, *, model: str | None = None, new_hex: Callable[[], str] | None = None) -> None:
        """`new_hex` makes the 32 hex digits of each generated id (message and
        tool-call ids upstream did not send); uuid4 by default. The
        stream_translate feature passes a per-stream source so that a replay
        of the same stream generates the same ids."""
        self._model = model
        self._new_hex = new_hex or (lambda: uuid.uuid4().hex)
        self._started = False
        self._done = False  # message_stop or error sent
        self._next_index = 0
        self._open_index: int | None = None
        self._open_kind: str | None = None  # "text" | "thinking" | "tool_use"
        self._open_tool: _ToolCall | None = None
        self._tools: dict[int, _ToolCall] = {}
        self._last_tool_key: int | None = None
        self._synthetic_key = -1
        self._tool_blocks = 0
        self._deferred_text: list[str] = []
        self._finish_reason: str | None = None
        self._finish_seen = False
        self._usage: dict[str, Any] | None = None

    # ------------------------------------------------------------------ public

    @property
    def done(self) -> bool:
        """True once message_stop or an error event has been produced."""
        return self._done

    def feed(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        """One upstream chunk -> zero or more Anthropic events."""
        if self._done or not isinstance(chunk, dict):
            return []
        events: list[dict[str, Any]] = []
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self._usage = usage
        raw_choices = chunk.get("choices")
        choices = [c for c in raw_choices if isinstance(c, dict)] if isinstance(raw_choices, list) else []
        if not choices:
            # Copilot ends with finish_reason, then a usage-only chunk: that
            # chunk is the moment the final usage is known, so finish there.
            if isinstance(usage, dict) and self._finish_seen:
                events.extend(self._complete())
            return events
        self._start(chunk, events)
        # Copilot may split one answer over several choices (text in one, tool
        # calls in another); they are merged into one message in array order.
        for choice in choices:
            delta = choice.get("delta")
            if isinstance(delta, dict):
                self._on_reasoning(delta, events)
                self._on_content(delta, events)
                self._on_tool_calls(delta, events)
            reason = choice.get("finish_reason")
            if isinstance(reason, str) and reason:
                self._finish_reason = merge_finish_reason(self._finish_reason, reason, first=not self._finish_seen)
                self._finish_seen = True
        return events

    def finish(self) -> list[dict[str, Any]]:
        """Upstream ended ([DONE] or EOF): close everything the client waits for."""
        if self._done:
            return []
        events: list[dict[str, Any]] = []
        self._start({}, events)
        events.extend(self._complete())
        return events

    def error(self, message: str, *, error_type: str = "api_error") -> list[dict[str, Any]]:
        """An Anthropic `error` event (after which nothing else is sent)."""
        if self._done:
            return []
        self._done = True
        return [anthropic_error(message, error_type=error_type)]

    # ------------------------------------------------------------------ blocks

    def _start(self, chunk: dict[str, Any], events: list[dict[str, Any]]) -> None:
        if self._started:
            return
        self._started = True
        message_id = _nonempty_str(chunk.get("id")) or f"msg_{self._new_hex()}"
        model = _nonempty_str(chunk.get("model")) or self._model or "unknown"
        usage = anthropic_usage(chunk.get("usage"))
        events.append(
            {
                "type": "message_start",
                "message": {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "model": model,
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {**usage, "output_tokens": 0},
                },
            }
        )

    def _open(self, kind: str, content_block: dict[str, Any], events: list[dict[str, Any]]) -> int:
        self._close(events)
        index = self._next_index
        self._next_index += 1
        self._open_index, self._open_kind = index, kind
        events.append({"type": "content_block_start", "index": index, "content_block": content_block})
        return index

    def _close(self, events: list[dict[str, Any]]) -> None:
        if self._open_index is not None:
            events.append({"type": "content_block_stop", "index": self._open_index})
        self._open_index = self._open_kind = None
        self._open_tool = None

    def _delta(self, delta: dict[str, Any], events: list[dict[str, Any]]) -> None:
        events.append({"type": "content_block_delta", "index": self._open_index, "delta": delta})

    # ------------------------------------------------------------------ deltas

    def _on_reasoning(self, delta: dict[str, Any], events: list[dict[str, Any]]) -> None:
        # Copilot streams Claude's thinking as reasoning_text, its signature as
        # reasoning_opaque (other OpenAI-style upstreams use reasoning_content).
        text = _nonempty_str(delta.get("reasoning_text")) or _nonempty_str(delta.get("reasoning_content"))
        signature = _nonempty_str(delta.get("reasoning_opaque"))
        if text is None and signature is None:
            return
        if self._open_kind != "thinking":
            self._open("thinking", {"type": "thinking", "thinking": "", "signature": ""}, events)
        if text is not None:
            self._delta({"type": "thinking_delta", "thinking": text}, events)
        if signature is not None:
            # The signature ends a thinking block.
            self._delta({"type": "signature_delta", "signature": signature}, events)
            self._close(events)

    def _on_content(self, delta: dict[str, Any], events: list[dict[str, Any]]) -> None:
        text = _nonempty_str(delta.get("content"))
        if text is None:
            return
        if self._open_kind == "tool_use":
            # Closing the tool block now would cut off its remaining argument
            # deltas (text and tool calls can interleave across choices).
            self._deferred_text.append(text)
            return
        if self._open_kind != "text":
            self._open("text", {"type": "text", "text": ""}, events)
        if self._deferred_text:
            # Text held back while a tool block was open keeps its place.
            text = "".join(self._deferred_text) + text
            self._deferred_text.clear()
        self._delta({"type": "text_delta", "text": text}, events)

    def _on_tool_calls(self, delta: dict[str, Any], events: list[dict[str, Any]]) -> None:
        tool_calls = delta.get("tool_calls")
        if not isinstance(tool_calls, list):
            return
        for entry in tool_calls:
            if isinstance(entry, dict):
                self._on_tool_call(entry, events)

    def _on_tool_call(self, entry: dict[str, Any], events: list[dict[str, Any]]) -> None:
        call_id = _nonempty_str(entry.get("id"))
        function = entry.get("function")
        function = function if isinstance(function, dict) else {}
        name = _nonempty_str(function.get("name"))
        arguments = _nonempty_str(function.get("arguments"))
        index = entry.get("index")
        if isinstance(index, int) and not isinstance(index, bool):
            key = index
        elif call_id or name:
            key = self._synthetic_key  # no index: a new call gets its own key
            self._synthetic_key -= 1
        elif self._last_tool_key is not None:
            key = self._last_tool_key  # no index: continues the latest call
        else:
            return
        record = self._tools.get(key)
        if record is None or (call_id and record.id and call_id != record.id):
            # Keyed by tool-call index across choices; a different id on a used
            # index is a new call (e.g. two choices each numbering from 0).
            record = _ToolCall()
            self._tools[key] = record
        self._last_tool_key = key
        if call_id and not record.id:
            record.id = call_id
        if name and not record.name:
            record.name = name
        if arguments is not None:
            record.arguments.append(arguments)
        if record.block is None:
            if arguments is not None:
                record.pending.append(arguments)
            if record.name:
                self._start_tool(record, events)
        elif arguments is not None and self._open_tool is record:
            self._delta({"type": "input_json_delta", "partial_json": arguments}, events)
        # Arguments for a tool block that is already closed (upstream
        # interleaving parallel calls) cannot be delivered in order; dropped.

    def _start_tool(self, record: _ToolCall, events: list[dict[str, Any]]) -> None:
        if not record.id:
            record.id = f"toolu_{self._new_hex()[:24]}"
        record.block = self._open(
            "tool_use",
            {"type": "tool_use", "id": record.id, "name": record.name, "input": {}},
            events,
        )
        self._open_tool = record
        self._tool_blocks += 1
        if record.pending:
            self._delta({"type": "input_json_delta", "partial_json": "".join(record.pending)}, events)
            record.pending.clear()

    # ------------------------------------------------------------------ end

    def _stop_reason(self) -> str:
        if self._finish_seen:
            reason = map_stop_reason(self._finish_reason) or "end_turn"
            # Copilot sometimes reports "stop" for a turn that made tool calls;
            # clients run tools only on tool_use.
            if reason == "end_turn" and self._tool_blocks and self._finish_reason == "stop":
                return "tool_use"
            return reason
        # No finish_reason at all: upstream was cut off. Tool calls whose
        # arguments are not complete JSON must not look runnable.
        started = [t for t in self._tools.values() if t.block is not None]
        if not started:
            return "end_turn"
        for tool in started:
            text = "".join(tool.arguments)
            if text.strip():
                try:
                    loads(text)
                except ValueError:
                    return "max_tokens"
        return "tool_use"

    def _complete(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        self._close(events)
        if self._deferred_text:
            self._open("text", {"type": "text", "text": ""}, events)
            self._delta({"type": "text_delta", "text": "".join(self._deferred_text)}, events)
            self._close(events)
            self._deferred_text.clear()
        events.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": self._stop_reason(), "stop_sequence": None},
                "usage": anthropic_usage(self._usage),
            }
        )
        events.append({"type": "message_stop"})
        self._done = True
        return events


def completion_as_chunk(response: dict[str, Any]) -> dict[str, Any]:
    """A whole `chat.completion` as one `chat.completion.chunk`.

    When a client asked for a stream and upstream answered with one JSON
    body, feeding this chunk to AnthropicStreamTranslator (then finish())
    gives the client the event stream it asked for, built by the same rules.
    """
    choices = []
    for position, choice in enumerate(response.get("choices") or []):
        if not isinstance(choice, dict):
            continue
        message = choice.get("message")
        delta = dict(message) if isinstance(message, dict) else {}
        calls = delta.get("tool_calls")
        if isinstance(calls, list):
            delta["tool_calls"] = [
                {**call, "index": call.get("index", i)} for i, call in enumerate(calls) if isinstance(call, dict)
            ]
        choices.append(
            {"index": choice.get("index", position), "delta": delta, "finish_reason": choice.get("finish_reason")}
        )
    chunk = {key: response[key] for key in ("id", "model", "created", "usage") if key in response}
    chunk["object"] = "chat.completion.chunk"
    chunk["choices"] = choices
    return chunk
