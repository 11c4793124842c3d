"""No silent waits and reused upstream connections (issue 8, points 5 and 6), over
real sockets: the emulator stalls (before its headers or mid-stream), the proxy
sends keep-alive pings and ends a dead wait with a 504 or a final `error` event;
upstream's Retry-After reaches the client; streamed requests share one upstream
connection; an answer cut off midway ends as an error.

These are the tests that exercise the upstream transport, so every one runs
under both `--upstream-transport aiohttp` and `httpx` (the rest of the suite
runs on the default)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from copilot_hybrid.config import UPSTREAM_TRANSPORTS
from copilot_hybrid.emulator import Emulator
from tests.support import Proxy

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CLAUDE = "claude-sonnet-4.5"
GPT = "gpt-4.1"
TEXT = "one two three four five six seven eight nine ten eleven twelve"


@pytest.fixture(scope="module", params=UPSTREAM_TRANSPORTS)
def quick_proxy(
    request: pytest.FixtureRequest, emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    """Short timeouts, set by options: first byte 1 s, stream idle 3 s, a ping every 0.25 s.
    Anthropic requests take the chat translation here; `native_proxy` covers Copilot's /v1/messages."""
    running = Proxy(
        emulator,
        tmp_path_factory.mktemp(f"home-quick-{request.param}"),
        "--upstream-transport",
        request.param,
        "--no-native-messages",
        "--upstream-timeout",
        "1",
        "--stream-idle-timeout",
        "3",
        "--ping-interval",
        "0.25",
        env={"GH_TOKEN": emulator.github_token},
    )
    yield running
    running.stop()


def _anthropic_body(content: str, stream: bool | None = True) -> dict[str, Any]:
    body = {"model": CLAUDE, "max_tokens": 200, "messages": [{"role": "user", "content": content}]}
    return body if stream is None else {**body, "stream": stream}


def _openai_body(content: str, stream: bool = True) -> dict[str, Any]:
    return {"model": GPT, "stream": stream, "messages": [{"role": "user", "content": content}]}


def _raw_stream(proxy: Proxy, path: str, body: dict[str, Any]) -> tuple[httpx.Response, bytes]:
    with httpx.stream("POST", proxy.url + path, json=body, timeout=30) as response:
        return response, b"".join(response.iter_bytes())


def _anthropic_events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in raw.decode().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


def _anthropic_text(events: list[tuple[str, dict[str, Any]]]) -> str:
    return "".join(e["delta"].get("text", "") for name, e in events if name == "content_block_delta")


# ---- keep-alive pings ---------------------------------------------------------------

#: A ping after every interval of silence is checked without wall-clock timing in
#: tests/unit/test_upstream_stream.py. Over real sockets a loaded machine once gave a
#: 1.5 s stall (0.25 s interval) a single ping, so these tests ask for one, in the silence.
MIN_PINGS = 1


def test_anthropic_stream_gets_pings_during_a_stall(quick_proxy: Proxy) -> None:
    response, raw = _raw_stream(quick_proxy, "/v1/messages", _anthropic_body(f"[[reply:{TEXT}]] [[stall:1500]]"))
    assert response.status_code == 200
    events = _anthropic_events(raw)
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-1] == "message_stop"
    first_ping = names.index("ping")
    # The pings fill the silence between content deltas, and nothing is lost around them.
    assert "content_block_delta" in names[:first_ping] and "content_block_delta" in names[first_ping:]
    assert names.count("ping") >= MIN_PINGS
    assert all(data == {"type": "ping"} for name, data in events if name == "ping")
    assert _anthropic_text(events) == TEXT


def test_anthropic_sdk_reads_a_stream_with_pings(quick_proxy: Proxy) -> None:
    client = anthropic.Anthropic(base_url=quick_proxy.url, api_key="x", max_retries=0, timeout=30)
    body = _anthropic_body(f"[[reply:{TEXT}]] [[stall:800]]", stream=None)
    with client.messages.stream(**body) as stream:
        message = stream.get_final_message()
    assert message.content[0].text == TEXT  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"


def test_openai_stream_gets_comment_pings_during_a_stall(quick_proxy: Proxy) -> None:
    response, raw = _raw_stream(quick_proxy, "/v1/chat/completions", _openai_body(f"[[reply:{TEXT}]] [[stall:1500]]"))
    assert response.status_code == 200
    assert raw.count(b": ping\n\n") >= MIN_PINGS
    without_pings = raw.replace(b": ping\n\n", b"")
    assert without_pings.endswith(b"data: [DONE]\n\n")
    # The events around the pings are the emulator's, whole.
    chunks = [json.loads(line[6:]) for line in without_pings.split(b"\n\n") if line.startswith(b"data: {")]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == TEXT


