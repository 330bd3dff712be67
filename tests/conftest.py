"""Shared fixtures: the merged graph compiled from the real ontology and curated knowledge, and the query engine.

The modules of :data:`BOTH_BACKENDS` run once per query engine (``KG_BACKEND=rdflib`` and ``oxigraph``): their
servers and pools depend on the session-scoped ``backend`` fixture, which :func:`pytest_generate_tests`
parametrizes for them. Other modules use the default backend only.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Graph

from calcinosis_kg.graph.build import build_graph
from calcinosis_kg.ontology import load_ontology

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def kg() -> Graph:
    """The merged knowledge graph, compiled in memory (not validated: validation has its own tests)."""
    return build_graph()


@pytest.fixture(scope="session")
def ontology() -> Graph:
    return load_ontology()


BACKENDS = ("rdflib", "oxigraph")
BOTH_BACKENDS = frozenset(
    {
        # tests/server: the endpoint's answers, limits and safety rules
        "test_clients", "test_protocol", "test_safety", "test_limits", "test_w3c_protocol", "test_describe",
        "test_cache",
        # tests/api: the canned queries
        "test_queries_api", "test_bindings",
    }
)
"""Test modules run against both query engines."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run the tests of :data:`BOTH_BACKENDS` modules that use the ``backend`` fixture once per backend."""
    module = metafunc.module.__name__.rpartition(".")[2]
    if "backend" in metafunc.fixturenames and module in BOTH_BACKENDS:
        metafunc.parametrize("backend", BACKENDS, indirect=True, scope="session")


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    """The query engine of the servers and pools a test uses: ``rdflib`` unless the test is parametrized."""
    name: str = getattr(request, "param", "rdflib")
    return name


@pytest.fixture(scope="session")
def store_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the oxigraph backend's servers and engines of this session keep their stores."""
    return tmp_path_factory.mktemp("oxigraph-stores")
