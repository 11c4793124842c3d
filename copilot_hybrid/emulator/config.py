"""Emulator settings: what tests change between scenarios.

One immutable dataclass; `updated()` validates a JSON patch (from the control
API or the Python API) so a typo in a test fails loudly instead of being
ignored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

DEVICE_SCENARIOS = ("approve", "slow_down", "expired", "denied", "manual")
STREAM_USAGE_MODES = ("separate", "finish", "both")

#: The GitHub token every emulator accepts from the start, so tests that do
#: not exercise the device flow can skip it. Shaped like a real OAuth token.
DEFAULT_GITHUB_TOKEN = "gho_EmulatorDefaultToken000000000000000"  # noqa: S105 - a fake, by design


@dataclasses.dataclass(frozen=True)
class EmulatorConfig:
    # Copilot token exchange. A short TTL makes refresh tests fast; refresh_in
    # defaults to TTL*5/6, which gives the real 1500 s for the real 1800 s.
    copilot_token_ttl: float = 1800.0
    copilot_refresh_in: int | None = None

    # Device flow. interval 0 keeps proxy tests fast (copilot-api sleeps
    # interval+1 s between polls); set 5 to mimic github.com.
    device_flow_scenario: str = "approve"
    device_pending_polls: int = 1
    device_interval: int = 0
    device_slow_down_increment: int = 5
    device_code_ttl: float = 900.0

    # Identity and quota.
    user_login: str = "emulated-user"
    copilot_plan: str = "individual"
    premium_entitlement: int = 300
    premium_used: float = 0.0

    # Checks the real Copilot API makes and a port can get wrong.
    require_editor_version: bool = True
    require_vision_header: bool = True

    # Where streamed usage goes: a trailing usage-only chunk ("separate", the
    # OpenAI shape), on the finish_reason chunk ("finish", as Copilot does for
    # Claude models), or both.
    stream_usage: str = "separate"

    # Replaces the built-in model catalogue when set.
    models: tuple[Mapping[str, Any], ...] | None = None
    # The plan: these ids are left out of /models and refused like unknown models.
    unavailable_models: tuple[str, ...] = ()
    # /v1/messages streams carry Copilot's own extras (a copilot_usage event,
    # Bedrock metrics on message_stop), which a proxy must filter.
    messages_internal_events: bool = True

    # Recorded requests kept (oldest dropped first): bounds memory in long demos.
    max_recorded_requests: int = 1000

    @property
    def refresh_in(self) -> int:
        if self.copilot_refresh_in is not None:
            return self.copilot_refresh_in
        return int(self.copilot_token_ttl * 5 // 6)

    def updated(self, changes: Mapping[str, Any]) -> EmulatorConfig:
        """A copy with `changes` applied; raises ValueError on unknown keys or bad values."""
        fields = {f.name for f in dataclasses.fields(self)}
        clean: dict[str, Any] = {}
        for key, value in changes.items():
            if key not in fields:
                raise ValueError(f"unknown emulator config key: {key!r}")
            clean[key] = _validate(key, value)
        return dataclasses.replace(self, **clean)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["models"] = None if self.models is None else [dict(m) for m in self.models]
        data["unavailable_models"] = list(self.unavailable_models)
        data["refresh_in"] = self.refresh_in
        return data


_FLOATS = {"copilot_token_ttl", "device_code_ttl", "premium_used"}
_INTS = {
    "device_pending_polls",
    "device_interval",
    "device_slow_down_increment",
    "premium_entitlement",
    "max_recorded_requests",
}
_BOOLS = {"require_editor_version", "require_vision_header", "messages_internal_events"}
_STRINGS = {"user_login", "copilot_plan"}


def _validate(key: str, value: Any) -> Any:
    # bool is an int subclass: reject it explicitly for numeric fields.
    if key in _FLOATS:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{key} must be a non-negative number")
        return float(value)
    if key in _INTS:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{key} must be a non-negative integer")
        return value
    if key == "copilot_refresh_in":
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError("copilot_refresh_in must be a non-negative integer or null")
        return value
    if key in _BOOLS:
        if not isinstance(value, bool):
            raise ValueError(f"{key} must be a boolean")
        return value
    if key in _STRINGS:
        if not isinstance(value, str) or not value:
            raise ValueError(f"{key} must be a non-empty string")
        return value
    if key == "device_flow_scenario":
        if value not in DEVICE_SCENARIOS:
            raise ValueError(f"device_flow_scenario must be one of {DEVICE_SCENARIOS}")
        return value
    if key == "stream_usage":
        if value not in STREAM_USAGE_MODES:
            raise ValueError(f"stream_usage must be one of {STREAM_USAGE_MODES}")
        return value
    if key == "unavailable_models":
        if not isinstance(value, list | tuple) or not all(isinstance(m, str) and m for m in value):
            raise ValueError("unavailable_models must be a list of model ids")
        return tuple(value)
    if key == "models":
        if value is None:
            return None
        if not isinstance(value, list | tuple) or not all(
            isinstance(m, Mapping) and isinstance(m.get("id"), str) for m in value
        ):
            raise ValueError("models must be a list of objects with a string 'id'")
        return tuple(value)
    raise ValueError(f"unknown emulator config key: {key!r}")  # pragma: no cover