def test_openai_sdk_reads_a_stream_with_pings(quick_proxy: Proxy) -> None:
    client = openai.OpenAI(base_url=quick_proxy.url + "/v1", api_key="x", max_retries=0, timeout=30)
    stream = client.chat.completions.create(**_openai_body(f"[[reply:{TEXT}]] [[stall:800]]"))  # type: ignore[call-overload]
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices) == TEXT


# ---- timeouts -------------------------------------------------------------------------


def test_stream_idle_timeout_ends_anthropic_stream_with_error_event(quick_proxy: Proxy) -> None:
    response, raw = _raw_stream(quick_proxy, "/v1/messages", _anthropic_body("long [[stall:8000]]"))
    assert response.status_code == 200
    events = _anthropic_events(raw)
    assert "ping" in [name for name, _ in events]
    name, data = events[-1]
    assert name == "error" and data["error"]["type"] == "api_error"
    assert "--stream-idle-timeout" in data["error"]["message"]


def test_stream_idle_timeout_ends_openai_stream_with_error_chunk(quick_proxy: Proxy) -> None:
    response, raw = _raw_stream(quick_proxy, "/v1/chat/completions", _openai_body("long [[stall:8000]]"))
    assert response.status_code == 200
    assert b": ping\n\n" in raw
    last = raw.rstrip(b"\n").split(b"\n\n")[-1]
    assert last.startswith(b"data: ")
    assert "--stream-idle-timeout" in json.loads(last[6:])["error"]["message"]
    client = openai.OpenAI(base_url=quick_proxy.url + "/v1", api_key="x", max_retries=0, timeout=30)
    with pytest.raises(openai.APIError, match="stream-idle-timeout"):
        for _ in client.chat.completions.create(**_openai_body("long [[stall:8000]]")):  # type: ignore[call-overload]
            pass


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/chat/completions"])
def test_stream_idle_timeout_closes_the_upstream_connection(quick_proxy: Proxy, emulator: Emulator, path: str) -> None:
    """After the idle timeout the proxy hangs up on upstream: the emulator's writes after
    its stall fail (a connection left open would take them and never be reused)."""
    body = (_anthropic_body if path == "/v1/messages" else _openai_body)(f"[[reply:{TEXT}]] [[stall:4000]]")
    for _ in range(3):
        emulator.clear_requests()
        response, raw = _raw_stream(quick_proxy, path, body)
        assert response.status_code == 200 and b"--stream-idle-timeout" in raw
        assert emulator.wait_sent(emulator.last_request("/chat/completions"), timeout=30).finished is False


@pytest.mark.parametrize("stream", [True, False])
def test_upstream_timeout_before_headers_is_504(quick_proxy: Proxy, stream: bool) -> None:
    anthropic_reply = httpx.post(
        quick_proxy.url + "/v1/messages", json=_anthropic_body("[[slow:5000]]", stream), timeout=30
    )
    assert anthropic_reply.status_code == 504
    error = anthropic_reply.json()
    assert error["type"] == "error" and "--upstream-timeout" in error["error"]["message"]
    openai_reply = httpx.post(
        quick_proxy.url + "/v1/chat/completions", json=_openai_body("[[slow:5000]]", stream), timeout=30
    )
    assert openai_reply.status_code == 504
    assert "--upstream-timeout" in openai_reply.json()["error"]["message"]
    # The proxy is fine afterwards.
    assert httpx.post(quick_proxy.url + "/v1/chat/completions", json=_openai_body("hi", False), timeout=30).is_success


# ---- Retry-After ------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [True, False])
def test_retry_after_of_a_429_passes_through(quick_proxy: Proxy, stream: bool) -> None:
    for path, body in (
        ("/v1/messages", _anthropic_body("[[error:429]]", stream)),
        ("/v1/chat/completions", _openai_body("[[error:429]]", stream)),
    ):
        response = httpx.post(quick_proxy.url + path, json=body, timeout=30)
        assert response.status_code == 429
        assert response.headers.get("retry-after") == "1"


