"""Scripted chat completions: from a request (and maybe a queued script) to
the exact JSON or SSE chunks the emulated Copilot sends.

No I/O here. `plan_for_request` reads the keywords, `plan_from_script`
validates a queued script, `build_completion` turns a plan into choices and
usage, and `render_json` / `render_chunks` produce the wire shapes.
Everything is deterministic for a given request, so tests can assert on text,
ids and token counts.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import string
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from copilot_hybrid.jsonutil import dumps

# ---------------------------------------------------------------------------
# Reading requests


def text_of(content: Any) -> str:
    """The text of an OpenAI message `content` (string, parts list, or null)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            part["text"]
            for part in content
            if isinstance(part, Mapping) and part.get("type") == "text" and isinstance(part.get("text"), str)
        ]
        return "\n\n".join(texts)
    return ""


def image_count(content: Any) -> int:
    if not isinstance(content, list):
        return 0
    return sum(1 for p in content if isinstance(p, Mapping) and p.get("type") == "image_url")


def has_images(messages: Sequence[Any]) -> bool:
    return any(isinstance(m, Mapping) and image_count(m.get("content")) for m in messages)


def tokens_of_text(text: str) -> int:
    # The plausible-not-exact rule the brief asks for: ~4 characters a token.
    return math.ceil(len(text) / 4)


def estimate_prompt_tokens(body: Mapping[str, Any]) -> int:
    total = 0
    for message in body.get("messages") or []:
        if not isinstance(message, Mapping):
            continue
        total += 4  # role and framing, as chat templates add per message
        total += tokens_of_text(text_of(message.get("content")))
        total += 85 * image_count(message.get("content"))
        if message.get("tool_calls"):
            total += tokens_of_text(dumps(message["tool_calls"]).decode())
    if body.get("tools"):
        total += tokens_of_text(dumps(body["tools"]).decode())
    return max(1, total)


def _last_user_index(messages: Sequence[Any]) -> int | None:
    for i in range(len(messages) - 1, -1, -1):
        message = messages[i]
        if isinstance(message, Mapping) and message.get("role") == "user":
            return i
    return None


def last_user_text(messages: Sequence[Any]) -> str:
    index = _last_user_index(messages)
    return "" if index is None else text_of(messages[index].get("content"))


def trailing_tool_results(messages: Sequence[Any]) -> list[tuple[str, str]]:
    """(tool name, result text) for tool messages after the last user message.

    Non-empty means the conversation is in an agent loop: the client ran the
    tools we asked for and wants an answer, so keywords must not fire again
    (they would call the same tool forever).
    """
    start = _last_user_index(messages)
    start = -1 if start is None else start
    names: dict[str, str] = {}
    results: list[tuple[str, str]] = []
    for message in messages[start + 1 :]:
        if not isinstance(message, Mapping):
            continue
        if message.get("role") == "assistant":
            for call in message.get("tool_calls") or []:
                if isinstance(call, Mapping) and isinstance(call.get("function"), Mapping):
                    names[str(call.get("id"))] = str(call["function"].get("name", "tool"))
        elif message.get("role") == "tool":
            name = names.get(str(message.get("tool_call_id")), "tool")
            results.append((name, text_of(message.get("content"))))
    return results


# ---------------------------------------------------------------------------
# Plans


@dataclass
class ToolCallSpec:
    name: str
    arguments: str  # JSON text, sent as-is (fragmented when streamed)
    id: str | None = None


@dataclass
class ErrorSpec:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Match:
    model: str | None = None
    contains: str | None = None
    stream: bool | None = None

    def accepts(self, body: Mapping[str, Any]) -> bool:
        if self.model is not None and body.get("model") != self.model:
            return False
        if self.stream is not None and bool(body.get("stream")) != self.stream:
            return False
        if self.contains is not None:
            return self.contains in last_user_text(body.get("messages") or [])
        return True


#: Chunks sent before a scripted mid-stream failure or stall, unless told otherwise.
DEFAULT_FAIL_AFTER = 3


