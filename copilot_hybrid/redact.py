"""Keeps secrets out of everything copilot-hybrid writes: logs, mismatch
records, case files. One pattern of what a secret looks like, plus the exact
tokens registered at runtime (the GitHub and Copilot tokens in use)."""

from __future__ import annotations

import hashlib
import re
import threading
from typing import Any

MASK = "[REDACTED]"
#: GitHub tokens (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_), OpenAI-style keys,
#: `Bearer`/`token` credentials and Copilot tokens ("tid=...;exp=...;...:<sig>").
SECRET_PATTERN = re.compile(
    r"gh[pousr]_[A-Za-z0-9_]{8,}"
    r"|github_pat_[A-Za-z0-9_]{8,}"
    r"|sk-[A-Za-z0-9_-]{8,}"
    r"|(?i:bearer|token)\s+[A-Za-z0-9._~+/=:;-]{12,}"
    r"|tid=[^\s\"',]+"
)
#: Published strings longer than this become a prefix, a length and a hash.
MAX_PUBLISHED_TEXT = 256

_lock = threading.Lock()
_secrets: set[str] = set()
#: The registered secrets, longest first; replaced whole on registration, so `redact`
#: reads it without the lock or a sort (every log line passes through it).
_by_length: tuple[str, ...] = ()


def register_secret(value: str | None) -> None:
    """Masks this exact value in every later log line."""
    global _by_length
    if value and len(value) >= 8:
        with _lock:
            _secrets.add(value)
            _by_length = tuple(sorted(_secrets, key=len, reverse=True))


def redact(text: str) -> str:
    """`text` with every registered secret and every secret-shaped string masked."""
    for secret in _by_length:
        if secret in text:
            text = text.replace(secret, MASK)
    return SECRET_PATTERN.sub(MASK, text)


def redact_text(text: str, limit: int = MAX_PUBLISHED_TEXT) -> dict[str, Any]:
    """A published stand-in for `text`: masked prefix, length and sha256."""
    masked = redact(text[: limit * 2])[:limit]
    return {
        "prefix": masked,
        "length": len(text),
        "sha256": hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
        "truncated": len(text) > limit,
    }


def redact_value(value: Any, limit: int = MAX_PUBLISHED_TEXT) -> Any:
    """Redacts strings anywhere inside a JSON-like value (50 items per level)."""
    if isinstance(value, str):
        return redact_text(value, limit) if len(value) > 32 or SECRET_PATTERN.search(value) else value
    if isinstance(value, dict):
        return {str(k): redact_value(v, limit) for k, v in list(value.items())[:50]}
    if isinstance(value, (list, tuple)):
        return [redact_value(v, limit) for v in list(value)[:50]]
    return value
