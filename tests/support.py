"""What the tests share, in one importable module. The conftest.py files
hold only fixtures (built from what is here); no test imports a conftest.

- `native_or_skip`: the one place that decides whether an unusable native
  library skips a test or, with COPILOT_HYBRID_REQUIRE_NATIVE=1 (CI, tox),
  fails it. `REQUIRE_NATIVE` is the one read of that variable in the tests.
- `FakeClock`: time that moves only when the code under test sleeps; share
  one with the emulator (`Emulator(clock=clock)`) and no test waits for real.
- `free_port`, `Proxy`: a real `copilot-hybrid serve` subprocess.
- `oracle_for`, `tokenizer_native_or_skip`: the differential tokenizer tests'
  independent tiktoken and their native check.
- `client_binary`: a real client (Claude Code) installed by
  tools/install_clients.py, found, never installed here.
- `CLAUDE_CODE_REQUESTS`, `claude_code_request`: the requests Claude Code
  sent, recorded in tests/fixtures/claude_code.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import httpx
import pytest

from copilot_hybrid.emulator import Emulator
from copilot_hybrid.emulator.messages import sign_thinking

REPO = Path(__file__).resolve().parents[1]
REQUIRE_NATIVE = os.environ.get("COPILOT_HYBRID_REQUIRE_NATIVE") == "1"
ENCODINGS = ("cl100k_base", "o200k_base")


# ---- native or skip ------------------------------------------------------------------


def native_unusable(message: str) -> None:
    """Fails the test in CI (COPILOT_HYBRID_REQUIRE_NATIVE=1), skips it elsewhere."""
    if REQUIRE_NATIVE:
        pytest.fail(f"COPILOT_HYBRID_REQUIRE_NATIVE=1 but {message}")
    pytest.skip(message)


def native_or_skip(*symbols: str) -> None:
    """Returns when the native library is loaded and exports `symbols`;
    otherwise skips the test, or fails it where native is required."""
    from copilot_hybrid.native.loader import load

    native = load()
    if not native.ok:
        native_unusable(f"native library {native.status}: {native.reason}")
    missing = [name for name in symbols if not native.has(name)]
    if missing:
        native_unusable(f"native library lacks {', '.join(missing)}")


def tokenizer_native_or_skip() -> None:
    from copilot_hybrid.tokenizer._native import NATIVE_EXPORTS

    native_or_skip(*NATIVE_EXPORTS)


# ---- time ---------------------------------------------------------------------------


class FakeClock:
    """A clock (`clock()`) and a sleep (`await clock.sleep(s)`) that share
    one made-up time: sleeping moves it at once, nothing waits for real.
    `sleeps` records every sleep asked for."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)  # a real sleep yields to the loop; so must this one


# ---- child processes ----------------------------------------------------------------

#: The command line of the CLI in a child process.
CLI = (sys.executable, "-m", "copilot_hybrid")
#: The same, started with SIGINT ignored, as a script's `cmd &` leaves it: the
#: disposition that once kept the emulator test's child from ever stopping.
CLI_SIGINT_IGNORED = ("sh", "-c", "trap '' INT; exec \"$@\"", "sh", *CLI)
#: The same, with SIGINT raising KeyboardInterrupt whatever this process inherited.
CLI_SIGINT_DEFAULT = (
    sys.executable,
    "-c",
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('copilot_hybrid', run_name='__main__')",
)


# ---- a real proxy -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: The client key of the e2e `proxy` fixture's keyed run.
API_KEY = "e2e-client-key-0123456789abcdef"

#: Feature modes given to the test run (`COPILOT_HYBRID_FEATURE_<NAME>=on pytest ...`),
#: read at import, before the autouse fixture clears them, so every Proxy runs with them.
RUN_FEATURE_MODES = {k: v for k, v in os.environ.items() if k.startswith("COPILOT_HYBRID_FEATURE_")}


#: The two HTTP stacks `serve` runs on (server/stack.py), as the environment of a Proxy:
#: the default, httptools on uvloop, and the pure fallback, h11 on asyncio's loop. Tests
#: of the connection limits and of big bodies run on both (`pytest.mark.parametrize`).
HTTP_STACKS: dict[str, dict[str, str]] = {
    "httptools": {"COPILOT_HYBRID_HTTP_PARSER": "httptools", "COPILOT_HYBRID_LOOP": "uvloop"},
    "h11": {"COPILOT_HYBRID_HTTP_PARSER": "h11", "COPILOT_HYBRID_LOOP": "asyncio"},
}


