"""The SPARQL 1.1 Protocol: the three ways to send a query, the dataset parameters, refusals.

On the app in-process (the Flask test client on the sample data), but for what only a real server shows: the
endpoint's own URL as the base of relative IRIs, a chunked body cut at the size limit.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support import MAX_BODY
from tests.support.live_server import LiveServer
from tests.support.store_server import on_virtuoso

pytestmark = [pytest.mark.engine, pytest.mark.live]

CC = "https://w3id.org/calcinosis-kg/id/"
BIBLIOGRAPHY = "https://example.org/graph/bibliography"
MAPPINGS = "https://example.org/graph/mappings"
LABELS = "SELECT ?label WHERE { cc:dystrophic-calcinosis-cutis rdfs:label ?label }"
JSON = {"Accept": "application/sparql-results+json"}
FORM = "application/x-www-form-urlencoded"
Response = requests.Response | TestResponse
"""An answer of the real server (requests) or of the app in-process (the Flask test client)."""


def values(response: Response, variable: str) -> set[str]:
    assert response.status_code == 200, response.text
    return {row[variable]["value"] for row in json.loads(response.text)["results"]["bindings"] if variable in row}


def ask(response: Response) -> bool:
    assert response.status_code == 200, response.text
    answer = json.loads(response.text)["boolean"]
    assert isinstance(answer, bool)
    return answer


def test_get_post_form_and_post_direct_give_the_same_answer(client: FlaskClient) -> None:
    by_get = client.get("/sparql", query_string={"query": LABELS}, headers=JSON)
    by_form = client.post("/sparql", data={"query": LABELS}, headers=JSON)
    direct_headers = {**JSON, "Content-Type": "application/sparql-query"}
    by_body = client.post("/sparql", data=LABELS.encode(), headers=direct_headers)
    assert values(by_get, "label") == values(by_form, "label") == values(by_body, "label")
    assert values(by_get, "label") == {"dystrophic calcinosis cutis"}


def test_the_endpoint_also_answers_with_a_trailing_slash(client: FlaskClient) -> None:
    response = client.get("/sparql/", query_string={"query": LABELS}, headers=JSON)
    assert values(response, "label") == {"dystrophic calcinosis cutis"}


def test_project_prefixes_are_predeclared_and_can_be_redeclared(client: FlaskClient) -> None:
    query = "PREFIX cc: <http://example.org/other/> ASK { cc:dystrophic-calcinosis-cutis ?p ?o }"
    assert ask(client.get("/sparql", query_string={"query": query}, headers=JSON)) is False


def test_default_graph_is_the_default_graph_only(client: FlaskClient) -> None:
    query = "ASK { ?s <http://www.w3.org/2004/02/skos/core#exactMatch> ?o }"
    assert ask(client.get("/sparql", query_string={"query": query}, headers=JSON)) is False


def test_graph_ranges_over_the_named_graphs(client: FlaskClient) -> None:
    query = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"
    response = client.get("/sparql", query_string={"query": query}, headers=JSON)
    assert values(response, "g") == {BIBLIOGRAPHY, MAPPINGS}


def test_from_builds_the_default_graph_from_named_graphs(client: FlaskClient) -> None:
    query = "SELECT ?title FROM <https://example.org/graph/bibliography> WHERE { ?s dcterms:title ?title }"
    response = client.get("/sparql", query_string={"query": query}, headers=JSON)
    assert values(response, "title") == {"Calcinosis cutis: a review"}


def test_protocol_dataset_overrides_from(client: FlaskClient) -> None:
    query = "SELECT ?s FROM <https://example.org/graph/bibliography> WHERE { ?s skos:exactMatch ?o }"
    params = {"query": query, "default-graph-uri": MAPPINGS}
    response = client.get("/sparql", query_string=params, headers=JSON)
    assert values(response, "s") == {f"{CC}calcinosis-cutis", f"{CC}systemic-sclerosis"}


def test_named_graph_uri_limits_the_named_graphs(client: FlaskClient) -> None:
    query = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"
    params = {"query": query, "named-graph-uri": MAPPINGS}
    response = client.post("/sparql", data=params, headers=JSON)
    assert values(response, "g") == {MAPPINGS}


def test_protocol_dataset_with_named_graphs_only_has_an_empty_default_graph(client: FlaskClient) -> None:
    params = {"query": "ASK { ?s ?p ?o }", "named-graph-uri": MAPPINGS}
    assert ask(client.get("/sparql", query_string=params, headers=JSON)) is False


def test_relative_iris_resolve_against_the_endpoint_url(server: LiveServer) -> None:
    params = {"query": "SELECT (<x> AS ?iri) {}"}
    response = requests.get(server.sparql, params=params, headers=JSON, timeout=10)
    assert values(response, "iri") == {f"{server.url}/x"}


def test_the_base_iri_is_the_url_of_each_request(server: LiveServer) -> None:
    """The base is remembered per scheme, host, root and path: a request by another name gets its own."""
    for host in ("kg.example.org", "127.0.0.1:8000", "kg.example.org"):
        for path in ("/sparql", "/sparql/"):
            params = {"query": f"SELECT (<x> AS ?iri) {{}} # {host}{path}"}
            response = requests.get(server.url + path, params=params, headers={**JSON, "Host": host}, timeout=10)
            assert values(response, "iri") == {f"http://{host}{path.rsplit('/', 1)[0]}/x"}


def post(data: bytes | dict[str, str], content_type: str | None = None) -> dict[str, Any]:
    """The request arguments of a POST of ``data`` (a form when a dict), with this ``Content-Type`` when given."""
    arguments: dict[str, Any] = {"method": "POST", "data": data}
    if content_type is not None:
        arguments["headers"] = {"Content-Type": content_type}
    return arguments


REFUSALS: list[tuple[str, dict[str, Any], int, str]] = [
    ("syntax error", {"params": {"query": "ASK {"}}, 400, "line 1, column 6"),
    ("syntax error on line 3", {"params": {"query": "SELECT *\nWHERE {\n  ?s ?p ?o FILTER( }"}}, 400, "line 3, column"),
    ("undeclared prefix", {"params": {"query": "ASK { nope:x ?p ?o }"}}, 400, "Unknown namespace prefix 'nope:'"),
    ("huge LIMIT", {"params": {"query": "SELECT * {} LIMIT 99999999999999999999"}}, 400, "limit"),
    ("update parameter by GET", {"params": {"update": "CLEAR ALL"}}, 403, "read-only"),
    ("update by form", post({"update": "CLEAR ALL"}), 403, "read-only"),
    ("update by body", post(b"CLEAR ALL", "application/sparql-update"), 403, "read-only"),
    ("update in the query parameter", {"params": {"query": "CLEAR ALL"}}, 403, "read-only"),
    ("LOAD in the query parameter", {"params": {"query": "LOAD <file:///etc/hostname>"}}, 403, "read-only"),
    ("query and update", {"params": {"query": "ASK {}", "update": "CLEAR ALL"}}, 400, "both a query and an"),
    ("repeated query by GET", {"params": [("query", "ASK {}"), ("query", "ASK {}")]}, 400, "2 'query'"),
    (
        "repeated query in URL and form",
        {**post({"query": "ASK {}"}), "params": {"query": "ASK {}"}},
        400,
        "2 'query' parameters",
    ),
    (
        "query in body and URL",
        {**post(b"ASK {}", "application/sparql-query"), "params": {"query": "ASK {}"}},
        400,
        "both in the body",
    ),
    ("POST as text/plain", post(b"ASK {}", "text/plain"), 415, "text/plain"),
    ("POST without content type", post(b"ASK {}"), 415, "no Content-Type"),
    ("UTF-16 body", post("ASK {}".encode("utf-16"), "application/sparql-query; charset=UTF-16"), 415, "UTF-16"),
    (
        "latin-1 form",
        post(b"query=ASK+%7B%7D", "application/x-www-form-urlencoded; charset=ISO-8859-1"),
        415,
        "ISO-8859-1",
    ),
    ("body that is not UTF-8", post(b"ASK {} #\xff", "application/sparql-query"), 400, "not valid UTF-8"),
    ("form without query", post({"default-graph-uri": MAPPINGS}), 400, "no 'query'"),
    ("form value not UTF-8", post(b"query=ASK%20%7B%7D%20%23%FF", FORM), 400, "not UTF-8"),
    ("POST with empty body", post(b"", "application/sparql-query"), 400, "empty"),
    ("GET with a dataset but no query", {"params": {"named-graph-uri": MAPPINGS}}, 400, "no 'query'"),
    ("PUT", {"method": "PUT", "params": {"query": "ASK {}"}}, 405, "Method Not Allowed"),
    ("DELETE", {"method": "DELETE"}, 405, "Method Not Allowed"),
    ("unknown format", {"params": {"query": "ASK {}", "format": "yaml"}}, 400, "Unknown format 'yaml'"),
    (
        "unknown default-graph-uri",
        {"params": {"query": "ASK {}", "default-graph-uri": "http://example.org/nothing"}},
        400,
        "does not hold",
    ),
    (
        "unknown named-graph-uri",
        {"params": {"query": "ASK {}", "named-graph-uri": "file:///etc/hostname"}},
        400,
        "does not hold",
    ),
    ("unknown FROM", {"params": {"query": "ASK FROM <http://example.org/nothing> {}"}}, 400, "does not hold"),
    ("too many rows", {"params": {"query": "SELECT * { ?a ?b ?c . ?d ?e ?f }"}}, 400, "KG_MAX_ROWS"),
    (
        "too many triples",
        {"params": {"query": "CONSTRUCT { ?a ?b ?f } WHERE { ?a ?b ?c . ?d ?e ?f }"}},
        400,
        "KG_MAX_ROWS",
    ),
    ("oversized body", post({"query": "#" * MAX_BODY}), 413, "KG_MAX_BODY"),
]


SLOW_ON_VIRTUOSO = pytest.mark.xfail(
    on_virtuoso(),
    reason="Virtuoso writes the 2,304 rows (1.2 MB of JSON) in 0.7 s on an idle machine, over the 2 s limit on a "
    "loaded one: then the answer is the time limit's 504 (not strict: it depends on the load)",
    strict=False,
)


@pytest.mark.parametrize(
    ("request_args", "status", "message"),
    [
        pytest.param(*case[1:], id=case[0], marks=[SLOW_ON_VIRTUOSO] if case[0] == "too many rows" else [])
        for case in REFUSALS
    ],
)
def test_refusals(client: FlaskClient, request_args: dict[str, Any], status: int, message: str) -> None:
    """Each refusal has its status, a plain-text body naming the problem, and no traceback."""
    arguments = dict(request_args)
    method = arguments.pop("method", "GET")
    query_string = arguments.pop("params", None)
    response = client.open("/sparql", method=method, query_string=query_string, **arguments)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert message in response.text
    assert "Traceback" not in response.text


def test_405_lists_the_allowed_methods(client: FlaskClient) -> None:
    response = client.put("/sparql")
    assert {"GET", "POST"} <= {method.strip() for method in response.headers["Allow"].split(",")}


def test_oversized_chunked_body_is_refused(server: LiveServer) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(2 * MAX_BODY // 1000):
            yield b"#" * 1000

    headers = {"Content-Type": "application/sparql-query"}
    response = requests.post(server.sparql, data=chunks(), headers=headers, timeout=10)
    assert response.status_code == 413
    assert "KG_MAX_BODY" in response.text


def test_unicode_queries_and_results(client: FlaskClient) -> None:
    query = "SELECT ?label WHERE { cc:calcinosis-cutis rdfs:label ?label FILTER(LANG(?label) = 'fr') }"
    response = client.post("/sparql", data={"query": query}, headers=JSON)
    assert values(response, "label") == {"calcinose cutanée"}
