"""tokenizer: token counts and ids for cl100k_base and o200k_base.

The reference is tiktoken 0.14.0 built offline from the vocab files in
copilot_hybrid/data (sha256-checked); the native candidate is the Zig core
(ch_tok_*). Both tokenize ordinary text: special-token text is plain text.
The public API (get_encoding, encoding_for_model) is in
copilot_hybrid.tokenizer; this module is the migratable feature that the
rollout layer and `verify` drive.

Verify covers three operations per text and encoding:
  count, encode   native against tiktoken;
  split           ch_tok_split against `regex` 2024.11.6 findall(pat_str),
                  the pre-tokenizer alone (tiktoken does not expose its split;
                  that regex version has tiktoken's Unicode 16.0 tables).
Cases: edge texts, the corpus, seeded random strings and the sweep of every
Unicode scalar value (split and encode on every sweep text, count on every
fourth: the count path shares the split and merge code with encode and is
compared in full on everything else).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from copilot_hybrid.features.base import Case, Feature
from copilot_hybrid.features.tokenizer_backends import (
    ENCODING_NAMES,
    check_encoding,
    native_backend,
    native_split,
    reference_backend,
    utf8_text,
)

OPS: Final = ("count", "encode", "split")
#: Runtime callers use count and encode; split exists for verify.
RUNTIME_OPS: Final = ("count", "encode")
SWEEP_COUNT_EVERY: Final = 4


@dataclass(frozen=True)
class TokenizerInput:
    encoding: str
    op: str
    text: str

    def __repr__(self) -> str:
        preview = self.text if len(self.text) <= 60 else self.text[:60] + f"...({len(self.text)} chars)"
        return f"TokenizerInput({self.encoding}, {self.op}, {preview!r})"


def _check(x: TokenizerInput) -> None:
    check_encoding(x.encoding)
    if x.op not in OPS:
        raise ValueError(f"unknown tokenizer op {x.op!r}; known: {', '.join(OPS)}")


def reference_split(encoding: str, text: str) -> list[int]:
    from copilot_hybrid.features.tokenizer_cases import reference_split as split

    return split(encoding, text)


def split_oracle_available() -> bool:
    """Whether the split oracle (regex 2024.11.6) is installed."""
    from importlib import metadata

    from copilot_hybrid.features.tokenizer_cases import REFERENCE_REGEX_VERSION

    try:
        return metadata.version("regex") == REFERENCE_REGEX_VERSION
    except metadata.PackageNotFoundError:
        return False


class TokenizerFeature(Feature[TokenizerInput, Any]):
    name = "tokenizer"
    summary = "token counts and ids (cl100k_base, o200k_base): tiktoken vs the Zig BPE"
    native_symbols = ("ch_tok_new", "ch_tok_free", "ch_tok_count", "ch_tok_encode", "ch_tok_decode", "ch_tok_split")

    def __init__(self, *, every: int = 1, panic_runs: bool = True) -> None:
        """`every` > 1 keeps every n-th corpus document, whitespace text and
        sweep text and shortens the long runs n times (a fast, reduced verify
        for the tests); `panic_runs` includes the 1M-character whitespace runs
        (about a second each in the reference)."""
        self.every = max(1, every)
        self.panic_runs = panic_runs

    def reference(self, x: TokenizerInput) -> Any:
        _check(x)
        if x.op == "split":
            return reference_split(x.encoding, x.text)
        backend = reference_backend(x.encoding)
        return backend.count(x.text) if x.op == "count" else backend.encode(x.text)

    def native(self, x: TokenizerInput) -> Any:
        _check(x)
        if x.op == "split":
            return native_split(x.encoding, x.text)
        backend = native_backend(x.encoding)
        return backend.count(x.text) if x.op == "count" else backend.encode(x.text)

    def input_size(self, x: TokenizerInput) -> int:
        # O(1) for ASCII (no copy of a 32 MB text just to measure it).
        return len(x.text) if x.text.isascii() else len(utf8_text(x.text))

    def case_to_json(self, x: TokenizerInput) -> Any:
        # Lone surrogates cannot be written as UTF-8: keep the text as an
        # ASCII JSON string literal (\udXXX escapes) when it has any.
        try:
            x.text.encode("utf-8")
        except UnicodeEncodeError:
            return {"encoding": x.encoding, "op": x.op, "text_json": json.dumps(x.text)}
        return {"encoding": x.encoding, "op": x.op, "text": x.text}

    def case_from_json(self, data: Any) -> TokenizerInput:
        text = json.loads(data["text_json"]) if "text_json" in data else data["text"]
        return TokenizerInput(str(data["encoding"]), str(data["op"]), str(text))

    def cases(self, *, count: int, seed: int) -> Iterator[Case[TokenizerInput]]:
        from copilot_hybrid.features import tokenizer_cases as shared
        from copilot_hybrid.features import tokenizer_samples as samples
        from copilot_hybrid.features.tokenizer_corpus import load_corpus

        ops: tuple[str, ...] = OPS
        if not split_oracle_available():
            warnings.warn(
                "regex==2024.11.6 is not installed: tokenizer verify skips the pre-tokenizer split cases",
                stacklevel=2,
            )
            ops = RUNTIME_OPS

        def each(kind: str, label: str, text: str, which: tuple[str, ...] = ops) -> Iterator[Case[TokenizerInput]]:
            for encoding in ENCODING_NAMES:
                for op in which:
                    yield Case(kind, TokenizerInput(encoding, op, text), f"{op} {encoding} {label}")

        for i, text in enumerate(samples.EDGE_TEXTS):
            yield from each("edge", f"edge #{i}", text)
        for i, text in enumerate(samples.contraction_texts()):
            yield from each("edge", f"contraction #{i}", text)
        for i, text in enumerate(shared.whitespace_edge_texts()):
            if i % self.every == 0:
                yield from each("edge", f"whitespace #{i}", text)
        for label, text in samples.long_run_texts(200_000 // self.every):
            yield from each("edge", label, text)
        if self.panic_runs:
            # At tiktoken's panic limit the reference goes around tiktoken's
            # regex (about a second per call): count and split only.
            for label, text in samples.panic_run_texts():
                yield from each("edge", label, text, tuple(op for op in ops if op != "encode"))
        corpus = load_corpus()
        for i, doc in enumerate(corpus.documents):
            if i % self.every == 0:
                yield from each("corpus", f"{doc.kind} {doc.source}", doc.text)
        for label, text in samples.random_texts(count, seed, corpus.texts()):
            yield from each("generated", label, text)
        for i, text in enumerate(shared.unicode_sweep_texts()):
            if i % self.every == 0:
                which = ops if (i // self.every) % SWEEP_COUNT_EVERY == 0 else tuple(op for op in ops if op != "count")
                yield from each("sweep", f"sweep #{i}", text, which)


FEATURE = TokenizerFeature()
