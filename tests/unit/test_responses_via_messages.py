"""The Responses API (Codex) served by a Claude model over native /v1/messages: request, answer, stream."""

from __future__ import annotations

import json
from typing import Any

import pytest

from copilot_hybrid.errors import TranslationError
from copilot_hybrid.translate.responses_common import ToolNames, decode_carrier, encode_carrier
from copilot_hybrid.translate.responses_via_messages import (
    MessagesToResponsesStream,
    messages_to_responses_result,
    responses_to_messages_request,
)

OPUS = {
    "id": "claude-opus-4.6",
    "supported_endpoints": ["/v1/messages", "/chat/completions"],
    "capabilities": {
        "limits": {"max_output_tokens": 32_000, "max_non_streaming_output_tokens": 16_000},
        "supports": {
            "adaptive_thinking": True,
            "min_thinking_budget": 1_024,
            "max_thinking_budget": 32_000,
            "reasoning_effort": ["low", "medium", "high"],
        },
    },
}
HAIKU = {
    "id": "claude-haiku-4.5",
    "capabilities": {
        "limits": {"max_output_tokens": 16_000},
        "supports": {"min_thinking_budget": 1_024, "max_thinking_budget": 32_000},
    },
}
APPLY_PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Edit files.",
    "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"},
}
PATCH = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch\n"
SIGNATURE = "EqQBCkgIARABGAIiQ"


def text(role: str, value: str, kind: str = "input_text") -> dict[str, Any]:
    return {"type": "message", "role": role, "content": [{"type": kind, "text": value}]}


def codex_request(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "claude-opus-4.6",
        "stream": True,
        "input": [
            text("developer", "You are Codex."),
            text("user", "<environment_context>cwd</environment_context>"),
            text("user", "add a.txt"),
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "I will patch."}],
                "encrypted_content": encode_carrier("anthropic_signature", SIGNATURE),
            },
            {
                "type": "reasoning",
                "id": "rs_2",
                "summary": [],
                "encrypted_content": encode_carrier("anthropic_redacted", "REDACTED"),
            },
            {"type": "reasoning", "id": "rs_3", "summary": [], "encrypted_content": "gAAAAB-openai-blob"},
            {"type": "custom_tool_call", "id": "ctc_1", "call_id": "toolu_1", "name": "apply_patch", "input": PATCH},
            {"type": "custom_tool_call_output", "call_id": "toolu_1", "output": "Success."},
            text("developer", "Approvals changed."),
            text("user", "now run ls"),
        ],
        "tools": [
            {
                "type": "function",
                "name": "exec_command",
                "description": "Run",
                "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}},
            },
            APPLY_PATCH,
            {
                "type": "namespace",
                "name": "multi_agent_v1",
                "tools": [{"type": "function", "name": "spawn_agent", "parameters": {"type": "object"}}],
            },
            {"type": "web_search"},
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "reasoning": {"effort": "xhigh", "summary": "auto"},
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "s1",
    }
    body.update(extra)
    return body


def test_a_codex_request_becomes_a_messages_request() -> None:
    body, names = responses_to_messages_request(codex_request(), OPUS)
    assert body["model"] == "claude-opus-4.6"
    assert body["max_tokens"] == 32_000 and body["stream"] is True
    assert body["system"] == [{"type": "text", "text": "You are Codex.", "cache_control": {"type": "ephemeral"}}]
    assert body["thinking"] == {"type": "adaptive"}
    assert body["output_config"] == {"effort": "high"}  # xhigh clamped to Opus's list
    assert "temperature" not in body
    assert [t["name"] for t in body["tools"]] == ["exec_command", "apply_patch", "multi_agent_v1__spawn_agent"]
    assert body["tools"][1]["input_schema"]["required"] == ["input"]
    assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "tool_choice" not in body  # auto is the default
    first, assistant, results = body["messages"]
    assert first == {
        "role": "user",
        "content": [
            {"type": "text", "text": "<environment_context>cwd</environment_context>"},
            {"type": "text", "text": "add a.txt"},
        ],
    }
    assert assistant["content"] == [
        {"type": "thinking", "thinking": "I will patch.", "signature": SIGNATURE},
        {"type": "redacted_thinking", "data": "REDACTED"},
        {"type": "tool_use", "id": "toolu_1", "name": "apply_patch", "input": {"input": PATCH}},
    ]  # the OpenAI blob is dropped
    assert results["content"][0] == {"type": "tool_result", "tool_use_id": "toolu_1", "content": "Success."}
    assert results["content"][1]["text"] == "<system-reminder>\nApprovals changed.\n</system-reminder>"
    assert results["content"][-1]["cache_control"] == {"type": "ephemeral"}  # newest block: cache breakpoint
    assert names.is_custom("apply_patch")


