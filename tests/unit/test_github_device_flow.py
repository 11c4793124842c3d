"""The device flow against the emulator: approve, slow_down, expired, denied,
plus the expires_in deadline and the token store."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from copilot_hybrid.emulator import Emulator
from copilot_hybrid.errors import DeviceFlowError
from copilot_hybrid.github import device_flow as flow
from copilot_hybrid.github.device_flow import DeviceCode, device_flow, poll_access_token
from copilot_hybrid.github.login import setup_github_token
from copilot_hybrid.github.token_store import read_github_token, write_github_token
from tests.support import FakeClock

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator(clock: FakeClock) -> Iterator[Emulator]:
    """The emulator and the device flow share one fake clock: a poll interval
    passes for both when the flow sleeps, and nothing waits for real."""
    with Emulator(clock=clock) as emu:
        yield emu


def login(emulator: Emulator, clock: FakeClock, **kwargs: Any) -> str:
    async def go() -> str:
        async with httpx.AsyncClient() as http:
            return await device_flow(
                http, emulator.github_url, on_code=lambda code: None, sleep=clock.sleep, clock=clock, **kwargs
            )

    return asyncio.run(go())


def test_approve(emulator: Emulator, clock: FakeClock) -> None:
    emulator.configure(device_pending_polls=2)
    token = login(emulator, clock)
    assert token.startswith("gho_")
    polls = emulator.requests_to("/login/oauth/access_token")
    assert len(polls) == 3  # pending, pending, token
    assert polls[0].body["grant_type"] == "urn:ietf:params:oauth:grant-type:device_code"
    assert polls[0].body["client_id"] == "Iv1.b507a08c87ecfe98"
    assert emulator.requests_to("/login/device/code")[0].header("accept") == "application/json"


def test_slow_down_adopts_the_new_interval(emulator: Emulator, clock: FakeClock) -> None:
    emulator.configure(device_flow_scenario="slow_down", device_slow_down_increment=7, device_pending_polls=0)
    assert login(emulator, clock).startswith("gho_")
    assert clock.sleeps == [7.0]  # interval 0 + slow_down's new interval of 7 s


def test_slow_down_without_interval_adds_five_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = [{"error": "slow_down"}, {"error": "authorization_pending"}, {"access_token": "gho_x"}]
    sleeps: list[float] = []

    async def fake_post(http: Any, url: str, body: Any) -> dict[str, Any]:
        return answers.pop(0)

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    monkeypatch.setattr(flow, "_post_json", fake_post)
    code = DeviceCode("d", "U-1", "https://github.com/login/device", 900, 5)
    token = asyncio.run(poll_access_token(None, "https://github.com", code, sleep=fake_sleep))  # type: ignore[arg-type]
    assert token == "gho_x"
    assert sleeps == [10.0, 10.0]


def test_expired(emulator: Emulator, clock: FakeClock) -> None:
    emulator.configure(device_flow_scenario="expired", device_pending_polls=0)
    with pytest.raises(DeviceFlowError, match="expired") as info:
        login(emulator, clock)
    assert info.value.reason == "expired_token"


def test_denied(emulator: Emulator, clock: FakeClock) -> None:
    emulator.configure(device_flow_scenario="denied", device_pending_polls=0)
    with pytest.raises(DeviceFlowError, match="denied") as info:
        login(emulator, clock)
    assert info.value.reason == "access_denied"


def test_gives_up_at_expires_in(emulator: Emulator, clock: FakeClock) -> None:
    # Every 7 s: the poll at 595 s is the last one before the code's 600 s run out.
    emulator.configure(device_flow_scenario="manual", device_code_ttl=600, device_interval=7)
    start = clock.now
    with pytest.raises(DeviceFlowError, match="not entered within 600 s") as info:
        login(emulator, clock)
    assert info.value.reason == "timeout"
    assert clock.now - start == 595
    assert set(clock.sleeps) == {7.0}  # polled at the interval, never too fast for GitHub
    polls = emulator.requests_to("/login/oauth/access_token")
    assert len(polls) == 86 and all(poll.body["device_code"] == polls[0].body["device_code"] for poll in polls)


def test_other_oauth_errors_end_the_flow(monkeypatch: pytest.MonkeyPatch) -> None:
    async def fake_post(http: Any, url: str, body: Any) -> dict[str, Any]:
        return {"error": "device_flow_disabled", "error_description": "Device flow is disabled"}

    monkeypatch.setattr(flow, "_post_json", fake_post)
    code = DeviceCode("d", "U-1", "https://github.com/login/device", 900, 0)
    with pytest.raises(DeviceFlowError, match="Device flow is disabled"):
        asyncio.run(poll_access_token(None, "https://github.com", code))  # type: ignore[arg-type]


def test_setup_github_token_writes_0600_and_reads_trimmed(emulator: Emulator, isolated_home: Path) -> None:
    async def go(**kwargs: Any) -> Any:
        async with httpx.AsyncClient() as http:
            return await setup_github_token(
                http, github_url=emulator.github_url, github_api_url=emulator.github_api_url, **kwargs
            )

    first = asyncio.run(go())
    assert first.source == "device_flow" and first.login == "emulated-user"
    path = isolated_home / "github_token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text(first.token + "\n")  # a hand edit leaves a newline
    second = asyncio.run(go())
    assert second.source == "file" and second.token == first.token
    provided = asyncio.run(go(provided="  gho_given  "))
    assert provided.source == "provided" and provided.token == "gho_given"


def test_token_store_roundtrip(isolated_home: Path) -> None:
    assert read_github_token() is None
    path = write_github_token("gho_abc\n")
    assert path == isolated_home / "github_token"
    assert path.read_text() == "gho_abc"
    assert read_github_token() == "gho_abc"
    path.write_text("   \n")
    assert read_github_token() is None
