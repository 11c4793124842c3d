"""Where a finished request's record goes: `Recorder.record(record)`, once per request.

On the request path that is one `put_nowait` on a bounded queue. One
daemon thread takes the records off in batches and, per record, parses the
usage/error/texts (observe/content.py), updates the Prometheus metrics,
writes the JSON log line, and then writes the whole batch to the history
in one SQLite transaction. When the queue is full (the disk cannot keep
up) records are dropped and counted, never waited for.

`sync()` waits until every record handed in before the call is processed,
so that a `/metrics` scrape or a dashboard poll that follows a request
sees it.
"""

from __future__ import annotations

import logging
import queue
import threading
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
        self._queue: queue.Queue[RequestRecord | threading.Event | None] = queue.Queue(QUEUE_LIMIT)
        self._thread = threading.Thread(target=self._run, name="request-recorder", daemon=True)
        self._closed = False
        self._thread.start()

    def record(self, record: RequestRecord) -> None:
        """Hands one finished request over; never blocks."""
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.metrics.dropped.inc()

    def sync(self, timeout: float = SYNC_TIMEOUT_SECONDS) -> bool:
        """Waits until every record handed in so far is processed (False on timeout)."""
        if self._closed:
            return True
        done = threading.Event()
        try:
            self._queue.put(done, timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Processes what is queued, then stops the thread and closes the history."""
        if self._closed:
            return
        self._closed = True
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            log.warning("Request recorder: queue still full at shutdown; the last records are lost")
            return
        self._thread.join(timeout)

    def _run(self) -> None:
        running = True
        while running:
            batch: list[RequestRecord] = []
            waiters: list[threading.Event] = []
            item = self._queue.get()
            while True:
                if item is None:
                    running = False
                elif isinstance(item, threading.Event):
                    waiters.append(item)
                else:
                    batch.append(item)
                if not running or len(batch) >= BATCH_LIMIT:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            self._process(batch)
            for waiter in waiters:
                waiter.set()
        if self.history is not None:
            self.history.close()

    def _process(self, batch: list[RequestRecord]) -> None:
        for record in batch:
            try:
                complete(record, keep_text=self.keep_text)
                self.metrics.observe(record)
                self._log(record)
            except Exception:
                log.exception("Request recorder: cannot process a record")
        if batch and self.history is not None:
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
