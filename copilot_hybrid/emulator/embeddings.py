"""Deterministic embeddings: the same model, input and size give the same
unit vector, in every process and on every platform (SHAKE-256, no RNG)."""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from collections.abc import Mapping
from typing import Any

from copilot_hybrid.emulator.chat import tokens_of_text


def vector(model: str, text: str, dimensions: int) -> list[float]:
    raw = hashlib.shake_256(f"{model}\0{text}".encode()).digest(4 * dimensions)
    values = [v / 2**31 - 1.0 for v in struct.unpack(f"<{dimensions}I", raw)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 8) for v in values]


def normalise_inputs(value: Any) -> list[tuple[str, int]]:
    """(key text, token count) per input; ValueError for shapes OpenAI rejects.

    Accepts a string, a list of strings, a list of token ids, or a list of
    token-id lists, as the OpenAI API does.
    """
    if isinstance(value, str):
        items: list[Any] = [value]
    elif isinstance(value, list) and value and all(_is_int(v) for v in value):
        items = [value]
    elif isinstance(value, list) and value:
        items = value
    else:
        raise ValueError("'input' must be a non-empty string or array")
    out: list[tuple[str, int]] = []
    for item in items:
        if isinstance(item, str):
            if not item:
                raise ValueError("'input' must not contain empty strings")
            out.append((item, max(1, tokens_of_text(item))))
        elif isinstance(item, list) and item and all(_is_int(v) for v in item):
            out.append((",".join(str(v) for v in item), len(item)))
        else:
            raise ValueError("'input' items must be strings or token arrays")
    return out


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def embeddings_response(body: Mapping[str, Any], model_id: str, dimensions: int) -> dict[str, Any]:
    inputs = normalise_inputs(body.get("input"))
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for index, (text, _) in enumerate(inputs):
        vec = vector(model_id, text, dimensions)
        embedding: Any = base64.b64encode(struct.pack(f"<{dimensions}f", *vec)).decode("ascii") if as_base64 else vec
        data.append({"embedding": embedding, "index": index, "object": "embedding"})
    tokens = sum(count for _, count in inputs)
    return {
        "data": data,
        "model": model_id,
        "object": "list",
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
