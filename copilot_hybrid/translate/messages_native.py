"""A client's Anthropic request made fit for Copilot's native `/v1/messages`,
and Copilot's answer stream made fit for the client. Pure: no I/O, inputs never mutated.

Copilot's Anthropic endpoint is Anthropic's API behind a stricter front door
(reference §4). `prepare_messages_request` applies, in this order:

1. model: the resolved Copilot id.
2. `anthropic-beta`: only Copilot's allow-list survives (it rejects the others
   with a 400; Claude Code 2.1.332 sends eight, three of them allowed). Fields
   that only exist under a dropped beta are rewritten, not forwarded:
   inline `role: system` turns (per-turn-control) become `<system-reminder>`
   text in the neighbouring user turn and lose their per-turn `output_config`;
   top-level fields outside the Messages API (e.g. `safeguards`) are removed;
   a `thinking.display` other than `summarized`/`omitted` becomes `summarized`.
3. thinking: what the model takes. Adaptive thinking on a budget-only model
   (Haiku 4.5) becomes a budget from the effort; a budget on an adaptive-only
   model becomes adaptive; budgets are clamped to the model's range and below
   `max_tokens`; thinking on a model without it, or with a forced tool choice,
   is removed. Unlike caozhiyuan, thinking the client did not ask for is never
   switched on.
4. `output_config.effort` clamped to the model's `reasoning_effort` list (removed
   when it lists none); `max_tokens` clamped to the model's output limit.
5. assistant thinking blocks Copilot cannot verify are dropped (empty,
   `Thinking...`, unsigned, or signed by the Responses translation: `@` inside).
6. tool turns: Claude Code's "Tool loaded." text beside a `tool_reference`
   result is removed, and reminder text beside tool results is folded into
   them (not on the last turn of a compaction request), so a tool turn reads
   as the agent's.
7. `cache_control`: the `scope` key Copilot rejects is removed everywhere; the
   top-level `cache_control` is removed for the models that reject it.
8. `top_p` is removed when `temperature` is set (Copilot rejects the pair).

`MessagesStreamFilter` forwards Copilot's SSE event by event, verbatim, minus
Copilot-internal events (`copilot_usage`, ...); `ping`s pass. `message_as_events`
streams a whole message for a client that asked for a stream and got JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from copilot_hybrid.copilot.headers import is_compaction_request
from copilot_hybrid.copilot.registry import ModelInfo
from copilot_hybrid.jsonutil import loads
from copilot_hybrid.translate.anthropic_stream import format_sse

__all__ = [
    "ALLOWED_BETAS",
    "MESSAGE_FIELDS",
    "MessagesStreamFilter",
    "PreparedMessages",
    "event_kind",
    "filter_betas",
    "is_warmup_probe",
    "keep_event",
    "message_as_events",
    "prepare_messages_request",
]

INTERLEAVED_THINKING: Final = "interleaved-thinking-2025-05-14"
#: caozhiyuan's allow-list (CZ-dist createMessages); Copilot rejects any other beta with a 400.
ALLOWED_BETAS: Final = (INTERLEAVED_THINKING, "context-management-2025-06-27", "advanced-tool-use-2025-11-20")

#: The Messages API's top-level fields Copilot takes (`context_management` under its allowed beta).
MESSAGE_FIELDS: Final = frozenset(
    {
        "model",
        "messages",
        "system",
        "max_tokens",
        "metadata",
        "stop_sequences",
        "stream",
        "temperature",
        "top_p",
        "top_k",
        "tools",
        "tool_choice",
        "thinking",
        "context_management",
        "output_config",
        "cache_control",  # automatic prompt caching
    }
)
#: Models whose Copilot backend rejects a top-level `cache_control` (CZ-src@0d82468).
_NO_TOP_LEVEL_CACHE_CONTROL: Final = frozenset(
    {"claude-sonnet-4.5", "claude-sonnet-4.6", "claude-opus-4.5", "claude-haiku-4.5"}
)
_THINKING_DISPLAYS: Final = ("summarized", "omitted")
_PLACEHOLDER_THINKING: Final = "Thinking..."
_TOOL_LOADED: Final = "Tool loaded."
_PDF_RESULT: Final = "PDF file read:"
_FORCED_TOOL_CHOICES: Final = ("any", "tool")


@dataclass(frozen=True)
class PreparedMessages:
    """The body and `anthropic-beta` to send, and what was changed (for debug logs)."""

    payload: dict[str, Any]
    anthropic_beta: str | None
    changes: tuple[str, ...] = ()


@dataclass
class _Notes:
    items: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        if text not in self.items:
            self.items.append(text)


# ---- betas -------------------------------------------------------------------------------


def filter_betas(header: str | None, payload: Mapping[str, Any] | None = None) -> tuple[str | None, tuple[str, ...]]:
    """(the `anthropic-beta` to send, the betas dropped).

    Keeps the allow-list, in the client's order, once each; None when nothing
    survives. A client that sent none but asks for a thinking budget gets
    interleaved thinking, as Copilot's own Claude agent does.
    """
    sent = [b.strip() for b in (header or "").split(",") if b.strip()]
    kept = list(dict.fromkeys(b for b in sent if b in ALLOWED_BETAS))
    dropped = tuple(dict.fromkeys(b for b in sent if b not in ALLOWED_BETAS))
    if not sent and payload is not None:
        thinking = payload.get("thinking")
        if (
            isinstance(thinking, Mapping)
            and thinking.get("type") == "enabled"
            and _is_int(thinking.get("budget_tokens"))
        ):
            kept = [INTERLEAVED_THINKING]
    return (",".join(kept) or None), dropped


# ---- the request ------------------------------------------------------------------------------


def prepare_messages_request(
    payload: Mapping[str, Any], *, model: ModelInfo, anthropic_beta: str | None = None
) -> PreparedMessages:
    """The client's Anthropic request as Copilot's /v1/messages takes it (module docstring).

    `model` is the resolved Copilot model; `anthropic_beta` the client's header.
    Raises nothing: structural problems are left for upstream to answer.
    """
    notes = _Notes()
    beta, dropped_betas = filter_betas(anthropic_beta, payload)
    if dropped_betas:
        notes.add(f"dropped anthropic-beta {', '.join(dropped_betas)}")

    body: dict[str, Any] = {}
    for key, value in payload.items():
        if key in MESSAGE_FIELDS:
            body[key] = value
        else:
            notes.add(f"removed field {key}")
    if body.get("model") != model.id:
        notes.add(f"model {body.get('model')} -> {model.id}")
    body["model"] = model.id
    if "temperature" in body and "top_p" in body:
        del body["top_p"]
        notes.add("removed top_p (Copilot rejects it with temperature)")

    _prepare_limits(body, model, notes)
    _prepare_thinking(body, model, notes)
    _prepare_effort(body, model, notes)

    messages = body.get("messages")
    if isinstance(messages, list):
        compaction = is_compaction_request(payload)
        messages = _fold_inline_system(messages, body, notes)
        messages = [_drop_unverifiable_thinking(m, notes) for m in messages]
        messages = [m for m in messages if m is not None]
        messages = [_drop_tool_loaded_text(m, notes) for m in messages]
        last = len(messages) - 1
        messages = [m if compaction and i == last else _merge_tool_results(m, notes) for i, m in enumerate(messages)]
        body["messages"] = [_strip_cache_scope(m, notes) for m in messages]
    for key in ("system", "tools"):
        if isinstance(body.get(key), list):
            body[key] = [_strip_cache_scope(block, notes) for block in body[key]]
    if "cache_control" in body and model.id in _NO_TOP_LEVEL_CACHE_CONTROL:
        del body["cache_control"]
        notes.add(f"removed top-level cache_control ({model.id} rejects it)")
    return PreparedMessages(body, beta, tuple(notes.items))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _prepare_limits(body: dict[str, Any], model: ModelInfo, notes: _Notes) -> None:
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
        return
    limit = model.max_output_tokens
    if not body.get("stream") and model.max_non_streaming_output_tokens is not None:
        limit = min(limit or model.max_non_streaming_output_tokens, model.max_non_streaming_output_tokens)
    if limit is not None and max_tokens > limit:
        body["max_tokens"] = limit
        notes.add(f"max_tokens {max_tokens} -> {limit} (the model's output limit)")


def _effort_scale(effort: Any) -> float:
    return {"low": 0.0, "minimal": 0.0, "none": 0.0, "medium": 0.5}.get(effort if isinstance(effort, str) else "", 1.0)


def _prepare_thinking(body: dict[str, Any], model: ModelInfo, notes: _Notes) -> None:
    thinking = body.get("thinking")
    if not isinstance(thinking, Mapping) or thinking.get("type") in (None, "disabled"):
        return
    choice = body.get("tool_choice")
    if isinstance(choice, Mapping) and choice.get("type") in _FORCED_TOOL_CHOICES:
        _drop_thinking(body, notes, "not allowed with a forced tool choice")
        return
    if not model.thinking:
        _drop_thinking(body, notes, f"{model.id} does not think")
        return
    new = dict(thinking)
    display = new.get("display")
    if display is not None and display not in _THINKING_DISPLAYS:
        new["display"] = "summarized"
        notes.add(f"thinking.display {display} -> summarized")
    kind = new.get("type")
    if kind == "adaptive" and not model.adaptive_thinking:
        output_config = body.get("output_config")
        effort = output_config.get("effort") if isinstance(output_config, Mapping) else None
        budget = _budget(model, body.get("max_tokens"), None, _effort_scale(effort))
        if budget is None:
            _drop_thinking(body, notes, "no budget fits max_tokens")
            return
        new = {"type": "enabled", "budget_tokens": budget}
        notes.add(f"adaptive thinking -> budget {budget} ({model.id} takes budgets only)")
    elif kind == "enabled":
        requested = new.get("budget_tokens")
        if model.max_thinking_budget is None:  # adaptive-only model
            new = {"type": "adaptive", **({"display": new["display"]} if "display" in new else {})}
            notes.add(f"thinking budget -> adaptive ({model.id} takes adaptive thinking only)")
        elif _is_int(requested):
            budget = _budget(model, body.get("max_tokens"), requested, 1.0)
            if budget is None:
                _drop_thinking(body, notes, "no budget fits max_tokens")
                return
            if budget != requested:
                new["budget_tokens"] = budget
                notes.add(f"thinking budget {requested} -> {budget}")
    body["thinking"] = new


def _drop_thinking(body: dict[str, Any], notes: _Notes, why: str) -> None:
    """Removes thinking, and the context-management edits that need it."""
    del body["thinking"]
    notes.add(f"removed thinking ({why})")
    management = body.get("context_management")
    if not isinstance(management, Mapping) or not isinstance(management.get("edits"), list):
        return
    edits = management["edits"]
    kept = [e for e in edits if not (isinstance(e, Mapping) and str(e.get("type", "")).startswith("clear_thinking"))]
    if len(kept) == len(edits):
        return
    notes.add("removed the clear_thinking context edit with it")
    if kept:
        body["context_management"] = {**management, "edits": kept}
    else:
        del body["context_management"]


def _budget(model: ModelInfo, max_tokens: Any, requested: int | None, scale: float) -> int | None:
    """A thinking budget in the model's range and below max_tokens (Claude needs
    max_tokens > budget), or None when none fits."""
    low = model.min_thinking_budget or 1024
    high = model.max_thinking_budget
    if high is None:
        return None
    if _is_int(max_tokens):
        high = min(high, max_tokens - 1)
    if high < low:
        return None
    wanted = requested if requested is not None else int(low + (high - low) * scale)
    return max(low, min(wanted, high))


def _clamp_effort(effort: str, levels: tuple[str, ...]) -> str:
    if effort in levels:
        return effort
    if effort in ("none", "minimal"):
        return "low" if "low" in levels else levels[0]
    return levels[-1]  # caozhiyuan: an effort the model lacks becomes its strongest


def _prepare_effort(body: dict[str, Any], model: ModelInfo, notes: _Notes) -> None:
    output_config = body.get("output_config")
    if not isinstance(output_config, Mapping) or "effort" not in output_config:
        return
    effort = output_config["effort"]
    new = dict(output_config)
    if not model.reasoning_efforts:
        del new["effort"]
        notes.add(f"removed output_config.effort ({model.id} lists no efforts)")
    elif isinstance(effort, str):
        clamped = _clamp_effort(effort, model.reasoning_efforts)
        if clamped != effort:
            new["effort"] = clamped
            notes.add(f"output_config.effort {effort} -> {clamped}")
    if new:
        body["output_config"] = new
    else:
        del body["output_config"]


# ---- messages ------------------------------------------------------------------------------------


def _blocks(content: Any) -> list[Any]:
    """Content as a list of blocks (a string becomes one text block)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return list(content) if isinstance(content, list) else []


