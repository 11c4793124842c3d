"""Anthropic Messages served by a Responses model (reference §5-6): request, answer, stream."""

from __future__ import annotations

import json
from typing import Any

import pytest

from copilot_hybrid.errors import TranslationError
from copilot_hybrid.translate.messages_via_responses import (
    ResponsesToMessagesStream,
    messages_to_responses_request,
    responses_to_messages_result,
)
from copilot_hybrid.translate.responses_common import ToolNames

CODEX = {
    "id": "gpt-5.3-codex",
    "supported_endpoints": ["/responses"],
    "capabilities": {
        "limits": {"max_output_tokens": 128_000},
        "supports": {"reasoning_effort": ["low", "medium", "high", "xhigh"]},
    },
}
MCP_TOOL = "mcp__claude_in_chrome__" + "take_a_full_page_screenshot_of_the_current_tab_" * 2
SESSION_USER = json.dumps({"device_id": "d", "account_uuid": "a", "session_id": "sess-42"})


def claude_code_request(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "gpt-5.3-codex",
        "max_tokens": 32_000,
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1; cch=abc\nYou are Claude Code."},
            {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
        ],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "look at the page"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "I should screenshot.", "signature": "ENC1@rs_1"},
                    {"type": "thinking", "thinking": "claude's own", "signature": "EqQBCkgIARABGAIiQ"},
                    {"type": "text", "text": "Taking a screenshot."},
                    {"type": "tool_use", "id": "call_1", "name": MCP_TOOL, "input": {"full": True}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "call_1",
                        "content": [
                            {"type": "text", "text": "captured"},
                            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
                        ],
                    },
                    {"type": "text", "text": "<system-reminder>keep going</system-reminder>"},
                ],
            },
        ],
        "tools": [
            {"name": "Read", "description": "Read a file", "input_schema": {"type": "object", "properties": {}}},
            {"name": MCP_TOOL, "input_schema": {"type": "object"}},
            {"type": "web_search_20250305", "name": "web_search"},
            {"type": "code_execution_20250522", "name": "code_execution"},
        ],
        "tool_choice": {"type": "auto"},
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": "max"},
        "metadata": {"user_id": SESSION_USER},
        "stream": True,
    }
    body.update(extra)
    return body


def test_a_claude_code_request_becomes_a_responses_request() -> None:
    body, names = messages_to_responses_request(claude_code_request(), CODEX)
    assert body["model"] == "gpt-5.3-codex"
    assert body["instructions"] == "You are Claude Code.\n\nBe brief."  # billing line removed
    assert body["reasoning"] == {"effort": "xhigh", "summary": "detailed"}  # max clamped to the model's top
    assert body["include"] == ["reasoning.encrypted_content"]
    assert body["max_output_tokens"] == 32_000
    assert (body["stream"], body["store"], body["prompt_cache_key"]) == (True, False, "sess-42")
    assert "temperature" not in body and "stop" not in body
    short = names.register(MCP_TOOL)
    assert len(short) <= 64
    assert [t.get("name", t["type"]) for t in body["tools"]] == ["Read", short, "web_search"]
    assert body["tool_choice"] == "auto" and body["parallel_tool_calls"] is True
    user, reasoning, message, call, output, reminder = body["input"]
    assert user == {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "look at the page"}]}
    # The reasoning item comes back with its id; Claude's own signature is dropped.
    assert reasoning == {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "I should screenshot."}],
        "encrypted_content": "ENC1",
    }
    assert message["role"] == "assistant" and message["content"] == [
        {"type": "output_text", "text": "Taking a screenshot."}
    ]
    assert call == {
        "type": "function_call",
        "call_id": "call_1",
        "name": short,
        "arguments": '{"full":true}',
        "status": "completed",
    }
    assert output["type"] == "function_call_output" and output["call_id"] == "call_1"
    assert output["output"] == [
        {"type": "input_text", "text": "captured"},
        {"type": "input_image", "image_url": "data:image/png;base64,iVBOR", "detail": "auto"},
    ]
    assert reminder["role"] == "user"


