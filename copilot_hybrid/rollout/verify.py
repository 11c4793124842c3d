"""Runs a feature's native side against its reference over its cases.

Used by `copilot-hybrid verify` and by the differential tests. Every
mismatch is written as a case file that `verify --replay FILE` reruns.
"""

from __future__ import annotations

import datetime as _dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from copilot_hybrid.native.loader import load
from copilot_hybrid.rollout import records
from copilot_hybrid.rollout.feature import Feature
from copilot_hybrid.rollout.records import describe_outcome

CASE_TEXT_LIMIT = 2000


@dataclass
class VerifyResult:
    feature: str
    cases: int = 0
    mismatches: int = 0
    native_ns: int = 0
    reference_ns: int = 0
    bytes: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    case_files: list[str] = field(default_factory=list)
    first_mismatches: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.cases > 0 and self.mismatches == 0

    @property
    def ratio(self) -> float | None:
        """How many times faster native is than the reference."""
        return self.reference_ns / self.native_ns if self.native_ns else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "passed": self.passed,
            "cases": self.cases,
            "mismatches": self.mismatches,
            "cases_by_kind": self.by_kind,
            "native_seconds": self.native_ns / 1e9,
            "reference_seconds": self.reference_ns / 1e9,
            "speedup": self.ratio,
            "case_files": self.case_files,
        }


def _outcome(call: Callable[[], Any]) -> tuple[Any, BaseException | None, int]:
    started = time.perf_counter_ns()
    try:
        value = call()
    except Exception as exc:  # noqa: BLE001 - an exception is an outcome to compare
        return None, exc, time.perf_counter_ns() - started
    return value, None, time.perf_counter_ns() - started


def check_one(feature: Feature[Any, Any], x: Any) -> tuple[bool, str, str, int, int]:
    """(same, reference description, native description, reference ns, native ns)."""
    ref_value, ref_error, ref_ns = _outcome(lambda: feature.reference(x))
    nat_value, nat_error, nat_ns = _outcome(lambda: feature.native(x))
    same = feature.same_outcome(ref_value, ref_error, nat_value, nat_error)
    ref_text = describe_outcome(ref_value, ref_error, CASE_TEXT_LIMIT)
    return same, ref_text, describe_outcome(nat_value, nat_error, CASE_TEXT_LIMIT), ref_ns, nat_ns


def verify_feature(
    feature: Feature[Any, Any],
    *,
    count: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
    record: bool = True,
) -> VerifyResult:
    """Compares both sides over every case; records the result for rollout."""
    native = load()
    result = VerifyResult(feature.name)
    started_at = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    case_dir = records.mismatch_case_dir(feature.name)
    for case in feature.cases(count=count, seed=seed):
        same, ref_text, nat_text, ref_ns, nat_ns = check_one(feature, case.value)
        result.cases += 1
        result.by_kind[case.kind] = result.by_kind.get(case.kind, 0) + 1
        result.reference_ns += ref_ns
        result.native_ns += nat_ns
        result.bytes += feature.input_size(case.value)
        if not same:
            result.mismatches += 1
            if len(result.first_mismatches) < 5:
                result.first_mismatches.append(
                    f"[{case.kind} {case.label}] reference {ref_text[:200]} | native {nat_text[:200]}"
                )
            if len(result.case_files) < 200:
                case_dir.mkdir(parents=True, exist_ok=True)
                path = case_dir / f"{native.build_id or 'nobuild'}-{result.mismatches:05d}.json"
                path.write_text(
                    json.dumps(
                        {
                            "feature": feature.name,
                            "kind": case.kind,
                            "label": case.label,
                            "build_id": native.build_id,
                            "seed": seed,
                            "input": feature.case_to_json(case.value),
                            "reference": ref_text,
                            "native": nat_text,
                        },
                        ensure_ascii=False,
                        indent=1,
                    ),
                    encoding="utf-8",
                )
                result.case_files.append(str(path))
        if progress is not None:
            progress(1)
    if record:
        records.save_verify_result(
            feature.name,
            {
                **result.as_dict(),
                "build_id": native.build_id,
                "source_digest": native.source_digest,
                "seed": seed,
                "generated_cases": count,
                "started_at": started_at,
                "finished_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            },
        )
    return result


def replay(path: Path, find_feature: Callable[[str], Feature[Any, Any]]) -> tuple[bool, str, str]:
    """Reruns one case file; (same, reference, native). `find_feature`
    maps the file's feature name to the feature (copilot_hybrid.features)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    feature = find_feature(data["feature"])
    same, ref_text, nat_text, _, _ = check_one(feature, feature.case_from_json(data["input"]))
    return same, ref_text, nat_text