def _texts(content: Any) -> list[str]:
    return [b["text"] for b in _blocks(content) if isinstance(b, Mapping) and isinstance(b.get("text"), str)]


def _fold_inline_system(messages: list[Any], body: dict[str, Any], notes: _Notes) -> list[Any]:
    """Inline `role: system` turns (a beta Copilot does not list) -> a `<system-reminder>`
    text block at the end of the previous user turn or the start of the next one;
    with no user turn beside it, appended to the top-level system prompt."""
    if not any(isinstance(m, Mapping) and m.get("role") == "system" for m in messages):
        return messages
    out: list[Any] = []
    pending: list[dict[str, Any]] = []  # reminders waiting for the next user turn
    for message in messages:
        if not isinstance(message, Mapping):
            out.append(message)
            continue
        if message.get("role") == "system":
            block = _reminder_block(message)
            notes.add("inline system turns -> <system-reminder> text in user turns")
            if block is None:
                continue
            previous = out[-1] if out else None
            if isinstance(previous, dict) and previous.get("role") == "user" and not pending:
                out[-1] = {**previous, "content": [*_blocks(previous.get("content")), block]}
            else:
                pending.append(block)
            continue
        clean = {k: v for k, v in message.items() if k in ("role", "content")}
        if len(clean) != len(message):
            notes.add("removed per-turn fields (e.g. output_config) from messages")
        if pending and clean.get("role") == "user":
            clean["content"] = [*pending, *_blocks(clean.get("content"))]
            pending = []
        out.append(clean)
    if pending:
        system = body.get("system")
        body["system"] = [*_blocks(system), *({"type": "text", "text": b["text"]} for b in pending)]
    return out


