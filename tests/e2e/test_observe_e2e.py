"""Metrics, history and the JSON log of a real `serve` process, after a known
sequence of SDK requests through the emulator. /metrics is read with
prometheus_client's own parser."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from copilot_hybrid.emulator import Emulator
from copilot_hybrid.native.loader import load
from copilot_hybrid.observe.history import read_rows
from copilot_hybrid.observe.metrics import MODEL_LABEL_CAP
from tests.support import Proxy

pytestmark = pytest.mark.timeout(120)

METRICS_ON = {"COPILOT_HYBRID_NO_METRICS": ""}
SECRET = "ghp_" + "Z9y8X7w6V5u4T3s2R1q0" * 2
USER = [{"role": "user", "content": "hi there"}]
FLOOD = 20


@pytest.fixture
def recording_proxy(emulator: Emulator, tmp_path: Path) -> Iterator[Proxy]:
    running = Proxy(emulator, tmp_path / "home", env=METRICS_ON)
    yield running
    running.stop()


def samples(text: str) -> list[Sample]:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def total(all_samples: list[Sample], name: str, **labels: str) -> float:
    return sum(s.value for s in all_samples if s.name == name and labels.items() <= s.labels.items())


def known_sequence(url: str) -> dict[str, Any]:
    """Sends the requests and returns what the SDKs saw (token usage per model)."""
    oa = openai.OpenAI(base_url=url + "/v1", api_key="dummy", max_retries=0)
    an = anthropic.Anthropic(base_url=url, api_key="dummy", max_retries=0)
    tokens: dict[str, list[int]] = {}

    def add(model: str, prompt: int, completion: int) -> None:
        entry = tokens.setdefault(model, [0, 0])
        entry[0] += prompt
        entry[1] += completion

    for _ in range(3):
        reply = oa.chat.completions.create(model="gpt-4.1", messages=USER)  # type: ignore[arg-type]
        assert reply.usage is not None
        add("gpt-4.1", reply.usage.prompt_tokens, reply.usage.completion_tokens)
    for _ in range(2):
        usage = None
        for chunk in oa.chat.completions.create(model="gpt-4o", messages=USER, stream=True):  # type: ignore[arg-type]
            usage = chunk.usage or usage
        assert usage is not None
        add("gpt-4o", usage.prompt_tokens, usage.completion_tokens)
    agent_turn = [
        *USER,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "42"},
    ]
    reply = oa.chat.completions.create(model="gpt-4.1", messages=agent_turn)  # type: ignore[arg-type]
    assert reply.usage is not None
    add("gpt-4.1", reply.usage.prompt_tokens, reply.usage.completion_tokens)
    with pytest.raises(openai.RateLimitError):
        oa.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "[[error:429]]"}])
    message = an.messages.create(model="claude-sonnet-4-5-20250929", max_tokens=50, messages=USER)  # type: ignore[arg-type]
    add("claude-sonnet-4.5", message.usage.input_tokens, message.usage.output_tokens)
    with an.messages.stream(model="claude-sonnet-4-5-20250929", max_tokens=50, messages=USER) as stream:  # type: ignore[arg-type]
        final = stream.get_final_message()
    add("claude-sonnet-4.5", final.usage.input_tokens, final.usage.output_tokens)
    with pytest.raises(anthropic.BadRequestError):
        an.messages.create(model="nope", max_tokens=50, messages=USER)  # type: ignore[arg-type]
    assert an.messages.count_tokens(model="claude-sonnet-4.5", messages=USER).input_tokens > 0  # type: ignore[arg-type]
    with httpx.Client(base_url=url) as client:
        for i in range(FLOOD):
            flood = client.post("/v1/chat/completions", json={"model": f"flood-{i}", "messages": USER})
            assert flood.status_code == 404  # resolved on the plan first: model_not_found
    return tokens


def test_metrics_after_a_known_sequence(recording_proxy: Proxy) -> None:
    tokens = known_sequence(recording_proxy.url)
    response = httpx.get(recording_proxy.url + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    s = samples(response.text)
    req = "copilot_hybrid_requests_total"
    chat, messages = "/v1/chat/completions", "/v1/messages"

    assert total(s, req, route=chat, resolved_model="gpt-4.1", status="200", stream="false") == 4
    assert total(s, req, route=chat, resolved_model="gpt-4.1", status="429") == 1
    assert total(s, req, route=chat, resolved_model="gpt-4o", status="200", stream="true") == 2
    dated = {"route": messages, "requested_model": "claude-sonnet-4-5-20250929", "resolved_model": "claude-sonnet-4.5"}
    assert total(s, req, **dated, status="200", stream="false") == 1
    assert total(s, req, **dated, status="200", stream="true") == 1
    assert total(s, req, route=messages, requested_model="nope", status="400") == 1
    # Claude's count_tokens asks Copilot's own count; its messages go to Copilot's /v1/messages.
    count = {"route": "/v1/messages/count_tokens", "upstream_endpoint": "/copilot/v1/messages/count_tokens"}
    assert total(s, req, **count, status="200") == 1
    assert total(s, req, route=chat) == 3 + 2 + 1 + 1 + FLOOD
    # The flood's unknown models are refused before any upstream call.
    assert total(s, req, upstream_endpoint="/copilot/chat/completions") == 3 + 2 + 1 + 1
    assert total(s, req, upstream_endpoint="/copilot/v1/messages") == 2

    # Bounded labels: the unknown ids (the dated Claude id, "nope", the flood) share MODEL_LABEL_CAP values.
    listed = {"gpt-4.1", "gpt-4o", "claude-sonnet-4.5", "none", "other"}
    own = {x.labels[k] for x in s if x.name == req for k in ("requested_model", "resolved_model")} - listed
    assert len(own) == MODEL_LABEL_CAP
    # (refused ids have no resolved model: they are folded on the requested label)
    assert total(s, req, requested_model="other") == FLOOD + 2 - MODEL_LABEL_CAP

    # Histograms: one observation per request, and their sums are the history's latencies.
    rows = read_rows(recording_proxy.home / "history.sqlite3", limit=10_000)
    rows = [r for r in rows if r["route"] != "/"]  # the harness's readiness polls
    assert len(rows) == total(s, req) - total(s, req, route="/")
    duration = "copilot_hybrid_request_duration_seconds"
    for route in (chat, messages):
        assert total(s, duration + "_count", route=route) == total(s, req, route=route)
        history_seconds = sum(r["latency_ms"] for r in rows if r["route"] == route) / 1000
        assert total(s, duration + "_sum", route=route) == pytest.approx(history_seconds, rel=1e-9)
        inf = total(s, duration + "_bucket", route=route, le="+Inf")
        assert inf == total(s, duration + "_count", route=route)
    assert total(s, "copilot_hybrid_stream_chunks_count", route=chat, model="gpt-4o") == 2
    assert total(s, "copilot_hybrid_stream_duration_seconds_count", route=messages) == 1
    upstream_ttfb = total(s, "copilot_hybrid_upstream_first_byte_seconds_count")
    assert upstream_ttfb == total(s, req) - total(s, req, upstream_endpoint="none")

    # Tokens: what the SDKs were told, per model (the emulator reports no cached tokens).
    for model, (prompt, completion) in tokens.items():
        assert total(s, "copilot_hybrid_tokens_total", model=model, kind="input") == prompt
        assert total(s, "copilot_hybrid_tokens_total", model=model, kind="output") == completion
    assert total(s, "copilot_hybrid_tokens_total", kind="cached") == 0

    # x-initiator: the tool-result turn continues the agent's loop, and Copilot's count_tokens
    # (asked for the Claude model) is never a premium request.
    assert total(s, "copilot_hybrid_initiator_requests_total", initiator="agent") == 2
    assert total(s, "copilot_hybrid_initiator_requests_total", initiator="agent", model="gpt-4.1") == 1
    # The flood and "nope" never reach Copilot (refused by the resolution), so they carry no initiator.
    assert total(s, "copilot_hybrid_initiator_requests_total", initiator="user") == 3 + 2 + 1 + 2
    # Unknown models are refused by the proxy's resolution, before any upstream call.
    assert total(s, "copilot_hybrid_upstream_errors_total", status="400") == 0
    assert total(s, "copilot_hybrid_upstream_errors_total", status="429") == 1

    # Rollout and native, read at scrape time.
    native = load()
    assert total(s, "copilot_hybrid_native_info", status=native.status, build_id=native.build_id or "") == 1
    for feature in ("rate_limit", "tokenizer"):
        assert total(s, "copilot_hybrid_rollout_mode", feature=feature) == 1
        assert total(s, "copilot_hybrid_rollout_circuit_open", feature=feature) == 0
    assert total(s, "copilot_hybrid_rollout_calls_total", feature="tokenizer") >= 1  # count_tokens at least
    if native.ok:  # default shadow: native runs beside the reference on every call
        assert total(s, "copilot_hybrid_rollout_shadow_runs_total", feature="tokenizer") >= 1
        assert total(s, "copilot_hybrid_rollout_call_seconds_count", feature="tokenizer", side="native") >= 1
    assert total(s, "copilot_hybrid_rollout_mismatches_total", feature="tokenizer") == 0

    # The history has the same requests, with models, statuses and tokens.
    by_model = [r for r in rows if r["resolved_model"] == "gpt-4.1" and r["status"] == 200]
    assert len(by_model) == 4 and all(r["upstream_ttfb_ms"] is not None for r in by_model)
    assert sum(r["input_tokens"] for r in by_model) == tokens["gpt-4.1"][0]
    (limited,) = [r for r in rows if r["status"] == 429]
    assert limited["error_type"] == "rate_limit_error" and limited["initiator"] == "user"
    assert all(r["prompt"] is None and r["completion"] is None for r in rows)

    openmetrics = httpx.get(recording_proxy.url + "/metrics", headers={"accept": "application/openmetrics-text"})
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.endswith("# EOF\n")


def test_no_metrics_turns_recording_off(emulator: Emulator, tmp_path: Path) -> None:
    home = tmp_path / "home"
    proxy = Proxy(emulator, home, env={"COPILOT_HYBRID_NO_METRICS": "1"})
    try:
        chat = httpx.post(proxy.url + "/v1/chat/completions", json={"model": "gpt-4.1", "messages": USER})
        assert chat.status_code == 200
        metrics = httpx.get(proxy.url + "/metrics")
        assert metrics.status_code == 404
        assert "COPILOT_HYBRID_NO_METRICS=1" in metrics.json()["error"]["message"]
        assert httpx.get(proxy.url + "/dashboard").status_code == 200
        assert httpx.get(proxy.url + "/dashboard/api/traffic").json() == {"recording": False}
        assert httpx.get(proxy.url + "/dashboard/api/status").json()["recording"] is False
        assert set(httpx.get(proxy.url + "/dashboard/api/native").json()["features"]) == {
            "rate_limit",
            "stream_translate",
            "tokenizer",
        }
    finally:
        proxy.stop()
    assert not (home / "history.sqlite3").exists()


def test_json_log_and_opted_in_text_are_redacted(emulator: Emulator, tmp_path: Path) -> None:
    proxy = Proxy(emulator, tmp_path / "home", "--log-format", "json", "--history-text", env=METRICS_ON)
    try:
        emulator.script({"error": {"status": 500, "message": f"upstream leaked {SECRET}"}})
        failed = httpx.post(proxy.url + "/v1/chat/completions", json={"model": "gpt-4.1", "messages": USER})
        assert failed.status_code == 500
        prompt = [{"role": "user", "content": f"my key is {SECRET}, keep it"}]
        ok = httpx.post(
            proxy.url + "/v1/messages", json={"model": "claude-sonnet-4.5", "max_tokens": 20, "messages": prompt}
        )
        assert ok.status_code == 200
    finally:
        proxy.stop()
    log = proxy.log_path.read_text(encoding="utf-8")
    assert SECRET not in log
    entries = [json.loads(line) for line in log.splitlines() if line.strip()]  # every line is one JSON object
    requests = [e for e in entries if e["logger"] == "copilot_hybrid.requests"]
    (failure,) = [e for e in requests if e["status"] == 500]
    assert failure["route"] == "/v1/chat/completions" and failure["resolved_model"] == "gpt-4.1"
    assert failure["error_message"] == "upstream leaked [REDACTED]" and failure["upstream_status"] == 500
    (success,) = [e for e in requests if e["route"] == "/v1/messages"]
    assert success["prompt"] == "my key is [REDACTED], keep it"
    assert success["completion"].startswith("Hello from emulated claude-sonnet-4.5")
    assert success["output_tokens"] > 0 and success["latency_ms"] > 0
    assert any(e["message"].startswith("📊 Dashboard: http://127.0.0.1:") for e in entries)
    (row,) = [r for r in read_rows(proxy.home / "history.sqlite3") if r["route"] == "/v1/messages"]
    assert row["prompt"] == "my key is [REDACTED], keep it"
