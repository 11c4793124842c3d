"""`GET /v1/models` and `GET /v1/models/{id}`: the model registry, in the
shape the caller reads.

A request that carries `anthropic-version` (the anthropic SDK, Claude Code)
gets Anthropic's list: the models an Anthropic request can reach, newest
first, `{"data", "has_more", "first_id", "last_id"}` with `limit` (default 20,
at most 1000), `after_id` and `before_id`; each entry `type: "model"`, `id`,
`display_name`, `created_at`, `max_input_tokens` (Copilot's prompt limit) and
`max_tokens` (its output limit), as Anthropic's own API sends them. Claude
Code 2.1.332 reads this list with `CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY=1`
(`GET /v1/models?limit=1000`; it keeps the `claude` ids with their
`display_name` for its /model picker); its model-capabilities reader, not yet
switched on in that version, reads `max_input_tokens` and `max_tokens`.

Any other request gets OpenAI's list, every model Copilot lists, in its
order, `{"object": "list", "data": [...]}`, each entry `id`, `object`,
`created`, `owned_by` plus copilot-api's `type` and `created_at`,
`display_name`, `context_window`, `max_prompt_tokens`, `max_output_tokens`.

Both shapes add what the proxy knows about reaching the model:
`supported_endpoints` (Copilot's own list) and `routes` (each API of this
proxy that serves the model -> the Copilot endpoint it goes to). Copilot's
catalogue has no dates: `created` is 0 and `created_at` 1970-01-01.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from copilot_hybrid.copilot.registry import Inbound, ModelInfo
from copilot_hybrid.copilot.resolution import newest_first
from copilot_hybrid.errors import ApiError
from copilot_hybrid.server.errors import anthropic_error_body, json_response
from copilot_hybrid.server.routing import endpoint_for
from copilot_hybrid.server.runtime import Runtime

#: This proxy's APIs, by the registry's name for them.
_ANTHROPIC_API: Final = "/v1/messages"
_APIS: Final[dict[Inbound, str]] = {"anthropic": _ANTHROPIC_API, "chat": "/v1/chat/completions"}
_EPOCH: Final = "1970-01-01T00:00:00Z"
_DEFAULT_LIMIT: Final = 20
_MAX_LIMIT: Final = 1000


def routes(model: ModelInfo, *, native_messages: bool) -> dict[str, str]:
    """This proxy's API path -> the Copilot endpoint it reaches `model` on (APIs that cannot: left out)."""
    reached: dict[str, str] = {}
    for inbound, path in _APIS.items():
        try:
            reached[path] = endpoint_for(model, inbound, native_messages=native_messages)
        except ApiError:
            continue
    return reached


def openai_model(model: ModelInfo, *, native_messages: bool) -> dict[str, Any]:
    return {
        "id": model.id,
        "object": "model",
        "type": "model",  # copilot-api's fields, kept
        "created": 0,
        "created_at": _EPOCH,
        "owned_by": model.vendor,
        "display_name": model.name,
        "context_window": model.context_window,
        "max_prompt_tokens": model.max_prompt_tokens,
        "max_output_tokens": model.max_output_tokens,
        "supported_endpoints": list(model.endpoints),
        "routes": routes(model, native_messages=native_messages),
    }


def anthropic_model(model: ModelInfo, *, native_messages: bool) -> dict[str, Any]:
    return {
        "type": "model",
        "id": model.id,
        "display_name": model.name,
        "created_at": _EPOCH,
        # Claude Code compacts by max_input_tokens: Copilot's prompt limit, which it enforces
        # (model_max_prompt_tokens_exceeded), not the larger window.
        "max_input_tokens": model.max_prompt_tokens or model.context_window,
        "max_tokens": model.max_output_tokens,
        "supported_endpoints": list(model.endpoints),
        "routes": routes(model, native_messages=native_messages),
    }


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return _DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= _MAX_LIMIT:
        raise ApiError(400, f"limit must be an integer from 1 to {_MAX_LIMIT}, not {raw!r}", param="limit")
    return int(raw)


def _page(request: Request, models: list[dict[str, Any]]) -> dict[str, Any]:
    """Anthropic's cursor pagination over `models` (already in order)."""
    limit = _limit(request)
    ids = [m["id"] for m in models]
    after, before = request.query_params.get("after_id"), request.query_params.get("before_id")
    for name, cursor in (("after_id", after), ("before_id", before)):
        if cursor is not None and cursor not in ids:
            raise ApiError(400, f"{name} {cursor!r} is not a model id of this list", param=name)
    if before is not None:
        end = ids.index(before)
        page, has_more = models[max(0, end - limit) : end], end - limit > 0
    else:
        start = ids.index(after) + 1 if after is not None else 0
        page, has_more = models[start : start + limit], start + limit < len(models)
    return {
        "data": page,
        "has_more": has_more,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
    }


def wants_anthropic(request: Request) -> bool:
    return "anthropic-version" in request.headers


def register(app: FastAPI, rt: Runtime) -> None:
    native = rt.settings.native_messages

    async def list_models(request: Request) -> Response:
        await rt.models.get()  # starts a refresh when the list is old
        infos = rt.models.infos()
        if wants_anthropic(request):
            reachable = [
                m
                for m in newest_first(infos)
                if m.type == "chat" and "/v1/messages" in routes(m, native_messages=native)
            ]
            try:
                page = _page(request, [anthropic_model(m, native_messages=native) for m in reachable])
            except ApiError as exc:
                return json_response(anthropic_error_body(exc.status, exc.message, "invalid_request_error"), exc.status)
            return json_response(page)
        data = [openai_model(m, native_messages=native) for m in infos]
        return json_response({"object": "list", "data": data, "has_more": False})

    async def get_model(request: Request) -> Response:
        model_id = request.path_params["model_id"]
        anthropic = wants_anthropic(request)
        try:
            model = rt.resolve(model_id, "anthropic" if anthropic else "openai")
        except ApiError as exc:
            if anthropic:  # the path is OpenAI's; the caller is not
                return json_response(anthropic_error_body(exc.status, exc.message, exc.type), exc.status)
            raise
        shape = anthropic_model if anthropic else openai_model
        return json_response(shape(model, native_messages=native))

    for prefix in ("/v1", ""):
        app.add_route(f"{prefix}/models", list_models, methods=["GET"], include_in_schema=False)
        app.add_route(f"{prefix}/models/{{model_id:path}}", get_model, methods=["GET"], include_in_schema=False)
