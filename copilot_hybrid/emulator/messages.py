"""Copilot's Anthropic-native endpoints: `POST {copilot}/v1/messages` and
`POST {copilot}/v1/messages/count_tokens`.

The checks are the ones the reference records Copilot making (§4, §9):
unknown `anthropic-beta` values, models that do not list `/v1/messages`,
top-level fields outside the Messages API, `max_tokens` over the model's
limit, `temperature` with `top_p`, `cache_control.scope`, a top-level
`cache_control` on the models that refuse it, thinking the model cannot do,
efforts it does not list, and thinking blocks whose signature this Copilot
did not issue. Answers follow the chat endpoint's scripting (keywords and
queued scripts, docs/emulator.md) and are Anthropic messages: thinking with
a signature when asked, text, tool_use, and usage with prompt-cache reads
and writes worked out from the request's `cache_control` breakpoints.
Streams carry Copilot's own extras: a `copilot_usage` event and Bedrock
metrics on `message_stop` (config `messages_internal_events`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from copilot_hybrid.emulator import chat
from copilot_hybrid.emulator.http import Request, Response, copilot_error, json_response
from copilot_hybrid.jsonutil import dumps

if TYPE_CHECKING:
    from copilot_hybrid.emulator.state import EmulatorState

MESSAGES_ENDPOINT: Final = "/v1/messages"
#: What Copilot's front door lets through (caozhiyuan's allow-list; the rest is a 400).
#: The proxy keeps its own list (translate.messages_native); this is Copilot's side of it.
SUPPORTED_BETAS: Final = frozenset(
    {"interleaved-thinking-2025-05-14", "context-management-2025-06-27", "advanced-tool-use-2025-11-20"}
)
#: The Messages API's top-level fields; others are "Extra inputs are not permitted".
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
NO_TOP_LEVEL_CACHE_CONTROL: Final = frozenset(
    {"claude-sonnet-4.5", "claude-sonnet-4.6", "claude-opus-4.5", "claude-haiku-4.5"}
)
THINKING_DISPLAYS: Final = ("summarized", "omitted")
#: Anthropic caches no prefix shorter than this.
MIN_CACHEABLE_TOKENS: Final = 1024
_IMAGE_TOKENS = 85
_DOCUMENT_TOKENS = 100
_SIGNING_KEY = b"copilot-hybrid emulator thinking signature"


class MessagesError(Exception):
    """A 400 the emulated Copilot answers (Copilot's error shape)."""

    def __init__(self, message: str, code: str = "invalid_request_body", status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


# ---- signatures ----------------------------------------------------------------------


def sign_thinking(text: str) -> str:
    """The signature this Copilot puts on a thinking block (and later checks)."""
    digest = hmac.new(_SIGNING_KEY, text.encode("utf-8"), hashlib.sha256).digest()
    return "Ep" + base64.b64encode(digest).decode("ascii")


def signature_valid(text: Any, signature: Any) -> bool:
    return isinstance(text, str) and isinstance(signature, str) and hmac.compare_digest(sign_thinking(text), signature)


# ---- reading a request ---------------------------------------------------------------------


def _blocks(content: Any) -> list[Any]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return content if isinstance(content, list) else []


def _walk_blocks(value: Any) -> Iterator[Mapping[str, Any]]:
    """Every content block, nested tool_result content included."""
    for block in _blocks(value):
        if isinstance(block, Mapping):
            yield block
            if block.get("type") == "tool_result":
                yield from _walk_blocks(block.get("content"))


def _block_tokens(block: Mapping[str, Any]) -> int:
    kind = block.get("type")
    if kind == "image":
        return _IMAGE_TOKENS
    if kind == "document":
        return _DOCUMENT_TOKENS
    if kind == "tool_use":
        return chat.tokens_of_text(str(block.get("name", "")) + dumps(block.get("input", {})).decode())
    if kind == "tool_result":
        return sum(_block_tokens(b) for b in _blocks(block.get("content")) if isinstance(b, Mapping))
    if kind == "thinking":
        return chat.tokens_of_text(str(block.get("thinking", "")))
    text = block.get("text")
    return chat.tokens_of_text(text) if isinstance(text, str) else 1


@dataclass(frozen=True)
class Segment:
    """One cacheable piece of the prompt, in Anthropic's prefix order (tools, system, messages)."""

    canonical: bytes
    tokens: int
    breakpoint: bool


def _canonical(value: Any) -> bytes:
    if isinstance(value, Mapping):
        value = {k: v for k, v in value.items() if k != "cache_control"}
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def prompt_segments(body: Mapping[str, Any]) -> list[Segment]:
    segments: list[Segment] = []
    for tool in body.get("tools") or []:
        if isinstance(tool, Mapping):
            tokens = chat.tokens_of_text(dumps(tool).decode())
            segments.append(Segment(_canonical(tool), tokens, isinstance(tool.get("cache_control"), Mapping)))
    system = body.get("system")
    for block in _blocks(system):
        if isinstance(block, Mapping):
            segments.append(
                Segment(_canonical(block), _block_tokens(block), isinstance(block.get("cache_control"), Mapping))
            )
    for message in body.get("messages") or []:
        if not isinstance(message, Mapping):
            continue
        segments.append(Segment(str(message.get("role")).encode(), 4, False))  # role and framing
        for block in _blocks(message.get("content")):
            if isinstance(block, Mapping):
                segments.append(
                    Segment(_canonical(block), _block_tokens(block), isinstance(block.get("cache_control"), Mapping))
                )
    return segments


def estimate_input_tokens(body: Mapping[str, Any]) -> int:
    return max(1, sum(s.tokens for s in prompt_segments(body)))


class PromptCache:
    """Which prompt prefixes were cached, per model: a `cache_control` breakpoint
    writes its prefix; a later request with the same prefix reads it."""

    def __init__(self, limit: int = 512) -> None:
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, int] = OrderedDict()
        self._limit = limit

    def account(self, model_id: str, segments: Sequence[Segment]) -> tuple[int, int]:
        """(cache_read_input_tokens, cache_creation_input_tokens) for one request."""
        digest = hashlib.sha256(model_id.encode())
        total = 0
        breakpoints: list[tuple[str, int]] = []
        for segment in segments:
            digest.update(len(segment.canonical).to_bytes(8, "big"))
            digest.update(segment.canonical)
            total += segment.tokens
            if segment.breakpoint and total >= MIN_CACHEABLE_TOKENS:
                breakpoints.append((digest.copy().hexdigest(), total))
        if not breakpoints:
            return 0, 0
        with self._lock:
            read = max((tokens for key, tokens in breakpoints if key in self._seen), default=0)
            for key, tokens in breakpoints:
                self._seen[key] = tokens
                self._seen.move_to_end(key)
            while len(self._seen) > self._limit:
                self._seen.popitem(last=False)
        return read, max(0, breakpoints[-1][1] - read)

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


# ---- checks ---------------------------------------------------------------------------------


def unsupported_betas(header: str | None) -> list[str]:
    sent = [b.strip() for b in (header or "").split(",") if b.strip()]
    return [b for b in sent if b not in SUPPORTED_BETAS]


def _supports(model: Mapping[str, Any]) -> Mapping[str, Any]:
    caps = model.get("capabilities")
    supports = caps.get("supports") if isinstance(caps, Mapping) else None
    return supports if isinstance(supports, Mapping) else {}


def _limits(model: Mapping[str, Any]) -> Mapping[str, Any]:
    caps = model.get("capabilities")
    limits = caps.get("limits") if isinstance(caps, Mapping) else None
    return limits if isinstance(limits, Mapping) else {}


def _cache_scope_path(value: Any, path: str) -> str | None:
    if isinstance(value, Mapping):
        cache = value.get("cache_control")
        if isinstance(cache, Mapping) and "scope" in cache:
            return f"{path}.cache_control.scope"
        for key in ("content", "system", "tools", "messages"):
            if key in value:
                found = _cache_scope_path(value[key], f"{path}.{key}" if path else key)
                if found:
                    return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _cache_scope_path(item, f"{path}.{i}")
            if found:
                return found
    return None


def check_request(body: Mapping[str, Any], model: Mapping[str, Any], *, beta: str | None) -> None:
    """Raises MessagesError for what Copilot's /v1/messages refuses (module docstring)."""
    rejected = unsupported_betas(beta)
    if rejected:
        raise MessagesError(f"unsupported beta header(s): {', '.join(rejected)}")
    extra = sorted(k for k in body if k not in MESSAGE_FIELDS)
    if extra:
        raise MessagesError(f"{extra[0]}: Extra inputs are not permitted")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise MessagesError("messages: at least one message is required")
    model_id = str(model.get("id"))
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise MessagesError("max_tokens: Field required (a positive integer)")
    limits = _limits(model)
    limit = limits.get("max_output_tokens")
    if not body.get("stream") and isinstance(limits.get("max_non_streaming_output_tokens"), int):
        limit = limits["max_non_streaming_output_tokens"]
    if isinstance(limit, int) and max_tokens > limit:
        raise MessagesError(
            f"max_tokens: {max_tokens} > {limit}, which is the maximum allowed number of output tokens for {model_id}"
        )
    if "temperature" in body and "top_p" in body:
        raise MessagesError("`temperature` and `top_p` cannot both be specified for this model. Please use only one.")
    scope = _cache_scope_path(dict(body), "")
    if scope:
        raise MessagesError(f"{scope}: Extra inputs are not permitted")
    if "cache_control" in body and model_id in NO_TOP_LEVEL_CACHE_CONTROL:
        raise MessagesError(f"cache_control: top-level cache_control is not supported for {model_id}")
    _check_thinking(body, model, max_tokens)
    _check_signatures(messages)


def _check_thinking(body: Mapping[str, Any], model: Mapping[str, Any], max_tokens: int) -> None:
    supports = _supports(model)
    thinking = body.get("thinking")
    if isinstance(thinking, Mapping) and thinking.get("type") not in (None, "disabled"):
        adaptive = supports.get("adaptive_thinking") is True
        low, high = supports.get("min_thinking_budget"), supports.get("max_thinking_budget")
        if not adaptive and not isinstance(high, int):
            raise MessagesError(f"thinking: {model.get('id')} does not support thinking")
        display = thinking.get("display")
        if display is not None and display not in THINKING_DISPLAYS:
            raise MessagesError(f"thinking.display: Input should be {' or '.join(map(repr, THINKING_DISPLAYS))}")
        if thinking.get("type") == "adaptive" and not adaptive:
            raise MessagesError(f"thinking.type: adaptive thinking is not supported on {model.get('id')}")
        if thinking.get("type") == "enabled":
            budget = thinking.get("budget_tokens")
            if not isinstance(high, int):
                raise MessagesError(f"thinking.type: enabled is not supported on {model.get('id')}; use adaptive")
            if isinstance(budget, bool) or not isinstance(budget, int):
                raise MessagesError("thinking.budget_tokens: Field required")
            if budget >= max_tokens:
                raise MessagesError("`max_tokens` must be greater than `thinking.budget_tokens`")
            if (isinstance(low, int) and budget < low) or budget > high:
                raise MessagesError(f"thinking.budget_tokens: must be between {low} and {high}")
    output_config = body.get("output_config")
    effort = output_config.get("effort") if isinstance(output_config, Mapping) else None
    if effort is not None:
        levels = supports.get("reasoning_effort")
        if not isinstance(levels, list) or effort not in levels:
            raise MessagesError(f"output_config.effort: {effort!r} is not supported by {model.get('id')}")


def _check_signatures(messages: Sequence[Any]) -> None:
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping) or message.get("role") != "assistant":
            continue
        for j, block in enumerate(_blocks(message.get("content"))):
            if isinstance(block, Mapping) and block.get("type") == "thinking":
                if not signature_valid(block.get("thinking"), block.get("signature")):
                    raise MessagesError(f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block")


def has_images(body: Mapping[str, Any]) -> bool:
    return any(
        b.get("type") == "image"
        for m in body.get("messages") or []
        if isinstance(m, Mapping)
        for b in _walk_blocks(m.get("content"))
    )


# ---- answers ----------------------------------------------------------------------------------


def last_user_text(messages: Sequence[Any]) -> str:
    """The text of the newest user turn (reminders included, tool results not)."""
    for message in reversed(messages):
        if isinstance(message, Mapping) and message.get("role") == "user":
            return chat.text_of(_blocks(message.get("content")))
    return ""


def trailing_tool_results(messages: Sequence[Any]) -> list[tuple[str, str]]:
    """(tool name, result text) of the tool results in the newest user turn."""
    last_user = next(
        (
            i
            for i in range(len(messages) - 1, -1, -1)
            if isinstance(messages[i], Mapping) and messages[i].get("role") == "user"
        ),
        None,
    )
    if last_user is None:
        return []
    names: dict[str, str] = {}
    for message in messages[:last_user]:
        if isinstance(message, Mapping) and message.get("role") == "assistant":
            for block in _blocks(message.get("content")):
                if isinstance(block, Mapping) and block.get("type") == "tool_use":
                    names[str(block.get("id"))] = str(block.get("name", "tool"))
    results = []
    for block in _blocks(messages[last_user].get("content")):
        if isinstance(block, Mapping) and block.get("type") == "tool_result":
            text = chat.text_of(_blocks(block.get("content")))
            results.append((names.get(str(block.get("tool_use_id")), "tool"), text))
    return results


def plan_for_request(body: Mapping[str, Any]) -> chat.Plan:
    """The keywords of the newest user turn, unless it carries tool results (then the default answer)."""
    messages = body.get("messages") or []
    if trailing_tool_results(messages):
        return chat.Plan()
    plan, _ = chat.parse_keywords(last_user_text(messages))
    choice = body.get("tool_choice")
    tools = [t for t in body.get("tools") or [] if isinstance(t, Mapping) and isinstance(t.get("name"), str)]
    if not plan.tool_calls and not plan.content_given and isinstance(choice, Mapping):
        if choice.get("type") == "any" and tools:
            plan.tool_calls.append(chat.ToolCallSpec(str(tools[0]["name"]), "{}"))
        elif choice.get("type") == "tool" and isinstance(choice.get("name"), str):
            plan.tool_calls.append(chat.ToolCallSpec(choice["name"], "{}"))
    return plan


def _prompt_words(messages: Sequence[Any], count: int) -> list[str]:
    """The first words of the newest user text, without keywords and Claude Code's reminders."""
    text = _REMINDERS.sub(" ", last_user_text(messages))
    return chat.parse_keywords(text)[1].split()[:count]


_REMINDERS = re.compile(r"<system-reminder>.*?</system-reminder>", re.DOTALL)


def default_reply(body: Mapping[str, Any], model_id: str) -> str:
    messages = body.get("messages") or []
    results = trailing_tool_results(messages)
    if results:
        parts = [f'the {name} tool returned "{" ".join(text.split())[:200]}"' for name, text in results]
        return f"Hello from emulated {model_id}: " + "; ".join(parts) + "."
    words = _prompt_words(messages, 12)
    return f"Hello from emulated {model_id}: " + " ".join(words) if words else f"Hello from emulated {model_id}."


_STOP_REASONS: Final = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}


