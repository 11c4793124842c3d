"""Anthropic surface: /v1/messages (translated onto Copilot's chat completions)
and /v1/messages/count_tokens (local tokenizer)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from copilot_hybrid.copilot.client import read_whole
from copilot_hybrid.copilot.headers import anthropic_initiator, has_vision
from copilot_hybrid.copilot.models import tokenizer_name
from copilot_hybrid.errors import ApiError, UpstreamError
from copilot_hybrid.jsonutil import dumps
from copilot_hybrid.observe import note
from copilot_hybrid.server.body import check_token_limits, parse_object, read_body, require
from copilot_hybrid.server.errors import json_response
from copilot_hybrid.server.runtime import Runtime
from copilot_hybrid.server.streams import SSE_HEADERS

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
        try:
            openai_payload = anthropic_to_openai(payload, known_models=rt.models.by_id())
        except TranslationError as exc:
            raise ApiError(400, exc.message, param=exc.param) from exc
        note(requested_model=payload["model"], resolved_model=openai_payload.get("model"))
        log.debug(
            "messages: model %s -> %s, stream=%s", payload["model"], openai_payload.get("model"), payload.get("stream")
        )
        await rt.approve(f"messages {payload['model']}")
        upstream = await rt.copilot.chat_completions(
            dumps(openai_payload),
            vision=has_vision(openai_payload.get("messages")),
            initiator=anthropic_initiator(payload["messages"]),
        )
        if not upstream.headers.get("content-type", "").startswith("text/event-stream"):
            raw = await read_whole(upstream)
            try:
                data = json.loads(raw)
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
        return StreamingResponse(
            anthropic_events(upstream, str(payload["model"])), media_type="text/event-stream", headers=SSE_HEADERS
        )

    async def count_tokens(request: Request) -> Response:
        body = await read_body(request, rt.settings.max_body_bytes)
        payload = parse_object(body)
        require(payload, "model", str, "a string")
        require(payload, "messages", list, "an array")
        check_token_limits(payload)
        note(requested_model=payload["model"])
        beta = request.headers.get("anthropic-beta")
        try:
            count = await asyncio.to_thread(_count_tokens, rt, payload, beta)
        except TranslationError as exc:
            raise ApiError(400, exc.message, param=exc.param) from exc
        return json_response({"input_tokens": count})

    app.add_api_route("/v1/messages", messages, methods=["POST"], include_in_schema=False)
    app.add_api_route("/v1/messages/count_tokens", count_tokens, methods=["POST"], include_in_schema=False)


def _count_tokens(rt: Runtime, payload: dict[str, Any], beta: str | None) -> int:
    """Runs in a worker thread: a Claude Code request is ~100 KB of tools to tokenize."""
    from copilot_hybrid.tokenizer import encoding_for_model
    from copilot_hybrid.translate import count_anthropic_request_tokens
    from copilot_hybrid.translate.anthropic_request import normalize_model

    model_id: str = payload["model"]
    # copilot-api looked up the raw id, so dated ids (claude-sonnet-4-20250514) answered 1.
    model = rt.models.find(model_id) or rt.models.find(normalize_model(model_id, rt.models.ids()))
    encoding = encoding_for_model(model_id, tokenizer=tokenizer_name(model))
    result: int = count_anthropic_request_tokens(payload, count=encoding.count, model_id=model_id, anthropic_beta=beta)
    return result


async def anthropic_events(upstream: httpx.Response, model: str) -> AsyncIterator[bytes]:
    """OpenAI chunks in, Anthropic events out (the stream_translate feature, one
    upstream read at a time). Whatever happens the client gets an ending:
    finish() on a normal end (even without finish_reason or [DONE]), an
    Anthropic `error` event when upstream fails after the stream began."""
    from copilot_hybrid.stream_translate import StreamTranslation

    translation = StreamTranslation(model)
    tail = b""
    try:
        async for read in upstream.aiter_bytes():
            events = translation.feed(read)
            if events:
                yield events
            if translation.ended:
                break
        tail = translation.finish()
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
