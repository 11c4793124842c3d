"""`bench proxy`'s ends: the fake upstream (a real process on a real socket, keep-alive,
well-formed SSE) and the HTTP framing both ends share."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from copilot_hybrid.bench.runner import fake_upstream
from copilot_hybrid.bench.scenarios import (
    ANSWER_TEXT,
    CHUNKS,
    COPILOT_TOKEN,
    TRANSLATED_MODEL,
    all_scenarios,
    claude_code_record,
)
from copilot_hybrid.bench.wire import ResponseReader, chunked, response
from copilot_hybrid.errors import BenchError
from tests.support import claude_code_request


@pytest.fixture(scope="module")
def upstream() -> Iterator[int]:
    with fake_upstream(None) as port:
        yield port


def _request(port: int, method: str, path: str, body: bytes = b"") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-length: {len(body)}\r\n\r\n".encode() + body


def _read_one(sock: socket.socket, reader: ResponseReader) -> int:
    while True:
        data = sock.recv(65536)
        assert data, "the fake upstream closed a keep-alive connection"
        result = reader.feed(data)
        if result is not None:
            status, leftover = result
            assert leftover == b""
            return status


def test_every_answer_over_one_keep_alive_connection(upstream: int) -> None:
    requests = [
        ("GET", "/copilot_internal/v2/token", b""),
        ("GET", "/models", b""),
        ("POST", "/chat/completions", b'{"model":"gpt-4.1","messages":[]}'),
        ("POST", "/chat/completions", b'{"model":"gpt-4.1","stream":true}'),
        ("POST", "/v1/messages", b'{"model":"claude-opus-5.5"}'),
        ("POST", "/v1/messages?beta=true", b'{"model":"claude-opus-5.5","stream":true}'),
    ]
    with socket.create_connection(("127.0.0.1", upstream), timeout=10) as sock:
        reader = ResponseReader()
        statuses = []
        for method, path, body in requests * 3:  # the same connection answers every one, many times
            sock.sendall(_request(upstream, method, path, body))
            statuses.append(_read_one(sock, reader))
        sock.sendall(_request(upstream, "GET", "/nowhere"))
        assert _read_one(sock, reader) == 404
    assert statuses == [200] * len(requests) * 3


def test_a_request_split_across_writes_is_answered_once(upstream: int) -> None:
    raw = _request(upstream, "POST", "/chat/completions", b'{"model":"gpt-4.1","messages":[]}')
    with socket.create_connection(("127.0.0.1", upstream), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = ResponseReader()
        for i in range(len(raw)):
            sock.sendall(raw[i : i + 1])
        assert _read_one(sock, reader) == 200


def test_token_and_models_let_the_proxy_start(upstream: int) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{upstream}") as client:
        token = client.get("/copilot_internal/v2/token").json()
        models = client.get("/models").json()["data"]
    assert token["token"] == COPILOT_TOKEN
    assert token["endpoints"]["api"] == f"http://127.0.0.1:{upstream}"
    assert token["refresh_in"] > 24 * 3600  # no refresh during a bench run
    by_id = {m["id"]: m for m in models}
    assert by_id[TRANSLATED_MODEL]["supported_endpoints"] == ["/chat/completions"]
    assert "/v1/messages" in by_id["claude-opus-5.5"]["supported_endpoints"]
    assert "gpt-4.1" in by_id


def _events(text: str) -> list[dict[str, str]]:
    assert text.endswith("\n\n")
    events = []
    for block in text[:-2].split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        assert set(fields) <= {"event", "data"}
        events.append(fields)
    return events


def test_chat_stream_is_well_formed_sse(upstream: int) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{upstream}") as client:
        answer = client.post("/chat/completions", content=b'{"stream":true}')
    assert answer.headers["content-type"] == "text/event-stream"
    assert answer.headers["transfer-encoding"] == "chunked"
    events = _events(answer.text)
    assert events[-1] == {"data": "[DONE]"}
    chunks = [json.loads(e["data"]) for e in events[:-1]]
    assert len(chunks) == CHUNKS
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == ANSWER_TEXT
    assert [c["choices"][0]["finish_reason"] for c in chunks].count("stop") == 1
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["completion_tokens"] == CHUNKS


def test_messages_stream_is_well_formed_sse(upstream: int) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{upstream}") as client:
        answer = client.post("/v1/messages", content=b'{"stream":true}')
    events = _events(answer.text)
    for event in events:
        assert json.loads(event["data"])["type"] == event["event"]
    names = [e["event"] for e in events]
    assert names[:2] == ["message_start", "content_block_start"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert names.count("content_block_delta") == CHUNKS


def test_json_answers_parse(upstream: int) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{upstream}") as client:
        chat = client.post("/chat/completions", content=b'{"stream":false}').json()
        message = client.post("/v1/messages", content=b"{}").json()
    assert chat["choices"][0]["message"]["content"] == ANSWER_TEXT
    assert message["content"][0]["text"] == ANSWER_TEXT


def test_a_chunked_request_body_is_refused_clearly(upstream: int) -> None:
    raw = b"POST /chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n" + chunked([b"{}"])
    with socket.create_connection(("127.0.0.1", upstream), timeout=10) as sock:
        sock.sendall(raw)
        assert _read_one(sock, ResponseReader()) == 400


def test_reader_finds_each_response_in_any_split() -> None:
    stream = response(200, "text/event-stream", b"", stream_parts=[b"data: 1\n\n", b"data: 2\n\n"])
    plain = response(404, "application/json", b'{"error":1}')
    wire = stream + plain + stream
    for size in (1, 3, 7, len(wire)):
        reader, statuses = ResponseReader(), []
        for start in range(0, len(wire), size):
            data = wire[start : start + size]
            while (result := reader.feed(data)) is not None:
                status, data = result  # the next response's first bytes, if any
                statuses.append(status)
        assert statuses == [200, 404, 200], size


def test_scenarios_cover_issue_12s_table() -> None:
    scenarios = {s.key: s for s in all_scenarios()}
    assert {"openai-small", "openai-76kb", "anthropic-small", "anthropic-claude-code", "anthropic-stream"} <= set(
        scenarios
    )
    assert 74 * 1024 <= len(scenarios["openai-76kb"].body) <= 78 * 1024
    for scenario in scenarios.values():
        payload = json.loads(scenario.body)
        assert (payload.get("stream") is True) == scenario.stream
        if scenario.non_stream_twin:
            twin = json.loads(scenarios[scenario.non_stream_twin].body)
            assert {**payload, "stream": False} == {**twin, "stream": False}


def test_the_shipped_claude_code_record_is_the_recorded_fixture() -> None:
    assert claude_code_record() == claude_code_request("first_turn")


def test_a_recorded_claude_code_request_replaces_the_shipped_one(tmp_path: Path) -> None:
    body = {"model": "claude-opus-5-5", "max_tokens": 10, "messages": [{"role": "user", "content": "x" * 5000}]}
    record = tmp_path / "captured.json"
    record.write_text(json.dumps({"headers": {"anthropic-version": "2023-06-01", "host": "h"}, "body": body}))
    scenarios = {s.key: s for s in all_scenarios(record)}
    sent = json.loads(scenarios["anthropic-claude-code"].body)
    assert sent["messages"] == body["messages"] and sent["model"] == TRANSLATED_MODEL
    assert dict(scenarios["anthropic-claude-code"].headers) == {"anthropic-version": "2023-06-01"}
    record.write_text("[1, 2]")
    with pytest.raises(BenchError, match="not a recorded request"):
        all_scenarios(record)
