"""Helpers of the API tests: canned-query answers, a client of a live server, the comparison of SPARQL JSON results."""

from __future__ import annotations

import json
from typing import Any

import requests
from flask.testing import FlaskClient
from rdflib import Graph

from calcinosis_kg.queries.catalog import CannedQuery

JSON_RESULTS = "application/sparql-results+json"
GRAPH_TYPES = {
    "turtle": "text/turtle; charset=utf-8",
    "ntriples": "application/n-triples; charset=utf-8",
    "jsonld": "application/ld+json",
    "rdfxml": "application/rdf+xml; charset=utf-8",
}
"""Each graph format's ``format`` name and the Content-Type a CONSTRUCT or DESCRIBE answer in it is served with:
the expected values, written out rather than read from the product's format registry."""


class Api:
    """A running server: its base URL and a requests session (kept alive between requests)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """GET ``path`` (relative to the server) with requests' keyword arguments (params, headers...)."""
        return self.session.get(self.url + path, timeout=60, **kwargs)


def results(client: FlaskClient, name: str, **params: str) -> dict[str, Any]:
    """The SPARQL JSON answer of canned query ``name`` run with ``params`` (which must succeed)."""
    response = client.get(f"/queries/{name}", query_string=params)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == JSON_RESULTS
    data: dict[str, Any] = response.get_json()
    return data


def reference(query: CannedQuery, graph: Graph, values: dict[str, str] | None = None) -> dict[str, Any]:
    """The SPARQL JSON results of ``query`` run by rdflib in this process (``CannedQuery.run``)."""
    data: dict[str, Any] = json.loads(query.run(graph, values).serialize(format="json"))
    return data


def comparable(results: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Variables and rows (each row as canonical JSON), rows sorted: the order of ties is not specified."""
    rows = sorted(json.dumps(row, sort_keys=True) for row in results["results"]["bindings"])
    return list(results["head"]["vars"]), rows
