"""`copilot-hybrid requests [--last N] [--json]`: print the request history."""

from __future__ import annotations

from typing import Annotated, Any

import typer


def register(app: typer.Typer) -> None:
    app.command("requests")(requests_command)


def requests_command(
    last: Annotated[int, typer.Option("--last", "-n", min=1, help="How many of the newest requests.")] = 20,
    model: Annotated[str | None, typer.Option("--model", help="Only this (requested or resolved) model.")] = None,
    route: Annotated[str | None, typer.Option("--route", help="Only this route, e.g. /v1/messages.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="A status code, 2xx, 4xx, 5xx or error.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON array with every stored field.")] = False,
) -> None:
    """The newest requests the proxy served (from the history in the data directory), oldest first."""
    import json

    from copilot_hybrid.observe.history import read_rows
    from copilot_hybrid.observe.settings import history_path

    path = history_path()
    try:
        rows = read_rows(path, limit=last, model=model, route=route, status=status)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if json_output:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        typer.echo(f"No requests recorded yet ({path}).", err=True)
        return
    typer.echo(format_rows(rows))


_COLUMNS = (
    ("time", "time"),
    ("route", "route"),
    ("model", "model"),
    ("status", "status"),
    ("ms", "latency_ms"),
    ("ttfb", "ttfb_ms"),
    ("in", "input_tokens"),
    ("out", "output_tokens"),
    ("cached", "cached_tokens"),
    ("initiator", "initiator"),
    ("error", "error_type"),
)


def _cell(row: dict[str, Any], key: str) -> str:
    import time

    value = row.get(key)
    if key == "time":
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(value or 0)))
    if key == "model":
        requested, resolved = row.get("requested_model"), row.get("resolved_model")
        if requested and resolved and requested != resolved:
            return f"{requested} -> {resolved}"
        return str(resolved or requested or "-")
    if key == "route" and row.get("stream"):
        return f"{row['method']} {value} (stream)"
    if key == "route":
        return f"{row['method']} {value}"
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.0f}"
    return str(value)


def format_rows(rows: list[dict[str, Any]]) -> str:
    table = [[title for title, _ in _COLUMNS]] + [[_cell(row, key) for _, key in _COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(_COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in table
    )
