"""Verify cases for the tokenizer's pre-tokenizer (the regex split before BPE).

The oracle is Python `regex` 2024.11.6 `finditer(pat_str, text)`: it has the
same Unicode 16.0 tables as tiktoken 0.14.0 (fancy-regex / regex-syntax
0.8.11) and gives the same pieces on every code point. Newer `regex` releases
move to newer Unicode and differ on the newly assigned characters, so the
reference refuses any other version.

Splits are compared as lists of end offsets in UTF-8 bytes, the shape of the
native `ch_tok_split`. Everything here is pure; `regex` is imported lazily so
that the package imports without the test-only dependency.
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

# tiktoken's lone-surrogate rule lives in one place, shared with both backends.
from copilot_hybrid.features.tokenizer_backends import clean_text

__all__ = [
    "CL100K_PATTERN",
    "ENCODINGS",
    "O200K_PATTERN",
    "REFERENCE_REGEX_VERSION",
    "WHITESPACE_PANIC_RUN",
    "local_text_samples",
    "reference_split",
    "reference_split_bytes",
    "unicode_sweep_texts",
    "whitespace_edge_texts",
]

# pat_str of tiktoken_ext/openai_public.py, tiktoken 0.14.0.
CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+"""
    r"""| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
ENCODINGS: dict[str, str] = {"cl100k_base": CL100K_PATTERN, "o200k_base": O200K_PATTERN}

REFERENCE_REGEX_VERSION = "2024.11.6"

# tiktoken 0.14.0 panics (fancy-regex StackOverflow) on a whitespace run of
# this many characters followed by a non-space; comparisons with tiktoken
# itself must stay below it. The native splitter has no such limit.
WHITESPACE_PANIC_RUN = 999_999


@functools.cache
def _compiled(encoding_name: str) -> Any:
    try:
        pattern = ENCODINGS[encoding_name]
    except KeyError:
        raise ValueError(f"unknown encoding {encoding_name!r}") from None
    found = metadata.version("regex")
    if found != REFERENCE_REGEX_VERSION:
        # Another Unicode version would report false mismatches.
        raise RuntimeError(f"reference split needs regex=={REFERENCE_REGEX_VERSION} (Unicode 16.0), found {found}")
    import regex

    return regex.compile(pattern)


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


# ---- the code-point sweep ---------------------------------------------------

_SWEEP_CONTEXTS: tuple[tuple[str, str], ...] = (
    ("a", "b"),  # lowercase neighbours
    ("A", "B"),  # uppercase neighbours
    ("Ab", "cD"),  # mixed case: o200k's upper/lower classes
    ("1", "23"),  # digits
    (" ", " "),  # space prefix
    ("'", "'s "),  # apostrophe before, contraction after
    (".", ","),  # punctuation
    ("", "\u0301 "),  # a following combining mark
    ("\n", "\r\n"),  # newlines
)


def _scalar_values() -> Iterator[int]:
    return itertools.chain(range(0xD800), range(0xE000, 0x110000))


def _sweep_segment(ch: str) -> str:
    parts = [f"{before}{ch}{after}" for before, after in _SWEEP_CONTEXTS]
    parts.append(ch * 3)  # runs
    return "".join(parts)


def unicode_sweep_texts(chunk_code_points: int = 128) -> Iterator[str]:
    """Every Unicode scalar value in several contexts, a few KB per string."""
    values = _scalar_values()
    while batch := list(itertools.islice(values, chunk_code_points)):
        yield "".join(_sweep_segment(chr(cp)) for cp in batch)


def whitespace_edge_texts(long_run: int = 200_000) -> Iterator[str]:
    """Whitespace runs the split patterns treat specially.

    Covers \\s++$ / \\s+(?!\\S) / \\s*[\\r\\n] at the end of the text and before
    every kind of follower, CRLF and lone CR, Unicode spaces, and long runs
    (up to `long_run` characters, kept below tiktoken's panic limit).
    """
    if long_run >= WHITESPACE_PANIC_RUN:
        raise ValueError("long_run must stay below tiktoken's panic limit")
    spaces = [" ", "\t", "\n", "\r", "\r\n", "\x0b", "\x0c", "\x85", "\xa0", "\u2028", "\u3000"]
    followers = ["", "x", "X", "1", ".", "'s", "'", "\u0301", "中", "/", "\n"]
    for run in itertools.chain(
        itertools.product(spaces, repeat=2),
        ((a, b, c) for a in spaces for b in spaces for c in (" ", "\n", "\r")),
    ):
        body = "".join(run)
        for follower in followers:
            yield body + follower
            yield "a" + body + follower
            yield "a" + body + body + follower
    for n in (1, 2, 3, 10, 1000, long_run):
        for unit in (" ", "\n", "\r\n", " \t\n", "\u3000", "\t", " \r", "\n "):
            body = unit * max(1, n // len(unit))
            yield body
            yield body + "x"
            yield "x" + body + "!"
            yield body + " x"
            yield body + "\n"


# ---- real text -----------------------------------------------------------------


def _text_files() -> Iterator[Path]:
    import sysconfig

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    yield from sorted(stdlib.glob("*.py"))
    yield from sorted(stdlib.glob("test/cjkencodings/*-utf8.txt"))
    doc = Path("/usr/share/doc")
    if doc.is_dir():
        for root, _dirs, files in sorted(os.walk(doc)):
            for name in sorted(files):
                if name in ("copyright", "changelog", "README", "NEWS") or name.endswith((".txt", ".md")):
                    yield Path(root, name)


def _mo_strings(path: Path) -> list[str]:
    """The translated strings of a gettext .mo file (UTF-8 catalogs only)."""
    import struct

    try:
        data = path.read_bytes()
    except OSError:
        return []
    if len(data) < 20:
        return []
    order = {b"\xde\x12\x04\x95": "<", b"\x95\x04\x12\xde": ">"}.get(data[:4])
    if order is None:
        return []
    count, _originals, table = struct.unpack_from(order + "3I", data, 8)
    out: list[str] = []
    for i in range(count):
        entry = table + 8 * i
        if entry + 8 > len(data):
            break
        length, offset = struct.unpack_from(order + "2I", data, entry)
        raw = data[offset : offset + length]
        try:
            message = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        # Entry 0 is the catalog header; plural forms are NUL-separated.
        if i > 0 or not message.startswith("Project-Id-Version"):
            out.extend(m for m in message.split("\0") if m)
    return out


def _mo_locales() -> list[list[Path]]:
    locale = Path("/usr/share/locale")
    if not locale.is_dir():
        return []
    found = (sorted(d.glob("LC_MESSAGES/*.mo")) for d in sorted(locale.iterdir()))
    return [files for files in found if files]


def _translations(budget: int) -> Iterator[str]:
    # An equal share per locale, so every installed language is represented.
    locales = _mo_locales()
    share = budget // max(1, len(locales))
    for files in locales:
        strings: list[str] = []
        used = 0
        for path in files:
            for message in _mo_strings(path):
                if used >= share:
                    break
                strings.append(message)
                used += len(message.encode("utf-8"))
        yield from _chunks(strings)


def local_text_samples(max_bytes: int = 4_000_000, doc_bytes: int = 64_000) -> Iterator[str]:
    """Real text found on this machine, up to about `max_bytes` of UTF-8.

    Python stdlib sources, /usr/share/doc prose and gettext translations in
    whatever languages are installed, in documents of at most `doc_bytes`.
    Deterministic for a given machine.
    """
    budgets = {"files": max_bytes * 2 // 3, "mo": max_bytes - max_bytes * 2 // 3}
    used = 0
    for path in _text_files():
        if used >= budgets["files"]:
            break
        try:
            data = path.read_bytes()[:doc_bytes]
        except OSError:
            continue
        text = data.decode("utf-8", "ignore")
        if text:
            used += len(data)
            yield text
    yield from _translations(budgets["mo"])


def _chunks(strings: Iterable[str], size: int = 16_000) -> Iterator[str]:
    buf: list[str] = []
    length = 0
    for s in strings:
        buf.append(s)
        length += len(s)
        if length >= size:
            yield "\n".join(buf)
            buf, length = [], 0
    if buf:
        yield "\n".join(buf)
