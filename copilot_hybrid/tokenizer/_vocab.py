"""The two encodings' definitions: names, the vocab files (sha256-checked),
and tiktoken_ext's split pattern and special tokens.

The vocab files are read from copilot_hybrid/data and their sha256 checked
against the official values before either backend parses a byte. The
pattern (`pat_str`) and special tokens come from
tiktoken_ext.openai_public, run offline (see _openai_public_params): they
are written nowhere else in this package.
"""

from __future__ import annotations

import hashlib
import types
from pathlib import Path
from typing import Any, Final

from copilot_hybrid.errors import VocabularyError

ENCODING_NAMES: Final = ("cl100k_base", "o200k_base")
#: The official sha256 of the rank files (the same values tiktoken_ext pins;
#: data/SHA256SUMS repeats them for `sha256sum -c`, a test keeps them equal).
VOCAB_SHA256: Final = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}
DATA_DIR: Final = Path(__file__).resolve().parent.parent / "data"


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


def parse_ranks(data: bytes) -> dict[bytes, int]:
    """A .tiktoken file as tiktoken.load.load_tiktoken_bpe parses it."""
    import base64

    return {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in data.splitlines() if line)}


# ---- encoding parameters from tiktoken_ext, offline ---------------------------


def openai_public_params(name: str, ranks_for: Any) -> dict[str, Any]:
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


def check_pinned_hash(name: str, expected_hash: str | None) -> None:
    if expected_hash != VOCAB_SHA256[name]:
        raise VocabularyError(f"tiktoken_ext pins {expected_hash} for {name}, this package ships {VOCAB_SHA256[name]}")


def special_tokens(name: str) -> dict[str, int]:
    """The special tokens of `name`, from tiktoken_ext.openai_public."""
    return dict(_params_without_ranks(name)["special_tokens"])


def pattern(name: str) -> str:
    """The pre-tokenizer regex (pat_str) of `name`, from tiktoken_ext.openai_public."""
    return str(_params_without_ranks(name)["pat_str"])


_params_cache: dict[str, dict[str, Any]] = {}


def _params_without_ranks(name: str) -> dict[str, Any]:
    check_encoding(name)
    cached = _params_cache.get(name)
    if cached is None:

        def no_ranks(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
            check_pinned_hash(name, expected_hash)
            return {}

        cached = _params_cache.setdefault(name, openai_public_params(name, no_ranks))
    return cached
