"""Reading request bodies: a size cap, JSON parsing and minimal type checks."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import ClientDisconnect, Request

from copilot_hybrid.errors import ApiError

__all__ = ["parse_object", "read_body", "require"]

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
    if not body.strip():
        raise ApiError(400, "Request body is empty; expected a JSON object")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"Request body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise ApiError(400, "Request body is nested too deeply") from exc
    if not isinstance(data, dict):
        raise ApiError(400, f"Request body must be a JSON object, not {_json_type(data)}")
    return data


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
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
