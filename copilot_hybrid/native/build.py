"""Builds zig/ into the native shared library with the Zig of the PyPI
package `ziglang` (pinned exactly in pyproject.toml), through zig/build.zig:
`zig build` compiles, `zig build test` runs the Zig unit tests. This module
adds what the build system does not know: the source digest and package
version baked into the library, the build record, and the load check.

This module uses only the standard library: the hatchling build hook
(hatch_build.py) imports it from the source tree inside pip's isolated build
environment, where copilot_hybrid itself is not installed.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from copilot_hybrid import config
from copilot_hybrid.errors import BuildError
from copilot_hybrid.native.header import HEADER_NAME, constants

ZIG_PIN = "0.15.2"
OPTIMIZE_MODES = ("ReleaseFast", "ReleaseSafe", "Debug")
RECORD_NAME = "build.json"
#: The program check_library runs in a fresh process. It imports every
#: feature (each declares the smoke calls of its own exports: native/ knows
#: only the handshake) and runs native/smoke.py over the library.
SMOKE_PROGRAM = "copilot_hybrid.features"

PACKAGE_DIR = Path(__file__).resolve().parent.parent
#: Where the host build goes: inside the package, next to this file.
DEFAULT_OUTPUT_DIR = PACKAGE_DIR / "native" / "_build"
#: zig/ beside the package: present in a source checkout or editable install.
SOURCE_ZIG_DIR = PACKAGE_DIR.parent / "zig"


@dataclass(frozen=True)
class BuildResult:
    library: Path
    record: dict[str, object]
    seconds: float


def source_files(zig_dir: Path) -> list[Path]:
    """The files whose content defines the library: Zig sources (build.zig
    included: it decides how they compile) and headers."""
    files = [
        path
        for path in zig_dir.rglob("*")
        if path.is_file()
        and path.suffix in (".zig", ".h")
        and not any(part in (".zig-cache", "zig-cache", "zig-out") for part in path.parts)
    ]
    return sorted(files, key=lambda p: p.relative_to(zig_dir).as_posix())


def source_digest(zig_dir: Path) -> str:
    """sha256 over the relative path and bytes of every source file."""
    digest = hashlib.sha256()
    for path in source_files(zig_dir):
        digest.update(path.relative_to(zig_dir).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def os_of_target(target: str | None) -> str:
    """'linux', 'macos' or 'windows' for a Zig target triple (None = host)."""
    if target is None:
        return {"darwin": "macos", "win32": "windows"}.get(sys.platform, "linux")
    parts = target.split("-")
    if len(parts) < 2:
        raise BuildError(f"target {target!r} is not a Zig triple like aarch64-linux-gnu")
    return {"macos": "macos", "windows": "windows"}.get(parts[1], parts[1])


def library_filename(target: str | None = None) -> str:
    target_os = os_of_target(target)
    if target_os == "windows":
        return "copilot_core.dll"
    if target_os == "macos":
        return "libcopilot_core.dylib"
    return "libcopilot_core.so"


def zig_command() -> list[str]:
    """How to run Zig: $COPILOT_HYBRID_ZIG (a zig executable) if set, else
    the pinned ziglang package of this interpreter."""
    override = config.env(config.ZIG_ENV)
    if override:
        return [override]
    return [sys.executable, "-m", "ziglang"]


def zig_version() -> str:
    try:
        done = subprocess.run([*zig_command(), "version"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise BuildError(f"cannot run Zig ({' '.join(zig_command())}): {exc}") from exc
    if done.returncode != 0:
        raise BuildError(
            "cannot run Zig: is the `ziglang` package installed? "
            f"(pip install ziglang=={ZIG_PIN}): {done.stderr.strip()}"
        )
    return done.stdout.strip()


def build_id(record: dict[str, object]) -> str:
    """Identifies one build: same sources, compiler, target and mode."""
    key = "|".join(str(record[k]) for k in ("source_digest", "zig_version", "target", "optimize"))
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def zig_build(
    zig_dir: Path, *args: str, cache_dir: Path | None = None, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    """Runs `zig build ARGS` with zig_dir/build.zig, the one description of
    how the library is compiled and tested. `cache_dir` defaults to
    zig_dir/.zig-cache; a copy of the sources may share the checkout's, so
    the build runner is not compiled again."""
    command = [
        *zig_command(), "build",
        "--build-file", str(zig_dir / "build.zig"),
        "--cache-dir", str(cache_dir or zig_dir / ".zig-cache"),
        "--color", "off",
        *args,
    ]  # fmt: skip
    try:
        return subprocess.run(command, capture_output=True, text=True, cwd=zig_dir, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise BuildError(f"cannot run Zig: {exc}") from exc


def run_zig_tests(zig_dir: Path = SOURCE_ZIG_DIR, *, only: str | None = None, cache_dir: Path | None = None) -> str:
    """`zig build test`: root.zig's header check and every feature's Zig
    tests (std.testing.allocator fails a test on a leak), or those whose
    name contains `only`. Returns zig's summary line ("... N/N tests
    passed"); raises BuildError with the output when a test fails."""
    options = ["--summary", "all"] + ([f"-Dtest-filter={only}"] if only else [])
    done = zig_build(zig_dir, "test", *options, cache_dir=cache_dir, timeout=1200)
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        raise BuildError(f"zig build test failed:\n{output[-4000:]}")
    return next((line for line in output.splitlines() if line.startswith("Build Summary")), output)


