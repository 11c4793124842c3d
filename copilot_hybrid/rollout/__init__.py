"""Rollout: who answers each call of a migratable feature.

A feature (feature.py: `Feature`, `Case`) is the mechanism, a reference and
a native side; `wrap(feature)` (runner.py) is the callable the rest of the
code uses, and the mode (modes.py, settings.py) decides per call. verify.py
compares both sides over a feature's cases; records.py keeps what rollout
writes to disk. Nothing here imports a feature.
"""

from copilot_hybrid.rollout.feature import Case, Feature
from copilot_hybrid.rollout.runner import Rollout, answers_natively, wrap

__all__ = ["Case", "Feature", "Rollout", "answers_natively", "wrap"]
