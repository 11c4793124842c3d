"""What recording costs a request: the proxy with metrics, history and request
log (the default) against the same proxy with COPILOT_HYBRID_NO_METRICS=1.

Two `copilot-hybrid serve` processes against one emulator on loopback, the
same requests sent to each, interleaved round by round (the order flips
every round) so that machine noise hits both alike. Per request kind the
median latency of each side over every request, and the median of the
per-round differences.

On a busy machine those end-to-end figures move by more than recording
costs, so the tool also measures the two costs directly, in-process:
what the recording middleware adds on the request path (a stub recorder),
and the CPU the recorder's thread spends per record (parse, metrics,
batched SQLite write).

    python tools/bench_metrics.py [--rounds 15] [--requests 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from copilot_hybrid.emulator import Emulator

USER = [{"role": "user", "content": "hello there, how are you today?"}]
KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    "chat": ("/v1/chat/completions", {"model": "gpt-4.1", "messages": USER}),
    "chat stream": ("/v1/chat/completions", {"model": "gpt-4.1", "messages": USER, "stream": True}),
    "messages": ("/v1/messages", {"model": "claude-sonnet-4.5", "max_tokens": 100, "messages": USER}),
    "messages stream": (
        "/v1/messages",
        {"model": "claude-sonnet-4.5", "max_tokens": 100, "messages": USER, "stream": True},
    ),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_proxy(emulator: Emulator, home: Path, *, metrics: bool) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "COPILOT_HYBRID_HOME": str(home),
        "COPILOT_HYBRID_VSCODE_VERSION": "1.104.3",
        "COPILOT_HYBRID_GITHUB_URL": emulator.github_url,
        "COPILOT_HYBRID_GITHUB_API_URL": emulator.github_api_url,
        "GH_TOKEN": emulator.github_token,
        "COPILOT_HYBRID_NO_METRICS": "" if metrics else "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "copilot_hybrid", "serve", "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"proxy exited with {process.returncode}")
        try:
            if httpx.get(url + "/", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)  # startup has no event to wait on from outside the process
    process.kill()
    raise SystemExit("proxy did not start within 60 s")


def timed(client: httpx.Client, path: str, body: dict[str, Any]) -> float:
    started = time.perf_counter()
    with client.stream("POST", path, json=body) as response:
        for _ in response.iter_raw():
            pass
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}")
    return (time.perf_counter() - started) * 1000


def run(rounds: int, requests: int) -> dict[str, Any]:
    sides = ("off", "on")
    with Emulator() as emulator, tempfile.TemporaryDirectory() as tmp:
        procs: dict[str, tuple[subprocess.Popen[bytes], str]] = {
            side: start_proxy(emulator, Path(tmp) / side, metrics=side == "on") for side in sides
        }
        clients = {side: httpx.Client(base_url=url, timeout=60) for side, (_, url) in procs.items()}
        samples: dict[str, dict[str, list[float]]] = {k: {s: [] for s in sides} for k in KINDS}
        round_diffs: dict[str, list[float]] = {k: [] for k in KINDS}
        try:
            for side in sides:  # warm-up: connections, caches, the tokenizer
                for path, body in KINDS.values():
                    for _ in range(5):
                        timed(clients[side], path, body)
            for r in range(rounds):
                order = sides if r % 2 == 0 else sides[::-1]
                for kind, (path, body) in KINDS.items():
                    medians = {}
                    for side in order:
                        client = clients[side]
                        values = [timed(client, path, body) for _ in range(requests)]
                        samples[kind][side] += values
                        medians[side] = statistics.median(values)
                    round_diffs[kind].append(medians["on"] - medians["off"])
        finally:
            for client in clients.values():
                client.close()
            for process, _ in procs.values():
                process.terminate()
                process.wait(10)
    result: dict[str, Any] = {"rounds": rounds, "requests_per_round": requests, "kinds": {}}
    for kind in KINDS:
        off, on = statistics.median(samples[kind]["off"]), statistics.median(samples[kind]["on"])
        result["kinds"][kind] = {
            "metrics_off_ms": round(off, 3),
            "metrics_on_ms": round(on, 3),
            "median_round_difference_us": round(statistics.median(round_diffs[kind]) * 1000, 1),
            "difference_percent": round((on - off) / off * 100, 2),
            "samples_per_side": len(samples[kind]["off"]),
        }
    return result


def micro(count: int = 20_000) -> dict[str, float]:
    """Microseconds per request: middleware alone, and the recorder thread's work per record."""
    import asyncio

    from copilot_hybrid.observe.history import History
    from copilot_hybrid.observe.metrics import Metrics
    from copilot_hybrid.observe.middleware import RecordRequests
    from copilot_hybrid.observe.record import RequestRecord
    from copilot_hybrid.observe.recorder import BATCH_LIMIT, Recorder

    body = b'{"choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":11,"completion_tokens":7}}'

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    class Stub:
        def record(self, record: RequestRecord) -> None:
            pass

    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": []}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        pass

    async def per_call(target: Any) -> float:
        started = time.perf_counter()
        for _ in range(count):
            await target(scope, receive, send)
        return (time.perf_counter() - started) / count * 1e6

    async def both() -> tuple[float, float]:
        wrapped = RecordRequests(app, recorder=Stub(), route_label=str)  # type: ignore[arg-type]
        bare = min([await per_call(app) for _ in range(3)])
        recorded = min([await per_call(wrapped) for _ in range(3)])
        return bare, recorded

    bare, recorded = asyncio.run(both())
    with tempfile.TemporaryDirectory() as tmp:
        recorder = Recorder(Metrics(), History(Path(tmp) / "history.sqlite3", 10_000))
        records = [
            RequestRecord(
                time=time.time(),
                method="POST",
                route="/v1/chat/completions",
                requested_model="gpt-4.1",
                resolved_model="gpt-4.1",
                upstream_endpoint="/chat/completions",
                upstream_status=200,
                status=200,
                latency_ms=5.0,
                ttfb_ms=4.0,
                upstream_ttfb_ms=3.0,
                initiator="user",
                response_body=[body],
            )
            for _ in range(count)
        ]
        started = time.process_time()
        for i, record in enumerate(records):
            recorder.record(record)
            if i % BATCH_LIMIT == 0:
                recorder.sync(60)
        recorder.sync(60)
        cpu = (time.process_time() - started) / count * 1e6
        recorder.close()
    return {"middleware_us": round(recorded - bare, 2), "recorder_cpu_us": round(cpu, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=20, help="requests per kind, side and round")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.rounds, args.requests)
    result["in_process"] = micro()
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{args.rounds} interleaved rounds x {args.requests} requests per kind and side (sequential, keep-alive)")
    print(f"{'kind':<16} {'metrics off':>12} {'metrics on':>12} {'difference':>12} {'round median':>13}")
    for kind, k in result["kinds"].items():
        print(
            f"{kind:<16} {k['metrics_off_ms']:>9.3f} ms {k['metrics_on_ms']:>9.3f} ms "
            f"{k['difference_percent']:>+10.2f} % {k['median_round_difference_us']:>+10.1f} µs"
        )
    cost = result["in_process"]
    print(
        f"in-process: the recording middleware adds {cost['middleware_us']:.1f} µs on the request path; "
        f"the recorder thread spends {cost['recorder_cpu_us']:.1f} µs of CPU per request, off the path"
    )


if __name__ == "__main__":
    main()
