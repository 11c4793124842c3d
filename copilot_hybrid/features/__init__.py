"""Migratable features: one module each, exposing `FEATURE` (a Feature)."""

from __future__ import annotations

import importlib
from typing import Any

from copilot_hybrid.features.base import Feature

FEATURE_NAMES = ("rate_limit", "tokenizer")


def get_feature(name: str) -> Feature[Any, Any]:
    """The feature object for `name`; raises KeyError for unknown names."""
    if name not in FEATURE_NAMES:
        raise KeyError(f"unknown feature {name!r}; known: {', '.join(FEATURE_NAMES)}")
    module = importlib.import_module(f"copilot_hybrid.features.{name}")
    feature: Feature[Any, Any] = module.FEATURE
    return feature


def all_features() -> list[Feature[Any, Any]]:
    return [get_feature(name) for name in FEATURE_NAMES]
