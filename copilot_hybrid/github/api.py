"""GitHub REST calls: the signed-in user and the Copilot usage/quota report."""

from __future__ import annotations

from typing import Any

import httpx

from copilot_hybrid.copilot.headers import github_headers
from copilot_hybrid.errors import UpstreamError, UpstreamUnavailable
from copilot_hybrid.github.constants import JSON_HEADERS


async def get_json(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> Any:
    """GET `url` and parse JSON; non-2xx raises UpstreamError, transport trouble UpstreamUnavailable."""
    response = await get_raw(http, url, headers)
    try:
        return response.json()
    except ValueError as exc:
        raise UpstreamError(502, b'{"message":"upstream sent non-JSON"}', url=url) from exc


async def get_raw(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> httpx.Response:
    try:
        response = await http.get(url, headers=headers)
    except httpx.TimeoutException as exc:
        raise UpstreamUnavailable(f"timed out reaching {url}", timeout=True) from exc
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable(f"{type(exc).__name__} reaching {url}: {exc}") from exc
    if response.status_code >= 400:
        raise UpstreamError(
            response.status_code, response.content, content_type=response.headers.get("content-type", ""), url=url
        )
    return response


async def get_user(http: httpx.AsyncClient, github_api_url: str, github_token: str) -> dict[str, Any]:
    headers = {**JSON_HEADERS, "authorization": f"token {github_token}"}
    data = await get_json(http, f"{github_api_url.rstrip('/')}/user", headers)
    return data if isinstance(data, dict) else {}


async def get_usage(
    http: httpx.AsyncClient, github_api_url: str, github_token: str, vscode_version: str
) -> httpx.Response:
    """The raw /copilot_internal/user answer (the server passes the bytes through)."""
    url = f"{github_api_url.rstrip('/')}/copilot_internal/user"
    return await get_raw(http, url, github_headers(github_token, vscode_version))
