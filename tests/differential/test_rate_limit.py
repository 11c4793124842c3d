"""rate_limit: both backends agree on every verify case, and the limiter
built on it behaves as documented."""

from __future__ import annotations

import asyncio

import pytest

from copilot_hybrid.errors import RateLimited
from copilot_hybrid.rate_limit import FEATURE, I64_MAX, Action, LimiterInput
from copilot_hybrid.rollout.verify import verify_feature
from copilot_hybrid.server.rate_limiter import RateLimiter
from tests.support import native_or_skip


def call(backend: str, x: LimiterInput) -> tuple[Action, int, int]:
    d = FEATURE.native(x) if backend == "native" else FEATURE.reference(x)
    return d.action, d.delay_ms, d.new_last_ms


def test_first_request_passes(backend: str) -> None:
    assert call(backend, LimiterInput(None, 123, 1000, False)) == (Action.ALLOW, 0, 123)


def test_equal_timestamps_are_limited(backend: str) -> None:
    assert call(backend, LimiterInput(1000, 1000, 1000, False)) == (Action.REJECT, 1000, 1000)


def test_zero_interval_means_no_limit(backend: str) -> None:
    assert call(backend, LimiterInput(1000, 1000, 0, False)) == (Action.ALLOW, 0, 1000)


def test_wait_reserves_the_next_slot(backend: str) -> None:
    assert call(backend, LimiterInput(1000, 1200, 1000, True)) == (Action.WAIT, 800, 2000)
    assert call(backend, LimiterInput(2000, 1200, 1000, True)) == (Action.WAIT, 1800, 3000)


def test_clock_going_backwards(backend: str) -> None:
    assert call(backend, LimiterInput(5000, 4000, 1000, False)) == (Action.REJECT, 2000, 5000)


def test_huge_values_saturate(backend: str) -> None:
    assert call(backend, LimiterInput(1, 0, I64_MAX, False)) == (Action.REJECT, I64_MAX, 1)


def test_out_of_range_inputs_fail_the_same_way(backend: str) -> None:
    with pytest.raises(OverflowError):
        call(backend, LimiterInput(None, 2**63, 1000, False))


def test_verify_finds_no_mismatch() -> None:
    native_or_skip()
    result = verify_feature(FEATURE, count=3000, seed=7, record=False)
    assert result.cases > 3000 and result.mismatches == 0, result.first_mismatches


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_limiter_rejects_then_allows() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, wait=False, clock=clock)
    asyncio.run(limiter.acquire())
    with pytest.raises(RateLimited) as info:
        asyncio.run(limiter.acquire())
    assert info.value.retry_after_seconds == 2
    clock.now += 2
    asyncio.run(limiter.acquire())


def test_limiter_queues_waiters_one_interval_apart() -> None:
    clock = FakeClock()
    limiter = RateLimiter(0.05, wait=True, clock=clock)
    delays = [limiter.decide_now().delay_ms for _ in range(4)]
    assert delays == [0, 50, 100, 150]


def test_disabled_limiter_never_limits() -> None:
    limiter = RateLimiter(None, wait=False)
    for _ in range(5):
        asyncio.run(limiter.acquire())
    assert not limiter.enabled


def test_limiter_uses_native_when_on(monkeypatch: pytest.MonkeyPatch) -> None:
    native_or_skip()
    from copilot_hybrid.rollout import runner

    monkeypatch.setenv("COPILOT_HYBRID_FEATURE_RATE_LIMIT", "on")
    runner.reset()
    limiter = RateLimiter(1, wait=False, clock=FakeClock())
    asyncio.run(limiter.acquire())
    assert runner.counters("rate_limit")["native_calls"] == 1


def test_native_codes_are_the_headers_actions() -> None:
    """The library answers with the header's CH_RATE_LIMIT_* codes, which the
    binding maps to Action by name: one per Action, none left over."""
    native_or_skip()
    from copilot_hybrid.native.loader import load

    native = load()
    ffi, lib = native.ffi, native.lib
    codes = {action: getattr(lib, f"CH_RATE_LIMIT_{action.name}") for action in Action}
    assert len(set(codes.values())) == len(Action)
    for x, action in (
        (LimiterInput(None, 0, 1000, False), Action.ALLOW),
        (LimiterInput(0, 1, 1000, True), Action.WAIT),
        (LimiterInput(0, 1, 1000, False), Action.REJECT),
    ):
        raw = lib.ch_rate_limit_decide(
            x.last_ms or 0, int(x.last_ms is not None), x.now_ms, x.interval_ms, int(x.wait),
            ffi.new("int64_t *"), ffi.new("int64_t *"),
        )  # fmt: skip
        assert raw == codes[action]
        assert FEATURE.native(x).action is action
