"""Decides who answers a feature call, and runs it.

The rest of the code never calls a feature's sides itself: it calls
`wrap(feature)`, a Rollout, which runs every call through `run` below.

| mode      | who answers                         | native errors                      |
|-----------|-------------------------------------|------------------------------------|
| off       | reference                           | native never runs                  |
| shadow    | reference (its result or exception) | recorded, never raised             |
| percent:N | native for a sticky N% of keys      | fall back to reference, counted    |
| on        | native                              | fall back to reference, counted    |

Shadow follows GitHub Scientist's contract: the caller always gets what the
reference gives; the native run is sampled, timed, compared, and each
mismatch is appended (redacted) to the feature's JSONL log. One exception
keeps shadow from doubling the cost of large inputs (the reference tokenizer
took 36 s and 1.5 GB for 32 MB that native counts in 2 s): an input larger
than SHADOW_SMALL_INPUT_BYTES runs the reference only while the feature's
budget of SHADOW_BUDGET_SECONDS of reference CPU per minute allows it
(expecting SHADOW_REFERENCE_NS_PER_BYTE, then charging what it took);
otherwise native answers it alone, as in `on` (counter `shadow_over_budget`).
After CIRCUIT_BREAKER_ERRORS consecutive native errors in percent/on, the
feature is demoted to off for the rest of the process.
Deciding never raises: any failure in the machinery falls back to off.
"""

from __future__ import annotations

import atexit
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from copilot_hybrid import config
from copilot_hybrid.native.loader import load
from copilot_hybrid.rollout import observers, records, settings
from copilot_hybrid.rollout.feature import Feature
from copilot_hybrid.rollout.modes import OFF, Mode, in_percent
from copilot_hybrid.rollout.records import describe_outcome

In = TypeVar("In")
Out = TypeVar("Out")

CIRCUIT_BREAKER_ERRORS = 5
#: How long a decision is reused before config and env are read again; a
#: changed mode takes effect within this delay, without a restart.
DECISION_TTL_SECONDS = 2.0
FLUSH_INTERVAL_SECONDS = 5.0
#: Each side's result in a mismatch log entry is cut to this many characters.
LOG_TEXT_LIMIT = 512
#: Shadow inputs up to this size (Feature.input_size) always run the reference.
SHADOW_SMALL_INPUT_BYTES = 64 * 1024
#: Reference CPU seconds per minute, per feature, that shadow may spend on larger inputs.
SHADOW_BUDGET_SECONDS = 2.0
#: What a large input is expected to cost in the reference before it ran:
#: tiktoken's worst case, measured on one-character runs (~1.1 us per byte at 32 MB).
SHADOW_REFERENCE_NS_PER_BYTE = 1000


@dataclass(frozen=True)
class Decision:
    feature: str
    configured: Mode
    source: str
    effective: Mode
    reason: str
    sample_rate: float = 1.0


class _FeatureState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counters: dict[str, int] = {}
        self.unflushed: dict[str, int] = {}
        self.consecutive_errors = 0
        self.demoted_reason: str | None = None
        self.decision: Decision | None = None
        self.decided_at = 0.0
        self.shadow_budget = _ShadowBudget()

    def count(self, name: str, amount: int = 1) -> None:
        with self.lock:
            self.counters[name] = self.counters.get(name, 0) + amount
            self.unflushed[name] = self.unflushed.get(name, 0) + amount


