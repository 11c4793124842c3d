"""copilot-api's token-count arithmetic (spec §11, §7.7) with known answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest

from copilot_hybrid.translate import TokenCount, count_anthropic_request_tokens, count_openai_payload_tokens
from copilot_hybrid.translate._js import js_number, js_round, js_string, js_stringify
from tests.support import REPO

DATA = REPO / "copilot_hybrid" / "data" / "o200k_base.tiktoken"


@pytest.fixture(scope="module")
def count() -> Callable[[str], int]:
    """tiktoken's o200k_base built from the vendored file (no download)."""
    import tiktoken
    import tiktoken_ext.openai_public as public
    from tiktoken.load import load_tiktoken_bpe

    ranks = load_tiktoken_bpe(str(DATA))
    # o200k_base() would fetch the vocabulary; hand it the local ranks instead.
    with mock.patch.object(public, "load_tiktoken_bpe", return_value=ranks):
        spec = public.o200k_base()
    enc = tiktoken.Encoding(
        spec["name"], pat_str=spec["pat_str"], mergeable_ranks=ranks, special_tokens=spec["special_tokens"]
    )
    return lambda text: len(enc.encode_ordinary(text))


def openai(messages: list[Any], tools: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "gpt-4o", "messages": messages, **extra}
    if tools is not None:
        body["tools"] = tools
    return body


def fn(name: str, description: str | None = None, parameters: Any = None) -> dict[str, Any]:
    function: dict[str, Any] = {"name": name}
    if description is not None:
        function["description"] = description
    if parameters is not None:
        function["parameters"] = parameters
    return {"type": "function", "function": function}


# --------------------------------------------------------------------------- the tokenizer itself


def test_tokenizer_anchors(count: Callable[[str], int]) -> None:
    # tiktoken keeps "What's" whole (gpt-tokenizer, copilot-api's, gives 7).
    assert count("What's the weather in Paris?") == 6
    assert count("hello") == 1 and count("user") == 1
    # Special-token text is ordinary text, never an error.
    assert count("<|endoftext|>") == 7


# --------------------------------------------------------------------------- messages


def test_empty_payload_counts_zero(count: Callable[[str], int]) -> None:
    assert count_openai_payload_tokens({"messages": []}, model_id="gpt-4o", count=count) == TokenCount(0, 0)
    assert count_openai_payload_tokens({}, model_id="gpt-4o", count=count) == TokenCount(0, 0)


def test_single_user_message(count: Callable[[str], int]) -> None:
    # 3 per message + "user" (1) + "hello" (1) + 3 reply priming
    result = count_openai_payload_tokens(openai([{"role": "user", "content": "hello"}]), model_id="gpt-4o", count=count)
    assert result == TokenCount(8, 0)
    assert result.input == 3 + count("user") + count("hello") + 3


def test_assistant_messages_are_output_everything_else_input(count: Callable[[str], int]) -> None:
    messages = [
        {"role": "system", "content": "system"},
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "hello"},
        {"role": "tool", "tool_call_id": "call_1", "content": "hello"},
    ]
    result = count_openai_payload_tokens(openai(messages), model_id="gpt-4o", count=count)
    # system: 3+1+1; user: 3+1+2; tool: 3+1+3+1; +3 priming
    assert result.input == 5 + 6 + 8 + 3 == 22
    assert result.output == 3 + 1 + 1 + 3 == 8


def test_name_adds_one_more(count: Callable[[str], int]) -> None:
    plain = count_openai_payload_tokens(openai([{"role": "user", "content": "hello"}]), model_id="x", count=count)
    named = count_openai_payload_tokens(
        openai([{"role": "user", "content": "hello", "name": "user"}]), model_id="x", count=count
    )
    assert named.input - plain.input == count("user") + 1 == 2


def test_tool_calls(count: Callable[[str], int]) -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"location":"Paris"}'},
    }
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    result = count_openai_payload_tokens(openai([message]), model_id="gpt-4o", count=count)
    # 3 + "assistant" (1) + funcInit 7 + compact JSON of the call (27) + funcEnd 12 + priming 3
    assert result == TokenCount(0, 3 + 1 + 7 + 27 + 12 + 3)
    old = count_openai_payload_tokens(openai([message]), model_id="gpt-4", count=count)
    assert old.output == result.output + 3  # funcInit 10 for gpt-3.5-turbo / gpt-4


def test_content_parts(count: Callable[[str], int]) -> None:
    parts = [
        {"type": "text", "text": "Hi there"},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        {"type": "text", "text": ""},
    ]
    result = count_openai_payload_tokens(openai([{"role": "user", "content": parts}]), model_id="gpt-4o", count=count)
    assert result.input == 3 + 1 + 2 + (6 + 85) + 3


def test_opaque_reasoning_is_not_counted(count: Callable[[str], int]) -> None:
    message = {"role": "assistant", "content": "hello", "reasoning_text": "hello", "reasoning_opaque": "x" * 500}
    result = count_openai_payload_tokens(openai([message]), model_id="gpt-4o", count=count)
    assert result.output == 3 + 1 + 1 + 1 + 3


