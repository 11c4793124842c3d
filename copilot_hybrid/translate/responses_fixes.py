"""The fixes a client's Responses request and Copilot's answer need on the
way through `/v1/responses` (reference §7), as pure functions and one stream
state machine.

On the way up (`prepare_responses_request`): `service_tier` removed, tools
Copilot does not run removed, freeform (`custom`) tools sent as function
tools and replayed custom calls as function calls, Codex's reserved
`collaboration` namespace renamed, reasoning this proxy made from another
API's thinking dropped, the reasoning effort clamped to the model's list.
On the way back (`fix_responses_result`, `ResponsesStreamFixer`): calls to
custom tools become `custom_tool_call` items again, the namespace gets its
name back, and every event of an item carries the id its
`response.output_item.added` announced (Copilot changes it by `.done`).
`responses_initiator` decides `x-initiator` from the last input item.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from copilot_hybrid.jsonutil import loads

from .responses_common import (
    JsonStringFieldStream,
    clamp_effort,
    custom_call_arguments,
    custom_tool_as_function,
    custom_tool_input,
    is_foreign_reasoning,
    model_efforts,
    new_id,
)

__all__ = [
    "ResponsesFixes",
    "ResponsesStreamFixer",
    "codex_request_kind",
    "fix_responses_result",
    "prepare_responses_request",
    "responses_initiator",
]

#: Hosted tools Copilot's `/responses` does not run (CZ drops image_generation;
#: the others are OpenAI-hosted services with no Copilot counterpart).
_DROPPED_TOOLS = frozenset(
    {"image_generation", "code_interpreter", "file_search", "computer_use_preview", "computer_use", "mcp"}
)
_WEB_SEARCH = re.compile(r"web_search(_preview)?(_\d{4}_\d{2}_\d{2})?")
_IMAGE_DETAILS = frozenset({"auto", "low", "high"})

#: Codex's multi-agent namespace; Copilot reserves the name (CZ-new collaboration-compat).
RESERVED_NAMESPACE = "collaboration"
_UPSTREAM_NAMESPACE = "copilot_collaboration"
# Collaboration tools whose `message` parameter carries an `encrypted`
# annotation that Copilot rejects on a non-reserved namespace.
_MESSAGE_TOOLS = frozenset({"spawn_agent", "send_message", "followup_task"})


@dataclass(frozen=True)
class ResponsesFixes:
    """What the way back needs to know about the request that went up."""

    #: Names of the client's freeform tools, sent as functions.
    custom_tools: frozenset[str] = frozenset()
    #: The upstream name of the client's `collaboration` namespace, when renamed.
    namespace: str | None = None
    #: The `encrypted` annotations removed from collaboration tools (to restore in echoed tools).
    annotations: Mapping[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- initiator


def codex_request_kind(turn_metadata: str | None) -> str | None:
    """`request_kind` of Codex's `x-codex-turn-metadata` header (`turn`, `compaction`...)."""
    if not turn_metadata:
        return None
    try:
        data = loads(turn_metadata)
    except ValueError:
        return None
    kind = data.get("request_kind") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None


def responses_initiator(body: Mapping[str, Any], *, turn_metadata: str | None = None) -> str:
    """`x-initiator` for a Responses request: `agent` when the last input item is
    the model's own (no role: a tool output, a reasoning item) or an assistant
    message, `user` otherwise. Codex's compaction requests end with a user
    message but are the agent's (marked `request_kind: compaction`)."""
    if codex_request_kind(turn_metadata) == "compaction":
        return "agent"
    items = body.get("input")
    if not isinstance(items, list) or not items:
        return "user"
    last = items[-1]
    if not isinstance(last, Mapping):
        return "user"
    role = last.get("role")
    return "agent" if role is None or role == "assistant" else "user"


# --------------------------------------------------------------------------- request


def prepare_responses_request(
    body: Mapping[str, Any], model: Mapping[str, Any] | None = None, *, web_search: bool = True
) -> tuple[dict[str, Any], ResponsesFixes]:
    """The client's Responses body as Copilot's `/responses` takes it.

    `model` is the Copilot `/models` entry (None: unknown, efforts untouched);
    `web_search=False` also removes `web_search` tools. The input is not
    changed; the result shares no mutable parts with it.
    """
    out = copy.deepcopy(dict(body))
    out.pop("service_tier", None)  # "not supported by GitHub Copilot" (CZ)
    custom = _fix_tools(out, web_search=web_search)
    _fix_input(out)
    _clamp_reasoning(out, model)
    namespace, annotations = _rename_namespace(out)
    return out, ResponsesFixes(frozenset(custom), namespace, annotations)


