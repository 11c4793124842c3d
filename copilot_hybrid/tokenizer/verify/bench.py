"""Tokenizer throughput, native against tiktoken and the fastest peers.

Everything runs in one process, one thread. Each round times one full pass
over the workload per implementation, taking turns (interleaved), so a
noisy neighbour slows every implementation alike; the figure is the median
over the rounds, in MB/s of UTF-8 input. A warm-up pass first checks that
every implementation gives tiktoken's counts.

  native     copilot_hybrid.tokenizer get_encoding(name, backend="native")
             (the whole Python boundary included)
  tiktoken   tiktoken 0.14 Encoding.encode_ordinary (count = len of it)
  rs-bpe     rs_bpe.bpe.openai tokenizer count / encode      (when installed)
  bpe-openai bpe_openai._bindings tokenizer count / encode   (when installed)

Workloads: the corpus documents, and `short`, the same text cut into
chat-message-sized snippets (per-call cost). The worst-case table times
1 MB inputs that defeat naive BPE or regex engines, per MB, against the
per-MB time of the corpus's prose.
"""

from __future__ import annotations

import platform
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from copilot_hybrid.tokenizer._reference import reference_backend
from copilot_hybrid.tokenizer._vocab import ENCODING_NAMES

Call = Callable[[str], Any]

TARGET_COUNT_VS_TIKTOKEN = 3.0
TARGET_ENCODE_VS_TIKTOKEN = 2.0
TARGET_WORST_VS_PROSE = 10.0


@dataclass
class Implementation:
    name: str
    count: Call
    encode: Call


def implementations(encoding: str) -> list[Implementation]:
    """native and tiktoken, then each installed peer."""
    from copilot_hybrid.tokenizer import get_encoding

    native = get_encoding(encoding, backend="native")
    tik = reference_backend(encoding).encoding
    found = [
        Implementation("native", native.count, native.encode),
        Implementation("tiktoken", lambda text: len(tik.encode_ordinary(text)), tik.encode_ordinary),
    ]
    try:
        from rs_bpe.bpe import openai as rs_openai

        rs = getattr(rs_openai, encoding)()
        found.append(Implementation("rs-bpe", rs.count, rs.encode))
    except ImportError:
        pass
    try:
        from bpe_openai import _bindings

        bo = _bindings.tokenizer_for_encoding(encoding)
        found.append(Implementation("bpe-openai", bo.count, bo.encode))
    except ImportError:
        pass
    return found


def short_snippets(texts: list[str], total_bytes: int = 1_000_000, seed: int = 5) -> list[str]:
    """Chat-message-sized cuts (10..400 chars) of the corpus, about 1 MB."""
    rng = random.Random(seed)  # noqa: S311 - seeded test material, not secrets
    result: list[str] = []
    size = 0
    while size < total_bytes:
        text = texts[rng.randrange(len(texts))]
        start = rng.randrange(max(1, len(text) - 10))
        snippet = text[start : start + rng.randint(10, 400)]
        if snippet:
            result.append(snippet)
            size += len(snippet.encode("utf-8"))
    return result


def _pass_seconds(call: Call, texts: list[str]) -> float:
    started = time.perf_counter()
    for text in texts:
        call(text)
    return time.perf_counter() - started


@dataclass
class Throughput:
    mb_per_s: dict[str, dict[str, float]] = field(default_factory=dict)  # op -> impl -> MB/s
    mismatched_documents: dict[str, int] = field(default_factory=dict)  # impl -> count


def measure(impls: list[Implementation], texts: list[str], runs: int) -> Throughput:
    size_mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    result = Throughput()
    expected = [impls[1].count(t) for t in texts]  # tiktoken; also the warm-up of its tables
    for impl in impls:
        result.mismatched_documents[impl.name] = sum(impl.count(t) != e for t, e in zip(texts, expected, strict=True))
        result.mismatched_documents[impl.name] += sum(
            len(impl.encode(t)) != e for t, e in zip(texts, expected, strict=True)
        )
    for op in ("count", "encode"):
        times: dict[str, list[float]] = {impl.name: [] for impl in impls}
        for _ in range(runs):
            for impl in impls:
                times[impl.name].append(_pass_seconds(getattr(impl, op), texts))
        result.mb_per_s[op] = {name: size_mb / statistics.median(values) for name, values in times.items()}
    return result


def worst_case_inputs(seed: int = 3) -> dict[str, str]:
    rng = random.Random(seed)  # noqa: S311 - seeded test material, not secrets
    return {
        "one letter": "a" * 1_000_000,
        "one CJK char": "中" * 333_334,
        "digits": "".join(rng.choice("0123456789") for _ in range(1_000_000)),
        "spaces": " " * 1_000_000,
        "random printable": "".join(chr(rng.randrange(0x20, 0x7F)) for _ in range(1_000_000)),
    }


