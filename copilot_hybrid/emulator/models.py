"""The model list the emulated Copilot serves at `GET {copilot}/models`.

Shapes follow the real endpoint (fields the proxy reads and fields it merely
passes on), so the proxy's model cache, token counting and `/v1/models`
mapping are exercised on realistic data. Limits are close to what Copilot
advertised in late 2025; exact values do not matter, plausibility does.
"""

from __future__ import annotations

import copy
from typing import Any

_VISION_LIMITS: dict[str, Any] = {
    "max_prompt_image_size": 3_145_728,
    "max_prompt_images": 1,
    "supported_media_types": ["image/jpeg", "image/png", "image/webp", "image/gif"],
}


def _chat_model(
    model_id: str,
    name: str,
    vendor: str,
    version: str,
    *,
    family: str | None = None,
    context: int,
    output: int,
    prompt: int,
    vision: bool = True,
    parallel_tool_calls: bool = True,
    multiplier: float = 0.0,
    preview: bool = False,
    picker: bool = True,
    category: str = "versatile",
    thinking: bool = False,
    reasoning_effort: tuple[str, ...] = (),
) -> dict[str, Any]:
    supports: dict[str, Any] = {
        "parallel_tool_calls": parallel_tool_calls,
        "streaming": True,
        "tool_calls": True,
        "vision": vision,
    }
    # Claude models on Copilot advertise a thinking budget range; GPT-5 and
    # o-series advertise reasoning-effort levels.
    if thinking:
        supports.update(max_thinking_budget=32_000, min_thinking_budget=1_024)
    if reasoning_effort:
        supports["reasoning_effort"] = list(reasoning_effort)
    limits: dict[str, Any] = {
        "max_context_window_tokens": context,
        "max_output_tokens": output,
        "max_prompt_tokens": prompt,
    }
    if vision:
        limits["vision"] = copy.deepcopy(_VISION_LIMITS)
    return {
        "billing": {"is_premium": multiplier > 0, "multiplier": multiplier},
        "capabilities": {
            "family": family or model_id,
            "limits": limits,
            "object": "model_capabilities",
            "supports": supports,
            "tokenizer": "o200k_base",
            "type": "chat",
        },
        "id": model_id,
        "is_chat_default": model_id == "gpt-4.1",
        "is_chat_fallback": model_id == "gpt-4.1",
        "model_picker_category": category,
        "model_picker_enabled": picker,
        "name": name,
        "object": "model",
        "policy": {"state": "enabled", "terms": f"Enable access to {name}."},
        "preview": preview,
        "vendor": vendor,
        "version": version,
    }


def _embedding_model(model_id: str, name: str, *, dimensions: bool) -> dict[str, Any]:
    return {
        "capabilities": {
            "family": model_id,
            "limits": {"max_inputs": 512},
            "object": "model_capabilities",
            "supports": {
                "dimensions": dimensions,
                "parallel_tool_calls": False,
                "streaming": False,
                "tool_calls": False,
                "vision": False,
            },
            "tokenizer": "cl100k_base",
            "type": "embeddings",
        },
        "id": model_id,
        "is_chat_default": False,
        "is_chat_fallback": False,
        "model_picker_enabled": False,
        "name": name,
        "object": "model",
        "preview": False,
        "vendor": "Azure OpenAI",
        "version": model_id,
    }


