"""End-to-end fixtures: the emulator (in-process, real socket) and the real proxy
(`python -m copilot_hybrid serve ...` in a subprocess) on free loopback ports.

Nothing here reaches the internet: every upstream base points at the emulator and
the VS Code version is pinned.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from copilot_hybrid.emulator import Emulator
from tests.support import API_KEY, Proxy


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
