"""Redaction for anything rollout publishes (mismatch logs and case files):
secrets are masked and long values are cut to a prefix plus a hash."""

from __future__ import annotations

import hashlib
import re
from typing import Any

_SECRETS = re.compile(
    r"(gh[pousr]_[A-Za-z0-9_]{8,}|github_pat_[A-Za-z0-9_]{8,}|sk-[A-Za-z0-9_-]{8,}"
    r"|(?i:bearer|token)\s+[A-Za-z0-9._~+/=-]{8,}|tid=[^\s;\"']+)"
)
MAX_TEXT = 256


def redact_text(text: str, limit: int = MAX_TEXT) -> dict[str, Any]:
    """A published stand-in for `text`: masked prefix, length and sha256."""
    masked = _SECRETS.sub("[REDACTED]", text[: limit * 2])[:limit]
    return {
        "prefix": masked,
        "length": len(text),
        "sha256": hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
        "truncated": len(text) > limit,
    }


def redact_value(value: Any, limit: int = MAX_TEXT) -> Any:
    """Redacts strings anywhere inside a JSON-like value."""
    if isinstance(value, str):
        return redact_text(value, limit) if len(value) > 32 or _SECRETS.search(value) else value
    if isinstance(value, dict):
        return {str(k): redact_value(v, limit) for k, v in list(value.items())[:50]}
    if isinstance(value, (list, tuple)):
        return [redact_value(v, limit) for v in list(value)[:50]]
    return value


def describe_outcome(value: Any, error: BaseException | None, limit: int) -> str:
    """A capped description of one side's result (or exception) for logs and case files."""
    if error is not None:
        text = f"raised {type(error).__name__}: {error}"
    elif isinstance(value, (list, tuple)) and len(value) > 200:
        # repr of a long list (token ids) would cost more than the comparison.
        head = repr(value[:200])
        text = f"{head[:-1]}, ... ({len(value)} items){head[-1]}"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"
