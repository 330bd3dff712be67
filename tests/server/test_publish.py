"""``calcinosis-kg publish``: the release PUT into a named graph of a real, writable ``oxigraph serve``, the count
checked afterwards, and the failures it reports (store refusing, store unreachable, count differing).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from rdflib import Graph

from calcinosis_kg.graph.publish import graph_store_url, read_release
from calcinosis_kg.graph.release import release_info
from tests.support.live_server import SAMPLE_TTL, free_port
from tests.support.store_server import StoreServer, oxigraph_binary, oxigraph_store

pytestmark = [
    pytest.mark.engine,
    pytest.mark.live,
    pytest.mark.skipif(not oxigraph_binary().exists(), reason="the oxigraph package is not installed"),
]

CLI = [sys.executable, "-m", "calcinosis_kg.cli", "publish"]


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory, kg: Graph) -> Path:
    """The merged graph as the release N-Triples file, as ``calcinosis-kg build`` writes it."""
    path = tmp_path_factory.mktemp("release") / "calcinosis-kg.nt"
    kg.serialize(path, format="nt", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreServer]:
    with oxigraph_store(tmp_path_factory.mktemp("publish-store"), [], free_port()) as running:
        yield running


def publish(
    store: str, data: Path = SAMPLE_TTL, graph: str | None = None, graph_store: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``calcinosis-kg publish --store STORE --data DATA``, with ``--graph`` and ``--graph-store`` when given."""
    args = ["--store", store, "--data", str(data), "--bundle", "none"]  # the bundle: test_store_bundle.py
    args += ["--graph", graph] if graph is not None else []
    args += ["--graph-store", graph_store] if graph_store is not None else []
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, check=False)


def count(store: StoreServer, pattern: str) -> int:
    answer = requests.post(
        store.url,
        data={"query": f"SELECT (COUNT(*) AS ?n) WHERE {{ {pattern} }}"},
        headers={"Accept": "application/sparql-results+json"},
        timeout=30,
    )
    answer.raise_for_status()
    return int(answer.json()["results"]["bindings"][0]["n"]["value"])


def test_the_release_goes_into_its_version_graph_and_is_counted(store: StoreServer, release: Path, kg: Graph) -> None:
    version = release_info(kg).version_iri
    done = publish(store.url, release)
    assert done.returncode == 0, done.stderr
    assert f"published {len(kg)} triples" in done.stdout
    assert f"into graph {version} of http://127.0.0.1:{store.port}/store" in done.stdout
    assert count(store, f"GRAPH <{version}> {{ ?s ?p ?o }}") == len(kg)
    assert count(store, "?s ?p ?o") == 0, "the store's default graph is left alone"


def test_publishing_again_replaces_the_graph(store: StoreServer, release: Path) -> None:
    graph = "https://example.org/graphs/replaced"
    assert publish(store.url, release, graph).returncode == 0
    done = publish(store.url, graph=graph)
    assert done.returncode == 0, done.stderr
    sample = len(Graph().parse(SAMPLE_TTL))
    assert count(store, f"GRAPH <{graph}> {{ ?s ?p ?o }}") == sample


def test_a_count_that_differs_fails(store: StoreServer, tmp_path: Path) -> None:
    """PUT into one store, count on another (a wrong --graph-store): the check catches it."""
    with oxigraph_store(tmp_path, [], free_port()) as other:
        elsewhere = "https://example.org/graphs/elsewhere"
        done = publish(other.url, graph=elsewhere, graph_store=graph_store_url(store.url))
    assert done.returncode == 2
    assert "holds 0 triples after publishing" in done.stderr
    assert f"{SAMPLE_TTL} has {len(Graph().parse(SAMPLE_TTL))}" in done.stderr


def test_a_refusal_names_the_status_and_the_stores_message(store: StoreServer) -> None:
    done = publish(store.url, graph="urn:x:g", graph_store=f"http://127.0.0.1:{store.port}/nowhere")
    assert done.returncode == 2
    assert "the store refused the release: PUT" in done.stderr
    assert "answered 404: PUT /nowhere is not supported by this server" in done.stderr


def test_an_unreachable_store_is_named() -> None:
    port = free_port()
    done = publish(f"http://127.0.0.1:{port}/query", graph="urn:x:g")
    assert done.returncode == 2
    assert f"the store at http://127.0.0.1:{port}/query" in done.stderr  # its markers are removed first
    assert "could not be reached" in done.stderr


def test_graph_store_defaults_and_release_reading(tmp_path: Path) -> None:
    assert graph_store_url("http://h:7878/query") == "http://h:7878/store"
    assert graph_store_url("http://h/ds/query?x=1") == "http://h/ds/store"
    done = publish("http://h/sparql", graph="https://example.org/g")
    assert done.returncode == 2
    assert "cannot derive the graph-store endpoint from http://h/sparql" in done.stderr
    assert read_release(SAMPLE_TTL).version_iri is None
    quads = tmp_path / "x.nq"
    quads.write_text("")
    done = publish("http://h/query", quads)
    assert done.returncode == 2
    assert "publish sends one graph" in done.stderr
    done = publish("http://h/query")
    assert done.returncode == 2
    assert "states no owl:versionIRI of the ontology: name the graph with --graph" in done.stderr
