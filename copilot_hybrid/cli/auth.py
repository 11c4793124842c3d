"""`copilot-hybrid auth`: log in to GitHub with the device flow and store the token (0600)."""

from __future__ import annotations

from typing import Annotated

import typer

from copilot_hybrid.cli.options import DEFAULT_GITHUB_API_URL, DEFAULT_GITHUB_URL, GitHubApiUrl, GitHubUrl


def register(app: typer.Typer) -> None:
    app.command("auth")(auth_command)


def auth_command(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    show_token: Annotated[bool, typer.Option("--show-token", help="Print the GitHub token once obtained.")] = False,
    github_url: GitHubUrl = DEFAULT_GITHUB_URL,
    github_api_url: GitHubApiUrl = DEFAULT_GITHUB_API_URL,
) -> None:
    """Log in to GitHub (device flow, always a fresh login) and write the token file."""
    import asyncio
    import logging

    from copilot_hybrid.errors import CopilotHybridError
    from copilot_hybrid.logs import setup_logging

    setup_logging(verbose)
    log = logging.getLogger("copilot_hybrid.auth")
    try:
        path = asyncio.run(_auth(github_url, github_api_url, show_token))
    except CopilotHybridError as exc:
        log.error("Login failed: %s", exc)
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    log.info("GitHub token written to %s", path)


async def _auth(github_url: str, github_api_url: str, show_token: bool) -> str:
    from copilot_hybrid.copilot.client import make_http_client
    from copilot_hybrid.github.login import setup_github_token

    async with make_http_client() as http:
        login = await setup_github_token(
            http, github_url=github_url, github_api_url=github_api_url, force=True, show_token=show_token
        )
    return str(login.path)
