"""Shared fixtures: every test runs in its own COPILOT_HYBRID_HOME with a
clean rollout state, so no test reads or writes the real home directory.
Helpers live in tests/support.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import native_or_skip


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


@pytest.fixture(params=["reference", "native"])
def backend(request: pytest.FixtureRequest) -> str:
    """Runs a test once per backend."""
    if request.param == "native":
        native_or_skip()
    return str(request.param)