class Proxy:
    """A running `copilot-hybrid serve` subprocess pointed at `emulator`; with
    `api_key`, started with `--api-key` and `headers` carries the key for raw
    httpx calls. `preexec_fn` runs in the child (e.g. a lower fd limit)."""

    def __init__(
        self,
        emulator: Emulator,
        home: Path,
        *args: str,
        env: dict[str, str] | None = None,
        cli: tuple[str, ...] = CLI,
        api_key: str | None = None,
        preexec_fn: Callable[[], None] | None = None,
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
        self.args = [*cli, "serve", "--port", str(self.port), *args]
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            preexec_fn=preexec_fn,
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
            time.sleep(0.1)  # polling a subprocess's port: there is no event to wait on
        self.stop()
        raise RuntimeError(f"proxy did not start within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        if not self._log.closed:
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


# ---- the tokenizer's oracle ---------------------------------------------------------

_oracles: dict[str, Any] = {}


def oracle_for(name: str) -> Any:
    """tiktoken.Encoding for `name`, built without the code under test: the
    ranks read by tiktoken itself, tiktoken_ext's own constructor for the rest."""
    if name not in _oracles:
        import tiktoken
        from tiktoken.load import load_tiktoken_bpe
        from tiktoken_ext import openai_public

        data_dir = REPO / "copilot_hybrid" / "data"
        hashes = dict(
            reversed(line.split()) for line in (data_dir / "SHA256SUMS").read_text("ascii").splitlines() if line.strip()
        )
        # An empty TIKTOKEN_CACHE_DIR turns tiktoken's file cache off.
        with mock.patch.dict(os.environ, {"TIKTOKEN_CACHE_DIR": ""}):
            ranks = load_tiktoken_bpe(str(data_dir / f"{name}.tiktoken"), expected_hash=hashes[f"{name}.tiktoken"])
        # tiktoken_ext's constructor, with the local ranks instead of its download.
        with mock.patch.object(openai_public, "load_tiktoken_bpe", return_value=ranks):
            params = getattr(openai_public, name)()
        _oracles[name] = tiktoken.Encoding(**params)
    return _oracles[name]


# ---- Claude Code's recorded requests ------------------------------------------------

CLAUDE_CODE_FIXTURES = REPO / "tests" / "fixtures" / "claude_code"
#: Every request recorded there (its README says how each was made).
CLAUDE_CODE_REQUESTS = (
    "first_turn",
    "sonnet_first_turn",
    "tool_result_turn",
    "haiku_tool_result_turn",
    "compaction",
    "title_probe",
    "interactive_turn",
)


def claude_code_request(name: str, *, signed: bool = False) -> dict[str, Any]:
    """The recorded request `name`, `{"headers": {...}, "body": {...}}`, a new
    copy each call. `signed`: its thinking blocks signed as the emulated
    Copilot signs them (the recording stand-in signed `sig-abc123`)."""
    record: dict[str, Any] = json.loads((CLAUDE_CODE_FIXTURES / f"{name}.json").read_text("utf-8"))
    if signed:
        for message in record["body"]["messages"]:
            for block in message["content"] if isinstance(message["content"], list) else []:
                if block.get("type") == "thinking":
                    block["signature"] = sign_thinking(block["thinking"])
    return record


# ---- real clients -------------------------------------------------------------------


def install_clients() -> ModuleType:
    """tools/install_clients.py (not a package), loaded by path."""
    name = "copilot_hybrid_install_clients"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "tools" / "install_clients.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def client_binary(name: str) -> Path:
    """The executable of pinned client `name`. Skips only where npm is
    missing; with npm present, a client that is not installed is an error
    that says which command installs it."""
    tool = install_clients()
    client = tool.CLIENTS[name]
    binary: Path = tool.binary_path(client)
    if binary.exists():
        return binary
    if shutil.which("npm") is None:
        pytest.skip(f"npm is not installed, so {client.package} cannot be installed")
    pytest.fail(
        f"{client.package}@{client.version} is not installed at {binary}; "
        f"run `python tools/install_clients.py {name}` (its tox env does it before the tests)"
    )