def test_non_stream_requests_use_the_non_streaming_limit() -> None:
    body, _ = responses_to_messages_request(codex_request(stream=False), OPUS)
    assert body["max_tokens"] == 16_000 and body["stream"] is False
    body, _ = responses_to_messages_request(codex_request(max_output_tokens=2_000), OPUS)
    assert body["max_tokens"] == 2_000


def test_budget_thinking_for_models_without_adaptive_thinking() -> None:
    body, _ = responses_to_messages_request(
        codex_request(model="claude-haiku-4.5", reasoning={"effort": "medium"}, max_output_tokens=10_000), HAIKU
    )
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1_024 + (9_999 - 1_024) // 2}
    body, _ = responses_to_messages_request(
        codex_request(reasoning={"effort": "none"}, temperature=0.5, top_p=0.9), OPUS
    )
    assert "thinking" not in body and body["temperature"] == 0.5 and "top_p" not in body


def test_forced_tools_switch_thinking_off_and_parallel_calls_map() -> None:
    body, _ = responses_to_messages_request(codex_request(tool_choice="required", parallel_tool_calls=False), OPUS)
    assert body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert "thinking" not in body and "effort" not in body.get("output_config", {})


def test_structured_output_and_files() -> None:
    request = codex_request(
        text={"format": {"type": "json_schema", "name": "r", "schema": {"type": "object"}}},
        input=[
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_image", "image_url": "data:image/jpeg;base64,/9j/"},
                    {"type": "input_image", "image_url": "https://example.test/a.png"},
                    {"type": "input_file", "filename": "spec.pdf", "file_data": "data:application/pdf;base64,JVBER"},
                ],
            }
        ],
    )
    body, _ = responses_to_messages_request(request, OPUS)
    assert body["output_config"]["format"] == {"type": "json_schema", "schema": {"type": "object"}}
    blocks = body["messages"][0]["content"]
    assert blocks[0]["source"] == {"type": "base64", "media_type": "image/jpeg", "data": "/9j/"}
    assert blocks[1]["source"] == {"type": "url", "url": "https://example.test/a.png"}
    assert {k: blocks[2][k] for k in ("type", "source", "title")} == {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBER"},
        "title": "spec.pdf",
    }


def test_unanswered_calls_get_stand_in_results() -> None:
    request = codex_request(
        input=[
            text("user", "go"),
            {"type": "function_call", "call_id": "t1", "name": "exec_command", "arguments": "{}"},
        ]
    )
    body, _ = responses_to_messages_request(request, OPUS)
    assert body["messages"][-1]["content"][0]["tool_use_id"] == "t1"
    assert "interrupted" in body["messages"][-1]["content"][0]["content"]


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({"input": "x"}, "model"),
        ({"model": "m", "input": 3}, "input"),
        ({"model": "m", "input": [text("developer", "only instructions")]}, "input"),
        ({"model": "m", "input": "x", "previous_response_id": "resp_1"}, "previous_response_id"),
    ],
)
def test_requests_that_cannot_work_name_the_field(payload: dict[str, Any], param: str) -> None:
    with pytest.raises(TranslationError) as caught:
        responses_to_messages_request(payload, OPUS)
    assert caught.value.param == param


def names_for_codex() -> ToolNames:
    return responses_to_messages_request(codex_request(), OPUS)[1]


