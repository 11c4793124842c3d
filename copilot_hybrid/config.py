"""Settings: every environment variable, every shared default, and where files live.

Precedence, lowest first: the defaults below < the config file
(`config.toml` in the config dir) < environment variables < command-line
flags. This module is the only one that reads `os.environ`; the CLI's
options name their variables through the constants here.

| variable                              | what it sets                                              |
|---------------------------------------|-----------------------------------------------------------|
| COPILOT_HYBRID_HOME                   | one folder for config and data (tests, portable installs) |
| COPILOT_HYBRID_NATIVE=0               | kill switch: the Python references answer everywhere      |
| COPILOT_HYBRID_NATIVE_LIB             | load the native library from this path                    |
| COPILOT_HYBRID_FEATURE_<NAME>         | rollout mode of one feature (off, shadow, percent:N, on)  |
| COPILOT_HYBRID_SHADOW_SAMPLE_RATE     | fraction of shadow calls that also run native             |
| COPILOT_HYBRID_NO_METRICS=1           | no metrics, request history or rollout counters at all    |
| COPILOT_HYBRID_HISTORY_ROWS           | rows the request history keeps (`serve --history-rows`)   |
| COPILOT_HYBRID_HISTORY_TEXT=1         | history keeps redacted prompt/answer text (opt-in)        |
| COPILOT_HYBRID_ZIG                    | the zig executable for `build` (default: pinned ziglang)  |
| COPILOT_HYBRID_OPTIMIZE               | optimize mode of the build hook (pip install)             |
| COPILOT_HYBRID_REQUIRE_NATIVE=1       | the build hook fails instead of falling back to pure      |
| COPILOT_HYBRID_CORPUS_DIR             | where the tokenizer's verify corpus is built and read     |
| COPILOT_HYBRID_VSCODE_VERSION         | the editor-version sent upstream (no AUR lookup)          |
| COPILOT_HYBRID_GITHUB_URL             | GitHub web base (`--github-url`)                          |
| COPILOT_HYBRID_GITHUB_API_URL         | GitHub API base (`--github-api-url`)                      |
| COPILOT_HYBRID_COPILOT_API_URL        | Copilot API base (`--copilot-api-url`)                    |
| GH_TOKEN                              | the GitHub token (`--github-token`)                       |
| COPILOT_HYBRID_API_KEYS               | client API keys, comma-separated (`--api-key` wins)       |
| COPILOT_HYBRID_LOOP                   | event loop of `serve`: uvloop or asyncio (`--loop`)       |
| COPILOT_HYBRID_HTTP_PARSER            | HTTP/1.1 parser of `serve`: httptools or h11              |
| COPILOT_HYBRID_UPSTREAM_TRANSPORT     | upstream transport: aiohttp or httpx (`--upstream-...`)   |
| COPILOT_HYBRID_JSON                   | JSON library of jsonutil: orjson or stdlib                |

(The build hook, `hatch_build.py`, runs before the package is installed
and reads its two variables itself; the names are the ones above.)
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from copilot_hybrid.errors import ConfigError

log = logging.getLogger(__name__)

APP_NAME: Final = "copilot-hybrid"

HOME_ENV: Final = "COPILOT_HYBRID_HOME"
KILL_SWITCH_ENV: Final = "COPILOT_HYBRID_NATIVE"
NATIVE_LIBRARY_ENV: Final = "COPILOT_HYBRID_NATIVE_LIB"
FEATURE_ENV_PREFIX: Final = "COPILOT_HYBRID_FEATURE_"
SHADOW_SAMPLE_RATE_ENV: Final = "COPILOT_HYBRID_SHADOW_SAMPLE_RATE"
NO_METRICS_ENV: Final = "COPILOT_HYBRID_NO_METRICS"
HISTORY_ROWS_ENV: Final = "COPILOT_HYBRID_HISTORY_ROWS"
HISTORY_TEXT_ENV: Final = "COPILOT_HYBRID_HISTORY_TEXT"
ZIG_ENV: Final = "COPILOT_HYBRID_ZIG"
OPTIMIZE_ENV: Final = "COPILOT_HYBRID_OPTIMIZE"
REQUIRE_NATIVE_ENV: Final = "COPILOT_HYBRID_REQUIRE_NATIVE"
CORPUS_DIR_ENV: Final = "COPILOT_HYBRID_CORPUS_DIR"
VSCODE_VERSION_ENV: Final = "COPILOT_HYBRID_VSCODE_VERSION"
GITHUB_URL_ENV: Final = "COPILOT_HYBRID_GITHUB_URL"
GITHUB_API_URL_ENV: Final = "COPILOT_HYBRID_GITHUB_API_URL"
COPILOT_API_URL_ENV: Final = "COPILOT_HYBRID_COPILOT_API_URL"
GITHUB_TOKEN_ENV: Final = "GH_TOKEN"  # noqa: S105 - a variable name, not a secret
API_KEYS_ENV: Final = "COPILOT_HYBRID_API_KEYS"
#: `serve --upstream-transport`: the upstream client's transport (copilot/transport.py).
UPSTREAM_TRANSPORT_ENV: Final = "COPILOT_HYBRID_UPSTREAM_TRANSPORT"
#: `orjson` or `stdlib`: the JSON library jsonutil uses (stdlib: for the bench's comparison).
JSON_ENV: Final = "COPILOT_HYBRID_JSON"
#: `serve --loop` and `--http-parser` (server/stack.py).
LOOP_ENV: Final = "COPILOT_HYBRID_LOOP"
HTTP_PARSER_ENV: Final = "COPILOT_HYBRID_HTTP_PARSER"

# ---- defaults shared by the CLI and the server ------------------------------------

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 4141
DEFAULT_MAX_BODY_BYTES: Final = 32 * 1024 * 1024
DEFAULT_HISTORY_ROWS: Final = 10_000
DEFAULT_GITHUB_URL: Final = "https://github.com"
DEFAULT_GITHUB_API_URL: Final = "https://api.github.com"

# Connections and upstream waits (`serve` options; why each value: README, "Timeouts and limits").
#: A client must finish a request's headers this many seconds after it connected or
#: sent the request's first byte; local clients need microseconds.
DEFAULT_HEADER_TIMEOUT: Final = 10.0
#: An idle kept-alive client connection is closed after this many seconds; longer
#: than the clients' own idle expiry (httpx 5 s, Node 4 s), so they close first.
DEFAULT_KEEP_ALIVE_TIMEOUT: Final = 15
#: --max-connections unless the file descriptor limit allows fewer.
DEFAULT_MAX_CONNECTIONS: Final = 512
#: Seconds to Copilot's response headers; under the SDKs' and Claude Code's own
#: 600 s, so the client gets a clean 504 rather than its own timeout.
DEFAULT_UPSTREAM_TIMEOUT: Final = 300.0
#: aiohttp's pool under httpx's API (httpx-aiohttp), or httpx's own httpcore; the first
#: is the default because it costs the proxy about half the CPU per request.
UPSTREAM_TRANSPORTS: Final = ("aiohttp", "httpx")
DEFAULT_UPSTREAM_TRANSPORT: Final = "aiohttp"
#: Seconds a started stream may go without a byte from Copilot.
DEFAULT_STREAM_IDLE_TIMEOUT: Final = 120.0
#: Seconds of silence on a stream before a keep-alive ping.
DEFAULT_PING_INTERVAL: Final = 15.0

# The server's event loop and HTTP parser (`serve --loop`, `--http-parser`): the first of
# each is the default wherever it is importable (uvloop has no Windows build), the second
# is the pure-Python fallback that is always there.
LOOPS: Final = ("uvloop", "asyncio")
HTTP_PARSERS: Final = ("httptools", "h11")


# ---- the environment ----------------------------------------------------------------

_FALSE_WORDS: Final = ("0", "false", "no", "off")


def env(name: str) -> str | None:
    """The stripped value of variable `name`; None when unset or blank."""
    value = os.environ.get(name, "").strip()
    return value or None


def env_flag(name: str) -> bool:
    """Whether `name` is set to 1 (an opt-in switch such as NO_METRICS)."""
    return env(name) == "1"


def kill_switch_on() -> bool:
    """COPILOT_HYBRID_NATIVE=0 (or false/no/off): no native code runs."""
    value = env(KILL_SWITCH_ENV)
    return value is not None and value.lower() in _FALSE_WORDS


def json_library() -> str:
    """COPILOT_HYBRID_JSON: `stdlib` switches jsonutil to the json module; anything else is orjson."""
    value = env(JSON_ENV)
    return "stdlib" if value is not None and value.lower() == "stdlib" else "orjson"


def feature_env_name(feature: str) -> str:
    return FEATURE_ENV_PREFIX + feature.upper()


def child_environment(*, drop: tuple[str, ...] = (), **extra: str) -> dict[str, str]:
    """A copy of this process's environment for a subprocess."""
    environment = {k: v for k, v in os.environ.items() if k not in drop}
    environment.update(extra)
    return environment


