"""Per-call timings of rollout features, for whoever watches them.

The runner times each side's call with `timed`; subscribers (the server's
Prometheus histograms and the dashboard's latency panel) receive
`(feature, side, seconds)`. With no subscriber, `timed` is a plain call:
commands other than `serve` pay nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

In = TypeVar("In")
Out = TypeVar("Out")

#: side is "native" or "reference".
Sink = Callable[[str, str, float], None]

_sinks: list[Sink] = []


def subscribe(sink: Sink) -> None:
    if sink not in _sinks:
        _sinks.append(sink)


def unsubscribe(sink: Sink) -> None:
    if sink in _sinks:
        _sinks.remove(sink)


def observe(feature: str, side: str, seconds: float) -> None:
    """Hands one call's duration to every subscriber; a failing subscriber never reaches the caller."""
    for sink in list(_sinks):
        try:
            sink(feature, side, seconds)
        except Exception:  # noqa: BLE001, S112 - telemetry must not break a feature call
            continue


def timed(feature: str, side: str, call: Callable[[In], Out], x: In) -> Out:
    """`call(x)`, timed for the subscribers (errors are timed too, then re-raised)."""
    if not _sinks:
        return call(x)
    started = time.perf_counter()
    try:
        return call(x)
    finally:
        observe(feature, side, time.perf_counter() - started)
