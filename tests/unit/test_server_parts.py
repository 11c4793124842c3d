"""Server building blocks: error bodies, upstream message parsing, the
max_tokens splice, SSE parsing, log redaction, the CLI's lazy imports."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest

from copilot_hybrid.errors import UpstreamError, upstream_message
from copilot_hybrid.logs import RedactingFilter
from copilot_hybrid.redact import redact, register_secret
from copilot_hybrid.server.claude_code import claude_code_command
from copilot_hybrid.server.errors import error_response, upstream_error_response
from copilot_hybrid.server.routes_openai import with_default_max_tokens
from copilot_hybrid.server.streams import event_boundary, iter_sse_data


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"error":{"message":"model not supported","code":"model_not_supported"}}', "model not supported"),
        (b'{"message":"Bad credentials","documentation_url":"x"}', "Bad credentials"),
        (b'{"error":"unauthorized: token expired"}', "unauthorized: token expired"),
        (b'{"error":"slow","error_description":"too fast"}', "too fast"),
        (b"upstream exploded", "upstream exploded"),
        (b"", "(empty body)"),
        (b"[1,2]", "[1,2]"),
    ],
)
def test_upstream_message(body: bytes, message: str) -> None:
    assert upstream_message(body) == message


def test_error_formats_follow_the_path() -> None:
    openai_body = json.loads(error_response("/v1/chat/completions", 400, "bad").body)
    assert openai_body == {"error": {"message": "bad", "type": "invalid_request_error", "param": None, "code": None}}
    anthropic_body = json.loads(error_response("/v1/messages/count_tokens", 413, "big").body)
    assert anthropic_body == {"type": "error", "error": {"type": "request_too_large", "message": "big"}}
    assert json.loads(error_response("/v1/messages", 503, "x").body)["error"]["type"] == "overloaded_error"
    assert json.loads(error_response("/v1/messages", 500, "x").body)["error"]["type"] == "api_error"
    assert json.loads(error_response("/v1/messagesfoo", 404, "x").body)["error"]["type"] == "invalid_request_error"


def test_upstream_error_keeps_status_code_and_text() -> None:
    exc = UpstreamError(400, b'{"error":{"message":"nope","code":"model_not_supported","param":"model"}}')
    response = upstream_error_response("/v1/chat/completions", exc)
    assert response.status_code == 400
    assert json.loads(response.body) == {
        "error": {"message": "nope", "type": "invalid_request_error", "param": "model", "code": "model_not_supported"}
    }
    response = upstream_error_response("/v1/messages", exc)
    assert json.loads(response.body) == {"type": "error", "error": {"type": "invalid_request_error", "message": "nope"}}


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/chat/completions", "/chat/completions"])
@pytest.mark.parametrize("body", [b'{"error":{"message":"slow down","code":"rate_limited"}}', b"plain text"])
def test_upstream_retry_after_reaches_the_client(path: str, body: bytes) -> None:
    exc = UpstreamError(429, body, headers={"retry-after": "12"})
    response = upstream_error_response(path, exc)
    assert response.status_code == 429 and response.headers["retry-after"] == "12"


def test_max_tokens_splice_keeps_client_bytes() -> None:
    body = b'  {"model": "gpt-4.1", "messages": [], "x": {"y": 1}}'
    payload = json.loads(body)
    spliced = with_default_max_tokens(body, payload, 4096)
    assert json.loads(spliced) == {**payload, "max_tokens": 4096}
    assert spliced.endswith(b'"messages": [], "x": {"y": 1}}')
    explicit_null = with_default_max_tokens(b'{"model":"m","max_tokens":null}', {"model": "m", "max_tokens": None}, 7)
    assert json.loads(explicit_null) == {"model": "m", "max_tokens": 7}


async def _chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def _collect(parts: list[bytes]) -> list[bytes]:
    async def go() -> list[bytes]:
        return [data async for data in iter_sse_data(_chunks(parts))]

    return asyncio.run(go())


def test_sse_parser_handles_splits_crlf_comments_and_multiline() -> None:
    stream = b': comment\n\ndata: {"a":1}\n\nevent: x\r\ndata: one\r\ndata: two\r\n\r\ndata:[DONE]\n\n'
    expected = [b'{"a":1}', b"one\ntwo", b"[DONE]"]
    assert _collect([stream]) == expected
    assert _collect([stream[i : i + 1] for i in range(len(stream))]) == expected
    assert _collect([b"data: tail-without-blank-line"]) == [b"tail-without-blank-line"]


def test_event_boundary() -> None:
    assert event_boundary(b"data: x\n\ndata: y") == 9
    assert event_boundary(b"data: x") == 0
    assert event_boundary(b"data: x\r\n\r\n") == 11


def test_redaction_of_tokens_and_registered_secrets() -> None:
    register_secret("my-very-secret-value")
    text = redact(
        "gh ghu_abcdefghijklmnop copilot tid=abc;exp=1;sku=x:deadbeef bearer abcdefghijklmnopq my-very-secret-value"
    )
    assert "ghu_" not in text and "tid=" not in text and "abcdefghijklmnopq" not in text
    assert "my-very-secret-value" not in text
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token %s", ("gho_abcdefghijklmnopqrst",), None)
    assert RedactingFilter().filter(record)
    assert "gho_" not in record.getMessage()
    shown = logging.LogRecord("x", logging.INFO, __file__, 1, "token %s", ("gho_abcdefghijklmnopqrst",), None)
    shown.show_secret = True
    RedactingFilter().filter(shown)
    assert "gho_abcdefghijklmnopqrst" in shown.getMessage()


def test_redaction_covers_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test-redaction")
    logger.addHandler(handler)
    try:
        raise RuntimeError("failed with ghp_abcdefghijklmnopqrstuvwxyz")
    except RuntimeError:
        logger.exception("boom")
    finally:
        logger.removeHandler(handler)
    assert "ghp_" not in stream.getvalue() and "RuntimeError" in stream.getvalue()


def test_claude_code_command_per_shell() -> None:
    bash = claude_code_command("http://localhost:4141", "claude-sonnet-4.5", "gpt-4.1", shell="/bin/bash")
    assert bash.startswith("export ANTHROPIC_BASE_URL=http://localhost:4141 ANTHROPIC_AUTH_TOKEN=dummy")
    assert bash.endswith(" && claude")
    fish = claude_code_command("http://localhost:4141", "a", "b", shell="/usr/bin/fish")
    assert "set -gx ANTHROPIC_MODEL a" in fish
    ps = claude_code_command("http://localhost:4141", "a", "b", shell="", windows=True)
    assert "$env:ANTHROPIC_SMALL_FAST_MODEL = 'b'" in ps


def test_cli_modules_import_nothing_heavy() -> None:
    code = (
        "import sys\nimport copilot_hybrid.cli.serve, copilot_hybrid.cli.auth, copilot_hybrid.cli.usage\n"
        "print([m for m in ('fastapi', 'httpx', 'uvicorn', 'starlette') if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_proxy_env_switches_trust_env() -> None:
    from copilot_hybrid.copilot.client import make_http_client

    async def go() -> tuple[bool, bool]:
        async with make_http_client() as plain, make_http_client(proxy_env=True) as proxied:
            return plain.trust_env, proxied.trust_env

    assert asyncio.run(go()) == (False, True)


def test_usage_box() -> None:
    from copilot_hybrid.cli.usage import format_usage

    text = format_usage(
        {
            "copilot_plan": "individual",
            "quota_reset_date": "2026-01-01",
            "quota_snapshots": {
                "premium_interactions": {"entitlement": 300, "remaining": 250, "percent_remaining": 83.33},
                "chat": {"unlimited": True},
            },
        }
    )
    assert "Copilot Usage (plan: individual)" in text
    assert "Premium: 50/300 used (16.7% used, 83.3% remaining)" in text
    assert "Chat: unlimited" in text and "Completions: N/A" in text
