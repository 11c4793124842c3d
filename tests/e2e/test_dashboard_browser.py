"""The dashboard in headless Chromium (Debian's chromium + chromium-driver,
driven with selenium): after known requests the page shows their numbers,
the rollout panel shows each feature's mode, and a mismatch injected through
the rollout layer appears. Screenshots go to build/test-artifacts/.

The proxy runs in this process (uvicorn in a thread, on a socket bound
before it starts, so no readiness polling), which lets the mismatch test
swap the tokenizer's native side for one that disagrees on a marker text:
the real runner then records the mismatch as it would any other.
"""

from __future__ import annotations

import asyncio
import shutil
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
from tests.support import native_or_skip

pytestmark = pytest.mark.timeout(180)

ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
WAIT_SECONDS = 30
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


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("Chromium is not installed: apt-get install -y chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--window-size=1280,2200",
    ):
        options.add_argument(flag)
    # A profile of its own: tox runs envs in parallel, and Chromium refuses a profile in use.
    profile = tmp_path / "chromium-profile"
    options.add_argument(f"--user-data-dir={profile}")
    # An explicit driver path: selenium does not run Selenium Manager (which would download one).
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def wait_for_text(driver: Any, css: str, expected: str) -> None:
    """Until the element under `css` reads `expected` (the page polls every 2 s)."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def shows(d: Any) -> bool:
        try:
            return str(d.find_element(By.CSS_SELECTOR, css).text).strip() == expected
        except (NoSuchElementException, StaleElementReferenceException):
            return False

    try:
        WebDriverWait(driver, WAIT_SECONDS).until(shows)
    except Exception:
        current = [e.text for e in driver.find_elements(By.CSS_SELECTOR, css)]
        raise AssertionError(f"{css} never read {expected!r}; it reads {current!r}") from None


def wait_for_count(driver: Any, css: str, count: int) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        WebDriverWait(driver, WAIT_SECONDS).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, css)) == count)
    except Exception:
        raise AssertionError(f"{css} never matched {count} elements") from None


def texts(driver: Any, css: str) -> list[str]:
    from selenium.webdriver.common.by import By

    return [str(e.text).strip() for e in driver.find_elements(By.CSS_SELECTOR, css)]


def test_dashboard_shows_the_requests_and_the_rollout_modes(served: Served, browser: Any, emulator: Emulator) -> None:
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
    browser.get(served.url + "/dashboard")
    wait_for_text(browser, "#stat-requests", "4")
    wait_for_text(browser, "#stat-errors", "1")
    assert texts(browser, "#status-counts [data-status='200']") == ["200 × 3"]
    assert texts(browser, "#status-counts [data-status='400']") == ["400 × 1"]
    prompt = sum(u["prompt_tokens"] for u in usage)
    assert texts(browser, "#tokens tr[data-model='gpt-4.1'] .input") == [str(prompt)]
    assert texts(browser, "#tokens tr[data-model='claude-sonnet-4.5'] .output") == [
        str(claude.json()["usage"]["output_tokens"])
    ]
    # The refused "nope" never reached Copilot, so it carries no initiator.
    assert texts(browser, "#initiator-user") == ["3"]
    assert len(texts(browser, "#history-table tbody tr")) == 4
    assert texts(browser, "#history-table tbody tr[data-status='400'] .model") == ["nope"]
    assert texts(browser, "#account-plan") == ["individual"]
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
        assert texts(browser, row + " .configured") == [str(decision.configured)]
        assert texts(browser, row + " .reason") == [decision.reason]
        assert texts(browser, row + " .circuit") == ["closed"]
    assert texts(browser, "#native-status") == [load().status]

    # Filters: only the 4xx row is left.
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element("id", "filter-status")).select_by_value("4xx")
    wait_for_text(browser, "#history-table tbody tr .status", "400")
    assert len(texts(browser, "#history-table tbody tr")) == 1
    Select(browser.find_element("id", "filter-status")).select_by_value("")
    wait_for_count(browser, "#history-table tbody tr", 4)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # The native run's picture is dashboard.png; a run without the library (tox -e pure) says so in the name.
    suffix = "" if load().ok else f"-native-{load().status}"
    browser.save_screenshot(str(ARTIFACTS / f"dashboard{suffix}.png"))

    # Narrow window: nothing sticks out sideways; wide tables scroll inside their card.
    browser.set_window_size(400, 2400)
    wait_for_text(browser, "#stat-requests", "4")
    overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    browser.save_screenshot(str(ARTIFACTS / f"dashboard-narrow{suffix}.png"))


def test_dashboard_shows_a_mismatch_injected_through_the_rollout_layer(
    served: Served, browser: Any, monkeypatch: pytest.MonkeyPatch
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
    browser.get(served.url + "/dashboard")
    row = "#features tr[data-feature='tokenizer']"
    wait_for_text(browser, row + " .effective", "shadow")
    wait_for_text(browser, row + " .mismatches", str(mismatches))
    wait_for_text(browser, "#mismatches li[data-feature='tokenizer'] b", "tokenizer")
    entries = texts(browser, "#mismatches li[data-feature='tokenizer'] .input")
    assert entries and all(MARKER in entry for entry in entries)
    assert texts(browser, "#no-mismatches") == [""]  # hidden
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "dashboard-mismatch.png"))
