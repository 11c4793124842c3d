"""The build hook: a failed native build gives a pure-Python wheel with a
loud warning, or a hard failure under COPILOT_HYBRID_REQUIRE_NATIVE=1."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from copilot_hybrid.native import build as native_build

ROOT = native_build.PACKAGE_DIR.parent


def build_wheel(out: Path, **env: str) -> subprocess.CompletedProcess[str]:
    # A copy of the tree, so that this test never touches the library the
    # rest of the suite loads from the source checkout.
    tree = out / "src"
    shutil.copytree(
        ROOT,
        tree,
        ignore=shutil.ignore_patterns(
            ".git", ".tox", ".venv*", "_build", ".zig-cache", "__pycache__", "build", "*.egg-info"
        ),
    )
    return subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation", "-w", str(out), str(tree)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
    )


@pytest.mark.slow
def test_failed_native_build_still_installs_pure_python(tmp_path: Path) -> None:
    done = build_wheel(tmp_path, COPILOT_HYBRID_ZIG="/bin/false", COPILOT_HYBRID_REQUIRE_NATIVE="0")
    assert done.returncode == 0, done.stderr
    assert "installing pure Python" in done.stderr + done.stdout
    (wheel,) = tmp_path.glob("*.whl")
    assert wheel.name.endswith("py3-none-any.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert not any("_build" in name for name in names)
    assert "copilot_hybrid/data/o200k_base.tiktoken" in names


@pytest.mark.slow
def test_required_native_build_failure_fails_the_install(tmp_path: Path) -> None:
    done = build_wheel(tmp_path, COPILOT_HYBRID_ZIG="/bin/false", COPILOT_HYBRID_REQUIRE_NATIVE="1")
    assert done.returncode != 0
    assert "COPILOT_HYBRID_REQUIRE_NATIVE=1" in done.stderr + done.stdout
    assert not list(tmp_path.glob("*.whl"))
