"""OpenAI surface: chat completions (pass-through, the model resolved on the
plan first) and embeddings. /v1/models is server/routes_models.py."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from copilot_hybrid.copilot.client import read_whole
from copilot_hybrid.copilot.headers import has_vision, initiator_for
from copilot_hybrid.copilot.registry import RESPONSES
from copilot_hybrid.errors import UpstreamError, UpstreamUnavailable
from copilot_hybrid.jsonutil import dumps
from copilot_hybrid.observe import note
from copilot_hybrid.server.body import check_token_limits, parse_object, read_body, require
from copilot_hybrid.server.routes_responses import chat_via_responses
from copilot_hybrid.server.routing import endpoint_for, explain_model_refusal
from copilot_hybrid.server.runtime import Runtime
from copilot_hybrid.server.streams import (
    OPENAI_PING,
    SSE_HEADERS,
    UpstreamStream,
    event_boundary,
    openai_stream_error,
)

log = logging.getLogger("copilot_hybrid.server")

# Models that reject `max_tokens` (they take max_completion_tokens): no default for them.
_NO_MAX_TOKENS = re.compile(r"^(o\d|gpt-5)")


def with_default_max_tokens(body: bytes, payload: dict[str, Any], limit: int) -> bytes:
    """copilot-api fills an absent max_tokens with the model's max_output_tokens.

    When the key is absent the field is spliced in after the opening brace, so the
    client's bytes are not re-serialised (the payload has at least `model`, so a
    comma always follows).
    """
    if "max_tokens" in payload:  # present as null
        return dumps({**payload, "max_tokens": limit})
    start = body.index(b"{") + 1
    return body[:start] + b'"max_tokens":%d,' % limit + body[start:]


def register(app: FastAPI, rt: Runtime) -> None:
    async def chat_completions(request: Request) -> Response:
        await rt.limiter.acquire()  # before the body is read or parsed, as copilot-api does
        body = await read_body(request, rt.settings.max_body_bytes)
        payload = parse_object(body)
        require(payload, "model", str, "a string")
        require(payload, "messages", list, "an array")
        require(payload, "stream", bool, "a boolean", required=False)
        check_token_limits(payload)
        messages = payload["messages"]
        note(requested_model=payload["model"])  # before resolution: a refused model is recorded too
        model = rt.resolve(payload["model"], "openai")
        note(resolved_model=model.id)
        if endpoint_for(model, "chat") == RESPONSES:  # a Responses-only model (GPT-5.x codex)
            await rt.approve(f"chat {model.id}")
            return await chat_via_responses(rt, request, payload, model)
        if model.id != payload["model"]:  # e.g. claude-sonnet-4-5 -> claude-sonnet-4.5
            payload = {**payload, "model": model.id}
            body = dumps(payload)
        await rt.approve(f"chat {payload['model']}")
        if payload.get("max_tokens") is None and payload.get("max_completion_tokens") is None:
            limit = model.max_output_tokens
            if limit is not None and not _NO_MAX_TOKENS.match(model.id):
                body = with_default_max_tokens(body, payload, limit)
        try:
            upstream = await rt.copilot.chat_completions(
                body, vision=has_vision(messages), initiator=initiator_for(messages)
            )
        except UpstreamError as exc:
            await explain_model_refusal(rt, payload["model"], "openai", exc)
        return await pass_through(
            upstream, ping_interval=rt.settings.ping_interval, idle_timeout=rt.settings.stream_idle_timeout
        )

    async def embeddings(request: Request) -> Response:
        body = await read_body(request, rt.settings.max_body_bytes)
        payload = parse_object(body)
        require(payload, "model", str, "a string")
        require(payload, "input", (str, list), "a string or an array")
        note(requested_model=payload["model"], resolved_model=payload["model"])
        upstream = await rt.copilot.embeddings(body)
        return Response(upstream.content, status_code=upstream.status_code, media_type="application/json")

    for prefix in ("/v1", ""):
        app.add_route(f"{prefix}/chat/completions", chat_completions, methods=["POST"], include_in_schema=False)
        app.add_route(f"{prefix}/embeddings", embeddings, methods=["POST"], include_in_schema=False)


async def pass_through(upstream: httpx.Response, *, ping_interval: float, idle_timeout: float) -> Response:
    """Upstream's answer as it came: JSON bytes untouched, SSE copied event by event."""
    content_type = upstream.headers.get("content-type", "")
    if not content_type.startswith("text/event-stream"):
        content = await read_whole(upstream)
        return Response(content, status_code=upstream.status_code, media_type=content_type or "application/json")
    return StreamingResponse(
        copy_events(upstream, ping_interval=ping_interval, idle_timeout=idle_timeout),
        status_code=upstream.status_code,
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )


async def copy_events(upstream: httpx.Response, *, ping_interval: float, idle_timeout: float) -> AsyncIterator[bytes]:
    """Forwards whole events only, so a failure mid-event cannot leave half an event
    glued to the error chunk that reports it. After each `ping_interval` of silence a
    `: ping` comment goes out (what the client has is always whole events, so a
    comment never splits one); `idle_timeout` of silence ends the stream with an
    error chunk."""
    pending = b""
    try:
        async with UpstreamStream(upstream, ping_interval=ping_interval, idle_timeout=idle_timeout) as body:
            async for chunk in body:
                if chunk is None:
                    yield OPENAI_PING
                    continue
                pending += chunk
                end = event_boundary(pending)
                if end:
                    out, pending = pending[:end], pending[end:]
                    yield out
        if pending.strip():
            yield pending if pending.endswith(b"\n\n") else pending + b"\n\n"
    except UpstreamUnavailable as exc:
        log.warning("Upstream stream stalled: %s", exc)
        yield openai_stream_error(str(exc))
    except httpx.HTTPError as exc:
        log.warning("Upstream stream broke off: %s: %s", type(exc).__name__, exc)
        yield openai_stream_error(f"The upstream stream broke off: {type(exc).__name__}")
    finally:
        await upstream.aclose()
