"""Headless browsers for the dashboard tests, behind one small `Page` API so
the same scenario runs in each.

- Chromium: Debian's `chromium` + `chromium-driver`, driven with selenium.
- Firefox: Debian's `firefox-esr`, driven over Marionette, the remote
  protocol built into Firefox (geckodriver itself is a WebDriver front for
  it), with Mozilla's own Python client `marionette-driver` from PyPI. No
  geckodriver: neither Debian nor a usable PyPI wheel ships one for Linux,
  and selenium-manager would download it from GitHub. Marionette gives the
  same WebDriver semantics (element text, clicks) as selenium + geckodriver.

Both find the browser on PATH and skip with the apt-get line that installs it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

import pytest

WAIT_SECONDS = 30
WIDE = (1280, 2200)


class Page(Protocol):
    name: str
    # The narrowest window the browser opens: Firefox's window has a 500 px floor.
    narrowest: int
    # What the driver raises when the page re-renders under an element it returned.
    stale: type[Exception]

    def open(self, url: str) -> None: ...
    def texts(self, css: str) -> list[str]: ...
    def choose(self, select_css: str, value: str) -> None: ...
    def resize(self, width: int, height: int) -> None: ...
    def script(self, js: str) -> Any: ...
    def save_screenshot(self, path: Path) -> None: ...


class ChromiumPage:
    name = "chromium"
    narrowest = 400

    def __init__(self, driver: Any) -> None:
        from selenium.common.exceptions import StaleElementReferenceException

        self.driver = driver
        self.stale = StaleElementReferenceException

    def open(self, url: str) -> None:
        self.driver.set_window_size(*WIDE)
        self.driver.get(url)

    def texts(self, css: str) -> list[str]:
        from selenium.webdriver.common.by import By

        return [str(e.text).strip() for e in self.driver.find_elements(By.CSS_SELECTOR, css)]

    def choose(self, select_css: str, value: str) -> None:
        from selenium.webdriver.common.by import By

        self.driver.find_element(By.CSS_SELECTOR, f"{select_css} option[value='{value}']").click()

    def resize(self, width: int, height: int) -> None:
        self.driver.set_window_size(width, height)

    def script(self, js: str) -> Any:
        return self.driver.execute_script(js)

    def save_screenshot(self, path: Path) -> None:
        self.driver.save_screenshot(str(path))


class FirefoxPage:
    name = "firefox"
    narrowest = 500

    def __init__(self, client: Any) -> None:
        from marionette_driver.errors import StaleElementException

        self.client = client
        self.stale = StaleElementException

    def open(self, url: str) -> None:
        self.resize(*WIDE)
        self.client.navigate(url)

    def texts(self, css: str) -> list[str]:
        from marionette_driver.by import By

        return [str(e.text).strip() for e in self.client.find_elements(By.CSS_SELECTOR, css)]

    def choose(self, select_css: str, value: str) -> None:
        from marionette_driver.by import By

        self.client.find_element(By.CSS_SELECTOR, f"{select_css} option[value='{value}']").click()

    def resize(self, width: int, height: int) -> None:
        self.client.set_window_rect(width=width, height=height)

    def script(self, js: str) -> Any:
        return self.client.execute_script(js)

    def save_screenshot(self, path: Path) -> None:
        # The window's viewport, as Chromium's screenshot (Marionette's default is the whole document).
        path.write_bytes(self.client.screenshot(format="binary", full=False))


@contextmanager
def chromium(workdir: Path) -> Iterator[Page]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_binary = shutil.which("chromedriver")
    if not (binary and driver_binary):
        pytest.skip("Chromium is not installed: apt-get install -y chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--window-size={WIDE[0]},{WIDE[1]}",
        # A profile of its own: tox runs envs in parallel, and Chromium refuses a profile in use.
        f"--user-data-dir={workdir / 'profile'}",
    ):
        options.add_argument(flag)
    # An explicit driver path: selenium does not run Selenium Manager (which would download one).
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_binary))
    try:
        yield ChromiumPage(driver)
    finally:
        driver.quit()


@contextmanager
def firefox(workdir: Path) -> Iterator[Page]:
    binary = shutil.which("firefox-esr") or shutil.which("firefox")
    if not binary:
        pytest.skip("Firefox is not installed: apt-get install -y firefox-esr")
    from marionette_driver.marionette import Marionette

    # port=0: a free port of its own (tox runs envs in parallel). mozrunner makes a fresh
    # profile with Mozilla's test prefs, which keep Firefox off the network; in `workdir`
    # (pytest's tmp), since mozrunner leaves it behind.
    client = Marionette(
        bin=binary,
        port=0,
        headless=True,
        # -no-remote: a Firefox that tox started in another env must not take this one's URLs.
        app_args=["-no-remote", f"--window-size={WIDE[0]},{WIDE[1]}"],
        workspace=str(workdir),
        gecko_log=str(workdir / "gecko.log"),
        startup_timeout=120,
    )
    try:
        client.start_session()
        yield FirefoxPage(client)
    finally:
        client.cleanup()


LAUNCHERS: dict[str, Callable[[Path], AbstractContextManager[Page]]] = {"chromium": chromium, "firefox": firefox}


def wait_until(page: Page, condition: Callable[[], bool], failure: Callable[[], str]) -> None:
    """Until `condition()` holds (the dashboard polls every 2 s), else fail with `failure()`."""
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        WebDriverWait(page, WAIT_SECONDS, ignored_exceptions=(page.stale,)).until(lambda _: condition())
    except Exception:
        raise AssertionError(f"[{page.name}] {failure()}") from None


def wait_for_text(page: Page, css: str, expected: str) -> None:
    """Until the first element under `css` reads `expected`."""
    wait_until(
        page,
        lambda: page.texts(css)[:1] == [expected],
        lambda: f"{css} never read {expected!r}; it reads {page.texts(css)!r}",
    )


def wait_for_count(page: Page, css: str, count: int) -> None:
    wait_until(
        page,
        lambda: len(page.texts(css)) == count,
        lambda: f"{css} never matched {count} elements; it matches {len(page.texts(css))}",
    )
