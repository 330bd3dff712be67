"""Content negotiation: Accept with q-values and specificity, the format parameter, 406."""

from __future__ import annotations

import io

import pytest
from flask.testing import FlaskClient
from rdflib import Graph
from rdflib.query import Result

from calcinosis_kg.server.errors import FormatNotAcceptable, ProtocolError
from calcinosis_kg.server.http.formats import Family, choose_format
from tests.support.api import GRAPH_TYPES

pytestmark = pytest.mark.engine

RESULTS, GRAPH = Family.RESULTS, Family.GRAPH


@pytest.mark.parametrize(
    ("accept", "family", "expected"),
    [
        (None, RESULTS, "json"),
        (None, GRAPH, "turtle"),
        ("", RESULTS, "json"),
        ("*/*", RESULTS, "json"),
        ("*/*", GRAPH, "turtle"),
        ("text/csv", RESULTS, "csv"),
        ("application/sparql-results+xml;q=0.5, application/sparql-results+json;q=0.9", RESULTS, "json"),
        ("application/sparql-results+xml;q=0.9, application/sparql-results+json;q=0.5", RESULTS, "xml"),
        ("text/*;q=0.9, text/csv;q=0", RESULTS, "tsv"),
        ("text/csv, */*", RESULTS, "csv"),
        ("*/*;q=0.1, text/tab-separated-values", RESULTS, "tsv"),
        ("text/*, application/sparql-results+json;q=0.5", RESULTS, "csv"),
        ("application/json", RESULTS, "json"),
        ("application/json", GRAPH, "jsonld"),
        ("application/xml", RESULTS, "xml"),
        ("application/xml", GRAPH, "rdfxml"),
        ("text/plain", GRAPH, "ntriples"),
        ("application/rdf+xml, text/turtle;q=0.8", GRAPH, "rdfxml"),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", RESULTS, "xml"),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", GRAPH, "rdfxml"),
        ("Text/Turtle; charset=UTF-8", GRAPH, "turtle"),
        ("nonsense, application/n-triples", GRAPH, "ntriples"),
        ("text/csv;q=oops, text/tab-separated-values;q=0.2", RESULTS, "tsv"),
    ],
)
def test_accept(accept: str | None, family: Family, expected: str) -> None:
    assert choose_format(accept, (), family).key == expected


@pytest.mark.parametrize(
    ("accept", "family"),
    [
        ("text/html", RESULTS),
        ("text/plain", RESULTS),
        ("text/csv", GRAPH),
        ("application/sparql-results+json;q=0", RESULTS),
        ("*/*;q=0", GRAPH),
    ],
)
def test_nothing_acceptable(accept: str, family: Family) -> None:
    with pytest.raises(FormatNotAcceptable, match="Available: "):
        choose_format(accept, (), family)


@pytest.mark.parametrize(
    ("values", "family", "expected"),
    [
        (("json",), RESULTS, "json"),
        (("json",), GRAPH, "jsonld"),
        (("xml",), RESULTS, "xml"),
        (("xml",), GRAPH, "rdfxml"),
        (("csv",), RESULTS, "csv"),
        (("TSV",), RESULTS, "tsv"),
        (("turtle",), GRAPH, "turtle"),
        (("ttl",), GRAPH, "turtle"),
        (("ntriples",), GRAPH, "ntriples"),
        (("jsonld",), GRAPH, "jsonld"),
        (("rdfxml",), GRAPH, "rdfxml"),
        (("application/n-triples",), GRAPH, "ntriples"),
        (("text/csv",), RESULTS, "csv"),
        # SPARQLWrapper repeats the parameter with a short name and a media type.
        (("tsv", "text/tab-separated-values"), RESULTS, "tsv"),
        (("json-ld", "application/ld+json"), GRAPH, "jsonld"),
    ],
)
def test_format_parameter(values: tuple[str, ...], family: Family, expected: str) -> None:
    assert choose_format("text/html", values, family).key == expected


def test_format_parameter_errors() -> None:
    with pytest.raises(ProtocolError, match="Unknown format 'yaml'"):
        choose_format(None, ("yaml",), RESULTS)
    with pytest.raises(ProtocolError, match="different formats"):
        choose_format(None, ("json", "csv"), RESULTS)
    with pytest.raises(FormatNotAcceptable, match="format=csv is not available"):
        choose_format(None, ("csv",), GRAPH)


# --- through the app (the Flask test client) --------------------------------------------------------------------------

SELECT = "SELECT ?s ?label WHERE { ?s rdfs:label ?label } ORDER BY ?s ?label"
ASK = "ASK { cc:diltiazem a cco:Treatment }"
CONSTRUCT = "CONSTRUCT { ?s rdfs:label ?label } WHERE { ?s rdfs:label ?label }"
DESCRIBE = "DESCRIBE cc:diltiazem"

RESULT_TYPES = {
    "json": "application/sparql-results+json",
    "xml": "application/sparql-results+xml; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "tsv": "text/tab-separated-values; charset=utf-8",
}


@pytest.mark.parametrize(("key", "content_type"), RESULT_TYPES.items())
def test_select_in_every_format(client: FlaskClient, sample_graph: Graph, key: str, content_type: str) -> None:
    accept = content_type.split(";")[0]
    response = client.get("/sparql", query_string={"query": SELECT}, headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.headers["Vary"] == "Accept"
    parsed = Result.parse(io.BytesIO(response.data), content_type=accept)
    assert len(parsed) == len(sample_graph.query(SELECT, initNs={"cc": "https://w3id.org/calcinosis-kg/id/"}))


@pytest.mark.parametrize("key", RESULT_TYPES)
def test_ask_in_every_format(client: FlaskClient, key: str) -> None:
    response = client.get("/sparql", query_string={"query": ASK, "format": key})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == RESULT_TYPES[key]
    assert "true" in response.text


@pytest.mark.parametrize("query", [CONSTRUCT, DESCRIBE])
@pytest.mark.parametrize(("key", "content_type"), GRAPH_TYPES.items())
def test_graphs_in_every_format(client: FlaskClient, query: str, key: str, content_type: str) -> None:
    response = client.get("/sparql", query_string={"query": query, "format": key})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    graph = Graph().parse(data=response.data, format=content_type.split(";")[0])
    assert len(graph) > 0


def test_format_parameter_overrides_accept(client: FlaskClient) -> None:
    params = {"query": ASK, "format": "json"}
    headers = {"Accept": "application/sparql-results+xml"}
    response = client.get("/sparql", query_string=params, headers=headers)
    assert response.headers["Content-Type"] == "application/sparql-results+json"


def test_q_values_over_http(client: FlaskClient) -> None:
    headers = {"Accept": "text/turtle;q=0.2, application/rdf+xml;q=0.3, application/n-triples;q=0.9"}
    response = client.get("/sparql", query_string={"query": CONSTRUCT}, headers=headers)
    assert response.headers["Content-Type"] == "application/n-triples; charset=utf-8"


@pytest.mark.parametrize(
    ("query", "accept", "listed"),
    [
        (SELECT, "text/turtle", "application/sparql-results+json"),
        (ASK, "image/png", "text/csv"),
        (CONSTRUCT, "text/csv", "text/turtle"),
        (DESCRIBE, "application/sparql-results+json", "application/rdf+xml"),
    ],
)
def test_406_lists_what_is_available(client: FlaskClient, query: str, accept: str, listed: str) -> None:
    response = client.get("/sparql", query_string={"query": query}, headers={"Accept": accept})
    assert response.status_code == 406
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert accept in response.text
    assert listed in response.text
    assert "Traceback" not in response.text
