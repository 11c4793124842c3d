"""The two tokenizer backends: tiktoken (the reference) and the Zig core
(native), with one shape and one error contract.

Both tokenize *ordinary* text: special-token text such as "<|endoftext|>" is
plain text (tiktoken's `encode_ordinary`), so counting a prompt never fails
on it. `decode` accepts special ids too.

Lone surrogates follow tiktoken's rule, written once here (`fix_surrogates`)
and applied before either backend sees the text: a str that is not valid
UTF-8 is re-read through UTF-16, so a valid pair stored as two code points
becomes the astral character and a lone surrogate becomes U+FFFD.

The vocab files are read from copilot_hybrid/data and their sha256 checked
against the official values before either backend parses a byte.
"""

from __future__ import annotations

import hashlib
import re
import threading
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from copilot_hybrid.errors import NativeCallError, NativeUnavailable, VocabularyError
from copilot_hybrid.native.loader import NativeLibrary, load

ENCODING_NAMES: Final = ("cl100k_base", "o200k_base")
#: CH_TOK_* kinds of copilot_core.h.
NATIVE_KIND: Final = {"cl100k_base": 0, "o200k_base": 1}
#: The official sha256 of the rank files (the same values tiktoken_ext pins;
#: data/SHA256SUMS repeats them for `sha256sum -c`, a test keeps them equal).
VOCAB_SHA256: Final = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}
DATA_DIR: Final = Path(__file__).resolve().parent.parent / "data"
NATIVE_SYMBOLS: Final = ("ch_tok_new", "ch_tok_free", "ch_tok_count", "ch_tok_encode", "ch_tok_decode")

# copilot_core.h status codes.
CH_E_INVALID_ARGUMENT: Final = -1
CH_E_OUT_OF_MEMORY: Final = -2
CH_E_BUFFER_TOO_SMALL: Final = -3
CH_E_INVALID_DATA: Final = -4
CH_E_TOO_LARGE: Final = -5

#: tiktoken 0.14 panics (a BaseException) on a whitespace run of 999,999
#: characters followed by a non-space. The reference routes texts with runs
#: from this length on around tiktoken's regex (see ReferenceBackend.encode).
LONG_WHITESPACE_RUN: Final = 900_000
# Python's \s is a superset of Unicode White_Space (it adds U+001C..U+001F),
# so this finds every run tiktoken could choke on; the lookbehind makes the
# scan linear (a run is tried from its first character only).
_LONG_WHITESPACE = re.compile(rf"(?<!\s)\s{{{LONG_WHITESPACE_RUN}}}")


def check_encoding(name: str) -> str:
    if name not in ENCODING_NAMES:
        raise ValueError(f"unknown encoding {name!r}; known: {', '.join(ENCODING_NAMES)}")
    return name


