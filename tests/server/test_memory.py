"""What a production server's process tree holds (issue 28: the release server under 120 MB of PSS): how many query
workers each granian worker starts, what each process keeps in memory of the result cache beside the shared one,
the modules a server keeps out and its allocator's setting. On real servers on loopback; where an answer came from
is read from the ``X-KG-Answer`` header, not from timing."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
import requests

from calcinosis_kg.server import GRANIAN_ALLOCATOR, UNSERVED_MODULES
from calcinosis_kg.server.engines.contract import Answer, Job
from calcinosis_kg.server.http.replay import ANSWER_HEADER
from calcinosis_kg.server.http.serve import PRODUCTION_QUERY_WORKERS, production_query_workers
from calcinosis_kg.server.workers.cache import MEMORY_SHARE, ResultCache
from calcinosis_kg.server.workers.fairness import RESERVE_WORKERS
from calcinosis_kg.server.workers.shared_cache import FILE_NAME, SharedAnswers
from tests.support import RUNAWAY, SERVER_SETTINGS
from tests.support.clients import session_from
from tests.support.live_server import PRODUCTION, SAMPLE_TTL, LiveServer, live_server
from tests.support.store_server import engine_under_test

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(engine_under_test() == "sparql", reason="the embedded engine's query workers and cache"),
]

DEFAULTS = {name: value for name, value in SERVER_SETTINGS.items() if name != "KG_QUERY_WORKERS"}
"""The sample server's settings with the number of query workers left to its default."""
JSON = "application/sparql-results+json"


def test_query_workers_by_default_share_the_cores_among_the_granian_workers() -> None:
    assert production_query_workers(2, 2) == 1  # make bench's server on this machine: 2 x (1 + the reserve)
    assert production_query_workers(1, 2) == 2  # a replica --workers 1, as the scale section and nginx run them
    assert production_query_workers(4, 2) == 1  # never none
    assert production_query_workers(1, 16) == PRODUCTION_QUERY_WORKERS  # never more than before
    assert production_query_workers(0, 2) == 2  # no count: as one
    # a store read from disk: three per core, shared among the granian workers, at most three times as many
    assert production_query_workers(1, 2, on_disk=True) == 3 * 2
    assert production_query_workers(2, 2, on_disk=True) == 3
    assert production_query_workers(8, 2, on_disk=True) == 1
    assert production_query_workers(1, 16, on_disk=True) == 3 * PRODUCTION_QUERY_WORKERS


def test_a_production_server_starts_one_query_worker_per_core_and_the_reserve_when_first_needed(
    tmp_path: Path,
) -> None:
    """At start each granian worker forks its query workers but the reserve: a load from one client never takes
    it, and forked at once it held 3.5 MB of its own for nothing (2 of the 7 processes after make bench's HTTP
    workloads)."""
    expected = production_query_workers(2, os.cpu_count() or 1)
    with live_server(tmp_path, [SAMPLE_TTL], DEFAULTS, "--production", "--workers", "2") as server:
        assert _query_workers(_granian_workers(server, 2), expected) == [expected, expected]


@pytest.mark.parametrize("setting", ["never", "auto"])
def test_a_store_read_from_disk_gets_three_query_workers_per_core(tmp_path: Path, setting: str) -> None:
    """The count is decided once the bundle is open: ``never`` reads its store on disk, ``auto`` copies a small
    bundle's quads into memory; an explicit ``KG_QUERY_WORKERS`` is kept either way (the reserve is forked when
    first needed)."""
    cores = os.cpu_count() or 1
    expected = production_query_workers(1, cores, on_disk=setting == "never")
    settings = {**DEFAULTS, "KG_STORE_IN_MEMORY": setting}
    with live_server(tmp_path, [SAMPLE_TTL], settings, *PRODUCTION) as server:
        assert _query_workers(_granian_workers(server, 1), expected) == [expected]
    explicit = tmp_path / "explicit"
    explicit.mkdir()
    with live_server(explicit, [SAMPLE_TTL], {**settings, "KG_QUERY_WORKERS": "1"}, *PRODUCTION) as server:
        assert _query_workers(_granian_workers(server, 1), 1) == [1]


