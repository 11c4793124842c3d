"""The OpenAI Responses API: `POST /v1/responses` and `POST /responses` (Codex,
the openai SDK's `client.responses`), and the Responses-only models reached
from the other two APIs.

The Copilot endpoint (`copilot.registry.choose_endpoint`, inbound `responses`)
decides the path per model:

| the model lists     | the request goes                                                     |
|---------------------|----------------------------------------------------------------------|
| `/responses`        | to `/responses` as sent, with the fixes of `translate.responses_fixes` |
| `/v1/messages`      | (Claude) to `/v1/messages`, translated (`translate.responses_via_messages`) |
| `/chat/completions` | to `/chat/completions`, translated (`translate.responses_via_chat`)   |

`chat_via_responses` and `messages_via_responses` serve the Chat Completions
and Anthropic Messages APIs on a model that lists only `/responses` (the
GPT-5.x codex models); the chat and Anthropic routes call them once they
have resolved such a model.

Every client stream ends with exactly one terminal event of the client's API,
also when Copilot's stream fails or breaks off: the stream translators
guarantee it and `_pump` always lets them finish. A JSON answer to a stream
request (or events to a non-stream one) is converted, so a client always gets
the shape it asked for. A non-stream answer that failed upstream is an HTTP
502 in the client's error format.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any, Protocol

import httpx
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from copilot_hybrid.copilot.client import read_whole
from copilot_hybrid.copilot.headers import (
    claude_code_session,
    has_responses_vision,
    has_vision,
    initiator_for,
    is_compaction_request,
    messages_headers,
    messages_initiator,
    responses_headers,
)
from copilot_hybrid.copilot.registry import MESSAGES, RESPONSES, ModelInfo, choose_endpoint
from copilot_hybrid.errors import ApiError, TranslationError, UpstreamError, UpstreamUnavailable
from copilot_hybrid.jsonutil import dumps, loads
from copilot_hybrid.observe import note
from copilot_hybrid.server.body import parse_object, read_body, require
from copilot_hybrid.server.errors import json_response
from copilot_hybrid.server.runtime import Runtime
from copilot_hybrid.server.settings import ServerSettings
from copilot_hybrid.server.streams import ANTHROPIC_PING, OPENAI_PING, SSE_HEADERS, UpstreamStream, iter_sse_data
from copilot_hybrid.translate.anthropic_stream import format_sse
from copilot_hybrid.translate.chat_via_responses import (
    ResponsesToChatStream,
    chat_to_responses_request,
    responses_to_chat_result,
)
from copilot_hybrid.translate.messages_native import prepare_messages_request
from copilot_hybrid.translate.messages_via_responses import (
    ResponsesToMessagesStream,
    messages_to_responses_request,
    responses_to_messages_result,
)
from copilot_hybrid.translate.responses_fixes import (
    ResponsesFixes,
    ResponsesStreamFixer,
    codex_request_kind,
    fix_responses_result,
    prepare_responses_request,
    responses_initiator,
)
from copilot_hybrid.translate.responses_via_chat import (
    ChatToResponsesStream,
    chat_to_responses_result,
    responses_to_chat_request,
)
from copilot_hybrid.translate.responses_via_messages import (
    MessagesToResponsesStream,
    messages_to_responses_result,
    responses_to_messages_request,
)

__all__ = [
    "ThroughFixer",
    "chat_via_responses",
    "events_of_response",
    "messages_via_responses",
    "register",
    "resolve",
]

log = logging.getLogger("copilot_hybrid.server")

Event = dict[str, Any]

_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
#: Yielded by _pump after each --ping-interval of silence; compared by identity.
PING: Event = {"type": "ping"}
#: Codex's header describing the turn (`request_kind: compaction` for its summaries).
CODEX_TURN_METADATA = "x-codex-turn-metadata"
#: Session headers clients send: Codex's `session-id`, Claude Code's and others' `x-session-id`.
_SESSION_HEADERS = ("session-id", "x-session-id")


def register(app: FastAPI, rt: Runtime) -> None:
    async def responses(request: Request) -> Response:
        await rt.limiter.acquire()
        body = await read_body(request, rt.settings.max_body_bytes)
        payload = parse_object(body)
        require(payload, "model", str, "a string")
        require(payload, "input", (str, list), "a string or an array", required=False)
        require(payload, "stream", bool, "a boolean", required=False)
        model = await resolve(rt, payload["model"])
        note(requested_model=payload["model"], resolved_model=model.id)
        endpoint = choose_endpoint(model, "responses", native_messages=_native_messages(rt))
        await rt.approve(f"responses {model.id}")
        log.debug(
            "responses: model %s -> %s via %s, stream=%s", payload["model"], model.id, endpoint, payload.get("stream")
        )
        if endpoint == RESPONSES:
            return await _responses_passthrough(rt, request, payload, model)
        if endpoint == MESSAGES:
            return await _responses_via_messages(rt, request, payload, model)
        return await _responses_via_chat(rt, request, payload, model)

    for prefix in ("/v1", ""):
        app.add_route(f"{prefix}/responses", responses, methods=["POST"], include_in_schema=False)


async def resolve(rt: Runtime, requested: str) -> ModelInfo:
    """The Copilot model for a client's id, with the user's aliases (Runtime.resolve);
    ModelNotAvailable (404) if the plan lacks it."""
    await rt.models.get()  # starts a background refresh when the list is old
    return rt.resolve(requested, "openai")


def _native_messages(rt: Runtime) -> bool:
    # `--no-native-messages` keeps Claude models on the chat translation.
    return rt.settings.native_messages


def _client_session(request: Request) -> str | None:
    for name in _SESSION_HEADERS:
        value = request.headers.get(name)
        if value:
            return value
    return None


def _translated(build: Callable[[], tuple[dict[str, Any], Any]]) -> tuple[dict[str, Any], Any]:
    """Runs a request translator; what it refuses is a 400 in the caller's format."""
    try:
        return build()
    except TranslationError as exc:
        raise ApiError(400, exc.message, param=exc.param) from exc


