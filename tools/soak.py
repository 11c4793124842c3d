"""Soak test: concurrent streams through the real proxy against the emulator, with faults.

    python tools/soak.py [--concurrency N] [--duration SECONDS] [--seed S] [--json]

Starts the emulator in this process and `copilot-hybrid serve` as a subprocess (short
timeouts, so faults resolve in seconds), then runs N workers for T seconds. Each
worker sends streamed requests, one after the other, to /v1/messages (translated) or
/v1/chat/completions (passed through), each with one scenario drawn at random:

    ok            a scripted reply                      expected: completed
    paced         the same, 20 ms between chunks        expected: completed
    stall-short   a mid-stream silence < the idle timeout (pings fill it)   completed
    stall-long    a mid-stream silence > the idle timeout                   error event
    cut           upstream drops the connection mid-stream                  error event
    slow-headers  no response headers within --upstream-timeout             504
    5xx           upstream answers 500, 502 or 503                          that status
    429           upstream answers 429 with retry-after: 1                  429 + Retry-After

Each request ends as one of:

- completed: the stream's proper end (`message_stop`; a finish_reason and `data: [DONE]`);
- errored cleanly: an error status with a body in the route's own error format, or a
  200 stream whose last event is an error event (Anthropic `error`, an OpenAI error chunk);
- hung: no end within the hang deadline (upstream + idle timeouts + the longest
  scripted delay + 30 s) -- must be 0;
- unclean: anything else (a stream cut without an error event, a malformed event, a
  reset connection) -- must be 0.

Lost bytes (must be 0), per completed stream: every scripted reply is a unique text
the emulator streams as content deltas; the text the client reassembles from the
deltas must be that text. lost = (len(expected) - p) + (len(received) - p) UTF-8 bytes,
p being their longest common prefix, so a missing, altered or extra byte counts. On
the passed-through route the emulator's record of the request must also say the
whole response went out (`finished`) and the client's body with the `: ping` lines
removed must have exactly the emulator's `sent_bytes`; any difference is added.

Also printed: each scenario's outcomes, pings seen, upstream connections the emulator
accepted, and the proxy's peak RSS and open file descriptors (from /proc; "n/a"
where there is none). Leaked fds: once the run is over, the proxy may keep what it
had at the start plus one idle upstream connection per stream (and a few to spare);
descriptors beyond that are leaked connections. Exits 1 when hung, unclean, lost
bytes, leaked fds or tracebacks in the proxy's log are not 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from copilot_hybrid import config
from copilot_hybrid.emulator import Emulator

# The proxy's timeouts for the soak: short, so that every fault resolves in seconds.
UPSTREAM_TIMEOUT = 3.0
STREAM_IDLE_TIMEOUT = 3.0
PING_INTERVAL = 0.5

SCENARIOS: dict[str, int] = {  # name: weight
    "ok": 40,
    "paced": 10,
    "stall-short": 10,
    "stall-long": 6,
    "cut": 10,
    "slow-headers": 6,
    "5xx": 10,
    "429": 8,
}
EXPECTED = {
    "ok": "completed",
    "paced": "completed",
    "stall-short": "completed",
    "stall-long": "error event",
    "cut": "error event",
    "slow-headers": "504",
    "5xx": "5xx",
    "429": "429",
}
WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau".split()
HANG_AFTER = UPSTREAM_TIMEOUT + STREAM_IDLE_TIMEOUT + 2 * max(UPSTREAM_TIMEOUT, STREAM_IDLE_TIMEOUT) + 30
_MARKER = re.compile(r"soak-(\d+)\b")


@dataclass
class Outcome:
    number: int
    route: str
    scenario: str
    result: str  # completed | errored | hung | unclean
    detail: str = ""  # what ended it: "completed", "error event", "504", "5xx", "429", or the failure
    expected_text: str = ""
    received_text: str = ""
    received_bytes: int = 0  # the passed-through body without pings
    pings: int = 0


@dataclass
class Sample:
    peak_rss_kb: int | None = None
    fds_start: int | None = None
    fds_peak: int | None = None
    fds_end: int | None = None
    fds_leaked: int = 0


@dataclass
class Report:
    seconds: float
    concurrency: int
    outcomes: list[Outcome] = field(default_factory=list)
    lost_bytes: int = 0
    lost_examples: list[str] = field(default_factory=list)
    upstream_connections: int = 0
    sample: Sample = field(default_factory=Sample)

    def count(self, result: str) -> int:
        return sum(1 for o in self.outcomes if o.result == result)

    @property
    def ok(self) -> bool:
        return (
            self.count("hung") == 0
            and self.count("unclean") == 0
            and self.lost_bytes == 0
            and self.sample.fds_leaked == 0
        )

    def as_json(self) -> dict[str, Any]:
        per_scenario: dict[str, Counter[str]] = {}
        for o in self.outcomes:
            per_scenario.setdefault(o.scenario, Counter())[o.detail if o.result != "hung" else "hung"] += 1
        return {
            "seconds": round(self.seconds, 1),
            "concurrency": self.concurrency,
            "requests": len(self.outcomes),
            "completed": self.count("completed"),
            "errored_cleanly": self.count("errored"),
            "hung": self.count("hung"),
            "unclean": self.count("unclean"),
            "lost_bytes": self.lost_bytes,
            "unexpected": sum(1 for o in self.outcomes if o.result != "hung" and o.detail != EXPECTED[o.scenario]),
            "pings": sum(o.pings for o in self.outcomes),
            "upstream_connections": self.upstream_connections,
            "peak_rss_mb": None if self.sample.peak_rss_kb is None else round(self.sample.peak_rss_kb / 1024, 1),
            "fds": {
                "start": self.sample.fds_start,
                "peak": self.sample.fds_peak,
                "end": self.sample.fds_end,
                "leaked": self.sample.fds_leaked,
            },
            "scenarios": {name: dict(c) for name, c in sorted(per_scenario.items())},
            "failures": [
                f"#{o.number} {o.route} {o.scenario}: {o.result} ({o.detail})"
                for o in self.outcomes
                if o.result in ("hung", "unclean")
            ][:10],
            "lost_examples": self.lost_examples[:10],
        }


# ---- one request --------------------------------------------------------------------


def _keywords(scenario: str, text: str, rng: random.Random) -> str:
    reply = f"[[reply:{text}]]"
    return {
        "ok": reply,
        "paced": f"{reply} [[pace:20]]",
        "stall-short": f"{reply} [[stall:{int(STREAM_IDLE_TIMEOUT * 1000 / 2)}]]",
        "stall-long": f"{reply} [[stall:{int((STREAM_IDLE_TIMEOUT + 2) * 1000)}]]",
        "cut": f"{reply} [[fail-midstream]]",
        "slow-headers": f"{reply} [[slow:{int((UPSTREAM_TIMEOUT + 2) * 1000)}]]",
        "5xx": f"[[error:{rng.choice((500, 502, 503))}]]",
        "429": "[[error:429]]",
    }[scenario]


async def run_one(client: httpx.AsyncClient, number: int, rng: random.Random) -> Outcome:
    scenario = rng.choices(list(SCENARIOS), weights=list(SCENARIOS.values()))[0]
    route = rng.choice(("anthropic", "openai"))
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 120))) + f" {number}"
    content = f"{_keywords(scenario, text, rng)} soak-{number}"
    messages = [{"role": "user", "content": content}]
    if route == "anthropic":
        path, body = (
            "/v1/messages",
            {"model": "claude-sonnet-4.5", "max_tokens": 4000, "stream": True, "messages": messages},
        )
    else:
        path, body = "/v1/chat/completions", {"model": "gpt-4.1", "stream": True, "messages": messages}
    outcome = Outcome(number, route, scenario, "unclean", expected_text=text)
    try:
        async with asyncio.timeout(HANG_AFTER):
            async with client.stream("POST", path, json=body) as response:
                raw = b"".join([chunk async for chunk in response.aiter_bytes()])
                status = response.status_code
                retry_after = response.headers.get("retry-after")
    except TimeoutError:
        outcome.result, outcome.detail = "hung", f"no end within {HANG_AFTER:g} s"
        return outcome
    except httpx.HTTPError as exc:
        outcome.detail = f"{type(exc).__name__}: {exc}"
        return outcome
    if status != 200:
        _classify_status(outcome, status, raw, retry_after)
    elif route == "anthropic":
        _classify_anthropic(outcome, raw)
    else:
        _classify_openai(outcome, raw)
    return outcome


def _classify_status(outcome: Outcome, status: int, raw: bytes, retry_after: str | None) -> None:
    try:
        data = json.loads(raw)
    except ValueError:
        outcome.detail = f"HTTP {status} with a non-JSON body"
        return
    if outcome.route == "anthropic":
        clean = isinstance(data, dict) and data.get("type") == "error" and isinstance(data.get("error"), dict)
    else:
        clean = (
            isinstance(data, dict)
            and "type" not in data
            and isinstance(data.get("error"), dict)
            and {"message", "type"} <= set(data["error"])
        )
    if not clean:
        outcome.detail = f"HTTP {status} not in the route's error format"
        return
    if status == 429 and not retry_after:
        outcome.detail = "429 without Retry-After"
        return
    outcome.result = "errored"
    outcome.detail = "5xx" if status in (500, 502, 503) else str(status)


def _classify_anthropic(outcome: Outcome, raw: bytes) -> None:
    events: list[tuple[str, Any]] = []
    for block in raw.decode("utf-8", "replace").split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        try:
            events.append((fields.get("event", ""), json.loads(fields.get("data", "null"))))
        except ValueError:
            outcome.detail = "a malformed event"
            return
    outcome.pings = sum(1 for name, _ in events if name == "ping")
    outcome.received_text = "".join(
        data["delta"].get("text", "") for name, data in events if name == "content_block_delta"
    )
    last = events[-1][0] if events else ""
    if last == "message_stop":
        outcome.result, outcome.detail = "completed", "completed"
    elif last == "error" and isinstance(events[-1][1], dict) and events[-1][1].get("type") == "error":
        outcome.result, outcome.detail = "errored", "error event"
    else:
        outcome.detail = f"stream ended after {last or 'nothing'}"


def _classify_openai(outcome: Outcome, raw: bytes) -> None:
    outcome.pings = raw.count(b": ping\n\n")
    body = raw.replace(b": ping\n\n", b"")
    outcome.received_bytes = len(body)
    datas = [block[6:] for block in body.split(b"\n\n") if block.startswith(b"data: ")]
    if not datas:
        outcome.detail = "an empty stream"
        return
    chunks: list[Any] = []
    for data in datas[:-1] if datas[-1] == b"[DONE]" else datas:
        try:
            chunks.append(json.loads(data))
        except ValueError:
            outcome.detail = "a malformed event"
            return
    outcome.received_text = "".join(
        (choice.get("delta") or {}).get("content") or "" for c in chunks if "choices" in c for choice in c["choices"]
    )
    finished = any(choice.get("finish_reason") for c in chunks if "choices" in c for choice in c["choices"])
    if datas[-1] == b"[DONE]" and finished:
        outcome.result, outcome.detail = "completed", "completed"
    elif chunks and isinstance(chunks[-1], dict) and isinstance(chunks[-1].get("error"), dict):
        outcome.result, outcome.detail = "errored", "error event"
    else:
        outcome.detail = "stream ended without [DONE] or an error chunk"


def _lost(expected: str, received: str) -> int:
    e, r = expected.encode(), received.encode()
    p = 0
    while p < min(len(e), len(r)) and e[p] == r[p]:
        p += 1
    return (len(e) - p) + (len(r) - p)


# ---- the proxy process ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_proxy(emulator: Emulator, home: Path, log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = config.child_environment(
        drop=(config.COPILOT_API_URL_ENV, "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"),
        **{
            config.HOME_ENV: str(home),
            config.VSCODE_VERSION_ENV: "1.104.3",
            config.GITHUB_URL_ENV: emulator.github_url,
            config.GITHUB_API_URL_ENV: emulator.github_api_url,
            config.GITHUB_TOKEN_ENV: emulator.github_token,
            "PYTHONUNBUFFERED": "1",
        },
    )
    args = [sys.executable, "-m", "copilot_hybrid", "serve", "--port", str(port)]
    args += ["--upstream-timeout", str(UPSTREAM_TIMEOUT), "--stream-idle-timeout", str(STREAM_IDLE_TIMEOUT)]
    args += ["--ping-interval", str(PING_INTERVAL)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the proxy exited with {process.returncode}:\n{log_path.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/", timeout=1).status_code == 200:
                return process, url
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the proxy did not start within 60 s:\n{log_path.read_text()}")


def _proc_status(pid: int) -> tuple[int | None, int | None]:
    """(peak RSS in kB, open fds) of `pid` from /proc, or None where there is no /proc."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(list(Path(f"/proc/{pid}/fd").iterdir()))
    except OSError:
        return None, None
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    return (int(match.group(1)) if match else None), fds


