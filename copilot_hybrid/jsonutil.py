"""JSON as the proxy reads and writes it, in one place.

`dumps` writes compact JSON with non-ASCII kept as UTF-8; `loads` reads
bytes or str. Both use orjson (several times faster than the json module on
the proxy's bodies and stream chunks: README, "JSON") and fall back to the
json module wherever orjson would fail or differ, so that what the proxy
accepted and wrote before still holds:

- a lone surrogate in a str (a valid JSON escape that is not UTF-8): orjson
  refuses to write it; json writes the whole value with ASCII escapes;
- dict keys that are not str, ints beyond 64 bits, types orjson does not know:
  orjson refuses them; json writes them (`{"1":2}`, every digit);
- reading, whatever orjson rejects and json reads is read by json: lone
  surrogate escapes (`"\\ud800"`), NaN/Infinity and 1e400 (body.py turns those
  into a 400 naming the field), a UTF-8 BOM; orjson's errors are never seen,
  so error messages are json's;
- orjson reads an integer literal beyond 64 bits (above 2**64-1 or below
  -2**63) as a float, silently losing digits, so a text holding a run of 19
  digits (-9223372036854775809 has 19) is read by json.

Where the two differ on purpose: orjson writes a non-finite float as `null`
(json wrote `NaN`, which is not JSON), and a finite float in its own shortest
form (`1e-7`, `0.00006103515625`; json: `1e-07`, `6.103515625e-05`), the same
number. COPILOT_HYBRID_JSON=stdlib (config.py) makes both functions use the
json module only, for the bench's comparison.
"""

from __future__ import annotations

import json
from typing import Any

from copilot_hybrid import config

try:
    import orjson
except ImportError:  # a platform without its wheel, or the build hook's isolated env (its smoke check imports this)
    orjson = None  # type: ignore[assignment]

__all__ = ["LIBRARY", "dumps", "loads"]

#: "orjson" or "stdlib", read once at import.
LIBRARY = config.json_library() if orjson is not None else "stdlib"
_ORJSON = LIBRARY == "orjson"

# An integer literal of 19 digits or more may be beyond 64 bits: digits map to "0",
# everything else to " ", and the run is searched for (≈1 ns per byte; a regex costs 20x).
_DIGIT_TABLE = bytes(0x30 if 0x30 <= i <= 0x39 else 0x20 for i in range(256))
_LONG_DIGIT_RUN = b"0" * 19


def dumps(value: Any) -> bytes:
    if _ORJSON:
        try:
            return orjson.dumps(value)
        except TypeError:
            pass  # see the module docstring: json decides
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":")).encode("ascii")


def loads(data: bytes | str, **json_hooks: Any) -> Any:
    """`data` parsed; `json_hooks` (parse_float, parse_int, parse_constant) are the
    json module's, used where json reads: orjson's results for finite numbers
    within 64 bits are what those hooks return for them."""
    if _ORJSON:
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        if _LONG_DIGIT_RUN not in raw.translate(_DIGIT_TABLE):
            try:
                return orjson.loads(raw)
            except orjson.JSONDecodeError:
                pass  # json reads it or raises its own error
    return json.loads(data, **json_hooks)
