"""jsonutil with orjson against the json module (COPILOT_HYBRID_JSON=stdlib):
differential tests on generated values, and the cases where orjson alone
would fail or differ (lone surrogates, big ints, non-str keys, NaN, BOM)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copilot_hybrid import jsonutil


@contextmanager
def _stdlib() -> Iterator[None]:
    saved = jsonutil._ORJSON
    jsonutil._ORJSON = False
    try:
        yield
    finally:
        jsonutil._ORJSON = saved


def _both(function: Any, value: Any) -> tuple[Any, Any]:
    assert jsonutil._ORJSON, "the tests expect orjson as the default"
    fast = function(value)
    with _stdlib():
        reference = function(value)
    return fast, reference


# Text with lone and paired surrogates, astral characters, controls and JSON's special characters.
texts = st.text(st.characters(codec=None, categories=None), max_size=12) | st.sampled_from(
    ["\ud800", "a\udfffb", "\ud800\udc00", "\U0001f600", '"\\/\b\f\n\r\t', "\x00\x1f\x7f", "\u2028\u2029", "é"]
)
EDGES = [2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1]
ints = st.integers(min_value=-(2**70), max_value=2**70) | st.sampled_from(EDGES)
floats = st.floats(allow_nan=False, allow_infinity=False)
scalars = st.none() | st.booleans() | ints | floats | texts
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=20,
)


def _as_escapes_read_back(value: Any) -> Any:
    """`value` as JSON's \\u escapes give it back: a high surrogate followed by a
    low one in a str is written as two escapes, which JSON reads as the one
    character they encode ("\\ud800\\udc00" is U+10000); lone surrogates stay."""
    if isinstance(value, str):
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    if isinstance(value, list):
        return [_as_escapes_read_back(v) for v in value]
    if isinstance(value, dict):
        return {_as_escapes_read_back(k): _as_escapes_read_back(v) for k, v in value.items()}
    return value


def _without_floats(value: Any) -> bool:
    if isinstance(value, float):
        return False
    if isinstance(value, list):
        return all(_without_floats(v) for v in value)
    if isinstance(value, dict):
        return all(_without_floats(v) for v in value.values())
    return True


@settings(max_examples=400, deadline=None)
@given(values)
def test_dumps_reads_back_equal_and_is_byte_equal_without_floats(value: Any) -> None:
    fast, reference = _both(jsonutil.dumps, value)
    assert json.loads(fast) == json.loads(reference) == _as_escapes_read_back(value)
    if _without_floats(value):  # a float's digits are orjson's own (0.00006103515625, json 6.103515625e-05)
        assert fast == reference


@settings(max_examples=400, deadline=None)
@given(values)
def test_loads_of_every_writing_gives_the_same_value(value: Any) -> None:
    for text, expected in (
        (json.dumps(value), _as_escapes_read_back(value)),  # ASCII escapes, also for surrogates
        # every surrogate as its own (non-UTF-8) bytes: nothing joins them
        (json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8", "surrogatepass"), value),
    ):
        fast, reference = _both(jsonutil.loads, text)
        assert fast == reference == expected
        assert type(fast) is type(reference)


@pytest.mark.parametrize(
    "value",
    [
        "\ud800",
        {"text": "x\udc00y", "n": 1},
        {2: "int key", True: "bool key", None: "none key", 1.5: "float key"},
        2**64,
        -(2**63) - 1,
        [10**30, {"deep": -(10**25)}],
    ],
    ids=["lone-surrogate", "surrogate-in-object", "non-str-keys", "2^64", "below-int64", "big-ints-nested"],
)
def test_what_orjson_refuses_to_write_is_written_as_before(value: Any) -> None:
    fast, reference = _both(jsonutil.dumps, value)
    assert fast == reference
    if "lone-surrogate" in repr(value) or isinstance(value, str):
        assert fast.isascii()


def test_the_surrogate_fallback_escapes_only_that_value() -> None:
    assert jsonutil.dumps({"a": "é\ud800"}) == b'{"a":"\\u00e9\\ud800"}'
    assert jsonutil.dumps({"a": "é"}) == '{"a":"é"}'.encode()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b'"\\ud800"', "\ud800"),
        (b'["\\udc00\\ud800"]', ["\udc00\ud800"]),
        (b'"\xed\xa0\x80"', "\ud800"),  # a surrogate's bytes: json reads them, orjson does not
        (b"\xef\xbb\xbf{}", {}),
        (b"18446744073709551616", 2**64),
        (b'{"seed": 123456789012345678901234567890}', {"seed": 123456789012345678901234567890}),
        (b"-9223372036854775809", -(2**63) - 1),
        (b'{"a":1,"a":2}', {"a": 2}),
        ('{"s": "\ud800"}', {"s": "\ud800"}),  # a str holding a lone surrogate
    ],
    ids=["escape", "pair-reversed", "surrogate-bytes", "bom", "2^64", "big-seed", "below-int64", "dup-key", "str"],
)
def test_what_json_read_is_still_read_the_same(text: bytes | str, expected: Any) -> None:
    fast, reference = _both(jsonutil.loads, text)
    assert fast == reference == expected
    assert type(fast) is type(reference)


def test_non_finite_numbers_go_through_the_json_hooks() -> None:
    """1e400 and NaN: orjson rejects them, json reads them with the caller's hooks (body.py's 400)."""
    seen: list[str] = []
    value = jsonutil.loads(b'{"a": 1e400, "b": NaN}', parse_constant=seen.append, parse_float=lambda s: s)
    assert value == {"a": "1e400", "b": None} and seen == ["NaN"]
    assert math.isinf(jsonutil.loads(b"[1e400]")[0])


@pytest.mark.parametrize("text", [b"", b"{", b"[1,]", b'{"a" 1}', b"\xff", "{'a': 1}"])
def test_invalid_json_raises_the_json_modules_error(text: bytes | str) -> None:
    with pytest.raises(ValueError) as fast:
        jsonutil.loads(text)
    with _stdlib(), pytest.raises(ValueError) as reference:
        jsonutil.loads(text)
    assert type(fast.value) is type(reference.value)
    assert str(fast.value) == str(reference.value)


def test_non_finite_floats_are_written_as_null() -> None:
    """orjson's choice, kept: json wrote NaN, which no JSON reader accepts."""
    assert jsonutil.dumps([math.nan, math.inf]) == b"[null,null]"


def test_environment_switches_to_the_json_module() -> None:
    code = "from copilot_hybrid import jsonutil; print(jsonutil.LIBRARY, jsonutil._ORJSON)"
    for setting, expected in (("stdlib", "stdlib False"), ("orjson", "orjson True"), ("", "orjson True")):
        result = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env={"COPILOT_HYBRID_JSON": setting, "PATH": "/usr/bin:/bin"},
            check=True,
        )
        assert result.stdout.strip() == expected
