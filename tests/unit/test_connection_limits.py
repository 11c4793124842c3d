"""The connection limits' parts: the fd limit, the derived cap, the throttled
pressure log and asyncio's accept errors. The real-socket behaviour is in
tests/e2e/test_connections.py."""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import subprocess
import sys

import pytest

from copilot_hybrid.server.connections import ConnectionLimits, PressureLog, default_max_connections


@pytest.mark.parametrize(
    ("fd_limit", "expected"),
    [(0, 512), (256, 64), (1024, 320), (20000, 512), (1 << 20, 512), (70, 8)],
)
def test_default_max_connections_follows_the_fd_limit(fd_limit: int, expected: int) -> None:
    assert default_max_connections(fd_limit) == expected


def test_shedding_keeps_room_for_upstream_connections() -> None:
    limits = ConnectionLimits(max_connections=64, header_timeout=10, fd_limit=256)
    assert limits.shed_above == 256 - 64 - 64
    unlimited = ConnectionLimits(max_connections=512, header_timeout=10, fd_limit=0)
    assert unlimited.shed_above > 10**9
    assert "max 512 connections" in unlimited.describe()


def _limit_in_child(soft: int, hard: int) -> tuple[int, int, int]:
    """raise_fd_limit() in a child started with RLIMIT_NOFILE (soft, hard)."""

    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    code = (
        "import resource; from copilot_hybrid.server.connections import raise_fd_limit;"
        "r = raise_fd_limit(); s, h = resource.getrlimit(resource.RLIMIT_NOFILE); print(r, s, h)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, preexec_fn=lower, timeout=60
    ).stdout
    reported, now_soft, now_hard = (int(x) for x in out.split())
    return reported, now_soft, now_hard


def test_soft_fd_limit_is_raised_to_the_hard_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(hard, 4096)
    if target <= 256:
        pytest.skip("the hard fd limit here is too low to raise anything")
    assert _limit_in_child(256, target) == (target, target, target)


def test_fd_limit_already_at_the_hard_limit_stays() -> None:
    assert _limit_in_child(256, 256) == (256, 256, 256)


def test_pressure_log_writes_at_most_one_line_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> PressureLog:
        pressure = PressureLog(interval=3600)
        for _ in range(1000):
            pressure.count("connections closed at once")
        pressure.count("accept() failures")
        return pressure

    with caplog.at_level(logging.WARNING, logger="copilot_hybrid.server"):
        pressure = asyncio.run(go())
        assert len(caplog.records) == 1  # the first event, at once
        assert "1 connections closed at once" in caplog.records[0].getMessage()
        pressure.flush()  # what the timer does at the interval's end: one line with the rest
    assert len(caplog.records) == 2
    assert caplog.records[1].getMessage() == (
        "Connection pressure: 999 connections closed at once; 1 accept() failures"
    )


def test_accept_errors_are_counted_not_logged_as_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> tuple[PressureLog, list[dict[str, object]]]:
        pressure = PressureLog(interval=3600)
        passed: list[dict[str, object]] = []
        loop = asyncio.get_running_loop()
        loop.default_exception_handler = passed.append  # type: ignore[method-assign, assignment]
        for _ in range(500):
            pressure.exception_handler(
                loop,
                {"message": "socket.accept() out of system resource", "exception": OSError(errno.EMFILE, "x")},
            )
        pressure.exception_handler(loop, {"message": "something else", "exception": ValueError("other")})
        return pressure, passed

    with caplog.at_level(logging.WARNING, logger="copilot_hybrid.server"):
        pressure, passed = asyncio.run(go())
        pressure.flush()
    assert len(caplog.records) == 2
    assert "499 accept() failures (Too many open files; asyncio retries" in caplog.records[1].getMessage()
    assert [c["message"] for c in passed] == ["something else"]  # other errors keep asyncio's handling
