"""The proxy's app under granian, for the bench's granian row:
`granian --interface asgi --factory copilot_hybrid.bench.granian_app:create`.

The settings come from the environment the bench sets (GH_TOKEN and the upstream
bases); everything else is serve's defaults. What `serve` adds around uvicorn does
not apply here: its connection limits and header timeout (server/connections.py)
and uvicorn's access log (granian's is off by default). So this row measures the
ASGI server swap itself; adopting granian would mean porting those first.
"""

from __future__ import annotations

from fastapi import FastAPI

from copilot_hybrid import config
from copilot_hybrid.logs import setup_logging
from copilot_hybrid.server.app import create_app
from copilot_hybrid.server.settings import ServerSettings


def create() -> FastAPI:
    setup_logging(False, "text")
    settings = ServerSettings(
        github_token=config.env(config.GITHUB_TOKEN_ENV),
        github_url=config.env(config.GITHUB_URL_ENV) or config.DEFAULT_GITHUB_URL,
        github_api_url=config.env(config.GITHUB_API_URL_ENV) or config.DEFAULT_GITHUB_API_URL,
        copilot_api_url=config.env(config.COPILOT_API_URL_ENV),
        persist_token=False,
        interactive_login=False,
    )
    return create_app(settings)
