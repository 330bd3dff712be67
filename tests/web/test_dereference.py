"""Dereferencing the graph's IRIs: content negotiation, format-specific documents, descriptions, 404, 406.

Through the app on the built graph (the Flask test client); a real server behind a simulated reverse proxy
checks the links written under each request's path prefix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
import requests
from flask.testing import FlaskClient
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS

from calcinosis_kg.ontology import load_ontology
from calcinosis_kg.server.views import linked_data as linked_data_views
from tests.support import BUILT_SETTINGS
from tests.support.apps import app_serving
from tests.support.web import (
    BASE,
    BROWSER_ACCEPT,
    EXTENSION_PARSER,
    RDF_ACCEPT,
    LiveServer,
    base_iris,
    live_server,
    parse,
    server_path,
)

pytestmark = [pytest.mark.engine, pytest.mark.live]

CC = BASE + "id/"
CCO = BASE + "ontology/"
ONTOLOGY = URIRef(BASE + "ontology")
VERSION = load_ontology().value(ONTOLOGY, OWL.versionIRI)  # the release's dated version IRI (docs/releases.md)
assert isinstance(VERSION, URIRef)
ACNE = URIRef(CC + "acne")
SSSOM_OBJECT_ID = URIRef("https://w3id.org/sssom/object_id")
EXTENSION_OF = {"turtle": "ttl", "nt": "nt", "json-ld": "jsonld", "xml": "rdf"}
T = TypeVar("T")


PARALLEL = 4
"""Requests at once: one client's share of the app (2 running and 2 waiting, ``KG_CLIENT_CONCURRENCY``); more
would be refused with 429, and no more run at once anyway."""


def parallel(function: Callable[[URIRef], T], iris: list[URIRef]) -> list[T]:
    with ThreadPoolExecutor(max_workers=PARALLEL) as executor:
        return list(executor.map(function, iris))


def test_the_built_graph_has_iris_in_every_namespace(built_graph: Graph) -> None:
    iris = base_iris(built_graph)
    assert ONTOLOGY in iris
    assert VERSION in iris
    assert sum(iri.startswith(CC) for iri in iris) > 100
    assert sum(iri.startswith(CCO) for iri in iris) > 50


@pytest.mark.parametrize("rdf_format", sorted(RDF_ACCEPT))
def test_every_iri_dereferences_in_every_rdf_format(client: FlaskClient, built_graph: Graph, rdf_format: str) -> None:
    media_type = RDF_ACCEPT[rdf_format]

    def check(iri: URIRef) -> str | None:
        response = client.get(server_path(iri), headers={"Accept": media_type})
        if response.status_code != 200:
            return f"{iri}: status {response.status_code}"
        if response.headers["Content-Type"].split(";")[0] != media_type:
            return f"{iri}: Content-Type {response.headers['Content-Type']}"
        if "Accept" not in response.headers.get("Vary", ""):
            return f"{iri}: no Vary: Accept"
        if response.headers.get("Content-Location") != f"{server_path(iri)}.{EXTENSION_OF[rdf_format]}":
            return f"{iri}: Content-Location {response.headers.get('Content-Location')}"
        document = parse(response.data, rdf_format)
        subject_in_graph = (iri, None, None) in built_graph
        if subject_in_graph and (iri, None, None) not in document:
            return f"{iri}: not a subject of its own document"
        if not subject_in_graph and (None, None, iri) not in document:
            # an IRI the graph only mentions (a prior release's version IRI): its document is what mentions it
            return f"{iri}: not mentioned in its own document"
        return None

    problems = [problem for problem in parallel(check, base_iris(built_graph)) if problem]
    assert not problems, "\n".join(problems[:20])


def test_every_iri_has_an_html_page_for_browsers(client: FlaskClient, built_graph: Graph) -> None:
    def check(iri: URIRef) -> str | None:
        response = client.get(server_path(iri), headers={"Accept": BROWSER_ACCEPT})
        if response.status_code != 200 or response.headers["Content-Type"] != "text/html; charset=utf-8":
            return f"{iri}: {response.status_code} {response.headers.get('Content-Type')}"
        if response.headers.get("Content-Location") != f"{server_path(iri)}.html":
            return f"{iri}: Content-Location {response.headers.get('Content-Location')}"
        if str(iri) not in response.text or "<h1" not in response.text:
            return f"{iri}: the page does not show the IRI"
        return None

    problems = [problem for problem in parallel(check, base_iris(built_graph)) if problem]
    assert not problems, "\n".join(problems[:20])


@pytest.mark.parametrize("iri", [ACNE, ONTOLOGY, VERSION, URIRef(CCO + "hasCause"), URIRef(CCO + "Condition")])
@pytest.mark.parametrize("extension", sorted(EXTENSION_PARSER))
def test_format_specific_documents(client: FlaskClient, iri: URIRef, extension: str) -> None:
    response = client.get(f"{server_path(iri)}.{extension}", headers={"Accept": "text/html"})
    assert response.status_code == 200
    expected = {"ttl": "text/turtle", "nt": "application/n-triples", "jsonld": "application/ld+json"}
    assert response.headers["Content-Type"].split(";")[0] == expected.get(extension, "application/rdf+xml")
    assert (iri, None, None) in parse(response.data, EXTENSION_PARSER[extension])


def test_the_html_document_of_a_resource(client: FlaskClient) -> None:
    response = client.get("/id/acne.html", headers={"Accept": "text/turtle"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "<h1" in response.text
    assert "acne" in response.text


def test_alternates_are_announced(client: FlaskClient) -> None:
    response = client.get("/id/acne", headers={"Accept": "text/turtle"})
    links = response.headers["Link"]
    for extension, media_type in [
        ("jsonld", "application/ld+json"),
        ("nt", "application/n-triples"),
        ("rdf", "application/rdf+xml"),
        ("html", "text/html"),
    ]:
        assert f'</id/acne.{extension}>; rel="alternate"; type="{media_type}"' in links


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, "text/turtle"),
        ("*/*", "text/turtle"),
        ("application/json", "application/ld+json"),
        ("text/plain", "application/n-triples"),
        ("application/xml", "application/rdf+xml"),
        (BROWSER_ACCEPT, "text/html"),
        ("application/ld+json;q=0.5, text/turtle;q=0.4", "application/ld+json"),
    ],
)
def test_negotiation(client: FlaskClient, accept: str | None, media_type: str) -> None:
    headers = {"Accept": accept} if accept else {"Accept": ""}
    response = client.get("/id/acne", headers=headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"].split(";")[0] == media_type


def test_unacceptable_accept_is_406(client: FlaskClient) -> None:
    response = client.get("/id/acne", headers={"Accept": "image/png"})
    assert response.status_code == 406
    assert "text/turtle" in response.text
    assert "text/html" in response.text


@pytest.mark.parametrize("rdf_format", sorted(RDF_ACCEPT))
@pytest.mark.parametrize("path", ["/id/no-such-entity", "/ontology/NoSuchClass", "/releases/9.9.9/ontology"])
def test_unknown_iris_are_404_documents_that_parse(client: FlaskClient, rdf_format: str, path: str) -> None:
    response = client.get(path, headers={"Accept": RDF_ACCEPT[rdf_format]})
    assert response.status_code == 404
    assert response.headers["Content-Type"].split(";")[0] == RDF_ACCEPT[rdf_format]
    assert len(parse(response.data, rdf_format)) == 0
    extension = EXTENSION_OF[rdf_format]
    by_extension = client.get(f"{path}.{extension}")
    assert by_extension.status_code == 404
    assert len(parse(by_extension.data, rdf_format)) == 0


def test_unknown_iris_are_404_pages_for_browsers(client: FlaskClient) -> None:
    response = client.get("/id/no-such-entity", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "https://w3id.org/calcinosis-kg/id/no-such-entity" in response.text


def test_a_path_outside_the_namespaces_is_a_plain_404(client: FlaskClient) -> None:
    response = client.get("/nothing-here", headers={"Accept": "text/turtle"})
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_a_description_holds_the_neighbourhood(client: FlaskClient, built_graph: Graph) -> None:
    response = client.get("/id/acne", headers={"Accept": "text/turtle"})
    description = parse(response.data, "turtle")
    for triple in built_graph.triples((ACNE, None, None)):
        assert triple in description
    for triple in built_graph.triples((None, None, ACNE)):
        if isinstance(triple[0], URIRef):
            assert triple in description
    incoming = sorted(str(p) for s, p in built_graph.subject_predicates(ACNE) if not isinstance(s, URIRef))
    assert incoming == sorted(str(p) for s, p in description.subject_predicates(ACNE) if not isinstance(s, URIRef))
    linked = {o for o in built_graph.objects(ACNE, None) if isinstance(o, URIRef)}
    for node in linked:
        for label in built_graph.objects(node, SKOS.prefLabel):
            assert (node, SKOS.prefLabel, label) in description
        for type_ in built_graph.objects(node, RDF.type):
            assert (node, RDF.type, type_) in description
    axioms = set(description.subjects(OWL.annotatedSource, ACNE))
    assert len(axioms) == len(set(built_graph.subjects(OWL.annotatedSource, ACNE)))
    mapped = {str(o) for axiom in axioms for o in description.objects(axiom, SSSOM_OBJECT_ID)}
    assert "SCTID:11381005" in mapped
    sources = {s for axiom in axioms for s in description.objects(axiom, DCTERMS.source)}
    assert URIRef(CC + "verywell-article") in sources
    for source in sources:
        for title in built_graph.objects(source, DCTERMS.title):
            assert (source, DCTERMS.title, title) in description


def test_the_ontology_iri_serves_the_whole_ontology(client: FlaskClient, built_graph: Graph) -> None:
    for path in ("/ontology", "/" + VERSION.removeprefix(BASE)):
        response = client.get(path, headers={"Accept": "application/n-triples"})
        document = parse(response.data, "nt")
        for triple in built_graph.triples((ONTOLOGY, None, None)):
            assert triple in document
        in_namespace = [t for t in built_graph if isinstance(t[0], URIRef) and t[0].startswith(CCO)]
        assert in_namespace
        assert all(triple in document for triple in in_namespace)
        assert (VERSION, DCTERMS.isVersionOf, ONTOLOGY) in document
        assert (None, RDF.type, OWL.AllDisjointClasses) in document
        sources = set(built_graph.objects(ONTOLOGY, DCTERMS.source))  # the header names its sources (the HPO release)
        assert not any(
            isinstance(node, URIRef) and node.startswith(CC) and node not in sources
            for triple in document
            for node in triple
        ), "the ontology document holds entity data"


def test_labels_are_kept_with_their_language(client: FlaskClient) -> None:
    response = client.get("/id/acne.jsonld")
    document = parse(response.data, "json-ld")
    assert (ACNE, RDFS.label, Literal("acne", lang="en")) in document


@pytest.fixture(scope="module")
def proxied(build_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The built graph served behind a (simulated) reverse proxy that mounts it under a path prefix."""
    settings = {**BUILT_SETTINGS, "KG_TRUST_PROXY": "1"}
    with live_server(tmp_path_factory.mktemp("proxied"), [build_dir / "calcinosis-kg.nt"], settings) as live:
        yield live


