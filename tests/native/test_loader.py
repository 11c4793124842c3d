"""The loader reaches every status, never raises, and the program keeps
working on the Python references in each case."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from copilot_hybrid.native import build as native_build
from copilot_hybrid.native import header, loader
from copilot_hybrid.rate_limit import FEATURE as RATE_LIMIT
from copilot_hybrid.rate_limit import LimiterInput, decide, reference_decide
from copilot_hybrid.rollout import runner
from tests.support import native_or_skip

SAMPLE = LimiterInput(last_ms=1000, now_ms=1500, interval_ms=1000, wait=False)


@pytest.fixture
def use_library(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Lets a test point the process's loader elsewhere; restores it after."""
    yield
    monkeypatch.undo()
    loader.load(refresh=True)
    runner.reset()


def reload_with(monkeypatch: pytest.MonkeyPatch, **env: str) -> loader.NativeLibrary:
    monkeypatch.delenv("COPILOT_HYBRID_NATIVE", raising=False)  # the `pure` tox env sets it
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    runner.reset()
    return loader.load(refresh=True)


def assert_still_works_on_reference(status: str) -> None:
    """The feature answers (from the reference) and says why."""
    decision = runner.decide(RATE_LIMIT)
    assert decision.effective.kind == "off"
    assert status in decision.reason or (status == "disabled" and "kill switch" in decision.reason)
    assert decide(SAMPLE) == reference_decide(SAMPLE)
    done = subprocess.run(
        [sys.executable, "-m", "copilot_hybrid", "debug", "--json"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["native"]["status"] == status
    assert info["features"]["rate_limit"]["effective"] == "off"


def copy_build(tmp_path: Path) -> Path:
    native_or_skip()
    built = loader.load().library
    assert built is not None
    target = tmp_path / "lib"
    shutil.copytree(built.parent, target)
    return target / built.name


def test_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_library: None) -> None:
    native = reload_with(monkeypatch, COPILOT_HYBRID_NATIVE_LIB=str(tmp_path / "nowhere" / "libcopilot_core.so"))
    assert native.status == "missing" and "copilot-hybrid build" in native.reason
    assert_still_works_on_reference("missing")


def test_disabled_by_kill_switch(monkeypatch: pytest.MonkeyPatch, use_library: None) -> None:
    native = reload_with(monkeypatch, COPILOT_HYBRID_NATIVE="0")
    assert native.status == "disabled" and native.lib is None
    assert_still_works_on_reference("disabled")


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "truncated-without-record", "flipped-byte"])
def test_corrupt_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_library: None, damage: str) -> None:
    """A damaged library is refused before dlopen, which would kill the
    process with SIGBUS on a truncated file, with or without build.json."""
    library = copy_build(tmp_path)
    data = library.read_bytes()
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    damaged = {
        "garbage": b"not a shared library\n" * 100,
        "truncated": data[: len(data) // 3],
        "empty": b"",
        "truncated-without-record": data[: len(data) // 3],
        "flipped-byte": bytes(flipped),
    }
    library.write_bytes(damaged[damage])
    if damage == "truncated-without-record":
        (library.parent / native_build.RECORD_NAME).unlink()
    native = reload_with(monkeypatch, COPILOT_HYBRID_NATIVE_LIB=str(library))
    assert native.status == "load_error" and str(library) in native.reason
    assert_still_works_on_reference("load_error")


def test_stale_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_library: None) -> None:
    library = copy_build(tmp_path)
    sources = tmp_path / "zig"
    shutil.copytree(native_build.SOURCE_ZIG_DIR, sources, ignore=shutil.ignore_patterns(".zig-cache"))
    with (sources / "src" / "rate_limit.zig").open("a") as handle:
        handle.write("\n// an edit made after the build\n")
    monkeypatch.setattr(native_build, "SOURCE_ZIG_DIR", sources)
    native = reload_with(monkeypatch, COPILOT_HYBRID_NATIVE_LIB=str(library))
    assert native.status == "stale" and "other sources" in native.reason
    assert_still_works_on_reference_in_process("stale")


def test_stale_package_version_without_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_library: None
) -> None:
    """An installed wheel has no zig/ sources: the package version decides."""
    library = copy_build(tmp_path)
    monkeypatch.setattr(native_build, "SOURCE_ZIG_DIR", tmp_path / "no-sources")
    monkeypatch.setattr(loader, "__version__", "9.9.9")
    native = reload_with(monkeypatch, COPILOT_HYBRID_NATIVE_LIB=str(library))
    assert native.status == "stale" and "9.9.9" in native.reason
    assert_still_works_on_reference_in_process("stale")


