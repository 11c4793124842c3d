"""The bench's scenarios (issue 12's table) and every byte the fake upstream answers.

Models, chosen so each scenario takes the path it names under the release defaults:
- OpenAI scenarios use `gpt-4.1` (Copilot's /chat/completions, passed through).
- The Anthropic scenarios use `bench-claude-chat`, a copy of `claude-opus-5.5` that the
  fake upstream lists with /chat/completions only: the proxy translates the request
  onto chat completions and translates the answer (and each stream chunk) back. That
  is the path issue 12 measured and the one the `stream_translate` lever changes.
- The `native` scenarios use `claude-opus-5.5` itself, which Copilot serves on its own
  /v1/messages: the proxy forwards the body and relays the events.

The Claude Code body is `data/claude_code_first_turn.json`, a copy of
`tests/fixtures/claude_code/first_turn.json` (a test checks they are the same).
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from copilot_hybrid.bench.wire import response
from copilot_hybrid.errors import BenchError

CHUNKS = 100  # events of every streamed answer
OPENAI_MODEL = "gpt-4.1"
TRANSLATED_MODEL = "bench-claude-chat"
NATIVE_MODEL = "claude-opus-5.5"
GITHUB_TOKEN = "ghu_bench0000000000000000000000000000000"  # noqa: S105 - the fake upstream accepts any token
COPILOT_TOKEN = "tid=bench;exp=4102444800;sku=copilot_individual"  # noqa: S105 - fake
# The answer's text: CHUNKS-2 content pieces (the first stream event carries the role, the last the stop).
ANSWER_PIECES = [f"word{i} " for i in range(CHUNKS - 2)]
ANSWER_TEXT = "".join(ANSWER_PIECES)


@dataclass(frozen=True)
class Scenario:
    key: str  # for --scenario
    title: str
    path: str  # the proxy route the client calls
    body: bytes
    headers: tuple[tuple[str, str], ...]
    upstream_path: str  # what the proxy calls upstream; the "upstream alone" row sends the body there
    stream: bool
    # The same request without streaming: per-chunk CPU = (CPU of this - CPU of that) / CHUNKS.
    non_stream_twin: str | None = None

    def request_bytes(self, port: int, *, path: str | None = None) -> bytes:
        """One keep-alive HTTP/1.1 request, ready to write."""
        lines = [f"POST {path or self.path} HTTP/1.1", f"host: 127.0.0.1:{port}", f"content-length: {len(self.body)}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def claude_code_record(path: Path | None = None) -> dict[str, Any]:
    """A recorded Claude Code request, `{"headers": {...}, "body": {...}}`: the shipped
    (trimmed) first turn, or `path` (`bench proxy --claude-code-body`, e.g. a request
    of your own Claude Code captured at a local server)."""
    if path is None:
        text = (
            resources.files("copilot_hybrid.bench").joinpath("data", "claude_code_first_turn.json").read_text("utf-8")
        )
    else:
        text = path.read_text("utf-8")
    recorded = json.loads(text)
    if not (isinstance(recorded, dict) and isinstance(recorded.get("body"), dict)):
        raise BenchError(f"{path}: not a recorded request (a JSON object with a `body` object and `headers`)")
    return recorded


def _recorded_headers(record: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    headers = record.get("headers") or {}
    skip = {"accept", "content-length", "host", "connection", "accept-encoding"}
    return tuple((k, str(v)) for k, v in headers.items() if k.lower() not in skip)


def large_openai_body(target_bytes: int = 76 * 1024) -> dict[str, Any]:
    """A chat completions request of about `target_bytes`: a long conversation of varied prose."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You are a careful assistant. " * 20}]
    turn = 0
    while len(_compact(messages)) < target_bytes - 200:
        text = " ".join(f"Paragraph {turn}, sentence {i}: the proxy forwards what the client wrote." for i in range(12))
        messages.append({"role": "user" if turn % 2 == 0 else "assistant", "content": text})
        turn += 1
    messages.append({"role": "user", "content": "Summarise the conversation."})
    return {"model": OPENAI_MODEL, "messages": messages}


_JSON = (("content-type", "application/json"),)
_ANTHROPIC = (*_JSON, ("anthropic-version", "2023-06-01"))


def _anthropic_small(model: str, *, stream: bool) -> bytes:
    return _compact(
        {"model": model, "max_tokens": 256, "messages": [{"role": "user", "content": "Say hello."}], "stream": stream}
    )


def _claude_code(body: dict[str, Any], model: str, *, stream: bool) -> bytes:
    return _compact({**body, "model": model, "stream": stream})


