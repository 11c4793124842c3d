"""Anthropic surface: /v1/messages (natively on Copilot's /v1/messages for the
models that list it, server/native_messages.py; otherwise translated onto
Copilot's chat completions, here) and /v1/messages/count_tokens (Copilot's
count or the local tokenizer). server/routing.py decides which."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from copilot_hybrid.copilot.client import read_whole
from copilot_hybrid.copilot.headers import has_vision, messages_initiator
from copilot_hybrid.copilot.registry import MESSAGES, RESPONSES
from copilot_hybrid.errors import ApiError, UpstreamError, UpstreamUnavailable
from copilot_hybrid.jsonutil import dumps, loads
from copilot_hybrid.observe import note
from copilot_hybrid.server.body import check_token_limits, parse_object, read_body, require
from copilot_hybrid.server.errors import json_response
from copilot_hybrid.server.native_messages import count_tokens as count_request_tokens
from copilot_hybrid.server.native_messages import forward_messages
from copilot_hybrid.server.routes_responses import messages_via_responses
from copilot_hybrid.server.routing import explain_model_refusal, messages_route
from copilot_hybrid.server.runtime import Runtime
from copilot_hybrid.server.streams import ANTHROPIC_PING, SSE_HEADERS, UpstreamStream

log = logging.getLogger("copilot_hybrid.server")


def _check_messages_request(payload: dict[str, Any]) -> None:
    require(payload, "model", str, "a string")
    require(payload, "messages", list, "an array")
    require(payload, "max_tokens", int, "an integer", required=False)
    require(payload, "stream", bool, "a boolean", required=False)
    check_token_limits(payload)


def register(app: FastAPI, rt: Runtime) -> None:
    from copilot_hybrid.translate import TranslationError, anthropic_to_openai, openai_to_anthropic

    async def messages(request: Request) -> Response:
        await rt.limiter.acquire()
        body = await read_body(request, rt.settings.max_body_bytes)
        payload = parse_object(body)
        _check_messages_request(payload)
        beta = request.headers.get("anthropic-beta")
        log.debug("messages: model %s, stream=%s", payload["model"], payload.get("stream"))
        note(requested_model=payload["model"])  # before resolution: a refused model is recorded too
        route = messages_route(rt, payload, beta)
        log.debug(
            "messages: %s on %s%s",
            route.model.id,
            route.endpoint,
            f" (--small-model, {route.small_model_for})" if route.small_model_for else "",
        )
        note(resolved_model=route.model.id)
        if route.endpoint == MESSAGES:
            await rt.approve(f"messages {payload['model']}")
            return await forward_messages(rt, payload, route.model, beta)
        if route.endpoint == RESPONSES:  # a Responses-only model (GPT-5.x codex) for Claude Code
            await rt.approve(f"messages {payload['model']}")
            return await messages_via_responses(rt, request, payload, route.model)
        try:
            openai_payload = anthropic_to_openai({**payload, "model": route.model.id}, known_models=rt.models.by_id())
        except TranslationError as exc:
            raise ApiError(400, exc.message, param=exc.param) from exc
        await rt.approve(f"messages {payload['model']}")
        try:
            upstream = await rt.copilot.chat_completions(
                dumps(openai_payload),
                vision=has_vision(openai_payload.get("messages")),
                initiator=messages_initiator(payload),
            )
        except UpstreamError as exc:
            await explain_model_refusal(rt, str(payload["model"]), "anthropic", exc)
        if not upstream.headers.get("content-type", "").startswith("text/event-stream"):
            raw = await read_whole(upstream)
            try:
                data = loads(raw)
                translated = openai_to_anthropic(data)
            except (ValueError, TranslationError) as exc:
                log.warning("Untranslatable upstream answer: %s", exc)
                raise UpstreamError(502, dumps({"message": f"Copilot sent an unusable answer: {exc}"})) from exc
            if payload.get("stream") is True:
                # The client asked for events; give it events, not a JSON body it cannot parse.
                return Response(
                    _events_of_completion(data, str(payload["model"])),
                    media_type="text/event-stream",
                    headers=SSE_HEADERS,
                )
            return json_response(translated)
        events = anthropic_events(
            upstream,
            str(payload["model"]),
            ping_interval=rt.settings.ping_interval,
            idle_timeout=rt.settings.stream_idle_timeout,
        )
        return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)

    async def count_tokens(request: Request) -> Response:
        body = await read_body(request, rt.settings.max_body_bytes)
        payload = parse_object(body)
        require(payload, "model", str, "a string")
        require(payload, "messages", list, "an array")
        check_token_limits(payload)
        note(requested_model=payload["model"])
        beta = request.headers.get("anthropic-beta")
        try:
            count = await count_request_tokens(rt, payload, beta, local=lambda: _count_tokens(rt, payload, beta))
        except TranslationError as exc:
            raise ApiError(400, exc.message, param=exc.param) from exc
        return json_response({"input_tokens": count})

    app.add_route("/v1/messages", messages, methods=["POST"], include_in_schema=False)
    app.add_route("/v1/messages/count_tokens", count_tokens, methods=["POST"], include_in_schema=False)


def _count_tokens(rt: Runtime, payload: dict[str, Any], beta: str | None) -> int:
    """The local count; runs in a worker thread: a Claude Code request is ~100 KB of tools to tokenize."""
    from copilot_hybrid.tokenizer import encoding_for_model
    from copilot_hybrid.translate import count_anthropic_request_tokens

    model_id: str = payload["model"]
    # copilot-api looked up the raw id, so dated ids (claude-sonnet-4-20250514) answered 1.
    try:
        tokenizer = rt.resolve(model_id, "anthropic").tokenizer
    except ApiError:
        tokenizer = None
    encoding = encoding_for_model(model_id, tokenizer=tokenizer)
    result: int = count_anthropic_request_tokens(payload, count=encoding.count, model_id=model_id, anthropic_beta=beta)
    return result


async def anthropic_events(
    upstream: httpx.Response, model: str, *, ping_interval: float, idle_timeout: float
) -> AsyncIterator[bytes]:
    """OpenAI chunks in, Anthropic events out (the stream_translate feature, one
    upstream read at a time), and an `event: ping` after each `ping_interval` of
    silence. Whatever happens the client gets an ending: finish() on a normal end
    (even without finish_reason or [DONE]), an Anthropic `error` event when upstream
    fails or goes silent for `idle_timeout` after the stream began."""
    from copilot_hybrid.stream_translate import StreamTranslation

    translation = StreamTranslation(model)
    tail = b""
    try:
        async with UpstreamStream(upstream, ping_interval=ping_interval, idle_timeout=idle_timeout) as body:
            async for read in body:
                if read is None:
                    yield ANTHROPIC_PING
                    continue
                events = translation.feed(read)
                if events:
                    yield events
                if translation.ended:  # [DONE], or an error or malformed event
                    break
            # The client gets its ending first; then leaving the block drains the rest of
            # upstream's body (after [DONE]), so that its connection is reused.
            ending = translation.finish()
            if ending:
                yield ending
    except UpstreamUnavailable as exc:
        log.warning("Upstream stream stalled: %s", exc)
        tail = translation.error(str(exc))
    except httpx.HTTPError as exc:
        log.warning("Upstream stream broke off: %s: %s", type(exc).__name__, exc)
        tail = translation.error(f"The upstream stream broke off ({type(exc).__name__})")
    except Exception as exc:  # noqa: BLE001 - the client still gets an ending; the log gets the cause
        log.error(
            "Stream translation failed: %s: %s", type(exc).__name__, exc, exc_info=log.isEnabledFor(logging.DEBUG)
        )
        tail = translation.error("Stream translation failed (the proxy's log has the details)")
    finally:
        await upstream.aclose()
    if tail:
        yield tail


def _events_of_completion(completion: dict[str, Any], model: str) -> bytes:
    from copilot_hybrid.translate import AnthropicStreamTranslator, completion_as_chunk, format_sse

    translator = AnthropicStreamTranslator(model=model)
    events = [*translator.feed(completion_as_chunk(completion)), *translator.finish()]
    return b"".join(format_sse(event) for event in events)
