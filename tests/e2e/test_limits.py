"""Issue 8, point 3: every request has a bounded cost. Each table row over
real sockets, against a real proxy subprocess:

- count_tokens with 32 MB of one letter (and other shapes), and six
  concurrent 8 MB requests: the server's peak RSS (VmHWM of the child
  process) grows by at most 10x the bodies' size; the default `shadow` mode
  must not run the reference tokenizer (36 s, 1.5 GB) on them. The wall time
  is printed next to the time native counting takes, never asserted;
- `input_schema.properties` sent as a 16 MB string: counted as its text,
  not as 16 M properties;
- an object nested 450 deep inside `tool_use.input`: a 400 naming the field,
  one log line, no traceback;
- temperature 1e400, NaN, max_tokens -5 and kin: a 400 naming the field,
  nothing forwarded upstream.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from copilot_hybrid.emulator import Emulator
from tests.support import HTTP_STACKS, Proxy, native_or_skip

MB = 1024 * 1024
MODEL = "claude-sonnet-4.5"
COUNT = "/v1/messages/count_tokens"
#: The target of the issue: a request adds at most this many times its size in RSS.
RSS_FACTOR = 10

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid>/status")


# ---- the server's memory, from /proc ---------------------------------------------------


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def peak_rss(pid: int) -> int:
    """Bytes: the process's peak resident set (VmHWM)."""
    return _status_kib(pid, "VmHWM") * 1024


