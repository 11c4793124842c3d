"""Copilot's `POST /responses`, emulated.

What the real endpoint does, as far as the reference and peers' reports tell
(docs/emulator.md lists which checks are observed and which assumed):
Responses models only; `custom` (freeform) tools and items rejected with a
400; streams in OpenAI's event order but with a different item id in
`response.output_item.done` than in `.added` (Copilot's quirk); reasoning
items with a verifiable `encrypted_content` when asked for; usage with
cached and reasoning tokens; `response.failed` mid-stream when scripted.

The answer itself comes from the chat scripting (keywords, queued scripts,
the default echo): the request is read as a chat request (`chat_view`), so
`[[tool:NAME]]`, `[[cached:N]]`, `[[error:...]]`, `[[fail-midstream]]` and
scripts work here as on `/chat/completions`; `[[response-failed]]` (script
key `response_failed`) adds the Responses-only failure.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from copilot_hybrid.emulator import chat
from copilot_hybrid.emulator.http import AbortConnection, Request, Response, json_response
from copilot_hybrid.jsonutil import dumps

if TYPE_CHECKING:
    from copilot_hybrid.emulator.routes import EmulatorApp

__all__ = ["chat_view", "handle", "supports_responses"]

_ENCRYPTED_PREFIX = "gAAAAB"
_SIGNING_KEY = b"copilot-hybrid-emulator-reasoning"
_REASONING_TOKENS = 16
_TEXT_PARTS = ("input_text", "output_text", "text")


def supports_responses(model: Mapping[str, Any]) -> bool:
    """Whether a catalogue entry is served on `/responses`: its
    `supported_endpoints` say so, or (entries without the field) a GPT-5 id."""
    endpoints = model.get("supported_endpoints")
    if isinstance(endpoints, list):
        return "/responses" in endpoints
    return str(model.get("id", "")).startswith("gpt-5")


def _error(status: int, message: str, code: str | None, param: str | None = None) -> Response:
    return json_response(
        status, {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}
    )


# --------------------------------------------------------------------------- the request as a chat


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "\n\n".join(
        str(p["text"])
        for p in content
        if isinstance(p, Mapping) and p.get("type") in _TEXT_PARTS and isinstance(p.get("text"), str)
    )


def _chat_content(content: Any) -> Any:
    # Images stay visible to the chat helpers (vision check, token estimate).
    images = (
        [p for p in content if isinstance(p, Mapping) and p.get("type") == "input_image"]
        if isinstance(content, list)
        else []
    )
    if not images:
        return _text(content)
    return [{"type": "text", "text": _text(content)}, *({"type": "image_url"} for _ in images)]


def _items(body: Mapping[str, Any]) -> list[Any]:
    items = body.get("input")
    if isinstance(items, str):
        return [{"type": "message", "role": "user", "content": items}]
    return items if isinstance(items, list) else []


def chat_view(body: Mapping[str, Any]) -> dict[str, Any]:
    """A Responses request read as the chat request it amounts to."""
    messages: list[dict[str, Any]] = []
    if isinstance(body.get("instructions"), str):
        messages.append({"role": "system", "content": body["instructions"]})
    for item in _items(body):
        if not isinstance(item, Mapping):
            continue
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            messages.append(
                {"role": "system" if role == "developer" else role, "content": _chat_content(item.get("content"))}
            )
        elif kind == "function_call":
            call = {
                "id": item.get("call_id"),
                "function": {"name": item.get("name"), "arguments": item.get("arguments")},
            }
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            messages.append({"role": "tool", "tool_call_id": item.get("call_id"), "content": _text(item.get("output"))})
    view: dict[str, Any] = {"model": body.get("model"), "stream": bool(body.get("stream")), "messages": messages}
    tools = [
        {"type": "function", "function": {k: t[k] for k in ("name", "description", "parameters") if k in t}}
        for t in body.get("tools") or []
        if isinstance(t, Mapping) and t.get("type") == "function"
    ]
    if tools:
        view["tools"] = tools
    choice = body.get("tool_choice")
    if choice == "required":
        view["tool_choice"] = "required"
    elif isinstance(choice, Mapping) and choice.get("type") == "function":
        view["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    if isinstance(body.get("max_output_tokens"), int):
        view["max_tokens"] = body["max_output_tokens"]
    return view


# --------------------------------------------------------------------------- checks


def _sign(text: str) -> str:
    return hmac.new(_SIGNING_KEY, text.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def encrypted_reasoning(item_id: str, summary: str) -> str:
    """The emulator's `encrypted_content` for a reasoning item: opaque to
    clients, verifiable by the emulator when it comes back."""
    payload = base64.urlsafe_b64encode(f"{item_id}\n{summary}".encode()).decode().rstrip("=")
    return f"{_ENCRYPTED_PREFIX}{payload}.{_sign(payload)}"


def _verifies(encrypted: str) -> bool:
    if not encrypted.startswith(_ENCRYPTED_PREFIX) or "." not in encrypted:
        return False
    payload, _, mac = encrypted[len(_ENCRYPTED_PREFIX) :].rpartition(".")
    return hmac.compare_digest(mac, _sign(payload))


def _check(body: Mapping[str, Any], model: Mapping[str, Any]) -> Response | None:
    """The 400s Copilot's /responses answers before generating anything."""
    if "service_tier" in body:
        # Peers strip it as "not supported by GitHub Copilot" (CZ).
        return _error(400, "Unsupported parameter: 'service_tier'.", "unsupported_parameter", "service_tier")
    items = body.get("input")
    if not isinstance(items, (str, list)) or not items:
        return _error(400, "input must be a non-empty string or array of items", "invalid_request_body", "input")
    for i, tool in enumerate(body.get("tools") or []):
        kind = tool.get("type") if isinstance(tool, Mapping) else None
        if kind == "custom":
            # Observed: github/gh-aw-firewall#8350 quotes this answer.
            return _error(400, "Invalid value: 'custom'.", "unknown_parameter", "tools")
        if kind == "namespace" and tool.get("name") == "collaboration":
            return _error(400, "Namespace 'collaboration' is reserved.", "invalid_request_body", f"tools[{i}].name")
    store = body.get("store", True)
    for i, item in enumerate(_items(body)):
        if not isinstance(item, Mapping):
            continue
        kind = item.get("type")
        if kind in ("custom_tool_call", "custom_tool_call_output"):
            return _error(400, f"Invalid value: '{kind}'.", "invalid_value", f"input[{i}].type")
        if kind == "reasoning":
            encrypted = item.get("encrypted_content")
            if isinstance(encrypted, str):
                if not _verifies(encrypted):
                    message = f"The encrypted content for item {item.get('id')} could not be verified."
                    return _error(400, message, "invalid_encrypted_content", f"input[{i}]")
            elif store is False:
                message = (
                    f"Item with id '{item.get('id')}' not found. Items are not persisted when `store` is set to false."
                )
                return _error(400, message, None, "input")
    levels = model.get("capabilities", {}).get("supports", {}).get("reasoning_effort") or []
    reasoning = body.get("reasoning")
    effort = reasoning.get("effort") if isinstance(reasoning, Mapping) else None
    if effort is not None and effort not in levels:
        supported = ", ".join(f"'{x}'" for x in levels) or "none"
        message = f"Unsupported value: '{effort}' is not supported with this model. Supported values are: {supported}."
        return _error(400, message, "unsupported_value", "reasoning.effort")
    return None


