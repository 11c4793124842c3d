"""Who may use the proxy: browser isolation (Host, Origin, CORS) and client API keys.

The proxy spends the user's Copilot quota for whoever reaches it, so by default
(as Jupyter and Ollama do) only the user's own programs may:

- Host allow-list, against DNS rebinding (a page on evil.example whose name
  now resolves to 127.0.0.1): loopback names and addresses, `*.localhost`, the
  bound `--host` and each `--allowed-host`. On a wildcard bind (0.0.0.0, ::)
  any address is accepted too: an address in Host cannot be rebinding, which
  needs a name the attacker controls. Anything else is 403.
- Origin: browsers send it on every cross-origin POST, simple ones (no
  preflight) included; a request whose Origin is neither the proxy's own
  (`http://127.0.0.1:PORT`, `http://localhost:PORT`, `http://[::1]:PORT`, the
  bound host, or the very Host it asked for) nor a `--cors-origin` is 403.
  `/token` answers the proxy's own origins only, never a `--cors-origin`.
- CORS headers (Starlette's CORSMiddleware) for exactly those origins; no `*`.
- Client keys (`--api-key`, COPILOT_HYBRID_API_KEYS): when set, every request
  but the health check (`GET /`, `HEAD /`), the dashboard page and its assets (not
  its data under /dashboard/api/) and CORS preflights needs one, as
  `Authorization: Bearer KEY`, `x-api-key: KEY` or `api-key: KEY`; else 401.

Three pure ASGI layers, outermost first: BrowserGuard, CORS, KeyGuard, so a
refused page never reaches CORS and an allowed page can read its 401. A request
without Origin skips CORS, and without keys there is no KeyGuard. Every
refusal happens before the body is read, in the caller's error format, with
one log line. The sets are computed once; a request costs a few lookups.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from copilot_hybrid import config
from copilot_hybrid.errors import ConfigError
from copilot_hybrid.redact import register_secret
from copilot_hybrid.server.errors import error_response
from copilot_hybrid.server.settings import ServerSettings

log = logging.getLogger(__name__)

#: Shorter keys are refused: a key guards paid quota and can be guessed at line rate.
MIN_API_KEY_LENGTH = 16
_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://[^/?#@\s]+")
_WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - names the wildcard, binds nothing
_KEY_HEADERS = frozenset({b"authorization", b"x-api-key", b"api-key"})
#: Paths whose answer is a secret beyond the proxy itself: own origins only.
_OWN_ORIGIN_ONLY_PATHS = frozenset({"/token"})
_KEY_ADVICE = (
    "send one of the proxy's keys (--api-key / COPILOT_HYBRID_API_KEYS) as `Authorization: Bearer KEY`, "
    "`x-api-key: KEY` or `api-key: KEY`"
)


def host_name(header: str) -> str:
    """The name in a Host header: lower case, without port, brackets or a final dot."""
    value = header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else value
    name, colon, port = value.rpartition(":")
    if colon and port.isdigit() and ":" not in name:
        value = name
    return value.rstrip(".")


def _address(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return None


def is_loopback_host(host: str) -> bool:
    """Whether binding `host` keeps the proxy on this machine (names other than
    localhost count as beyond it: what they resolve to can change)."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    address = _address(name)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address is not None and address.is_loopback


