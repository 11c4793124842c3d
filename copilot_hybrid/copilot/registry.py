"""The model registry: Copilot's `GET /models`, read into one record per model,
and the one decision of which Copilot endpoint serves a request.

Copilot lists, per model, the inference endpoints it serves
(`supported_endpoints`): Claude models `/v1/messages` (Anthropic-native) and
usually `/chat/completions`, GPT-5.x codex models only `/responses`, older
models `/chat/completions`. `choose_endpoint` picks one per model and inbound
API in the order of the reference (copilot-modern-surface §1):

| inbound API            | first choice        | then                             |
|------------------------|---------------------|----------------------------------|
| Anthropic Messages     | /v1/messages        | /responses, /chat/completions    |
| OpenAI Responses       | /responses          | /v1/messages, /chat/completions  |
| OpenAI Chat Completions| /chat/completions   | /responses                       |

For Responses requests caozhiyuan answers 400 unless the model lists
/responses; here the Responses <-> Messages and Responses <-> chat translators
carry them instead, so Codex also reaches Claude and older models.

An entry without `supported_endpoints` (older catalogues) is served where its
`capabilities.type` says: chat and completion models on /chat/completions,
embeddings on /embeddings; `ws:/responses` is never assumed.

`ModelRegistry` fetches the list (with the model-access headers, see
`copilot.headers.models_headers`), keeps the last good one, and refreshes it
in the background; everything else here is pure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal

from copilot_hybrid.errors import CopilotHybridError, ModelEndpointUnavailable

if TYPE_CHECKING:
    from copilot_hybrid.copilot.client import CopilotClient

log = logging.getLogger(__name__)

MESSAGES: Final = "/v1/messages"
RESPONSES: Final = "/responses"
CHAT: Final = "/chat/completions"
EMBEDDINGS: Final = "/embeddings"
#: Copilot's WebSocket flavour of /responses; listed, never chosen (HTTP SSE does the same job).
RESPONSES_WEBSOCKET: Final = "ws:/responses"

Inbound = Literal["anthropic", "responses", "chat"]

#: Per inbound API, the Copilot endpoints that can carry it, best first.
ENDPOINT_PREFERENCE: Final[Mapping[Inbound, tuple[str, ...]]] = MappingProxyType(
    {
        # Native first: translating to chat loses thinking signatures, cache breakpoints, PDFs.
        "anthropic": (MESSAGES, RESPONSES, CHAT),
        "responses": (RESPONSES, MESSAGES, CHAT),
        "chat": (CHAT, RESPONSES),
    }
)

_INBOUND_NAMES: Final[Mapping[Inbound, str]] = MappingProxyType(
    {
        "anthropic": "the Anthropic Messages API (/v1/messages)",
        "responses": "the OpenAI Responses API (/v1/responses)",
        "chat": "the OpenAI Chat Completions API (/v1/chat/completions)",
    }
)
_ENDPOINT_CALLERS: Final[Mapping[str, str]] = MappingProxyType(
    {
        MESSAGES: "the Anthropic Messages API (POST /v1/messages)",
        RESPONSES: "the OpenAI Responses API (POST /v1/responses)",
        CHAT: "the OpenAI Chat Completions API (POST /v1/chat/completions)",
        EMBEDDINGS: "the embeddings API (POST /v1/embeddings)",
    }
)


# ---- one model ------------------------------------------------------------------------


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _flag(value: Any) -> bool:
    return value is True


@dataclass(frozen=True)
class ModelInfo:
    """What the proxy knows about one Copilot model, read from its `/models` entry.

    Absent or malformed fields read as "unknown" (None, False, empty), never as
    an error: Copilot's catalogue changes shape from year to year.
    """

    id: str
    name: str
    vendor: str | None
    version: str | None
    family: str | None
    #: `chat`, `embeddings` or `completion` (`chat` when the entry says nothing).
    type: str
    tokenizer: str | None
    #: The endpoints Copilot lists, in its order; see `endpoints_listed`.
    endpoints: tuple[str, ...]
    #: False when the entry had no `supported_endpoints` and `endpoints` was inferred.
    endpoints_listed: bool
    context_window: int | None
    max_prompt_tokens: int | None
    max_output_tokens: int | None
    max_non_streaming_output_tokens: int | None
    tool_calls: bool
    parallel_tool_calls: bool
    streaming: bool
    vision: bool
    structured_outputs: bool
    adaptive_thinking: bool
    min_thinking_budget: int | None
    max_thinking_budget: int | None
    reasoning_efforts: tuple[str, ...]
    vision_media_types: tuple[str, ...]
    preview: bool
    picker_enabled: bool
    picker_category: str | None
    is_chat_default: bool
    premium: bool
    multiplier: float | None
    #: The entry as Copilot sent it (read-only), for fields not modelled here.
    raw: Mapping[str, Any]

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> ModelInfo | None:
        """The record for one `/models` entry; None when it has no string `id`."""
        model_id = entry.get("id")
        if not isinstance(model_id, str) or not model_id:
            return None
        caps = _mapping(entry.get("capabilities"))
        limits = _mapping(caps.get("limits"))
        supports = _mapping(caps.get("supports"))
        billing = _mapping(entry.get("billing"))
        kind = _text(caps.get("type")) or "chat"
        listed = entry.get("supported_endpoints")
        endpoints = (
            tuple(e for e in listed if isinstance(e, str) and e)
            if isinstance(listed, list)
            else _inferred_endpoints(kind)
        )
        efforts = supports.get("reasoning_effort")
        media = _mapping(limits.get("vision")).get("supported_media_types")
        multiplier = billing.get("multiplier")
        return cls(
            id=model_id,
            name=_text(entry.get("name")) or model_id,
            vendor=_text(entry.get("vendor")),
            version=_text(entry.get("version")),
            family=_text(caps.get("family")),
            type=kind,
            tokenizer=_text(caps.get("tokenizer")),
            endpoints=endpoints,
            endpoints_listed=isinstance(listed, list),
            context_window=_positive_int(limits.get("max_context_window_tokens")),
            max_prompt_tokens=_positive_int(limits.get("max_prompt_tokens")),
            max_output_tokens=_positive_int(limits.get("max_output_tokens")),
            max_non_streaming_output_tokens=_positive_int(limits.get("max_non_streaming_output_tokens")),
            tool_calls=_flag(supports.get("tool_calls")),
            parallel_tool_calls=_flag(supports.get("parallel_tool_calls")),
            streaming=_flag(supports.get("streaming")),
            vision=_flag(supports.get("vision")),
            structured_outputs=_flag(supports.get("structured_outputs")),
            adaptive_thinking=_flag(supports.get("adaptive_thinking")),
            min_thinking_budget=_positive_int(supports.get("min_thinking_budget")),
            max_thinking_budget=_positive_int(supports.get("max_thinking_budget")),
            reasoning_efforts=tuple(e for e in efforts if isinstance(e, str)) if isinstance(efforts, list) else (),
            vision_media_types=tuple(m for m in media if isinstance(m, str)) if isinstance(media, list) else (),
            preview=_flag(entry.get("preview")),
            picker_enabled=_flag(entry.get("model_picker_enabled")),
            picker_category=_text(entry.get("model_picker_category")),
            is_chat_default=_flag(entry.get("is_chat_default")),
            premium=_flag(billing.get("is_premium")),
            multiplier=float(multiplier)
            if isinstance(multiplier, int | float) and not isinstance(multiplier, bool)
            else None,
            raw=MappingProxyType(dict(entry)),
        )

    @property
    def thinking(self) -> bool:
        """Whether the model can think at all (adaptively or with a budget)."""
        return self.adaptive_thinking or self.max_thinking_budget is not None

    def serves(self, endpoint: str) -> bool:
        return endpoint in self.endpoints


def _inferred_endpoints(kind: str) -> tuple[str, ...]:
    # Legacy entries without supported_endpoints (PX getEffectiveEndpoints).
    if kind == "embeddings":
        return (EMBEDDINGS,)
    return (CHAT,)


def parse_models(data: Any) -> tuple[ModelInfo, ...]:
    """The records of a `/models` answer (`{"data": [...]}`); unusable entries are skipped."""
    raw = data.get("data") if isinstance(data, Mapping) else None
    if not isinstance(raw, list):
        return ()
    infos = (ModelInfo.from_entry(entry) for entry in raw if isinstance(entry, Mapping))
    return tuple(info for info in infos if info is not None)


# ---- the routing decision ------------------------------------------------------------


def choose_endpoint(model: ModelInfo, inbound: Inbound, *, native_messages: bool = True) -> str:
    """The Copilot endpoint a request of API `inbound` for `model` goes to.

    The first endpoint of `ENDPOINT_PREFERENCE[inbound]` that the model lists.
    `native_messages=False` (`--no-native-messages`) never picks /v1/messages,
    so Anthropic requests keep the chat-completions translation. Raises
    ModelEndpointUnavailable, naming the APIs that do reach the model, when no
    endpoint fits.
    """
    for endpoint in ENDPOINT_PREFERENCE[inbound]:
        if endpoint == MESSAGES and not native_messages:
            continue
        if model.serves(endpoint):
            return endpoint
    listed = ", ".join(model.endpoints) or "no endpoint"
    if model.serves(MESSAGES) and not native_messages:
        hint = (
            " The proxy's --no-native-messages switch keeps requests off /v1/messages; drop it or pick another model."
        )
    else:
        others = [
            api for e, api in _ENDPOINT_CALLERS.items() if model.serves(e) and e not in ENDPOINT_PREFERENCE[inbound]
        ]
        hint = f" Send it through {' or '.join(others)}, or pick another model." if others else " Pick another model."
    raise ModelEndpointUnavailable(
        model.id,
        f"Model {model.id} cannot be used through {_INBOUND_NAMES[inbound]}: Copilot serves it on {listed}.{hint}",
        endpoints=model.endpoints,
    )


# ---- the cache ------------------------------------------------------------------------

#: How often the model list is fetched again (caozhiyuan: 24 h; models appear more often than that).
DEFAULT_REFRESH_SECONDS: Final = 3600.0


class ModelRegistry:
    """Copilot's model list, fetched at startup and kept.

    It is fetched again in the background: on access once it is older than
    `max_age`, and every `max_age` seconds while `start_background()` runs. A
    failed refresh keeps the last good list. Lookups never wait for the network.
    """

    def __init__(
        self,
        client: CopilotClient,
        *,
        max_age: float = DEFAULT_REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._max_age = max_age
        self._clock = clock
        self._models: list[dict[str, Any]] | None = None
        self._by_id: dict[str, dict[str, Any]] = {}
        self._infos: dict[str, ModelInfo] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        self._refreshing: asyncio.Task[None] | None = None
        self._loop_task: asyncio.Task[None] | None = None

    @property
    def loaded(self) -> bool:
        return self._models is not None

    async def load(self) -> list[dict[str, Any]]:
        """Fetches the list now; raises what the client raises (the old list stays)."""
        async with self._lock:
            data = await self._client.models()
            raw = data.get("data")
            entries = (
                [m for m in raw if isinstance(m, dict) and isinstance(m.get("id"), str)]
                if isinstance(raw, list)
                else []
            )
            self.replace(entries)
            return entries

    def replace(self, entries: Iterable[dict[str, Any]]) -> None:
        """Installs a model list (what load() does with Copilot's answer; tests call it directly)."""
        models = list(entries)
        infos = {info.id: info for info in (ModelInfo.from_entry(m) for m in models) if info is not None}
        self._models = models
        self._by_id = {m["id"]: m for m in models if m.get("id") in infos}
        self._infos = infos
        self._fetched_at = self._clock()

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
            log.warning("Refreshing the model list failed (keeping the old one): %s", exc)
            self._fetched_at = self._clock()  # try again after another max_age
        finally:
            self._refreshing = None

    def start_background(self) -> None:
        """Refreshes every `max_age` seconds until aclose(); call inside the event loop."""
        if self._loop_task is None:
            self._loop_task = asyncio.get_running_loop().create_task(self._refresh_forever())

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self._max_age)
            await self._refresh_quietly()

    async def aclose(self) -> None:
        for task in (self._loop_task, self._refreshing):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._loop_task = self._refreshing = None

    # -- lookups (no I/O) ------------------------------------------------------

    def find(self, model_id: Any) -> dict[str, Any] | None:
        """The raw entry of a listed id (exact match)."""
        return self._by_id.get(model_id) if isinstance(model_id, str) else None

    def info(self, model_id: Any) -> ModelInfo | None:
        """The record of a listed id (exact match); resolution lives in `copilot.resolution`."""
        return self._infos.get(model_id) if isinstance(model_id, str) else None

    def infos(self) -> tuple[ModelInfo, ...]:
        """Every listed model, in Copilot's order."""
        return tuple(self._infos.values())

    def ids(self) -> tuple[str, ...]:
        return tuple(self._by_id)

    def by_id(self) -> Mapping[str, dict[str, Any]]:
        """Read-only id -> raw entry; the chat translation reads capabilities from it."""
        return MappingProxyType(self._by_id)
