"""stream_translate: the upstream's raw OpenAI chat-completion SSE bytes in,
Anthropic Messages SSE event bytes out (issue 12 point 4).

Reference: the SSE framing the server has always done (SseFramer, which
server/streams.iter_sse_data also uses), the event loop of the Anthropic
stream route (`[DONE]`, blank, malformed and error events) and
translate/anthropic_stream.AnthropicStreamTranslator, serialised by
format_sse. Native: zig/src/stream_translate.zig behind ch_st_*.

The adapter to the one-input-one-output contract of a rollout feature: a
stream is a `RecordedStream` that records its steps (each upstream read,
then None for the end of upstream) and holds one state per side. The input
`StreamSteps(stream, start, stop)` asks a side for the output of steps
[start, stop); the side first catches up on the steps it has not seen
(discarding their output, which the other side already sent), so a mode
change mid-stream, shadow sampling or a fallback cost a replay, never a
wrong byte. The server appends one read and asks for that one step
(`StreamTranslation`); verify asks for every step of a recorded or
generated stream at once and compares the per-step outputs and the state.

Scope of the native side (the rest is a documented fallback, not a
mismatch): text, reasoning, tool-call deltas keyed by index, usage, finish
reasons, `[DONE]`, error events, any split of the bytes. On input it does
not reproduce exactly (an event that is not strict JSON, a lone surrogate,
a number beyond int64 where the output uses it, a stream that needs a
generated message or tool-call id...) ch_st_* returns CH_E_UNSUPPORTED and
the native side replays the stream through its own reference instance from
then on (counted in `FALLBACKS`). Generated ids come from a per-stream seed
(`new_hex`), so that replay produces the ids the reference side produced.

Memory: a stream keeps its reads until it ends (what a replay needs), at
most the size of the upstream answer.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from copilot_hybrid.errors import NativeUnavailable
from copilot_hybrid.jsonutil import loads
from copilot_hybrid.native.loader import NativeLibrary, load
from copilot_hybrid.native.smoke import SmokeCall
from copilot_hybrid.native.status import status_error
from copilot_hybrid.redact import redact_value
from copilot_hybrid.rollout import Case, Feature, wrap
from copilot_hybrid.translate.anthropic_response import anthropic_error
from copilot_hybrid.translate.anthropic_stream import AnthropicStreamTranslator, format_sse

__all__ = [
    "FEATURE",
    "RecordedStream",
    "SseFramer",
    "StreamSteps",
    "StreamTranslation",
    "stream_error_message",
    "translate",
]

OPEN: Final = "open"  # keep reading
DONE: Final = "done"  # message complete; upstream is still read (and ignored)
ENDED: Final = "ended"  # stop reading upstream
MALFORMED_EVENT: Final = "Copilot sent a malformed stream event"
#: Output buffer for one native step; a larger output is taken with a retry.
NATIVE_BUFFER: Final = 16 * 1024


class SseFramer:
    """The `data` of each upstream event (multi-line data joined with \\n);
    comments, `event:`, `id:` and `retry:` lines are skipped. feed() takes
    one read, end() the end of upstream (a last unterminated data line)."""

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buffer += chunk
        if b"\n" not in chunk:
            return []
        lines = self._buffer.split(b"\n")
        self._buffer = lines.pop()
        events: list[bytes] = []
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if self._data:
                    events.append(b"\n".join(self._data))
                    self._data = []
            elif line.startswith(b"data:"):
                value = line[5:]
                self._data.append(value[1:] if value.startswith(b" ") else value)
        return events

    def end(self) -> list[bytes]:
        if self._buffer.startswith(b"data:"):
            value = self._buffer[5:].rstrip(b"\r")
            self._data.append(value[1:] if value.startswith(b" ") else value)
        self._buffer = b""
        events = [b"\n".join(self._data)] if self._data else []
        self._data = []
        return events


def stream_error_message(error: Any) -> str:
    """The message of an upstream `{"error": ...}` stream event."""
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return error if isinstance(error, str) else json.dumps(error)


def _hex_source(seed: bytes) -> Callable[[], str]:
    """32 hex digits per call, the same sequence for the same seed."""
    counter = itertools.count()
    return lambda: hashlib.blake2b(seed + next(counter).to_bytes(8, "big"), digest_size=16).hexdigest()


# ---- the stream and its sides ------------------------------------------------------


@dataclass(eq=False)
class RecordedStream:
    """One upstream answer as it arrives: `steps` are reads, then None (EOF)."""

    model: str
    steps: list[bytes | None] = field(default_factory=list)
    seed: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    sides: dict[str, Any] = field(default_factory=dict)
    #: The native side failed (not a fallback: an error); the rest is the reference's.
    native_failed: bool = False

    @property
    def key(self) -> str:
        """Sticky rollout key (percent mode): one side for the whole stream."""
        return self.seed.hex()


class _ReferenceSide:
    """The route's loop over SseFramer and AnthropicStreamTranslator."""

    def __init__(self, stream: RecordedStream) -> None:
        self.consumed = 0
        self.framer = SseFramer()
        self.translator = AnthropicStreamTranslator(model=stream.model, new_hex=_hex_source(stream.seed))
        self.ended = False

    @property
    def state(self) -> str:
        return ENDED if self.ended else DONE if self.translator.done else OPEN

    def step(self, read: bytes | None) -> bytes:
        self.consumed += 1
        if self.ended:
            return b""
        events: list[dict[str, Any]] = []
        for data in self.framer.feed(read) if read is not None else self.framer.end():
            self._on_data(data, events)
            if self.ended:
                break
        if read is None and not self.ended:
            self.ended = True
            events.extend(self.translator.finish())
        return b"".join(format_sse(e) for e in events)

    def _on_data(self, data: bytes, events: list[dict[str, Any]]) -> None:
        if data == b"[DONE]":
            self.ended = True
            events.extend(self.translator.finish())
            return
        if not data.strip():
            return
        try:
            chunk = loads(data)  # orjson where it reads as json does (jsonutil)
        except ValueError:
            self.ended = True
            events.extend(self.translator.error(MALFORMED_EVENT))
            return
        if isinstance(chunk, dict) and chunk.get("error") is not None and not chunk.get("choices"):
            self.ended = True
            events.extend(self.translator.error(stream_error_message(chunk["error"])))
            return
        events.extend(self.translator.feed(chunk))