def _fix_tools(body: dict[str, Any], *, web_search: bool) -> set[str]:
    tools = body.get("tools")
    if not isinstance(tools, list):
        return set()
    custom: set[str] = set()
    kept: list[Any] = []
    for tool in tools:
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind in _DROPPED_TOOLS or (not web_search and isinstance(kind, str) and _WEB_SEARCH.fullmatch(kind)):
            continue
        if kind == "custom" and isinstance(tool.get("name"), str):
            custom.add(tool["name"])
            kept.append(custom_tool_as_function(tool, tool["name"]))
            continue
        kept.append(tool)
    body["tools"] = kept
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        if choice.get("type") == "custom":
            body["tool_choice"] = {"type": "function", "name": choice.get("name")}
        elif choice.get("type") in _DROPPED_TOOLS or (
            not web_search and isinstance(choice.get("type"), str) and _WEB_SEARCH.fullmatch(choice["type"])
        ):
            body["tool_choice"] = "auto"  # forcing a removed tool is a 400
    if not kept:
        body.pop("tools")
        if body.get("tool_choice") not in (None, "none"):
            body.pop("tool_choice", None)
    return custom


def _fix_input(body: dict[str, Any]) -> None:
    items = body.get("input")
    if not isinstance(items, list):
        return
    fixed: list[Any] = []
    for item in items:
        if not isinstance(item, dict):
            fixed.append(item)
            continue
        kind = item.get("type")
        item.pop("internal_chat_message_metadata_passthrough", None)
        if kind == "reasoning" and is_foreign_reasoning(item.get("encrypted_content")):
            # Thinking of another model, carried through the client by this
            # proxy: Copilot cannot decrypt it and would fail the request.
            continue
        if kind == "custom_tool_call":
            item = _as_function_call(item)
        elif kind == "custom_tool_call_output":
            item = _as_function_output(item)
        elif kind == "message":
            _fix_images(item.get("content"))
        elif kind == "function_call_output":
            _fix_images(item.get("output"))
        fixed.append(item)
    body["input"] = fixed


def _kept_id(item: Mapping[str, Any]) -> dict[str, Any]:
    # A custom call's own id (`ctc_...`, `ctco_...`) is no function item's id;
    # ids this proxy gave (taken from Copilot's function call) are kept.
    item_id = item.get("id")
    return {"id": item_id} if isinstance(item_id, str) and item_id.startswith("fc") else {}


def _as_function_call(item: Mapping[str, Any]) -> dict[str, Any]:
    call = {"type": "function_call", **_kept_id(item), "call_id": item.get("call_id"), "name": item.get("name")}
    if isinstance(item.get("namespace"), str):
        call["namespace"] = item["namespace"]
    call["arguments"] = custom_call_arguments(item.get("input"))
    if isinstance(item.get("status"), str):
        call["status"] = item["status"]
    return call


def _as_function_output(item: Mapping[str, Any]) -> dict[str, Any]:
    output = {"type": "function_call_output", **_kept_id(item), "call_id": item.get("call_id")}
    output["output"] = item.get("output", "")
    _fix_images(output["output"])
    return output


def _fix_images(content: Any) -> None:
    if not isinstance(content, list):
        return
    for part in content:
        if isinstance(part, dict) and part.get("type") == "input_image" and "detail" in part:
            if part["detail"] not in _IMAGE_DETAILS:
                part["detail"] = "auto"


def _clamp_reasoning(body: dict[str, Any], model: Mapping[str, Any] | None) -> None:
    if model is None:
        return
    levels = model_efforts(model)
    reasoning = body.get("reasoning")
    if not levels:
        # A model without efforts is not a reasoning model: OpenAI-style
        # upstreams reject `reasoning` and encrypted reasoning for it.
        body.pop("reasoning", None)
        include = body.get("include")
        if isinstance(include, list):
            body["include"] = [x for x in include if x != "reasoning.encrypted_content"]
            if not body["include"]:
                body.pop("include")
        return
    if isinstance(reasoning, dict) and "effort" in reasoning:
        effort = clamp_effort(reasoning["effort"], levels)
        if effort is None:
            reasoning.pop("effort")
        else:
            reasoning["effort"] = effort


# --------------------------------------------------------------------------- namespace