# --------------------------------------------------------------------------- the answer


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


class _Answer:
    """One response: its items (each with its `.added` and `.done` id), usage and status."""

    def __init__(self, body: Mapping[str, Any], plan: chat.Plan, model: Mapping[str, Any]) -> None:
        view = chat_view(body)
        completion = chat.build_completion(view, plan, model)
        self.seed = dumps(body).decode()
        self.model = completion.model
        self.created_at = int(time.time())
        self.id = "resp_" + _digest("response", self.seed)[:40]
        self.request = body
        self.items: list[tuple[str, str, dict[str, Any]]] = []  # (added id, done id, done item)
        texts = [c.content for c in completion.choices if c.content]
        calls = [call for c in completion.choices for call in c.tool_calls]
        finish = completion.choices[-1].finish_reason
        reasoning_tokens = self._reasoning(body, model, [c.name for c in calls])
        if texts:
            text = "".join(t for t in texts if t)
            self._add("msg", {"type": "message", "role": "assistant", "status": "completed",
                              "content": [{"type": "output_text", "text": text, "annotations": []}]})  # fmt: skip
        for call in calls:
            self._add("fc", {"type": "function_call", "status": "completed", "call_id": call.id,
                             "name": call.name, "arguments": call.arguments})  # fmt: skip
        usage = completion.usage
        self.usage = {
            "input_tokens": usage["prompt_tokens"],
            "input_tokens_details": {"cached_tokens": usage["prompt_tokens_details"]["cached_tokens"]},
            "output_tokens": usage["completion_tokens"] + reasoning_tokens,
            "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
            "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"] + reasoning_tokens,
        }
        self.incomplete = {"length": "max_output_tokens", "content_filter": "content_filter"}.get(finish)

    def _add(self, prefix: str, item: dict[str, Any]) -> None:
        index = str(len(self.items))
        # Copilot gives an item one id in output_item.added and another in .done.
        added = f"{prefix}_{_digest('added', self.seed, index)[:32]}"
        done = f"{prefix}_{_digest('done', self.seed, index)[:32]}"
        self.items.append((added, done, {"id": done, **item}))

    def _reasoning(self, body: Mapping[str, Any], model: Mapping[str, Any], calls: list[str]) -> int:
        levels = model.get("capabilities", {}).get("supports", {}).get("reasoning_effort") or []
        reasoning = body.get("reasoning")
        reasoning = reasoning if isinstance(reasoning, Mapping) else {}
        if not levels or reasoning.get("effort", "medium") == "none":
            return 0
        summary = "Working out a reply" + (f" that calls {', '.join(calls)}" if calls else "") + "."
        index = str(len(self.items))
        item_id = f"rs_{_digest('reasoning', self.seed, index)[:32]}"
        item: dict[str, Any] = {"type": "reasoning", "summary": []}
        if reasoning.get("summary") in ("auto", "concise", "detailed"):
            item["summary"] = [{"type": "summary_text", "text": summary}]
        if "reasoning.encrypted_content" in (body.get("include") or []):
            item["encrypted_content"] = encrypted_reasoning(item_id, summary)
        # Reasoning ids are stable between added and done (only message and call ids change).
        self.items.append((item_id, item_id, {"id": item_id, **item}))
        return _REASONING_TOKENS

    @property
    def status(self) -> str:
        return "incomplete" if self.incomplete else "completed"

    def response(self, status: str, *, output: bool = True, error: Any = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "error": error,
            "incomplete_details": {"reason": self.incomplete} if self.incomplete and status == "incomplete" else None,
            "model": self.model,
            "output": [item for _, _, item in self.items] if output else [],
            "usage": self.usage if output else None,
        }
        for key in ("instructions", "max_output_tokens", "parallel_tool_calls", "reasoning", "store", "text",
                    "tool_choice", "tools", "temperature", "top_p", "metadata"):  # fmt: skip
            if key in self.request:
                body[key] = self.request[key]
        return body

    def events(self) -> list[dict[str, Any]]:
        """The stream, in OpenAI's order, without sequence numbers."""
        events: list[dict[str, Any]] = [
            {"type": "response.created", "response": self.response("in_progress", output=False)},
            {"type": "response.in_progress", "response": self.response("in_progress", output=False)},
        ]
        for index, (added, _, item) in enumerate(self.items):
            events.extend(_item_events(index, added, item))
        events.append({"type": f"response.{self.status}", "response": self.response(self.status)})
        return events


