"""The last line of defence: an exception nothing else handled.

The client gets a 500 in its own format with a fixed message and a request
id, never the exception's text (which can quote the request or the
proxy's internals); the log gets one line with the id and the exception,
and the traceback only with --verbose. Starlette's own last handler
re-raises, and uvicorn then prints the traceback for every such request.
"""

from __future__ import annotations

import logging
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from copilot_hybrid.server.errors import error_response

log = logging.getLogger("copilot_hybrid.server")


class InternalErrors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:  # noqa: BLE001 - the last resort: everything unhandled ends here
            request_id = secrets.token_hex(6)
            path = str(scope.get("path", ""))
            log.error(
                "Internal error (request %s) on %s %s: %s: %s",
                request_id,
                scope.get("method", ""),
                path,
                type(exc).__name__,
                exc,
                exc_info=log.isEnabledFor(logging.DEBUG),
            )
            if started:
                return  # the answer has begun: nothing more can be said; uvicorn closes the connection
            response = error_response(
                path, 500, f"Internal error (request id {request_id}); the proxy's log has the details"
            )
            await response(scope, receive, send)
