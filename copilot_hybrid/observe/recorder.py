"""Where a finished request's record goes: `Recorder.record(record)`, once per request.

On the request path that is one `deque.append` (atomic under the GIL: no lock,
no thread woken per request; a queue.Queue's notify cost ~8% of a small
request's CPU). One daemon thread wakes every POLL_SECONDS, takes every record
handed in, and per record parses the usage/error/texts (observe/content.py),
updates the Prometheus metrics and writes the JSON log line; the history rows
go to SQLite in batches, one transaction each, at most WRITE_DELAY_SECONDS
late (a crash loses at most that much history). When QUEUE_LIMIT records wait
(the disk cannot keep up) further records are dropped and counted, never
waited for.

`sync()` wakes the thread and waits until every record handed in before the
call is processed, so that a `/metrics` scrape or a dashboard poll that
follows a request sees it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Final

from copilot_hybrid.observe.content import complete
from copilot_hybrid.observe.history import History
from copilot_hybrid.observe.metrics import Metrics
from copilot_hybrid.observe.record import RequestRecord

log = logging.getLogger("copilot_hybrid.server")
#: The request log: INFO lines in `--log-format json`, DEBUG lines otherwise
#: (uvicorn's access log already prints one line per request).
request_log = logging.getLogger("copilot_hybrid.requests")

QUEUE_LIMIT: Final = 10_000
#: How often the recorder thread looks for records (metrics and logs lag at most this).
POLL_SECONDS: Final = 0.05
#: Rows go to SQLite in one transaction per batch: at the latest this long after
#: the first of them, or once BATCH_LIMIT wait, or when someone calls sync().
WRITE_DELAY_SECONDS: Final = 0.5
BATCH_LIMIT: Final = 500
SYNC_TIMEOUT_SECONDS: Final = 2.0


class Recorder:
    def __init__(
        self,
        metrics: Metrics,
        history: History | None,
        *,
        keep_text: bool = False,
        log_requests: bool = False,
    ) -> None:
        self.metrics = metrics
        self.history = history
        self.keep_text = keep_text
        self.log_level = logging.INFO if log_requests else logging.DEBUG
        self._inbox: deque[RequestRecord] = deque()
        self._waiters: deque[threading.Event] = deque()
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="request-recorder", daemon=True)
        self._thread.start()

    def record(self, record: RequestRecord) -> None:
        """Hands one finished request over; never blocks."""
        if len(self._inbox) >= QUEUE_LIMIT:
            self.metrics.dropped.inc()
            return
        self._inbox.append(record)

    def sync(self, timeout: float = SYNC_TIMEOUT_SECONDS) -> bool:
        """Waits until every record handed in so far is processed (False on timeout)."""
        if self._closed or not self._thread.is_alive():
            return True
        done = threading.Event()
        self._waiters.append(done)
        self._wake.set()
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Processes what is waiting, then stops the thread and closes the history."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("Request recorder: still busy at shutdown; the last records are lost")

    def _run(self) -> None:
        pending: list[RequestRecord] = []
        deadline: float | None = None
        while True:
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()
            stopping = self._closed
            # Waiters first: every record handed in before a waiter is in the inbox by now.
            waiters = [self._waiters.popleft() for _ in range(len(self._waiters))]
            for _ in range(len(self._inbox)):
                record = self._inbox.popleft()
                self._process(record)
                pending.append(record)
            if pending and deadline is None:
                deadline = time.monotonic() + WRITE_DELAY_SECONDS
            due = deadline is not None and time.monotonic() >= deadline
            if stopping or waiters or due or len(pending) >= BATCH_LIMIT:
                self._write(pending)
                pending, deadline = [], None
            for waiter in waiters:
                waiter.set()
            if stopping:
                break
        if self.history is not None:
            self.history.close()

    def _process(self, record: RequestRecord) -> None:
        try:
            complete(record, keep_text=self.keep_text)
            self.metrics.observe(record)
            self._log(record)
        except Exception:  # one odd record must not stop the recorder
            log.exception("Request recorder: cannot process a record")

    def _write(self, batch: list[RequestRecord]) -> None:
        if not batch or self.history is None:
            return
        try:
            self.history.write(batch)
        except Exception as exc:  # noqa: BLE001 - a full disk or a locked file loses history, not requests
            log.warning("Request history: cannot write %d records to %s: %s", len(batch), self.history.path, exc)

    def _log(self, record: RequestRecord) -> None:
        if not request_log.isEnabledFor(self.log_level):
            return
        latency = f"{record.latency_ms:.0f} ms" if record.latency_ms is not None else "unfinished"
        request_log.log(
            self.log_level,
            "%s %s %s %s%s",
            record.method,
            record.route,
            record.status,
            latency,
            f" {record.resolved_model}" if record.resolved_model else "",
            extra={"fields": record.fields()},
        )
