"""`auth` and `check-usage` as commands, against the emulator."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from copilot_hybrid.emulator import Emulator


def run_cli(
    emulator: Emulator, home: Path, *args: str, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        "COPILOT_HYBRID_HOME": str(home),
        "COPILOT_HYBRID_VSCODE_VERSION": "1.104.3",
        "COPILOT_HYBRID_GITHUB_URL": emulator.github_url,
        "COPILOT_HYBRID_GITHUB_API_URL": emulator.github_api_url,
        "PATH": "/usr/bin:/bin",
        **(extra or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "copilot_hybrid", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_auth_then_check_usage(emulator: Emulator, tmp_path: Path) -> None:
    done = run_cli(emulator, tmp_path, "auth")
    assert done.returncode == 0, done.stderr
    token_file = tmp_path / "github_token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert f"GitHub token written to {token_file}" in done.stderr
    assert "Please enter the code" in done.stderr
    assert token_file.read_text() not in done.stderr

    usage = run_cli(emulator, tmp_path, "check-usage")
    assert usage.returncode == 0, usage.stderr
    assert "Copilot Usage (plan: individual)" in usage.stdout
    assert "Premium:" in usage.stdout and "Chat:" in usage.stdout


def test_auth_denied_exits_1_with_message(emulator: Emulator, tmp_path: Path) -> None:
    emulator.configure(device_flow_scenario="denied", device_pending_polls=0)
    done = run_cli(emulator, tmp_path, "auth")
    assert done.returncode == 1
    assert "denied" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "github_token").exists()


def test_check_usage_with_gh_token_json(emulator: Emulator, tmp_path: Path) -> None:
    done = run_cli(emulator, tmp_path, "check-usage", "--json", extra={"GH_TOKEN": emulator.github_token})
    assert done.returncode == 0, done.stderr
    assert '"quota_snapshots"' in done.stdout
