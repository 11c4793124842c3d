"""The native pre-tokenizer (ch_tok_split, zig/src/pretokenize.zig) against
its oracle, Python regex 2024.11.6 `findall(pat_str, text)` (identical to
tiktoken 0.14.0's split on Unicode 16.0), for both encodings.

Covers every Unicode scalar value in several contexts, whitespace edge cases
(also past tiktoken's 999,999-character panic limit, where the native answer
is the unbounded regex's), real text (the corpus), random text and random
bytes (invalid UTF-8: each bad byte is one punctuation-like character), plus
linear time on adversarial inputs and the generated Unicode tables being
current.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from copilot_hybrid.tokenizer._reference import TIKTOKEN_PANIC_RUN
from copilot_hybrid.tokenizer._text import utf8_text
from copilot_hybrid.tokenizer.verify import texts
from copilot_hybrid.tokenizer.verify.corpus import load_corpus
from copilot_hybrid.tokenizer.verify.split import reference_split, reference_split_bytes
from tests.support import ENCODINGS, REPO, native_or_skip

Split = Callable[[str, bytes], list[int]]


def test_unicode_tables_are_generated_and_current() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "gen_unicode_tables.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout


@pytest.fixture(scope="module")
def native_split() -> Split:
    """ch_tok_split through the project's loader: (encoding, UTF-8) -> ends."""
    from copilot_hybrid.native.loader import load

    native_or_skip("ch_tok_split")
    native = load()
    ffi, lib = native.ffi, native.lib

    def split(encoding: str, data: bytes) -> list[int]:
        cap = max(1, len(data))
        out = ffi.new("uint32_t[]", cap)
        kind = getattr(lib, f"CH_TOK_{encoding.upper()}")  # the header's constant
        n = int(lib.ch_tok_split(kind, data, len(data), out, cap))
        assert n >= 0, f"ch_tok_split returned {n}: {native.last_error()}"
        ends: list[int] = ffi.unpack(out, n)
        return ends

    return split


def _pieces(data: bytes, ends: list[int]) -> list[bytes]:
    starts = [0, *ends[:-1]]
    return [data[s:e] for s, e in zip(starts, ends, strict=True)]


def assert_same_split(native_split: Split, encoding: str, text: str) -> None:
    data = utf8_text(text)
    got = native_split(encoding, data)
    want = reference_split(encoding, text)
    if got != want:
        # Show the pieces, not 10k offsets.
        pytest.fail(f"{encoding}: {_pieces(data, got)[:40]!r}\n  != {_pieces(data, want)[:40]!r}")


# ---- fixed cases --------------------------------------------------------------------

KNOWN: list[tuple[str, str, list[str]]] = [
    ("cl100k_base", "Hello world, it's 2024!", ["Hello", " world", ",", " it", "'s", " ", "202", "4", "!"]),
    ("o200k_base", "Hello world, it's 2024!", ["Hello", " world", ",", " it's", " ", "202", "4", "!"]),
    ("cl100k_base", "I'LL we'Re 'ſx", ["I", "'LL", " we", "'Re", " '", "ſx"]),
    ("o200k_base", "I'LL we'Re 'ſx", ["I'LL", " we'Re", " '", "ſx"]),
    ("o200k_base", "don'ſ HELLO'S", ["don'ſ", " HELLO'S"]),
    ("o200k_base", "helloWorld HTTPServer", ["hello", "World", " HTTPServer"]),
    ("cl100k_base", "x\n  ", ["x", "\n  "]),
    ("o200k_base", "x\n  ", ["x", "\n", "  "]),
    ("cl100k_base", " //\n/y", [" //\n", "/y"]),
    ("o200k_base", " //\n/y", [" //\n/", "y"]),
    ("o200k_base", "\u0301abc \u0301ABC.", ["\u0301abc", " \u0301", "ABC", "."]),
]


@pytest.mark.parametrize(("encoding", "text", "pieces"), KNOWN)
def test_known_splits(native_split: Split, encoding: str, text: str, pieces: list[str]) -> None:
    data = text.encode("utf-8")
    assert _pieces(data, native_split(encoding, data)) == [p.encode("utf-8") for p in pieces]
    assert reference_split(encoding, text) == native_split(encoding, data)


def test_empty_text(native_split: Split) -> None:
    for encoding in ENCODINGS:
        assert native_split(encoding, b"") == []