def _reminder_block(message: Mapping[str, Any]) -> dict[str, Any] | None:
    content = message.get("content")
    text = "\n\n".join(t for t in _texts(content) if t)
    if not text:
        return None
    block: dict[str, Any] = {"type": "text", "text": f"<system-reminder>\n{text}\n</system-reminder>"}
    blocks = _blocks(content)
    cache = blocks[-1].get("cache_control") if blocks and isinstance(blocks[-1], Mapping) else None
    if isinstance(cache, Mapping):
        block["cache_control"] = dict(cache)
    return block


def _unverifiable(block: Any) -> bool:
    if not isinstance(block, Mapping) or block.get("type") != "thinking":
        return False
    text, signature = block.get("thinking"), block.get("signature")
    if not isinstance(text, str) or not text.strip() or text.strip() == _PLACEHOLDER_THINKING:
        return True
    return not isinstance(signature, str) or not signature or "@" in signature


def _drop_unverifiable_thinking(message: Any, notes: _Notes) -> Any:
    if not isinstance(message, Mapping) or message.get("role") != "assistant":
        return message
    content = message.get("content")
    if not isinstance(content, list) or not any(_unverifiable(b) for b in content):
        return message
    notes.add("dropped thinking blocks without a Copilot signature")
    kept = [b for b in content if not _unverifiable(b)]
    # An assistant turn of nothing but such thinking goes entirely (Anthropic joins the turns around it).
    return {**message, "content": kept} if kept else None