def login_shell() -> str:
    return os.environ.get("SHELL", "")


def api_keys_from_env() -> tuple[str, ...]:
    """COPILOT_HYBRID_API_KEYS split on commas (blank entries dropped). Preferred over
    --api-key: a process's environment is private to its user, its arguments are not."""
    return tuple(key.strip() for key in (env(API_KEYS_ENV) or "").split(",") if key.strip())


# ---- files ---------------------------------------------------------------------------


def _home_override() -> Path | None:
    value = env(HOME_ENV)
    return Path(value).expanduser() if value else None


def config_dir() -> Path:
    home = _home_override()
    if home is not None:
        return home
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    home = _home_override()
    if home is not None:
        return home
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_file() -> Path:
    return config_dir() / "config.toml"


def github_token_path() -> Path:
    return data_dir() / "github_token"


@dataclass
class ConfigFile:
    """config.toml as read: its tables, or the reason it could not be read.
    Reading never raises; a broken file is reported and ignored."""

    path: Path
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def table(self, name: str) -> dict[str, Any]:
        value = self.data.get(name, {})
        return value if isinstance(value, dict) else {}


def read_config_file(path: Path | None = None) -> ConfigFile:
    path = path or config_file()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ConfigFile(path)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return ConfigFile(path, error=f"ignoring {path}: {exc}")
    return ConfigFile(path, data)


