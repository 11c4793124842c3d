"""The emulator's `/responses`, over a real socket, with the official openai SDK's
`client.responses.create` pointed straight at it (as Copilot would be)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from copilot_hybrid.emulator import Emulator
from copilot_hybrid.translate.responses_common import encode_carrier
from copilot_hybrid.translate.responses_fixes import ResponsesStreamFixer, prepare_responses_request

EDITOR = {"editor-version": "vscode/1.104.3"}
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def _fresh(emu: Emulator) -> Iterator[None]:
    yield
    emu.reset()


@pytest.fixture
def client(emu: Emulator) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=emu.copilot_url, api_key=emu.issue_copilot_token(), default_headers=EDITOR, max_retries=0
    ) as c:
        yield c


def reasoning_request(**extra: Any) -> dict[str, Any]:
    return {
        "model": "gpt-5",
        "reasoning": {"effort": "low", "summary": "auto"},
        "include": ["reasoning.encrypted_content"],
        "store": False,
        **extra,
    }


def test_a_non_stream_answer(client: openai.OpenAI, emu: Emulator) -> None:
    response = client.responses.create(**reasoning_request(input="hello there [[cached:3]]"))
    assert response.status == "completed" and response.id.startswith("resp_")
    assert response.output_text == "Hello from emulated gpt-5: hello there"
    reasoning, message = response.output
    assert reasoning.type == "reasoning" and reasoning.encrypted_content
    assert reasoning.summary[0].text == "Working out a reply."
    assert message.type == "message"
    usage = response.usage
    assert usage is not None
    assert usage.input_tokens_details.cached_tokens == 3
    assert usage.output_tokens_details.reasoning_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert emu.last_request("/responses").path == "/copilot/responses"


def test_a_stream_in_copilots_order_with_its_differing_ids(client: openai.OpenAI) -> None:
    events = list(client.responses.create(stream=True, **reasoning_request(input="stream please")))
    kinds = [e.type for e in events]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",  # reasoning
        "response.reasoning_summary_part.added",
        *["response.reasoning_summary_text.delta"] * (kinds.count("response.reasoning_summary_text.delta")),
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",  # message
        "response.content_part.added",
        *["response.output_text.delta"] * kinds.count("response.output_text.delta"),
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    added = [e.item.id for e in events if e.type == "response.output_item.added"]
    done = [e.item.id for e in events if e.type == "response.output_item.done"]
    assert added[0] == done[0]  # reasoning keeps its id
    assert added[1] != done[1]  # Copilot's quirk: the message's id changes by .done
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "Hello from emulated gpt-5: stream please"
    final = events[-1].response
    assert final.output_text == text and final.usage is not None and final.usage.total_tokens > 0


def test_a_function_call_round_trip(client: openai.OpenAI, emu: Emulator) -> None:
    prompt = 'weather in Paris? [[tool:get_weather {"city": "Paris"}]]'
    first = client.responses.create(**reasoning_request(input=prompt, tools=[WEATHER]))
    call = next(item for item in first.output if item.type == "function_call")
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    history = [{"role": "user", "content": prompt}, *(item.model_dump(exclude_none=True) for item in first.output)]
    output = {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21 C"}
    events = list(client.responses.create(stream=True, **reasoning_request(input=[*history, output], tools=[WEATHER])))
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == 'Hello from emulated gpt-5: the get_weather tool returned "sunny, 21 C".'
    # The replayed reasoning item's encrypted_content was verified; agent turns are not billed.
    records = emu.requests_to("/responses")
    assert [r.status for r in records] == [200, 200]
    assert records[1].body["input"][1]["type"] == "reasoning"


def test_premium_requests_are_counted_for_user_turns_only(emu: Emulator) -> None:
    headers = {**EDITOR, "authorization": f"Bearer {emu.issue_copilot_token()}"}
    before = emu.premium_used
    for initiator in ("user", "agent"):
        answer = httpx.post(
            f"{emu.copilot_url}/responses",
            json={"model": "gpt-5", "input": "hi"},
            headers={**headers, "x-initiator": initiator},
        )
        assert answer.status_code == 200
    assert emu.premium_used == before + 1.0  # gpt-5 costs 1, once


@pytest.mark.parametrize(
    ("request_body", "message", "code"),
    [
        (
            {"model": "gpt-4.1", "input": "x"},
            'model "gpt-4.1" is not accessible via the /responses endpoint',
            "unsupported_api_for_model",
        ),
        ({"model": "no-such-model", "input": "x"}, "The requested model is not supported.", "model_not_supported"),
        (
            {"model": "gpt-5", "input": "x", "tools": [{"type": "custom", "name": "apply_patch"}]},
            "Invalid value: 'custom'.",
            "unknown_parameter",
        ),
        (
            {
                "model": "gpt-5",
                "input": [{"type": "custom_tool_call", "call_id": "c", "name": "apply_patch", "input": "p"}],
            },
            "Invalid value: 'custom_tool_call'.",
            "invalid_value",
        ),
        (
            {"model": "gpt-5", "input": "x", "service_tier": "priority"},
            "Unsupported parameter: 'service_tier'.",
            "unsupported_parameter",
        ),
        (
            {"model": "gpt-5", "input": "x", "tools": [{"type": "namespace", "name": "collaboration", "tools": []}]},
            "Namespace 'collaboration' is reserved.",
            "invalid_request_body",
        ),
        (
            {"model": "gpt-5", "input": "x", "reasoning": {"effort": "xhigh"}},
            "Unsupported value: 'xhigh' is not supported with this model.",
            "unsupported_value",
        ),
    ],
)
def test_the_400s_copilot_answers(client: openai.OpenAI, request_body: dict[str, Any], message: str, code: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(**request_body)
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["message"].startswith(message) and error["code"] == code and error["type"] == "invalid_request_error"


def test_replayed_reasoning_must_be_the_emulators_own(client: openai.OpenAI) -> None:
    claude = {
        "type": "reasoning",
        "id": "rs_x",
        "summary": [],
        "encrypted_content": encode_carrier("anthropic_signature", "sig"),
    }
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(**reasoning_request(input=[{"role": "user", "content": "hi"}, claude]))
    assert caught.value.code == "invalid_encrypted_content"
    with pytest.raises(openai.BadRequestError, match="not persisted"):
        client.responses.create(
            **reasoning_request(
                input=[{"role": "user", "content": "hi"}, {"type": "reasoning", "id": "rs_y", "summary": []}]
            )
        )


def test_response_failed_mid_stream(client: openai.OpenAI, emu: Emulator) -> None:
    emu.script({"response_failed": "upstream capacity exceeded"})
    events = list(client.responses.create(stream=True, model="gpt-5", input="hi"))
    assert [e.type for e in events[:3]] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert events[-1].type == "response.failed" and len(events) == 4
    assert events[-1].response.error is not None and events[-1].response.error.message == "upstream capacity exceeded"
    keyword = list(client.responses.create(stream=True, model="gpt-5", input="hi [[response-failed]]"))
    assert keyword[-1].type == "response.failed"


def test_a_dropped_connection_and_a_token_limit(client: openai.OpenAI) -> None:
    with pytest.raises((openai.APIError, httpx.HTTPError)):
        list(client.responses.create(stream=True, model="gpt-5", input="hi [[fail-midstream]]"))
    cut = client.responses.create(model="gpt-5", input="a rather long prompt to echo back here", max_output_tokens=2)
    assert cut.status == "incomplete" and cut.incomplete_details is not None
    assert cut.incomplete_details.reason == "max_output_tokens"


class _FixingTransport(httpx.BaseTransport):
    """Puts every SSE event of the emulator's answer through ResponsesStreamFixer,
    as the proxy's /v1/responses does."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if "text/event-stream" not in response.headers.get("content-type", ""):
            return response
        body = response.read().decode()
        fixer = ResponsesStreamFixer()
        fixed: list[dict[str, Any]] = []
        for frame in body.split("\n\n"):
            for line in frame.splitlines():
                if line.startswith("data: "):
                    fixed.extend(fixer.feed(json.loads(line[6:])))
        fixed.extend(fixer.finish())
        text = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in fixed)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=text.encode())

    def close(self) -> None:
        self._inner.close()


