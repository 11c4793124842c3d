"""Builds the tokenizer corpus (deterministic, from material on this machine).

    python tools/build_corpus.py [--out DIR] [--json]

The builder lives in copilot_hybrid/tokenizer/verify/corpus.py, so that
`copilot-hybrid verify` and `bench` can build it on first use in an
installed package too; this script is the command-line entry point.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from copilot_hybrid.tokenizer.verify.corpus import build_corpus, corpus_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None, help=f"output folder (default {corpus_dir()})")
    parser.add_argument("--json", action="store_true", help="print meta.json")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    corpus = build_corpus(args.out)
    meta = corpus.meta
    if args.json:
        print(json.dumps(meta, indent=2))
        return 0
    print(
        f"built {corpus.directory} in {time.perf_counter() - started:.1f} s: "
        f"{meta['documents']} documents, {meta['bytes'] / 1e6:.2f} MB, sha256 {meta['sha256'][:16]}"
    )
    for kind, entry in meta["composition"].items():
        share = entry["non_ascii_bytes"] / entry["bytes"] if entry["bytes"] else 0.0
        print(f"  {kind:<11} {entry['documents']:>5} docs {entry['bytes'] / 1e6:>6.2f} MB  non-ASCII {share:6.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
