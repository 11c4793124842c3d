"""The soak command (tools/soak.py) as CI runs it: a short soak, 20 concurrent streams
for 20 s through the real proxy with cuts, stalls, slow headers, 5xx and 429."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support import REPO


@pytest.mark.slow
def test_short_soak_has_no_hung_streams_and_no_lost_bytes() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "tools" / "soak.py"), "--duration", "20", "--concurrency", "20", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert done.stdout, done.stderr
    report = json.loads(done.stdout)
    assert done.returncode == 0, json.dumps(report, indent=2)
    assert report["hung"] == 0 and report["unclean"] == 0 and report["lost_bytes"] == 0
    assert report["proxy_log_tracebacks"] == 0 and report["fds"]["leaked"] == 0
    # The run did exercise every fault, and both endings.
    assert set(report["scenarios"]) == {"ok", "paced", "stall-short", "stall-long", "cut", "slow-headers", "5xx", "429"}
    assert report["completed"] > 0 and report["errored_cleanly"] > 0 and report["pings"] > 0
    assert report["requests"] == report["completed"] + report["errored_cleanly"]
