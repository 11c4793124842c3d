"""The native backend: the Zig core's ch_tok_* exports, with the reference's
shape and error contract (_reference.py). The encodings' kinds and the
status codes come from the header (`lib.CH_TOK_*`, `lib.CH_E_*`); a failed
call becomes an exception in copilot_hybrid.native.status."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any, Final

from copilot_hybrid.errors import NativeCallError, NativeUnavailable
from copilot_hybrid.native.loader import NativeLibrary, load
from copilot_hybrid.native.smoke import SmokeCall
from copilot_hybrid.native.status import status_error
from copilot_hybrid.tokenizer._text import utf8_text
from copilot_hybrid.tokenizer._vocab import check_encoding, read_vocab, special_tokens


def _smoke_new(ffi: Any, lib: Any) -> object:
    out = ffi.new("ch_tokenizer **")
    status = lib.ch_tok_new(lib.CH_TOK_CL100K_BASE, b"", 0, out)  # empty rank file: must fail cleanly
    lib.ch_tok_free(out[0])
    return status


#: Every export the tokenizer calls, each with the build's smoke call. A
#: library without one of them leaves the tokenizer on its reference.
NATIVE_EXPORTS: Final[Mapping[str, SmokeCall]] = {
    "ch_tok_new": _smoke_new,
    "ch_tok_free": lambda ffi, lib: lib.ch_tok_free(ffi.NULL),
    "ch_tok_count": lambda ffi, lib: lib.ch_tok_count(ffi.NULL, b"x", 1),
    "ch_tok_encode": lambda ffi, lib: lib.ch_tok_encode(ffi.NULL, b"x", 1, ffi.new("uint32_t[1]"), 1),
    "ch_tok_decode": lambda ffi, lib: lib.ch_tok_decode(ffi.NULL, ffi.new("uint32_t[1]"), 1, ffi.new("uint8_t[1]"), 1),
    "ch_tok_split": lambda ffi, lib: lib.ch_tok_split(lib.CH_TOK_CL100K_BASE, b"a b", 3, ffi.new("uint32_t[3]"), 3),
}


def _unavailable(native: NativeLibrary) -> NativeUnavailable:
    return NativeUnavailable(f"native tokenizer unavailable: {native.status}: {native.reason}")


def _kind(lib: Any, name: str) -> int:
    """The header's CH_TOK_<NAME> of encoding `name`."""
    return int(getattr(lib, f"CH_TOK_{check_encoding(name).upper()}"))


