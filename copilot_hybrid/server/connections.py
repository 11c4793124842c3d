"""Client connections that cannot pile up.

uvicorn (0.54, h11) closes a kept-alive connection after `timeout_keep_alive`, but
only once a response has been sent: a connection that never sends a byte, or sends
its headers a byte a second, is kept forever. Its `limit_concurrency` answers 503
per request, so at the limit an admitted client's next request is refused too. And
asyncio's accept loop, out of file descriptors, logs the same traceback once per
pending connection and retries each one (288,689 tracebacks in 20 s at
`ulimit -n 256`). So this module adds, as subclasses of uvicorn's h11 and
httptools protocols sharing one mixin (`LimitedConnection`; the httptools one is
in connections_httptools.py, imported only when httptools serves):

- a header clock: a request's head must be complete `header_timeout` seconds after
  the connection opened or after the request's first byte (Go's ReadHeaderTimeout);
  otherwise the connection is closed (with a 408 when part of a head had come);
- a connection cap decided when a connection opens: the first `max_connections`
  are served for as long as they live; the ones beyond get a 503 in the caller's
  format (`retry-after: 1`, `connection: close`) for their first request; and past
  `shed_above` connections, close to the file descriptor limit, new ones are closed
  at once so the process keeps descriptors for upstream connections and files;
- `raise_fd_limit()`: the soft RLIMIT_NOFILE raised to the hard limit at start;
- `PressureLog`: overload events (refusals, 503s, header timeouts, accept()
  failures) counted and reported in at most one log line a second, installed as
  the loop's exception handler for asyncio's accept errors.

The process recovers by itself: counts drop as connections close, and asyncio
resumes accepting a second after a failure.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import sys
import time
from collections import Counter
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from copilot_hybrid.config import DEFAULT_MAX_CONNECTIONS
from copilot_hybrid.server.errors import error_response
from copilot_hybrid.server.settings import ServerSettings

log = logging.getLogger("copilot_hybrid.server")

#: Descriptors kept for everything but client connections: the listening socket,
#: the event loop, logs, vocabulary files, token refreshes, an in-process emulator.
FD_RESERVE = 64
MIN_CONNECTIONS = 8
#: The soft limit tried when the hard one is "unlimited" or refused: macOS refuses a soft
#: limit above OPEN_MAX (10240) even when its hard limit says unlimited.
_FALLBACK_FD_LIMIT = 10240
#: A refused connection's request body is read (and dropped) up to this much, so the
#: client is not reset before it reads the 503.
_REFUSED_BODY_LIMIT = 1024 * 1024
_TIMEOUT_408 = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


# ---- the file descriptor limit --------------------------------------------------------


def raise_fd_limit() -> int:
    """Raises the soft RLIMIT_NOFILE to the hard limit (10240 when that is unlimited or
    refused); returns the soft limit now in force (0 where there is none, e.g. Windows)."""
    try:
        import resource
    except ImportError:  # Windows
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    targets = [] if hard == resource.RLIM_INFINITY else [hard]
    if sys.platform == "darwin" or not targets:
        targets.append(_FALLBACK_FD_LIMIT if hard == resource.RLIM_INFINITY else min(hard, _FALLBACK_FD_LIMIT))
    for target in targets:
        if target <= soft:
            break
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            continue
        log.debug("File descriptor limit raised from %d to %d", soft, target)
        return int(target)
    return int(soft) if soft != resource.RLIM_INFINITY else 0


def default_max_connections(fd_limit: int) -> int:
    """512, or a third of what the descriptors allow beyond the reserve: each admitted
    client may hold an upstream connection, and refused ones need a descriptor too."""
    if fd_limit <= 0:
        return DEFAULT_MAX_CONNECTIONS
    return max(MIN_CONNECTIONS, min(DEFAULT_MAX_CONNECTIONS, (fd_limit - FD_RESERVE) // 3))


# ---- overload reporting ---------------------------------------------------------------


class PressureLog:
    """Counts overload events and reports them in at most one line per `interval`.

    The first event after a quiet interval is reported at once; the ones that follow
    within the interval are summed into one line at its end.
    """

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.counts: Counter[str] = Counter()
        self._last = -float("inf")
        self._flush: asyncio.TimerHandle | None = None

    def count(self, event: str) -> None:
        self.counts[event] += 1
        wait = self._last + self.interval - time.monotonic()
        if wait <= 0:
            self.flush()
        elif self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(wait, self.flush)

    def flush(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        if not self.counts:
            return
        summary = "; ".join(f"{n} {event}" for event, n in self.counts.items())
        log.warning("Connection pressure: %s", summary)
        self.counts.clear()
        self._last = time.monotonic()

    def exception_handler(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """The event loop's handler: asyncio's accept() errors become counts; the rest
        goes to asyncio's default handler."""
        exc = context.get("exception")
        accepting = "accept" in str(context.get("message", ""))
        if accepting and isinstance(exc, OSError) and exc.errno in _OUT_OF_RESOURCES:
            self.count(f"accept() failures ({os.strerror(exc.errno)}; asyncio retries each second)")
            return
        if "_start_serving" in repr(context.get("handle")):
            # A pending accept retry that found its listening socket already closed at shutdown.
            log.debug("accept retry after shutdown: %s", exc)
            return
        loop.default_exception_handler(context)


# ---- the protocol -----------------------------------------------------------------------


