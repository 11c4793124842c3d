"""Fixtures of the differential tokenizer tests.

`tok_backend` runs a test once per backend. The native run is skipped only
when the library cannot serve the tokenizer AND COPILOT_HYBRID_REQUIRE_NATIVE
is not "1"; with it set, an unavailable native tokenizer fails the test.

`oracle` is tiktoken 0.14 built here, independently of the code under test,
from the vocab files and tiktoken_ext's own constructors (pattern, special
tokens).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support import ENCODINGS, oracle_for, tokenizer_native_or_skip


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


@pytest.fixture
def oracle(encoding_name: str) -> Any:
    return oracle_for(encoding_name)


@pytest.fixture
def oracle_factory() -> Callable[[str], Any]:
    return oracle_for
