"""The proxy's exception tree for upstream I/O.

Lower-level errors (httpx) are mapped here, where they enter; the server maps
these to HTTP answers in the caller's own format.
"""

from __future__ import annotations

import json
from typing import Any


class ProxyError(Exception):
    """Base of every error the proxy raises on purpose."""


class AuthError(ProxyError):
    """GitHub login or the Copilot token exchange failed; the message says what to do."""


class DeviceFlowError(AuthError):
    """The device flow ended without a token (denied, expired, timed out...)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class UpstreamError(ProxyError):
    """An upstream (GitHub or Copilot) answered with a non-2xx status."""

    def __init__(self, status: int, body: bytes, *, content_type: str = "", url: str = "") -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.url = url
        super().__init__(f"upstream answered HTTP {status}: {self.message}")

    def json(self) -> Any:
        """The parsed body, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None

    @property
    def message(self) -> str:
        """Upstream's own message as readable text (never a JSON-encoded string)."""
        return upstream_message(self.body)


class UpstreamUnavailable(ProxyError):
    """The upstream could not be reached (connect error, reset, timeout)."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


class CopilotTokenError(AuthError):
    """No usable Copilot token: the exchange failed and the old token has expired."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


MAX_MESSAGE = 2000


def upstream_message(body: bytes) -> str:
    """Finds the human message in an upstream error body.

    Copilot and GitHub use several shapes: {"error": {"message"}}, {"error": "text"},
    {"message": ...}, {"error_description": ...}, or plain text.
    """
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:MAX_MESSAGE] or "(empty body)"
    found = _find_message(data)
    return (found if found is not None else text)[:MAX_MESSAGE]


def _find_message(data: Any) -> str | None:
    if isinstance(data, str):
        return data or None
    if not isinstance(data, dict):
        return None
    error = data.get("error")
    if isinstance(error, dict):
        inner = _find_message(error)
        if inner is not None:
            return inner
    for key in ("message", "error_description", "detail"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    if isinstance(error, str) and error:
        return error
    return None
