"""The Oxigraph engine through the endpoint: answers as Oxigraph gives them, SERVICE never followed, limits.

Reference answers come from a bare pyoxigraph store loaded with the same files: the endpoint must answer as
Oxigraph does, whatever layers it adds (lexer, worker pool, writers).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pyoxigraph as ox
import pytest
import requests

from calcinosis_kg.server.engines.oxigraph import QUERY_PREFIXES
from calcinosis_kg.server.settings import STORE_MAX_QUERY_DEPTH, STORE_MAX_QUERY_TOKENS
from calcinosis_kg.server.sparql.lexer import LexError, Limits, analyze
from tests.support.live_server import SAMPLE_TTL, SOURCES_TRIG, LiveServer
from tests.support.probes import Listener
from tests.support.store_server import engine_under_test

pytestmark = [pytest.mark.engine, pytest.mark.live]

JSON = {"Accept": "application/sparql-results+json"}
DIRECT = {"Content-Type": "application/sparql-query"}


@pytest.fixture(scope="module")
def bare() -> ox.Store:
    """The sample files in a bare pyoxigraph store (TriG named graphs kept)."""
    store = ox.Store()
    store.load(path=str(SAMPLE_TTL), format=ox.RdfFormat.TURTLE)
    store.load(path=str(SOURCES_TRIG), format=ox.RdfFormat.TRIG)
    return store


def ask(server: LiveServer, query: str, **params: Any) -> requests.Response:
    return requests.post(server.sparql, data={"query": query, **params}, headers=JSON, timeout=20)


def rows(body: dict[str, Any]) -> list[str]:
    return sorted(json.dumps(row, sort_keys=True) for row in body["results"]["bindings"])


def bare_rows(store: ox.Store, query: str) -> list[str]:
    result = store.query(query, prefixes=QUERY_PREFIXES)
    assert isinstance(result, ox.QuerySolutions)
    body = json.loads(result.serialize(format=ox.QueryResultsFormat.JSON))
    return rows(body)


SAME_AS_OXIGRAPH = [
    # alternative property paths and duplicates: rdflib gave four times as many rows as Oxigraph here
    "SELECT ?a ?la ?p ?b ?lb WHERE { ?a ?p ?b . FILTER(isIRI(?b)) "
    "?a skos:prefLabel|rdfs:label ?la . ?b skos:prefLabel|rdfs:label ?lb }",
    "SELECT ?s (SUM(?n) AS ?sum) (AVG(?n) AS ?avg) WHERE { VALUES (?s ?n) { (1 1) (1 2.5) (2 3) } } GROUP BY ?s",
    'SELECT ?d WHERE { BIND("2006-08-23Z"^^xsd:date AS ?d) }',
    "SELECT ?x WHERE { BIND(REPLACE('ABC', 'b', 'x', 'i') AS ?x) }",
    "SELECT ?x WHERE { VALUES ?x { 'a.b' 'a+b' } FILTER(REGEX(?x, 'a.b', 'q')) }",
    "SELECT ?x WHERE { VALUES ?x { 'ab' } FILTER(REGEX(?x, 'a b', 'x')) }",
    "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g",
    "SELECT * WHERE { ?s ?p ?o FILTER(isIRI(?s)) } ORDER BY ?s ?p ?o LIMIT 20",
]


@pytest.mark.parametrize("query", SAME_AS_OXIGRAPH)
def test_answers_are_oxigraphs(server: LiveServer, bare: ox.Store, query: str) -> None:
    response = ask(server, query)
    assert response.status_code == 200, response.text
    assert rows(response.json()) == bare_rows(bare, query)


def test_the_ask_that_timed_out_on_rdflib_is_answered(server: LiveServer, bare: ox.Store) -> None:
    """Two VALUES blocks and a five-branch UNION of one- and two-hop patterns: 6.4 s on rdflib, 503 at the limit."""
    query = """ASK {
      VALUES ?a { cc:calcinosis-cutis cc:dystrophic-calcinosis-cutis }
      VALUES ?b { cc:systemic-sclerosis cc:dermatomyositis }
      { ?a ?p ?b } UNION { ?b ?p ?a } UNION { ?a ?p ?m . ?m ?q ?b } UNION { ?b ?p ?m . ?m ?q ?a }
      UNION { ?a ?p ?m . ?b ?q ?m }
    }"""
    response = ask(server, query)
    assert response.status_code == 200, response.text
    expected = bare.query(query, prefixes=QUERY_PREFIXES)
    assert response.json()["boolean"] is bool(expected)


def test_an_invalid_regular_expression_is_an_error_value(server: LiveServer) -> None:
    """As in Oxigraph, an invalid pattern makes REGEX an error: the FILTER fails, the query is answered."""
    response = ask(server, "ASK { FILTER(REGEX('a', '(')) }")
    assert response.status_code == 200
    assert response.json()["boolean"] is False


def test_describe_star_describes_every_variable(server: LiveServer) -> None:
    query = "DESCRIBE * WHERE { ?s cco:subtypeOf cc:calcinosis-cutis }"
    response = requests.get(server.sparql, params={"query": query, "format": "ntriples"}, timeout=20)
    assert response.status_code == 200
    assert "dystrophic-calcinosis-cutis" in response.text


@pytest.mark.parametrize(
    ("query", "where"),
    [("ASK {", "line 1, column 6"), ("SELECT *\nWHERE {\n  ?s ?p ?o FILTER( }", "line 3, column")],
)
def test_syntax_errors_say_where(server: LiveServer, query: str, where: str) -> None:
    response = ask(server, query)
    assert response.status_code == 400
    assert where in response.text
    assert "^" in response.text


def test_invalid_queries_that_rdflib_answered_are_refused(server: LiveServer) -> None:
    """Examples of the W3C negative syntax tests that the rdflib fallback used to evaluate."""
    for query in (
        "SELECT * WHERE { VALUES (?a ?b) { (1) } }",
        "SELECT (COUNT(*) AS ?n) ?s WHERE { ?s ?p ?o }",
        "SELECT * WHERE { _:a ?p ?o OPTIONAL { _:a ?q ?r } }",
    ):
        response = ask(server, query)
        assert response.status_code == 400, (query, response.text)


def in_subprocess(code: str, *args: str) -> str:
    """Run pyoxigraph in a new interpreter (the test process forks query workers and must not have its threads)."""
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60, check=False)
    return done.stdout + done.stderr


def test_control_pyoxigraph_follows_service(listener: Listener) -> None:
    """Why SERVICE never reaches the engine: pyoxigraph would send the pattern over HTTP."""
    code = "import pyoxigraph, sys; list(pyoxigraph.Store().query(sys.argv[1]))"
    output = in_subprocess(code, f"SELECT * WHERE {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }}")
    assert "Error" in output
    assert listener.connections > 0


DISGUISED = [
    "SELECT * WHERE { \\u0053ERVICE <{url}> { ?s ?p ?o } }",
    "SELECT * WHERE { \\U00000053ERVICE <{url}> { ?s ?p ?o } }",
    "SELECT * WHERE { sErViCe <{url}> { ?s ?p ?o } }",
    "# a comment\nSELECT * WHERE { SERVICE <{url}> { ?s ?p ?o } }",
    "SELECT * WHERE {\n# a comment \\u000A SERVICE <{url}> { ?s ?p ?o }\n}",
    'SELECT * WHERE {\n# "quoted"\nSERVICE <{url}> { ?s ?p ?o } }',
    "SELECT * WHERE { BIND('''\n# x\n''' AS ?x) SERVICE <{url}> { ?s ?p ?o } }",
    "SELECT * WHERE { ?s ?p ?o }\r#\rSERVICE <{url}> { ?s ?p ?o }",
    "SELECT * FROM <{url}> WHERE { SERVICE <{url}> { ?s ?p ?o } }",
    "SELECT * WHERE { ?s ?p ?o FILTER(?o<'x>') SERVICE <{url}> { ?s ?p ?o } FILTER(?o='y') }",
    "SELECT * WHERE { BIND(\\u0027x\\u0027 AS ?x) SERVICE <{url}> { ?s ?p ?o } }",
    "SELECT * WHERE { ?s ?p trueSERVICE<{url}>{ ?s ?p ?o } }",
    "PREFIX : <{url}> SELECT * WHERE { SERVICE:x { ?s ?p ?o } }",
    "SELECT * WHERE { SERVICE SILENT <{url}> { ?s ?p ?o } }",
    "SELECT * WHERE { OPTIONAL { SERVICE <{url}> { ?s ?p ?o } } }",
    "SELECT * WHERE { FILTER EXISTS { SERVICE <{url}> { ?s ?p ?o } } }",
    "SELECT * WHERE { { SELECT * WHERE { SERVICE <{url}> { ?s ?p ?o } } } }",
]


@pytest.mark.parametrize("template", DISGUISED)
def test_service_in_disguise_is_refused_and_never_connects(
    server: LiveServer, listener: Listener, template: str
) -> None:
    query = template.replace("{url}", listener.url)
    response = requests.get(server.sparql, params={"query": query}, timeout=10)
    assert response.status_code in (400, 403), response.text
    assert listener.connections == 0


@pytest.mark.parametrize(
    "query",
    [
        "SELECT ?x WHERE { BIND('SERVICE <{url}> {}' AS ?x) }",
        "SELECT ?x WHERE { BIND(<{url}service> AS ?x) } # SERVICE",
        "SELECT ?service WHERE { BIND(1 AS ?service) }",
        "PREFIX schema: <https://schema.org/> SELECT ?x WHERE { ?x schema:serviceType ?t }",
    ],
)
def test_service_words_that_are_not_the_keyword_are_answered(
    server: LiveServer, listener: Listener, query: str
) -> None:
    response = requests.get(server.sparql, params={"query": query.replace("{url}", listener.url)}, timeout=10)
    assert response.status_code == 200, response.text
    assert listener.connections == 0


@pytest.mark.parametrize(
    ("shape", "limit"),
    [
        ("SELECT ?x WHERE { BIND(" + "STR(" * 2000 + "1" + ")" * 2000 + " AS ?x) }", "nests brackets"),
        ("ASK { " + "FILTER EXISTS {" * 1000 + "}" * 1000 + "}", "nests brackets"),
        ("SELECT * WHERE " + "{" * 5000 + "?s ?p ?o" + "}" * 5000, "nests brackets"),
        ("SELECT * WHERE { ?s <p> " + "[ <p> " * 1000 + "1" + "]" * 1000 + " }", "nests brackets"),
        ("SELECT " + " ".join(f"(1 AS ?v{i})" for i in range(5000)) + " {}", "tokens"),
        ("SELECT * WHERE { " + " ".join(f"?s{i} <p> ?o{i} ." for i in range(10000)) + "}", "tokens"),
        ("SELECT (" + "+".join("1" for _ in range(20000)) + " AS ?x) {}", "tokens"),
    ],
)
def test_deep_and_long_queries_are_refused_before_the_engine(server: LiveServer, shape: str, limit: str) -> None:
    response = requests.post(server.sparql, data=shape.encode(), headers=DIRECT, timeout=30)
    assert response.status_code in (400, 413), response.text[:200]
    store_limit = engine_under_test() == "sparql" and "tokens" in response.text  # its lower limits (settings.py)
    assert limit in response.text or "KG_MAX_BODY" in response.text or store_limit
    assert requests.get(f"{server.url}/health", timeout=10).status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "SELECT ?x WHERE { BIND(" + "STR(" * 200 + "1" + ")" * 200 + " AS ?x) }",
        "ASK { " + "FILTER EXISTS {" * 200 + "}" * 200 + "}",
        "SELECT " + " ".join(f"(1 AS ?v{i})" for i in range(1000)) + " {}",
    ],
)
def test_queries_within_the_limits_are_answered(server: LiveServer, query: str) -> None:
    response = requests.post(server.sparql, data=query.encode(), headers=DIRECT, timeout=30)
    if engine_under_test() == "sparql" and over_store_limits(query):  # lower limits protect the store (settings.py)
        assert response.status_code == 400, response.text[:300]
        assert "tokens" in response.text or "deep" in response.text
        return
    assert response.status_code == 200, response.text[:300]


def over_store_limits(query: str) -> bool:
    try:
        analyze(query, "http://x/", {}, Limits(max_depth=STORE_MAX_QUERY_DEPTH, max_tokens=STORE_MAX_QUERY_TOKENS))
    except LexError:
        return True
    return False


def test_the_predeclared_prefixes_are_rdflibs() -> None:
    """The prefixes queries may use undeclared: those rdflib predeclared when it was this endpoint's engine."""
    from rdflib.plugins.sparql.sparql import Prologue

    from calcinosis_kg.server.engines.common import RDFLIB_PREFIXES

    assert {prefix: str(iri) for prefix, iri in Prologue().namespace_manager.namespaces()} == RDFLIB_PREFIXES