def _item_events(index: int, added: str, item: dict[str, Any]) -> list[dict[str, Any]]:
    base = {"item_id": added, "output_index": index}
    kind = item["type"]
    if kind == "message":
        opening = {**item, "id": added, "status": "in_progress", "content": []}
    elif kind == "function_call":
        opening = {**item, "id": added, "status": "in_progress", "arguments": ""}
    else:
        opening = {"id": added, "type": "reasoning", "summary": []}
    events: list[dict[str, Any]] = [{"type": "response.output_item.added", "output_index": index, "item": opening}]
    if kind == "message":
        text = item["content"][0]["text"]
        part = {"type": "output_text", "text": "", "annotations": []}
        events.append({"type": "response.content_part.added", **base, "content_index": 0, "part": part})
        for piece in chat.text_pieces(text):
            events.append(
                {"type": "response.output_text.delta", **base, "content_index": 0, "delta": piece, "logprobs": []}
            )
        events.append({"type": "response.output_text.done", **base, "content_index": 0, "text": text, "logprobs": []})
        events.append({"type": "response.content_part.done", **base, "content_index": 0, "part": item["content"][0]})
    elif kind == "function_call":
        arguments = item["arguments"]
        for start in range(0, len(arguments), 12):
            events.append(
                {"type": "response.function_call_arguments.delta", **base, "delta": arguments[start : start + 12]}
            )
        events.append({"type": "response.function_call_arguments.done", **base, "arguments": arguments})
    else:
        for s, part in enumerate(item["summary"]):
            summary = {**base, "summary_index": s}
            events.append(
                {
                    "type": "response.reasoning_summary_part.added",
                    **summary,
                    "part": {"type": "summary_text", "text": ""},
                }
            )
            for piece in chat.text_pieces(part["text"]):
                events.append({"type": "response.reasoning_summary_text.delta", **summary, "delta": piece})
            events.append({"type": "response.reasoning_summary_text.done", **summary, "text": part["text"]})
            events.append({"type": "response.reasoning_summary_part.done", **summary, "part": part})
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return events


