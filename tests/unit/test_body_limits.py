"""server/body.py: the cost limits every JSON route applies before any work
(value count, nesting depth, finite numbers) and the token-limit fields."""

from __future__ import annotations

import json
from typing import Any

import pytest

from copilot_hybrid.errors import ApiError
from copilot_hybrid.server.body import MAX_JSON_DEPTH, MAX_JSON_VALUES, check_token_limits, parse_object


def nested(depth: int, leaf: str = "1") -> str:
    """An object `depth` levels deep: {"a":{"a":...leaf...}}."""
    return '{"a":' * depth + leaf + "}" * depth


def rejected(body: bytes | str) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse_object(body.encode() if isinstance(body, str) else body)
    return caught.value


def test_nesting_up_to_the_limit_is_accepted() -> None:
    assert parse_object(nested(MAX_JSON_DEPTH).encode())["a"]["a"]
    # The limit counts arrays and objects alike, and empty ones too.
    assert parse_object(("[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)).join(['{"x":', "}"]).encode())


def test_one_level_too_deep_is_a_400_naming_the_field() -> None:
    error = rejected(nested(MAX_JSON_DEPTH + 1))
    assert error.status == 400
    assert error.param is not None and error.param.startswith("a.a.a.a") and error.param.endswith("...")
    assert f"nested more than {MAX_JSON_DEPTH} levels" in error.message
    empty_at_the_bottom = rejected('{"x":' + "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH + "}")
    assert empty_at_the_bottom.param == "x." + ".".join(["0"] * 11) + "..."


def test_450_levels_in_tool_use_input_names_the_field() -> None:
    """The table's row: a RecursionError 500 with ~2,000 lines of traceback before."""
    tool_use = '{"type":"tool_use","id":"t","name":"n","input":' + nested(450) + "}"
    body = '{"model":"m","messages":[{"role":"user","content":"q"},{"role":"assistant","content":[' + tool_use + "]}]}"
    error = rejected(body)
    assert error.status == 400
    assert error.param == "messages.1.content.0.input.a.a.a.a.a.a.a..."
    assert "RecursionError" not in error.message


def test_deeper_than_the_parser_allows_is_still_a_400() -> None:
    error = rejected("[" * 100_000)
    assert error.status == 400 and "nested more than" in error.message


@pytest.mark.parametrize(
    ("body", "field", "literal"),
    [
        ('{"temperature": 1e400}', "temperature", "1e400"),
        ('{"temperature": -1E+999}', "temperature", "-1E+999"),
        ('{"top_p": NaN}', "top_p", "NaN"),
        ('{"x": [1, Infinity]}', "x.1", "Infinity"),
        ('{"x": {"y": -Infinity}}', "x.y", "-Infinity"),
        ('{"max_tokens": 1' + "0" * 400 + "}", "max_tokens", "1" + "0" * 19 + "..."),
        ('{"tools": [{"input_schema": {"default": 2e308}}]}', "tools.0.input_schema.default", "2e308"),
    ],
)
def test_numbers_that_are_not_finite_are_a_400_naming_the_field(body: str, field: str, literal: str) -> None:
    error = rejected(body)
    assert error.status == 400
    assert error.param == field
    assert f"`{field}` is {literal}: not a finite number" == error.message


def test_finite_extremes_are_kept() -> None:
    data = parse_object(b'{"a": 1e308, "b": -1.7976931348623157e308, "c": 5e-324, "d": 1' + b"0" * 300 + b"}")
    assert data["a"] == 1e308 and data["c"] == 5e-324 and data["d"] == 10**300
    # Integers keep full precision (a float hook must not touch them).
    assert parse_object(b'{"n": 12345678901234567890}')["n"] == 12345678901234567890


def test_too_many_values_is_a_413_before_parsing() -> None:
    def body(elements: int) -> bytes:
        return ('{"x":[' + ",".join(["0"] * elements) + "]}").encode()

    # 1 + commas + brackets: the body, the array and its elements.
    assert len(parse_object(body(MAX_JSON_VALUES - 2))["x"]) == MAX_JSON_VALUES - 2
    error = rejected(body(MAX_JSON_VALUES - 1))
    assert error.status == 413 and error.type == "request_too_large"
    assert f"{MAX_JSON_VALUES:,}" in error.message
    assert rejected('{"x":[' + ",".join(["{}"] * MAX_JSON_VALUES) + "]}").status == 413


def test_a_long_string_is_not_many_values() -> None:
    text = "x" * (MAX_JSON_VALUES * 3)
    assert parse_object(json.dumps({"text": text}).encode())["text"] == text


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"{oops", "not valid JSON: Expecting property name enclosed in double quotes at line 1, column 2"),
        (b'{"a": "\xff"}', "not valid UTF-8"),
        (b"[1]", "must be a JSON object, not an array"),
        (b"NaN", "must be a JSON object, not a number"),
        (b"  ", "empty"),
    ],
)
def test_unparseable_bodies_say_why_without_python_internals(body: bytes, needle: str) -> None:
    error = rejected(body)
    assert error.status == 400 and needle in error.message
    assert "Error" not in error.message  # no exception class names


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"max_tokens": -5}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 1.5}, "max_tokens"),
        ({"max_tokens": True}, "max_tokens"),
        ({"max_tokens": "100"}, "max_tokens"),
        ({"max_completion_tokens": -1}, "max_completion_tokens"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"thinking": {"type": "enabled", "budget_tokens": -5}}, "thinking.budget_tokens"),
    ],
)
def test_token_limits_must_be_positive_integers(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(ApiError) as caught:
        check_token_limits(payload)
    assert caught.value.status == 400
    assert caught.value.param == field
    assert f"`{field}` must be a positive integer" in caught.value.message


def test_valid_or_absent_token_limits_pass() -> None:
    check_token_limits({})
    check_token_limits({"max_tokens": None, "max_completion_tokens": 1, "thinking": {"type": "disabled"}})
    check_token_limits({"max_tokens": 64_000, "thinking": {"type": "enabled", "budget_tokens": 1024}})
    check_token_limits({"thinking": "not an object: the translation says so"})


def test_odd_keys_are_quoted_and_shortened_in_field_names() -> None:
    key = "bad key\n\x1b[31m" + "k" * 100
    error = rejected(json.dumps({key: 1e999}).replace("Infinity", "1e999"))
    assert error.param == json.dumps(key[:40])
    assert "\n" not in error.message and "\x1b" not in error.message
