"""JSON as the proxy writes it, in one place: compact, non-ASCII kept as
UTF-8. A lone surrogate (a valid JSON escape that is not UTF-8) falls back
to ASCII escapes for the whole value instead of failing."""

from __future__ import annotations

import json
from typing import Any


def dumps(value: Any) -> bytes:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":")).encode("ascii")
