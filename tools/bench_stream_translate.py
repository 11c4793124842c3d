"""CPU per streamed chunk of the Anthropic stream translation, reference vs
native (issue 12 point 4), as the server runs it: StreamTranslation with
the feature off (Python) and on (Zig), one upstream read per event, plus
the bare sides without the rollout layer. Prints figures and ratios; no
assertion on speed.

    python tools/bench_stream_translate.py [--chunks 100] [--repeat 200]
"""

from __future__ import annotations

import argparse
import json
import os
import time

from copilot_hybrid import stream_translate as st
from copilot_hybrid.rollout import runner


def upstream_events(chunks: int) -> list[bytes]:
    """A Copilot-like stream: `chunks` text deltas, finish, usage, [DONE]."""

    def event(obj: object) -> bytes:
        return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"

    head = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": "claude-sonnet-4"}
    events = [event({**head, "choices": [{"index": 0, "delta": {"content": f"word {i} "}}]}) for i in range(chunks)]
    events.append(event({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    events.append(event({**head, "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": chunks}}))
    events.append(b"data: [DONE]\n\n")
    return events


def through_server_adapter(events: list[bytes], repeat: int, mode: str) -> float:
    os.environ["COPILOT_HYBRID_FEATURE_STREAM_TRANSLATE"] = mode
    runner.reset("stream_translate")
    started = time.process_time_ns()
    for _ in range(repeat):
        translation = st.StreamTranslation("claude-sonnet-4")
        for read in events:
            translation.feed(read)
        translation.finish()
    return (time.process_time_ns() - started) / repeat


def bare_side(events: list[bytes], repeat: int, side: str) -> float:
    call = st.FEATURE.native if side == "native" else st.FEATURE.reference
    started = time.process_time_ns()
    for _ in range(repeat):
        stream = st.RecordedStream("claude-sonnet-4")
        for read in [*events, None]:
            stream.steps.append(read)
            call(st.StreamSteps(stream, len(stream.steps) - 1, len(stream.steps)))
    return (time.process_time_ns() - started) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    os.environ["COPILOT_HYBRID_NO_METRICS"] = "1"
    events = upstream_events(args.chunks)
    per = len(events)
    through_server_adapter(events, 5, "on")  # warm up: load the library
    rows = {
        "server path, feature off (Python)": through_server_adapter(events, args.repeat, "off"),
        "server path, feature on (Zig)": through_server_adapter(events, args.repeat, "on"),
        "bare reference side": bare_side(events, args.repeat, "reference"),
        "bare native side": bare_side(events, args.repeat, "native"),
    }
    print(f"{args.chunks}-chunk stream ({per} upstream events, one read each), {args.repeat} streams per row")
    for label, ns in rows.items():
        print(f"  {label:36s} {ns / per / 1000:8.2f} us CPU per chunk")
    off, on = rows["server path, feature off (Python)"], rows["server path, feature on (Zig)"]
    bare = rows["bare reference side"] / rows["bare native side"]
    print(f"  ratio reference/native: {off / on:.1f}x through the server path, {bare:.1f}x bare")


if __name__ == "__main__":
    main()
