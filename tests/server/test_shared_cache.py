"""Answers shared by a server's granian workers (server/workers/shared_cache.py), on a real server on loopback.

Where an answer came from is read from the ``X-KG-Answer`` header (``query``: a query worker evaluated it now;
``memory``: this worker's own cache; ``shared``: the shared cache, written by another process), not from timing.
Each request goes on a new connection, so that granian hands it to either of its two workers.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
import requests

from calcinosis_kg.server.http.formats import Family
from calcinosis_kg.server.http.replay import ANSWER_HEADER
from calcinosis_kg.server.workers.shared_cache import FILE_NAME, SharedAnswers, hashed
from tests.support import RUNAWAY, SERVER_SETTINGS
from tests.support.live_server import SAMPLE_TTL, LiveServer, free_port, running, server_command, server_env
from tests.support.store_server import engine_under_test

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(engine_under_test() == "sparql", reason="the embedded engine's result cache"),
]

TWO_WORKERS = ("--production", "--workers", "2")
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
BURST, ROUNDS = 8, 10
"""Concurrent requests, and bursts of them, tried before concluding that the other worker never answered."""


@contextlib.contextmanager
def two_workers(folder: Path, data: Path, cache: Path, port: int | None = None) -> Iterator[LiveServer]:
    """A server of two granian workers on ``data`` (on ``port``, or a free one), sharing answers in ``cache``."""
    port = port or free_port()
    env = server_env([data], {**SERVER_SETTINGS, "KG_SHARED_CACHE": str(cache)})
    with running(server_command(port, *TWO_WORKERS), port, folder / f"server-{port}.log", env=env) as server:
        yield server


def ask(server: LiveServer, query: str) -> requests.Response:
    """``query`` on a new connection (``requests.get`` keeps none), JSON results."""
    response = requests.get(server.sparql, params={"query": query, "format": "json"}, timeout=30)
    assert response.status_code == 200, response.text
    return response


def granian_workers(server: LiveServer) -> list[psutil.Process]:
    return psutil.Process(server.process.pid).children()


def origins_until_shared(server: LiveServer, query: str) -> list[str]:
    """Where the answers to ``query`` came from, asked in bursts of concurrent requests (an idle granian worker
    takes every connection it can: one at a time, all would go to the first) until one came from the shared
    cache."""
    origins: list[str] = []
    with ThreadPoolExecutor(BURST) as executor:
        for _ in range(ROUNDS):
            origins += executor.map(lambda _: ask(server, query).headers[ANSWER_HEADER], range(BURST))
            if "shared" in origins:
                break
    return origins


def test_an_answer_computed_in_one_worker_is_a_hit_in_the_other(tmp_path: Path) -> None:
    with two_workers(tmp_path, SAMPLE_TTL, tmp_path / "answers") as server:
        assert len(granian_workers(server)) == 2
        first = ask(server, COUNT)
        assert first.headers[ANSWER_HEADER] == "query"
        origins = origins_until_shared(server, COUNT)
        # the worker that evaluated it answers from its memory; the other from the shared cache, then its memory
        assert "shared" in origins, f"no answer from the other worker's shared cache in {origins}"
        assert set(origins) <= {"memory", "shared"}, origins
        assert ask(server, COUNT).json() == first.json()
        metrics = requests.get(f"{server.url}/metrics", timeout=10).text
        assert 'kg_result_cache_total{result="shared_hit"}' in metrics


def test_a_shared_answer_is_served_while_every_query_worker_is_busy(tmp_path: Path) -> None:
    """Both workers' query workers run runaway queries: an answer cached by either is served by both."""
    with two_workers(tmp_path, SAMPLE_TTL, tmp_path / "answers") as server:
        ask(server, COUNT)
        runaways = [
            threading.Thread(
                target=requests.get,
                args=(server.sparql,),
                kwargs={"params": {"query": f"{RUNAWAY} #{n}"}, "timeout": 30},
            )
            for n in range(6)
        ]
        for thread in runaways:
            thread.start()
        time.sleep(0.5)
        origins = origins_until_shared(server, COUNT)
        assert "shared" in origins, origins
        assert set(origins) <= {"memory", "shared"}, origins
        for thread in runaways:
            thread.join(timeout=30)


