"""The result cache: repeated requests are answered in the server process, with a stable ETag, within bounds.

Runs against both query engines (see ``BOTH_BACKENDS`` in tests/conftest.py).
"""

from __future__ import annotations

import re
import threading
import time
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
import requests
from flask import Flask

from calcinosis_kg.server.app import query_pool
from calcinosis_kg.server.engines.contract import Answer, Job
from calcinosis_kg.server.errors import FormatNotAcceptable
from calcinosis_kg.server.http.formats import FORMATS
from calcinosis_kg.server.http.replay import ANSWER_HEADER, CACHED_ANSWER, ResponseReplay, install_replay
from calcinosis_kg.server.workers.cache import ResultCache, SegmentedLRU, is_volatile, request_key
from tests.support import RUNAWAY, AppFactory
from tests.support.live_server import LiveServer

pytestmark = [pytest.mark.engine, pytest.mark.live]

SELECT = "SELECT ?s WHERE { ?s a cco:Subtype } ORDER BY ?s"
JSON = next(fmt for fmt in FORMATS if fmt.key == "json")
CSV = next(fmt for fmt in FORMATS if fmt.key == "csv")
TURTLE = next(fmt for fmt in FORMATS if fmt.key == "turtle")


def job(query: str = SELECT, **fields: object) -> Job:
    return Job(query=query, base="http://localhost/sparql", **fields)  # type: ignore[arg-type]


def answer(size: int, fmt: object = JSON, origin: str = "query") -> Answer:
    return Answer(b"x" * size, fmt.content_type, origin=origin)  # type: ignore[attr-defined]


# --- the cache itself -----------------------------------------------------------------------------------


def test_an_answer_is_found_again_in_its_format_only() -> None:
    cache = ResultCache(max_entries=10, max_bytes=10_000)
    cache.store(job(), answer(10))
    assert cache.lookup(job()) == answer(10, origin="memory")
    assert cache.lookup(job(accept="application/sparql-results+json")) == answer(10, origin="memory")
    assert cache.lookup(job(accept="text/csv")) is None  # another format: evaluated, then stored beside it
    cache.store(job(accept="text/csv"), answer(5, CSV))
    assert cache.lookup(job(formats=("csv",))) == answer(5, CSV, origin="memory")
    assert len(cache) == 1
    assert (cache.hits, cache.misses) == (3, 1)


def test_the_key_is_the_whole_request() -> None:
    cache = ResultCache(max_entries=10, max_bytes=10_000)
    cache.store(job(), answer(10))
    for other in (
        job(SELECT + " "),
        Job(query=SELECT, base="http://elsewhere/sparql"),
        job(bindings=(("s", "x"),)),
        job(dataset=object()),
    ):
        assert request_key(other) != request_key(job())
        assert cache.lookup(other) is None


def test_an_unacceptable_format_of_a_known_query_is_refused_at_once() -> None:
    cache = ResultCache(max_entries=10, max_bytes=10_000)
    cache.store(job(), answer(10))
    with pytest.raises(FormatNotAcceptable):
        cache.lookup(job(accept="text/turtle"))


def test_entries_and_bytes_are_bounded_least_recently_used_first() -> None:
    cache = ResultCache(max_entries=3, max_bytes=100_000)
    for n in range(3):
        cache.store(job(f"ASK {{ {n} }}"), answer(10))
    assert cache.lookup(job("ASK { 0 }")) is not None  # now the most recently used
    cache.store(job("ASK { 3 }"), answer(10))
    assert len(cache) == 3
    assert cache.lookup(job("ASK { 1 }")) is None
    assert cache.lookup(job("ASK { 0 }")) is not None

    small = ResultCache(max_entries=100, max_bytes=4_000)
    for n in range(10):
        small.store(job(f"ASK {{ {n} }}"), answer(900))
    assert small.size_bytes <= 4_000
    assert small.lookup(job("ASK { 9 }")) is not None
    small.store(job("ASK { big }"), answer(1_001))  # over a quarter of the budget: not kept
    assert small.lookup(job("ASK { big }")) is None


def test_a_burst_of_one_off_answers_does_not_flush_those_asked_for_again() -> None:
    cache = ResultCache(max_entries=10, max_bytes=100_000)
    hot = [job(f"ASK {{ hot {n} }}") for n in range(3)]
    for query in hot:
        cache.store(query, answer(10))
        assert cache.lookup(query) is not None  # asked for again: protected
    for n in range(100):  # a scan of unique queries, each asked for once
        cache.store(job(f"ASK {{ {n} }}"), answer(10))
    assert len(cache) == 10
    assert all(cache.lookup(query) is not None for query in hot)
    assert cache.lookup(job("ASK { 99 }")) is not None
    assert cache.lookup(job("ASK { 90 }")) is None


