"""GitHub's OAuth device flow (RFC 8628), with every outcome handled.

copilot-api polls forever, ignores `slow_down`'s new interval and treats
`expired_token`/`access_denied` as "keep polling". Here: `authorization_pending`
waits one interval, `slow_down` adopts the new interval (or adds 5 s), and
`expired_token`, `access_denied`, any other error or the `expires_in` deadline
end the flow with a clear message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from copilot_hybrid.errors import DeviceFlowError, UpstreamError, UpstreamUnavailable
from copilot_hybrid.github.constants import CLIENT_ID, DEVICE_GRANT_TYPE, JSON_HEADERS, SCOPE

log = logging.getLogger(__name__)

SLOW_DOWN_STEP = 5  # RFC 8628 section 3.5: add 5 s when the server gives no new interval
MAX_INTERVAL = 60


@dataclass(frozen=True)
class DeviceCode:
    device_code: str
    user_code: str
    verification_uri: str
    expires_in: int
    interval: int


async def request_device_code(http: httpx.AsyncClient, github_url: str) -> DeviceCode:
    url = f"{github_url.rstrip('/')}/login/device/code"
    data = await _post_json(http, url, {"client_id": CLIENT_ID, "scope": SCOPE})
    try:
        return DeviceCode(
            device_code=str(data["device_code"]),
            user_code=str(data["user_code"]),
            verification_uri=str(data.get("verification_uri") or f"{github_url.rstrip('/')}/login/device"),
            expires_in=int(data["expires_in"]) if data.get("expires_in") is not None else 900,
            interval=max(0, int(data["interval"])) if data.get("interval") is not None else 5,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DeviceFlowError(f"GitHub sent an unexpected device-code answer: {data!r}", reason="bad_response") from exc


async def poll_access_token(
    http: httpx.AsyncClient,
    github_url: str,
    code: DeviceCode,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Polls until the user approves; raises DeviceFlowError for every other ending."""
    url = f"{github_url.rstrip('/')}/login/oauth/access_token"
    body = {"client_id": CLIENT_ID, "device_code": code.device_code, "grant_type": DEVICE_GRANT_TYPE}
    deadline = clock() + code.expires_in
    interval = float(code.interval)
    first = True
    while True:
        if not first:
            if clock() + interval > deadline:
                raise DeviceFlowError(
                    f"The code {code.user_code} was not entered within {code.expires_in} s; run the login again.",
                    reason="timeout",
                )
            await sleep(interval)
        first = False
        try:
            data = await _post_json(http, url, body)
        except (UpstreamUnavailable, UpstreamError) as exc:
            # GitHub answers 200 even for flow errors, so this is transport or server trouble: retry.
            if isinstance(exc, UpstreamError) and 400 <= exc.status < 500 and exc.status != 429:
                raise DeviceFlowError(f"GitHub rejected the token request: {exc.message}", reason="http_error") from exc
            log.warning("Polling GitHub for the token failed (%s); retrying", exc)
            continue
        token = data.get("access_token")
        if isinstance(token, str) and token:
            return token
        error = data.get("error")
        description = data.get("error_description") or ""
        if error == "authorization_pending":
            continue
        if error == "slow_down":
            new_interval = data.get("interval")
            if isinstance(new_interval, (int, float)) and new_interval > interval:
                interval = float(new_interval)
            else:
                interval += SLOW_DOWN_STEP
            interval = min(interval, MAX_INTERVAL)
            log.debug("GitHub asked to slow down; polling every %s s", interval)
            continue
        if error == "expired_token":
            raise DeviceFlowError(
                f"The code {code.user_code} expired before it was entered; run the login again.", reason="expired_token"
            )
        if error == "access_denied":
            raise DeviceFlowError("The authorization request was denied on GitHub.", reason="access_denied")
        detail = f"{error}: {description}" if description else str(error or data)
        raise DeviceFlowError(f"GitHub device flow failed ({detail})", reason=str(error or "unknown"))


async def device_flow(
    http: httpx.AsyncClient,
    github_url: str,
    *,
    on_code: Callable[[DeviceCode], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """The whole flow: ask for a code, show it, wait for approval; returns the GitHub token."""
    code = await request_device_code(http, github_url)
    if on_code is not None:
        on_code(code)
    else:
        log.info('Please enter the code "%s" in %s', code.user_code, code.verification_uri)
    return await poll_access_token(http, github_url, code, sleep=sleep, clock=clock)


async def _post_json(http: httpx.AsyncClient, url: str, body: dict[str, str]) -> dict[str, Any]:
    try:
        response = await http.post(url, json=body, headers=JSON_HEADERS)
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable(f"{type(exc).__name__} reaching {url}: {exc}") from exc
    if response.status_code >= 400:
        raise UpstreamError(
            response.status_code, response.content, content_type=response.headers.get("content-type", ""), url=url
        )
    try:
        data = response.json()
    except ValueError as exc:
        raise DeviceFlowError(f"GitHub answered {url} with non-JSON text", reason="bad_response") from exc
    if not isinstance(data, dict):
        raise DeviceFlowError(f"GitHub answered {url} with unexpected JSON", reason="bad_response")
    return data
