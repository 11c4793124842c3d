"""Verify cases of stream_translate: (kind, label, model, reads, seed).

recorded   the emulator's chat streams (recorded.json, tools/record_stream_corpus.py),
           whole, one read per event, byte by byte and randomly chunked;
edge       hand-written streams for each rule of the framing and the translator;
generated  seeded random streams: multi-choice splits, tool-call deltas keyed by
           index (or not), usage trailers, finish reasons or none, malformed
           events, `[DONE]` absent, varied JSON and SSE spellings, random chunking.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

RECORDED = Path(__file__).with_name("recorded.json")

StreamCase = tuple[str, str, str, list[bytes], bytes]


def chunked(data: bytes, rng: random.Random) -> list[bytes]:
    """`data` cut at random places (reads of 1 byte up to a few hundred)."""
    reads: list[bytes] = []
    pos = 0
    while pos < len(data):
        size = rng.choice((1, 2, 3, 7, 16, 50, 200, 1000))
        reads.append(data[pos : pos + rng.randint(1, size)])
        pos += len(reads[-1])
    return reads


def _events(*datas: str, crlf: bool = False) -> bytes:
    end = "\r\n\r\n" if crlf else "\n\n"
    return "".join(f"data: {d}{end}" for d in datas).encode("utf-8", "surrogatepass")


def _chunk(choices: list[Any], **extra: Any) -> str:
    return json.dumps({"id": "chatcmpl-1", "model": "gpt-x", "choices": choices, **extra})


def _text(text: str, index: int = 0, finish: str | None = None) -> dict[str, Any]:
    return {"index": index, "delta": {"content": text}, "finish_reason": finish}


def _tool(index: Any, call_id: str | None = None, name: str | None = None, args: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"function": {}}
    if index is not None:
        entry["index"] = index
    if call_id is not None:
        entry["id"] = call_id
    if name is not None:
        entry["function"]["name"] = name
    if args is not None:
        entry["function"]["arguments"] = args
    return {"index": 0, "delta": {"tool_calls": [entry]}}


USAGE = json.dumps(
    {"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": 5,
                                                   "prompt_tokens_details": {"cached_tokens": 3}}}
)  # fmt: skip
STOP = _chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}])
TOOL_STOP = _chunk([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}])


def edge_streams() -> Iterator[tuple[str, bytes]]:
    yield "empty stream", b""
    yield "only [DONE]", _events("[DONE]")
    yield "text, no finish, no [DONE]", _events(_chunk([_text("hi")]))
    yield "text, stop, usage, [DONE]", _events(_chunk([_text("hi")]), STOP, USAGE, "[DONE]")
    yield "crlf events", _events(_chunk([_text("a\r\nb")]), STOP, "[DONE]", crlf=True)
    yield (
        "data without a space, comments, event lines",
        (
            b": keep-alive\n\nevent: chunk\nid: 3\nretry: 10\ndata:"
            + _chunk([_text("x")]).encode()
            + b"\n\ndata:[DONE]\n\n"
        ),
    )
    yield "multi-line data", b'data: {"id":"c","choices":\ndata: [{"delta":{"content":"m"}}]}\n\n'
    yield "last data line without newline", _events(_chunk([_text("x")])) + b"data: " + STOP.encode()
    yield "last data line with carriage returns", _events(_chunk([_text("x")])) + b"data: [DONE]\r\r"
    yield "events after [DONE] are ignored", _events(_chunk([_text("a")]), "[DONE]", _chunk([_text("b")]))
    yield "blank data", _events("", "   ", _chunk([_text("a")]))
    yield "malformed event", _events(_chunk([_text("a")]), "{not json", _chunk([_text("b")]))
    yield "malformed first event", _events("{")
    yield "error event (object)", _events(_chunk([_text("a")]), json.dumps({"error": {"message": "boom"}}))
    yield "error event (string)", _events(json.dumps({"error": "bad"}))
    yield "error event (other)", _events(json.dumps({"error": [1, {"a": "é"}]}))
    yield "error with choices is a chunk", _events(json.dumps({"id": "c", "error": "x", "choices": [_text("t")]}))
    yield "error null is a chunk", _events(json.dumps({"id": "c", "error": None, "choices": [_text("t")]}))
    yield "error with empty choices", _events(json.dumps({"error": {"message": "m"}, "choices": []}))
    yield "error with choices 0", _events(json.dumps({"error": {"message": "m"}, "choices": 0}))
    yield "chunk not an object", _events("[1,2]", "3", '"s"', "null", _chunk([_text("a")]), STOP)
    yield "no id: generated message id", _events(json.dumps({"choices": [_text("a")]}), STOP)
    yield "tool without id: generated id", _events(_chunk([_tool(0, None, "f", "{}")]), TOOL_STOP)
    yield "utf-8 BOM", b"data: \xef\xbb\xbf" + _chunk([_text("a")]).encode() + b"\n\n"
    yield "invalid utf-8", b'data: {"id":"c","choices":[{"delta":{"content":"\xff"}}]}\n\n'
    yield "NaN usage", _events(_chunk([_text("a")], usage={"prompt_tokens": float("nan")}), STOP)
    yield "lone surrogate", _events('{"id":"c","choices":[{"delta":{"content":"\\ud800x"}}]}', STOP)
    yield "surrogate pair", _events('{"id":"c","choices":[{"delta":{"content":"\\ud83d\\ude00"}}]}', STOP)
    yield "huge ints", _events(_chunk([_tool(10**30, "t", "f", "{}")], usage={"prompt_tokens": 10**30}), STOP)
    yield "float index and usage", _events(_chunk([_tool(1.0, "t", "f", "{}")], usage={"prompt_tokens": 5.0}))
    yield "bool index", _events(_chunk([_tool(True, "t", "f", "{}")]), TOOL_STOP)
    yield "deep nesting", _events('{"id":"c","x":' + "[" * 5000 + "]" * 5000 + ',"choices":[]}')
    yield (
        "escaped keys and duplicates",
        _events('{"id":"a","id":"b","choices":[{"delta":{"con\\u0074ent":"x","content":"y"}}]}', STOP),
    )
    yield "control characters", _events(_chunk([_text('\x00\x01\x1f\x7f\b\f\t"\\/')]), STOP)
    yield (
        "reasoning and signature",
        _events(
            _chunk([{"delta": {"reasoning_text": "think"}}]),
            _chunk([{"delta": {"reasoning_opaque": "sig"}}]),
            _chunk([{"delta": {"reasoning_content": "more", "content": "ans"}}]),
            STOP,
            "[DONE]",
        ),
    )
    yield (
        "arguments before the name",
        _events(_chunk([_tool(0, "t", None, '{"a"')]), _chunk([_tool(0, None, "f", ":1}")]), TOOL_STOP),
    )
    yield (
        "text while a tool is open is deferred",
        _events(_chunk([_tool(0, "t", "f", "{")]), _chunk([_text("later")]), _chunk([_tool(0, None, None, "}")]), STOP),
    )
    yield (
        "parallel calls interleaved",
        _events(
            _chunk([_tool(0, "a", "f", "{")]),
            _chunk([_tool(1, "b", "g", "{")]),
            _chunk([_tool(0, None, None, "}")]),
            _chunk([_tool(1, None, None, "}")]),
            TOOL_STOP,
        ),
    )
    yield "two choices numbering from 0", _events(
        _chunk([_tool(0, "a", "f", "{}"), {"index": 1, "delta": {"tool_calls": [{"index": 0, "id": "b",
                                                                                 "function": {"name": "g"}}]}}]),
        TOOL_STOP,
    )  # fmt: skip
    yield (
        "calls without index",
        _events(_chunk([_tool(None, "a", "f", "{")]), _chunk([_tool(None, None, None, "}")]), TOOL_STOP),
    )
    yield "cut off: invalid arguments", _events(_chunk([_tool(0, "t", "f", '{"a": ')]))
    yield "cut off: valid arguments", _events(_chunk([_tool(0, "t", "f", '{"a": [1, 2.5e3, null, true]}')]))
    yield "cut off: blank arguments", _events(_chunk([_tool(0, "t", "f", " \t")]))
    yield "cut off: NaN arguments", _events(_chunk([_tool(0, "t", "f", "NaN")]))
    yield "cut off: unicode space arguments", _events(_chunk([_tool(0, "t", "f", "\u00a0")]))
    yield (
        "usage in first chunk",
        _events(
            _chunk(
                [_text("a")], usage={"prompt_tokens": 9, "prompt_tokens_details": {"cache_creation_input_tokens": 2}}
            )
        ),
    )
    yield "usage with nulls and bools", _events(
        _chunk([_text("a")], usage={"prompt_tokens": True, "completion_tokens": None,
                                    "prompt_tokens_details": {"cached_tokens": None}}), STOP, USAGE
    )  # fmt: skip
    yield (
        "finish reasons merged",
        _events(_chunk([_text("a", 0, "stop"), _text("b", 1, "length")]), _chunk([_text("c", 2, "tool_calls")])),
    )
    yield "unknown finish reason", _events(_chunk([_text("a", 0, "weird")]), "[DONE]")
    yield "choices with junk", _events(_chunk([1, None, "x", {"delta": 5}, {"delta": {"content": 7}}]), STOP)
    yield "model fallbacks", _events(json.dumps({"id": "c", "model": "", "choices": [_text("a")]}), STOP)


# ---- generated -----------------------------------------------------------------

_WORDS = ("Hello", " world", "é", "漢字", "😀", '"q"', "\\", "\n", "\t", "</s>", " ", "a\u2028b", "\x01")
_REASONS = ("stop", "length", "tool_calls", "function_call", "content_filter", "other", "")


def _random_text(rng: random.Random) -> str:
    return "".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 4)))


def _random_usage(rng: random.Random) -> Any:
    def number() -> Any:
        return rng.choice((0, 1, 7, 120, -3, 2**40, True, None, 1.5, "9"))

    usage: dict[str, Any] = {"prompt_tokens": number(), "completion_tokens": number()}
    if rng.random() < 0.6:
        usage["prompt_tokens_details"] = rng.choice(
            ({"cached_tokens": number()}, {"cache_creation_input_tokens": number(), "cached_tokens": number()}, None)
        )
    odd: tuple[Any, ...] = (None, [], "u")
    return usage if rng.random() < 0.95 else rng.choice(odd)


def _random_stream(rng: random.Random) -> bytes:
    ids = rng.random() < 0.97  # upstream sends a chunk id (Copilot always does)
    tool_ids = rng.random() < 0.95
    n_choices = rng.choice((1, 1, 1, 2, 3))
    chunks: list[Any] = []
    open_tools: dict[int, int] = {}
    for _ in range(rng.randint(0, 12)):
        choices: list[Any] = []
        for c in range(rng.randint(1, n_choices)):
            delta: dict[str, Any] = {}
            roll = rng.random()
            if roll < 0.4:
                delta["content"] = _random_text(rng)
            elif roll < 0.5:
                delta[rng.choice(("reasoning_text", "reasoning_content"))] = _random_text(rng)
                if rng.random() < 0.3:
                    delta["reasoning_opaque"] = "sig" + str(rng.randint(0, 9))
            elif roll < 0.9:
                index = rng.randint(0, 2)
                entry: dict[str, Any] = {"index": index, "function": {}}
                if index not in open_tools or rng.random() < 0.1:
                    open_tools[index] = rng.randint(0, 10**6)
                    if tool_ids:
                        entry["id"] = f"call_{open_tools[index]}"
                    entry["function"]["name"] = rng.choice(("read", "write", "bash"))
                    entry["type"] = "function"
                entry["function"]["arguments"] = rng.choice(('{"a":', " 1", "}", "", '"x\\"y"', "[", "]", "{}"))
                if rng.random() < 0.05:
                    del entry["index"]
                delta["tool_calls"] = [entry]
                if rng.random() < 0.1:
                    delta["content"] = _random_text(rng)
            else:
                delta = rng.choice(({}, {"role": "assistant"}, {"content": None}, {"content": ""}))
            choice: dict[str, Any] = {"index": c, "delta": delta}
            if rng.random() < 0.1:
                choice["finish_reason"] = rng.choice(_REASONS)
            choices.append(choice)
        chunk: dict[str, Any] = {"object": "chat.completion.chunk", "choices": choices, "created": 1}
        if ids:
            chunk["id"] = "chatcmpl-" + str(rng.randint(0, 99))
        if rng.random() < 0.8:
            chunk["model"] = rng.choice(("gpt-4.1", "claude-sonnet-4", ""))
        if rng.random() < 0.05:
            chunk["usage"] = _random_usage(rng)
        chunks.append(chunk)
    if rng.random() < 0.8:
        chunks.append(
            {"id": "chatcmpl-9", "choices": [{"index": 0, "delta": {}, "finish_reason": rng.choice(_REASONS)}]}
        )
    if rng.random() < 0.7:
        chunks.append({"id": "chatcmpl-9", "choices": [], "usage": _random_usage(rng)})
    datas = [
        json.dumps(c, ensure_ascii=rng.random() < 0.5, separators=rng.choice(((",", ":"), (", ", ": "))))
        for c in chunks
    ]
    if rng.random() < 0.05:
        datas.insert(rng.randint(0, len(datas)), rng.choice(("{oops", '{"error":{"message":"quota"}}', "")))
    if rng.random() < 0.8:
        datas.append("[DONE]")
    ends = rng.choice(("\n\n", "\r\n\r\n"))
    prefix = rng.choice(("data: ", "data:"))
    text = "".join(prefix + d + ends for d in datas)
    if rng.random() < 0.05:
        text = text.rstrip("\r\n")  # the last event unterminated
    return text.encode("utf-8")


def all_cases(*, count: int, seed: int) -> Iterator[StreamCase]:
    rng = random.Random(seed)  # noqa: S311 - reproducible test inputs, not secrets

    def stream_seed() -> bytes:
        return rng.getrandbits(128).to_bytes(16, "big")

    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))
    for item in recorded:
        data = item["stream"].encode("utf-8")
        model, label = item["model"], item["label"]
        yield "recorded", f"{label} (whole)", model, [data], stream_seed()
        events = [e + b"\n\n" for e in data.split(b"\n\n") if e]
        yield "recorded", f"{label} (per event)", model, events, stream_seed()
        yield "recorded", f"{label} (chunked)", model, chunked(data, rng), stream_seed()
    for item in recorded[:4]:
        data = item["stream"].encode("utf-8")
        single = [data[i : i + 1] for i in range(len(data))]
        yield "recorded", f"{item['label']} (byte by byte)", item["model"], single, stream_seed()
    for label, data in edge_streams():
        yield "edge", label, "claude-sonnet-4", [data], stream_seed()
        yield "edge", f"{label} (chunked)", "claude-sonnet-4", chunked(data, rng), stream_seed()
        yield "edge", f"{label} (byte by byte)", "", [data[i : i + 1] for i in range(len(data))], stream_seed()
    no_model = _events(json.dumps({"id": "c", "choices": [_text("a")]}), STOP)
    for model in ("\ud800 lone surrogate", "modèle 模型", ""):
        yield "edge", f"client model {model!r}, none upstream", model, [no_model], stream_seed()
    for i in range(count):
        data = _random_stream(rng)
        yield "generated", f"generated #{i}", rng.choice(("claude-sonnet-4", "")), chunked(data, rng), stream_seed()
