"""Preparing Anthropic requests for Copilot's native /v1/messages, and filtering its
stream: each rule on the bodies Claude Code 2.1.332 sends (tests/fixtures/claude_code)
and on small hand-made ones."""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copilot_hybrid.copilot.registry import ModelInfo, parse_models
from copilot_hybrid.emulator.catalog import default_models
from copilot_hybrid.translate.messages_native import (
    ALLOWED_BETAS,
    MessagesStreamFilter,
    event_kind,
    filter_betas,
    is_warmup_probe,
    keep_event,
    prepare_messages_request,
)
from tests.support import claude_code_request

CATALOG = {m.id: m for m in parse_models({"data": default_models()})}
TOOL_RESULT = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}
REMINDER = {"type": "text", "text": "<system-reminder>\nnote\n</system-reminder>"}


def prepare(body: dict[str, Any], model: str = "claude-opus-5.5", beta: str | None = None) -> Any:
    return prepare_messages_request(body, model=CATALOG[model], anthropic_beta=beta)


def request(*messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"model": "claude-opus-5-5", "max_tokens": 1000, "messages": list(messages), **fields}


def user(*blocks: Any) -> dict[str, Any]:
    return {"role": "user", "content": list(blocks)}


def assistant(*blocks: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": list(blocks)}


def info(**supports: Any) -> ModelInfo:
    limits = supports.pop("limits", {})
    parsed = ModelInfo.from_entry({"id": "x", "capabilities": {"supports": supports, "limits": limits}})
    assert parsed is not None
    return parsed


# --------------------------------------------------------------------------- betas


def test_claude_codes_betas_are_cut_to_copilots_allow_list() -> None:
    sent = claude_code_request("first_turn")["headers"]["anthropic-beta"]
    kept, dropped = filter_betas(sent)
    assert kept == ",".join(ALLOWED_BETAS)
    assert dropped == (
        "claude-code-20250219",
        "per-turn-control-2026-07-01",
        "mid-conversation-tool-changes-2026-07-01",
        "thinking-token-count-2026-05-13",
        "effort-2025-11-24",
    )


def test_beta_filter_edges() -> None:
    assert filter_betas(" effort-2025-11-24 , claude-code-20250219") == (
        None,
        ("effort-2025-11-24", "claude-code-20250219"),
    )
    assert (
        filter_betas("context-management-2025-06-27,context-management-2025-06-27")[0]
        == "context-management-2025-06-27"
    )
    assert filter_betas(None) == (None, ())
    # A client that sent none but sets a thinking budget gets interleaved thinking, as Copilot's own agent does.
    budget = {"thinking": {"type": "enabled", "budget_tokens": 2000}}
    assert filter_betas(None, budget) == ("interleaved-thinking-2025-05-14", ())
    assert filter_betas("", {"thinking": {"type": "adaptive"}}) == (None, ())


# --------------------------------------------------------------------------- Claude Code's bodies


def test_claude_codes_first_turn() -> None:
    fixture = claude_code_request("first_turn")
    original = copy.deepcopy(fixture["body"])
    prepared = prepare(fixture["body"], beta=fixture["headers"]["anthropic-beta"])
    body = prepared.payload
    assert fixture["body"] == original  # the input is never changed
    assert body["model"] == "claude-opus-5.5"
    assert prepared.anthropic_beta == ",".join(ALLOWED_BETAS)
    # The inline system turn (a beta Copilot lacks) is a reminder in the user turn, cache breakpoint kept.
    assert [m["role"] for m in body["messages"]] == ["user"]
    blocks = body["messages"][0]["content"]
    assert len(blocks) == 3
    assert blocks[2]["text"].startswith("<system-reminder>\n# Environment")
    assert blocks[2]["text"].endswith("</system-reminder>")
    assert blocks[2]["cache_control"] == {"type": "ephemeral"}
    assert "output_config" not in body["messages"][0]
    # Copilot takes the rest as sent.
    assert body["thinking"] == {"type": "adaptive", "display": "omitted"}
    assert body["output_config"] == {"effort": "medium"}
    assert body["max_tokens"] == 128000 and body["stream"] is True
    assert body["context_management"] == original["context_management"]
    assert body["system"] == original["system"] and body["tools"] == original["tools"]
    assert body["metadata"] == original["metadata"]
    assert any("dropped anthropic-beta" in c for c in prepared.changes)


def test_claude_codes_tool_result_turn() -> None:
    fixture = claude_code_request("tool_result_turn")
    body = prepare(fixture["body"], beta=fixture["headers"]["anthropic-beta"]).payload
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    # Its signed thinking goes back as it came; the tool result too.
    assert body["messages"][1] == fixture["body"]["messages"][2]
    assert body["messages"][2] == fixture["body"]["messages"][3]


def test_haiku_on_a_budget_only_model() -> None:
    """Claude Code's haiku request mapped to claude-haiku-4.5, which takes thinking
    budgets only and no effort, and whose trailing system turn folds into the tool result."""
    fixture = claude_code_request("haiku_tool_result_turn")
    prepared = prepare(fixture["body"], model="claude-haiku-4.5", beta=fixture["headers"]["anthropic-beta"])
    body = prepared.payload
    assert body["model"] == "claude-haiku-4.5"
    assert body["max_tokens"] == 16000  # the model's output limit (Claude Code asked 128000)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1024 + (15999 - 1024) // 2}  # medium effort
    assert "output_config" not in body
    last = body["messages"][-1]
    assert last["role"] == "user" and [b["type"] for b in last["content"]] == ["tool_result"]
    result = last["content"][0]["content"]
    assert result[0] == {"type": "text", "text": "recorded-hello"}
    assert (
        result[1]["text"] == "<system-reminder>\n<total_tokens>14999985 tokens left</total_tokens>\n</system-reminder>"
    )


def test_compaction_keeps_its_instructions_beside_the_tool_result() -> None:
    fixture = claude_code_request("compaction")
    body = prepare(fixture["body"], beta=fixture["headers"]["anthropic-beta"]).payload
    last = body["messages"][-1]
    assert [b["type"] for b in last["content"]] == ["tool_result", "text"]
    assert last["content"][1]["text"].startswith("CRITICAL: Respond with TEXT ONLY.")


def test_the_interactive_turn_loses_what_copilot_does_not_take() -> None:
    fixture = claude_code_request("interactive_turn")
    prepared = prepare(fixture["body"], beta=fixture["headers"]["anthropic-beta"])
    assert "safeguards" not in prepared.payload
    assert "removed field safeguards" in prepared.changes
    assert prepared.payload["thinking"] == {"type": "adaptive", "display": "summarized"}


def test_the_title_probe_is_a_warmup_and_keeps_its_output_format() -> None:
    fixture = claude_code_request("title_probe")
    beta = fixture["headers"]["anthropic-beta"]
    assert is_warmup_probe(fixture["body"], beta)
    first_turn = claude_code_request("first_turn")
    assert not is_warmup_probe(first_turn["body"], first_turn["headers"]["anthropic-beta"])
    assert not is_warmup_probe(claude_code_request("compaction")["body"], beta)
    assert is_warmup_probe(request(user({"type": "text", "text": "Warmup"}), tools=[{"name": "x"}]), None)
    body = prepare(fixture["body"], beta=beta).payload
    assert body["output_config"]["format"]["type"] == "json_schema"
    assert (
        prepare(fixture["body"], beta=beta).anthropic_beta
        == "interleaved-thinking-2025-05-14,context-management-2025-06-27"
    )


# --------------------------------------------------------------------------- inline system turns


def test_inline_system_turns_fold_into_the_next_user_turn_or_the_system_prompt() -> None:
    body = request(
        {"role": "system", "content": "first"},
        user({"type": "text", "text": "hi"}),
        assistant({"type": "text", "text": "yo"}),
        {"role": "system", "content": [{"type": "text", "text": "late"}]},
        user({"type": "text", "text": "again"}),
        assistant({"type": "text", "text": "done"}),
        {"role": "system", "content": "trailing"},
        system="top",
    )
    out = prepare(body).payload
    assert [m["role"] for m in out["messages"]] == ["user", "assistant", "user", "assistant"]
    assert out["messages"][0]["content"][0]["text"] == "<system-reminder>\nfirst\n</system-reminder>"
    assert out["messages"][2]["content"][0]["text"] == "<system-reminder>\nlate\n</system-reminder>"
    assert out["system"] == [
        {"type": "text", "text": "top"},
        {"type": "text", "text": "<system-reminder>\ntrailing\n</system-reminder>"},
    ]
    assert prepare(request(user({"type": "text", "text": "x"}), {"role": "system", "content": ""})).payload[
        "messages"
    ] == [user({"type": "text", "text": "x"})]


# --------------------------------------------------------------------------- thinking blocks


@pytest.mark.parametrize(
    "block",
    [
        {"type": "thinking", "thinking": "", "signature": "s"},
        {"type": "thinking", "thinking": "Thinking...", "signature": "s"},
        {"type": "thinking", "thinking": "real"},
        {"type": "thinking", "thinking": "real", "signature": ""},
        {"type": "thinking", "thinking": "real", "signature": "enc@rs_123"},  # from the Responses translation
    ],
)
def test_thinking_copilot_cannot_verify_is_dropped(block: dict[str, Any]) -> None:
    text = {"type": "text", "text": "answer"}
    body = request(user(REMINDER), assistant(block, text), user({"type": "text", "text": "more"}))
    out = prepare(body)
    assert out.payload["messages"][1]["content"] == [text]
    assert "dropped thinking blocks without a Copilot signature" in out.changes
    # An assistant turn of nothing else goes entirely.
    only = prepare(request(user(REMINDER), assistant(block), user({"type": "text", "text": "x"})))
    assert [m["role"] for m in only.payload["messages"]] == ["user", "user"]


def test_signed_and_redacted_thinking_stay() -> None:
    blocks = [
        {"type": "thinking", "thinking": "t", "signature": "EpSig=="},
        {"type": "redacted_thinking", "data": "opaque"},
    ]
    body = request(user(REMINDER), assistant(*blocks), user({"type": "text", "text": "x"}))
    assert prepare(body).payload["messages"][1]["content"] == blocks


# --------------------------------------------------------------------------- tool turns


def test_reminder_text_folds_into_the_tool_result() -> None:
    out = prepare(request(user(TOOL_RESULT, REMINDER)))
    assert out.payload["messages"][0]["content"] == [
        {**TOOL_RESULT, "content": [{"type": "text", "text": "ok"}, REMINDER]}
    ]
    assert "folded reminder text into tool results" in out.changes


def test_texts_fold_pairwise_when_the_counts_match_else_into_the_last_result() -> None:
    second = {**TOOL_RESULT, "tool_use_id": "toolu_2", "content": [{"type": "text", "text": "two"}]}
    a, b = {"type": "text", "text": "A"}, {"type": "text", "text": "B"}
    pairwise = prepare(request(user(TOOL_RESULT, second, a, b))).payload["messages"][0]["content"]
    assert pairwise[0]["content"][-1] == a and pairwise[1]["content"][-1] == b
    into_last = prepare(request(user(TOOL_RESULT, second, a))).payload["messages"][0]["content"]
    assert into_last[0] == TOOL_RESULT and into_last[1]["content"] == [{"type": "text", "text": "two"}, a]


def test_error_results_and_tool_references_take_no_text() -> None:
    failed = {**TOOL_RESULT, "is_error": True}
    assert prepare(request(user(failed, REMINDER))).payload["messages"][0]["content"] == [failed, REMINDER]
    loaded = {**TOOL_RESULT, "content": [{"type": "tool_reference", "tool_name": "Grep"}]}
    body = request(user(loaded, {"type": "text", "text": "Tool loaded."}, REMINDER))
    out = prepare(body)
    # "Tool loaded." beside a tool_reference goes; the reminder stays (no result can take it).
    assert out.payload["messages"][0]["content"] == [loaded, REMINDER]
    assert "removed 'Tool loaded.' text beside tool_reference results" in out.changes


def test_a_pdf_joins_the_result_that_announced_it_and_images_stay_beside() -> None:
    pdf_result = {**TOOL_RESULT, "content": "PDF file read: /tmp/a.pdf (2 pages)"}
    document = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}}
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}}
    content = prepare(request(user(pdf_result, document, image, REMINDER))).payload["messages"][0]["content"]
    assert content[0]["content"][1:] == [document, REMINDER]
    assert content[1:] == [image]


