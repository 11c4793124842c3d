"""The fast fake upstream: GitHub's token exchange and Copilot's API as prebuilt bytes.

`python -m copilot_hybrid.bench.upstream [--cpu N]` listens on a free loopback port,
prints `listening PORT` on stdout and serves until stdin closes (the bench's end)
or SIGTERM. An asyncio Protocol on uvloop where installed: no parsing beyond the
request line, the headers and Content-Length, keep-alive, one write per answer.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys

from copilot_hybrid.bench.scenarios import Answers
from copilot_hybrid.bench.wire import RequestFramer, fast_event_loop_policy


def pin_to_cpu(cpu: int | None) -> None:
    """Keeps this process (and its future threads) on one core, where the platform allows."""
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


async def serve(sock: socket.socket, answers: Answers, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: RequestFramer(answers.answer), sock=sock, backlog=1024)
    async with server:
        await stop.wait()


def _listen() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    return sock


async def _main(cpu: int | None) -> None:
    pin_to_cpu(cpu)
    sock = _listen()
    port = sock.getsockname()[1]
    answers = Answers.build(f"http://127.0.0.1:{port}")
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    # The bench holds our stdin; its end (or the bench dying) closes it.
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not os.read(sys.stdin.fileno(), 4096) else None)
    print(f"listening {port}", flush=True)
    await serve(sock, answers, stop)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cpu", type=int, default=None, help="pin to this core")
    args = parser.parse_args(argv)
    fast_event_loop_policy()
    asyncio.run(_main(args.cpu))


if __name__ == "__main__":
    main()
