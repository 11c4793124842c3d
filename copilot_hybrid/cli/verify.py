"""`copilot-hybrid verify`: native against reference, over every case."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("verify")(verify_command)


def verify_command(
    features: Annotated[Optional[list[str]], typer.Argument(help="Features to verify (default: all).")] = None,  # noqa: UP045
    cases: Annotated[
        int, typer.Option("--cases", help="Generated cases per feature, on top of corpus and edge cases.")
    ] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generated cases.")] = 0,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    allow_missing: Annotated[bool, typer.Option("--allow-missing", help="Exit 0 when native is unavailable.")] = False,
    replay: Annotated[Optional[Path], typer.Option("--replay", help="Rerun one mismatch case file.")] = None,  # noqa: UP045
) -> None:
    """Run native against reference over corpora, generated and edge cases; exit 1 on any mismatch."""
    from copilot_hybrid.features import FEATURE_NAMES, get_feature
    from copilot_hybrid.native.loader import load
    from copilot_hybrid.rollout import verify as verifier

    native = load()
    if replay is not None:
        if not native.ok:
            typer.echo(f"native is {native.status}: {native.reason}", err=True)
            raise typer.Exit(1)
        same, ref_text, nat_text = verifier.replay(replay, get_feature)
        typer.echo(f"{'match' if same else 'MISMATCH'}\n reference: {ref_text}\n native:    {nat_text}")
        raise typer.Exit(0 if same else 1)
    names = features or list(FEATURE_NAMES)
    try:
        selected = [get_feature(name) for name in names]
    except KeyError as exc:
        typer.echo(f"error: {exc.args[0]}", err=True)
        raise typer.Exit(2) from None
    unusable = [f.name for f in selected if not native.has(*f.native_symbols)]
    if unusable:
        message = f"native unavailable for {', '.join(unusable)}: {native.status}: {native.reason}"
        typer.echo(("warning: " if allow_missing else "error: ") + message, err=True)
        if not allow_missing:
            raise typer.Exit(1)
        selected = [f for f in selected if f.name not in unusable]
    results = []
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        transient=True, disable=json_output,
    ) as bar:  # fmt: skip
        for feature in selected:
            task = bar.add_task(f"verify {feature.name}", total=None)

            def advance(n: int, task: TaskID = task) -> None:
                bar.advance(task, n)

            results.append(verifier.verify_feature(feature, count=cases, seed=seed, progress=advance))
    if json_output:
        typer.echo(json.dumps({"build_id": native.build_id, "results": [r.as_dict() for r in results]}, indent=2))
    else:
        typer.echo(f"{'feature':<12} {'cases':>8} {'mismatches':>10} {'native s':>9} {'reference s':>11} {'ratio':>7}")
        for r in results:
            ratio = f"{r.ratio:.2f}x" if r.ratio else "-"
            native_s, reference_s = r.native_ns / 1e9, r.reference_ns / 1e9
            typer.echo(
                f"{r.feature:<12} {r.cases:>8} {r.mismatches:>10} {native_s:>9.3f} {reference_s:>11.3f} {ratio:>7}"
            )
            for line in r.first_mismatches:
                typer.echo(f"  {line}")
            if r.case_files:
                typer.echo(f"  case files: {Path(r.case_files[0]).parent} (replay with --replay FILE)")
        typer.echo(f"build {native.build_id}: " + ("all passed" if all(r.passed for r in results) else "MISMATCHES"))
    if not all(r.passed for r in results):
        raise typer.Exit(1)
