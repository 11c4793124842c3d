"""The VS Code version sent as `editor-version`.

copilot-api fetches it from AUR at startup with a 5 s timeout (and, as a quirk,
on every CLI command). Here: only `serve` asks, with a short timeout, and an
env var pins it (tests, offline use).
"""

from __future__ import annotations

import logging
import re

import httpx

from copilot_hybrid import config

log = logging.getLogger(__name__)
_PKGVER = re.compile(r"pkgver=([0-9.]+)")
TIMEOUT_SECONDS = 2.0
VSCODE_VERSION_FALLBACK = "1.104.3"
VSCODE_VERSION_URL = "https://aur.archlinux.org/cgit/aur.git/plain/PKGBUILD?h=visual-studio-code-bin"


def pinned_vscode_version() -> str | None:
    return config.env(config.VSCODE_VERSION_ENV)


async def fetch_vscode_version(http: httpx.AsyncClient, *, timeout: float = TIMEOUT_SECONDS) -> str:
    """The pinned version, else the AUR package's, else the fallback; never raises."""
    pinned = pinned_vscode_version()
    if pinned:
        return pinned
    try:
        response = await http.get(VSCODE_VERSION_URL, timeout=timeout)
        match = _PKGVER.search(response.text) if response.status_code == 200 else None
        if match:
            return match.group(1)
        log.debug("No pkgver in the AUR answer (HTTP %s); using the fallback", response.status_code)
    except httpx.HTTPError as exc:
        log.debug("VS Code version lookup failed (%s); using the fallback", type(exc).__name__)
    return VSCODE_VERSION_FALLBACK