def _is_tool_result(block: Any) -> bool:
    return isinstance(block, Mapping) and block.get("type") == "tool_result"


def _has_tool_reference(block: Mapping[str, Any]) -> bool:
    content = block.get("content")
    return isinstance(content, list) and any(
        isinstance(c, Mapping) and c.get("type") == "tool_reference" for c in content
    )


def _drop_tool_loaded_text(message: Any, notes: _Notes) -> Any:
    if not isinstance(message, Mapping) or message.get("role") != "user":
        return message
    content = message.get("content")
    if not isinstance(content, list) or not any(_is_tool_result(b) and _has_tool_reference(b) for b in content):
        return message
    kept = [
        b for b in content if not (isinstance(b, Mapping) and b.get("type") == "text" and b.get("text") == _TOOL_LOADED)
    ]
    if len(kept) == len(content):
        return message
    notes.add("removed 'Tool loaded.' text beside tool_reference results")
    return {**message, "content": kept}


_FOLDABLE = ("text", "image", "document")


def _merge_tool_results(message: Any, notes: _Notes) -> Any:
    """Folds the text blocks of a user turn made of tool results and text (images
    and documents allowed) into the results: pairwise when the counts match, else
    all into the last; results that are errors or carry a tool_reference take
    none. A document goes into the result that announced it (`PDF file read:`)."""
    if not isinstance(message, Mapping) or message.get("role") != "user":
        return message
    content = message.get("content")
    if not isinstance(content, list) or not any(_is_tool_result(b) for b in content):
        return message
    if not all(_is_tool_result(b) or (isinstance(b, Mapping) and b.get("type") in _FOLDABLE) for b in content):
        return message
    results = [dict(b) for b in content if _is_tool_result(b)]
    eligible = [r for r in results if r.get("is_error") is not True and not _has_tool_reference(r)]
    if not eligible:
        return message
    texts = [b for b in content if b.get("type") == "text"]
    pdf_results = [r for r in eligible if _announces_pdf(r)]
    beside: list[Any] = []  # images, and documents no result announced
    for block in content:
        if block.get("type") == "document" and pdf_results:
            _append(pdf_results.pop(0), block)
        elif block.get("type") in ("image", "document"):
            beside.append(block)
    if len(texts) == len(eligible):
        for result, text in zip(eligible, texts, strict=True):
            _append(result, text)
    else:
        for text in texts:
            _append(eligible[-1], text)
    merged = [*results, *beside]
    if len(merged) == len(content):
        return message  # nothing was folded
    notes.add("folded reminder text into tool results")
    return {**message, "content": merged}