@dataclass
class Message:
    id: str
    model: str
    content: list[dict[str, Any]]
    stop_reason: str
    usage: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": self.content,
            "stop_reason": self.stop_reason,
            "stop_sequence": None,
            "usage": self.usage,
        }


def _wants_thinking(body: Mapping[str, Any]) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, Mapping) and thinking.get("type") in ("enabled", "adaptive")


def build_message(body: Mapping[str, Any], plan: chat.Plan, model: Mapping[str, Any], cache: PromptCache) -> Message:
    model_id = str(model.get("id"))
    seed = dumps(body).decode()
    digest = hashlib.sha256(seed.encode()).digest()
    content: list[dict[str, Any]] = []
    if _wants_thinking(body):
        echo = " ".join(_prompt_words(body.get("messages") or [], 8)) or "the request"
        thought = f"Emulated thinking about: {echo}"
        content.append({"type": "thinking", "thinking": thought, "signature": sign_thinking(thought)})
    calls = [
        {
            "type": "tool_use",
            "id": spec.id or "toolu_" + _id_from(hashlib.sha256(seed.encode() + b"tool" + bytes([i])).digest()),
            "name": spec.name,
            "input": _arguments(spec.arguments),
        }
        for i, spec in enumerate(plan.tool_calls)
    ]
    text = plan.content if plan.content_given else (None if calls else default_reply(body, model_id))
    if plan.split and calls and text is None:
        text = "Let me call " + ", ".join(c["name"] for c in calls) + "."
    stop = "tool_use" if calls else "end_turn"
    max_tokens = body.get("max_tokens")
    if plan.force_length or (
        isinstance(max_tokens, int) and text is not None and chat.tokens_of_text(text) > max_tokens
    ):
        text = text if text is not None else default_reply(body, model_id)
        if plan.force_length:
            words = text.split(" ")
            text = " ".join(words[: max(1, len(words) // 2)])
        if isinstance(max_tokens, int):
            text = text[: max_tokens * 4]
        calls, stop = [], "max_tokens"
    if plan.finish_reason is not None:
        stop = _STOP_REASONS.get(plan.finish_reason, plan.finish_reason)
    if text is not None:
        content.append({"type": "text", "text": text})
    content.extend(calls)

    segments = prompt_segments(body)
    total = plan.usage.get("prompt_tokens", max(1, sum(s.tokens for s in segments)))
    read, written = cache.account(model_id, segments)
    if "cached_tokens" in plan.usage:
        read, written = min(plan.usage["cached_tokens"], total), 0
    output = plan.usage.get(
        "completion_tokens",
        sum(
            chat.tokens_of_text(b.get("text") or b.get("thinking") or dumps(b.get("input", {})).decode())
            for b in content
        ),
    )
    usage = {
        "input_tokens": max(0, total - read - written),
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": read,
        "output_tokens": max(1, output),
    }
    return Message("msg_" + _id_from(digest), plan.model or model_id, content, stop, usage)


def _arguments(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return {}


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _id_from(digest: bytes, length: int = 24) -> str:
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:length])


def event(name: str, data: Mapping[str, Any]) -> bytes:
    return f"event: {name}\ndata: ".encode() + dumps(data) + b"\n\n"


def render_events(message: Message, *, internal_events: bool) -> list[bytes]:
    """The SSE events of a streamed message, in Anthropic's order, with Copilot's extras."""
    start = message.to_json()
    start.update(content=[], stop_reason=None, usage={**message.usage, "output_tokens": 1})
    events = [event("message_start", {"type": "message_start", "message": start}), event("ping", {"type": "ping"})]
    for index, block in enumerate(message.content):
        kind = block["type"]
        if kind == "thinking":
            head: dict[str, Any] = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": p} for p in chat.text_pieces(block["thinking"])]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        elif kind == "text":
            head = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in chat.text_pieces(block["text"])]
        else:
            head = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            arguments = dumps(block["input"]).decode()
            deltas = [
                {"type": "input_json_delta", "partial_json": arguments[i : i + 12]}
                for i in range(0, len(arguments), 12)
            ]
        events.append(
            event("content_block_start", {"type": "content_block_start", "index": index, "content_block": head})
        )
        events.extend(
            event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}) for d in deltas
        )
        events.append(event("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(
        event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message.stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": message.usage["output_tokens"]},
            },
        )
    )
    stop: dict[str, Any] = {"type": "message_stop"}
    if internal_events:
        events.append(event("copilot_usage", {"type": "copilot_usage", "usage": message.usage, "model": message.model}))
        stop["amazon-bedrock-invocationMetrics"] = {
            "inputTokenCount": message.usage["input_tokens"],
            "outputTokenCount": message.usage["output_tokens"],
        }
    events.append(event("message_stop", stop))
    return events