@dataclass(frozen=True)
class AccessPolicy:
    names: frozenset[str]  # exact host names and addresses
    suffixes: tuple[str, ...]  # ".localhost", and ".corp.example" for --allowed-host '*.corp.example'
    any_address: bool  # a wildcard bind: any IP literal in Host
    own_origins: frozenset[str]
    cors_origins: frozenset[str]
    keys: tuple[bytes, ...]

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> AccessPolicy:
        bound = host_name(settings.host) if settings.host not in _WILDCARD_BINDS else ""
        names = {"localhost", "127.0.0.1", "::1"} | ({bound} if bound else set())
        suffixes = [".localhost"]
        for entry in settings.allowed_hosts:
            name = _allowed_host(entry)
            if name.startswith("*."):
                suffixes.append(name[1:])
            else:
                names.add(name)
        port = settings.port
        own_hosts = ["127.0.0.1", "localhost", "[::1]"]
        if bound:
            own_hosts.append(f"[{bound}]" if ":" in bound else bound)
        return cls(
            names=frozenset(names),
            suffixes=tuple(suffixes),
            any_address=settings.host in _WILDCARD_BINDS,
            own_origins=frozenset(f"http://{host}:{port}" for host in own_hosts),
            cors_origins=frozenset(_cors_origin(origin) for origin in settings.cors_origins),
            keys=tuple(key.encode() for key in settings.api_keys),
        )

    def host_allowed(self, name: str) -> bool:
        if name in self.names or name.endswith(self.suffixes):
            return True
        address = _address(name)
        if address is None:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return address.is_loopback or (self.any_address and not address.is_unspecified)

    def origin_allowed(self, origin: str, host: str, *, strict: bool) -> bool:
        """`strict`: the proxy's own origins only (no --cors-origin)."""
        if origin in self.own_origins or (not strict and origin in self.cors_origins):
            return True
        # Same origin as the (already allowed) Host: a page this server itself served.
        scheme, sep, rest = origin.partition("://")
        return bool(sep) and scheme in ("http", "https") and rest == host.lower()

    def key_presented(self, headers: Iterable[tuple[bytes, bytes]]) -> bool:
        """Whether any key header carries one of the keys. Every candidate is compared
        with every key in constant time, so timing says nothing about how close a guess was."""
        found = False
        for name, value in headers:
            if name not in _KEY_HEADERS:
                continue
            if name == b"authorization":
                scheme, _, value = value.partition(b" ")
                if scheme.lower() != b"bearer":
                    continue
            for key in self.keys:
                found |= hmac.compare_digest(value, key)
        return found


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _refuse(
    scope: Scope, receive: Receive, send: Send, status: int, message: str, headers: dict[str, str] | None = None
) -> None:
    path = str(scope.get("path", ""))
    log.warning("Refused %s %s: %s", scope.get("method"), path, message)
    response = error_response(
        path,
        status,
        message,
        type="authentication_error" if status == 401 else "permission_error",
        headers=headers,
    )
    await response(scope, receive, send)


def _quoted(value: str) -> str:
    return repr(value[:200])


class BrowserGuard:
    """403 for a Host outside the allow-list and for an Origin that is not allowed.

    A request without Origin (every SDK and CLI; browsers send one on every cross-origin
    request) goes straight to `without_origin`, past the CORS layer, which would only
    wrap its `send` to add `Vary: Origin`; POST answers are not cached, and no GET answer
    of the proxy is meant for a cache."""

    def __init__(self, app: ASGIApp, policy: AccessPolicy, without_origin: ASGIApp | None = None) -> None:
        self.app = app
        self.policy = policy
        self.without_origin = without_origin or app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host")
        # No Host at all is HTTP/1.0 from a program: browsers always send one.
        if host is not None and not self.policy.host_allowed(host_name(host)):
            name = host_name(host)
            message = (
                f"Host {_quoted(name)} is not allowed (DNS-rebinding protection); "
                f"start the proxy with --allowed-host {name[:200]} to accept this name"
            )
            await _refuse(scope, receive, send, 403, message)
            return
        origin = _header(scope, b"origin")
        if origin is None:
            await self.without_origin(scope, receive, send)
            return
        strict = scope["path"] in _OWN_ORIGIN_ONLY_PATHS
        if not self.policy.origin_allowed(origin, host or "", strict=strict):
            if strict:
                message = f"Origin {_quoted(origin)} is not allowed: /token answers the proxy's own pages only"
            else:
                message = (
                    f"Origin {_quoted(origin)} is not allowed: web pages may use this proxy only "
                    f"if it was started with --cors-origin {origin[:200]}"
                )
            await _refuse(scope, receive, send, 403, message)
            return
        await self.app(scope, receive, send)


