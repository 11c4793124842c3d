"""stream_translate: the Zig translator sends the bytes of the Python
reference over every verify case, really answers the recorded streams
itself, and the server's adapter gives the reference's bytes whatever the
mode, a mode change mid-stream, a short output buffer or a native failure."""

from __future__ import annotations

import random

import pytest

from copilot_hybrid import stream_translate as st
from copilot_hybrid.rollout import runner
from copilot_hybrid.rollout.verify import check_one, verify_feature
from copilot_hybrid.stream_translate import _cases
from tests.support import native_or_skip

FEATURE = st.FEATURE
ENV = "COPILOT_HYBRID_FEATURE_STREAM_TRANSLATE"


@pytest.fixture(autouse=True)
def native() -> None:
    native_or_skip()


def _recorded() -> list[tuple[str, str, bytes]]:
    """(label, model, bytes) of each recorded emulator stream."""
    return [
        (label, model, reads[0])
        for kind, label, model, reads, _ in _cases.all_cases(count=0, seed=3)
        if kind == "recorded" and label.endswith("(whole)")
    ]


def _reference_bytes(model: str, reads: list[bytes]) -> bytes:
    """What the reference sends for `reads`, one step at a time."""
    stream = st.RecordedStream(model)
    sent = b""
    for read in [*reads, None]:
        stream.steps.append(read)
        sent += FEATURE.reference(st.StreamSteps(stream, len(stream.steps) - 1, len(stream.steps))).events[0]
    return sent


def test_verify_finds_no_mismatch() -> None:
    result = verify_feature(FEATURE, count=3000, seed=11, record=False)
    assert result.cases > 3000 and result.mismatches == 0, result.first_mismatches
    assert result.by_kind["recorded"] > 300 and result.by_kind["edge"] > 100


def test_recorded_streams_are_translated_natively_without_fallback() -> None:
    recorded = _recorded()
    assert len(recorded) >= 100
    for label, model, data in recorded:
        stream = st.RecordedStream(model, [data, None])
        before = st.FALLBACKS["fallbacks"]
        native = FEATURE.native(st.StreamSteps(stream, 0, 2))
        assert st.FALLBACKS["fallbacks"] == before, label
        reference = FEATURE.reference(st.StreamSteps(stream, 0, 2))
        assert native == reference and native.state == st.ENDED, label
        assert native.events[0].startswith(b"event: message_start\n"), label


def test_most_generated_streams_run_natively_to_the_end() -> None:
    before = dict(st.FALLBACKS)
    for kind, label, model, reads, seed in _cases.all_cases(count=500, seed=5):
        if kind == "generated":
            same, ref, nat, _, _ = check_one(
                FEATURE, st.StreamSteps(st.RecordedStream(model, [*reads, None], seed=seed), 0, len(reads) + 1)
            )
            assert same, (label, ref, nat)
    streams = st.FALLBACKS["streams"] - before["streams"]
    fallbacks = st.FALLBACKS["fallbacks"] - before["fallbacks"]
    assert streams >= 500 and fallbacks < streams * 0.25, (streams, fallbacks)


def test_unsupported_input_falls_back_to_the_same_bytes() -> None:
    """A stream without a message id needs a generated one: native hands the
    stream to its reference replay, which generates the reference's id."""
    data = b'data: {"choices":[{"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n'
    stream = st.RecordedStream("m", [data[:10], data[10:], None])
    before = st.FALLBACKS["fallbacks"]
    native = FEATURE.native(st.StreamSteps(stream, 0, 3))
    assert st.FALLBACKS["fallbacks"] == before + 1
    assert native == FEATURE.reference(st.StreamSteps(stream, 0, 3))
    assert b'"id":"msg_' in native.events[1]


def _translate(reads: list[bytes], mode_per_read: list[str], monkeypatch: pytest.MonkeyPatch) -> bytes:
    translation = st.StreamTranslation("claude-sonnet-4")
    sent = b""
    for read, mode in zip(reads, mode_per_read, strict=True):
        monkeypatch.setenv(ENV, mode)
        runner.reset("stream_translate")
        sent += translation.feed(read)
    return sent + translation.finish()


def test_the_adapter_sends_the_reference_bytes_in_every_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(1)
    for _, model, data in _recorded()[::7]:
        reads = _cases.chunked(data, rng)
        expected = _translate(reads, ["off"] * len(reads), monkeypatch)
        for modes in (
            ["on"] * len(reads),
            ["shadow"] * len(reads),
            [rng.choice(("on", "off", "shadow")) for _ in reads],
        ):
            assert _translate(reads, modes, monkeypatch) == expected, (model, modes)
    counters = runner.counters("stream_translate")
    assert counters.get("native_errors", 0) == 0 and counters.get("mismatches", 0) == 0


def test_a_short_output_buffer_takes_the_rest_with_a_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(st, "NATIVE_BUFFER", 8)
    _, model, data = _recorded()[5]
    stream = st.RecordedStream(model, [data, None])
    assert FEATURE.native(st.StreamSteps(stream, 0, 2)) == FEATURE.reference(st.StreamSteps(stream, 0, 2))


def test_a_native_failure_mid_stream_falls_back_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "on")
    _, model, data = _recorded()[1]
    reads = [data[i : i + 40] for i in range(0, len(data), 40)]
    expected = _reference_bytes(model, reads)
    real_step = st._NativeSide.step
    calls = {"n": 0}

    def failing_step(self: st._NativeSide, read: bytes | None) -> bytes:
        calls["n"] += 1
        if calls["n"] == 3:
            raise MemoryError("injected")
        return real_step(self, read)

    monkeypatch.setattr(st._NativeSide, "step", failing_step)
    translation = st.StreamTranslation(model)
    sent = b"".join(translation.feed(r) for r in reads) + translation.finish()
    assert sent == expected
    assert translation.stream.native_failed and calls["n"] == 3
    assert runner.counters("stream_translate")["native_errors"] == 1


def test_error_after_the_message_ended_sends_nothing() -> None:
    translation = st.StreamTranslation("m")
    assert translation.feed(b'data: {"id":"c","choices":[{"delta":{"content":"x"}}]}\n\n').startswith(
        b"event: message_start"
    )
    assert translation.error("broke").startswith(
        b'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"broke"}}'
    )
    assert translation.ended and translation.error("again") == b"" and translation.finish() == b""


def test_a_client_model_with_a_lone_surrogate_is_the_references() -> None:
    data = b'data: {"id":"c","choices":[{"delta":{"content":"a"}}]}\n\ndata: [DONE]\n\n'
    stream = st.RecordedStream("m\ud800", [data, None])
    native = FEATURE.native(st.StreamSteps(stream, 0, 2))
    assert native == FEATURE.reference(st.StreamSteps(stream, 0, 2))
    assert b'"model":"m\\ud800"' in native.events[0]
