"""The bounds of the query workers: memory, answer size, the waiting queue, a dead worker, the parent's death.

Each test starts a server of its own (granian, one worker) with the bound set low, so that the probe is cheap.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
import requests

from tests.support import RUNAWAY
from tests.support.clients import client_address, session_from
from tests.support.live_server import PRODUCTION, SAMPLE_TTL, LiveServer, live_server, server_command, server_env
from tests.support.store_server import engine_under_test, timeout_status

pytestmark = [pytest.mark.engine, pytest.mark.live]

DOUBLINGS = 26
MEMORY_HOG = (
    "SELECT (STRLEN(?x26) AS ?n) WHERE { BIND('aaaaaaaaaaaaaaaa' AS ?x0) "
    + " ".join(f"BIND(CONCAT(?x{i}, ?x{i}) AS ?x{i + 1})" for i in range(DOUBLINGS))
    + " }"
)
"""A 1 KB query whose strings double 26 times: gigabytes of memory within the time limit."""
SIMPLE = "ASK { ?s ?p ?o }"
MARGIN_ON_A_BUSY_MACHINE = 1.0
"""Seconds allowed beyond a bound for a CI machine running other work (the bench measures the real figures)."""


@contextmanager
def bounded_server(tmp_path: Path, **settings: str) -> Iterator[LiveServer]:
    base = {"KG_QUERY_WORKERS": "1", "KG_QUERY_TIMEOUT": "5"}
    with live_server(tmp_path, [SAMPLE_TTL], {**base, **settings}, *PRODUCTION) as live:
        yield live


NO_QUERY_WORKERS = pytest.mark.skipif(
    engine_under_test() == "sparql",
    reason="a bound of the query worker processes: KG_ENGINE=sparql has none (the store evaluates and bounds its own)",
)


def ask(server: LiveServer, query: str) -> requests.Response:
    return requests.post(
        server.sparql, data={"query": query}, headers={"Accept": "application/sparql-results+json"}, timeout=30
    )


@NO_QUERY_WORKERS
def test_a_query_over_the_memory_cap_is_stopped_and_the_worker_replaced(tmp_path: Path) -> None:
    with bounded_server(tmp_path, KG_QUERY_MEMORY="256", KG_QUERY_TIMEOUT="20") as server:
        response = ask(server, MEMORY_HOG)
        assert response.status_code == 503, response.text
        assert "256 MB" in response.text
        assert "KG_QUERY_MEMORY" in response.text
        assert ask(server, SIMPLE).status_code == 200


def test_an_answer_over_the_size_cap_is_refused(tmp_path: Path) -> None:
    with bounded_server(tmp_path, KG_MAX_ANSWER_BYTES="2000") as server:
        response = ask(server, "SELECT * WHERE { ?s ?p ?o }")
        assert response.status_code == 400, response.text
        assert "KG_MAX_ANSWER_BYTES" in response.text
        assert ask(server, SIMPLE).status_code == 200


@NO_QUERY_WORKERS
def test_over_capacity_a_query_is_refused_at_once_with_retry_after(tmp_path: Path) -> None:
    with (
        bounded_server(tmp_path, KG_QUERY_QUEUE="1", KG_QUERY_TIMEOUT="3") as server,
        concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool,
    ):
        running = [pool.submit(ask, server, RUNAWAY) for _ in range(2)]  # one runs, one waits
        time.sleep(0.5)
        started = time.monotonic()
        response = ask(server, SIMPLE)
        assert time.monotonic() - started < 1.0
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "1"
        assert "KG_QUERY_QUEUE" in response.text
        assert all(future.result().status_code == 503 for future in running)


def test_a_worker_killed_while_idle_is_never_handed_a_query(tmp_path: Path) -> None:
    with bounded_server(tmp_path) as server:
        assert ask(server, SIMPLE).status_code == 200
        workers = [p for p in psutil.Process(server.process.pid).children(recursive=True) if p.children() == []]
        assert workers
        for worker in workers:
            if worker.pid != server.process.pid:
                os.kill(worker.pid, signal.SIGKILL)
        time.sleep(0.2)
        assert ask(server, SIMPLE).status_code == 200


@pytest.mark.parametrize("victim", ["server", "granian worker"])
def test_no_process_outlives_a_kill_9(tmp_path: Path, victim: str) -> None:
    with bounded_server(tmp_path) as server:
        assert ask(server, SIMPLE).status_code == 200
        root = psutil.Process(server.process.pid)
        tree = [root, *root.children(recursive=True)]
        assert len(tree) >= (2 if engine_under_test() == "sparql" else 3)  # + a query worker on the embedded engine
        target = root if victim == "server" else root.children()[0]
        target.send_signal(signal.SIGKILL)
        _, alive = psutil.wait_procs([p for p in tree if p.pid != root.pid or victim == "server"], timeout=5)
        alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert not alive, [p.cmdline() for p in alive]


@NO_QUERY_WORKERS
def test_metrics_show_the_limits_and_restarts_the_probes_cause(tmp_path: Path) -> None:
    with bounded_server(tmp_path, KG_QUERY_MEMORY="256", KG_QUERY_TIMEOUT="8") as server:
        assert ask(server, MEMORY_HOG).status_code == 503
        assert ask(server, RUNAWAY).status_code == 503
        assert ask(server, SIMPLE).status_code == 200
        # the same query by GET: not the POST's replayed response, an answer of the result cache
        again = requests.get(
            server.sparql, params={"query": SIMPLE}, headers={"Accept": "application/sparql-results+json"}, timeout=30
        )
        assert again.status_code == 200
        text = requests.get(f"{server.url}/metrics", timeout=10).text
        assert 'kg_query_limits_total{limit="memory"} 1.0' in text
        assert 'kg_query_limits_total{limit="time"} 1.0' in text
        assert 'kg_query_worker_restarts_total{reason="memory"} 1.0' in text
        assert 'kg_query_worker_restarts_total{reason="time"} 1.0' in text
        assert 'kg_result_cache_total{result="hit"}' in text
        assert re.search(r'kg_http_requests_total\{route="/sparql",status="503"\} 2\.0', text)
        assert "limit memory reached by 127.0.0.1" in server.log_text()


def slow_client(url: str) -> socket.socket:
    """A connection that sends its headers and 3 of the 100 body bytes it announces, then nothing."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    head = (
        "POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        "Content-Length: 100\r\n\r\nque"
    )
    sock.sendall(head.encode())
    return sock


