"""The configurations `bench proxy` interleaves: the release defaults, each lever of
issue 12 switched off in turn, and granian. Add or remove a lever here, nowhere else.

A lever is an environment variable of `copilot-hybrid serve`; a serve that does not
know a variable yet ignores it (its row then measures the release configuration again).
The names are the ones agreed for issue 12 (`copilot_hybrid/config.py` holds them as
the levers land).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from copilot_hybrid.config import NO_METRICS_ENV, feature_env_name

UVICORN = "uvicorn"  # `copilot-hybrid serve`
GRANIAN = "granian"  # the same app under granian (copilot_hybrid/bench/granian_app.py)


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
    Configuration("httpx", "httpx transport", {"COPILOT_HYBRID_UPSTREAM_TRANSPORT": "httpx"}),
    Configuration("asyncio", "asyncio loop", {"COPILOT_HYBRID_LOOP": "asyncio"}),
    Configuration("h11", "h11 parser", {"COPILOT_HYBRID_HTTP_PARSER": "h11"}),
    Configuration("stdlib-json", "stdlib json", {"COPILOT_HYBRID_JSON": "stdlib"}),
    # Metrics are a feature, not a speed lever: this row shows what they cost.
    Configuration("no-metrics", "no metrics", {NO_METRICS_ENV: "1"}),
    Configuration("stream-translate-off", "stream_translate off", {feature_env_name("stream_translate"): "off"}),
    Configuration("stream-translate-on", "stream_translate on", {feature_env_name("stream_translate"): "on"}),
    Configuration(GRANIAN, "granian server", server=GRANIAN),
)
CONFIGURATION_KEYS = (*(c.key for c in CONFIGURATIONS), UPSTREAM_ALONE)