def build(
    *,
    zig_dir: Path = SOURCE_ZIG_DIR,
    output_dir: Path | None = None,
    optimize: str = "ReleaseFast",
    target: str | None = None,
    package_version: str,
    check: bool = True,
    cache_dir: Path | None = None,
) -> BuildResult:
    """Compiles the library (`zig build`) and writes it, its header copy and build.json.

    The files are built in a temporary folder and moved into place at the
    end, so a failed build never leaves a half-written library behind.
    With `check` (host builds only), the result is loaded in a fresh process
    and every export is smoke-called before the build counts as done.
    """
    if optimize not in OPTIMIZE_MODES:
        raise BuildError(f"unknown optimize mode {optimize!r}; choose one of {', '.join(OPTIMIZE_MODES)}")
    header = zig_dir / "include" / HEADER_NAME
    if not all(path.is_file() for path in (zig_dir / "build.zig", zig_dir / "src" / "root.zig", header)):
        raise BuildError(f"no Zig sources at {zig_dir} (expected build.zig, src/root.zig and include/{HEADER_NAME})")
    abi_version = constants(header.read_text(encoding="utf-8")).get("CH_ABI_VERSION")
    if abi_version is None:
        raise BuildError(f"{header} defines no CH_ABI_VERSION")
    if output_dir is None:
        output_dir = DEFAULT_OUTPUT_DIR if target is None else PACKAGE_DIR.parent / "build" / "native" / target
    started = time.perf_counter()
    version = zig_version()
    digest = source_digest(zig_dir)
    name = library_filename(target)
    with tempfile.TemporaryDirectory(prefix="copilot-hybrid-build-") as tmp_name:
        tmp = Path(tmp_name)
        options = [
            f"-Doptimize={optimize}",
            f"-Dsource-digest={digest}",
            f"-Dpackage-version={package_version}",
            "--prefix", str(tmp),
        ]  # fmt: skip
        if target is not None:
            options.append(f"-Dtarget={target}")
        done = zig_build(zig_dir, *options, cache_dir=cache_dir)
        emitted = tmp / "lib" / name
        if done.returncode != 0 or not emitted.is_file():
            output = (done.stderr or done.stdout).strip()
            raise BuildError(f"zig build failed for {target or 'host'} ({optimize}):\n{output}")
        record: dict[str, object] = {
            "abi_version": abi_version,
            "source_digest": digest,
            "zig_version": version,
            "target": target or "native",
            "host": f"{platform.machine()}-{sys.platform}",
            "optimize": optimize,
            "package_version": package_version,
            "library": name,
            "built_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        }
        record["build_id"] = build_id(record)
        # Lets the loader refuse a truncated or damaged file before dlopen,
        # which can crash the process (SIGBUS) on a short ELF file.
        library_bytes = emitted.read_bytes()
        record["library_bytes"] = len(library_bytes)
        record["library_sha256"] = hashlib.sha256(library_bytes).hexdigest()
        output_dir.mkdir(parents=True, exist_ok=True)
        final = output_dir / name
        # Replace, never overwrite in place: a running process may have the
        # old library mapped, and writing into it would crash that process.
        staged = output_dir / f".{name}.{os.getpid()}.new"
        shutil.copyfile(emitted, staged)
        os.chmod(staged, 0o755)  # noqa: S103 - a shared library must be readable and executable
        os.replace(staged, final)
        shutil.copyfile(header, output_dir / HEADER_NAME)
        record["seconds"] = round(time.perf_counter() - started, 3)
        (output_dir / RECORD_NAME).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    if check and target is None:
        check_library(final)
    elif target is not None:
        expected = expected_format(target)
        found = binary_format(final)
        if found != expected:
            raise BuildError(f"{final}: built for {target} but the file is {found}, expected {expected}")
    return BuildResult(library=final, record=record, seconds=time.perf_counter() - started)


def check_library(library: Path) -> str:
    """Loads `library` in a fresh Python process and smoke-calls every export.

    A fresh process, because a library that crashes on load must not take
    the builder down with it, and because a library already loaded in this
    process would hide a broken new file. Returns the smoke report; raises
    BuildError naming the path and the reason on any failure.
    """
    if not library.is_file():
        raise BuildError(f"cannot load {library}: no such file")
    env = config.child_environment(drop=(config.KILL_SWITCH_ENV,))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_DIR.parent), env.get("PYTHONPATH")]))
    try:
        done = subprocess.run(
            [sys.executable, "-m", SMOKE_PROGRAM, str(library)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise BuildError(f"cannot load {library}: smoke test did not run: {exc}") from exc
    if done.returncode != 0:
        reason = (done.stderr.strip() or done.stdout.strip() or f"exit status {done.returncode}").splitlines()
        if done.returncode < 0:
            reason.append(f"the process died with signal {-done.returncode}")
        raise BuildError(f"the compiler succeeded but {library} cannot be loaded: " + " | ".join(reason[-5:]))
    return done.stdout.strip()


_ELF_MACHINES = {3: "x86", 62: "x86_64", 183: "aarch64", 40: "arm", 243: "riscv64"}
_MACHO_CPUS = {0x01000007: "x86_64", 0x0100000C: "aarch64"}
_PE_MACHINES = {0x8664: "x86_64", 0xAA64: "aarch64", 0x14C: "x86"}


def binary_format(path: Path) -> str:
    """'elf-<arch>', 'macho-<arch>', 'pe-<arch>' or 'unknown', read from the file header."""
    head = path.read_bytes()[:4096]
    if head[:4] == b"\x7fELF" and len(head) >= 20:
        little = head[5] == 1
        (machine,) = struct.unpack_from("<H" if little else ">H", head, 18)
        return f"elf-{_ELF_MACHINES.get(machine, hex(machine))}"
    if head[:4] == b"\xcf\xfa\xed\xfe" and len(head) >= 8:
        (cpu,) = struct.unpack_from("<I", head, 4)
        return f"macho-{_MACHO_CPUS.get(cpu, hex(cpu))}"
    if head[:2] == b"MZ" and len(head) >= 64:
        (offset,) = struct.unpack_from("<I", head, 0x3C)
        data = path.read_bytes()[offset : offset + 6]
        if data[:4] == b"PE\0\0":
            (machine,) = struct.unpack_from("<H", data, 4)
            return f"pe-{_PE_MACHINES.get(machine, hex(machine))}"
    return "unknown"


def elf_truncation(data: bytes) -> str | None:
    """Why an ELF64 file is shorter than its own headers say, or None.

    dlopen maps segments by the offsets in the program headers; on a file
    cut short, touching the missing pages kills the process with SIGBUS
    instead of returning an error, so the loader checks first.
    """
    if data[:4] != b"\x7fELF" or len(data) < 64 or data[4] != 2:
        return None  # not ELF64: nothing to check here
    order = "<" if data[5] == 1 else ">"
    phoff, shoff = struct.unpack_from(order + "QQ", data, 32)
    phentsize, phnum, shentsize, shnum = struct.unpack_from(order + "HHHH", data, 54)
    size = len(data)
    if phoff + phnum * phentsize > size:
        return f"program headers end at byte {phoff + phnum * phentsize}, the file has {size}"
    for index in range(phnum):
        entry = phoff + index * phentsize  # Elf64_Phdr: type, flags, offset, vaddr, paddr, filesz, ...
        (offset,) = struct.unpack_from(order + "Q", data, entry + 8)
        (filesz,) = struct.unpack_from(order + "Q", data, entry + 32)
        if offset + filesz > size:
            return f"segment {index} ends at byte {offset + filesz}, the file has {size}"
    if shnum and shoff + shnum * shentsize > size:
        return f"section headers end at byte {shoff + shnum * shentsize}, the file has {size}"
    return None


def expected_format(target: str) -> str:
    arch = target.split("-")[0]
    kind = {"linux": "elf", "macos": "macho", "windows": "pe"}.get(os_of_target(target), "elf")
    return f"{kind}-{arch}"
