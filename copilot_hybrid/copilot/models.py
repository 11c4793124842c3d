"""The Copilot model list, fetched at startup and kept; refetched on demand when
missing, or in the background once it is older than `max_age`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from copilot_hybrid.copilot.client import CopilotClient
from copilot_hybrid.errors import CopilotHybridError

log = logging.getLogger(__name__)


class ModelsCache:
    def __init__(
        self, client: CopilotClient, *, max_age: float = 3600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._client = client
        self._max_age = max_age
        self._clock = clock
        self._models: list[dict[str, Any]] | None = None
        self._by_id: dict[str, dict[str, Any]] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        self._refreshing: asyncio.Task[None] | None = None

    @property
    def loaded(self) -> bool:
        return self._models is not None

    async def load(self) -> list[dict[str, Any]]:
        async with self._lock:
            data = await self._client.models()
            raw = data.get("data")
            models = (
                [m for m in raw if isinstance(m, dict) and isinstance(m.get("id"), str)]
                if isinstance(raw, list)
                else []
            )
            self._models = models
            self._by_id = {m["id"]: m for m in models}
            self._fetched_at = self._clock()
            return models

    async def get(self) -> list[dict[str, Any]]:
        if self._models is None:
            return await self.load()
        if self._clock() - self._fetched_at > self._max_age and self._refreshing is None:
            self._refreshing = asyncio.get_running_loop().create_task(self._refresh_quietly())
        return self._models

    async def _refresh_quietly(self) -> None:
        try:
            await self.load()
        except CopilotHybridError as exc:
            log.warning("Refreshing the model list failed: %s", exc)
            self._fetched_at = self._clock()  # try again after another max_age
        finally:
            self._refreshing = None

    def find(self, model_id: Any) -> dict[str, Any] | None:
        return self._by_id.get(model_id) if isinstance(model_id, str) else None

    def ids(self) -> tuple[str, ...]:
        return tuple(self._by_id)

    def by_id(self) -> Mapping[str, dict[str, Any]]:
        """Read-only id -> model; translation reads capabilities from it
        (thinking budgets, reasoning effort) as well as the ids."""
        return MappingProxyType(self._by_id)


def _capabilities(model: dict[str, Any] | None) -> dict[str, Any]:
    caps = model.get("capabilities") if model else None
    return caps if isinstance(caps, dict) else {}


def max_output_tokens(model: dict[str, Any] | None) -> int | None:
    limits = _capabilities(model).get("limits")
    value = limits.get("max_output_tokens") if isinstance(limits, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def tokenizer_name(model: dict[str, Any] | None) -> str | None:
    value = _capabilities(model).get("tokenizer")
    return value if isinstance(value, str) and value else None


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
