"""The load generator: prebuilt request bytes over raw keep-alive HTTP/1.1 connections.

`python -m copilot_hybrid.bench.load` reads one job as JSON on stdin and prints the
result as JSON: a warm-up, then `sequential` requests one at a time on one
connection (latency to the response's last byte: p50, p99), then `concurrent`
requests over `concurrency` connections (throughput). With `watch_pid`, the CPU
that process used (utime+stime from /proc) across both timed phases.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, cast

from copilot_hybrid.bench.upstream import pin_to_cpu
from copilot_hybrid.bench.wire import ResponseReader, fast_event_loop_policy

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int | str) -> list[bytes] | None:
    """The fields of /proc/PID/stat after the command name (field 3 onwards), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds so far of `pid` and its descendants (granian serves from
    a worker process); None where /proc is missing."""
    stats: dict[int, list[bytes]] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if entry.isdigit() and (fields := _stat(entry)) is not None:
            stats[int(entry)] = fields
    if pid not in stats:
        return None
    tree, grew = {pid}, True
    while grew:
        children = {p for p, fields in stats.items() if int(fields[1]) in tree} - tree  # field 4: ppid
        tree |= children
        grew = bool(children)
    # utime, stime: fields 14 and 15 of proc_pid_stat(5)
    return sum(int(stats[p][11]) + int(stats[p][12]) for p in tree) / _TICK


@dataclass
class Job:
    port: int
    request: bytes
    warmup: int = 20
    sequential: int = 500
    concurrent: int = 500
    concurrency: int = 16
    watch_pid: int | None = None
    cpu: int | None = None  # pin the generator to this core

    def to_json(self) -> str:
        data = asdict(self)
        data["request"] = base64.b64encode(self.request).decode()
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Job:
        data = json.loads(text)
        data["request"] = base64.b64decode(data["request"])
        return cls(**data)


@dataclass
class Result:
    p50_ms: float
    p99_ms: float
    req_per_s: float
    cpu_ms_per_req: float | None
    requests: int
    errors: int
    statuses: dict[str, int] = field(default_factory=dict)


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._reader = ResponseReader()
        self._done: asyncio.Future[int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.Transport", transport)  # uvloop's is not an asyncio.Transport subclass

    def data_received(self, data: bytes) -> None:
        result = self._reader.feed(data)
        if result is not None and self._done is not None and not self._done.done():
            self._done.set_result(result[0])

    def connection_lost(self, exc: Exception | None) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_exception(ConnectionError("the server closed the connection"))

    async def send(self, raw: bytes) -> int:
        assert self.transport is not None
        self._done = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self._done


class _Client:
    """One connection, reopened when the server closes it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._conn: _Connection | None = None

    async def send(self, raw: bytes) -> int:
        if self._conn is None or self._conn.transport is None or self._conn.transport.is_closing():
            _, self._conn = await asyncio.get_running_loop().create_connection(_Connection, "127.0.0.1", self.port)
        try:
            return await self._conn.send(raw)
        except ConnectionError:
            self._conn = None
            return 0

    def close(self) -> None:
        if self._conn is not None and self._conn.transport is not None:
            self._conn.transport.close()


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    index = min(len(sorted_values) - 1, max(0, math.ceil(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


async def run(job: Job) -> Result:
    statuses: dict[str, int] = {}

    def count(status: int) -> None:
        statuses[str(status)] = statuses.get(str(status), 0) + 1

    single = _Client(job.port)
    for _ in range(job.warmup):
        await single.send(job.request)
    cpu_before = process_cpu_seconds(job.watch_pid) if job.watch_pid else None
    latencies = []
    for _ in range(job.sequential):
        start = time.perf_counter_ns()
        count(await single.send(job.request))
        latencies.append((time.perf_counter_ns() - start) / 1e6)
    single.close()

    remaining = job.concurrent

    async def worker() -> None:
        nonlocal remaining
        client = _Client(job.port)
        while remaining > 0:
            remaining -= 1
            count(await client.send(job.request))
        client.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(job.concurrency)))
    elapsed = time.perf_counter() - started
    cpu_after = process_cpu_seconds(job.watch_pid) if job.watch_pid else None
    timed = job.sequential + job.concurrent
    cpu = None
    if cpu_before is not None and cpu_after is not None and timed:
        cpu = (cpu_after - cpu_before) * 1000 / timed
    latencies.sort()
    return Result(
        p50_ms=percentile(latencies, 0.50) if latencies else 0.0,
        p99_ms=percentile(latencies, 0.99) if latencies else 0.0,
        req_per_s=job.concurrent / elapsed if elapsed > 0 else 0.0,
        cpu_ms_per_req=cpu,
        requests=timed,
        errors=sum(n for status, n in statuses.items() if status != "200"),
        statuses=statuses,
    )


def main() -> None:
    job = Job.from_json(sys.stdin.read())
    pin_to_cpu(job.cpu)
    fast_event_loop_policy()
    result = asyncio.run(run(job))
    print(json.dumps(asdict(result)))


def result_from_json(text: str) -> Result:
    data: dict[str, Any] = json.loads(text)
    return Result(**data)


if __name__ == "__main__":
    main()
