"""The ``sparql`` engine against a real store (Oxigraph's server; Virtuoso with ``KG_TEST_STORE=virtuoso``): the
same answers as the embedded engine, our refusals before anything reaches the store, and 502/504 naming the store
while it is down or frozen, then recovery.

The embedded server is the session's ``server`` fixture (same data: the sample Turtle default graph and the
TriG named graphs); the remote one runs ``KG_ENGINE=sparql`` against a store holding that data
(:mod:`store_server`)"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pyoxigraph as ox
import pytest
import requests
from flask import Flask
from rdflib import DCAT, Graph
from rdflib.compare import isomorphic

from calcinosis_kg.queries.catalog import load_catalog
from tests.support import MARGIN, QUERY_TIMEOUT, SERVER_SETTINGS
from tests.support.live_server import SAMPLE_TTL, SOURCES_TRIG, LiveServer, free_port, live_server
from tests.support.probes import Listener
from tests.support.store_server import (
    StoreServer,
    oxigraph_binary,
    oxigraph_store,
    store_for_tests,
    store_installed,
    store_under_test,
)

pytestmark = [
    pytest.mark.engine,
    pytest.mark.live,
    pytest.mark.skipif(not store_installed(), reason="the store of KG_TEST_STORE is not installed"),
]

CC = "https://w3id.org/calcinosis-kg/id/"
SIMPLE_QUERY = "ASK { cc:diltiazem a cco:Treatment }"
_unique = itertools.count()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreServer]:
    folder = tmp_path_factory.mktemp("store")
    with store_for_tests(folder, [SAMPLE_TTL, SOURCES_TRIG], free_port(), free_port) as running:
        yield running


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory, store: StoreServer) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("remote")
    settings = {**SERVER_SETTINGS, **store.settings, "KG_ENGINE": "sparql", "KG_STORE_URL": store.url}
    with live_server(folder, [], settings, "--production", "--workers", "1") as live:
        yield live


def ask(server: LiveServer, query: str, accept: str = "application/sparql-results+json") -> requests.Response:
    return requests.post(server.sparql, data={"query": query}, headers={"Accept": accept}, timeout=30)


SAME_BYTES = [
    ("SELECT ?s ?label WHERE { ?s skos:prefLabel ?label } ORDER BY ?s ?label", "application/sparql-results+json"),
    ("SELECT ?s ?label WHERE { ?s skos:prefLabel ?label } ORDER BY ?s ?label", "text/csv"),
    ("SELECT ?s ?label WHERE { ?s skos:prefLabel ?label } ORDER BY ?s ?label", "application/sparql-results+xml"),
    ("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", "text/tab-separated-values"),
    ("ASK { cc:diltiazem a cco:Treatment }", "application/sparql-results+json"),
    ("ASK { cc:diltiazem a cco:Symptom }", "application/sparql-results+xml"),
    ("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g", "text/csv"),
    ("BASE <http://example.org/> SELECT ?x WHERE { BIND(<relative> AS ?x) }", "text/csv"),
]


def test_relative_iris_resolve_against_our_endpoint_not_the_store(remote: LiveServer, store: StoreServer) -> None:
    answered = ask(remote, "SELECT ?x WHERE { BIND(<relative> AS ?x) }", "text/csv")
    assert answered.text == f"x\r\n{remote.url}/relative\r\n"


@pytest.mark.parametrize(("query", "accept"), SAME_BYTES)
def test_results_are_byte_identical_to_the_embedded_engine(
    server: LiveServer, remote: LiveServer, query: str, accept: str
) -> None:
    embedded, answered = ask(server, query, accept), ask(remote, query, accept)
    assert embedded.status_code == 200, embedded.text
    assert (answered.status_code, answered.headers["Content-Type"], answered.content) == (
        embedded.status_code,
        embedded.headers["Content-Type"],
        embedded.content,
    )


GRAPH_QUERIES = [
    "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }",
    f"DESCRIBE <{CC}metastatic-calcinosis-cutis>",
    "DESCRIBE ?x WHERE { ?x a cco:Treatment }",
    "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }",
]


@pytest.mark.parametrize("query", GRAPH_QUERIES)
def test_graphs_are_the_same_as_the_embedded_engine(server: LiveServer, remote: LiveServer, query: str) -> None:
    """Isomorphic rather than byte-equal: the store names blank nodes its own way."""
    embedded, answered = ask(server, query, "text/turtle"), ask(remote, query, "text/turtle")
    assert embedded.status_code == answered.status_code == 200, answered.text
    expected, got = (
        Graph().parse(data=embedded.text, format="turtle"),
        Graph().parse(data=answered.text, format="turtle"),
    )
    assert len(expected) > 0
    assert isomorphic(expected, got)


REFUSED = [
    "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
    "INSERT DATA { <urn:a> <urn:b> <urn:c> }",
    "SELECT * FROM <http://example.org/not-here> WHERE { ?s ?p ?o }",
    "SELECT * WHERE { ?s ?p }",
    "ASK { ?s ?p }",
    "SELECT * WHERE { ?s undeclared:p ?o }",
    "SELECT * WHERE " + "{ " * 300 + "}" * 300,
    "SELECT * WHERE { ?s ?p ?o . ?a ?b ?c }",  # over KG_MAX_ROWS
]


@pytest.mark.parametrize("query", REFUSED)
def test_refusals_are_the_embedded_engines(server: LiveServer, remote: LiveServer, query: str) -> None:
    embedded, answered = ask(server, query), ask(remote, query)
    assert embedded.status_code in (400, 403)
    if "nests brackets" in embedded.text:  # the same refusal at this engine's lower depth limit (settings.py)
        assert (answered.status_code, "nests brackets" in answered.text) == (400, True), answered.text
        return
    assert (answered.status_code, answered.text) == (embedded.status_code, embedded.text)


DEEP = [  # each crashed Oxigraph 0.5.13's server (stack overflow) when sent as is; our lower limits refuse them
    ("SELECT " + " ".join(f"(1 AS ?v{i})" for i in range(1000)) + " {}", "tokens"),
    ("SELECT (" + "+".join("1" for _ in range(2000)) + " AS ?x) {}", "tokens"),
    ("SELECT * WHERE { ?s ?p ?o " + " ".join(f"BIND(1 AS ?b{i})" for i in range(1000)) + "}", "tokens"),
    ("ASK { " + "FILTER EXISTS {" * 250 + "}" * 250 + "}", "nests brackets"),
    ("SELECT ?x WHERE { BIND(" + "STR(" * 250 + "1" + ")" * 250 + " AS ?x) }", "nests brackets"),
]


@pytest.mark.parametrize(("query", "limit"), DEEP)
def test_queries_that_would_crash_the_store_are_refused_before_it(remote: LiveServer, query: str, limit: str) -> None:
    response = ask(remote, query)
    assert response.status_code == 400
    assert limit in response.text
    assert ask(remote, SIMPLE_QUERY).status_code == 200


def test_service_never_reaches_the_network(remote: LiveServer) -> None:
    listener = Listener()
    try:
        response = ask(remote, f"SELECT * WHERE {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }}")
        assert response.status_code == 403
        assert listener.connections == 0
    finally:
        listener.close()


def test_linked_data_lookup_and_canned_queries(server: LiveServer, remote: LiveServer) -> None:
    for path, accept in [
        ("/id/diltiazem", "application/n-triples"),
        ("/lookup?q=calc", "application/json"),
        ("/queries", "application/json"),
        ("/.well-known/void", "text/turtle"),
    ]:
        embedded = requests.get(server.url + path, headers={"Accept": accept}, timeout=30)
        answered = requests.get(remote.url + path, headers={"Accept": accept}, timeout=30)
        assert answered.status_code == embedded.status_code == 200, (path, answered.text)
        if accept in ("text/turtle", "application/n-triples"):
            fmt = "nt" if accept == "application/n-triples" else "turtle"
            expected = Graph().parse(data=embedded.text.replace(server.url, remote.url), format=fmt)
            got = Graph().parse(data=answered.text, format=fmt)
            for graph in (expected, got):  # the dumps are written anew from the store (its blank-node labels)
                graph.remove((None, DCAT.byteSize, None))
            assert isomorphic(expected, got), path
        else:
            assert answered.json() == embedded.json(), path


def unique_query() -> str:
    return f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s ?p ?o FILTER(?o != {next(_unique)}) }}"


def test_store_down_then_frozen_gives_502_and_504_naming_it_then_recovers(
    remote: LiveServer, store: StoreServer
) -> None:
    assert ask(remote, unique_query()).status_code == 200
    store.stop()
    try:
        started = time.monotonic()
        down = ask(remote, unique_query())
        assert time.monotonic() - started < QUERY_TIMEOUT + MARGIN
        assert down.status_code == 502, down.text
        assert store.url in down.text
        health = requests.get(remote.url + "/health", timeout=10)
        assert health.status_code == 503
        assert health.json()["store"] == {**health.json()["store"], "url": store.url, "state": "down"}
    finally:
        store.start()
    assert ask(remote, unique_query()).status_code == 200
    assert requests.get(remote.url + "/health", timeout=10).json()["store"]["state"] == "up"

    store.freeze()
    try:
        started = time.monotonic()
        slow = ask(remote, unique_query())
        elapsed = time.monotonic() - started
        assert slow.status_code == 504, slow.text
        assert store.url in slow.text
        assert QUERY_TIMEOUT - 0.5 < elapsed < QUERY_TIMEOUT + MARGIN
        described = requests.get(remote.url + "/id/diltiazem", headers={"Accept": "text/turtle"}, timeout=30)
        assert described.status_code in (200, 504)  # answered from the cache, or the store's timeout
    finally:
        store.thaw()
    assert ask(remote, unique_query()).status_code == 200


STORE_DEFAULT_GRAPH = "urn:x-calcinosis-kg:test-default-graph"
FROM_STORE_DEFAULT_GRAPH = "SELECT * WHERE { ?s ?p ?o }".replace("WHERE", f"FROM <{STORE_DEFAULT_GRAPH}> WHERE")
FROM_QUERIES = [
    "SELECT (COUNT(*) AS ?n) FROM <https://example.org/graph/bibliography> WHERE { ?s ?p ?o }",
    "SELECT ?g (COUNT(*) AS ?n) FROM NAMED <https://example.org/graph/mappings> WHERE { GRAPH ?g { ?s ?p ?o } } "
    "GROUP BY ?g",
]


@pytest.mark.skipif(
    store_under_test() != "oxigraph" or not oxigraph_binary().exists(), reason="Oxigraph's server arranged as Virtuoso"
)
def test_a_graph_of_the_store_as_the_default_graph(server: LiveServer, tmp_path: Path) -> None:
    """``KG_STORE_DEFAULT_GRAPH``: the sample default graph held in a named graph of the store (as on Virtuoso,
    whose own default graph is the union) answers as the default graph, the store's other graphs as named ones."""
    graph = ox.NamedNode(STORE_DEFAULT_GRAPH)
    sample = [ox.Quad(q.subject, q.predicate, q.object, graph) for q in ox.parse(path=SAMPLE_TTL)]
    data = tmp_path / "arranged.nq"
    data.write_bytes(ox.serialize([*sample, *ox.parse(path=SOURCES_TRIG)], format=ox.RdfFormat.N_QUADS) or b"")
    with oxigraph_store(tmp_path, [data], free_port()) as store:
        settings = {
            **SERVER_SETTINGS,
            "KG_ENGINE": "sparql",
            "KG_STORE_URL": store.url,
            "KG_STORE_DEFAULT_GRAPH": STORE_DEFAULT_GRAPH,
        }
        with live_server(tmp_path, [], settings) as arranged:
            for query, accept in [*SAME_BYTES, *((q, "text/csv") for q in FROM_QUERIES)]:
                embedded, answered = ask(server, query, accept), ask(arranged, query, accept)
                assert embedded.status_code == 200, embedded.text
                assert (answered.status_code, answered.content) == (embedded.status_code, embedded.content), query
            for query in GRAPH_QUERIES:
                embedded, answered = ask(server, query, "text/turtle"), ask(arranged, query, "text/turtle")
                assert answered.status_code == 200, answered.text
                expected = Graph().parse(data=embedded.text, format="turtle")
                assert isomorphic(expected, Graph().parse(data=answered.text, format="turtle")), query
            refused = ask(arranged, FROM_STORE_DEFAULT_GRAPH)
            assert refused.status_code == 400, refused.text  # not one of our named graphs