def test_the_shared_answers_survive_killed_workers(tmp_path: Path) -> None:
    """Workers killed (SIGKILL) in the middle of writing answers leave a sound cache, read by their successors."""
    cache = tmp_path / "answers"
    with two_workers(tmp_path, SAMPLE_TTL, cache) as server:
        assert ask(server, COUNT).headers[ANSWER_HEADER] == "query"
        writers = [
            threading.Thread(target=_ask_quietly, args=(server, f"SELECT * WHERE {{ ?s ?p ?o }} LIMIT {n}"))
            for n in range(1, 41)
        ]
        for thread in writers:
            thread.start()
        time.sleep(0.2)
        killed = granian_workers(server)
        for worker in killed:
            worker.kill()
        for thread in writers:
            thread.join(timeout=30)
        _wait_for_successors(server, {worker.pid for worker in killed})
        # new processes: nothing in their memory, the answer from the cache the killed ones wrote
        assert ask(server, COUNT).headers[ANSWER_HEADER] == "shared"
        with contextlib.closing(sqlite3.connect(cache / FILE_NAME)) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            counted = connection.execute("SELECT count(*), total(size) FROM answers").fetchone()
            assert connection.execute("SELECT entries, bytes FROM totals").fetchone() == (counted[0], int(counted[1]))


def test_answers_of_other_data_are_not_served(tmp_path: Path) -> None:
    cache = tmp_path / "answers"
    data = tmp_path / "data.ttl"
    shutil.copyfile(SAMPLE_TTL, data)
    port = free_port()  # the same URL, so the same base IRI: the same request but for the data
    with two_workers(tmp_path, data, cache, port) as server:
        before = ask(server, COUNT)
        assert before.headers[ANSWER_HEADER] == "query"
    with two_workers(tmp_path, data, cache, port) as server:
        assert ask(server, COUNT).headers[ANSWER_HEADER] == "shared"  # the same data: the answers of the last run
    with data.open("a", encoding="utf-8") as file:
        file.write("\n<http://example.org/added> <http://example.org/p> <http://example.org/o> .\n")
    with two_workers(tmp_path, data, cache, port) as server:
        after = ask(server, COUNT)
        assert after.headers[ANSWER_HEADER] == "query"  # computed again: the cache holds the old data's answer
        assert _count(after) == _count(before) + 1
        assert set(origins_until_shared(server, COUNT)) <= {"memory", "shared"}


def _count(response: requests.Response) -> int:
    return int(response.json()["results"]["bindings"][0]["n"]["value"])


def _ask_quietly(server: LiveServer, query: str) -> None:
    with contextlib.suppress(requests.RequestException):
        requests.get(server.sparql, params={"query": query}, timeout=30)