class NativeBackend:
    """One immutable ch_tokenizer per encoding and process, built on first use
    under a lock and freed by ffi.gc. Calls release the GIL (cffi ABI mode),
    so threads tokenize in parallel."""

    def __init__(self, name: str, native: NativeLibrary, vocab: bytes) -> None:
        if not native.has(*NATIVE_EXPORTS):
            raise _unavailable(native)
        self.name = name
        self.native = native  # keeps the library mapped while the handle lives
        ffi, lib = native.ffi, native.lib
        out = ffi.new("ch_tokenizer **")
        status = lib.ch_tok_new(_kind(lib, name), vocab, len(vocab), out)
        if status < 0:
            raise status_error(native, status, f"ch_tok_new({name})")
        self._ffi = ffi
        self._lib = lib
        self._invalid_data = int(lib.CH_E_INVALID_DATA)
        self._handle = ffi.gc(out[0], lib.ch_tok_free)
        self._alloc = ffi.new_allocator(should_clear_after_alloc=False)
        self.special_tokens = special_tokens(name)
        self._special_bytes = {rank: token.encode("utf-8") for token, rank in self.special_tokens.items()}

    # The text goes to C as the bytes object itself: cffi passes a pointer to
    # its buffer for uint8_t* (no copy; measured 1.0 us per call against 1.8 us
    # with ffi.from_buffer, whose extra object buys nothing for read-only bytes).

    def count(self, text: str) -> int:
        data = utf8_text(text)
        if not data:
            return 0
        n: int = self._lib.ch_tok_count(self._handle, data, len(data))
        if n < 0:
            raise status_error(self.native, n, "ch_tok_count")
        return n

    def encode(self, text: str) -> list[int]:
        data = utf8_text(text)
        if not data:
            return []
        cap = len(data)  # every token covers at least one byte
        out = self._alloc("uint32_t[]", cap)
        n: int = self._lib.ch_tok_encode(self._handle, data, len(data), out, cap)
        if n < 0:
            raise status_error(self.native, n, "ch_tok_encode")
        ids: list[int] = self._ffi.unpack(out, n)
        return ids

    def decode_bytes(self, tokens: Sequence[int]) -> bytes:
        if not isinstance(tokens, (list, tuple)):
            if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Sequence):
                raise TypeError(f"tokens must be a sequence of int, not {type(tokens).__name__}")
            tokens = list(tokens)
        if not tokens:
            return b""
        # ffi.new checks every id: TypeError / OverflowError, like tiktoken.
        ids = self._ffi.new("uint32_t[]", tokens)
        try:
            return self._decode_ordinary(ids, len(tokens))
        except KeyError:
            pass
        # Special ids (or an invalid one) inside: decode runs of ordinary ids
        # natively and splice the special tokens' text in between.
        parts: list[bytes] = []
        run: list[int] = []
        for token in tokens:
            special = self._special_bytes.get(int(token))
            if special is None:
                run.append(int(token))
                continue
            if run:
                parts.append(self._decode_run(run))
                run = []
            parts.append(special)
        if run:
            parts.append(self._decode_run(run))
        return b"".join(parts)

    def _decode_run(self, run: list[int]) -> bytes:
        try:
            return self._decode_ordinary(self._ffi.new("uint32_t[]", run), len(run))
        except KeyError:
            # Name the first bad id, as tiktoken does.
            for token in run:
                try:
                    self._decode_ordinary(self._ffi.new("uint32_t[]", [token]), 1)
                except KeyError:
                    raise KeyError(f"Invalid token for decoding: {token}") from None
            raise

    def _decode_ordinary(self, ids: Any, n: int) -> bytes:
        cap = 8 * n + 64  # about twice the mean token length of real text
        for _ in range(2):
            out = self._alloc("uint8_t[]", cap)
            size: int = self._lib.ch_tok_decode(self._handle, ids, n, out, cap)
            if size == self._invalid_data:
                raise KeyError("Invalid token for decoding")
            if size < 0:
                raise status_error(self.native, size, "ch_tok_decode")
            if size <= cap:
                data: bytes = self._ffi.buffer(out, size)[:]
                return data
            cap = size  # nothing was written: retry with the size it asked for
        raise NativeCallError("ch_tok_decode asked for a larger buffer twice", int(self._lib.CH_E_BUFFER_TOO_SMALL))


def native_split(name: str, text: str) -> list[int]:
    """ch_tok_split alone (no tables needed): the pre-tokenizer's piece ends."""
    native = load()
    if not native.has(*NATIVE_EXPORTS):
        raise _unavailable(native)
    data = utf8_text(text)
    if not data:
        return []
    ffi, lib = native.ffi, native.lib
    out = ffi.new_allocator(should_clear_after_alloc=False)("uint32_t[]", len(data))
    n: int = lib.ch_tok_split(_kind(lib, name), data, len(data), out, len(data))
    if n < 0:
        raise status_error(native, n, "ch_tok_split")
    ends: list[int] = ffi.unpack(out, n)
    return ends


# ---- one instance per encoding and process ---------------------------------------

_lock = threading.Lock()
_backends: dict[str, NativeBackend] = {}


def native_backend(name: str) -> NativeBackend:
    """The process's native tables for `name`; raises NativeUnavailable."""
    native = load()
    backend = _backends.get(name)
    # A reloaded library (load(refresh=True)) gets tables of its own.
    if backend is None or backend.native is not native:
        check_encoding(name)
        if not native.has(*NATIVE_EXPORTS):  # before reading 4 MB of vocab for nothing
            raise _unavailable(native)
        with _lock:
            backend = _backends.get(name)
            if backend is None or backend.native is not native:
                backend = _backends[name] = NativeBackend(name, native, read_vocab(name))
    return backend


def native_available() -> bool:
    return load().has(*NATIVE_EXPORTS)


def drop_tables() -> None:
    with _lock:
        _backends.clear()
