"""JavaScript value semantics needed to match copilot-api byte for byte.

copilot-api serialises tool inputs and counts tokens on `JSON.stringify` and
`String(x)` output, so a Python port must print numbers, key order and lone
surrogates the way V8 does, not the way `json.dumps` does.
"""

from __future__ import annotations

import json
import json.encoder
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

_MAX_SAFE = 2**53
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# V8 puts "array index" keys (canonical integers below 2**32 - 1) first, ascending.
_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]{0,9}")


def _float_to_js(x: float) -> str:
    """`Number.prototype.toString()` for a double (ECMA-262 Number::toString)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"  # also for -0
    if x < 0:
        return "-" + _float_to_js(-x)
    # repr() gives the shortest round-trip digits, which is what V8 prints too.
    _, digit_tuple, exp = Decimal(repr(x)).normalize().as_tuple()
    assert isinstance(exp, int)
    digits = "".join(map(str, digit_tuple))
    k = len(digits)
    n = exp + k  # value = 0.<digits> * 10**n
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + digits
    e = n - 1
    mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
    return f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"


def js_number(x: int | float) -> str:
    """`String(x)` for a JSON number, as JS would hold it (an IEEE double)."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        if -_MAX_SAFE <= x <= _MAX_SAFE:
            return str(x)
        try:
            return _float_to_js(float(x))
        except OverflowError:
            return "Infinity" if x > 0 else "-Infinity"
    return _float_to_js(x)


def js_string(value: Any) -> str:
    """`String(value)` for a JSON-shaped value."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return js_number(value)
    if isinstance(value, (list, tuple)):
        # Array.prototype.join turns null/undefined elements into "".
        return ",".join("" if item is None else js_string(item) for item in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


# The C-accelerated quoter json.dumps(ensure_ascii=False) uses, minus its per-call setup.
_encode_basestring: Callable[[str], str] = json.encoder.encode_basestring


def _escape_lone_surrogates(encoded: str) -> str:
    # JSON.stringify (ES2019+) escapes lone surrogates; json leaves them raw.
    if _LONE_SURROGATE.search(encoded):
        return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", encoded)
    return encoded


def js_key_order(obj: dict[Any, Any]) -> list[tuple[str, Any]]:
    """Own-property order of a parsed JS object: array-index keys first."""
    items = [(k if isinstance(k, str) else js_string(k), v) for k, v in obj.items()]
    index_keys = [(k, v) for k, v in items if _ARRAY_INDEX.fullmatch(k) and int(k) < 2**32 - 1]
    if not index_keys:
        return items
    index_keys.sort(key=lambda kv: int(kv[0]))
    rest = [(k, v) for k, v in items if not (_ARRAY_INDEX.fullmatch(k) and int(k) < 2**32 - 1)]
    return index_keys + rest


def js_stringify(value: Any) -> str:
    """`JSON.stringify(value)`: compact, non-ASCII kept, JS numbers and key order."""
    return _escape_lone_surrogates(_stringify(value))


def _stringify(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return _encode_basestring(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return js_number(value) if -_MAX_SAFE <= value <= _MAX_SAFE else _finite_or_null(value)
    if isinstance(value, float):
        return _float_to_js(value) if math.isfinite(value) else "null"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_stringify(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(_encode_basestring(k) + ":" + _stringify(v) for k, v in js_key_order(value)) + "}"
    return _encode_basestring(str(value))


def _finite_or_null(value: int) -> str:
    text = js_number(value)
    return "null" if text.endswith("Infinity") else text


def js_round(x: float) -> int:
    """`Math.round`: halves go towards +infinity (Python's round() goes to even)."""
    floor = math.floor(x)
    return int(floor + 1) if x - floor >= 0.5 else int(floor)
