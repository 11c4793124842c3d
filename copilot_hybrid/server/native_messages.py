"""Anthropic requests on Copilot's own `/v1/messages` (and its count_tokens).

The request goes out with only the preparation Copilot needs
(`translate.messages_native.prepare_messages_request`) and the endpoint's
headers (`copilot.headers.messages_headers`); the answer comes back as
Copilot sent it: JSON untouched, a stream event by event minus Copilot's own
events (`MessagesStreamFilter`; `ping`s pass). Errors keep Anthropic's format
(server/errors.py), a stream that breaks off ends with an Anthropic `error` event.

count_tokens asks Copilot for models that list `/v1/messages` and falls back
to the local count when Copilot refuses or fails; `Runtime.count_tokens_answers`
counts who answered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

import httpx
from starlette.responses import Response, StreamingResponse

from copilot_hybrid.copilot.client import read_whole
from copilot_hybrid.copilot.headers import messages_headers
from copilot_hybrid.copilot.registry import MESSAGES, ModelInfo
from copilot_hybrid.errors import ApiError, CopilotHybridError, UpstreamError, UpstreamUnavailable
from copilot_hybrid.jsonutil import dumps, loads
from copilot_hybrid.server.routing import explain_model_refusal
from copilot_hybrid.server.streams import ANTHROPIC_PING, SSE_HEADERS, UpstreamStream
from copilot_hybrid.translate.anthropic_response import anthropic_error
from copilot_hybrid.translate.anthropic_stream import format_sse
from copilot_hybrid.translate.messages_native import (
    MessagesStreamFilter,
    message_as_events,
    prepare_messages_request,
)

if TYPE_CHECKING:
    from copilot_hybrid.server.runtime import Runtime

log = logging.getLogger("copilot_hybrid.server")

COUNT_TOKENS: Final = MESSAGES + "/count_tokens"


def _headers(
    rt: Runtime, payload: Mapping[str, Any], beta: str | None, **overrides: str
) -> Callable[[str], dict[str, str]]:
    def build(token: str) -> dict[str, str]:
        return {**messages_headers(token, rt.vscode_version, payload, anthropic_beta=beta), **overrides}

    return build


async def forward_messages(
    rt: Runtime, payload: Mapping[str, Any], model: ModelInfo, anthropic_beta: str | None
) -> Response:
    """One `/v1/messages` request on Copilot's `/v1/messages`: the client's answer."""
    prepared = prepare_messages_request(payload, model=model, anthropic_beta=anthropic_beta)
    if prepared.changes:
        log.debug("messages for %s prepared: %s", model.id, "; ".join(prepared.changes))
    try:
        upstream = await rt.copilot.send(
            "POST",
            MESSAGES,
            content=dumps(prepared.payload),
            headers=_headers(rt, prepared.payload, prepared.anthropic_beta),
        )
    except UpstreamError as exc:
        await explain_model_refusal(rt, str(payload["model"]), "anthropic", exc)
    content_type = upstream.headers.get("content-type", "")
    if content_type.startswith("text/event-stream"):
        events = forward_events(
            upstream, ping_interval=rt.settings.ping_interval, idle_timeout=rt.settings.stream_idle_timeout
        )
        return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)
    raw = await read_whole(upstream)
    if payload.get("stream") is True:
        # Copilot ignored `stream`: the client still gets the events it asked for.
        try:
            message = loads(raw)
        except ValueError as exc:
            raise UpstreamError(502, dumps({"message": f"Copilot sent an unusable answer: {exc}"})) from exc
        return Response(message_as_events(message), media_type="text/event-stream", headers=SSE_HEADERS)
    return Response(raw, status_code=upstream.status_code, media_type=content_type or "application/json")


async def forward_events(
    upstream: httpx.Response, *, ping_interval: float, idle_timeout: float
) -> AsyncIterator[bytes]:
    """Copilot's SSE, event by event, filtered; whatever happens the client gets an
    ending (Copilot's `message_stop`, or an `error` event when the stream breaks off
    or goes silent for `idle_timeout`). After each `ping_interval` of silence an
    `event: ping` goes out (the filter hands over whole events only, so a ping never
    splits one). After `message_stop` the rest of the body is drained, so that
    httpx keeps the upstream connection for the next request."""
    stream_filter = MessagesStreamFilter()
    tail = b""
    try:
        async with UpstreamStream(upstream, ping_interval=ping_interval, idle_timeout=idle_timeout) as body:
            async for chunk in body:
                if chunk is None:
                    yield ANTHROPIC_PING
                    continue
                out = stream_filter.feed(chunk)
                if out:
                    yield out
                if stream_filter.ended:
                    break
            else:
                tail = stream_filter.finish()
                if not stream_filter.ended:
                    log.warning("Copilot's /v1/messages stream ended without message_stop")
                    tail += format_sse(anthropic_error("Copilot's stream ended before the message was complete"))
    except UpstreamUnavailable as exc:
        log.warning("Upstream stream stalled: %s", exc)
        tail = stream_filter.finish() + format_sse(anthropic_error(str(exc)))
    except httpx.HTTPError as exc:
        log.warning("Upstream stream broke off: %s: %s", type(exc).__name__, exc)
        tail = format_sse(anthropic_error(f"The upstream stream broke off ({type(exc).__name__})"))
    finally:
        await upstream.aclose()
        if stream_filter.dropped:
            log.debug("Filtered Copilot's own stream events: %s", stream_filter.dropped)
    if tail:
        yield tail


# ---- count_tokens ---------------------------------------------------------------------


async def count_tokens(
    rt: Runtime,
    payload: Mapping[str, Any],
    anthropic_beta: str | None,
    *,
    local: Callable[[], int],
) -> int:
    """`input_tokens` for a count_tokens request: Copilot's own count for models
    that list /v1/messages (unless --offline-count-tokens), else, or when Copilot
    refuses or fails, `local()` (run in a worker thread: it tokenizes the request)."""
    model = _upstream_counting_model(rt, payload)
    if model is not None:
        try:
            count = await _copilot_count(rt, payload, model, anthropic_beta)
        except CopilotHybridError as exc:
            log.debug("count_tokens for %s: Copilot did not count (%s); counting locally", model.id, exc)
            source = "local_fallback"
        else:
            log.debug("count_tokens for %s answered by Copilot: %d", model.id, count)
            rt.count_tokens_answers["copilot"] += 1
            return count
    else:
        source = "local"
    count = await asyncio.to_thread(local)
    log.debug("count_tokens for %s answered locally: %d", payload.get("model"), count)
    rt.count_tokens_answers[source] += 1
    return count


def _upstream_counting_model(rt: Runtime, payload: Mapping[str, Any]) -> ModelInfo | None:
    if rt.settings.offline_count_tokens:
        return None
    try:
        model = rt.resolve(str(payload["model"]), "anthropic")
    except ApiError:
        return None  # an estimate for a model the plan lacks; /v1/messages will say so
    return model if model.serves(MESSAGES) else None


async def _copilot_count(rt: Runtime, payload: Mapping[str, Any], model: ModelInfo, beta: str | None) -> int:
    prepared = prepare_messages_request(payload, model=model, anthropic_beta=beta)
    # Counting is no conversation turn: never a premium request.
    headers = _headers(rt, prepared.payload, prepared.anthropic_beta, **{"x-initiator": "agent"})
    response = await rt.copilot.request("POST", COUNT_TOKENS, content=dumps(prepared.payload), headers=headers)
    try:
        data = response.json()
    except ValueError as exc:
        raise UpstreamError(502, b'{"message":"Copilot sent a non-JSON token count"}') from exc
    count = data.get("input_tokens") if isinstance(data, dict) else None
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise UpstreamError(502, b'{"message":"Copilot sent a token count without input_tokens"}')
    return count
