"""tokenizer: every behaviour against both backends (fixture `tok_backend`),
compared with tiktoken 0.14 built independently (fixture `oracle`), plus the
API contract, the rollout wiring, a reduced verify, threads, memory, the CLI
and the vocabulary checks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from copilot_hybrid.tokenizer import (
    Encoding,
    NativeUnavailable,
    VocabularyError,
    _encoding,
    _native,
    _text,
    _vocab,
    encoding_for_model,
    encoding_name_for_model,
    get_encoding,
)
from copilot_hybrid.tokenizer._feature import FEATURE, TokenizerFeature, TokenizerInput
from copilot_hybrid.tokenizer._reference import TIKTOKEN_PANIC_RUN
from copilot_hybrid.tokenizer.verify.corpus import load_corpus
from copilot_hybrid.tokenizer.verify.texts import EDGE_TEXTS, contraction_texts
from tests.support import ENCODINGS, REPO, oracle_for, tokenizer_native_or_skip

# Lone surrogates become U+FFFD (anchors, section 4.2).
REPLACEMENT_ID = {"cl100k_base": 5809, "o200k_base": 3251}


# ---- known answers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding_name", "text", "ids"),
    [
        ("cl100k_base", "hello world", [15339, 1917]),
        ("cl100k_base", "Hello world, it's 2024!", [9906, 1917, 11, 433, 596, 220, 2366, 19, 0]),
        ("o200k_base", "Hello world", [13225, 2375]),
        ("o200k_base", "Hello world, it's 2024!", [13225, 2375, 11, 4275, 220, 1323, 19, 0]),
    ],
)
def test_known_ids(enc: Encoding, text: str, ids: list[int]) -> None:
    assert enc.encode(text) == ids
    assert enc.count(text) == len(ids)
    assert enc.decode(ids) == text


def test_edge_texts_match_tiktoken(enc: Encoding, oracle: Any) -> None:
    for text in [*EDGE_TEXTS, *contraction_texts()]:
        expected = oracle.encode_ordinary(text)
        assert enc.encode(text) == expected, text
        assert enc.count(text) == len(expected), text


def test_corpus_sample_matches_tiktoken(enc: Encoding, oracle: Any) -> None:
    docs = load_corpus().documents[::25]
    for doc in docs:
        expected = oracle.encode_ordinary(doc.text)
        assert enc.count(doc.text) == len(expected), doc.source
        assert enc.encode(doc.text) == expected, doc.source


def test_special_token_text_is_ordinary_text(enc: Encoding, oracle: Any) -> None:
    text = "a <|endoftext|> b <|endofprompt|>"
    ids = enc.encode(text)
    assert ids == oracle.encode_ordinary(text)
    assert oracle.eot_token not in ids
    assert enc.count("<|endoftext|>") > 1
    assert enc.decode(ids) == text


def test_decode_special_ids(enc: Encoding, oracle: Any) -> None:
    eot = enc.special_tokens["<|endoftext|>"]
    prompt = enc.special_tokens["<|endofprompt|>"]
    ids = [eot, *enc.encode("hi there"), prompt, eot, *enc.encode("!")]
    assert enc.decode(ids) == oracle.decode(ids) == "<|endoftext|>hi there<|endofprompt|><|endoftext|>!"
    assert enc.decode([eot]) == "<|endoftext|>"


def test_lone_surrogates_follow_tiktoken(enc: Encoding, encoding_name: str, oracle: Any) -> None:
    assert enc.encode("\ud800") == [REPLACEMENT_ID[encoding_name]]
    assert enc.encode("a\udfffb") == oracle.encode_ordinary("a\udfffb")
    # A valid pair stored as two code points is the astral character.
    assert enc.encode("\ud83d\ude00") == enc.encode("😀") == oracle.encode_ordinary("\ud83d\ude00")
    assert enc.count("x\ud83d\ude00y \ud83d") == len(oracle.encode_ordinary("x\ud83d\ude00y \ud83d"))


def test_empty_and_whitespace(enc: Encoding, oracle: Any) -> None:
    assert enc.encode("") == [] and enc.count("") == 0 and enc.decode([]) == ""
    for text in (" ", "\n", "\r\n", "\r", " \r\n \r ", "\t \n\u3000"):
        assert enc.encode(text) == oracle.encode_ordinary(text), repr(text)


def test_long_runs_below_tiktokens_limit(enc: Encoding, oracle: Any) -> None:
    for text in ("a" * 50_000, "中" * 20_000, " " * 100_000 + "x", "\n" * 100_000, "7" * 30_001, "😀" * 10_000):
        assert enc.count(text) == len(oracle.encode_ordinary(text)), (text[:3], len(text))


def test_decode_errors_match_tiktoken(enc: Encoding, oracle: Any) -> None:
    for bad in ([10**9], [1, oracle.n_vocab + 5], [-1], [2**32], [2**64], ["a"], [1.5], [1, None]):
        with pytest.raises(Exception) as ours:
            enc.decode(bad)
        with pytest.raises(Exception) as theirs:
            oracle.decode(bad)
        assert type(ours.value) is type(theirs.value), (bad, ours.value, theirs.value)
    with pytest.raises(KeyError, match="Invalid token for decoding: 1000000000"):
        enc.decode([enc.special_tokens["<|endoftext|>"], 5, 10**9])


def test_wrong_types_raise_type_error(enc: Encoding) -> None:
    for bad in (b"bytes", None, 42, ["list"]):
        with pytest.raises(TypeError):
            enc.encode(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            enc.count(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        enc.count_batch(["ok", b"no"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        enc.decode(None)  # type: ignore[arg-type]


def test_decode_is_lossy_like_tiktoken(enc: Encoding, oracle: Any) -> None:
    ids = enc.encode("中")[:1] + enc.encode("x")  # half a character, then x
    assert enc.decode(ids) == oracle.decode(ids)
    assert enc.decode_bytes(ids) == oracle.decode_bytes(ids)


# ---- properties ----------------------------------------------------------------------

_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_interesting = st.sampled_from(
    [
        " ",
        "  ",
        "\n",
        "\r\n",
        "\r",
        "\t",
        "'s",
        "'LL",
        "'Ve",
        "1",
        "123",
        "\u3000",
        "\u0301",
        "中",
        "😀",
        "👍🏽",
        "\u200d",
        "A",
        "a",
    ]
)
_texts = st.lists(
    st.one_of(st.characters(codec=None), st.characters(max_codepoint=0x7F), _interesting), max_size=80
).map("".join)


@_SETTINGS
@given(text=_texts)
def test_random_unicode_matches_tiktoken(enc: Encoding, oracle: Any, text: str) -> None:
    expected = oracle.encode_ordinary(text)  # applies tiktoken's surrogate rule itself
    assert enc.encode(text) == expected
    assert enc.count(text) == len(expected)


@_SETTINGS
@given(data=st.binary(max_size=300))
def test_random_bytes_match_tiktoken(enc: Encoding, oracle: Any, data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    expected = oracle.encode_ordinary(text)
    assert enc.encode(text) == expected
    assert enc.count(text) == len(expected)


@_SETTINGS
@given(text=st.text(st.characters(exclude_categories=("Cs",)), max_size=120))
def test_decode_inverts_encode(enc: Encoding, text: str) -> None:
    assert enc.decode(enc.encode(text)) == text


@_SETTINGS
@given(ids=st.lists(st.integers(min_value=0, max_value=100_255), max_size=40))
def test_decode_of_any_ordinary_ids(enc: Encoding, oracle: Any, ids: list[int]) -> None:
    assert enc.decode_bytes(ids) == oracle.decode_bytes(ids)


# ---- tiktoken's panic limit ------------------------------------------------------------


def test_whitespace_at_tiktokens_panic_limit() -> None:
    """tiktoken panics on 999,999 whitespace characters before a non-space;
    the reference goes around its regex, native needs nothing special, and
    both agree with bpe-openai, which has no such limit."""
    tokenizer_native_or_skip()
    try:  # a peer without the limit, when the bench extra is installed
        import bpe_openai._bindings as peer
    except ImportError:
        peer = None
    text = " " * TIKTOKEN_PANIC_RUN + "x"
    for name in ENCODINGS:
        native = get_encoding(name, backend="native").count(text)
        assert get_encoding(name, backend="reference").count(text) == native
        if peer is not None:
            assert native == peer.tokenizer_for_encoding(name).count(text)
    assert get_encoding("cl100k_base", backend="native").count(text) == 7814


# ---- pieces longer than a native merge window (512 KiB) -----------------------------------


def _long_pieces() -> dict[str, str]:
    import random

    rnd = random.Random(5)
    return {
        "one letter": "a" * 1_300_000,
        "two letters at random": "".join(rnd.choice("ab") for _ in range(1_200_000)),
        "letters at random": "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(1_100_000)),
        "punctuation": "!?" * 600_000,
        "accented": "é" * 700_000,
    }


@pytest.mark.parametrize(
    "label",
    [
        "one letter",
        "two letters at random",
        *(pytest.param(label, marks=pytest.mark.slow) for label in ("letters at random", "punctuation", "accented")),
    ],
)
def test_pieces_longer_than_a_merge_window_match_tiktoken(label: str) -> None:
    """Native merges such pieces in windows; the tokens must be tiktoken's."""
    tokenizer_native_or_skip()
    text = _long_pieces()[label]
    for name in ENCODINGS:
        native = get_encoding(name, backend="native")
        ids = native.encode(text)
        assert ids == oracle_for(name).encode_ordinary(text), (label, name)
        assert native.count(text) == len(ids)