def test_turns_with_other_blocks_are_left_alone() -> None:
    odd = user(TOOL_RESULT, {"type": "search_result", "source": "s", "title": "t", "content": []}, REMINDER)
    assert prepare(request(odd)).payload["messages"][0] == odd
    plain = user({"type": "text", "text": "hello"})
    assert prepare(request(plain)).payload["messages"][0] == plain


# --------------------------------------------------------------------------- cache_control


def test_cache_control_scope_is_removed_everywhere() -> None:
    scoped = {"type": "ephemeral", "scope": "global", "ttl": "1h"}
    body = request(
        user({**TOOL_RESULT, "content": [{"type": "text", "text": "r", "cache_control": scoped}]}),
        system=[{"type": "text", "text": "s", "cache_control": scoped}],
        tools=[{"name": "t", "input_schema": {}, "cache_control": scoped}],
    )
    out = prepare(body)
    clean = {"type": "ephemeral", "ttl": "1h"}
    assert out.payload["system"][0]["cache_control"] == clean
    assert out.payload["tools"][0]["cache_control"] == clean
    assert out.payload["messages"][0]["content"][0]["content"][0]["cache_control"] == clean
    assert "removed cache_control.scope" in out.changes


def test_top_level_cache_control_only_where_copilot_takes_it() -> None:
    body = request(user(REMINDER), cache_control={"type": "ephemeral"})
    assert "cache_control" not in prepare(body, model="claude-sonnet-4.5").payload
    assert prepare(body, model="claude-opus-5.5").payload["cache_control"] == {"type": "ephemeral"}