def test_small_max_tokens_get_room_to_reason_and_limits_are_respected() -> None:
    body, _ = messages_to_responses_request(claude_code_request(max_tokens=512), CODEX)
    assert body["max_output_tokens"] == 12_800
    small = {**CODEX, "capabilities": {**CODEX["capabilities"], "limits": {"max_output_tokens": 4_000}}}
    body, _ = messages_to_responses_request(claude_code_request(max_tokens=512), small)
    assert body["max_output_tokens"] == 4_000


def test_thinking_settings_map_to_efforts() -> None:
    enabled = claude_code_request(thinking={"type": "enabled", "budget_tokens": 2_000}, output_config={})
    assert messages_to_responses_request(enabled, CODEX)[0]["reasoning"] == {"effort": "low", "summary": "detailed"}
    disabled = claude_code_request(thinking={"type": "disabled"}, output_config={})
    assert messages_to_responses_request(disabled, CODEX)[0]["reasoning"] == {"effort": "low"}


def test_structured_output_and_forced_tools() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    body, _ = messages_to_responses_request(
        claude_code_request(
            output_config={"format": {"type": "json_schema", "schema": schema}},
            tool_choice={"type": "tool", "name": "Read", "disable_parallel_tool_use": True},
        ),
        CODEX,
    )
    assert body["text"] == {"format": {"type": "json_schema", "name": "output", "schema": schema, "strict": False}}
    assert body["tool_choice"] == {"type": "function", "name": "Read"}
    assert body["parallel_tool_calls"] is False


def test_compaction_items_cut_the_history() -> None:
    messages = [
        {"role": "user", "content": "old"},
        {
            "role": "assistant",
            "content": [{"type": "thinking", "thinking": "Thinking...", "signature": "cm1#BLOB@cmp_1"}],
        },
        {"role": "user", "content": "new"},
    ]
    body, _ = messages_to_responses_request({"model": "gpt-5.3-codex", "max_tokens": 100, "messages": messages}, CODEX)
    assert body["input"][0] == {"type": "compaction", "id": "cmp_1", "encrypted_content": "BLOB"}
    assert body["input"][1]["content"][0]["text"] == "new" and len(body["input"]) == 2


def test_interrupted_tool_calls_get_a_stand_in_output() -> None:
    messages = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}]},
        {"role": "user", "content": "never mind"},
    ]
    body, _ = messages_to_responses_request({"model": "m", "max_tokens": 10, "messages": messages}, CODEX)
    assert [i["type"] for i in body["input"]] == ["message", "function_call", "function_call_output", "message"]
    assert "interrupted" in body["input"][2]["output"]


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({"messages": []}, "model"),
        ({"model": "m", "messages": "hi"}, "messages"),
        ({"model": "m", "messages": [{"role": "robot", "content": "x"}]}, "messages.0.role"),
        (
            {"model": "m", "messages": [{"role": "assistant", "content": [{"type": "tool_use", "name": "x"}]}]},
            "messages.0.content.0.id",
        ),
        ({"model": "m", "max_tokens": "10", "messages": []}, "max_tokens"),
    ],
)
def test_malformed_requests_name_the_field(payload: dict[str, Any], param: str) -> None:
    with pytest.raises(TranslationError) as caught:
        messages_to_responses_request(payload, CODEX)
    assert caught.value.param == param


# --------------------------------------------------------------------------- answer

USAGE = {"input_tokens": 120, "input_tokens_details": {"cached_tokens": 100}, "output_tokens": 30, "total_tokens": 150}


