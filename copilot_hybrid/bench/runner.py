"""Runs `bench proxy`: the fake upstream once, then per repetition each configuration
in turn (round-robin, so slow drifts of a shared machine hit every row alike), a fresh
proxy process per configuration and a load-generator process per scenario.

Cores: with two or more, the fake upstream and the load generator share the first
and the proxy has the second to itself (os.sched_setaffinity, taskset's call).

What the figures are:
- p50/p99: latency to the response's last byte over `requests` sequential requests
  on one keep-alive connection; added p50 = the proxy's p50 minus the upstream's own
  p50 for the same request bytes (the "upstream" row, measured in the same run).
- req/s: `requests` requests over `concurrency` keep-alive connections.
- CPU/req: the proxy process's utime+stime over both timed phases / their requests.
- CPU per streamed chunk: (CPU/req of a stream - CPU/req of the same request without
  streaming) / chunks. Medians over the repetitions throughout.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from copilot_hybrid import config
from copilot_hybrid.bench.configurations import (
    CONFIGURATIONS,
    GRANIAN,
    PASSTHROUGH,
    RELEASE,
    UPSTREAM_ALONE,
    Configuration,
)
from copilot_hybrid.bench.load import Job, Result, result_from_json
from copilot_hybrid.bench.scenarios import CHUNKS, GITHUB_TOKEN, Scenario, all_scenarios
from copilot_hybrid.errors import BenchError

BOTTLENECK_FACTOR = 10.0  # the upstream alone must serve this many times the fastest proxy row
# The upstream alone answers in ~0.1 ms: its throughput phase sends this many times `requests`,
# or opening the connections would dominate it and understate its req/s.
UPSTREAM_REQUEST_FACTOR = 10
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class BenchOptions:
    requests: int = 500
    concurrency: int = 16
    repeat: int = 2
    warmup: int = 30
    scenarios: tuple[str, ...] = ()  # empty: all
    configurations: tuple[str, ...] = ()  # empty: all (the upstream row always runs)
    claude_code_body: Path | None = None  # a recorded request instead of the shipped one


def _cores() -> tuple[int | None, int | None]:
    """(core of the upstream and the load generator, core of the proxy), or Nones."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None
    cores = sorted(os.sched_getaffinity(0))
    return (cores[0], cores[1]) if len(cores) >= 2 else (None, None)


