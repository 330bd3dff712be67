"""``calcinosis-kg publish``: the release PUT into a named graph of a real, writable ``oxigraph serve``, the count
checked afterwards, and the failures it reports (store refusing, store unreachable, count differing); the built
dataset (``calcinosis-kg.nq``) sent graph by graph and served by ``KG_ENGINE=sparql`` with its named graphs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from rdflib import Graph, URIRef

from calcinosis_kg.graph.publish import graph_store_url, read_release
from calcinosis_kg.graph.release import release_info
from tests.support import BUILT_SETTINGS
from tests.support.live_server import SAMPLE_TTL, free_port, live_server
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
    unknown = tmp_path / "x.csv"
    unknown.write_text("")
    done = publish("http://h/query", unknown)
    assert done.returncode == 2
    assert "give an RDF file (.nt, .ttl, .rdf; .nq or .trig for a dataset)" in done.stderr
    shared = tmp_path / "shared.nq"
    shared.write_text("_:b <urn:x:p> <urn:x:o> <urn:x:g1> .\n<urn:x:s> <urn:x:p> _:b <urn:x:g2> .\n")
    done = publish("http://h/query", shared, graph="urn:x:g")
    assert done.returncode == 2
    assert "the blank node _:b is in two graphs" in done.stderr
    named_by_blank = tmp_path / "blank.nq"
    named_by_blank.write_text("<urn:x:s> <urn:x:p> <urn:x:o> _:g .\n")
    assert "named by a blank node" in publish("http://h/query", named_by_blank, graph="urn:x:g").stderr
    done = publish("http://h/query")
    assert done.returncode == 2
    assert "states no owl:versionIRI of the ontology: name the graph with --graph" in done.stderr


def test_the_built_dataset_is_published_graph_by_graph_and_served_with_its_graphs(
    build_dir: Path, tmp_path: Path
) -> None:
    """``publish --data calcinosis-kg.nq`` into a store whose default graph is the union: the unnamed graph (the
    ontology) goes into the release's graph, each named graph into its name, with the build's count of it; a
    server on ``KG_ENGINE=sparql`` with ``KG_UNION_DEFAULT_GRAPH`` serves the graphs by name (``GRAPH``, ``FROM``)
    and the union as default graph, and lists them in its service description, as the embedded engine does."""
    nq = build_dir / "calcinosis-kg.nq"
    summary = json.loads((build_dir / "summary.json").read_text(encoding="utf-8"))
    graphs = {name: part["triples"] for name, part in summary["named_graphs"].items()}
    with oxigraph_store(tmp_path, [], free_port(), union_default_graph=True) as union_store:
        for _ in range(2):  # published again: each graph replaced, each count still the file's
            done = publish(union_store.url, nq)
            assert done.returncode == 0, done.stderr
        version = read_release(nq).version_iri
        unnamed = summary["triples"] - sum(graphs.values())
        assert f"published {unnamed} triples of {nq} into graph {version}" in done.stdout
        assert count(union_store, f"GRAPH <{version}> {{ ?s ?p ?o }}") == unnamed
        for name, triples in graphs.items():
            assert f"published {triples} triples of {nq} into its named graph {name}" in done.stdout
            assert count(union_store, f"GRAPH <{name}> {{ ?s ?p ?o }}") == triples
        assert count(union_store, "?s ?p ?o") == summary["triples"]
        settings = {
            **BUILT_SETTINGS,
            "KG_ENGINE": "sparql",
            "KG_STORE_URL": union_store.url,
            "KG_UNION_DEFAULT_GRAPH": "true",
            "KG_BUILD_DIR": str(build_dir),
        }
        with live_server(tmp_path, [], settings) as remote:
            served = {name: _count_served(remote.sparql, f"GRAPH <{name}> {{ ?s ?p ?o }}") for name in graphs}
            assert served == graphs
            assert _count_served(remote.sparql, "?s ?p ?o") == summary["triples"]
            article = next(name for name in graphs if name.endswith("/article"))
            assert _count_served(remote.sparql, "?s ?p ?o", f"FROM <{article}>") == graphs[article]
            sd = Graph().parse(data=requests.get(remote.sparql, headers={"Accept": "text/turtle"}, timeout=30).text)
            named = {str(name) for name in sd.objects(None, SD_NAME)}
            assert named == {*graphs, version}
            assert (None, SD_FEATURE, SD_UNION) in sd


SD_NAME = URIRef("http://www.w3.org/ns/sparql-service-description#name")
SD_FEATURE = URIRef("http://www.w3.org/ns/sparql-service-description#feature")
SD_UNION = URIRef("http://www.w3.org/ns/sparql-service-description#UnionDefaultGraph")


def _count_served(sparql: str, pattern: str, dataset: str = "") -> int:
    query = f"SELECT (COUNT(*) AS ?n) {dataset} WHERE {{ {pattern} }}"
    answer = requests.get(
        sparql, params={"query": query}, headers={"Accept": "application/sparql-results+json"}, timeout=60
    )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["results"]["bindings"][0]["n"]["value"])
