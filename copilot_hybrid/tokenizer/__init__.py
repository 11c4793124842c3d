"""Token counting for Copilot models: the public API.

    from copilot_hybrid.tokenizer import get_encoding, encoding_for_model

    enc = encoding_for_model("gpt-4.1", tokenizer="o200k_base")
    enc.count("Hello")            # -> 1
    enc.encode("Hello")           # -> [13225]
    enc.decode([13225])           # -> "Hello"
    enc.count_batch(["a", "b"])   # threads, GIL released

Special-token text ("<|endoftext|>") is ordinary text, as in tiktoken's
encode_ordinary; see docs/tokenizer.md for this and the other decisions.

Everything else in this package is private:
  _encoding.py   Encoding, get_encoding, encoding_for_model, batches
  _feature.py    the migratable feature `tokenizer` (FEATURE) and its rollout wrapper
  _reference.py  tiktoken 0.14, the reference (and its whitespace panic limit)
  _native.py     the Zig core's ch_tok_* binding and its smoke calls
  _vocab.py      encoding names, vocab files + sha256, tiktoken_ext's pattern and special tokens
  _text.py       the one text rule of both backends (lone surrogates)
  verify/        split oracle, generated texts, corpus, bench
"""

from __future__ import annotations

from copilot_hybrid.errors import NativeCallError, NativeUnavailable, VocabularyError
from copilot_hybrid.tokenizer._encoding import (
    BACKENDS,
    Backend,
    Encoding,
    encoding_for_model,
    encoding_name_for_model,
    get_encoding,
)
from copilot_hybrid.tokenizer._feature import FEATURE
from copilot_hybrid.tokenizer._vocab import ENCODING_NAMES

__all__ = [
    "BACKENDS",
    "ENCODING_NAMES",
    "FEATURE",
    "Backend",
    "Encoding",
    "NativeCallError",
    "NativeUnavailable",
    "VocabularyError",
    "encoding_for_model",
    "encoding_name_for_model",
    "get_encoding",
]
