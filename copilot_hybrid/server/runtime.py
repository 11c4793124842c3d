"""Everything the routes share: the one HTTP client, tokens, Copilot client,
model registry, rate limiter and the --manual approver. `start()` is copilot-api's
startup sequence; the app's lifespan runs it, so nothing listens until it succeeded."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx

from copilot_hybrid.copilot.client import CopilotClient, make_http_client, transport_name
from copilot_hybrid.copilot.registry import ModelInfo, ModelRegistry
from copilot_hybrid.copilot.resolution import Caller, resolve_model
from copilot_hybrid.copilot.token import CopilotToken, CopilotTokenManager
from copilot_hybrid.errors import ApiError
from copilot_hybrid.github.login import GitHubLogin, setup_github_token
from copilot_hybrid.github.vscode import VSCODE_VERSION_FALLBACK, fetch_vscode_version, pinned_vscode_version
from copilot_hybrid.observe.upstream import watch_upstream
from copilot_hybrid.redact import register_secret
from copilot_hybrid.server.routing import check_small_model, reachable
from copilot_hybrid.server.settings import ServerSettings

if TYPE_CHECKING:
    from copilot_hybrid.server.rate_limiter import RateLimiter

log = logging.getLogger("copilot_hybrid.server")


def terminal_approver(summary: str) -> bool:
    """--manual's question on the terminal; no terminal means no."""
    if not sys.stdin or not sys.stdin.isatty():
        log.warning("--manual: no terminal to ask on; rejecting %s", summary)
        return False
    try:
        answer = input(f"Accept incoming request? ({summary}) [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


class Runtime:
    def __init__(self, settings: ServerSettings) -> None:
        from copilot_hybrid.server.rate_limiter import RateLimiter

        self.settings = settings
        self.limiter: RateLimiter = RateLimiter(settings.rate_limit_seconds, wait=settings.rate_limit_wait)
        self.approver: Callable[[str], bool] = settings.approver or terminal_approver
        self._approval_lock: asyncio.Lock | None = None
        self._http: httpx.AsyncClient | None = None
        self._copilot: CopilotClient | None = None
        self._models: ModelRegistry | None = None
        self.login: GitHubLogin | None = None
        self.vscode_version = VSCODE_VERSION_FALLBACK
        self.started = False
        #: Who answered each count_tokens ("copilot", "local", "local_fallback"), for the metrics.
        self.count_tokens_answers: Counter[str] = Counter()

    # The parts exist only after start(); the routes only run after it.
    @property
    def http(self) -> httpx.AsyncClient:
        assert self._http is not None, "Runtime.start() has not run"
        return self._http

    @property
    def copilot(self) -> CopilotClient:
        assert self._copilot is not None, "Runtime.start() has not run"
        return self._copilot

    @property
    def models(self) -> ModelRegistry:
        assert self._models is not None, "Runtime.start() has not run"
        return self._models

    def resolve(self, requested: str, caller: Caller) -> ModelInfo:
        """The Copilot model for a client's model id, with the user's aliases
        (copilot.resolution); ModelNotAvailable in `caller`'s words when the plan
        lacks it, suggesting only models the caller's API reaches."""
        return resolve_model(
            requested,
            self.models.infos(),
            aliases=self.settings.model_aliases,
            caller=caller,
            usable=lambda model: reachable(model, "anthropic" if caller == "anthropic" else "chat", self.settings),
        )

    @property
    def tokens(self) -> CopilotTokenManager:
        return self.copilot.tokens

    async def start(self) -> None:
        s = self.settings
        # A read may wait as long as either timeout allows; the headers are bounded by
        # --upstream-timeout in CopilotClient.send, a stream's silences by its idle timeout.
        read_timeout = max(s.upstream_timeout, s.stream_idle_timeout)
        self._http = make_http_client(proxy_env=s.proxy_env, read_timeout=read_timeout, transport=s.upstream_transport)
        log.info("Upstream transport: %s", transport_name(self._http))
        if s.observe.enabled:
            watch_upstream(self._http)
        if s.account_type.strip().lower() not in ("", "individual"):
            log.info("Using %s plan GitHub account", s.account_type)
        pinned = pinned_vscode_version()
        if pinned or s.offline:
            self.vscode_version = pinned or VSCODE_VERSION_FALLBACK
        else:
            self.vscode_version = await fetch_vscode_version(self._http)
        log.info("Using VSCode version: %s", self.vscode_version)
        self.login = await setup_github_token(
            self._http,
            github_url=s.github_url,
            github_api_url=s.github_api_url,
            provided=s.github_token,
            persist=s.persist_token,
            interactive=s.interactive_login,
            show_token=s.show_token,
        )
        tokens = CopilotTokenManager(
            self._http,
            github_api_url=s.github_api_url,
            github_token=self.login.token,
            vscode_version=self.vscode_version,
            on_new_token=self._on_new_token,
        )
        self._copilot = CopilotClient(
            self._http,
            tokens,
            vscode_version=self.vscode_version,
            base_override=s.copilot_api_url,
            account_type=s.account_type,
            upstream_timeout=s.upstream_timeout,
        )
        await tokens.get()
        log.info("Copilot API: %s", self._copilot.base_url())
        self._models = ModelRegistry(self._copilot)
        models = await self._models.load()
        log.info("Available models: %s", ", ".join(str(m["id"]) for m in models))
        self._models.start_background()
        check_small_model(self)
        tokens.start_background()
        _warm_tokenizer_in_background()
        self.started = True

    def _on_new_token(self, token: CopilotToken) -> None:
        register_secret(token.token)
        if self.settings.show_token:
            log.info("Copilot token: %s", token.token, extra={"show_secret": True})
        else:
            log.debug("Copilot token refreshed")

    async def aclose(self) -> None:
        if self._models is not None:
            await self._models.aclose()
        if self._copilot is not None:
            await self._copilot.tokens.aclose()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def approve(self, summary: str) -> None:
        """--manual: one question at a time (copilot-api opened concurrent prompts on one terminal)."""
        if not self.settings.manual:
            return
        if self._approval_lock is None:
            self._approval_lock = asyncio.Lock()
        async with self._approval_lock:
            accepted = await asyncio.to_thread(self.approver, summary)
        if not accepted:
            raise ApiError(403, "Request rejected by the operator (--manual)", type="permission_error")


def _warm_tokenizer_in_background() -> None:
    """Loads the vocabularies (about a second) while the server starts
    listening, so that the first count_tokens of a session does not pay it."""
    import threading

    def warm() -> None:
        try:
            from copilot_hybrid.tokenizer import get_encoding

            for name in ("o200k_base", "cl100k_base"):
                get_encoding(name).count("warm up")
        except Exception:  # noqa: BLE001 - warming is an optimisation; count_tokens reports real errors
            log.debug("Tokenizer warm-up failed", exc_info=True)

    threading.Thread(target=warm, name="tokenizer-warmup", daemon=True).start()
