"""`copilot-hybrid build`: failures are loud and name the path and reason;
cross-compiles produce the right binary format; the Zig tests pass
(`zig build test`, zig/build.zig: the same build description as the library)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from copilot_hybrid import __version__
from copilot_hybrid.native import build as native_build
from copilot_hybrid.native.loader import load
from tests.support import native_or_skip


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "copilot_hybrid", *args], capture_output=True, text=True, check=False)


def test_check_loads_the_current_build_in_a_fresh_process() -> None:
    native_or_skip()
    done = run_cli("build", "--check")
    assert done.returncode == 0, done.stderr
    assert "ch_rate_limit_decide" in done.stdout and "every export answered" in done.stdout


def test_check_names_path_and_reason_for_a_library_that_cannot_load(tmp_path: Path) -> None:
    (tmp_path / native_build.library_filename()).write_bytes(b"\x7fELF but not really")
    (tmp_path / native_build.HEADER_NAME).write_text("uint32_t ch_abi_version(void);\n")
    done = run_cli("build", "--check", "--output", str(tmp_path))
    assert done.returncode == 1
    assert "cannot be loaded" in done.stderr and str(tmp_path) in done.stderr


def test_check_of_a_missing_build_is_an_error(tmp_path: Path) -> None:
    done = run_cli("build", "--check", "--output", str(tmp_path))
    assert done.returncode == 1 and "no such file" in done.stderr


def test_compile_error_is_reported_and_leaves_no_library(tmp_path: Path) -> None:
    sources = tmp_path / "zig"
    shutil.copytree(native_build.SOURCE_ZIG_DIR, sources, ignore=shutil.ignore_patterns(".zig-cache"))
    (sources / "src" / "rate_limit.zig").write_text("this is not zig\n")
    out = tmp_path / "out"
    with pytest.raises(native_build.BuildError, match="zig build failed") as info:
        # The checkout's cache: the copy's build runner is not compiled again.
        native_build.build(
            zig_dir=sources,
            output_dir=out,
            package_version=__version__,
            cache_dir=native_build.SOURCE_ZIG_DIR / ".zig-cache",
        )
    assert "rate_limit.zig" in str(info.value)
    assert not (out / native_build.library_filename()).exists()


def test_unknown_optimize_mode_is_refused() -> None:
    done = run_cli("build", "--optimize", "Fastest")
    assert done.returncode == 1 and "unknown optimize mode" in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("target", "expected"),
    [("aarch64-linux-gnu", "elf-aarch64"), ("x86_64-macos", "macho-x86_64"), ("x86_64-windows", "pe-x86_64")],
)
def test_cross_compiles_have_the_right_binary_format(tmp_path: Path, target: str, expected: str) -> None:
    result = native_build.build(target=target, output_dir=tmp_path, package_version=__version__)
    assert result.library.name == native_build.library_filename(target)
    assert native_build.binary_format(result.library) == expected
    assert result.record["target"] == target


def test_build_record_describes_the_build() -> None:
    native_or_skip()
    record = load().record
    for key in ("abi_version", "source_digest", "zig_version", "target", "optimize", "built_at", "build_id"):
        assert key in record
    assert record["zig_version"] == native_build.ZIG_PIN


def test_sources_without_build_zig_are_refused(tmp_path: Path) -> None:
    sources = tmp_path / "zig"
    shutil.copytree(native_build.SOURCE_ZIG_DIR, sources, ignore=shutil.ignore_patterns(".zig-cache"))
    (sources / "build.zig").unlink()
    with pytest.raises(native_build.BuildError, match=r"expected build\.zig"):
        native_build.build(zig_dir=sources, output_dir=tmp_path / "out", package_version=__version__)


def test_build_zig_is_part_of_the_source_digest() -> None:
    assert native_build.SOURCE_ZIG_DIR / "build.zig" in native_build.source_files(native_build.SOURCE_ZIG_DIR)


@pytest.mark.slow
def test_zig_unit_tests_pass() -> None:
    """`zig build test`: the header drift check and every feature's Zig
    tests (std.testing.allocator fails a test on a leak)."""
    assert_all_passed(native_build.run_zig_tests())


def assert_all_passed(summary: str) -> None:
    counts = re.search(r"(\d+)/(\d+) tests passed", summary)
    assert counts is not None, summary
    assert int(counts[1]) == int(counts[2]) > 0, summary


@pytest.mark.slow
def test_a_failing_zig_test_fails_the_run(tmp_path: Path) -> None:
    sources = tmp_path / "zig"
    shutil.copytree(native_build.SOURCE_ZIG_DIR, sources, ignore=shutil.ignore_patterns(".zig-cache"))
    with (sources / "src" / "rate_limit.zig").open("a") as handle:
        handle.write('\ntest "always fails" {\n    try @import("std").testing.expect(false);\n}\n')
    # A filter compiles just the tests it names: seconds, not the whole suite's half minute.
    with pytest.raises(native_build.BuildError, match="always fails"):
        native_build.run_zig_tests(sources, only="always fails", cache_dir=native_build.SOURCE_ZIG_DIR / ".zig-cache")
    # And a filter that leaves it out passes.
    assert_all_passed(
        native_build.run_zig_tests(
            sources, only="extremes saturate", cache_dir=native_build.SOURCE_ZIG_DIR / ".zig-cache"
        )
    )


#: The build hook's smoke check runs where only the build requirements are installed
#: (pyproject's [build-system]: hatchling, ziglang, cffi); the runtime dependencies are not.
RUNTIME_ONLY_MODULES = (
    "orjson", "httpx", "httpx_aiohttp", "aiohttp", "fastapi", "starlette", "uvicorn", "uvloop", "httptools",
    "typer", "rich", "platformdirs", "tiktoken", "prometheus_client",
)  # fmt: skip
_BLOCK_RUNTIME_DEPENDENCIES = """
import importlib.abc, runpy, sys
blocked = set(sys.argv[1].split(","))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: not a build requirement)")
sys.meta_path.insert(0, Block())
sys.argv = [sys.argv[0], *sys.argv[2:]]
runpy.run_module("copilot_hybrid.features", run_name="__main__")
"""


def test_the_smoke_check_needs_only_the_build_requirements() -> None:
    """pip's isolated build env has no runtime dependency: the smoke program must run without them."""
    native_or_skip()
    library = load().library
    done = subprocess.run(
        [sys.executable, "-c", _BLOCK_RUNTIME_DEPENDENCIES, ",".join(RUNTIME_ONLY_MODULES), str(library)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
