"""The observe package without a server: label caps, what the recorder reads
from a response's bytes, the SQLite history (bound, WAL, 0600, redaction,
writes off the request path), the JSON log, the dashboard's aggregation and
the rollout timing hook."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from copilot_hybrid.logs import JsonFormatter
from copilot_hybrid.native.loader import NativeLibrary
from copilot_hybrid.observe import dashboard
from copilot_hybrid.observe.content import TEXT_LIMIT, complete
from copilot_hybrid.observe.history import History, read_rows
from copilot_hybrid.observe.metrics import MODEL_LABEL_CAP, LabelCap, Metrics
from copilot_hybrid.observe.record import HISTORY_FIELDS, RequestRecord
from copilot_hybrid.observe.recorder import Recorder
from copilot_hybrid.rollout import observers, runner
from tests.unit.test_runner import Fake, use_mode

SECRET = "ghp_" + "A1b2C3d4E5f6G7h8I9j0" * 2


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Fake:
    monkeypatch.setattr(runner, "load", lambda: NativeLibrary("ok", "fake library", lib=object()))
    return Fake()


def record(**fields: object) -> RequestRecord:
    base: dict[str, object] = {"time": 1_700_000_000.0, "method": "POST", "route": "/v1/chat/completions"}
    return RequestRecord(**{**base, **fields})  # type: ignore[arg-type]


def test_label_cap_keeps_listed_models_and_folds_others_past_the_cap() -> None:
    cap = LabelCap(3, known=lambda: {"gpt-4.1"})
    assert [cap(f"x-{i}") for i in range(5)] == ["x-0", "x-1", "x-2", "other", "other"]
    assert cap("x-1") == "x-1"  # already seen: keeps its value
    assert cap("gpt-4.1") == "gpt-4.1"  # listed by Copilot: never folded
    assert cap(None) == "none"
    assert cap("y" * 200) == "other"


def test_metrics_series_stay_bounded_under_a_flood_of_model_ids() -> None:
    metrics = Metrics(known_models=lambda: {"gpt-4.1"})
    for i in range(200):
        metrics.observe(record(requested_model=f"flood-{i}", resolved_model=f"flood-{i}", status=400, latency_ms=1.0))
    metrics.observe(record(requested_model="gpt-4.1", resolved_model="gpt-4.1", status=200, latency_ms=1.0))
    samples = [s for m in metrics.registry.collect() if m.name == "copilot_hybrid_requests" for s in m.samples]
    totals = [s for s in samples if s.name.endswith("_total")]
    models = {s.labels["resolved_model"] for s in totals}
    assert len(models) == MODEL_LABEL_CAP + 2  # the cap, `other` and the listed gpt-4.1
    assert sum(s.value for s in totals if s.labels["resolved_model"] == "other") == 200 - MODEL_LABEL_CAP
    assert sum(s.value for s in totals) == 201


@pytest.mark.parametrize(
    ("stream", "body", "expected"),
    [
        (
            False,
            b'{"choices":[],"usage":{"prompt_tokens":11,"completion_tokens":7,"prompt_tokens_details":{"cached_tokens":3}}}',
            (11, 7, 3),
        ),
        (False, b'{"content":[],"usage":{"input_tokens":5,"output_tokens":9,"cache_read_input_tokens":4}}', (9, 9, 4)),
        (False, b'{"data":[],"usage":{"prompt_tokens":8,"total_tokens":8}}', (8, 0, 0)),
        (
            True,
            b'data: {"choices":[{"delta":{"content":"hi"}}]}\n\n'
            b'data: {"choices":[],"usage":{"prompt_tokens":6,"completion_tokens":2}}\n\ndata: [DONE]\n\n',
            (6, 2, 0),
        ),
        (
            True,
            b'event: message_delta\ndata: {"type":"message_delta","usage":{"input_tokens":6,"output_tokens":12,'
            b'"cache_read_input_tokens":2}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n',
            (8, 12, 2),
        ),
        (
            False,
            b'{"object":"response","output":[],"usage":{"input_tokens":10,"input_tokens_details":'
            b'{"cached_tokens":4},"output_tokens":3,"total_tokens":13}}',
            (10, 3, 4),
        ),
        (
            True,
            b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"hi"}\n\n'
            b'event: response.completed\ndata: {"type":"response.completed","response":{"usage":'
            b'{"input_tokens":7,"input_tokens_details":{"cached_tokens":2},"output_tokens":5,"total_tokens":12}}}\n\n',
            (7, 5, 2),
        ),
    ],
)
def test_usage_is_read_from_either_api_shape(stream: bool, body: bytes, expected: tuple[int, int, int]) -> None:
    rec = record(stream=stream, status=200, upstream_endpoint="/chat/completions", response_body=[body])
    complete(rec, keep_text=False)
    assert (rec.input_tokens, rec.output_tokens, rec.cached_tokens) == expected
    assert rec.response_body == []


def test_responses_stream_text_is_kept_when_opted_in() -> None:
    body = (
        b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"Hello "}\n\n'
        b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"there"}\n\n'
    )
    rec = record(stream=True, status=200, upstream_endpoint="/responses", response_body=[body])
    complete(rec, keep_text=True)
    assert rec.completion == "Hello there"


def test_local_answers_are_not_upstream_usage() -> None:
    rec = record(route="/v1/messages/count_tokens", status=200, response_body=[b'{"input_tokens":10}'])
    complete(rec, keep_text=False)
    assert rec.input_tokens is None


@pytest.mark.parametrize(
    ("stream", "status", "body"),
    [
        (False, 400, b'{"error":{"message":"bad ' + SECRET.encode() + b'","type":"invalid_request_error"}}'),
        (False, 429, b'{"type":"error","error":{"type":"rate_limit_error","message":"bad ' + SECRET.encode() + b'"}}'),
        (
            True,
            200,
            b'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"bad '
            + SECRET.encode()
            + b'"}}\n\n',
        ),
        (True, 200, b'data: {"error":{"message":"bad ' + SECRET.encode() + b'","type":"api_error"}}\n\n'),
        (
            True,
            200,
            b'event: response.failed\ndata: {"type":"response.failed","response":{"status":"failed",'
            b'"error":{"code":"server_error","message":"bad ' + SECRET.encode() + b'"}}}\n\n',
        ),
    ],
)
def test_errors_are_read_and_redacted(stream: bool, status: int, body: bytes) -> None:
    rec = record(stream=stream, status=status, response_body=[body])
    complete(rec, keep_text=False)
    assert rec.error_type in ("invalid_request_error", "rate_limit_error", "api_error", "server_error")
    assert rec.error_message == "bad [REDACTED]"


def test_history_keeps_the_newest_rows_in_a_private_wal_file(tmp_path: Path) -> None:
    path = tmp_path / "data" / "history.sqlite3"
    history = History(path, max_rows=50)
    for batch in range(3):
        history.write([record(time=float(batch * 100 + i), status=200) for i in range(45)])
    history.close()
    rows = read_rows(path, limit=1000)
    assert len(rows) == 50
    # the newest 50, oldest first: the last 5 of the second batch, all of the third
    assert [r["time"] for r in rows] == [float(t) for t in [*range(140, 145), *range(200, 245)]]
    assert list(rows[0]) == list(HISTORY_FIELDS)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert len(read_rows(path, limit=10, status="2xx")) == 10
    assert read_rows(path, limit=10, status="error") == []
    with pytest.raises(ValueError, match="status filter"):
        read_rows(path, status="teapot")


def _chat_record(text: str) -> RequestRecord:
    body = json.dumps({"model": "gpt-4.1", "messages": [{"role": "user", "content": text}]}).encode()
    answer = json.dumps({"choices": [{"message": {"content": f"echo {SECRET}"}}], "usage": {}}).encode()
    return record(status=200, upstream_endpoint="/chat/completions", request_body=body, response_body=[answer])


def test_history_keeps_no_text_unless_opted_in_then_redacted_and_capped(tmp_path: Path) -> None:
    long_prompt = f"my token is {SECRET} " + "x" * (TEXT_LIMIT * 2)
    for keep_text in (False, True):
        path = tmp_path / f"history-{keep_text}.sqlite3"
        recorder = Recorder(Metrics(), History(path, 100), keep_text=keep_text)
        recorder.record(_chat_record(long_prompt))
        assert recorder.sync()
        recorder.close()
        (row,) = read_rows(path)
        if not keep_text:
            assert row["prompt"] is None and row["completion"] is None
            continue
        assert SECRET not in row["prompt"] and row["prompt"].startswith("my token is [REDACTED] xxx")
        assert len(row["prompt"]) < TEXT_LIMIT + 40 and row["prompt"].endswith(" chars)")
        assert row["completion"] == "echo [REDACTED]"
        assert SECRET.encode() not in path.read_bytes()


def test_recording_does_not_wait_for_the_database(tmp_path: Path) -> None:
    """A request only enqueues its record: with the file locked by someone else,
    record() still returns at once; the rows land once the lock is gone."""
    path = tmp_path / "history.sqlite3"
    recorder = Recorder(Metrics(), History(path, 100))
    recorder.record(record(status=200))
    assert recorder.sync()
    blocker = sqlite3.connect(path, timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        for _ in range(5):
            recorder.record(record(status=201))  # would block (busy timeout) if it wrote itself
        assert not recorder.sync(timeout=0.3)  # the writer thread is the one waiting
    finally:
        blocker.rollback()
        blocker.close()
    assert recorder.sync(timeout=10)
    recorder.close()
    assert [r["status"] for r in read_rows(path)] == [200, 201, 201, 201, 201, 201]


def test_records_beyond_the_limit_are_dropped_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    """While the thread is busy, at most QUEUE_LIMIT records wait; the rest are counted, not queued."""
    from copilot_hybrid.observe import recorder as recorder_module

    monkeypatch.setattr(recorder_module, "QUEUE_LIMIT", 3)
    busy, release = threading.Event(), threading.Event()
    metrics = Metrics()
    recorder = Recorder(metrics, None)
    real_process = recorder._process

    def slow_process(item: RequestRecord) -> None:
        busy.set()
        release.wait(10)
        real_process(item)

    monkeypatch.setattr(recorder, "_process", slow_process)
    recorder.record(record(status=200))
    assert busy.wait(10)  # the thread holds the first record
    for _ in range(5):
        recorder.record(record(status=201))
    release.set()
    assert recorder.sync(timeout=10)
    recorder.close()
    assert metrics.registry.get_sample_value("copilot_hybrid_records_dropped_total") == 2  # 3 waited, 2 dropped


def test_json_log_lines_carry_the_history_fields_redacted() -> None:
    rec = record(status=502, error_type="api_error", error_message=f"upstream said {SECRET}")
    log_record = logging.LogRecord("copilot_hybrid.requests", logging.INFO, __file__, 1, "POST %s", ("/x",), None)
    log_record.fields = rec.fields()
    line = JsonFormatter().format(log_record)
    entry = json.loads(line)
    assert entry["message"] == "POST /x" and entry["level"] == "info" and entry["logger"] == "copilot_hybrid.requests"
    assert set(HISTORY_FIELDS) <= set(entry)
    assert entry["status"] == 502 and entry["error_message"] == "upstream said [REDACTED]"
    assert SECRET not in line


def test_requests_command_prints_the_newest_rows(isolated_home: Path) -> None:
    history = History(isolated_home / "history.sqlite3", 100)
    history.write(
        [
            record(time=1_700_000_000.0 + i, status=200 + i, requested_model=f"m{i}", latency_ms=10.0 * i)
            for i in range(5)
        ]
    )
    history.close()
    run = [sys.executable, "-m", "copilot_hybrid", "requests"]
    done = subprocess.run([*run, "--last", "2", "--json"], capture_output=True, text=True, check=True)
    rows = json.loads(done.stdout)
    assert [r["status"] for r in rows] == [203, 204] and rows[0]["requested_model"] == "m3"
    done = subprocess.run([*run, "--last", "3", "--status", "204"], capture_output=True, text=True, check=True)
    lines = done.stdout.splitlines()
    assert lines[0].split()[:4] == ["time", "route", "model", "status"] and len(lines) == 2 and " 204 " in lines[1]
    done = subprocess.run([*run, "--status", "teapot"], capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "status filter" in done.stderr


def test_traffic_buckets_per_minute_with_percentiles(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    now = 1_700_000_000.0
    minute = int(now // 60) * 60
    history = History(path, 1000)
    rows = [
        record(
            time=minute + i,
            status=200,
            latency_ms=float(i + 1),
            ttfb_ms=1.0,
            resolved_model="gpt-4.1",
            input_tokens=10,
            output_tokens=2,
            cached_tokens=1,
            initiator="user",
        )
        for i in range(10)
    ]
    rows += [record(time=minute - 60, status=500, latency_ms=100.0, initiator="agent")]
    rows += [record(time=minute - 3600 * 2, status=200, latency_ms=5.0)]  # outside the window
    history.write(rows)
    history.close()
    result = dashboard.traffic(path, now=now)
    last, before = result["series"][-1], result["series"][-2]
    assert len(result["series"]) == dashboard.WINDOW_MINUTES
    assert (last["requests"], last["errors"], last["latency_p50"], last["latency_p95"]) == (10, 0, 5.0, 10.0)
    assert (before["requests"], before["errors"]) == (1, 1)
    totals = result["totals"]
    assert totals["requests"] == 11 and totals["errors"] == 1
    assert totals["tokens"] == {"gpt-4.1": {"input": 100, "output": 20, "cached": 10}}
    assert totals["initiator"] == {"user": 10, "agent": 1}
    assert totals["by_status"] == {"200": 10, "500": 1}


def test_runner_reports_each_sides_call_time(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, str]] = []

    def sink(feature: str, side: str, seconds: float) -> None:
        assert seconds >= 0
        seen.append((feature, side))

    observers.subscribe(sink)
    try:
        use_mode(monkeypatch, "shadow")
        fake("x")
        use_mode(monkeypatch, "on")
        fake("x")
        fake.native_result = RuntimeError("native broke")
        fake("x")  # timed on both sides: the failed native call and the fallback
    finally:
        observers.unsubscribe(sink)
    assert seen == [
        ("fake", "reference"),
        ("fake", "native"),
        ("fake", "native"),
        ("fake", "native"),
        ("fake", "reference"),
    ]
    assert runner.counters("fake")["native_errors"] == 1


def test_a_failing_subscriber_never_reaches_the_feature_call(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(feature: str, side: str, seconds: float) -> None:
        raise RuntimeError("sink broke")

    observers.subscribe(broken)
    try:
        use_mode(monkeypatch, "on")
        assert fake("x") == "same"
    finally:
        observers.unsubscribe(broken)


def test_usage_of_a_large_body_is_cut_out_not_parsed_whole() -> None:
    vectors = json.dumps({"data": [{"embedding": [0.125] * 20_000, "text": '"usage": {"prompt_tokens": 999}'}]})
    body = (vectors[:-1] + ', "usage": {"prompt_tokens": 42, "total_tokens": 42}}').encode()
    assert len(body) > 64 * 1024
    rec = record(route="/v1/embeddings", status=200, upstream_endpoint="/embeddings", response_body=[body])
    complete(rec, keep_text=False)
    assert (rec.input_tokens, rec.output_tokens, rec.cached_tokens) == (42, 0, 0)


class Collect:
    def __init__(self) -> None:
        self.records: list[RequestRecord] = []

    def record(self, rec: RequestRecord) -> None:
        self.records.append(rec)


def drive(
    app: Any, path: str = "/v1/chat/completions", method: str = "POST", collected: Collect | None = None
) -> tuple[Collect, list[dict[str, Any]]]:
    from copilot_hybrid.observe.middleware import RecordRequests, unrecorded

    collected = collected or Collect()
    sent: list[dict[str, Any]] = []
    middleware = RecordRequests(app, recorder=collected, route_label=lambda p: p)  # type: ignore[arg-type]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body"):
            if method != "OPTIONS" and not unrecorded(path):  # handed over before the last body byte leaves
                assert len(collected.records) == 1 and collected.records[0].sealed
        sent.append(message)

    asyncio.run(middleware({"type": "http", "method": method, "path": path, "headers": []}, receive, send))
    return collected, sent


def test_middleware_records_status_stream_chunks_and_times() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        for i in range(6):
            await send({"type": "http.response.body", "body": b"data: %d\n\n" % i, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    collected, sent = drive(app)
    (rec,) = collected.records
    assert (rec.status, rec.stream, rec.stream_chunks, rec.route, rec.method) == (
        200,
        True,
        6,
        "/v1/chat/completions",
        "POST",
    )
    assert rec.ttfb_ms is not None and rec.latency_ms is not None and rec.latency_ms >= rec.ttfb_ms
    # The first chunk (Anthropic's message_start holds the prompt's usage) and the tail.
    assert rec.response_body == [b"data: 0\n\n", b"data: 2\n\n", b"data: 3\n\n", b"data: 4\n\n", b"data: 5\n\n"]
    assert len(sent) == 8


def test_middleware_records_a_crash_and_a_cut_stream() -> None:
    async def crash(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    collected = Collect()
    with pytest.raises(RuntimeError):
        drive(crash, collected=collected)
    (crashed,) = collected.records
    assert (crashed.status, crashed.error_type, crashed.error_message) == (500, "RuntimeError", "boom")

    async def cut(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})

    collected, _ = drive(cut)
    (rec,) = collected.records
    assert (rec.status, rec.error_type) == (200, "client_disconnected")


def test_middleware_leaves_the_observer_and_preflights_unrecorded() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    for path, method in (
        ("/metrics", "GET"),
        ("/dashboard", "GET"),
        ("/dashboard/api/traffic", "GET"),
        ("/v1/messages", "OPTIONS"),
    ):
        collected, sent = drive(app, path, method)
        assert collected.records == [] and len(sent) == 2
    collected, _ = drive(app, "/dashboardx", "GET")
    assert len(collected.records) == 1