def read_vocab(name: str, directory: Path | None = None) -> bytes:
    """The bytes of `name`'s rank file, after checking their sha256."""
    check_encoding(name)
    path = (directory or DATA_DIR) / f"{name}.tiktoken"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise VocabularyError(f"cannot read the {name} vocabulary {path}: {exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != VOCAB_SHA256[name]:
        raise VocabularyError(
            f"{path} is not the official {name} vocabulary: sha256 {digest}, expected {VOCAB_SHA256[name]}; "
            "the file is damaged or was replaced (reinstall copilot-hybrid)"
        )
    return data


# ---- the Python boundary: one rule for both backends --------------------------


def fix_surrogates(text: str) -> str:
    """tiktoken's rule for a str that is not valid UTF-8 (lone surrogates)."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def check_text(text: object) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    return text


def clean_text(text: str) -> str:
    """`text` as the reference tokenizes it."""
    if check_text(text).isascii():  # O(1) in CPython: a flag of the str
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return fix_surrogates(text)
    return text


def utf8_text(text: str) -> bytes:
    """The UTF-8 the native core tokenizes: one encode on the common path."""
    try:
        return check_text(text).encode("utf-8")
    except UnicodeEncodeError:
        return fix_surrogates(text).encode("utf-8")


# ---- encoding parameters from tiktoken_ext, offline ---------------------------


def _openai_public_params(name: str, ranks_for: Any) -> dict[str, Any]:
    """tiktoken_ext.openai_public's constructor for `name` (pat_str, special
    tokens), run with `ranks_for(url, expected_hash)` standing in for its
    download: a copy of the function with other globals, so nothing global
    is patched and the network is never touched."""
    from tiktoken_ext import openai_public

    original = getattr(openai_public, name)
    constructor = types.FunctionType(
        original.__code__,
        {**vars(openai_public), "load_tiktoken_bpe": ranks_for},
        original.__name__,
        original.__defaults__,
        original.__closure__,
    )
    params: dict[str, Any] = constructor()
    return params


def _check_pinned_hash(name: str, expected_hash: str | None) -> None:
    if expected_hash != VOCAB_SHA256[name]:
        raise VocabularyError(f"tiktoken_ext pins {expected_hash} for {name}, this package ships {VOCAB_SHA256[name]}")


def special_tokens(name: str) -> dict[str, int]:
    """The special tokens of `name`, from tiktoken_ext.openai_public."""
    return dict(_params_without_ranks(name)["special_tokens"])


def pattern(name: str) -> str:
    """The pre-tokenizer regex of `name`, from tiktoken_ext.openai_public."""
    return str(_params_without_ranks(name)["pat_str"])


_params_cache: dict[str, dict[str, Any]] = {}


def _params_without_ranks(name: str) -> dict[str, Any]:
    check_encoding(name)
    cached = _params_cache.get(name)
    if cached is None:

        def no_ranks(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
            _check_pinned_hash(name, expected_hash)
            return {}

        cached = _params_cache.setdefault(name, _openai_public_params(name, no_ranks))
    return cached


def parse_ranks(data: bytes) -> dict[bytes, int]:
    """A .tiktoken file as tiktoken.load.load_tiktoken_bpe parses it."""
    import base64

    return {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in data.splitlines() if line)}


# ---- the reference: tiktoken 0.14 ----------------------------------------------


class ReferenceBackend:
    """tiktoken.Encoding built from the checked files, ordinary-text semantics."""

    def __init__(self, name: str, vocab: bytes) -> None:
        import tiktoken

        ranks = parse_ranks(vocab)

        def local_ranks(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
            _check_pinned_hash(name, expected_hash)
            return ranks

        params = _openai_public_params(name, local_ranks)
        self.name = name
        self.special_tokens: dict[str, int] = dict(params["special_tokens"])
        self.encoding = tiktoken.Encoding(
            params["name"],
            pat_str=params["pat_str"],
            mergeable_ranks=params["mergeable_ranks"],
            special_tokens=params["special_tokens"],
        )
        # tiktoken keeps the Python rank dict only for pickling (__getstate__),
        # which nothing here does; its Rust core has its own copy. Dropping it
        # frees about 40 MB for both encodings.
        self.encoding._mergeable_ranks = {}

    def encode(self, text: str) -> list[int]:
        text = clean_text(text)
        if len(text) >= LONG_WHITESPACE_RUN and _LONG_WHITESPACE.search(text):
            # tiktoken's regex would panic: split with the `regex` module
            # (same pattern, same Unicode tables at regex 2024.11.6) and run
            # tiktoken's own BPE on each piece.
            result: list[int] = self.encoding._encode_only_native_bpe(text)
            return result
        ids: list[int] = self.encoding.encode_ordinary(text)
        return ids

    def count(self, text: str) -> int:
        text = clean_text(text)
        if len(text) >= LONG_WHITESPACE_RUN and _LONG_WHITESPACE.search(text):
            return len(self.encoding._encode_only_native_bpe(text))
        # tiktoken has no count: its u32 buffer (what encode_to_numpy reads)
        # costs 4 bytes a token, a list of ints ~36. With no special token
        # allowed, encode is encode_ordinary.
        buffer = self.encoding._core_bpe.encode_to_tiktoken_buffer(text, set())
        return memoryview(buffer).nbytes // 4

    def decode_bytes(self, tokens: Sequence[int]) -> bytes:
        data: bytes = self.encoding.decode_bytes(tokens)
        return data


# ---- native: the Zig core --------------------------------------------------------


def _status_error(status: int, message: str) -> Exception:
    if status == CH_E_OUT_OF_MEMORY:
        return MemoryError(message)
    return NativeCallError(f"{message} (status {status})", status)


class NativeBackend:
    """One immutable ch_tokenizer per encoding and process, built on first use
    under a lock and freed by ffi.gc. Calls release the GIL (cffi ABI mode),
    so threads tokenize in parallel."""

    def __init__(self, name: str, native: NativeLibrary, vocab: bytes) -> None:
        if not native.has(*NATIVE_SYMBOLS):
            raise NativeUnavailable(f"native tokenizer unavailable: {native.status}: {native.reason}")
        self.name = name
        self.native = native  # keeps the library mapped while the handle lives
        ffi, lib = native.ffi, native.lib
        out = ffi.new("ch_tokenizer **")
        status = lib.ch_tok_new(NATIVE_KIND[name], vocab, len(vocab), out)
        if status != 0:
            raise _status_error(status, f"ch_tok_new({name}) failed: {native.last_error()}")
        self._ffi = ffi
        self._lib = lib
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
            raise _status_error(n, f"ch_tok_count failed: {self.native.last_error()}")
        return n

    def encode(self, text: str) -> list[int]:
        data = utf8_text(text)
        if not data:
            return []
        cap = len(data)  # every token covers at least one byte
        out = self._alloc("uint32_t[]", cap)
        n: int = self._lib.ch_tok_encode(self._handle, data, len(data), out, cap)
        if n < 0:
            raise _status_error(n, f"ch_tok_encode failed: {self.native.last_error()}")
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
            if size == CH_E_INVALID_DATA:
                raise KeyError("Invalid token for decoding")
            if size < 0:
                raise _status_error(size, f"ch_tok_decode failed: {self.native.last_error()}")
            if size <= cap:
                data: bytes = self._ffi.buffer(out, size)[:]
                return data
            cap = size  # nothing was written: retry with the size it asked for
        raise NativeCallError("ch_tok_decode asked for a larger buffer twice", CH_E_BUFFER_TOO_SMALL)


def native_split(name: str, text: str) -> list[int]:
    """ch_tok_split alone (no tables needed): the pre-tokenizer's piece ends."""
    native = load()
    if not native.has("ch_tok_split"):
        raise NativeUnavailable(f"native tokenizer unavailable: {native.status}: {native.reason}")
    data = utf8_text(text)
    if not data:
        return []
    ffi = native.ffi
    out = ffi.new_allocator(should_clear_after_alloc=False)("uint32_t[]", len(data))
    n: int = native.lib.ch_tok_split(NATIVE_KIND[check_encoding(name)], data, len(data), out, len(data))
    if n < 0:
        raise _status_error(n, f"ch_tok_split failed: {native.last_error()}")
    ends: list[int] = ffi.unpack(out, n)
    return ends