# --------------------------------------------------------------------------- /v1/responses, per endpoint


async def _responses_passthrough(rt: Runtime, request: Request, payload: dict[str, Any], model: ModelInfo) -> Response:
    body, fixes = prepare_responses_request(payload, model.raw)
    body["model"] = model.id
    metadata = request.headers.get(CODEX_TURN_METADATA)
    initiator = responses_initiator(payload, turn_metadata=metadata)
    upstream = await _send_responses(
        rt,
        body,
        initiator=initiator,
        compaction=codex_request_kind(metadata) == "compaction",
        session_id=_client_session(request),
    )
    return await _answer_as_responses(
        upstream,
        ResponsesStreamFixer(fixes),
        stream=payload.get("stream") is True,
        translate_result=lambda result: fix_responses_result(result, fixes),
        settings=rt.settings,
    )


async def _responses_via_chat(rt: Runtime, request: Request, payload: dict[str, Any], model: ModelInfo) -> Response:
    body, names = _translated(lambda: responses_to_chat_request({**payload, "model": model.id}, model.raw))
    initiator = responses_initiator(payload, turn_metadata=request.headers.get(CODEX_TURN_METADATA))
    upstream = await rt.copilot.chat_completions(
        dumps(body), vision=has_vision(body.get("messages")), initiator=initiator
    )
    return await _answer_as_responses(
        upstream,
        ChatToResponsesStream(names, model=model.id, request=payload),
        stream=payload.get("stream") is True,
        translate_result=lambda completion: chat_to_responses_result(completion, names, request=payload),
        settings=rt.settings,
    )


async def _responses_via_messages(rt: Runtime, request: Request, payload: dict[str, Any], model: ModelInfo) -> Response:
    anthropic, names = _translated(lambda: responses_to_messages_request({**payload, "model": model.id}, model.raw))
    prepared = prepare_messages_request(anthropic, model=model)
    if prepared.changes:
        log.debug("responses -> messages: %s", "; ".join(prepared.changes))
    # The Responses rule decides, on the client's own items (Codex marks its compactions).
    initiator = responses_initiator(payload, turn_metadata=request.headers.get(CODEX_TURN_METADATA))
    version = rt.copilot.vscode_version

    def headers(token: str) -> dict[str, str]:
        built = messages_headers(token, version, prepared.payload, anthropic_beta=prepared.anthropic_beta)
        built["x-initiator"] = initiator
        return built

    upstream = await rt.copilot.send("POST", MESSAGES, content=dumps(prepared.payload), headers=headers)
    return await _answer_as_responses(
        upstream,
        MessagesToResponsesStream(names, model=model.id, request=payload),
        stream=payload.get("stream") is True,
        translate_result=lambda message: messages_to_responses_result(message, names, request=payload),
        settings=rt.settings,
    )


