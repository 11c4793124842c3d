"""The Copilot token manager: wall-clock expiry, one refresh under the lock,
backoff, bridging with a still-valid token, endpoints.api trust."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from copilot_hybrid.copilot.token import CopilotTokenManager, parse_token_response
from copilot_hybrid.errors import CopilotTokenError

pytestmark = pytest.mark.timeout(20)


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeGitHub:
    """Answers /copilot_internal/v2/token from a list of (status, body) or a function."""

    def __init__(self, clock: Clock, answers: list[tuple[int, Any]] | None = None) -> None:
        self.clock = clock
        self.answers = list(answers or [])
        self.calls = 0
        self.headers: list[httpx.Headers] = []

    def token(self, refresh_in: int = 1500, ttl: int = 1800, api: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "token": f"tid=t{self.calls};exp={int(self.clock.now + ttl)}:sig",
            "expires_at": int(self.clock.now + ttl),
            "refresh_in": refresh_in,
        }
        if api:
            body["endpoints"] = {"api": api}
        return body

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        self.headers.append(request.headers)
        if self.answers:
            status, body = self.answers.pop(0)
            if callable(body):
                body = body()
            return httpx.Response(status, content=json.dumps(body).encode())
        return httpx.Response(200, json=self.token())


def make_manager(
    github: FakeGitHub, clock: Clock, sleeps: list[float] | None = None, **kwargs: Any
) -> CopilotTokenManager:
    async def fake_sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)
        clock.now += seconds
        await asyncio.sleep(0)  # a real sleep yields to the loop; so must this one

    http = httpx.AsyncClient(transport=httpx.MockTransport(github.handler))
    return CopilotTokenManager(
        http,
        github_api_url="https://api.github.com",
        github_token="gho_test",
        vscode_version="1.104.3",
        clock=clock,
        sleep=fake_sleep,
        **kwargs,
    )


def run(coro_factory: Callable[[], Any]) -> Any:
    return asyncio.run(coro_factory())


def test_exchange_uses_github_header_set() -> None:
    clock = Clock()
    github = FakeGitHub(clock)
    manager = make_manager(github, clock)
    token = run(manager.get)
    assert token.token.startswith("tid=t1")
    headers = github.headers[0]
    assert headers["authorization"] == "token gho_test"
    assert headers["editor-version"] == "vscode/1.104.3"
    assert headers["x-github-api-version"] == "2025-04-01"
    assert headers["user-agent"] == "GitHubCopilotChat/0.26.7"


def test_token_is_reused_until_refresh_time_then_refreshed_by_wall_clock() -> None:
    clock = Clock()
    github = FakeGitHub(clock)
    manager = make_manager(github, clock)

    async def scenario() -> list[str]:
        seen = [(await manager.get()).token]
        clock.now += 1000  # well inside refresh_in - 60
        seen.append((await manager.get()).token)
        clock.now += 500  # past refresh_in - 60 = 1440 s: refresh before use
        seen.append((await manager.get()).token)
        return seen

    first, second, third = run(scenario)
    assert first == second != third
    assert github.calls == 2


def test_laptop_sleep_past_expiry_never_serves_an_expired_token() -> None:
    clock = Clock()
    github = FakeGitHub(clock)
    manager = make_manager(github, clock)

    async def scenario() -> tuple[float, float]:
        old = await manager.get()
        clock.now += 6 * 3600  # suspended for hours: no timer fired meanwhile
        new = await manager.get()
        return old.expires_at, new.expires_at

    old_expiry, new_expiry = run(scenario)
    assert new_expiry > clock.now > old_expiry


def test_refresh_time_respects_expires_at_when_shorter() -> None:
    token = parse_token_response({"token": "t", "expires_at": 1100, "refresh_in": 1500}, now=1000.0)
    assert token.refresh_at <= 1050  # half the 100 s lifetime, not refresh_in - 60
    token = parse_token_response({"token": "t", "refresh_in": 1500}, now=0.0)
    assert token.refresh_at == 1440 and token.expires_at >= 1500


def test_concurrent_callers_share_one_refresh() -> None:
    clock = Clock()
    github = FakeGitHub(clock)
    manager = make_manager(github, clock)

    async def scenario() -> set[str]:
        tokens = await asyncio.gather(*(manager.get() for _ in range(20)))
        return {t.token for t in tokens}

    assert len(run(scenario)) == 1
    assert github.calls == 1


def test_refresh_with_stale_token_refreshes_once_for_a_burst_of_401s() -> None:
    clock = Clock()
    github = FakeGitHub(clock)
    manager = make_manager(github, clock)

    async def scenario() -> set[str]:
        stale = (await manager.get()).token
        fresh = await asyncio.gather(*(manager.refresh(stale=stale) for _ in range(10)))
        return {t.token for t in fresh} | {stale}

    assert len(run(scenario)) == 2
    assert github.calls == 2


def test_failures_are_retried_with_exponential_backoff() -> None:
    clock = Clock()
    github = FakeGitHub(clock, [(500, {"message": "boom"}), (502, "bad gateway"), (503, {})])
    sleeps: list[float] = []
    manager = make_manager(github, clock, sleeps, attempts=4, backoff=0.5)
    token = run(manager.get)
    assert token.token
    assert sleeps == [0.5, 1.0, 2.0]
    assert github.calls == 4


def test_gives_up_after_attempts_with_a_readable_error() -> None:
    clock = Clock()
    github = FakeGitHub(clock, [(500, {"message": "still down"})] * 3)
    manager = make_manager(github, clock, attempts=3)
    with pytest.raises(CopilotTokenError, match="HTTP 500: still down"):
        run(manager.get)


def test_auth_failures_are_not_retried() -> None:
    clock = Clock()
    github = FakeGitHub(clock, [(401, {"message": "Bad credentials"})])
    sleeps: list[float] = []
    manager = make_manager(github, clock, sleeps)
    with pytest.raises(CopilotTokenError, match="Bad credentials") as info:
        run(manager.get)
    assert info.value.status == 401
    assert sleeps == [] and github.calls == 1


def test_a_valid_old_token_bridges_a_failing_refresh() -> None:
    clock = Clock()
    github = FakeGitHub(clock)
    manager = make_manager(github, clock, attempts=2)

    async def scenario() -> tuple[str, str, int]:
        old = await manager.get()
        clock.now += 1450  # due for refresh, still 350 s before expiry
        github.answers = [(500, {})] * 2
        bridged = await manager.get()
        calls_after_failure = github.calls
        await manager.get()  # no new attempt right away: retried after a pause
        assert github.calls == calls_after_failure
        return old.token, bridged.token, github.calls

    old, bridged, _ = run(scenario)
    assert old == bridged


def test_background_refresher_follows_the_wall_clock() -> None:
    clock = Clock()
    github = FakeGitHub(clock)
    sleeps: list[float] = []
    manager = make_manager(github, clock, sleeps)

    async def scenario() -> int:
        await manager.get()
        manager.start_background()
        for _ in range(200):
            await asyncio.sleep(0)
            if github.calls >= 3:
                break
        await manager.aclose()
        return github.calls

    assert run(scenario) >= 3
    assert max(sleeps) <= 60  # wakes at least every minute to re-read the clock


@pytest.mark.parametrize(
    ("github_api", "api", "expected"),
    [
        ("https://api.github.com", "https://api.business.githubcopilot.com", "https://api.business.githubcopilot.com"),
        ("https://api.github.com", "https://evil.example.com", None),
        ("https://api.github.com", "http://api.githubcopilot.com", None),
        ("http://127.0.0.1:9/api", "http://127.0.0.1:9/copilot/", "http://127.0.0.1:9/copilot"),
    ],
)
def test_endpoints_api_trust(github_api: str, api: str, expected: str | None) -> None:
    token = parse_token_response(
        {"token": "t", "refresh_in": 1500, "endpoints": {"api": api}}, now=0.0, github_api_url=github_api
    )
    assert token.api_base == expected


def test_missing_token_field_is_an_error() -> None:
    with pytest.raises(CopilotTokenError):
        parse_token_response({"refresh_in": 5}, now=0.0)
