"""The one status check of native calls.

Every copilot_core.h function that can fail returns a negative CH_E_*
status, and `ch_last_error()` holds the message for the calling thread.
Each binding calls `status_error` right after a negative return (on the
same thread) and raises what it returns:

    n = lib.ch_tok_count(handle, data, len(data))
    if n < 0:
        raise status_error(native, n, "ch_tok_count")
"""

from __future__ import annotations

from copilot_hybrid.errors import NativeCallError
from copilot_hybrid.native.loader import NativeLibrary


def status_error(native: NativeLibrary, status: int, call: str) -> Exception:
    """MemoryError for CH_E_OUT_OF_MEMORY, NativeCallError (with `.code`)
    for every other status; the message names the call and gives the
    library's own reason."""
    message = f"{call} failed: {native.last_error()}"
    if status == native.lib.CH_E_OUT_OF_MEMORY:
        return MemoryError(message)
    return NativeCallError(f"{message} (status {status})", status)
