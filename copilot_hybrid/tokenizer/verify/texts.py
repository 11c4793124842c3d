"""Generated inputs for tokenizer verify and tests: hand-picked edge texts,
contractions, whitespace runs (below and at tiktoken's panic limit), the
sweep of every Unicode scalar value, and seeded random strings. Pure
functions, no I/O (real text is the corpus, corpus.py)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

from copilot_hybrid.tokenizer._reference import TIKTOKEN_PANIC_RUN

CONTRACTIONS = ("s", "t", "re", "ve", "m", "ll", "d")


def _case_variants(word: str) -> Iterator[str]:
    """Every upper/lower combination of `word` ("ll" -> ll, lL, Ll, LL)."""
    for flags in itertools.product((False, True), repeat=len(word)):
        yield "".join(c.upper() if up else c for c, up in zip(word, flags, strict=True))


def contraction_texts() -> Iterator[str]:
    for suffix in CONTRACTIONS:
        for variant in _case_variants(suffix):
            for apostrophe in ("'", "\u2019"):
                yield f"I{apostrophe}{variant}"
                yield f"we{apostrophe}{variant} go"
                yield f"HELLO{apostrophe}{variant}."
                yield f" {apostrophe}{variant}"
                yield f"{apostrophe}{variant}x"
                yield f"12{apostrophe}{variant}"
    # Letters whose case folding reaches the ASCII ones: long s folds to s,
    # the Kelvin sign to k (no contraction), dotted capital I to i.
    for odd in ("\u017f", "\u212a", "\u0130", "\u0131"):
        yield f"don'{odd}"
        yield f"'{odd}"
        yield f"DON'{odd}T"


EDGE_TEXTS: tuple[str, ...] = (
    "",
    " ",
    "a",
    "Hello world",
    "Hello, world! It's 2024 and we're testing: don't, won't, can't, I'm, you'll, they've, he'd.",
    # newlines
    "line one\r\nline two\r\n\r\n",
    "lone\rcarriage\rreturns\r",
    "\r\n",
    "\n\r",
    "\r\r\n\n",
    "x\r y",
    "mixed\r\n\n\r\n  \r\n\tindent",
    "trailing spaces   ",
    "trailing newline\n",
    "   leading spaces",
    "\t\ttabs\tand\tspaces  \t ",
    "a \n b \n\n c",
    # digits
    "0",
    "1234567890",
    "3.14159265358979323846",
    "1,000,000 and 1_000_000 and 1e-10 and -42 and 0x7fff and 007",
    "١٢٣٤٥٦٧٨٩٠ ۱۲۳ ०१२३४ ๑๒๓ 一二三 ①②③ ⅠⅡⅢ ¹²³ ½",
    "12a34b567c8901d",
    "99999999999999999999999999999999999999999999999999",
    # emoji: ZWJ sequences, skin tones, flags, keycaps, variation selectors
    "👨‍👩‍👧‍👦 family",
    "👍🏻👍🏼👍🏽👍🏾👍🏿",
    "🧑🏽‍💻 and 👩🏿‍🔬 and 🏳️‍🌈 and 🏴‍☠️",
    "🇺🇸🇫🇷🇯🇵 flags",
    "#️⃣ 1️⃣ ❤️ ☺︎",
    "😀😃😄😁😆😅🤣😂",
    # CJK and other scripts
    "中文字符测试，这是一个句子。",
    "日本語のテキスト、ひらがなとカタカナ。",
    "한국어 텍스트입니다.",
    "Ελληνικά κείμενο ΚΕΦΑΛΑΙΑ",
    "Русский текст, ПРОПИСНЫЕ буквы.",
    "עברית טקסט",
    "العربية نص مع تشكيل: مَرْحَبًا",
    "हिन्दी पाठ",
    "ภาษาไทยไม่มีช่องว่าง",
    "ǅemal ǈudevit ǋ titlecase",
    "ſtraße STRASSE ß ẞ",
    # combining marks
    "e\u0301 a\u0300 o\u0308 n\u0303",
    "\u0301\u0302\u0303 marks first",
    "Z\u0351\u0364\u036b\u0313a\u0302\u0342l\u0350\u036fg\u033f\u0344o zalgo",
    "A\u0301B\u0302C",
    # Unicode spaces
    "a\u00a0b\u2009c\u3000d\u202fe\u205ff\u1680g",
    "\u2028line sep\u2029para sep\u0085next line",
    "\x0b\x0c vertical tab and form feed",
    "\u200b\u200c\u200d\ufeff zero widths",
    "\u180e mongolian vowel separator",
    # replacement char, noncharacters, the last scalar value, private use
    "\ufffd\ufffe\uffff",
    "\U0010ffff\U000f0000\ue000",
    "\x00\x01\x1f\x7f control",
    # lone surrogates (tiktoken: U+FFFD), and a pair stored as two code points
    "\ud800",
    "a\udfffb",
    "\udc00\ud800",
    "\ud83d\ude00",
    "x\ud83d\ude00y \ud83d",
    # special-token text is ordinary text
    "<|endoftext|>",
    "before <|endoftext|> after <|endofprompt|>",
    "<|fim_prefix|><|fim_middle|><|fim_suffix|>",
    "<|endoftext",
    "<|im_start|>user\nhello<|im_end|>",
    # punctuation and code
    "...!!!???---___===+++",
    "a//b//c /// ////\n/\n",
    'def f(x):\n    return {"a": [1, 2, 3]}\n',
    "<html><body class='x'>Hi &amp; bye</body></html>",
    '{"role":"user","content":"Hi \\u00e9\\n"}',
    "https://example.com/path?q=1&r=2#frag",
    "C:\\Users\\name\\file.txt",
)


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


# ---- whitespace runs ---------------------------------------------------------


def whitespace_edge_texts(long_run: int = 200_000) -> Iterator[str]:
    """Whitespace runs the split patterns treat specially.

    Covers \\s++$ / \\s+(?!\\S) / \\s*[\\r\\n] at the end of the text and before
    every kind of follower, CRLF and lone CR, Unicode spaces, and long runs
    (up to `long_run` characters, kept below tiktoken's panic limit).
    """
    if long_run >= TIKTOKEN_PANIC_RUN:
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


def long_run_texts(length: int = 200_000) -> Iterator[tuple[str, str]]:
    """(label, text) of long single-character runs below tiktoken's limit."""
    for label, unit in (
        ("letters", "a"),
        ("cjk", "中"),
        ("emoji", "😀"),
        ("digits", "7"),
        ("dots", "."),
        ("newlines", "\n"),
        ("crlf", "\r\n"),
        ("spaces", " "),
        ("ideographic spaces", "\u3000"),
    ):
        yield label, unit * (length // len(unit))
        yield label + " + word", unit * (length // len(unit)) + " word"


def panic_run_texts() -> Iterator[tuple[str, str]]:
    """Whitespace runs at and above tiktoken's panic limit. The reference
    tokenizes them around tiktoken's regex; native must give the same."""
    n = TIKTOKEN_PANIC_RUN
    yield "999,999 spaces + x", " " * n + "x"
    yield "999,999 spaces at the end", "x" + " " * n
    yield "1,000,000 tabs + word", "\t" * 1_000_000 + "word"


# ---- seeded random strings --------------------------------------------------------

_POOLS: tuple[tuple[float, str], ...] = (
    (20, "abcdefghijklmnopqrstuvwxyz"),
    (6, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    (6, "0123456789"),
    (10, "     \n\n\t\r'"),
    (6, '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'),
    (3, "\u00a0\u3000\u2009\u2028\x0b\x0c\x85"),
    (5, "éèêëàâäôöüçñßſ ÆØÅæøå"),
    (5, "中文字符日本語한국어ひらがなカタカナ"),
    (4, "Ελληνικάρусскийעבריתالعربيةहिन्दीไทย"),
    (3, "\u0300\u0301\u0308\u0327\u0651\u093f\u0e31\u200d\ufe0f"),
    (3, "😀👍🏽👨\u200d👩🇺🇸❤️🧑🏿\u200d💻"),
    (2, "ǅǈǋᾈᾉ\u02b0\u02b1\u3005"),
    (1, "\ufffd\uffff\U0010ffff\ue000"),
)
_POOL_WEIGHTS = [w for w, _ in _POOLS]


def _random_char(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.04:  # any code point, surrogates included (rarely)
        cp = rng.randrange(0x110000)
        return chr(cp)
    if roll < 0.06:  # any code point of the BMP's assigned-heavy range
        return chr(rng.randrange(0x20, 0x3400))
    pool = rng.choices(_POOLS, weights=_POOL_WEIGHTS)[0][1]
    return pool[rng.randrange(len(pool))]


def random_unicode(rng: random.Random, max_len: int = 300) -> str:
    n = rng.randrange(max_len + 1)
    parts: list[str] = []
    while len(parts) < n:
        roll = rng.random()
        if roll < 0.05:  # a contraction
            parts.append(
                "'" + rng.choice(CONTRACTIONS).upper() if rng.random() < 0.3 else "'" + rng.choice(CONTRACTIONS)
            )
        elif roll < 0.08:  # a whitespace run
            parts.append(rng.choice(" \n\t\r\u3000") * rng.randrange(1, 40))
        elif roll < 0.10:  # a digit run
            parts.append("".join(rng.choice("0123456789") for _ in range(rng.randrange(1, 12))))
        else:
            parts.append(_random_char(rng))
    return "".join(parts)


def random_bytes_text(rng: random.Random, max_len: int = 400) -> str:
    """Random bytes read as UTF-8 with errors="replace" (what a proxy gets
    from a client sending garbage), often around valid multibyte text."""
    data = bytearray(rng.randbytes(rng.randrange(max_len + 1)))
    if data and rng.random() < 0.5:
        at = rng.randrange(len(data))
        data[at:at] = "héllo 中文 😀 it's".encode()
    return bytes(data).decode("utf-8", "replace")


def random_slice(rng: random.Random, documents: list[str], max_len: int = 2000) -> str:
    """A random cut of a real document: starts and ends anywhere."""
    doc = documents[rng.randrange(len(documents))]
    start = rng.randrange(len(doc) + 1)
    return doc[start : start + rng.randrange(max_len + 1)]


def random_texts(count: int, seed: int, documents: list[str] | None = None) -> Iterator[tuple[str, str]]:
    """`count` (label, text) pairs: random Unicode, random bytes and slices
    of real documents, each reproducible from (seed, index)."""
    for index in range(count):
        rng = random.Random(f"tokenizer:{seed}:{index}")  # noqa: S311 - seeded test material, not secrets
        roll = rng.random()
        if roll < 0.45:
            yield f"random unicode #{index}", random_unicode(rng)
        elif roll < 0.75 or not documents:
            yield f"random bytes #{index}", random_bytes_text(rng)
        else:
            yield f"corpus slice #{index}", random_slice(rng, documents)