def test_a_response_becomes_an_anthropic_message() -> None:
    names = ToolNames()
    short = names.register(MCP_TOOL)
    result = {
        "id": "resp_1",
        "model": "gpt-5.3-codex",
        "status": "completed",
        "output": [
            {
                "type": "reasoning",
                "id": "rs_9",
                "summary": [{"type": "summary_text", "text": "plan"}],
                "encrypted_content": "ENC9",
            },
            {"type": "reasoning", "id": "rs_10", "summary": [], "encrypted_content": "ENC10"},
            {"type": "message", "id": "msg_1", "content": [{"type": "output_text", "text": "Here."}]},
            {"type": "function_call", "id": "fc_1", "call_id": "call_7", "name": short, "arguments": '{"full":true}'},
        ],
        "usage": USAGE,
    }
    message = responses_to_messages_result(result, names)
    assert message["content"] == [
        {"type": "thinking", "thinking": "plan", "signature": "ENC9@rs_9"},
        {"type": "thinking", "thinking": "Thinking...", "signature": "ENC10@rs_10"},
        {"type": "text", "text": "Here."},
        {"type": "tool_use", "id": "call_7", "name": MCP_TOOL, "input": {"full": True}},
    ]
    assert message["stop_reason"] == "tool_use"
    assert message["usage"] == {"input_tokens": 20, "output_tokens": 30, "cache_read_input_tokens": 100}
    # ... and its thinking survives the next request
    replay = {
        "model": "gpt-5.3-codex",
        "max_tokens": 100,
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": message["content"]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_7", "content": "ok"}]},
        ],
    }
    body, _ = messages_to_responses_request(replay, CODEX)
    assert [i["type"] for i in body["input"]] == [
        "message",
        "reasoning",
        "reasoning",
        "message",
        "function_call",
        "function_call_output",
    ]
    assert body["input"][1]["encrypted_content"] == "ENC9" and body["input"][2]["summary"] == []


def test_incomplete_and_failed_responses() -> None:
    incomplete = {"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}, "output": []}
    assert responses_to_messages_result(incomplete)["stop_reason"] == "max_tokens"
    failed = {"status": "failed", "error": {"code": "server_error", "message": "boom"}}
    assert responses_to_messages_result(failed) == {"type": "error", "error": {"type": "api_error", "message": "boom"}}


# --------------------------------------------------------------------------- stream


def stream(events: list[dict[str, Any]], names: ToolNames | None = None) -> list[dict[str, Any]]:
    translator = ResponsesToMessagesStream(names, model="gpt-5.3-codex")
    out: list[dict[str, Any]] = []
    for event in events:
        out.extend(translator.feed(event))
    out.extend(translator.finish())
    return out


def copilot_stream() -> list[dict[str, Any]]:
    """What Copilot streams for reasoning, text and a call (differing ids included)."""
    return [
        {"type": "response.created", "response": {"id": "resp_1", "model": "gpt-5.3-codex", "usage": None}},
        {"type": "response.in_progress", "response": {"id": "resp_1"}},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"type": "reasoning", "id": "rs_1", "summary": []},
        },
        {"type": "response.reasoning_summary_part.added", "output_index": 0, "item_id": "rs_1", "summary_index": 0},
        {
            "type": "response.reasoning_summary_text.delta",
            "output_index": 0,
            "item_id": "rs_1",
            "summary_index": 0,
            "delta": "Plan",
        },
        {
            "type": "response.reasoning_summary_text.done",
            "output_index": 0,
            "item_id": "rs_1",
            "summary_index": 0,
            "text": "Plan",
        },
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "Plan"}],
                "encrypted_content": "ENC",
            },
        },
        {
            "type": "response.output_item.added",
            "output_index": 1,
            "item": {"type": "message", "id": "msg_a", "content": []},
        },
        {
            "type": "response.output_text.delta",
            "output_index": 1,
            "item_id": "msg_a",
            "content_index": 0,
            "delta": "Hi ",
        },
        {
            "type": "response.output_text.delta",
            "output_index": 1,
            "item_id": "msg_a",
            "content_index": 0,
            "delta": "there",
        },
        {
            "type": "response.output_text.done",
            "output_index": 1,
            "item_id": "msg_a",
            "content_index": 0,
            "text": "Hi there",
        },
        {
            "type": "response.output_item.done",
            "output_index": 1,
            "item": {"type": "message", "id": "msg_b", "content": []},
        },
        {
            "type": "response.output_item.added",
            "output_index": 2,
            "item": {"type": "function_call", "id": "fc_a", "call_id": "call_1", "name": "Read", "arguments": ""},
        },
        {"type": "response.function_call_arguments.delta", "output_index": 2, "item_id": "fc_a", "delta": '{"path":'},
        {"type": "response.function_call_arguments.delta", "output_index": 2, "item_id": "fc_a", "delta": '"a.txt"}'},
        {
            "type": "response.function_call_arguments.done",
            "output_index": 2,
            "item_id": "fc_a",
            "arguments": '{"path":"a.txt"}',
        },
        {
            "type": "response.output_item.done",
            "output_index": 2,
            "item": {
                "type": "function_call",
                "id": "fc_b",
                "call_id": "call_1",
                "name": "Read",
                "arguments": '{"path":"a.txt"}',
            },
        },
        {"type": "response.completed", "response": {"id": "resp_1", "status": "completed", "usage": USAGE}},
    ]