@dataclass
class Plan:
    """What to answer. Built from keywords or from a queued script."""

    content: str | None = None
    #: False: generate the default reply. True: use `content` (None = no text).
    content_given: bool = False
    tool_calls: list[ToolCallSpec] = field(default_factory=list)
    split: bool = False
    finish_reason: str | None = None
    force_length: bool = False
    error: ErrorSpec | None = None
    #: Chunks (streamed) sent before the connection drops; None = no failure.
    fail_after: int | None = None
    delay: float = 0.0
    chunk_delay: float = 0.0
    #: Streamed: one silence of `stall` seconds before chunk number `stall_after`
    #: (0 = after the headers, before any chunk).
    stall: float = 0.0
    stall_after: int = DEFAULT_FAIL_AFTER
    usage: dict[str, int] = field(default_factory=dict)
    model: str | None = None
    raw_chunks: list[str] | None = None
    raw_body: Any = None
    raw_body_given: bool = False
    #: Answer a stream request with one JSON body, as some upstreams do.
    no_stream: bool = False
    match: Match | None = None
    #: /responses only: `response.failed` with this message after the first
    #: DEFAULT_FAIL_AFTER events, instead of the rest of the answer.
    response_failed: str | None = None


_KEYWORD_HEAD = re.compile(r"\[\[([a-z][a-z-]*)")
_TOOL_NAME = re.compile(r":([A-Za-z0-9_.\-]+)\s*")
_INT_ARG = re.compile(r":(\d{1,7})\]\]")
_ERROR_ARG = re.compile(r":(\d{3})(?:[ :]([^\]]*))?\]\]")
_FLAG_KEYWORDS = ("split", "fail-midstream", "length", "content-filter", "response-failed")
DEFAULT_RESPONSE_FAILED = "An error occurred while processing your request."
_DECODER = json.JSONDecoder()


def parse_keywords(text: str) -> tuple[Plan, str]:
    """Reads `[[...]]` keywords; returns the plan and the text without them.

    Malformed or unknown keywords stay in the text, untouched, so a typo
    shows up in the echoed reply instead of silently doing nothing.
    """
    plan = Plan()
    kept: list[str] = []
    pos = 0
    while True:
        start = text.find("[[", pos)
        if start < 0:
            kept.append(text[pos:])
            break
        kept.append(text[pos:start])
        end = _parse_one(text, start, plan)
        if end is None:
            kept.append("[[")
            pos = start + 2
        else:
            pos = end
    return plan, "".join(kept)


def _parse_one(text: str, start: int, plan: Plan) -> int | None:
    head = _KEYWORD_HEAD.match(text, start)
    if head is None:
        return None
    name, pos = head.group(1), head.end()
    if name in _FLAG_KEYWORDS and text.startswith("]]", pos):
        if name == "split":
            plan.split = True
        elif name == "fail-midstream":
            plan.fail_after = DEFAULT_FAIL_AFTER
        elif name == "length":
            plan.force_length = True
        elif name == "response-failed":
            plan.response_failed = DEFAULT_RESPONSE_FAILED
        else:
            plan.finish_reason = "content_filter"
        return pos + 2
    if name in ("slow", "pace", "stall", "cached"):
        m = _INT_ARG.match(text, pos)
        if m is None:
            return None
        value = int(m.group(1))
        if name == "slow":
            plan.delay = value / 1000
        elif name == "pace":
            plan.chunk_delay = value / 1000
        elif name == "stall":
            plan.stall = value / 1000
        else:
            plan.usage["cached_tokens"] = value
        return m.end()
    if name == "error":
        m = _ERROR_ARG.match(text, pos)
        if m is None or not 400 <= int(m.group(1)) <= 599:
            return None
        plan.error = error_spec(int(m.group(1)), m.group(2) or None)
        return m.end()
    if name == "reply":
        if not text.startswith(":", pos):
            return None
        end = text.find("]]", pos)
        if end < 0:
            return None
        plan.content, plan.content_given = text[pos + 1 : end], True
        return end + 2
    if name == "tool":
        return _parse_tool(text, pos, plan)
    return None


def _parse_tool(text: str, pos: int, plan: Plan) -> int | None:
    m = _TOOL_NAME.match(text, pos)
    if m is None:
        return None
    pos = m.end()
    arguments: Any = {}
    if not text.startswith("]]", pos):
        try:
            arguments, pos = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError:
            return None
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if not text.startswith("]]", pos):
            return None
    plan.tool_calls.append(ToolCallSpec(m.group(1), dumps(arguments).decode()))
    return pos + 2


