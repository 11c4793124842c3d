"""The server's view of the model list, until it reads `copilot.registry`
directly: `ModelsCache` is the registry, and the helpers read one raw
`/models` entry through `ModelInfo`."""

from __future__ import annotations

from typing import Any

from copilot_hybrid.copilot.registry import ModelInfo, ModelRegistry

ModelsCache = ModelRegistry

__all__ = ["ModelsCache", "max_output_tokens", "public_model", "tokenizer_name"]


def _info(model: dict[str, Any] | None) -> ModelInfo | None:
    return ModelInfo.from_entry(model) if model else None


def max_output_tokens(model: dict[str, Any] | None) -> int | None:
    info = _info(model)
    return info.max_output_tokens if info else None


def tokenizer_name(model: dict[str, Any] | None) -> str | None:
    info = _info(model)
    return info.tokenizer if info else None


def public_model(model: dict[str, Any]) -> dict[str, Any]:
    """copilot-api's /v1/models item shape."""
    return {
        "id": model["id"],
        "object": "model",
        "type": "model",
        "created": 0,
        "created_at": "1970-01-01T00:00:00.000Z",
        "owned_by": model.get("vendor"),
        "display_name": model.get("name"),
    }