async def _answer_as_responses(
    upstream: httpx.Response,
    translator: StreamTranslator,
    *,
    stream: bool,
    translate_result: Callable[[dict[str, Any]], dict[str, Any]],
    settings: ServerSettings,
) -> Response:
    """Copilot's answer as the Responses client asked for it: events through
    `translator`, a JSON answer through `translate_result`."""
    if stream:
        if _is_event_stream(upstream):
            return _sse_response(_pump(upstream, translator, settings))
        result = translate_result(await _read_json(upstream))
        return _sse_response(_listed(events_of_response(result)))
    if _is_event_stream(upstream):
        result = await _collect(_pump(upstream, translator, settings))
    else:
        result = translate_result(await _read_json(upstream))
    _raise_if_failed(result)
    return json_response(result)


# --------------------------------------------------------------------------- other APIs on Responses-only models


async def chat_via_responses(rt: Runtime, request: Request, payload: dict[str, Any], model: ModelInfo) -> Response:
    """A Chat Completions request (checked, resolved to `model`, noted and
    approved by the caller) served by Copilot's `/responses`."""
    body, names = _translated(lambda: chat_to_responses_request({**payload, "model": model.id}, model.raw))
    initiator = initiator_for(payload.get("messages"))
    upstream = await _send_responses(rt, body, initiator=initiator, session_id=_client_session(request))
    if body["stream"]:
        options = payload.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        translator = ThroughFixer(ResponsesToChatStream(names, include_usage=include_usage))
        return _chat_sse_response(await _responses_events(upstream, translator, rt.settings))
    result = await _responses_result(upstream, rt.settings)
    _raise_if_failed(result)
    return json_response(responses_to_chat_result(result, names))


async def messages_via_responses(rt: Runtime, request: Request, payload: dict[str, Any], model: ModelInfo) -> Response:
    """An Anthropic Messages request (checked, resolved to `model`, noted and
    approved by the caller) served by Copilot's `/responses`: Claude Code on
    a GPT-5.x codex model. The answer names the model the client asked for."""
    body, names = _translated(lambda: messages_to_responses_request(payload, model.raw, model_id=model.id))
    initiator = messages_initiator(payload)
    session = claude_code_session(payload) or _client_session(request)
    upstream = await _send_responses(
        rt, body, initiator=initiator, compaction=is_compaction_request(payload), session_id=session
    )
    client_model = str(payload.get("model") or model.id)
    if body["stream"]:
        translator = ThroughFixer(ResponsesToMessagesStream(names, model=client_model))
        return _sse_response(await _responses_events(upstream, translator, rt.settings), ping=ANTHROPIC_PING)
    message = responses_to_messages_result(await _responses_result(upstream, rt.settings), names, model=client_model)
    if message.get("type") == "error":
        return json_response(message, status=502)
    return json_response(message)


# --------------------------------------------------------------------------- plumbing


class StreamTranslator(Protocol):
    """What every stream translator in `translate/` offers."""

    @property
    def done(self) -> bool: ...

    def feed(self, event: Any) -> list[Event]: ...

    def finish(self) -> list[Event]: ...

    def error(self, message: str) -> list[Event]: ...


class ThroughFixer:
    """Copilot's Responses events through the passthrough fixer first, so the
    translator after it reads a well-formed stream (a failure arrives with its
    message even when Copilot sends it after a `response.failed` without one)."""

    def __init__(self, translator: StreamTranslator) -> None:
        self._fixer = ResponsesStreamFixer()
        self._translator = translator

    @property
    def done(self) -> bool:
        return self._translator.done

    def feed(self, event: Any) -> list[Event]:
        return self._through(self._fixer.feed(event))

    def finish(self) -> list[Event]:
        return self._through(self._fixer.finish()) + self._translator.finish()

    def error(self, message: str) -> list[Event]:
        return self._through(self._fixer.error(message)) + self._translator.error(message)

    def _through(self, events: Iterable[Event]) -> list[Event]:
        return [out for event in events for out in self._translator.feed(event)]


