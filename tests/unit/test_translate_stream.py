"""OpenAI chunk stream -> Anthropic SSE events (spec §8.3, with its gaps fixed)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from copilot_hybrid.translate import AnthropicStreamTranslator, format_sse

ID = "chatcmpl-1"
MODEL = "claude-sonnet-4.5"


def chunk(*choices: dict[str, Any], usage: Any = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"id": ID, "object": "chat.completion.chunk", "model": MODEL, "choices": list(choices)}
    if usage is not None:
        body["usage"] = usage
    body.update(extra)
    return body


def ch(delta: dict[str, Any], finish: str | None = None, index: int = 0) -> dict[str, Any]:
    return {"index": index, "delta": delta, "finish_reason": finish}


def tc(index: int, *, id: str | None = None, name: str | None = None, args: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"index": index}
    if id is not None:
        entry.update(id=id, type="function")
    function: dict[str, Any] = {}
    if name is not None:
        function["name"] = name
    if args is not None:
        function["arguments"] = args
    if function:
        entry["function"] = function
    return entry


def run(chunks: list[dict[str, Any]], *, model: str | None = None, finish: bool = True) -> list[dict[str, Any]]:
    translator = AnthropicStreamTranslator(model=model)
    events: list[dict[str, Any]] = []
    for c in chunks:
        events.extend(translator.feed(c))
    if finish:
        events.extend(translator.finish())
        assert translator.finish() == []
    return events


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


USAGE = {"prompt_tokens": 120, "completion_tokens": 7, "prompt_tokens_details": {"cached_tokens": 100}}


def start(usage: dict[str, int] | None = None) -> dict[str, Any]:
    return {
        "type": "message_start",
        "message": {
            "id": ID,
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": MODEL,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage or {"input_tokens": 0, "output_tokens": 0},
        },
    }


def test_text_stream_with_copilot_usage_trailer() -> None:
    translator = AnthropicStreamTranslator()
    # Copilot's first chunk has no choices (prompt filter results): nothing yet.
    assert translator.feed({"id": "", "model": "", "choices": [], "prompt_filter_results": []}) == []
    events = translator.feed(chunk(ch({"role": "assistant", "content": ""})))
    events += translator.feed(chunk(ch({"content": "Hel"})))
    events += translator.feed(chunk(ch({"content": "lo"})))
    before_usage = translator.feed(chunk(ch({}, finish="stop")))
    events += before_usage
    # message_delta waits for the usage-only trailer, then comes exactly once.
    assert "message_delta" not in types(before_usage)
    trailer = translator.feed({"id": ID, "model": MODEL, "choices": [], "usage": USAGE})
    events += trailer
    assert translator.finish() == []  # [DONE] after the trailer adds nothing
    assert translator.feed(chunk(ch({"content": "late"}))) == []
    assert events == [
        start(),
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"input_tokens": 20, "output_tokens": 7, "cache_read_input_tokens": 100},
        },
        {"type": "message_stop"},
    ]
    assert types(trailer) == ["content_block_stop", "message_delta", "message_stop"]


def test_usage_in_the_finish_chunk_is_reported_at_finish() -> None:
    events = run(
        [
            chunk(ch({"content": "x"})),
            chunk(ch({}, finish="length"), usage={"prompt_tokens": 9, "completion_tokens": 2}),
        ]
    )
    assert events[-2] == {
        "type": "message_delta",
        "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
        "usage": {"input_tokens": 9, "output_tokens": 2},
    }


def test_usage_on_first_chunk_goes_into_message_start() -> None:
    events = run([chunk(ch({"content": "x"}), usage={"prompt_tokens": 50, "completion_tokens": 0})])
    assert events[0]["message"]["usage"] == {"input_tokens": 50, "output_tokens": 0}


def test_text_then_tool_call_event_order() -> None:
    chunks = [
        chunk(ch({"content": "Checking"})),
        chunk(ch({"tool_calls": [tc(0, id="call_1", name="Read", args="")]})),
        chunk(ch({"tool_calls": [tc(0, args='{"path":')]})),
        chunk(ch({"tool_calls": [tc(0, args='"a"}')]})),
        chunk(ch({}, finish="tool_calls")),
        {"id": ID, "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}},
    ]
    events = run(chunks)
    assert events[1:] == [
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Checking"}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "call_1", "name": "Read", "input": {}},
        },
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"path":'}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '"a"}'}},
        {"type": "content_block_stop", "index": 1},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"input_tokens": 3, "output_tokens": 4},
        },
        {"type": "message_stop"},
    ]


def test_text_and_tool_calls_in_separate_choices_are_merged() -> None:
    # copilot-api read only choices[0] and lost the tool call (quirk).
    chunks = [
        chunk(ch({"content": "I will read it."}, index=0)),
        chunk(ch({"tool_calls": [tc(0, id="toolu_1", name="Read", args='{"p":1}')]}, index=1)),
        chunk(ch({}, finish="stop", index=0), ch({}, finish="tool_calls", index=1)),
    ]
    events = run(chunks)
    blocks = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert blocks == [
        {"type": "text", "text": ""},
        {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {}},
    ]
    assert events[-2]["delta"]["stop_reason"] == "tool_use"


def test_both_choices_in_one_chunk() -> None:
    events = run(
        [
            chunk(
                ch({"content": "a"}, index=0),
                ch({"tool_calls": [tc(0, id="c", name="Ls", args="{}")]}, index=1),
            )
        ]
    )
    assert types(events) == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_interleaved_text_does_not_cut_tool_arguments() -> None:
    chunks = [
        chunk(ch({"tool_calls": [tc(0, id="c", name="Write", args='{"a":')]}, index=1)),
        chunk(ch({"content": "note"}, index=0)),
        chunk(ch({"tool_calls": [tc(0, args="1}")]}, index=1)),
        chunk(ch({}, finish="tool_calls", index=1)),
    ]
    events = run(chunks)
    args = "".join(
        e["delta"]["partial_json"]
        for e in events
        if e["type"] == "content_block_delta" and e["delta"]["type"] == "input_json_delta"
    )
    assert args == '{"a":1}'
    texts = [
        e["delta"]["text"] for e in events if e["type"] == "content_block_delta" and e["delta"]["type"] == "text_delta"
    ]
    assert texts == ["note"]
    assert [e["content_block"]["type"] for e in events if e["type"] == "content_block_start"] == ["tool_use", "text"]


def test_parallel_tool_calls_get_their_own_blocks() -> None:
    chunks = [
        chunk(ch({"tool_calls": [tc(0, id="a", name="One", args='{"x":1}')]})),
        chunk(ch({"tool_calls": [tc(1, id="b", name="Two", args="{")]})),
        chunk(ch({"tool_calls": [tc(1, args="}")]}, finish="tool_calls")),
    ]
    events = run(chunks)
    deltas = [(e["index"], e["delta"]["partial_json"]) for e in events if e["type"] == "content_block_delta"]
    assert deltas == [(0, '{"x":1}'), (1, "{"), (1, "}")]


def test_same_tool_index_with_new_id_is_a_new_call() -> None:
    chunks = [
        chunk(ch({"tool_calls": [tc(0, id="a", name="One", args="{}")]}, index=0)),
        chunk(ch({"tool_calls": [tc(0, id="b", name="Two", args="{}")]}, index=1)),
    ]
    events = run(chunks)
    assert [e["content_block"]["id"] for e in events if e["type"] == "content_block_start"] == ["a", "b"]


def test_arguments_before_the_name_are_held_until_the_block_starts() -> None:
    chunks = [
        chunk(ch({"tool_calls": [tc(0, args='{"q"')]})),
        chunk(ch({"tool_calls": [tc(0, id="c", name="Grep", args=':"x"}')]}, finish="tool_calls")),
    ]
    events = run(chunks)
    assert events[1]["content_block"] == {"type": "tool_use", "id": "c", "name": "Grep", "input": {}}
    # held-back pieces (and those of the starting entry) go out as one delta
    assert [e["delta"]["partial_json"] for e in events if e["type"] == "content_block_delta"] == ['{"q":"x"}']


def test_tool_call_without_id_gets_one() -> None:
    events = run([chunk(ch({"tool_calls": [tc(0, name="Ls", args="{}")]}, finish="tool_calls"))])
    assert events[1]["content_block"]["id"].startswith("toolu_")


def test_stop_with_tool_calls_reports_tool_use() -> None:
    events = run([chunk(ch({"tool_calls": [tc(0, id="c", name="Ls", args="{}")]})), chunk(ch({}, finish="stop"))])
    assert events[-2]["delta"]["stop_reason"] == "tool_use"


def test_unknown_finish_reason_maps_to_end_turn() -> None:
    events = run([chunk(ch({"content": "x"}, finish="weird"))])
    assert events[-2]["delta"]["stop_reason"] == "end_turn"


def test_reasoning_becomes_a_thinking_block_with_signature() -> None:
    chunks = [
        chunk(ch({"reasoning_text": "Let me "})),
        chunk(ch({"reasoning_text": "think."})),
        chunk(ch({"content": "", "reasoning_opaque": "SIG"})),
        chunk(ch({"content": "Answer"}, finish="stop")),
    ]
    events = run(chunks)
    assert events[1:7] == [
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""},
        },
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Let me "}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "think."}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "SIG"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    ]


# --------------------------------------------------------------------------- endings


def test_finish_without_any_chunk_sends_a_complete_minimal_message() -> None:
    events = run([], model="claude-opus-4.6")
    assert types(events) == ["message_start", "message_delta", "message_stop"]
    assert events[0]["message"]["model"] == "claude-opus-4.6"
    assert events[0]["message"]["id"].startswith("msg_")
    assert events[1]["delta"]["stop_reason"] == "end_turn"


def test_only_usage_chunks_still_end_cleanly() -> None:
    events = run([{"choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 0}}])
    assert types(events) == ["message_start", "message_delta", "message_stop"]
    assert events[1]["usage"] == {"input_tokens": 4, "output_tokens": 0}


def test_truncated_stream_closes_the_open_block() -> None:
    events = run([chunk(ch({"content": "partial"}))])
    assert types(events)[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert events[-2]["delta"]["stop_reason"] == "end_turn"


def test_truncated_tool_arguments_are_not_reported_as_tool_use() -> None:
    cut = run([chunk(ch({"tool_calls": [tc(0, id="c", name="Write", args='{"content":"abc')]}))])
    assert cut[-2]["delta"]["stop_reason"] == "max_tokens"
    whole = run([chunk(ch({"tool_calls": [tc(0, id="c", name="Write", args='{"content":"abc"}')]}))])
    assert whole[-2]["delta"]["stop_reason"] == "tool_use"


def test_model_falls_back_to_the_requested_one() -> None:
    events = run([{"id": "x", "model": "", "choices": [ch({"content": "a"})]}], model="claude-sonnet-4.5")
    assert events[0]["message"]["model"] == "claude-sonnet-4.5"
    events = run([{"choices": [ch({"content": "a"})]}])
    assert events[0]["message"]["model"] == "unknown"


def test_error_after_start_ends_the_stream() -> None:
    translator = AnthropicStreamTranslator()
    events = translator.feed(chunk(ch({"content": "x"})))
    assert translator.error("upstream broke", error_type="overloaded_error") == [
        {"type": "error", "error": {"type": "overloaded_error", "message": "upstream broke"}}
    ]
    assert translator.done
    assert translator.feed(chunk(ch({"content": "more"}))) == []
    assert translator.finish() == []
    assert translator.error("again") == []
    assert types(events) == ["message_start", "content_block_start", "content_block_delta"]


def test_error_after_message_stop_is_not_sent() -> None:
    translator = AnthropicStreamTranslator()
    translator.feed(chunk(ch({"content": "x"}, finish="stop")))
    assert types(translator.finish())[-1] == "message_stop"
    assert translator.error("late") == []


def test_garbage_chunks_are_ignored() -> None:
    events = run(
        [
            {"choices": None},
            {"choices": ["x", 1]},
            {"choices": [{"delta": "nope"}]},
            {"choices": [{"delta": {"tool_calls": "x"}}]},
        ]
    )
    assert types(events) == ["message_start", "message_delta", "message_stop"]


# --------------------------------------------------------------------------- SSE


def test_format_sse() -> None:
    assert format_sse({"type": "message_stop"}) == b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    event = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "é\n"}}
    expected = (
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        '"delta":{"type":"text_delta","text":"é\\n"}}\n\n'
    )
    assert format_sse(event) == expected.encode()
    lone = format_sse({"type": "x", "t": "\ud800"})
    assert lone == b'event: x\ndata: {"type":"x","t":"\\ud800"}\n\n'


# --------------------------------------------------------------------------- properties

_DELTA_TYPES = {
    "text": {"text_delta"},
    "tool_use": {"input_json_delta"},
    "thinking": {"thinking_delta", "signature_delta"},
}
_STOP_REASONS = {"end_turn", "max_tokens", "tool_use", "stop_sequence", "refusal", "pause_turn"}


def assert_well_formed(events: list[dict[str, Any]]) -> None:
    """The Anthropic streaming protocol, as clients (the SDKs) rely on it."""
    assert events, "a stream must say something"
    for event in events:
        json.loads(format_sse(event).split(b"data: ", 1)[1])
    if events[0]["type"] == "error":
        assert len(events) == 1
        return
    assert events[0]["type"] == "message_start"
    open_block: tuple[int, str] | None = None
    next_index = 0
    saw_delta = False
    for position, event in enumerate(events[1:], start=1):
        kind = event["type"]
        last = position == len(events) - 1
        if kind == "content_block_start":
            assert open_block is None, "two blocks open at once"
            assert event["index"] == next_index, "indexes must count up from 0"
            open_block = (event["index"], event["content_block"]["type"])
            next_index += 1
        elif kind == "content_block_delta":
            assert open_block is not None and event["index"] == open_block[0]
            assert event["delta"]["type"] in _DELTA_TYPES[open_block[1]]
        elif kind == "content_block_stop":
            assert open_block is not None and event["index"] == open_block[0]
            open_block = None
        elif kind == "message_delta":
            assert open_block is None and not saw_delta
            assert event["delta"]["stop_reason"] in _STOP_REASONS
            saw_delta = True
        elif kind == "message_stop":
            assert saw_delta and last
        elif kind == "error":
            assert last
        else:
            raise AssertionError(f"unexpected event {kind}")
        assert kind != "message_start"
    assert events[-1]["type"] in ("message_stop", "error")
    assert [e["type"] for e in events].count("message_stop") <= 1


_usage = st.fixed_dictionaries(
    {"prompt_tokens": st.integers(0, 500), "completion_tokens": st.integers(0, 500)},
    optional={"prompt_tokens_details": st.fixed_dictionaries({"cached_tokens": st.integers(0, 600)})},
)
_tool_entry = st.fixed_dictionaries(
    {"index": st.integers(0, 2)},
    optional={
        "id": st.sampled_from(["call_a", "call_b", "toolu_c", ""]),
        "function": st.fixed_dictionaries(
            {},
            optional={
                "name": st.sampled_from(["Read", "Bash", ""]),
                "arguments": st.sampled_from(["", "{", '"a":1', "}", "{}", "x"]),
            },
        ),
    },
)
_delta = st.fixed_dictionaries(
    {},
    optional={
        "role": st.just("assistant"),
        "content": st.one_of(st.none(), st.text(max_size=5)),
        "tool_calls": st.lists(_tool_entry, max_size=3),
        "reasoning_text": st.text(max_size=4),
        "reasoning_opaque": st.sampled_from(["", "sig"]),
    },
)
_choice = st.fixed_dictionaries(
    {
        "index": st.integers(0, 2),
        "delta": _delta,
        "finish_reason": st.one_of(
            st.none(), st.sampled_from(["stop", "length", "tool_calls", "content_filter", "other"])
        ),
    }
)
_chunk = st.one_of(
    st.fixed_dictionaries(
        {"id": st.just(ID), "model": st.sampled_from([MODEL, ""]), "choices": st.lists(_choice, max_size=3)},
        optional={"usage": _usage},
    ),
    st.fixed_dictionaries({"choices": st.just([]), "usage": _usage}),
    st.sampled_from([{}, {"choices": None}, {"choices": [1]}, {"choices": [{"delta": None}]}]),
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunks=st.lists(_chunk, max_size=14), ending=st.sampled_from(["finish", "error", "error_then_finish", "cut"]))
def test_any_chunk_sequence_gives_a_well_formed_stream(chunks: list[dict[str, Any]], ending: str) -> None:
    translator = AnthropicStreamTranslator(model="fallback")
    events: list[dict[str, Any]] = []
    fed_text: list[str] = []
    for c in chunks:
        if not translator.done:
            for choice in c.get("choices") or []:
                if isinstance(choice, dict) and isinstance(choice.get("delta"), dict):
                    content = choice["delta"].get("content")
                    if isinstance(content, str):
                        fed_text.append(content)
        events.extend(translator.feed(c))
    if ending in ("error", "error_then_finish"):
        events.extend(translator.error("boom"))
    if ending != "error":
        events.extend(translator.finish())
    assert translator.finish() == [] and translator.error("x") == []
    assert_well_formed(events)
    if events[-1]["type"] == "message_stop":
        # no text is lost or duplicated, whatever the choice layout
        streamed = "".join(
            e["delta"]["text"]
            for e in events
            if e["type"] == "content_block_delta" and e["delta"]["type"] == "text_delta"
        )
        assert streamed == "".join(fed_text)


_args_piece = st.sampled_from(['{"a":', "1", ',"b":"é"', "}"])


@settings(max_examples=200, deadline=None)
@given(
    calls=st.lists(
        st.tuples(st.sampled_from(["Read", "Bash"]), st.lists(_args_piece, min_size=1, max_size=4)),
        min_size=1,
        max_size=3,
    ),
    text=st.text(max_size=6),
    split_choices=st.booleans(),
)
def test_sequential_tool_calls_keep_their_arguments(
    calls: list[tuple[str, list[str]]], text: str, split_choices: bool
) -> None:
    tool_choice = 1 if split_choices else 0
    chunks = [chunk(ch({"content": text}))] if text else []
    for n, (name, pieces) in enumerate(calls):
        chunks.append(chunk(ch({"tool_calls": [tc(n, id=f"call_{n}", name=name, args="")]}, index=tool_choice)))
        chunks.extend(chunk(ch({"tool_calls": [tc(n, args=p)]}, index=tool_choice)) for p in pieces)
    chunks.append(chunk(ch({}, finish="tool_calls", index=tool_choice)))
    chunks.append({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}})
    events = run(chunks)
    assert_well_formed(events)
    starts = [e for e in events if e["type"] == "content_block_start" and e["content_block"]["type"] == "tool_use"]
    assert [s["content_block"]["id"] for s in starts] == [f"call_{n}" for n in range(len(calls))]
    for start_event, (_, pieces) in zip(starts, calls, strict=True):
        got = "".join(
            e["delta"]["partial_json"]
            for e in events
            if e["type"] == "content_block_delta" and e["index"] == start_event["index"]
        )
        assert got == "".join(pieces)
    assert events[-2]["delta"]["stop_reason"] == "tool_use"


def accumulate(events: list[dict[str, Any]]) -> dict[str, Any]:
    """What an SDK builds from the events: the final message."""
    message: dict[str, Any] = {}
    blocks: dict[int, dict[str, Any]] = {}
    partial: dict[int, str] = {}
    for event in events:
        if event["type"] == "message_start":
            message = dict(event["message"])
        elif event["type"] == "content_block_start":
            blocks[event["index"]] = dict(event["content_block"])
        elif event["type"] == "content_block_delta":
            delta, block = event["delta"], blocks[event["index"]]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "input_json_delta":
                partial[event["index"]] = partial.get(event["index"], "") + delta["partial_json"]
        elif event["type"] == "message_delta":
            message["stop_reason"] = event["delta"]["stop_reason"]
            message["usage"] = {**message.get("usage", {}), **event["usage"]}
    for index, text in partial.items():
        blocks[index]["input"] = json.loads(text)
    message["content"] = [blocks[i] for i in sorted(blocks)]
    return message


def test_a_whole_completion_becomes_the_same_message_as_events() -> None:
    """Upstream answered JSON to a stream request: the events carry what the
    non-stream translation would have answered."""
    from copilot_hybrid.translate import completion_as_chunk, openai_to_anthropic

    completion = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "claude-sonnet-4.5",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Let me look."}, "finish_reason": "stop"},
            {
                "index": 1,
                "message": {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get", "arguments": '{"city":"Oslo"}'},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            },
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
    }
    translator = AnthropicStreamTranslator(model="claude-sonnet-4-5")
    events = [*translator.feed(completion_as_chunk(completion)), *translator.finish()]
    assert types(events)[0] == "message_start" and types(events)[-1] == "message_stop"
    streamed = accumulate(events)
    expected = openai_to_anthropic(completion)
    assert streamed["content"] == expected["content"]
    assert streamed["stop_reason"] == expected["stop_reason"] == "tool_use"
    assert streamed["usage"]["output_tokens"] == expected["usage"]["output_tokens"] == 5
