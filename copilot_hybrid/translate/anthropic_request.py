"""Anthropic Messages request -> OpenAI chat-completions request for Copilot.

Follows copilot-api 0.7.0 (spec §8.1) field by field, with its quirks fixed and
with what Claude Code 2.1.x sends on top (mid-conversation `system` messages,
adaptive thinking, `output_config`, `context_management`, server tools,
document/search_result blocks, the billing line in the system prompt).
Pure: the input is never mutated and nothing is read from outside.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from copilot_hybrid.copilot.resolution import normalize_model
from copilot_hybrid.errors import TranslationError

from ._js import js_stringify

# normalize_model lives in copilot.resolution; re-exported while the server imports it from here.
__all__ = ["anthropic_to_openai", "normalize_model", "strip_billing_line"]

# --------------------------------------------------------------------------- helpers

_BILLING_LINE = re.compile(r"^x-anthropic-billing-header:[^\n]*(?:\n|$)", re.MULTILINE)
_REMINDER_OPEN = "<system-reminder>"
_INTERRUPTED_RESULT = "Tool call was interrupted; no result is available."
_IMAGE_MOVED_NOTE = "[image attached in the next message]"
_UNSUPPORTED_DOCUMENT = "[document omitted: {what} cannot be sent to this model through the proxy]"
_UNSUPPORTED_IMAGE = "[image omitted: {what} images cannot be sent to this model through the proxy]"
_SKIPPED_BLOCKS = frozenset(
    {
        "thinking",
        "redacted_thinking",
        "tool_use",
        "server_tool_use",
        "mcp_tool_use",
        "mcp_tool_result",
        "container_upload",
    }
)


def _ephemeral() -> dict[str, Any]:
    return {"type": "ephemeral"}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _block_type(block: Any, param: str) -> str:
    if not isinstance(block, dict):
        raise TranslationError("content block must be an object", param=param)
    kind = block.get("type")
    if not isinstance(kind, str):
        raise TranslationError("content block needs a string `type`", param=f"{param}.type")
    return kind


def _text_of(block: dict[str, Any], param: str) -> str:
    text = block.get("text")
    if not isinstance(text, str):
        raise TranslationError("text block needs a string `text`", param=f"{param}.text")
    return text


def _has_cache(block: Any) -> bool:
    return isinstance(block, dict) and isinstance(block.get("cache_control"), dict)


def strip_billing_line(text: str) -> str:
    # Claude Code >= 2.1.15 puts an attribution line, with a per-request hash,
    # into the system prompt: it only wastes tokens and defeats prompt caching.
    return _BILLING_LINE.sub("", text) if "x-anthropic-billing-header:" in text else text


class _Ctx:
    """What the translation of one request needs to know about its target."""

    def __init__(self, target: str) -> None:
        self.claude = target.lower().startswith("claude")

    def mark(self, message: dict[str, Any], cached: bool) -> dict[str, Any]:
        # Copilot's chat API takes prompt-cache breakpoints as a message field.
        if cached and self.claude:
            message["copilot_cache_control"] = _ephemeral()
        return message


# --------------------------------------------------------------------------- content


def _image_part(block: dict[str, Any], param: str) -> dict[str, Any]:
    source = block.get("source")
    if not isinstance(source, dict):
        raise TranslationError("image block needs a `source` object", param=f"{param}.source")
    kind = source.get("type")
    if kind == "base64":
        data, media_type = source.get("data"), source.get("media_type")
        if not isinstance(data, str) or not isinstance(media_type, str):
            raise TranslationError("base64 image source needs string `media_type` and `data`", param=f"{param}.source")
        return {"type": "image_url", "image_url": {"url": f"data:{media_type};base64,{data}"}}
    if kind == "url":
        url = source.get("url")
        if not isinstance(url, str) or not url:
            raise TranslationError("url image source needs a string `url`", param=f"{param}.source.url")
        return {"type": "image_url", "image_url": {"url": url}}
    if isinstance(kind, str):
        # e.g. Files API `file` sources: nothing Copilot can fetch.
        return {"type": "text", "text": _UNSUPPORTED_IMAGE.format(what=f"`{kind}`-source")}
    raise TranslationError("image source needs a string `type`", param=f"{param}.source.type")


def _document_parts(block: dict[str, Any], param: str) -> list[dict[str, Any]]:
    source = block.get("source")
    if not isinstance(source, dict):
        raise TranslationError("document block needs a `source` object", param=f"{param}.source")
    header = [v for v in (block.get("title"), block.get("context")) if isinstance(v, str) and v]
    kind = source.get("type")
    if kind == "text" and isinstance(source.get("data"), str):
        return [{"type": "text", "text": "\n\n".join([*header, source["data"]])}]
    if kind == "content":
        inner = source.get("content")
        if isinstance(inner, str):
            return [{"type": "text", "text": "\n\n".join([*header, inner])}]
        parts: list[dict[str, Any]] = [{"type": "text", "text": "\n\n".join(header)}] if header else []
        if isinstance(inner, list):
            for j, sub in enumerate(inner):
                parts.extend(_content_parts(sub, f"{param}.source.content.{j}"))
        return parts
    pdf = source.get("media_type") == "application/pdf" or kind in ("base64", "url")
    what = "PDF documents" if pdf else f"`{kind}`-source documents"
    title = f" ({header[0]})" if header else ""
    return [{"type": "text", "text": _UNSUPPORTED_DOCUMENT.format(what=what) + title}]


def _search_result_text(block: dict[str, Any]) -> str:
    lines = [v for v in (block.get("title"), block.get("source")) if isinstance(v, str) and v]
    content = block.get("content")
    if isinstance(content, list):
        texts = [c["text"] for c in content if isinstance(c, dict) and isinstance(c.get("text"), str)]
    else:
        texts = [content] if isinstance(content, str) else []
    return "\n\n".join(["\n".join(lines), *texts] if lines else texts)


def _content_parts(block: Any, param: str) -> list[dict[str, Any]]:
    """One non-tool_result user-side block -> OpenAI content parts (maybe none)."""
    kind = _block_type(block, param)
    if kind == "text":
        text = _text_of(block, param)
        # Empty text blocks are rejected by Claude upstreams; they carry nothing.
        return [{"type": "text", "text": text}] if text else []
    if kind == "image":
        return [_image_part(block, param)]
    if kind == "document":
        return _document_parts(block, param)
    if kind == "search_result":
        text = _search_result_text(block)
        return [{"type": "text", "text": text}] if text else []
    if kind == "tool_reference":
        name = block.get("tool_name")
        return [{"type": "text", "text": f"Tool loaded: {name}"}] if isinstance(name, str) else []
    # thinking in user turns, stray tool_use, server-tool blocks, unknown types:
    # nothing Copilot's chat API can take.
    return []


def _finish_content(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]] | None:
    """Text-only content is sent as one string (as copilot-api does); with an
    image it stays a list of parts, in order."""
    if not parts:
        return None
    if any(p["type"] == "image_url" for p in parts):
        return parts
    return "\n\n".join(p["text"] for p in parts)


def _tool_result(block: dict[str, Any], param: str) -> tuple[str, list[dict[str, Any]]]:
    """A tool_result's text, and its images (which must travel in a user message)."""
    content = block.get("content")
    texts: list[str] = []
    images: list[dict[str, Any]] = []
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for j, sub in enumerate(content):
            for part in _content_parts(sub, f"{param}.content.{j}"):
                if part["type"] == "image_url":
                    images.append(part)
                else:
                    texts.append(part["text"])
    elif content is not None:
        raise TranslationError("tool_result `content` must be a string or an array", param=f"{param}.content")
    text = "\n\n".join(t for t in texts if t)
    if block.get("is_error") is True:
        # Chat completions has no error flag for tool results; say it in words.
        text = f"Error: {text}" if text else "Error"
    return text, images


