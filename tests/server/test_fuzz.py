"""A short run of the grammar-aware fuzzer (``make fuzz`` runs 10,000 queries) against the test server.

Every answer is a 2xx, a 4xx or a 503 (504 on ``KG_ENGINE=sparql``) within the time limit plus a margin; no
query worker crashes; the server answers ``/health`` afterwards.
"""

from __future__ import annotations

import pytest
import requests

from bench.fuzz import fuzz, generate
from tests.support import QUERY_TIMEOUT
from tests.support.live_server import LiveServer

pytestmark = [pytest.mark.engine, pytest.mark.live]


def test_a_short_fuzz_run_finds_no_5xx_hang_or_crash(server: LiveServer) -> None:
    report = fuzz(server.sparql, list(generate(400, seed=7)), limit=QUERY_TIMEOUT, pid=server.process.pid)
    print(report.summary())
    assert report.sent > 400
    assert not report.server_errors, report.server_errors[:5]
    assert not report.hangs, report.hangs[:5]
    assert report.crashes == 0
    assert requests.get(f"{server.url}/health", timeout=10).status_code == 200
