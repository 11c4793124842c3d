"""Chat Completions served by a Responses-only model: request, answer, stream."""

from __future__ import annotations

from typing import Any

import pytest

from copilot_hybrid.errors import TranslationError
from copilot_hybrid.translate.chat_via_responses import (
    ResponsesToChatStream,
    chat_to_responses_request,
    responses_to_chat_result,
)

CODEX = {
    "id": "gpt-5.3-codex",
    "capabilities": {
        "limits": {"max_output_tokens": 128_000},
        "supports": {"reasoning_effort": ["low", "medium", "high"]},
    },
}
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object"}},
}


def test_a_chat_request_becomes_a_responses_request() -> None:
    payload = {
        "model": "gpt-5.3-codex",
        "messages": [
            {"role": "system", "content": "Be terse."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA", "detail": "high"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "reasoning_text": "look",
                "reasoning_opaque": "ENC@rs_1",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "snow"},
        ],
        "tools": [WEATHER],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": False,
        "max_completion_tokens": 500,
        "reasoning_effort": "xhigh",
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "w", "schema": {"type": "object"}, "strict": True},
        },
        "temperature": 0.2,
        "stop": ["\n"],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    body, _ = chat_to_responses_request(payload, CODEX)
    assert body["input"] == [
        {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "Be terse."}]},
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "what is this?"},
                {"type": "input_image", "image_url": "data:image/png;base64,AA", "detail": "high"},
            ],
        },
        {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [{"type": "summary_text", "text": "look"}],
            "encrypted_content": "ENC",
        },
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city":"Oslo"}',
            "status": "completed",
        },
        {"type": "function_call_output", "call_id": "call_1", "output": "snow"},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather",
            "parameters": {"type": "object"},
            "strict": False,
        }
    ]
    assert body["tool_choice"] == {"type": "function", "name": "get_weather"}
    assert body["parallel_tool_calls"] is False
    assert body["max_output_tokens"] == 500
    assert body["reasoning"] == {"summary": "auto", "effort": "high"}
    assert body["text"] == {
        "format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}, "strict": True}
    }
    assert "temperature" not in body and "stop" not in body  # a reasoning model takes neither
    assert (body["stream"], body["store"]) == (True, False)


def test_sampling_parameters_reach_non_reasoning_models() -> None:
    body, _ = chat_to_responses_request(
        {"model": "x", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.3, "max_tokens": 9},
        {"capabilities": {}},
    )
    assert body["temperature"] == 0.3 and body["max_output_tokens"] == 9 and "reasoning" not in body


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 2}, "n"),
        ({"model": "m", "messages": [{"role": "tool", "content": "x"}]}, "messages.0.tool_call_id"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, "max_completion_tokens"),
    ],
)
def test_malformed_requests_name_the_field(payload: dict[str, Any], param: str) -> None:
    with pytest.raises(TranslationError) as caught:
        chat_to_responses_request(payload, CODEX)
    assert caught.value.param == param


USAGE = {
    "input_tokens": 50,
    "input_tokens_details": {"cached_tokens": 40},
    "output_tokens": 10,
    "output_tokens_details": {"reasoning_tokens": 4},
    "total_tokens": 60,
}
CHAT_USAGE = {
    "prompt_tokens": 50,
    "completion_tokens": 10,
    "total_tokens": 60,
    "prompt_tokens_details": {"cached_tokens": 40},
    "completion_tokens_details": {"reasoning_tokens": 4},
}


def test_a_response_becomes_a_chat_completion() -> None:
    result = {
        "id": "resp_1",
        "created_at": 123,
        "model": "gpt-5.3-codex",
        "status": "completed",
        "output": [
            {
                "type": "reasoning",
                "id": "rs_2",
                "summary": [{"type": "summary_text", "text": "hm"}],
                "encrypted_content": "E2",
            },
            {"type": "message", "content": [{"type": "output_text", "text": "Calling."}]},
            {"type": "function_call", "call_id": "call_9", "name": "get_weather", "arguments": "{}"},
        ],
        "usage": USAGE,
    }
    completion = responses_to_chat_result(result)
    assert completion["object"] == "chat.completion" and completion["created"] == 123
    assert completion["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Calling.",
                "reasoning_text": "hm",
                "reasoning_opaque": "E2@rs_2",
                "tool_calls": [
                    {"id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
                ],
            },
            "finish_reason": "tool_calls",
            "logprobs": None,
        }
    ]
    assert completion["usage"] == CHAT_USAGE
    cut = responses_to_chat_result(
        {"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}, "output": []}
    )
    assert cut["choices"][0]["finish_reason"] == "length" and cut["choices"][0]["message"]["content"] is None


def run(events: list[dict[str, Any]], *, include_usage: bool = True) -> list[dict[str, Any]]:
    translator = ResponsesToChatStream(model="gpt-5.3-codex", include_usage=include_usage)
    out: list[dict[str, Any]] = []
    for event in events:
        out.extend(translator.feed(event))
    out.extend(translator.finish())
    return out


def deltas(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c["choices"][0]["delta"] for c in chunks if c.get("choices")]


def test_a_stream_becomes_chat_chunks() -> None:
    events = [
        {"type": "response.created", "response": {"id": "resp_1", "model": "gpt-5.3-codex"}},
        {"type": "response.reasoning_summary_text.delta", "output_index": 0, "delta": "hm"},
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "E"},
        },
        {"type": "response.output_text.delta", "output_index": 1, "delta": "Hi"},
        {"type": "response.output_text.done", "output_index": 1, "text": "Hi"},
        {
            "type": "response.output_item.added",
            "output_index": 2,
            "item": {"type": "function_call", "call_id": "c1", "name": "f", "arguments": ""},
        },
        {"type": "response.function_call_arguments.delta", "output_index": 2, "delta": "{}"},
        {"type": "response.function_call_arguments.done", "output_index": 2, "arguments": "{}"},
        {
            "type": "response.output_item.added",
            "output_index": 3,
            "item": {"type": "function_call", "call_id": "c2", "name": "g"},
        },
        {
            "type": "response.output_item.done",
            "output_index": 3,
            "item": {"type": "function_call", "call_id": "c2", "name": "g", "arguments": '{"x":1}'},
        },
        {"type": "response.completed", "response": {"status": "completed", "usage": USAGE}},
    ]
    chunks = run(events)
    assert all(c["id"] == "resp_1" and c["object"] == "chat.completion.chunk" for c in chunks)
    assert deltas(chunks) == [
        {"role": "assistant", "reasoning_text": "hm"},
        {"reasoning_opaque": "E@rs_1"},
        {"content": "Hi"},
        {"tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]},
        {"tool_calls": [{"index": 1, "id": "c2", "type": "function", "function": {"name": "g", "arguments": ""}}]},
        {"tool_calls": [{"index": 1, "function": {"arguments": '{"x":1}'}}]},
        {},
    ]
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == CHAT_USAGE
    assert "usage" not in run(events, include_usage=False)[-1]


def test_stream_failures_end_in_one_error_chunk() -> None:
    failed = run(
        [
            {"type": "response.output_text.delta", "output_index": 0, "delta": "x"},
            {"type": "response.failed", "response": {"error": {"message": "nope"}}},
        ]
    )
    assert failed[-1] == {"error": {"message": "nope", "type": "api_error", "param": None, "code": None}}
    assert sum("error" in c for c in failed) == 1
    cut = run([{"type": "response.output_text.delta", "output_index": 0, "delta": "x"}])
    assert "without completion" in cut[-1]["error"]["message"]