#: Descriptors the proxy may hold after the run beyond its start and one idle
#: upstream connection per stream (token refreshes, a log rotation...).
FD_SLACK = 8


def settle_fds(pid: int, into: Sample, concurrency: int, timeout: float = 10.0) -> None:
    """The proxy's fds once the run's connections have closed (they close as the client
    leaves, not at once): sampled until within bounds or `timeout`; the rest is leaked."""
    if into.fds_start is None:
        return
    ceiling = into.fds_start + concurrency + FD_SLACK
    deadline = time.monotonic() + timeout
    while True:
        fds = _proc_status(pid)[1]
        into.fds_end = fds
        if fds is None or fds <= ceiling or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    into.fds_leaked = max(0, (into.fds_end or 0) - ceiling)


async def sample(pid: int, into: Sample, stop: asyncio.Event) -> None:
    while True:
        peak, fds = _proc_status(pid)
        if fds is not None:
            into.peak_rss_kb = peak
            into.fds_start = fds if into.fds_start is None else into.fds_start
            into.fds_peak = max(fds, into.fds_peak or 0)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.25):
                await stop.wait()
        if stop.is_set():
            return


# ---- the run ----------------------------------------------------------------------------


async def soak(url: str, pid: int, concurrency: int, duration: float, seed: int) -> Report:
    report = Report(seconds=duration, concurrency=concurrency)
    rng = random.Random(seed)
    numbers = iter(range(1, 10**9))
    stop_sampling = asyncio.Event()
    sampler = asyncio.create_task(sample(pid, report.sample, stop_sampling))
    started = time.monotonic()
    limits = httpx.Limits(max_connections=concurrency + 10, max_keepalive_connections=concurrency + 10)
    async with httpx.AsyncClient(base_url=url, timeout=None, limits=limits) as client:

        async def worker() -> None:
            while time.monotonic() - started < duration:
                report.outcomes.append(await run_one(client, next(numbers), random.Random(rng.random())))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    report.seconds = time.monotonic() - started
    stop_sampling.set()
    await sampler
    return report


