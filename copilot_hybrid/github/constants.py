"""GitHub OAuth constants for the device flow."""

from __future__ import annotations

# The VS Code Copilot GitHub App: its tokens (ghu_) are accepted by the Copilot token exchange.
CLIENT_ID = "Iv1.b507a08c87ecfe98"
SCOPE = "read:user"
DEVICE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"

JSON_HEADERS = {"content-type": "application/json", "accept": "application/json"}
