"""Error answers in the caller's own format.

OpenAI routes get `{"error": {"message", "type", "param", "code"}}`; the
Anthropic routes (/v1/messages*) get `{"type": "error", "error": {"type",
"message"}}`. copilot-api answered everything with `{"error": {"message":
<upstream body as a JSON string>, "type": "error"}}` and 500 for bad input;
here upstream's message is parsed out and bad input is a 4xx.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from copilot_hybrid.errors import UpstreamError
from copilot_hybrid.jsonutil import dumps
from copilot_hybrid.translate.anthropic_response import ANTHROPIC_ERROR_TYPES, error_type_for_status

log = logging.getLogger(__name__)

ANTHROPIC_PREFIX = "/v1/messages"


def is_anthropic_path(path: str) -> bool:
    return path == ANTHROPIC_PREFIX or path.startswith(ANTHROPIC_PREFIX + "/")


_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def openai_type(status: int) -> str:
    if status in _OPENAI_TYPES:
        return _OPENAI_TYPES[status]
    return "invalid_request_error" if 400 <= status < 500 else "api_error"


def json_response(value: Any, status: int = 200) -> Response:
    return Response(dumps(value), status_code=status, media_type="application/json")


def anthropic_error_body(status: int, message: str, type: str | None = None) -> dict[str, Any]:
    return {"type": "error", "error": {"type": type or error_type_for_status(status), "message": message}}


def openai_error_body(
    status: int, message: str, type: str | None = None, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type or openai_type(status), "param": param, "code": code}}


def error_response(
    path: str,
    status: int,
    message: str,
    *,
    type: str | None = None,
    param: str | None = None,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    if is_anthropic_path(path):
        body = anthropic_error_body(status, message, type if type in ANTHROPIC_ERROR_TYPES else None)
    else:
        body = openai_error_body(status, message, type if type in _OPENAI_TYPES.values() else None, param, code)
    return Response(dumps(body), status_code=status, headers=dict(headers or {}), media_type="application/json")


def upstream_error_response(path: str, exc: UpstreamError) -> Response:
    """Keeps upstream's status; the message is upstream's own text, parsed out of its JSON.

    On OpenAI routes an upstream `error.code`/`param`/`type` (e.g. model_not_supported) is kept;
    on both, the headers upstream's error passes on (Retry-After: the SDKs wait that long).
    """
    status = exc.status if 400 <= exc.status <= 599 else 502
    message = exc.message
    if is_anthropic_path(path):
        return error_response(path, status, message, headers=exc.headers)
    data = exc.json()
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        code = error.get("code")
        param = error.get("param")
        kind = error.get("type")
        body = openai_error_body(
            status,
            message,
            kind if isinstance(kind, str) and kind else None,
            param if isinstance(param, str) else None,
            code if isinstance(code, str) else None,
        )
        return Response(dumps(body), status_code=status, headers=exc.headers, media_type="application/json")
    return error_response(path, status, message, headers=exc.headers)


def request_path(request: Request) -> str:
    return str(request.scope.get("path", ""))