class ConnectionLimits:
    """What every connection of one server shares: the limits and the live counts."""

    def __init__(self, *, max_connections: int, header_timeout: float, fd_limit: int) -> None:
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.fd_limit = fd_limit
        # Past this many open connections new ones are closed at once; room is kept for
        # one upstream connection per admitted client and for the reserve.
        room = fd_limit - FD_RESERVE - max_connections
        self.shed_above = max(MIN_CONNECTIONS, room) if fd_limit > 0 else sys.maxsize
        self.admitted = 0
        self.open = 0
        self.pressure = PressureLog()

    def describe(self) -> str:
        fds = f"file descriptor limit {self.fd_limit}" if self.fd_limit else "no file descriptor limit"
        return (
            f"max {self.max_connections} connections (more get 503, past {self.shed_above} open they are "
            f"closed at once; {fds}), request headers within {self.header_timeout:g} s"
        )

    def protocol_class(self, http_parser: str = "h11") -> type[asyncio.Protocol]:
        """uvicorn's `http` setting: its protocol for `http_parser` (httptools or h11), bound to these limits."""
        base: type[LimitedConnection] = LimitedH11Protocol
        if http_parser == "httptools":  # imported only when chosen: httptools may not be installed
            from copilot_hybrid.server.connections_httptools import LimitedHttpToolsProtocol

            base = LimitedHttpToolsProtocol
        return type(base.__name__, (base,), {"limits": self})


class LimitedConnection(asyncio.Protocol):
    """The limits, shared by both parsers' protocols (mixed in before uvicorn's class).
    A subclass tells when a request's head begins (`_head_begins`) and when it is
    complete (`_head_complete`); the clock, the cap and the shedding are here."""

    limits: ClassVar[ConnectionLimits]
    # uvicorn's protocol attributes this class uses.
    app: Any
    cycle: Any
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._counted = False
        self._admitted = False
        self._header_timer: asyncio.TimerHandle | None = None
        self._in_head = False  # part of a request's head has come, not all of it

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn's
        limits = self.limits
        if limits.open >= limits.shed_above:
            limits.pressure.count(
                f"connections closed at once (past {limits.shed_above} open, near the file descriptor limit)"
            )
            transport.abort()
            return
        super().connection_made(transport)
        self._counted = True
        limits.open += 1
        if limits.admitted < limits.max_connections:
            self._admitted = True
            limits.admitted += 1
        else:
            limits.pressure.count(f"connections over --max-connections {limits.max_connections} answered 503")
            self.app = self._refuse_over_capacity
        self._start_header_clock()  # a new connection's clock runs from the start

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._counted:  # closed at once in connection_made
            return
        self._counted = False
        self.limits.open -= 1
        if self._admitted:
            self.limits.admitted -= 1
        self._stop_header_clock()
        super().connection_lost(exc)

    async def _refuse_over_capacity(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app of a connection beyond --max-connections: one 503, then it closes."""
        read = 0
        async for chunk in Request(scope, receive).stream():
            read += len(chunk)
            if read > _REFUSED_BODY_LIMIT:
                break
        response = error_response(
            str(scope.get("path", "")),
            503,
            f"The proxy is serving its maximum of {self.limits.max_connections} connections "
            "(--max-connections); retry shortly",
            headers={"retry-after": "1", "connection": "close"},
        )
        await response(scope, receive, send)

    # -- the header clock ---------------------------------------------------------------

    def _head_begins(self) -> None:
        self._in_head = True
        if self._header_timer is None:  # a kept-alive connection's next request begins
            self._start_header_clock()

    def _head_complete(self) -> None:
        self._in_head = False
        self._stop_header_clock()

    def _start_header_clock(self) -> None:
        self._stop_header_clock()
        self._header_timer = self.loop.call_later(self.limits.header_timeout, self._header_timed_out)

    def _stop_header_clock(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        self.limits.pressure.count(f"connections without request headers in {self.limits.header_timeout:g} s closed")
        if self._in_head:
            self.transport.write(_TIMEOUT_408)
        self.transport.close()


class LimitedH11Protocol(LimitedConnection, H11Protocol):
    """h11 has no parser callbacks: a head is complete when uvicorn has made a new cycle."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Between requests: True until the next request's head is complete.
        self._awaiting_head = False
        self._previous_cycle: object = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn's
        super().connection_made(transport)
        self._await_head()

    def data_received(self, data: bytes) -> None:
        if self._awaiting_head:
            self._head_begins()
        super().data_received(data)
        if self._awaiting_head and self.cycle is not self._previous_cycle:
            self._awaiting_head = False
            self._head_complete()

    def on_response_complete(self) -> None:
        cycle = self.cycle
        super().on_response_complete()
        if self.cycle is cycle:  # no pipelined request started inside
            self._await_head()

    def _await_head(self) -> None:
        self._awaiting_head = True
        self._previous_cycle = self.cycle


def setup_connection_limits(settings: ServerSettings) -> ConnectionLimits:
    """At `serve` start, in the server's event loop: raises the fd limit, derives the
    connection cap from it, and sends asyncio's accept() errors to the pressure log."""
    fd_limit = raise_fd_limit()
    limits = ConnectionLimits(
        max_connections=settings.max_connections or default_max_connections(fd_limit),
        header_timeout=settings.header_timeout,
        fd_limit=fd_limit,
    )
    asyncio.get_running_loop().set_exception_handler(limits.pressure.exception_handler)
    if limits.shed_above < limits.max_connections:
        log.warning(
            "--max-connections %d is more than the file descriptor limit (%d) allows: "
            "past %d open connections new ones are closed at once (raise it with `ulimit -n`)",
            limits.max_connections,
            fd_limit,
            limits.shed_above,
        )
    log.debug("Connections: %s", limits.describe())
    return limits
