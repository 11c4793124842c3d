"""Rollout modes and sticky percentage bucketing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

#: Bucket resolution: 10 000 buckets give percentages with two decimals.
#: Frozen on purpose: changing the hash or the resolution would move every
#: caller to another bucket and undo the stickiness of a running rollout.
BUCKETS = 10_000


@dataclass(frozen=True)
class Mode:
    """off | shadow | percent:N | on."""

    kind: str
    percent: float = 0.0

    def __str__(self) -> str:
        if self.kind == "percent":
            return f"percent:{self.percent:g}"
        return self.kind

    @property
    def promotes_native(self) -> bool:
        """Whether native answers callers in this mode (needs a passed verify)."""
        return self.kind == "on" or (self.kind == "percent" and self.percent > 0)


OFF = Mode("off")
SHADOW = Mode("shadow")
ON = Mode("on")


def parse_mode(text: str) -> Mode:
    """Parses a mode; raises ValueError with a message fit for a user."""
    value = text.strip().lower()
    if value in ("off", "shadow", "on"):
        return Mode(value)
    if value.startswith("percent:"):
        number = value.removeprefix("percent:")
        try:
            percent = float(number)
        except ValueError:
            percent = -1.0
        if not 0.0 <= percent <= 100.0:
            raise ValueError(f"invalid percentage in {text!r}: use percent:N with 0 <= N <= 100")
        return Mode("percent", percent)
    raise ValueError(f"unknown rollout mode {text!r}: use off, shadow, percent:N or on")


def bucket(feature: str, key: str) -> int:
    """A stable bucket in [0, BUCKETS) for (feature, key).

    sha256, never Python's hash(): that one is salted per process, so the
    same caller would land in another bucket after every restart.
    """
    digest = hashlib.sha256(f"{feature}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def in_percent(feature: str, key: str, percent: float) -> bool:
    return bucket(feature, key) < round(percent * BUCKETS / 100)
