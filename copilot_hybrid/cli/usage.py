"""`copilot-hybrid check-usage`: print the Copilot plan and quotas."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from copilot_hybrid import config
from copilot_hybrid.cli.options import DEFAULT_GITHUB_API_URL, DEFAULT_GITHUB_URL, GitHubApiUrl, GitHubUrl


def register(app: typer.Typer) -> None:
    app.command("check-usage")(check_usage_command)


def check_usage_command(
    github_token: Annotated[
        str | None,
        typer.Option(
            "--github-token", "-g", envvar=config.GITHUB_TOKEN_ENV, show_envvar=True, help="Use this GitHub token."
        ),
    ] = None,
    github_url: GitHubUrl = DEFAULT_GITHUB_URL,
    github_api_url: GitHubApiUrl = DEFAULT_GITHUB_API_URL,
    json_output: Annotated[bool, typer.Option("--json", help="Print the raw usage JSON.")] = False,
) -> None:
    """Show the Copilot plan, quota reset date and premium/chat/completions quotas."""
    import asyncio
    import json
    import logging

    from copilot_hybrid.errors import CopilotHybridError
    from copilot_hybrid.logs import setup_logging

    setup_logging(False)
    log = logging.getLogger("copilot_hybrid.usage")
    try:
        usage = asyncio.run(_fetch(github_token, github_url, github_api_url))
        text = json.dumps(usage, indent=2) if json_output else format_usage(usage)
    except (CopilotHybridError, ValueError, KeyError, TypeError) as exc:
        log.error("Failed to fetch Copilot usage: %s", exc)
        raise typer.Exit(1) from exc
    typer.echo(text)


async def _fetch(github_token: str | None, github_url: str, github_api_url: str) -> Any:
    from copilot_hybrid.copilot.client import make_http_client
    from copilot_hybrid.github.api import get_usage
    from copilot_hybrid.github.login import setup_github_token
    from copilot_hybrid.github.vscode import fetch_vscode_version

    async with make_http_client() as http:
        # copilot-api sent `editor-version: vscode/undefined` here; ask like `serve` does.
        vscode_version = await fetch_vscode_version(http)
        login = await setup_github_token(
            http, github_url=github_url, github_api_url=github_api_url, provided=github_token
        )
        response = await get_usage(http, github_api_url, login.token, vscode_version)
        return response.json()


def _quota_line(name: str, snapshot: Any) -> str:
    if not isinstance(snapshot, dict):
        return f"{name}: N/A"
    if snapshot.get("unlimited"):
        return f"{name}: unlimited"
    entitlement = float(snapshot.get("entitlement") or 0)
    remaining = float(snapshot.get("remaining") or 0)
    used = entitlement - remaining
    pct_used = used / entitlement * 100 if entitlement else 0.0
    pct_remaining = float(snapshot.get("percent_remaining") or 0)
    return f"{name}: {_num(used)}/{_num(entitlement)} used ({pct_used:.1f}% used, {pct_remaining:.1f}% remaining)"


def _num(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def format_usage(usage: Any) -> str:
    """copilot-api's box text; a missing snapshot prints N/A instead of failing."""
    if not isinstance(usage, dict):
        raise ValueError("unexpected usage answer")
    snapshots = usage.get("quota_snapshots") or {}
    lines = [
        f"Copilot Usage (plan: {usage.get('copilot_plan')})",
        f"Quota resets: {usage.get('quota_reset_date')}",
        "",
        "Quotas:",
        "  " + _quota_line("Premium", snapshots.get("premium_interactions")),
        "  " + _quota_line("Chat", snapshots.get("chat")),
        "  " + _quota_line("Completions", snapshots.get("completions")),
    ]
    width = max(len(line) for line in lines)
    border = "─" * (width + 2)
    return "\n".join([f"┌{border}┐", *(f"│ {line.ljust(width)} │" for line in lines), f"└{border}┘"])