# --------------------------------------------------------------------------- fields, limits, thinking, effort


def test_fields_outside_the_messages_api_and_top_p_with_temperature_go() -> None:
    out = prepare(request(user(REMINDER), temperature=0.5, top_p=0.9, inference_geo="us", speed="fast"))
    assert "top_p" not in out.payload and out.payload["temperature"] == 0.5
    assert "inference_geo" not in out.payload and "speed" not in out.payload
    assert prepare(request(user(REMINDER), top_p=0.9)).payload["top_p"] == 0.9


def test_max_tokens_is_clamped_to_the_models_limits() -> None:
    assert prepare(request(user(REMINDER), max_tokens=200000, stream=True)).payload["max_tokens"] == 128000
    assert prepare(request(user(REMINDER), max_tokens=200000)).payload["max_tokens"] == 16000  # non-streaming limit
    assert prepare(request(user(REMINDER), max_tokens=500)).payload["max_tokens"] == 500


def test_thinking_with_a_forced_tool_goes_with_its_context_edit() -> None:
    body = request(
        user(REMINDER),
        thinking={"type": "adaptive"},
        tool_choice={"type": "tool", "name": "Bash"},
        context_management={"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
    )
    out = prepare(body).payload
    assert "thinking" not in out and "context_management" not in out
    other = {"type": "clear_tool_uses_20250919"}
    body["context_management"] = {"edits": [{"type": "clear_thinking_20251015"}, other]}
    assert prepare(body).payload["context_management"] == {"edits": [other]}


def test_thinking_is_shaped_to_what_the_model_takes() -> None:
    adaptive_only = info(adaptive_thinking=True, reasoning_effort=["low", "high"])
    budget_only = info(min_thinking_budget=2000, max_thinking_budget=8000)
    no_thinking = info()

    def thinking(model: ModelInfo, value: dict[str, Any], max_tokens: int = 10000) -> Any:
        body = request(user(REMINDER), max_tokens=max_tokens, thinking=value)
        return prepare_messages_request(body, model=model).payload.get("thinking")

    assert thinking(adaptive_only, {"type": "enabled", "budget_tokens": 5000}) == {"type": "adaptive"}
    assert thinking(budget_only, {"type": "enabled", "budget_tokens": 100}) == {
        "type": "enabled",
        "budget_tokens": 2000,
    }
    assert thinking(budget_only, {"type": "enabled", "budget_tokens": 50000}) == {
        "type": "enabled",
        "budget_tokens": 8000,
    }
    assert thinking(budget_only, {"type": "enabled", "budget_tokens": 5000}, 3000) == {
        "type": "enabled",
        "budget_tokens": 2999,
    }
    assert thinking(budget_only, {"type": "enabled", "budget_tokens": 5000}, 1500) is None  # no budget fits
    assert thinking(budget_only, {"type": "adaptive"}) == {"type": "enabled", "budget_tokens": 8000}  # no effort: high
    assert thinking(no_thinking, {"type": "adaptive"}) is None
    assert thinking(no_thinking, {"type": "disabled"}) == {"type": "disabled"}


def test_the_effort_is_clamped_to_the_models_list() -> None:
    def effort(model: str, value: str) -> Any:
        out = prepare(request(user(REMINDER), output_config={"effort": value}), model=model).payload
        return out.get("output_config", {}).get("effort")

    assert effort("claude-sonnet-4.6", "xhigh") == "high"
    assert effort("claude-sonnet-4.6", "max") == "high"
    assert effort("claude-opus-5.5", "xhigh") == "xhigh"
    assert effort("claude-sonnet-4.6", "none") == "low"
    assert effort("claude-haiku-4.5", "medium") is None
    kept = prepare(
        request(user(REMINDER), output_config={"effort": "low", "format": {"type": "json_schema"}}),
        model="claude-haiku-4.5",
    ).payload
    assert kept["output_config"] == {"format": {"type": "json_schema"}}


# --------------------------------------------------------------------------- the stream


def sse(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


STREAM = [
    sse("message_start", {"type": "message_start", "message": {"id": "m"}}),
    sse("ping", {"type": "ping"}),
    sse("content_block_start", {"type": "content_block_start", "index": 0}),
    sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"text": "hé"}}),
    sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
    sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}}),
    sse("copilot_usage", {"type": "copilot_usage", "usage": {}}),
    sse("message_stop", {"type": "message_stop", "amazon-bedrock-invocationMetrics": {}}),
]
EXPECTED = b"".join(e for e in STREAM if b"copilot_usage" not in e)