def test_multi_megabyte_pieces_match_bpe_openai() -> None:
    """Pieces of several windows, against a peer that is linear on any input."""
    tokenizer_native_or_skip()
    try:
        import bpe_openai._bindings as peer
    except ImportError:
        pytest.skip("bpe-openai (the bench extra) is not installed")
    for text in ("a" * 3_000_000, "ab" * 1_500_000 + "c", " " * 2_000_000 + "x", "!" * 2_500_000):
        for name in ENCODINGS:
            assert get_encoding(name, backend="native").count(text) == peer.tokenizer_for_encoding(name).count(text)


_LONG_PIECE_RSS_SCRIPT = textwrap.dedent(
    """
    import json, resource
    from copilot_hybrid.tokenizer import get_encoding

    enc = get_encoding("o200k_base", backend="native")
    enc.count("warm up")
    text = "a" * (32 * 1024 * 1024)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    count = enc.count(text)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"count": count, "added": after - before}))
    """
)


def test_a_32_mb_piece_takes_little_scratch_memory() -> None:
    """Merged whole, a 32 MB piece took ~900 MB of scratch; in windows ~30 MB
    (plus the 32 MB UTF-8 copy the binding passes to C)."""
    tokenizer_native_or_skip()
    done = subprocess.run(
        [sys.executable, "-c", _LONG_PIECE_RSS_SCRIPT],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["count"] == 4_194_304
    assert result["added"] < 96 * 2**20, f"{result['added'] / 2**20:.0f} MB"


# ---- the pre-tokenizer split ---------------------------------------------------------------


def test_native_split_matches_regex() -> None:
    tokenizer_native_or_skip()
    from copilot_hybrid.tokenizer.verify.split import oracle_available, reference_split
    from copilot_hybrid.tokenizer.verify.texts import whitespace_edge_texts

    if not oracle_available():
        pytest.skip("needs regex==2024.11.6")
    texts = [*EDGE_TEXTS, *contraction_texts(), *list(whitespace_edge_texts(long_run=5000))[::7]]
    for name in ENCODINGS:
        for text in texts:
            assert _native.native_split(name, text) == reference_split(name, text), (name, text)


# ---- verify ---------------------------------------------------------------------------------


def test_reduced_verify_finds_no_mismatch() -> None:
    tokenizer_native_or_skip()
    from copilot_hybrid.rollout.verify import verify_feature

    result = verify_feature(TokenizerFeature(every=97, panic_runs=False), count=60, seed=11, record=False)
    assert result.mismatches == 0, result.first_mismatches
    assert set(result.by_kind) == {"edge", "corpus", "generated", "sweep"}
    assert result.cases > 2000


class _OffByOne(TokenizerFeature):
    def native(self, x: TokenizerInput) -> Any:
        value = super().native(x)
        return value + 1 if x.op == "count" and "\ud800" in x.text else value


def test_verify_reports_a_mismatch_and_replays_it(tmp_path: Path) -> None:
    tokenizer_native_or_skip()
    from copilot_hybrid.rollout.verify import check_one

    feature = _OffByOne()
    x = TokenizerInput("o200k_base", "count", "lone \ud800 surrogate")
    same, ref_text, nat_text, _, _ = check_one(feature, x)
    assert not same and ref_text != nat_text
    # The case file survives JSON (and UTF-8) with the lone surrogate.
    data = json.loads(json.dumps(feature.case_to_json(x), ensure_ascii=False).encode("utf-8"))
    assert feature.case_from_json(data) == x
    assert check_one(FEATURE, feature.case_from_json(data))[0]


def test_cases_are_deterministic() -> None:
    from copilot_hybrid.tokenizer.verify.texts import random_texts

    assert list(random_texts(30, 5, ["some document text"])) == list(random_texts(30, 5, ["some document text"]))
    assert list(random_texts(30, 5)) != list(random_texts(30, 6))


# ---- the API contract ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "tokenizer", "expected"),
    [
        ("gpt-4", None, "cl100k_base"),
        ("gpt-4-0613", None, "cl100k_base"),
        ("gpt-4-turbo", None, "cl100k_base"),
        ("gpt-3.5-turbo", None, "cl100k_base"),
        ("gpt-3.5-turbo-0613", None, "cl100k_base"),
        ("GPT-4", None, "cl100k_base"),
        ("text-embedding-3-small", None, "cl100k_base"),
        ("gpt-4o", None, "o200k_base"),
        ("gpt-4o-mini", None, "o200k_base"),
        ("gpt-4.1", None, "o200k_base"),
        ("gpt-4.1-2025-04-14", None, "o200k_base"),
        ("gpt-5", None, "o200k_base"),
        ("o3-mini", None, "o200k_base"),
        ("claude-sonnet-4", None, "o200k_base"),
        ("totally-unknown", None, "o200k_base"),
        ("gpt-4o", "cl100k_base", "cl100k_base"),  # the models list wins
        ("gpt-4", "o200k_base", "o200k_base"),
        ("gpt-4", "p50k_base", "cl100k_base"),  # unknown tokenizer: by model id
        ("claude-sonnet-4", "", "o200k_base"),
    ],
)
def test_encoding_for_model(model: str, tokenizer: str | None, expected: str) -> None:
    assert encoding_name_for_model(model, tokenizer=tokenizer) == expected
    assert encoding_for_model(model, tokenizer=tokenizer).name == expected


