"""Every translated stream ends with exactly one terminal event of its API, whatever
upstream sends: random event sequences, cut at a random point, ended by EOF or by
a connection error (hypothesis)."""

from __future__ import annotations

from typing import Any, Protocol

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from copilot_hybrid.server.routes_responses import ThroughFixer
from copilot_hybrid.translate.chat_via_responses import ResponsesToChatStream
from copilot_hybrid.translate.messages_via_responses import ResponsesToMessagesStream
from copilot_hybrid.translate.responses_common import ToolNames
from copilot_hybrid.translate.responses_fixes import ResponsesFixes, ResponsesStreamFixer
from copilot_hybrid.translate.responses_via_chat import ChatToResponsesStream
from copilot_hybrid.translate.responses_via_messages import MessagesToResponsesStream

RESPONSES_TERMINALS = {"response.completed", "response.incomplete", "response.failed"}
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Translator(Protocol):
    def feed(self, event: Any) -> list[dict[str, Any]]: ...
    def finish(self) -> list[dict[str, Any]]: ...
    def error(self, message: str) -> list[dict[str, Any]]: ...


def drive(translator: Translator, events: list[Any], cut: int, ending: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for event in events[:cut]:
        out.extend(translator.feed(event))
    out.extend(translator.finish() if ending == "eof" else translator.error("connection reset"))
    # Once ended, nothing more comes out, whatever is fed.
    for event in events:
        assert translator.feed(event) == []
    assert translator.finish() == [] and translator.error("again") == []
    return out


endings = st.sampled_from(["eof", "error"])
junk = st.sampled_from([None, 3, "text", [], {}, {"type": "mystery"}, {"type": None}])
indexes = st.integers(min_value=0, max_value=3)
texts = st.text(max_size=8)
arguments = st.sampled_from(["", "{", '{"a":', "1}", '{"input": "*** Begin', ' Patch\\n"}', "{}"])

# --------------------------------------------------------------------------- Responses upstream

items = st.one_of(
    st.builds(
        lambda i: {"type": "message", "id": f"msg_{i}", "content": [{"type": "output_text", "text": "t"}]}, indexes
    ),
    st.builds(lambda i: {"type": "reasoning", "id": f"rs_{i}", "summary": [], "encrypted_content": "E"}, indexes),
    st.builds(
        lambda i, name, args: {
            "type": "function_call",
            "id": f"fc_{i}",
            "call_id": f"c{i}",
            "name": name,
            "arguments": args,
        },
        indexes,
        st.sampled_from(["apply_patch", "exec_command", "copilot_collaboration.spawn_agent"]),
        arguments,
    ),
    st.just({"type": "function_call"}),
    st.just({"type": "compaction", "id": "cmp", "encrypted_content": "C"}),
)
responses_events = st.one_of(
    st.builds(lambda: {"type": "response.created", "response": {"id": "resp_1", "model": "m"}}),
    st.builds(lambda: {"type": "response.in_progress", "response": {"id": "resp_1"}}),
    st.builds(lambda i, item: {"type": "response.output_item.added", "output_index": i, "item": item}, indexes, items),
    st.builds(lambda i, item: {"type": "response.output_item.done", "output_index": i, "item": item}, indexes, items),
    st.builds(
        lambda i, d: {"type": "response.output_text.delta", "output_index": i, "item_id": "x", "delta": d},
        indexes,
        texts,
    ),
    st.builds(lambda i, d: {"type": "response.output_text.done", "output_index": i, "text": d}, indexes, texts),
    st.builds(
        lambda i, d: {"type": "response.reasoning_summary_text.delta", "output_index": i, "delta": d}, indexes, texts
    ),
    st.builds(
        lambda i, s: {"type": "response.reasoning_summary_part.added", "output_index": i, "summary_index": s},
        indexes,
        indexes,
    ),
    st.builds(
        lambda i, d: {"type": "response.function_call_arguments.delta", "output_index": i, "delta": d},
        indexes,
        arguments,
    ),
    st.builds(
        lambda i, d: {"type": "response.function_call_arguments.done", "output_index": i, "arguments": d},
        indexes,
        arguments,
    ),
    st.builds(
        lambda: {
            "type": "response.completed",
            "response": {"id": "resp_1", "status": "completed", "usage": {"input_tokens": 1}},
        }
    ),
    st.builds(
        lambda: {"type": "response.incomplete", "response": {"incomplete_details": {"reason": "max_output_tokens"}}}
    ),
    st.builds(
        lambda e: {"type": "response.failed", "response": {"error": e}}, st.sampled_from([None, {"message": "boom"}])
    ),
    st.builds(lambda: {"type": "error", "code": "server_error", "message": "upstream error"}),
    junk,
)
responses_streams = st.lists(responses_events, max_size=30)


def check_responses_output(out: list[dict[str, Any]], *, ids_consistent: bool) -> None:
    kinds = [e.get("type") for e in out]
    assert sum(k in RESPONSES_TERMINALS for k in kinds) == 1, kinds
    assert kinds[-1] in RESPONSES_TERMINALS, kinds
    added: dict[int, str] = {}
    for event in out:
        if event.get("type") == "response.output_item.added":
            added[event["output_index"]] = event["item"]["id"]
        elif event.get("type") == "response.output_item.done" and ids_consistent:
            assert event["item"]["id"] == added.setdefault(event["output_index"], event["item"]["id"])
        elif "item_id" in event and event.get("output_index") in added:
            assert event["item_id"] == added[event["output_index"]]


@PROPERTY
@given(responses_streams, st.integers(min_value=0, max_value=30), endings)
def test_the_passthrough_fixer_ends_with_one_terminal_event(events: list[Any], cut: int, ending: str) -> None:
    fixes = ResponsesFixes(custom_tools=frozenset({"apply_patch"}), namespace="copilot_collaboration")
    out = drive(ResponsesStreamFixer(fixes), events, cut, ending)
    check_responses_output(out, ids_consistent=True)


def check_writer_output(out: list[dict[str, Any]]) -> None:
    """The stricter shape ResponsesStreamWriter promises."""
    check_responses_output(out, ids_consistent=True)
    assert [e["sequence_number"] for e in out] == list(range(len(out)))
    assert out[0]["type"] == "response.created"
    open_items: dict[int, str] = {}
    for event in out[:-1]:
        kind = event["type"]
        if kind == "response.output_item.added":
            assert event["output_index"] not in open_items
            open_items[event["output_index"]] = event["item"]["id"]
        elif kind == "response.output_item.done":
            assert open_items.pop(event["output_index"]) == event["item"]["id"]
        elif "item_id" in event:
            assert open_items.get(event["output_index"]) == event["item_id"]  # deltas only while open
    assert not open_items  # every item is closed before the end
    final = out[-1]["response"]
    done = [e["item"] for e in out if e["type"] == "response.output_item.done"]
    assert final["output"] == sorted(
        done, key=lambda i: [e["item"]["id"] for e in out if e["type"] == "response.output_item.added"].index(i["id"])
    )


# --------------------------------------------------------------------------- chat upstream

tool_calls = st.builds(
    lambda index, call_id, name, args: {
        k: v
        for k, v in {
            "index": index,
            "id": call_id,
            "function": {k2: v2 for k2, v2 in {"name": name, "arguments": args}.items() if v2 is not None},
        }.items()
        if v is not None
    },
    st.one_of(st.none(), st.integers(min_value=0, max_value=2)),
    st.sampled_from([None, "call_a", "call_b"]),
    st.sampled_from([None, "apply_patch", "f"]),
    st.one_of(st.none(), arguments),
)
deltas = st.fixed_dictionaries(
    {},
    optional={
        "role": st.just("assistant"),
        "content": st.one_of(st.none(), texts),
        "reasoning_text": texts,
        "reasoning_opaque": st.sampled_from(["", "OPAQUE"]),
        "tool_calls": st.lists(tool_calls, max_size=2),
    },
)
chat_chunks = st.one_of(
    st.builds(
        lambda delta, finish, index: {"choices": [{"index": index, "delta": delta, "finish_reason": finish}]},
        deltas,
        st.sampled_from([None, None, "stop", "tool_calls", "length", "content_filter"]),
        st.integers(min_value=0, max_value=1),
    ),
    st.just({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}}),
    st.just({"choices": []}),
    st.just({"error": {"message": "upstream failed"}}),
    junk,
)


