"""`copilot-hybrid emulator`: run the GitHub + Copilot emulator in the foreground.

Only typer is imported at module level; the emulator itself is imported in
the command body so `copilot-hybrid --help` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from copilot_hybrid.emulator import Emulator

DEFAULT_PORT = 4142
DEFAULT_HOST = "127.0.0.1"


def describe(emulator: Emulator) -> str:
    """What to print once the emulator listens: its bases and how to use it."""
    return "\n".join(
        [
            "GitHub + Copilot emulator listening",
            f"  GitHub web:   {emulator.github_url}",
            f"  GitHub API:   {emulator.github_api_url}",
            f"  Copilot API:  {emulator.copilot_url}  (announced by the token's endpoints.api)",
            f"  Control API:  {emulator.url}/_emulator/",
            "",
            "Point the proxy at it:",
            f"  export COPILOT_HYBRID_GITHUB_URL={emulator.github_url}",
            f"  export COPILOT_HYBRID_GITHUB_API_URL={emulator.github_api_url}",
            "",
            f"Pre-authorised GitHub token: {emulator.github_token}",
            "(or run the device flow: codes are approved after one pending poll)",
            "Scripting keywords and the control API: docs/emulator.md",
            "Press Ctrl-C to stop (or send SIGTERM).",
        ]
    )


def register(app: typer.Typer) -> None:
    """Adds the `emulator` command to the root app."""

    @app.command("emulator")
    def emulator_command(
        port: int = typer.Option(DEFAULT_PORT, "--port", "-p", help="Port to listen on (0 = any free port)."),
        host: str = typer.Option(DEFAULT_HOST, "--host", help="Interface to bind."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not log each request."),
    ) -> None:
        """Run a local GitHub + Copilot emulator (for tests and offline demos)."""
        from copilot_hybrid.cli.stopping import sigterm_stops_like_ctrl_c
        from copilot_hybrid.emulator import serve_forever

        def ready(emulator: Emulator) -> None:
            typer.echo(describe(emulator))

        def log(line: str) -> None:
            typer.echo(line, err=True)

        with sigterm_stops_like_ctrl_c() as stop:
            try:
                serve_forever(host, port, on_ready=ready, log=None if quiet else log)
            except KeyboardInterrupt:
                pass  # stopped before it was serving; serve_forever stops the emulator itself after that
            except OSError as exc:
                typer.echo(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
                raise typer.Exit(1) from exc
        typer.echo(f"Emulator stopped ({stop.signal}).", err=True)
