"""rate_limit: copilot-api's limiter (at most one request per interval),
as a pure decision function of (state, now, interval) in both Python and
Zig, so verify compares them exactly. The server's limiter, which keeps
the state and calls `decide`, is copilot_hybrid/server/rate_limiter.py.

    decide(LimiterInput(last_ms, now_ms, interval_ms, wait), key=...)
                                  # the rollout mode picks reference or native
    reference_decide(x)           # the Python reference (zig/src/rate_limit.zig's twin)
    FEATURE                       # both sides and the verify cases

Differences from copilot-api 0.7.0 (its quirks, fixed on purpose):
- waiters are queued: in wait mode each caller reserves the next free slot,
  so concurrent waiters leave one interval apart instead of all at once;
- an interval of 0 means "no limit" (copilot-api rejected two requests
  within the same millisecond);
- the server feeds a monotonic clock, so a wall clock set back cannot lock
  the limiter; the function is still total over every int64 input
  (saturating arithmetic, like the Zig side).
"""

from __future__ import annotations

import enum
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from copilot_hybrid.errors import NativeCallError, NativeUnavailable
from copilot_hybrid.native.loader import load
from copilot_hybrid.native.smoke import SmokeCall
from copilot_hybrid.native.status import status_error
from copilot_hybrid.rollout import Case, Feature, wrap

I64_MIN = -(2**63)
I64_MAX = 2**63 - 1


class Action(enum.Enum):
    """What the limiter tells a request. The native side returns the
    header's CH_RATE_LIMIT_<NAME> codes, mapped to these by name."""

    ALLOW = "allow"
    WAIT = "wait"
    REJECT = "reject"


@dataclass(frozen=True)
class LimiterInput:
    last_ms: int | None
    now_ms: int
    interval_ms: int
    wait: bool


@dataclass(frozen=True)
class LimiterDecision:
    action: Action
    delay_ms: int
    new_last_ms: int

    def __repr__(self) -> str:
        return f"{self.action.value}(delay_ms={self.delay_ms}, new_last_ms={self.new_last_ms})"


def _saturate(value: int) -> int:
    return max(I64_MIN, min(I64_MAX, value))


def reference_decide(x: LimiterInput) -> LimiterDecision:
    """The reference decision; mirrors zig/src/rate_limit.zig."""
    for value in (x.now_ms, x.interval_ms, x.last_ms if x.last_ms is not None else 0):
        if not I64_MIN <= value <= I64_MAX:
            raise OverflowError(f"{value} is outside the int64 range")
    if x.last_ms is None or x.interval_ms <= 0:
        return LimiterDecision(Action.ALLOW, 0, x.now_ms)
    next_ms = _saturate(x.last_ms + x.interval_ms)
    if x.now_ms >= next_ms:
        return LimiterDecision(Action.ALLOW, 0, x.now_ms)
    delay_ms = _saturate(next_ms - x.now_ms)
    if x.wait:
        return LimiterDecision(Action.WAIT, delay_ms, next_ms)
    return LimiterDecision(Action.REJECT, delay_ms, x.last_ms)


# ---- the native binding ------------------------------------------------------------

#: The exports the native side calls, each with the build's smoke call.
NATIVE_EXPORTS: Final[Mapping[str, SmokeCall]] = {
    "ch_rate_limit_decide": lambda ffi, lib: lib.ch_rate_limit_decide(
        0, 1, 5, 10, 0, ffi.new("int64_t *"), ffi.new("int64_t *")
    ),
}

_actions_of: tuple[Any, dict[int, Action]] | None = None


def _native_actions(lib: Any) -> dict[int, Action]:
    """The library's CH_RATE_LIMIT_* codes as Actions (cached per library)."""
    global _actions_of
    cached = _actions_of
    if cached is None or cached[0] is not lib:
        cached = _actions_of = (lib, {int(getattr(lib, f"CH_RATE_LIMIT_{action.name}")): action for action in Action})
    return cached[1]