# --------------------------------------------------------------------------- messages


def _system_texts(system: Any, param: str, *, strip_billing: bool) -> tuple[list[str], bool]:
    if system is None:
        return [], False
    if isinstance(system, str):
        text = strip_billing_line(system) if strip_billing else system
        return ([text] if text.strip() else []), False
    if not isinstance(system, list):
        raise TranslationError("`system` must be a string or an array of text blocks", param=param)
    texts: list[str] = []
    cached = False
    for j, block in enumerate(system):
        kind = _block_type(block, f"{param}.{j}")
        if kind != "text":
            continue
        text = _text_of(block, f"{param}.{j}")
        text = strip_billing_line(text) if strip_billing else text
        cached = cached or _has_cache(block)
        if text.strip():
            texts.append(text)
    return texts, cached


def _reminder(text: str) -> str:
    text = text.strip()
    return text if text.startswith(_REMINDER_OPEN) else f"{_REMINDER_OPEN}\n{text}\n</system-reminder>"


def _assistant_message(content: str | list[Any], ctx: _Ctx, param: str) -> tuple[dict[str, Any] | None, list[str]]:
    if isinstance(content, str):
        return ({"role": "assistant", "content": content} if content else None), []
    texts: list[str] = []
    thinking: list[str] = []
    signature: str | None = None
    calls: list[dict[str, Any]] = []
    cached = False
    for j, block in enumerate(content):
        p = f"{param}.{j}"
        kind = _block_type(block, p)
        cached = cached or _has_cache(block)
        if kind == "text":
            text = _text_of(block, p)
            if text:
                texts.append(text)
        elif kind == "tool_use":
            call_id, name, tool_input = block.get("id"), block.get("name"), block.get("input", {})
            if not isinstance(call_id, str) or not call_id:
                raise TranslationError("tool_use block needs a string `id`", param=f"{p}.id")
            if not isinstance(name, str) or not name:
                raise TranslationError("tool_use block needs a string `name`", param=f"{p}.name")
            if tool_input is None:
                tool_input = {}
            if not isinstance(tool_input, dict):
                raise TranslationError("tool_use `input` must be an object", param=f"{p}.input")
            calls.append(
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": name, "arguments": js_stringify(tool_input)},
                }
            )
        elif kind == "thinking":
            text, sig = block.get("thinking"), block.get("signature")
            # Copilot's GPT signatures contain "@"; Claude rejects them.
            if isinstance(sig, str) and sig and not (ctx.claude and "@" in sig):
                if signature is None:
                    signature = sig
                if isinstance(text, str) and text:
                    thinking.append(text)
        # redacted_thinking, server tool blocks and unknown types are dropped.
    if not texts and not calls:
        return None, []
    message: dict[str, Any] = {"role": "assistant", "content": "\n\n".join(texts) if texts else None}
    if signature is not None:
        # Copilot's own fields for Claude's thinking; replaying them keeps the
        # prompt prefix cacheable and lets thinking continue across tool calls.
        if thinking:
            message["reasoning_text"] = "\n\n".join(thinking)
        message["reasoning_opaque"] = signature
    if calls:
        message["tool_calls"] = calls
    return ctx.mark(message, cached), [c["id"] for c in calls]


