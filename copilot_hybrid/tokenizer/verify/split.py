"""The oracle of the pre-tokenizer (the regex split before BPE).

Python `regex` 2024.11.6 `findall(pat_str, text)`, with tiktoken_ext's own
pat_str (_vocab.pattern): it has the same Unicode 16.0 tables as tiktoken
0.14.0 (fancy-regex / regex-syntax 0.8.11) and gives the same pieces on
every code point. Newer `regex` releases move to newer Unicode and differ on
the newly assigned characters, so the oracle refuses any other version.

Splits are compared as lists of end offsets in UTF-8 bytes, the shape of the
native `ch_tok_split`. `regex` is imported on first use.
"""

from __future__ import annotations

import functools
import itertools
from importlib import metadata
from typing import Any, Final

from copilot_hybrid.tokenizer._text import clean_text
from copilot_hybrid.tokenizer._vocab import pattern

REFERENCE_REGEX_VERSION: Final = "2024.11.6"


def oracle_available() -> bool:
    """Whether the split oracle (regex 2024.11.6) is installed."""
    try:
        return metadata.version("regex") == REFERENCE_REGEX_VERSION
    except metadata.PackageNotFoundError:
        return False


@functools.cache
def _compiled(encoding_name: str) -> Any:
    pat_str = pattern(encoding_name)  # ValueError for an unknown encoding
    found = metadata.version("regex")
    if found != REFERENCE_REGEX_VERSION:
        # Another Unicode version would report false mismatches.
        raise RuntimeError(f"reference split needs regex=={REFERENCE_REGEX_VERSION} (Unicode 16.0), found {found}")
    import regex

    return regex.compile(pat_str)


def _ends(pieces: list[str], total_chars: int, errors: str) -> list[int]:
    # Matches never overlap, so equal total length means they tile the text.
    if sum(map(len, pieces)) != total_chars:
        raise AssertionError("reference pieces do not cover the text")
    encode = functools.partial(str.encode, encoding="utf-8", errors=errors)
    return list(itertools.accumulate(map(len, map(encode, pieces))))


def reference_split(encoding_name: str, text: str) -> list[int]:
    """End offsets (UTF-8 bytes) of the pre-tokenizer pieces of `text`.

    Lone surrogates are first replaced as tiktoken does; offsets refer to the
    UTF-8 encoding of that cleaned text.
    """
    text = clean_text(text)
    return _ends(_compiled(encoding_name).findall(text), len(text), "strict")


def reference_split_bytes(encoding_name: str, data: bytes) -> list[int]:
    """Like reference_split, for arbitrary bytes under the native rule.

    The native splitter treats each byte that does not start a well-formed
    UTF-8 sequence as one character that is no letter, number or space.
    surrogateescape decodes each such byte to one lone surrogate (U+DC80..),
    which the regex classes treat exactly that way, and encodes it back to
    one byte.
    """
    text = data.decode("utf-8", "surrogateescape")
    return _ends(_compiled(encoding_name).findall(text), len(text), "surrogateescape")
