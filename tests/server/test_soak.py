"""A short soak (``make soak`` runs 3 minutes): mixed load with runaway queries, no unexpected answer."""

from __future__ import annotations

import pytest

from bench.soak import soak
from tests.support.live_server import LiveServer

pytestmark = [pytest.mark.engine, pytest.mark.live]


def test_a_short_soak_has_no_unexpected_answer(server: LiveServer) -> None:
    report = soak(server.url, server.process.pid, seconds=15, clients=8)
    print(report.summary(5))
    assert sum(report.statuses.values()) > 100
    assert not report.unexpected, report.unexpected[:5]
    assert report.statuses[("health", 200)] > 0