def all_scenarios(claude_code: Path | None = None) -> tuple[Scenario, ...]:
    openai_small = _compact({"model": OPENAI_MODEL, "messages": [{"role": "user", "content": "Say hello."}]})
    chat, messages = "/chat/completions", "/v1/messages"
    recorded = claude_code_record(claude_code)  # read once for both
    cc_headers = _recorded_headers(recorded)
    cc_body = recorded["body"]  # _claude_code copies it into each request
    return (
        Scenario("openai-small", "OpenAI small", "/v1/chat/completions", openai_small, _JSON, chat, stream=False),
        Scenario(
            "openai-76kb", "OpenAI 76 KB", "/v1/chat/completions", _compact(large_openai_body()), _JSON, chat, False
        ),
        Scenario(
            "anthropic-small",
            "Anthropic small",
            messages,
            _anthropic_small(TRANSLATED_MODEL, stream=False),
            _ANTHROPIC,
            chat,
            stream=False,
        ),
        Scenario(
            "anthropic-claude-code",
            "Anthropic, Claude Code body",
            "/v1/messages?beta=true",
            _claude_code(cc_body, TRANSLATED_MODEL, stream=False),
            cc_headers,
            chat,
            stream=False,
        ),
        Scenario(
            "anthropic-stream",
            f"Anthropic stream, {CHUNKS} chunks (last byte)",
            messages,
            _anthropic_small(TRANSLATED_MODEL, stream=True),
            _ANTHROPIC,
            chat,
            stream=True,
            non_stream_twin="anthropic-small",
        ),
        Scenario(
            "claude-code-stream",
            "Claude Code body, streamed",
            "/v1/messages?beta=true",
            _claude_code(cc_body, TRANSLATED_MODEL, stream=True),
            cc_headers,
            chat,
            stream=True,
            non_stream_twin="anthropic-claude-code",
        ),
        Scenario(
            "native-small",
            "Anthropic small, native /v1/messages",
            messages,
            _anthropic_small(NATIVE_MODEL, stream=False),
            _ANTHROPIC,
            messages,
            stream=False,
        ),
        Scenario(
            "native-stream",
            f"Anthropic stream, native /v1/messages, {CHUNKS} chunks",
            messages,
            _anthropic_small(NATIVE_MODEL, stream=True),
            _ANTHROPIC,
            messages,
            stream=True,
            non_stream_twin="native-small",
        ),
    )


# ---- what the fake upstream answers ---------------------------------------------------------


def models_list() -> list[dict[str, Any]]:
    """The emulator's catalog plus `bench-claude-chat` (claude-opus-5.5 on /chat/completions only)."""
    from copilot_hybrid.emulator.catalog import default_models

    models = default_models()
    chat_only = copy.deepcopy(next(m for m in models if m["id"] == NATIVE_MODEL))
    chat_only["id"] = chat_only["name"] = TRANSLATED_MODEL
    chat_only["supported_endpoints"] = ["/chat/completions"]
    return [*models, chat_only]


def _sse(events: list[tuple[str | None, Any]]) -> list[bytes]:
    parts = []
    for name, data in events:
        payload = data if isinstance(data, bytes) else _compact(data)
        parts.append((f"event: {name}\n".encode() if name else b"") + b"data: " + payload + b"\n\n")
    return parts


def chat_completion() -> dict[str, Any]:
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": OPENAI_MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER_TEXT}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": CHUNKS, "total_tokens": 12 + CHUNKS},
    }


def chat_stream_events() -> list[bytes]:
    """CHUNKS chat.completion.chunk events (role, CHUNKS-2 pieces, stop with usage), then [DONE]."""
    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000, "model": OPENAI_MODEL}

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> tuple[None, Any]:
        return None, {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}

    usage = chat_completion()["usage"]
    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": piece}) for piece in ANSWER_PIECES]
    events.append(chunk({}, "stop", usage=usage))
    return _sse([*events, (None, b"[DONE]")])


def anthropic_message() -> dict[str, Any]:
    return {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": NATIVE_MODEL,
        "content": [{"type": "text", "text": ANSWER_TEXT}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": CHUNKS},
    }


def anthropic_stream_events() -> list[bytes]:
    """message_start, a text block of CHUNKS deltas, message_delta, message_stop."""
    start = {
        **anthropic_message(),
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": 12, "output_tokens": 1},
    }
    pieces = [f"word{i} " for i in range(CHUNKS)]
    events: list[tuple[str | None, Any]] = [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
    ]
    events += [
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}})
        for p in pieces
    ]
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": CHUNKS},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return _sse(events)


@dataclass(frozen=True)
class Answers:
    """Every response of the fake upstream, built once."""

    token: bytes
    models: bytes
    chat: bytes
    chat_stream: bytes
    messages: bytes
    messages_stream: bytes
    not_found: bytes

    @classmethod
    def build(cls, base_url: str) -> Answers:
        token = {
            "token": COPILOT_TOKEN,
            "expires_at": int(time.time()) + 7 * 24 * 3600,  # no refresh during a run
            "refresh_in": 6 * 24 * 3600,
            "endpoints": {"api": base_url},
        }
        sse = "text/event-stream"
        return cls(
            token=response(200, "application/json", _compact(token)),
            models=response(200, "application/json", _compact({"data": models_list(), "object": "list"})),
            chat=response(200, "application/json", _compact(chat_completion())),
            chat_stream=response(200, sse, b"", stream_parts=chat_stream_events()),
            messages=response(200, "application/json", _compact(anthropic_message())),
            messages_stream=response(200, sse, b"", stream_parts=anthropic_stream_events()),
            not_found=response(404, "application/json", b'{"error":{"message":"not found"}}'),
        )

    def answer(self, head: bytes, body: bytes) -> bytes:
        """The prebuilt answer for one request: by path, and for chat/messages by whether
        the body asks for a stream (a byte search; bodies are compact JSON)."""
        target = head[: head.find(b"\r\n")].split(b" ")[1]
        path = target.split(b"?")[0]
        stream = b'"stream":true' in body or b'"stream": true' in body
        if path == b"/chat/completions":
            return self.chat_stream if stream else self.chat
        if path == b"/v1/messages":
            return self.messages_stream if stream else self.messages
        if path == b"/copilot_internal/v2/token":
            return self.token
        if path == b"/models":
            return self.models
        return self.not_found