def test_an_anthropic_message_becomes_a_response() -> None:
    message = {
        "id": "msg_1",
        "model": "claude-opus-4.6",
        "content": [
            {"type": "thinking", "thinking": "plan", "signature": SIGNATURE},
            {"type": "text", "text": "Patching."},
            {"type": "tool_use", "id": "toolu_2", "name": "apply_patch", "input": {"input": PATCH}},
            {"type": "tool_use", "id": "toolu_3", "name": "multi_agent_v1__spawn_agent", "input": {"task": "x"}},
        ],
        "stop_reason": "tool_use",
        "usage": {
            "input_tokens": 10,
            "cache_read_input_tokens": 90,
            "cache_creation_input_tokens": 5,
            "output_tokens": 20,
        },
    }
    result = messages_to_responses_result(message, names_for_codex(), request=codex_request())
    reasoning, text_item, custom, function = result["output"]
    assert decode_carrier(reasoning["encrypted_content"], "anthropic_signature") == SIGNATURE
    assert reasoning["summary"] == [{"type": "summary_text", "text": "plan"}]
    assert text_item["content"][0]["text"] == "Patching."
    assert (custom["type"], custom["name"], custom["input"], custom["call_id"]) == (
        "custom_tool_call",
        "apply_patch",
        PATCH,
        "toolu_2",
    )
    assert (function["namespace"], function["name"], json.loads(function["arguments"])) == (
        "multi_agent_v1",
        "spawn_agent",
        {"task": "x"},
    )
    assert result["usage"] == {
        "input_tokens": 105,
        "input_tokens_details": {"cached_tokens": 90},
        "output_tokens": 20,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 125,
    }
    assert result["status"] == "completed"
    # Claude gets its signed thinking back on the next turn.
    replay = codex_request(
        input=[
            text("user", "go"),
            reasoning,
            custom,
            {"type": "custom_tool_call_output", "call_id": "toolu_2", "output": "ok"},
        ]
    )
    body, _ = responses_to_messages_request(replay, OPUS)
    assert body["messages"][1]["content"][0] == {"type": "thinking", "thinking": "plan", "signature": SIGNATURE}
    assert messages_to_responses_result({"content": [], "stop_reason": "max_tokens"})["status"] == "incomplete"


def run(events: list[dict[str, Any]], names: ToolNames | None = None) -> list[dict[str, Any]]:
    translator = MessagesToResponsesStream(names, model="claude-opus-4.6")
    out: list[dict[str, Any]] = []
    for event in events:
        out.extend(translator.feed(event))
    out.extend(translator.finish())
    return out


def anthropic_stream() -> list[dict[str, Any]]:
    arguments = json.dumps({"input": PATCH})
    return [
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "model": "claude-opus-4.6",
                "usage": {"input_tokens": 10, "cache_read_input_tokens": 90, "output_tokens": 1},
            },
        },
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""},
        },
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "plan"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": SIGNATURE}},
        {"type": "content_block_stop", "index": 0},
        {"type": "ping"},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Patch"}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "ing."}},
        {"type": "content_block_stop", "index": 1},
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {"type": "tool_use", "id": "toolu_2", "name": "apply_patch", "input": {}},
        },
        *(
            {
                "type": "content_block_delta",
                "index": 2,
                "delta": {"type": "input_json_delta", "partial_json": arguments[i : i + 5]},
            }
            for i in range(0, len(arguments), 5)
        ),
        {"type": "content_block_stop", "index": 2},
        {
            "type": "content_block_start",
            "index": 3,
            "content_block": {"type": "tool_use", "id": "toolu_3", "name": "exec_command", "input": {}},
        },
        {"type": "content_block_stop", "index": 3},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 40}},
        {"type": "message_stop"},
    ]


def test_an_anthropic_stream_becomes_responses_events() -> None:
    events = run(anthropic_stream(), names_for_codex())
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert events[0]["response"]["id"] == "msg_1"
    assert "".join(e["delta"] for e in events if e["type"] == "response.reasoning_summary_text.delta") == "plan"
    assert "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta") == "Patching."
    assert "".join(e["delta"] for e in events if e["type"] == "response.custom_tool_call_input.delta") == PATCH
    output = events[-1]["response"]["output"]
    assert [o["type"] for o in output] == ["reasoning", "message", "custom_tool_call", "function_call"]
    assert decode_carrier(output[0]["encrypted_content"], "anthropic_signature") == SIGNATURE
    assert output[2]["input"] == PATCH and output[3]["arguments"] == "{}"
    usage = events[-1]["response"]["usage"]
    assert (usage["input_tokens"], usage["input_tokens_details"]["cached_tokens"], usage["output_tokens"]) == (
        100,
        90,
        40,
    )


def test_anthropic_stream_endings() -> None:
    cut = run(anthropic_stream()[:8])
    assert cut[-1]["type"] == "response.failed" and "without completion" in cut[-1]["response"]["error"]["message"]
    assert cut[-1]["response"]["output"][0]["type"] == "reasoning"  # finished items are kept
    error = run(
        [*anthropic_stream()[:3], {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}]
    )
    assert error[-1]["response"]["error"] == {"code": "overloaded_error", "message": "Overloaded"}
    capped = run(
        [
            anthropic_stream()[0],
            {"type": "message_delta", "delta": {"stop_reason": "max_tokens"}},
            {"type": "message_stop"},
        ]
    )
    assert capped[-1]["type"] == "response.incomplete"
    # message_delta said how it ended, then the stream closed: that is an ending.
    no_stop = run([anthropic_stream()[0], {"type": "message_delta", "delta": {"stop_reason": "end_turn"}}])
    assert no_stop[-1]["type"] == "response.completed"
