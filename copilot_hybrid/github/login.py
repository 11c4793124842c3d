"""Getting a GitHub token: given (flag or GH_TOKEN), stored, or via the device flow."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from copilot_hybrid.errors import AuthError, UpstreamError
from copilot_hybrid.github.api import get_user
from copilot_hybrid.github.device_flow import DeviceCode, device_flow
from copilot_hybrid.github.token_store import read_github_token, write_github_token
from copilot_hybrid.redact import register_secret

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GitHubLogin:
    token: str
    source: str  # "provided" | "file" | "device_flow"
    login: str | None = None
    path: Path | None = None


def show_code(code: DeviceCode) -> None:
    log.info('Please enter the code "%s" in %s', code.user_code, code.verification_uri)


async def setup_github_token(
    http: httpx.AsyncClient,
    *,
    github_url: str,
    github_api_url: str,
    provided: str | None = None,
    force: bool = False,
    persist: bool = True,
    interactive: bool = True,
    show_token: bool = False,
    on_code: Callable[[DeviceCode], None] = show_code,
) -> GitHubLogin:
    """copilot-api's setupGitHubToken, with the token file read trimmed and written 0600.

    `persist=False` (the emulator demo) neither reads nor writes the token file, so a demo
    never replaces the real login.
    """
    if provided and provided.strip():
        token = provided.strip()
        register_secret(token)
        log.info("Using provided GitHub token")
        _show(token, show_token)
        return GitHubLogin(token, "provided")
    stored = read_github_token() if persist and not force else None
    if stored:
        register_secret(stored)
        _show(stored, show_token)
        login = await _lookup_user(http, github_api_url, stored)
        return GitHubLogin(stored, "file", login)
    if not interactive:
        raise AuthError("Not logged in to GitHub: run `copilot-hybrid auth`, or pass --github-token / GH_TOKEN")
    if not force:
        log.info("Not logged in, getting new access token")
    token = await device_flow(http, github_url, on_code=on_code)
    register_secret(token)
    path = write_github_token(token) if persist else None
    _show(token, show_token)
    login = await _lookup_user(http, github_api_url, token)
    return GitHubLogin(token, "device_flow", login, path)


async def _lookup_user(http: httpx.AsyncClient, github_api_url: str, token: str) -> str | None:
    try:
        user = await get_user(http, github_api_url, token)
    except UpstreamError as exc:
        if exc.status == 401:
            raise AuthError(
                "GitHub rejected the stored token (HTTP 401); run `copilot-hybrid auth` to log in again"
            ) from exc
        raise
    login = user.get("login")
    login = login if isinstance(login, str) else None
    log.info("Logged in as %s", login)
    return login


def _show(token: str, show_token: bool) -> None:
    if show_token:
        log.info("GitHub token: %s", token, extra={"show_secret": True})
