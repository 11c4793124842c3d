"""httpx event hooks on the process's one upstream client: for the request
being recorded, which upstream endpoint answered, with what status, how long
its response headers took, and the `x-initiator` that was sent.

The hooks run inside the request's own context (httpx awaits them in the
task that sends), so they find the current record; outside a recorded
request they do nothing. When one request makes several upstream calls
(a token refresh, then the chat call) the last one is the one recorded.
"""

from __future__ import annotations

import time

import httpx

from copilot_hybrid.observe.record import current


async def _on_request(request: httpx.Request) -> None:
    record = current()
    if record is None:
        return
    record.upstream_endpoint = request.url.path
    record.upstream_status = None
    record.upstream_ttfb_ms = None
    record.upstream_started_ns = time.perf_counter_ns()
    initiator = request.headers.get("x-initiator")
    if initiator is not None:
        record.initiator = initiator


async def _on_response(response: httpx.Response) -> None:
    record = current()
    if record is None or record.upstream_started_ns is None:
        return
    record.upstream_status = response.status_code
    record.upstream_ttfb_ms = (time.perf_counter_ns() - record.upstream_started_ns) / 1e6


def watch_upstream(client: httpx.AsyncClient) -> None:
    """Adds the hooks to `client` (once)."""
    hooks = client.event_hooks
    if _on_request not in hooks["request"]:
        hooks["request"].append(_on_request)
        hooks["response"].append(_on_response)
    client.event_hooks = hooks