def timed_ask(server: LiveServer, query: str, source: str = "127.0.0.1") -> tuple[requests.Response, float]:
    started = time.monotonic()
    with session_from(source) as session:
        response = session.post(
            server.sparql, data={"query": query}, headers={"Accept": "application/sparql-results+json"}, timeout=30
        )
    return response, time.monotonic() - started


def test_slow_clients_and_runaways_do_not_hold_up_health_or_cached_answers(tmp_path: Path) -> None:
    """8 slow clients and 10 runaway queries of 10 clients at once: /health and a cached answer are still served
    at once, and every runaway is answered by its limit plus a second (the wait for a worker counts toward it).
    (One client's runaways past its share are refused at once: ``test_fairness.py``.)"""
    limit = 2.0
    with bounded_server(tmp_path, KG_QUERY_WORKERS="2", KG_QUERY_TIMEOUT=str(limit)) as server:
        assert ask(server, SIMPLE).status_code == 200  # now cached
        slow = [slow_client(server.url) for _ in range(8)]
        with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
            runaways = [pool.submit(timed_ask, server, RUNAWAY, client_address(n)) for n in range(10)]
            time.sleep(0.5)
            for name, probe in (("health", lambda: requests.get(f"{server.url}/health", timeout=10)),
                                ("cached", lambda: ask(server, SIMPLE))):  # fmt: skip
                began = time.monotonic()
                assert probe().status_code == 200
                assert time.monotonic() - began < 1.0, name
            for future in runaways:
                response, seconds = future.result()
                assert response.status_code == timeout_status()
                assert seconds < limit + 1.0 + MARGIN_ON_A_BUSY_MACHINE
        for sock in slow:
            sock.close()


def test_the_server_restarts_on_the_same_port_after_a_kill_9(tmp_path: Path) -> None:
    (tmp_path / "first").mkdir()
    with bounded_server(tmp_path / "first") as server:
        port = server.url.rsplit(":", 1)[1]
        tree = [psutil.Process(server.process.pid), *psutil.Process(server.process.pid).children(recursive=True)]
        server.process.send_signal(signal.SIGKILL)
        psutil.wait_procs(tree, timeout=5)
    command = server_command(int(port), *PRODUCTION)
    with (tmp_path / "second.log").open("wb") as log:
        second = subprocess.Popen(command, env=server_env([SAMPLE_TTL], {}), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        assert requests.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
    finally:
        second.terminate()
        second.wait(timeout=30)