def model_aliases(config: ConfigFile | None = None) -> dict[str, str]:
    """The `[models.aliases]` table of config.toml: client model id -> Copilot id.

        [models.aliases]
        "claude-opus-5-5" = "claude-opus-4.8"

    `--model-alias FROM=TO` wins over it (copilot.resolution.merge_aliases).
    Raises ConfigError, naming the entry, for anything but string values.
    """
    config = config if config is not None else read_config_file()
    table = config.table("models").get("aliases", {})
    if not isinstance(table, dict):
        raise ConfigError(f'{config.path}: [models.aliases] must be a table of "from" = "to" strings')
    aliases: dict[str, str] = {}
    for source, target in table.items():
        if not isinstance(target, str) or not target.strip() or not source.strip():
            raise ConfigError(f"{config.path}: [models.aliases] {source!r} must map to a model id string")
        aliases[source.strip()] = target.strip()
    return aliases


def native_messages_enabled(config: ConfigFile | None = None) -> bool:
    """`native_messages` of config.toml's `[server]` table (default true):

        [server]
        native_messages = false   # every Anthropic request takes the chat translation

    `--native-messages` / `--no-native-messages` win over it. Raises
    ConfigError for anything but a boolean.
    """
    config = config if config is not None else read_config_file()
    value = config.table("server").get("native_messages", True)
    if not isinstance(value, bool):
        raise ConfigError(f"{config.path}: [server] native_messages must be true or false, not {value!r}")
    return value


def ensure_private_dir(path: Path) -> Path:
    """Creates `path` (and parents) readable only by the user; returns it.

    An existing folder that others may enter is tightened to 0700 (with a
    warning), because the token file and the rollout records live there. Refused
    with a ConfigError instead: a folder of another user (they could swap our
    files), a shared sticky one such as /tmp (tightening it would break everyone
    else), and one whose mode cannot be changed. Windows has no such modes.
    """
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.name == "nt":
        return path
    info = path.stat()
    mode = stat.S_IMODE(info.st_mode)
    advice = f"point {HOME_ENV} at a folder of your own"
    if info.st_uid != os.getuid():
        raise ConfigError(f"{path} belongs to another user (uid {info.st_uid}), so it cannot hold secrets; {advice}")
    if not mode & 0o077:
        return path
    if mode & stat.S_ISVTX:
        raise ConfigError(f"{path} is a shared folder (mode {mode:04o}), so it cannot hold secrets; {advice}")
    try:
        os.chmod(path, 0o700)
    except OSError as exc:
        raise ConfigError(
            f"{path} is open to other users (mode {mode:04o}) and could not be made private ({exc}); "
            f"run chmod 700 {path} or {advice}"
        ) from exc
    log.warning("Made %s private (mode %04o -> 0700): it holds secrets", path, mode)
    return path


def write_private_file(path: Path, content: str) -> None:
    """Writes `content` to `path` with mode 0600, atomically and durably.

    mkstemp creates a fresh file with a random name in the same folder, with
    O_CREAT | O_EXCL | O_NOFOLLOW and mode 0600 before anything is written: no
    planted symlink is followed and the secret is never readable by others, not
    even for a moment. The file is fsynced, renamed over `path` (a symlink at
    `path` is replaced, not followed) and the folder fsynced, so a crash leaves
    either the old file or the new one.
    """
    folder = ensure_private_dir(path.parent)
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    """Makes a rename in `folder` durable (POSIX; Windows cannot open a folder)."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
