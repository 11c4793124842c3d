"""The reference backend: tiktoken 0.14 built offline from the checked vocab
files, with ordinary-text semantics (see _text.py)."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Final

from copilot_hybrid.tokenizer._text import clean_text
from copilot_hybrid.tokenizer._vocab import (
    check_encoding,
    check_pinned_hash,
    openai_public_params,
    parse_ranks,
    read_vocab,
)

#: tiktoken 0.14 panics (pyo3's PanicException, a BaseException) on a
#: whitespace run of this many characters followed by a non-space (in o200k
#: also at the end of the text). Verify's panic-run texts sit on it, and the
#: other long texts stay below it.
TIKTOKEN_PANIC_RUN: Final = 999_999
# The reference routes texts with a run from 90 % of the limit on around
# tiktoken's regex (see ReferenceBackend.encode): the limit is a regex
# engine's backtrack budget, not a documented constant, so keep a margin.
# Python's \s is a superset of Unicode White_Space (it adds U+001C..U+001F),
# so this finds every run tiktoken could choke on; the lookbehind makes the
# scan linear (a run is tried from its first character only).
_ROUTE_AROUND_RUN: Final = TIKTOKEN_PANIC_RUN * 9 // 10
_LONG_WHITESPACE = re.compile(rf"(?<!\s)\s{{{_ROUTE_AROUND_RUN}}}")


class ReferenceBackend:
    """tiktoken.Encoding built from the checked files, ordinary-text semantics."""

    def __init__(self, name: str, vocab: bytes) -> None:
        import tiktoken

        ranks = parse_ranks(vocab)

        def local_ranks(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
            check_pinned_hash(name, expected_hash)
            return ranks

        params = openai_public_params(name, local_ranks)
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
        if len(text) >= _ROUTE_AROUND_RUN and _LONG_WHITESPACE.search(text):
            # tiktoken's regex would panic: split with the `regex` module
            # (same pattern, same Unicode tables at regex 2024.11.6) and run
            # tiktoken's own BPE on each piece.
            result: list[int] = self.encoding._encode_only_native_bpe(text)
            return result
        ids: list[int] = self.encoding.encode_ordinary(text)
        return ids

    def count(self, text: str) -> int:
        text = clean_text(text)
        if len(text) >= _ROUTE_AROUND_RUN and _LONG_WHITESPACE.search(text):
            return len(self.encoding._encode_only_native_bpe(text))
        # tiktoken has no count: its u32 buffer (what encode_to_numpy reads)
        # costs 4 bytes a token, a list of ints ~36. With no special token
        # allowed, encode is encode_ordinary.
        buffer = self.encoding._core_bpe.encode_to_tiktoken_buffer(text, set())
        return memoryview(buffer).nbytes // 4

    def decode_bytes(self, tokens: Sequence[int]) -> bytes:
        data: bytes = self.encoding.decode_bytes(tokens)
        return data


_lock = threading.Lock()
_backends: dict[str, ReferenceBackend] = {}


def reference_backend(name: str) -> ReferenceBackend:
    """The process's tiktoken tables for `name`, built on first use."""
    backend = _backends.get(name)
    if backend is None:
        check_encoding(name)
        with _lock:
            backend = _backends.get(name)
            if backend is None:
                backend = _backends[name] = ReferenceBackend(name, read_vocab(name))
    return backend


def drop_tables() -> None:
    with _lock:
        _backends.clear()
