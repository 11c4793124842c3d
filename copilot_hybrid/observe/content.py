"""What a finished request's bytes say: token usage, the error, and (opt-in) the texts.

Runs on the recorder's thread, never on the request path. It reads what the
client was sent, in either API's shape, so that every route is covered
without parsing anything twice while the request is being served:

- usage: OpenAI `usage` (`prompt_tokens`, `completion_tokens`,
  `prompt_tokens_details.cached_tokens`), Anthropic `usage` (`input_tokens`,
  `output_tokens`, `cache_read_input_tokens`, `cache_creation_input_tokens`),
  Responses `usage` (`input_tokens`, `output_tokens`, `total_tokens`,
  `input_tokens_details.cached_tokens`; in a stream inside the terminal
  event's `response`), from a JSON body or the last events of a stream.
  `input_tokens` is every prompt token, cached ones included (OpenAI's and
  Copilot's convention); Anthropic's split is added back up.
- error: `{"error": {"type", "message"}}` (OpenAI) or `{"type": "error",
  "error": {...}}` (Anthropic), as a body or as a stream's error event
  (Responses: `response.failed`'s `response.error`).
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from copilot_hybrid.jsonutil import loads
from copilot_hybrid.observe.record import RequestRecord
from copilot_hybrid.redact import redact

#: Error messages and opted-in texts are cut to this many characters.
TEXT_LIMIT: Final = 2000
ERROR_LIMIT: Final = 500
#: JSON bodies up to this size are parsed whole; larger ones only around their "usage".
SMALL_BODY: Final = 64 * 1024
_USAGE_KEY: Final = re.compile(rb'"usage"\s*:\s*')


def complete(record: RequestRecord, *, keep_text: bool) -> None:
    """Fills usage, error and (with `keep_text`) prompt/completion from the raw
    bytes, then drops the bytes."""
    body = b"".join(record.response_body)
    events, last_event = _sse_json(body, every_event=keep_text) if record.stream else ([], None)
    # A whole JSON body is parsed only when small (errors) or for the opted-in texts;
    # usage is cut out of it (an embeddings answer can be megabytes of vectors).
    small = not record.stream and len(body) <= SMALL_BODY
    document = _json(body) if small or (keep_text and not record.stream) else None
    if record.status >= 400 or record.stream:
        error = _error_of(last_event if record.stream else document)
        if error is not None:
            record.error_type = record.error_type or error[0]
            record.error_message = record.error_message or error[1]
    if record.error_message is not None:
        record.error_message = _cap(redact(record.error_message), ERROR_LIMIT)
    # count_tokens answers {"input_tokens": N} computed locally: not upstream usage.
    if record.upstream_endpoint is not None and record.status < 400:
        usage = _stream_usage(events) if record.stream else _usage_of(document or _usage_document(body))
        if usage is not None:
            record.input_tokens, record.output_tokens, record.cached_tokens = usage
    if keep_text:
        prompt = _prompt_text(_json(record.request_body or b""))
        answer = _stream_text(events) if record.stream else _answer_text(document)
        record.prompt = _cap(redact(prompt), TEXT_LIMIT) if prompt else None
        record.completion = _cap(redact(answer), TEXT_LIMIT) if answer else None
    record.response_body = []
    record.request_body = None


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return loads(raw)
    except ValueError:
        return None


def _usage_document(body: bytes) -> dict[str, Any] | None:
    """`{"usage": ...}` from the last top-level-looking `"usage":` key of a JSON body
    (inside a JSON string a quote is escaped, so the key cannot match there)."""
    keys = list(_USAGE_KEY.finditer(body))
    if not keys:
        return None
    try:
        end = keys[-1].end()
        usage, _ = json.JSONDecoder().raw_decode(body[end : end + 4096].decode("utf-8", "replace"))  # usage is small
    except ValueError:
        return None
    return {"usage": usage}


#: Without the opted-in texts, only the events that can hold usage, an error or a
#: Responses terminal event are parsed: text deltas, most of a stream, are skipped.
_USAGE_OR_ERROR: Final = (b'"usage"', b'"error"', b'"response"')


def _sse_json(raw: bytes, *, every_event: bool) -> tuple[list[Any], Any]:
    """The JSON `data` of the stream's events (all of them, or those that may hold
    usage or an error), and the last event's; the stream's first event may be cut
    (only its tail was kept)."""
    blocks = raw.replace(b"\r\n", b"\n").split(b"\n\n")
    events = [
        value
        for block in blocks
        if (every_event or any(key in block for key in _USAGE_OR_ERROR))
        and isinstance(value := _json(_data_of(block)), dict)
    ]
    for block in reversed(blocks):
        data = _data_of(block)
        if data:
            last = _json(data)
            return events, last if isinstance(last, dict) else None
    return events, None


def _data_of(block: bytes) -> bytes:
    """An event's `data` lines joined; b"" for none and for `[DONE]`."""
    data = b"\n".join(line[5:].lstrip(b" ") for line in block.split(b"\n") if line.startswith(b"data:"))
    return b"" if data == b"[DONE]" else data


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _error_of(document: Any) -> tuple[str, str] | None:
    if not isinstance(document, dict):
        return None
    if document.get("type") == "response.failed" and isinstance(document.get("response"), dict):
        document = document["response"]  # a Responses stream's failure
    error = document.get("error")
    if not isinstance(error, dict):
        return None
    kind = error.get("type") or error.get("code") or "error"
    message = error.get("message")
    return str(kind), message if isinstance(message, str) else json.dumps(error)


