"""How the long-running commands (`serve`, `emulator`) stop.

Ctrl-C (SIGINT) and SIGTERM, which `kill`, systemd, Docker and other
service managers send, end them the same way: their cleanup runs (uvicorn's
graceful shutdown, the emulator's stop) and the process exits with a line
that says why. SIGTERM is turned into KeyboardInterrupt, the exception every
layer below (asyncio, uvicorn, the emulator's loop) already treats as "stop";
a second SIGTERM during the cleanup kills at once, as a second Ctrl-C does.
A SIGTERM inherited as ignored stays ignored (the parent chose that).

uvicorn installs its own SIGINT/SIGTERM handlers while it serves and, after
its graceful shutdown, re-raises the signal with the handler it found, which
is the one installed here: that is how `serve` ends with exit code 0.

While an event loop runs, the KeyboardInterrupt is raised from a callback of
that loop rather than wherever the signal landed: uvloop takes an exception
raised inside one of its transport callbacks (a read of the device-flow poll,
say) for that transport's error, logs it and carries on, while one raised by a
callback ends the loop's run, as on asyncio's loop.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType


@dataclass
class Stop:
    """Why the command stopped: "SIGTERM" once one arrived, else "SIGINT"
    (a KeyboardInterrupt without a SIGTERM is Ctrl-C)."""

    signal: str = "SIGINT"


def _interrupt() -> None:
    raise KeyboardInterrupt


@contextmanager
def sigterm_stops_like_ctrl_c() -> Iterator[Stop]:
    stop = Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop  # signal handlers can only be set from the main thread
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous == signal.SIG_IGN:
        yield stop
        return

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        stop.signal = "SIGTERM"
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop runs here: raise where the signal landed
            raise KeyboardInterrupt from None
        loop.call_soon_threadsafe(_interrupt)

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
