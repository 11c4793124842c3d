"""Browser isolation and client keys, in-process: the policy's decisions, the
settings checks that stop `serve` before it listens, and the pieces the CLI
builds from them. The same rules over real sockets: tests/e2e/test_browser_isolation.py."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from copilot_hybrid import config
from copilot_hybrid.errors import ConfigError
from copilot_hybrid.redact import redact
from copilot_hybrid.server.access import AccessPolicy, check_access_settings, host_name, install, is_loopback_host
from copilot_hybrid.server.claude_code import claude_code_command
from copilot_hybrid.server.settings import ServerSettings

KEY = "unit-test-client-key-0123"


def policy(**changes: Any) -> AccessPolicy:
    return AccessPolicy.from_settings(ServerSettings(port=4141, **changes))


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("localhost:4141", "localhost"),
        ("LocalHost", "localhost"),
        ("localhost.:4141", "localhost"),
        ("[::1]:4141", "::1"),
        ("127.0.0.1", "127.0.0.1"),
        ("evil.example:4141", "evil.example"),
        ("evil.example:nope", "evil.example:nope"),
    ],
)
def test_host_name(header: str, name: str) -> None:
    assert host_name(header) == name


def test_default_hosts_are_loopback_names_and_addresses_only() -> None:
    rules = policy()
    for name in ("localhost", "127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1", "app.localhost", "a.b.localhost"):
        assert rules.host_allowed(name), name
    for name in ("evil.example", "localhost.evil.example", "evillocalhost", "10.0.0.1", "0.0.0.0", "", "::"):
        assert not rules.host_allowed(name), name


def test_bound_host_and_allowed_hosts_are_added() -> None:
    rules = policy(host="192.168.1.5", api_keys=(KEY,), allowed_hosts=("Box.LAN.", "*.corp.example"))
    for name in ("192.168.1.5", "box.lan", "build.corp.example", "localhost"):
        assert rules.host_allowed(name), name
    for name in ("corp.example", "192.168.1.6", "lan"):
        assert not rules.host_allowed(name), name


def test_a_wildcard_bind_accepts_any_address_but_no_unlisted_name() -> None:
    """An address in Host cannot be a rebinding attack (that needs a name the attacker controls)."""
    rules = policy(host="0.0.0.0", api_keys=(KEY,))
    assert rules.host_allowed("192.168.1.5") and rules.host_allowed("fe80::1")
    assert not rules.host_allowed("evil.example")


def test_origins() -> None:
    rules = policy(cors_origins=("https://App.example/",))
    assert rules.origin_allowed("http://127.0.0.1:4141", "127.0.0.1:4141", strict=False)
    assert rules.origin_allowed("http://localhost:4141", "127.0.0.1:4141", strict=False)
    assert rules.origin_allowed("http://[::1]:4141", "localhost:4141", strict=False)
    assert rules.origin_allowed("https://app.example", "127.0.0.1:4141", strict=False)
    assert not rules.origin_allowed("https://app.example", "127.0.0.1:4141", strict=True)  # /token
    # Same origin as the Host asked for (already on the allow-list): a page this server served.
    assert rules.origin_allowed("http://dev.localhost:4141", "dev.localhost:4141", strict=True)
    for origin in ("https://evil.example", "http://localhost:4142", "null", "http://app.example", ""):
        assert not rules.origin_allowed(origin, "127.0.0.1:4141", strict=False), origin


def test_keys_match_from_any_of_the_three_headers_and_nothing_else() -> None:
    rules = policy(api_keys=(KEY, "other-client-key-abcdefgh"))
    ok = [
        [(b"authorization", f"Bearer {KEY}".encode())],
        [(b"authorization", f"bearer {KEY}".encode())],
        [(b"x-api-key", b"other-client-key-abcdefgh")],
        [(b"api-key", KEY.encode())],
        [(b"authorization", b"Bearer dummy"), (b"x-api-key", KEY.encode())],  # Claude Code with both set
    ]
    for headers in ok:
        assert rules.key_presented(headers), headers
    bad = [
        [],
        [(b"authorization", KEY.encode())],  # no scheme
        [(b"authorization", f"Basic {KEY}".encode())],
        [(b"x-api-key", KEY.encode() + b" ")],
        [(b"x-api-key", KEY[:-1].encode())],
        [(b"cookie", KEY.encode())],
    ]
    for headers in bad:
        assert not rules.key_presented(headers), headers


def test_settings_checks_stop_what_cannot_be_safe() -> None:
    for host in ("0.0.0.0", "::", "192.168.1.5", "box.lan"):
        with pytest.raises(ConfigError, match="--api-key") as info:
            check_access_settings(ServerSettings(host=host))
        assert config.API_KEYS_ENV in str(info.value)
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        check_access_settings(ServerSettings(host=host))
    check_access_settings(ServerSettings(host="0.0.0.0", api_keys=(KEY,)))
    with pytest.raises(ConfigError, match="16 characters"):
        check_access_settings(ServerSettings(api_keys=("short",)))
    for unusable in (
        "has a space in the middle",
        "has,a,comma,in,the,middle",
        "non-ascii-key-ünïcødé-xx",
        "tab\tkey-0123456789",
    ):
        with pytest.raises(ConfigError, match="printable"):
            check_access_settings(ServerSettings(api_keys=(unusable,)))
    with pytest.raises(ConfigError, match="wildcard"):
        check_access_settings(ServerSettings(cors_origins=("*",)))
    with pytest.raises(ConfigError, match="--cors-origin"):
        check_access_settings(ServerSettings(cors_origins=("https://app.example/path",)))
    with pytest.raises(ConfigError, match="--allowed-host"):
        check_access_settings(ServerSettings(allowed_hosts=("box.lan:8080",)))


def test_checked_keys_are_masked_in_logs() -> None:
    key = "never-printed-client-key-42"
    check_access_settings(ServerSettings(api_keys=(key,)))
    assert redact(f"model {key}!") == "model [REDACTED]!"


def test_api_keys_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.API_KEYS_ENV, f" {KEY} ,, second-client-key-xyz,")
    assert config.api_keys_from_env() == (KEY, "second-client-key-xyz")
    monkeypatch.delenv(config.API_KEYS_ENV)
    assert config.api_keys_from_env() == ()


def test_loopback_hosts() -> None:
    assert all(is_loopback_host(h) for h in ("127.0.0.1", "localhost", "::1", "[::1]", "127.1.2.3", "x.localhost"))
    assert not any(is_loopback_host(h) for h in ("0.0.0.0", "", "::", "10.1.1.1", "box"))


def test_claude_code_command_carries_the_key() -> None:
    keyed = claude_code_command("http://localhost:4141", "a", "b", shell="/bin/bash", api_key=KEY)
    assert f"ANTHROPIC_AUTH_TOKEN={KEY}" in keyed
    plain = claude_code_command("http://localhost:4141", "a", "b", shell="/bin/bash")
    assert "ANTHROPIC_AUTH_TOKEN=dummy" in plain


# ---- the middleware in-process: what reaches the app ---------------------------------


def run(settings: ServerSettings, method: str, path: str, headers: dict[str, str]) -> tuple[httpx.Response, int]:
    from fastapi import FastAPI

    app = FastAPI()
    reached: list[str] = []

    async def endpoint() -> PlainTextResponse:
        reached.append(path)
        return PlainTextResponse("ok")

    for route in ("/", "/v1/messages", "/v1/models", "/token"):
        app.add_api_route(route, endpoint, methods=["GET", "POST", "HEAD"])
    install(app, settings)

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:4141") as client:
            return await client.request(method, path, headers=headers)

    return asyncio.run(go()), len(reached)


def test_refusals_happen_before_the_app_runs() -> None:
    keyed = ServerSettings(port=4141, api_keys=(KEY,))
    response, reached = run(keyed, "POST", "/v1/messages", {"origin": "https://evil.example"})
    assert (response.status_code, reached) == (403, 0)
    assert response.json()["error"]["type"] == "permission_error"
    response, reached = run(keyed, "POST", "/v1/messages", {"host": "evil.example"})
    assert (response.status_code, reached) == (403, 0)
    response, reached = run(keyed, "POST", "/v1/models", {})
    assert (response.status_code, reached) == (401, 0)
    assert response.json()["error"]["type"] == "authentication_error"
    response, reached = run(keyed, "POST", "/v1/models", {"x-api-key": KEY})
    assert (response.status_code, reached) == (200, 1)
    response, reached = run(keyed, "HEAD", "/", {})
    assert (response.status_code, reached) == (200, 1)


def test_non_http_scopes_pass_through() -> None:
    seen: list[str] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    from copilot_hybrid.server.access import BrowserGuard, KeyGuard

    rules = policy(api_keys=(KEY,))
    for guard in (BrowserGuard(inner, rules), KeyGuard(inner, rules)):

        async def receive() -> dict[str, Any]:
            return {"type": "lifespan.startup"}

        async def send(message: Any) -> None:
            pass

        asyncio.run(guard({"type": "lifespan"}, receive, send))
    assert seen == ["lifespan", "lifespan"]


# ---- the CLI's wiring ------------------------------------------------------------------


def test_serve_takes_keys_from_the_environment_and_flags_replace_them(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from copilot_hybrid.cli import make_app, serve

    seen: list[ServerSettings] = []

    def fake_run_server(settings: ServerSettings, *, emulator: bool = False) -> int:
        seen.append(settings)
        return 0

    monkeypatch.setattr(serve, "run_server", fake_run_server)
    runner = CliRunner()
    env = {config.API_KEYS_ENV: f"{KEY},second-client-key-xyz"}
    assert runner.invoke(make_app(), ["serve"], env=env).exit_code == 0
    args = ["serve", "--api-key", "flag-client-key-0123456", "--allowed-host", "a.lan", "--cors-origin", "https://x.io"]
    assert runner.invoke(make_app(), args, env=env).exit_code == 0
    assert seen[0].api_keys == (KEY, "second-client-key-xyz")
    assert seen[1].api_keys == ("flag-client-key-0123456",)
    assert (seen[1].allowed_hosts, seen[1].cors_origins) == (("a.lan",), ("https://x.io",))


def test_serve_claude_code_prints_the_command_with_the_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from types import SimpleNamespace

    from copilot_hybrid.cli import serve
    from copilot_hybrid.copilot.registry import parse_models
    from copilot_hybrid.emulator.catalog import default_models
    from copilot_hybrid.server import claude_code

    answers = iter(["1", "2"])
    monkeypatch.setattr(serve.typer, "prompt", lambda *args, **kwargs: next(answers))
    monkeypatch.setattr(claude_code, "copy_to_clipboard", lambda text: False)
    monkeypatch.setattr(config, "login_shell", lambda: "/bin/bash")
    runtime = SimpleNamespace(
        models=SimpleNamespace(
            infos=lambda: parse_models(
                {"data": [m for m in default_models() if m["id"] in ("claude-sonnet-4.5", "gpt-4.1")]}
            )
        ),
        settings=ServerSettings(api_keys=(KEY,)),
    )
    serve.claude_code_setup(runtime)  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert f"ANTHROPIC_AUTH_TOKEN={KEY}" in out and "ANTHROPIC_MODEL=claude-sonnet-4.5" in out