@PROPERTY
@given(st.lists(chat_chunks, max_size=30), st.integers(min_value=0, max_value=30), endings)
def test_chat_to_responses_ends_with_one_terminal_event(chunks: list[Any], cut: int, ending: str) -> None:
    names = ToolNames()
    names.register("apply_patch", custom=True)
    check_writer_output(drive(ChatToResponsesStream(names, model="m"), chunks, cut, ending))


# --------------------------------------------------------------------------- Anthropic upstream

blocks = st.one_of(
    st.just({"type": "text", "text": ""}),
    st.just({"type": "thinking", "thinking": "", "signature": ""}),
    st.just({"type": "redacted_thinking", "data": "R"}),
    st.builds(
        lambda name: {"type": "tool_use", "id": "toolu_1", "name": name, "input": {}},
        st.sampled_from(["apply_patch", "f"]),
    ),
    st.just({"type": "server_tool_use", "id": "s", "name": "web_search"}),
)
anthropic_deltas = st.one_of(
    st.builds(lambda t: {"type": "text_delta", "text": t}, texts),
    st.builds(lambda t: {"type": "thinking_delta", "thinking": t}, texts),
    st.builds(lambda t: {"type": "signature_delta", "signature": t}, texts),
    st.builds(lambda t: {"type": "input_json_delta", "partial_json": t}, arguments),
)
anthropic_events = st.one_of(
    st.just({"type": "message_start", "message": {"id": "msg_1", "model": "claude", "usage": {"input_tokens": 3}}}),
    st.builds(lambda i, b: {"type": "content_block_start", "index": i, "content_block": b}, indexes, blocks),
    st.builds(lambda i, d: {"type": "content_block_delta", "index": i, "delta": d}, indexes, anthropic_deltas),
    st.builds(lambda i: {"type": "content_block_stop", "index": i}, indexes),
    st.builds(
        lambda reason: {"type": "message_delta", "delta": {"stop_reason": reason}, "usage": {"output_tokens": 4}},
        st.sampled_from([None, "end_turn", "tool_use", "max_tokens", "refusal"]),
    ),
    st.just({"type": "message_stop"}),
    st.just({"type": "ping"}),
    st.just({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    junk,
)


@PROPERTY
@given(st.lists(anthropic_events, max_size=30), st.integers(min_value=0, max_value=30), endings)
def test_messages_to_responses_ends_with_one_terminal_event(events: list[Any], cut: int, ending: str) -> None:
    names = ToolNames()
    names.register("apply_patch", custom=True)
    check_writer_output(drive(MessagesToResponsesStream(names, model="claude"), events, cut, ending))


# --------------------------------------------------------------------------- Responses upstream, other APIs out


@PROPERTY
@given(responses_streams, st.integers(min_value=0, max_value=30), endings, st.booleans())
def test_responses_to_messages_ends_with_one_terminal_event(
    events: list[Any], cut: int, ending: str, through_fixer: bool
) -> None:
    translator: Translator = ResponsesToMessagesStream(model="gpt-5")
    if through_fixer:  # as the server runs it
        translator = ThroughFixer(ResponsesToMessagesStream(model="gpt-5"))
    out = drive(translator, events, cut, ending)
    kinds = [e["type"] for e in out]
    # message_start first, unless upstream failed before saying anything (a lone error).
    assert kinds == ["error"] or (kinds[0] == "message_start" and kinds.count("message_start") == 1)
    assert kinds[-1] in ("message_stop", "error")
    assert kinds.count("message_stop") + kinds.count("error") == 1
    if kinds[-1] == "message_stop":
        assert kinds.count("message_delta") == 1 and kinds[-2] == "message_delta"
    open_index: int | None = None
    started: list[int] = []
    for event in out:
        if event["type"] == "content_block_start":
            assert open_index is None  # one block at a time
            open_index = event["index"]
            started.append(open_index)
        elif event["type"] == "content_block_delta":
            assert event["index"] == open_index
        elif event["type"] == "content_block_stop":
            assert event["index"] == open_index
            open_index = None
    assert open_index is None and started == list(range(len(started)))


@PROPERTY
@given(responses_streams, st.integers(min_value=0, max_value=30), endings, st.booleans(), st.booleans())
def test_responses_to_chat_ends_with_one_terminal_chunk(
    events: list[Any], cut: int, ending: str, usage: bool, through_fixer: bool
) -> None:
    translator: Translator = ResponsesToChatStream(model="gpt-5", include_usage=usage)
    if through_fixer:  # as the server runs it
        translator = ThroughFixer(ResponsesToChatStream(model="gpt-5", include_usage=usage))
    out = drive(translator, events, cut, ending)
    terminal = [i for i, c in enumerate(out) if "error" in c or (c.get("choices") and c["choices"][0]["finish_reason"])]
    assert len(terminal) == 1
    after = out[terminal[0] + 1 :]
    assert after == [] or (len(after) == 1 and after[0]["choices"] == [] and "usage" in after[0])
    chunks = [c for c in out if c.get("choices")]
    if chunks:
        assert chunks[0]["choices"][0]["delta"].get("role") == "assistant"
    tool_indexes = [
        call["index"] for c in chunks for call in c["choices"][0]["delta"].get("tool_calls", []) if "id" in call
    ]
    assert tool_indexes == list(range(len(tool_indexes)))  # calls numbered 0, 1, 2...
