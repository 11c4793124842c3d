"""The Responses API (Codex) served by a chat-completions model: request, answer, stream."""

from __future__ import annotations

import json
from typing import Any

import pytest

from copilot_hybrid.errors import TranslationError
from copilot_hybrid.translate.responses_common import encode_carrier
from copilot_hybrid.translate.responses_via_chat import (
    ChatToResponsesStream,
    chat_to_responses_result,
    max_tokens_field,
    responses_to_chat_request,
)

GPT_4_1 = {"id": "gpt-4.1", "capabilities": {"limits": {"max_output_tokens": 16_384}, "supports": {"tool_calls": True}}}
CLAUDE_CHAT = {
    "id": "claude-sonnet-4",
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


def text(role: str, value: str, kind: str = "input_text") -> dict[str, Any]:
    return {"type": "message", "role": role, "content": [{"type": kind, "text": value}]}


def codex_request(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "gpt-4.1",
        "stream": True,
        "instructions": "Be Codex.",
        "input": [
            text("developer", "base prompt"),
            text("user", "fix it"),
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAAB-openai"},
            {
                "type": "reasoning",
                "id": "rs_2",
                "summary": [{"type": "summary_text", "text": "hm"}],
                "encrypted_content": encode_carrier("chat_opaque", "OPAQUE"),
            },
            text("assistant", "Looking.", "output_text"),
            {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "call_1",
                "name": "exec_command",
                "arguments": '{"cmd":"ls"}',
            },
            {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_2", "name": "apply_patch", "input": PATCH},
            {
                "type": "function_call_output",
                "call_id": "call_1",
                "output": [
                    {"type": "input_text", "text": "a.txt"},
                    {"type": "input_image", "image_url": "data:image/png;base64,AA"},
                ],
            },
            {"type": "custom_tool_call_output", "call_id": "call_2", "output": "Success."},
            {
                "type": "function_call",
                "call_id": "call_3",
                "namespace": "multi_agent_v1",
                "name": "spawn_agent",
                "arguments": "{}",
            },
            {"type": "function_call_output", "call_id": "call_3", "output": "spawned"},
        ],
        "tools": [
            {
                "type": "function",
                "name": "exec_command",
                "description": "Run",
                "parameters": {"type": "object"},
                "strict": False,
            },
            APPLY_PATCH,
            {
                "type": "namespace",
                "name": "multi_agent_v1",
                "tools": [{"type": "function", "name": "spawn_agent", "parameters": {"type": "object"}}],
            },
            {"type": "web_search", "external_web_access": False},
            {"type": "tool_search", "execution": "client"},
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "s1",
        "max_output_tokens": 100_000,
    }
    body.update(extra)
    return body


def test_a_codex_request_becomes_a_chat_request() -> None:
    body, names = responses_to_chat_request(codex_request(), GPT_4_1)
    assert body["messages"] == [
        {"role": "system", "content": "Be Codex."},
        {"role": "system", "content": "base prompt"},
        {"role": "user", "content": "fix it"},
        {
            "role": "assistant",
            "content": "Looking.",
            "reasoning_text": "hm",
            "reasoning_opaque": "OPAQUE",  # the OpenAI blob is dropped, the chat model's own comes back
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "exec_command", "arguments": '{"cmd":"ls"}'}},
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "apply_patch", "arguments": json.dumps({"input": PATCH})},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "a.txt\n\n[image attached in the next message]"},
        {"role": "tool", "tool_call_id": "call_2", "content": "Success."},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_3",
                    "type": "function",
                    "function": {"name": "multi_agent_v1__spawn_agent", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_3", "content": "spawned"},
    ]
    assert [t["function"]["name"] for t in body["tools"]] == [
        "exec_command",
        "apply_patch",
        "multi_agent_v1__spawn_agent",
    ]
    assert body["tools"][1]["function"]["parameters"]["required"] == ["input"]
    assert (body["tool_choice"], body["parallel_tool_calls"], body["stream"]) == ("auto", True, True)
    assert body["max_tokens"] == 16_384  # clamped to the model, in the field it takes
    assert "reasoning_effort" not in body  # gpt-4.1 lists no efforts
    for dropped in ("store", "include", "prompt_cache_key", "reasoning", "instructions", "input"):
        assert dropped not in body
    assert names.is_custom("apply_patch")
    assert names.client("multi_agent_v1__spawn_agent").namespace == "multi_agent_v1"


def test_efforts_and_output_limits_as_each_model_takes_them() -> None:
    assert max_tokens_field("gpt-5-mini") == "max_completion_tokens"
    assert max_tokens_field("o3-mini") == "max_completion_tokens"
    assert max_tokens_field("claude-sonnet-4") == "max_tokens"
    gpt5 = {"id": "gpt-5-mini", "capabilities": {"supports": {"reasoning_effort": ["low", "medium", "high"]}}}
    body, _ = responses_to_chat_request(codex_request(model="gpt-5-mini", reasoning={"effort": "xhigh"}), gpt5)
    assert body["reasoning_effort"] == "high" and body["max_completion_tokens"] == 100_000
    body, _ = responses_to_chat_request(
        codex_request(model="claude-sonnet-4", reasoning={"effort": "medium"}, max_output_tokens=8_000), CLAUDE_CHAT
    )
    assert body["thinking_budget"] == 1_024 + (7_999 - 1_024) // 2  # half the range, below max_tokens


def test_structured_output_and_tool_choice() -> None:
    body, _ = responses_to_chat_request(
        codex_request(
            text={"format": {"type": "json_schema", "name": "r", "schema": {"type": "object"}, "strict": True}},
            tool_choice={"type": "custom", "name": "apply_patch"},
        ),
        GPT_4_1,
    )
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "r", "schema": {"type": "object"}, "strict": True},
    }
    assert body["tool_choice"] == {"type": "function", "function": {"name": "apply_patch"}}