class _Conversation:
    """Builds the OpenAI message list, keeping tool calls and results paired."""

    def __init__(self, ctx: _Ctx) -> None:
        self.ctx = ctx
        self.out: list[dict[str, Any]] = []
        # tool_call id -> its tool message once the result came (None: not yet)
        self.pending: dict[str, dict[str, Any] | None] = {}
        self.deferred: list[dict[str, Any]] = []

    def close_tool_round(self) -> None:
        # OpenAI needs a tool message for every tool call, right after the calls; they
        # go in the calls' order, whatever order the results came in, and an
        # interrupted call (no tool_result) gets a stand-in answer.
        for call_id, answer in self.pending.items():
            self.out.append(answer or {"role": "tool", "tool_call_id": call_id, "content": _INTERRUPTED_RESULT})
        self.pending = {}
        self.out.extend(self.deferred)
        self.deferred = []

    def system(self, text: str, cached: bool) -> None:
        if self.ctx.claude:
            # A reminder as a user turn keeps Claude's cached prefix intact; a
            # new system turn on every request does not (measured by peers).
            message = {"role": "user", "content": _reminder(text)}
        else:
            message = {"role": "system", "content": text}
        self.ctx.mark(message, cached)
        # Never between tool calls and their results.
        (self.deferred if self.pending else self.out).append(message)

    def assistant(self, content: str | list[Any], param: str) -> None:
        self.close_tool_round()
        message, call_ids = _assistant_message(content, self.ctx, param)
        if message is not None:
            self.out.append(message)
            self.pending = dict.fromkeys(call_ids)

    def user(self, content: str | list[Any], param: str) -> None:
        if isinstance(content, str):
            self.close_tool_round()
            if content:
                self.out.append({"role": "user", "content": content})
            return
        moved_images: list[dict[str, Any]] = []
        orphans: list[dict[str, Any]] = []
        parts: list[dict[str, Any]] = []
        cached = False
        for j, block in enumerate(content):
            p = f"{param}.{j}"
            kind = _block_type(block, p)
            if kind != "tool_result":
                cached = cached or _has_cache(block)
                parts.extend(_content_parts(block, p))
                continue
            call_id = block.get("tool_use_id")
            if not isinstance(call_id, str) or not call_id:
                raise TranslationError("tool_result needs a string `tool_use_id`", param=f"{p}.tool_use_id")
            text, images = _tool_result(block, p)
            if call_id in self.pending and self.pending[call_id] is None:
                if images:
                    # OpenAI allows images only in user messages.
                    text = f"{text}\n\n{_IMAGE_MOVED_NOTE}" if text else _IMAGE_MOVED_NOTE
                    moved_images.extend(images)
                tool_msg = {"role": "tool", "tool_call_id": call_id, "content": text}
                self.pending[call_id] = self.ctx.mark(tool_msg, _has_cache(block))
            else:
                # No matching tool call right before (history was trimmed or
                # compacted): OpenAI would reject a tool message, keep it as text.
                cached = cached or _has_cache(block)
                orphans.append({"type": "text", "text": f"[Result of tool call {call_id}]\n{text}"})
                orphans.extend(images)
        self.close_tool_round()
        final = _finish_content(moved_images + orphans + parts)
        if final is not None:
            self.out.append(self.ctx.mark({"role": "user", "content": final}, cached))