async def _send_responses(
    rt: Runtime,
    body: dict[str, Any],
    *,
    initiator: str,
    compaction: bool = False,
    session_id: str | None = None,
) -> httpx.Response:
    vision = has_responses_vision(body.get("input"))
    version = rt.copilot.vscode_version
    return await rt.copilot.send(
        "POST",
        RESPONSES,
        content=dumps(body),
        headers=lambda token: responses_headers(
            token, version, initiator=initiator, vision=vision, compaction=compaction, session_id=session_id
        ),
    )


def _is_event_stream(upstream: httpx.Response) -> bool:
    content_type: str = upstream.headers.get("content-type", "")
    return content_type.startswith("text/event-stream")


async def _read_json(upstream: httpx.Response) -> dict[str, Any]:
    raw = await read_whole(upstream)
    try:
        data = loads(raw)
    except ValueError as exc:
        raise UpstreamError(502, dumps({"message": f"Copilot sent an answer that is not JSON: {exc}"})) from exc
    if not isinstance(data, dict):
        raise UpstreamError(502, dumps({"message": "Copilot sent an answer that is not a JSON object"}))
    return data


async def _pump(
    upstream: httpx.Response, translator: StreamTranslator, settings: ServerSettings
) -> AsyncIterator[Event]:
    """Copilot's SSE events through `translator`, then its ending: finish() when
    upstream stops, error() when it breaks off, sends something unreadable or goes
    silent for --stream-idle-timeout. After each --ping-interval of silence it yields
    PING, which the encoders turn into their API's keep-alive and _collect skips."""
    tail: list[Event] | None = None
    try:
        async with UpstreamStream(
            upstream, ping_interval=settings.ping_interval, idle_timeout=settings.stream_idle_timeout
        ) as body:
            async for data in iter_sse_data(body):
                if data is None:
                    yield PING
                    continue
                if data == b"[DONE]":
                    break
                if not data.strip():
                    continue
                try:
                    event = loads(data)
                except ValueError:
                    tail = translator.error("Copilot sent a malformed stream event")
                    break
                for out in translator.feed(event):
                    yield out
                if translator.done:
                    break
        if tail is None:
            tail = translator.finish()
    except UpstreamUnavailable as exc:
        log.warning("Upstream stream stalled: %s", exc)
        tail = translator.error(str(exc))
    except httpx.HTTPError as exc:
        log.warning("Upstream stream broke off: %s: %s", type(exc).__name__, exc)
        tail = translator.error(f"The upstream stream broke off ({type(exc).__name__})")
    except Exception as exc:
        log.exception("Stream translation failed")
        tail = translator.error(f"Stream translation failed: {type(exc).__name__}")
    finally:
        await upstream.aclose()
    for out in tail:
        yield out


async def _listed(events: Iterable[Event]) -> AsyncIterator[Event]:
    for event in events:
        yield event


async def _responses_events(
    upstream: httpx.Response, translator: StreamTranslator, settings: ServerSettings
) -> AsyncIterator[Event]:
    """Events of Copilot's `/responses` answer through `translator`, whether
    Copilot streamed it or not."""
    if _is_event_stream(upstream):
        return _pump(upstream, translator, settings)
    result = fix_responses_result(await _read_json(upstream), ResponsesFixes())
    events = [out for event in events_of_response(result) for out in translator.feed(event)]
    return _listed([*events, *translator.finish()])


async def _responses_result(upstream: httpx.Response, settings: ServerSettings) -> dict[str, Any]:
    """Copilot's `/responses` answer as one Response object, whether Copilot streamed it or not."""
    if _is_event_stream(upstream):
        return await _collect(_pump(upstream, ResponsesStreamFixer(), settings))
    return fix_responses_result(await _read_json(upstream), ResponsesFixes())


async def _collect(events: AsyncIterator[Event]) -> dict[str, Any]:
    """The Response object of a Responses event stream's terminal event."""
    result: dict[str, Any] = {}
    async for event in events:
        if event is not PING and event.get("type") in _TERMINAL and isinstance(event.get("response"), dict):
            result = event["response"]
    return result