def test_retry_after_of_a_503_passes_through(quick_proxy: Proxy, emulator: Emulator) -> None:
    overloaded = {"error": {"status": 503, "headers": {"retry-after": "7"}}}
    emulator.script(overloaded, overloaded)
    anthropic_reply = httpx.post(quick_proxy.url + "/v1/messages", json=_anthropic_body("hi"), timeout=30)
    assert anthropic_reply.status_code == 503 and anthropic_reply.headers.get("retry-after") == "7"
    assert anthropic_reply.json()["type"] == "error"
    openai_reply = httpx.post(quick_proxy.url + "/v1/chat/completions", json=_openai_body("hi"), timeout=30)
    assert openai_reply.status_code == 503 and openai_reply.headers.get("retry-after") == "7"
    # The SDKs see it: the anthropic SDK would wait that long before a retry.
    emulator.script(overloaded)
    client = anthropic.Anthropic(base_url=quick_proxy.url, api_key="x", max_retries=0, timeout=30)
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(**_anthropic_body("hi", stream=False))  # type: ignore[arg-type]
    assert caught.value.response.headers.get("retry-after") == "7"


# ---- upstream connection reuse -------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/messages", _anthropic_body(f"[[reply:{TEXT}]]")),
        ("/v1/chat/completions", _openai_body(f"[[reply:{TEXT}]]")),
    ],
    ids=["anthropic-translated", "openai-passthrough"],
)
def test_ten_streamed_requests_use_one_upstream_connection(
    quick_proxy: Proxy, emulator: Emulator, path: str, body: dict[str, Any]
) -> None:
    accepted_before = emulator.connections_accepted
    emulator.clear_requests()
    with httpx.Client(base_url=quick_proxy.url, timeout=30) as client:
        for _ in range(10):
            with client.stream("POST", path, json=body) as response:
                assert response.status_code == 200
                raw = b"".join(response.iter_bytes())
            assert TEXT.split()[-1].encode() in raw
    streamed = [emulator.wait_sent(r) for r in emulator.requests_to("/chat/completions")]
    used = {r.connection for r in streamed}
    assert len(streamed) == 10 and all(r.finished for r in streamed)
    assert len(used) == 1, f"10 streams over {len(used)} upstream connections"
    assert emulator.connections_accepted - accepted_before <= 1


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/chat/completions"])
def test_client_leaving_mid_stream_closes_the_upstream_connection(
    quick_proxy: Proxy, emulator: Emulator, path: str
) -> None:
    """A stream the client abandons is not drained (the generation could run for
    minutes): its upstream connection is closed, and the next request opens another."""
    emulator.clear_requests()
    body = (_anthropic_body if path == "/v1/messages" else _openai_body)(f"[[reply:{TEXT}]] [[stall:1500]]")
    with httpx.stream("POST", quick_proxy.url + path, json=body, timeout=30) as response:
        assert response.status_code == 200
        next(response.iter_bytes())  # the stream has begun; then the client hangs up
    # When the stall ends the emulator writes the rest into a closed connection.
    abandoned = emulator.wait_sent(emulator.last_request("/chat/completions"), timeout=30)
    assert abandoned.finished is False
    follow_up = (_anthropic_body if path == "/v1/messages" else _openai_body)("after")
    with httpx.stream("POST", quick_proxy.url + path, json=follow_up, timeout=30) as response:
        assert response.status_code == 200
        assert b"after" in b"".join(response.iter_bytes())
    assert emulator.last_request("/chat/completions").connection != abandoned.connection
    assert "Traceback" not in quick_proxy.log()


def test_proxy_logs_the_transport_it_runs(quick_proxy: Proxy) -> None:
    asked = quick_proxy.args[quick_proxy.args.index("--upstream-transport") + 1]
    assert f"Upstream transport: {asked}" in quick_proxy.log()


# ---- an answer cut off midway ------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/chat/completions"])
def test_stream_cut_off_midway_ends_with_an_error(quick_proxy: Proxy, emulator: Emulator, path: str) -> None:
    body = (_anthropic_body if path == "/v1/messages" else _openai_body)(f"[[reply:{TEXT}]] [[fail-midstream]]")
    response, raw = _raw_stream(quick_proxy, path, body)
    assert response.status_code == 200
    if path == "/v1/messages":
        names = [name for name, _ in _anthropic_events(raw)]
        assert names[0] == "message_start" and names[-1] == "error" and "message_stop" not in names
    else:
        last = [line for line in raw.split(b"\n") if line.startswith(b"data: ")][-1]
        assert "error" in json.loads(last[6:]) and b"[DONE]" not in raw
    # The broken connection is gone; the next request is served.
    _, raw = _raw_stream(quick_proxy, path, (_anthropic_body if path == "/v1/messages" else _openai_body)("after"))
    assert b"after" in raw
    assert "Traceback" not in quick_proxy.log()


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/chat/completions"])
def test_answer_cut_off_midway_is_502(quick_proxy: Proxy, path: str) -> None:
    body = (_anthropic_body if path == "/v1/messages" else _openai_body)("x [[fail-midstream]]", stream=False)
    response = httpx.post(quick_proxy.url + path, json=body, timeout=30)
    assert response.status_code == 502
    message = response.json()["error"]["message"]
    assert "RemoteProtocolError" in message, message  # the same error under both transports