def _system_message_text(content: str | list[Any], param: str) -> tuple[str, bool]:
    texts, cached = _system_texts(content, param, strip_billing=False)
    return "\n\n".join(texts), cached


def _translate_messages(system: Any, messages: list[Any], ctx: _Ctx) -> list[dict[str, Any]]:
    system_texts, system_cached = _system_texts(system, "system", strip_billing=True)
    conversation = _Conversation(ctx)
    started = False
    for i, message in enumerate(messages):
        param = f"messages.{i}"
        if not isinstance(message, dict):
            raise TranslationError("message must be an object", param=param)
        role = message.get("role")
        content = message.get("content")
        if role not in ("user", "assistant", "system"):
            raise TranslationError("role must be `user`, `assistant` or `system`", param=f"{param}.role")
        if not isinstance(content, (str, list)):
            raise TranslationError("content must be a string or an array", param=f"{param}.content")
        if role == "system":
            text, cached = _system_message_text(content, f"{param}.content")
            if not text:
                continue
            if not started:
                # Leading system messages are just more system prompt.
                system_texts.append(text)
                system_cached = system_cached or cached
            else:
                conversation.system(text, cached)
            continue
        started = True
        if role == "assistant":
            conversation.assistant(content, f"{param}.content")
        else:
            conversation.user(content, f"{param}.content")
    conversation.close_tool_round()
    if system_texts:
        head = ctx.mark({"role": "system", "content": "\n\n".join(system_texts)}, system_cached)
        return [head, *conversation.out]
    return conversation.out


# --------------------------------------------------------------------------- tools


