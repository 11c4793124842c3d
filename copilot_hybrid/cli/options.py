"""Options shared by several commands, declared once (imports only typer)."""

from __future__ import annotations

from typing import Annotated

import typer

from copilot_hybrid.github.constants import DEFAULT_GITHUB_API_URL, DEFAULT_GITHUB_URL

__all__ = ["DEFAULT_GITHUB_API_URL", "DEFAULT_GITHUB_URL", "GitHubApiUrl", "GitHubUrl"]

GitHubUrl = Annotated[
    str, typer.Option("--github-url", envvar="COPILOT_HYBRID_GITHUB_URL", show_envvar=True, help="GitHub web base.")
]
GitHubApiUrl = Annotated[
    str,
    typer.Option("--github-api-url", envvar="COPILOT_HYBRID_GITHUB_API_URL", show_envvar=True, help="GitHub API base."),
]
