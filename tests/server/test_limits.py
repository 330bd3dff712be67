"""The time limit stops runaway queries while other clients are served; the row limit refuses huge results."""

from __future__ import annotations

import os
import re
import threading
import time

import pytest
import requests

from tests.support import MARGIN, MAX_ROWS, QUERY_TIMEOUT, RUNAWAY, SIMPLE
from tests.support.live_server import LiveServer
from tests.support.store_server import engine_under_test, timeout_status

pytestmark = [pytest.mark.engine, pytest.mark.live]


def ask_true(server: LiveServer) -> None:
    response = requests.get(server.sparql, params={"query": SIMPLE, "format": "json"}, timeout=10)
    assert response.status_code == 200
    assert response.json()["boolean"] is True


def test_runaway_query_is_stopped_while_others_are_served(server: LiveServer) -> None:
    outcome: dict[str, object] = {}

    def run_away() -> None:
        started = time.monotonic()
        response = requests.get(server.sparql, params={"query": RUNAWAY}, timeout=30)
        outcome["seconds"] = time.monotonic() - started
        outcome["response"] = response

    runaway = threading.Thread(target=run_away)
    runaway.start()
    time.sleep(0.3)
    started = time.monotonic()
    ask_true(server)
    assert time.monotonic() - started < 1.0, "another client waited for the runaway query"
    assert runaway.is_alive(), "the runaway query finished before the other client was served"

    runaway.join(timeout=QUERY_TIMEOUT + 10)
    response = outcome["response"]
    assert isinstance(response, requests.Response)
    assert response.status_code == timeout_status()
    assert f"{QUERY_TIMEOUT} s limit" in response.text
    assert "KG_QUERY_TIMEOUT" in response.text
    assert "Traceback" not in response.text
    seconds = outcome["seconds"]
    assert isinstance(seconds, float)
    assert QUERY_TIMEOUT <= seconds < QUERY_TIMEOUT + MARGIN

    for _ in range(4):  # both workers answer again
        ask_true(server)


@pytest.mark.skipif(
    engine_under_test() == "sparql", reason="KG_ENGINE=sparql has no query worker processes: the store evaluates"
)
def test_stopped_worker_processes_are_gone(server: LiveServer) -> None:
    requests.get(server.sparql, params={"query": RUNAWAY}, timeout=30)
    replaced = [int(pid) for pid in re.findall(r"query worker (\d+) stopped", server.log_text())]
    assert replaced
    for pid in replaced:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        raise AssertionError(f"query worker {pid} is still running after being stopped")
    ask_true(server)


def test_a_result_at_the_row_limit_is_served(server: LiveServer) -> None:
    query = f"SELECT * WHERE {{ ?a ?b ?c . ?d ?e ?f }} LIMIT {MAX_ROWS}"
    response = requests.get(server.sparql, params={"query": query, "format": "json"}, timeout=10)
    assert response.status_code == 200
    assert len(response.json()["results"]["bindings"]) == MAX_ROWS


def test_a_result_over_the_row_limit_is_refused(server: LiveServer) -> None:
    query = f"SELECT * WHERE {{ ?a ?b ?c . ?d ?e ?f }} LIMIT {MAX_ROWS + 1}"
    response = requests.get(server.sparql, params={"query": query}, timeout=10)
    assert response.status_code == 400
    assert f"more than {MAX_ROWS} result rows" in response.text
    assert "LIMIT" in response.text


def test_an_order_by_expression_that_raises_is_a_clear_400(server: LiveServer) -> None:
    query = "SELECT ?s WHERE { ?s ?p ?o } ORDER BY (1/0) LIMIT 3"
    response = requests.get(server.sparql, params={"query": query}, timeout=10)
    assert response.status_code in (200, 400)
    assert "Traceback" not in response.text
    if response.status_code == 400:
        assert "ORDER BY" in response.text
