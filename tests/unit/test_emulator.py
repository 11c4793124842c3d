"""The GitHub + Copilot emulator, over real sockets with httpx."""

from __future__ import annotations

import base64
import itertools
import json
import math
import os
import signal
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from copilot_hybrid.emulator import DEFAULT_GITHUB_TOKEN, Emulator, EmulatorConfig
from copilot_hybrid.emulator.chat import parse_keywords, text_pieces
from tests.support import CLI_SIGINT_DEFAULT, CLI_SIGINT_IGNORED, FakeClock

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
JSON_HEADERS = {"accept": "application/json", "content-type": "application/json"}
COPILOT_HEADERS = {
    "editor-version": "vscode/1.104.3",
    "editor-plugin-version": "copilot-chat/0.26.7",
    "user-agent": "GitHubCopilotChat/0.26.7",
    "copilot-integration-id": "vscode-chat",
    "openai-intent": "conversation-panel",
    "x-github-api-version": "2025-04-01",
}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    # One client for the module: building an SSL context per test costs ~0.2 s
    # on a busy machine, and plain http needs none (verify=False skips it).
    with httpx.Client(timeout=10, verify=False) as c:
        yield c


@dataclass
class Copilot:
    """A minimal Copilot client: a fresh token and the VS Code header set."""

    emu: Emulator
    client: httpx.Client
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {**COPILOT_HEADERS, "authorization": f"Bearer {self.token}"}

    def chat(
        self, content: Any = "hello there", *, headers: dict[str, str] | None = None, **body: Any
    ) -> httpx.Response:
        payload = {"model": "gpt-4.1", "messages": [{"role": "user", "content": content}], **body}
        return self.client.post(
            f"{self.emu.copilot_url}/chat/completions", json=payload, headers={**self.headers, **(headers or {})}
        )

    def stream(self, content: Any = "hello there", **body: Any) -> tuple[httpx.Response, list[str]]:
        payload = {"model": "gpt-4.1", "messages": [{"role": "user", "content": content}], "stream": True, **body}
        with self.client.stream(
            "POST", f"{self.emu.copilot_url}/chat/completions", json=payload, headers=self.headers
        ) as response:
            return response, sse_data(response.iter_lines())


def sse_data(lines: Iterator[str]) -> list[str]:
    return [line[len("data: ") :] for line in lines if line.startswith("data: ")]


