"""Anthropic Messages request -> Copilot chat-completions request (spec §8.1)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from copilot_hybrid.copilot.resolution import normalize_model
from copilot_hybrid.translate import TranslationError, anthropic_to_openai

REMINDER = "<system-reminder>\n{}\n</system-reminder>"


def translate(payload: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return anthropic_to_openai(payload, **kwargs)


def req(messages: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": extra.pop("model", "gpt-4o"),
        "max_tokens": extra.pop("max_tokens", 100),
        "messages": messages if messages is not None else [{"role": "user", "content": "hi"}],
    }
    body.update(extra)
    return body


def msgs(payload: dict[str, Any], **kwargs: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = translate(payload, **kwargs)["messages"]
    return out


# --------------------------------------------------------------------------- top level


def test_minimal_payload_keeps_zero_values() -> None:
    out = translate(req(max_tokens=0, temperature=0))
    assert out == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 0,
        "temperature": 0,
    }


def test_output_key_order_follows_copilot_api() -> None:
    payload = req(
        stop_sequences=["END"],
        stream=True,
        temperature=0.5,
        top_p=0.9,
        metadata={"user_id": "user-1", "other": "x"},
        tools=[{"name": "t", "input_schema": {"type": "object"}}],
        tool_choice={"type": "auto"},
    )
    out = translate(payload)
    assert list(out) == [
        "model",
        "messages",
        "max_tokens",
        "stop",
        "stream",
        "temperature",
        "top_p",
        "user",
        "tools",
        "tool_choice",
    ]
    assert out["stop"] == ["END"]
    assert out["user"] == "user-1"
    assert out["stream"] is True and out["top_p"] == 0.9


def test_unknown_and_unsupported_top_level_fields_are_dropped() -> None:
    payload = req(
        top_k=5,
        service_tier="auto",
        thinking={"type": "adaptive"},
        context_management={"edits": [{"type": "clear_tool_uses_20250919"}]},
        output_config={"effort": "high"},
        container="c1",
        mcp_servers=[],
        some_future_field={"x": 1},
    )
    assert set(translate(payload)) == {"model", "messages", "max_tokens"}


def test_absent_and_null_optional_fields_are_not_sent() -> None:
    payload = req(temperature=None, top_p=None, stream=None, stop_sequences=None, metadata=None)
    payload.pop("max_tokens")
    assert set(translate(payload)) == {"model", "messages"}


def test_empty_stop_sequences_are_not_sent() -> None:
    assert "stop" not in translate(req(stop_sequences=[]))


def test_metadata_without_user_id_gives_no_user() -> None:
    assert "user" not in translate(req(metadata={"foo": "bar"}))


def test_input_is_not_mutated() -> None:
    payload = req(
        system=[{"type": "text", "text": "x-anthropic-billing-header: a\nsys", "cache_control": {"type": "ephemeral"}}],
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "a"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}}]},
            {"role": "system", "content": "reminder"},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "r"}]},
        ],
        model="claude-sonnet-4-5",
    )
    before = copy.deepcopy(payload)
    out = translate(payload)
    assert payload == before
    json.dumps(out)  # plain JSON data only


# --------------------------------------------------------------------------- model


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
        # copilot-api mapped every claude-sonnet-4-* to claude-sonnet-4 (quirk).
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4.5"),
        ("claude-sonnet-4-5", "claude-sonnet-4.5"),
        ("claude-opus-4-6", "claude-opus-4.6"),
        ("claude-opus-4-6[1m]", "claude-opus-4.6"),
        ("claude-sonnet-4-5-20250929[1m]", "claude-sonnet-4.5"),
        ("claude-opus-4-1-20250805", "claude-opus-41"),  # Copilot's own spelling
        ("claude-opus-4-20250514", "claude-opus-4"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4.5"),
        ("claude-3-5-sonnet-20241022", "claude-3.5-sonnet"),
        ("claude-3-7-sonnet-latest", "claude-3.7-sonnet"),
        ("claude-sonnet-4.5", "claude-sonnet-4.5"),
        ("claude-3.7-sonnet-thought", "claude-3.7-sonnet-thought"),
        ("gpt-4o-2024-08-06", "gpt-4o-2024-08-06"),
        ("gpt-4.1", "gpt-4.1"),
        ("gpt-5[1m]", "gpt-5"),
    ],
)
def test_model_normalisation_without_model_list(model: str, expected: str) -> None:
    assert normalize_model(model) == expected
    assert translate(req(model=model))["model"] == expected


def test_model_normalisation_prefers_ids_copilot_lists() -> None:
    assert normalize_model("claude-opus-4-1-20250805", ["claude-opus-4.1"]) == "claude-opus-4.1"
    assert normalize_model("claude-opus-4-1", ["gpt-4o", "claude-opus-41"]) == "claude-opus-41"
    # A listed id is never rewritten, even a dated one.
    assert normalize_model("claude-sonnet-4-20250514", ["claude-sonnet-4-20250514"]) == "claude-sonnet-4-20250514"
    # Case-insensitive match returns Copilot's spelling.
    assert normalize_model("Claude-Sonnet-4-5", ["claude-sonnet-4.5"]) == "claude-sonnet-4.5"


def test_model_normalisation_never_downgrades_to_another_version() -> None:
    assert normalize_model("claude-sonnet-4-5-20250929", ["claude-sonnet-4"]) == "claude-sonnet-4.5"


def test_known_models_may_be_a_mapping_of_model_objects() -> None:
    models = {"claude-sonnet-4.5": {"id": "claude-sonnet-4.5"}}
    assert translate(req(model="claude-sonnet-4-5-20250929"), known_models=models)["model"] == "claude-sonnet-4.5"


# --------------------------------------------------------------------------- system prompt


@pytest.mark.parametrize("system", [None, "", [], "   "])
def test_empty_system_gives_no_system_message(system: Any) -> None:
    # An empty array gave a system message "" in copilot-api (quirk).
    out = msgs(req(system=system))
    assert [m["role"] for m in out] == ["user"]


def test_string_system_is_first_message() -> None:
    out = msgs(req(system="Be brief."))
    assert out[0] == {"role": "system", "content": "Be brief."}
    assert out[1] == {"role": "user", "content": "hi"}


def test_system_blocks_are_joined_and_extra_keys_ignored() -> None:
    system = [
        {"type": "text", "text": "A"},
        {"type": "text", "text": "B", "cache_control": {"type": "ephemeral"}, "citations": None},
    ]
    assert msgs(req(system=system))[0] == {"role": "system", "content": "A\n\nB"}


def test_billing_line_is_removed_from_system_prompt() -> None:
    system = [
        {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.37.abc; cc_entrypoint=cli; cch=123;"},
        {"type": "text", "text": "You are Claude Code."},
    ]
    assert msgs(req(system=system))[0]["content"] == "You are Claude Code."
    mixed = "x-anthropic-billing-header: cc_version=1\nYou are Claude Code.\nMore."
    assert msgs(req(system=mixed))[0]["content"] == "You are Claude Code.\nMore."


def test_cache_control_becomes_copilot_cache_control_for_claude_only() -> None:
    system = [{"type": "text", "text": "S", "cache_control": {"type": "ephemeral"}}]
    claude = msgs(req(system=system, model="claude-sonnet-4.5"))
    assert claude[0] == {"role": "system", "content": "S", "copilot_cache_control": {"type": "ephemeral"}}
    gpt = msgs(req(system=system, model="gpt-4.1"))
    assert gpt[0] == {"role": "system", "content": "S"}


# --------------------------------------------------------------------------- user content


def test_user_text_blocks_become_one_string() -> None:
    content = [{"type": "text", "text": "a"}, {"type": "text", "text": "b", "cache_control": {"type": "ephemeral"}}]
    assert msgs(req([{"role": "user", "content": content}])) == [{"role": "user", "content": "a\n\nb"}]


def test_user_content_with_image_becomes_parts_in_order() -> None:
    content = [
        {"type": "text", "text": "look"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}},
        {"type": "text", "text": "at this"},
    ]
    assert msgs(req([{"role": "user", "content": content}])) == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}},
                {"type": "text", "text": "at this"},
            ],
        }
    ]


def test_url_image_source_is_passed_as_url() -> None:
    # copilot-api produced data:undefined;base64,undefined (quirk).
    content = [{"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}}]
    out = msgs(req([{"role": "user", "content": content}]))
    assert out[0]["content"] == [{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]


def test_file_image_source_becomes_a_note() -> None:
    content = [{"type": "image", "source": {"type": "file", "file_id": "file_1"}}]
    out = msgs(req([{"role": "user", "content": content}]))
    assert out[0]["content"].startswith("[image omitted: `file`-source images")


def test_empty_user_text_blocks_are_dropped() -> None:
    content = [{"type": "text", "text": ""}, {"type": "text", "text": "x"}]
    assert msgs(req([{"role": "user", "content": content}])) == [{"role": "user", "content": "x"}]


def test_user_message_without_usable_content_is_skipped() -> None:
    messages = [
        {"role": "user", "content": [{"type": "redacted_thinking", "data": "x"}]},
        {"role": "user", "content": ""},
        {"role": "user", "content": "real"},
    ]
    assert msgs(req(messages)) == [{"role": "user", "content": "real"}]


def test_documents_and_search_results_become_text() -> None:
    content = [
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "DOC"}, "title": "T"},
        {"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": "C1"}]}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
            "title": "r.pdf",
        },
        {
            "type": "search_result",
            "source": "https://s",
            "title": "Res",
            "content": [{"type": "text", "text": "body"}],
        },
        {"type": "tool_reference", "tool_name": "mcp__x__y"},
    ]
    out = msgs(req([{"role": "user", "content": content}]))
    assert out[0]["content"] == "\n\n".join(
        [
            "T\n\nDOC",
            "C1",
            "[document omitted: PDF documents cannot be sent to this model through the proxy] (r.pdf)",
            "Res\nhttps://s\n\nbody",
            "Tool loaded: mcp__x__y",
        ]
    )


def test_unknown_user_blocks_are_dropped_not_fatal() -> None:
    content = [{"type": "brand_new_block", "x": 1}, {"type": "text", "text": "ok"}]
    assert msgs(req([{"role": "user", "content": content}])) == [{"role": "user", "content": "ok"}]


# --------------------------------------------------------------------------- tool results


def tool_round(*results: dict[str, Any], calls: tuple[str, ...] = ("t1",)) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": c, "name": "Read", "input": {}} for c in calls],
        },
        {"role": "user", "content": list(results)},
    ]


def test_tool_results_come_first_then_user_text() -> None:
    messages = tool_round(
        {"type": "text", "text": "and then"},
        {"type": "tool_result", "tool_use_id": "t1", "content": "R1", "is_error": False},
    )
    out = msgs(req(messages))
    assert out[2:] == [
        {"role": "tool", "tool_call_id": "t1", "content": "R1"},
        {"role": "user", "content": "and then"},
    ]


def test_tool_result_only_turn_has_no_user_message() -> None:
    out = msgs(req(tool_round({"type": "tool_result", "tool_use_id": "t1", "content": "R"})))
    assert [m["role"] for m in out] == ["user", "assistant", "tool"]


def test_tool_result_content_forms() -> None:
    messages = tool_round(
        {
            "type": "tool_result",
            "tool_use_id": "a",
            "content": [{"type": "text", "text": "x"}, {"type": "text", "text": "y"}],
        },
        {"type": "tool_result", "tool_use_id": "b"},
        {"type": "tool_result", "tool_use_id": "c", "content": "boom", "is_error": True},
        calls=("a", "b", "c"),
    )
    out = msgs(req(messages))
    # copilot-api sent content null for a missing content, which OpenAI rejects.
    assert out[2:] == [
        {"role": "tool", "tool_call_id": "a", "content": "x\n\ny"},
        {"role": "tool", "tool_call_id": "b", "content": ""},
        {"role": "tool", "tool_call_id": "c", "content": "Error: boom"},
    ]


def test_tool_result_images_move_to_the_following_user_message() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "IMG"}}
    messages = tool_round(
        {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "shot"}, image]},
        {"type": "text", "text": "what do you see?"},
    )
    out = msgs(req(messages))
    assert out[2] == {"role": "tool", "tool_call_id": "t1", "content": "shot\n\n[image attached in the next message]"}
    assert out[3] == {
        "role": "user",
        "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,IMG"}},
            {"type": "text", "text": "what do you see?"},
        ],
    }


def test_interrupted_tool_call_gets_a_stand_in_result() -> None:
    messages = tool_round({"type": "tool_result", "tool_use_id": "a", "content": "ok"}, calls=("a", "b"))
    out = msgs(req(messages))
    assert out[2:] == [
        {"role": "tool", "tool_call_id": "a", "content": "ok"},
        {"role": "tool", "tool_call_id": "b", "content": "Tool call was interrupted; no result is available."},
    ]


def test_tool_call_followed_by_plain_user_text_still_gets_results() -> None:
    messages = tool_round({"type": "text", "text": "never mind"})
    out = msgs(req(messages))
    assert [m["role"] for m in out] == ["user", "assistant", "tool", "user"]
    assert out[3] == {"role": "user", "content": "never mind"}


def test_trailing_assistant_tool_call_gets_result() -> None:
    messages = tool_round()[:2]
    out = msgs(req(messages))
    assert out[-1]["role"] == "tool" and out[-1]["tool_call_id"] == "t1"


def test_orphan_tool_result_becomes_user_text() -> None:
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "gone", "content": "old"},
                {"type": "text", "text": "continue"},
            ],
        },
    ]
    assert msgs(req(messages)) == [{"role": "user", "content": "[Result of tool call gone]\nold\n\ncontinue"}]


def test_duplicate_tool_result_is_not_a_second_tool_message() -> None:
    messages = tool_round(
        {"type": "tool_result", "tool_use_id": "t1", "content": "one"},
        {"type": "tool_result", "tool_use_id": "t1", "content": "two"},
    )
    out = msgs(req(messages))
    assert out[2:] == [
        {"role": "tool", "tool_call_id": "t1", "content": "one"},
        {"role": "user", "content": "[Result of tool call t1]\ntwo"},
    ]


# --------------------------------------------------------------------------- assistant


def test_assistant_string_content() -> None:
    messages = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    assert msgs(req(messages))[1] == {"role": "assistant", "content": "b"}


def test_assistant_tool_use_gets_text_and_compact_js_arguments() -> None:
    content = [
        {"type": "text", "text": "first"},
        {
            "type": "tool_use",
            "id": "t1",
            "name": "Write",
            "input": {"path": "é.txt", "n": 1.0, "z": None, "2": [1.5e21]},
        },
        {"type": "text", "text": "second"},
        {"type": "tool_use", "id": "t2", "name": "Noop"},
    ]
    out = msgs(req([{"role": "user", "content": "x"}, {"role": "assistant", "content": content}]))
    assert out[1] == {
        "role": "assistant",
        "content": "first\n\nsecond",
        "tool_calls": [
            # JSON.stringify: no spaces, raw UTF-8, JS numbers, index keys first.
            {
                "id": "t1",
                "type": "function",
                "function": {"name": "Write", "arguments": '{"2":[1.5e+21],"path":"é.txt","n":1,"z":null}'},
            },
            {"id": "t2", "type": "function", "function": {"name": "Noop", "arguments": "{}"}},
        ],
    }


def test_assistant_tool_use_without_text_has_null_content() -> None:
    content = [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]
    out = msgs(req([{"role": "user", "content": "x"}, {"role": "assistant", "content": content}]))
    assert out[1]["content"] is None


def test_thinking_goes_to_reasoning_fields_not_visible_content() -> None:
    content = [
        {"type": "thinking", "thinking": "plan", "signature": "SIG"},
        {"type": "redacted_thinking", "data": "zzz"},
        {"type": "text", "text": "answer"},
    ]
    out = msgs(
        req([{"role": "user", "content": "x"}, {"role": "assistant", "content": content}], model="claude-sonnet-4.5")
    )
    assert out[1] == {"role": "assistant", "content": "answer", "reasoning_text": "plan", "reasoning_opaque": "SIG"}


def test_thinking_without_signature_or_with_gpt_signature_is_dropped_for_claude() -> None:
    for block in (
        {"type": "thinking", "thinking": "plan", "signature": ""},
        {"type": "thinking", "thinking": "plan", "signature": "abc@def"},
    ):
        content = [block, {"type": "text", "text": "answer"}]
        out = msgs(
            req([{"role": "user", "content": "x"}, {"role": "assistant", "content": content}], model="claude-sonnet-4")
        )
        assert out[1] == {"role": "assistant", "content": "answer"}


def test_empty_assistant_turns_are_skipped() -> None:
    messages = [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": ""},
        {
            "role": "assistant",
            "content": [{"type": "thinking", "thinking": "t", "signature": "s"}, {"type": "text", "text": ""}],
        },
        {"role": "user", "content": "y"},
    ]
    assert [m["role"] for m in msgs(req(messages))] == ["user", "user"]


def test_server_tool_blocks_in_assistant_history_are_dropped() -> None:
    content = [
        {"type": "server_tool_use", "id": "srv", "name": "web_search", "input": {"query": "q"}},
        {"type": "web_search_tool_result", "tool_use_id": "srv", "content": []},
        {"type": "text", "text": "found"},
    ]
    out = msgs(req([{"role": "user", "content": "x"}, {"role": "assistant", "content": content}]))
    assert out[1] == {"role": "assistant", "content": "found"}


# --------------------------------------------------------------------------- system messages in the conversation


def test_mid_conversation_system_message_for_claude_is_a_user_reminder() -> None:
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {
            "role": "system",
            "content": [{"type": "text", "text": "Token usage: 1/2", "cache_control": {"type": "ephemeral"}}],
        },
    ]
    out = msgs(req(messages, model="claude-opus-4-6"))
    assert out[-1] == {
        "role": "user",
        "content": REMINDER.format("Token usage: 1/2"),
        "copilot_cache_control": {"type": "ephemeral"},
    }


def test_existing_reminder_is_not_wrapped_twice() -> None:
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "system", "content": "<system-reminder>x</system-reminder>"},
    ]
    assert msgs(req(messages, model="claude-sonnet-4"))[-1]["content"] == "<system-reminder>x</system-reminder>"


def test_mid_conversation_system_message_for_gpt_stays_system() -> None:
    messages = [{"role": "user", "content": "hi"}, {"role": "system", "content": "note"}]
    assert msgs(req(messages, model="gpt-4.1"))[-1] == {"role": "system", "content": "note"}


def test_leading_system_messages_join_the_system_prompt() -> None:
    messages = [{"role": "system", "content": "extra"}, {"role": "user", "content": "hi"}]
    out = msgs(req(messages, system="base"))
    assert out == [{"role": "system", "content": "base\n\nextra"}, {"role": "user", "content": "hi"}]


def test_system_message_never_splits_tool_calls_from_results() -> None:
    messages = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
        {"role": "system", "content": "reminder"},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "r"}, {"type": "text", "text": "next"}],
        },
    ]
    out = msgs(req(messages, model="claude-sonnet-4"))
    assert [m["role"] for m in out] == ["user", "assistant", "tool", "user", "user"]
    assert out[3]["content"] == REMINDER.format("reminder")
    assert out[4]["content"] == "next"


# --------------------------------------------------------------------------- tools


def test_tools_map_to_functions() -> None:
    tools = [
        {
            "name": "get",
            "description": "Gets.",
            "input_schema": {"type": "object", "properties": {}},
            "cache_control": {"type": "ephemeral"},
        },
        {"name": "bare", "input_schema": {"type": "object"}},
        {"type": "custom", "name": "custom", "input_schema": {"type": "object"}},
    ]
    out = translate(req(tools=tools))
    assert out["tools"] == [
        {
            "type": "function",
            "function": {"name": "get", "description": "Gets.", "parameters": {"type": "object", "properties": {}}},
        },
        {"type": "function", "function": {"name": "bare", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "custom", "parameters": {"type": "object"}}},
    ]


def test_tool_cache_control_marks_tool_for_claude() -> None:
    tools = [{"name": "get", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}]
    out = translate(req(tools=tools, model="claude-sonnet-4.5"))
    assert out["tools"][0]["copilot_cache_control"] == {"type": "ephemeral"}


def test_server_tools_are_not_offered_as_functions() -> None:
    tools = [
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
        {"type": "tool_search_tool_regex_20251119", "name": "tool_search_tool_regex"},
        {"name": "Read", "input_schema": {"type": "object"}, "defer_loading": True},
    ]
    out = translate(req(tools=tools, tool_choice={"type": "tool", "name": "web_search"}))
    assert [t["function"]["name"] for t in out["tools"]] == ["Read"]
    assert "tool_choice" not in out  # forcing a tool that is not offered would be a 400


def test_no_tools_means_no_tools_key() -> None:
    out = translate(req(tools=[], tool_choice={"type": "auto"}))
    assert "tools" not in out and "tool_choice" not in out


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        ({"type": "tool", "name": "get"}, {"type": "function", "function": {"name": "get"}}),
        ({"type": "tool"}, None),
        ({"type": "auto", "disable_parallel_tool_use": True}, "auto"),
        ({"type": "mystery"}, None),
    ],
)
def test_tool_choice_mapping(choice: dict[str, Any], expected: Any) -> None:
    out = translate(req(tools=[{"name": "get", "input_schema": {"type": "object"}}], tool_choice=choice))
    assert out.get("tool_choice") == expected


def test_disable_parallel_tool_use_becomes_parallel_tool_calls_false() -> None:
    tools = [{"name": "get", "input_schema": {"type": "object"}}]
    out = translate(req(tools=tools, tool_choice={"type": "auto", "disable_parallel_tool_use": True}))
    assert out["parallel_tool_calls"] is False
    assert "parallel_tool_calls" not in translate(req(tools=tools, tool_choice={"type": "auto"}))
    assert "parallel_tool_calls" not in translate(req(tools=[], tool_choice={"disable_parallel_tool_use": True}))


# --------------------------------------------------------------------------- thinking / effort

CLAUDE_46 = {
    "id": "claude-opus-4.6",
    "capabilities": {
        "limits": {"max_output_tokens": 32000},
        "supports": {
            "adaptive_thinking": True,
            "max_thinking_budget": 32000,
            "min_thinking_budget": 1024,
            "reasoning_effort": ["low", "medium", "high"],
        },
    },
}
CLAUDE_45 = {
    "id": "claude-sonnet-4.5",
    "capabilities": {
        "limits": {"max_output_tokens": 16000},
        "supports": {"max_thinking_budget": 32000, "min_thinking_budget": 1024},
    },
}
GPT_5 = {"id": "gpt-5", "capabilities": {"supports": {"reasoning_effort": ["minimal", "low", "medium", "high"]}}}
MODELS = {m["id"]: m for m in (CLAUDE_46, CLAUDE_45, GPT_5)}


def think(model: str, max_tokens: int = 32000, **extra: Any) -> dict[str, Any]:
    out = translate(req(model=model, max_tokens=max_tokens, **extra), known_models=MODELS)
    return {k: out[k] for k in ("thinking_budget", "reasoning_effort") if k in out}


def test_enabled_thinking_budget_is_clamped_to_the_model() -> None:
    assert think("claude-sonnet-4-5", thinking={"type": "enabled", "budget_tokens": 8000}) == {"thinking_budget": 8000}
    # max_output_tokens 16000 -> at most 15999; min 1024.
    assert think("claude-sonnet-4-5", thinking={"type": "enabled", "budget_tokens": 50000}) == {
        "thinking_budget": 15999
    }
    assert think("claude-sonnet-4-5", thinking={"type": "enabled", "budget_tokens": 10}) == {"thinking_budget": 1024}
    # budget must stay below the request's max_tokens
    assert think("claude-sonnet-4-5", max_tokens=4000, thinking={"type": "enabled", "budget_tokens": 8000}) == {
        "thinking_budget": 3999
    }
    assert think("claude-sonnet-4-5", max_tokens=1000, thinking={"type": "enabled", "budget_tokens": 8000}) == {}


def test_adaptive_thinking_uses_reasoning_effort_when_the_model_lists_it() -> None:
    assert think("claude-opus-4-6", thinking={"type": "adaptive"}) == {"reasoning_effort": "high"}
    assert think("claude-opus-4-6", thinking={"type": "adaptive"}, output_config={"effort": "low"}) == {
        "reasoning_effort": "low"
    }
    assert think("claude-opus-4-6", thinking={"type": "adaptive"}, output_config={"effort": "max"}) == {
        "reasoning_effort": "high"
    }


def test_adaptive_thinking_falls_back_to_a_budget() -> None:
    assert think("claude-sonnet-4-5", thinking={"type": "adaptive"}) == {"thinking_budget": 15999}
    assert think("claude-sonnet-4-5", thinking={"type": "adaptive"}, output_config={"effort": "low"}) == {
        "thinking_budget": 1024
    }


def test_effort_without_thinking_for_reasoning_models() -> None:
    assert think("gpt-5", output_config={"effort": "medium"}) == {"reasoning_effort": "medium"}
    assert think("gpt-5", output_config={"effort": "bogus"}) == {}


def test_thinking_needs_model_capabilities() -> None:
    assert think("claude-sonnet-4-5", thinking={"type": "disabled"}) == {}
    assert think("gpt-4.1", thinking={"type": "enabled", "budget_tokens": 2000}) == {}
    plain = translate(
        req(model="claude-sonnet-4-5", thinking={"type": "enabled", "budget_tokens": 2000}),
        known_models=["claude-sonnet-4.5"],
    )
    assert "thinking_budget" not in plain


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("mutate", "param"),
    [
        (lambda p: p.pop("model"), "model"),
        (lambda p: p.update(model=5), "model"),
        (lambda p: p.update(model=""), "model"),
        (lambda p: p.pop("messages"), "messages"),
        (lambda p: p.update(messages={"role": "user"}), "messages"),
        (lambda p: p.update(messages=["hi"]), "messages.0"),
        (lambda p: p.update(messages=[{"role": "bot", "content": "x"}]), "messages.0.role"),
        (lambda p: p.update(messages=[{"role": "user"}]), "messages.0.content"),
        (lambda p: p.update(messages=[{"role": "user", "content": 5}]), "messages.0.content"),
        (lambda p: p.update(messages=[{"role": "user", "content": ["text"]}]), "messages.0.content.0"),
        (lambda p: p.update(messages=[{"role": "user", "content": [{"text": "x"}]}]), "messages.0.content.0.type"),
        (
            lambda p: p.update(messages=[{"role": "user", "content": [{"type": "text", "text": 3}]}]),
            "messages.0.content.0.text",
        ),
        (
            lambda p: p.update(
                messages=[{"role": "user", "content": [{"type": "image", "source": {"type": "base64"}}]}]
            ),
            "messages.0.content.0.source",
        ),
        (
            lambda p: p.update(messages=[{"role": "user", "content": [{"type": "image"}]}]),
            "messages.0.content.0.source",
        ),
        (
            lambda p: p.update(
                messages=[{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": []}]}]
            ),
            "messages.0.content.0.input",
        ),
        (
            lambda p: p.update(
                messages=[{"role": "assistant", "content": [{"type": "tool_use", "name": "f", "input": {}}]}]
            ),
            "messages.0.content.0.id",
        ),
        (
            lambda p: p.update(messages=[{"role": "user", "content": [{"type": "tool_result", "content": "x"}]}]),
            "messages.0.content.0.tool_use_id",
        ),
        (
            lambda p: p.update(
                messages=[{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": 1}]}]
            ),
            "messages.0.content.0.content",
        ),
        (lambda p: p.update(system=5), "system"),
        (lambda p: p.update(system=["x"]), "system.0"),
        (lambda p: p.update(temperature="hot"), "temperature"),
        (lambda p: p.update(max_tokens="10"), "max_tokens"),
        (lambda p: p.update(max_tokens=True), "max_tokens"),
        (lambda p: p.update(max_tokens=1.5), "max_tokens"),
        (lambda p: p.update(stream="yes"), "stream"),
        (lambda p: p.update(top_p=[1]), "top_p"),
        (lambda p: p.update(stop_sequences=["a", 1]), "stop_sequences"),
        (lambda p: p.update(stop_sequences="END"), "stop_sequences"),
        (lambda p: p.update(metadata=["u"]), "metadata"),
        (lambda p: p.update(tools={"name": "x"}), "tools"),
        (lambda p: p.update(tools=[{"input_schema": {}}]), "tools.0.name"),
        (lambda p: p.update(tools=[{"name": "x", "input_schema": "obj"}]), "tools.0.input_schema"),
        (lambda p: p.update(tools=[{"name": "x", "input_schema": {}}], tool_choice="auto"), "tool_choice"),
        (lambda p: p.update(thinking="on"), "thinking"),
    ],
)
def test_structurally_invalid_requests_raise_translation_error(mutate: Any, param: str) -> None:
    payload = req()
    mutate(payload)
    with pytest.raises(TranslationError) as info:
        translate(payload)
    assert info.value.param == param
    assert isinstance(info.value, ValueError)
    assert info.value.message


def test_non_object_body_raises() -> None:
    with pytest.raises(TranslationError):
        anthropic_to_openai([])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- properties

_text = st.text(max_size=6)
_block = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": _text}),
    st.fixed_dictionaries(
        {
            "type": st.just("tool_use"),
            "id": st.sampled_from(["a", "b", "c"]),
            "name": st.just("f"),
            "input": st.dictionaries(_text, st.integers(), max_size=2),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("tool_result"),
            "tool_use_id": st.sampled_from(["a", "b", "c", "z"]),
            "content": st.one_of(_text, st.just([{"type": "text", "text": "r"}])),
        },
        optional={"is_error": st.booleans()},
    ),
    st.fixed_dictionaries(
        {"type": st.just("thinking"), "thinking": _text, "signature": st.sampled_from(["", "s", "x@y"])}
    ),
    st.fixed_dictionaries({"type": st.just("image"), "source": st.just({"type": "url", "url": "https://i"})}),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["document", "redacted_thinking", "server_tool_use", "mystery"])},
        optional={"source": st.just({"type": "text", "data": "d"})},
    ),
)
_message = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "assistant", "system"]),
        "content": st.one_of(_text, st.lists(_block, max_size=4)),
    }
)


def test_tool_messages_follow_the_calls_order_whatever_order_the_results_came_in() -> None:
    """Found by the property test below: results for [a, b, c] given as (c, a), b interrupted."""
    calls = [{"type": "tool_use", "id": i, "name": "f", "input": {}} for i in "abc"]
    results = [{"type": "tool_result", "tool_use_id": i, "content": f"result {i}"} for i in "ca"]
    out = msgs(req([{"role": "assistant", "content": calls}, {"role": "user", "content": results}]))
    assert [(m["role"], m.get("tool_call_id"), m.get("content")) for m in out] == [
        ("assistant", None, None),
        ("tool", "a", "result a"),
        ("tool", "b", "Tool call was interrupted; no result is available."),
        ("tool", "c", "result c"),
    ]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=st.lists(_message, max_size=8), model=st.sampled_from(["claude-sonnet-4-5", "gpt-4.1"]))
def test_any_conversation_gives_well_paired_tool_messages(messages: list[dict[str, Any]], model: str) -> None:
    try:
        out = msgs(req(messages, model=model))
    except TranslationError:
        return  # e.g. a duplicate tool_use id would still translate; errors are typed only
    json.dumps(out)
    expected: list[str] = []
    for message in out:
        if message["role"] == "tool":
            # every tool message answers a call of the assistant message just before
            assert expected and message["tool_call_id"] == expected.pop(0)
            continue
        assert not expected, "tool calls left unanswered"
        if message["role"] == "assistant":
            assert message.get("content") or message.get("tool_calls")
            expected = [c["id"] for c in message.get("tool_calls", [])]
            # ids repeated inside one assistant message are answered once
            expected = list(dict.fromkeys(expected))
    assert not expected
    for message in out[1:]:
        assert message["role"] != "system" or model.startswith("gpt")
