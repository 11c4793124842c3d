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
    claude: Path,
    proxy: Proxy,
    tmp_path: Path,
    prompt: str,
    *extra: str,
    model_settings: bool = True,
    env_extra: dict[str, str] | None = None,
    check: bool = True,
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
    env.update(env_extra or {})
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
    if check:
        assert done.returncode == 0 and not result.get("is_error"), f"{result}\n{done.stderr}"
    return result


def test_claude_code_prompt(claude: Path, proxy: Proxy, emulator: Emulator, tmp_path: Path) -> None:
    result = run_claude(claude, proxy, tmp_path, "Say hello")
    assert result["result"] == "Hello from emulated claude-sonnet-4.5: Say hello"
    sent = emulator.last_request("/v1/messages")  # Claude models go to Copilot's own /v1/messages
    assert sent.body["model"] == "claude-sonnet-4.5"
    assert sent.body["stream"] is True


def test_claude_code_with_its_default_model(claude: Path, proxy: Proxy, emulator: Emulator, tmp_path: Path) -> None:
    """No model settings: Claude Code asks for its own default (claude-opus-5-5 in 2.1.332),
    which the emulated plan serves as claude-opus-5.5."""
    result = run_claude(claude, proxy, tmp_path, "Say hello", model_settings=False)
    assert result["result"].startswith("Hello from emulated claude-opus-5.5")
    sent = emulator.last_request("/v1/messages")
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
    last = emulator.last_request("/v1/messages")
    assert last.header("x-initiator") == "agent"  # the tool-result turn is not a new premium request
    assert last.body["messages"][-1]["content"][0]["type"] == "tool_result"


# ---- today's Claude Code against today's Copilot (issue 9) ----------------------------------


def _write_prompt(target: Path) -> str:
    arguments = json.dumps({"file_path": str(target), "content": "written via the proxy\n"})
    return f"Create the file. [[tool:Write {arguments}]]"


def test_claude_code_with_no_model_runs_a_tool_round_trip(
    claude: Path, proxy: Proxy, emulator: Emulator, tmp_path: Path
) -> None:
    """A new user: no model settings, no flags. Claude Code's default claude-opus-5-5 goes
    natively to Copilot's claude-opus-5.5 and its tool loop completes."""
    target = tmp_path / "work" / "out.txt"
    result = run_claude(claude, proxy, tmp_path, _write_prompt(target), "--allowedTools", "Write", model_settings=False)
    assert target.read_text() == "written via the proxy\n"
    assert result["num_turns"] == 2
    assert result["result"].startswith('Hello from emulated claude-opus-5.5: the Write tool returned "File created')
    first, last = emulator.requests_to("/v1/messages")[-2:]
    assert first.body["model"] == last.body["model"] == "claude-opus-5.5"
    assert first.header("x-initiator") == "user" and last.header("x-initiator") == "agent"
    assert (first.header("anthropic-beta") or "").split(",") == [
        "interleaved-thinking-2025-05-14",
        "context-management-2025-06-27",
        "advanced-tool-use-2025-11-20",
    ]
    assert not emulator.requests_to("/chat/completions")


@pytest.mark.parametrize(("flag", "copilot_id"), [("sonnet", "claude-sonnet-5.5"), ("haiku", "claude-haiku-5.5")])
def test_claude_code_with_a_sonnet_or_a_haiku(
    claude: Path, proxy: Proxy, emulator: Emulator, tmp_path: Path, flag: str, copilot_id: str
) -> None:
    """`--model sonnet|haiku` (Claude Code asks for claude-sonnet-5-5 / claude-haiku-5-5)."""
    target = tmp_path / "work" / "out.txt"
    result = run_claude(
        claude, proxy, tmp_path, _write_prompt(target), "--allowedTools", "Write", "--model", flag, model_settings=False
    )
    assert target.read_text() == "written via the proxy\n"
    assert result["result"].startswith(f"Hello from emulated {copilot_id}: the Write tool returned")
    assert emulator.last_request("/v1/messages").body["model"] == copilot_id