def exchange(emu: Emulator, client: httpx.Client, github_token: str = DEFAULT_GITHUB_TOKEN) -> dict[str, Any]:
    response = client.get(
        f"{emu.github_api_url}/copilot_internal/v2/token", headers={"authorization": f"token {github_token}"}
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


@pytest.fixture
def copilot(emu: Emulator, client: httpx.Client) -> Copilot:
    return Copilot(emu, client, exchange(emu, client)["token"])


def chunks_of(data: list[str]) -> list[dict[str, Any]]:
    assert data[-1] == "[DONE]"
    return [json.loads(d) for d in data[:-1]]


def reassemble(chunks: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Per choice index: text and tool calls, rebuilt from deltas."""
    out: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for choice in chunk["choices"]:
            acc = out.setdefault(choice["index"], {"text": "", "calls": {}, "finish": None})
            delta = choice["delta"]
            acc["text"] += delta.get("content") or ""
            for call in delta.get("tool_calls") or []:
                slot = acc["calls"].setdefault(call["index"], {"id": None, "name": None, "arguments": ""})
                if "id" in call:
                    slot["id"] = call["id"]
                    slot["name"] = call["function"]["name"]
                slot["arguments"] += call["function"].get("arguments", "")
            if choice["finish_reason"]:
                acc["finish"] = choice["finish_reason"]
    return out


# --------------------------------------------------------------------------- lifecycle


def test_start_stop_and_ports_are_free() -> None:
    a, b = Emulator(), Emulator()
    a.start()
    b.start()
    assert a.port != b.port
    assert httpx.get(f"{a.url}/_emulator").json()["ok"] is True
    a.stop()
    b.stop()
    a.stop()  # idempotent
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{b.url}/_emulator")


def test_urls_and_context_manager() -> None:
    with Emulator() as emu:
        assert emu.running
        assert emu.url == f"http://127.0.0.1:{emu.port}"
        assert emu.github_url == emu.url
        assert emu.github_api_url == f"{emu.url}/api"
        assert emu.copilot_url == f"{emu.url}/copilot"
        assert emu.github_token == DEFAULT_GITHUB_TOKEN
    assert not emu.running
    assert emu.url.endswith(f":{emu.port}")  # still known after stop
    with pytest.raises(RuntimeError):
        _ = Emulator().port


def test_stop_hangs_up_on_keepalive_and_slow_requests(client: httpx.Client) -> None:
    answered: list[str] = []
    slow_in_flight = threading.Event()

    def log(line: str) -> None:
        # Called once a request is answered, before its (delayed) bytes go out.
        answered.append(line)
        if answered.count("POST /copilot/chat/completions -> 200") == 2:
            slow_in_flight.set()

    with Emulator(log=log) as emu:
        copilot = Copilot(emu, client, exchange(emu, client)["token"])
        assert copilot.chat().status_code == 200  # leaves an idle pooled connection
        errors: list[BaseException] = []

        def slow() -> None:
            try:
                copilot.chat("wait [[slow:600000]]")
            except httpx.HTTPError as exc:
                errors.append(exc)

        worker = threading.Thread(target=slow)
        worker.start()
        assert slow_in_flight.wait(10), answered
    # Leaving the block stopped the emulator: the ten-minute request ends now, with an error.
    worker.join(10)
    assert not worker.is_alive()
    assert errors and isinstance(errors[0], httpx.TransportError)


def test_concurrent_streams(copilot: Copilot, emu: Emulator) -> None:
    results: list[str] = []

    def run(i: int) -> None:
        with httpx.Client(timeout=10, verify=False) as c:
            other = Copilot(emu, c, copilot.token)
            _, data = other.stream(f"request number {i} [[pace:20]]")
            results.append(reassemble(chunks_of(data))[0]["text"])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(results) == sorted(f"Hello from emulated gpt-4.1: request number {i}" for i in range(8))


# --------------------------------------------------------------------------- device flow


def start_device_flow(emu: Emulator, client: httpx.Client) -> dict[str, Any]:
    response = client.post(
        f"{emu.github_url}/login/device/code",
        json={"client_id": "Iv1.b507a08c87ecfe98", "scope": "read:user"},
        headers=JSON_HEADERS,
    )
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


def poll(emu: Emulator, client: httpx.Client, device_code: str) -> dict[str, Any]:
    response = client.post(
        f"{emu.github_url}/login/oauth/access_token",
        json={"client_id": "Iv1.b507a08c87ecfe98", "device_code": device_code, "grant_type": DEVICE_GRANT},
        headers=JSON_HEADERS,
    )
    assert response.status_code == 200  # GitHub reports device-flow errors with 200
    data: dict[str, Any] = response.json()
    return data


def test_device_flow_pending_then_token(emu: Emulator, client: httpx.Client) -> None:
    code = start_device_flow(emu, client)
    assert set(code) == {"device_code", "user_code", "verification_uri", "expires_in", "interval"}
    assert code["verification_uri"] == f"{emu.url}/login/device"
    assert len(code["user_code"]) == 9 and code["user_code"][4] == "-"
    assert poll(emu, client, code["device_code"])["error"] == "authorization_pending"
    granted = poll(emu, client, code["device_code"])
    assert granted["access_token"].startswith("gho_")
    assert granted["token_type"] == "bearer" and granted["scope"] == "read:user"
    assert poll(emu, client, code["device_code"])["error"] == "incorrect_device_code"  # single use
    user = client.get(f"{emu.github_api_url}/user", headers={"authorization": f"token {granted['access_token']}"})
    assert user.status_code == 200 and user.json()["login"] == "emulated-user"
    assert client.get(f"{emu.url}/login/device").status_code == 200


def test_device_flow_speaks_form_encoding_without_json_accept(emu: Emulator, client: httpx.Client) -> None:
    response = client.post(f"{emu.github_url}/login/device/code", data={"client_id": "abc", "scope": "read:user"})
    assert response.headers["content-type"].startswith("application/x-www-form-urlencoded")
    fields = dict(httpx.QueryParams(response.text))
    assert fields["interval"] == "0" and fields["device_code"]
    emu.configure(device_pending_polls=0)
    emu.set_device_scenario(fields["device_code"], "approve")
    polled = client.post(
        f"{emu.github_url}/login/oauth/access_token",
        data={"client_id": "abc", "device_code": fields["device_code"], "grant_type": DEVICE_GRANT},
    )
    # pending_left was fixed when the code was issued: one pending poll first
    assert dict(httpx.QueryParams(polled.text))["error"] == "authorization_pending"


def test_device_flow_pending_polls_is_configurable(emu: Emulator, client: httpx.Client) -> None:
    emu.configure(device_pending_polls=3)
    code = start_device_flow(emu, client)["device_code"]
    assert [poll(emu, client, code).get("error") for _ in range(4)] == [
        "authorization_pending",
        "authorization_pending",
        "authorization_pending",
        None,
    ]


def test_device_flow_slow_down_when_polled_too_fast(emu: Emulator, client: httpx.Client) -> None:
    emu.configure(device_interval=5)
    code = start_device_flow(emu, client)
    assert code["interval"] == 5
    assert poll(emu, client, code["device_code"])["error"] == "authorization_pending"
    slowed = poll(emu, client, code["device_code"])
    assert slowed["error"] == "slow_down" and slowed["interval"] == 10
    assert poll(emu, client, code["device_code"])["interval"] == 15


def test_device_flow_slow_down_scenario(emu: Emulator, client: httpx.Client) -> None:
    emu.configure(device_flow_scenario="slow_down", device_slow_down_increment=0, device_pending_polls=0)
    code = start_device_flow(emu, client)["device_code"]
    first = poll(emu, client, code)
    assert first["error"] == "slow_down" and first["interval"] == 0
    assert "access_token" in poll(emu, client, code)


def test_device_flow_expired(emu: Emulator, client: httpx.Client) -> None:
    emu.configure(device_flow_scenario="expired")
    code = start_device_flow(emu, client)["device_code"]
    assert poll(emu, client, code)["error"] == "authorization_pending"
    assert poll(emu, client, code)["error"] == "expired_token"
    emu.configure(device_flow_scenario="approve", device_code_ttl=0)
    assert poll(emu, client, start_device_flow(emu, client)["device_code"])["error"] == "expired_token"


def test_device_flow_denied_per_code(emu: Emulator, client: httpx.Client) -> None:
    denied = start_device_flow(emu, client)
    other = start_device_flow(emu, client)
    emu.set_device_scenario(denied["user_code"], "denied")
    assert poll(emu, client, denied["device_code"])["error"] == "authorization_pending"
    assert poll(emu, client, denied["device_code"])["error"] == "access_denied"
    poll(emu, client, other["device_code"])
    assert "access_token" in poll(emu, client, other["device_code"])
    # The same, through the control API.
    third = start_device_flow(emu, client)
    assert client.post(f"{emu.url}/_emulator/device", json={"code": third["device_code"], "action": "deny"}).is_success
    assert poll(emu, client, third["device_code"])["error"] == "access_denied"


def test_device_flow_manual_approval(emu: Emulator, client: httpx.Client) -> None:
    emu.configure(device_flow_scenario="manual")
    code = start_device_flow(emu, client)
    for _ in range(3):
        assert poll(emu, client, code["device_code"])["error"] == "authorization_pending"
    devices = client.get(f"{emu.url}/_emulator/device").json()["devices"]
    assert devices[0]["user_code"] == code["user_code"] and devices[0]["scenario"] == "manual"
    response = client.post(f"{emu.url}/_emulator/device", json={"code": code["user_code"], "action": "approve"})
    assert response.status_code == 200
    assert "access_token" in poll(emu, client, code["device_code"])
    assert client.post(f"{emu.url}/_emulator/device", json={"code": "NOPE-NOPE"}).status_code == 404


def test_device_flow_bad_requests(emu: Emulator, client: httpx.Client) -> None:
    missing = client.post(f"{emu.github_url}/login/device/code", json={}, headers=JSON_HEADERS)
    assert missing.status_code == 400 and missing.json()["error"] == "incorrect_client_credentials"
    response = client.post(
        f"{emu.github_url}/login/oauth/access_token",
        json={"client_id": "x", "device_code": "abc", "grant_type": "password"},
        headers=JSON_HEADERS,
    )
    assert response.json()["error"] == "unsupported_grant_type"
    assert poll(emu, client, "0" * 40)["error"] == "incorrect_device_code"


# --------------------------------------------------------------------------- GitHub API


def test_user_lookup(emu: Emulator, client: httpx.Client) -> None:
    for scheme in ("token", "Bearer"):
        response = client.get(f"{emu.github_api_url}/user", headers={"authorization": f"{scheme} {emu.github_token}"})
        assert response.status_code == 200
        assert response.json()["login"] == "emulated-user"
    assert client.get(f"{emu.github_api_url}/user").status_code == 401
    bad = client.get(f"{emu.github_api_url}/user", headers={"authorization": "token gho_unknown"})
    assert bad.status_code == 401 and bad.json()["message"] == "Bad credentials"
    emu.configure(user_login="octocat")
    assert (
        client.get(f"{emu.github_api_url}/user", headers={"authorization": f"token {emu.github_token}"}).json()["login"]
        == "octocat"
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def timed_emu(clock: FakeClock) -> Iterator[Emulator]:
    """An emulator whose time moves only with `clock`."""
    with Emulator(clock=clock) as emulator:
        yield emulator


def test_copilot_token_exchange(timed_emu: Emulator, clock: FakeClock, client: httpx.Client) -> None:
    emu = timed_emu
    data = exchange(emu, client)
    assert data["endpoints"]["api"] == emu.copilot_url
    assert data["refresh_in"] == 1500
    assert data["expires_at"] == int(clock.now) + 1800
    assert data["token"].startswith("tid=") and f"exp={data['expires_at']}" in data["token"]
    assert exchange(emu, client)["token"] != data["token"]  # a new token per exchange
    url = f"{emu.github_api_url}/copilot_internal/v2/token"
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"authorization": f"Bearer {emu.github_token}"}).status_code == 401
    unknown = client.get(url, headers={"authorization": "token gho_nope"})
    assert unknown.status_code == 401 and unknown.json()["message"] == "Bad credentials"
    emu.add_github_token("gho_extra", "someone")
    assert exchange(emu, client, "gho_extra")["token"]
    emu.revoke_github_token("gho_extra")
    assert client.get(url, headers={"authorization": "token gho_extra"}).status_code == 401


def test_copilot_token_expiry_and_refresh(timed_emu: Emulator, clock: FakeClock, client: httpx.Client) -> None:
    emu = timed_emu
    emu.configure(copilot_token_ttl=0.3)
    data = exchange(emu, client)
    assert data["refresh_in"] == 0
    copilot = Copilot(emu, client, data["token"])
    clock.advance(0.2)
    assert copilot.chat().status_code == 200
    clock.advance(0.2)
    expired = copilot.chat()
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "token_expired"
    emu.configure(copilot_token_ttl=60, copilot_refresh_in=7)
    fresh = exchange(emu, client)
    assert fresh["refresh_in"] == 7
    assert Copilot(emu, client, fresh["token"]).chat().status_code == 200


def test_expire_tokens_control(emu: Emulator, copilot: Copilot, client: httpx.Client) -> None:
    assert client.post(f"{emu.url}/_emulator/expire-tokens").json()["expired"] == 1
    assert copilot.chat().json()["error"]["code"] == "token_expired"


def test_usage_shape_and_premium_accounting(emu: Emulator, copilot: Copilot, client: httpx.Client) -> None:
    def usage() -> dict[str, Any]:
        response = client.get(
            f"{emu.github_api_url}/copilot_internal/user", headers={"authorization": f"token {emu.github_token}"}
        )
        assert response.status_code == 200
        data: dict[str, Any] = response.json()
        return data

    data = usage()
    assert data["copilot_plan"] == "individual"
    assert len(data["quota_reset_date"]) == 10 and data["quota_reset_date"].endswith("-01")
    snapshots = data["quota_snapshots"]
    assert set(snapshots) == {"chat", "completions", "premium_interactions"}
    premium = snapshots["premium_interactions"]
    assert premium["entitlement"] == 300 and premium["remaining"] == 300 and premium["percent_remaining"] == 100
    assert premium["unlimited"] is False and snapshots["chat"]["unlimited"] is True
    for key in ("overage_count", "overage_permitted", "quota_id", "quota_remaining"):
        assert key in premium

    copilot.chat(model="claude-sonnet-4")  # user turn, multiplier 1
    copilot.chat(model="claude-sonnet-4", headers={"x-initiator": "agent"})  # agent follow-up: free
    copilot.chat(model="gpt-4.1", headers={"x-initiator": "user"})  # multiplier 0
    premium = usage()["quota_snapshots"]["premium_interactions"]
    assert premium["remaining"] == 299 and emu.premium_used == 1
    emu.configure(premium_used=150, premium_entitlement=200)
    assert usage()["quota_snapshots"]["premium_interactions"]["percent_remaining"] == 25.0
    assert client.get(f"{emu.github_api_url}/copilot_internal/user").status_code == 401


# --------------------------------------------------------------------------- Copilot API


def test_copilot_auth_and_editor_version(emu: Emulator, copilot: Copilot, client: httpx.Client) -> None:
    url = f"{emu.copilot_url}/models"
    missing = client.get(url, headers=COPILOT_HEADERS)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "unauthorized"
    github_as_bearer = client.get(url, headers={**COPILOT_HEADERS, "authorization": f"Bearer {emu.github_token}"})
    assert github_as_bearer.status_code == 401
    headers = {k: v for k, v in copilot.headers.items() if k != "editor-version"}
    no_editor = client.get(url, headers=headers)
    assert no_editor.status_code == 400 and "Editor-Version" in no_editor.json()["error"]["message"]
    emu.configure(require_editor_version=False)
    assert client.get(url, headers=headers).status_code == 200


def test_models(emu: Emulator, copilot: Copilot, client: httpx.Client) -> None:
    response = client.get(f"{emu.copilot_url}/models", headers=copilot.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    models = {m["id"]: m for m in body["data"]}
    for model_id in (
        "gpt-4.1",
        "gpt-4o",
        "gpt-5-mini",
        "claude-sonnet-4",
        "claude-sonnet-4.5",
        "claude-opus-4.1",
        "gemini-2.5-pro",
        "o3-mini",
        "text-embedding-3-small",
    ):
        model = models[model_id]
        caps = model["capabilities"]
        assert model["object"] == "model" and isinstance(model["model_picker_enabled"], bool)
        assert {"vendor", "version", "preview", "name"} <= set(model)
        assert caps["tokenizer"] in ("o200k_base", "cl100k_base")
        assert {"tool_calls", "parallel_tool_calls", "streaming", "vision"} <= set(caps["supports"])
        if caps["type"] == "chat":
            assert {"max_context_window_tokens", "max_output_tokens", "max_prompt_tokens"} <= set(caps["limits"])
    assert models["text-embedding-3-small"]["capabilities"]["type"] == "embeddings"
    assert models["claude-sonnet-4"]["vendor"] == "Anthropic"


def test_chat_non_stream_echoes_request(copilot: Copilot) -> None:
    response = copilot.chat("What is the weather in Paris today?")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["model"] == "gpt-4.1-2025-04-14"  # Copilot answers with the dated version
    (choice,) = body["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"] == {
        "role": "assistant",
        "content": "Hello from emulated gpt-4.1: What is the weather in Paris today?",
    }
    usage = body["usage"]
    assert usage["prompt_tokens"] == 4 + math.ceil(len("What is the weather in Paris today?") / 4)
    assert usage["completion_tokens"] == math.ceil(len(choice["message"]["content"]) / 4)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens_details"] == {"cached_tokens": 0}
    # Deterministic: the same request gives the same answer.
    assert copilot.chat("What is the weather in Paris today?").json()["id"] == body["id"]
    # Claude Code's <system-reminder> blocks are not echoed.
    parts = [
        {"type": "text", "text": "<system-reminder>context</system-reminder>"},
        {"type": "text", "text": "fix the bug"},
    ]
    assert copilot.chat(parts, model="claude-sonnet-4").json()["choices"][0]["message"]["content"] == (
        "Hello from emulated claude-sonnet-4: fix the bug"
    )


def test_chat_stream_shape(copilot: Copilot) -> None:
    response, data = copilot.stream("please tell me a long story about emulators and proxies")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    chunks = chunks_of(data)
    first, finish, usage = chunks[0], chunks[-2], chunks[-1]
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == first["id"] for c in chunks)
    assert len(chunks) > 4
    assert finish["choices"][0]["finish_reason"] == "stop" and "usage" not in finish
    assert usage["choices"] == [] and usage["usage"]["total_tokens"] > 0
    assert "cached_tokens" in usage["usage"]["prompt_tokens_details"]
    text = reassemble(chunks)[0]["text"]
    non_stream = copilot.chat("please tell me a long story about emulators and proxies").json()
    assert text == non_stream["choices"][0]["message"]["content"]
    assert usage["usage"] == non_stream["usage"]


@pytest.mark.parametrize(("mode", "on_finish", "trailer"), [("finish", True, False), ("both", True, True)])
def test_stream_usage_modes(emu: Emulator, copilot: Copilot, mode: str, on_finish: bool, trailer: bool) -> None:
    emu.configure(stream_usage=mode)
    chunks = chunks_of(copilot.stream()[1])
    assert ("usage" in [c for c in chunks if c["choices"]][-1]) == on_finish
    assert (chunks[-1]["choices"] == []) == trailer


def test_tool_call_keyword(copilot: Copilot) -> None:
    body = copilot.chat('weather? [[tool:get_weather {"city": "Paris", "days": [1, 2]}]]').json()
    (choice,) = body["choices"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["type"] == "function" and call["id"].startswith("call_")
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris", "days": [1, 2]}
    claude = copilot.chat("[[tool:Bash]]", model="claude-sonnet-4").json()
    (call,) = claude["choices"][0]["message"]["tool_calls"]
    assert call["id"].startswith("toolu_") and call["function"] == {"name": "Bash", "arguments": "{}"}
    nested = copilot.chat('[[tool:mcp__srv__q {"m": [[1]], "s": "a]]b"}]]').json()
    args = nested["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(args) == {"m": [[1]], "s": "a]]b"}


def test_tool_calls_stream(copilot: Copilot) -> None:
    _, data = copilot.stream('[[tool:read {"path": "/etc/hosts"}]] [[tool:list {"dir": "/tmp", "all": true}]]')
    chunks = chunks_of(data)
    first = chunks[0]["choices"][0]["delta"]
    assert first["role"] == "assistant" and first["tool_calls"][0]["function"] == {"name": "read", "arguments": ""}
    rebuilt = reassemble(chunks)[0]
    assert rebuilt["finish"] == "tool_calls" and rebuilt["text"] == ""
    calls = rebuilt["calls"]
    assert [calls[i]["name"] for i in (0, 1)] == ["read", "list"]
    assert json.loads(calls[0]["arguments"]) == {"path": "/etc/hosts"}
    assert json.loads(calls[1]["arguments"]) == {"dir": "/tmp", "all": True}
    fragments = [c for c in chunks if c["choices"] and "tool_calls" in c["choices"][0]["delta"]]
    assert len(fragments) > 4  # arguments arrive in pieces
    assert calls[0]["id"] != calls[1]["id"]


def test_split_choices(copilot: Copilot) -> None:
    body = copilot.chat('[[split]] [[tool:get_weather {"city": "Oslo"}]]', model="claude-sonnet-4").json()
    text_choice, tool_choice = body["choices"]
    assert text_choice["index"] == 0 and text_choice["message"]["content"] == "Let me call get_weather."
    assert "tool_calls" not in text_choice["message"] and text_choice["finish_reason"] == "stop"
    assert tool_choice["index"] == 1 and tool_choice["finish_reason"] == "tool_calls"
    assert tool_choice["message"]["content"] is None
    assert tool_choice["message"]["tool_calls"][0]["function"]["name"] == "get_weather"

    chunks = chunks_of(copilot.stream('[[split]] [[tool:get_weather {"city": "Oslo"}]]', model="claude-sonnet-4")[1])
    rebuilt = reassemble(chunks)
    assert rebuilt[0]["text"] == "Let me call get_weather." and rebuilt[0]["calls"] == {}
    assert rebuilt[1]["calls"][0]["name"] == "get_weather" and rebuilt[1]["finish"] == "tool_calls"
    finishes = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert len(finishes) == 1 and finishes[0]["choices"][0]["index"] == 1


def test_tool_result_reply(copilot: Copilot) -> None:
    messages = [
        {"role": "user", "content": '[[tool:Bash {"command": "echo hi"}]]'},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "Bash", "arguments": '{"command":"echo hi"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "hi\nfrom   the shell"},
    ]
    response = copilot.client.post(
        f"{copilot.emu.copilot_url}/chat/completions",
        json={"model": "gpt-4.1", "messages": messages},
        headers=copilot.headers,
    )
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "stop"  # the keyword does not fire again
    assert choice["message"]["content"] == 'Hello from emulated gpt-4.1: the Bash tool returned "hi from the shell".'


def test_error_keyword(copilot: Copilot) -> None:
    limited = copilot.chat("[[error:429]]")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
    assert limited.json()["error"]["code"] == "rate_limited"
    custom = copilot.chat("[[error:500 upstream exploded]]", stream=True)  # JSON even when streaming
    assert custom.status_code == 500
    assert custom.json() == {"error": {"message": "upstream exploded", "code": "internal_error"}}
    assert copilot.chat("[[error:302]]").status_code == 200  # not an error status: left as text


def test_fail_midstream(copilot: Copilot) -> None:
    received: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        with copilot.client.stream(
            "POST",
            f"{copilot.emu.copilot_url}/chat/completions",
            json={"model": "gpt-4.1", "stream": True, "messages": [{"role": "user", "content": "[[fail-midstream]]"}]},
            headers=copilot.headers,
        ) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if line.startswith("data: "):
                    received.append(line)
    assert 1 <= len(received) <= 3 and "[DONE]" not in received
    with pytest.raises(httpx.RemoteProtocolError):
        copilot.chat("[[fail-midstream]]")
    assert copilot.chat().status_code == 200  # the emulator itself is fine


def test_slow_and_pace(copilot: Copilot) -> None:
    t0 = time.perf_counter()
    assert copilot.chat("[[slow:300]]").status_code == 200
    assert time.perf_counter() - t0 >= 0.3
    arrivals: list[float] = []
    with copilot.client.stream(
        "POST",
        f"{copilot.emu.copilot_url}/chat/completions",
        json={"model": "gpt-4.1", "stream": True, "messages": [{"role": "user", "content": "a b c d e f [[pace:40]]"}]},
        headers=copilot.headers,
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                arrivals.append(time.perf_counter())
    assert arrivals[-1] - arrivals[0] >= 0.04 * (len(arrivals) - 1) * 0.9


def test_stall_is_one_silence_mid_stream(copilot: Copilot) -> None:
    arrivals: list[float] = []
    messages = [{"role": "user", "content": "a b c d e f [[stall:300]]"}]
    with copilot.client.stream(
        "POST",
        f"{copilot.emu.copilot_url}/chat/completions",
        json={"model": "gpt-4.1", "stream": True, "messages": messages},
        headers=copilot.headers,
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                arrivals.append(time.perf_counter())
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    # The silence comes before chunk 3, after three chunks.
    assert gaps[2] >= 0.3 * 0.8  # less if chunk 2 itself was read late


def test_stall_script_keys(copilot: Copilot) -> None:
    copilot.emu.script({"content": "one two three", "stall_ms": 200, "stall_after": 0})
    with copilot.client.stream(
        "POST",
        f"{copilot.emu.copilot_url}/chat/completions",
        json={"model": "gpt-4.1", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
        headers=copilot.headers,
    ) as response:
        headers_at = time.perf_counter()
        data = sse_data(response.iter_lines())
        first_chunk_at = time.perf_counter()
    # stall_after 0: the headers come first, the first chunk after the silence.
    assert first_chunk_at - headers_at >= 0.2 * 0.8
    assert reassemble(chunks_of(data))[0]["text"] == "one two three"
    with pytest.raises(ValueError, match="stall_after"):
        copilot.emu.script({"stall_ms": 10, "stall_after": -1})
    with pytest.raises(ValueError, match="stall_ms"):
        copilot.emu.script({"stall_ms": "long"})


def test_connections_are_counted_and_requests_name_theirs(emu: Emulator) -> None:
    before = emu.connections_accepted
    with httpx.Client(timeout=10) as kept_alive:
        for _ in range(3):
            kept_alive.get(f"{emu.copilot_url}/models")
    with httpx.Client(timeout=10) as other:
        other.get(f"{emu.copilot_url}/models")
        info = other.get(f"{emu.url}/_emulator").json()
    assert emu.connections_accepted == before + 2
    assert info["connections_accepted"] == before + 2
    numbers = [r.connection for r in emu.requests_to("/copilot/models")]
    assert len(set(numbers[:3])) == 1 and numbers[3] != numbers[0]
    with httpx.Client(timeout=10) as control:
        recorded = control.get(f"{emu.url}/_emulator/requests", params={"path": "/copilot/models"}).json()
    assert [r["connection"] for r in recorded["requests"]] == numbers
    emu.reset()
    assert emu.connections_accepted == before + 3  # never reset: numbers stay unique


def test_records_tell_how_much_of_each_response_went_out(copilot: Copilot) -> None:
    _, data = copilot.stream("a b c d e f")
    streamed = copilot.emu.wait_sent(copilot.emu.last_request("/chat/completions"))
    assert streamed.finished is True
    assert streamed.sent_bytes == sum(len(f"data: {d}\n\n".encode()) for d in data)
    plain = copilot.chat("hello")
    record = copilot.emu.wait_sent(copilot.emu.last_request("/chat/completions"))
    assert record.finished is True and record.sent_bytes == len(plain.content)
    with pytest.raises(httpx.RemoteProtocolError):
        copilot.stream("a b c d e f [[fail-midstream]]")
    broken = copilot.emu.wait_sent(copilot.emu.last_request("/chat/completions"))
    assert broken.finished is False and 0 < broken.sent_bytes
    assert broken.to_json()["finished"] is False


def test_length(copilot: Copilot) -> None:
    full = copilot.chat("one two three four five six").json()["choices"][0]["message"]["content"]
    cut = copilot.chat("one two three four five six [[length]]").json()["choices"][0]
    assert cut["finish_reason"] == "length" and full.startswith(cut["message"]["content"])
    assert len(cut["message"]["content"]) < len(full)
    tiny = copilot.chat("one two three four five six", max_tokens=2).json()
    assert tiny["choices"][0]["finish_reason"] == "length"
    assert tiny["choices"][0]["message"]["content"] == full[:8]
    assert tiny["usage"]["completion_tokens"] == 2


def test_reply_cached_filter_and_unknown_keywords(copilot: Copilot) -> None:
    body = copilot.chat("[[reply:Exactly this.]] [[cached:3]]").json()
    assert body["choices"][0]["message"]["content"] == "Exactly this."
    assert body["usage"]["prompt_tokens_details"]["cached_tokens"] == 3
    assert copilot.chat("[[content-filter]]").json()["choices"][0]["finish_reason"] == "content_filter"
    echoed = copilot.chat("keep [[nope]] and [[tool:bad {oops]] here").json()["choices"][0]["message"]["content"]
    assert echoed == "Hello from emulated gpt-4.1: keep [[nope]] and [[tool:bad {oops]] here"


def test_forced_tool_choice(copilot: Copilot) -> None:
    tools = [
        {"type": "function", "function": {"name": "first", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "second", "parameters": {"type": "object"}}},
    ]
    required = copilot.chat("go", tools=tools, tool_choice="required").json()
    assert required["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "first"
    named = copilot.chat("go", tools=tools, tool_choice={"type": "function", "function": {"name": "second"}}).json()
    assert named["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "second"
    assert copilot.chat("go", tools=tools).json()["choices"][0]["finish_reason"] == "stop"


def test_chat_validation(emu: Emulator, copilot: Copilot, client: httpx.Client) -> None:
    unknown = copilot.chat(model="gpt-99")
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "model_not_supported"
    assert copilot.chat(model="text-embedding-3-small").status_code == 400
    url = f"{emu.copilot_url}/chat/completions"
    bad_json = client.post(url, content=b"{nope", headers=copilot.headers)
    assert bad_json.status_code == 400 and bad_json.json()["error"]["code"] == "invalid_request_body"
    assert client.post(url, json={"model": "gpt-4.1", "messages": []}, headers=copilot.headers).status_code == 400
    assert client.get(url, headers=copilot.headers).status_code == 405
    assert client.post(f"{emu.copilot_url}/chat/completions/", json={}, headers=copilot.headers).status_code == 404


def test_vision_checks(copilot: Copilot) -> None:
    content = [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]
    missing = copilot.chat(content)
    assert missing.status_code == 400 and "Copilot-Vision-Request" in missing.json()["error"]["message"]
    ok = copilot.chat(content, headers={"copilot-vision-request": "true"})
    assert ok.status_code == 200
    assert ok.json()["usage"]["prompt_tokens"] == 4 + math.ceil(len("what is this?") / 4) + 85
    assert copilot.chat(content, model="o3-mini", headers={"copilot-vision-request": "true"}).status_code == 400


def test_prompt_token_limit(emu: Emulator, copilot: Copilot) -> None:
    small = {
        "id": "tiny",
        "vendor": "Test",
        "version": "tiny-1",
        "capabilities": {"type": "chat", "limits": {"max_prompt_tokens": 10}, "supports": {}},
    }
    emu.configure(models=[small])
    assert copilot.chat("short", model="tiny").status_code == 200
    too_long = copilot.chat("x" * 100, model="tiny")
    assert too_long.status_code == 400
    assert too_long.json()["error"]["code"] == "model_max_prompt_tokens_exceeded"
    assert copilot.chat(model="gpt-4.1").status_code == 400  # the custom list replaced the catalogue


def test_headers_and_bodies_are_recorded(emu: Emulator, copilot: Copilot, client: httpx.Client) -> None:
    emu.clear_requests()
    extra = {"x-initiator": "agent", "copilot-vision-request": "true", "x-request-id": "req-123"}
    copilot.chat("recorded", headers=extra)
    record = emu.last_request("/chat/completions")
    assert record.method == "POST" and record.path == "/copilot/chat/completions" and record.status == 200
    for name, value in {**COPILOT_HEADERS, **extra}.items():
        assert record.header(name) == value
    assert record.header("Authorization") == f"Bearer {copilot.token}"
    assert record.body["messages"][0]["content"] == "recorded"
    client.get(f"{emu.copilot_url}/models?x=1", headers=copilot.headers)
    assert emu.requests_to("/models")[0].query == "x=1"
    listed = client.get(f"{emu.url}/_emulator/requests", params={"path": "/copilot/chat/completions"}).json()
    (entry,) = listed["requests"]
    assert entry["headers"]["x-request-id"] == "req-123" and entry["body"]["model"] == "gpt-4.1"
    assert [r.path for r in emu.requests] == ["/copilot/chat/completions", "/copilot/models"]  # control not recorded
    assert client.delete(f"{emu.url}/_emulator/requests").is_success and emu.requests == []
    with pytest.raises(LookupError):
        emu.last_request("/chat/completions")


# --------------------------------------------------------------------------- embeddings


def embed(copilot: Copilot, **body: Any) -> httpx.Response:
    return copilot.client.post(
        f"{copilot.emu.copilot_url}/embeddings",
        json={"model": "text-embedding-3-small", **body},
        headers=copilot.headers,
    )


def test_embeddings(copilot: Copilot) -> None:
    single = embed(copilot, input="hello world").json()
    assert single["object"] == "list" and single["model"] == "text-embedding-3-small"
    (item,) = single["data"]
    vector = item["embedding"]
    assert item["object"] == "embedding" and item["index"] == 0 and len(vector) == 1536
    assert math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0, abs_tol=1e-5)
    assert single["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    batch = embed(copilot, input=["hello world", "goodbye", "hello world"]).json()
    assert [d["index"] for d in batch["data"]] == [0, 1, 2]
    assert batch["data"][0]["embedding"] == vector == batch["data"][2]["embedding"]
    assert batch["data"][1]["embedding"] != vector
    tokens = embed(copilot, input=[[1, 2, 3], [4, 5]]).json()
    assert len(tokens["data"]) == 2 and tokens["usage"]["prompt_tokens"] == 5
    assert embed(copilot, input=[1, 2, 3]).json()["usage"]["prompt_tokens"] == 3


def test_embeddings_base64_dimensions_and_errors(copilot: Copilot) -> None:
    floats = embed(copilot, input="abc", dimensions=8).json()["data"][0]["embedding"]
    encoded = embed(copilot, input="abc", dimensions=8, encoding_format="base64").json()["data"][0]["embedding"]
    decoded = struct.unpack("<8f", base64.b64decode(encoded))
    assert all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(decoded, floats, strict=True))
    assert embed(copilot, input="abc", model="text-embedding-ada-002", dimensions=8).status_code == 400
    assert embed(copilot, input="").status_code == 400
    assert embed(copilot, input=[]).status_code == 400
    assert embed(copilot, input="abc", model="gpt-4.1").json()["error"]["code"] == "model_not_supported"


# --------------------------------------------------------------------------- control API


def test_script_queue(emu: Emulator, copilot: Copilot, client: httpx.Client) -> None:
    scripts = [
        {"content": "First scripted."},
        {"content": None, "tool_calls": [{"name": "Read", "arguments": {"file": "a.py"}, "id": "toolu_fixed"}]},
    ]
    queued = client.post(f"{emu.url}/_emulator/script", json={"responses": scripts}).json()
    assert queued == {"queued": 2, "pending": 2}
    assert copilot.chat().json()["choices"][0]["message"]["content"] == "First scripted."
    chunks = chunks_of(copilot.stream()[1])
    call = reassemble(chunks)[0]["calls"][0]
    assert call == {"id": "toolu_fixed", "name": "Read", "arguments": '{"file":"a.py"}'}
    assert client.get(f"{emu.url}/_emulator/script").json() == {"pending": 0}
    assert copilot.chat("back to default").json()["choices"][0]["message"]["content"].startswith("Hello from")


def test_script_match_error_and_raw(emu: Emulator, copilot: Copilot) -> None:
    emu.script(
        {"match": {"model": "claude-sonnet-4"}, "content": "for claude"},
        {"error": {"status": 503, "body": "plain text outage", "headers": {"X-Why": "test"}}},
        {"raw_chunks": ['{"choices":[]}', "not json", "[DONE]"]},
        {"raw_body": {"anything": True}},
        {"usage": {"prompt_tokens": 1000, "completion_tokens": 7, "cached_tokens": 900}, "model": "custom-model"},
    )
    outage = copilot.chat()  # gpt-4.1: skips the claude-only entry
    assert outage.status_code == 503 and outage.text == "plain text outage" and outage.headers["x-why"] == "test"
    assert copilot.chat(model="claude-sonnet-4").json()["choices"][0]["message"]["content"] == "for claude"
    assert copilot.stream()[1] == ['{"choices":[]}', "not json", "[DONE]"]
    assert copilot.chat().json() == {"anything": True}
    body = copilot.chat().json()
    assert body["model"] == "custom-model"
    assert body["usage"] == {
        "completion_tokens": 7,
        "prompt_tokens": 1000,
        "prompt_tokens_details": {"cached_tokens": 900},
        "total_tokens": 1007,
    }


def test_script_validation(emu: Emulator, client: httpx.Client) -> None:
    bad_entries: list[Any] = [[{"nope": 1}], [{"error": 200}], [{"tool_calls": [{"arguments": {}}]}], {"responses": 1}]
    for bad in bad_entries:
        response = client.post(f"{emu.url}/_emulator/script", json=bad)
        assert response.status_code == 400 and response.json()["error"]
    with pytest.raises(ValueError, match="fail_midstream"):
        emu.script({"fail_midstream": "yes"})
    emu.script({"content": "x"}, {"content": "y"})
    assert client.delete(f"{emu.url}/_emulator/script").json() == {"pending": 0}


def test_config_endpoint(emu: Emulator, client: httpx.Client) -> None:
    config = client.get(f"{emu.url}/_emulator/config").json()
    assert config["copilot_token_ttl"] == 1800 and config["refresh_in"] == 1500
    updated = client.post(f"{emu.url}/_emulator/config", json={"copilot_token_ttl": 120, "device_interval": 2}).json()
    assert updated["refresh_in"] == 100 and updated["device_interval"] == 2
    assert emu.config.copilot_token_ttl == 120
    for bad in ({"nope": 1}, {"device_interval": -1}, {"device_flow_scenario": "maybe"}, {"require_editor_version": 1}):
        assert client.post(f"{emu.url}/_emulator/config", json=bad).status_code == 400
    with pytest.raises(ValueError, match="unknown"):
        EmulatorConfig().updated({"ttl": 1})
    assert Emulator(copilot_token_ttl=60).config.refresh_in == 50


def test_reset(emu: Emulator, copilot: Copilot, client: httpx.Client) -> None:
    emu.configure(user_login="changed", premium_used=5)
    emu.script({"content": "queued"})
    emu.fail("/copilot/models", 500, times=None)
    copilot.chat()
    assert client.post(f"{emu.url}/_emulator/reset").json() == {"ok": True}
    assert emu.config == EmulatorConfig() and emu.premium_used == 0 and emu.requests == []
    assert client.get(f"{emu.copilot_url}/models", headers=copilot.headers).status_code == 200
    assert copilot.chat().json()["choices"][0]["message"]["content"].startswith("Hello from")  # token still valid


def test_faults(emu: Emulator, copilot: Copilot, client: httpx.Client) -> None:
    models = f"{emu.copilot_url}/models"
    emu.fail("/copilot/models", 503, times=2)
    assert [client.get(models, headers=copilot.headers).status_code for _ in range(3)] == [503, 503, 200]
    assert client.get(models, headers=copilot.headers).status_code == 200
    # Before authentication, with a custom body, through the control API.
    fault = {"path": "/api/copilot_internal/v2/token", "status": 500, "body": {"message": "boom"}}
    assert client.post(f"{emu.url}/_emulator/faults", json=fault).is_success
    response = client.get(f"{emu.github_api_url}/copilot_internal/v2/token")
    assert response.status_code == 500 and response.json() == {"message": "boom"}
    assert emu.last_request("/v2/token").status == 500
    emu.fail("/copilot/chat/completions", 429, method="GET")
    assert copilot.chat().status_code == 200  # method filter: POST is untouched
    assert client.post(f"{emu.url}/_emulator/faults", json={"path": "nope", "status": 500}).status_code == 400


def test_control_and_unknown_routes(emu: Emulator, client: httpx.Client) -> None:
    info = client.get(f"{emu.url}/_emulator").json()
    assert info["copilot_url"] == emu.copilot_url and info["default_github_token"] == DEFAULT_GITHUB_TOKEN
    assert client.get(f"{emu.url}/_emulator/nope").status_code == 404
    assert client.get(f"{emu.url}/nothing/here").status_code == 404
    assert client.post(f"{emu.url}/_emulator/github-tokens", json={"token": "gho_new"}).is_success
    assert client.get(f"{emu.github_api_url}/user", headers={"authorization": "token gho_new"}).status_code == 200
    assert [r.path for r in emu.requests] == ["/nothing/here", "/api/user"]


# --------------------------------------------------------------------------- pure helpers


@given(st.text())
def test_text_pieces_rejoin(text: str) -> None:
    assert "".join(text_pieces(text)) == text


@given(st.text(alphabet=st.characters(blacklist_characters="[")))
def test_text_without_keywords_is_untouched(text: str) -> None:
    plan, rest = parse_keywords(text)
    assert rest == text and plan.tool_calls == [] and plan.error is None


# --------------------------------------------------------------------------- CLI


@pytest.mark.parametrize(
    ("stop_with", "cli"),
    [
        # SIGINT ignored, as a suite started by `cmd &` passes it on: SIGTERM still stops it.
        (signal.SIGTERM, CLI_SIGINT_IGNORED),
        (signal.SIGINT, CLI_SIGINT_DEFAULT),
    ],
    ids=["SIGTERM", "SIGINT"],
)
def test_cli_prints_urls_and_serves(stop_with: signal.Signals, cli: tuple[str, ...]) -> None:
    process = subprocess.Popen(
        [*cli, "emulator", "--port", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while not lines or not lines[-1].startswith("Press Ctrl-C"):
            line = process.stdout.readline()
            assert line, process.stderr.read() if process.stderr else ""
            lines.append(line.strip())
        output = "\n".join(lines)
        api = next(line.split("=", 1)[1] for line in lines if "COPILOT_HYBRID_GITHUB_API_URL=" in line)
        assert "COPILOT_HYBRID_GITHUB_URL=http://127.0.0.1:" in output
        assert api.endswith("/api")
        token = httpx.get(
            f"{api}/copilot_internal/v2/token", headers={"authorization": f"token {DEFAULT_GITHUB_TOKEN}"}
        )
        assert token.json()["endpoints"]["api"] == api[: -len("/api")] + "/copilot"
        process.send_signal(stop_with)
        _, errors = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, errors
    assert f"Emulator stopped ({stop_with.name})." in errors
