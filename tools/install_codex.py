"""Installs the pinned OpenAI Codex CLI that tests/e2e/test_codex.py drives,
once per machine, outside the repository and outside any timed test:

    python tools/install_codex.py

tox's `codex` env runs it before its tests (commands_pre). Codex goes to
<cache>/npm/@openai/codex@<version>/, where <cache> is
$COPILOT_HYBRID_CLIENTS_DIR, else $XDG_CACHE_HOME/copilot-hybrid, else
~/.cache/copilot-hybrid (the layout of the other pinned clients, so this pin
can become one line of a shared client table). The install is made in a
scratch folder and moved into place only once the binary reports the pinned
version, so a folder that exists is a finished install. A failed download is
retried (3 attempts, 10 s then 20 s apart). Without npm it says so and exits
0: the tests then skip with that reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PACKAGE = "@openai/codex"
#: The version the tests were written against (reference §8: observed on the wire).
VERSION = "0.171.0"
BINARY = "codex"
ATTEMPTS = 3
BACKOFF_SECONDS = 10.0
INSTALL_TIMEOUT_SECONDS = 900


def cache_root() -> Path:
    configured = os.environ.get("COPILOT_HYBRID_CLIENTS_DIR")
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "copilot-hybrid"


def install_dir() -> Path:
    return cache_root() / "npm" / f"{PACKAGE}@{VERSION}"


def binary_path() -> Path:
    return install_dir() / "node_modules" / ".bin" / BINARY


def reports_version(binary: Path) -> bool:
    try:
        done = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and VERSION in done.stdout


def install(npm: str, *, attempts: int = ATTEMPTS) -> Path:
    """Installs the pinned Codex unless it is installed already; its binary's path."""
    final, binary = install_dir(), binary_path()
    if binary.exists():
        print(f"{PACKAGE}@{VERSION}: installed at {final}")
        return binary
    final.parent.mkdir(parents=True, exist_ok=True)
    failure = ""
    for attempt in range(1, attempts + 1):
        scratch = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
        try:
            print(f"{PACKAGE}@{VERSION}: npm install into {final} (attempt {attempt} of {attempts})")
            command = [npm, "install", "--prefix", str(scratch), "--no-audit", "--no-fund", "--loglevel=error"]
            try:
                done = subprocess.run(
                    [*command, "--save-exact", f"{PACKAGE}@{VERSION}"],
                    capture_output=True,
                    text=True,
                    timeout=INSTALL_TIMEOUT_SECONDS,
                    check=False,
                )
                failure = (done.stderr or done.stdout).strip() if done.returncode else ""
            except subprocess.TimeoutExpired:
                failure = f"npm did not finish within {INSTALL_TIMEOUT_SECONDS} s"
            staged = scratch / "node_modules" / ".bin" / BINARY
            if not failure and not reports_version(staged):
                failure = f"{staged} does not run or does not report version {VERSION}"
            if not failure:
                try:
                    scratch.rename(final)
                except OSError:
                    if not binary.exists():  # else another installer finished first: use its copy
                        raise
                return binary
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        print(f"{PACKAGE}@{VERSION}: attempt {attempt} failed: {failure[-2000:]}")
        if attempt < attempts:
            time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
    raise RuntimeError(f"{PACKAGE}@{VERSION}: npm install failed {attempts} times; last error:\n{failure[-4000:]}")


def main() -> int:
    npm = shutil.which("npm")
    if npm is None:
        print(f"npm is not installed: not installing {PACKAGE} (the Codex tests will skip)")
        return 0
    try:
        install(npm)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
