"""The options of `copilot-hybrid serve`, as one value the app factory takes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from copilot_hybrid.config import (
    DEFAULT_GITHUB_API_URL,
    DEFAULT_GITHUB_URL,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_HOST,
    DEFAULT_KEEP_ALIVE_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_PING_INTERVAL,
    DEFAULT_PORT,
    DEFAULT_STREAM_IDLE_TIMEOUT,
    DEFAULT_UPSTREAM_TIMEOUT,
    DEFAULT_UPSTREAM_TRANSPORT,
)
from copilot_hybrid.observe.settings import ObserveSettings


@dataclass
class ServerSettings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    verbose: bool = False
    account_type: str = "individual"
    manual: bool = False
    rate_limit_seconds: int | None = None
    rate_limit_wait: bool = False
    github_token: str | None = None
    claude_code: bool = False
    show_token: bool = False
    proxy_env: bool = False
    github_url: str = DEFAULT_GITHUB_URL
    github_api_url: str = DEFAULT_GITHUB_API_URL
    copilot_api_url: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # Read/write the token file (False for the emulator demo, which must not replace a real login).
    persist_token: bool = True
    # Run the device flow when no token is at hand (False: fail with a message instead).
    interactive_login: bool = True
    # Skip the AUR lookup (offline demo); the env pin still wins.
    offline: bool = False
    # --manual's question; None asks on the terminal. Tests pass a function.
    approver: Callable[[str], bool] | None = None
    # Printed as Claude Code's ANTHROPIC_BASE_URL.
    public_url: str | None = None
    # ---- who may use the proxy (server/access.py) ----
    # Client keys (--api-key / COPILOT_HYBRID_API_KEYS); empty: no key needed (loopback only).
    api_keys: tuple[str, ...] = ()
    # Host names accepted besides loopback and the bound host (--allowed-host; "*.example.com" too).
    allowed_hosts: tuple[str, ...] = ()
    # Web origins that may call the proxy and get CORS headers (--cors-origin).
    cors_origins: tuple[str, ...] = ()
    # Metrics, request history, JSON request log (copilot_hybrid/observe).
    observe: ObserveSettings = field(default_factory=ObserveSettings)
    # Connections (server/connections.py) and upstream waits (copilot/client.py, server/streams.py).
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    keep_alive_timeout: int = DEFAULT_KEEP_ALIVE_TIMEOUT
    # None: derived from the file descriptor limit (connections.default_max_connections).
    max_connections: int | None = None
    upstream_timeout: float = DEFAULT_UPSTREAM_TIMEOUT
    # aiohttp or httpx (--upstream-transport; copilot/client.make_http_client).
    upstream_transport: str = DEFAULT_UPSTREAM_TRANSPORT
    stream_idle_timeout: float = DEFAULT_STREAM_IDLE_TIMEOUT
    ping_interval: float = DEFAULT_PING_INTERVAL
    # The event loop and HTTP parser (server/stack.py); None: uvloop and httptools where installed.
    loop: str | None = None
    http_parser: str | None = None
    # ---- models and routing (server/routing.py) ----
    # Client model id -> Copilot id ([models.aliases] in config.toml, then --model-alias).
    model_aliases: Mapping[str, str] = field(default_factory=dict)
    # Anthropic requests for models that list /v1/messages go there natively
    # (False: --no-native-messages or `[server] native_messages = false`).
    native_messages: bool = True
    # Claude Code's warm-up probes and compaction go to this model (--small-model).
    small_model: str | None = None
    # count_tokens never asks Copilot (--offline-count-tokens).
    offline_count_tokens: bool = False

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = self.host
        if host in ("0.0.0.0", "::", ""):  # noqa: S104 - only naming the wildcard, not binding it
            host = "localhost"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"
