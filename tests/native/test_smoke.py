"""The build's smoke check: native/ smoke-calls only its handshake, every
feature declares the smoke calls of its own exports, and the check fails
when an export of the header has none."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from copilot_hybrid import features
from copilot_hybrid.native import build as native_build
from copilot_hybrid.native import header, loader, smoke
from tests.support import REPO, native_or_skip

SOURCE_HEADER = native_build.SOURCE_ZIG_DIR / "include" / header.HEADER_NAME


def test_native_smoke_knows_only_the_handshake() -> None:
    assert set(smoke.HANDSHAKE_CALLS) == set(loader.HANDSHAKE)


def test_every_header_export_has_exactly_one_smoke_call() -> None:
    declared = set(header.functions(SOURCE_HEADER.read_text()))
    by_features = features.smoke_calls()
    assert not set(by_features) & set(smoke.HANDSHAKE_CALLS)
    assert set(by_features) | set(smoke.HANDSHAKE_CALLS) == declared
    for feature in features.FEATURES:
        assert set(feature.native_symbols) <= declared, feature.name


def test_two_features_claiming_one_export_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(features, "FEATURES", (*features.FEATURES, features.FEATURES[0]))
    with pytest.raises(ValueError, match="declared by two features"):
        features.smoke_calls()


@pytest.fixture
def built_library(tmp_path: Path) -> Path:
    native_or_skip()
    built = loader.load().library
    assert built is not None
    shutil.copytree(built.parent, tmp_path / "lib")
    return tmp_path / "lib" / built.name


def test_an_export_without_a_smoke_call_fails_the_check(built_library: Path) -> None:
    calls = features.smoke_calls()
    del calls["ch_tok_split"]
    with pytest.raises(RuntimeError, match=r"ch_tok_split is declared in copilot_core\.h but no feature declares"):
        smoke.smoke(built_library, calls)
    with pytest.raises(RuntimeError, match="ch_rate_limit_decide is declared"):
        smoke.smoke(built_library, {})


def test_a_smoke_call_for_an_undeclared_export_fails_the_check(built_library: Path) -> None:
    calls = {**features.smoke_calls(), "ch_no_such_export": lambda ffi, lib: None}
    with pytest.raises(RuntimeError, match="does not declare: ch_no_such_export"):
        smoke.smoke(built_library, calls)


def test_the_fresh_process_check_calls_every_export(built_library: Path) -> None:
    report = native_build.check_library(built_library)
    called = {line.split(":")[0] for line in report.splitlines()}
    assert called == set(header.functions(SOURCE_HEADER.read_text()))


_WITHOUT_RUNTIME_DEPENDENCIES = """
import re, runpy, sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))
def names(requirements):
    return {re.split(r"[^A-Za-z0-9_.-]", r, maxsplit=1)[0].lower().replace("-", "_") for r in requirements}
blocked = names(project["project"]["dependencies"]) - names(project["build-system"]["requires"])
blocked |= {"tiktoken_ext"}

class NotABuildRequirement:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(f"{name} is not a build requirement")
        return None

sys.meta_path.insert(0, NotABuildRequirement())
sys.argv = ["copilot_hybrid.features", sys.argv[2]]
runpy.run_module("copilot_hybrid.features", run_name="__main__", alter_sys=True)
"""


def test_the_smoke_program_needs_only_the_build_requirements(built_library: Path) -> None:
    """pip builds the wheel where only the build requirements are installed
    (hatchling, ziglang, cffi), and the build hook runs this check there."""
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_RUNTIME_DEPENDENCIES, str(REPO / "pyproject.toml"), str(built_library)],
        capture_output=True, text=True, cwd=REPO, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "ch_tok_split:" in done.stdout
