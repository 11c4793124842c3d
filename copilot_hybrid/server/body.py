"""Reading request bodies: a size cap, JSON parsing at a bounded cost, and
minimal type checks.

Every JSON route goes through `read_body` and `parse_object`; a body past
a limit is answered in the caller's format before any work is done on it:

| limit                                           | answer                  |
|-------------------------------------------------|-------------------------|
| more bytes than --max-body-bytes                | 413                     |
| more than MAX_JSON_VALUES values                | 413                     |
| objects/arrays nested deeper than MAX_JSON_DEPTH| 400 naming the field    |
| a number that is not finite (1e400, NaN, ...)   | 400 naming the field    |
| not JSON, not UTF-8, not an object              | 400                     |

Why a value count: the parsed body costs up to ~70 bytes per `{}` and ~60
per short string, 20 times the JSON text; a million values keep the parse
under ~200 MB whatever the shape. The count is taken on the raw bytes (each
value but the first follows a comma or opens a container; commas and
brackets inside strings are counted too, which only errs on the safe side
for bodies that no model context could hold anyway).
Why a depth limit: later steps (translation, JSON.stringify of tool input)
recurse, and a body must never reach Python's recursion limit.
Why finite numbers: chat bodies are forwarded as the client's bytes, and a
re-serialised 1e400 would be `Infinity`, which is not JSON.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from starlette.requests import ClientDisconnect, Request

from copilot_hybrid.errors import ApiError
from copilot_hybrid.jsonutil import loads

__all__ = [
    "MAX_JSON_DEPTH",
    "MAX_JSON_VALUES",
    "check_token_limits",
    "parse_object",
    "read_body",
    "require",
]

#: Objects and arrays nested deeper than this (the body itself is level 1) are a 400.
MAX_JSON_DEPTH = 128
#: Bodies with more JSON values than this are a 413 (see the module docstring).
MAX_JSON_VALUES = 1_000_000
#: Fields that cap generated tokens: when present (not null), a positive integer.
TOKEN_LIMIT_FIELDS = ("max_tokens", "max_completion_tokens", "max_output_tokens")

# After the cap is hit, the rest of the body is read and dropped (up to this much)
# so the client can read the 413 instead of seeing its upload cut off.
DRAIN_LIMIT = 64 * 1024 * 1024


async def read_body(request: Request, limit: int) -> bytes:
    try:
        return await _read_body(request, limit)
    except ClientDisconnect as exc:
        raise ApiError(400, "The client disconnected before sending the whole body") from exc


async def _read_body(request: Request, limit: int) -> bytes:
    too_large = ApiError(413, f"Request body is larger than the limit of {limit} bytes", type="request_too_large")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        if int(declared) - limit <= DRAIN_LIMIT:
            await _drain(request)
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            await _drain(request, size - limit)
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def _drain(request: Request, already: int = 0) -> None:
    dropped = already
    async for chunk in request.stream():
        dropped += len(chunk)
        if dropped > DRAIN_LIMIT:
            return


def parse_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, within the limits of the module docstring."""
    if not body.strip():
        raise ApiError(400, "Request body is empty; expected a JSON object")
    _check_value_count(body)
    try:
        data = loads(body, parse_float=_parse_float, parse_int=_parse_int, parse_constant=_parse_constant)
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"Request body is not valid UTF-8 (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise ApiError(
            400, f"Request body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from exc
    except ValueError as exc:
        raise ApiError(400, "Request body is not valid JSON") from exc
    except RecursionError as exc:  # deeper than the parser's own stack allows
        raise ApiError(400, f"Request body is nested more than {MAX_JSON_DEPTH} levels deep") from exc
    if not isinstance(data, dict):
        raise ApiError(400, f"Request body must be a JSON object, not {_json_type(data)}")
    _check_depth_and_numbers(data)
    return data


