"""`copilot-hybrid bench proxy`: a real (tiny) run's JSON, the report's arithmetic, the
options' errors. No figure is compared with a speed: the bench prints, it does not judge."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from typing import Any

import pytest

from copilot_hybrid.bench.configurations import CONFIGURATIONS, RELEASE, UPSTREAM_ALONE
from copilot_hybrid.bench.load import Result, _stat, percentile, process_cpu_seconds
from copilot_hybrid.bench.report import format_report
from copilot_hybrid.bench.runner import BenchOptions, build_report
from copilot_hybrid.bench.scenarios import CHUNKS, all_scenarios


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "copilot_hybrid", "bench", "proxy", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,  # proves it ends; not a speed check
        env=dict(os.environ),
    )


def _check_row(row: dict[str, Any], *, proxy: bool) -> None:
    assert row["errors"] == 0
    assert 0 < row["p50_ms"] <= row["p99_ms"]
    assert row["req_per_s"] > 0
    if proxy:
        assert row["cpu_ms_per_req"] is not None and row["cpu_ms_per_req"] > 0
        assert row["added_p50_ms"] is not None
        assert set(row["vs_release"]) == {"added_p50", "req_per_s", "cpu_ms_per_req"}
    else:
        assert row["cpu_ms_per_req"] is None and row["added_p50_ms"] is None


def _run_json(*args: str) -> dict[str, Any]:
    done = _bench("--quick", "--json", "-n", "20", *args)
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_quick_run_measures_every_row() -> None:
    report = _run_json("-s", "anthropic-small", "-s", "anthropic-stream", "--config", RELEASE)
    assert [s["key"] for s in report["scenarios"]] == ["anthropic-small", "anthropic-stream"]
    assert [c["key"] for c in report["configurations"]] == [RELEASE]
    assert report["failures"] == {}
    for rows in report["results"].values():
        assert set(rows) == {UPSTREAM_ALONE, RELEASE}
        _check_row(rows[UPSTREAM_ALONE], proxy=False)
        _check_row(rows[RELEASE], proxy=True)
        assert rows[RELEASE]["vs_release"]["req_per_s"] == 1.0
        assert len(rows[RELEASE]["runs"]) == 1
    # per-chunk CPU is computed for the stream against its non-stream twin, for every configuration
    assert set(report["per_chunk_cpu_us"]) == {"anthropic-stream"}
    assert set(report["per_chunk_cpu_us"]["anthropic-stream"]) == {RELEASE}
    check = report["upstream_check"]
    assert check["ratio"] > 0 and check["scenario"] in report["results"] and isinstance(check["ok"], bool)
    text = format_report(report)
    assert "Anthropic stream, 100 chunks" in text and "release (defaults)" in text
    assert ("upstream not the bottleneck" in text) == check["ok"]


@pytest.mark.slow
def test_every_lever_row_runs() -> None:
    """Each configuration of the table starts and answers (a lever serve does not know yet is ignored)."""
    report = _run_json("-s", "openai-small")
    expected = [c.key for c in CONFIGURATIONS if c.key != "granian" or importlib.util.find_spec("granian")]
    assert [c["key"] for c in report["configurations"]] == expected
    assert report["failures"] == {}
    for key in expected:
        _check_row(report["results"]["openai-small"][key], proxy=True)


def test_unknown_names_are_refused_with_the_known_ones() -> None:
    done = _bench("--scenario", "nope")
    assert done.returncode == 2
    assert "unknown scenario nope" in done.stderr and "openai-small" in done.stderr
    done = _bench("--config", "nope")
    assert done.returncode == 2
    assert "unknown config nope" in done.stderr and RELEASE in done.stderr


def _result(p50: float, rps: float, cpu: float | None) -> Result:
    return Result(p50_ms=p50, p99_ms=p50 * 2, req_per_s=rps, cpu_ms_per_req=cpu, requests=10, errors=0)


def test_report_arithmetic() -> None:
    scenarios = [s for s in all_scenarios() if s.key in ("anthropic-small", "anthropic-stream")]
    configurations = [c for c in CONFIGURATIONS if c.key in (RELEASE, "no-metrics")]
    runs = {
        "anthropic-small": {
            UPSTREAM_ALONE: [_result(0.1, 20000, None), _result(0.3, 10000, None)],
            RELEASE: [_result(1.2, 300, 3.0), _result(1.4, 340, 3.2)],
            "no-metrics": [_result(0.9, 600, 1.5), _result(0.9, 600, 1.5)],
        },
        "anthropic-stream": {
            UPSTREAM_ALONE: [_result(0.2, 9000, None)],
            RELEASE: [_result(8.2, 100, 3.1 + CHUNKS * 0.065)],
            "no-metrics": [_result(4.2, 200, 1.5 + CHUNKS * 0.015)],
        },
    }
    report = build_report(BenchOptions(repeat=2), scenarios, configurations, runs, {}, [], proxy_cpu=1)
    small = report["results"]["anthropic-small"]
    assert small[UPSTREAM_ALONE]["p50_ms"] == pytest.approx(0.2)  # median of the repetitions
    assert small[RELEASE]["added_p50_ms"] == pytest.approx(1.3 - 0.2)
    assert small["no-metrics"]["vs_release"]["req_per_s"] == pytest.approx(600 / 320)
    assert small["no-metrics"]["vs_release"]["cpu_ms_per_req"] == pytest.approx(1.5 / 3.1)
    chunks = report["per_chunk_cpu_us"]["anthropic-stream"]
    assert chunks[RELEASE] == pytest.approx(65.0)
    assert chunks["no-metrics"] == pytest.approx(15.0)
    # the smallest of (upstream req/s) / (fastest proxy row): small 15000/600 = 25x, stream 9000/200 = 45x
    assert report["upstream_check"] == {"ratio": pytest.approx(25.0), "scenario": "anthropic-small", "ok": True}
    runs["anthropic-stream"][UPSTREAM_ALONE] = [_result(0.2, 1000, None)]
    report = build_report(BenchOptions(), scenarios, configurations, runs, {}, [], proxy_cpu=None)
    assert report["upstream_check"]["ok"] is False
    assert "WARNING: THE UPSTREAM MAY BE THE BOTTLENECK" in format_report(report)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([3.0], 0.99) == 3.0


def test_cpu_of_a_process_counts_its_children() -> None:
    """granian serves from a worker process: the proxy's CPU is its whole tree's."""
    grandchild = "sum(range(3_000_000)); print('ready', flush=True); input()"
    child = subprocess.Popen(
        [sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {grandchild!r}])"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"  # both now block, CPU still
        own = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit() and (fields := _stat(entry)) is not None:
                own[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
        (grandchild_pid,) = [pid for pid, (ppid, _) in own.items() if ppid == child.pid]
        ticks = own[child.pid][1] + own[grandchild_pid][1]
        assert own[grandchild_pid][1] > 0
        assert process_cpu_seconds(child.pid) == pytest.approx(ticks / os.sysconf("SC_CLK_TCK"))
        assert process_cpu_seconds(2**22 + 12345) is None  # beyond pid_max: no such process
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(30)