def _seconds_per_mb(call: Call, texts: list[str], runs: int) -> float:
    size_mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    return statistics.median(_pass_seconds(call, texts) for _ in range(runs)) / size_mb


def worst_case(impls: list[Implementation], prose: list[str], runs: int) -> dict[str, dict[str, Any]]:
    """ms per MB of each input and its ratio to prose, per implementation.
    tiktoken skips `spaces`: a run past TIKTOKEN_PANIC_RUN makes it panic."""
    table: dict[str, dict[str, Any]] = {}
    base = {impl.name: _seconds_per_mb(impl.count, prose, runs) for impl in impls}
    table["prose"] = {name: {"ms_per_mb": s * 1e3, "vs_prose": 1.0} for name, s in base.items()}
    for label, text in worst_case_inputs().items():
        row: dict[str, Any] = {}
        for impl in impls:
            if impl.name == "tiktoken" and label == "spaces":
                row[impl.name] = None
                continue
            s = _seconds_per_mb(impl.count, [text], runs)
            row[impl.name] = {"ms_per_mb": s * 1e3, "vs_prose": s / base[impl.name]}
        table[label] = row
    return table


def run(*, runs: int = 5, encodings: tuple[str, ...] = ENCODING_NAMES, worst_runs: int = 3) -> dict[str, Any]:
    from copilot_hybrid.native.loader import load
    from copilot_hybrid.tokenizer.verify.corpus import load_corpus

    corpus = load_corpus()
    documents = corpus.texts()
    short = short_snippets(documents)
    prose = corpus.texts("prose")
    report: dict[str, Any] = {
        "machine": f"{platform.machine()} {platform.system()}, Python {platform.python_version()}",
        "build_id": load().build_id,
        "runs": runs,
        "corpus": {
            "path": str(corpus.directory),
            "sha256": corpus.meta.get("sha256"),
            "documents": len(documents),
            "mb": sum(len(t.encode("utf-8")) for t in documents) / 1e6,
            "short_snippets": len(short),
        },
        "encodings": {},
    }
    for encoding in encodings:
        impls = implementations(encoding)
        entry: dict[str, Any] = {"implementations": [i.name for i in impls], "workloads": {}}
        for workload, texts in (("documents", documents), ("short", short)):
            measured = measure(impls, texts, runs)
            entry["workloads"][workload] = {
                "mb_per_s": measured.mb_per_s,
                "mismatched_documents": measured.mismatched_documents,
                "ratios": _ratios(measured.mb_per_s),
            }
        entry["worst_case"] = worst_case(impls, prose, worst_runs)
        report["encodings"][encoding] = entry
    report["targets"] = _targets(report)
    return report


def _ratios(mb_per_s: dict[str, dict[str, float]]) -> dict[str, dict[str, Any]]:
    ratios: dict[str, dict[str, Any]] = {}
    for op, by_impl in mb_per_s.items():
        native = by_impl["native"]
        peers = {name: v for name, v in by_impl.items() if name not in ("native", "tiktoken")}
        best = max(peers, key=lambda name: peers[name]) if peers else None
        ratios[op] = {
            "native/tiktoken": native / by_impl["tiktoken"],
            "best_peer": best,
            "native/best_peer": native / peers[best] if best else None,
        }
    return ratios


def _targets(report: dict[str, Any]) -> dict[str, bool]:
    checks: dict[str, bool] = {}
    for encoding, entry in report["encodings"].items():
        ratios = entry["workloads"]["documents"]["ratios"]
        checks[f"{encoding} count >= {TARGET_COUNT_VS_TIKTOKEN:g}x tiktoken"] = (
            ratios["count"]["native/tiktoken"] >= TARGET_COUNT_VS_TIKTOKEN
        )
        if ratios["count"]["native/best_peer"] is not None:
            checks[f"{encoding} count > fastest peer"] = ratios["count"]["native/best_peer"] > 1.0
        checks[f"{encoding} encode >= {TARGET_ENCODE_VS_TIKTOKEN:g}x tiktoken"] = (
            ratios["encode"]["native/tiktoken"] >= TARGET_ENCODE_VS_TIKTOKEN
        )
        worst = [row["native"]["vs_prose"] for label, row in entry["worst_case"].items() if label != "prose"]
        if worst:
            checks[f"{encoding} worst case <= {TARGET_WORST_VS_PROSE:g}x prose per MB"] = (
                max(worst) <= TARGET_WORST_VS_PROSE
            )
        mismatches = sum(sum(w["mismatched_documents"].values()) for w in entry["workloads"].values())
        checks[f"{encoding} every implementation agrees with tiktoken"] = mismatches == 0
    return checks