def _raise_if_failed(result: Mapping[str, Any]) -> None:
    """A Response that failed upstream, for a non-stream client: a 502 with Copilot's reason."""
    if result and result.get("status") != "failed":
        return
    error = result.get("error")
    error = error if isinstance(error, Mapping) else {}
    reason = error.get("message")
    reason = reason if isinstance(reason, str) and reason else "no reason given"
    code = error.get("code")
    raise ApiError(
        502,
        f"Copilot could not complete the response: {reason}",
        type="api_error",
        code=code if isinstance(code, str) else None,
    )


def _sse_response(events: AsyncIterator[Event], *, ping: bytes = OPENAI_PING) -> StreamingResponse:
    """Responses and Anthropic events, `event: <type>` + `data: <json>` each; PING as
    `ping` (a comment line for Responses clients, `event: ping` for Anthropic ones)."""

    async def encoded() -> AsyncIterator[bytes]:
        async for event in events:
            yield ping if event is PING else format_sse(event)

    return StreamingResponse(encoded(), media_type="text/event-stream", headers=SSE_HEADERS)


def _chat_sse_response(chunks: AsyncIterator[Event]) -> StreamingResponse:
    """Chat chunks as `data: <json>`, then `data: [DONE]` after a finished
    stream (not after an error chunk), as OpenAI does."""

    async def encoded() -> AsyncIterator[bytes]:
        failed = False
        async for chunk in chunks:
            if chunk is PING:
                yield OPENAI_PING
                continue
            failed = "error" in chunk
            yield b"data: " + dumps(chunk) + b"\n\n"
        if not failed:
            yield b"data: [DONE]\n\n"

    return StreamingResponse(encoded(), media_type="text/event-stream", headers=SSE_HEADERS)


# --------------------------------------------------------------------------- a whole Response as events


def events_of_response(result: Mapping[str, Any]) -> list[Event]:
    """The event stream that carries a whole Response object, in OpenAI's
    order: created, in_progress, each output item (added, its parts and one
    delta each, done), then the terminal event for its status."""
    events: list[Event] = []

    def emit(event: Event) -> None:
        events.append({**event, "sequence_number": len(events)})

    snapshot = {**result, "status": "in_progress", "output": [], "usage": None, "error": None}
    snapshot["incomplete_details"] = None
    emit({"type": "response.created", "response": snapshot})
    emit({"type": "response.in_progress", "response": snapshot})
    output = result.get("output")
    for index, item in enumerate(output if isinstance(output, list) else []):
        if isinstance(item, dict):
            for event in _item_events(item, index):
                emit(event)
    terminal = {"incomplete": "response.incomplete", "failed": "response.failed"}.get(
        str(result.get("status")), "response.completed"
    )
    emit({"type": terminal, "response": dict(result)})
    return events


def _item_events(item: dict[str, Any], index: int) -> list[Event]:
    kind = item.get("type")
    where = {"item_id": item.get("id"), "output_index": index}
    skeleton = {**item, "status": "in_progress"}
    events: list[Event] = []
    if kind == "message":
        skeleton["content"] = []
    elif kind == "function_call":
        skeleton["arguments"] = ""
    elif kind == "custom_tool_call":
        skeleton["input"] = ""
    events.append({"type": "response.output_item.added", "output_index": index, "item": skeleton})
    if kind == "message":
        content = item.get("content")
        for part_index, part in enumerate(content if isinstance(content, list) else []):
            if not isinstance(part, dict):
                continue
            at = {**where, "content_index": part_index}
            text = part.get("text")
            if part.get("type") == "output_text" and isinstance(text, str):
                events.append({"type": "response.content_part.added", **at, "part": {**part, "text": ""}})
                events.append({"type": "response.output_text.delta", **at, "delta": text, "logprobs": []})
                events.append({"type": "response.output_text.done", **at, "text": text, "logprobs": []})
            else:
                events.append({"type": "response.content_part.added", **at, "part": part})
            events.append({"type": "response.content_part.done", **at, "part": part})
    elif kind == "function_call" and isinstance(item.get("arguments"), str):
        arguments = item["arguments"]
        events.append({"type": "response.function_call_arguments.delta", **where, "delta": arguments})
        events.append({"type": "response.function_call_arguments.done", **where, "arguments": arguments})
    elif kind == "custom_tool_call" and isinstance(item.get("input"), str):
        text = item["input"]
        events.append({"type": "response.custom_tool_call_input.delta", **where, "delta": text})
        events.append({"type": "response.custom_tool_call_input.done", **where, "input": text})
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return events