def _pin(cpu: int | None) -> Callable[[], None] | None:
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def fake_upstream(cpu: int | None) -> Iterator[int]:
    """The fake upstream in its own process; yields its port."""
    process = subprocess.Popen(
        [sys.executable, "-m", "copilot_hybrid.bench.upstream", *(["--cpu", str(cpu)] if cpu is not None else [])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode().split()  # blocks until it listens (or exits: b"")
        if len(line) != 2 or line[0] != "listening":
            raise BenchError(f"the fake upstream did not start (exit {process.wait(10)})")
        yield int(line[1])
    finally:
        if process.stdin is not None:
            process.stdin.close()  # its signal to stop
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _lever_names() -> tuple[str, ...]:
    return tuple(sorted({name for c in CONFIGURATIONS for name in c.env}))


def proxy_command(configuration: Configuration, port: int) -> list[str]:
    if configuration.server == GRANIAN:
        return [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-ws",
            "--http",
            "1",
            "copilot_hybrid.bench.granian_app:create",
        ]
    if configuration.server == PASSTHROUGH:
        return [sys.executable, "-m", "copilot_hybrid.bench.passthrough", str(port)]
    return [sys.executable, "-m", "copilot_hybrid", "serve", "--host", "127.0.0.1", "--port", str(port)]


@contextlib.contextmanager
def proxy(configuration: Configuration, upstream_port: int, cpu: int | None, home: Path) -> Iterator[tuple[int, int]]:
    """A proxy process for `configuration` pointed at the fake upstream; yields (port, pid)."""
    upstream = f"http://127.0.0.1:{upstream_port}"
    environment = config.child_environment(
        drop=(config.API_KEYS_ENV, "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", *_lever_names()),
        **{
            config.HOME_ENV: str(home),
            config.VSCODE_VERSION_ENV: "1.104.3",
            config.GITHUB_URL_ENV: upstream,
            config.GITHUB_API_URL_ENV: upstream,
            config.COPILOT_API_URL_ENV: upstream,
            config.GITHUB_TOKEN_ENV: GITHUB_TOKEN,
        },
        **configuration.env,
    )
    port = _free_port()
    log_path = home / f"{configuration.key}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            proxy_command(configuration, port),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
            preexec_fn=_pin(cpu),  # only sched_setaffinity, before exec
        )
        try:
            _wait_ready(process, port, log_path)
            yield port, process.pid
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    import httpx

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text("utf-8", "replace")[-2000:]
            raise BenchError(f"the proxy exited with {process.returncode}:\n{tail}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)  # polling another process's port: there is no event to wait on
    raise BenchError(f"the proxy did not answer within {START_TIMEOUT:.0f} s")


def measure(job: Job) -> Result:
    """One load-generator run in its own process."""
    done = subprocess.run(
        [sys.executable, "-m", "copilot_hybrid.bench.load"],
        input=job.to_json().encode(),
        capture_output=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        raise BenchError(f"the load generator failed: {done.stderr.decode(errors='replace')[-2000:]}")
    return result_from_json(done.stdout.decode())


def _select(options: BenchOptions) -> tuple[list[Scenario], list[Configuration], list[str]]:
    notes = []
    scenarios = [
        s for s in all_scenarios(options.claude_code_body) if not options.scenarios or s.key in options.scenarios
    ]
    configurations = [c for c in CONFIGURATIONS if not options.configurations or c.key in options.configurations]
    if any(c.server == GRANIAN for c in configurations) and importlib.util.find_spec("granian") is None:
        configurations = [c for c in configurations if c.server != GRANIAN]
        notes.append("granian is not installed (pip install 'copilot-hybrid[bench]'): no granian row")
    return scenarios, configurations, notes


def run(options: BenchOptions, progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    scenarios, configurations, notes = _select(options)
    upstream_cpu, proxy_cpu = _cores()
    if proxy_cpu is None:
        notes.append("fewer than two cores (or no affinity control): nothing is pinned")
    keys = [UPSTREAM_ALONE, *(c.key for c in configurations)]
    runs: dict[str, dict[str, list[Result]]] = {s.key: {k: [] for k in keys} for s in scenarios}
    failures: dict[str, str] = {}

    def job(port: int, scenario: Scenario, *, pid: int | None, upstream: bool) -> Job:
        path = scenario.upstream_path if upstream else None
        return Job(
            port=port,
            request=scenario.request_bytes(port, path=path),
            warmup=options.warmup,
            sequential=options.requests,
            concurrent=options.requests * (UPSTREAM_REQUEST_FACTOR if upstream else 1),
            concurrency=options.concurrency,
            watch_pid=pid,
            cpu=upstream_cpu,
        )

    with fake_upstream(upstream_cpu) as upstream_port, tempfile.TemporaryDirectory(prefix="bench-proxy-") as tmp:
        for repetition in range(options.repeat):
            for scenario in scenarios:
                progress(f"[{repetition + 1}/{options.repeat}] upstream alone: {scenario.key}")
                runs[scenario.key][UPSTREAM_ALONE].append(
                    measure(job(upstream_port, scenario, pid=None, upstream=True))
                )
            for configuration in configurations:
                if configuration.key in failures:
                    continue
                home = Path(tmp) / f"{configuration.key}-{repetition}"
                home.mkdir()
                try:
                    with proxy(configuration, upstream_port, proxy_cpu, home) as (port, pid):
                        for scenario in scenarios:
                            progress(f"[{repetition + 1}/{options.repeat}] {configuration.key}: {scenario.key}")
                            runs[scenario.key][configuration.key].append(
                                measure(job(port, scenario, pid=pid, upstream=False))
                            )
                except BenchError as exc:
                    failures[configuration.key] = str(exc)
                    progress(f"{configuration.key} failed: {exc}")
    return build_report(options, scenarios, configurations, runs, failures, notes, proxy_cpu=proxy_cpu)


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _ratio(value: float | None, base: float | None) -> float | None:
    return None if value is None or not base else value / base


def build_report(
    options: BenchOptions,
    scenarios: list[Scenario],
    configurations: list[Configuration],
    runs: dict[str, dict[str, list[Result]]],
    failures: dict[str, str],
    notes: list[str],
    *,
    proxy_cpu: int | None,
) -> dict[str, Any]:
    results: dict[str, dict[str, Any]] = {}
    for scenario in scenarios:
        rows: dict[str, Any] = {}
        for key, measured in runs[scenario.key].items():
            if not measured:
                continue
            rows[key] = {
                "p50_ms": _median([r.p50_ms for r in measured]),
                "p99_ms": _median([r.p99_ms for r in measured]),
                "req_per_s": _median([r.req_per_s for r in measured]),
                "cpu_ms_per_req": _median([r.cpu_ms_per_req for r in measured]),
                "errors": sum(r.errors for r in measured),
                "runs": [asdict(r) for r in measured],
            }
        upstream_p50 = rows.get(UPSTREAM_ALONE, {}).get("p50_ms")
        release = rows.get(RELEASE)
        for key, row in rows.items():
            row["added_p50_ms"] = (
                None if key == UPSTREAM_ALONE or upstream_p50 is None else row["p50_ms"] - upstream_p50
            )
            if release is not None and key != UPSTREAM_ALONE:
                row["vs_release"] = {
                    "added_p50": _ratio(row["added_p50_ms"], release["added_p50_ms"]),
                    "req_per_s": _ratio(row["req_per_s"], release["req_per_s"]),
                    "cpu_ms_per_req": _ratio(row["cpu_ms_per_req"], release["cpu_ms_per_req"]),
                }
        results[scenario.key] = rows
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "pinned": proxy_cpu is not None,
        "options": asdict(options),
        "chunks_per_stream": CHUNKS,
        "scenarios": [
            {
                "key": s.key,
                "title": s.title,
                "path": s.path,
                "upstream_path": s.upstream_path,
                "stream": s.stream,
                "body_bytes": len(s.body),
            }
            for s in scenarios
        ],
        "configurations": [
            {"key": c.key, "label": c.label, "env": dict(c.env), "server": c.server} for c in configurations
        ],
        "results": results,
        "per_chunk_cpu_us": _per_chunk(scenarios, configurations, results),
        "upstream_check": _upstream_check(results),
        "failures": failures,
        "notes": notes,
    }


def _per_chunk(
    scenarios: list[Scenario], configurations: list[Configuration], results: dict[str, dict[str, Any]]
) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    for scenario in scenarios:
        if scenario.non_stream_twin is None or scenario.non_stream_twin not in results:
            continue
        by_config: dict[str, float | None] = {}
        for configuration in configurations:
            stream = results[scenario.key].get(configuration.key, {}).get("cpu_ms_per_req")
            plain = results[scenario.non_stream_twin].get(configuration.key, {}).get("cpu_ms_per_req")
            by_config[configuration.key] = None if stream is None or plain is None else (stream - plain) * 1000 / CHUNKS
        out[scenario.key] = by_config
    return out


def _upstream_check(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The smallest (upstream alone req/s) / (fastest proxy row req/s) over the scenarios."""
    worst: tuple[float, str] | None = None
    for key, rows in results.items():
        upstream = rows.get(UPSTREAM_ALONE, {}).get("req_per_s")
        proxies = [row["req_per_s"] for k, row in rows.items() if k != UPSTREAM_ALONE and row["req_per_s"]]
        if upstream and proxies:
            ratio = upstream / max(proxies)
            if worst is None or ratio < worst[0]:
                worst = (ratio, key)
    if worst is None:
        return {"ratio": None, "scenario": None, "ok": None}
    return {"ratio": worst[0], "scenario": worst[1], "ok": worst[0] >= BOTTLENECK_FACTOR}