def _announces_pdf(result: Mapping[str, Any]) -> bool:
    return any(t.startswith(_PDF_RESULT) for t in _texts(result.get("content")))


def _append(result: dict[str, Any], block: Mapping[str, Any]) -> None:
    result["content"] = [*_blocks(result.get("content")), dict(block)]


def _strip_cache_scope(value: Any, notes: _Notes) -> Any:
    """`value` without a `scope` key in any `cache_control` (Copilot rejects it)."""
    if isinstance(value, list):
        return [_strip_cache_scope(v, notes) for v in value]
    if not isinstance(value, Mapping):
        return value
    cache = value.get("cache_control")
    content = value.get("content")
    if not (isinstance(cache, Mapping) and "scope" in cache) and not isinstance(content, list):
        return value
    new = dict(value)
    if isinstance(cache, Mapping) and "scope" in cache:
        new["cache_control"] = {k: v for k, v in cache.items() if k != "scope"}
        notes.add("removed cache_control.scope")
    if isinstance(content, list):
        new["content"] = _strip_cache_scope(content, notes)
    return new


# ---- request kinds --------------------------------------------------------------------------------


def is_warmup_probe(payload: Mapping[str, Any], anthropic_beta: str | None) -> bool:
    """A tool-less side request (Claude Code's session title, quota and warm-up probes):
    no tools, an `anthropic-beta` header, not a compaction (caozhiyuan's rule), or a
    last user text of `warmup`. `--small-model` sends these to a small model."""
    if is_compaction_request(payload):
        return False
    messages = payload.get("messages")
    last = messages[-1] if isinstance(messages, list) and messages else None
    if isinstance(last, Mapping) and last.get("role") == "user":
        texts = _texts(last.get("content"))
        if texts and texts[-1].strip().lower() == "warmup":
            return True
    return not payload.get("tools") and bool((anthropic_beta or "").strip())


# ---- the answer stream ----------------------------------------------------------------------------

#: The event types of Anthropic's Messages stream; anything else is Copilot's own.
ANTHROPIC_EVENTS: Final = frozenset(
    {
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
        "ping",
        "error",
    }
)
_EVENT_END = re.compile(rb"\r?\n\r?\n")
_END_EVENTS: Final = frozenset({"message_stop", "error", "[DONE]"})


