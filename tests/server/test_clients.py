"""Real SPARQL clients (SPARQLWrapper, rdflib's SPARQLStore) get the answers rdflib gives in-process.

The reference answers come from rdflib querying the sample Turtle file directly (``sample_graph``). Every
query form is tried in every result format the endpoint writes, by GET, form POST and direct POST.
CSV loses term types by design, so CSV answers are compared as strings.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import pytest
from rdflib import BNode, Graph, Literal, URIRef, Variable
from rdflib.compare import isomorphic
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from rdflib.query import Result
from rdflib.term import Node
from SPARQLWrapper import (
    CSV,
    JSON,
    JSONLD,
    N3,
    POSTDIRECTLY,
    RDFXML,
    TSV,
    TURTLE,
    URLENCODED,
    XML,
    SPARQLWrapper,
)

from calcinosis_kg.ontology import PREFIXES
from tests.support.live_server import LiveServer

pytestmark = [pytest.mark.engine, pytest.mark.live]

SELECT_LITERALS = "SELECT ?s ?p ?o WHERE { ?s ?p ?o FILTER(isLiteral(?o)) }"
SELECT_OPTIONAL = "SELECT ?s ?pref WHERE { ?s a cco:Condition OPTIONAL { ?s skos:prefLabel ?pref } }"
ASK_TRUE = "ASK { cc:diltiazem cco:dailyDoseMg 240 }"
ASK_FALSE = "ASK { cc:diltiazem cco:dailyDoseMg 241 }"
CONSTRUCT = """CONSTRUCT { ?ax ?p ?o . ?s rdfs:label ?label }
WHERE { { ?ax a owl:Axiom ; ?p ?o } UNION { ?s rdfs:label ?label } }"""
DESCRIBED = "cc:dystrophic-calcinosis-cutis"
DESCRIBE = f"DESCRIBE {DESCRIBED}"
DESCRIPTION = """CONSTRUCT { ?r ?p ?o . ?s ?q ?r . ?s ?ap ?av . ?x ?lp ?label . ?n a ?type . ?src ?d ?dv }
WHERE {
  VALUES ?r { cc:dystrophic-calcinosis-cutis }
  { ?r ?p ?o } UNION { ?s ?q ?r } UNION { ?s ?q ?r FILTER(isBlank(?s)) ?s ?ap ?av }
  UNION {
    { ?r ?x ?o0 } UNION { ?r ?p0 ?x } UNION { ?s0 ?x ?r } UNION { ?x ?p0 ?r }
    UNION { ?b ?q0 ?r FILTER(isBlank(?b)) { ?b ?x ?v0 } UNION { ?b ?p0 ?x } }
    FILTER(isIRI(?x) && ?x != ?r)
    VALUES ?lp { rdfs:label skos:prefLabel }
    ?x ?lp ?label
  }
  UNION {
    { ?r ?p0 ?n } UNION { ?n ?p0 ?r } UNION { ?b ?q0 ?r FILTER(isBlank(?b)) ?b ?p1 ?n }
    FILTER(isIRI(?n) && ?n != ?r)
    ?n a ?type
  }
  UNION {
    VALUES ?cite { cco:supportedBy dcterms:source }
    { ?r ?cite ?src } UNION { ?b ?q0 ?r FILTER(isBlank(?b)) ?b ?cite ?src }
    FILTER(isIRI(?src) && ?src != ?r)
    VALUES ?d { dcterms:title bibo:doi schema:url cco:authorList cco:journalTitle cco:publicationYear }
    ?src ?d ?dv
  }
}"""
"""What the endpoint's DESCRIBE should return for ``DESCRIBED``, as a plain SPARQL query."""

Row = tuple[Node | None, ...]
METHODS = [("GET", URLENCODED), ("POST", URLENCODED), ("POST", POSTDIRECTLY)]


def reference_rows(graph: Graph, query: str) -> set[Row]:
    result = graph.query(query, initNs=PREFIXES)
    return {tuple(row) for row in result}  # type: ignore[arg-type]


def reference_graph(graph: Graph, query: str) -> Graph:
    result = graph.query(query, initNs=PREFIXES)
    assert result.graph is not None
    return result.graph


def rows_of(result: Result, variables: Iterable[str]) -> set[Row]:
    return {tuple(row.get(Variable(var)) for var in variables) for row in result.bindings}


def as_csv(rows: set[Row]) -> set[tuple[str, ...]]:
    def text(term: Node | None) -> str:
        if term is None:
            return ""
        return f"_:{term}" if isinstance(term, BNode) else str(term)

    return {tuple(text(term) for term in row) for row in rows}


def wrapper(server: LiveServer, query: str, return_format: str, method: tuple[str, str]) -> SPARQLWrapper:
    client = SPARQLWrapper(server.sparql)
    client.setQuery(f"PREFIX cc: <{PREFIXES['cc']}> PREFIX cco: <{PREFIXES['cco']}> {query}")
    client.setReturnFormat(return_format)
    client.setMethod(method[0])
    client.setRequestMethod(method[1])
    return client


def raw_answer(client: SPARQLWrapper) -> tuple[str, bytes]:
    response = client.query()
    media_type = response.info()["content-type"].split(";")[0]
    return media_type, response.response.read()