def test_the_sdks_stream_helper_needs_the_id_fix(emu: Emulator, client: openai.OpenAI) -> None:
    # Copilot's changing ids break the SDK's strict accumulator...
    with pytest.raises(RuntimeError, match="identity changed"):
        with client.responses.stream(model="gpt-5", input="hi") as stream:
            list(stream)
    # ...and the passthrough fix repairs them.
    with httpx.Client(transport=_FixingTransport()) as http:
        fixed = openai.OpenAI(
            base_url=emu.copilot_url, api_key=emu.issue_copilot_token(), default_headers=EDITOR, http_client=http
        )
        with fixed.responses.stream(model="gpt-5", input="hi") as stream:
            final = stream.get_final_response()
    assert final.output_text == "Hello from emulated gpt-5: hi"


def sse_events(body: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]


def test_codex_apply_patch_through_the_fixes_and_the_emulator(emu: Emulator) -> None:
    """Codex's custom apply_patch tool, prepared, answered by the emulated Copilot,
    and fixed on the way back: a custom_tool_call Codex can apply."""
    patch = "*** Begin Patch\n*** Add File: hello.txt\n+hello world\n*** End Patch\n"
    codex = {
        "model": "gpt-5",
        "stream": True,
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "add hello.txt"}]}],
        "tools": [
            {
                "type": "custom",
                "name": "apply_patch",
                "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"},
            }
        ],
        "tool_choice": "auto",
        "service_tier": "auto",
        "store": False,
        "include": ["reasoning.encrypted_content"],
    }
    headers = {**EDITOR, "authorization": f"Bearer {emu.issue_copilot_token()}"}
    refused = httpx.post(f"{emu.copilot_url}/responses", json=codex, headers=headers)
    assert refused.status_code == 400  # as sent by Codex, Copilot refuses it
    body, fixes = prepare_responses_request(
        codex, {"id": "gpt-5", "capabilities": {"supports": {"reasoning_effort": ["low", "medium", "high"]}}}
    )
    emu.script({"tool_calls": [{"name": "apply_patch", "arguments": {"input": patch}, "id": "call_p1"}]})
    answer = httpx.post(f"{emu.copilot_url}/responses", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    fixer = ResponsesStreamFixer(fixes)
    events = [out for event in sse_events(answer.text) for out in fixer.feed(event)] + fixer.finish()
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    call = done[-1]
    assert call["type"] == "custom_tool_call" and call["input"] == patch and call["call_id"] == "call_p1"
    assert "".join(e["delta"] for e in events if e["type"] == "response.custom_tool_call_input.delta") == patch
    assert events[-1]["type"] == "response.completed"
    assert events[-1]["response"]["output"][-1] == call
    # Codex replays the call and its output on the next turn; Copilot takes them as function items.
    replay = {
        **codex,
        "input": [
            *codex["input"],
            *(item for item in done),
            {"type": "custom_tool_call_output", "id": "ctco_1", "call_id": "call_p1", "output": "Success."},
        ],
    }
    body, _ = prepare_responses_request(replay, None)
    again = httpx.post(f"{emu.copilot_url}/responses", json=body, headers=headers)
    assert again.status_code == 200, again.text
    assert sse_events(again.text)[-1]["response"]["output"][-1]["content"][0]["text"].startswith(
        "Hello from emulated gpt-5: the apply_patch tool returned"
    )
