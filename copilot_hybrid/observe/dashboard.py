"""The JSON behind `/dashboard/api/*`: plain functions of the history, the
usage document and the rollout state, so they are tested without a server.

- traffic: per-minute requests, errors, latency percentiles and time to
  first byte, computed from the history's rows of the last hour (so the
  charts survive a restart); tokens per model and the user/agent share over
  the same window.
- account: the plan, quotas and reset date of GitHub's usage document.
- native: per feature the configured and effective mode and why, verify,
  counters by side, native vs reference latency (RolloutTimings), the
  circuit breaker and the latest mismatch records.
"""

from __future__ import annotations

import collections
import json
import math
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from copilot_hybrid.observe.history import distinct_values, read_rows

WINDOW_MINUTES: Final = 60
#: Per feature and side, the most recent call durations kept for percentiles.
TIMING_SAMPLES: Final = 2048
MISMATCHES_SHOWN: Final = 5
_MISMATCH_TAIL_BYTES: Final = 256 * 1024
_TRAFFIC_COLUMNS: Final = (
    "time",
    "status",
    "latency_ms",
    "ttfb_ms",
    "upstream_ttfb_ms",
    "requested_model",
    "resolved_model",
    "route",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "initiator",
)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of sorted `values` (None when empty)."""
    if not values:
        return None
    rank = max(1, math.ceil(q / 100 * len(values)))
    return values[min(rank, len(values)) - 1]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def traffic(history_file: Path, *, now: float | None = None, minutes: int = WINDOW_MINUTES) -> dict[str, Any]:
    now = time.time() if now is None else now
    first_minute = int(now // 60) - minutes + 1
    rows = read_rows(history_file, since=first_minute * 60, limit=1_000_000, columns=_TRAFFIC_COLUMNS)
    per_minute: dict[int, list[dict[str, Any]]] = collections.defaultdict(list)
    for row in rows:
        per_minute[int(row["time"] // 60)].append(row)
    series = []
    for minute in range(first_minute, first_minute + minutes):
        bucket = per_minute.get(minute, [])
        latencies = sorted(r["latency_ms"] for r in bucket if r["latency_ms"] is not None)
        firsts = sorted(r["ttfb_ms"] for r in bucket if r["ttfb_ms"] is not None)
        series.append(
            {
                "t": minute * 60,
                "requests": len(bucket),
                "errors": sum(1 for r in bucket if r["status"] >= 400),
                "latency_p50": _rounded(percentile(latencies, 50)),
                "latency_p95": _rounded(percentile(latencies, 95)),
                "latency_p99": _rounded(percentile(latencies, 99)),
                "ttfb_p50": _rounded(percentile(firsts, 50)),
                "ttfb_p95": _rounded(percentile(firsts, 95)),
            }
        )
    tokens: dict[str, dict[str, int]] = {}
    initiators: collections.Counter[str] = collections.Counter()
    statuses: collections.Counter[str] = collections.Counter()
    models: collections.Counter[str] = collections.Counter()
    for row in rows:
        model = row["resolved_model"] or row["requested_model"] or "none"
        statuses[str(row["status"])] += 1
        if row["requested_model"] or row["resolved_model"]:
            models[model] += 1
        if row["initiator"]:
            initiators[row["initiator"]] += 1
        if row["input_tokens"] is not None or row["output_tokens"] is not None:
            entry = tokens.setdefault(model, {"input": 0, "output": 0, "cached": 0})
            entry["input"] += row["input_tokens"] or 0
            entry["output"] += row["output_tokens"] or 0
            entry["cached"] += row["cached_tokens"] or 0
    latencies = sorted(r["latency_ms"] for r in rows if r["latency_ms"] is not None)
    return {
        "window_minutes": minutes,
        "now": now,
        "series": series,
        "totals": {
            "requests": len(rows),
            "errors": sum(1 for r in rows if r["status"] >= 400),
            "latency_p50": _rounded(percentile(latencies, 50)),
            "latency_p95": _rounded(percentile(latencies, 95)),
            "by_status": dict(statuses.most_common()),
            "by_model": dict(models.most_common()),
            "tokens": dict(sorted(tokens.items(), key=lambda kv: -(kv[1]["input"] + kv[1]["output"]))),
            "initiator": {"user": initiators.get("user", 0), "agent": initiators.get("agent", 0)},
        },
    }


def history(
    history_file: Path, *, limit: int, model: str | None, route: str | None, status: str | None
) -> dict[str, Any]:
    rows = read_rows(history_file, limit=limit, model=model, route=route, status=status)
    rows.reverse()  # newest first on the page
    models = sorted(
        set(distinct_values(history_file, "resolved_model")) | set(distinct_values(history_file, "requested_model"))
    )
    return {
        "rows": rows,
        "filters": {"models": models, "routes": sorted(distinct_values(history_file, "route"))},
    }


def account(usage: Any) -> dict[str, Any]:
    """Plan, reset date and quotas of /copilot_internal/user's answer."""
    if not isinstance(usage, dict):
        return {"error": "GitHub's usage answer is not a JSON object"}
    quotas = {}
    snapshots = usage.get("quota_snapshots")
    for key, label in (("premium_interactions", "premium"), ("chat", "chat"), ("completions", "completions")):
        snapshot = snapshots.get(key) if isinstance(snapshots, dict) else None
        if not isinstance(snapshot, dict):
            continue
        entitlement = _number(snapshot.get("entitlement"))
        remaining = _number(snapshot.get("remaining"))
        quotas[label] = {
            "unlimited": bool(snapshot.get("unlimited")),
            "entitlement": entitlement,
            "remaining": remaining,
            "used": None if entitlement is None or remaining is None else max(0.0, entitlement - remaining),
            "percent_remaining": _number(snapshot.get("percent_remaining")),
            "overage_count": _number(snapshot.get("overage_count")),
        }
    return {
        "plan": usage.get("copilot_plan") or usage.get("access_type_sku"),
        "reset_date": usage.get("quota_reset_date_utc") or usage.get("quota_reset_date"),
        "quotas": quotas,
    }


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class RolloutTimings:
    """A rollout/observers sink keeping the last TIMING_SAMPLES durations per (feature, side)."""

    def __init__(self) -> None:
        self._samples: dict[tuple[str, str], collections.deque[float]] = {}
        self._counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self._lock = threading.Lock()

    def __call__(self, feature: str, side: str, seconds: float) -> None:
        key = (feature, side)
        with self._lock:
            samples = self._samples.get(key)
            if samples is None:
                samples = self._samples[key] = collections.deque(maxlen=TIMING_SAMPLES)
            samples.append(seconds)
            self._counts[key] += 1

    def summary(self, feature: str) -> dict[str, Any]:
        result = {}
        for side in ("native", "reference"):
            with self._lock:
                values = sorted(self._samples.get((feature, side), ()))
                count = self._counts[(feature, side)]
            result[side] = {
                "calls": count,
                "mean_us": _rounded(sum(values) / len(values) * 1e6) if values else None,
                "p50_us": _rounded(_scaled(percentile(values, 50))),
                "p95_us": _rounded(_scaled(percentile(values, 95))),
            }
        return result


