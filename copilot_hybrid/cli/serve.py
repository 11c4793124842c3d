"""`copilot-hybrid serve` (alias `start`): run the proxy.

Every option of copilot-api's `start`, plus --host, the upstream base URLs,
--max-body-bytes and --emulator. Heavy imports happen inside the command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from copilot_hybrid import config
from copilot_hybrid.cli.options import DEFAULT_GITHUB_API_URL, DEFAULT_GITHUB_URL, GitHubApiUrl, GitHubUrl

if TYPE_CHECKING:
    from copilot_hybrid.server.runtime import Runtime
    from copilot_hybrid.server.settings import ServerSettings


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
    app.command("start", help="Alias of `serve` (copilot-api's name).")(serve_command)


def serve_command(
    port: Annotated[
        int, typer.Option("--port", "-p", min=0, max=65535, help="Port to listen on.")
    ] = config.DEFAULT_PORT,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; anything but loopback exposes your Copilot to the network.")
    ] = config.DEFAULT_HOST,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    account_type: Annotated[
        str,
        typer.Option(
            "--account-type",
            "-a",
            help="individual, business or enterprise: picks the Copilot API host when the token does not name one.",
        ),
    ] = "individual",
    manual: Annotated[
        bool, typer.Option("--manual", help="Ask on the terminal before each chat/messages request.")
    ] = False,
    rate_limit: Annotated[
        int | None, typer.Option("--rate-limit", "-r", min=0, help="Minimum seconds between chat/messages requests.")
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", "-w", help="With --rate-limit: wait for the next slot instead of answering 429.")
    ] = False,
    github_token: Annotated[
        str | None,
        typer.Option(
            "--github-token",
            "-g",
            envvar=config.GITHUB_TOKEN_ENV,
            show_envvar=True,
            help="Use this GitHub token (skips the token file and the device flow).",
        ),
    ] = None,
    claude_code: Annotated[
        bool, typer.Option("--claude-code", "-c", help="Pick models and get a command that launches Claude Code.")
    ] = False,
    show_token: Annotated[
        bool, typer.Option("--show-token", help="Print the GitHub and Copilot tokens and serve GET /token.")
    ] = False,
    proxy_env: Annotated[
        bool, typer.Option("--proxy-env", help="Use HTTP(S)_PROXY / ALL_PROXY / NO_PROXY for outbound requests.")
    ] = False,
    github_url: GitHubUrl = DEFAULT_GITHUB_URL,
    github_api_url: GitHubApiUrl = DEFAULT_GITHUB_API_URL,
    copilot_api_url: Annotated[
        str | None,
        typer.Option(
            "--copilot-api-url",
            envvar=config.COPILOT_API_URL_ENV,
            show_envvar=True,
            help="Copilot API base; wins over the token's endpoints.api and --account-type.",
        ),
    ] = None,
    max_body_bytes: Annotated[
        int, typer.Option("--max-body-bytes", min=1, help="Largest request body accepted (413 above).")
    ] = config.DEFAULT_MAX_BODY_BYTES,
    emulator: Annotated[
        bool,
        typer.Option("--emulator", help="Offline demo: start the built-in GitHub/Copilot emulator and proxy to it."),
    ] = False,
) -> None:
    """Start the proxy: OpenAI and Anthropic APIs backed by your Copilot subscription."""
    from copilot_hybrid.server.settings import ServerSettings

    settings = ServerSettings(
        host=host,
        port=port,
        verbose=verbose,
        account_type=account_type,
        manual=manual,
        rate_limit_seconds=rate_limit or None,
        rate_limit_wait=wait,
        github_token=github_token.strip() if github_token and github_token.strip() else None,
        claude_code=claude_code,
        show_token=show_token,
        proxy_env=proxy_env,
        github_url=github_url,
        github_api_url=github_api_url,
        copilot_api_url=copilot_api_url or None,
        max_body_bytes=max_body_bytes,
    )
    raise typer.Exit(run_server(settings, emulator=emulator))


def run_server(settings: ServerSettings, *, emulator: bool = False) -> int:
    """Starts (and with --emulator, first the emulator), serves until Ctrl-C
    or SIGTERM; the exit code: 0 after SIGTERM (a service manager's normal
    stop), 130 after Ctrl-C, as shells report an interrupted command."""
    import asyncio
    import logging

    from copilot_hybrid.cli.stopping import sigterm_stops_like_ctrl_c
    from copilot_hybrid.logs import setup_logging

    setup_logging(settings.verbose)
    log = logging.getLogger("copilot_hybrid.server")
    with sigterm_stops_like_ctrl_c() as stop:
        emu = None
        try:
            if emulator:
                from copilot_hybrid.emulator import Emulator

                emu = Emulator()
                emu.start()
                log.info(
                    "Emulator running at %s (GitHub and Copilot are simulated; nothing leaves this machine)", emu.url
                )
                settings.github_url = emu.github_url
                settings.github_api_url = emu.github_api_url
                settings.copilot_api_url = None
                settings.github_token = None
                settings.persist_token = False  # never replace a real login with the emulator's
                settings.offline = True
            return asyncio.run(_serve(settings))
        except KeyboardInterrupt:
            log.info("Stopped (%s)", stop.signal)
            return 0 if stop.signal == "SIGTERM" else 130
        finally:
            if emu is not None:
                emu.stop()


async def _serve(settings: ServerSettings) -> int:
    import logging

    import uvicorn

    from copilot_hybrid.errors import CopilotHybridError
    from copilot_hybrid.server.app import create_app
    from copilot_hybrid.server.runtime import Runtime

    log = logging.getLogger("copilot_hybrid.server")
    runtime = Runtime(settings)
    try:
        # Same event loop as uvicorn: the pooled upstream connections stay valid.
        await runtime.start()
    except CopilotHybridError as exc:
        log.error("Startup failed: %s", exc)
        await runtime.aclose()
        return 1
    if settings.claude_code:
        import asyncio

        await asyncio.to_thread(claude_code_setup, runtime)
    log.info("🌐 Usage Viewer: https://ericc-ch.github.io/copilot-api?endpoint=%s/usage", settings.base_url)
    app = create_app(settings, runtime=runtime)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # our root handler (with token redaction) prints uvicorn's lines too
        lifespan="on",
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    await server.serve()
    return 0 if server.started else 1


def claude_code_setup(runtime: Runtime) -> None:
    """copilot-api's --claude-code: choose two models, get a shell command for Claude Code."""
    import os

    from copilot_hybrid.server.claude_code import claude_code_command, copy_to_clipboard

    ids = list(runtime.models.ids())
    if not ids:
        typer.echo("No models available; skipping the Claude Code setup.", err=True)
        return
    for number, model_id in enumerate(ids, 1):
        typer.echo(f"  {number:>2}. {model_id}", err=True)
    main = _pick(ids, "Model to use with Claude Code")
    small = _pick(ids, "Small, fast model to use with Claude Code")
    script = claude_code_command(
        runtime.settings.base_url, main, small, shell=config.login_shell(), windows=os.name == "nt"
    )
    if copy_to_clipboard(script):
        typer.echo("Copied the Claude Code command to the clipboard:", err=True)
    else:
        typer.echo("Run this to start Claude Code:", err=True)
    typer.echo(script)


def _pick(ids: list[str], question: str) -> str:
    while True:
        answer = str(typer.prompt(f"{question} (number or id)", err=True)).strip()
        if answer in ids:
            return answer
        if answer.isdigit() and 1 <= int(answer) <= len(ids):
            return ids[int(answer) - 1]
        typer.echo(f"Not one of the {len(ids)} models listed.", err=True)
