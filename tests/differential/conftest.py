"""Fixtures of the differential tokenizer tests.

`tok_backend` runs a test once per backend. The native run is skipped only
when the library cannot serve the tokenizer AND COPILOT_HYBRID_REQUIRE_NATIVE
is not "1"; with it set, an unavailable native tokenizer fails the test.

`oracle` is tiktoken 0.14 built here, independently of the code under test,
from the vocab files and tiktoken_ext's own constructors (pattern, special
tokens).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest

REQUIRE_NATIVE = os.environ.get("COPILOT_HYBRID_REQUIRE_NATIVE") == "1"
ENCODINGS = ("cl100k_base", "o200k_base")


def tokenizer_native_or_skip() -> None:
    from copilot_hybrid.native.loader import load
    from copilot_hybrid.tokenizer._native import native_available

    if native_available():
        return
    native = load()
    message = f"native tokenizer unavailable: {native.status}: {native.reason}"
    if REQUIRE_NATIVE:
        pytest.fail("COPILOT_HYBRID_REQUIRE_NATIVE=1 but " + message)
    pytest.skip(message)


@pytest.fixture(params=["reference", "native"])
def tok_backend(request: pytest.FixtureRequest) -> str:
    if request.param == "native":
        tokenizer_native_or_skip()
    return str(request.param)


@pytest.fixture(params=ENCODINGS)
def encoding_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def enc(tok_backend: str, encoding_name: str) -> Any:
    from copilot_hybrid.tokenizer import get_encoding

    return get_encoding(encoding_name, backend=tok_backend)  # type: ignore[arg-type]


_oracles: dict[str, Any] = {}


def oracle_for(name: str) -> Any:
    """tiktoken.Encoding for `name`, built without the code under test."""
    if name not in _oracles:
        import tiktoken
        from tiktoken.load import load_tiktoken_bpe
        from tiktoken_ext import openai_public

        data_dir = os.path.join(os.path.dirname(__file__), "..", "..", "copilot_hybrid", "data")
        hashes = dict(
            reversed(line.split())
            for line in open(os.path.join(data_dir, "SHA256SUMS"), encoding="ascii")
            if line.strip()
        )
        # An empty TIKTOKEN_CACHE_DIR turns tiktoken's file cache off.
        with mock.patch.dict(os.environ, {"TIKTOKEN_CACHE_DIR": ""}):
            ranks = load_tiktoken_bpe(
                os.path.join(data_dir, f"{name}.tiktoken"), expected_hash=hashes[f"{name}.tiktoken"]
            )
        # tiktoken_ext's constructor, with the local ranks instead of its download.
        with mock.patch.object(openai_public, "load_tiktoken_bpe", return_value=ranks):
            params = getattr(openai_public, name)()
        _oracles[name] = tiktoken.Encoding(**params)
    return _oracles[name]


@pytest.fixture
def oracle(encoding_name: str) -> Any:
    return oracle_for(encoding_name)


@pytest.fixture
def oracle_factory() -> Callable[[str], Any]:
    return oracle_for
