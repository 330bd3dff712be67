"""The built dataset served as a dataset (issue 27): its named graphs on ``/sparql``, the union as default graph.

A copy of the run's build gets its serving bundle as ``calcinosis-kg build`` writes it (``cli._write_bundle``, in a
child interpreter: a writable store starts threads); a real server is started on it as ``make serve`` starts one,
without ``KG_DATA``. Its answers are checked against the build's own files: the per-graph counts of
``summary.json`` (what the build wrote into each part of ``calcinosis-kg.nq``), the quads of the ``.nq``, and an
app serving the union ``calcinosis-kg.nt`` as the server did before (every canned query must answer the same).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
import requests
from flask import Flask
from rdflib import DCTERMS, RDF, Graph, Namespace, URIRef

from calcinosis_kg.graph.build import ARTICLE_GRAPH, HPO_GRAPH
from calcinosis_kg.queries.catalog import load_catalog
from calcinosis_kg.server import create_app
from calcinosis_kg.server.app import app_services, query_pool
from tests.support import BUILT_SETTINGS
from tests.support.api import comparable
from tests.support.live_server import PRODUCTION, LiveServer, live_server

pytestmark = [pytest.mark.live]

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
VOID = Namespace("http://rdfs.org/ns/void#")
JSON_RESULTS = {"Accept": "application/sparql-results+json"}
QUERY_BODY = "application/sparql-query"
SITE = "https://w3id.org/calcinosis-kg/"


@pytest.fixture(scope="module")
def built(build_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the run's build folder with the serving bundle ``calcinosis-kg build`` writes."""
    folder = tmp_path_factory.mktemp("dataset") / "build"
    shutil.copytree(build_dir, folder)
    code = "import sys, pathlib; from calcinosis_kg.cli import _write_bundle; _write_bundle(pathlib.Path(sys.argv[1]))"
    subprocess.run([sys.executable, "-c", code, str(folder)], check=True, timeout=300)
    return folder


@pytest.fixture(scope="module")
def expected(built: Path) -> dict[str, Any]:
    """The build's own counts (``summary.json``): all triples, and each named graph's."""
    summary = json.loads((built / "summary.json").read_text(encoding="utf-8"))
    return {
        "triples": summary["triples"],
        "graphs": {name: part["triples"] for name, part in summary["named_graphs"].items()},
    }