def assert_still_works_on_reference_in_process(status: str) -> None:
    # The subprocess check of assert_still_works_on_reference cannot see a
    # monkeypatched source tree, so stale is checked in this process only.
    decision = runner.decide(RATE_LIMIT)
    assert decision.effective.kind == "off" and status in decision.reason
    assert decide(SAMPLE) == reference_decide(SAMPLE)


OTHER_ABI = """
export fn ch_abi_version() u32 { return 2; }
export fn ch_source_digest() [*:0]const u8 { return "other"; }
export fn ch_package_version() [*:0]const u8 { return "0.0.0"; }
export fn ch_last_error() [*:0]const u8 { return ""; }
"""


def test_abi_mismatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_library: None) -> None:
    """A real library that speaks ABI 2, compiled for this test."""
    source = tmp_path / "other_abi.zig"
    source.write_text(OTHER_ABI)
    out = tmp_path / "lib"
    out.mkdir()
    library = out / native_build.library_filename()
    done = subprocess.run(
        [*native_build.zig_command(), "build-lib", "-dynamic", "-O", "ReleaseSmall",
         f"-femit-bin={library}", str(source)],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    shutil.copyfile(native_build.SOURCE_ZIG_DIR / "include" / native_build.HEADER_NAME, out / native_build.HEADER_NAME)
    native = reload_with(monkeypatch, COPILOT_HYBRID_NATIVE_LIB=str(library))
    assert native.status == "abi_mismatch" and "ABI 2" in native.reason
    assert_still_works_on_reference("abi_mismatch")


def test_ok_library_passes_the_handshake() -> None:
    native_or_skip()
    native = loader.load()
    assert native.ok and native.source_digest == native_build.source_digest(native_build.SOURCE_ZIG_DIR)
    assert native.record["abi_version"] == native.lib.CH_ABI_VERSION == native.lib.ch_abi_version()
    assert native.has("ch_rate_limit_decide") and not native.has("ch_no_such_export")


SOURCE_HEADER = native_build.SOURCE_ZIG_DIR / "include" / header.HEADER_NAME


def test_cdef_comes_from_the_header() -> None:
    text = SOURCE_HEADER.read_text()
    names = header.functions(text)
    assert {"ch_abi_version", "ch_rate_limit_decide"} <= set(names)
    directives = [line for line in header.cdef(text).splitlines() if line.lstrip().startswith("#")]
    assert directives and all(line.startswith("#define CH_") for line in directives), directives


def test_header_constants_reach_python() -> None:
    """Every integer #define of the header is readable as lib.NAME (cffi
    parses them from the cdef), negative status codes included."""
    native_or_skip()
    lib = loader.load().lib
    constants = header.constants(SOURCE_HEADER.read_text())
    assert {"CH_ABI_VERSION", "CH_E_OUT_OF_MEMORY", "CH_TOK_O200K_BASE", "CH_RATE_LIMIT_REJECT"} <= set(constants)
    assert constants["CH_E_TOO_LARGE"] < 0
    for name, value in constants.items():
        assert getattr(lib, name) == value, name


def test_cdef_keeps_only_the_defines_cffi_reads() -> None:
    text = (
        "#ifndef X_H\n#define X_H\n#include <stdint.h>\n#define A 1\n  # define B -5\n#define C 0x10\n#define D (1)\n"
    )
    assert header.constants(text) == {"A": 1, "B": -5, "C": 16}
    assert [line for line in header.cdef(text).splitlines() if line] == [
        "#define A 1",
        "  # define B -5",
        "#define C 0x10",
    ]


def test_expected_abi_version_is_the_headers(tmp_path: Path) -> None:
    """The ABI this package speaks is the header's CH_ABI_VERSION, not a
    copy: the same library against a header that says 2 is a mismatch."""
    library = copy_build(tmp_path)
    other = tmp_path / "other.h"
    other.write_text(SOURCE_HEADER.read_text().replace("#define CH_ABI_VERSION 1", "#define CH_ABI_VERSION 2"))
    native = loader.open_library(library, header=other)
    assert native.status == "abi_mismatch" and "speaks native ABI 1" in native.reason and "needs ABI 2" in native.reason
    assert loader.open_library(library, header=SOURCE_HEADER).ok
    other.write_text(SOURCE_HEADER.read_text().replace("#define CH_ABI_VERSION 1", ""))
    native = loader.open_library(library, header=other)
    assert native.status == "load_error" and "CH_ABI_VERSION" in native.reason
