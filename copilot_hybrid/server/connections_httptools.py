"""The connection limits (server/connections.py) on uvicorn's httptools protocol: a
module of its own because it imports httptools, which some platforms do not have."""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from copilot_hybrid.server.connections import LimitedConnection


class LimitedHttpToolsProtocol(LimitedConnection, HttpToolsProtocol):
    """llhttp calls back at a message's first byte and at the end of its head, for
    pipelined requests too (their heads are parsed while an earlier answer is sent)."""

    def on_message_begin(self) -> None:
        self._head_begins()
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._head_complete()
        super().on_headers_complete()