# --------------------------------------------------------------------------- tools

WEATHER = fn(
    "get_weather",
    "Get the weather.",
    {
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "City name."},
            "unit": {"enum": ["celsius", "fahrenheit"]},
        },
        "required": ["location"],
    },
)


def test_tools_known_answer(count: Callable[[str], int]) -> None:
    result = count_openai_payload_tokens(
        openai([{"role": "user", "content": "hello"}], [WEATHER]), model_id="gpt-4o", count=count
    )
    tool = (
        7  # funcInit
        + 5  # "get_weather:Get the weather" (one trailing dot removed)
        + 3  # "type:object"
        + 3  # propInit
        + (3 + 5)  # location: propKey + "location:string:City name"
        + (3 - 3 + (3 + 2) + (3 + 2) + 3)  # unit: propKey, enumInit, 2 items, "unit:string:"
        + 4  # 'required:["location"]'
        + 12  # funcEnd
    )
    assert tool == 55
    assert result.input == 8 + tool


def test_property_details(count: Callable[[str], int]) -> None:
    params = {
        "properties": {
            "tags": {"type": ["string", "null"], "description": "Tags", "items": {"type": "string"}, "minimum": 1.0},
            "odd": "not an object",
            "dots": {"description": "a.."},
        },
        "additionalProperties": False,
    }
    result = count_openai_payload_tokens(openai([], [fn("t", None, params)]), model_id="gpt-4o", count=count)
    expected = (
        7
        + count("t:")
        + 3  # propInit
        + (3 + count("tags:string,null:Tags") + count('items:{"type":"string"}') + count("minimum:1"))
        + 3  # a non-object property only costs propKey
        + (3 + count("dots:string:a."))  # only one dot is removed
        + count("additionalProperties:false")
        + 12
    )
    assert result == TokenCount(expected, 0)


def test_empty_properties_and_missing_parameters(count: Callable[[str], int]) -> None:
    empty = count_openai_payload_tokens(
        openai([], [fn("t", "d", {"type": "object", "properties": {}})]), model_id="m", count=count
    )
    assert empty.input == 7 + count("t:d") + count("type:object") + 12
    bare = count_openai_payload_tokens(openai([], [fn("t")]), model_id="m", count=count)
    assert bare.input == 7 + count("t:") + 12


def test_non_object_properties_count_as_their_text_never_per_character(count: Callable[[str], int]) -> None:
    """copilot-api's Object.entries made a string `properties` one property per
    character (16 MB counted 57,881,833 tokens and took +2.2 GB)."""
    counted: list[str] = []

    def recording(text: str) -> int:
        counted.append(text)
        return count(text)

    text = "location" * 1000
    result = count_openai_payload_tokens(
        openai([], [fn("t", "d", {"type": "object", "properties": text})]), model_id="m", count=recording
    )
    assert result.input == 7 + count("t:d") + count("type:object") + count("properties:" + text) + 12
    assert len(counted) == 3  # one call for the whole string, not one per character
    for odd, text_of in ((5, "properties:5"), (True, "properties:true"), ([], None), (None, None)):
        counted.clear()
        count_openai_payload_tokens(openai([], [fn("t", "d", {"properties": odd})]), model_id="m", count=recording)
        assert counted == ["t:d", *([text_of] if text_of else [])]


def test_odd_payloads_never_raise(count: Callable[[str], int]) -> None:
    odd: list[Any] = [
        {"messages": None, "tools": "x"},
        {"messages": ["x", 5, {"role": "user", "content": [None, "s", {"type": "image_url"}]}]},
        {"messages": [{"role": "assistant", "tool_calls": None, "content": 5}]},
        {
            "messages": [],
            "tools": [None, {"function": None}, {"function": {"name": None, "parameters": {"properties": None}}}],
        },
        {"messages": [], "tools": [{"function": {"name": "x", "parameters": {"properties": "ab"}}}]},
        {"messages": [{"role": "user", "content": "<|endoftext|><|im_start|>"}]},
    ]
    for payload in odd:
        result = count_openai_payload_tokens(payload, model_id="unknown-model", count=count)
        assert result.input >= 0 and result.output >= 0


# --------------------------------------------------------------------------- count_tokens endpoint