# ---- the endpoints ----------------------------------------------------------------------------

Paced = Callable[[list[bytes], chat.Plan], Iterator[bytes]]


def answer_messages(
    state: EmulatorState, request: Request, body: Mapping[str, Any], model: Mapping[str, Any], paced: Paced
) -> Response:
    """`POST /v1/messages` after the auth checks and the model lookup (routes.py)."""
    if MESSAGES_ENDPOINT not in (model.get("supported_endpoints") or []):
        return copilot_error(400, "The requested model is not supported.", "model_not_supported", "model")
    try:
        check_request(body, model, beta=request.header("anthropic-beta"))
    except MessagesError as exc:
        return copilot_error(exc.status, exc.message, exc.code)
    if has_images(body):
        if not _supports(model).get("vision"):
            return copilot_error(400, "The model does not support vision.", "model_not_supported")
        vision_header = (request.header("copilot-vision-request") or "").lower() == "true"
        if state.config.require_vision_header and not vision_header:
            return copilot_error(
                400, "missing required Copilot-Vision-Request header for vision requests", "bad_request"
            )
    plan = state.take_script(body) or plan_for_request(body)
    if plan.error is not None:
        headers = {"content-type": "application/json", **plan.error.headers}
        return Response(plan.error.status, _raw(plan.error.body), headers, delay=plan.delay)
    # Premium requests are billed per user turn; agent follow-ups are free.
    if (request.header("x-initiator") or "user").lower() != "agent":
        state.charge_premium(float(model.get("billing", {}).get("multiplier", 0) or 0))
    message = build_message(body, plan, model, state.prompt_cache)
    if body.get("stream") and not plan.no_stream:
        if plan.raw_chunks is not None:
            events = [c.encode("utf-8") for c in plan.raw_chunks]
        else:
            events = render_events(message, internal_events=state.config.messages_internal_events)
        headers = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}
        return Response(200, headers=headers, stream=paced(events, plan), delay=plan.delay)
    payload = _raw(plan.raw_body) if plan.raw_body_given else dumps(message.to_json())
    return Response(200, payload, {"content-type": "application/json"}, delay=plan.delay)


def _raw(value: Any) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else dumps(value)


_DASHED_VERSION = re.compile(r"(\d)-(\d{1,2})$")


def answer_count_tokens(body: Mapping[str, Any], find_model: Callable[[Any], dict[str, Any] | None]) -> Response:
    """`POST /v1/messages/count_tokens` after the auth checks. Copilot counts for every
    chat model on the plan (Claude, Gemini, GPT), dotted or dashed Claude names alike,
    answers JSON even for `stream: true`, and does not check betas."""
    model_id = body.get("model")
    model = find_model(model_id)
    if model is None and isinstance(model_id, str):
        model = find_model(_DASHED_VERSION.sub(r"\1.\2", model_id))
    if model is None or model.get("capabilities", {}).get("type") != "chat":
        return copilot_error(400, "The requested model is not supported.", "model_not_supported", "model")
    if not isinstance(body.get("messages"), list):
        return copilot_error(400, "messages: Field required", "invalid_request_body")
    return json_response(200, {"input_tokens": estimate_input_tokens(body)})
