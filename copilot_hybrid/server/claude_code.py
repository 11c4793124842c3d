"""The command `serve --claude-code` prints: env vars for Claude Code, per shell."""

from __future__ import annotations

import shlex
import shutil
import subprocess


def claude_code_env(base_url: str, main: str, small: str, api_key: str | None = None) -> list[tuple[str, str]]:
    """`api_key` goes in ANTHROPIC_AUTH_TOKEN (sent as `Authorization: Bearer`):
    Claude Code uses it without asking, where ANTHROPIC_API_KEY needs a yes first."""
    return [
        ("ANTHROPIC_BASE_URL", base_url),
        ("ANTHROPIC_AUTH_TOKEN", api_key or "dummy"),
        ("ANTHROPIC_MODEL", main),
        ("ANTHROPIC_DEFAULT_SONNET_MODEL", main),
        ("ANTHROPIC_SMALL_FAST_MODEL", small),
        ("ANTHROPIC_DEFAULT_HAIKU_MODEL", small),
        ("DISABLE_NON_ESSENTIAL_MODEL_CALLS", "1"),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
    ]


def claude_code_command(
    base_url: str, main: str, small: str, *, shell: str, windows: bool = False, api_key: str | None = None
) -> str:
    """Values are quoted for the shell (copilot-api left them bare)."""
    env = claude_code_env(base_url, main, small, api_key)
    if windows:
        # Without a reliable parent-shell probe, PowerShell syntax is the safe modern default.
        return "; ".join(f"$env:{k} = '{v}'" for k, v in env) + "; claude"
    if shell.endswith("fish"):
        return "; ".join(f"set -gx {k} {shlex.quote(v)}" for k, v in env) + "; and claude"
    return "export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in env) + " && claude"


def copy_to_clipboard(text: str) -> bool:
    for command in (
        ["pbcopy"],
        ["wl-copy"],
        ["xclip", "-selection", "clipboard"],
        ["xsel", "--clipboard", "--input"],
        ["clip"],
    ):
        if shutil.which(command[0]):
            try:
                subprocess.run(command, input=text.encode(), check=True, timeout=5)
                return True
            except (OSError, subprocess.SubprocessError):
                continue
    return False