def _wait_for_successors(server: LiveServer, killed: set[int]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        successors = [worker for worker in granian_workers(server) if worker.pid not in killed]
        if len(successors) == 2:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{server.url}/health", timeout=2).status_code == 200:
                    return
        time.sleep(0.1)
    raise AssertionError(f"granian did not replace its killed workers:\n{server.log_text()[-2000:]}")


# --- the file itself ----------------------------------------------------------------------------------------


def test_the_shared_answers_are_bounded_the_oldest_written_going_first(tmp_path: Path) -> None:
    answers = SharedAnswers(tmp_path / FILE_NAME, max_entries=3, max_bytes=100_000)
    for n in range(5):
        assert answers.put(hashed(("v", n)), "json", Family.RESULTS, b"x" * 100, "application/json")
    answers.flush()
    assert len(answers) == 3
    assert [answers.get(hashed(("v", n)), "json") is not None for n in range(5)] == [False, False, True, True, True]
    assert answers.family(hashed(("v", 4))) is Family.RESULTS
    assert not answers.put(hashed(("v", 9)), "json", Family.RESULTS, b"x" * 30_000, "application/json")  # > 1/4


def test_an_answer_another_process_writes_after_a_miss_is_found_at_once(tmp_path: Path) -> None:
    """A process looks up only the keys it knows the file holds, and reads the new ones whenever the file changed:
    an answer written after its miss is found by its next lookup, also after the file was emptied."""
    path = tmp_path / FILE_NAME
    reader, writer = (SharedAnswers(path, max_entries=10, max_bytes=100_000) for _ in range(2))
    for key in (b"first", b"second"):
        assert reader.family(key) is None
        _write_now(writer, key)
        assert reader.family(key) is Family.RESULTS
        assert reader.get(key, "json") == (b"body", "application/json")
        writer.clear()
        assert reader.family(key) is None


def test_a_miss_on_an_unchanged_file_reads_no_table(tmp_path: Path) -> None:
    """Under unique queries almost every lookup misses: once a process has read the keys, a miss while no other
    process has written costs ``PRAGMA data_version`` alone (each miss used to read the table)."""
    path = tmp_path / FILE_NAME
    reader, writer = (SharedAnswers(path, max_entries=10, max_bytes=100_000) for _ in range(2))
    _write_now(writer, b"there")
    assert reader.family(b"first miss") is None  # reads the keys
    statements: list[str] = []
    with reader._connection() as connection:  # the connection the next lookups take (the one released last)
        connection.set_trace_callback(statements.append)
    assert [reader.family(key) for key in (b"one", b"two", b"there")] == [None, None, Family.RESULTS]
    assert statements[:2] == ["PRAGMA data_version"] * 2  # the misses
    assert len(statements) == 3  # and the hit:
    assert statements[2].startswith("SELECT family FROM answers")


def _write_now(answers: SharedAnswers, key: bytes) -> None:
    """``key``'s answer written (the writer thread may be writing what it took; wait for it)."""
    answers.put(key, "json", Family.RESULTS, b"body", "application/json")
    answers.flush()
    _until(lambda: answers.get(key, "json") is not None)


def _until(done: Callable[[], bool], seconds: float = 10) -> None:
    """Wait (at most ``seconds``) for ``done()``: what a writer thread took is written a little later."""
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_locked_file_means_not_shared_never_an_error(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    answers = SharedAnswers(path, max_entries=10, max_bytes=100_000)
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")  # another process holding the write lock longer than a write waits
        answers.put(b"k", "json", Family.RESULTS, b"body", "application/json")
        answers.flush()
        other.execute("ROLLBACK")
    assert answers.get(b"k", "json") is None  # not written, and nothing raised
    answers.put(b"k", "json", Family.RESULTS, b"body", "application/json")
    answers.flush()
    assert answers.get(b"k", "json") == (b"body", "application/json")  # the lock let go: written again


def test_threads_reading_one_after_another_share_a_connection(tmp_path: Path) -> None:
    """A granian worker runs requests in a dozen threads or more, each alive for the next request: with a
    connection per thread, SQLite held 2.4-4.2 MB of each worker's memory (page cache, lookaside, statements).
    Sixteen threads, all alive, read in turn: one connection (one descriptor of the file) serves them all."""
    path = tmp_path / FILE_NAME
    answers = SharedAnswers(path, max_entries=10, max_bytes=100_000)
    answers.put(b"k", "json", Family.RESULTS, b"body", "application/json")
    answers.flush()
    turns = [threading.Event() for _ in range(17)]
    done = threading.Barrier(17)
    found: list[tuple[bytes, str] | None] = []

    def read(turn: int) -> None:
        turns[turn].wait(timeout=30)
        found.append(answers.get(b"k", "json"))
        turns[turn + 1].set()
        done.wait(timeout=30)  # alive until every thread has read, as a server's threads are

    threads = [threading.Thread(target=read, args=(turn,)) for turn in range(16)]
    for thread in threads:
        thread.start()
    turns[0].set()
    assert turns[16].wait(timeout=30)
    assert found == [(b"body", "application/json")] * 16
    assert _descriptors_of(path) == 1
    done.wait(timeout=30)
    for thread in threads:
        thread.join(timeout=30)


def test_threads_reading_at_once_each_get_a_connection_of_their_own(tmp_path: Path) -> None:
    """Connections are taken and given back, not owned by a thread: eight threads reading at once each read the
    whole answer they asked for (a connection is never used by two threads at the same time)."""
    answers = SharedAnswers(tmp_path / FILE_NAME, max_entries=1_000, max_bytes=10_000_000)
    for n in range(50):
        answers.put(hashed(("v", n)), "json", Family.RESULTS, str(n).encode() * 100, "application/json")
    answers.flush()  # what is queued now; the writer thread may still be writing the first rows it took
    _until(lambda: len(answers) == 50)

    def read(n: int) -> tuple[bytes, str] | None:
        return answers.get(hashed(("v", n % 50)), "json")

    with ThreadPoolExecutor(max_workers=8) as pool:
        found = list(pool.map(read, range(400)))
    assert found == [(str(n % 50).encode() * 100, "application/json") for n in range(400)]


def _descriptors_of(path: Path) -> int:
    """Descriptors of this process open on ``path`` (one per SQLite connection to it)."""
    return sum(1 for fd in psutil.Process().open_files() if Path(fd.path) == path)
