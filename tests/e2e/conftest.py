"""End-to-end fixtures: the emulator (in-process, real socket) and the real proxy
(`python -m copilot_hybrid serve ...` in a subprocess) on free loopback ports.

Nothing here reaches the internet: every upstream base points at the emulator and
the VS Code version is pinned.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from copilot_hybrid.emulator import Emulator


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: Feature modes given to the test run (COPILOT_HYBRID_FEATURE_<NAME>=on pytest ...),
#: read before the autouse fixture clears them, so every proxy runs with them.
RUN_FEATURE_MODES = {k: v for k, v in os.environ.items() if k.startswith("COPILOT_HYBRID_FEATURE_")}

#: The client key of the `proxy` fixture's keyed run.
API_KEY = "e2e-client-key-0123456789abcdef"


class Proxy:
    """A running `copilot-hybrid serve` subprocess; with `api_key`, started with
    `--api-key` and `headers` carries the key for raw httpx calls."""

    def __init__(
        self,
        emulator: Emulator,
        home: Path,
        *args: str,
        env: dict[str, str] | None = None,
        api_key: str | None = None,
    ) -> None:
        self.api_key = api_key
        self.headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        if api_key:
            args = (*args, "--api-key", api_key)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.home = home
        self.log_path = home / "proxy.log"
        home.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "COPILOT_HYBRID_HOME": str(home),
            "COPILOT_HYBRID_VSCODE_VERSION": "1.104.3",
            "COPILOT_HYBRID_GITHUB_URL": emulator.github_url,
            "COPILOT_HYBRID_GITHUB_API_URL": emulator.github_api_url,
            "PYTHONUNBUFFERED": "1",
            **RUN_FEATURE_MODES,
            **(env or {}),
        }
        for name in (
            "GH_TOKEN",
            "COPILOT_HYBRID_COPILOT_API_URL",
            "COPILOT_HYBRID_API_KEYS",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
        ):
            if env is None or name not in env:
                self.env.pop(name, None)
        self.args = [sys.executable, "-m", "copilot_hybrid", "serve", "--port", str(self.port), *args]
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, env=self.env
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"proxy exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"proxy did not start within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture(autouse=True)
def _fresh_emulator(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test starts from the emulator's initial config, with no scripts or faults."""
    yield
    if "emulator" in request.fixturenames:
        request.getfixturevalue("emulator").reset()


@pytest.fixture(scope="session", params=["no-key", "api-key"])
def proxy(
    request: pytest.FixtureRequest, emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    """The main proxy: logs in with the device flow (emulator approves), 1 MiB body cap.
    Every test that uses it runs twice: without client keys and with `--api-key`
    (clients then send `proxy.api_key`; raw httpx calls pass `headers=proxy.headers`)."""
    keyed = request.param == "api-key"
    running = Proxy(
        emulator,
        tmp_path_factory.mktemp(f"home-main-{request.param}"),
        "--max-body-bytes",
        str(1024 * 1024),
        api_key=API_KEY if keyed else None,
    )
    yield running
    running.stop()
