"""Shared Responses pieces: efforts, tool names, custom input decoding, carriers, usage, the stream writer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copilot_hybrid.translate.responses_common import (
    MAX_TOOL_NAME,
    JsonStringFieldStream,
    ResponsesStreamWriter,
    ToolNames,
    anthropic_usage_to_responses,
    chat_usage_to_responses,
    clamp_effort,
    custom_tool_as_function,
    custom_tool_input,
    decode_carrier,
    encode_carrier,
    is_foreign_reasoning,
    model_efforts,
    responses_usage_to_anthropic,
    responses_usage_to_chat,
    short_tool_name,
)

CODEX_EFFORTS = ["low", "medium", "high", "xhigh"]


@pytest.mark.parametrize(
    ("effort", "levels", "expected"),
    [
        ("high", CODEX_EFFORTS, "high"),
        ("max", CODEX_EFFORTS, "xhigh"),  # above the list: its top
        ("minimal", CODEX_EFFORTS, "low"),  # below the list: its bottom
        ("none", ["none", "low", "medium", "high", "xhigh"], "none"),
        ("none", ["low", "medium", "high"], "low"),
        ("xhigh", ["low", "medium", "high"], "high"),
        ("medium", ["low", "high"], "low"),  # equally near: the cheaper one
        ("high", [], None),  # the model takes no effort at all
        ("turbo", CODEX_EFFORTS, None),  # not an effort
        (None, CODEX_EFFORTS, None),
    ],
)
def test_clamp_effort(effort: Any, levels: list[str], expected: str | None) -> None:
    assert clamp_effort(effort, levels) == expected


def test_model_efforts_reads_the_models_entry() -> None:
    entry = {"capabilities": {"supports": {"reasoning_effort": ["low", 3, "high"]}}}
    assert model_efforts(entry) == ["low", "high"]
    assert model_efforts(None) == []
    assert model_efforts({"capabilities": "broken"}) == []


def test_valid_tool_names_are_kept() -> None:
    assert short_tool_name("Read") == "Read"
    assert short_tool_name("x" * 64) == "x" * 64


def test_long_and_invalid_tool_names_are_shortened_deterministically() -> None:
    long_name = "mcp__claude_in_chrome__" + "browser_take_a_screenshot_of_the_current_page_" * 2
    short = short_tool_name(long_name)
    assert len(short) == MAX_TOOL_NAME
    assert short == short_tool_name(long_name)  # the same on every request
    assert short.startswith("mcp__claude_in_chrome__")
    other = short_tool_name(long_name + "x")
    assert other != short and len(other) == MAX_TOOL_NAME  # a shared prefix does not collide
    dotted = short_tool_name("multi_agent.spawn")
    assert dotted.startswith("multi_agent_spawn_") and all(c.isalnum() or c in "_-" for c in dotted)


def test_tool_names_map_back_to_the_client() -> None:
    names = ToolNames()
    long_name = "mcp__server__" + "y" * 80
    upstream = names.register(long_name)
    assert upstream != long_name
    assert names.client(upstream).name == long_name
    flat = names.register("spawn_agent", namespace="multi_agent_v1")
    assert flat == "multi_agent_v1__spawn_agent"
    assert (names.client(flat).name, names.client(flat).namespace) == ("spawn_agent", "multi_agent_v1")
    names.register("apply_patch", custom=True)
    names.register("apply_patch")  # a later plain mention does not undo "freeform"
    assert names.is_custom("apply_patch") and names.custom_names == frozenset({"apply_patch"})
    assert names.client("never_registered").name == "never_registered"


def test_custom_tool_as_function_spells_out_the_grammar() -> None:
    tool = {
        "type": "custom",
        "name": "apply_patch",
        "description": "Edit files.",
        "format": {"type": "grammar", "syntax": "lark", "definition": "start: begin_patch hunk+"},
    }
    function = custom_tool_as_function(tool, "apply_patch")
    assert function["type"] == "function" and function["name"] == "apply_patch"
    assert function["parameters"]["required"] == ["input"]
    assert function["description"].startswith("Edit files.")
    assert "lark grammar:\nstart: begin_patch hunk+" in function["description"]


def test_custom_tool_input() -> None:
    assert custom_tool_input('{"input": "*** Begin Patch\\n"}') == "*** Begin Patch\n"
    assert custom_tool_input('{"patch": "x"}') == '{"patch": "x"}'  # wrong shape: passed on as it came
    assert custom_tool_input("not json") == "not json"
    assert custom_tool_input("{}") == "" and custom_tool_input("") == ""


@given(st.text(), st.lists(st.integers(min_value=0, max_value=400), max_size=12), st.booleans())
def test_custom_input_decodes_incrementally_whatever_the_cuts(text: str, cuts: list[int], ascii_only: bool) -> None:
    arguments = json.dumps({"input": text}, ensure_ascii=ascii_only)
    points = sorted({min(c, len(arguments)) for c in cuts})
    pieces = [arguments[a:b] for a, b in zip([0, *points], [*points, len(arguments)], strict=True)]
    decoder = JsonStringFieldStream()
    streamed = "".join(decoder.feed(piece) for piece in pieces)
    assert not decoder.failed
    assert streamed == text == decoder.emitted


def test_custom_input_decoding_gives_up_on_other_shapes() -> None:
    decoder = JsonStringFieldStream()
    assert decoder.feed('{"patch": "x"}') == ""
    assert decoder.failed


def test_carriers_round_trip_and_are_recognised() -> None:
    carrier = encode_carrier("anthropic_signature", "EqQBCkgIARABGAIi")
    assert decode_carrier(carrier, "anthropic_signature") == "EqQBCkgIARABGAIi"
    assert decode_carrier(carrier, "chat_opaque") is None
    assert is_foreign_reasoning(carrier)
    assert not is_foreign_reasoning("gAAAAABo-real-openai-blob")


def test_usage_conversions_keep_cached_and_reasoning_tokens() -> None:
    responses = {
        "input_tokens": 120,
        "input_tokens_details": {"cached_tokens": 100},
        "output_tokens": 30,
        "output_tokens_details": {"reasoning_tokens": 12},
        "total_tokens": 150,
    }
    assert responses_usage_to_chat(responses) == {
        "prompt_tokens": 120,
        "completion_tokens": 30,
        "total_tokens": 150,
        "prompt_tokens_details": {"cached_tokens": 100},
        "completion_tokens_details": {"reasoning_tokens": 12},
    }
    assert responses_usage_to_anthropic(responses) == {
        "input_tokens": 20,
        "output_tokens": 30,
        "cache_read_input_tokens": 100,
    }
    assert chat_usage_to_responses(responses_usage_to_chat(responses)) == responses
    anthropic = {
        "input_tokens": 20,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 5,
        "output_tokens": 9,
    }
    back = anthropic_usage_to_responses(anthropic)
    assert (back["input_tokens"], back["input_tokens_details"], back["total_tokens"]) == (
        125,
        {"cached_tokens": 100},
        134,
    )
    # Codex requires the integer fields even when upstream sent no usage.
    assert set(chat_usage_to_responses(None)) >= {"input_tokens", "output_tokens", "total_tokens"}


def test_writer_builds_a_complete_stream() -> None:
    writer = ResponsesStreamWriter(model="m", request={"tools": [], "tool_choice": "auto"})
    events: list[dict[str, Any]] = []
    writer.reasoning(events, "think")
    writer.end_reasoning(events, encrypted_content="ENC")
    writer.text(events, "Hel")
    writer.text(events, "lo")
    writer.tool_call(events, 0, call_id="c1", name="apply_patch", tool=ToolNames().client("apply_patch"))
    writer.tool_arguments(events, 0, '{"a":1}')
    writer.complete(events, usage=chat_usage_to_responses({"prompt_tokens": 3, "completion_tokens": 2}))
    assert writer.done
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    output = events[-1]["response"]["output"]
    assert [o["type"] for o in output] == ["reasoning", "message", "function_call"]
    assert output[0]["encrypted_content"] == "ENC" and output[0]["summary"] == [
        {"type": "summary_text", "text": "think"}
    ]
    assert output[1]["content"][0]["text"] == "Hello"
    assert output[2]["arguments"] == '{"a":1}'
    # every item's added and done events carry one id
    added = {e["output_index"]: e["item"]["id"] for e in events if e["type"] == "response.output_item.added"}
    done = {e["output_index"]: e["item"]["id"] for e in events if e["type"] == "response.output_item.done"}
    assert added == done
    assert writer.fail(events, "late") is None and events[-1]["type"] == "response.completed"
