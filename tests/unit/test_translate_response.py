"""OpenAI chat completion -> Anthropic message (spec §8.2) and error helpers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from copilot_hybrid.translate import (
    anthropic_error,
    anthropic_error_from_upstream,
    anthropic_usage,
    error_type_for_status,
    map_stop_reason,
    openai_to_anthropic,
    parse_tool_arguments,
)


def completion(*choices: dict[str, Any], usage: Any = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-123",
        "object": "chat.completion",
        "model": "claude-sonnet-4.5",
        "choices": list(choices),
    }
    if usage is not None:
        body["usage"] = usage
    body.update(extra)
    return body


def choice(message: dict[str, Any], finish: str | None = "stop", index: int = 0) -> dict[str, Any]:
    return {"index": index, "message": {"role": "assistant", **message}, "finish_reason": finish}


def call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def test_text_response_shape_and_key_order() -> None:
    out = openai_to_anthropic(
        completion(choice({"content": "Hello"}), usage={"prompt_tokens": 10, "completion_tokens": 3})
    )
    assert out == {
        "id": "chatcmpl-123",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4.5",
        "content": [{"type": "text", "text": "Hello"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 3},
    }
    assert list(out) == ["id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"]


def test_all_choices_are_merged_text_first_then_tools() -> None:
    response = completion(
        choice({"content": "Let me check."}, finish="stop", index=0),
        choice({"content": None, "tool_calls": [call("call_1", "Read", '{"path":"a"}')]}, finish="tool_calls", index=1),
        choice({"content": "More."}, finish="stop", index=2),
    )
    out = openai_to_anthropic(response)
    assert out["content"] == [
        {"type": "text", "text": "Let me check."},
        {"type": "text", "text": "More."},
        {"type": "tool_use", "id": "call_1", "name": "Read", "input": {"path": "a"}},
    ]
    assert out["stop_reason"] == "tool_use"


def test_reasoning_becomes_a_leading_thinking_block() -> None:
    response = completion(choice({"content": "42", "reasoning_text": "think", "reasoning_opaque": "SIG"}))
    assert openai_to_anthropic(response)["content"] == [
        {"type": "thinking", "thinking": "think", "signature": "SIG"},
        {"type": "text", "text": "42"},
    ]
    only_sig = completion(choice({"content": "x", "reasoning_opaque": "SIG"}))
    assert openai_to_anthropic(only_sig)["content"][0] == {"type": "thinking", "thinking": "", "signature": "SIG"}


def test_content_forms() -> None:
    # copilot-api emitted an empty text block for "" (Claude rejects it when replayed).
    assert openai_to_anthropic(completion(choice({"content": ""})))["content"] == []
    assert openai_to_anthropic(completion(choice({"content": None})))["content"] == []
    parts = [{"type": "text", "text": "a"}, {"type": "refusal", "refusal": "no"}, {"type": "text", "text": "b"}]
    assert openai_to_anthropic(completion(choice({"content": parts})))["content"] == [
        {"type": "text", "text": "a"},
        {"type": "text", "text": "b"},
    ]


@pytest.mark.parametrize(
    ("finish", "expected"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("function_call", "tool_use"),
        ("content_filter", "end_turn"),
        # copilot-api left the key undefined for these (quirk).
        ("something_new", "end_turn"),
        (None, "end_turn"),
    ],
)
def test_stop_reason_mapping(finish: str | None, expected: str) -> None:
    assert openai_to_anthropic(completion(choice({"content": "x"}, finish=finish)))["stop_reason"] == expected


def test_map_stop_reason_keeps_null_for_streams() -> None:
    assert map_stop_reason(None) is None
    assert map_stop_reason("weird") == "end_turn"


def test_finish_reason_merge_rule_across_choices() -> None:
    def stop_of(*reasons: str | None) -> str:
        response = completion(*(choice({"content": "x"}, finish=r, index=i) for i, r in enumerate(reasons)))
        return str(openai_to_anthropic(response)["stop_reason"])

    assert stop_of("stop", "length") == "max_tokens"  # a later reason replaces stop
    assert stop_of("length", "stop") == "max_tokens"  # but nothing else replaces length
    assert stop_of("length", "tool_calls") == "tool_use"  # tool_calls always wins


def test_tool_calls_with_stop_finish_reason_report_tool_use() -> None:
    response = completion(choice({"content": None, "tool_calls": [call("c", "Bash", "{}")]}, finish="stop"))
    assert openai_to_anthropic(response)["stop_reason"] == "tool_use"
    truncated = completion(choice({"content": None, "tool_calls": [call("c", "Bash", '{"a"')]}, finish="length"))
    assert openai_to_anthropic(truncated)["stop_reason"] == "max_tokens"


def test_usage_subtracts_cache_and_reports_it() -> None:
    usage = {"prompt_tokens": 1000, "completion_tokens": 50, "prompt_tokens_details": {"cached_tokens": 800}}
    assert openai_to_anthropic(completion(choice({"content": "x"}), usage=usage))["usage"] == {
        "input_tokens": 200,
        "output_tokens": 50,
        "cache_read_input_tokens": 800,
    }


def test_usage_cache_fields_present_only_when_reported() -> None:
    assert anthropic_usage(
        {"prompt_tokens": 5, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 0}}
    ) == {
        "input_tokens": 5,
        "output_tokens": 1,
        "cache_read_input_tokens": 0,
    }
    assert anthropic_usage({"prompt_tokens": 5, "prompt_tokens_details": {}}) == {"input_tokens": 5, "output_tokens": 0}
    assert anthropic_usage(None) == {"input_tokens": 0, "output_tokens": 0}
    assert anthropic_usage(
        {
            "prompt_tokens": 100,
            "completion_tokens": 1,
            "prompt_tokens_details": {"cached_tokens": 30, "cache_creation_input_tokens": 20},
        }
    ) == {"input_tokens": 50, "output_tokens": 1, "cache_read_input_tokens": 30, "cache_creation_input_tokens": 20}


def test_usage_never_negative_or_non_numeric() -> None:
    assert anthropic_usage(
        {"prompt_tokens": 5, "completion_tokens": "7", "prompt_tokens_details": {"cached_tokens": 9}}
    ) == {
        "input_tokens": 0,
        "output_tokens": 0,
        "cache_read_input_tokens": 9,
    }


def test_missing_usage_gives_zeros() -> None:
    assert openai_to_anthropic(completion(choice({"content": "x"})))["usage"] == {"input_tokens": 0, "output_tokens": 0}


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"a":1,"b":[true,null]}', {"a": 1, "b": [True, None]}),
        ("", {}),
        ("  ", {}),
        (None, {}),
        ("[1,2]", {"value": [1, 2]}),
        ("7", {"value": 7}),
        (
            '{"path": "/tmp/x", "content": "unterminated',
            {"_raw_arguments": '{"path": "/tmp/x", "content": "unterminated'},
        ),
        ("not json", {"_raw_arguments": "not json"}),
    ],
)
def test_tool_arguments_never_fail(arguments: Any, expected: dict[str, Any]) -> None:
    assert parse_tool_arguments(arguments) == expected
    response = completion(
        choice({"content": None, "tool_calls": [call("c1", "Write", arguments)]}, finish="tool_calls")
    )
    assert openai_to_anthropic(response)["content"][0]["input"] == expected


def test_tool_call_without_name_is_skipped_and_missing_id_generated() -> None:
    calls = [
        {"id": "x", "type": "function", "function": {"arguments": "{}"}},
        {"type": "function", "function": {"name": "Ls", "arguments": "{}"}},
        "garbage",
    ]
    out = openai_to_anthropic(completion(choice({"content": None, "tool_calls": calls}, finish="tool_calls")))
    assert len(out["content"]) == 1
    block = out["content"][0]
    assert block["name"] == "Ls" and block["id"].startswith("toolu_") and len(block["id"]) > 10


def test_degenerate_responses_do_not_raise() -> None:
    responses: tuple[dict[str, Any], ...] = (
        {},
        {"choices": None},
        {"choices": ["x", {"message": None}]},
        {"id": 5, "model": None, "choices": []},
    )
    for response in responses:
        out = openai_to_anthropic(response)
        assert out["content"] == [] and out["stop_reason"] == "end_turn"
        assert out["id"].startswith("msg_")
        json.dumps(out)


# --------------------------------------------------------------------------- errors


def test_anthropic_error_shape() -> None:
    assert anthropic_error("boom") == {"type": "error", "error": {"type": "api_error", "message": "boom"}}
    assert anthropic_error("slow", error_type="overloaded_error")["error"]["type"] == "overloaded_error"


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (418, "invalid_request_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (502, "api_error"),
        (503, "overloaded_error"),
        (529, "overloaded_error"),
    ],
)
def test_error_type_for_status(status: int, kind: str) -> None:
    assert error_type_for_status(status) == kind


def test_upstream_error_message_is_extracted() -> None:
    body = '{"error":{"message":"The requested model is not supported.","code":"model_not_supported"}}'
    assert anthropic_error_from_upstream(400, body) == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "The requested model is not supported."},
    }
    assert anthropic_error_from_upstream(429, b'{"message":"quota"}')["error"] == {
        "type": "rate_limit_error",
        "message": "quota",
    }
    assert anthropic_error_from_upstream(500, "plain failure\n")["error"]["message"] == "plain failure"
    assert anthropic_error_from_upstream(502, "")["error"]["message"] == "upstream returned HTTP 502"
    assert anthropic_error_from_upstream(400, '{"error":"bad"}')["error"]["message"] == "bad"
