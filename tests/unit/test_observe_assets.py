"""The dashboard's assets ship in the wheel (hatch's own file selection, no build)."""

from __future__ import annotations

from hatchling.builders.wheel import WheelBuilder

from tests.support import REPO

ASSETS = ("dashboard.html", "dashboard.css", "dashboard.js", "favicon.svg")


def test_dashboard_assets_are_in_the_wheel() -> None:
    shipped = {f.distribution_path for f in WheelBuilder(str(REPO)).recurse_included_files()}
    for name in ASSETS:
        assert f"copilot_hybrid/observe/static/{name}" in shipped


def test_the_page_loads_only_its_own_assets() -> None:
    """No CDN: every src/href of the page is one of its own /dashboard/static files or a route of the proxy."""
    import re

    page = (REPO / "copilot_hybrid/observe/static/dashboard.html").read_text(encoding="utf-8")
    links = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert links and all(link.startswith("/") and not link.startswith("//") for link in links)
    for link in links:
        if link.startswith("/dashboard/static/"):
            assert link.removeprefix("/dashboard/static/") in ASSETS
    script = (REPO / "copilot_hybrid/observe/static/dashboard.js").read_text(encoding="utf-8")
    assert "innerHTML" not in script  # values from clients are only ever written as text
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", script)
