"""The SPARQL 1.1 Service Description served on GET /sparql without a query."""

from __future__ import annotations

import pytest
import requests
from rdflib import RDF, Graph, Literal, Namespace, URIRef
from rdflib.compare import isomorphic

from tests.support import AppFactory
from tests.support.live_server import LiveServer

pytestmark = [pytest.mark.engine, pytest.mark.live]

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
VOID = Namespace("http://rdfs.org/ns/void#")
INTEGER = URIRef("http://www.w3.org/2001/XMLSchema#integer")
FORMATS = Namespace("http://www.w3.org/ns/formats/")
RDF_TYPES = ["text/turtle", "application/n-triples", "application/ld+json", "application/rdf+xml"]


def description(response: requests.Response) -> Graph:
    assert response.status_code == 200, response.text
    return Graph().parse(data=response.content, format=response.headers["Content-Type"].split(";")[0])


def test_service_description_content(server: LiveServer, sample_graph: Graph) -> None:
    graph = description(requests.get(server.sparql, timeout=10))
    service = graph.value(predicate=RDF.type, object=SD.Service)
    assert service is not None
    assert graph.value(service, SD.endpoint) == URIRef(server.sparql)
    assert set(graph.objects(service, SD.supportedLanguage)) == {SD.SPARQL11Query}
    assert set(graph.objects(service, SD.resultFormat)) == {
        FORMATS[name]
        for name in (
            "SPARQL_Results_JSON",
            "SPARQL_Results_XML",
            "SPARQL_Results_CSV",
            "SPARQL_Results_TSV",
            "Turtle",
            "N-Triples",
            "JSON-LD",
            "RDF_XML",
        )
    }
    assert (service, SD.feature, SD.UnionDefaultGraph) not in graph
    dataset = graph.value(service, SD.defaultDataset)
    default_graph = graph.value(dataset, SD.defaultGraph)
    assert graph.value(default_graph, VOID.triples) == Literal(len(sample_graph), datatype=INTEGER)
    named = {
        graph.value(node, SD.name): graph.value(graph.value(node, SD.graph), VOID.triples)
        for node in graph.objects(dataset, SD.namedGraph)
    }
    assert named == {
        URIRef("https://example.org/graph/bibliography"): Literal(2, datatype=INTEGER),
        URIRef("https://example.org/graph/mappings"): Literal(2, datatype=INTEGER),
    }


def test_service_description_in_every_rdf_format(server: LiveServer) -> None:
    graphs = [
        description(requests.get(server.sparql, headers={"Accept": media_type}, timeout=10)) for media_type in RDF_TYPES
    ]
    graphs.append(description(requests.get(server.sparql, params={"format": "jsonld"}, timeout=10)))
    for graph in graphs[1:]:
        assert isomorphic(graph, graphs[0])


def test_service_description_endpoint_is_the_url_used(server: LiveServer) -> None:
    graph = description(requests.get(f"{server.sparql}/", timeout=10))
    assert (None, SD.endpoint, URIRef(f"{server.sparql}/")) in graph


def test_service_description_not_acceptable(server: LiveServer) -> None:
    response = requests.get(server.sparql, headers={"Accept": "application/sparql-results+json"}, timeout=10)
    assert response.status_code == 406
    assert "text/turtle" in response.text


FORWARDED = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "kg.example.org",
    "X-Forwarded-Prefix": "/calcinosis",
    "X-Forwarded-For": "203.0.113.9",
}


@pytest.mark.parametrize(
    ("trust_proxy", "endpoint"),
    [("1", "https://kg.example.org/calcinosis/sparql"), ("0", "http://localhost/sparql")],
)
def test_forwarded_headers_only_when_the_proxy_is_trusted(
    app_factory: AppFactory, trust_proxy: str, endpoint: str
) -> None:
    client = app_factory({"KG_TRUST_PROXY": trust_proxy}).test_client()
    response = client.get("/sparql", headers=FORWARDED)
    graph = Graph().parse(data=response.get_data(), format="turtle")
    assert (None, SD.endpoint, URIRef(endpoint)) in graph


def test_union_default_graph(app_factory: AppFactory, sample_graph: Graph) -> None:
    client = app_factory({"KG_UNION_DEFAULT_GRAPH": "true"}).test_client()
    graph = Graph().parse(data=client.get("/sparql").get_data(), format="turtle")
    service = graph.value(predicate=RDF.type, object=SD.Service)
    assert (service, SD.feature, SD.UnionDefaultGraph) in graph
    default_graph = graph.value(graph.value(service, SD.defaultDataset), SD.defaultGraph)
    assert graph.value(default_graph, VOID.triples) == Literal(len(sample_graph) + 4, datatype=INTEGER)
    answer = client.get("/sparql", query_string={"query": "ASK { ?s skos:exactMatch ?o }", "format": "json"})
    assert answer.get_json()["boolean"] is True
