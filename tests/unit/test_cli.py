"""The command line: lazy imports, rollout set/status, debug's JSON contract,
verify's exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from copilot_hybrid.rollout import records
from tests.support import native_or_skip

HEAVY_MODULES = ("fastapi", "httpx", "uvicorn", "cffi", "tiktoken", "copilot_hybrid.native.loader")


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "copilot_hybrid", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_help_imports_nothing_heavy() -> None:
    """--help must stay fast: no command module may import heavy libraries
    at module level (the import time itself is measured by hand, see README)."""
    code = (
        "import sys\nfrom copilot_hybrid.cli import make_app\nmake_app()\n"
        f"print([m for m in {HEAVY_MODULES!r} if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    help_run = run_cli("--help")
    assert help_run.returncode == 0
    for command in ("serve", "build", "verify", "rollout", "debug", "tokens", "bench", "emulator"):
        assert command in help_run.stdout


def test_debug_json_contract() -> None:
    done = run_cli("debug", "--json")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert set(info["native"]) >= {"status", "reason", "library"}
    assert info["native"]["status"] in ("ok", "disabled", "missing", "stale", "abi_mismatch", "load_error")
    for name in ("rate_limit", "tokenizer"):
        assert set(info["features"][name]) >= {"configured", "effective", "reason"}
    assert info["versions"]["zig_pinned"] == "0.15.2"


def test_rollout_set_refuses_promotion_without_verify() -> None:
    done = run_cli("rollout", "set", "rate_limit", "on")
    assert done.returncode == 1 and "refusing" in done.stderr
    done = run_cli("rollout", "set", "rate_limit", "percent:10")
    assert done.returncode == 1


def test_rollout_set_allows_safe_modes_and_force(isolated_home: Path) -> None:
    assert run_cli("rollout", "set", "rate_limit", "off").returncode == 0
    assert 'rate_limit = "off"' in (isolated_home / "config.toml").read_text()
    forced = run_cli("rollout", "set", "rate_limit", "on", "--force")
    assert forced.returncode == 0 and "WARNING" in forced.stderr
    assert 'rate_limit = "on"' in (isolated_home / "config.toml").read_text()


def test_rollout_set_rejects_bad_input() -> None:
    assert run_cli("rollout", "set", "nope", "on").returncode == 2
    bad_mode = run_cli("rollout", "set", "rate_limit", "sometimes")
    assert bad_mode.returncode == 2 and "unknown rollout mode" in bad_mode.stderr


def test_verify_then_promote_then_status(isolated_home: Path) -> None:
    native_or_skip()
    verified = run_cli("verify", "rate_limit", "--cases", "500", "--json")
    assert verified.returncode == 0, verified.stderr
    result = json.loads(verified.stdout)["results"][0]
    assert result["passed"] and result["mismatches"] == 0 and result["cases"] > 500
    assert records.last_verify_result("rate_limit") is not None
    promoted = run_cli("rollout", "set", "rate_limit", "on")
    assert promoted.returncode == 0, promoted.stderr
    status = json.loads(run_cli("rollout", "status", "--json").stdout)
    feature = status["features"]["rate_limit"]
    assert feature["configured"] == "on" and feature["effective"] == "on"
    assert feature["verify"]["passed"] and feature["verify"]["current_build"]
    killed = json.loads(run_cli("rollout", "status", "--json", env={"COPILOT_HYBRID_NATIVE": "0"}).stdout)
    assert killed["features"]["rate_limit"]["effective"] == "off"
    assert killed["native"]["status"] == "disabled"


def test_verify_without_native_fails_unless_allowed(tmp_path: Path) -> None:
    env = {"COPILOT_HYBRID_NATIVE_LIB": str(tmp_path / "missing.so"), "COPILOT_HYBRID_NATIVE": "1"}
    done = run_cli("verify", "rate_limit", env=env)
    assert done.returncode == 1 and "missing" in done.stderr
    allowed = run_cli("verify", "rate_limit", "--allow-missing", env=env)
    assert allowed.returncode == 0


def test_verify_writes_reproducible_case_files_on_mismatch(monkeypatch: pytest.MonkeyPatch) -> None:
    """A deliberately wrong native side: every mismatch becomes a case file
    that --replay reruns."""
    native_or_skip()
    from copilot_hybrid import rate_limit
    from copilot_hybrid.features import get_feature
    from copilot_hybrid.rollout.verify import replay, verify_feature

    real_native = rate_limit.FEATURE.native

    def off_by_one(x: rate_limit.LimiterInput) -> rate_limit.LimiterDecision:
        d = real_native(x)
        return rate_limit.LimiterDecision(d.action, d.delay_ms + 1, d.new_last_ms) if d.delay_ms else d

    monkeypatch.setattr(rate_limit.FEATURE, "native", off_by_one)
    result = verify_feature(rate_limit.FEATURE, count=50, seed=3)
    assert result.mismatches > 0 and not result.passed and result.case_files
    assert records.last_verify_result("rate_limit")["passed"] is False  # type: ignore[index]
    case = json.loads(Path(result.case_files[0]).read_text())
    assert case["feature"] == "rate_limit" and "input" in case
    same, _, _ = replay(Path(result.case_files[0]), get_feature)
    assert same is False
    monkeypatch.undo()
    same, _, _ = replay(Path(result.case_files[0]), get_feature)
    assert same is True
