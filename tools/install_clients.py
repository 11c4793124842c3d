"""Installs the real clients the end-to-end tests drive, pinned to the
versions the tests were written against, once per machine, outside the
repository and outside any timed test:

    python tools/install_clients.py [NAME ...]      (default: every client in CLIENTS)

tox's `claude` env runs it before its tests (commands_pre). Each client goes
to <cache>/npm/<package>@<version>/, where <cache> is
$COPILOT_HYBRID_CLIENTS_DIR, else $XDG_CACHE_HOME/copilot-hybrid, else
~/.cache/copilot-hybrid. An install is made in a scratch folder and moved
into place only once the client runs and reports its version, so a folder
that exists is a finished install and is never redone. A failed download is
retried (3 attempts, 10 s then 20 s apart). Without npm it says so and exits
0: the tests that need a client then skip with that reason
(tests/support.py: client_binary).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ATTEMPTS = 3
BACKOFF_SECONDS = 10.0
#: One npm install of a ~400 MB native client on a slow line; a hung
#: download counts as a failed attempt.
INSTALL_TIMEOUT_SECONDS = 900


@dataclass(frozen=True)
class Client:
    name: str  # how tests and this command name it
    package: str  # the npm package
    version: str  # exact: the version the tests were written against
    binary: str  # its executable in node_modules/.bin


#: The pinned clients. Pinning another one is one line here; a new version
#: is a change of pin, made together with the tests that it passes.
CLIENTS = {
    client.name: client
    for client in (
        # tests/e2e/test_claude_code.py; the latest release when the tests were written (2026-11-24).
        Client("claude-code", "@anthropic-ai/claude-code", "2.1.332", "claude"),
        # tests/e2e/test_codex.py; the version the Responses API work observed on the wire.
        Client("codex", "@openai/codex", "0.171.0", "codex"),
    )
}


def cache_root() -> Path:
    configured = os.environ.get("COPILOT_HYBRID_CLIENTS_DIR")
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "copilot-hybrid"


def install_dir(client: Client) -> Path:
    return cache_root() / "npm" / f"{client.package}@{client.version}"


def binary_path(client: Client) -> Path:
    return install_dir(client) / "node_modules" / ".bin" / client.binary


class InstallError(Exception):
    """npm could not install a client in ATTEMPTS tries."""


def reports_version(binary: Path, version: str) -> bool:
    try:
        done = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and version in done.stdout


def run_npm(npm: str, folder: Path, args: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
    """Runs npm with `folder` as its project: an install lands in
    folder/node_modules.

    Not with --prefix: npm reads its global config from <prefix>/etc/npmrc,
    so --prefix would drop the machine's own (/usr/etc/npmrc: a cafile for
    a TLS-inspecting proxy, a proxy, a mirror registry) and the download
    fail with SELF_SIGNED_CERT_IN_CHAIN. A package.json makes the working
    directory npm's local prefix instead, and leaves the global config alone.
    """
    package = folder / "package.json"
    if not package.exists():
        package.write_text('{"private": true}\n')
    return subprocess.run([npm, *args], cwd=folder, capture_output=True, text=True, timeout=timeout, check=False)


def install(
    client: Client,
    npm: str,
    *,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    say: Callable[[str], None] = print,
) -> Path:
    """Installs `client` unless it is installed already; its binary's path."""
    final = install_dir(client)
    binary = binary_path(client)
    if binary.exists():
        say(f"{client.package}@{client.version}: installed at {final}")
        return binary
    final.parent.mkdir(parents=True, exist_ok=True)
    spec = f"{client.package}@{client.version}"
    failure = ""
    for attempt in range(1, attempts + 1):
        scratch = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
        try:
            say(f"{spec}: npm install into {final} (attempt {attempt} of {attempts})")
            try:
                done = run_npm(
                    npm,
                    scratch,
                    ["install", "--no-audit", "--no-fund", "--loglevel=error", "--save-exact", spec],
                    timeout=INSTALL_TIMEOUT_SECONDS,
                )
                failure = (done.stderr or done.stdout).strip() if done.returncode else ""
            except subprocess.TimeoutExpired:
                failure = f"npm did not finish within {INSTALL_TIMEOUT_SECONDS} s"
            staged = scratch / "node_modules" / ".bin" / client.binary
            if not failure and not reports_version(staged, client.version):
                failure = f"{staged} does not run or does not report version {client.version}"
            if not failure:
                try:
                    scratch.rename(final)
                except OSError:
                    if not binary.exists():  # else another installer finished first: use its copy
                        raise
                return binary
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        say(f"{spec}: attempt {attempt} failed: {failure[-2000:]}")
        if attempt < attempts:
            sleep(backoff * 2 ** (attempt - 1))
    raise InstallError(f"{spec}: npm install failed {attempts} times; last error:\n{failure[-4000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"of {', '.join(CLIENTS)} (default: all)")
    args = parser.parse_args(argv)
    names = args.names or list(CLIENTS)
    unknown = [name for name in names if name not in CLIENTS]
    if unknown:
        parser.error(f"unknown client {', '.join(unknown)}; pinned: {', '.join(CLIENTS)}")
    npm = shutil.which("npm")
    if npm is None:
        print(f"npm is not installed: not installing {', '.join(names)} (the tests that drive them will skip)")
        return 0
    try:
        for name in names:
            install(CLIENTS[name], npm)
    except InstallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
