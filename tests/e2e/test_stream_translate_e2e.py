"""stream_translate in the server, over real sockets: the Anthropic stream
route sends the same bytes with the feature off, on and in shadow, `on`
answers natively (rollout metrics), shadow finds no mismatch, and the SDK
reads every stream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from copilot_hybrid.emulator import Emulator
from tests.support import Proxy, native_or_skip

pytestmark = pytest.mark.timeout(180)

MODES = ("off", "on", "shadow")
#: Served on chat completions only, so its Anthropic stream is translated (a Claude model goes to /v1/messages).
CHAT_ONLY_MODEL = "gpt-4.1"
PROMPTS = (
    "stream it",
    'weather? [[tool:get_weather {"city":"Paris"}]]',
    '[[split]] [[reply:Checking.]] [[tool:ls {"path":"/"}]]',
    "[[length]] cut",
)


@pytest.fixture
def proxies(emulator: Emulator, tmp_path: Path) -> Iterator[dict[str, Proxy]]:
    native_or_skip()
    running: dict[str, Proxy] = {}
    try:
        for mode in MODES:
            env = {"COPILOT_HYBRID_NO_METRICS": "", "COPILOT_HYBRID_FEATURE_STREAM_TRANSLATE": mode}
            running[mode] = Proxy(emulator, tmp_path / mode, env=env)
        yield running
    finally:
        for proxy in running.values():
            proxy.stop()


def raw_stream(proxy: Proxy, prompt: str) -> bytes:
    body = {"model": CHAT_ONLY_MODEL, "max_tokens": 100, "stream": True,
            "messages": [{"role": "user", "content": prompt}]}  # fmt: skip
    with httpx.stream("POST", proxy.url + "/v1/messages", json=body, timeout=30) as response:
        assert response.status_code == 200
        return response.read()


def metric(proxy: Proxy, name: str, **labels: str) -> float:
    text = httpx.get(proxy.url + "/metrics", timeout=10).text
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    wanted = {"feature": "stream_translate", **labels}
    return sum(s.value for s in samples if s.name == name and wanted.items() <= s.labels.items())


def test_every_mode_sends_the_same_bytes_and_on_answers_natively(proxies: dict[str, Proxy]) -> None:
    for prompt in PROMPTS:
        sent = {mode: raw_stream(proxy, prompt) for mode, proxy in proxies.items()}
        assert sent["on"] == sent["off"] == sent["shadow"], prompt
        assert sent["on"].startswith(b"event: message_start\n")
        assert sent["on"].endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    on, shadow, off = proxies["on"], proxies["shadow"], proxies["off"]
    assert metric(on, "copilot_hybrid_rollout_call_seconds_count", side="native") >= len(PROMPTS)
    assert metric(on, "copilot_hybrid_rollout_call_seconds_count", side="reference") == 0
    assert metric(on, "copilot_hybrid_rollout_native_errors_total") == 0
    assert metric(shadow, "copilot_hybrid_rollout_shadow_runs_total") >= len(PROMPTS)
    assert metric(shadow, "copilot_hybrid_rollout_mismatches_total") == 0
    assert metric(off, "copilot_hybrid_rollout_call_seconds_count", side="native") == 0


def test_the_sdk_reads_the_native_stream(proxies: dict[str, Proxy]) -> None:
    client = anthropic.Anthropic(base_url=proxies["on"].url, api_key="dummy", max_retries=0)
    tools = [{"name": "get_weather", "description": "w", "input_schema": {"type": "object"}}]
    with client.messages.stream(
        model=CHAT_ONLY_MODEL, max_tokens=100, tools=tools,  # type: ignore[arg-type]
        messages=[{"role": "user", "content": PROMPTS[1]}],
    ) as stream:  # fmt: skip
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    block = next(b for b in final.content if b.type == "tool_use")
    assert block.name == "get_weather" and block.input == {"city": "Paris"}
