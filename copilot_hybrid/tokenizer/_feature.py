"""tokenizer: token counts and ids for cl100k_base and o200k_base.

The reference is tiktoken 0.14.0 built offline from the vocab files in
copilot_hybrid/data (sha256-checked, _reference.py); the native candidate is
the Zig core (ch_tok_*, _native.py). Both tokenize ordinary text:
special-token text is plain text. The public API (get_encoding,
encoding_for_model, _encoding.py) calls `tokenize`, this feature wrapped by
the rollout layer; `verify` drives FEATURE itself.

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

from copilot_hybrid.rollout import Case, Feature, wrap
from copilot_hybrid.tokenizer._native import NATIVE_EXPORTS, native_backend, native_split
from copilot_hybrid.tokenizer._reference import reference_backend
from copilot_hybrid.tokenizer._text import utf8_text
from copilot_hybrid.tokenizer._vocab import ENCODING_NAMES, check_encoding
from copilot_hybrid.tokenizer.verify import corpus, split, texts

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


class TokenizerFeature(Feature[TokenizerInput, Any]):
    name = "tokenizer"
    summary = "token counts and ids (cl100k_base, o200k_base): tiktoken vs the Zig BPE"
    native_exports = NATIVE_EXPORTS

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
            return split.reference_split(x.encoding, x.text)
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
        ops: tuple[str, ...] = OPS
        if not split.oracle_available():
            warnings.warn(
                "regex==2024.11.6 is not installed: tokenizer verify skips the pre-tokenizer split cases",
                stacklevel=2,
            )
            ops = RUNTIME_OPS

        def each(kind: str, label: str, text: str, which: tuple[str, ...] = ops) -> Iterator[Case[TokenizerInput]]:
            for encoding in ENCODING_NAMES:
                for op in which:
                    yield Case(kind, TokenizerInput(encoding, op, text), f"{op} {encoding} {label}")

        for i, text in enumerate(texts.EDGE_TEXTS):
            yield from each("edge", f"edge #{i}", text)
        for i, text in enumerate(texts.contraction_texts()):
            yield from each("edge", f"contraction #{i}", text)
        for i, text in enumerate(texts.whitespace_edge_texts()):
            if i % self.every == 0:
                yield from each("edge", f"whitespace #{i}", text)
        for label, text in texts.long_run_texts(200_000 // self.every):
            yield from each("edge", label, text)
        if self.panic_runs:
            # At tiktoken's panic limit the reference goes around tiktoken's
            # regex (about a second per call): count and split only.
            for label, text in texts.panic_run_texts():
                yield from each("edge", label, text, tuple(op for op in ops if op != "encode"))
        documents = corpus.load_corpus()
        for i, doc in enumerate(documents.documents):
            if i % self.every == 0:
                yield from each("corpus", f"{doc.kind} {doc.source}", doc.text)
        for label, text in texts.random_texts(count, seed, documents.texts()):
            yield from each("generated", label, text)
        for i, text in enumerate(texts.unicode_sweep_texts()):
            if i % self.every == 0:
                which = ops if (i // self.every) % SWEEP_COUNT_EVERY == 0 else tuple(op for op in ops if op != "count")
                yield from each("sweep", f"sweep #{i}", text, which)


FEATURE = TokenizerFeature()
#: count/encode as the public API makes them: the rollout mode picks the side.
tokenize = wrap(FEATURE)