@pytest.fixture(scope="module")
def served(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The server as ``make serve`` runs it on that build: no ``KG_DATA``, the default settings."""
    settings = {**BUILT_SETTINGS, "KG_ENGINE": "oxigraph", "KG_BUILD_DIR": str(built)}
    with live_server(tmp_path_factory.mktemp("dataset-server"), [], settings, *PRODUCTION) as live:
        yield live


def count(server: LiveServer, query: str, how: str = "get", **params: str) -> int:
    """The ``?n`` of a COUNT query sent the way ``how`` says: ``get``, ``form`` (POST), ``body`` (POST of the
    query itself), ``flask`` (a conditional GET, which the fast path leaves to Flask)."""
    if how == "form":
        response = requests.post(server.sparql, data={"query": query, **params}, headers=JSON_RESULTS, timeout=60)
    elif how == "body":
        headers = {**JSON_RESULTS, "Content-Type": QUERY_BODY}
        response = requests.post(server.sparql, params=params, data=query.encode(), headers=headers, timeout=60)
    else:
        headers = {**JSON_RESULTS, **({"If-None-Match": '"not-this-one"'} if how == "flask" else {})}
        response = requests.get(server.sparql, params={"query": query, **params}, headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    return int(response.json()["results"]["bindings"][0]["n"]["value"])


def test_the_built_dataset_is_served_from_the_build_bundle(served: LiveServer, expected: dict[str, Any]) -> None:
    assert "served from the bundle" in served.log_text()
    assert set(expected["graphs"]) == {str(ARTICLE_GRAPH), str(HPO_GRAPH)}


@pytest.mark.parametrize("how", ["get", "form", "body", "flask"])
def test_each_named_graph_holds_its_own_triples(served: LiveServer, expected: dict[str, Any], how: str) -> None:
    """``GRAPH <g>`` and ``FROM <g>`` count each graph's triples; ``GRAPH ?g`` finds exactly the build's graphs;
    a query naming no graph counts every triple (the union), by every way of sending a query."""
    for name, triples in expected["graphs"].items():
        assert count(served, f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{name}> {{ ?s ?p ?o }} }}", how) == triples, name
        assert count(served, f"SELECT (COUNT(*) AS ?n) FROM <{name}> {{ ?s ?p ?o }}", how) == triples, name  # noqa: S608
        named = f"SELECT (COUNT(*) AS ?n) FROM NAMED <{name}> {{ GRAPH ?g {{ ?s ?p ?o }} }}"  # noqa: S608
        assert count(served, named, how) == triples, name
    by_graph = "SELECT ?g (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
    answer = requests.get(served.sparql, params={"query": by_graph}, headers=JSON_RESULTS, timeout=60).json()
    found = {row["g"]["value"]: int(row["n"]["value"]) for row in answer["results"]["bindings"]}
    assert found == expected["graphs"]
    assert count(served, "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }", how) == expected["triples"]


def test_the_protocol_dataset_names_the_graphs(served: LiveServer, expected: dict[str, Any]) -> None:
    """``default-graph-uri`` and ``named-graph-uri`` of the protocol select the same graphs as FROM and FROM NAMED."""
    hpo = str(HPO_GRAPH)
    for how in ("get", "form", "body"):
        assert (
            count(served, "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }", how, **{"default-graph-uri": hpo})
            == (expected["graphs"][hpo])
        )
        in_named = "SELECT (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } }"
        assert count(served, in_named, how, **{"named-graph-uri": hpo}) == expected["graphs"][hpo]
    unknown = requests.get(
        served.sparql,
        params={"query": "SELECT * FROM <https://w3id.org/calcinosis-kg/graph/none> { ?s ?p ?o }"},
        timeout=60,
    )
    assert unknown.status_code == 400, unknown.text
    assert "graph/none" in unknown.text


def test_each_graph_answers_the_triples_of_its_part_of_the_nq(served: LiveServer, built: Path) -> None:
    """Each named graph's triples are exactly the ``.nq``'s quads in that graph (compared canonicalized)."""
    quads = list(ox.parse(path=built / "calcinosis-kg.nq", format=ox.RdfFormat.N_QUADS))
    for name in (ARTICLE_GRAPH, HPO_GRAPH):
        query = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{name}> {{ ?s ?p ?o }} }}"
        response = requests.get(served.sparql, params={"query": query, "format": "ntriples"}, timeout=60)
        assert response.status_code == 200, response.text
        part = ox.serialize(
            (quad.triple for quad in quads if quad.graph_name == ox.NamedNode(str(name))), format=ox.RdfFormat.N_TRIPLES
        )
        assert part is not None
        assert _canonical(response.content) == _canonical(part), name
        assert len(_canonical(part)) > 1000


def test_no_triple_is_in_two_graphs_of_the_build(built: Path) -> None:
    """Oxigraph's union default graph repeats a triple held by several graphs (``SELECT *`` answers it once per
    graph), where the union dumps and the served indexes hold it once: the build's parts must stay disjoint for the
    union to answer as the ``.nt`` does."""
    quads = list(ox.parse(path=built / "calcinosis-kg.nq", format=ox.RdfFormat.N_QUADS))
    assert len({quad.triple for quad in quads}) == len(quads)


def _canonical(ntriples: bytes) -> list[str]:
    """The triples of an N-Triples document with canonical blank-node labels (RDFC-1.0), sorted."""
    dataset = ox.Dataset(ox.parse(ntriples, format=ox.RdfFormat.N_TRIPLES))
    dataset.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    return sorted(str(quad) for quad in dataset)


@pytest.fixture(scope="module")
def union_app(built: Path) -> Iterator[Flask]:
    """The union ``calcinosis-kg.nt`` in one default graph, as the server served it before the named graphs."""
    app = create_app({"KG_DATA": [built / "calcinosis-kg.nt"], "TESTING": True, "KG_BUNDLE": "off", **BUILT_SETTINGS})
    yield app
    query_pool(app).close()


def test_every_canned_query_answers_as_on_the_union_file(served: LiveServer, union_app: Flask) -> None:
    client = union_app.test_client()
    asked = 0
    for name, query in load_catalog().items():
        if any(param.required for param in query.params) or query.query_type != "SELECT":
            continue
        before = client.get(f"/queries/{name}")
        now = requests.get(f"{served.url}/queries/{name}", timeout=60)
        assert (now.status_code, before.status_code) == (200, 200), name
        assert comparable(now.json()) == comparable(before.get_json()), name
        asked += 1
    assert asked > 20


def test_every_resource_document_and_page_is_as_on_the_union_file(served: LiveServer, union_app: Flask) -> None:
    """Every served IRI dereferenced: the same triples (N-Triples, compared canonicalized: blank-node labels are
    the files' own) and the same HTML page as from the union file."""
    client = union_app.test_client()
    resources = sorted(str(iri) for iri in app_services(union_app).linked_data.resources)
    session = requests.Session()
    compared = 0
    for iri in resources:
        if not iri.startswith(SITE):
            continue
        path = iri.removeprefix(SITE.removesuffix("/"))
        for accept in ("application/n-triples", "text/html"):
            before = client.get(path, headers={"Accept": accept})
            now = session.get(served.url + path, headers={"Accept": accept}, timeout=60)
            assert now.status_code == before.status_code, (path, accept)
            if before.status_code != 200:
                continue
            if accept == "text/html":
                assert now.content == before.data, path
            else:
                assert _canonical(now.content) == _canonical(before.data), path
            compared += 1
    assert compared > 300


def test_the_service_description_and_void_name_the_graphs(
    served: LiveServer, expected: dict[str, Any], built: Path
) -> None:
    """The SD's default dataset: the union as default graph (and the feature), each named graph with its size;
    VoID: the dataset's size and each named graph a subset of the same size; all as the build counted them (its
    ``summary.json`` and the named-graph table of its ``summary.md``)."""
    sd = Graph().parse(data=requests.get(served.sparql, headers={"Accept": "text/turtle"}, timeout=60).text)
    service = sd.value(predicate=RDF.type, object=SD.Service)
    assert (service, SD.feature, SD.UnionDefaultGraph) in sd
    dataset = sd.value(service, SD.defaultDataset)
    default_graph = sd.value(dataset, SD.defaultGraph)
    assert sd.value(default_graph, VOID.triples).toPython() == expected["triples"]
    assert "union of all graphs" in str(sd.value(default_graph, DCTERMS.description))
    named = {
        str(sd.value(node, SD.name)): sd.value(sd.value(node, SD.graph), VOID.triples).toPython()
        for node in sd.objects(dataset, SD.namedGraph)
    }
    assert named == expected["graphs"]

    void = Graph().parse(data=requests.get(f"{served.url}/.well-known/void", timeout=60).text, format="turtle")
    described = void.value(predicate=RDF.type, object=URIRef("http://www.w3.org/ns/dcat#Dataset"))
    assert void.value(described, VOID.triples).toPython() == expected["triples"]
    subsets = {
        str(void.value(subset, SD.name)): void.value(subset, VOID.triples).toPython()
        for subset in void.objects(described, VOID.subset)
    }
    assert subsets == expected["graphs"]
    table = (built / "summary.md").read_text(encoding="utf-8")  # the per-graph table of the build's summary
    rows = dict(re.findall(r"^\| <([^>]+)> \| (\d+) \|", table, re.MULTILINE))
    assert {name: int(triples) for name, triples in rows.items()} == subsets


def test_the_dumps_are_the_builds_files(served: LiveServer, built: Path) -> None:
    """The union dumps stay the union; the N-Quads dump carries the graphs: both are the build's files."""
    for name in ("calcinosis-kg.nq", "calcinosis-kg.nt", "calcinosis-kg.ttl"):
        response = requests.get(f"{served.url}/dumps/{name}", timeout=60)
        assert response.status_code == 200, name
        assert response.content == (built / name).read_bytes(), name


def test_files_named_by_kg_data_keep_their_default_graph(built: Path, expected: dict[str, Any]) -> None:
    """``KG_DATA`` naming the ``.nq``: its default graph is its unnamed graph (the ontology), as before."""
    app = create_app({"KG_DATA": [built / "calcinosis-kg.nq"], "TESTING": True, "KG_BUNDLE": "off", **BUILT_SETTINGS})
    try:
        client = app.test_client()
        query = "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"
        answer = client.get("/sparql", query_string={"query": query}, headers=JSON_RESULTS).get_json()
        unnamed = expected["triples"] - sum(expected["graphs"].values())
        assert int(answer["results"]["bindings"][0]["n"]["value"]) == unnamed > 0
        sd = Graph().parse(data=client.get("/sparql", headers={"Accept": "text/turtle"}).text, format="turtle")
        assert (None, SD.feature, SD.UnionDefaultGraph) not in sd
    finally:
        query_pool(app).close()
