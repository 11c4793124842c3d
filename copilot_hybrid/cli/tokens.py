"""`copilot-hybrid tokens count`: count the tokens of a file or stdin."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

tokens_app = typer.Typer(help="Count tokens the way the proxy does (cl100k_base, o200k_base).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(tokens_app, name="tokens")


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@tokens_app.command("count")
def count_command(
    file: Annotated[str, typer.Argument(help="The file to count, or - for stdin.", metavar="FILE|-")],
    encoding: Annotated[
        Optional[str],  # noqa: UP045 - typer needs Optional at runtime on 3.11
        typer.Option("--encoding", "-e", help="cl100k_base or o200k_base (default o200k_base)."),
    ] = None,
    model: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--model", "-m", help="A Copilot model id; picks its encoding (e.g. gpt-4 -> cl100k_base)."),
    ] = None,
    backend: Annotated[str, typer.Option("--backend", help="auto (rollout mode), native or reference.")] = "auto",
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the number of tokens in FILE. Special-token text counts as plain
    text. Bytes that are not UTF-8 count as U+FFFD (a warning says so)."""
    from copilot_hybrid.tokenizer import (
        BACKENDS,
        ENCODING_NAMES,
        NativeUnavailable,
        VocabularyError,
        encoding_name_for_model,
        get_encoding,
    )

    if encoding is not None and model is not None:
        raise _fail("give --encoding or --model, not both", 2)
    if backend not in BACKENDS:
        raise _fail(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}", 2)
    name = encoding_name_for_model(model) if model is not None else (encoding or "o200k_base")
    if name not in ENCODING_NAMES:
        raise _fail(f"unknown encoding {name!r}; known: {', '.join(ENCODING_NAMES)}", 2)
    try:
        data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
        replaced = False
    except UnicodeDecodeError:
        # A count must not fail on a stray byte: count what a lenient reader sees.
        text = data.decode("utf-8", "replace")
        replaced = True
    try:
        enc = get_encoding(name, backend)  # type: ignore[arg-type]  # checked against BACKENDS above
        tokens = enc.count(text)
    except NativeUnavailable as exc:
        raise _fail(f"{exc} (use --backend reference or auto)") from None
    except (VocabularyError, MemoryError) as exc:
        raise _fail(str(exc) or type(exc).__name__) from None
    if replaced:
        typer.echo(f"warning: {file} is not valid UTF-8; invalid bytes were counted as U+FFFD", err=True)
    if json_output:
        payload = {
            "file": file,
            "encoding": name,
            "model": model,
            "backend": backend,
            "tokens": tokens,
            "bytes": len(data),
            "characters": len(text),
            "invalid_utf8_replaced": replaced,
        }
        typer.echo(json.dumps(payload))
    else:
        typer.echo(str(tokens))
