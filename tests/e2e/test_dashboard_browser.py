"""The dashboard in headless Chromium and Firefox (Debian's chromium and
firefox-esr; see tests/e2e/browsers.py for how each is driven): after known
requests the page shows their numbers, the rollout panel shows each
feature's mode, a mismatch injected through the rollout layer appears, and a
narrow window is usable. Every test runs once per browser; screenshots go to
build/test-artifacts/, named after the browser.

The proxy runs in this process (uvicorn in a thread, on a socket bound
before it starts, so no readiness polling), which lets the mismatch test
swap the tokenizer's native side for one that disagrees on a marker text:
the real runner then records the mismatch as it would any other.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from copilot_hybrid.emulator import Emulator
from copilot_hybrid.native.loader import load
from copilot_hybrid.observe.settings import ObserveSettings
from copilot_hybrid.rollout import runner
from copilot_hybrid.server.app import create_app
from copilot_hybrid.server.settings import ServerSettings
from copilot_hybrid.tokenizer._feature import FEATURE as TOKENIZER
from copilot_hybrid.tokenizer._feature import TokenizerInput
from tests.e2e.browsers import LAUNCHERS, Page, wait_for_count, wait_for_text
from tests.support import REPO, native_or_skip

pytestmark = pytest.mark.timeout(180)

ARTIFACTS = REPO / "build" / "test-artifacts"
MARKER = "please-disagree"
USER = [{"role": "user", "content": "hi there"}]


@dataclass
class Served:
    url: str
    home: Path


@pytest.fixture
def served(emulator: Emulator, isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    import uvicorn

    monkeypatch.setenv("COPILOT_HYBRID_VSCODE_VERSION", "1.104.3")
    settings = ServerSettings(
        github_url=emulator.github_url,
        github_api_url=emulator.github_api_url,
        github_token=emulator.github_token,
        persist_token=False,
        interactive_login=False,
        offline=True,
        observe=ObserveSettings(enabled=True, history_file=isolated_home / "history.sqlite3"),
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_config=None, lifespan="on"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    yield Served(f"http://127.0.0.1:{sock.getsockname()[1]}", isolated_home)
    server.should_exit = True
    thread.join(30)
    sock.close()


@pytest.fixture(scope="module", params=sorted(LAUNCHERS))
def browser(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    """One browser per module and kind (a launch is the slow part); each test opens the page anew."""
    with LAUNCHERS[request.param](tmp_path_factory.mktemp(request.param)) as page:
        yield page


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # A run without the library (tox -e pure) says so in the name.
    suffix = "" if load().ok else f"-native-{load().status}"
    page.save_screenshot(ARTIFACTS / f"{name}-{page.name}{suffix}.png")


def test_dashboard_shows_the_requests_and_the_rollout_modes(served: Served, browser: Page, emulator: Emulator) -> None:
    with httpx.Client(base_url=served.url, timeout=30) as client:
        usage = []
        for _ in range(2):
            reply = client.post("/v1/chat/completions", json={"model": "gpt-4.1", "messages": USER})
            assert reply.status_code == 200
            usage.append(reply.json()["usage"])
        claude = client.post("/v1/messages", json={"model": "claude-sonnet-4.5", "max_tokens": 30, "messages": USER})
        assert claude.status_code == 200
        bad = client.post("/v1/messages", json={"model": "nope", "max_tokens": 30, "messages": USER})
        assert bad.status_code == 400
    browser.open(served.url + "/dashboard")
    wait_for_text(browser, "#stat-requests", "4")
    wait_for_text(browser, "#stat-errors", "1")
    assert browser.texts("#status-counts [data-status='200']") == ["200 × 3"]
    assert browser.texts("#status-counts [data-status='400']") == ["400 × 1"]
    prompt = sum(u["prompt_tokens"] for u in usage)
    assert browser.texts("#tokens tr[data-model='gpt-4.1'] .input") == [str(prompt)]
    assert browser.texts("#tokens tr[data-model='claude-sonnet-4.5'] .output") == [
        str(claude.json()["usage"]["output_tokens"])
    ]
    # The refused "nope" never reached Copilot, so it carries no initiator.
    assert browser.texts("#initiator-user") == ["3"]
    assert len(browser.texts("#history-table tbody tr")) == 4
    assert browser.texts("#history-table tbody tr[data-status='400'] .model") == ["nope"]
    assert browser.texts("#account-plan") == ["individual"]
    used = round(emulator.premium_used)  # claude-sonnet-4.5 costs one premium request, gpt-4.1 none
    premium = f"{used} / 300 used, {300 - used} left ({(300 - used) / 3:.1f}%)"
    wait_for_text(browser, "#quotas [data-quota='premium'] .quota-text", premium)

    # Each feature's configured and effective mode, as the runner decides them.
    from copilot_hybrid.features import all_features
    from copilot_hybrid.rollout.runner import decide

    for feature in all_features():
        decision = decide(feature)
        row = f"#features tr[data-feature='{feature.name}']"
        wait_for_text(browser, row + " .effective", str(decision.effective))
        assert browser.texts(row + " .configured") == [str(decision.configured)]
        assert browser.texts(row + " .reason") == [decision.reason]
        assert browser.texts(row + " .circuit") == ["closed"]
    assert browser.texts("#native-status") == [load().status]
    assert browser.texts("#problems") == [""]  # hidden: no API call failed in this browser

    # Filters: only the 4xx row is left.
    browser.choose("#filter-status", "4xx")
    wait_for_text(browser, "#history-table tbody tr .status", "400")
    assert len(browser.texts("#history-table tbody tr")) == 1
    browser.choose("#filter-status", "")
    wait_for_count(browser, "#history-table tbody tr", 4)
    screenshot(browser, "dashboard")

    # Narrow window: nothing sticks out sideways; wide tables scroll inside their card.
    browser.resize(browser.narrowest, 2400)
    assert browser.script("return window.innerWidth") <= browser.narrowest  # else the check below proves nothing
    wait_for_text(browser, "#stat-requests", "4")
    overflow = browser.script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    screenshot(browser, "dashboard-narrow")


def test_dashboard_shows_a_mismatch_injected_through_the_rollout_layer(
    served: Served, browser: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    native_or_skip()  # shadow runs need a loaded library (CI requires one)
    real_native = TOKENIZER.native

    def disagreeing(x: TokenizerInput) -> Any:
        result = real_native(x)
        return result + 1 if MARKER in x.text and x.op == "count" else result

    monkeypatch.setattr(TOKENIZER, "native", disagreeing)
    # gpt-4.1 lists no /v1/messages: its count_tokens is the local tokenizer's (Claude models ask Copilot).
    body = {"model": "gpt-4.1", "messages": [{"role": "user", "content": f"{MARKER} now"}]}
    counted = httpx.post(served.url + "/v1/messages/count_tokens", json=body, timeout=30)
    assert counted.status_code == 200  # shadow: the caller still gets the reference's answer
    mismatches = runner.counters("tokenizer").get("mismatches", 0)
    assert mismatches >= 1
    browser.open(served.url + "/dashboard")
    row = "#features tr[data-feature='tokenizer']"
    wait_for_text(browser, row + " .effective", "shadow")
    wait_for_text(browser, row + " .mismatches", str(mismatches))
    wait_for_text(browser, "#mismatches li[data-feature='tokenizer'] b", "tokenizer")
    entries = browser.texts("#mismatches li[data-feature='tokenizer'] .input")
    assert entries and all(MARKER in entry for entry in entries)
    assert browser.texts("#no-mismatches") == [""]  # hidden
    screenshot(browser, "dashboard-mismatch")
