"""Which event loop and HTTP/1.1 parser serve (`serve --loop`, `--http-parser`).

uvloop (libuv) and httptools (llhttp) are the defaults wherever they are
importable; both are declared dependencies on the platforms with wheels
(pyproject.toml). Where one is missing (uvloop has no Windows build) the pure
fallback serves, asyncio's own loop or h11, and the start-up line says so and why.
Naming one explicitly that is not importable fails the start instead: a bench or an
operator that asked for uvloop must not measure asyncio without knowing it.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass

from copilot_hybrid import config
from copilot_hybrid.errors import ConfigError

_FAST_LOOP, _PURE_LOOP = config.LOOPS
_FAST_PARSER, _PURE_PARSER = config.HTTP_PARSERS


@dataclass(frozen=True)
class ServingStack:
    loop: str  # "uvloop" or "asyncio"
    http_parser: str  # "httptools" or "h11"
    reasons: tuple[str, ...]  # why each was chosen, for the start-up line

    def loop_factory(self) -> Callable[[], asyncio.AbstractEventLoop] | None:
        """For asyncio.Runner: the runtime's start and uvicorn then share this one loop."""
        if self.loop == _FAST_LOOP:
            import uvloop

            return uvloop.new_event_loop
        return None  # asyncio's default loop

    def describe(self) -> str:
        return f"Serving on the {_named(self.loop)} event loop with the {_named(self.http_parser)} HTTP parser " + (
            f"({'; '.join(self.reasons)})"
        )


def _named(module: str) -> str:
    if module == _PURE_LOOP:
        return "asyncio"
    try:
        return f"{module} {importlib.metadata.version(module)}"
    except importlib.metadata.PackageNotFoundError:  # importable but not installed as a distribution
        return module


def _importable(module: str) -> bool:
    """Imported for real: a package present but broken (a missing shared library) falls back too."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def _choose(asked: str | None, choices: tuple[str, ...], option: str) -> tuple[str, str]:
    fast, pure = choices
    if asked is not None and asked not in choices:
        raise ConfigError(f"{option} {asked!r}: choose {' or '.join(choices)}")
    if asked == pure:
        return pure, f"{option} {pure}"
    if _importable(fast):
        return fast, (f"{option} {fast}" if asked else f"{fast}: the default")
    if asked == fast:
        raise ConfigError(
            f"{option} {fast}: the {fast} package is not installed here (pip install {fast}; "
            f"it has no build for some platforms), or choose {option} {pure}"
        )
    return pure, f"{fast} is not installed, so {pure}"


def choose_stack(loop: str | None, http_parser: str | None) -> ServingStack:
    """The loop and parser to serve with: the asked ones (None: the fast one where installed).
    Raises ConfigError for an unknown name or an asked one that is not installed."""
    chosen_loop, loop_reason = _choose(loop, config.LOOPS, "--loop")
    chosen_parser, parser_reason = _choose(http_parser, config.HTTP_PARSERS, "--http-parser")
    return ServingStack(chosen_loop, chosen_parser, (loop_reason, parser_reason))
