"""The tokenizer API the rest of the code calls (re-exported by
copilot_hybrid.tokenizer):

    enc = get_encoding("o200k_base")                      # rollout decides
    enc = get_encoding("o200k_base", backend="native")    # forced
    enc = encoding_for_model("gpt-4", tokenizer=model_capabilities_tokenizer)
    enc.count(text); enc.encode(text); enc.decode(ids)
    enc.count_batch(texts); enc.encode_batch(texts)       # thread pool

With backend "auto" (the default) every count/encode call goes through the
rollout layer (feature `tokenizer`: off, shadow, percent:N, on), which falls
back to the reference when native fails. decode uses native only when the
feature is `on`, and the reference otherwise.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Final, Literal, TypeVar

from copilot_hybrid.errors import NativeCallError, NativeUnavailable
from copilot_hybrid.native.loader import load
from copilot_hybrid.tokenizer import _native, _reference
from copilot_hybrid.tokenizer._feature import TokenizerInput, tokenize
from copilot_hybrid.tokenizer._native import native_available, native_backend
from copilot_hybrid.tokenizer._reference import reference_backend
from copilot_hybrid.tokenizer._text import check_text
from copilot_hybrid.tokenizer._vocab import ENCODING_NAMES, check_encoding, special_tokens

Backend = Literal["auto", "native", "reference"]
BACKENDS: Final = ("auto", "native", "reference")
T = TypeVar("T")

#: Below this many characters in a batch, threads cost more than they save.
PARALLEL_MIN_CHARS: Final = 16_384


class Encoding:
    """One encoding behind one backend; thread-safe, cheap to share."""

    def __init__(self, name: str, backend: Backend = "auto") -> None:
        self.name = check_encoding(name)
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
        self.backend: Backend = backend

    def __repr__(self) -> str:
        return f"<Encoding {self.name!r} backend={self.backend}>"

    @property
    def special_tokens(self) -> dict[str, int]:
        return special_tokens(self.name)

    # The backends check the type themselves; auto checks it before the
    # rollout layer, where a TypeError would count as a native failure.

    def count(self, text: str) -> int:
        if self.backend == "native":
            return native_backend(self.name).count(text)
        if self.backend == "reference":
            return reference_backend(self.name).count(text)
        result: int = tokenize(TokenizerInput(self.name, "count", check_text(text)))
        return result

    def encode(self, text: str) -> list[int]:
        if self.backend == "native":
            return native_backend(self.name).encode(text)
        if self.backend == "reference":
            return reference_backend(self.name).encode(text)
        result: list[int] = tokenize(TokenizerInput(self.name, "encode", check_text(text)))
        return result

    def decode_bytes(self, tokens: Sequence[int]) -> bytes:
        if self.backend == "native":
            return native_backend(self.name).decode_bytes(tokens)
        if self.backend == "auto" and tokenize.answers_natively():
            try:
                return native_backend(self.name).decode_bytes(tokens)
            except (NativeUnavailable, NativeCallError, MemoryError):
                pass  # the reference answers instead, as for count and encode
        return reference_backend(self.name).decode_bytes(tokens)

    def decode(self, tokens: Sequence[int]) -> str:
        """The text of `tokens`; bytes that are not UTF-8 become U+FFFD
        (tiktoken's default). Special ids give their text."""
        return self.decode_bytes(tokens).decode("utf-8", "replace")

    def count_batch(self, texts: Sequence[str], *, num_threads: int | None = None) -> list[int]:
        return _parallel_map(self.count, texts, num_threads)

    def encode_batch(self, texts: Sequence[str], *, num_threads: int | None = None) -> list[list[int]]:
        return _parallel_map(self.encode, texts, num_threads)


_cache: dict[tuple[str, str], Encoding] = {}
_cache_lock = threading.Lock()


def get_encoding(name: str, backend: Backend | None = None) -> Encoding:
    """The encoding `name` (cl100k_base or o200k_base).

    backend None/"auto": the rollout mode of feature `tokenizer` picks per
    call; "native" or "reference" forces one (native raises
    NativeUnavailable when the library cannot serve it). Tables load on
    first use, once per process.
    """
    chosen: Backend = backend or "auto"
    key = (name, chosen)
    encoding = _cache.get(key)
    if encoding is None:
        encoding = Encoding(name, chosen)
        if chosen == "native" and not native_available():
            native = load()
            raise NativeUnavailable(f"native tokenizer unavailable: {native.status}: {native.reason}")
        with _cache_lock:
            encoding = _cache.setdefault(key, encoding)
    elif chosen == "native" and not native_available():
        native = load()
        raise NativeUnavailable(f"native tokenizer unavailable: {native.status}: {native.reason}")
    return encoding


# Copilot model ids that use cl100k_base; everything else (gpt-4o, gpt-4.1,
# gpt-5, o1/o3, claude-*, gemini-*, unknown) counts with o200k_base.
_CL100K_MODELS: Final = frozenset({"gpt-4", "gpt-3.5", "gpt-3.5-turbo", "gpt-35-turbo", "text-embedding-ada-002"})
_CL100K_PREFIXES: Final = ("gpt-4-", "gpt-3.5-", "gpt-35-", "text-embedding-3-", "text-embedding-ada-")


def encoding_name_for_model(model_id: str, *, tokenizer: str | None = None) -> str:
    """The encoding name for a Copilot model id. `tokenizer` (the models
    list's capabilities.tokenizer) wins when it names a known encoding."""
    if tokenizer in ENCODING_NAMES:
        return str(tokenizer)
    model = model_id.strip().lower()
    if model in _CL100K_MODELS or model.startswith(_CL100K_PREFIXES):
        return "cl100k_base"
    return "o200k_base"


def encoding_for_model(model_id: str, *, tokenizer: str | None = None, backend: Backend | None = None) -> Encoding:
    return get_encoding(encoding_name_for_model(model_id, tokenizer=tokenizer), backend)


def drop_loaded_tables() -> None:
    """Forgets every loaded backend (tests; the native tables are freed by gc)."""
    _reference.drop_tables()
    _native.drop_tables()


# ---- batches on a shared thread pool ---------------------------------------------

_pool: ThreadPoolExecutor | None = None
_pool_pid = 0
_pool_lock = threading.Lock()


def _workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def _get_pool() -> ThreadPoolExecutor:
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():  # a forked child needs its own threads
            _pool = ThreadPoolExecutor(_workers(), thread_name_prefix="copilot-hybrid-tokenizer")
            _pool_pid = os.getpid()
        return _pool


def _chunks(texts: list[str], parts: int) -> list[list[str]]:
    """Contiguous slices of about equal total length, order kept."""
    total = sum(map(len, texts))
    target = total / parts
    chunks: list[list[str]] = [[]]
    size = 0
    for text in texts:
        if size >= target and len(chunks) < parts:
            chunks.append([])
            size = 0
        chunks[-1].append(text)
        size += len(text)
    return chunks


def _parallel_map(call: Callable[[str], T], texts: Sequence[str], num_threads: int | None) -> list[T]:
    items = list(texts)
    for text in items:
        check_text(text)
    workers = min(_workers() if num_threads is None else max(1, num_threads), len(items))
    if workers <= 1 or sum(map(len, items)) < PARALLEL_MIN_CHARS:
        return [call(text) for text in items]

    # Native and tiktoken both release the GIL while they tokenize, so one
    # task per worker over a contiguous slice keeps every core busy.
    def run(chunk: list[str]) -> list[T]:
        return [call(text) for text in chunk]

    pool = _get_pool()
    futures = [pool.submit(run, chunk) for chunk in _chunks(items, workers)]
    results: list[T] = []
    for future in futures:
        results.extend(future.result())
    return results
