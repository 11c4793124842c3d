"""Every error copilot-hybrid raises on purpose, in one tree.

    CopilotHybridError                 base: catch it to catch every deliberate error
    ├── ConfigError                    a setting or config-file value is unusable
    ├── AuthError                      GitHub login / Copilot token; the message says what to do
    │   ├── DeviceFlowError            the device flow ended without a token (.reason)
    │   └── CopilotTokenError          no usable Copilot token (.status)
    ├── UpstreamError                  GitHub or Copilot answered non-2xx (.status, .body)
    ├── UpstreamUnavailable            upstream not reachable: connect error, reset, timeout (.timeout)
    ├── ApiError                       an answer the server decided on (.status, .type, .param, ...)
    │   ├── ModelNotAvailable          the plan lacks the requested model (.requested, .same_family, .newest)
    │   └── ModelEndpointUnavailable   the model exists but not behind the caller's API (.model, .endpoints)
    ├── RateLimited                    the --rate-limit limiter rejected the request (.retry_after_seconds)
    ├── TranslationError (ValueError)  a client request that cannot become a valid upstream one (.param)
    ├── VocabularyError (ValueError)   a vocabulary file is missing, unreadable or not the official one
    ├── BenchError                     `bench proxy` could not run: an end did not start or failed
    └── NativeError                    the native core
        ├── NativeUnavailable          the library, or a symbol a feature needs, is not loaded
        ├── NativeCallError            a native call returned a CH_E_* status (.code)
        └── BuildError                 `copilot-hybrid build` failed

Lower-level errors are mapped where they enter: httpx's in
`copilot_hybrid.copilot.client` and `copilot_hybrid.github.api`
(UpstreamError, UpstreamUnavailable), cffi statuses in
`copilot_hybrid.native.status` (NativeCallError, MemoryError for
CH_E_OUT_OF_MEMORY). The server turns each into an answer in the caller's
own API format (`copilot_hybrid.server.errors`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

#: Upstream messages quoted in errors are cut to this many characters.
MAX_UPSTREAM_MESSAGE = 2000


class CopilotHybridError(Exception):
    """Base of every error copilot-hybrid raises on purpose."""


class ConfigError(CopilotHybridError):
    """A setting (option, environment variable, config-file value) is unusable."""


# ---- GitHub and Copilot ---------------------------------------------------------


class AuthError(CopilotHybridError):
    """GitHub login or the Copilot token exchange failed; the message says what to do."""


class DeviceFlowError(AuthError):
    """The device flow ended without a token (denied, expired, timed out...)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class CopilotTokenError(AuthError):
    """No usable Copilot token: the exchange failed and the old token has expired."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class UpstreamError(CopilotHybridError):
    """An upstream (GitHub or Copilot) answered with a non-2xx status."""

    def __init__(
        self,
        status: int,
        body: bytes,
        *,
        content_type: str = "",
        url: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.url = url
        self.headers = dict(headers or {})
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


class UpstreamUnavailable(CopilotHybridError):
    """The upstream could not be reached (connect error, reset, timeout)."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


def upstream_message(body: bytes) -> str:
    """Finds the human message in an upstream error body.

    Copilot and GitHub use several shapes: {"error": {"message"}}, {"error": "text"},
    {"message": ...}, {"error_description": ...}, or plain text.
    """
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:MAX_UPSTREAM_MESSAGE] or "(empty body)"
    found = _find_message(data)
    return (found if found is not None else text)[:MAX_UPSTREAM_MESSAGE]


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


# ---- the server's own answers ------------------------------------------------------


class ApiError(CopilotHybridError):
    """An answer the proxy decided on (bad input, limits, operator rejection...)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})


class ModelNotAvailable(ApiError):
    """The requested model is not on the Copilot plan. The message names the model,
    the plan's models of the same family and the newest one, and how to choose.

    OpenAI callers get OpenAI's own answer for an unknown model, 404
    `model_not_found`. Anthropic callers get a 400 `invalid_request_error`, not
    Anthropic's 404: Claude Code replaces the message of every 404 with its own
    "There's an issue with the selected model", and ours says what to do.
    """

    def __init__(
        self,
        requested: str,
        message: str,
        *,
        same_family: tuple[str, ...],
        newest: str | None,
        anthropic: bool = True,
    ) -> None:
        if anthropic:
            super().__init__(400, message, type="invalid_request_error", param="model", code="model_not_found")
        else:
            super().__init__(404, message, type="invalid_request_error", param="model", code="model_not_found")
        self.requested = requested
        self.same_family = same_family
        self.newest = newest


class ModelEndpointUnavailable(ApiError):
    """The model is on the plan, but Copilot serves it on no endpoint the caller's
    API can be carried to (e.g. a Messages-only model asked through chat completions)."""

    def __init__(self, model: str, message: str, *, endpoints: tuple[str, ...]) -> None:
        super().__init__(400, message, type="invalid_request_error", param="model", code="unsupported_api_for_model")
        self.model = model
        self.endpoints = endpoints


class RateLimited(CopilotHybridError):
    """The request came too early and the limiter is not in wait mode."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"Rate limit exceeded: retry in {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds


class TranslationError(CopilotHybridError, ValueError):
    """A request the translator cannot turn into a valid upstream request.

    The server answers it with an `invalid_request_error` (HTTP 400); `param`
    names the offending field in Anthropic's dotted style (e.g.
    `messages.2.content.0.source`) when one can be named.
    """

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param

    def __str__(self) -> str:
        return f"{self.param}: {self.message}" if self.param else self.message


# ---- tokenizer data and the native core -------------------------------------------------


class VocabularyError(CopilotHybridError, ValueError):
    """A vocab file is missing, unreadable or not the official one."""


class BenchError(CopilotHybridError):
    """`bench proxy` could not run: the fake upstream, a proxy or the load generator did not start or failed."""


class NativeError(CopilotHybridError):
    """Something about the native core; the references keep answering."""


class NativeUnavailable(NativeError, RuntimeError):
    """The native library (or the symbol a feature needs) is not loaded."""


class NativeCallError(NativeError, RuntimeError):
    """A native call returned a CH_E_* status other than out-of-memory."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class BuildError(NativeError):
    """Building or checking the native library failed; the message says why."""
