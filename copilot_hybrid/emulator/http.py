"""Transport-neutral request and response values.

Route handlers take a `Request` and return a `Response`; only `server.py`
touches sockets. That keeps the scripted behaviour testable without a
server and the server free of emulator logic.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from copilot_hybrid.jsonutil import dumps


class AbortConnection(Exception):
    """Raised by a streamed body to drop the connection mid-response.

    That is how `[[fail-midstream]]` looks to a client: the socket closes
    before the body (or the chunked framing) is complete.
    """


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    #: `http://host:port` as the client addressed us (from the Host header),
    #: used to build absolute URLs such as the token's `endpoints.api`.
    origin: str
    #: Serial number of the TCP connection the request came on.
    connection: int = 0

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def query_params(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.query).items()}

    def json(self) -> Any:
        """The body as JSON; raises ValueError when it is not JSON."""
        return json.loads(self.body.decode("utf-8"))

    def wants_json(self) -> bool:
        return "application/json" in (self.header("accept") or "")


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    #: When set, the body is produced piece by piece: with chunked framing
    #: when `length` is None (SSE), else raw with that Content-Length (used
    #: to cut a non-streamed body short).
    stream: Iterator[bytes] | None = None
    length: int | None = None
    #: Seconds to wait before the first byte (`[[slow:MS]]`).
    delay: float = 0.0
    #: The recorded request's `seq`, told how much of this response went out.
    record: int | None = None


def json_response(status: int, value: Any, headers: Mapping[str, str] | None = None) -> Response:
    all_headers = {"content-type": "application/json; charset=utf-8"}
    all_headers.update(headers or {})
    return Response(status=status, body=dumps(value), headers=all_headers)


def copilot_error(status: int, message: str, code: str, param: str | None = None) -> Response:
    """Copilot's error shape: `{"error": {"message", "code", "param"?, "type"}}`."""
    error: dict[str, Any] = {"message": message, "code": code}
    if param is not None:
        error["param"] = param
    error["type"] = "invalid_request_error" if status == 400 else "error"
    return json_response(status, {"error": error})


class Waiter:
    """Sleeps that end early when the emulator stops, so stop() is prompt."""

    def __init__(self) -> None:
        self.stopping = threading.Event()

    def sleep(self, seconds: float) -> None:
        if seconds > 0 and self.stopping.wait(seconds):
            raise AbortConnection("emulator stopping")
