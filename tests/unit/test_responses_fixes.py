"""The /v1/responses passthrough fixes (reference §7): request, initiator, answers, stream."""

from __future__ import annotations

import copy
import json
from typing import Any

from copilot_hybrid.translate.responses_common import encode_carrier
from copilot_hybrid.translate.responses_fixes import (
    ResponsesFixes,
    ResponsesStreamFixer,
    codex_request_kind,
    fix_responses_result,
    prepare_responses_request,
    responses_initiator,
)

GPT_5_3_CODEX = {
    "id": "gpt-5.3-codex",
    "supported_endpoints": ["/responses", "ws:/responses"],
    "capabilities": {"supports": {"reasoning_effort": ["low", "medium", "high", "xhigh"]}},
}
GPT_4_1 = {"id": "gpt-4.1", "capabilities": {"supports": {"tool_calls": True}}}
APPLY_PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Use the `apply_patch` tool to edit files. This is a FREEFORM tool.",
    "format": {"type": "grammar", "syntax": "lark", "definition": "start: begin_patch hunk+ end_patch"},
}
PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hello world\n*** End Patch\n"


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def codex_body(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "gpt-5.3-codex",
        "stream": True,
        "input": [{"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "base"}]}],
        "tools": [{"type": "function", "name": "exec_command", "parameters": {"type": "object"}}],
        "tool_choice": "auto",
        "reasoning": {"effort": "medium"},
        "store": False,
        "include": ["reasoning.encrypted_content"],
    }
    body.update(extra)
    return body


# --------------------------------------------------------------------------- request


def test_service_tier_and_unsupported_tools_are_removed() -> None:
    body = codex_body(
        service_tier="priority",
        tools=[
            {"type": "function", "name": "exec_command", "parameters": {}},
            {"type": "image_generation"},
            {"type": "code_interpreter", "container": {"type": "auto"}},
            {"type": "web_search", "external_web_access": False},
            {"type": "tool_search", "execution": "client"},
        ],
        tool_choice={"type": "image_generation"},
    )
    original = copy.deepcopy(body)
    out, _ = prepare_responses_request(body, GPT_5_3_CODEX)
    assert body == original  # the client's body is not touched
    assert "service_tier" not in out
    assert [t["type"] for t in out["tools"]] == ["function", "web_search", "tool_search"]
    assert out["tool_choice"] == "auto"  # forcing a removed tool would be a 400
    no_search, _ = prepare_responses_request(body, GPT_5_3_CODEX, web_search=False)
    assert [t["type"] for t in no_search["tools"]] == ["function", "tool_search"]


def test_reasoning_effort_is_clamped_to_the_models_list() -> None:
    out, _ = prepare_responses_request(codex_body(reasoning={"effort": "max", "summary": "auto"}), GPT_5_3_CODEX)
    assert out["reasoning"] == {"effort": "xhigh", "summary": "auto"}
    out, _ = prepare_responses_request(codex_body(reasoning={"effort": "minimal"}), GPT_5_3_CODEX)
    assert out["reasoning"] == {"effort": "low"}
    # Not a reasoning model: no reasoning, no encrypted reasoning.
    out, _ = prepare_responses_request(codex_body(), GPT_4_1)
    assert "reasoning" not in out and "include" not in out
    # Unknown model: left as the client sent it.
    out, _ = prepare_responses_request(codex_body(reasoning={"effort": "max"}), None)
    assert out["reasoning"] == {"effort": "max"}


def test_custom_tools_go_up_as_functions_and_replayed_calls_as_function_items() -> None:
    body = codex_body(
        tools=[APPLY_PATCH],
        tool_choice={"type": "custom", "name": "apply_patch"},
        input=[
            user("add hello.txt"),
            {"type": "custom_tool_call", "id": "ctc_9", "call_id": "call_p1", "name": "apply_patch", "input": PATCH},
            {"type": "custom_tool_call_output", "id": "ctco_1", "call_id": "call_p1", "output": "Success."},
            {"type": "custom_tool_call", "id": "fc_abc", "call_id": "call_p2", "name": "apply_patch", "input": "x"},
        ],
    )
    out, fixes = prepare_responses_request(body, GPT_5_3_CODEX)
    assert fixes.custom_tools == frozenset({"apply_patch"})
    tool = out["tools"][0]
    assert tool["type"] == "function" and tool["name"] == "apply_patch"
    assert tool["parameters"]["properties"]["input"]["type"] == "string"
    assert "start: begin_patch hunk+ end_patch" in tool["description"]
    assert out["tool_choice"] == {"type": "function", "name": "apply_patch"}
    call, output, again = out["input"][1:]
    assert call == {
        "type": "function_call",
        "call_id": "call_p1",
        "name": "apply_patch",
        "arguments": json.dumps({"input": PATCH}),
    }
    assert output == {"type": "function_call_output", "call_id": "call_p1", "output": "Success."}
    assert again["id"] == "fc_abc"  # an id Copilot gave (kept by the way back) stays


def test_foreign_reasoning_and_internal_fields_are_dropped_from_input() -> None:
    body = codex_body(
        input=[
            user("hi"),
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAAB-openai"},
            {
                "type": "reasoning",
                "id": "rs_2",
                "summary": [],
                "encrypted_content": encode_carrier("anthropic_signature", "sig"),
            },
            {
                "type": "message",
                "role": "user",
                "internal_chat_message_metadata_passthrough": {"x": 1},
                "content": [{"type": "input_image", "image_url": "data:image/png;base64,AA", "detail": "ultra"}],
            },
        ]
    )
    out, _ = prepare_responses_request(body, GPT_5_3_CODEX)
    assert [i.get("id") for i in out["input"]] == [None, "rs_1", None]
    assert "internal_chat_message_metadata_passthrough" not in out["input"][2]
    assert out["input"][2]["content"][0]["detail"] == "auto"


def collaboration_body() -> dict[str, Any]:
    spawn = {
        "type": "function",
        "name": "spawn_agent",
        "parameters": {"type": "object", "properties": {"message": {"type": "string", "encrypted": True}}},
    }
    return codex_body(
        tools=[
            {"type": "namespace", "name": "collaboration", "description": "agents", "tools": [spawn]},
            {"type": "namespace", "name": "copilot_collaboration", "tools": []},
        ],
        tool_choice={"type": "function", "name": "collaboration.spawn_agent"},
        input=[
            user("spawn one"),
            {
                "type": "function_call",
                "call_id": "c1",
                "namespace": "collaboration",
                "name": "spawn_agent",
                "arguments": "{}",
            },
            {"type": "function_call_output", "call_id": "c1", "output": "ok"},
        ],
    )


def test_the_reserved_collaboration_namespace_is_renamed_and_restored() -> None:
    out, fixes = prepare_responses_request(collaboration_body(), GPT_5_3_CODEX)
    # copilot_collaboration is taken by another namespace in the request: _1.
    assert fixes.namespace == "copilot_collaboration_1"
    assert out["tools"][0]["name"] == "copilot_collaboration_1"
    assert "encrypted" not in out["tools"][0]["tools"][0]["parameters"]["properties"]["message"]
    assert out["tool_choice"]["name"] == "copilot_collaboration_1.spawn_agent"
    assert out["input"][1]["namespace"] == "copilot_collaboration_1"
    assert "collaboration" not in json.dumps(out).replace("copilot_collaboration", "")

    answer = {
        "id": "resp_1",
        "status": "completed",
        "tools": out["tools"],
        "output": [
            {"type": "function_call", "call_id": "c2", "namespace": "copilot_collaboration_1", "name": "spawn_agent"}
        ],
    }
    restored = fix_responses_result(answer, fixes)
    assert restored["output"][0]["namespace"] == "collaboration"
    assert restored["tools"][0]["name"] == "collaboration"
    assert restored["tools"][0]["tools"][0]["parameters"]["properties"]["message"]["encrypted"] is True


def test_requests_without_collaboration_tools_are_not_renamed() -> None:
    out, fixes = prepare_responses_request(codex_body(), GPT_5_3_CODEX)
    assert fixes.namespace is None and out["tools"] == codex_body()["tools"]


# --------------------------------------------------------------------------- initiator


def test_initiator_follows_the_last_input_item() -> None:
    assert responses_initiator({"input": [user("hi")]}) == "user"
    assert responses_initiator({"input": "hi"}) == "user"
    assert responses_initiator({"input": []}) == "user"
    tool_turn = [user("hi"), {"type": "function_call_output", "call_id": "c", "output": "x"}]
    assert responses_initiator({"input": tool_turn}) == "agent"
    custom_turn = [user("hi"), {"type": "custom_tool_call_output", "call_id": "c", "output": "x"}]
    assert responses_initiator({"input": custom_turn}) == "agent"
    assert (
        responses_initiator({"input": [user("hi"), {"type": "message", "role": "assistant", "content": []}]}) == "agent"
    )


def test_codex_compaction_is_the_agents() -> None:
    metadata = json.dumps({"session_id": "s", "turn_id": "t", "request_kind": "compaction", "model": "gpt-5.5"})
    body = {"input": [user("You are performing a CONTEXT CHECKPOINT COMPACTION...")]}
    assert codex_request_kind(metadata) == "compaction"
    assert responses_initiator(body, turn_metadata=metadata) == "agent"
    turn = json.dumps({"request_kind": "turn"})
    assert responses_initiator(body, turn_metadata=turn) == "user"
    assert responses_initiator(body, turn_metadata="{not json") == "user"


# --------------------------------------------------------------------------- answers


def test_non_stream_custom_calls_come_back_as_custom_tool_calls() -> None:
    fixes = ResponsesFixes(custom_tools=frozenset({"apply_patch"}))
    result = {
        "id": "resp_1",
        "status": "completed",
        "output": [
            {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "call_1",
                "name": "apply_patch",
                "arguments": json.dumps({"input": PATCH}),
                "status": "completed",
            },
            {"type": "function_call", "id": "fc_2", "call_id": "call_2", "name": "exec_command", "arguments": "{}"},
        ],
    }
    fixed = fix_responses_result(result, fixes)
    assert fixed["output"][0] == {
        "type": "custom_tool_call",
        "id": "fc_1",
        "call_id": "call_1",
        "name": "apply_patch",
        "input": PATCH,
        "status": "completed",
    }
    assert fixed["output"][1] == result["output"][1]


def run(fixer: ResponsesStreamFixer, events: list[dict[str, Any]], *, finish: bool = True) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for event in events:
        out.extend(fixer.feed(event))
    if finish:
        out.extend(fixer.finish())
    return out


def test_stream_item_ids_are_the_ones_added_announced() -> None:
    events = [
        {"type": "response.created", "response": {"id": "resp_1", "output": []}},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"type": "message", "id": "msg_A", "content": []},
        },
        {
            "type": "response.output_text.delta",
            "output_index": 0,
            "item_id": "msg_B",
            "content_index": 0,
            "delta": "Hi",
        },
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {"type": "message", "id": "msg_C", "content": []},
        },
        {
            "type": "response.output_item.added",
            "output_index": 1,
            "item": {"type": "function_call", "call_id": "c", "name": "f"},
        },
        {
            "type": "response.output_item.done",
            "output_index": 1,
            "item": {"type": "function_call", "id": "fc_Z", "call_id": "c", "name": "f"},
        },
        {"type": "response.completed", "response": {"id": "resp_1", "output": [{"id": "msg_C"}, {"id": "fc_Z"}]}},
    ]
    out = run(ResponsesStreamFixer(), events)
    assert out[2]["item_id"] == "msg_A" and out[3]["item"]["id"] == "msg_A"
    invented = out[4]["item"]["id"]
    assert invented.startswith("oi_1_") and out[5]["item"]["id"] == invented
    assert [o["id"] for o in out[-1]["response"]["output"]] == ["msg_A", invented]
    assert out[-1]["type"] == "response.completed" and len(out) == len(events)


