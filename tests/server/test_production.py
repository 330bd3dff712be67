"""serve(production=True): gunicorn worker processes, each with its own killable query worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import requests
from conftest import MARGIN, QUERY_TIMEOUT, RUNAWAY, SERVER_SETTINGS, SIMPLE
from live_server import SAMPLE_TTL, SOURCES_TRIG, LiveServer, live_server
from rdflib import Graph


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("production")
    arguments = ("--production", "--workers", "2")
    with live_server(folder, [SAMPLE_TTL, SOURCES_TRIG], SERVER_SETTINGS, *arguments) as server:
        yield server


def test_gunicorn_serves_queries_and_the_description(production: LiveServer) -> None:
    assert "gunicorn, 2 worker processes" in production.log_text()
    deadline = time.monotonic() + 10
    while production.log_text().count("Booting worker") < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert production.log_text().count("Booting worker") == 2
    response = requests.get(production.sparql, params={"query": SIMPLE, "format": "json"}, timeout=10)
    assert response.json()["boolean"] is True
    description = requests.get(production.sparql, timeout=10)
    assert len(Graph().parse(data=description.content, format="turtle")) > 0
    assert requests.get(f"{production.url}/health", timeout=10).json()["status"] == "ok"
    assert "GET /health 200" in production.log_text()


def test_gunicorn_stops_runaway_queries(production: LiveServer) -> None:
    outcome: dict[str, object] = {}

    def run_away() -> None:
        started = time.monotonic()
        outcome["response"] = requests.get(production.sparql, params={"query": RUNAWAY}, timeout=30)
        outcome["seconds"] = time.monotonic() - started

    runaway = threading.Thread(target=run_away)
    runaway.start()
    time.sleep(0.3)
    started = time.monotonic()
    response = requests.get(production.sparql, params={"query": SIMPLE, "format": "json"}, timeout=10)
    assert response.json()["boolean"] is True
    assert time.monotonic() - started < 1.0
    runaway.join(timeout=QUERY_TIMEOUT + 10)
    stopped = outcome["response"]
    assert isinstance(stopped, requests.Response)
    assert stopped.status_code == 503
    seconds = outcome["seconds"]
    assert isinstance(seconds, float)
    assert seconds < QUERY_TIMEOUT + MARGIN
    for _ in range(4):
        response = requests.get(production.sparql, params={"query": SIMPLE, "format": "json"}, timeout=10)
        assert response.json()["boolean"] is True
