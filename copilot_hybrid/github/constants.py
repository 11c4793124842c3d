"""Identity and endpoint constants shared by the GitHub and Copilot clients.

The identity mimics the VS Code Copilot Chat extension, as copilot-api 0.7.0
does; Copilot checks these headers.
"""

from __future__ import annotations

# The VS Code Copilot GitHub App: its tokens (ghu_) are accepted by the Copilot token exchange.
CLIENT_ID = "Iv1.b507a08c87ecfe98"
SCOPE = "read:user"
DEVICE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"

COPILOT_CHAT_VERSION = "0.26.7"
EDITOR_PLUGIN_VERSION = f"copilot-chat/{COPILOT_CHAT_VERSION}"
USER_AGENT = f"GitHubCopilotChat/{COPILOT_CHAT_VERSION}"
API_VERSION = "2025-04-01"
INTEGRATION_ID = "vscode-chat"
OPENAI_INTENT = "conversation-panel"
USER_AGENT_LIBRARY = "electron-fetch"

INDIVIDUAL_COPILOT_API_URL = "https://api.githubcopilot.com"

VSCODE_VERSION_FALLBACK = "1.104.3"
VSCODE_VERSION_URL = "https://aur.archlinux.org/cgit/aur.git/plain/PKGBUILD?h=visual-studio-code-bin"


def copilot_base_for_account(account_type: str) -> str:
    """copilot-api's rule: `individual` is the plain host, anything else a sub-host."""
    kind = account_type.strip().lower() or "individual"
    if kind == "individual":
        return INDIVIDUAL_COPILOT_API_URL
    return f"https://api.{kind}.githubcopilot.com"


def github_headers(github_token: str, vscode_version: str) -> dict[str, str]:
    """The header set for GitHub's /copilot_internal/* endpoints."""
    return {
        "content-type": "application/json",
        "accept": "application/json",
        "authorization": f"token {github_token}",
        "editor-version": f"vscode/{vscode_version}",
        "editor-plugin-version": EDITOR_PLUGIN_VERSION,
        "user-agent": USER_AGENT,
        "x-github-api-version": API_VERSION,
        "x-vscode-user-agent-library-version": USER_AGENT_LIBRARY,
    }


JSON_HEADERS = {"content-type": "application/json", "accept": "application/json"}