def test_get_encoding_contract() -> None:
    enc = get_encoding("o200k_base")
    assert enc is get_encoding("o200k_base", backend="auto")
    assert enc.backend == "auto" and enc.name == "o200k_base"
    assert get_encoding("cl100k_base", backend="reference").backend == "reference"
    with pytest.raises(ValueError, match="unknown encoding"):
        get_encoding("p50k_base")
    with pytest.raises(ValueError, match="unknown backend"):
        get_encoding("o200k_base", backend="fast")  # type: ignore[arg-type]
    assert enc.count_batch([]) == [] and enc.encode_batch([]) == []


def test_native_backend_unavailable_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    from copilot_hybrid.native import loader

    monkeypatch.setenv("COPILOT_HYBRID_FEATURE_TOKENIZER", "on")
    try:
        with pytest.MonkeyPatch.context() as kill:
            kill.setenv("COPILOT_HYBRID_NATIVE", "0")
            loader.load(refresh=True)
            with pytest.raises(NativeUnavailable, match="disabled"):
                get_encoding("o200k_base", backend="native")
            # auto still answers (the reference), whatever the mode says.
            assert get_encoding("o200k_base").count("hello world") == 2
    finally:
        loader.load(refresh=True)  # the library as the caller's environment has it


@pytest.mark.parametrize("mode", ["off", "shadow", "on", "percent:100"])
def test_auto_backend_follows_the_rollout_mode(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    tokenizer_native_or_skip()
    from copilot_hybrid.rollout import runner

    monkeypatch.setenv("COPILOT_HYBRID_FEATURE_TOKENIZER", mode)
    runner.reset("tokenizer")
    enc = get_encoding("cl100k_base")
    assert enc.count("hello world") == 2
    assert enc.encode("hello world") == [15339, 1917]
    assert enc.decode([15339, 1917]) == "hello world"
    counters = runner.counters("tokenizer")
    if mode == "off":
        assert counters.get("native_calls", 0) == 0 and counters.get("shadow_runs", 0) == 0
    elif mode == "shadow":
        assert counters["shadow_runs"] == 2 and counters["matches"] == 2
    else:
        assert counters["native_calls"] == 2 and counters.get("reference_calls", 0) == 0


def test_native_failure_falls_back_in_on_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    tokenizer_native_or_skip()
    from copilot_hybrid.rollout import runner
    from copilot_hybrid.tokenizer import _feature as feature_module

    def broken(name: str) -> Any:
        raise MemoryError("simulated")

    monkeypatch.setenv("COPILOT_HYBRID_FEATURE_TOKENIZER", "on")
    monkeypatch.setattr(feature_module, "native_backend", broken)
    runner.reset("tokenizer")
    assert get_encoding("o200k_base").count("Hello world") == 2
    assert runner.counters("tokenizer")["native_errors"] == 1


# ---- threads ----------------------------------------------------------------------------------


def test_batches_equal_serial_calls(enc: Encoding) -> None:
    texts = [doc.text[:3000] for doc in load_corpus().documents[:120]] + ["", "x", "\ud800"]
    assert enc.count_batch(texts) == [enc.count(t) for t in texts]
    assert enc.encode_batch(texts, num_threads=3) == [enc.encode(t) for t in texts]
    assert enc.count_batch(texts, num_threads=1) == [enc.count(t) for t in texts]


def test_concurrent_calls_from_many_threads() -> None:
    tokenizer_native_or_skip()
    from concurrent.futures import ThreadPoolExecutor

    _encoding.drop_loaded_tables()  # first use races on the lazy load too
    texts = [f"thread text {i} with some words, numbers {i * 7919} and 中文 {'!' * (i % 5)}" for i in range(400)]
    expected = {name: [len(oracle_for(name).encode_ordinary(t)) for t in texts] for name in ENCODINGS}

    def work(i: int) -> bool:
        name = ENCODINGS[i % 2]
        enc = get_encoding(name, backend="native")
        return [enc.count(t) for t in texts[i % 7 :: 7]] == expected[name][i % 7 :: 7]

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(work, range(32)))


