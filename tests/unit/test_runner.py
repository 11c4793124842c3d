"""The rollout runner's contract, with a fake feature whose two sides the
test controls (the real features are compared in tests/differential)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from copilot_hybrid.native.loader import NativeLibrary
from copilot_hybrid.native.smoke import SmokeCall
from copilot_hybrid.rollout import Case, Feature, records, runner, wrap


class Fake(Feature[str, str]):
    name = "fake"
    summary = "test double"
    native_exports: ClassVar[Mapping[str, SmokeCall]] = {}

    def __init__(self) -> None:
        self.native_calls = 0
        self.reference_calls = 0
        self.native_result: str | Exception = "same"
        self.reference_result: str | Exception = "same"
        self.rolled = wrap(self)

    def __call__(self, x: str, *, key: str | None = None) -> str:
        """The fake as callers call a feature: through rollout.wrap."""
        return self.rolled(x, key=key)

    def reference(self, x: str) -> str:
        self.reference_calls += 1
        if isinstance(self.reference_result, Exception):
            raise self.reference_result
        return self.reference_result

    def native(self, x: str) -> str:
        self.native_calls += 1
        if isinstance(self.native_result, Exception):
            raise self.native_result
        return self.native_result

    def cases(self, *, count: int, seed: int) -> Iterator[Case[str]]:
        yield Case("edge", "x")

    def case_to_json(self, x: str) -> Any:
        return x

    def case_from_json(self, data: Any) -> str:
        return str(data)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Fake:
    monkeypatch.setattr(runner, "load", lambda: NativeLibrary("ok", "fake library", lib=object()))
    return Fake()


def use_mode(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    monkeypatch.setenv("COPILOT_HYBRID_FEATURE_FAKE", mode)
    runner.reset()


def test_shadow_returns_the_reference_and_logs_mismatches(fake: Fake, isolated_home: Path) -> None:
    fake.native_result = "different ghp_abcdefghijklmnopqrstuvwxyz0123456789 secret"
    fake.reference_result = "right"
    secret_input = "Bearer abcdefghijklmnopqrstuvwxyz " + "x" * 5000
    assert fake(secret_input) == "right"
    assert fake.native_calls == 1
    counters = runner.counters("fake")
    assert counters["mismatches"] == 1 and counters["shadow_runs"] == 1
    lines = records.mismatch_log_path("fake").read_text().splitlines()
    entry = json.loads(lines[0])
    assert entry["input"]["length"] == len(secret_input)
    assert "abcdefghijklmnopqrstuvwxyz" not in json.dumps(entry["input"])
    assert len(json.dumps(entry)) < 3000


def test_shadow_reraises_the_reference_error_and_swallows_native_errors(
    fake: Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.native_result = RuntimeError("native broke")
    assert fake("x") == "same"
    assert runner.counters("fake")["native_errors"] == 1
    fake.reference_result = KeyError("reference broke")
    with pytest.raises(KeyError, match="reference broke"):
        fake("x")


def test_shadow_counts_equal_errors_as_a_match(fake: Fake) -> None:
    fake.reference_result = ValueError("a")
    fake.native_result = ValueError("b")
    with pytest.raises(ValueError, match="a"):
        fake("x")
    assert runner.counters("fake").get("mismatches", 0) == 0
    assert runner.counters("fake")["matches"] == 1


def test_shadow_sampling(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COPILOT_HYBRID_SHADOW_SAMPLE_RATE", "0")
    runner.reset()
    for _ in range(20):
        fake("x")
    assert fake.native_calls == 0 and fake.reference_calls == 20


def test_off_never_runs_native(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    use_mode(monkeypatch, "off")
    fake("x")
    assert fake.native_calls == 0


def test_on_answers_with_native_and_falls_back(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    use_mode(monkeypatch, "on")
    fake.native_result = "native"
    fake.reference_result = "reference"
    assert fake("x") == "native"
    fake.native_result = RuntimeError("boom")
    assert fake("x") == "reference"
    assert runner.counters("fake")["native_errors"] == 1


def test_circuit_breaker_demotes_after_repeated_errors(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    use_mode(monkeypatch, "on")
    fake.native_result = RuntimeError("boom")
    for _ in range(runner.CIRCUIT_BREAKER_ERRORS):
        assert fake("x") == "same"
    assert runner.demotion("fake") is not None
    decision = runner.decide(fake)
    assert decision.effective.kind == "off" and "circuit breaker" in decision.reason
    calls = fake.native_calls
    fake("x")
    assert fake.native_calls == calls


def test_percent_is_sticky_per_key(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    use_mode(monkeypatch, "percent:50")
    fake.native_result = "native"
    fake.reference_result = "reference"
    first = {key: fake("x", key=key) for key in (f"k{i}" for i in range(200))}
    again = {key: fake("x", key=key) for key in first}
    assert first == again
    assert 60 < sum(v == "native" for v in first.values()) < 140


def test_unusable_native_forces_off(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = Fake()
    monkeypatch.setattr(runner, "load", lambda: NativeLibrary("stale", "built from other sources"))
    use_mode(monkeypatch, "on")
    decision = runner.decide(fake)
    assert decision.configured.kind == "on" and decision.effective.kind == "off"
    assert "stale" in decision.reason
    fake.native_result = "native"
    assert fake("x") == "same" and fake.native_calls == 0


def test_kill_switch_wins_over_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = Fake()
    monkeypatch.setattr(runner, "load", lambda: NativeLibrary("disabled", "COPILOT_HYBRID_NATIVE=0"))
    use_mode(monkeypatch, "on")
    decision = runner.decide(fake)
    assert decision.effective.kind == "off" and decision.reason.startswith("kill switch")


def test_evaluation_never_raises(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> NativeLibrary:
        raise RuntimeError("loader exploded")

    monkeypatch.setattr(runner, "load", broken)
    runner.reset()
    decision = runner.decide(fake)
    assert decision.effective.kind == "off" and "loader exploded" in decision.reason
    assert fake("x") == "same"


def test_answers_natively_only_in_on_mode(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    for mode, expected in (("off", False), ("shadow", False), ("percent:100", False), ("on", True)):
        use_mode(monkeypatch, mode)
        assert runner.answers_natively(fake) is expected, mode
        assert fake.rolled.answers_natively() is expected, mode
    monkeypatch.setattr(runner, "load", lambda: NativeLibrary("missing", "no library"))
    runner.reset()
    assert not fake.rolled.answers_natively()