def native_decide(x: LimiterInput) -> LimiterDecision:
    """ch_rate_limit_decide; raises NativeUnavailable when it cannot run."""
    native = load()
    if not native.has(*NATIVE_EXPORTS):
        raise NativeUnavailable(native.reason)
    for value in (x.now_ms, x.interval_ms, x.last_ms if x.last_ms is not None else 0):
        if not I64_MIN <= value <= I64_MAX:
            # cffi would raise OverflowError too; say it the reference's way.
            raise OverflowError(f"{value} is outside the int64 range")
    ffi, lib = native.ffi, native.lib
    delay = ffi.new("int64_t *")
    new_last = ffi.new("int64_t *")
    status = lib.ch_rate_limit_decide(
        x.last_ms if x.last_ms is not None else 0,
        int(x.last_ms is not None),
        x.now_ms,
        x.interval_ms,
        int(x.wait),
        delay,
        new_last,
    )
    if status < 0:
        raise status_error(native, status, "ch_rate_limit_decide")
    action = _native_actions(lib).get(status)
    if action is None:
        raise NativeCallError(f"ch_rate_limit_decide returned {status}, which is no CH_RATE_LIMIT_* action", status)
    return LimiterDecision(action, int(delay[0]), int(new_last[0]))


# ---- the feature -------------------------------------------------------------------


class RateLimitFeature(Feature[LimiterInput, LimiterDecision]):
    name = "rate_limit"
    summary = "one request per N seconds: allow, wait or reject"
    native_exports = NATIVE_EXPORTS

    def reference(self, x: LimiterInput) -> LimiterDecision:
        return reference_decide(x)

    def native(self, x: LimiterInput) -> LimiterDecision:
        return native_decide(x)

    def cases(self, *, count: int, seed: int) -> Iterator[Case[LimiterInput]]:
        extremes = (I64_MIN, I64_MIN + 1, -1, 0, 1, 999, 1000, 1001, I64_MAX - 1, I64_MAX)
        for wait in (False, True):
            yield Case("edge", LimiterInput(None, 0, 1000, wait), "first request")
            yield Case("edge", LimiterInput(1000, 1000, 1000, wait), "equal timestamps")
            yield Case("edge", LimiterInput(5000, 4000, 1000, wait), "clock went backwards")
            yield Case("edge", LimiterInput(1000, 1000, 0, wait), "zero interval")
            yield Case("edge", LimiterInput(1000, 1000, -5, wait), "negative interval")
            yield Case("edge", LimiterInput(0, 1, I64_MAX, wait), "huge interval")
            for extreme_last in extremes:
                for now in extremes:
                    for interval in (0, 1, 1000, I64_MAX):
                        yield Case("edge", LimiterInput(extreme_last, now, interval, wait), "extremes")
        rng = random.Random(seed)  # noqa: S311 - reproducible test inputs, not secrets
        last: int | None
        for _ in range(count):
            if rng.random() < 0.7:  # realistic: milliseconds around a shared base
                base = rng.randrange(0, 10**13)
                last = None if rng.random() < 0.05 else base + rng.randrange(-5000, 5000)
                x = LimiterInput(
                    last, base + rng.randrange(-5000, 60000), rng.randrange(-10, 120_000), rng.random() < 0.5
                )
            else:
                last = None if rng.random() < 0.05 else rng.randrange(I64_MIN, I64_MAX + 1)
                x = LimiterInput(
                    last, rng.randrange(I64_MIN, I64_MAX + 1), rng.randrange(I64_MIN, I64_MAX + 1), rng.random() < 0.5
                )
            yield Case("generated", x)

    def case_to_json(self, x: LimiterInput) -> Any:
        return {"last_ms": x.last_ms, "now_ms": x.now_ms, "interval_ms": x.interval_ms, "wait": x.wait}

    def case_from_json(self, data: Any) -> LimiterInput:
        return LimiterInput(data["last_ms"], data["now_ms"], data["interval_ms"], bool(data["wait"]))

    def redact(self, x: LimiterInput) -> Any:
        return self.case_to_json(x)  # only numbers: nothing secret


FEATURE = RateLimitFeature()
#: The decision as the server makes it: the rollout mode picks the side.
decide = wrap(FEATURE)