def _translate_tools(tools: Any, ctx: _Ctx) -> list[dict[str, Any]]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise TranslationError("`tools` must be an array", param="tools")
    out: list[dict[str, Any]] = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise TranslationError("tool must be an object", param=f"tools.{i}")
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise TranslationError("tool needs a string `name`", param=f"tools.{i}.name")
        schema = tool.get("input_schema")
        kind = tool.get("type")
        if schema is None and kind not in (None, "custom"):
            # Anthropic server tools (web_search, code_execution, tool_search…)
            # run on Anthropic's side; offered as functions nobody would run them.
            continue
        if schema is not None and not isinstance(schema, dict):
            raise TranslationError("`input_schema` must be an object", param=f"tools.{i}.input_schema")
        function: dict[str, Any] = {"name": name}
        if isinstance(tool.get("description"), str):
            function["description"] = tool["description"]
        if schema is not None:
            function["parameters"] = schema
        out.append(ctx.mark({"type": "function", "function": function}, _has_cache(tool)))
    return out


def _translate_tool_choice(choice: Any, tool_names: set[str]) -> str | dict[str, Any] | None:
    if choice is None or not tool_names:
        return None  # OpenAI rejects tool_choice without tools
    if not isinstance(choice, dict) or not isinstance(choice.get("type"), str):
        raise TranslationError("`tool_choice` must be an object with a `type`", param="tool_choice")
    kind = choice["type"]
    if kind == "auto":
        return "auto"
    if kind == "any":
        return "required"
    if kind == "none":
        return "none"
    if kind == "tool":
        name = choice.get("name")
        # A forced server tool was dropped above; forcing a missing function is a 400.
        if isinstance(name, str) and name in tool_names:
            return {"type": "function", "function": {"name": name}}
    return None


# --------------------------------------------------------------------------- thinking


def _model_supports(known_models: Collection[str], target: str) -> dict[str, Any] | None:
    if not isinstance(known_models, Mapping):
        return None
    info = known_models.get(target)
    if not isinstance(info, Mapping):
        return None
    capabilities = info.get("capabilities")
    if not isinstance(capabilities, Mapping):
        return None
    supports = capabilities.get("supports")
    limits = capabilities.get("limits")
    result = dict(supports) if isinstance(supports, Mapping) else {}
    if isinstance(limits, Mapping) and _is_number(limits.get("max_output_tokens")):
        result["_max_output_tokens"] = int(limits["max_output_tokens"])
    return result


def _as_int(value: Any, default: int) -> int:
    return int(value) if _is_number(value) else default


def _clamp_effort(effort: Any, levels: list[str]) -> str | None:
    if not isinstance(effort, str) or not levels:
        return None
    if effort in levels:
        return effort
    if effort in ("max", "xhigh"):
        return levels[-1]
    if effort in ("minimal", "none"):
        return levels[0]
    return None


def _thinking_fields(payload: dict[str, Any], supports: dict[str, Any] | None) -> dict[str, Any]:
    """Copilot's knobs for Claude's thinking / GPT's reasoning effort.

    Only sent for models whose Copilot capabilities say they take them: an
    unknown parameter is a 400 on some Copilot backends.
    """
    thinking = payload.get("thinking")
    if thinking is not None and not isinstance(thinking, dict):
        raise TranslationError("`thinking` must be an object", param="thinking")
    output_config = payload.get("output_config")
    effort = output_config.get("effort") if isinstance(output_config, dict) else None
    if supports is None:
        return {}
    kind = thinking.get("type") if thinking else None
    if kind == "disabled":
        return {}
    raw_levels = supports.get("reasoning_effort")
    levels = [x for x in raw_levels if isinstance(x, str)] if isinstance(raw_levels, list) else []
    min_budget = _as_int(supports.get("min_thinking_budget"), 1024)
    ceiling = _as_int(supports.get("max_thinking_budget"), 0)
    if "_max_output_tokens" in supports:
        ceiling = min(ceiling, supports["_max_output_tokens"] - 1)
    max_tokens = payload.get("max_tokens")
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool):
        ceiling = min(ceiling, max_tokens - 1)  # Claude needs max_tokens > budget

    def budget(requested: int) -> dict[str, Any]:
        value = max(min(requested, ceiling), min_budget)
        return {"thinking_budget": value} if ceiling > 0 and value <= ceiling else {}

    if kind == "enabled":
        requested = thinking.get("budget_tokens") if thinking else None
        return budget(_as_int(requested, 0)) if _is_number(requested) else {}
    if kind == "adaptive":
        clamped = _clamp_effort(effort if effort is not None else "high", levels)
        if clamped is not None:
            return {"reasoning_effort": clamped}
        scale = {"low": 0.0, "medium": 0.5}.get(effort if isinstance(effort, str) else "", 1.0)
        return budget(int(min_budget + (ceiling - min_budget) * scale))
    if thinking is None:
        clamped = _clamp_effort(effort, levels)
        if clamped is not None:
            return {"reasoning_effort": clamped}
    return {}