def test_string_input_and_state_that_cannot_work() -> None:
    body, _ = responses_to_chat_request({"model": "gpt-4.1", "input": "hello"}, GPT_4_1)
    assert body["messages"] == [{"role": "user", "content": "hello"}]
    with pytest.raises(TranslationError) as caught:
        responses_to_chat_request({"model": "gpt-4.1", "input": "x", "previous_response_id": "resp_1"}, GPT_4_1)
    assert caught.value.param == "previous_response_id"
    with pytest.raises(TranslationError) as caught:
        responses_to_chat_request({"model": "gpt-4.1", "input": [{"type": "function_call", "name": "f"}]}, GPT_4_1)
    assert caught.value.param == "input.0"


def test_a_chat_completion_becomes_a_response() -> None:
    _, names = responses_to_chat_request(codex_request(), GPT_4_1)
    completion = {
        "id": "chatcmpl-1",
        "created": 5,
        "model": "gpt-4.1-2025-04-14",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Patching.",
                    "reasoning_text": "think",
                    "reasoning_opaque": "OP",
                },
                "finish_reason": "stop",
            },
            {
                "index": 1,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_8",
                            "type": "function",
                            "function": {"name": "apply_patch", "arguments": json.dumps({"input": PATCH})},
                        },
                        {
                            "id": "call_9",
                            "type": "function",
                            "function": {"name": "multi_agent_v1__spawn_agent", "arguments": "{}"},
                        },
                    ],
                },
                "finish_reason": "tool_calls",
            },
        ],
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 3,
            "total_tokens": 13,
            "prompt_tokens_details": {"cached_tokens": 8},
        },
    }
    result = chat_to_responses_result(completion, names, request=codex_request())
    assert result["object"] == "response" and result["status"] == "completed"
    reasoning, message, custom, function = result["output"]
    assert reasoning["encrypted_content"] == encode_carrier("chat_opaque", "OP")
    assert reasoning["summary"] == [{"type": "summary_text", "text": "think"}]
    assert message["content"][0]["text"] == "Patching."
    assert {k: custom[k] for k in ("type", "call_id", "name", "input")} == {
        "type": "custom_tool_call",
        "call_id": "call_8",
        "name": "apply_patch",
        "input": PATCH,
    }
    assert (function["namespace"], function["name"]) == ("multi_agent_v1", "spawn_agent")
    assert result["usage"]["input_tokens_details"] == {"cached_tokens": 8} and result["usage"]["total_tokens"] == 13
    assert result["tools"] == codex_request()["tools"]  # echoed as the API does
    # The next request gives the chat model its reasoning back under the same item id.
    again = chat_to_responses_result(completion, names)
    assert again["output"][0]["id"] == reasoning["id"]


def test_a_cut_completion_is_incomplete() -> None:
    result = chat_to_responses_result({"choices": [{"message": {"content": "par"}, "finish_reason": "length"}]})
    assert result["status"] == "incomplete" and result["incomplete_details"] == {"reason": "max_output_tokens"}


def chunk(delta: dict[str, Any], finish: str | None = None, index: int = 0) -> dict[str, Any]:
    return {"id": "c", "model": "gpt-4.1", "choices": [{"index": index, "delta": delta, "finish_reason": finish}]}


def run(chunks: list[dict[str, Any]], names: Any = None) -> list[dict[str, Any]]:
    translator = ChatToResponsesStream(names, model="gpt-4.1")
    out: list[dict[str, Any]] = []
    for c in chunks:
        out.extend(translator.feed(c))
    out.extend(translator.finish())
    return out


def test_a_chat_stream_becomes_responses_events_with_custom_calls() -> None:
    _, names = responses_to_chat_request(codex_request(), GPT_4_1)
    arguments = json.dumps({"input": PATCH})
    chunks = [
        {"id": "", "choices": [], "prompt_filter_results": []},
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Patch"}),
        chunk({"content": "ing."}),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "apply_patch", "arguments": ""},
                    }
                ]
            }
        ),
        *(
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments[i : i + 9]}}]})
            for i in range(0, len(arguments), 9)
        ),
        chunk({}, "tool_calls"),
        {"id": "c", "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}},
    ]
    events = run(chunks, names)
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert kinds.count("response.completed") == 1
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == "Patching."
    patch = "".join(e["delta"] for e in events if e["type"] == "response.custom_tool_call_input.delta")
    assert patch == PATCH
    output = events[-1]["response"]["output"]
    assert [o["type"] for o in output] == ["message", "custom_tool_call"]
    assert output[1]["input"] == PATCH and output[1]["call_id"] == "call_1"
    assert events[-1]["response"]["usage"]["total_tokens"] == 12


def test_a_chat_stream_cut_inside_a_tool_call_is_incomplete() -> None:
    events = run(
        [
            chunk(
                {"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "exec_command", "arguments": '{"cmd":'}}]}
            )
        ]
    )
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_an_upstream_error_chunk_fails_the_response() -> None:
    events = run([chunk({"content": "x"}), {"error": {"message": "rate limited"}}])
    assert events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["error"]["message"] == "rate limited"
    assert (
        sum(
            e["type"].startswith("response.") and e["type"] in ("response.completed", "response.failed") for e in events
        )
        == 1
    )