def test_native_calls_release_the_gil() -> None:
    """While one thread tokenizes 16 MB, another keeps running Python code."""
    tokenizer_native_or_skip()
    enc = get_encoding("o200k_base", backend="native")
    text = "All work and no play makes Jack a dull boy. " * 360_000
    enc.count("warm up the tables")
    window: list[float] = []

    def tokenize() -> None:
        window.append(time.perf_counter())
        enc.count(text)
        window.append(time.perf_counter())

    worker = threading.Thread(target=tokenize)
    stamps: list[float] = []
    worker.start()
    while worker.is_alive():
        for _ in range(2000):
            pass
        stamps.append(time.perf_counter())
    worker.join()
    start, end = window
    inside = [t for t in stamps if start + 0.2 * (end - start) < t < end - 0.2 * (end - start)]
    assert end - start > 0.02, "the call was too short to observe"
    assert len(inside) > 20, f"main thread ran {len(inside)} times during a {end - start:.3f} s native call"


# ---- memory -------------------------------------------------------------------------------------

_RSS_SCRIPT = textwrap.dedent(
    """
    import json, sys
    def rss():
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmRSS:"))
    from copilot_hybrid.tokenizer import get_encoding
    from copilot_hybrid.native.loader import load
    load()
    base = rss()
    encs = [get_encoding(n, backend="native") for n in ("cl100k_base", "o200k_base")]
    for e in encs:
        e.count("load the tables")
    loaded = rss()
    texts = ["Hello, world! It's a test of 中文 and emoji 😀 number %d" % i for i in range(100)]
    def calls(n):
        for i in range(n):
            e = encs[i % 2]
            t = texts[i % 100]
            if i % 3 == 0:
                e.decode(e.encode(t))
            else:
                e.count(t)
    calls(20_000)
    warm = rss()
    calls(100_000)
    after = rss()
    print(json.dumps({"base": base, "loaded": loaded, "warm": warm, "after": after}))
    """
)