#: Streams the native side handed to its reference (CH_E_UNSUPPORTED), and all it ran.
FALLBACKS: dict[str, int] = {"streams": 0, "fallbacks": 0}


class _NativeSide:
    """ch_st_* on one handle; on CH_E_UNSUPPORTED a reference replay takes over."""

    def __init__(self, stream: RecordedStream) -> None:
        native = load()
        if not native.has(*NATIVE_EXPORTS):
            raise NativeUnavailable(f"native stream_translate unavailable: {native.status}: {native.reason}")
        self.native: NativeLibrary = native  # keeps the library mapped while the handle lives
        ffi, lib = native.ffi, native.lib
        self.stream = stream
        self.consumed = 0
        self.fallback: _ReferenceSide | None = None
        self._state = OPEN
        FALLBACKS["streams"] += 1
        try:
            model = stream.model.encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate: the reference then writes ASCII escapes.
            FALLBACKS["fallbacks"] += 1
            self.fallback = _ReferenceSide(stream)
            return
        out = ffi.new("ch_stream **")
        status = lib.ch_st_new(model, len(model), out)
        if status < 0:
            raise status_error(native, status, "ch_st_new")
        self.handle = ffi.gc(out[0], lib.ch_st_free)
        self.buffer = ffi.new("uint8_t[]", NATIVE_BUFFER)
        self.cap = NATIVE_BUFFER
        # Looked up once: attribute access on a cffi lib costs per call.
        self._feed, self._finish, self._state_of = lib.ch_st_feed, lib.ch_st_finish, lib.ch_st_state
        self._unsupported = int(lib.CH_E_UNSUPPORTED)
        self._states = {int(lib.CH_ST_OPEN): OPEN, int(lib.CH_ST_DONE): DONE, int(lib.CH_ST_ENDED): ENDED}

    @property
    def state(self) -> str:
        return self.fallback.state if self.fallback is not None else self._state

    def step(self, read: bytes | None) -> bytes:
        index = self.consumed
        self.consumed += 1
        if self.fallback is not None:
            return self.fallback.step(read)
        if read is None:
            size = self._finish(self.handle, self.buffer, self.cap)
        else:
            size = self._feed(self.handle, read, len(read), self.buffer, self.cap)
        if size == self._unsupported:
            FALLBACKS["fallbacks"] += 1
            self.fallback = _ReferenceSide(self.stream)
            for earlier in self.stream.steps[:index]:
                self.fallback.step(earlier)
            return self.fallback.step(read)
        ffi = self.native.ffi
        if size > self.cap:
            self.cap = int(size)
            self.buffer = ffi.new("uint8_t[]", self.cap)
            size = self._feed(self.handle, ffi.NULL, 0, self.buffer, self.cap)
        if size < 0:
            raise status_error(self.native, int(size), "ch_st_feed")
        self._state = self._states[self._state_of(self.handle)]
        return ffi.buffer(self.buffer, size)[:] if size else b""


@dataclass(frozen=True, slots=True)
class StreamSteps:
    """The output of steps [start, stop) of `stream`, from one side."""

    stream: RecordedStream
    start: int
    stop: int

    def __repr__(self) -> str:
        return f"StreamSteps({self.stream.model!r}, {len(self.stream.steps)} steps, [{self.start}:{self.stop}])"


@dataclass(frozen=True, slots=True)
class StreamOutput:
    """Each step's event bytes, and the state after the last one."""

    events: tuple[bytes, ...]
    state: str


