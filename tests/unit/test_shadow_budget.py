"""Shadow's budget for large inputs (rollout/runner.py): the reference, which
answers in shadow, runs on an input over SHADOW_SMALL_INPUT_BYTES only while
the feature's budget of reference CPU seconds allows; otherwise native
answers alone, so shadow never doubles the cost of every large request."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from copilot_hybrid.native.loader import NativeLibrary
from copilot_hybrid.rollout import Case, Feature, runner

LARGE = runner.SHADOW_SMALL_INPUT_BYTES + 1
BUDGET = 0.2  # seconds: the tests burn real CPU to spend it
# The largest input the full budget lets the reference start on.
AFFORDABLE = int(BUDGET * 1e9 / runner.SHADOW_REFERENCE_NS_PER_BYTE)


class Sized(Feature[int, str]):
    """An input is its own size; the reference burns `reference_cpu` seconds of CPU."""

    name = "sized"
    summary = "test double"
    native_exports: ClassVar[dict[str, Any]] = {}

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.reference_cpu = 0.0
        self.native_fails = False

    def reference(self, x: int) -> str:
        self.calls.append("reference")
        deadline = time.thread_time() + self.reference_cpu
        while time.thread_time() < deadline:
            pass
        return "answer"

    def native(self, x: int) -> str:
        self.calls.append("native")
        if self.native_fails:
            raise RuntimeError("native broke")
        return "answer"

    def input_size(self, x: int) -> int:
        return x

    def cases(self, *, count: int, seed: int) -> Iterator[Case[int]]:
        yield Case("edge", 1)

    def case_to_json(self, x: int) -> Any:
        return x

    def case_from_json(self, data: Any) -> int:
        return int(data)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def feature(monkeypatch: pytest.MonkeyPatch) -> Sized:
    monkeypatch.setattr(runner, "load", lambda: NativeLibrary("ok", "fake library", lib=object()))
    monkeypatch.setenv("COPILOT_HYBRID_FEATURE_SIZED", "shadow")
    monkeypatch.setattr(runner, "SHADOW_BUDGET_SECONDS", BUDGET)
    assert AFFORDABLE > LARGE
    runner.reset()
    return Sized()


@pytest.fixture
def clock(feature: Sized) -> Clock:
    fake = Clock()
    budget = runner._state(feature.name).shadow_budget
    budget.clock = fake
    budget.updated = fake.now
    return fake


def test_small_inputs_always_run_both_sides(feature: Sized, clock: Clock) -> None:
    for _ in range(50):
        assert runner.run(feature, runner.SHADOW_SMALL_INPUT_BYTES) == "answer"
    assert feature.calls == ["reference", "native"] * 50
    assert "shadow_over_budget" not in runner.counters(feature.name)


def test_an_input_the_budget_cannot_afford_is_answered_by_native_alone(feature: Sized, clock: Clock) -> None:
    """32 MB is ~33 s of expected reference CPU, far over any budget."""
    assert runner.run(feature, 32 * 1024 * 1024) == "answer"
    assert feature.calls == ["native"]
    counters = runner.counters(feature.name)
    assert counters["shadow_over_budget"] == 1 and counters["native_calls"] == 1
    assert "reference_calls" not in counters


def test_large_inputs_are_compared_within_the_budget(feature: Sized, clock: Clock) -> None:
    assert runner.run(feature, AFFORDABLE) == "answer"  # the whole budget is expected...
    assert feature.calls == ["reference", "native"]
    feature.calls.clear()
    # ...but the reference took ~no CPU, so almost all of it is given back.
    assert runner.run(feature, LARGE) == "answer"
    assert feature.calls == ["reference", "native"]


def test_what_the_reference_spent_is_charged_and_refills_per_minute(feature: Sized, clock: Clock) -> None:
    feature.reference_cpu = BUDGET  # it really costs the whole budget
    runner.run(feature, LARGE)
    assert feature.calls == ["reference", "native"]
    feature.calls.clear()
    runner.run(feature, LARGE)
    assert feature.calls == ["native"]  # spent: native answers alone
    feature.calls.clear()
    clock.now += 60.0  # a minute refills the whole budget
    feature.reference_cpu = 0.0
    runner.run(feature, LARGE)
    assert feature.calls == ["reference", "native"]
    assert runner.counters(feature.name)["shadow_over_budget"] == 1


def test_native_failing_on_a_large_input_falls_back_to_the_reference(feature: Sized, clock: Clock) -> None:
    feature.native_fails = True
    assert runner.run(feature, 32 * 1024 * 1024) == "answer"
    assert feature.calls == ["native", "reference"]
    assert runner.counters(feature.name)["native_errors"] == 1


def test_the_tokenizer_measures_ascii_text_without_copying_it() -> None:
    from copilot_hybrid.tokenizer._feature import FEATURE, TokenizerInput

    assert FEATURE.input_size(TokenizerInput("o200k_base", "count", "a" * 100)) == 100
    assert FEATURE.input_size(TokenizerInput("o200k_base", "count", "é" * 100)) == 200
