"""Writes copilot_hybrid/stream_translate/recorded.json: the emulator's chat
streams (the exact bytes its /chat/completions sends) for the
stream_translate verify corpus. The feature cannot import the emulator (it
is a layer above), so the streams are recorded here once:

    python tools/record_stream_corpus.py
"""

from __future__ import annotations

import json
from pathlib import Path

from copilot_hybrid.emulator import catalog, chat
from copilot_hybrid.jsonutil import dumps

OUT = Path(__file__).resolve().parent.parent / "copilot_hybrid" / "stream_translate" / "recorded.json"

PROMPTS = (
    "hello there",
    '[[reply:Hi! Here is a "quoted" word, a tab\t, a newline\n and é, 漢字, 😀.]]',
    '[[tool:get_weather {"city": "Paris", "unit": "c"}]]',
    '[[reply:Let me check.]] [[tool:read_file {"path": "/tmp/a b.txt"}]] [[tool:ls {}]]',
    '[[split]] [[reply:Text in choice 0.]] [[tool:search {"q": "zig \\u00e9"}]]',
    "[[length]] a long answer",
    "[[content-filter]] something",
    "[[cached:7]] with cache",
    "[[reply:]]",
)


def main() -> None:
    models = [m for m in catalog.default_models() if m.get("capabilities", {}).get("type") == "chat"][:3]
    streams = []
    for model in models:
        for prompt in PROMPTS:
            for usage in ("separate", "finish", "both", "none"):
                body = {"model": model["id"], "messages": [{"role": "user", "content": prompt}], "stream": True}
                plan, _ = chat.parse_keywords(prompt)
                completion = chat.build_completion(body, plan, model, now=1_700_000_000)
                events = [chat.sse(dumps(c).decode()) for c in chat.render_chunks(completion, usage)]
                events.append(chat.sse("[DONE]"))
                streams.append({"label": f"{model['id']} {usage} {prompt[:40]}", "model": model["id"],
                                "stream": b"".join(events).decode("utf-8")})  # fmt: skip
    OUT.write_text(json.dumps(streams, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"{len(streams)} streams -> {OUT}")


if __name__ == "__main__":
    main()
