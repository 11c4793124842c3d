"""The real OpenAI Codex CLI (`@openai/codex`, pinned in tools/install_clients.py)
against the proxy and the emulator.

Codex is installed before the tests, once per machine, by
`python tools/install_clients.py codex` (tox -e codex runs it); the fixture only finds
it, and the tests skip only where npm is missing. Each test runs `codex exec
--json` with a throwaway CODEX_HOME whose config.toml is the README's
provider block pointed at the proxy. The emulator's scripts make the model
ask for tools; Codex runs them for real in a temporary folder.

Marked `slow` as well, so the quick suite (`-m "not claude_code and not slow"`)
leaves them to `tox -e codex`.
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

pytestmark = [pytest.mark.codex, pytest.mark.slow, pytest.mark.timeout(300)]

#: The key variable of the README's provider block.
KEY_VARIABLE = "COPILOT_HYBRID_API_KEY"
#: Model -> the Copilot endpoint that serves Codex's request for it.
MODELS = {
    "gpt-5.5": "/responses",  # in Codex's own catalogue: it sends its custom apply_patch tool
    "claude-sonnet-4.5": "/v1/messages",
    "gpt-4.1": "/chat/completions",
}


@pytest.fixture(scope="module")
def codex() -> Path:
    return client_binary("codex")


def provider_config(proxy: Proxy, model: str) -> str:
    """The README's config.toml, with retries off so that a failure shows at once."""
    return (
        f'model = "{model}"\n'
        'model_provider = "copilot_hybrid"\n'
        "\n"
        "[model_providers.copilot_hybrid]\n"
        'name = "copilot-hybrid"\n'
        f'base_url = "{proxy.url}/v1"\n'
        f'env_key = "{KEY_VARIABLE}"\n'
        'wire_api = "responses"\n'
        "request_max_retries = 0\n"
        "stream_max_retries = 0\n"
    )


def run_codex(codex: Path, proxy: Proxy, tmp_path: Path, model: str, prompt: str) -> list[dict[str, Any]]:
    """`codex exec --json`: its JSONL events, after checking it succeeded."""
    home = tmp_path / "codex-home"
    work = tmp_path / "work"
    home.mkdir(exist_ok=True)
    work.mkdir(exist_ok=True)
    (home / "config.toml").write_text(provider_config(proxy, model), encoding="utf-8")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CODEX_HOME": str(home),
        # Codex insists on the variable; a proxy without client keys ignores its value.
        KEY_VARIABLE: proxy.api_key or "no-key-needed",
    }
    done = subprocess.run(
        [
            str(codex),
            "exec",
            "--skip-git-repo-check",
            "--ephemeral",
            "--json",
            "--dangerously-bypass-approvals-and-sandbox",  # runs in tmp_path only
            prompt,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 0, f"codex exited {done.returncode}:\n{done.stdout}\n{done.stderr}\n{proxy.log()[-3000:]}"
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert events and events[-1]["type"] == "turn.completed", done.stdout
    return events


def completed(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e["item"] for e in events if e["type"] == "item.completed" and e["item"]["type"] == kind]


def agent_message(events: list[dict[str, Any]]) -> str:
    messages = completed(events, "agent_message")
    assert messages, events
    return str(messages[-1]["text"])


@pytest.mark.parametrize("model", MODELS)
def test_codex_answers_a_prompt(codex: Path, proxy: Proxy, emulator: Emulator, tmp_path: Path, model: str) -> None:
    events = run_codex(codex, proxy, tmp_path, model, "Say hello")
    # The emulator echoes the last user turn; for Claude that is Codex's environment
    # note and the prompt merged (Messages turns alternate).
    answer = agent_message(events)
    assert answer.startswith(f"Hello from emulated {model}: ") and answer.endswith("Say hello"), answer
    usage = events[-1]["usage"]
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    sent = emulator.requests_to(MODELS[model])
    assert len(sent) == 1 and sent[0].status == 200
    assert sent[0].body["model"] == model
    assert sent[0].header("x-initiator") == "user"


@pytest.mark.parametrize("model", MODELS)
def test_codex_runs_a_shell_command(codex: Path, proxy: Proxy, emulator: Emulator, tmp_path: Path, model: str) -> None:
    command = "printf made-by-codex > shell.txt && echo the-command-ran"
    emulator.script({"tool_calls": [{"name": "exec_command", "arguments": {"cmd": command}}]})
    events = run_codex(codex, proxy, tmp_path, model, "Run the command")
    assert (tmp_path / "work" / "shell.txt").read_text() == "made-by-codex"
    [execution] = completed(events, "command_execution")
    assert execution["exit_code"] == 0 and "the-command-ran" in execution["aggregated_output"]
    # The model's second turn read the command's output.
    answer = agent_message(events)
    assert answer.startswith(f"Hello from emulated {model}: the exec_command tool returned")
    assert "the-command-ran" in answer
    first, second = emulator.requests_to(MODELS[model])
    assert (first.header("x-initiator"), second.header("x-initiator")) == ("user", "agent")
    assert second.status == 200


def test_codex_applies_a_patch(codex: Path, proxy: Proxy, emulator: Emulator, tmp_path: Path) -> None:
    """gpt-5.5 is in Codex's catalogue, so Codex offers its freeform `apply_patch`
    tool, which Copilot refuses: it goes up as a function, and the call comes back
    as the custom tool call Codex can apply."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("old line\n")
    patch = (
        "*** Begin Patch\n"
        "*** Update File: notes.txt\n"
        "@@\n"
        "-old line\n"
        "+new line from the patch\n"
        "*** Add File: added.txt\n"
        "+added through the proxy\n"
        "*** End Patch\n"
    )
    emulator.script({"tool_calls": [{"name": "apply_patch", "arguments": {"input": patch}}]})
    events = run_codex(codex, proxy, tmp_path, "gpt-5.5", "Edit the notes")
    assert (work / "notes.txt").read_text() == "new line from the patch\n"
    assert (work / "added.txt").read_text() == "added through the proxy\n"
    [change] = completed(events, "file_change")
    assert change["status"] == "completed"
    assert "Success" in agent_message(events)

    first, second = emulator.requests_to("/responses")
    [offered] = [tool for tool in first.body["tools"] if tool.get("name") == "apply_patch"]
    assert offered["type"] == "function"  # Codex sent it as `custom`
    replayed = [item for item in second.body["input"] if item.get("type") == "function_call"]
    assert [json.loads(item["arguments"]) for item in replayed] == [{"input": patch}]
    outputs = [item for item in second.body["input"] if item.get("type") == "function_call_output"]
    assert len(outputs) == 1 and outputs[0]["call_id"] == replayed[0]["call_id"]
    assert second.header("x-initiator") == "agent"
