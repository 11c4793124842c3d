"""Shared fixtures: every test runs in its own COPILOT_HYBRID_HOME with a
clean rollout state, so no test reads or writes the real home directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REQUIRE_NATIVE = os.environ.get("COPILOT_HYBRID_REQUIRE_NATIVE") == "1"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("COPILOT_HYBRID_HOME", str(home))
    monkeypatch.setenv("COPILOT_HYBRID_NO_METRICS", "1")
    for name in list(os.environ):
        if name.startswith("COPILOT_HYBRID_FEATURE_"):
            monkeypatch.delenv(name)
    from copilot_hybrid.rollout import runner

    runner.reset()
    yield home
    runner.reset()


def native_or_skip() -> None:
    """Skips a native-only test when the library is unusable, except in CI
    (COPILOT_HYBRID_REQUIRE_NATIVE=1), where that is a failure."""
    from copilot_hybrid.native.loader import load

    native = load()
    if native.ok:
        return
    if REQUIRE_NATIVE:
        pytest.fail(f"native library required but {native.status}: {native.reason}")
    pytest.skip(f"native library {native.status}: {native.reason}")


@pytest.fixture(params=["reference", "native"])
def backend(request: pytest.FixtureRequest) -> str:
    """Runs a test once per backend."""
    if request.param == "native":
        native_or_skip()
    return str(request.param)