_ERROR_TEXTS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "Bad request: emulated upstream error."),
    401: ("unauthorized", "unauthorized: emulated upstream error"),
    402: ("quota_exceeded", "You have no quota left for premium requests."),
    403: ("forbidden", "Forbidden: emulated upstream error."),
    404: ("not_found", "Not found: emulated upstream error."),
    408: ("timeout", "Request timed out."),
    413: ("request_too_large", "Request body too large."),
    422: ("unprocessable_entity", "Unprocessable entity."),
    429: (
        "rate_limited",
        "Sorry, you have been rate-limited. Please wait a moment before trying again.",
    ),
    500: ("internal_error", "Internal server error: emulated upstream error."),
    502: ("bad_gateway", "Bad gateway: emulated upstream error."),
    503: ("service_unavailable", "Service unavailable: emulated upstream error."),
    504: ("gateway_timeout", "Gateway timeout: emulated upstream error."),
}


def error_spec(status: int, message: str | None = None) -> ErrorSpec:
    code, default = _ERROR_TEXTS.get(status, ("upstream_error", f"Emulated upstream error {status}."))
    headers = {"retry-after": "1"} if status == 429 else {}
    return ErrorSpec(status, {"error": {"message": message or default, "code": code}}, headers)


def plan_for_request(body: Mapping[str, Any]) -> Plan:
    """The plan the keywords (or their absence) of a chat request ask for."""
    messages = body.get("messages") or []
    if trailing_tool_results(messages):
        return Plan()
    plan, _ = parse_keywords(last_user_text(messages))
    if not plan.tool_calls and not plan.content_given:
        forced = _forced_tool(body)
        if forced is not None:
            plan.tool_calls.append(ToolCallSpec(forced, "{}"))
    return plan


def _forced_tool(body: Mapping[str, Any]) -> str | None:
    # A model told to call a tool calls one; with no arguments to invent, {}.
    tools = [t for t in body.get("tools") or [] if isinstance(t, Mapping)]
    names = [str(t.get("function", {}).get("name")) for t in tools if isinstance(t.get("function"), Mapping)]
    choice = body.get("tool_choice")
    if choice == "required" and names:
        return names[0]
    if isinstance(choice, Mapping) and isinstance(choice.get("function"), Mapping):
        name = choice["function"].get("name")
        return str(name) if name else None
    return None


_SCRIPT_KEYS = {
    "content",
    "tool_calls",
    "split",
    "finish_reason",
    "error",
    "fail_midstream",
    "delay_ms",
    "chunk_delay_ms",
    "stall_ms",
    "stall_after",
    "usage",
    "model",
    "raw_chunks",
    "raw_body",
    "no_stream",
    "match",
    "response_failed",
}
_USAGE_KEYS = {"prompt_tokens", "completion_tokens", "cached_tokens"}


def plan_from_script(item: Mapping[str, Any]) -> Plan:
    """Validates one queued script entry (see docs/emulator.md); ValueError if bad."""
    if not isinstance(item, Mapping):
        raise ValueError("a script entry must be an object")
    unknown = set(item) - _SCRIPT_KEYS
    if unknown:
        raise ValueError(f"unknown script keys: {sorted(unknown)}")
    plan = Plan()
    if "content" in item:
        if item["content"] is not None and not isinstance(item["content"], str):
            raise ValueError("content must be a string or null")
        plan.content, plan.content_given = item["content"], True
    for call in _list(item, "tool_calls"):
        if not isinstance(call, Mapping) or not isinstance(call.get("name"), str):
            raise ValueError("each tool call needs a string 'name'")
        args = call.get("arguments", {})
        arguments = args if isinstance(args, str) else dumps(args).decode()
        call_id = call.get("id")
        if call_id is not None and not isinstance(call_id, str):
            raise ValueError("tool call id must be a string")
        plan.tool_calls.append(ToolCallSpec(call["name"], arguments, call_id))
    plan.split = _bool(item, "split")
    plan.no_stream = _bool(item, "no_stream")
    if item.get("finish_reason") is not None:
        plan.finish_reason = _str(item, "finish_reason")
    plan.error = _script_error(item.get("error"))
    fail = item.get("fail_midstream", False)
    if fail is True:
        plan.fail_after = DEFAULT_FAIL_AFTER
    elif isinstance(fail, int) and not isinstance(fail, bool) and fail >= 0:
        plan.fail_after = fail
    elif fail is not False:
        raise ValueError("fail_midstream must be a boolean or a chunk count")
    plan.delay = _non_negative(item, "delay_ms") / 1000
    plan.chunk_delay = _non_negative(item, "chunk_delay_ms") / 1000
    plan.stall = _non_negative(item, "stall_ms") / 1000
    stall_after = item.get("stall_after", DEFAULT_FAIL_AFTER)
    if isinstance(stall_after, bool) or not isinstance(stall_after, int) or stall_after < 0:
        raise ValueError("stall_after must be a non-negative chunk count")
    plan.stall_after = stall_after
    usage = item.get("usage") or {}
    if not isinstance(usage, Mapping) or set(usage) - _USAGE_KEYS:
        raise ValueError(f"usage may only set {sorted(_USAGE_KEYS)}")
    for key, value in usage.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"usage.{key} must be a non-negative integer")
        plan.usage[key] = value
    if item.get("model") is not None:
        plan.model = _str(item, "model")
    if "raw_chunks" in item:
        chunks = item["raw_chunks"]
        if not isinstance(chunks, list) or not all(isinstance(c, str) for c in chunks):
            raise ValueError("raw_chunks must be a list of strings")
        plan.raw_chunks = list(chunks)
    if "raw_body" in item:
        plan.raw_body, plan.raw_body_given = item["raw_body"], True
    if item.get("match") is not None:
        plan.match = _script_match(item["match"])
    failed = item.get("response_failed")
    if failed is True:
        plan.response_failed = DEFAULT_RESPONSE_FAILED
    elif isinstance(failed, str) and failed:
        plan.response_failed = failed
    elif failed not in (None, False):
        raise ValueError("response_failed must be a boolean or a message")
    return plan


