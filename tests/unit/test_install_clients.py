"""tools/install_clients.py: the pinned client goes into the cache once, a
failed download is retried with backoff, a broken install is never left in
place, and without npm the tests skip saying why. npm is a fake here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support import client_binary, install_clients

FAKE_NPM = """#!{python}
import json, os, pathlib, sys
state = pathlib.Path(os.environ["FAKE_NPM_CALLS"])
with state.open("a") as calls:
    calls.write(json.dumps(sys.argv[1:]) + "\\n")
if len(state.read_text().splitlines()) <= int(os.environ.get("FAKE_NPM_FAILURES", "0")):
    sys.stderr.write("npm error network ECONNRESET\\n")
    sys.exit(1)
prefix = pathlib.Path.cwd()  # npm installs into its project folder
version = os.environ.get("FAKE_NPM_VERSION") or sys.argv[-1].rsplit("@", 1)[1]
bin_dir = prefix / "node_modules" / ".bin"
bin_dir.mkdir(parents=True)
claude = bin_dir / "claude"
claude.write_text("#!/bin/sh\\necho '" + version + " (Claude Code)'\\n")
claude.chmod(0o755)
"""


@pytest.fixture
def tool() -> ModuleType:
    return install_clients()


@pytest.fixture
def npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake npm first on PATH; the cache in tmp_path."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "npm"
    fake.write_text(FAKE_NPM.format(python=sys.executable))
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    monkeypatch.setenv("FAKE_NPM_CALLS", str(tmp_path / "npm-calls"))
    monkeypatch.setenv("COPILOT_HYBRID_CLIENTS_DIR", str(tmp_path / "cache"))
    return fake


def npm_calls(tmp_path: Path) -> list[list[str]]:
    path = tmp_path / "npm-calls"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def install(tool: ModuleType, npm: Path, sleeps: list[float]) -> Any:
    return tool.install(tool.CLIENTS["claude-code"], str(npm), sleep=sleeps.append, say=lambda line: None)


def test_installs_the_pinned_version_once_into_the_cache(tool: ModuleType, npm: Path, tmp_path: Path) -> None:
    client = tool.CLIENTS["claude-code"]
    sleeps: list[float] = []
    binary = install(tool, npm, sleeps)
    expected = tmp_path / "cache" / "npm" / f"{client.package}@{client.version}" / "node_modules" / ".bin" / "claude"
    assert binary == expected and binary.exists()
    (call,) = npm_calls(tmp_path)
    assert call[0] == "install" and call[-1] == f"@anthropic-ai/claude-code@{client.version}"
    assert install(tool, npm, sleeps) == binary
    assert len(npm_calls(tmp_path)) == 1 and sleeps == []  # the second run found it
    assert client_binary("claude-code") == binary  # and so does the tests' fixture


def test_a_failed_download_is_retried_with_backoff(
    tool: ModuleType, npm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NPM_FAILURES", "2")
    sleeps: list[float] = []
    assert install(tool, npm, sleeps).exists()
    assert len(npm_calls(tmp_path)) == 3
    assert sleeps == [tool.BACKOFF_SECONDS, 2 * tool.BACKOFF_SECONDS]


def test_gives_up_after_three_attempts_and_leaves_nothing(
    tool: ModuleType, npm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NPM_FAILURES", "99")
    sleeps: list[float] = []
    with pytest.raises(tool.InstallError, match="failed 3 times") as info:
        install(tool, npm, sleeps)
    assert "ECONNRESET" in str(info.value)
    assert len(npm_calls(tmp_path)) == 3 and len(sleeps) == 2
    assert list((tmp_path / "cache" / "npm" / "@anthropic-ai").iterdir()) == []  # no half install


def test_an_install_of_another_version_is_refused(
    tool: ModuleType, npm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NPM_VERSION", "9.9.9")
    with pytest.raises(tool.InstallError, match="does not report version"):
        install(tool, npm, [])
    assert not tool.binary_path(tool.CLIENTS["claude-code"]).exists()


def test_command_line(tool: ModuleType, npm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert tool.main(["claude-code"]) == 0
    assert tool.binary_path(tool.CLIENTS["claude-code"]).exists()
    with pytest.raises(SystemExit):
        tool.main(["no-such-client"])
    assert "unknown client no-such-client" in capsys.readouterr().err


def test_without_npm_it_says_so_and_the_tests_skip(
    tool: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("COPILOT_HYBRID_CLIENTS_DIR", str(tmp_path / "cache"))
    assert tool.main([]) == 0
    assert "npm is not installed" in capsys.readouterr().out
    with pytest.raises(pytest.skip.Exception, match="npm is not installed"):
        client_binary("claude-code")


def test_with_npm_a_missing_client_is_an_error_that_names_the_fix(tool: ModuleType, npm: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match=r"tools/install_clients\.py claude-code"):
        client_binary("claude-code")


def test_npm_keeps_the_machines_global_config_and_installs_into_the_scratch_folder(
    tool: ModuleType, tmp_path: Path
) -> None:
    """With the real npm: the install's way of running npm reads the same
    global npmrc as a plain `npm` (where a machine keeps its cafile; --prefix
    would swap it for <prefix>/etc/npmrc) and installs into the folder given."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def npm_says(*args: str) -> str:
        done = tool.run_npm(npm, scratch, list(args), timeout=120)
        assert done.returncode == 0, done.stderr
        return str(done.stdout.strip())

    plain = subprocess.run([npm, "config", "get", "globalconfig"], cwd=elsewhere, capture_output=True, text=True)
    plain_global_config = plain.stdout.strip()
    assert npm_says("config", "get", "globalconfig") == plain_global_config
    assert not plain_global_config.startswith(str(tmp_path))
    assert Path(npm_says("prefix")) == scratch
