"""Shared fixtures: the merged graph compiled from the real ontology and curated knowledge."""

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
