"""What rollout remembers on disk: verify results per build, the mismatch
log, and cumulative counters. All under the data dir."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from copilot_hybrid import config


def _dir(*parts: str) -> Path:
    return config.data_dir().joinpath(*parts)


def verify_record_path(feature: str) -> Path:
    return _dir("verify", f"{feature}.json")


def save_verify_result(feature: str, result: dict[str, Any]) -> Path:
    path = verify_record_path(feature)
    config.write_private_file(path, json.dumps(result, indent=2) + "\n")
    return path


def last_verify_result(feature: str) -> dict[str, Any] | None:
    try:
        data = json.loads(verify_record_path(feature).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def verify_passed(feature: str, build_id: str | None) -> bool:
    """Whether the last verify of `feature` passed on exactly this build."""
    record = last_verify_result(feature)
    return bool(build_id and record and record.get("build_id") == build_id and record.get("passed") is True)


def mismatch_log_path(feature: str) -> Path:
    return _dir("mismatches", f"{feature}.jsonl")


def append_mismatch(feature: str, entry: dict[str, Any]) -> None:
    path = mismatch_log_path(feature)
    config.ensure_private_dir(path.parent)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")


def mismatch_case_dir(feature: str) -> Path:
    return _dir("verify", "cases", feature)


def counters_path(feature: str) -> Path:
    return _dir("metrics", f"{feature}.json")


def add_counters(feature: str, delta: dict[str, int]) -> None:
    """Adds `delta` to the feature's persisted counters.

    Read-modify-write without a file lock: two proxies flushing at the same
    instant can lose one flush's increments, acceptable for telemetry.
    """
    if not any(delta.values()):
        return
    path = counters_path(feature)
    totals = read_counters(feature)
    for name, value in delta.items():
        totals[name] = totals.get(name, 0) + value
    totals_out: dict[str, Any] = dict(totals)
    totals_out["updated_at"] = int(time.time())
    config.write_private_file(path, json.dumps(totals_out, indent=2) + "\n")


def read_counters(feature: str) -> dict[str, int]:
    try:
        data = json.loads(counters_path(feature).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: int(v) for k, v in data.items() if isinstance(v, int) and k != "updated_at"}


def describe_outcome(value: Any, error: BaseException | None, limit: int) -> str:
    """A capped description of one side's result (or exception) for logs and case files."""
    if error is not None:
        text = f"raised {type(error).__name__}: {error}"
    elif isinstance(value, (list, tuple)) and len(value) > 200:
        # repr of a long list (token ids) would cost more than the comparison.
        head = repr(value[:200])
        text = f"{head[:-1]}, ... ({len(value)} items){head[-1]}"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"