def check_token_limits(payload: dict[str, Any]) -> None:
    """`max_tokens` and its kin, and `thinking.budget_tokens`: positive integers when present."""
    for key in TOKEN_LIMIT_FIELDS:
        _positive_integer(payload.get(key), key)
    thinking = payload.get("thinking")
    if isinstance(thinking, dict):
        _positive_integer(thinking.get("budget_tokens"), "thinking.budget_tokens")


def _positive_integer(value: Any, field: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"`{field}` must be a positive integer, not {_json_type(value)}", param=field)
    if value <= 0:
        raise ApiError(400, f"`{field}` must be a positive integer, not {value}", param=field)


# ---- the cost limits ------------------------------------------------------------------


def _check_value_count(body: bytes) -> None:
    if len(body) <= MAX_JSON_VALUES:  # every value takes at least one byte
        return
    values = 1 + body.count(b",") + body.count(b"[") + body.count(b"{")
    if values > MAX_JSON_VALUES:
        raise ApiError(
            413,
            f"Request body has more than {MAX_JSON_VALUES:,} JSON values (counted as commas and brackets, "
            "also inside strings); send fewer or larger blocks",
            type="request_too_large",
        )


class _OutOfRange:
    """Put by the parse hooks where a number is not finite, for the walk to name its field."""

    __slots__ = ("literal",)

    def __init__(self, literal: str) -> None:
        self.literal = literal


def _parse_float(literal: str) -> float | _OutOfRange:
    value = float(literal)
    return value if math.isfinite(value) else _OutOfRange(literal)


def _parse_int(literal: str) -> int | _OutOfRange:
    # Past 308 digits an integer may be beyond every double (Infinity to a
    # JavaScript or Go reader); past 4300 Python refuses to convert it.
    if len(literal) > 308 and not math.isfinite(float(literal)):
        return _OutOfRange(literal)
    return int(literal)


def _parse_constant(literal: str) -> _OutOfRange:
    return _OutOfRange(literal)  # NaN, Infinity, -Infinity: Python reads them, JSON has none


# A path is a linked list (parent, key), so the walk allocates one pair per container.
_Path = tuple[Any, str | int] | None


def _check_depth_and_numbers(data: dict[str, Any]) -> None:
    """One iterative walk (a recursive one is what failed at 450 levels)."""
    stack: list[tuple[Any, int, _Path]] = [(data, 1, None)]
    while stack:
        node, depth, path = stack.pop()
        entries = node.items() if type(node) is dict else enumerate(node)
        for key, child in entries:
            kind = type(child)
            if kind is dict or kind is list:
                if depth >= MAX_JSON_DEPTH:
                    field = _field_name((path, key))
                    raise ApiError(400, f"`{field}` is nested more than {MAX_JSON_DEPTH} levels deep", param=field)
                if child:
                    stack.append((child, depth + 1, (path, key)))
            elif kind is _OutOfRange:
                field = _field_name((path, key))
                literal = child.literal if len(child.literal) <= 24 else child.literal[:20] + "..."
                raise ApiError(400, f"`{field}` is {literal}: not a finite number", param=field)


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_$@-]{1,40}")
_MAX_FIELD_PARTS = 12


def _field_name(path: _Path) -> str:
    """`messages.0.content.0.input.a...` (long paths and odd keys shortened)."""
    parts: list[str] = []
    while path is not None:
        path, key = path
        parts.append(str(key) if isinstance(key, int) or _PLAIN_KEY.fullmatch(key) else json.dumps(key[:40]))
    parts.reverse()
    if len(parts) > _MAX_FIELD_PARTS:
        return ".".join(parts[:_MAX_FIELD_PARTS]) + "..."
    return ".".join(parts)


def require(
    payload: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str, *, required: bool = True
) -> None:
    if key not in payload or payload[key] is None:
        if required:
            raise ApiError(400, f"`{key}` is required", param=key)
        return
    value = payload[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        raise ApiError(400, f"`{key}` must be {what}, not {_json_type(value)}", param=key)


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float, _OutOfRange)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