def test_the_protected_segment_is_bounded_and_gives_back_its_least_recently_used() -> None:
    lru: SegmentedLRU[int, str] = SegmentedLRU(max_entries=10, max_bytes=1_000)
    for n in range(10):
        lru.put(n, str(n), 10)
        assert lru.get(n) == str(n)  # all ten asked for again: at most eight stay protected
    lru.put(10, "new", 10)  # evicts from probation: 0 and 1, given back to it in that order, 0 first
    assert len(lru) == 10
    assert lru.get(0) is None
    assert [lru.get(n) for n in range(1, 11)] == [*map(str, range(1, 10)), "new"]
    for n in range(11, 20):
        lru.put(n, "x", 90)  # over the byte bound: probation goes first, then the protected entries' oldest
    assert lru.size_bytes <= 1_000
    assert lru.get(19) == "x"

    full: SegmentedLRU[int, str] = SegmentedLRU(max_entries=100, max_bytes=1_000)
    for n in range(8):
        full.put(n, str(n), 100)
        full.get(n)  # protected: 800 bytes, the segment's whole share; probation empty
    full.put(8, "new", 250)  # over the bytes: a protected entry goes, not the one just stored
    assert (full.get(8), full.get(0), full.size_bytes) == ("new", None, 950)


def test_zero_disables_the_cache() -> None:
    for entries, size in ((0, 1000), (10, 0)):
        cache = ResultCache(max_entries=entries, max_bytes=size)
        cache.store(job(), answer(1))
        assert not cache.enabled
        assert cache.lookup(job()) is None
        assert len(cache) == 0


@pytest.mark.parametrize(
    ("query", "volatile"),
    [
        ("SELECT (NOW() AS ?t) {}", True),
        ("SELECT (rand () AS ?r) {}", True),
        ("SELECT (STRUUID() AS ?u) {}", True),
        ("SELECT (BNODE() AS ?b) {}", True),
        ("SELECT ?now WHERE { ?now ?p ?o }", False),
        (SELECT, False),
    ],
)
def test_answers_of_volatile_functions_are_not_kept(query: str, volatile: bool) -> None:
    assert is_volatile(query) is volatile
    cache = ResultCache(max_entries=10, max_bytes=10_000)
    cache.store(job(query), answer(1))
    assert (cache.lookup(job(query)) is None) is volatile


# --- in the server ----------------------------------------------------------------------------------------


def test_repeated_requests_get_the_same_bytes_and_etag_and_revalidate(server: LiveServer) -> None:
    for url, params in ((server.sparql, {"query": SELECT}), (f"{server.url}/queries/subtypes", {})):
        first = requests.get(url, params=params, timeout=10)
        second = requests.get(url, params=params, timeout=10)
        assert first.status_code == second.status_code == 200
        assert first.content == second.content
        etag = first.headers["ETag"]
        assert etag == second.headers["ETag"]
        assert not etag.startswith("W/")
        again = requests.get(url, params=params, headers={"If-None-Match": etag}, timeout=10)
        assert again.status_code == 304
        assert again.content == b""


def test_cached_answers_are_served_while_every_worker_is_busy(server: LiveServer) -> None:
    cached = {"query": "ASK { cc:diltiazem ?p ?o }"}
    assert requests.get(server.sparql, params=cached, timeout=10).status_code == 200
    runaway = {"params": {"query": RUNAWAY}, "timeout": 30}
    runaways = [threading.Thread(target=requests.get, args=(server.sparql,), kwargs=runaway) for _ in range(2)]
    for runaway in runaways:
        runaway.start()
    time.sleep(0.5)
    started = time.monotonic()
    response = requests.get(server.sparql, params=cached, timeout=10)
    assert response.status_code == 200
    assert time.monotonic() - started < 0.5
    for runaway in runaways:
        runaway.join(timeout=30)


def test_refusals_are_not_cached_and_the_cache_fills_with_answers(app_factory: AppFactory) -> None:
    app = app_factory({"KG_QUERY_WORKERS": 1, "KG_MAX_ROWS": 1000})
    client = app.test_client()
    cache = query_pool(app).cache
    assert cache is not None
    for query in ("SELECT * WHERE { ?s ?p ", "SELECT * { ?a ?b ?c . ?d ?e ?f }", "ASK { FILTER(?x > ) }"):
        assert client.get("/sparql", query_string={"query": query}).status_code == 400
    assert len(cache) == 0
    for _ in range(3):
        assert client.get("/sparql", query_string={"query": SELECT}).status_code == 200
    assert len(cache) == 1
    assert cache.hits == 2