def test_memory_bounded_and_no_growth() -> None:
    tokenizer_native_or_skip()
    done = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT], capture_output=True, text=True, cwd=REPO, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    rss = json.loads(done.stdout)
    tables_mb = (rss["loaded"] - rss["base"]) / 2**20
    growth_mb = (rss["after"] - rss["warm"]) / 2**20
    assert tables_mb < 100, f"both encodings' tables take {tables_mb:.1f} MB"
    assert rss["after"] / 2**20 < 100 + rss["base"] / 2**20
    assert growth_mb < 2, f"RSS grew by {growth_mb:.2f} MB over 100,000 calls"


def test_tables_load_once() -> None:
    tokenizer_native_or_skip()
    _encoding.drop_loaded_tables()
    first = _native.native_backend("o200k_base")
    assert _native.native_backend("o200k_base") is first
    assert get_encoding("o200k_base", backend="native").count("x") == 1
    assert _native.native_backend("o200k_base") is first


# ---- vocabulary files -------------------------------------------------------------------------


def test_sha256sums_file_matches_the_pinned_hashes() -> None:
    sums = {}
    for line in (_vocab.DATA_DIR / "SHA256SUMS").read_text(encoding="ascii").splitlines():
        digest, name = line.split()
        sums[name.removesuffix(".tiktoken")] = digest
    assert sums == _vocab.VOCAB_SHA256


