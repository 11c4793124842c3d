"""Reads zig/include/copilot_core.h, the C ABI's single source of truth.

The cdef keeps the header's integer `#define`s, so Python reads every
constant from the loaded library (`lib.CH_E_OUT_OF_MEMORY`,
`lib.CH_ABI_VERSION`, `lib.CH_TOK_O200K_BASE`, ...) instead of typing it
again. Standard library only: the build hook imports this before the
package is installed.
"""

from __future__ import annotations

import re
from typing import Final

HEADER_NAME: Final = "copilot_core.h"

# The #define form cffi's ABI mode accepts: a name and an integer literal (a
# leading minus works, parentheses do not). Decimal or hex only: C's octal
# 017 would mean something else to Python's int().
_INTEGER_DEFINE = re.compile(r"[ \t]*#[ \t]*define[ \t]+(\w+)[ \t]+(-?(?:0[xX][0-9a-fA-F]+|0|[1-9][0-9]*))[ \t]*")
_PREPROCESSOR_LINE = re.compile(r"^[ \t]*#.*$", re.MULTILINE)
_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)


def cdef(header_text: str) -> str:
    """The header as cffi's cdef: integer #defines kept, every other
    preprocessor line (include guards, #include) removed."""

    def keep_integer_defines(line: re.Match[str]) -> str:
        return line[0] if _INTEGER_DEFINE.fullmatch(line[0]) else ""

    return _PREPROCESSOR_LINE.sub(keep_integer_defines, header_text)


def constants(header_text: str) -> dict[str, int]:
    """The integer #defines of the header, for code that has no loaded
    library at hand (the build record's ABI version)."""
    found: dict[str, int] = {}
    for line in _PREPROCESSOR_LINE.finditer(header_text):
        define = _INTEGER_DEFINE.fullmatch(line[0])
        if define:
            found[define[1]] = int(define[2], 0)
    return found


def functions(header_text: str) -> list[str]:
    """Names of the ch_* functions declared in the header."""
    return sorted(set(re.findall(r"\b(ch_\w+)\s*\(", _COMMENT.sub("", header_text))))