def anthropic(text: str, *, model: str = "claude-sonnet-4", tools: list[Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": text}]}
    if tools is not None:
        body["tools"] = tools
    return body


TWENTY_THREE = " ".join(["alpha"] * 23)  # 23 tokens: the message counts 3+1+23+3 = 30


def test_claude_multiplier_uses_js_math_round(count: Callable[[str], int]) -> None:
    assert count(TWENTY_THREE) == 23
    # 30 * 1.15 = 34.5: JS Math.round gives 35 (Python's round would give 34).
    assert count_anthropic_request_tokens(anthropic(TWENTY_THREE), count=count, model_id="claude-sonnet-4") == 35


def test_grok_and_other_models(count: Callable[[str], int]) -> None:
    assert (
        count_anthropic_request_tokens(anthropic(TWENTY_THREE, model="gpt-4.1"), count=count, model_id="gpt-4.1") == 30
    )
    assert (
        count_anthropic_request_tokens(
            anthropic(TWENTY_THREE, model="grok-code-fast-1"), count=count, model_id="grok-code-fast-1"
        )
        == js_round(30 * 1.03)
        == 31
    )
    # An unknown model is counted too (copilot-api answered 1).
    assert (
        count_anthropic_request_tokens(anthropic(TWENTY_THREE, model="my-model"), count=count, model_id="my-model")
        == 30
    )


ANTHROPIC_TOOL = {
    "name": "get_weather",
    "description": "Get the weather.",
    "input_schema": WEATHER["function"]["parameters"],
}
MCP_TOOL = {"name": "mcp__github__search", "input_schema": {"type": "object"}}


def test_tool_overhead_for_claude(count: Callable[[str], int]) -> None:
    body = anthropic(TWENTY_THREE, tools=[ANTHROPIC_TOOL])
    # 30 (message) + 55 (tool) + 346 (Anthropic's tool prompt) = 431; x1.15 = 495.65
    assert count_anthropic_request_tokens(body, count=count, model_id="claude-sonnet-4") == 496
    grok = anthropic(TWENTY_THREE, model="grok-code-fast-1", tools=[ANTHROPIC_TOOL])
    assert (
        count_anthropic_request_tokens(grok, count=count, model_id="grok-code-fast-1")
        == js_round((30 + 55 + 480) * 1.03)
        == 582
    )
    gpt = anthropic(TWENTY_THREE, model="gpt-4.1", tools=[ANTHROPIC_TOOL])
    assert count_anthropic_request_tokens(gpt, count=count, model_id="gpt-4.1") == 85


def test_claude_code_mcp_tools_skip_the_overhead(count: Callable[[str], int]) -> None:
    body = anthropic(TWENTY_THREE, tools=[MCP_TOOL])
    tool = 7 + count("mcp__github__search:") + count("type:object") + 12
    base = 30 + tool
    beta = "claude-code-20250219,interleaved-thinking-2025-05-14"
    assert count_anthropic_request_tokens(
        body, count=count, model_id="claude-sonnet-4", anthropic_beta=beta
    ) == js_round(base * 1.15)
    assert count_anthropic_request_tokens(body, count=count, model_id="claude-sonnet-4") == js_round(
        (base + 346) * 1.15
    )
    assert count_anthropic_request_tokens(
        body, count=count, model_id="claude-sonnet-4", anthropic_beta="interleaved-thinking-2025-05-14"
    ) == js_round((base + 346) * 1.15)
    plain = anthropic(TWENTY_THREE, tools=[ANTHROPIC_TOOL])
    assert count_anthropic_request_tokens(plain, count=count, model_id="claude-sonnet-4", anthropic_beta=beta) == 496


def test_count_uses_the_translated_request(count: Callable[[str], int]) -> None:
    body = {
        "model": "claude-sonnet-4-5-20250929",
        "max_tokens": 10,
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.1; cch=1;"},
            {"type": "text", "text": "hello"},
        ],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hello", "cache_control": {"type": "ephemeral"}}]}
        ],
        "tools": [{"type": "web_search_20250305", "name": "web_search"}],
    }
    # system "hello" (3+1+1) + user "hello" (3+1+1) + 3; the server tool is not
    # offered upstream but the request still "has tools": +346.
    assert count_anthropic_request_tokens(body, count=count, model_id="claude-sonnet-4.5") == js_round(
        (13 + 346) * 1.15
    )


# --------------------------------------------------------------------------- JS semantics


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.0, "1"),
        (-0.0, "0"),
        (0.1, "0.1"),
        (1.5e21, "1.5e+21"),
        (1e21, "1e+21"),
        (123456789012345680000.0, "123456789012345680000"),
        (1e-7, "1e-7"),
        (0.000001, "0.000001"),
        (2**53 + 1, "9007199254740992"),
        (12345678901234567890, "12345678901234567000"),
        (float("inf"), "Infinity"),
    ],
)
def test_js_number(value: float, expected: str) -> None:
    assert js_number(value) == expected


def test_js_string() -> None:
    assert js_string([1, [2, None], "a", True]) == "1,2,,a,true"
    assert js_string(None) == "null"
    assert js_string({"a": 1}) == "[object Object]"
    assert js_string(5e-7) == "5e-7"


def test_js_stringify() -> None:
    assert (
        js_stringify({"b": 1, "2": 2.0, "1": [None, True, "é\n"], "a": {"x": float("nan")}})
        == '{"1":[null,true,"é\\n"],"2":2,"b":1,"a":{"x":null}}'
    )
    assert js_stringify("\ud83d") == '"\\ud83d"'
    assert js_stringify("😀") == '"😀"'
    assert js_stringify(10**400) == "null"


@pytest.mark.parametrize(
    ("value", "expected"), [(2.5, 3), (-2.5, -2), (34.5, 35), (0.49999999999999994, 0), (3.4999, 3), (-0.6, -1)]
)
def test_js_round(value: float, expected: int) -> None:
    assert js_round(value) == expected