def _copy_data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(_vocab.DATA_DIR, data)
    for path in data.iterdir():
        path.chmod(0o644)
    return data


def test_damaged_vocab_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tok_backend: str) -> None:
    data = _copy_data(tmp_path)
    vocab = data / "o200k_base.tiktoken"
    raw = bytearray(vocab.read_bytes())
    raw[100] ^= 1
    vocab.write_bytes(bytes(raw))
    with pytest.raises(VocabularyError, match="sha256"):
        _vocab.read_vocab("o200k_base", data)
    assert _vocab.read_vocab("cl100k_base", data)  # the other file is fine
    monkeypatch.setattr(_vocab, "DATA_DIR", data)
    _encoding.drop_loaded_tables()
    try:
        with pytest.raises(VocabularyError, match="not the official o200k_base"):
            get_encoding("o200k_base", backend=tok_backend).count("hello")  # type: ignore[arg-type]
        vocab.unlink()
        with pytest.raises(VocabularyError, match="cannot read"):
            get_encoding("o200k_base", backend=tok_backend).count("hello")  # type: ignore[arg-type]
    finally:
        monkeypatch.undo()
        _encoding.drop_loaded_tables()
    assert get_encoding("o200k_base", backend=tok_backend).count("hello") == 1  # type: ignore[arg-type]


# ---- the surrogate rule -----------------------------------------------------------------------


def test_one_boundary_rule() -> None:
    for text in ("plain", "é中😀", "a\ud800b", "\ud83d\ude00", "\udfff\ud800"):
        assert _text.utf8_text(text) == _text.clean_text(text).encode("utf-8")
        assert _text.clean_text(text) == text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


# ---- corpus -------------------------------------------------------------------------------------


def test_corpus_is_big_enough_and_checked(tmp_path: Path) -> None:
    from copilot_hybrid.tokenizer.verify import corpus as tokenizer_corpus

    corpus = tokenizer_corpus.load_corpus()
    assert corpus.meta["bytes"] >= 5_000_000
    assert {"python", "c", "prose", "gettext", "chat", "logs"} <= set(corpus.meta["composition"])
    copy = tmp_path / "corpus"
    shutil.copytree(corpus.directory, copy)
    assert tokenizer_corpus.read_corpus(copy) is not None
    with (copy / tokenizer_corpus.DOCUMENTS).open("ab") as handle:
        handle.write(b'{"kind": "x", "source": "x", "text": "tampered"}\n')
    assert tokenizer_corpus.read_corpus(copy) is None


# ---- CLI ----------------------------------------------------------------------------------------


def _invoke(*args: str, stdin: bytes | None = None) -> Any:
    from typer.testing import CliRunner

    from copilot_hybrid.cli import make_app

    return CliRunner().invoke(make_app(), list(args), input=stdin)


def test_cli_tokens_count(tmp_path: Path) -> None:
    path = tmp_path / "prompt.txt"
    path.write_text("Hello world, it's 2024!", encoding="utf-8")
    done = _invoke("tokens", "count", str(path))
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == "8"  # o200k_base by default
    assert _invoke("tokens", "count", "--encoding", "cl100k_base", str(path)).stdout.strip() == "9"
    assert _invoke("tokens", "count", "--model", "gpt-4", "--backend", "reference", str(path)).stdout.strip() == "9"
    assert _invoke("tokens", "count", "-", stdin=b"hello world").stdout.strip() == "2"
    payload = json.loads(_invoke("tokens", "count", "--json", "--model", "gpt-4o", str(path)).stdout)
    assert payload["tokens"] == 8 and payload["encoding"] == "o200k_base" and not payload["invalid_utf8_replaced"]


