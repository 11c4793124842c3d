"""Hatchling build hook: compile zig/ into the wheel (and into the source
tree for editable installs) with the pinned `ziglang` package.

If the build fails, the install still succeeds as pure Python (every
feature then runs on its Python reference) with a loud warning, unless
COPILOT_HYBRID_REQUIRE_NATIVE=1, which makes the failure fatal (CI sets it).
"""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

REQUIRE_ENV = "COPILOT_HYBRID_REQUIRE_NATIVE"


def _warn(message: str) -> None:
    bar = "!" * 78
    sys.stderr.write(f"\n{bar}\n{message}\n{bar}\n\n")


class NativeBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        sys.path.insert(0, str(root))
        try:
            from copilot_hybrid import __version__
            from copilot_hybrid.native import build as native_build
        finally:
            sys.path.pop(0)
        optimize = os.environ.get("COPILOT_HYBRID_OPTIMIZE", "ReleaseFast")
        try:
            result = native_build.build(
                zig_dir=root / "zig",
                output_dir=root / "copilot_hybrid" / "native" / "_build",
                optimize=optimize,
                package_version=__version__,
            )
        except Exception as exc:
            if os.environ.get(REQUIRE_ENV) == "1":
                raise RuntimeError(f"native build failed and {REQUIRE_ENV}=1: {exc}") from exc
            _warn(
                "copilot-hybrid: the native core could not be built; installing pure Python.\n"
                "Every feature will run on its Python reference (slower, same answers).\n"
                f"Reason: {exc}\nSet {REQUIRE_ENV}=1 to make this an error."
            )
            return
        sys.stderr.write(f"copilot-hybrid: built {result.library} in {result.seconds:.1f} s\n")
        if version == "editable":
            return  # the editable package imports the library from the source tree
        # _build/ is git-ignored, and hatchling leaves ignored files out
        # unless they are declared artifacts.
        build_data["artifacts"].append("copilot_hybrid/native/_build/")
        build_data["pure_python"] = False
        # ABI-mode library: independent of the CPython ABI, tied to the platform.
        platform_tag = sysconfig.get_platform().replace("-", "_").replace(".", "_")
        build_data["tag"] = f"py3-none-{platform_tag}"