def test_stream_custom_tool_calls_become_custom_items_and_input_events() -> None:
    arguments = json.dumps({"input": PATCH})
    events = [
        {"type": "response.created", "response": {"id": "r", "output": []}},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "call_1",
                "name": "apply_patch",
                "arguments": "",
            },
        },
        *(
            {
                "type": "response.function_call_arguments.delta",
                "output_index": 0,
                "item_id": "fc_x",
                "delta": arguments[i : i + 7],
            }
            for i in range(0, len(arguments), 7)
        ),
        {"type": "response.function_call_arguments.done", "output_index": 0, "item_id": "fc_x", "arguments": arguments},
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {
                "type": "function_call",
                "id": "fc_2",
                "call_id": "call_1",
                "name": "apply_patch",
                "arguments": arguments,
            },
        },
        {
            "type": "response.completed",
            "response": {
                "id": "r",
                "output": [
                    {
                        "type": "function_call",
                        "id": "fc_2",
                        "call_id": "call_1",
                        "name": "apply_patch",
                        "arguments": arguments,
                    }
                ],
            },
        },
    ]
    out = run(ResponsesStreamFixer(ResponsesFixes(custom_tools=frozenset({"apply_patch"}))), events)
    kinds = [e["type"] for e in out]
    assert "response.function_call_arguments.delta" not in kinds
    deltas = [e["delta"] for e in out if e["type"] == "response.custom_tool_call_input.delta"]
    assert "".join(deltas) == PATCH and len(deltas) > 1  # streamed, not one lump
    done = next(e for e in out if e["type"] == "response.custom_tool_call_input.done")
    assert done["input"] == PATCH and done["item_id"] == "fc_1"
    item = next(e for e in out if e["type"] == "response.output_item.done")["item"]
    assert item == {
        "type": "custom_tool_call",
        "id": "fc_1",
        "call_id": "call_1",
        "name": "apply_patch",
        "input": PATCH,
    }
    assert out[-1]["response"]["output"][0]["type"] == "custom_tool_call"