# --- every route that reads the data, with the store stopped -------------------------------------------------

FHIR_JSON = "application/fhir+json"

NOT_READING_THE_STORE = {
    "static": "files of the package",
    "ui.static": "files of the package",
    "ui.npm_asset": "files of the package",
    "ui.editor": "the SPARQL editor's settings (prefixes, examples): the catalog, not the data",
    "openapi.api_page": "the API's documentation",
    "openapi.api_asset": "the API's documentation",
    "openapi.openapi_json": "the API's description, written from the catalog",
    "queries.list_queries": "the catalog of canned queries",
    "metrics.scrape": "the server's own counters",
    "health.health": "reports the store's state (tested above)",
    "fhir.metadata": "the CapabilityStatement: what the server can do",
    "linked_data.namespace0": "the bare namespaces are not resources (404 without a query)",
    "linked_data.namespace1": "the bare namespaces are not resources (404 without a query)",
    "linked_data.namespace2": "the bare namespaces are not resources (404 without a query)",
    "linked_data.document0": "the bare namespaces are not resources (404 without a query)",
    "linked_data.document1": "the bare namespaces are not resources (404 without a query)",
    "linked_data.document2": "the bare namespaces are not resources (404 without a query)",
    "void.dump": "the dumps are written at start-up",
    "lookup.lookup": "the lookup index is read at start-up on this engine",
    "void.void": "the VoID statistics are counted at start-up",
    "ui.search_page": "searches the labels read at start-up",
    "ui.home": "statistics read at start-up; its picture (when the data have its root) is left out while the "
    "store cannot answer, and drawn on a later visit",
}
"""Routes answered from what the server holds without asking the store, with why."""


