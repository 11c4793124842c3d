"""The proxy as a process: login and token file, secrets in logs, /token, rate
limits, --manual without a terminal, and `serve --emulator` in one command."""

from __future__ import annotations

import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from copilot_hybrid.emulator import Emulator
from tests.support import Proxy, free_port

CHAT = {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]}
MESSAGES = {"model": "claude-sonnet-4.5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


def _copilot_tokens_seen(emulator: Emulator) -> set[str]:
    return {
        (r.header("authorization") or "").removeprefix("Bearer ")
        for r in emulator.requests_to("/chat/completions")
        if r.header("authorization")
    }


def test_device_flow_login_writes_token_file_0600(proxy: Proxy) -> None:
    token_file = proxy.home / "github_token"
    assert token_file.is_file()
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text()
    assert token.startswith("gho_") and token == token.strip()
    assert "Logged in as emulated-user" in proxy.log()


def test_secrets_never_reach_the_log(proxy: Proxy, emulator: Emulator) -> None:
    httpx.post(proxy.url + "/v1/chat/completions", headers=proxy.headers, json=CHAT, timeout=10).raise_for_status()
    github_token = (proxy.home / "github_token").read_text()
    copilot_tokens = _copilot_tokens_seen(emulator)
    assert copilot_tokens
    log = proxy.log()
    assert github_token not in log
    for token in copilot_tokens:
        assert token not in log
        assert token.split(":")[-1] not in log  # not even the signature part
    assert "tid=" not in log
    assert proxy.api_key is None or proxy.api_key not in log


@pytest.fixture(scope="module")
def limited_proxy(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """--rate-limit without --wait, --show-token, and a token from GH_TOKEN."""
    running = Proxy(
        emulator,
        tmp_path_factory.mktemp("home-limited"),
        "--rate-limit",
        "30",
        "--show-token",
        "--manual",
        env={"GH_TOKEN": emulator.github_token},
    )
    yield running
    running.stop()


def test_rate_limit_rejects_with_429_in_caller_format(limited_proxy: Proxy) -> None:
    # --manual has no terminal here, so the one allowed request is rejected with 403.
    first = httpx.post(limited_proxy.url + "/v1/chat/completions", json=CHAT, timeout=10)
    assert first.status_code == 403
    assert first.json()["error"]["type"] == "permission_error"
    second = httpx.post(limited_proxy.url + "/v1/chat/completions", json=CHAT, timeout=10)
    assert second.status_code == 429
    assert 1 <= int(second.headers["retry-after"]) <= 30
    assert second.json()["error"]["type"] == "rate_limit_error"
    # The check runs before the body is read: even garbage gets 429.
    third = httpx.post(limited_proxy.url + "/v1/messages", content=b"{garbage", timeout=10)
    assert third.status_code == 429
    assert third.json() == {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": third.json()["error"]["message"]},
    }
    client = openai.OpenAI(base_url=limited_proxy.url + "/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(**CHAT)  # type: ignore[call-overload]
    # Not limited: models, embeddings, count_tokens.
    assert httpx.get(limited_proxy.url + "/v1/models", timeout=10).status_code == 200


def test_show_token_prints_tokens_and_serves_token_route(limited_proxy: Proxy, emulator: Emulator) -> None:
    response = httpx.get(limited_proxy.url + "/token", timeout=10)
    assert response.status_code == 200
    token = response.json()["token"]
    assert token.startswith("tid=")
    log = limited_proxy.log()
    assert "Using provided GitHub token" in log
    assert emulator.github_token in log  # --show-token is the explicit exception to redaction
    assert token in log
    assert not (limited_proxy.home / "github_token").exists() or not (limited_proxy.home / "github_token").read_text()


def test_token_route_never_answers_another_origin(limited_proxy: Proxy) -> None:
    """copilot-api served the Copilot token to any page: `fetch("http://127.0.0.1:4141/token")`."""
    response = httpx.get(limited_proxy.url + "/token", headers={"origin": "https://evil.example"}, timeout=10)
    assert response.status_code == 403
    assert "tid=" not in response.text
    assert "access-control-allow-origin" not in response.headers


@pytest.fixture(scope="module")
def waiting_proxy(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    running = Proxy(
        emulator,
        tmp_path_factory.mktemp("home-wait"),
        "--rate-limit",
        "1",
        "--wait",
        "--github-token",
        emulator.github_token,
    )
    yield running
    running.stop()


def test_wait_mode_queues_requests(waiting_proxy: Proxy) -> None:
    client = anthropic.Anthropic(base_url=waiting_proxy.url, api_key="x", max_retries=0)
    times: list[float] = []

    def call() -> None:
        client.messages.create(**MESSAGES)  # type: ignore[arg-type]
        times.append(time.monotonic())

    start = time.monotonic()
    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(times) == 3  # nobody got a 429
    offsets = sorted(t - start for t in times)
    # One request per second: the third waits about two intervals (copilot-api woke all waiters at once).
    assert offsets[2] >= 1.8


def test_serve_emulator_in_one_command(tmp_path: Path) -> None:
    port = free_port()
    log_path = tmp_path / "serve.log"
    env = {"COPILOT_HYBRID_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "copilot_hybrid", "serve", "--emulator", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if httpx.get(url + "/", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            client = anthropic.Anthropic(base_url=url, api_key="x", max_retries=0)
            message = client.messages.create(**MESSAGES)  # type: ignore[arg-type]
            assert message.content[0].text.startswith("Hello from emulated")  # type: ignore[union-attr]
        finally:
            process.terminate()
            process.wait(15)
    # The demo logs in against the emulator without touching the real token file.
    assert not (tmp_path / "home" / "github_token").exists()
    assert "Logged in as emulated-user" in log_path.read_text()


def test_startup_fails_cleanly_with_a_bad_token(emulator: Emulator, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "copilot_hybrid",
            "serve",
            "--port",
            str(free_port()),
            "-g",
            "gho_not_a_real_token_1234",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
        env={
            "COPILOT_HYBRID_HOME": str(tmp_path),
            "COPILOT_HYBRID_VSCODE_VERSION": "1.104.3",
            "COPILOT_HYBRID_GITHUB_URL": emulator.github_url,
            "COPILOT_HYBRID_GITHUB_API_URL": emulator.github_api_url,
            "PATH": "/usr/bin:/bin",
        },
    )
    assert done.returncode == 1
    assert "Startup failed" in done.stderr and "401" in done.stderr
    assert "gho_not_a_real_token_1234" not in done.stderr
    assert "Traceback" not in done.stderr
