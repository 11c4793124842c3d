"""The configurations `bench proxy` interleaves: the release defaults, each lever of
issue 12 switched off in turn, and granian. Add or remove a lever here, nowhere else.

A lever is an environment variable of `copilot-hybrid serve` (config.py names them);
its row sets the slower choice. stream_translate's default mode is `shadow` (both
sides run), so the release row pays for both; its `on` and `off` rows show each side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from copilot_hybrid.config import (
    HTTP_PARSER_ENV,
    JSON_ENV,
    LOOP_ENV,
    NO_METRICS_ENV,
    UPSTREAM_TRANSPORT_ENV,
    feature_env_name,
)

UVICORN = "uvicorn"  # `copilot-hybrid serve`
GRANIAN = "granian"  # the same app under granian (copilot_hybrid/bench/granian_app.py)
PASSTHROUGH = "passthrough"  # the floor: no proxy logic on the same stack (copilot_hybrid/bench/passthrough.py)


@dataclass(frozen=True)
class Configuration:
    key: str  # for --config
    label: str
    env: Mapping[str, str] = field(default_factory=dict)
    server: str = UVICORN


RELEASE = "release"
UPSTREAM_ALONE = "upstream"  # no proxy: the load generator calls the fake upstream directly

CONFIGURATIONS: tuple[Configuration, ...] = (
    Configuration(RELEASE, "release (defaults)"),
    Configuration("httpx", "httpx transport", {UPSTREAM_TRANSPORT_ENV: "httpx"}),
    Configuration("asyncio", "asyncio loop", {LOOP_ENV: "asyncio"}),
    Configuration("h11", "h11 parser", {HTTP_PARSER_ENV: "h11"}),
    Configuration("stdlib-json", "stdlib json", {JSON_ENV: "stdlib"}),
    # Metrics are a feature, not a speed lever: this row shows what they cost.
    Configuration("no-metrics", "no metrics", {NO_METRICS_ENV: "1"}),
    Configuration("stream-translate-off", "stream_translate off", {feature_env_name("stream_translate"): "off"}),
    Configuration("stream-translate-on", "stream_translate on", {feature_env_name("stream_translate"): "on"}),
    Configuration(GRANIAN, "granian server", server=GRANIAN),
    Configuration(PASSTHROUGH, "bare passthrough (floor)", server=PASSTHROUGH),
)
CONFIGURATION_KEYS = (*(c.key for c in CONFIGURATIONS), UPSTREAM_ALONE)