def test_stream_restores_the_collaboration_namespace() -> None:
    _, fixes = prepare_responses_request(collaboration_body(), GPT_5_3_CODEX)
    item = {"type": "function_call", "id": "fc_1", "call_id": "c", "namespace": fixes.namespace, "name": "spawn_agent"}
    out = run(
        ResponsesStreamFixer(fixes),
        [
            {"type": "response.output_item.added", "output_index": 0, "item": dict(item)},
            {"type": "response.output_item.done", "output_index": 0, "item": dict(item)},
            {"type": "response.completed", "response": {"id": "r", "output": [dict(item)]}},
        ],
    )
    assert [e.get("item", {}).get("namespace") for e in out[:2]] == ["collaboration", "collaboration"]
    assert out[-1]["response"]["output"][0]["namespace"] == "collaboration"


def test_failed_with_null_error_takes_the_error_event_that_follows() -> None:
    out = run(
        ResponsesStreamFixer(),
        [
            {"type": "response.created", "response": {"id": "r", "output": []}},
            {"type": "response.failed", "response": {"id": "r", "status": "failed", "error": None}},
            {"type": "error", "code": "invalid_request_body", "message": "bad item"},
            {"type": "response.completed", "response": {"id": "r"}},
        ],
    )
    assert [e["type"] for e in out] == ["response.created", "response.failed"]
    assert out[-1]["response"]["error"] == {"code": "invalid_request_body", "message": "bad item"}


def test_an_error_event_and_a_cut_stream_end_in_response_failed() -> None:
    out = run(
        ResponsesStreamFixer(),
        [{"type": "response.created", "response": {"id": "r", "model": "m"}}, {"type": "error", "message": "boom"}],
    )
    assert [e["type"] for e in out] == ["response.created", "response.failed"]
    assert out[-1]["response"]["id"] == "r" and out[-1]["response"]["error"]["message"] == "boom"
    cut = run(ResponsesStreamFixer(), [{"type": "response.created", "response": {"id": "r"}}])
    assert cut[-1]["type"] == "response.failed" and "without completion" in cut[-1]["response"]["error"]["message"]
    fixer = ResponsesStreamFixer()
    fixer.feed({"type": "response.created", "response": {"id": "r"}})
    assert [e["type"] for e in fixer.error("connection reset")] == ["response.failed"]
    assert fixer.finish() == [] and fixer.feed({"type": "response.completed"}) == []