@dataclass(frozen=True)
class Probe:
    method: str
    path: str
    accept: str
    form: dict[str, str] | None = None
    resource: dict[str, object] | None = None
    """A JSON body (a FHIR resource), instead of a form."""

    def send(self, server: LiveServer) -> requests.Response:
        return requests.request(
            self.method,
            server.url + self.path,
            data=self.form,
            json=self.resource,
            headers={"Accept": self.accept},
            timeout=30,
        )


def fhir_get(path: str) -> Probe:
    """A GET of the FHIR route ``/fhir/{path}``, accepting FHIR JSON."""
    return Probe("GET", f"/fhir/{path}", FHIR_JSON)


def probes_of_every_route(app: Flask, reference: LiveServer) -> dict[str, list[Probe]]:
    """For each route of the app that reads the data, requests that make it read (values from ``reference``)."""
    fhir = {"Accept": FHIR_JSON}
    system = requests.get(reference.url + "/fhir/CodeSystem", headers=fhir, timeout=30).json()["entry"][0]["resource"]
    value_set = requests.get(reference.url + "/fhir/ValueSet", headers=fhir, timeout=30).json()["entry"][0]["resource"]
    coded = f"system={quote(system['url'])}&code={quote(system['concept'][0]['code'])}"

    def batch(url: str) -> dict[str, object]:
        """A $batch-validate-code body of one validation of the first code against ``url``."""
        code = system["concept"][0]["code"]
        asked = [{"name": "url", "valueUri": url}, {"name": "system", "valueUri": system["url"]}]
        validation = {"resourceType": "Parameters", "parameter": [*asked, {"name": "code", "valueCode": code}]}
        return {"resourceType": "Parameters", "parameter": [{"name": "validation", "resource": validation}]}

    canned = []
    for query in load_catalog().values():
        required = "&".join(f"{p.name}={quote(str(p.default))}" for p in query.params if p.required)
        canned.append(Probe("GET", f"/queries/{query.name}?{required}", "*/*"))
    ask = f"ASK {{ ?s ?p {next(_unique)} }}"
    examples = {
        "sparql.sparql": [
            Probe("GET", f"/sparql?query={quote(unique_query())}", "application/sparql-results+json"),
            Probe("POST", "/sparql", "text/csv", {"query": unique_query()}),
            Probe("POST", "/sparql/", "text/turtle", {"query": f"DESCRIBE <{CC}diltiazem>"}),
        ],
        "queries.run_query": canned,
        "linked_data.member0": [
            Probe("GET", "/id/diltiazem", "text/html"),
            Probe("GET", "/id/diltiazem", "text/turtle"),
        ],
        "linked_data.member1": [Probe("GET", "/ontology/Treatment", "text/turtle")],
        "linked_data.member2": [],  # the sample data have no release: the view is member0's, on /releases/
        "ui.query": [
            Probe("GET", f"/query?query={quote(ask)}", "text/html"),
            Probe("POST", "/query", "text/html", {"query": f"ASK {{ ?s ?p {next(_unique)} }}"}),
        ],
        "fhir.search": [fhir_get(kind) for kind in ("CodeSystem", "ValueSet", "ConceptMap")],
        "fhir.read": [fhir_get(f"CodeSystem/{system['id']}"), fhir_get(f"ValueSet/{value_set['id']}")],
        "fhir.CodeSystem_lookup": [fhir_get(f"CodeSystem/$lookup?{coded}")],
        "fhir.CodeSystem_lookup_instance": [
            Probe("POST", f"/fhir/CodeSystem/{system['id']}/$lookup", FHIR_JSON, {"code": system["concept"][0]["code"]})
        ],
        "fhir.CodeSystem_subsumes": [fhir_get(f"CodeSystem/$subsumes?{coded}".replace("code=", "codeA=") + "&codeB=x")],
        "fhir.CodeSystem_subsumes_instance": [fhir_get(f"CodeSystem/{system['id']}/$subsumes?codeA=x&codeB=y")],
        "fhir.CodeSystem_validate_code": [fhir_get(f"CodeSystem/$validate-code?url={quote(system['url'])}&code=x")],
        "fhir.CodeSystem_validate_code_instance": [fhir_get(f"CodeSystem/{system['id']}/$validate-code?code=x")],
        "fhir.ValueSet_expand": [fhir_get(f"ValueSet/$expand?url={quote(value_set['url'])}")],
        "fhir.ValueSet_expand_instance": [fhir_get(f"ValueSet/{value_set['id']}/$expand")],
        "fhir.ValueSet_validate_code": [fhir_get(f"ValueSet/$validate-code?url={quote(value_set['url'])}&{coded}")],
        "fhir.ValueSet_validate_code_instance": [fhir_get(f"ValueSet/{value_set['id']}/$validate-code?{coded}")],
        "fhir.ConceptMap_translate": [fhir_get(f"ConceptMap/$translate?{coded}")],
        "fhir.ConceptMap_translate_instance": [fhir_get(f"ConceptMap/any/$translate?{coded}")],
        **{
            f"fhir.{kind}_batch_validate_code{suffix}": [
                Probe("POST", f"/fhir/{kind}/{instance}$batch-validate-code", FHIR_JSON, resource=batch(url))
            ]
            for kind, url, resource_id in (
                ("ValueSet", value_set["url"], value_set["id"]),
                ("CodeSystem", system["url"], system["id"]),
            )
            for suffix, instance in (("", ""), ("_instance", f"{resource_id}/"))
        },
    }
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    unclassified = endpoints - set(examples) - set(NOT_READING_THE_STORE)
    assert not unclassified, f"routes to add to this test (examples) or to NOT_READING_THE_STORE: {unclassified}"
    return {endpoint: examples[endpoint] for endpoint in sorted(endpoints & set(examples))}