def _list(item: Mapping[str, Any], key: str) -> list[Any]:
    value = item.get(key) or []
    if not isinstance(value, list):
        raise ValueError(f"{key} must be a list")
    return value


def _bool(item: Mapping[str, Any], key: str) -> bool:
    value = item.get(key, False)
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be a boolean")
    return value


def _str(item: Mapping[str, Any], key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value


def _non_negative(item: Mapping[str, Any], key: str) -> float:
    value = item.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{key} must be a non-negative number")
    return float(value)


def _script_error(value: Any) -> ErrorSpec | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = {"status": value}
    if not isinstance(value, Mapping):
        raise ValueError("error must be a status code or an object")
    status = value.get("status")
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        raise ValueError("error.status must be an integer from 400 to 599")
    spec = error_spec(status, value.get("message") if isinstance(value.get("message"), str) else None)
    if "body" in value:
        spec.body = value["body"]
    headers = value.get("headers") or {}
    if not isinstance(headers, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise ValueError("error.headers must map strings to strings")
    spec.headers.update({k.lower(): v for k, v in headers.items()})
    return spec


def _script_match(value: Any) -> Match:
    if not isinstance(value, Mapping) or set(value) - {"model", "contains", "stream"}:
        raise ValueError("match may only set model, contains and stream")
    model, contains, stream = value.get("model"), value.get("contains"), value.get("stream")
    if model is not None and not isinstance(model, str):
        raise ValueError("match.model must be a string")
    if contains is not None and not isinstance(contains, str):
        raise ValueError("match.contains must be a string")
    if stream is not None and not isinstance(stream, bool):
        raise ValueError("match.stream must be a boolean")
    return Match(model, contains, stream)


# ---------------------------------------------------------------------------
# Completions


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass
class Choice:
    index: int
    content: str | None
    tool_calls: list[ToolCall]
    finish_reason: str
    # Claude's thinking as Copilot's chat API carries it, with its signature.
    reasoning_text: str | None = None
    reasoning_opaque: str | None = None


@dataclass
class Completion:
    id: str
    created: int
    model: str
    choices: list[Choice]
    usage: dict[str, Any]


_SYSTEM_FINGERPRINT = "fp_emulator"
_ALPHABET = string.ascii_letters + string.digits
_STRIP_REMINDERS = re.compile(r"<system-reminder>.*?</system-reminder>", re.DOTALL)
_ECHO_WORDS = 12
_EXCERPT_CHARS = 200


def _digest(*parts: str) -> bytes:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.digest()


def _id_from(digest: bytes, length: int) -> str:
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:length])


def _collapse(text: str) -> str:
    return " ".join(text.split())


