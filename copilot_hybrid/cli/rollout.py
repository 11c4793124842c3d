"""`copilot-hybrid rollout status|set`: per-feature modes."""

from __future__ import annotations

import json
from typing import Annotated

import typer

rollout_app = typer.Typer(
    help="Show and set per-feature rollout modes (off, shadow, percent:N, on).", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(rollout_app, name="rollout")


@rollout_app.command("status")
def status_command(json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Configured and effective mode of every feature, and why."""
    from copilot_hybrid.features import feature_status

    status = feature_status()
    if json_output:
        typer.echo(json.dumps(status, indent=2))
        return
    native = status["native"]
    typer.echo(f"native: {native['status']} ({native['reason']})")
    for name, f in status["features"].items():
        verify = f["verify"]
        if verify is None:
            verify_text = "never verified"
        else:
            which = "this build" if verify["current_build"] else f"another build ({verify['build_id']})"
            outcome = "passed" if verify["passed"] else "FAILED"
            verify_text = f"verify {outcome} on {which}: {verify['mismatches']} mismatches in {verify['cases']} cases"
        c = f["counters"]
        typer.echo(
            f"{name}: configured {f['configured']} ({f['source']}), effective {f['effective']}\n"
            f"  why: {f['reason']}\n  {verify_text}\n"
            f"  calls {c['calls']}, native errors {c['native_errors']}, mismatches {c['mismatches']}"
        )


@rollout_app.command("set")
def set_command(
    feature: Annotated[str, typer.Argument(help="Feature name, e.g. tokenizer.")],
    mode: Annotated[str, typer.Argument(help="off, shadow, percent:N or on.")],
    force: Annotated[bool, typer.Option("--force", help="Promote even without a passed verify on this build.")] = False,
) -> None:
    """Persist a feature's mode in the config file."""
    from copilot_hybrid.features import get_feature
    from copilot_hybrid.native.loader import load
    from copilot_hybrid.rollout import records, settings
    from copilot_hybrid.rollout.modes import parse_mode

    try:
        target = get_feature(feature)
        parsed = parse_mode(mode)
    except (KeyError, ValueError) as exc:
        typer.echo(f"error: {exc.args[0]}", err=True)
        raise typer.Exit(2) from None
    if parsed.promotes_native:
        native = load()
        if not records.verify_passed(target.name, native.build_id):
            why = (
                f"native is {native.status}: {native.reason}"
                if not native.ok
                else f"`copilot-hybrid verify {target.name}` has not passed on the current build ({native.build_id})"
            )
            if not force:
                typer.echo(
                    f"refusing to set {target.name} to {parsed}: {why}. Run verify first, or use --force.", err=True
                )
                raise typer.Exit(1)
            typer.echo(f"WARNING: --force: setting {target.name} to {parsed} although {why}", err=True)
    try:
        path = settings.write_feature_mode(target.name, parsed)
    except (OSError, ValueError) as exc:
        typer.echo(f"error: cannot write the config file: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{target.name}: {parsed} (saved in {path})")
