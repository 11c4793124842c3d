"""The README gives the test commands; .ci/run runs exactly what the README
calls the whole matrix as CI runs it, and nothing the README does not show,
so a newcomer who copies the README runs what CI runs."""

from __future__ import annotations

import re

from tests.support import REPO

SCAFFOLDING = ("set -euo pipefail", 'cd "$(dirname "$0")/.."')


def readme_shell_blocks() -> list[list[str]]:
    readme = (REPO / "README.md").read_text("utf-8")
    return [block.strip().splitlines() for block in re.findall(r"```sh\n(.*?)```", readme, re.S)]


def ci_commands() -> list[str]:
    lines = (REPO / ".ci" / "run").read_text("utf-8").splitlines()
    commands = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return [command for command in commands if command not in SCAFFOLDING]


def test_ci_runs_one_readme_block_verbatim() -> None:
    assert ci_commands() in readme_shell_blocks()


def test_the_newcomers_command_is_ci_s_without_the_strict_interpreter_flag() -> None:
    strict = " --skip-missing-interpreters=false"
    ci_tox = ci_commands()[-1]
    assert ci_tox.endswith(strict)  # CI fails on a missing interpreter, a newcomer skips it
    newcomer = next(block for block in readme_shell_blocks() if block[0].startswith("python3.11 -m venv .venv-test"))
    assert newcomer == [ci_tox.removesuffix(strict)]
