"""`serve` stops cleanly on SIGTERM (what service managers send) and on
Ctrl-C, whatever SIGINT disposition it inherits: real subprocesses, real
signals. (The `emulator` command: tests/unit/test_emulator.py.)"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from copilot_hybrid.emulator import Emulator
from tests.support import CLI_SIGINT_DEFAULT, CLI_SIGINT_IGNORED, Proxy


def stopped(proxy: Proxy, sig: signal.Signals) -> int:
    """Sends `sig` and waits (generously) for the exit; the exit code."""
    proxy.process.send_signal(sig)
    try:
        return proxy.process.wait(30)
    finally:
        proxy.stop()


def test_sigterm_stops_serve_cleanly_with_exit_0(emulator: Emulator, tmp_path: Path) -> None:
    """`serve --emulator`: uvicorn's shutdown, then the in-process emulator's.
    (Plain `serve` takes the same path without the emulator; the Ctrl-C and
    the login test below start it plainly.) SIGINT is ignored, as a script's
    `cmd &` leaves it: SIGTERM does not depend on it."""
    proxy = Proxy(emulator, tmp_path / "serve-home", "--emulator", cli=CLI_SIGINT_IGNORED)
    assert httpx.get(proxy.url + "/v1/models", timeout=10).status_code == 200
    assert stopped(proxy, signal.SIGTERM) == 0, proxy.log()
    log = proxy.log()
    assert "Application shutdown complete" in log  # uvicorn's graceful shutdown ran the lifespan's cleanup
    assert "Stopped (SIGTERM)" in log
    assert "Traceback" not in log


def test_ctrl_c_stops_serve_with_exit_130(emulator: Emulator, tmp_path: Path) -> None:
    proxy = Proxy(emulator, tmp_path / "serve-home", cli=CLI_SIGINT_DEFAULT)
    assert stopped(proxy, signal.SIGINT) == 130, proxy.log()
    log = proxy.log()
    assert "Application shutdown complete" in log and "Stopped (SIGINT)" in log
    assert "Traceback" not in log


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_sigterm_during_login_stops_serve(tmp_path: Path, loop: str) -> None:
    """Before uvicorn listens (here: waiting for the user to enter the device
    code), SIGTERM still ends the process at once, with exit code 0, on both
    event loops (uvloop swallowed an interrupt raised inside a socket read)."""
    polled = threading.Event()

    def log(line: str) -> None:
        if line.startswith("POST /login/oauth/access_token"):
            polled.set()

    with Emulator(log=log, device_flow_scenario="manual", device_interval=1) as emulator:
        home = tmp_path / "serve-home"
        home.mkdir()
        output = home / "serve.log"
        with output.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "copilot_hybrid", "serve", "--port", "0", "--loop", loop],
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env={
                    "COPILOT_HYBRID_HOME": str(home),
                    "COPILOT_HYBRID_VSCODE_VERSION": "1.104.3",
                    "COPILOT_HYBRID_GITHUB_URL": emulator.github_url,
                    "COPILOT_HYBRID_GITHUB_API_URL": emulator.github_api_url,
                    "PATH": "/usr/bin:/bin",
                    "PYTHONUNBUFFERED": "1",
                },
            )
            try:
                assert polled.wait(30), output.read_text()
                process.send_signal(signal.SIGTERM)
                assert process.wait(30) == 0, output.read_text()
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
    text = output.read_text()
    assert "Stopped (SIGTERM)" in text and "Traceback" not in text
