"""Hunts memory errors: a ReleaseSafe build (every bounds and overflow check
on, a panic aborts) takes random and malformed input through every export,
in a child process so that an abort fails this test instead of pytest."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from copilot_hybrid import __version__
from copilot_hybrid.native import build as native_build

FUZZ = textwrap.dedent(
    """
    import random, sys
    from pathlib import Path
    from copilot_hybrid.native.loader import load

    native = load()
    assert native.ok, native.reason
    ffi, lib = native.ffi, native.lib
    data_dir = Path(sys.argv[1])
    rng = random.Random(int(sys.argv[2]))
    alphabet = [b"a", b"A", b"'s", b" ", b"\\n", b"\\r\\n", b"\\t", b"7", b".", b"\\xff", b"\\xe4\\xb8",
                "中".encode(), "😀".encode(), "\\u0301".encode(), "\\u3000".encode(), b"\\xed\\xa0\\x80"]

    def random_text():
        if rng.random() < 0.5:
            return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 400)))
        parts = [rng.choice(alphabet) * rng.randrange(1, 300) for _ in range(rng.randrange(0, 12))]
        return b"".join(parts)

    for kind, name in ((lib.CH_TOK_CL100K_BASE, "cl100k_base"), (lib.CH_TOK_O200K_BASE, "o200k_base")):
        ranks = (data_dir / f"{name}.tiktoken").read_bytes()
        handle = ffi.new("ch_tokenizer **")
        assert lib.ch_tok_new(kind, ranks, len(ranks), handle) == 0
        tok = handle[0]
        vocab_size = 100_256 if name == "cl100k_base" else 199_998
        for _ in range(int(sys.argv[3])):
            text = random_text()
            ids = ffi.new("uint32_t[]", max(1, len(text)))
            n = lib.ch_tok_encode(tok, text, len(text), ids, len(text))
            assert n >= 0 and lib.ch_tok_count(tok, text, len(text)) == n
            out = ffi.new("uint8_t[]", len(text) + 1)
            assert lib.ch_tok_decode(tok, ids, n, out, len(text) + 1) == len(text)
            assert ffi.buffer(out, len(text))[:] == text
            ends = ffi.new("uint32_t[]", max(1, len(text)))
            pieces = lib.ch_tok_split(kind, text, len(text), ends, len(text))
            assert pieces >= 0 and (pieces == 0 or ends[pieces - 1] == len(text))
            if n > 1:  # too small an output buffer is an error code, never an overrun
                assert lib.ch_tok_encode(tok, text, len(text), ids, n - 1) < 0
            token = rng.choice([vocab_size + 5, 2**32 - 1, rng.randrange(vocab_size)])
            status = lib.ch_tok_decode(tok, ffi.new("uint32_t[]", [token]), 1, out, 1)
            assert status >= 0 if token < vocab_size else status == lib.CH_E_INVALID_DATA
        lib.ch_tok_free(tok)

    for _ in range(200):  # malformed rank files are refused, never crash
        broken = bytearray(ranks[: rng.randrange(0, 4000)])
        for _ in range(rng.randrange(0, 8)):
            if broken:
                broken[rng.randrange(len(broken))] = rng.randrange(256)
        handle = ffi.new("ch_tokenizer **")
        status = lib.ch_tok_new(rng.randrange(3), bytes(broken), len(broken), handle)
        if status == 0:
            lib.ch_tok_free(handle[0])
    print("fuzzed")
    """
)


@pytest.fixture(scope="module")
def release_safe_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("release-safe")
    return native_build.build(output_dir=out, optimize="ReleaseSafe", package_version=__version__).library


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_random_and_malformed_input_never_aborts(release_safe_library: Path, seed: int) -> None:
    done = subprocess.run(
        [sys.executable, "-c", FUZZ, str(native_build.PACKAGE_DIR / "data"), str(seed), "400"],
        capture_output=True,
        text=True,
        env={**os.environ, "COPILOT_HYBRID_NATIVE_LIB": str(release_safe_library), "COPILOT_HYBRID_NATIVE": "1"},
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr[-3000:]}"
    assert done.stdout.strip() == "fuzzed"


STREAM_FUZZ = textwrap.dedent(
    """
    import random, sys
    from copilot_hybrid import stream_translate as st
    from copilot_hybrid.native.loader import load
    from copilot_hybrid.rollout.verify import check_one
    from copilot_hybrid.stream_translate import _cases

    native = load()
    assert native.ok, native.reason
    ffi, lib = native.ffi, native.lib
    rng = random.Random(int(sys.argv[1]))
    for kind, label, model, reads, seed in _cases.all_cases(count=int(sys.argv[2]), seed=int(sys.argv[1])):
        if kind == "recorded" and rng.random() < 0.9:
            continue
        data = bytearray(b"".join(reads))
        for _ in range(rng.choice((0, 0, 1, 5))):  # damaged streams: any byte anywhere
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
        data = bytes(data[: rng.randrange(len(data) + 1)] if rng.random() < 0.2 else data)
        try:
            encoded = model.encode()
        except UnicodeEncodeError:  # never handed to ch_st_new: such a stream goes to the reference
            encoded = None
        if encoded is not None:
            handle = ffi.new("ch_stream **")
            assert lib.ch_st_new(encoded, len(encoded), handle) == 0
            s = handle[0]
            pos = 0
            while True:
                step = data[pos : pos + rng.randint(1, 300)]
                pos += len(step)
                cap = rng.choice((0, 1, 7, 64, 4096))
                out = ffi.new("uint8_t[]", max(cap, 1))
                size = lib.ch_st_feed(s, step, len(step), out, cap) if step else lib.ch_st_finish(s, out, cap)
                while size > cap:  # the pending output is taken with a larger buffer
                    cap = size
                    out = ffi.new("uint8_t[]", cap)
                    size = lib.ch_st_feed(s, ffi.NULL, 0, out, cap)
                assert size >= 0 or size in (lib.CH_E_UNSUPPORTED, lib.CH_E_OUT_OF_MEMORY), (label, size)
                assert lib.ch_st_state(s) in (lib.CH_ST_OPEN, lib.CH_ST_DONE, lib.CH_ST_ENDED)
                if not step:
                    break
            lib.ch_st_free(s)
        stream = st.RecordedStream(model, [data, None], seed=seed)
        same, reference, translated, _, _ = check_one(st.FEATURE, st.StreamSteps(stream, 0, 2))
        assert same, (label, reference, translated)
    print("fuzzed")
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_random_and_damaged_streams_never_abort_the_stream_translator(release_safe_library: Path, seed: int) -> None:
    done = subprocess.run(
        [sys.executable, "-c", STREAM_FUZZ, str(seed), "1500"],
        capture_output=True,
        text=True,
        env={**os.environ, "COPILOT_HYBRID_NATIVE_LIB": str(release_safe_library), "COPILOT_HYBRID_NATIVE": "1"},
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr[-3000:]}"
    assert done.stdout.strip() == "fuzzed"