# --- SPARQLWrapper ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS, ids=lambda method: "-".join(method))
@pytest.mark.parametrize("return_format", [JSON, XML, CSV, TSV])
@pytest.mark.parametrize("query", [SELECT_LITERALS, SELECT_OPTIONAL], ids=["literals", "optional"])
def test_sparqlwrapper_select(
    server: LiveServer, sample_graph: Graph, query: str, return_format: str, method: tuple[str, str]
) -> None:
    expected = reference_rows(sample_graph, query)
    media_type, body = raw_answer(wrapper(server, query, return_format, method))
    variables = [str(var) for var in sample_graph.query(query, initNs=PREFIXES).vars or []]
    answer = rows_of(Result.parse(io.BytesIO(body), content_type=media_type), variables)
    if return_format == CSV:
        assert as_csv(answer) == as_csv(expected)
    else:
        assert answer == expected


def test_sparqlwrapper_converts_json(server: LiveServer, sample_graph: Graph) -> None:
    converted = wrapper(server, SELECT_OPTIONAL, JSON, METHODS[0]).query().convert()
    assert isinstance(converted, dict)
    answer = set()
    for row in converted["results"]["bindings"]:
        pref = row.get("pref")
        label = Literal(pref["value"], lang=pref["xml:lang"]) if pref else None
        answer.add((URIRef(row["s"]["value"]), label))
    assert answer == reference_rows(sample_graph, SELECT_OPTIONAL)


@pytest.mark.parametrize("return_format", [JSON, XML, CSV, TSV])
@pytest.mark.parametrize(("query", "expected"), [(ASK_TRUE, True), (ASK_FALSE, False)], ids=["true", "false"])
def test_sparqlwrapper_ask(
    server: LiveServer, sample_graph: Graph, query: str, expected: bool, return_format: str
) -> None:
    assert sample_graph.query(query, initNs=PREFIXES).askAnswer is expected
    media_type, body = raw_answer(wrapper(server, query, return_format, METHODS[0]))
    if return_format in (JSON, XML):
        assert Result.parse(io.BytesIO(body), content_type=media_type).askAnswer is expected
    else:
        assert body.decode().split()[-1] == str(expected).lower()


GRAPH_FORMATS = [TURTLE, N3, RDFXML, XML, JSONLD]
GRAPH_QUERIES = [
    pytest.param(CONSTRUCT, CONSTRUCT, id="construct"),
    pytest.param(DESCRIBE, DESCRIPTION, id="describe"),
]
"""(query, in-process query giving the expected graph)"""


@pytest.mark.parametrize("method", METHODS, ids=lambda method: "-".join(method))
@pytest.mark.parametrize("return_format", GRAPH_FORMATS)
@pytest.mark.parametrize(("query", "reference"), GRAPH_QUERIES)
def test_sparqlwrapper_graphs(
    server: LiveServer,
    sample_graph: Graph,
    query: str,
    reference: str,
    return_format: str,
    method: tuple[str, str],
) -> None:
    media_type, body = raw_answer(wrapper(server, query, return_format, method))
    answer = Graph().parse(data=body, format=media_type)
    assert isomorphic(answer, reference_graph(sample_graph, reference))


# --- rdflib's SPARQLStore ---------------------------------------------------------------------------------

STORE_METHODS = ["GET", "POST", "POST_FORM"]


@pytest.mark.parametrize("method", STORE_METHODS)
@pytest.mark.parametrize("return_format", ["json", "xml", "csv", "tsv"])
def test_sparqlstore_select(server: LiveServer, sample_graph: Graph, return_format: str, method: str) -> None:
    store = SPARQLStore(query_endpoint=server.sparql, returnFormat=return_format, method=method)
    answer = store.query(SELECT_LITERALS)
    expected = reference_rows(sample_graph, SELECT_LITERALS)
    rows = rows_of(answer, ["s", "p", "o"])
    if return_format == "csv":
        assert as_csv(rows) == as_csv(expected)
    else:
        assert rows == expected


@pytest.mark.parametrize("return_format", ["json", "xml"])
def test_sparqlstore_ask(server: LiveServer, return_format: str) -> None:
    store = SPARQLStore(query_endpoint=server.sparql, returnFormat=return_format)
    assert store.query(ASK_TRUE).askAnswer is True
    assert store.query(ASK_FALSE).askAnswer is False


@pytest.mark.parametrize("method", STORE_METHODS)
@pytest.mark.parametrize("return_format", ["turtle", "nt", "json-ld", "xml"])
@pytest.mark.parametrize(("query", "reference"), GRAPH_QUERIES)
def test_sparqlstore_graphs(
    server: LiveServer, sample_graph: Graph, query: str, reference: str, return_format: str, method: str
) -> None:
    store = SPARQLStore(query_endpoint=server.sparql, returnFormat=return_format, method=method)
    answer = store.query(query)
    assert answer.graph is not None
    assert isomorphic(answer.graph, reference_graph(sample_graph, reference))


def test_sparqlstore_as_a_graph(server: LiveServer, sample_graph: Graph) -> None:
    """A read-only Graph backed by the endpoint: rdflib turns triple patterns into SELECT queries."""
    remote = Graph(store=SPARQLStore(query_endpoint=server.sparql, returnFormat="json"))
    subject = URIRef(PREFIXES["cc"]["diltiazem"])
    assert set(remote.predicate_objects(subject)) == set(sample_graph.predicate_objects(subject))
