"""The `copilot-hybrid` command line.

Each command group lives in its own module with a `register(app)` function.
Modules import only typer at the top and import everything heavy inside the
command bodies, so that `copilot-hybrid --help` stays fast.
"""

from __future__ import annotations

import importlib

import typer

# Order is the order of `--help`.
_COMMAND_MODULES = (
    "serve",
    "requests",
    "auth",
    "usage",
    "emulator",
    "tokens",
    "build",
    "verify",
    "rollout",
    "bench",
    "debug",
)


def make_app() -> typer.Typer:
    app = typer.Typer(
        name="copilot-hybrid",
        help="GitHub Copilot as an OpenAI- and Anthropic-compatible API, with a native Zig core.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        # Plain help: rendering it with rich costs ~0.5 s, more than all the rest of `--help`.
        rich_markup_mode=None,
    )
    for name in _COMMAND_MODULES:
        module = importlib.import_module(f"copilot_hybrid.cli.{name}")
        module.register(app)
    return app


def main() -> None:
    make_app()()