def _scaled(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1e6


def latest_mismatches(path: Path, count: int = MISMATCHES_SHOWN) -> list[dict[str, Any]]:
    """The newest `count` entries of a mismatch JSONL log (already redacted when written)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - _MISMATCH_TAIL_BYTES))
            tail = handle.read()
    except OSError:
        return []
    entries = []
    for line in tail.splitlines()[-count:]:
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # the first line of the tail may be cut
        if isinstance(entry, dict):
            entries.append(entry)
    return entries[::-1]


def native(timings: RolloutTimings) -> dict[str, Any]:
    from copilot_hybrid.features import feature_status
    from copilot_hybrid.native.loader import load
    from copilot_hybrid.rollout import records, runner

    status = feature_status()
    library = load()
    status["native"].update(
        {
            "library": str(library.library) if library.library else None,
            "zig_version": library.record.get("zig_version"),
            "optimize": library.record.get("optimize"),
            "built_at": library.record.get("built_at"),
        }
    )
    for name, entry in status["features"].items():
        live = runner.counters(name)
        entry["live"] = {
            k: live.get(k, 0)
            for k in (
                "calls",
                "reference_calls",
                "native_calls",
                "shadow_runs",
                "matches",
                "mismatches",
                "native_errors",
            )
        }
        entry["latency"] = timings.summary(name)
        entry["circuit"] = {"open": entry["demoted"] is not None, "reason": entry["demoted"]}
        entry["recent_mismatches"] = latest_mismatches(records.mismatch_log_path(name))
    return status
