"""`serve --claude-code`: the models offered for Claude Code, and the command
it prints (env vars for Claude Code, per shell)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Iterable

from copilot_hybrid.copilot.registry import ModelInfo
from copilot_hybrid.copilot.resolution import model_line, newest_first
from copilot_hybrid.errors import ApiError
from copilot_hybrid.server.routing import endpoint_for


def claude_code_models(models: Iterable[ModelInfo], *, native_messages: bool = True) -> list[ModelInfo]:
    """The models to offer: those of Copilot's picker an Anthropic request reaches,
    Claude's first, each group newest first (so today's models lead the list)."""
    offered = []
    for model in models:
        if model.type != "chat" or not model.picker_enabled:
            continue
        try:
            endpoint_for(model, "anthropic", native_messages=native_messages)
        except ApiError:
            continue
        offered.append(model)
    ordered = newest_first(offered)
    return [m for m in ordered if m.id.startswith("claude")] + [m for m in ordered if not m.id.startswith("claude")]


def default_picks(offered: list[ModelInfo]) -> tuple[str, str] | None:
    """(main, small) to propose: the newest Opus (else the first offered) and the
    newest Haiku (else the main model); None when nothing is offered."""
    if not offered:
        return None
    by_line = {
        line: next((m.id for m in offered if model_line(m.id) == line), None)
        for line in ("claude-opus", "claude-haiku")
    }
    main = by_line["claude-opus"] or offered[0].id
    return main, by_line["claude-haiku"] or main


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
