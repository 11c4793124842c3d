"""The tokenizer's verify material, used by `copilot-hybrid verify
tokenizer` (through the feature's cases), the tests and `bench tokenizer`:

  split.py   the pre-tokenizer's oracle (regex 2024.11.6 with tiktoken_ext's pat_str)
  texts.py   generated inputs: edge texts, whitespace runs, the Unicode sweep, random strings
  corpus.py  real text from this machine (the one harvester), plus synthetic chat bodies and logs
  bench.py   throughput against tiktoken and the fastest peers
"""