def event_kind(event: bytes) -> str | None:
    """The type of one SSE event (its `event:` line, else its data's JSON `type`;
    `[DONE]` for that sentinel); None for a comment-only block."""
    data_lines: list[bytes] = []
    for line in event.splitlines():
        if line.startswith(b"event:"):
            return line[6:].strip().decode("utf-8", "replace")
        if line.startswith(b"data:"):
            data_lines.append(line[5:].strip())
    if not data_lines:
        return None
    data = b"\n".join(data_lines)
    if data == b"[DONE]":
        return "[DONE]"
    try:
        parsed = loads(data)
    except ValueError:
        return ""
    kind = parsed.get("type") if isinstance(parsed, dict) else None
    return kind if isinstance(kind, str) else ""


def keep_event(event: bytes) -> bool:
    """Whether one SSE event goes to the client: Anthropic's event types and
    comment-only keep-alives do; Copilot-internal ones and `[DONE]` do not."""
    kind = event_kind(event)
    return kind is None or kind in ANTHROPIC_EVENTS


class MessagesStreamFilter:
    """Copilot's /v1/messages SSE bytes in, the client's out, event by event.

    Kept events are forwarded byte for byte; nothing after the stream's end
    (`message_stop`, `error` or `[DONE]`) is. `ended` tells the caller whether
    the stream ended properly, `dropped` what was filtered.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.ended = False
        self.dropped: dict[str, int] = {}

    def feed(self, chunk: bytes) -> bytes:
        self._buffer.extend(chunk)
        out = bytearray()
        while not self.ended:
            match = _EVENT_END.search(self._buffer)
            if match is None:
                break
            event = bytes(self._buffer[: match.end()])
            del self._buffer[: match.end()]
            out.extend(self._one(event))
        if self.ended:
            self._buffer.clear()
        return bytes(out)

    def finish(self) -> bytes:
        """The last event when upstream closed without its blank line."""
        rest, self._buffer = bytes(self._buffer), bytearray()
        if self.ended or not rest.strip():
            return b""
        return self._one(rest + b"\n\n")

    def _one(self, event: bytes) -> bytes:
        kind = event_kind(event)
        if kind in _END_EVENTS:
            self.ended = True
        if kind is None or kind in ANTHROPIC_EVENTS:
            return event
        self.dropped[kind] = self.dropped.get(kind, 0) + 1
        return b""


def message_as_events(message: Any) -> bytes:
    """A whole Anthropic message (Copilot's JSON answer to a request that asked for
    a stream) as the stream of events Anthropic would have sent for it."""
    if not isinstance(message, Mapping) or message.get("type") != "message":
        return format_sse({"type": "error", "error": {"type": "api_error", "message": "Copilot sent no message"}})
    content = [b for b in message.get("content") or [] if isinstance(b, Mapping)]
    usage = message.get("usage")
    output_tokens = usage.get("output_tokens", 0) if isinstance(usage, Mapping) else 0
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(content):
        head, deltas = _block_events(block)
        events.append({"type": "content_block_start", "index": index, "content_block": head})
        events.extend({"type": "content_block_delta", "index": index, "delta": d} for d in deltas)
        events.append({"type": "content_block_stop", "index": index})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": message.get("stop_reason"), "stop_sequence": message.get("stop_sequence")},
            "usage": {"output_tokens": output_tokens},
        }
    )
    events.append({"type": "message_stop"})
    return b"".join(format_sse(e) for e in events)


def _block_events(block: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A content block's `content_block_start` body and its deltas."""
    kind = block.get("type")
    if kind == "text":
        return {**block, "text": ""}, [{"type": "text_delta", "text": str(block.get("text", ""))}]
    if kind == "thinking":
        deltas = [{"type": "thinking_delta", "thinking": str(block.get("thinking", ""))}]
        if isinstance(block.get("signature"), str):
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        return {**block, "thinking": "", "signature": ""}, deltas
    if kind in ("tool_use", "server_tool_use"):
        arguments = json.dumps(block.get("input", {}), ensure_ascii=False, separators=(",", ":"))
        return {**block, "input": {}}, [{"type": "input_json_delta", "partial_json": arguments}]
    return dict(block), []  # redacted_thinking and results come whole
