"""The real Claude Code CLI against the proxy and the emulator.

Claude Code is pinned and installed before the tests, once per machine, by
`python tools/install_clients.py claude-code` (tox -e claude runs it), into
a cache outside the repository; the fixture only finds it, and the tests skip
only where npm is missing. They run `claude -p ... --output-format json` with
a throwaway HOME.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from copilot_hybrid.emulator import Emulator
from tests.support import Proxy, client_binary

pytestmark = [pytest.mark.claude_code, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def claude() -> Path:
    return client_binary("claude-code")


def run_claude(
    claude: Path, proxy: Proxy, tmp_path: Path, prompt: str, *extra: str, model_settings: bool = True
) -> dict[str, Any]:
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir(exist_ok=True)
    work.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": proxy.url,
        # `proxy` runs with and without --api-key: Claude Code sends ANTHROPIC_API_KEY as x-api-key.
        **({"ANTHROPIC_API_KEY": proxy.api_key} if proxy.api_key else {"ANTHROPIC_AUTH_TOKEN": "dummy"}),
        # Models the emulator serves (what `serve --claude-code` would set).
        "ANTHROPIC_MODEL": "claude-sonnet-4.5",
        "ANTHROPIC_DEFAULT_SONNET_MODEL": "claude-sonnet-4.5",
        "ANTHROPIC_SMALL_FAST_MODEL": "claude-haiku-4.5",
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": "claude-haiku-4.5",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_NON_ESSENTIAL_MODEL_CALLS": "1",
        "DISABLE_AUTOUPDATER": "1",
    }
    if not model_settings:  # a new user's setup: Claude Code picks its own default model
        env = {k: v for k, v in env.items() if "_MODEL" not in k}
    done = subprocess.run(
        [str(claude), "-p", prompt, "--output-format", "json", *extra],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.stdout.strip(), (
        f"claude printed nothing (exit {done.returncode}):\n{done.stderr}\n{proxy.log()[-3000:]}"
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0 and not result.get("is_error"), f"{result}\n{done.stderr}"
    return result


def test_claude_code_prompt(claude: Path, proxy: Proxy, emulator: Emulator, tmp_path: Path) -> None:
    result = run_claude(claude, proxy, tmp_path, "Say hello")
    assert result["result"] == "Hello from emulated claude-sonnet-4.5: Say hello"
    sent = emulator.last_request("/chat/completions")
    assert sent.body["model"] == "claude-sonnet-4.5"
    assert sent.body["stream"] is True


def test_claude_code_with_its_default_model(claude: Path, proxy: Proxy, emulator: Emulator, tmp_path: Path) -> None:
    """No model settings: Claude Code asks for its own default (claude-opus-5-5 in 2.1.332),
    which the emulated plan serves as claude-opus-5.5."""
    result = run_claude(claude, proxy, tmp_path, "Say hello", model_settings=False)
    assert result["result"].startswith("Hello from emulated claude-opus-5.5")
    sent = emulator.last_request("/chat/completions")
    assert sent.body["model"] == "claude-opus-5.5"


def test_claude_code_tool_use(claude: Path, proxy: Proxy, emulator: Emulator, tmp_path: Path) -> None:
    target = tmp_path / "work" / "out.txt"
    arguments = json.dumps({"file_path": str(target), "content": "written via the proxy\n"})
    result = run_claude(
        claude, proxy, tmp_path, f"Create the file. [[tool:Write {arguments}]]", "--allowedTools", "Write"
    )
    assert target.read_text() == "written via the proxy\n"  # Claude Code ran the emulator's tool call
    assert result["num_turns"] == 2
    assert "File created successfully" in result["result"]
    last = emulator.last_request("/chat/completions")
    assert last.header("x-initiator") == "agent"  # the tool-result turn is not a new premium request
    assert any(m.get("role") == "tool" for m in last.body["messages"])