def _is_key_free_page(path: str) -> bool:
    """The health check and the dashboard's page and assets: no secret in them, and a
    browser navigation cannot send a header. The dashboard's data (/dashboard/api/*)
    needs the key, which the page sends from its #key=... fragment."""
    return path in ("/", "/dashboard") or path.startswith("/dashboard/static/")


class KeyGuard:
    """401 unless the request carries a client key (when keys are set)."""

    def __init__(self, app: ASGIApp, policy: AccessPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not self.policy.keys
            or (scope["method"] in ("GET", "HEAD") and _is_key_free_page(scope["path"]))
            or self.policy.key_presented(scope["headers"])
        ):
            await self.app(scope, receive, send)
            return
        await _refuse(
            scope, receive, send, 401, f"Missing or wrong API key: {_KEY_ADVICE}", {"www-authenticate": "Bearer"}
        )


def _allowed_host(entry: str) -> str:
    name = entry.strip().lower().rstrip(".").strip("[]")
    bare = name.removeprefix("*.")
    if not bare or "/" in bare or "*" in bare or (":" in bare and _address(bare) is None):
        raise ConfigError(f"--allowed-host {entry!r}: give a host name or address without scheme or port")
    return name


def _cors_origin(entry: str) -> str:
    origin = entry.strip().lower().rstrip("/")
    if origin in ("*", "null"):
        raise ConfigError(f"--cors-origin {entry!r}: no wildcard; name each origin, e.g. https://app.example")
    if not _ORIGIN.fullmatch(origin):
        raise ConfigError(f"--cors-origin {entry!r}: give an origin: scheme://host[:port], no path")
    return origin


def check_access_settings(settings: ServerSettings) -> None:
    """Refuses settings that cannot work or cannot be safe (ConfigError), before
    anything listens, and registers the keys so no log line can show them."""
    for key in settings.api_keys:
        # Printable ASCII fits every header; no space (header syntax) and no comma (the variable's separator).
        if len(key) < MIN_API_KEY_LENGTH or not (key.isascii() and key.isprintable()) or {" ", ","} & set(key):
            raise ConfigError(
                f"An API key must be at least {MIN_API_KEY_LENGTH} characters of printable ASCII without "
                'spaces or commas; make one with: python -c "import secrets; print(secrets.token_urlsafe(32))"'
            )
        register_secret(key)
    for entry in settings.allowed_hosts:
        _allowed_host(entry)
    for entry in settings.cors_origins:
        _cors_origin(entry)
    if not settings.api_keys and not is_loopback_host(settings.host):
        raise ConfigError(
            f"Refusing to listen on {settings.host or '*'} without a client API key: anyone who can reach the "
            "port would spend your Copilot quota. Set one with --api-key KEY or "
            f'{config.API_KEYS_ENV}=KEY (make one with: python -c "import secrets; print(secrets.token_urlsafe(32))"), '
            "and have clients send it as `Authorization: Bearer KEY` or `x-api-key: KEY`"
        )


def install(app: FastAPI, settings: ServerSettings) -> None:
    """Adds the layers to `app`, as one middleware entry built by `wrap`."""
    check_access_settings(settings)
    app.add_middleware(wrap, policy=AccessPolicy.from_settings(settings))


def wrap(app: ASGIApp, policy: AccessPolicy) -> ASGIApp:
    """`app` inside the layers, outermost BrowserGuard; KeyGuard only when keys are set
    (without keys it would only pass every request on)."""
    inner = KeyGuard(app, policy) if policy.keys else app
    cors = CORSMiddleware(
        inner,
        allow_origins=sorted(policy.own_origins | policy.cors_origins),
        allow_methods=["GET", "HEAD", "POST"],
        allow_headers=["*"],  # echoes what the preflight asks for: the SDKs send many x-stainless-* headers
        expose_headers=["retry-after"],
        max_age=600,
    )
    return BrowserGuard(cors, policy, without_origin=inner)
