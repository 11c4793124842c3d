"""Options shared by several commands, declared once (imports only typer)."""

from __future__ import annotations

from typing import Annotated

import typer

from copilot_hybrid import config
from copilot_hybrid.config import DEFAULT_GITHUB_API_URL, DEFAULT_GITHUB_URL

__all__ = ["DEFAULT_GITHUB_API_URL", "DEFAULT_GITHUB_URL", "GitHubApiUrl", "GitHubUrl"]

GitHubUrl = Annotated[
    str, typer.Option("--github-url", envvar=config.GITHUB_URL_ENV, show_envvar=True, help="GitHub web base.")
]
GitHubApiUrl = Annotated[
    str,
    typer.Option("--github-api-url", envvar=config.GITHUB_API_URL_ENV, show_envvar=True, help="GitHub API base."),
]