# ---- one instance per encoding and process ---------------------------------------

_lock = threading.Lock()
_references: dict[str, ReferenceBackend] = {}
_natives: dict[str, NativeBackend] = {}


def reference_backend(name: str) -> ReferenceBackend:
    backend = _references.get(name)
    if backend is None:
        check_encoding(name)
        with _lock:
            backend = _references.get(name)
            if backend is None:
                backend = _references[name] = ReferenceBackend(name, read_vocab(name))
    return backend


def native_backend(name: str) -> NativeBackend:
    """The process's native tables for `name`; raises NativeUnavailable."""
    native = load()
    backend = _natives.get(name)
    # A reloaded library (load(refresh=True)) gets tables of its own.
    if backend is None or backend.native is not native:
        check_encoding(name)
        if not native.has(*NATIVE_SYMBOLS):  # before reading 4 MB of vocab for nothing
            raise NativeUnavailable(f"native tokenizer unavailable: {native.status}: {native.reason}")
        with _lock:
            backend = _natives.get(name)
            if backend is None or backend.native is not native:
                backend = _natives[name] = NativeBackend(name, native, read_vocab(name))
    return backend


def native_available() -> bool:
    return load().has(*NATIVE_SYMBOLS)


def drop_loaded_tables() -> None:
    """Forgets every loaded backend (tests; the native tables are freed by gc)."""
    with _lock:
        _references.clear()
        _natives.clear()
