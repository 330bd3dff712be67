"""Fixtures shared by every suite: the graph compiled once per run, its build folder, and the app serving it.

The graph is built once per session, in memory (:func:`kg`), and its release artifacts are written once into a
temporary folder (:func:`build_dir`, what ``calcinosis-kg build --no-validate`` writes; validation has its own
tests). The API, linked-data, UI and FHIR tests serve that folder's ``calcinosis-kg.nt``: in-process through
:func:`app` and :func:`client` (the Flask test client) when the behaviour is the app's, or through a real server in
a subprocess (:mod:`tests.support.live_server`) when only a real server shows it. The endpoint tests under
``tests/server`` override ``app`` and ``client`` with the small sample data.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rdflib import Graph

from calcinosis_kg.graph.build import build_graph, write_artifacts
from calcinosis_kg.ontology import load_ontology
from tests.support import BUILT_SETTINGS
from tests.support.apps import app_serving


@pytest.fixture(scope="session")
def kg() -> Graph:
    """The merged knowledge graph, compiled in memory (not validated: validation has its own tests)."""
    return build_graph()


@pytest.fixture(scope="session")
def ontology() -> Graph:
    return load_ontology()


@pytest.fixture(scope="session")
def build_dir(kg: Graph, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The release artifacts of :func:`kg` (the run's one build), in a temporary folder."""
    out = tmp_path_factory.mktemp("build")
    write_artifacts(kg, out)
    return out


@pytest.fixture(scope="session")
def built_nt(build_dir: Path) -> Path:
    """``calcinosis-kg.nt`` of the build: the file the servers serve."""
    return build_dir / "calcinosis-kg.nt"


@pytest.fixture(scope="session")
def built_graph(built_nt: Path) -> Graph:
    """The built graph as rdflib parses it: the reference the answers are checked against."""
    return Graph().parse(built_nt, format="nt")


@pytest.fixture(scope="session")
def app(built_nt: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """``create_app`` serving the built graph, in-process (its queries run in forked query workers)."""
    with app_serving(tmp_path_factory.mktemp("app"), [built_nt], BUILT_SETTINGS) as app:
        yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """The Flask test client of :func:`app`."""
    return app.test_client()
