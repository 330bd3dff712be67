"""Fixtures of the endpoint tests: a live server on a loopback port, and the app in-process."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import pytest
from flask import Flask
from flask.testing import FlaskClient
from live_server import PRODUCTION, SAMPLE_TTL, SOURCES_TRIG, LiveServer, live_server
from probes import Listener
from rdflib import Dataset, Graph

from calcinosis_kg.server import create_app
from calcinosis_kg.server.app import query_pool

QUERY_TIMEOUT = 2
MAX_ROWS = 1000
MAX_BODY = 65_536

RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n2 ?o }"
"""The sample default graph (48 triples) crossed with itself five times: some 250 million solutions."""
SIMPLE = "ASK { cc:diltiazem a cco:Treatment }"
MARGIN = 1.5
"""Seconds a stopped query may take beyond the time limit (worker replacement, HTTP, a busy CI machine)."""

SERVER_SETTINGS = {
    "KG_QUERY_TIMEOUT": str(QUERY_TIMEOUT),
    "KG_MAX_ROWS": str(MAX_ROWS),
    "KG_MAX_BODY": str(MAX_BODY),
    "KG_QUERY_WORKERS": "2",
}


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The endpoint serving the sample data (a Turtle default graph, two TriG named graphs) over HTTP.

    Queries time out after 2 s, results are capped at 1000 rows, bodies at 64 KiB, with 2 query workers.
    """
    folder = tmp_path_factory.mktemp("server")
    with live_server(folder, [SAMPLE_TTL, SOURCES_TRIG], SERVER_SETTINGS, *PRODUCTION) as live:
        yield live


@pytest.fixture(scope="session")
def sample_graph() -> Graph:
    """The sample default graph, parsed by rdflib alone: the reference answers are computed on it."""
    return Graph().parse(SAMPLE_TTL)


@pytest.fixture(scope="session")
def sample_dataset() -> Dataset:
    """The sample named graphs, parsed by rdflib alone."""
    return Dataset().parse(SOURCES_TRIG)


AppFactory = Callable[..., Flask]


@pytest.fixture
def app_factory() -> Iterator[AppFactory]:
    """``make(config=None)``: an app made by create_app on the sample data (config added); stopped after."""
    apps: list[Flask] = []
    defaults = {
        "KG_DATA": [SAMPLE_TTL, SOURCES_TRIG],
        "TESTING": True,
    }

    def make(config: Mapping[str, object] | None = None) -> Flask:
        app = create_app({**defaults, **(config or {})})
        apps.append(app)
        return app

    yield make
    for app in apps:
        query_pool(app).close()


@pytest.fixture
def app(app_factory: AppFactory) -> Flask:
    """flaskr-style: an in-process app on the sample data (its queries run in forked query workers)."""
    return app_factory()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """flaskr-style: a test client of ``app``."""
    return app.test_client()


@pytest.fixture
def listener() -> Iterator[Listener]:
    """A loopback TCP listener counting connections: a query must never make the server connect to it."""
    server = Listener()
    yield server
    server.close()
