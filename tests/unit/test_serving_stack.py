"""`serve --loop` / `--http-parser` (server/stack.py): the fast pair by default, the pure
fallback where a package is missing, a clear error for an unknown or missing one asked
for; and each parser's protocol carries the connection limits (server/connections.py).
Their behaviour over real sockets: tests/e2e/test_connections.py, on both stacks."""

from __future__ import annotations

import asyncio
import builtins
from typing import Any

import pytest
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from copilot_hybrid.errors import ConfigError
from copilot_hybrid.server.connections import ConnectionLimits, LimitedConnection
from copilot_hybrid.server.stack import choose_stack


def test_the_defaults_are_uvloop_and_httptools_where_installed() -> None:
    stack = choose_stack(None, None)
    assert (stack.loop, stack.http_parser) == ("uvloop", "httptools")
    assert "uvloop" in stack.describe() and "httptools" in stack.describe() and "default" in stack.describe()
    import uvloop

    factory = stack.loop_factory()
    assert factory is not None
    loop = factory()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_the_pure_pair_when_asked() -> None:
    stack = choose_stack("asyncio", "h11")
    assert (stack.loop, stack.http_parser) == ("asyncio", "h11")
    assert stack.loop_factory() is None  # asyncio's own loop
    assert "--loop asyncio" in stack.describe() and "--http-parser h11" in stack.describe()


@pytest.fixture
def without(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Makes the named modules fail to import, as on a platform without their wheels."""
    real_import = builtins.__import__

    def hide(*modules: str) -> None:
        def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
            if name.split(".")[0] in modules:
                raise ImportError(f"No module named {name!r}")
            return real_import(name, *args, **kwargs)

        monkeypatch.setattr(builtins, "__import__", fake_import)
        monkeypatch.setattr("importlib.import_module", lambda name: fake_import(name))

    return hide


def test_missing_fast_packages_fall_back_and_say_why(without: Any) -> None:
    without("uvloop", "httptools")
    stack = choose_stack(None, None)
    assert (stack.loop, stack.http_parser) == ("asyncio", "h11")
    assert "uvloop is not installed, so asyncio" in stack.describe()
    assert "httptools is not installed, so h11" in stack.describe()


def test_a_missing_package_asked_for_is_a_clear_error(without: Any) -> None:
    without("uvloop")
    with pytest.raises(ConfigError, match="--loop uvloop: the uvloop package is not installed"):
        choose_stack("uvloop", None)


@pytest.mark.parametrize(("loop", "parser", "option"), [("tokio", None, "--loop"), (None, "picohttp", "--http-parser")])
def test_unknown_names_are_refused(loop: str | None, parser: str | None, option: str) -> None:
    with pytest.raises(ConfigError, match=f"{option} '.*': choose"):
        choose_stack(loop, parser)


@pytest.mark.parametrize(("parser", "uvicorn_class"), [("httptools", HttpToolsProtocol), ("h11", H11Protocol)])
def test_each_parser_gets_the_limited_protocol(parser: str, uvicorn_class: type[asyncio.Protocol]) -> None:
    limits = ConnectionLimits(max_connections=4, header_timeout=1, fd_limit=256)
    protocol = limits.protocol_class(parser)
    assert issubclass(protocol, LimitedConnection) and issubclass(protocol, uvicorn_class)
    assert protocol.limits is limits  # type: ignore[attr-defined]
