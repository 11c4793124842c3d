"""The soak tool's judgement (tools/soak.py): what counts as completed, clean, unclean
and lost, on hand-made bodies, so that a broken proxy could not pass the soak."""

from __future__ import annotations

import importlib.util
import json
import sys
from types import ModuleType

import pytest

from tests.support import REPO


@pytest.fixture(scope="module")
def soak() -> ModuleType:
    spec = importlib.util.spec_from_file_location("soak_tool", REPO / "tools" / "soak.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["soak_tool"] = module
    spec.loader.exec_module(module)
    return module


def _openai(*datas: str, pings: int = 0) -> bytes:
    return b": ping\n\n" * pings + b"".join(f"data: {d}\n\n".encode() for d in datas)


def _chunk(text: str | None = None, finish: str | None = None) -> str:
    delta = {} if text is None else {"content": text}
    return json.dumps({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


def _anthropic(*events: tuple[str, object]) -> bytes:
    return b"".join(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events)


def test_openai_endings(soak: ModuleType) -> None:
    outcome = soak.Outcome(1, "openai", "ok", "unclean", expected_text="hello world")
    soak._classify_openai(outcome, _openai(_chunk("hello "), _chunk("world"), _chunk(finish="stop"), "[DONE]", pings=2))
    assert (outcome.result, outcome.received_text, outcome.pings) == ("completed", "hello world", 2)
    cut = soak.Outcome(2, "openai", "ok", "unclean")
    soak._classify_openai(cut, _openai(_chunk("hello ")))
    assert cut.result == "unclean"  # ended without [DONE] and without an error chunk
    failed = soak.Outcome(3, "openai", "cut", "unclean")
    soak._classify_openai(failed, _openai(_chunk("hello "), json.dumps({"error": {"message": "broke off"}})))
    assert (failed.result, failed.detail) == ("errored", "error event")
    garbled = soak.Outcome(4, "openai", "ok", "unclean")
    soak._classify_openai(garbled, _openai('{"choi', "[DONE]"))
    assert garbled.result == "unclean"


def test_anthropic_endings(soak: ModuleType) -> None:
    start = ("message_start", {"type": "message_start"})
    delta = ("content_block_delta", {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "hi"}})
    done = soak.Outcome(1, "anthropic", "ok", "unclean")
    soak._classify_anthropic(done, _anthropic(start, ("ping", {"type": "ping"}), delta, ("message_stop", {})))
    assert (done.result, done.received_text, done.pings) == ("completed", "hi", 1)
    silent_cut = soak.Outcome(2, "anthropic", "ok", "unclean")
    soak._classify_anthropic(silent_cut, _anthropic(start, delta))
    assert silent_cut.result == "unclean"
    error = soak.Outcome(3, "anthropic", "stall-long", "unclean")
    soak._classify_anthropic(error, _anthropic(start, ("error", {"type": "error", "error": {"type": "api_error"}})))
    assert (error.result, error.detail) == ("errored", "error event")


def test_error_statuses_must_be_in_the_routes_format(soak: ModuleType) -> None:
    anthropic_error = json.dumps({"type": "error", "error": {"type": "rate_limit_error", "message": "x"}}).encode()
    clean = soak.Outcome(1, "anthropic", "429", "unclean")
    soak._classify_status(clean, 429, anthropic_error, "1")
    assert (clean.result, clean.detail) == ("errored", "429")
    no_retry_after = soak.Outcome(2, "anthropic", "429", "unclean")
    soak._classify_status(no_retry_after, 429, anthropic_error, None)
    assert no_retry_after.result == "unclean"
    wrong_format = soak.Outcome(3, "openai", "5xx", "unclean")
    soak._classify_status(wrong_format, 502, anthropic_error, None)
    assert wrong_format.result == "unclean"
    plain = soak.Outcome(4, "openai", "5xx", "unclean")
    soak._classify_status(plain, 500, b"Internal Server Error", None)
    assert plain.result == "unclean"


def test_lost_bytes_count_missing_altered_and_extra_bytes(soak: ModuleType) -> None:
    assert soak._lost("hello world", "hello world") == 0
    assert soak._lost("hello world", "hello") == 6
    assert soak._lost("hello world", "hello World") == 10  # from the first difference on, both sides
    assert soak._lost("hello", "hello!!") == 2
    assert soak._lost("héllo", "hello") == 9  # UTF-8 bytes: 5 of 6 and 4 of 5 after "h"
