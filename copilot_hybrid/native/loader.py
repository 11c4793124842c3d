"""Loads the native library with cffi (ABI mode) and says whether it can be
used. It never raises: every failure becomes a status with a reason, and the
program carries on with the Python references.

Statuses:
  ok            loaded, handshake passed
  disabled      COPILOT_HYBRID_NATIVE=0 (the kill switch)
  missing       no library file where it should be
  stale         built from other sources than those present (or, in an
                installed package without sources, for another package version)
  abi_mismatch  built for another ABI version than this Python code speaks
  load_error    the file exists but cannot be loaded or lacks the handshake

The cdef comes from the header this package's Python code is written
against (native/header.py keeps its integer #defines, so `lib.CH_*` are the
header's constants): zig/include in a source checkout, else the copy
installed beside the library. The ABI this code speaks is that header's
CH_ABI_VERSION; the library's own ch_abi_version() must equal it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from copilot_hybrid import __version__, config
from copilot_hybrid.native import build as _build
from copilot_hybrid.native.header import HEADER_NAME, cdef

STATUSES = ("ok", "disabled", "missing", "stale", "abi_mismatch", "load_error")
HANDSHAKE = ("ch_abi_version", "ch_source_digest", "ch_package_version", "ch_last_error")


@dataclass(frozen=True)
class NativeLibrary:
    """The outcome of one load attempt. `ffi` and `lib` are set only when ok."""

    status: str
    reason: str
    library: Path | None = None
    record: dict[str, Any] = field(default_factory=dict)
    ffi: Any = None
    lib: Any = None
    source_digest: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def build_id(self) -> str | None:
        value = self.record.get("build_id")
        return str(value) if value else None

    def has(self, *symbols: str) -> bool:
        """Whether every symbol is exported (an older library may lack one,
        which disables only the feature that needs it)."""
        if not self.ok:
            return False
        for symbol in symbols:
            try:
                getattr(self.lib, symbol)
            except AttributeError:
                return False
        return True

    def last_error(self) -> str:
        if not self.ok:
            return self.reason
        message: bytes = self.ffi.string(self.lib.ch_last_error())
        return message.decode("utf-8", "replace")


def default_library_path() -> Path:
    override = config.env(config.NATIVE_LIBRARY_ENV)
    if override:
        return Path(override).expanduser()
    return _build.DEFAULT_OUTPUT_DIR / _build.library_filename()


def package_header(library: Path) -> Path:
    """The header this package's Python code speaks: the source one in a
    checkout, else the one installed beside `library`."""
    source = _build.SOURCE_ZIG_DIR / "include" / HEADER_NAME
    return source if source.is_file() else library.parent / HEADER_NAME


def open_library(library: Path, *, header: Path | None = None, check_sources: bool = True) -> NativeLibrary:
    """Loads one library file and runs the handshake; never raises.

    `header` overrides package_header() (the build's smoke test checks a
    fresh library against the header built with it); `check_sources=False`
    skips the staleness check (sources may be edited while the smoke test
    runs, the file is still sound).
    """
    if not library.is_file():
        return NativeLibrary("missing", f"no native library at {library} (run `copilot-hybrid build`)", library)
    record: dict[str, Any] = {}
    try:
        record = json.loads((library.parent / _build.RECORD_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {}
    damage = _integrity_problem(library, record)
    if damage is not None:
        return NativeLibrary(
            "load_error", f"{library} is damaged: {damage}; run `copilot-hybrid build`", library, record
        )
    try:
        import cffi

        header = header or package_header(library)
        ffi = cffi.FFI()
        ffi.cdef(cdef(header.read_text(encoding="utf-8")))
        lib = ffi.dlopen(str(library))
        try:
            expected_abi = int(lib.CH_ABI_VERSION)
        except AttributeError:
            return NativeLibrary("load_error", f"{header} defines no CH_ABI_VERSION", library, record)
        for symbol in HANDSHAKE:
            getattr(lib, symbol)
        abi = int(lib.ch_abi_version())
        digest = ffi.string(lib.ch_source_digest()).decode("ascii", "replace")
        built_for = ffi.string(lib.ch_package_version()).decode("ascii", "replace")
    except ImportError as exc:
        return NativeLibrary("load_error", f"cffi is not installed: {exc}", library, record)
    except AttributeError as exc:
        return NativeLibrary("load_error", f"{library} lacks a handshake export: {exc}", library, record)
    except Exception as exc:  # noqa: BLE001 - cffi raises OSError, CDefError, ...: all mean "cannot load"
        return NativeLibrary("load_error", f"cannot load {library}: {exc}", library, record)
    if abi != expected_abi:
        return NativeLibrary(
            "abi_mismatch",
            f"{library} speaks native ABI {abi}, this package needs ABI {expected_abi}; rebuild it",
            library,
            record,
            source_digest=digest,
        )
    if not check_sources:
        pass
    elif _build.SOURCE_ZIG_DIR.is_dir():
        present = _build.source_digest(_build.SOURCE_ZIG_DIR)
        if digest != present:
            return NativeLibrary(
                "stale",
                f"{library} was built from other sources than {_build.SOURCE_ZIG_DIR} "
                f"(built {digest[:12]}, present {present[:12]}); run `copilot-hybrid build`",
                library,
                record,
                source_digest=digest,
            )
    elif built_for != __version__:
        return NativeLibrary(
            "stale",
            f"{library} was built for copilot-hybrid {built_for}, this is {__version__}; reinstall",
            library,
            record,
            source_digest=digest,
        )
    return NativeLibrary("ok", f"loaded {library}", library, record, ffi, lib, digest)


def _integrity_problem(library: Path, record: dict[str, Any]) -> str | None:
    """Checks the file before dlopen, which can crash on a damaged library.

    With a build record: size and sha256 must be what the build wrote.
    Without one (a library placed by hand): the ELF headers must fit the file.
    """
    try:
        data = library.read_bytes()
    except OSError as exc:
        return f"cannot read it: {exc}"
    expected_size = record.get("library_bytes")
    expected_hash = record.get("library_sha256")
    if isinstance(expected_size, int) and isinstance(expected_hash, str):
        if len(data) != expected_size:
            return f"{len(data)} bytes where the build wrote {expected_size}"
        if hashlib.sha256(data).hexdigest() != expected_hash:
            return "its sha256 differs from the one the build recorded"
        return None
    return _build.elf_truncation(data)


_lock = threading.Lock()
_cached: NativeLibrary | None = None


def load(*, refresh: bool = False) -> NativeLibrary:
    """The process's native library, loaded once (thread-safe); never raises."""
    global _cached
    if _cached is not None and not refresh:
        return _cached
    with _lock:
        if _cached is None or refresh:
            if config.kill_switch_on():
                _cached = NativeLibrary("disabled", f"{config.KILL_SWITCH_ENV}=0: the native core is switched off")
            else:
                try:
                    _cached = open_library(default_library_path())
                except Exception as exc:  # noqa: BLE001 - the loader must never raise
                    _cached = NativeLibrary("load_error", f"unexpected loader failure: {exc!r}")
        return _cached
