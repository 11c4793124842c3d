"""The Copilot token: exchanged for the GitHub token, refreshed by wall clock.

copilot-api refreshes on a fixed `setInterval(refresh_in - 60)`: a laptop that
slept past the deadline keeps serving an expired token, and a failed refresh is
never retried. Here every use checks the wall clock (time.time, which keeps
counting through suspend) against the token's own deadlines; the refresh runs
under an asyncio lock (one exchange however many requests are waiting), is
retried with backoff, and a still-valid old token bridges a failing refresh.
A 401 from Copilot makes the caller force one refresh (`refresh(stale=...)`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from copilot_hybrid.config import DEFAULT_GITHUB_API_URL
from copilot_hybrid.copilot.headers import github_headers
from copilot_hybrid.errors import CopilotTokenError, UpstreamError

log = logging.getLogger(__name__)

REFRESH_MARGIN = 60.0  # refresh this long before refresh_in/expires_at run out
RETRY_AFTER_FAILURE = 30.0  # while an old token is still valid, try again this much later
BACKGROUND_MAX_SLEEP = 60.0  # the background loop re-reads the wall clock at least this often


@dataclass(frozen=True)
class CopilotToken:
    token: str
    expires_at: float  # epoch seconds
    refresh_at: float  # epoch seconds: refresh from here on
    api_base: str | None  # endpoints.api from the exchange, when trusted

    def usable(self, now: float) -> bool:
        return now < self.expires_at - 5


def _trusted_api_base(value: Any, github_api_url: str) -> str | None:
    """endpoints.api receives the token, so on github.com only a *.githubcopilot.com https host is taken.

    A non-default GitHub API (Enterprise, the emulator) is trusted to name its own Copilot host.
    """
    if not isinstance(value, str) or not value:
        return None
    parts = urlsplit(value)
    if github_api_url.rstrip("/") != DEFAULT_GITHUB_API_URL:
        return value.rstrip("/") if parts.scheme in ("http", "https") and parts.netloc else None
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and (host == "githubcopilot.com" or host.endswith(".githubcopilot.com")):
        return value.rstrip("/")
    log.warning("Ignoring an unexpected Copilot API base from the token exchange: %s", value)
    return None


def parse_token_response(data: Any, now: float, *, github_api_url: str = DEFAULT_GITHUB_API_URL) -> CopilotToken:
    if not isinstance(data, dict) or not isinstance(data.get("token"), str) or not data["token"]:
        raise CopilotTokenError("The Copilot token exchange answered without a token")
    refresh_in = data.get("refresh_in")
    expires_at = data.get("expires_at")
    refresh_in = float(refresh_in) if isinstance(refresh_in, (int, float)) and refresh_in > 0 else None
    expires = float(expires_at) if isinstance(expires_at, (int, float)) and expires_at > 0 else None
    if expires is None:
        expires = now + (refresh_in + REFRESH_MARGIN if refresh_in else 25 * 60)
    if refresh_in is None:
        refresh_in = max(0.0, expires - now)
    # Refresh ahead of both deadlines; a very short lifetime refreshes at its midpoint.
    lead = REFRESH_MARGIN if refresh_in > 2 * REFRESH_MARGIN else refresh_in / 2
    refresh_at = now + refresh_in - lead
    life = expires - now
    refresh_at = min(refresh_at, now + (life - REFRESH_MARGIN if life > 2 * REFRESH_MARGIN else life / 2))
    endpoints = data.get("endpoints")
    api = _trusted_api_base(endpoints.get("api") if isinstance(endpoints, dict) else None, github_api_url)
    return CopilotToken(token=data["token"], expires_at=expires, refresh_at=refresh_at, api_base=api)


class CopilotTokenManager:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        github_api_url: str,
        github_token: str,
        vscode_version: str,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        attempts: int = 4,
        backoff: float = 0.5,
        on_new_token: Callable[[CopilotToken], None] | None = None,
    ) -> None:
        self._http = http
        self.github_api_url = github_api_url.rstrip("/")
        self._github_token = github_token
        self.vscode_version = vscode_version
        self._clock = clock
        self._sleep = sleep
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._on_new_token = on_new_token
        self._token: CopilotToken | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.exchanges = 0  # how many successful exchanges (tests and /debug)

    @property
    def current(self) -> CopilotToken | None:
        return self._token

    async def get(self) -> CopilotToken:
        """A token that is valid now, refreshing first when its refresh time has passed."""
        token = self._token
        if token is not None and self._clock() < token.refresh_at:
            return token
        return await self._refresh_if(lambda t: t is None or self._clock() >= t.refresh_at, bridge=True)

    async def refresh(self, *, stale: str | None = None) -> CopilotToken:
        """Forces a new exchange; with `stale`, only if that token is still the current one
        (so a burst of 401s on the same token causes one exchange)."""
        return await self._refresh_if(lambda t: t is None or stale is None or t.token == stale, bridge=False)

    async def _refresh_if(self, needed: Callable[[CopilotToken | None], bool], *, bridge: bool) -> CopilotToken:
        async with self._lock:
            old = self._token
            if old is not None and not needed(old):
                return old
            try:
                new = await self._fetch_with_retry()
            except CopilotTokenError as exc:
                now = self._clock()
                # A token Copilot just rejected (forced refresh) is no bridge.
                if bridge and old is not None and old.usable(now):
                    log.warning("Copilot token refresh failed (%s); the current token stays in use for now", exc)
                    self._token = CopilotToken(old.token, old.expires_at, now + RETRY_AFTER_FAILURE, old.api_base)
                    return self._token
                raise
            self._token = new
            self.exchanges += 1
            if self._on_new_token is not None:
                self._on_new_token(new)
            return new

    async def _fetch_with_retry(self) -> CopilotToken:
        delay = self._backoff
        for attempt in range(1, self._attempts + 1):
            try:
                return await self._fetch()
            except CopilotTokenError as exc:
                if exc.status in (401, 403, 404) or attempt == self._attempts:
                    raise
                log.warning("Copilot token exchange failed (%s); retry %d in %.1f s", exc, attempt, delay)
            await self._sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    async def _fetch(self) -> CopilotToken:
        url = f"{self.github_api_url}/copilot_internal/v2/token"
        try:
            response = await self._http.get(url, headers=github_headers(self._github_token, self.vscode_version))
        except httpx.HTTPError as exc:
            raise CopilotTokenError(f"could not reach {url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 400:
            err = UpstreamError(response.status_code, response.content, url=url)
            hint = ""
            if response.status_code in (401, 403, 404):
                hint = " (is the GitHub token valid and does the account have Copilot? run `copilot-hybrid auth`)"
            raise CopilotTokenError(
                f"the Copilot token exchange answered HTTP {response.status_code}: {err.message}{hint}",
                status=response.status_code,
            )
        try:
            data = response.json()
        except ValueError as exc:
            raise CopilotTokenError("the Copilot token exchange answered with non-JSON text") from exc
        return parse_token_response(data, self._clock(), github_api_url=self.github_api_url)

    # Background refresh: so requests rarely wait for an exchange. It sleeps in short
    # steps and re-reads the wall clock, so a suspend/resume is noticed within a minute.
    def start_background(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._background(), name="copilot-token-refresh")

    async def _background(self) -> None:
        while True:
            token = self._token
            wait = BACKGROUND_MAX_SLEEP if token is None else token.refresh_at - self._clock()
            await self._sleep(min(max(wait, 1.0), BACKGROUND_MAX_SLEEP))
            try:
                await self.get()
            except Exception as exc:  # noqa: BLE001 - the loop must outlive any one failure
                log.error("Background Copilot token refresh failed: %s", exc)
                await self._sleep(RETRY_AFTER_FAILURE)

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