def test_the_cache_can_be_turned_off(app_factory: AppFactory) -> None:
    app = app_factory({"KG_QUERY_WORKERS": 1, "KG_CACHE_ENTRIES": 0})
    client = app.test_client()
    bodies = {client.get("/sparql", query_string={"query": SELECT}).data for _ in range(2)}
    assert len(bodies) == 1
    cache = query_pool(app).cache
    assert cache is not None
    assert not cache.enabled
    assert len(cache) == 0


def test_a_replayed_response_is_the_one_flask_gave(server: LiveServer) -> None:
    """The second request is answered before Flask (server/http/replay.py): same status, headers, body and log."""
    params = {"query": "SELECT ?s WHERE { ?s a cco:Condition } ORDER BY ?s", "format": "csv"}
    counted = _requests_counted(server, "/sparql")
    first, second = (requests.get(server.sparql, params=params, timeout=10) for _ in range(2))
    assert _requests_counted(server, "/sparql") == counted + 2
    assert first.content == second.content
    renewed = ("date", ANSWER_HEADER.lower())
    assert {k: v for k, v in first.headers.items() if k.lower() not in renewed} == {
        k: v for k, v in second.headers.items() if k.lower() not in renewed
    }
    assert (first.headers[ANSWER_HEADER], second.headers[ANSWER_HEADER]) == ("query", "memory")
    assert abs(parsedate_to_datetime(second.headers["Date"]).timestamp() - time.time()) < 5
    for header in ("ETag", "Last-Modified", "Cache-Control", "Vary", "Access-Control-Allow-Origin"):
        assert header in second.headers
    time.sleep(0.2)
    assert server.log_text().count("GET /sparql 200") >= 2


def _requests_counted(server: LiveServer, route: str) -> float:
    """The 200 responses to ``route`` counted in ``/metrics`` so far."""
    text = requests.get(f"{server.url}/metrics", timeout=10).text
    found = re.search(rf'kg_http_requests_total{{route="{re.escape(route)}",status="200"}} (\S+)', text)
    return float(found.group(1)) if found else 0.0


def test_volatile_answers_are_evaluated_each_time(server: LiveServer) -> None:
    params = {"query": "SELECT (STRUUID() AS ?id) WHERE {}", "format": "csv"}
    bodies = {requests.get(server.sparql, params=params, timeout=10).text for _ in range(3)}
    assert len(bodies) == 3


def _environ(path: str = "/sparql", method: str = "GET", **headers: str) -> dict[str, object]:
    environ: dict[str, object] = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "query=ASK%7B%7D"}
    environ.update(headers)
    return environ


def test_replay_keeps_only_cached_200_answers_and_lets_conditional_requests_through() -> None:
    calls: list[str] = []

    def app(environ: dict[str, object], start_response: Any) -> list[bytes]:
        calls.append(str(environ["PATH_INFO"]))
        status = "200 OK" if environ["PATH_INFO"] != "/sparql/missing" else "404 NOT FOUND"
        start_response(status, [("Content-Type", "text/plain")])
        environ[CACHED_ANSWER] = environ.get("HTTP_ACCEPT") != "volatile"
        return [b"body"]

    replay = ResponseReplay(app, max_entries=10, max_bytes=10_000)  # type: ignore[arg-type]

    def get(environ: dict[str, object]) -> bytes:
        return b"".join(replay(environ, lambda status, headers, exc_info=None: None))  # type: ignore[arg-type]

    for _ in range(3):
        assert get(_environ()) == b"body"
    assert (len(calls), replay.replayed) == (1, 2)
    for environ in (
        _environ(HTTP_IF_NONE_MATCH='"x"'),
        _environ(method="POST"),
        _environ(path="/id/x"),
        _environ(path="/sparql/missing"),
        _environ(HTTP_ACCEPT="volatile"),
    ):
        calls.clear()
        get(environ)
        get(environ)
        assert len(calls) == 2
    assert install_replay(Flask(__name__), max_entries=10, max_bytes=10, trust_proxy=1) is None
    assert install_replay(Flask(__name__), max_entries=0, max_bytes=10, trust_proxy=0) is None
