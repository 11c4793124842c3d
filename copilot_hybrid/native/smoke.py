"""Smoke-calls every export of a freshly built library, in its own process.

The build's fresh-process check (native/build.py check_library) runs
`python -m copilot_hybrid.features LIBRARY`, which hands this module the
smoke calls every feature declares for its own exports
(`Feature.native_exports`); native/ itself knows only the handshake. It
prints one line per export when every call returned and exits non-zero
with the reason otherwise. Every function the header declares needs
exactly one smoke call: a new export without one fails the build on
purpose, and so does a smoke call for an export the header lacks.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from copilot_hybrid.native.header import HEADER_NAME, functions
from copilot_hybrid.native.loader import HANDSHAKE, open_library

#: Called as call(ffi, lib); returns something printable. Calls with bad
#: arguments (NULL handles, empty tables) are welcome: they must fail cleanly.
SmokeCall = Callable[[Any, Any], object]


def _handshake_call(name: str) -> SmokeCall:
    def call(ffi: Any, lib: Any) -> object:
        value = getattr(lib, name)()
        return value if isinstance(value, int) else ffi.string(value)

    return call


HANDSHAKE_CALLS: Final[Mapping[str, SmokeCall]] = {name: _handshake_call(name) for name in HANDSHAKE}


def smoke(library: Path, feature_calls: Mapping[str, SmokeCall]) -> list[str]:
    """Returns one report line per export; raises RuntimeError on a failure."""
    header = library.parent / HEADER_NAME
    if not header.is_file():
        raise RuntimeError(f"no {HEADER_NAME} beside {library}")
    native = open_library(library, header=header, check_sources=False)
    if not native.ok:
        raise RuntimeError(f"{native.status}: {native.reason}")
    twice = sorted(set(HANDSHAKE_CALLS) & set(feature_calls))
    if twice:
        raise RuntimeError(f"features declare smoke calls for handshake exports: {', '.join(twice)}")
    calls = {**HANDSHAKE_CALLS, **feature_calls}
    declared = functions(header.read_text(encoding="utf-8"))
    undeclared = sorted(set(calls) - set(declared))
    if undeclared:
        raise RuntimeError(f"smoke calls for exports {HEADER_NAME} does not declare: {', '.join(undeclared)}")
    lines = []
    for name in declared:
        call = calls.get(name)
        if call is None:
            raise RuntimeError(
                f"{name} is declared in {HEADER_NAME} but no feature declares a smoke call for it "
                "(Feature.native_exports of the feature that uses it)"
            )
        try:
            result = call(native.ffi, native.lib)
        except AttributeError as exc:
            raise RuntimeError(f"{name} is declared in the header but not exported: {exc}") from exc
        lines.append(f"{name}: {result!r}")
    return lines


def main(argv: list[str], feature_calls: Mapping[str, SmokeCall]) -> int:
    if len(argv) != 1:
        print("usage: python -m copilot_hybrid.features LIBRARY", file=sys.stderr)
        return 2
    try:
        lines = smoke(Path(argv[0]), feature_calls)
    except Exception as exc:  # noqa: BLE001 - report any failure as the reason
        print(str(exc), file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0
