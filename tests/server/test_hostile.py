"""The acceptance of issue 24, all attacks together: under 2,000 idle connections, 50 slow-body clients, 20
runaways from one client and three pathological regex requests at once, ``/health`` and a cached canned answer
stay fast from every granian worker, and another client's cheap uncached query at p50.

One run of :func:`bench.hostile.run_phase` (the attackers, the probes and how each probe is traced to the worker
that answered it) against a production server of its own: granian with 2 worker processes on the built graph,
as ``make serve`` runs. ``python -m bench.hostile`` (``make hostile``) runs each attack alone too and prints the
figures. The bounds here are the acceptance's 100 ms at p50 (the per-worker p90 of ``make hostile`` is left to
the benchmark: on the shared 2-core CI machine the attackers' own load generators compete with the server) and a
hang bound on the slowest probe: before the fixes, ``/health`` and cached answers timed out under each attack.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.hostile import ATTACKS, IDLE, SLOW, Phase, granian_workers, percentile_ms, run_phase, warm
from tests.support.hostile import raise_open_files
from tests.support.live_server import LiveServer, live_server

pytestmark = [pytest.mark.live]

SECONDS = 20.0
WORKERS = 2
P50_MS = 100.0
SLOWEST_S = 3.0
"""The slowest probe (a hang bound: the probes timed out, 5 s, under these attacks before). Single uncached queries
took up to 1.1 s on a machine at load average 18, while the runaways' query workers were being replaced."""


@pytest.fixture(scope="module")
def two_workers(built_nt: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = {"KG_ENGINE": "oxigraph", "KG_QUERY_TIMEOUT": "5", "KG_QUERY_WORKERS": "2"}
    production = ("--production", "--workers", str(WORKERS))
    with live_server(tmp_path_factory.mktemp("hostile"), [built_nt], settings, *production) as server:
        yield server


@pytest.fixture(scope="module")
def together(two_workers: LiveServer) -> Phase:
    if not raise_open_files(IDLE + SLOW + 200):
        pytest.skip(f"the open-file limit is below {IDLE + SLOW + 200}")
    workers = granian_workers(two_workers.process.pid)
    assert len(workers) == WORKERS
    warm(two_workers.url, workers)
    return run_phase(two_workers.url, two_workers.process.pid, ATTACKS, SECONDS)


def test_every_attack_ran(together: Phase) -> None:
    """The attacks did what they say: the server closed the idle connections and they were made again, the slow
    bodies got 408, the runaway client was refused past its share, the regex requests were answered."""
    answers = together.attackers
    assert answers["idle: made again"] >= IDLE, answers
    assert answers["slow: HTTP/1.1 408 Request Timeout"] > 0, answers
    assert answers["runaway: 429"] > 0, answers
    assert answers["regex: 200"] > 0, answers  # the unguarded patterns, on RE2
    assert answers["regex: 400"] > 0, answers  # the lookahead, which RE2 refuses
    assert not [what for what in answers if "Error" in what or "killed" in what], answers


@pytest.mark.parametrize("probe", ["health", "canned"])
def test_health_and_a_cached_answer_are_fast_from_every_worker(together: Phase, probe: str) -> None:
    samples = together.of(probe)
    assert not [s.failure for s in samples if s.failure]
    workers = {s.worker for s in samples if s.worker is not None}
    assert len(workers) == WORKERS, workers
    for worker in workers:
        assert percentile_ms(together.of(probe, worker), 0.5) < P50_MS, (worker, together.of(probe, worker))
    assert max(s.seconds for s in samples) < SLOWEST_S


def test_another_clients_uncached_query_is_fast_at_p50(together: Phase) -> None:
    samples = together.of("uncached")
    assert len(samples) >= 20
    assert not [s.failure for s in samples if s.failure]
    assert percentile_ms(samples, 0.5) < P50_MS
    assert max(s.seconds for s in samples) < SLOWEST_S