def _usage_of(document: Any) -> tuple[int, int, int] | None:
    usage = document.get("usage") if isinstance(document, dict) else None
    if not isinstance(usage, dict):
        return None
    if "prompt_tokens" in usage or "completion_tokens" in usage:
        details = usage.get("prompt_tokens_details")
        cached = _count(details.get("cached_tokens")) if isinstance(details, dict) else 0
        return _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens")), cached
    if "input_tokens_details" in usage or "total_tokens" in usage:
        # Responses: input_tokens includes the cached ones, as chat's prompt_tokens does.
        details = usage.get("input_tokens_details")
        cached = _count(details.get("cached_tokens")) if isinstance(details, dict) else 0
        return _count(usage.get("input_tokens")), _count(usage.get("output_tokens")), cached
    if "input_tokens" in usage or "output_tokens" in usage:
        cached = _count(usage.get("cache_read_input_tokens"))
        prompt = _count(usage.get("input_tokens")) + cached + _count(usage.get("cache_creation_input_tokens"))
        return prompt, _count(usage.get("output_tokens")), cached
    return None


def _stream_usage(events: list[Any]) -> tuple[int, int, int] | None:
    """The last usage a stream reported (OpenAI's trailer chunk, Anthropic's message_delta,
    the Responses terminal event's response)."""
    started: tuple[int, int, int] | None = None
    for event in events:
        if isinstance(event, dict) and event.get("type") == "message_start":
            started = _usage_of(event.get("message"))
            break
    for event in reversed(events):
        usage = _usage_of(event)
        if usage is None and event.get("type") == "message_start":
            usage = _usage_of(event.get("message"))
        if usage is None and isinstance(event.get("response"), dict):
            usage = _usage_of(event["response"])
        if usage is not None:
            if started is not None and event.get("type") == "message_delta" and "input_tokens" not in event["usage"]:
                # Anthropic's message_delta carries only output_tokens: the prompt's are message_start's.
                return started[0], usage[1], started[2]
            return usage
    return None


def _text_of(content: Any) -> str:
    """A message's text: a string, or its text blocks/parts joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [b.get("text") for b in content if isinstance(b, dict) and b.get("type") == "text"]
        return "\n".join(p for p in parts if isinstance(p, str))
    return ""


def _prompt_text(request: Any) -> str:
    """The newest user turn's text (both APIs put it in `messages[].content`)."""
    messages = request.get("messages") if isinstance(request, dict) else None
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _text_of(message.get("content"))
    return ""


def _answer_text(document: Any) -> str:
    if not isinstance(document, dict):
        return ""
    if isinstance(document.get("choices"), list):
        texts = [
            _text_of(c["message"].get("content"))
            for c in document["choices"]
            if isinstance(c, dict) and isinstance(c.get("message"), dict)
        ]
        return "\n".join(t for t in texts if t)
    return _text_of(document.get("content"))


def _stream_text(events: list[Any]) -> str:
    """Text deltas joined; only what the kept part of the stream holds."""
    pieces: list[str] = []
    for event in events:
        delta = event.get("delta")
        if event.get("type") == "content_block_delta" and isinstance(delta, dict):
            text = delta.get("text")
            if isinstance(text, str):
                pieces.append(text)
            continue
        if event.get("type") == "response.output_text.delta" and isinstance(delta, str):
            pieces.append(delta)
            continue
        for choice in event.get("choices") or ():
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if isinstance(delta, dict) and isinstance(delta.get("content"), str):
                pieces.append(delta["content"])
    return "".join(pieces)