# --------------------------------------------------------------------------- entry


def _opt(payload: dict[str, Any], key: str, kind: str) -> Any:
    value = payload.get(key)
    if value is None:
        return None
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "number": _is_number(value),
        "bool": isinstance(value, bool),
    }[kind]
    if not ok:
        raise TranslationError(f"`{key}` must be {'a number' if kind != 'bool' else 'a boolean'}", param=key)
    return value


def anthropic_to_openai(payload: dict[str, Any], *, known_models: Collection[str] = ()) -> dict[str, Any]:
    """Translates an Anthropic Messages request into a Copilot chat-completions request.

    `known_models` holds the ids Copilot lists; it steers model normalisation.
    When it is a mapping of id -> Copilot model object (the `/models` entries),
    the target's capabilities also enable `thinking_budget` / `reasoning_effort`.
    Raises TranslationError for structurally invalid requests.
    """
    if not isinstance(payload, dict):
        raise TranslationError("request body must be a JSON object")
    model = payload.get("model")
    if not isinstance(model, str) or not model.strip():
        raise TranslationError("`model` is required and must be a string", param="model")
    messages = payload.get("messages")
    if not isinstance(messages, list):
        raise TranslationError("`messages` is required and must be an array", param="messages")

    target = normalize_model(model, known_models)
    ctx = _Ctx(target)
    result: dict[str, Any] = {"model": target, "messages": _translate_messages(payload.get("system"), messages, ctx)}

    max_tokens = _opt(payload, "max_tokens", "int")
    if max_tokens is not None:
        result["max_tokens"] = max_tokens
    stop = payload.get("stop_sequences")
    if stop is not None:
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise TranslationError("`stop_sequences` must be an array of strings", param="stop_sequences")
        if stop:
            result["stop"] = list(stop)
    for key, kind in (("stream", "bool"), ("temperature", "number"), ("top_p", "number")):
        value = _opt(payload, key, kind)
        if value is not None:
            result[key] = value
    metadata = payload.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise TranslationError("`metadata` must be an object", param="metadata")
    if metadata and isinstance(metadata.get("user_id"), str):
        result["user"] = metadata["user_id"]

    tools = _translate_tools(payload.get("tools"), ctx)
    if tools:
        result["tools"] = tools
    tool_choice = _translate_tool_choice(payload.get("tool_choice"), {t["function"]["name"] for t in tools})
    if tool_choice is not None:
        result["tool_choice"] = tool_choice
    choice = payload.get("tool_choice")
    if tools and isinstance(choice, dict) and choice.get("disable_parallel_tool_use") is True:
        # Anthropic's switch for one tool call per turn is OpenAI's parallel_tool_calls.
        result["parallel_tool_calls"] = False

    result.update(_thinking_fields(payload, _model_supports(known_models, target)))
    # Dropped on purpose: top_k, service_tier, context_management, container,
    # mcp_servers, output_config (its effort is used above) and unknown keys:
    # Copilot's chat API rejects or ignores them.
    return result
