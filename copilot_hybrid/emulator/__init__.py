"""A local emulator of GitHub and the Copilot API, on a real HTTP socket.

One server, three bases: GitHub web at `{url}`, the GitHub API at
`{url}/api`, Copilot at `{url}/copilot`, plus a control API at
`{url}/_emulator/`. Tests, `serve --emulator` and Claude Code demos point
the proxy here instead of the internet. See docs/emulator.md.
"""

from __future__ import annotations

from copilot_hybrid.emulator.config import DEFAULT_GITHUB_TOKEN, EmulatorConfig
from copilot_hybrid.emulator.server import Emulator, serve_forever
from copilot_hybrid.emulator.state import RecordedRequest

__all__ = [
    "DEFAULT_GITHUB_TOKEN",
    "Emulator",
    "EmulatorConfig",
    "RecordedRequest",
    "serve_forever",
]