class _ShadowBudget:
    """The reference CPU seconds shadow may still spend on large inputs: a
    bucket that holds SHADOW_BUDGET_SECONDS and refills that much per minute.
    A run that cost more than expected leaves it below zero for a while."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clock = time.monotonic
        self.seconds = SHADOW_BUDGET_SECONDS
        self.updated = self.clock()

    def take(self, expected: float) -> bool:
        with self.lock:
            now = self.clock()
            refill = (now - self.updated) * SHADOW_BUDGET_SECONDS / 60.0
            self.seconds = min(SHADOW_BUDGET_SECONDS, self.seconds + refill)
            self.updated = now
            if self.seconds < expected:
                return False
            self.seconds -= expected
            return True

    def settle(self, expected: float, spent: float) -> None:
        with self.lock:
            self.seconds += expected - spent


_states: dict[str, _FeatureState] = {}
_states_lock = threading.Lock()
_last_flush = time.monotonic()


def _state(feature: str) -> _FeatureState:
    state = _states.get(feature)
    if state is None:
        with _states_lock:
            state = _states.setdefault(feature, _FeatureState())
    return state


def decide(feature: Feature[Any, Any]) -> Decision:
    """Configured and effective mode with the reason; never raises."""
    try:
        return _decide(feature)
    except Exception as exc:  # noqa: BLE001 - evaluation must fall back, never fail
        return Decision(feature.name, OFF, "error", OFF, f"rollout evaluation failed, using the reference: {exc!r}")


def _decide(feature: Feature[Any, Any]) -> Decision:
    file = settings.read_file()
    wanted = settings.configured_mode(feature.name, feature.default_mode, file)
    sample = settings.shadow_sample_rate(file)
    warn = "".join(f" (warning: {w})" for w in wanted.warnings)

    def decision(effective: Mode, reason: str) -> Decision:
        return Decision(feature.name, wanted.mode, wanted.source, effective, reason + warn, sample)

    native = load()
    if native.status == "disabled":
        return decision(OFF, "kill switch: " + native.reason)
    if wanted.mode.kind == "off":
        return decision(OFF, f"configured off ({wanted.source})")
    if not native.ok:
        return decision(OFF, f"native {native.status}: {native.reason}")
    if not native.has(*feature.native_symbols):
        return decision(OFF, "native library lacks " + ", ".join(feature.native_symbols))
    demoted = _state(feature.name).demoted_reason
    if demoted:
        return decision(OFF, demoted)
    return decision(wanted.mode, f"configured {wanted.mode} ({wanted.source})")


def current_decision(feature: Feature[Any, Any]) -> Decision:
    state = _state(feature.name)
    now = time.monotonic()
    cached = state.decision
    if cached is not None and now - state.decided_at < DECISION_TTL_SECONDS:
        return cached
    fresh = decide(feature)
    state.decision, state.decided_at = fresh, now
    return fresh


def answers_natively(feature: Feature[Any, Any]) -> bool:
    """Whether native answers every call of `feature` now (mode `on` and
    usable), for calls that bypass `run`, such as the tokenizer's decode."""
    return current_decision(feature).effective.kind == "on"


def reset(feature_name: str | None = None) -> None:
    """Forgets cached decisions, counters and demotions (tests, reloads)."""
    with _states_lock:
        if feature_name is None:
            _states.clear()
        else:
            _states.pop(feature_name, None)


def counters(feature_name: str) -> dict[str, int]:
    state = _state(feature_name)
    with state.lock:
        return dict(state.counters)


def demotion(feature_name: str) -> str | None:
    return _state(feature_name).demoted_reason


def run(feature: Feature[In, Out], x: In, *, key: str | None = None) -> Out:
    """Answers one call of `feature` according to its effective mode."""
    decision = current_decision(feature)
    state = _state(feature.name)
    state.count("calls")
    mode = decision.effective
    try:
        if mode.kind == "off":
            return _reference(feature, state, x)
        if mode.kind == "shadow":
            return _shadow(feature, state, decision, x)
        if mode.kind == "percent":
            # Without a key there is nothing to stick to: decide per call.
            chosen = (
                in_percent(feature.name, key, mode.percent)
                if key is not None
                else (
                    random.random() * 100 < mode.percent  # noqa: S311 - not security relevant
                )
            )
            if not chosen:
                return _reference(feature, state, x)
        return _native_with_fallback(feature, state, x)
    finally:
        _maybe_flush()


class Rollout(Generic[In, Out]):
    """A feature as the rest of the code calls it: `rolled(x, key=...)`
    answers from the reference or native as the feature's mode says."""

    __slots__ = ("feature",)

    def __init__(self, feature: Feature[In, Out]) -> None:
        self.feature = feature

    def __repr__(self) -> str:
        return f"<Rollout of {self.feature.name}>"

    def __call__(self, x: In, *, key: str | None = None) -> Out:
        return run(self.feature, x, key=key)

    def answers_natively(self) -> bool:
        return answers_natively(self.feature)


def wrap(feature: Feature[In, Out]) -> Rollout[In, Out]:
    """The callable the rest of the code uses for `feature`."""
    return Rollout(feature)


