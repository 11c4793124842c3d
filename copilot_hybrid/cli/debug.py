"""`copilot-hybrid debug`: versions, paths, native status, feature modes."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer


def register(app: typer.Typer) -> None:
    app.command("debug")(debug_command)


def debug_info() -> dict[str, Any]:
    import platform
    import sys
    from importlib import metadata

    from copilot_hybrid import __version__, config
    from copilot_hybrid.features import all_features
    from copilot_hybrid.native import build as native_build
    from copilot_hybrid.native.loader import load
    from copilot_hybrid.rollout.runner import decide

    def version_of(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    native = load()
    token_path = config.github_token_path()
    try:
        token_exists = token_path.is_file() and bool(token_path.read_text(encoding="utf-8").strip())
    except OSError:
        token_exists = False
    features = {}
    for feature in all_features():
        decision = decide(feature)
        features[feature.name] = {
            "configured": str(decision.configured),
            "source": decision.source,
            "effective": str(decision.effective),
            "reason": decision.reason,
        }
    return {
        "version": __version__,
        "runtime": {
            "name": platform.python_implementation().lower(),
            "version": platform.python_version(),
            "platform": sys.platform,
            "arch": platform.machine(),
        },
        "versions": {
            "python": sys.version.split()[0],
            "zig_pinned": native_build.ZIG_PIN,
            "ziglang": version_of("ziglang"),
            "cffi": version_of("cffi"),
        },
        "paths": {
            "config_dir": str(config.config_dir()),
            "config_file": str(config.config_file()),
            "data_dir": str(config.data_dir()),
            "github_token": str(token_path),
        },
        "token_exists": token_exists,
        "native": {
            "status": native.status,
            "reason": native.reason,
            "library": str(native.library) if native.library else None,
            "build": native.record or None,
        },
        "features": features,
    }


def debug_command(json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Show versions, paths, the native library's status and each feature's mode."""
    info = debug_info()
    if json_output:
        typer.echo(json.dumps(info, indent=2))
        return
    runtime, native = info["runtime"], info["native"]
    lines = [
        f"copilot-hybrid {info['version']}",
        f"Runtime: {runtime['name']} {runtime['version']} ({runtime['platform']} {runtime['arch']})",
        f"Zig (pinned): {info['versions']['zig_pinned']}, ziglang installed: {info['versions']['ziglang']}, "
        f"cffi: {info['versions']['cffi']}",
        "",
        "Paths:",
        *(f"- {k}: {v}" for k, v in info["paths"].items()),
        f"Token exists: {'Yes' if info['token_exists'] else 'No'}",
        "",
        f"Native: {native['status']} ({native['reason']})",
        "Features:",
        *(
            f"- {name}: configured {f['configured']} ({f['source']}), effective {f['effective']}: {f['reason']}"
            for name, f in info["features"].items()
        ),
    ]
    typer.echo("\n".join(lines))