def test_claude_code_with_a_model_the_plan_lacks(
    claude: Path, proxy: Proxy, emulator: Emulator, tmp_path: Path
) -> None:
    """Claude Code prints the proxy's message (a 400's; it would replace a 404's with its own)."""
    result = run_claude(
        claude, proxy, tmp_path, "Say hello", "--model", "claude-opus-9", model_settings=False, check=False
    )
    assert result["is_error"] is True and result["api_error_status"] == 400
    assert result["result"].startswith(
        "API Error: 400 Model `claude-opus-9` is not available on this Copilot plan. Claude Opus models it offers: "
        "claude-opus-5.5, claude-opus-5,"
    )
    assert "`claude --model claude-opus-5.5`" in result["result"]
    assert not emulator.requests_to("/v1/messages")


def test_claude_code_discovers_the_plans_models(claude: Path, proxy: Proxy, tmp_path: Path) -> None:
    """CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY=1: Claude Code reads /v1/models (Anthropic's
    shape) and keeps the plan's Claude models, with their names, for its /model picker."""
    run_claude(
        claude,
        proxy,
        tmp_path,
        "Say hello",
        model_settings=False,
        env_extra={"CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY": "1"},
    )
    cache = json.loads((tmp_path / "home" / ".claude" / "cache" / "gateway-models.json").read_text())
    assert cache["baseUrl"] == proxy.url
    models = {m["id"]: m.get("display_name") for m in cache["models"]}
    assert models["claude-opus-5.5"] == "Claude Opus 5.5" and models["claude-haiku-4.5"] == "Claude Haiku 4.5"
    assert len(models) == 13 and all(model_id.startswith("claude-") for model_id in models)


def test_claude_code_over_the_chat_translation(claude: Path, emulator: Emulator, tmp_path: Path) -> None:
    """--no-native-messages: the same tool loop on Copilot's chat completions."""
    chat_proxy = Proxy(emulator, tmp_path / "proxy-home", "--no-native-messages")
    try:
        target = tmp_path / "work" / "out.txt"
        result = run_claude(claude, chat_proxy, tmp_path, _write_prompt(target), "--allowedTools", "Write")
    finally:
        chat_proxy.stop()
    assert target.read_text() == "written via the proxy\n"
    assert result["num_turns"] == 2
    last = emulator.last_request("/chat/completions")
    assert last.body["model"] == "claude-sonnet-4.5" and last.header("x-initiator") == "agent"
    assert any(m.get("role") == "tool" for m in last.body["messages"])
    assert not emulator.requests_to("/v1/messages")


# ---- a Responses-only model for Claude Code (issue 10) ---------------------------------------


def test_claude_code_on_a_responses_only_model(claude: Path, proxy: Proxy, emulator: Emulator, tmp_path: Path) -> None:
    """`--model gpt-5.3-codex` (Copilot serves it only on /responses): text, then a tool round trip."""
    codex = {"ANTHROPIC_MODEL": "gpt-5.3-codex"}
    result = run_claude(claude, proxy, tmp_path, "Say hello", env_extra=codex)
    assert result["result"] == "Hello from emulated gpt-5.3-codex: Say hello"
    assert emulator.last_request("/responses").body["model"] == "gpt-5.3-codex"
    target = tmp_path / "work" / "codex.txt"
    result = run_claude(claude, proxy, tmp_path, _write_prompt(target), "--allowedTools", "Write", env_extra=codex)
    assert target.read_text() == "written via the proxy\n"
    assert result["num_turns"] == 2
    last = emulator.last_request("/responses")
    assert last.header("x-initiator") == "agent"
    assert last.body["input"][-1]["type"] == "function_call_output"


def test_claude_code_on_a_chat_only_model(claude: Path, proxy: Proxy, emulator: Emulator, tmp_path: Path) -> None:
    """`--model gpt-4.1` (Copilot serves it only on /chat/completions): text, then a tool round trip."""
    chat_only = {"ANTHROPIC_MODEL": "gpt-4.1"}
    result = run_claude(claude, proxy, tmp_path, "Say hello", env_extra=chat_only)
    assert result["result"] == "Hello from emulated gpt-4.1: Say hello"
    assert emulator.last_request("/chat/completions").body["model"] == "gpt-4.1"
    target = tmp_path / "work" / "chat.txt"
    result = run_claude(claude, proxy, tmp_path, _write_prompt(target), "--allowedTools", "Write", env_extra=chat_only)
    assert target.read_text() == "written via the proxy\n"
    assert result["num_turns"] == 2
    assert emulator.last_request("/chat/completions").header("x-initiator") == "agent"
