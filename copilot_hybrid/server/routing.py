"""Which way a request goes: the model it names, resolved on the plan
(`copilot.resolution`), and the Copilot endpoint that serves it
(`copilot.registry.choose_endpoint`), limited to the endpoints this version
of the proxy speaks.

| inbound API                     | model lists                  | the proxy                                   |
|---------------------------------|------------------------------|---------------------------------------------|
| Anthropic `/v1/messages`        | `/v1/messages`               | native: prepared request, stream filtered   |
| Anthropic `/v1/messages`        | `/chat/completions` only     | translated onto chat completions            |
| Anthropic, `--no-native-messages` | `/chat/completions`        | translated onto chat completions            |
| OpenAI `/v1/chat/completions`   | `/chat/completions`          | passed through                              |
| either                          | `/responses` only            | 400 naming the model's endpoints            |
| either                          | nothing the plan offers      | ModelNotAvailable, in the caller's format   |

Copilot's Responses API is not spoken yet: a model that lists `/responses`
and chat completions is served on chat completions (what the proxy did
before the registry), a Responses-only one gets a clear 400.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, NoReturn

from copilot_hybrid.copilot.headers import is_compaction_request
from copilot_hybrid.copilot.registry import CHAT, MESSAGES, RESPONSES, Inbound, ModelInfo, choose_endpoint
from copilot_hybrid.copilot.resolution import Caller
from copilot_hybrid.errors import (
    ApiError,
    CopilotHybridError,
    ModelEndpointUnavailable,
    ModelNotAvailable,
    UpstreamError,
)
from copilot_hybrid.translate.messages_native import is_warmup_probe

if TYPE_CHECKING:
    from copilot_hybrid.server.runtime import Runtime
    from copilot_hybrid.server.settings import ServerSettings

log = logging.getLogger("copilot_hybrid.server")

__all__ = [
    "Route",
    "check_small_model",
    "endpoint_for",
    "explain_model_refusal",
    "messages_route",
    "reachable",
    "small_model_reason",
]

#: The Copilot endpoints the proxy can carry each inbound API to today.
REACHABLE: Final[Mapping[Inbound, tuple[str, ...]]] = {
    "anthropic": (MESSAGES, RESPONSES, CHAT),
    "chat": (CHAT, RESPONSES),
    "responses": (RESPONSES, MESSAGES, CHAT),
}


def endpoint_for(model: ModelInfo, inbound: Inbound, *, native_messages: bool = True) -> str:
    """The Copilot endpoint a request of `inbound` for `model` goes to.

    The registry's choice, when the proxy speaks it; else chat completions
    when the model lists it; else ModelEndpointUnavailable (HTTP 400).
    """
    endpoint = choose_endpoint(model, inbound, native_messages=native_messages)
    reachable = REACHABLE[inbound]
    if endpoint in reachable:
        return endpoint
    if CHAT in reachable and model.serves(CHAT):
        return CHAT
    raise ModelEndpointUnavailable(
        model.id,
        f"Model {model.id} is served by Copilot only on {', '.join(model.endpoints)}, which this version of "
        "copilot-hybrid does not speak yet. Pick a model that lists /v1/messages, /responses or /chat/completions "
        "(GET /v1/models shows each model's endpoints).",
        endpoints=model.endpoints,
    )


def reachable(model: ModelInfo, inbound: Inbound, settings: ServerSettings) -> bool:
    """Whether a request of `inbound` can be served by `model` at all."""
    try:
        endpoint_for(model, inbound, native_messages=settings.native_messages)
    except ApiError:
        return False
    return True


def small_model_reason(payload: Mapping[str, Any], anthropic_beta: str | None) -> str | None:
    """Why `--small-model` should take this Anthropic request ("compaction",
    "warm-up probe"), or None when it stays on the client's model."""
    if is_compaction_request(payload):
        return "compaction"
    if is_warmup_probe(payload, anthropic_beta):
        return "warm-up probe"
    return None


@dataclass(frozen=True)
class Route:
    """Where one Anthropic request goes."""

    model: ModelInfo
    endpoint: str
    #: Set when --small-model replaced the client's model (the reason, for the log).
    small_model_for: str | None = None


def messages_route(rt: Runtime, payload: Mapping[str, Any], anthropic_beta: str | None) -> Route:
    """The model and endpoint of a `/v1/messages` request; raises ModelNotAvailable
    or ModelEndpointUnavailable (in the Anthropic format) when it cannot be served.

    With `--small-model`, warm-up probes and compaction go to that model; when it
    cannot serve them they keep the client's model (an optimisation never fails a request).
    """
    settings = rt.settings
    small = settings.small_model
    reason = small_model_reason(payload, anthropic_beta) if small else None
    if small and reason:
        try:
            model = rt.resolve(small, "anthropic")
            endpoint = endpoint_for(model, "anthropic", native_messages=settings.native_messages)
        except ApiError as exc:
            log.warning("--small-model %s cannot take a %s: %s", small, reason, exc.message)
        else:
            return Route(model, endpoint, small_model_for=reason)
    model = rt.resolve(str(payload["model"]), "anthropic")
    return Route(model, endpoint_for(model, "anthropic", native_messages=settings.native_messages))


def check_small_model(rt: Runtime) -> None:
    """At startup: says where --small-model sends Claude Code's side requests, or why it cannot."""
    small = rt.settings.small_model
    if not small:
        return
    try:
        model = rt.resolve(small, "anthropic")
        endpoint_for(model, "anthropic", native_messages=rt.settings.native_messages)
    except ApiError as exc:
        log.warning("--small-model: %s Warm-up probes and compaction keep the client's model.", exc.message)
    else:
        log.info("Claude Code's warm-up probes and compaction go to %s (--small-model)", model.id)


# ---- Copilot refusing a model it listed ------------------------------------------------

_MODEL_REFUSAL_CODES: Final = ("model_not_supported", "model_not_found", "unsupported_model")


def _is_model_refusal(exc: UpstreamError) -> bool:
    data = exc.json()
    error = data.get("error") if isinstance(data, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return exc.status in (400, 404) and code in _MODEL_REFUSAL_CODES


async def explain_model_refusal(rt: Runtime, requested: str, caller: Caller, exc: UpstreamError) -> NoReturn:
    """Re-raises an upstream error; Copilot's bare "The requested model is not
    supported." becomes a message that says what to do.

    The model list is read again: when the model has left the plan, the answer
    is ModelNotAvailable (its family, the newest model, how to choose); when
    Copilot still lists it, the model is listed but not enabled for this account.
    """
    if not _is_model_refusal(exc):
        raise exc
    try:
        await rt.models.load()
    except CopilotHybridError as reload_error:
        log.warning("Reloading the model list after a model refusal failed: %s", reload_error)
    try:
        model = rt.resolve(requested, caller)
    except ModelNotAvailable as missing:
        raise missing from exc
    raise ApiError(
        400,
        f"Copilot refused model {model.id} ({exc.message}) although its model list offers it: it may have "
        "to be enabled in your GitHub Copilot settings (Features / Models), or your plan may not include it. "
        "Pick another model (GET /v1/models lists them).",
        type="invalid_request_error",
        param="model",
        code="model_not_supported",
    ) from exc
