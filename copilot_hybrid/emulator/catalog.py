"""The model list the emulated Copilot serves at `GET {copilot}/models`: today's families.

Shapes follow the real endpoint as the reference records it (§2: PX's
AVAILABLE_MODELS of 2026-03 and the later M2 dump): `supported_endpoints`,
`capabilities{family, type, tokenizer, limits, supports}`, `billing{is_premium,
multiplier, restricted_to}`, `policy`, picker fields, and M2's usage-based
billing `warning_message`. Limits and efforts are the observed ones where the
reference has them, plausible ones elsewhere; multipliers drive the
emulator's premium accounting.

| family | ids | endpoints |
|---|---|---|
| Claude Opus | claude-opus-5.5, -5, -4.8, -4.7, -4.6; 4.1 (legacy) | /v1/messages, /chat/completions |
| Claude Sonnet | claude-sonnet-5.5, -5, -4.6; 4.5 (retiring), 4 (legacy) | /v1/messages, /chat/completions |
| Claude Haiku | claude-haiku-5.5, claude-haiku-4.5 (budget thinking only) | /v1/messages, /chat/completions |
| GPT-5.x | gpt-5.5, gpt-5.3-codex (Responses only); gpt-5.4 (+ chat); gpt-5, gpt-5-mini | see entries |
| older GPT | gpt-4.1 (chat default), gpt-4o, gpt-4o-mini, o3-mini | /chat/completions |
| Gemini | gemini-3-pro, gemini-2.5-pro | /chat/completions |
| embeddings | text-embedding-3-small, text-embedding-ada-002 | /embeddings (no supported_endpoints, as upstream) |

The ids today's Claude Code asks for by default (`claude-opus-5-5`, and
`claude-sonnet-5-5` / `claude-haiku-5-5` for `--model sonnet|haiku`) are
Copilot's dotted `claude-opus-5.5`, `claude-sonnet-5.5`, `claude-haiku-5.5`.
"""

from __future__ import annotations

import copy
from typing import Any, Final

_CLAUDE_ENDPOINTS: Final = ("/v1/messages", "/chat/completions")
_CHAT_ONLY: Final = ("/chat/completions",)
_RESPONSES_ONLY: Final = ("/responses", "ws:/responses")
_RESPONSES_AND_CHAT: Final = ("/responses", "/chat/completions", "ws:/responses")

_EFFORTS_3: Final = ("low", "medium", "high")
_EFFORTS_CLAUDE_MAX: Final = ("low", "medium", "high", "max")
_EFFORTS_CLAUDE_NEW: Final = ("low", "medium", "high", "xhigh", "max")
_EFFORTS_CODEX: Final = ("low", "medium", "high", "xhigh")
_EFFORTS_GPT_NEW: Final = ("none", "low", "medium", "high", "xhigh")

_IMAGE_TYPES: Final = ("image/jpeg", "image/png", "image/webp", "image/gif")
_PREMIUM_PLANS: Final = ("pro", "pro_plus", "business", "enterprise")
_USAGE_BASED_WARNING: Final = (
    "Your billing plan has changed to usage-based billing and model multipliers no longer apply. "
    "Usage is billed by tokens."
)


def _chat_model(
    model_id: str,
    name: str,
    vendor: str,
    version: str,
    *,
    endpoints: tuple[str, ...],
    context: int,
    prompt: int,
    output: int,
    non_streaming_output: int | None = None,
    vision: bool = True,
    pdf: bool = False,
    parallel_tool_calls: bool = True,
    structured_outputs: bool = True,
    multiplier: float = 0.0,
    preview: bool = False,
    picker: bool = True,
    category: str = "versatile",
    adaptive_thinking: bool = False,
    thinking_budget: tuple[int, int] | None = None,
    reasoning_effort: tuple[str, ...] = (),
    chat_default: bool = False,
    policy: bool = True,
    warning: str | None = None,
) -> dict[str, Any]:
    supports: dict[str, Any] = {
        "parallel_tool_calls": parallel_tool_calls,
        "streaming": True,
        "structured_outputs": structured_outputs,
        "tool_calls": True,
        "vision": vision,
    }
    if adaptive_thinking:
        supports["adaptive_thinking"] = True
    if thinking_budget is not None:
        supports["min_thinking_budget"], supports["max_thinking_budget"] = thinking_budget
    if reasoning_effort:
        supports["reasoning_effort"] = list(reasoning_effort)
    limits: dict[str, Any] = {
        "max_context_window_tokens": context,
        "max_output_tokens": output,
        "max_prompt_tokens": prompt,
    }
    if non_streaming_output is not None:
        limits["max_non_streaming_output_tokens"] = non_streaming_output
    if vision:
        limits["vision"] = {
            "max_prompt_image_size": 3_145_728,
            "max_prompt_images": 5 if vendor == "Anthropic" else 1,
            "supported_media_types": [*_IMAGE_TYPES, *(["application/pdf"] if pdf else [])],
        }
    billing: dict[str, Any] = {"is_premium": multiplier > 0, "multiplier": multiplier}
    if multiplier > 0:
        billing["restricted_to"] = list(_PREMIUM_PLANS)
    entry: dict[str, Any] = {
        "billing": billing,
        "capabilities": {
            "family": model_id,
            "limits": limits,
            "object": "model_capabilities",
            "supports": supports,
            "tokenizer": "o200k_base",
            "type": "chat",
        },
        "id": model_id,
        "is_chat_default": chat_default,
        "is_chat_fallback": chat_default,
        "model_picker_category": category,
        "model_picker_enabled": picker,
        "name": name,
        "object": "model",
        "preview": preview,
        "supported_endpoints": list(endpoints),
        "vendor": vendor,
        "version": version,
    }
    if policy:
        entry["policy"] = {"state": "enabled", "terms": f"Enable access to the latest {name} model from {vendor}."}
    if warning is not None:
        entry["warning_message"] = warning
    return entry


