"""Fixtures of the endpoint tests: the sample data served by a live server on a loopback port, and in-process.

``app`` and ``client`` override those of ``tests/conftest.py`` (the built graph) with the sample data.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rdflib import Dataset, Graph

from calcinosis_kg.server import create_app
from calcinosis_kg.server.app import query_pool
from tests.support import SERVER_SETTINGS, AppFactory
from tests.support.apps import app_serving
from tests.support.live_server import PRODUCTION, SAMPLE_TTL, SOURCES_TRIG, LiveServer, live_server
from tests.support.probes import Listener


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


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The app in-process on the sample data, with the limits of :func:`server` (and on the engine under test)."""
    with app_serving(tmp_path_factory.mktemp("sample-app"), [SAMPLE_TTL, SOURCES_TRIG], SERVER_SETTINGS) as app:
        yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """The Flask test client of :func:`app`."""
    return app.test_client()


@pytest.fixture
def listener() -> Iterator[Listener]:
    """A loopback TCP listener counting connections: a query must never make the server connect to it."""
    server = Listener()
    yield server
    server.close()
