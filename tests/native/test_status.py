"""One status check for every native binding (copilot_hybrid/native/status.py):
a negative CH_E_* return becomes MemoryError or NativeCallError(.code) with
the library's own message."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from copilot_hybrid import rate_limit
from copilot_hybrid.errors import NativeCallError
from copilot_hybrid.native.loader import NativeLibrary, load
from copilot_hybrid.native.status import status_error
from copilot_hybrid.tokenizer import _native
from copilot_hybrid.tokenizer._vocab import read_vocab
from tests.support import native_or_skip


def test_a_failed_call_becomes_native_call_error_with_the_librarys_message() -> None:
    native_or_skip()
    native = load()
    ffi, lib = native.ffi, native.lib
    status = lib.ch_rate_limit_decide(0, 1, 5, 10, 0, ffi.NULL, ffi.NULL)
    assert status == lib.CH_E_INVALID_ARGUMENT
    error = status_error(native, status, "ch_rate_limit_decide")
    assert isinstance(error, NativeCallError) and error.code == lib.CH_E_INVALID_ARGUMENT
    assert "ch_rate_limit_decide failed: out_delay_ms is null" in str(error)


def test_out_of_memory_becomes_memory_error() -> None:
    native_or_skip()
    native = load()
    error = status_error(native, native.lib.CH_E_OUT_OF_MEMORY, "ch_tok_count")
    assert type(error) is MemoryError and "ch_tok_count failed" in str(error)


def test_the_tokenizer_binding_raises_through_it() -> None:
    native_or_skip()
    native = load()
    with pytest.raises(NativeCallError) as info:
        _native.NativeBackend("o200k_base", native, b"not a rank file\n")
    assert info.value.code == native.lib.CH_E_INVALID_DATA
    assert native.last_error() in str(info.value) and "ch_tok_new(o200k_base) failed" in str(info.value)
    assert _native.NativeBackend("o200k_base", native, read_vocab("o200k_base")).count("hello") == 1


def _fake_library(decide_returns: int) -> NativeLibrary:
    """A library whose ch_rate_limit_decide returns `decide_returns`."""
    lib = SimpleNamespace(
        ch_rate_limit_decide=lambda *args: decide_returns,
        ch_last_error=lambda: b"the library's reason",
        CH_E_OUT_OF_MEMORY=-2,
        CH_RATE_LIMIT_ALLOW=0,
        CH_RATE_LIMIT_WAIT=1,
        CH_RATE_LIMIT_REJECT=2,
    )
    ffi = SimpleNamespace(new=lambda ctype: [0], string=lambda value: value)
    return NativeLibrary("ok", "fake", ffi=ffi, lib=lib)


@pytest.mark.parametrize(
    ("returns", "expected"),
    [(-2, MemoryError), (-5, NativeCallError), (7, NativeCallError)],
)
def test_the_rate_limit_binding_raises_through_it(
    monkeypatch: pytest.MonkeyPatch, returns: int, expected: type[Exception]
) -> None:
    monkeypatch.setattr(rate_limit, "load", lambda: _fake_library(returns))
    x = rate_limit.LimiterInput(0, 1, 1000, False)
    with pytest.raises(expected) as info:
        rate_limit.FEATURE.native(x)
    error: Any = info.value
    if returns < 0:
        assert "ch_rate_limit_decide failed: the library's reason" in str(error)
    if expected is NativeCallError:
        assert error.code == returns