FROZEN = ["fhir.ValueSet_expand", "linked_data.member0", "queries.run_query", "ui.query"]
"""Routes probed while the store is frozen (each waits for the time limit): one of each kind."""


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[tuple[StoreServer, LiveServer]]:
    """A store and a server on it that has answered nothing yet (its caches, lookup index and FHIR registry
    are empty: every route has to ask the store)."""
    with oxigraph_store(tmp_path, [SAMPLE_TTL, SOURCES_TRIG], free_port()) as store:
        settings = {**SERVER_SETTINGS, "KG_ENGINE": "sparql", "KG_STORE_URL": store.url}
        with live_server(tmp_path, [], settings, "--production", "--workers", "1") as live:
            yield store, live


def test_every_route_that_reads_the_data_answers_502_naming_the_store_while_it_is_down_then_recovers(
    app: Flask, server: LiveServer, fresh: tuple[StoreServer, LiveServer]
) -> None:
    store, remote = fresh
    probes = probes_of_every_route(app, server)
    store.freeze()
    try:
        for endpoint in FROZEN:
            probe = probes[endpoint][0]
            started = time.monotonic()
            slow = probe.send(remote)
            assert slow.status_code == 504, (endpoint, slow.status_code, slow.text[:300])
            assert time.monotonic() - started < QUERY_TIMEOUT + MARGIN, endpoint
            assert store.url in slow.text, endpoint
            if endpoint.startswith("fhir."):
                assert slow.json()["issue"][0]["code"] == "timeout"
    finally:
        store.thaw()
    store.stop()
    try:
        for endpoint, requests_of_route in probes.items():
            for probe in requests_of_route:
                started = time.monotonic()
                down = probe.send(remote)
                elapsed = time.monotonic() - started
                where = (endpoint, probe.method, probe.path, probe.accept)
                assert down.status_code in (502, 504), (where, down.status_code, down.text[:300])
                assert elapsed < QUERY_TIMEOUT + MARGIN, where
                if endpoint.startswith("fhir."):
                    outcome = down.json()
                    assert outcome["resourceType"] == "OperationOutcome", where
                    assert store.url in outcome["issue"][0]["details"]["text"], where
                else:
                    assert store.url in down.text, (where, down.text[:300])
    finally:
        store.start()
    for endpoint, requests_of_route in probes.items():  # the same server, without a restart
        for probe in requests_of_route:
            expected, answered = probe.send(server), probe.send(remote)
            assert answered.status_code == expected.status_code, (endpoint, probe.path, answered.text[:300])