# ---- the Responses route inherits the same rules ---------------------------------------


def _responses_body(content: str) -> dict[str, Any]:
    return {"model": GPT, "stream": True, "input": content}


def test_responses_stream_gets_comment_pings_during_a_stall(quick_proxy: Proxy) -> None:
    # A chat-only model: the Responses route translates Copilot's chat stream, stall included.
    response, raw = _raw_stream(quick_proxy, "/v1/responses", _responses_body(f"[[reply:{TEXT}]] [[stall:1500]]"))
    assert response.status_code == 200
    assert raw.count(b": ping\n\n") >= MIN_PINGS
    events = [json.loads(line[6:]) for line in raw.split(b"\n") if line.startswith(b"data: {")]
    assert events[-1]["type"] == "response.completed"
    assert "".join(e.get("delta", "") for e in events if e["type"] == "response.output_text.delta") == TEXT


def test_stream_idle_timeout_ends_responses_stream_with_response_failed(quick_proxy: Proxy) -> None:
    response, raw = _raw_stream(quick_proxy, "/v1/responses", _responses_body("long [[stall:8000]]"))
    assert response.status_code == 200
    events = [json.loads(line[6:]) for line in raw.split(b"\n") if line.startswith(b"data: {")]
    terminal = [e for e in events if e["type"] in ("response.completed", "response.failed", "response.incomplete")]
    assert [e["type"] for e in terminal] == ["response.failed"] and events[-1] is terminal[0]


# ---- the native /v1/messages route inherits the same rules ----------------------------------


@pytest.fixture(scope="module", params=UPSTREAM_TRANSPORTS)
def native_proxy(
    request: pytest.FixtureRequest, emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    """The same short timeouts, Claude models on Copilot's own /v1/messages."""
    running = Proxy(
        emulator,
        tmp_path_factory.mktemp(f"home-native-{request.param}"),
        "--upstream-transport",
        request.param,
        "--upstream-timeout",
        "1",
        "--stream-idle-timeout",
        "3",
        "--ping-interval",
        "0.25",
        env={"GH_TOKEN": emulator.github_token},
    )
    yield running
    running.stop()


def test_native_messages_stream_gets_pings_during_a_stall(native_proxy: Proxy, emulator: Emulator) -> None:
    response, raw = _raw_stream(native_proxy, "/v1/messages", _anthropic_body(f"[[reply:{TEXT}]] [[stall:1500]]"))
    assert response.status_code == 200
    events = _anthropic_events(raw)
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert names.count("ping") >= MIN_PINGS
    assert "content_block_delta" in names[names.index("ping") :]  # in the silence, before the text
    assert _anthropic_text(events) == TEXT
    assert emulator.last_request("/v1/messages").body["model"] == CLAUDE


def test_native_messages_stream_idle_timeout_ends_with_error_event(native_proxy: Proxy) -> None:
    response, raw = _raw_stream(native_proxy, "/v1/messages", _anthropic_body("long [[stall:8000]]"))
    assert response.status_code == 200
    name, data = _anthropic_events(raw)[-1]
    assert name == "error" and "--stream-idle-timeout" in data["error"]["message"]


def test_ten_native_messages_streams_use_one_upstream_connection(native_proxy: Proxy, emulator: Emulator) -> None:
    accepted_before = emulator.connections_accepted
    emulator.clear_requests()
    with httpx.Client(base_url=native_proxy.url, timeout=30) as client:
        for _ in range(10):
            with client.stream("POST", "/v1/messages", json=_anthropic_body(f"[[reply:{TEXT}]]")) as response:
                assert response.status_code == 200
                assert TEXT.split()[-1].encode() in b"".join(response.iter_bytes())
    streamed = [emulator.wait_sent(r) for r in emulator.requests_to("/v1/messages")]
    assert len(streamed) == 10 and all(r.finished for r in streamed)
    assert len({r.connection for r in streamed}) == 1
    assert emulator.connections_accepted - accepted_before <= 1