def _sse(event: Mapping[str, Any]) -> bytes:
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + dumps(event) + b"\n\n"


# --------------------------------------------------------------------------- the endpoint


def handle(app: EmulatorApp, request: Request) -> Response:
    """`POST {copilot}/responses`."""
    failure = app._copilot_checks(request)
    if failure is not None:
        return failure
    body = app._json_body(request)
    if isinstance(body, Response):
        return body
    model = app._find_model(body.get("model"))
    if model is None or model.get("capabilities", {}).get("type", "chat") != "chat":
        return _error(400, "The requested model is not supported.", "model_not_supported", "model")
    if not supports_responses(model):
        message = f'model "{model["id"]}" is not accessible via the /responses endpoint'
        return _error(400, message, "unsupported_api_for_model", "model")
    failure = _check(body, model)
    if failure is not None:
        return failure
    view = chat_view(body)
    supports = model.get("capabilities", {}).get("supports", {})
    if chat.has_images(view["messages"]):
        if not supports.get("vision"):
            return _error(400, "The model does not support vision.", "model_not_supported")
        if app.state.config.require_vision_header and (request.header("copilot-vision-request") or "") != "true":
            return _error(400, "missing required Copilot-Vision-Request header for vision requests", "bad_request")
    limit = model.get("capabilities", {}).get("limits", {}).get("max_prompt_tokens")
    prompt_tokens = chat.estimate_prompt_tokens(view)
    if isinstance(limit, int) and prompt_tokens > limit:
        message = f"prompt token count of {prompt_tokens} exceeds the limit of {limit}"
        return _error(400, message, "model_max_prompt_tokens_exceeded")

    plan = app.state.take_script(view) or chat.plan_for_request(view)
    if plan.error is not None:
        return Response(
            plan.error.status,
            _raw(plan.error.body),
            {"content-type": "application/json", **plan.error.headers},
            delay=plan.delay,
        )
    if (request.header("x-initiator") or "user").lower() != "agent":
        app.state.charge_premium(float(model.get("billing", {}).get("multiplier", 0) or 0))
    answer = _Answer(body, plan, model)
    if body.get("stream") and not plan.no_stream:
        if plan.raw_chunks is not None:
            frames = [chat.sse(c) for c in plan.raw_chunks]
        else:
            events = answer.events()
            if plan.response_failed is not None:
                error = {"code": "server_error", "message": plan.response_failed}
                events = events[: chat.DEFAULT_FAIL_AFTER]
                events.append({"type": "response.failed", "response": answer.response("failed", error=error)})
            frames = [_sse({**event, "sequence_number": n}) for n, event in enumerate(events)]
        return Response(
            200,
            headers={"content-type": "text/event-stream", "cache-control": "no-cache"},
            stream=app._paced(frames, plan),
            delay=plan.delay,
        )
    payload = _raw(plan.raw_body) if plan.raw_body_given else dumps(answer.response(answer.status))
    headers = {"content-type": "application/json"}
    if plan.fail_after is not None:
        # Promise the whole body, send half, hang up (as on /chat/completions).
        return Response(200, headers=headers, stream=_half(payload), length=len(payload), delay=plan.delay)
    return Response(200, payload, headers, delay=plan.delay)


def _half(payload: bytes) -> Iterator[bytes]:
    yield payload[: len(payload) // 2]
    raise AbortConnection("scripted mid-body failure")


def _raw(value: Any) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else dumps(value)