def test_a_copilot_stream_becomes_anthropic_events() -> None:
    out = stream(copilot_stream())
    assert out[0]["type"] == "message_start" and out[0]["message"]["id"] == "resp_1"
    assert [e["type"] for e in out[1:]] == [
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop",
    ]  # fmt: skip
    assert out[1]["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}
    assert out[2]["delta"] == {"type": "thinking_delta", "thinking": "Plan"}
    assert out[3]["delta"] == {"type": "signature_delta", "signature": "ENC@rs_1"}
    assert [e["delta"]["text"] for e in out[6:8]] == ["Hi ", "there"]
    assert out[9]["content_block"] == {"type": "tool_use", "id": "call_1", "name": "Read", "input": {}}
    assert "".join(e["delta"]["partial_json"] for e in out[10:12]) == '{"path":"a.txt"}'
    assert out[-2]["delta"]["stop_reason"] == "tool_use"
    assert out[-2]["usage"] == {"input_tokens": 20, "output_tokens": 30, "cache_read_input_tokens": 100}
    assert [e["index"] for e in out if e["type"] == "content_block_start"] == [0, 1, 2]


def test_a_stream_of_done_items_only_still_delivers_everything() -> None:
    events = [
        e
        for e in copilot_stream()
        if e["type"] in ("response.created", "response.output_item.done", "response.completed")
    ]
    out = stream(events)
    deltas = [e["delta"] for e in out if e["type"] == "content_block_delta"]
    assert deltas == [
        {"type": "thinking_delta", "thinking": "Plan"},
        {"type": "signature_delta", "signature": "ENC@rs_1"},
        {"type": "input_json_delta", "partial_json": '{"path":"a.txt"}'},
    ]  # the message item had no content in its done event


def test_long_tool_names_come_back_in_the_stream() -> None:
    names = ToolNames()
    short = names.register(MCP_TOOL)
    out = stream(
        [
            {
                "type": "response.output_item.added",
                "output_index": 0,
                "item": {"type": "function_call", "call_id": "c", "name": short},
            },
            {"type": "response.completed", "response": {}},
        ],
        names,
    )
    assert out[1]["content_block"]["name"] == MCP_TOOL


def test_failures_end_in_one_error_event() -> None:
    failed = stream([copilot_stream()[0], {"type": "response.failed", "response": {"error": {"message": "quota"}}}])
    assert [e["type"] for e in failed] == ["message_start", "error"]
    assert failed[-1]["error"]["message"] == "quota"
    cut = stream(copilot_stream()[:9])
    assert cut[-1] == {
        "type": "error",
        "error": {"type": "api_error", "message": "Responses stream ended without completion"},
    }
    assert cut[-2]["type"] == "content_block_stop"  # the open text block was closed first
    incomplete = stream(
        [{"type": "response.incomplete", "response": {"incomplete_details": {"reason": "max_output_tokens"}}}]
    )
    assert incomplete[-2]["delta"]["stop_reason"] == "max_tokens"


def test_documents_errors_and_orphaned_results() -> None:
    messages = [
        {
            "role": "user",
            "content": [
                {
                    "type": "document",
                    "title": "spec.pdf",
                    "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBER"},
                },
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain text"}},
                {"type": "tool_result", "tool_use_id": "gone", "content": "old result"},
            ],
        },
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "false"}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "exit 1", "is_error": True}],
        },
    ]
    body, _ = messages_to_responses_request({"model": "m", "max_tokens": 10, "messages": messages}, CODEX)
    first = body["input"][0]["content"]
    assert first[0] == {"type": "input_text", "text": "[Result of tool call gone]\nold result"}  # no call before it
    assert first[1] == {"type": "input_file", "filename": "spec.pdf", "file_data": "data:application/pdf;base64,JVBER"}
    assert first[2] == {"type": "input_text", "text": "plain text"}
    assert body["input"][-1] == {"type": "function_call_output", "call_id": "t1", "output": "Error:\n\nexit 1"}
