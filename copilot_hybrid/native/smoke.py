"""Smoke-calls every export of a freshly built library, in its own process.

Run as `python -m copilot_hybrid.native.smoke LIBRARY`; exits 0 and prints
one line per export when every call returned, non-zero with the reason
otherwise. Every function declared in the header must have an entry in
SMOKE_CALLS: a new export without one fails the build on purpose.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from copilot_hybrid.native.loader import header_functions, open_library

SmokeCall = Callable[[Any, Any], object]


def _tok_new(ffi: Any, lib: Any) -> object:
    out = ffi.new("ch_tokenizer **")
    status = lib.ch_tok_new(0, b"", 0, out)  # empty rank file: must fail cleanly
    lib.ch_tok_free(out[0])
    return status


SMOKE_CALLS: dict[str, SmokeCall] = {
    "ch_abi_version": lambda ffi, lib: lib.ch_abi_version(),
    "ch_source_digest": lambda ffi, lib: ffi.string(lib.ch_source_digest()),
    "ch_package_version": lambda ffi, lib: ffi.string(lib.ch_package_version()),
    "ch_last_error": lambda ffi, lib: ffi.string(lib.ch_last_error()),
    "ch_rate_limit_decide": lambda ffi, lib: lib.ch_rate_limit_decide(
        0, 1, 5, 10, 0, ffi.new("int64_t *"), ffi.new("int64_t *")
    ),
    "ch_tok_new": _tok_new,
    "ch_tok_free": lambda ffi, lib: lib.ch_tok_free(ffi.NULL),
    "ch_tok_count": lambda ffi, lib: lib.ch_tok_count(ffi.NULL, b"x", 1),
    "ch_tok_encode": lambda ffi, lib: lib.ch_tok_encode(ffi.NULL, b"x", 1, ffi.new("uint32_t[1]"), 1),
    "ch_tok_decode": lambda ffi, lib: lib.ch_tok_decode(ffi.NULL, ffi.new("uint32_t[1]"), 1, ffi.new("uint8_t[1]"), 1),
    "ch_tok_split": lambda ffi, lib: lib.ch_tok_split(0, b"a b", 3, ffi.new("uint32_t[3]"), 3),
}


def smoke(library: Path) -> list[str]:
    """Returns one report line per export; raises RuntimeError on a failure."""
    native = open_library(library, check_sources=False)
    if not native.ok:
        raise RuntimeError(f"{native.status}: {native.reason}")
    header = library.parent / "copilot_core.h"
    if not header.is_file():
        raise RuntimeError(f"no copilot_core.h beside {library}")
    lines = []
    for name in header_functions(header.read_text(encoding="utf-8")):
        call = SMOKE_CALLS.get(name)
        if call is None:
            raise RuntimeError(f"{name} is declared but has no smoke call in copilot_hybrid/native/smoke.py")
        try:
            result = call(native.ffi, native.lib)
        except AttributeError as exc:
            raise RuntimeError(f"{name} is declared in the header but not exported: {exc}") from exc
        lines.append(f"{name}: {result!r}")
    return lines


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m copilot_hybrid.native.smoke LIBRARY", file=sys.stderr)
        return 2
    try:
        lines = smoke(Path(argv[0]))
    except Exception as exc:  # noqa: BLE001 - report any failure as the reason
        print(str(exc), file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