def reset_peak_rss(pid: int) -> None:
    """Sets VmHWM back to the current RSS (Linux: clear_refs 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


@pytest.fixture(params=sorted(HTTP_STACKS))
def fresh_proxy(emulator: Emulator, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Proxy]:
    """A proxy of its own per test (freed memory stays in a process and would
    hide the next test's cost), with the 32 MiB default body cap and the
    tokenizer in its default `shadow` mode, warmed up: both tokenizers'
    tables are loaded before anything is measured. On both HTTP parsers: each
    buffers a request body its own way."""
    native_or_skip()
    # --offline-count-tokens: these rows measure the proxy's own counting (Claude models ask Copilot otherwise).
    running = Proxy(
        emulator,
        tmp_path / "home",
        "--offline-count-tokens",
        env={"COPILOT_HYBRID_FEATURE_TOKENIZER": "shadow", **HTTP_STACKS[request.param]},
    )
    try:
        warm = {"model": MODEL, "messages": [{"role": "user", "content": "warm up the tokenizers " * 100}]}
        assert httpx.post(running.url + COUNT, json=warm, timeout=60).status_code == 200
        yield running
    finally:
        running.stop()


def measured(proxy: Proxy, bodies: list[bytes], label: str) -> list[httpx.Response]:
    """Posts the bodies to count_tokens at once; asserts the RSS bound, prints the time."""
    pid = proxy.process.pid
    reset_peak_rss(pid)
    before = peak_rss(pid)
    responses: list[httpx.Response | None] = [None] * len(bodies)

    def post(i: int) -> None:
        responses[i] = httpx.post(
            proxy.url + COUNT, content=bodies[i], headers={"content-type": "application/json"}, timeout=600
        )

    started = time.perf_counter()
    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    seconds = time.perf_counter() - started
    added = peak_rss(pid) - before
    size = sum(map(len, bodies))
    print(f"\n{label}: {size / MB:.0f} MB in {seconds:.2f} s, peak RSS +{added / MB:.0f} MB ({added / size:.1f}x)")
    done = [r for r in responses if r is not None]
    assert len(done) == len(bodies), "a request did not finish"
    assert added <= RSS_FACTOR * size, f"{label}: +{added / MB:.0f} MB for {size / MB:.0f} MB of requests"
    return done


def native_count_seconds(text: str) -> float:
    from copilot_hybrid.tokenizer import get_encoding

    encoding = get_encoding("o200k_base", backend="native")
    started = time.perf_counter()
    encoding.count(text)
    return time.perf_counter() - started


def user_text(text: str) -> bytes:
    return json.dumps({"model": MODEL, "messages": [{"role": "user", "content": text}]}).encode()


def expected_tokens(payload: dict[str, Any]) -> int:
    from copilot_hybrid.tokenizer import get_encoding
    from copilot_hybrid.translate import count_anthropic_request_tokens

    encoding = get_encoding("o200k_base", backend="native")
    result: int = count_anthropic_request_tokens(payload, count=encoding.count, model_id=MODEL)
    return result


# ---- 32 MB count_tokens ----------------------------------------------------------------


@linux_only
def test_32_mb_of_one_letter(fresh_proxy: Proxy) -> None:
    """Before: 18-24 s and +1 GB for 20 MB; shadow ran tiktoken on it (36 s, 1.5 GB at 32 MB)."""
    text = "a" * (32 * MB - 100)
    (response,) = measured(fresh_proxy, [user_text(text)], "32 MB of one letter")
    assert response.status_code == 200
    assert response.json() == {"input_tokens": expected_tokens(json.loads(user_text(text)))}
    print(f"native counting of the text alone: {native_count_seconds(text):.2f} s")


@linux_only
def test_six_concurrent_8_mb_requests(fresh_proxy: Proxy) -> None:
    """Before: 2.84 GB peak."""
    bodies = [user_text(letter * (8 * MB - 100)) for letter in "abcdef"]
    for response in measured(fresh_proxy, bodies, "six concurrent 8 MB requests"):
        assert response.status_code == 200
        assert response.json()["input_tokens"] > 1_000_000


@linux_only
def test_32_mb_of_small_blocks_at_the_value_limit(fresh_proxy: Proxy) -> None:
    """The many-small-objects shape, as many as the value limit lets through
    (the rest of the 32 MB in one text): parse and translation stay bounded;
    past the limit, a 413."""
    blocks = [{"type": "text", "text": "ab"}] * 330_000
    filler = 32 * MB - len(json.dumps(blocks)) - 200
    payload = {
        "model": MODEL,
        "messages": [{"role": "user", "content": [*blocks, {"type": "text", "text": "z" * filler}]}],
    }
    body = json.dumps(payload, separators=(",", ":")).encode()
    (response,) = measured(fresh_proxy, [body], "32 MB of small text blocks")
    assert response.status_code == 200
    assert response.json() == {"input_tokens": expected_tokens(payload)}
    # Past the limit: 11 M empty objects (770 MB once parsed) are refused before parsing.
    empties = (
        b'{"model":"claude-sonnet-4.5","messages":[{"role":"user","content":"a"}],"x":[' + b"{}," * (11 * MB) + b"{}]}"
    )
    (response,) = measured(fresh_proxy, [empties], "32 MB of empty objects")
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"


@linux_only
@pytest.mark.slow
@pytest.mark.parametrize("shape", ["spaces", "punctuation", "tool_use input"])
def test_32_mb_of_other_shapes(fresh_proxy: Proxy, shape: str) -> None:
    size = 32 * MB - 300
    if shape == "spaces":
        payload: dict[str, Any] = json.loads(user_text(" " * size + "x"))
    elif shape == "punctuation":
        payload = json.loads(user_text("!" * size))
    else:
        tool_use = {"type": "tool_use", "id": "t1", "name": "n", "input": {"k": "a" * size}}
        payload = {
            "model": MODEL,
            "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": [tool_use]}],
        }
    (response,) = measured(fresh_proxy, [json.dumps(payload).encode()], f"32 MB of {shape}")
    assert response.status_code == 200
    assert response.json() == {"input_tokens": expected_tokens(payload)}


@linux_only
def test_string_properties_are_counted_as_text(fresh_proxy: Proxy) -> None:
    """Before: one property per character: 57,881,833 tokens and +2.2 GB for 16 MB."""
    text = "p" * (16 * MB)
    tool = {"name": "t", "input_schema": {"type": "object", "properties": text}}
    payload = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "tools": [tool]}
    (response,) = measured(fresh_proxy, [json.dumps(payload).encode()], "16 MB string `properties`")
    assert response.status_code == 200
    tokens = response.json()["input_tokens"]
    assert tokens == expected_tokens(payload)
    assert tokens < len(text)  # per character it was over 3 tokens a character


# ---- nesting ----------------------------------------------------------------------------


def nested_body(path: str, levels: int) -> bytes:
    """A tool call whose input (or, on chat, an extra field) is `levels` objects deep."""
    inner = '{"k":' * (levels - 1) + "{}" + "}" * (levels - 1)
    if path == "/v1/chat/completions":
        call = '{"id":"c1","type":"function","function":{"name":"n","arguments":"{}"},"extra":' + inner + "}"
        return (
            '{"model":"gpt-4.1","messages":[{"role":"user","content":"q"},{"role":"assistant","tool_calls":['
            + call
            + "]}]}"
        ).encode()
    tool_use = '{"type":"tool_use","id":"t1","name":"n","input":' + inner + "}"
    return (
        '{"model":"claude-sonnet-4.5","max_tokens":10,"messages":[{"role":"user","content":"q"},'
        '{"role":"assistant","content":[' + tool_use + "]}]}"
    ).encode()


def error_of(response: httpx.Response, path: str) -> tuple[str, str | None]:
    """(message, param) of an error answer, checking it is in the caller's format."""
    data = response.json()
    if path.startswith("/v1/messages"):
        assert data["type"] == "error" and set(data["error"]) == {"type", "message"}
        assert data["error"]["type"] == "invalid_request_error"
        return str(data["error"]["message"]), None
    assert set(data) == {"error"} and set(data["error"]) == {"message", "type", "param", "code"}
    assert data["error"]["type"] == "invalid_request_error"
    return str(data["error"]["message"]), data["error"]["param"]


ROUTES = ["/v1/messages", COUNT, "/v1/chat/completions"]


@pytest.mark.parametrize("path", ROUTES)
def test_450_levels_deep_is_a_400_naming_the_field_with_one_log_line(
    proxy: Proxy, emulator: Emulator, path: str
) -> None:
    """Before: 500 "Internal error: RecursionError..." and ~2,000 lines of traceback."""
    forwarded = len(emulator.requests_to("/chat/completions"))
    log_before = proxy.log()
    response = httpx.post(proxy.url + path, content=nested_body(path, 450), headers=proxy.headers, timeout=30)
    assert response.status_code == 400, response.text
    message, param = error_of(response, path)
    field = "messages.1.tool_calls.0.extra.k.k.k.k.k.k.k..." if "chat" in path else "messages.1.content.0.input"
    assert f"`{field}" in message and "nested more than 128 levels deep" in message
    assert param is None or param.startswith(field)
    assert "Recursion" not in message and "Traceback" not in message
    new_lines = proxy.log()[len(log_before) :].splitlines()
    assert "Traceback" not in "\n".join(new_lines)
    ours = [line for line in new_lines if "uvicorn.access" not in line]
    assert len(ours) == 1 and "nested more than 128 levels deep" in ours[0], new_lines
    assert len(emulator.requests_to("/chat/completions")) == forwarded
    # 128 levels in all are fine (the body, messages, the message, content, the block: 5 of them).
    assert (
        httpx.post(proxy.url + path, content=nested_body(path, 128 - 5), headers=proxy.headers, timeout=30).status_code
        == 200
    )
    assert (
        httpx.post(proxy.url + path, content=nested_body(path, 128 - 4), headers=proxy.headers, timeout=30).status_code
        == 400
    )


# ---- numbers -------------------------------------------------------------------------


def anthropic_body(**fields: Any) -> str:
    return json.dumps({"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "x"}], **fields})


def openai_body(**fields: Any) -> str:
    return json.dumps({"model": "gpt-4.1", "messages": [{"role": "user", "content": "x"}], **fields})


BAD_NUMBERS = [
    ("/v1/messages", anthropic_body(temperature=0.5).replace("0.5", "1e400"), "temperature"),
    ("/v1/messages", anthropic_body(top_p=0.5).replace("0.5", "NaN"), "top_p"),
    ("/v1/messages", anthropic_body().replace('"max_tokens": 10', '"max_tokens": -5'), "max_tokens"),
    ("/v1/messages", anthropic_body(thinking={"type": "enabled", "budget_tokens": -5}), "thinking.budget_tokens"),
    (COUNT, anthropic_body(metadata={"n": 0.5}).replace("0.5", "-Infinity"), "metadata.n"),
    ("/v1/chat/completions", openai_body(temperature=0.5).replace("0.5", "1e400"), "temperature"),
    ("/v1/chat/completions", openai_body(max_tokens=-5), "max_tokens"),
    ("/v1/chat/completions", openai_body(max_completion_tokens=0), "max_completion_tokens"),
    ("/v1/chat/completions", openai_body(tools=[{"x": 0.5}]).replace("0.5", "Infinity"), "tools.0.x"),
    ("/v1/embeddings", '{"model": "text-embedding-3-small", "input": "x", "dimensions": 1e999}', "dimensions"),
]


@pytest.mark.parametrize(("path", "body", "field"), BAD_NUMBERS)
def test_non_finite_numbers_and_bad_token_limits_are_a_400_naming_the_field(
    proxy: Proxy, emulator: Emulator, path: str, body: str, field: str
) -> None:
    """Before: temperature 1e400 reached Copilot as `Infinity` (not JSON), max_tokens -5 as -5."""
    upstream = "/embeddings" if "embeddings" in path else "/chat/completions"
    forwarded = len(emulator.requests_to(upstream))
    response = httpx.post(proxy.url + path, content=body.encode(), headers=proxy.headers, timeout=30)
    assert response.status_code == 400, response.text
    message, param = error_of(response, path)
    assert f"`{field}`" in message
    assert param in (None, field)
    assert len(emulator.requests_to(upstream)) == forwarded  # nothing went upstream
    assert httpx.get(proxy.url + "/", timeout=10).text == "Server running"