def _tool_lists(record: Mapping[str, Any]) -> Iterable[list[Any]]:
    if isinstance(record.get("tools"), list):
        yield record["tools"]
    for items in (record.get("input"), record.get("output")):
        if not isinstance(items, list):
            continue
        for item in items:
            if (
                isinstance(item, dict)
                and item.get("type") in ("additional_tools", "tool_search_output")
                and isinstance(item.get("tools"), list)
            ):
                yield item["tools"]


def _namespaces_in(value: Any, found: set[str]) -> None:
    if isinstance(value, list):
        for entry in value:
            _namespaces_in(entry, found)
        return
    if not isinstance(value, dict):
        return
    if value.get("type") == "namespace" and isinstance(value.get("name"), str):
        found.add(value["name"])
    if isinstance(value.get("namespace"), str):
        found.add(value["namespace"])
    name = value.get("name")
    if isinstance(name, str) and "." in name:
        found.add(name.split(".", 1)[0])
    for key in ("tools", "input", "tool_choice"):
        if key in value:
            _namespaces_in(value[key], found)


def _refers_to(record: Mapping[str, Any], namespace: str) -> bool:
    name = record.get("name")
    return record.get("namespace") == namespace or (isinstance(name, str) and name.startswith(namespace + "."))


def _rename_namespace(body: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    annotations: dict[str, Any] = {}
    uses = False
    for tools in _tool_lists(body):
        for tool in tools:
            if not isinstance(tool, dict):
                continue
            if tool.get("type") == "namespace" and tool.get("name") == RESERVED_NAMESPACE:
                uses = True
                for child in tool.get("tools") or []:
                    _remember_annotation(child, annotations)
            elif _refers_to(tool, RESERVED_NAMESPACE):
                uses = True
                _remember_annotation(tool, annotations)
    if not uses:
        return None, {}
    taken: set[str] = set()
    _namespaces_in(body, taken)
    namespace, suffix = _UPSTREAM_NAMESPACE, 1
    while namespace in taken:
        namespace, suffix = f"{_UPSTREAM_NAMESPACE}_{suffix}", suffix + 1
    _rewrite(body, RESERVED_NAMESPACE, namespace, annotations, restore=False)
    return namespace, annotations


def _message_schema(tool: Any) -> dict[str, Any] | None:
    if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(tool.get("name"), str):
        return None
    if tool["name"].rsplit(".", 1)[-1] not in _MESSAGE_TOOLS:
        return None
    parameters = tool.get("parameters")
    properties = parameters.get("properties") if isinstance(parameters, dict) else None
    message = properties.get("message") if isinstance(properties, dict) else None
    return message if isinstance(message, dict) else None


def _remember_annotation(tool: Any, annotations: dict[str, Any]) -> None:
    schema = _message_schema(tool)
    if schema is not None and "encrypted" in schema:
        annotations[tool["name"].rsplit(".", 1)[-1]] = schema["encrypted"]


def _rewrite_reference(record: dict[str, Any], old: str, new: str) -> None:
    if record.get("namespace") == old:
        record["namespace"] = new
    name = record.get("name")
    if isinstance(name, str) and name.startswith(old + "."):
        record["name"] = new + name[len(old) :]


def _rewrite_annotation(tool: Any, annotations: Mapping[str, Any], restore: bool) -> None:
    schema = _message_schema(tool)
    if schema is None:
        return
    short = tool["name"].rsplit(".", 1)[-1]
    if restore and short in annotations:
        schema["encrypted"] = annotations[short]
    elif not restore:
        schema.pop("encrypted", None)


def _rewrite_choice(choice: Any, old: str, new: str) -> None:
    if not isinstance(choice, dict):
        return
    _rewrite_reference(choice, old, new)
    if choice.get("type") == "namespace" and choice.get("name") == old:
        choice["name"] = new
    if choice.get("type") == "allowed_tools":
        for tool in choice.get("tools") or []:
            _rewrite_choice(tool, old, new)


_CALL_TYPES = frozenset(
    {
        "function_call",
        "custom_tool_call",
        "response.function_call_arguments.done",
        "response.custom_tool_call_input.done",
    }
)


def _rewrite(record: dict[str, Any], old: str, new: str, annotations: Mapping[str, Any], *, restore: bool) -> None:
    """Renames namespace `old` to `new` everywhere a request, a response, an
    item or a stream event can mention it."""
    if record.get("type") in _CALL_TYPES:
        _rewrite_reference(record, old, new)
    for tools in _tool_lists(record):
        for tool in tools:
            if not isinstance(tool, dict):
                continue
            if tool.get("type") == "namespace" and tool.get("name") == old:
                tool["name"] = new
                for child in tool.get("tools") or []:
                    _rewrite_annotation(child, annotations, restore)
            elif _refers_to(tool, old):
                _rewrite_reference(tool, old, new)
                _rewrite_annotation(tool, annotations, restore)
    _rewrite_choice(record.get("tool_choice"), old, new)
    for items in (record.get("input"), record.get("output")):
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and item.get("type") in ("function_call", "custom_tool_call"):
                _rewrite_reference(item, old, new)
    for key in ("response", "item"):
        nested = record.get(key)
        if isinstance(nested, dict):
            _rewrite(nested, old, new, annotations, restore=restore)


# --------------------------------------------------------------------------- answers


def _as_custom_call(item: Mapping[str, Any], *, arguments: str | None = None) -> dict[str, Any]:
    call: dict[str, Any] = {"type": "custom_tool_call"}
    if "id" in item:
        call["id"] = item["id"]
    call["call_id"] = item.get("call_id")
    call["name"] = item.get("name")
    call["input"] = custom_tool_input(item.get("arguments", "") if arguments is None else arguments)
    if "status" in item:
        call["status"] = item["status"]
    return call


def _is_custom_call(item: Any, fixes: ResponsesFixes) -> bool:
    return (
        isinstance(item, Mapping)
        and item.get("type") == "function_call"
        and item.get("name") in fixes.custom_tools
        and not item.get("namespace")
    )


def fix_responses_result(result: Mapping[str, Any], fixes: ResponsesFixes) -> dict[str, Any]:
    """A non-stream Copilot Response for the client: custom calls and the
    namespace restored."""
    out = copy.deepcopy(dict(result))
    output = out.get("output")
    if isinstance(output, list):
        out["output"] = [_as_custom_call(item) if _is_custom_call(item, fixes) else item for item in output]
    if fixes.namespace:
        _rewrite(out, fixes.namespace, RESERVED_NAMESPACE, fixes.annotations, restore=True)
    return out


_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
_NO_COMPLETION = "Copilot's Responses stream ended without completion"


class ResponsesStreamFixer:
    """Copilot's Responses events -> the client's, one event at a time.

    Guarantees, whatever upstream sends: every event of an item carries the id
    its `output_item.added` gave (invented when missing), also inside the
    terminal response; calls to custom tools stream as custom tool calls; the
    stream ends with exactly one of response.completed / .incomplete / .failed
    and nothing after it. An upstream `error` event, a `response.failed` whose
    error only arrives in the next event, and an upstream that stops early all
    end in one `response.failed`.
    """

    def __init__(self, fixes: ResponsesFixes | None = None) -> None:
        self._fixes = fixes or ResponsesFixes()
        self._ids: dict[int, str] = {}
        self._custom: dict[int, JsonStringFieldStream] = {}
        self._snapshot: dict[str, Any] = {}
        self._held_failure: dict[str, Any] | None = None
        self._sequence = -1
        self.done = False

    def feed(self, event: Any) -> list[dict[str, Any]]:
        if self.done or not isinstance(event, dict):
            return []
        if self._held_failure is not None:
            # Copilot may send response.failed with error null, then the error.
            if event.get("type") == "error":
                self._held_failure["response"]["error"] = _error_of(event)
            return self._release_failure()
        event = copy.deepcopy(event)
        sequence = event.get("sequence_number")
        if isinstance(sequence, int) and not isinstance(sequence, bool):
            self._sequence = max(self._sequence, sequence)
        kind = event.get("type")
        response = event.get("response")
        if isinstance(response, dict):
            self._remember(response)
        if kind == "error":
            return self._fail(_error_of(event))
        if kind == "response.failed":
            self._fix_response(event)
            failed = event.get("response")
            if not isinstance(failed, dict):
                event["response"] = failed = self._response("failed")
            if not failed.get("error"):
                self._held_failure = event
                return []
            self.done = True
            return [event]
        if kind in _TERMINAL:
            self._fix_response(event)
            self.done = True
            return [event]
        if isinstance(response, dict):
            self._fix_response(event)
            return [event]
        return self._fix_item_event(event)

    def finish(self) -> list[dict[str, Any]]:
        """Upstream ended: the terminal event it did not send."""
        if self.done:
            return []
        if self._held_failure is not None:
            return self._release_failure()
        return self._fail({"code": "server_error", "message": _NO_COMPLETION})

    def error(self, message: str, *, code: str = "server_error") -> list[dict[str, Any]]:
        """Upstream failed mid-stream (connection lost, timeout): response.failed."""
        if self.done:
            return []
        if self._held_failure is not None:
            return self._release_failure()
        return self._fail({"code": code, "message": message})

    # ------------------------------------------------------------ helpers

    def _remember(self, response: Mapping[str, Any]) -> None:
        for key in ("id", "model", "created_at"):
            if key in response:
                self._snapshot[key] = response[key]

    def _response(self, status: str, error: Any = None) -> dict[str, Any]:
        return {
            "id": self._snapshot.get("id") or new_id("resp"),
            "object": "response",
            "created_at": self._snapshot.get("created_at", 0),
            "model": self._snapshot.get("model", ""),
            "status": status,
            "output": [],
            "error": error,
        }

    def _next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def _fail(self, error: dict[str, Any]) -> list[dict[str, Any]]:
        self.done = True
        return [{"type": "response.failed", "response": self._response("failed", error), **self._seq()}]

    def _seq(self) -> dict[str, int]:
        return {"sequence_number": self._next_sequence()}

    def _release_failure(self) -> list[dict[str, Any]]:
        event, self._held_failure = self._held_failure, None
        assert event is not None
        if not event["response"].get("error"):
            event["response"]["error"] = {"code": "server_error", "message": "Copilot reported the response as failed"}
        self.done = True
        return [event]

    def _fix_response(self, event: dict[str, Any]) -> None:
        response = event.get("response")
        if not isinstance(response, dict):
            return
        output = response.get("output")
        if isinstance(output, list):
            fixed = []
            for index, item in enumerate(output):
                if isinstance(item, dict):
                    known = self._ids.get(index)
                    if known is not None:
                        item["id"] = known
                    if _is_custom_call(item, self._fixes):
                        item = _as_custom_call(item)
                fixed.append(item)
            response["output"] = fixed
        if self._fixes.namespace:
            _rewrite(response, self._fixes.namespace, RESERVED_NAMESPACE, self._fixes.annotations, restore=True)

    def _fix_item_event(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = event.get("type")
        index = event.get("output_index")
        if not isinstance(index, int) or isinstance(index, bool):
            return [event]
        item = event.get("item")
        if kind == "response.output_item.added" and isinstance(item, dict):
            if not isinstance(item.get("id"), str) or not item["id"]:
                item["id"] = f"oi_{index}_{new_id('x')[2:18]}"
            self._ids[index] = item["id"]
            if _is_custom_call(item, self._fixes):
                self._custom[index] = JsonStringFieldStream()
                event["item"] = _as_custom_call(item, arguments="")
        elif kind == "response.output_item.done" and isinstance(item, dict):
            item["id"] = self._ids.setdefault(index, item.get("id") or f"oi_{index}_{new_id('x')[2:18]}")
            if _is_custom_call(item, self._fixes):
                event["item"] = _as_custom_call(item)
        elif "item_id" in event and index in self._ids:
            event["item_id"] = self._ids[index]
        decoder = self._custom.get(index)
        if decoder is not None and kind == "response.function_call_arguments.delta":
            text = decoder.feed(event["delta"] if isinstance(event.get("delta"), str) else "")
            if not text:
                return []
            return [{**event, "type": "response.custom_tool_call_input.delta", "delta": text}]
        if decoder is not None and kind == "response.function_call_arguments.done":
            full = custom_tool_input(event.get("arguments", ""))
            base = {k: v for k, v in event.items() if k not in ("type", "arguments", "name")}
            events = []
            if full.startswith(decoder.emitted) and len(full) > len(decoder.emitted):
                rest = full[len(decoder.emitted) :]
                events.append({**base, "type": "response.custom_tool_call_input.delta", "delta": rest})
            events.append({**base, "type": "response.custom_tool_call_input.done", "input": full})
            return events
        if self._fixes.namespace:
            _rewrite(event, self._fixes.namespace, RESERVED_NAMESPACE, self._fixes.annotations, restore=True)
        return [event]


def _error_of(event: Mapping[str, Any]) -> dict[str, Any]:
    inner = event.get("error")
    source = inner if isinstance(inner, Mapping) else event
    message = source.get("message")
    code = source.get("code")
    return {
        "code": code if isinstance(code, str) and code else "server_error",
        "message": message if isinstance(message, str) and message else "Copilot reported an error",
    }
