"""Every migratable feature, listed once.

A feature lives in its own module or package (copilot_hybrid/rate_limit.py,
copilot_hybrid/tokenizer/): its Python reference, its native binding with
the smoke calls of its exports, its verify cases, and a `FEATURE` object
(a rollout.Feature) that `rollout.wrap` turns into what callers call. This
list is for the commands that show or verify all of them (verify, rollout,
debug) and for the build's fresh-process smoke check, which runs

    python -m copilot_hybrid.features LIBRARY

(native/build.py does): native/ knows only its handshake exports, each
feature declares the smoke calls of its own. A new feature adds one entry.
"""

from __future__ import annotations

import sys
from typing import Any, Final

from copilot_hybrid import rate_limit, stream_translate, tokenizer
from copilot_hybrid.native import smoke
from copilot_hybrid.rollout import Feature

FEATURES: Final[tuple[Feature[Any, Any], ...]] = (rate_limit.FEATURE, tokenizer.FEATURE, stream_translate.FEATURE)
FEATURE_NAMES: Final = tuple(feature.name for feature in FEATURES)


def get_feature(name: str) -> Feature[Any, Any]:
    """The feature object for `name`; raises KeyError for unknown names."""
    for feature in FEATURES:
        if feature.name == name:
            return feature
    raise KeyError(f"unknown feature {name!r}; known: {', '.join(FEATURE_NAMES)}")


def all_features() -> list[Feature[Any, Any]]:
    return list(FEATURES)


def smoke_calls() -> dict[str, smoke.SmokeCall]:
    """Every feature's smoke calls by export; an export two features claim is an error."""
    calls: dict[str, smoke.SmokeCall] = {}
    for feature in FEATURES:
        for name, call in feature.native_exports.items():
            if name in calls:
                raise ValueError(f"{name} is declared by two features")
            calls[name] = call
    return calls


def feature_status() -> dict[str, Any]:
    """Every feature's configured and effective mode and why, its last verify and counters
    (`rollout status`, the dashboard)."""
    from copilot_hybrid.native.loader import load
    from copilot_hybrid.rollout import records
    from copilot_hybrid.rollout.runner import counters, decide, demotion

    native = load()
    result: dict[str, Any] = {
        "native": {"status": native.status, "reason": native.reason, "build_id": native.build_id},
        "features": {},
    }
    for feature in all_features():
        decision = decide(feature)
        verify = records.last_verify_result(feature.name)
        persisted = records.read_counters(feature.name)
        live = counters(feature.name)
        totals = {
            k: persisted.get(k, 0) + live.get(k, 0) for k in ("calls", "native_errors", "mismatches", "shadow_runs")
        }
        result["features"][feature.name] = {
            "configured": str(decision.configured),
            "source": decision.source,
            "effective": str(decision.effective),
            "reason": decision.reason,
            "native_available": native.has(*feature.native_symbols),
            "demoted": demotion(feature.name),
            "verify": None
            if verify is None
            else {
                "passed": verify.get("passed"),
                "build_id": verify.get("build_id"),
                "current_build": verify.get("build_id") == native.build_id,
                "cases": verify.get("cases"),
                "mismatches": verify.get("mismatches"),
                "at": verify.get("finished_at"),
            },
            "counters": totals,
        }
    return result


if __name__ == "__main__":
    sys.exit(smoke.main(sys.argv[1:], smoke_calls()))