def test_cli_tokens_count_native(tmp_path: Path) -> None:
    tokenizer_native_or_skip()
    path = tmp_path / "prompt.txt"
    path.write_text("Hello world, it's 2024!", encoding="utf-8")
    done = _invoke("tokens", "count", "--backend", "native", "-e", "cl100k_base", str(path))
    assert done.exit_code == 0 and done.stdout.strip() == "9"


def test_cli_tokens_count_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"ok \xff\xfe end")
    done = _invoke("tokens", "count", "--json", str(path))
    assert done.exit_code == 0
    payload = json.loads(done.stdout)
    assert payload["invalid_utf8_replaced"] is True
    assert payload["tokens"] == get_encoding("o200k_base", backend="reference").count("ok \ufffd\ufffd end")
    assert "not valid UTF-8" in done.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["tokens", "count", "/no/such/file"], 1, "cannot read /no/such/file"),
        (["tokens", "count", "-e", "p50k_base", "-"], 2, "unknown encoding"),
        (["tokens", "count", "-e", "o200k_base", "-m", "gpt-4", "-"], 2, "not both"),
        (["tokens", "count", "--backend", "fast", "-"], 2, "unknown backend"),
    ],
)
def test_cli_tokens_errors(args: list[str], code: int, message: str) -> None:
    done = _invoke(*args, stdin=b"x")
    assert done.exit_code == code
    assert message in done.stderr
    assert "Traceback" not in done.output


def test_cli_native_unavailable_is_a_clear_error() -> None:
    from copilot_hybrid.native import loader

    try:
        with pytest.MonkeyPatch.context() as kill:
            kill.setenv("COPILOT_HYBRID_NATIVE", "0")
            loader.load(refresh=True)
            done = _invoke("tokens", "count", "--backend", "native", "-", stdin=b"x")
    finally:
        loader.load(refresh=True)
    assert done.exit_code == 1
    assert "native tokenizer unavailable" in done.stderr and "Traceback" not in done.output


# ---- bench (its parts; the full run takes a minute) ----------------------------------------------


def test_bench_parts() -> None:
    tokenizer_native_or_skip()
    from copilot_hybrid.cli.bench import format_report
    from copilot_hybrid.tokenizer.verify import bench as tokenizer_bench

    impls = tokenizer_bench.implementations("cl100k_base")
    assert [i.name for i in impls][:2] == ["native", "tiktoken"]
    texts = ["Hello world, it's 2024!", "中文 text " * 50, "def f(x):\n    return x\n" * 20]
    measured = tokenizer_bench.measure(impls, texts, runs=2)
    assert all(v == 0 for v in measured.mismatched_documents.values())
    assert set(measured.mb_per_s) == {"count", "encode"} and measured.mb_per_s["count"]["native"] > 0
    entry = {
        "implementations": [i.name for i in impls],
        "workloads": {
            "documents": {
                "mb_per_s": measured.mb_per_s,
                "mismatched_documents": measured.mismatched_documents,
                "ratios": tokenizer_bench._ratios(measured.mb_per_s),
            }
        },
        "worst_case": {"prose": {i.name: {"ms_per_mb": 1.0, "vs_prose": 1.0} for i in impls}},
    }
    report = {
        "machine": "m",
        "build_id": "b",
        "runs": 2,
        "encodings": {"cl100k_base": entry},
        "corpus": {"path": "p", "sha256": "s", "documents": 3, "mb": 0.1, "short_snippets": 0},
    }
    report["targets"] = tokenizer_bench._targets(report)
    text = format_report(report)
    assert "native/tiktoken" in text and "cl100k_base" in text


def test_auto_batches_go_through_the_rollout_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    tokenizer_native_or_skip()
    from copilot_hybrid.rollout import runner

    monkeypatch.setenv("COPILOT_HYBRID_FEATURE_TOKENIZER", "shadow")
    runner.reset("tokenizer")
    texts = [f"message {i}: " + "words and more words " * (i % 50) for i in range(300)]
    expected = [len(oracle_for("o200k_base").encode_ordinary(t)) for t in texts]
    assert get_encoding("o200k_base").count_batch(texts, num_threads=4) == expected
    counters = runner.counters("tokenizer")
    assert counters["shadow_runs"] == len(texts) and counters["matches"] == len(texts)