_CATALOGUE: tuple[dict[str, Any], ...] = (
    _chat_model(
        "gpt-4.1",
        "GPT-4.1",
        "Azure OpenAI",
        "gpt-4.1-2025-04-14",
        context=128_000,
        output=16_384,
        prompt=128_000,
    ),
    _chat_model(
        "gpt-4o",
        "GPT-4o",
        "Azure OpenAI",
        "gpt-4o-2024-11-20",
        context=128_000,
        output=4_096,
        prompt=64_000,
    ),
    _chat_model(
        "gpt-4o-mini",
        "GPT-4o mini",
        "Azure OpenAI",
        "gpt-4o-mini-2024-07-18",
        context=128_000,
        output=4_096,
        prompt=64_000,
        vision=False,
        picker=False,
        category="lightweight",
    ),
    _chat_model(
        "gpt-5",
        "GPT-5",
        "Azure OpenAI",
        "gpt-5",
        context=400_000,
        output=128_000,
        prompt=128_000,
        multiplier=1.0,
        category="powerful",
        reasoning_effort=("low", "medium", "high"),
    ),
    _chat_model(
        "gpt-5-mini",
        "GPT-5 mini",
        "Azure OpenAI",
        "gpt-5-mini",
        context=264_000,
        output=64_000,
        prompt=128_000,
        category="lightweight",
        reasoning_effort=("low", "medium", "high"),
    ),
    _chat_model(
        "o3-mini",
        "o3-mini",
        "Azure OpenAI",
        "o3-mini-2025-01-31",
        context=200_000,
        output=100_000,
        prompt=64_000,
        vision=False,
        parallel_tool_calls=False,
        multiplier=0.33,
        picker=False,
        reasoning_effort=("low", "medium", "high"),
    ),
    _chat_model(
        "claude-sonnet-4",
        "Claude Sonnet 4",
        "Anthropic",
        "claude-sonnet-4",
        context=216_000,
        output=16_000,
        prompt=128_000,
        multiplier=1.0,
        thinking=True,
    ),
    _chat_model(
        "claude-sonnet-4.5",
        "Claude Sonnet 4.5",
        "Anthropic",
        "claude-sonnet-4.5",
        context=144_000,
        output=16_000,
        prompt=128_000,
        multiplier=1.0,
        thinking=True,
    ),
    _chat_model(
        "claude-opus-4",
        "Claude Opus 4",
        "Anthropic",
        "claude-opus-4",
        context=80_000,
        output=16_000,
        prompt=80_000,
        multiplier=10.0,
        picker=False,
        category="powerful",
        thinking=True,
    ),
    _chat_model(
        "claude-opus-4.1",
        "Claude Opus 4.1",
        "Anthropic",
        "claude-opus-4.1",
        context=80_000,
        output=16_000,
        prompt=80_000,
        multiplier=10.0,
        category="powerful",
        thinking=True,
    ),
    # The models today's Claude Code (2.1.x) asks for by default, so that a
    # bare `claude` pointed at `serve --emulator` works without settings.
    _chat_model(
        "claude-sonnet-4.6",
        "Claude Sonnet 4.6",
        "Anthropic",
        "claude-sonnet-4.6",
        context=200_000,
        output=32_000,
        prompt=168_000,
        multiplier=1.0,
        thinking=True,
    ),
    _chat_model(
        "claude-opus-4.8",
        "Claude Opus 4.8",
        "Anthropic",
        "claude-opus-4.8",
        context=200_000,
        output=32_000,
        prompt=168_000,
        multiplier=3.0,
        category="powerful",
        thinking=True,
    ),
    _chat_model(
        "claude-haiku-4.5",
        "Claude Haiku 4.5",
        "Anthropic",
        "claude-haiku-4.5",
        context=144_000,
        output=16_000,
        prompt=128_000,
        multiplier=0.33,
        category="lightweight",
        thinking=True,
    ),
    _chat_model(
        "gemini-2.5-pro",
        "Gemini 2.5 Pro",
        "Google",
        "gemini-2.5-pro",
        context=128_000,
        output=64_000,
        prompt=128_000,
        parallel_tool_calls=False,
        multiplier=1.0,
        preview=True,
        category="powerful",
    ),
    _embedding_model("text-embedding-3-small", "Embedding V3 small", dimensions=True),
    _embedding_model("text-embedding-ada-002", "Embedding V2 Ada", dimensions=False),
)

#: Dimensions of the vectors the emulated embedding models return by default.
EMBEDDING_DIMENSIONS = 1536


def default_models() -> list[dict[str, Any]]:
    """A fresh deep copy of the built-in catalogue (callers may mutate it)."""
    return copy.deepcopy(list(_CATALOGUE))