def account_lost_bytes(report: Report, emulator: Emulator) -> None:
    records: dict[int, Any] = {}
    for record in emulator.requests_to("/chat/completions"):
        found = _MARKER.search(json.dumps(record.body))
        if found:
            records[int(found.group(1))] = record
    for o in report.outcomes:
        if o.result != "completed":
            continue
        lost = _lost(o.expected_text, o.received_text)
        record = records.get(o.number)
        if record is not None:
            with contextlib.suppress(TimeoutError):  # the client can have its last byte before the emulator noted it
                record = emulator.wait_sent(record)
        if o.route == "openai":
            if record is None or record.finished is not True:
                lost += o.received_bytes or 1
            else:
                lost += abs(record.sent_bytes - o.received_bytes)
        if lost:
            report.lost_bytes += lost
            report.lost_examples.append(f"#{o.number} {o.route} {o.scenario}: {lost} bytes")


def print_report(data: dict[str, Any]) -> None:
    rss = "n/a" if data["peak_rss_mb"] is None else f"{data['peak_rss_mb']} MB"
    fds = data["fds"]
    lines = [
        f"soak: {data['seconds']} s, {data['concurrency']} concurrent streams, through the proxy to the emulator",
        f"requests         {data['requests']}",
        f"completed        {data['completed']}",
        f"errored cleanly  {data['errored_cleanly']}",
        f"hung             {data['hung']}",
        f"unclean          {data['unclean']}",
        f"lost bytes       {data['lost_bytes']}",
        f"unexpected       {data['unexpected']} (a clean outcome other than the scenario's usual one)",
        f"pings            {data['pings']}",
        f"upstream conns   {data['upstream_connections']}",
        f"peak RSS         {rss} (the proxy process)",
        f"fds              start {fds['start']}, peak {fds['peak']}, end {fds['end']}, leaked {fds['leaked']}"
        " (the proxy process)",
        "scenarios:",
    ]
    for name, counts in data["scenarios"].items():
        lines.append(f"  {name:<13} " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for failure in data["failures"] + data["lost_examples"]:
        lines.append(f"  ! {failure}")
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", "-n", type=int, default=20, help="concurrent streams (default 20)")
    parser.add_argument("--duration", "-t", type=float, default=60.0, help="seconds to run (default 60)")
    parser.add_argument("--seed", type=int, default=8, help="random seed of the scenario draw")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="copilot-hybrid-soak-") as tmp,
        Emulator(max_recorded_requests=10**6) as emu,
    ):
        log_path = Path(tmp) / "proxy.log"
        process, url = start_proxy(emu, Path(tmp) / "home", log_path)
        connections_before = emu.connections_accepted
        try:
            report = asyncio.run(soak(url, process.pid, args.concurrency, args.duration, args.seed))
            settle_fds(process.pid, report.sample, args.concurrency)
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        report.upstream_connections = emu.connections_accepted - connections_before
        account_lost_bytes(report, emu)
        log = log_path.read_text(errors="replace")
    data = report.as_json()
    data["proxy_log_tracebacks"] = log.count("Traceback")
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print_report(data)
        print(f"tracebacks in the proxy log: {data['proxy_log_tracebacks']}")
    return 0 if report.ok and not data["proxy_log_tracebacks"] else 1


if __name__ == "__main__":
    sys.exit(main())