def _query_workers(workers: list[psutil.Process], expected: int) -> list[int]:
    """How many query workers each granian worker of ``workers`` started (waiting for ``expected`` each)."""
    deadline = time.monotonic() + 20  # each granian worker forks its query workers as it loads the app
    while any(len(worker.children()) < expected for worker in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # and no more after them
    return [len(worker.children()) for worker in workers]


def test_the_reserve_is_forked_for_another_client_while_every_query_worker_is_busy(tmp_path: Path) -> None:
    """One query worker and its reserve (one granian worker): one client's runaway holds the worker, another
    client's query is answered at once by the reserve, forked for it."""
    settings = {**DEFAULTS, "KG_QUERY_WORKERS": "1"}
    with live_server(tmp_path, [SAMPLE_TTL], settings, *PRODUCTION) as server:
        (worker,) = _granian_workers(server, 1)
        assert len(worker.children()) == 1
        with ThreadPoolExecutor(max_workers=1) as pool:
            runaway = pool.submit(_status_from, "127.0.0.2", server, RUNAWAY)
            time.sleep(0.5)  # the runaway holds the query worker
            started = time.monotonic()
            assert _status_from("127.0.0.3", server, "ASK { ?s ?p ?o }") == 200
            assert time.monotonic() - started < 1.5  # not after the runaway's 2 s limit
            assert len(worker.children()) == 1 + RESERVE_WORKERS
            assert runaway.result(timeout=30) == 503


def _status_from(address: str, server: LiveServer, query: str) -> int:
    with session_from(address) as session:
        return session.get(server.sparql, params={"query": query}, headers={"Accept": JSON}, timeout=30).status_code


def test_each_process_keeps_a_share_of_the_cache_in_memory_beside_the_shared_one(tmp_path: Path) -> None:
    """16 entries: the shared file holds them all, each process's memory (and its replay) the 2 most recent, so
    an answer pushed out of memory by three others is read back from the shared file, not evaluated again."""
    settings = {**DEFAULTS, "KG_CACHE_ENTRIES": "16"}
    assert 16 // MEMORY_SHARE == 2
    with live_server(tmp_path, [SAMPLE_TTL], settings, *PRODUCTION) as server:
        assert _origins_of_the_first_again(server) == ["query"] * 4 + ["shared"]
    alone = {**settings, "KG_SHARED_CACHE": "off"}
    with live_server(tmp_path, [SAMPLE_TTL], alone, *PRODUCTION) as server:
        assert _origins_of_the_first_again(server) == ["query"] * 4 + ["memory"]  # all 16 in memory


def test_an_answer_too_large_for_a_process_memory_is_still_shared(tmp_path: Path) -> None:
    """Each level takes answers up to a quarter of its own budget: 1,500 bytes are over a quarter of a process's
    2,000 and under a quarter of the shared file's 16,000."""
    path = tmp_path / FILE_NAME
    one = ResultCache(max_entries=16, max_bytes=16_000, shared=SharedAnswers(path, max_entries=16, max_bytes=16_000))
    assert (one.max_entries, one.max_bytes) == (2, 2_000)
    job = Job(query="SELECT * WHERE { ?s ?p ?o }", base="http://localhost/sparql", accept=JSON)
    answer = Answer(b"x" * 1_500, JSON)
    assert one.store(job, answer)
    assert one.shared is not None
    one.shared.flush()
    assert len(one) == 0  # not in this process's memory
    other = ResultCache(max_entries=16, max_bytes=16_000, shared=SharedAnswers(path, max_entries=16, max_bytes=16_000))
    found = other.lookup(job)  # another process of the same server
    assert found is not None
    assert (found.body, found.origin) == (answer.body, "shared")


def test_a_server_keeps_the_unserved_modules_out() -> None:
    """``calcinosis-kg serve`` makes their imports fail before rdflib loads (which imports html5rdf when it can);
    the command's parser alone loads rdflib, so a refused argument shows it without starting a server."""
    probe = (
        "import atexit, sys\n"
        f"atexit.register(lambda: print(sorted(n for n in {UNSERVED_MODULES!r} if sys.modules.get(n) is not None)"
        ", 'rdflib' in sys.modules))\n"
        "from calcinosis_kg.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    served = subprocess.run(
        [sys.executable, "-c", probe, "serve", "--port", "not-a-port"], capture_output=True, text=True, timeout=60
    )
    assert served.stdout.strip() == "[] True", served.stderr[-2000:]
    other = subprocess.run(
        [sys.executable, "-c", probe, "query", "--no-such-option"], capture_output=True, text=True, timeout=60
    )
    installed = sorted(name for name in UNSERVED_MODULES if importlib.util.find_spec(name) is not None)
    assert other.stdout.strip() == f"{installed} True", other.stderr[-2000:]  # other commands: as installed


def test_serve_gives_granians_allocator_its_setting_unless_the_operator_did() -> None:
    """jemalloc reads its setting from the process's environment as it starts, which is when granian is imported:
    ``calcinosis-kg serve`` sets it first (the command's parser refusing an argument shows it, before any server)."""
    name, value = GRANIAN_ALLOCATOR
    probe = (
        "import atexit, os, sys\n"
        f"atexit.register(lambda: print(os.environ.get({name!r}), 'granian' in sys.modules))\n"
        "from calcinosis_kg.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    argv = [sys.executable, "-c", probe, "serve", "--port", "not-a-port"]
    environment = {key: item for key, item in os.environ.items() if key != name}
    served = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=environment)
    assert served.stdout.strip() == f"{value} False", served.stderr[-2000:]
    own = subprocess.run(
        argv, capture_output=True, text=True, timeout=60, env={**environment, name: "dirty_decay_ms:5000"}
    )
    assert own.stdout.strip() == "dirty_decay_ms:5000 False", own.stderr[-2000:]


def _granian_workers(server: LiveServer, count: int) -> list[psutil.Process]:
    deadline = time.monotonic() + 20
    workers = psutil.Process(server.process.pid).children()
    while len(workers) < count and time.monotonic() < deadline:
        time.sleep(0.1)
        workers = psutil.Process(server.process.pid).children()
    assert len(workers) == count
    return workers


def _origins_of_the_first_again(server: LiveServer) -> list[str]:
    """Where the answers to four new queries came from, then the first one's again."""
    queries = [f"SELECT ?s WHERE {{ ?s ?p ?o }} LIMIT {n}" for n in range(1, 5)]
    origins = [_ask(server, query) for query in queries]
    time.sleep(0.5)  # the shared file is written by a thread of the process, in batches
    return [*origins, _ask(server, queries[0])]


def _ask(server: LiveServer, query: str) -> str:
    response = requests.get(server.sparql, params={"query": query}, headers={"Accept": JSON}, timeout=30)
    assert response.status_code == 200, response.text
    return response.headers[ANSWER_HEADER]


def test_answers_of_16_kib_and_more_are_given_back_when_dropped() -> None:
    """A server's threads keep answers of 12-17 KB a while (the result cache's, shared answers read back) between
    smaller blocks that stay: with glibc's heaps holding them, each eviction left a hole that the system never got
    back (4-5 MB of each granian worker after make bench's deref workload). In a thread, as in the server, 2,000
    blocks of 20 KB between blocks of 600 bytes that stay: dropping them gives back most of their 40 MB."""
    probe = (
        "import threading, psutil\n"
        "from calcinosis_kg.server.http.serve import return_large_blocks\n"
        "return_large_blocks()\n"
        "def drop():\n"
        "    blocks, staying = [], []\n"
        "    for n in range(2000):\n"
        "        blocks.append(bytes([n % 256]) * 20_000)\n"
        "        staying.append(bytearray(600))\n"
        "    held = psutil.Process().memory_info().rss\n"
        "    del blocks\n"
        "    print((held - psutil.Process().memory_info().rss) / 2**20)\n"
        "threading.Thread(target=drop).start()\n"
    )
    given_back = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert given_back.returncode == 0, given_back.stderr[-2000:]
    assert float(given_back.stdout) > 30, f"{given_back.stdout.strip()} MB given back of 40"
