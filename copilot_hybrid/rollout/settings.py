"""Configured modes: defaults < config file < environment < kill switch.

The config file is TOML in the user config dir (COPILOT_HYBRID_HOME moves it):

    [features]
    tokenizer = "on"
    rate_limit = "shadow"

    [rollout]
    shadow_sample_rate = 1.0     # fraction of shadow calls that also run native

Reading never raises: an unreadable file or a bad value is reported as a
warning in the decision's reason and the next layer down is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from copilot_hybrid import config
from copilot_hybrid.rollout.modes import Mode, parse_mode


@dataclass(frozen=True)
class Configured:
    mode: Mode
    source: str  # "default", "config", "env"
    warnings: tuple[str, ...] = ()


@dataclass
class FileSettings:
    features: dict[str, str] = field(default_factory=dict)
    shadow_sample_rate: float | None = None
    error: str | None = None


def read_file(path: Path | None = None) -> FileSettings:
    file = config.read_config_file(path)
    if file.error:
        return FileSettings(error=file.error)
    settings = FileSettings()
    settings.features = {str(k): str(v) for k, v in file.table("features").items()}
    rate = file.table("rollout").get("shadow_sample_rate")
    if isinstance(rate, (int, float)) and not isinstance(rate, bool):
        settings.shadow_sample_rate = float(rate)
    return settings


def write_feature_mode(feature: str, mode: Mode, path: Path | None = None) -> Path:
    """Persists one feature's mode, keeping the file's other settings."""
    path = path or config.config_file()
    current = read_file(path)
    if current.error:
        raise ValueError(current.error)
    current.features[feature] = str(mode)
    lines = ["# written by `copilot-hybrid rollout set`", "[features]"]
    lines += [f'{name} = "{value}"' for name, value in sorted(current.features.items())]
    if current.shadow_sample_rate is not None:
        lines += ["", "[rollout]", f"shadow_sample_rate = {current.shadow_sample_rate}"]
    config.write_private_file(path, "\n".join(lines) + "\n")
    return path


def configured_mode(feature: str, default: Mode, file: FileSettings | None = None) -> Configured:
    """The mode asked for, before availability and the kill switch apply."""
    file = file if file is not None else read_file()
    warnings: list[str] = []
    mode, source = default, "default"
    if file.error:
        warnings.append(file.error)
    if feature in file.features:
        try:
            mode, source = parse_mode(file.features[feature]), "config"
        except ValueError as exc:
            warnings.append(f"config file: {exc}")
    env_name = config.feature_env_name(feature)
    env_value = config.env(env_name)
    if env_value:
        try:
            mode, source = parse_mode(env_value), "env"
        except ValueError as exc:
            warnings.append(f"{env_name}: {exc}")
    return Configured(mode, source, tuple(warnings))


def shadow_sample_rate(file: FileSettings | None = None) -> float:
    env_value = config.env(config.SHADOW_SAMPLE_RATE_ENV)
    value: Any = None
    if env_value:
        try:
            value = float(env_value)
        except ValueError:
            value = None
    if value is None:
        value = (file if file is not None else read_file()).shadow_sample_rate
    if value is None:
        return 1.0
    return min(1.0, max(0.0, float(value)))