def run(chunks: list[bytes]) -> tuple[bytes, MessagesStreamFilter]:
    stream = MessagesStreamFilter()
    out = b"".join(stream.feed(c) for c in chunks) + stream.finish()
    return out, stream


def test_the_stream_passes_verbatim_minus_copilots_own_events() -> None:
    out, stream = run([b"".join(STREAM)])
    assert out == EXPECTED
    assert stream.ended and stream.dropped == {"copilot_usage": 1}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(b"".join(STREAM)) - 1), max_size=12))
def test_chunk_boundaries_do_not_matter(cuts: list[int]) -> None:
    whole = b"".join(STREAM)
    points = [0, *sorted(set(cuts)), len(whole)]
    assert run([whole[a:b] for a, b in itertools.pairwise(points)])[0] == EXPECTED


def test_stream_edges() -> None:
    crlf = b"event: ping\r\ndata: {}\r\n\r\n"
    assert run([crlf])[0] == crlf
    # A last event without its blank line still goes out, once.
    out, stream = run([STREAM[0], STREAM[-1].rstrip(b"\n")])
    assert out == STREAM[0] + STREAM[-1] and stream.ended
    # Nothing after the end; [DONE] ends too and is not forwarded.
    assert run([STREAM[-1], STREAM[1]])[0] == STREAM[-1]
    assert run([b"data: [DONE]\n\n", STREAM[1]])[0] == b""
    # Data-only events are judged by their JSON type; comments pass as keep-alives.
    assert run([b'data: {"type":"copilot_usage"}\n\n', b": keep-alive\n\n"])[0] == b": keep-alive\n\n"
    assert not run([STREAM[0]])[1].ended


def test_event_kind_and_keep_event() -> None:
    assert event_kind(STREAM[0]) == "message_start"
    assert event_kind(b'data: {"type": "ping"}\n\n') == "ping"
    assert event_kind(b"data: [DONE]\n\n") == "[DONE]"
    assert event_kind(b": comment\n\n") is None
    assert event_kind(b"data: not json\n\n") == ""
    assert keep_event(STREAM[1]) and keep_event(b"event: error\ndata: {}\n\n")
    assert not keep_event(STREAM[6]) and not keep_event(b"data: [DONE]\n\n") and not keep_event(b"data: nope\n\n")
