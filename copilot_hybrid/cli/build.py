"""`copilot-hybrid build`: compile zig/ into the native library."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("build")(build_command)


def build_command(
    optimize: Annotated[
        str, typer.Option("--optimize", "-O", help="ReleaseFast (default), ReleaseSafe or Debug.")
    ] = "ReleaseFast",
    target: Annotated[
        Optional[str],  # noqa: UP045 - typer needs Optional at runtime on 3.11
        typer.Option(help="Cross-compile for a Zig triple, e.g. aarch64-linux-gnu, x86_64-macos, x86_64-windows."),
    ] = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Only load the existing build in a fresh process and smoke-call every export."),
    ] = False,
    output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Output folder (default: inside the package; build/native/TARGET for --target)."),
    ] = None,
) -> None:
    """Build the native core with the Zig of the pinned `ziglang` package, then prove it loads."""
    from copilot_hybrid import __version__
    from copilot_hybrid.errors import BuildError
    from copilot_hybrid.native import build as native_build
    from copilot_hybrid.native.loader import default_library_path

    if check:
        library = (output / native_build.library_filename()) if output else default_library_path()
        try:
            report = native_build.check_library(library)
        except BuildError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"{library}: loads, and every export answered:")
        typer.echo(report)
        return
    try:
        result = native_build.build(optimize=optimize, target=target, output_dir=output, package_version=__version__)
    except BuildError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    record = result.record
    typer.echo(
        f"built {result.library} ({native_build.binary_format(result.library)}) "
        f"in {result.seconds:.1f} s: zig {record['zig_version']}, {record['optimize']}, "
        f"target {record['target']}, sources {str(record['source_digest'])[:12]}, build {record['build_id']}"
    )
    if target is None:
        typer.echo("loaded it in a fresh process and smoke-called every export: ok")
