"""Two replicas of the server behind nginx (``deploy/nginx.conf``) on loopback: runaway queries under load (their
503s must not take a replica out), load through nginx while one replica is killed with SIGKILL, then both
stopped while nginx keeps serving what it cached.

The replicas are ``python -m calcinosis_kg.server --production`` (as ``make serve`` runs it, one granian worker
each), each in its own process group, so that the kill takes the replica's workers with it, as a crash would.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from bench.cluster import CACHE_STATUS, FAIL_TIMEOUT_S, cache_statuses, kill_group, nginx_program, nginx_spec
from bench.servers import Server, Supervisor, ours_spec, wait_for
from tests.support import RUNAWAY
from tests.support.live_server import SAMPLE_TTL

pytestmark = [
    pytest.mark.engine,
    pytest.mark.live,
    pytest.mark.skipif(
        nginx_program() is None, reason="nginx is not installed (apt-get install nginx; .ci/run installs it)"
    ),
]

CLIENTS = 6
"""Client threads; each has at most one request in flight, so at most this many are in flight on a killed replica."""
LOAD_BEFORE_KILL_S = 1.5
LOAD_AFTER_KILL_S = FAIL_TIMEOUT_S + 1.0
"""Past ``fail_timeout``: nginx tries the dead replica again, and must still hide it from the clients."""
JSON = "application/sparql-results+json"
STALE_AFTER_S = 2.1
"""nginx keeps a 200 fresh for 1 s (``proxy_cache_valid``), counted in whole seconds: stale 2 s after at most."""
REPLICA_SETTINGS = {"KG_QUERY_TIMEOUT": "3", "KG_QUERY_WORKERS": "4"}
"""Runaways end at 3 s; 4 query workers per replica, so three runaways never hold every worker of a replica (a
query waiting for a worker is the fairness issue, not the load balancer's)."""
RUNAWAYS = 3
_UPSTREAM_STATUS = re.compile(r" upstream_status=(.*?) time=")
CACHED = [
    ("SELECT ?s ?label WHERE { ?s skos:prefLabel ?label } ORDER BY ?s ?label", JSON),
    ("SELECT ?s ?label WHERE { ?s skos:prefLabel ?label } ORDER BY ?s ?label", "text/csv"),
    ("ASK { cc:diltiazem a cco:Treatment }", JSON),
]
"""GET queries nginx caches before the replicas go down; the first two differ by Accept only (``Vary: Accept``)."""


@dataclass
class Cluster:
    url: str
    replicas: list[Server]
    nginx: Server
    prefix: Path
    supervisor: Supervisor


@dataclass(frozen=True)
class Outcome:
    started: float
    ended: float
    status: int | None
    error: str = ""

    @property
    def failed(self) -> bool:
        return self.status != 200


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    program = nginx_program()
    assert program is not None
    folder = tmp_path_factory.mktemp("cluster")
    with Supervisor(folder) as supervisor:
        spec = ours_spec(SAMPLE_TTL, workers=1)
        spec = dataclasses.replace(spec, env={**spec.env, **REPLICA_SETTINGS})
        replicas = [supervisor.start(spec) for _ in range(2)]
        for replica in replicas:
            wait_for(replica, "/health", interval=0.1)
        prefix = folder / "nginx"
        nginx = supervisor.start(nginx_spec(program, prefix, [replica.port for replica in replicas]))
        wait_for(nginx, "/health", interval=0.1)
        yield Cluster(f"http://127.0.0.1:{nginx.port}", replicas, nginx, prefix, supervisor)


def get(session: requests.Session, url: str, query: str, accept: str, **headers: str) -> requests.Response:
    return session.get(f"{url}/sparql", params={"query": query}, headers={"Accept": accept, **headers}, timeout=30)


def test_answers_are_cached_and_revalidated_with_the_etag(cluster: Cluster) -> None:
    with requests.Session() as session:
        query, accept = CACHED[0]
        first = get(session, cluster.url, query, accept)
        assert first.status_code == 200, first.text
        assert first.headers[CACHE_STATUS] == "MISS"
        assert first.headers["Vary"] == "Accept"
        assert get(session, cluster.url, query, accept).headers[CACHE_STATUS] == "HIT"
        time.sleep(STALE_AFTER_S)  # nginx asks a replica with If-None-Match
        again = get(session, cluster.url, query, accept)
        assert again.headers[CACHE_STATUS] == "REVALIDATED"
        assert again.content == first.content
        assert again.headers["ETag"] == first.headers["ETag"]
        client_revalidates = get(session, cluster.url, query, accept, **{"If-None-Match": first.headers["ETag"]})
        assert client_revalidates.status_code == 304
        other_format = get(session, cluster.url, *CACHED[1])
        assert other_format.status_code == 200
        assert other_format.headers["Content-Type"].startswith("text/csv")


def _load(url: str, stop: threading.Event, outcomes: list[Outcome], counter: itertools.count[int]) -> None:
    """Unique GET queries (nginx cannot answer them from its cache) and POSTed ones, until ``stop``."""
    with requests.Session() as session:
        while not stop.is_set():
            n = next(counter)
            query = f"SELECT ?s ?p ?o WHERE {{ ?s ?p ?o }} LIMIT {1000 + n}"
            started = time.monotonic()
            try:
                if n % 2:
                    answer = get(session, url, query, JSON)
                else:
                    answer = session.post(f"{url}/sparql", data={"query": query}, headers={"Accept": JSON}, timeout=30)
                outcomes.append(Outcome(started, time.monotonic(), answer.status_code, answer.text[:200]))
            except requests.RequestException as exc:
                outcomes.append(Outcome(started, time.monotonic(), None, str(exc)))


def test_runaway_queries_take_no_replica_out(cluster: Cluster) -> None:
    """Three runaway queries, each stopped by its replica's time limit (our 503), while six clients send cheap
    unique queries: no other client's request fails, during the runaways or for ``fail_timeout`` after them.

    Before, nginx counted our 503 as the replica's failure (``http_503`` in ``proxy_next_upstream``,
    ``max_fails=1``): each runaway took a healthy replica out for 5 s and was run again on the other, and the
    other clients got nginx's 503 "No replica ... answered". Now a query's own 503 is passed to its client as it
    is, once (not retried), and only connection errors and timeouts count against a replica. nginx's open-source
    build has no active health check: ``/health`` is probed here through nginx and on each replica instead.
    """
    log = cluster.prefix / "access.log"
    logged_before = len(log.read_text().splitlines())
    outcomes: list[Outcome] = []
    stop = threading.Event()
    counter = itertools.count()
    clients = [threading.Thread(target=_load, args=(cluster.url, stop, outcomes, counter)) for _ in range(CLIENTS)]
    for client in clients:
        client.start()
    time.sleep(0.5)
    runaway_answers: list[requests.Response] = []

    def run_away(n: int) -> None:
        with requests.Session() as session:
            runaway_answers.append(get(session, cluster.url, f"{RUNAWAY} LIMIT {n + 1}", JSON))

    runaways = [threading.Thread(target=run_away, args=(n,)) for n in range(RUNAWAYS)]
    for runaway in runaways:
        runaway.start()
    probes: list[tuple[str, int]] = []
    with requests.Session() as session:
        while any(runaway.is_alive() for runaway in runaways):
            for url in (cluster.url, *(f"http://127.0.0.1:{replica.port}" for replica in cluster.replicas)):
                probes.append((url, session.get(f"{url}/health", timeout=30).status_code))
            time.sleep(0.2)
    for runaway in runaways:
        runaway.join(timeout=60)
    time.sleep(FAIL_TIMEOUT_S + 0.5)  # a replica taken out by a runaway would still be out until now
    stop.set()
    for client in clients:
        client.join(timeout=60)
    failed = [o for o in outcomes if o.failed]
    share = len(failed) / max(1, len(outcomes))
    print(f"\n{len(outcomes)} requests of other clients, {len(failed)} failed ({share:.0%}); {len(probes)} probes")
    assert failed == [], f"{len(failed)} of {len(outcomes)} requests of other clients failed: {failed[:3]}"
    assert len(outcomes) > 50, "too little load"
    assert [answer.status_code for answer in runaway_answers] == [503] * RUNAWAYS
    assert not [answer.text for answer in runaway_answers if "No replica" in answer.text], "nginx's 503, not ours"
    assert {status for _, status in probes} == {200}, probes
    upstream_statuses = [
        found.group(1)
        for line in log.read_text().splitlines()[logged_before:]
        if (found := _UPSTREAM_STATUS.search(line))
    ]
    assert upstream_statuses.count("503") == RUNAWAYS, "each runaway answered by one replica, not retried"
    assert [status for status in upstream_statuses if "," in status] == [], "a request was retried"


def test_killing_a_replica_mid_load_fails_at_most_the_requests_in_flight(cluster: Cluster) -> None:
    """No request sent after the kill fails, and at most one per client thread was in flight at the kill.

    An error counts when the client gets no 200 (any status, or no answer). A request was in flight at the kill
    when it started before it and ended after it; each thread has at most one such request. nginx retries those
    whose answer had not begun on the other replica (``proxy_next_upstream error``), so usually none fails.
    """
    with requests.Session() as session:  # the cached answers of the next test, while both replicas are up
        for query, accept in CACHED:
            assert get(session, cluster.url, query, accept).status_code == 200
    outcomes: list[Outcome] = []
    stop = threading.Event()
    counter = itertools.count()
    threads = [threading.Thread(target=_load, args=(cluster.url, stop, outcomes, counter)) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(LOAD_BEFORE_KILL_S)
    killed_at = time.monotonic()
    kill_group(cluster.replicas[0])
    time.sleep(LOAD_AFTER_KILL_S)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    failed = [o for o in outcomes if o.failed]
    in_flight = [o for o in failed if o.started <= killed_at <= o.ended]
    after = [o for o in outcomes if o.started > killed_at]
    assert [o for o in failed if o not in in_flight] == [], "failures of requests not in flight at the kill"
    assert len(in_flight) <= CLIENTS
    assert len([o for o in outcomes if o.started < killed_at and not o.failed]) > 20, "too little load before"
    assert len([o for o in after if not o.failed]) > 20, "the surviving replica answered too little"
    upstreams = (cluster.prefix / "access.log").read_text()
    for replica in cluster.replicas:
        assert f"127.0.0.1:{replica.port}" in upstreams, f"replica {replica.port} never answered through nginx"
    dead = f'upstream: "http://127.0.0.1:{cluster.replicas[0].port}/'
    assert dead in (cluster.prefix / "error.log").read_text(), "nginx never met the killed replica"
    print(
        f"\n{len(outcomes)} requests through nginx, {len(after)} after the SIGKILL, "
        f"{len(failed)} failed ({len(in_flight)} were in flight at the kill)"
    )


def test_cached_answers_are_served_while_every_replica_is_down(cluster: Cluster) -> None:
    with requests.Session() as session:
        before = [get(session, cluster.url, query, accept) for query, accept in CACHED]
        for replica in cluster.replicas:
            cluster.supervisor.stop(replica)
        time.sleep(STALE_AFTER_S)  # nginx must ask a replica first, and none answers
        for (query, accept), cached in zip(CACHED, before, strict=True):
            answer = get(session, cluster.url, query, accept)
            assert answer.status_code == 200, answer.text
            assert answer.headers[CACHE_STATUS] == "STALE"
            assert answer.content == cached.content
            assert answer.headers["Content-Type"] == cached.headers["Content-Type"]
        never_cached = get(session, cluster.url, "ASK { ?s ?p ?o }", JSON)
        assert never_cached.status_code == 503
        assert "No replica of the calcinosis-kg server answered" in never_cached.text
    statuses = cache_statuses(cluster.prefix)
    assert statuses["STALE"] >= len(CACHED)
