"""`copilot-hybrid serve` (alias `start`): run the proxy.

Every option of copilot-api's `start`, plus --host, the upstream base URLs,
--max-body-bytes, --emulator and the access options (--api-key, --allowed-host,
--cors-origin). Heavy imports happen inside the command. copilot-api's start-up
link to a third-party hosted usage viewer is gone: that page read /usage from
the browser, which only wildcard CORS allowed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from copilot_hybrid import config
from copilot_hybrid.cli.options import DEFAULT_GITHUB_API_URL, DEFAULT_GITHUB_URL, GitHubApiUrl, GitHubUrl
from copilot_hybrid.errors import ConfigError
from copilot_hybrid.observe.settings import LOG_FORMATS, ObserveSettings

if TYPE_CHECKING:
    from copilot_hybrid.server.runtime import Runtime
    from copilot_hybrid.server.settings import ServerSettings
    from copilot_hybrid.server.stack import ServingStack


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
    # ---- who may use the proxy (server/access.py) ----
    api_key: Annotated[
        list[str] | None,
        typer.Option(
            "--api-key",
            metavar="KEY",
            help=(
                f"Client API key (repeatable); required to bind beyond loopback. Prefer ${config.API_KEYS_ENV} "
                "(comma-separated; --api-key replaces it): other local users can see command lines."
            ),
        ),
    ] = None,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host", metavar="NAME", help="Also accept this Host name (repeatable; '*.example.com' too)."
        ),
    ] = None,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--cors-origin",
            metavar="ORIGIN",
            help="Let this web origin (https://app.example) call the proxy, with CORS headers (repeatable).",
        ),
    ] = None,
    log_format: Annotated[
        str,
        typer.Option(
            "--log-format",
            help="text or json (one JSON object per line, and one line per request with the history's fields).",
        ),
    ] = "text",
    history_rows: Annotated[
        int,
        typer.Option(
            "--history-rows",
            min=1,
            envvar=config.HISTORY_ROWS_ENV,
            show_envvar=True,
            help="Requests the history keeps (the oldest go first).",
        ),
    ] = config.DEFAULT_HISTORY_ROWS,
    history_text: Annotated[
        bool,
        typer.Option(
            "--history-text",
            envvar=config.HISTORY_TEXT_ENV,
            show_envvar=True,
            help="Also keep each request's last user text and the answer's text (redacted, capped).",
        ),
    ] = False,
    # -- connections and upstream waits ------------------------------------------------------
    header_timeout: Annotated[
        float,
        typer.Option(
            "--header-timeout",
            min=0.01,
            help="Seconds a client has to send a request's headers, from connecting or from the request's first byte.",
        ),
    ] = config.DEFAULT_HEADER_TIMEOUT,
    keep_alive_timeout: Annotated[
        int, typer.Option("--keep-alive-timeout", min=1, help="Seconds an idle kept-alive connection stays open.")
    ] = config.DEFAULT_KEEP_ALIVE_TIMEOUT,
    max_connections: Annotated[
        int | None,
        typer.Option(
            "--max-connections",
            min=1,
            help=f"Client connections served at once; more get 503. Default {config.DEFAULT_MAX_CONNECTIONS}, "
            "or fewer if the file descriptor limit is low.",
        ),
    ] = None,
    upstream_timeout: Annotated[
        float,
        typer.Option("--upstream-timeout", min=0.01, help="Seconds to wait for Copilot's response headers (then 504)."),
    ] = config.DEFAULT_UPSTREAM_TIMEOUT,
    upstream_transport: Annotated[
        str,
        typer.Option(
            "--upstream-transport",
            envvar=config.UPSTREAM_TRANSPORT_ENV,
            show_envvar=True,
            help="aiohttp (aiohttp's pool under httpx, the fastest) or httpx (httpcore); --proxy-env uses httpx.",
        ),
    ] = config.DEFAULT_UPSTREAM_TRANSPORT,
    stream_idle_timeout: Annotated[
        float,
        typer.Option(
            "--stream-idle-timeout",
            min=0.01,
            help="Seconds a stream may go without a byte from Copilot (then a final error event).",
        ),
    ] = config.DEFAULT_STREAM_IDLE_TIMEOUT,
    ping_interval: Annotated[
        float,
        typer.Option(
            "--ping-interval", min=0.01, help="Seconds of silence on a stream before a keep-alive ping to the client."
        ),
    ] = config.DEFAULT_PING_INTERVAL,
    loop: Annotated[
        str | None,
        typer.Option(
            "--loop",
            envvar=config.LOOP_ENV,
            show_envvar=True,
            help="Event loop: uvloop or asyncio. Default uvloop where it is installed (no Windows build).",
        ),
    ] = None,
    http_parser: Annotated[
        str | None,
        typer.Option(
            "--http-parser",
            envvar=config.HTTP_PARSER_ENV,
            show_envvar=True,
            help="HTTP/1.1 parser: httptools or h11. Default httptools where it is installed.",
        ),
    ] = None,
    # ---- models and routing (server/routing.py) ----
    model_alias: Annotated[
        list[str] | None,
        typer.Option(
            "--model-alias",
            metavar="FROM=TO",
            help="Serve model id FROM with Copilot's TO (repeatable; wins over [models.aliases] in config.toml).",
        ),
    ] = None,
    native_messages: Annotated[
        bool | None,
        typer.Option(
            "--native-messages/--no-native-messages",
            help=(
                "Send Anthropic requests for models that list it to Copilot's own /v1/messages (default; "
                "config: [server] native_messages), or translate all of them onto chat completions."
            ),
            show_default=False,
        ),
    ] = None,
    small_model: Annotated[
        str | None,
        typer.Option(
            "--small-model",
            metavar="MODEL",
            help="Send Claude Code's tool-less warm-up probes and its compaction requests to this model.",
        ),
    ] = None,
    offline_count_tokens: Annotated[
        bool,
        typer.Option(
            "--offline-count-tokens", help="Answer count_tokens with the local tokenizer only, never asking Copilot."
        ),
    ] = False,
) -> None:
    """Start the proxy: OpenAI and Anthropic APIs backed by your Copilot subscription."""
    from copilot_hybrid.server.settings import ServerSettings

    if log_format not in LOG_FORMATS:
        raise typer.BadParameter(f"{log_format!r} is not one of {', '.join(LOG_FORMATS)}", param_hint="--log-format")
    upstream_transport = upstream_transport.strip().lower()
    if upstream_transport not in config.UPSTREAM_TRANSPORTS:
        raise typer.BadParameter(
            f"{upstream_transport!r} is not one of {', '.join(config.UPSTREAM_TRANSPORTS)}",
            param_hint="--upstream-transport",
        )
    try:
        aliases, native = _model_settings(model_alias or [], native_messages)
    except ConfigError as exc:
        typer.echo(f"Startup failed: {exc}", err=True)
        raise typer.Exit(1) from exc
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
        api_keys=tuple(api_key or ()) or config.api_keys_from_env(),
        allowed_hosts=tuple(allowed_host or ()),
        cors_origins=tuple(cors_origin or ()),
        observe=ObserveSettings(
            history_rows=history_rows, history_text=history_text, log_format="json" if log_format == "json" else "text"
        ),
        header_timeout=header_timeout,
        keep_alive_timeout=keep_alive_timeout,
        max_connections=max_connections,
        upstream_timeout=upstream_timeout,
        upstream_transport=upstream_transport,
        stream_idle_timeout=stream_idle_timeout,
        ping_interval=ping_interval,
        loop=loop.strip().lower() if loop and loop.strip() else None,
        http_parser=http_parser.strip().lower() if http_parser and http_parser.strip() else None,
        model_aliases=aliases,
        native_messages=native,
        small_model=small_model.strip() if small_model and small_model.strip() else None,
        offline_count_tokens=offline_count_tokens,
    )
    raise typer.Exit(run_server(settings, emulator=emulator))


def _model_settings(alias_flags: list[str], native_flag: bool | None) -> tuple[dict[str, str], bool]:
    """The alias table and the native-messages switch: config.toml, then the flags."""
    from copilot_hybrid.copilot.resolution import merge_aliases, parse_model_alias

    file = config.read_config_file()
    if file.error:
        typer.echo(f"Warning: {file.error}", err=True)
    flags = dict(parse_model_alias(text) for text in alias_flags)
    aliases = merge_aliases(config.model_aliases(file), flags)
    native = native_flag if native_flag is not None else config.native_messages_enabled(file)
    return aliases, native


def run_server(settings: ServerSettings, *, emulator: bool = False) -> int:
    """Starts (and with --emulator, first the emulator), serves until Ctrl-C
    or SIGTERM; the exit code: 0 after SIGTERM (a service manager's normal
    stop), 130 after Ctrl-C, as shells report an interrupted command."""
    import asyncio
    import logging

    from copilot_hybrid.cli.stopping import sigterm_stops_like_ctrl_c
    from copilot_hybrid.errors import ConfigError
    from copilot_hybrid.logs import setup_logging
    from copilot_hybrid.server.access import check_access_settings
    from copilot_hybrid.server.stack import choose_stack

    setup_logging(settings.verbose, settings.observe.log_format)
    log = logging.getLogger("copilot_hybrid.server")
    try:
        check_access_settings(settings)  # before anything starts or listens
        stack = choose_stack(settings.loop, settings.http_parser)
    except ConfigError as exc:
        log.error("Startup failed: %s", exc)
        return 1
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
            log.info("%s", stack.describe())
            # One loop for the runtime's start and uvicorn (asyncio.run is this Runner too,
            # so Ctrl-C and SIGTERM stop it the same way on either loop).
            with asyncio.Runner(loop_factory=stack.loop_factory()) as runner:
                return runner.run(_serve(settings, stack))
        except KeyboardInterrupt:
            log.info("Stopped (%s)", stop.signal)
            return 0 if stop.signal == "SIGTERM" else 130
        finally:
            if emu is not None:
                emu.stop()


async def _serve(settings: ServerSettings, stack: ServingStack) -> int:
    import logging

    import uvicorn

    from copilot_hybrid.errors import CopilotHybridError
    from copilot_hybrid.server.app import create_app
    from copilot_hybrid.server.connections import setup_connection_limits
    from copilot_hybrid.server.runtime import Runtime

    log = logging.getLogger("copilot_hybrid.server")
    limits = setup_connection_limits(settings)
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
    log.info("📊 Dashboard: %s/dashboard", settings.base_url)
    app = create_app(settings, runtime=runtime)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # our root handler (with token redaction) prints uvicorn's lines too
        lifespan="on",
        server_header=False,
        # No X-Forwarded-* rewriting of the client address and scheme: nothing here reads
        # them, and the access policy checks Host and Origin, which no proxy header changes.
        proxy_headers=False,
        # One access line per request stays (text logs): it is what a terminal user watches,
        # and through the log filter's fast path it costs ~29 µs (52 µs before) of a request's ~3 ms. With
        # --log-format json the request log line carries more, so uvicorn's is off.
        access_log=settings.observe.log_format != "json",
        timeout_graceful_shutdown=5,
        http=limits.protocol_class(stack.http_parser),
        timeout_keep_alive=settings.keep_alive_timeout,
    )
    server = uvicorn.Server(config)
    await server.serve()
    return 0 if server.started else 1


def claude_code_setup(runtime: Runtime) -> None:
    """copilot-api's --claude-code: choose two of today's models, get a shell command for Claude Code."""
    import os

    from copilot_hybrid.server.claude_code import (
        claude_code_command,
        claude_code_models,
        copy_to_clipboard,
        default_picks,
    )

    offered = claude_code_models(runtime.models.infos(), native_messages=runtime.settings.native_messages)
    picks = default_picks(offered)
    if picks is None:
        typer.echo("No models available for Claude Code; skipping the Claude Code setup.", err=True)
        return
    ids = [m.id for m in offered]
    for number, model in enumerate(offered, 1):
        context = f"{model.context_window // 1000}k context" if model.context_window else "context unknown"
        typer.echo(f"  {number:>2}. {model.id:<24} {model.name} ({context})", err=True)
    main = _pick(ids, "Model to use with Claude Code", picks[0])
    small = _pick(ids, "Small, fast model to use with Claude Code", picks[1])
    keys = runtime.settings.api_keys
    script = claude_code_command(
        runtime.settings.base_url,
        main,
        small,
        shell=config.login_shell(),
        windows=os.name == "nt",
        api_key=keys[0] if keys else None,
    )
    if copy_to_clipboard(script):
        typer.echo("Copied the Claude Code command to the clipboard:", err=True)
    else:
        typer.echo("Run this to start Claude Code:", err=True)
    typer.echo(script)


def _pick(ids: list[str], question: str, default: str) -> str:
    while True:
        answer = str(typer.prompt(f"{question} (number or id)", default=default, err=True)).strip()
        if answer in ids:
            return answer
        if answer.isdigit() and 1 <= int(answer) <= len(ids):
            return ids[int(answer) - 1]
        typer.echo(f"Not one of the {len(ids)} models listed.", err=True)