def _run(x: StreamSteps, name: str, make: Callable[[RecordedStream], Any]) -> StreamOutput:
    side = x.stream.sides.get(name)
    if side is None or side.consumed > x.start:
        side = x.stream.sides[name] = make(x.stream)  # fresh: a rerun of steps already seen
    outputs = []
    for index in range(side.consumed, x.stop):
        out = side.step(x.stream.steps[index])
        if index >= x.start:
            outputs.append(out)
    return StreamOutput(tuple(outputs), side.state)


def _native_side(stream: RecordedStream) -> _NativeSide:
    try:
        return _NativeSide(stream)
    except Exception:
        stream.native_failed = True
        raise


def _native_run(x: StreamSteps) -> StreamOutput:
    try:
        return _run(x, "native", _native_side)
    except Exception:
        x.stream.native_failed = True
        raise


def _smoke_new(ffi: Any, lib: Any) -> object:
    out = ffi.new("ch_stream **")
    status = lib.ch_st_new(b"m", 1, out)
    lib.ch_st_free(out[0])
    return status


NATIVE_EXPORTS: Final[Mapping[str, SmokeCall]] = {
    "ch_st_new": _smoke_new,
    "ch_st_free": lambda ffi, lib: lib.ch_st_free(ffi.NULL),
    "ch_st_state": lambda ffi, lib: lib.ch_st_state(ffi.NULL),
    "ch_st_feed": lambda ffi, lib: lib.ch_st_feed(ffi.NULL, b"x", 1, ffi.new("uint8_t[1]"), 1),
    "ch_st_finish": lambda ffi, lib: lib.ch_st_finish(ffi.NULL, ffi.new("uint8_t[1]"), 1),
}


# ---- the feature -------------------------------------------------------------------


class StreamTranslateFeature(Feature[StreamSteps, StreamOutput]):
    name = "stream_translate"
    summary = "OpenAI chat SSE bytes -> Anthropic Messages SSE bytes, per upstream read"
    native_exports = NATIVE_EXPORTS

    def reference(self, x: StreamSteps) -> StreamOutput:
        return _run(x, "reference", _ReferenceSide)

    def native(self, x: StreamSteps) -> StreamOutput:
        return _native_run(x)

    def input_size(self, x: StreamSteps) -> int:
        return sum(len(s) for s in x.stream.steps[x.start : x.stop] if s is not None)

    def cases(self, *, count: int, seed: int) -> Iterator[Case[StreamSteps]]:
        from copilot_hybrid.stream_translate import _cases

        for kind, label, model, reads, stream_seed in _cases.all_cases(count=count, seed=seed):
            stream = RecordedStream(model, [*reads, None], seed=stream_seed)
            yield Case(kind, StreamSteps(stream, 0, len(stream.steps)), label)

    def case_to_json(self, x: StreamSteps) -> Any:
        return {
            "model": x.stream.model,
            "seed": x.stream.seed.hex(),
            "reads": [None if s is None else base64.b64encode(s).decode("ascii") for s in x.stream.steps],
            "start": x.start,
            "stop": x.stop,
        }

    def case_from_json(self, data: Any) -> StreamSteps:
        steps: list[bytes | None] = [None if s is None else base64.b64decode(s) for s in data["reads"]]
        stream = RecordedStream(str(data["model"]), steps, seed=bytes.fromhex(data["seed"]))
        return StreamSteps(stream, int(data["start"]), int(data["stop"]))

    def redact(self, x: StreamSteps) -> Any:
        reads = [None if s is None else s.decode("utf-8", "replace") for s in x.stream.steps[x.start : x.stop]]
        return redact_value({"model": x.stream.model, "start": x.start, "reads": reads})


FEATURE = StreamTranslateFeature()
#: One step as the server takes it: the rollout mode picks the side.
translate = wrap(FEATURE)


class StreamTranslation:
    """What the Anthropic stream route drives: feed() each upstream read,
    finish() at the end of upstream, error() when upstream broke off; each
    returns the bytes to send. `ended`: stop reading upstream."""

    def __init__(self, model: str) -> None:
        self.stream = RecordedStream(model)
        self.state = OPEN

    @property
    def ended(self) -> bool:
        return self.state == ENDED

    def feed(self, read: bytes) -> bytes:
        return self._step(read)

    def finish(self) -> bytes:
        return self._step(None)

    def error(self, message: str) -> bytes:
        """An Anthropic `error` event, unless the message already ended."""
        if self.state != OPEN:
            return b""
        self.state = ENDED
        return format_sse(anthropic_error(message))

    def _step(self, read: bytes | None) -> bytes:
        stream = self.stream
        if self.ended:
            return b""
        stream.steps.append(read)
        x = StreamSteps(stream, len(stream.steps) - 1, len(stream.steps))
        # A stream whose native side failed stays on the reference (one
        # native error per stream, not one per read).
        out = FEATURE.reference(x) if stream.native_failed else translate(x, key=stream.key)
        self.state = out.state
        return out.events[0]


def events_json(events: bytes) -> list[Any]:
    """The `data` of each event in `events` (for tests and the benchmark)."""
    return [json.loads(data) for data in SseFramer().feed(events)]