def _claude(
    model_id: str,
    name: str,
    *,
    context: int = 1_000_000,
    prompt: int = 936_000,
    output: int = 64_000,
    multiplier: float = 1.0,
    category: str = "versatile",
    adaptive: bool = True,
    efforts: tuple[str, ...] = _EFFORTS_CLAUDE_NEW,
    budget: tuple[int, int] = (1_024, 32_000),
    picker: bool = True,
    warning: str | None = None,
) -> dict[str, Any]:
    return _chat_model(
        model_id,
        name,
        "Anthropic",
        model_id,
        endpoints=_CLAUDE_ENDPOINTS,
        context=context,
        prompt=prompt,
        output=output,
        non_streaming_output=16_000,
        pdf=True,
        multiplier=multiplier,
        category=category,
        picker=picker,
        adaptive_thinking=adaptive,
        thinking_budget=budget,
        reasoning_effort=efforts if adaptive else (),
        warning=warning,
    )


def _embedding_model(model_id: str, name: str, *, dimensions: bool) -> dict[str, Any]:
    # Copilot's embedding entries carry no supported_endpoints; the type says /embeddings.
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


_CATALOGUE: Final[tuple[dict[str, Any], ...]] = (
    # -- Claude Opus --------------------------------------------------------------
    _claude("claude-opus-5.5", "Claude Opus 5.5", output=128_000, prompt=872_000, multiplier=3.0, category="powerful"),
    _claude("claude-opus-5", "Claude Opus 5", multiplier=3.0, category="powerful"),
    _claude("claude-opus-4.8", "Claude Opus 4.8", multiplier=3.0, category="powerful"),
    _claude("claude-opus-4.7", "Claude Opus 4.7", multiplier=3.0, category="powerful"),
    _claude(
        "claude-opus-4.6",
        "Claude Opus 4.6",
        efforts=_EFFORTS_CLAUDE_MAX,
        multiplier=1.0,
        category="powerful",
        warning=_USAGE_BASED_WARNING,
    ),
    _claude(
        "claude-opus-4.1",
        "Claude Opus 4.1",
        context=80_000,
        prompt=80_000,
        output=16_000,
        multiplier=10.0,
        category="powerful",
        adaptive=False,
    ),
    # -- Claude Sonnet ------------------------------------------------------------
    _claude("claude-sonnet-5.5", "Claude Sonnet 5.5", output=128_000, prompt=872_000),
    _claude("claude-sonnet-5", "Claude Sonnet 5"),
    _claude("claude-sonnet-4.6", "Claude Sonnet 4.6", context=200_000, prompt=168_000, efforts=_EFFORTS_3),
    # Retired by Anthropic on 2026-11-30; Copilot lists models for a while after.
    _claude("claude-sonnet-4.5", "Claude Sonnet 4.5", context=144_000, prompt=128_000, output=16_000, adaptive=False),
    _claude(
        "claude-sonnet-4",
        "Claude Sonnet 4",
        context=216_000,
        prompt=128_000,
        output=16_000,
        adaptive=False,
    ),
    # -- Claude Haiku -------------------------------------------------------------
    _claude(
        "claude-haiku-5.5",
        "Claude Haiku 5.5",
        context=200_000,
        prompt=168_000,
        multiplier=0.33,
        category="lightweight",
        efforts=_EFFORTS_3,
    ),
    # PX: no adaptive thinking and no efforts, only a budget range (it thinks on /v1/messages only).
    _claude(
        "claude-haiku-4.5",
        "Claude Haiku 4.5",
        context=144_000,
        prompt=128_000,
        output=16_000,
        multiplier=0.33,
        category="lightweight",
        adaptive=False,
    ),
    # -- GPT-5.x --------------------------------------------------------------------
    _chat_model(
        "gpt-5.5",
        "GPT-5.5",
        "OpenAI",
        "gpt-5.5",
        endpoints=_RESPONSES_ONLY,
        context=1_050_000,
        prompt=922_000,
        output=128_000,
        multiplier=1.0,
        category="powerful",
        reasoning_effort=_EFFORTS_GPT_NEW,
        policy=False,
    ),
    _chat_model(
        "gpt-5.4",
        "GPT-5.4",
        "OpenAI",
        "gpt-5.4",
        endpoints=_RESPONSES_AND_CHAT,
        context=1_050_000,
        prompt=922_000,
        output=128_000,
        multiplier=1.0,
        category="powerful",
        reasoning_effort=_EFFORTS_GPT_NEW,
    ),
    _chat_model(
        "gpt-5.3-codex",
        "GPT-5.3-Codex",
        "OpenAI",
        "gpt-5.3-codex",
        endpoints=_RESPONSES_ONLY,
        context=400_000,
        prompt=272_000,
        output=128_000,
        multiplier=1.0,
        category="powerful",
        reasoning_effort=_EFFORTS_CODEX,
        policy=False,
    ),
    _chat_model(
        "gpt-5",
        "GPT-5",
        "Azure OpenAI",
        "gpt-5",
        endpoints=("/chat/completions", "/responses"),
        context=400_000,
        prompt=128_000,
        output=128_000,
        multiplier=1.0,
        category="powerful",
        reasoning_effort=_EFFORTS_3,
    ),
    _chat_model(
        "gpt-5-mini",
        "GPT-5 mini",
        "Azure OpenAI",
        "gpt-5-mini",
        endpoints=("/chat/completions", "/responses"),
        context=264_000,
        prompt=128_000,
        output=64_000,
        category="lightweight",
        reasoning_effort=_EFFORTS_3,
    ),
    # -- older OpenAI -----------------------------------------------------------------
    _chat_model(
        "gpt-4.1",
        "GPT-4.1",
        "Azure OpenAI",
        "gpt-4.1-2025-04-14",
        endpoints=_CHAT_ONLY,
        context=128_000,
        prompt=128_000,
        output=16_384,
        chat_default=True,
    ),
    _chat_model(
        "gpt-4o",
        "GPT-4o",
        "Azure OpenAI",
        "gpt-4o-2024-11-20",
        endpoints=_CHAT_ONLY,
        context=128_000,
        prompt=64_000,
        output=4_096,
    ),
    _chat_model(
        "gpt-4o-mini",
        "GPT-4o mini",
        "Azure OpenAI",
        "gpt-4o-mini-2024-07-18",
        endpoints=_CHAT_ONLY,
        context=128_000,
        prompt=64_000,
        output=4_096,
        vision=False,
        picker=False,
        category="lightweight",
    ),
    _chat_model(
        "o3-mini",
        "o3-mini",
        "Azure OpenAI",
        "o3-mini-2025-01-31",
        endpoints=_CHAT_ONLY,
        context=200_000,
        prompt=64_000,
        output=100_000,
        vision=False,
        parallel_tool_calls=False,
        multiplier=0.33,
        picker=False,
        reasoning_effort=_EFFORTS_3,
    ),
    # -- Gemini (chat only) -------------------------------------------------------------
    _chat_model(
        "gemini-3-pro",
        "Gemini 3 Pro",
        "Google",
        "gemini-3-pro",
        endpoints=_CHAT_ONLY,
        context=1_000_000,
        prompt=900_000,
        output=64_000,
        parallel_tool_calls=False,
        multiplier=1.0,
        preview=True,
        category="powerful",
    ),
    _chat_model(
        "gemini-2.5-pro",
        "Gemini 2.5 Pro",
        "Google",
        "gemini-2.5-pro",
        endpoints=_CHAT_ONLY,
        context=128_000,
        prompt=128_000,
        output=64_000,
        parallel_tool_calls=False,
        multiplier=1.0,
        preview=True,
        category="powerful",
    ),
    # -- embeddings ------------------------------------------------------------------------
    _embedding_model("text-embedding-3-small", "Embedding V3 small", dimensions=True),
    _embedding_model("text-embedding-ada-002", "Embedding V2 Ada", dimensions=False),
)

#: Dimensions of the vectors the emulated embedding models return by default.
EMBEDDING_DIMENSIONS = 1536


def default_models() -> list[dict[str, Any]]:
    """A fresh deep copy of the built-in catalogue (callers may mutate it)."""
    return copy.deepcopy(list(_CATALOGUE))