# ---- sweeps and corpora ----------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_every_scalar_value_in_context(native_split: Split, encoding: str) -> None:
    # Every 8th chunk keeps the suite fast; `copilot-hybrid verify tokenizer`
    # runs the whole sweep.
    for text in itertools.islice(texts.unicode_sweep_texts(), 0, None, 8):
        assert_same_split(native_split, encoding, text)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_whitespace_edges(native_split: Split, encoding: str) -> None:
    for text in texts.whitespace_edge_texts():
        assert_same_split(native_split, encoding, text)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_whitespace_runs_past_tiktoken_panic_limit(native_split: Split, encoding: str) -> None:
    # tiktoken panics here; the answer is the unbounded regex's.
    n = TIKTOKEN_PANIC_RUN + 200_000
    for text in (" " * n + "x", "\u3000" * n + "x", " " * n, "\t" * n + "\n" + "x"):
        assert_same_split(native_split, encoding, text)


def real_text_sample(total_chars: int = 500_000) -> list[str]:
    """About `total_chars` of the corpus: an equal share per kind (code,
    prose, man pages, gettext...), spread over the kind's documents so that
    every gettext language is in it (`verify tokenizer` runs the whole corpus)."""
    documents = load_corpus().documents
    kinds = sorted({doc.kind for doc in documents})
    share = total_chars // len(kinds)
    sample: list[str] = []
    for kind in kinds:
        texts_of_kind = [doc.text for doc in documents if doc.kind == kind]
        per_document = max(1000, share // len(texts_of_kind))
        sample += [text[:per_document] for text in texts_of_kind[: max(1, share // per_document)]]
    return sample


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_real_text(native_split: Split, encoding: str) -> None:
    for text in real_text_sample():
        assert_same_split(native_split, encoding, text)


# ---- generated ------------------------------------------------------------------------

_TRICKY = [
    *"aAzZ019 \t\n\r\x0b\x0c'sSdDmMtTlLvVeErR.,/!-_\"",
    *"\u017f\u212a\u0301\u0663\u3000\xa0\x85\u2028\u01c5\u02b0\u4e2d\ufffd\U0010ffff",
    *"\U0001f44d\U0001f3fd\u200d\xdf\u0130\u0131\u1e9e\x1c\u180e\u200b",
    "\r\n",
    "'ll",
    "'re",
    "'ve",
    " '",
]
_texts = st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(_TRICKY), max_size=60).map("".join),
    st.lists(
        st.tuples(st.sampled_from(_TRICKY), st.integers(1, 40)).map(lambda t: t[0] * t[1]),
        max_size=6,
    ).map("".join),
)
_bytes_alphabet = [
    *(bytes([b]) for b in b"aAs' \n\r\t1./"),
    b"\xff",
    b"\xe4",
    b"\xb8",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xf0\x9f",
    "\u0301".encode(),
    "\u3000".encode(),
    "\u017f".encode(),
]
_data = st.one_of(
    st.binary(max_size=80),
    st.lists(st.sampled_from(_bytes_alphabet), max_size=60).map(b"".join),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_texts)
def test_random_text(native_split: Split, text: str) -> None:
    for encoding in ENCODINGS:
        assert_same_split(native_split, encoding, text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_data)
def test_random_bytes_including_invalid_utf8(native_split: Split, data: bytes) -> None:
    for encoding in ENCODINGS:
        assert native_split(encoding, data) == reference_split_bytes(encoding, data), data


# ---- linear time -------------------------------------------------------------------------

_MB = 1_000_000
ADVERSARIAL: dict[str, bytes] = {
    "spaces": b" " * _MB,
    "spaces+x": b" " * _MB + b"x",
    "newlines": b"\n" * _MB,
    "space-tab-newline+x": b" \t\n" * (_MB // 3) + b"x",
    "crlf+x": b"\r\n" * (_MB // 2) + b"x",
    "ideographic-spaces+x": "\u3000".encode() * (_MB // 3) + b"x",
    "dots": b"." * _MB,
    "letters": b"a" * _MB,
    "capitals": b"A" * _MB,
    "digits": b"7" * _MB,
    "cjk": "中".encode() * (_MB // 3),
    "emoji": "😀".encode() * (_MB // 4),
    "mark+capitals": "\u0301".encode() + b"A" * _MB,
    "titlecase": " \u01c5".encode() * (_MB // 3),
    "apostrophes": b"'" * _MB,
    "invalid-bytes": b"\xff" * _MB,
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_adversarial_input_splits_completely(native_split: Split, name: str) -> None:
    """Megabyte runs split into pieces that cover the input exactly. How long
    they take is measured by `copilot-hybrid bench tokenizer`, not here."""
    data = ADVERSARIAL[name]
    for encoding in ENCODINGS:
        ends = native_split(encoding, data)
        assert ends and ends[-1] == len(data)
        assert all(a < b for a, b in itertools.pairwise(ends))
