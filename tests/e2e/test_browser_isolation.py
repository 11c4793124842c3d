"""Issue 8's browser and key rows, over real sockets: what a web page in the
user's browser, a DNS-rebinding page or a client without the key can do.

`proxy` runs with and without `--api-key` (see conftest); `keyed_proxy` takes
its keys from COPILOT_HYBRID_API_KEYS and opts one origin and one host name in.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from copilot_hybrid.emulator import Emulator
from tests.support import Proxy, free_port

FOREIGN = "https://evil.example"
OPTED_IN = "https://app.example"
KEYS = ("first-client-key-0123456789", "second-client-key-abcdefghij")
CHAT = {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]}
MESSAGES = {"model": "claude-sonnet-4.5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
BODIES = {"/v1/chat/completions": CHAT, "/v1/messages": MESSAGES}


def is_anthropic_error(response: httpx.Response, status: int, type: str) -> bool:
    data = response.json()
    return response.status_code == status and data == {
        "type": "error",
        "error": {"type": type, "message": data["error"]["message"]},
    }


def is_openai_error(response: httpx.Response, status: int, type: str) -> bool:
    data = response.json()
    return (
        response.status_code == status
        and set(data["error"]) == {"message", "type", "param", "code"}
        and (data["error"]["type"] == type)
    )


def assert_error(path: str, response: httpx.Response, status: int, type: str) -> None:
    check = is_anthropic_error if path.startswith("/v1/messages") else is_openai_error
    assert check(response, status, type), (response.status_code, response.text)


@pytest.fixture(scope="module")
def keyed_proxy(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    running = Proxy(
        emulator,
        tmp_path_factory.mktemp("home-keyed"),
        "--show-token",
        "--verbose",
        "--cors-origin",
        OPTED_IN,
        "--allowed-host",
        "proxy.example",
        env={"COPILOT_HYBRID_API_KEYS": ",".join(KEYS)},
    )
    yield running
    running.stop()


# ---- a web page in the user's browser ---------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/chat/completions"])
def test_cross_origin_simple_post_is_refused_before_any_work(proxy: Proxy, emulator: Emulator, path: str) -> None:
    """What `fetch(url, {method: "POST", mode: "no-cors", body})` sends from any page: no preflight."""
    response = httpx.post(
        proxy.url + path,
        content=json.dumps(BODIES[path]),
        headers={**proxy.headers, "content-type": "text/plain;charset=UTF-8", "origin": FOREIGN},
        timeout=10,
    )
    assert_error(path, response, 403, "permission_error")
    assert FOREIGN in response.json()["error"]["message"]
    assert not any(name.startswith("access-control-") for name in response.headers)
    assert emulator.requests_to("/chat/completions") == []  # nothing reached Copilot


def test_foreign_origin_gets_no_cors_headers_anywhere(proxy: Proxy) -> None:
    for method, path in (("GET", "/v1/models"), ("GET", "/usage"), ("OPTIONS", "/v1/messages")):
        headers = {**proxy.headers, "origin": FOREIGN, "access-control-request-method": "POST"}
        response = httpx.request(method, proxy.url + path, headers=headers, timeout=10)
        assert response.status_code == 403, (method, path)
        assert "access-control-allow-origin" not in response.headers


def test_the_proxys_own_origins_are_allowed(proxy: Proxy) -> None:
    for origin in (f"http://127.0.0.1:{proxy.port}", f"http://localhost:{proxy.port}"):
        response = httpx.post(
            proxy.url + "/v1/chat/completions", json=CHAT, headers={**proxy.headers, "origin": origin}, timeout=10
        )
        assert response.status_code == 200, response.text


# ---- DNS rebinding -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/chat/completions", "/v1/models", "/"])
def test_rebinding_host_is_refused(proxy: Proxy, emulator: Emulator, path: str) -> None:
    """A page on evil.example whose name now resolves to 127.0.0.1: same origin for the
    browser, so only the Host header tells the request apart."""
    host = f"evil.example:{proxy.port}"
    headers = {**proxy.headers, "host": host}
    if path in BODIES:
        response = httpx.post(proxy.url + path, json=BODIES[path], headers=headers, timeout=10)
    else:
        response = httpx.get(proxy.url + path, headers=headers, timeout=10)
    assert_error(path, response, 403, "permission_error")
    assert "evil.example" in response.json()["error"]["message"]
    assert emulator.requests_to("/chat/completions") == []


def test_loopback_names_are_allowed_hosts(proxy: Proxy) -> None:
    for host in ("localhost", "127.0.0.1", "127.0.0.2", "[::1]", "dev.localhost", "LOCALHOST."):
        response = httpx.get(proxy.url + "/v1/models", headers={**proxy.headers, "host": f"{host}:{proxy.port}"})
        assert response.status_code == 200, (host, response.text)


def test_allowed_host_opts_a_name_in(keyed_proxy: Proxy) -> None:
    headers = {"x-api-key": KEYS[0]}
    ok = httpx.get(keyed_proxy.url + "/v1/models", headers={**headers, "host": "proxy.example"}, timeout=10)
    assert ok.status_code == 200
    other = httpx.get(keyed_proxy.url + "/v1/models", headers={**headers, "host": "other.example"}, timeout=10)
    assert other.status_code == 403


# ---- client keys -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/chat/completions", "/v1/messages/count_tokens"])
@pytest.mark.parametrize(
    "headers",
    [{}, {"authorization": "Bearer wrong-key-0123456789"}, {"x-api-key": "wrong"}, {"api-key": KEYS[0] + "x"}],
    ids=["none", "bearer", "x-api-key", "api-key"],
)
def test_missing_or_wrong_key_is_401_in_caller_format(
    keyed_proxy: Proxy, emulator: Emulator, path: str, headers: dict[str, str]
) -> None:
    response = httpx.post(keyed_proxy.url + path, json=BODIES.get(path, MESSAGES), headers=headers, timeout=10)
    assert_error(path, response, 401, "authentication_error")
    assert "API key" in response.json()["error"]["message"]
    assert response.headers["www-authenticate"] == "Bearer"
    assert emulator.requests_to("/chat/completions") == []


@pytest.mark.parametrize(
    "headers",
    [{"authorization": f"Bearer {KEYS[0]}"}, {"x-api-key": KEYS[1]}, {"api-key": KEYS[0]}],
    ids=["bearer", "x-api-key", "api-key"],
)
def test_right_key_is_accepted_in_each_header(keyed_proxy: Proxy, headers: dict[str, str]) -> None:
    for path, body in BODIES.items():
        response = httpx.post(keyed_proxy.url + path, json=body, headers=headers, timeout=10)
        assert response.status_code == 200, (path, response.text)
    assert httpx.get(keyed_proxy.url + "/v1/models", headers=headers, timeout=10).status_code == 200


def test_sdks_send_the_key_the_proxy_expects(keyed_proxy: Proxy) -> None:
    chat = openai.OpenAI(base_url=keyed_proxy.url + "/v1", api_key=KEYS[1], max_retries=0, timeout=30)
    assert chat.chat.completions.create(**CHAT).choices[0].message.content  # type: ignore[call-overload]
    messages = anthropic.Anthropic(base_url=keyed_proxy.url, api_key=KEYS[0], max_retries=0, timeout=30)
    assert messages.messages.create(**MESSAGES).content  # type: ignore[arg-type]
    with pytest.raises(anthropic.AuthenticationError):
        anthropic.Anthropic(base_url=keyed_proxy.url, api_key="nope", max_retries=0).messages.create(**MESSAGES)  # type: ignore[arg-type]
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=keyed_proxy.url + "/v1", api_key="nope", max_retries=0).models.list()


def test_health_needs_no_key(keyed_proxy: Proxy) -> None:
    assert httpx.get(keyed_proxy.url + "/", timeout=10).text == "Server running"


def test_dashboard_page_needs_no_key_but_its_data_and_metrics_do(keyed_proxy: Proxy) -> None:
    # A browser navigation cannot send a header: the page (no data in it) loads without
    # the key and sends the key from its #key= fragment on its API calls.
    assert httpx.get(keyed_proxy.url + "/dashboard", timeout=10).status_code == 200
    good = {"authorization": f"Bearer {KEYS[0]}"}
    for path in ("/dashboard/api/status", "/metrics"):
        assert httpx.get(keyed_proxy.url + path, timeout=10).status_code == 401, path
        assert httpx.get(keyed_proxy.url + path, headers=good, timeout=10).status_code == 200, path
    foreign = httpx.get(keyed_proxy.url + "/dashboard", headers={"origin": FOREIGN}, timeout=10)
    assert foreign.status_code == 403


def test_keys_never_reach_the_log(keyed_proxy: Proxy) -> None:
    # The model name is logged with --verbose: a client that sends a key there must not see it printed.
    httpx.post(keyed_proxy.url + "/v1/messages", json={**MESSAGES, "model": KEYS[1]}, headers={"x-api-key": KEYS[0]})
    log = keyed_proxy.log()
    assert "messages: model [REDACTED]" in log
    assert all(key not in log for key in KEYS)


# ---- /token ------------------------------------------------------------------------------


def test_token_route_requires_the_key_and_never_answers_another_origin(keyed_proxy: Proxy) -> None:
    url = keyed_proxy.url + "/token"
    assert httpx.get(url, timeout=10).status_code == 401
    assert httpx.get(url, headers={"authorization": "Bearer wrong-key-0123456789"}, timeout=10).status_code == 401
    good = {"authorization": f"Bearer {KEYS[0]}"}
    answer = httpx.get(url, headers=good, timeout=10)
    assert answer.status_code == 200 and answer.json()["token"].startswith("tid=")
    for origin in (FOREIGN, OPTED_IN):  # not even an origin opted in with --cors-origin
        refused = httpx.get(url, headers={**good, "origin": origin}, timeout=10)
        assert refused.status_code == 403, origin
        assert "tid=" not in refused.text
        assert "access-control-allow-origin" not in refused.headers


# ---- --cors-origin -----------------------------------------------------------------------


def test_cors_origin_opts_in_that_origin_only(keyed_proxy: Proxy) -> None:
    preflight = httpx.options(
        keyed_proxy.url + "/v1/messages",
        headers={
            "origin": OPTED_IN,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type, x-api-key, anthropic-version",
        },
        timeout=10,
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == OPTED_IN
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()
    answer = httpx.post(
        keyed_proxy.url + "/v1/messages", json=MESSAGES, headers={"origin": OPTED_IN, "x-api-key": KEYS[0]}, timeout=10
    )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == OPTED_IN
    assert "origin" in answer.headers["vary"].lower()
    # The page must still hold a key; its 401 is readable, so it can tell the user why.
    unauthorised = httpx.post(keyed_proxy.url + "/v1/messages", json=MESSAGES, headers={"origin": OPTED_IN})
    assert unauthorised.status_code == 401
    assert unauthorised.headers["access-control-allow-origin"] == OPTED_IN
    for origin in (FOREIGN, OPTED_IN + ":8443", "http://app.example", "null"):
        refused = httpx.post(
            keyed_proxy.url + "/v1/messages", json=MESSAGES, headers={"origin": origin, "x-api-key": KEYS[0]}
        )
        assert refused.status_code == 403, origin
        assert "access-control-allow-origin" not in refused.headers


# ---- binding beyond loopback ------------------------------------------------------------


def test_binding_beyond_loopback_without_a_key_refuses_to_start(tmp_path: Path) -> None:
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "COPILOT_HYBRID_HOME": str(tmp_path), "COPILOT_HYBRID_VSCODE_VERSION": "1.104.3"}
    done = subprocess.run(
        [sys.executable, "-m", "copilot_hybrid", "serve", "--emulator", "--host", "0.0.0.0", "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "0.0.0.0" in done.stderr
    assert "--api-key" in done.stderr and "COPILOT_HYBRID_API_KEYS" in done.stderr
    assert "Traceback" not in done.stderr
    with socket.socket() as sock, pytest.raises(OSError):
        sock.connect(("127.0.0.1", port))  # nothing ever listened


# ---- log hygiene -------------------------------------------------------------------------


def test_control_characters_from_clients_cannot_forge_log_lines(keyed_proxy: Proxy) -> None:
    forged = "12:00:00 ERROR copilot_hybrid.server: FORGED-LINE"
    model = f"x\n{forged}\r\x1b[2K\x1b[31mred\x9b0m"
    headers = {"x-api-key": KEYS[0]}
    httpx.post(keyed_proxy.url + "/v1/messages", json={**MESSAGES, "model": model}, headers=headers, timeout=10)
    log = keyed_proxy.log()
    raw = keyed_proxy.log_path.read_bytes()
    assert "messages: model x\\n12:00:00 ERROR copilot_hybrid.server: FORGED-LINE\\r\\x1b[2K\\x1b[31mred\\x9b0m" in log
    assert not any(line.startswith(("12:00:00 ERROR", "FORGED")) for line in log.splitlines())
    assert b"\x1b" not in raw and b"\r" not in raw and "\x9b".encode() not in raw
