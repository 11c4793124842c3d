"""The --rate-limit limiter shared by the chat and messages routes.

The decision itself is the migratable feature `rate_limit`
(copilot_hybrid/rate_limit.py); this class keeps its state.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable

from copilot_hybrid.errors import RateLimited
from copilot_hybrid.rate_limit import Action, LimiterDecision, LimiterInput, decide


class RateLimiter:
    """One limiter shared by the chat and messages routes.

    `acquire()` returns when the request may go on, sleeping first in wait
    mode, or raises RateLimited. The decision runs through the rollout layer
    (feature `rate_limit`); the state update happens under a lock so that
    concurrent requests each get their own slot.
    """

    def __init__(
        self, interval_seconds: float | None, *, wait: bool, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval_ms = round((interval_seconds or 0) * 1000)
        self.wait = wait
        self._clock = clock
        self._last_ms: int | None = None
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.interval_ms > 0

    def decide_now(self) -> LimiterDecision:
        with self._lock:
            now_ms = int(self._clock() * 1000)
            decision = decide(LimiterInput(self._last_ms, now_ms, self.interval_ms, self.wait), key="limiter")
            self._last_ms = decision.new_last_ms
            return decision

    async def acquire(self) -> None:
        if not self.enabled:
            return
        decision = self.decide_now()
        if decision.action is Action.REJECT:
            raise RateLimited(max(1, math.ceil(decision.delay_ms / 1000)))
        if decision.action is Action.WAIT:
            await asyncio.sleep(decision.delay_ms / 1000)
