"""Token counting for Copilot models: the public API.

    from copilot_hybrid.tokenizer import get_encoding, encoding_for_model

    enc = encoding_for_model("gpt-4.1", tokenizer="o200k_base")
    enc.count("Hello")            # -> 1
    enc.encode("Hello")           # -> [13225]
    enc.decode([13225])           # -> "Hello"
    enc.count_batch(["a", "b"])   # threads, GIL released

Special-token text ("<|endoftext|>") is ordinary text, as in tiktoken's
encode_ordinary; see docs/tokenizer.md for this and the other decisions.
The implementation lives in copilot_hybrid/features/tokenizer_*.py.
"""

from __future__ import annotations

from copilot_hybrid.errors import NativeCallError, NativeUnavailable, VocabularyError
from copilot_hybrid.features.tokenizer_api import (
    BACKENDS,
    Backend,
    Encoding,
    encoding_for_model,
    encoding_name_for_model,
    get_encoding,
)
from copilot_hybrid.features.tokenizer_backends import ENCODING_NAMES

__all__ = [
    "BACKENDS",
    "ENCODING_NAMES",
    "Backend",
    "Encoding",
    "NativeCallError",
    "NativeUnavailable",
    "VocabularyError",
    "encoding_for_model",
    "encoding_name_for_model",
    "get_encoding",
]