def default_reply(body: Mapping[str, Any], model_id: str) -> str:
    messages = body.get("messages") or []
    results = trailing_tool_results(messages)
    if results:
        parts = []
        for name, result in results:
            excerpt = _collapse(result)[:_EXCERPT_CHARS]
            parts.append(f'the {name} tool returned "{excerpt}"')
        return f"Hello from emulated {model_id}: " + "; ".join(parts) + "."
    # Claude Code wraps context in <system-reminder> blocks; echo the prompt.
    _, text = parse_keywords(_STRIP_REMINDERS.sub(" ", last_user_text(messages)))
    words = text.split()[:_ECHO_WORDS]
    if not words:
        return f"Hello from emulated {model_id}."
    return f"Hello from emulated {model_id}: " + " ".join(words)


def _max_tokens(body: Mapping[str, Any]) -> int | None:
    for key in ("max_tokens", "max_completion_tokens"):
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


def build_completion(
    body: Mapping[str, Any], plan: Plan, model: Mapping[str, Any], *, now: float | None = None
) -> Completion:
    model_id = str(model.get("id"))
    seed = dumps(body).decode()
    text: str | None = plan.content if plan.content_given else None
    calls = [
        ToolCall(
            spec.id or _tool_call_id(model, seed, i),
            spec.name,
            spec.arguments,
        )
        for i, spec in enumerate(plan.tool_calls)
    ]
    if not plan.content_given:
        if not calls:
            text = default_reply(body, model_id)
        elif plan.split:
            text = "Let me call " + ", ".join(c.name for c in calls) + "."
    finish = "tool_calls" if calls else "stop"

    limit = _max_tokens(body)
    if plan.force_length or (limit is not None and text is not None and tokens_of_text(text) > limit):
        if text is None:
            text = default_reply(body, model_id)
        if plan.force_length:
            words = text.split(" ")
            text = " ".join(words[: max(1, len(words) // 2)])
        if limit is not None:
            text = text[: limit * 4]
        calls, finish = [], "length"
    if plan.finish_reason is not None:
        finish = plan.finish_reason

    if plan.split and calls and text is not None:
        choices = [
            Choice(0, text, [], "stop"),
            Choice(1, None, calls, finish),
        ]
    else:
        choices = [Choice(0, text, calls, finish)]
    if wants_reasoning(body, model):
        from copilot_hybrid.emulator.messages import sign_thinking

        words = parse_keywords(_STRIP_REMINDERS.sub(" ", last_user_text(body.get("messages") or [])))[1].split()
        thought = "Emulated thinking about: " + (" ".join(words[:8]) or "the request")
        choices[0].reasoning_text, choices[0].reasoning_opaque = thought, sign_thinking(thought)

    prompt = plan.usage.get("prompt_tokens", estimate_prompt_tokens(body))
    completion = plan.usage.get(
        "completion_tokens",
        tokens_of_text(text or "") + sum(tokens_of_text(c.name + c.arguments) for c in calls),
    )
    cached = min(plan.usage.get("cached_tokens", 0), prompt)
    usage = {
        "completion_tokens": completion,
        "prompt_tokens": prompt,
        "prompt_tokens_details": {"cached_tokens": cached},
        "total_tokens": prompt + completion,
    }
    return Completion(
        id="chatcmpl-" + _id_from(_digest("completion", seed), 29),
        created=int(time.time() if now is None else now),
        model=plan.model or str(model.get("version") or model_id),
        choices=choices,
        usage=usage,
    )


def unverifiable_reasoning(messages: Sequence[Any]) -> int | None:
    """The index of the first assistant message whose `reasoning_opaque` this
    emulator did not sign over its `reasoning_text` (Claude rejects such thinking)."""
    from copilot_hybrid.emulator.messages import signature_valid

    for i, message in enumerate(messages):
        if isinstance(message, Mapping) and message.get("role") == "assistant" and "reasoning_opaque" in message:
            if not signature_valid(message.get("reasoning_text"), message.get("reasoning_opaque")):
                return i
    return None


def wants_reasoning(body: Mapping[str, Any], model: Mapping[str, Any]) -> bool:
    """A Claude model asked to think (Copilot's `thinking_budget` or `reasoning_effort`)."""
    return model.get("vendor") == "Anthropic" and (
        isinstance(body.get("thinking_budget"), int) or isinstance(body.get("reasoning_effort"), str)
    )


def _tool_call_id(model: Mapping[str, Any], seed: str, index: int) -> str:
    # Anthropic-served models keep Anthropic-style ids through Copilot.
    prefix = "toolu_" if model.get("vendor") == "Anthropic" else "call_"
    return prefix + _id_from(_digest("tool", seed, str(index)), 24)


def render_json(completion: Completion) -> dict[str, Any]:
    choices = []
    for choice in completion.choices:
        message: dict[str, Any] = {"content": choice.content, "role": "assistant"}
        if choice.reasoning_opaque is not None:
            message["reasoning_text"] = choice.reasoning_text
            message["reasoning_opaque"] = choice.reasoning_opaque
        if choice.tool_calls:
            message["tool_calls"] = [
                {
                    "function": {"arguments": c.arguments, "name": c.name},
                    "id": c.id,
                    "type": "function",
                }
                for c in choice.tool_calls
            ]
        choices.append(
            {
                "finish_reason": choice.finish_reason,
                "index": choice.index,
                "logprobs": None,
                "message": message,
            }
        )
    return {
        "id": completion.id,
        "object": "chat.completion",
        "created": completion.created,
        "model": completion.model,
        "choices": choices,
        "usage": completion.usage,
        "system_fingerprint": _SYSTEM_FINGERPRINT,
    }


_WORDS = re.compile(r"\s*\S+\s*|\s+")
_WORDS_PER_CHUNK = 3
_ARG_FRAGMENT = 12


def text_pieces(text: str) -> list[str]:
    """Splits text into stream deltas of a few words; they join back exactly."""
    words = _WORDS.findall(text)
    return ["".join(words[i : i + _WORDS_PER_CHUNK]) for i in range(0, len(words), _WORDS_PER_CHUNK)]


def render_chunks(completion: Completion, stream_usage: str) -> list[dict[str, Any]]:
    """The chunk objects of a streamed completion, in order ([DONE] excluded).

    Text deltas (role first), then each tool call as a header delta (index,
    id, name, empty arguments) followed by argument fragments, then one
    finish_reason chunk for the last choice, then the usage-only chunk.
    A split completion streams its tool calls under choice index 1 and, as
    Copilot does for Claude models, finishes only that choice.
    """
    chunks: list[dict[str, Any]] = []

    def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": completion.id,
            "object": "chat.completion.chunk",
            "created": completion.created,
            "model": completion.model,
            "choices": [{"delta": delta, "finish_reason": finish, "index": index, "logprobs": None}],
            "system_fingerprint": _SYSTEM_FINGERPRINT,
        }

    for choice in completion.choices:
        role_sent = False
        if choice.reasoning_opaque is not None:
            chunks.append(chunk(choice.index, {"content": None, "role": "assistant"}))
            role_sent = True
            for piece in text_pieces(choice.reasoning_text or ""):
                chunks.append(chunk(choice.index, {"reasoning_text": piece}))
            chunks.append(chunk(choice.index, {"reasoning_opaque": choice.reasoning_opaque}))
        if choice.content is not None:
            chunks.append(chunk(choice.index, {"content": ""} if role_sent else {"content": "", "role": "assistant"}))
            role_sent = True
            for piece in text_pieces(choice.content):
                chunks.append(chunk(choice.index, {"content": piece}))
        for i, call in enumerate(choice.tool_calls):
            header: dict[str, Any] = {
                "tool_calls": [
                    {
                        "function": {"arguments": "", "name": call.name},
                        "id": call.id,
                        "index": i,
                        "type": "function",
                    }
                ]
            }
            if not role_sent:
                header = {"content": None, "role": "assistant", **header}
                role_sent = True
            chunks.append(chunk(choice.index, header))
            for start in range(0, len(call.arguments), _ARG_FRAGMENT):
                fragment = call.arguments[start : start + _ARG_FRAGMENT]
                chunks.append(
                    chunk(
                        choice.index,
                        {"tool_calls": [{"function": {"arguments": fragment}, "index": i}]},
                    )
                )
    last = completion.choices[-1]
    final = chunk(last.index, {}, last.finish_reason)
    if stream_usage in ("finish", "both"):
        final["usage"] = completion.usage
    chunks.append(final)
    if stream_usage in ("separate", "both"):
        chunks.append(
            {
                "id": completion.id,
                "object": "chat.completion.chunk",
                "created": completion.created,
                "model": completion.model,
                "choices": [],
                "usage": completion.usage,
                "system_fingerprint": _SYSTEM_FINGERPRINT,
            }
        )
    return chunks


def sse(data: str) -> bytes:
    return b"data: " + data.encode("utf-8") + b"\n\n"
