"""Connections, heads and bodies cannot stall the production server (granian): issue 24, items 2, 5, 7 and 9.

Each test is a hostile client on loopback, bounded in count and time, against a real granian server with one
worker process (``make serve`` has one per core): 2,000 idle connections, slow bodies, a large chunked body,
a malformed chunk, a 100 KB header. The numbers before and after the fix are in the docstrings.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests

from tests.support import SERVER_SETTINGS
from tests.support.hostile import SlowBodies, idle_connections, raise_open_files, raw_request, timed_get
from tests.support.live_server import PRODUCTION, SAMPLE_TTL, SOURCES_TRIG, LiveServer, live_server

pytestmark = [pytest.mark.live]

BODY_TIMEOUT = 2
CACHE_MIB = 8
WORKING_MB = 20
"""What a granian worker's threads may keep beyond its caches (buffers, thread heaps and stacks, pages of the
parent written to)."""
HEALTHY_SECONDS = 1.0
"""How long /health may take under attack: it answers in about 2 ms, and timed out (5 s) before the fix."""


@pytest.fixture(scope="module")
def granian(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = {**SERVER_SETTINGS, "KG_BODY_TIMEOUT": str(BODY_TIMEOUT)}
    with live_server(tmp_path_factory.mktemp("limits"), [SAMPLE_TTL, SOURCES_TRIG], settings, *PRODUCTION) as server:
        yield server


def worker_pss_mb(server: LiveServer) -> float:
    """PSS of the granian worker processes (the children of the main process that are not query workers)."""
    main = psutil.Process(server.process.pid)
    return sum(child.memory_full_info().pss for child in main.children()) / 2**20


def test_two_thousand_idle_connections_leave_health_answering(granian: LiveServer) -> None:
    """granian held 512-1,024 connections per worker until their 30 s header timeout: with 2,000 idle ones
    /health timed out for 27-30 s. Now a worker holds thousands, and /health answers in milliseconds."""
    if not raise_open_files(2_100):
        pytest.skip("the open-file limit is below 2,100")
    with idle_connections(granian.url, 2_000):
        time.sleep(1.0)  # let the server accept them
        timings = [timed_get(granian.url, "/health") for _ in range(5)]
    assert all(status == 200 for _, status in timings), timings
    assert max(seconds for seconds, _ in timings) < HEALTHY_SECONDS, timings


def test_slow_bodies_hold_few_threads_and_get_408(granian: LiveServer) -> None:
    """40 clients sending a body one byte a second took every thread of the worker (22): /health timed out
    and none was answered in 30 s. Now at most 32 bodies are received at once (the others get 503 at once),
    /health answers meanwhile, and the slow ones get 408 within twice KG_BODY_TIMEOUT."""
    with SlowBodies(granian.url, clients=40, seconds=4 * BODY_TIMEOUT + 4) as slow:
        time.sleep(1.5)
        timings = [timed_get(granian.url, "/health") for _ in range(3)]
    assert all(status == 200 for _, status in timings), timings
    assert max(seconds for seconds, _ in timings) < HEALTHY_SECONDS, timings
    statuses = sorted(line.split(b" ")[1] if line else b"none" for line, _ in slow.answers)
    assert set(statuses) <= {b"408", b"503"}, slow.answers
    assert b"408" in statuses
    assert max(seconds for line, seconds in slow.answers if b" 408 " in line) < 2 * BODY_TIMEOUT + 2


@pytest.mark.parametrize(
    ("path", "named"), [("/sparql", b"KG_MAX_BODY"), ("/fhir/ValueSet/$expand", b'"code": "too-long"')]
)
def test_a_large_chunked_body_is_refused_while_reading(granian: LiveServer, path: str, named: bytes) -> None:
    """A 400 MB chunked FHIR body was read whole (PSS +1.2 GB), where a Content-Length got 413 in 2 ms: the
    limit (KG_MAX_BODY, 64 KiB here; FHIR's own 5 MiB, refused as an OperationOutcome) now holds while reading,
    on every route, and memory stays flat."""
    before = worker_pss_mb(granian)
    chunk = b"%x\r\n" % (1 << 20) + b" " * (1 << 20) + b"\r\n"
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/fhir+json\r\nTransfer-Encoding: chunked"
    status, body = raw_request(granian.url, head.encode(), chunk * 16 + b"0\r\n\r\n")
    assert status == 413
    assert named in body
    assert worker_pss_mb(granian) - before < 8


@pytest.mark.parametrize("path", ["/sparql", "/fhir/ValueSet/$expand"])
def test_a_malformed_first_chunk_is_a_400_naming_it(granian: LiveServer, path: str) -> None:
    """A malformed chunk read as an empty body ("The request has no 'query' parameter")."""
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\nTransfer-Encoding: chunked"
    status, body = raw_request(granian.url, head.encode(), b"zz\r\nASK {}\r\n0\r\n\r\n")
    assert status == 400
    assert b"chunk" in body


def test_a_body_shorter_than_its_content_length_is_a_400(granian: LiveServer) -> None:
    head = b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\nContent-Length: 100"
    status, body = raw_request(granian.url, head, b"ASK {}", half_close=True)
    assert status == 400
    assert b"Content-Length" in body


def test_headers_over_64_kib_get_431(granian: LiveServer) -> None:
    """A 100 KB header was accepted (the docs say 431 above 64 KiB)."""
    status, body = raw_request(granian.url, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000)
    assert status == 431
    assert b"64" in body or b"65536" in body
    status, _ = raw_request(granian.url, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 60_000)
    assert status == 200


def test_dumps_serve_single_byte_ranges(granian: LiveServer) -> None:
    """``Range`` on a dump was ignored (a 200 with the whole file); now 206, 416 and If-Range as HTTP says."""
    url = f"{granian.url}/dumps/calcinosis-kg.nt"
    whole = requests.get(url, timeout=10)
    assert whole.status_code == 200
    assert whole.headers["Accept-Ranges"] == "bytes"
    size = len(whole.content)
    part = requests.get(url, headers={"Range": "bytes=10-109"}, timeout=10)
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 10-109/{size}"
    assert part.content == whole.content[10:110]
    tail = requests.get(url, headers={"Range": "bytes=-20"}, timeout=10)
    assert (tail.status_code, tail.content) == (206, whole.content[-20:])
    past = requests.get(url, headers={"Range": f"bytes={size}-"}, timeout=10)
    assert past.status_code == 416
    assert past.headers["Content-Range"] == f"bytes */{size}"
    same = requests.get(url, headers={"Range": "bytes=0-9", "If-Range": whole.headers["ETag"]}, timeout=10)
    assert (same.status_code, same.content) == (206, whole.content[:10])
    changed = requests.get(url, headers={"Range": "bytes=0-9", "If-Range": '"another"'}, timeout=10)
    assert (changed.status_code, changed.content) == (200, whole.content)


def test_cached_answers_of_a_megabyte_stay_within_the_cache_bound(tmp_path: Path) -> None:
    """Cached answers of 1.4 MB grew each worker by 90-100 MB, over the documented 2 x KG_CACHE_BYTES: glibc's
    malloc kept the freed megabyte buffers in the heaps of the app threads. 8 clients asking 80 answers of
    about 1 MB twice, twice over, grew a fresh worker by 42-51 MB with an 8 MiB cache before; by less than
    2 x 8 + 20 MB now."""
    settings = {**SERVER_SETTINGS, "KG_CACHE_BYTES": str(CACHE_MIB << 20), "KG_MAX_ROWS": "3000"}
    with live_server(tmp_path, [SAMPLE_TTL, SOURCES_TRIG], settings, *PRODUCTION) as fresh:
        growth = _growth_asking_large_answers(fresh)
    assert growth < 2 * CACHE_MIB + WORKING_MB, f"the worker grew by {growth:.1f} MB"


def _growth_asking_large_answers(granian: LiveServer) -> float:
    """MB a worker grew by while 8 clients asked 80 answers of about 1 MB twice, twice over."""
    query = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f } LIMIT 3000 OFFSET %d"
    assert len(requests.get(granian.sparql, params={"query": query % 1000}, timeout=30).content) > 500_000
    before = worker_pss_mb(granian)

    def client(first: int) -> None:
        with requests.Session() as session:
            for offset in range(first, 80, 8):
                for _ in range(2):
                    session.get(granian.sparql, params={"query": query % offset}, timeout=30).raise_for_status()

    for _ in range(2):
        clients = [threading.Thread(target=client, args=(first,)) for first in range(8)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(timeout=60)
    return worker_pss_mb(granian) - before