def test_pages_written_once_still_link_under_each_requests_path_prefix(proxied: LiveServer) -> None:
    """Representations are kept once written: an HTML page's links depend on the path prefix it was asked under."""
    pages = {}
    for prefix in ("", "/kg", ""):
        response = requests.get(f"{proxied.url}/id/acne.html", headers={"X-Forwarded-Prefix": prefix}, timeout=30)
        assert response.status_code == 200
        assert response.headers["Link"].startswith(f"<{prefix}/id/acne.")
        pages[prefix] = response.text
    assert 'href="/kg/id/' in pages["/kg"]
    assert 'href="/id/' in pages[""]
    assert 'href="/kg/' not in pages[""]


def test_rendered_pages_are_bounded_by_bytes(
    built_nt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, built_graph: Graph
) -> None:
    """A crawler walking every HTML page leaves each server process at most the rendered pages' byte bound (it
    was a count of 2,048 pages, whatever they weighed), and a page pushed out is rendered again, the same."""
    bound = 256 * 1024
    monkeypatch.setattr(linked_data_views, "RENDERED_PAGE_BYTES", bound)
    with app_serving(tmp_path, [built_nt], BUILT_SETTINGS) as app:
        client = app.test_client()
        paths = [server_path(str(iri)) for iri in base_iris(built_graph) if str(iri).startswith(CC)][:60]
        first = {}
        for path in paths:
            response = client.get(path, headers={"Accept": BROWSER_ACCEPT})
            assert response.status_code == 200, path
            first[path] = response.data
        rendered = app.extensions[linked_data_views.RENDERED_EXTENSION]
        assert sum(len(body) for body in first.values()) > bound  # the walk outgrows the bound
        assert 0 < rendered.size_bytes <= bound
        assert len(rendered) < len(paths)
        assert client.get(paths[0], headers={"Accept": BROWSER_ACCEPT}).data == first[paths[0]]