def _reference(feature: Feature[In, Out], state: _FeatureState, x: In) -> Out:
    state.count("reference_calls")
    return observers.timed(feature.name, "reference", feature.reference, x)


def _native_with_fallback(feature: Feature[In, Out], state: _FeatureState, x: In) -> Out:
    state.count("native_calls")
    try:
        result = observers.timed(feature.name, "native", feature.native, x)
    except Exception as exc:  # noqa: BLE001 - any native failure falls back
        state.count("native_errors")
        with state.lock:
            state.consecutive_errors += 1
            if state.consecutive_errors >= CIRCUIT_BREAKER_ERRORS and state.demoted_reason is None:
                state.demoted_reason = (
                    f"circuit breaker: {state.consecutive_errors} native errors in a row, "
                    f"last {type(exc).__name__}: {exc}; off until restart"
                )
                state.decision = None
        return _reference(feature, state, x)
    with state.lock:
        state.consecutive_errors = 0
    return result


def _shadow(feature: Feature[In, Out], state: _FeatureState, decision: Decision, x: In) -> Out:
    size = feature.input_size(x)
    expected = size * SHADOW_REFERENCE_NS_PER_BYTE / 1e9 if size > SHADOW_SMALL_INPUT_BYTES else 0.0
    if expected and not state.shadow_budget.take(expected):
        state.count("shadow_over_budget")
        return _native_with_fallback(feature, state, x)
    started = time.perf_counter_ns()
    started_cpu = time.thread_time_ns()
    reference_error: BaseException | None = None
    reference_value: Any = None
    try:
        reference_value = _reference(feature, state, x)
    except Exception as exc:  # noqa: BLE001 - re-raised below, after the comparison
        reference_error = exc
    reference_ns = time.perf_counter_ns() - started
    if expected:
        state.shadow_budget.settle(expected, (time.thread_time_ns() - started_cpu) / 1e9)
    if decision.sample_rate >= 1.0 or random.random() < decision.sample_rate:  # noqa: S311
        _shadow_compare(feature, state, decision, x, reference_value, reference_error, reference_ns)
    if reference_error is not None:
        raise reference_error
    result: Out = reference_value
    return result


def _shadow_compare(
    feature: Feature[In, Out],
    state: _FeatureState,
    decision: Decision,
    x: In,
    reference_value: Any,
    reference_error: BaseException | None,
    reference_ns: int,
) -> None:
    try:
        state.count("shadow_runs")
        native_error: BaseException | None = None
        native_value: Any = None
        started = time.perf_counter_ns()
        try:
            native_value = observers.timed(feature.name, "native", feature.native, x)
        except Exception as exc:  # noqa: BLE001 - recorded, never raised
            native_error = exc
            state.count("native_errors")
        native_ns = time.perf_counter_ns() - started
        state.count("reference_ns", reference_ns)
        state.count("native_ns", native_ns)
        if feature.same_outcome(reference_value, reference_error, native_value, native_error):
            state.count("matches")
            return
        state.count("mismatches")
        records.append_mismatch(
            feature.name,
            {
                "time": time.time(),
                "feature": feature.name,
                "mode": str(decision.effective),
                "build_id": load().build_id,
                "input": feature.redact(x),
                "reference": describe_outcome(reference_value, reference_error, LOG_TEXT_LIMIT),
                "native": describe_outcome(native_value, native_error, LOG_TEXT_LIMIT),
                "reference_ms": reference_ns / 1e6,
                "native_ms": native_ns / 1e6,
            },
        )
    except Exception:  # noqa: BLE001 - the machinery must never break the caller
        state.count("machinery_errors")


def flush() -> None:
    """Adds this process's unflushed counters to the persisted totals."""
    global _last_flush
    _last_flush = time.monotonic()
    for name, state in list(_states.items()):
        with state.lock:
            delta, state.unflushed = state.unflushed, {}
        try:
            records.add_counters(name, delta)
        except OSError:
            pass  # telemetry only: a read-only data dir must not break calls


def _maybe_flush() -> None:
    if time.monotonic() - _last_flush >= FLUSH_INTERVAL_SECONDS and not config.env_flag(config.NO_METRICS_ENV):
        flush()


atexit.register(flush)
