"""The W3C SPARQL 1.1 Protocol and Service Description tests, run against a live server.

The manifests in ``tests/w3c/`` (copied unchanged, see its PROVENANCE.md) describe each protocol test as a
list of HTTP requests in the W3C HTTP-in-RDF vocabulary, each with the expected status class and, for
successful queries, the expected result family (``boolean``, ``tabular``, ``RDF``) and ASK answer. This
runner reads them with rdflib and sends every request, byte for byte, with ``http.client`` (which adds
only Host, Accept-Encoding and Content-Length) to a server on a loopback port. The manifest's paths start
with ``/sparql/``, which the manifest says to replace with the endpoint's path: ``/sparql``.

The fixture dataset holds ``data1.nt`` .. ``data3.nt`` as the named graphs
``<http://kasei.us/2009/09/sparql/data/dataN.rdf>``. Five tests name ``data0.rdf`` in default-graph-uri,
for which the suite ships no data; as this endpoint refuses graphs it does not hold (it never fetches
them), the fixture declares ``data0.rdf`` with a single rdfs:comment saying it is a placeholder. No test
reads that graph's content.

The seven positive tests that perform a SPARQL Update cannot pass on a read-only endpoint: the runner
asserts that their update request is refused with a 4xx saying so (their follow-up ASK checks what the
update would have written and is not sent).
"""

from __future__ import annotations

import http.client
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from rdflib import RDF, RDFS, Dataset, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.query import Result
from rdflib.term import Node

from tests.support.live_server import LiveServer, live_server

pytestmark = [pytest.mark.engine, pytest.mark.live]

W3C = Path(__file__).resolve().parents[1] / "w3c"
PROTOCOL_MANIFEST = W3C / "protocol" / "manifest.ttl"
SD_MANIFEST = W3C / "service-description" / "manifest.ttl"

MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = Namespace("http://www.w3.org/2011/http#")
CNT = Namespace("http://www.w3.org/2011/content#")
HTS = Namespace("http://www.w3.org/2011/http-statusCodes#")
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")

DATA_GRAPH = "http://kasei.us/2009/09/sparql/data/data{}.rdf"
ENDPOINT_PATH = "/sparql"

BOOLEAN_TYPES = {"application/sparql-results+json", "application/sparql-results+xml"}
TABULAR_TYPES = BOOLEAN_TYPES | {"text/csv", "text/tab-separated-values"}
RDF_TYPES = {"text/turtle", "application/n-triples", "application/ld+json", "application/rdf+xml"}


@dataclass(frozen=True)
class ManifestRequest:
    """One ht:Request of a protocol test and the ht:Response expected for it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None
    status_classes: frozenset[int]
    result_family: str | None
    boolean: bool | None

    @property
    def is_update(self) -> bool:
        """True for a SPARQL Update operation: an update body, or an ``update`` parameter."""
        content_type = self.headers.get("content-type", "").split(";")[0].strip()
        if content_type == "application/sparql-update":
            return True
        parameters = parse_qs(urlsplit(self.path).query)
        if self.body is not None and content_type == "application/x-www-form-urlencoded":
            parameters.update(parse_qs(self.body.decode("utf-8")))
        return "update" in parameters


@dataclass(frozen=True)
class ProtocolTest:
    name: str
    title: str
    requests: tuple[ManifestRequest, ...]

    @property
    def positive(self) -> bool:
        return all(2 in request.status_classes for request in self.requests)

    @property
    def positive_update(self) -> bool:
        """A test whose first request is an update expected to succeed: not for a read-only endpoint."""
        return self.positive and self.requests[0].is_update


def _single(graph: Graph, subject: Node, predicate: URIRef) -> Node | None:
    return next(iter(graph.objects(subject, predicate)), None)


def _one(graph: Graph, subject: Node, predicate: URIRef) -> Node:
    value = _single(graph, subject, predicate)
    if value is None:
        raise ValueError(f"the manifest gives {subject} no {predicate}")
    return value


def _read_request(graph: Graph, node: Node) -> ManifestRequest:
    headers: dict[str, str] = {}
    header_list = _single(graph, node, HT.headers)
    if header_list is not None:
        for header in Collection(graph, header_list):
            name = str(_single(graph, header, HT.fieldName)).lower()
            headers[name] = str(_single(graph, header, HT.fieldValue))
    body: bytes | None = None
    body_node = _single(graph, node, HT.body)
    if body_node is not None:
        encoding = str(_single(graph, body_node, CNT.characterEncoding) or "UTF-8")
        body = str(_single(graph, body_node, CNT.chars)).encode(encoding)
    response = _one(graph, node, HT.resp)
    statuses = set(graph.objects(response, MF.expectedStatus))
    classes = frozenset(int(str(status)[-3]) for status in statuses if str(status).startswith(str(HTS)))
    family = _single(graph, response, MF.expectedFormat)
    boolean = _single(graph, response, MF.expectedBoolean)
    path = str(_one(graph, node, HT.absolutePath))
    assert path.startswith("/sparql/"), path
    return ManifestRequest(
        method=str(_one(graph, node, HT.methodName)),
        path=ENDPOINT_PATH + path.removeprefix("/sparql/"),
        headers=headers,
        body=body,
        status_classes=classes,
        result_family=str(family) if family is not None else None,
        boolean=boolean.toPython() if isinstance(boolean, Literal) else None,
    )


def read_protocol_tests() -> list[ProtocolTest]:
    """Every entry of the protocol manifest, in manifest order."""
    graph = Graph().parse(PROTOCOL_MANIFEST, format="turtle")
    manifest = next(graph.subjects(RDF.type, MF.Manifest))
    tests = []
    for entry in Collection(graph, _one(graph, manifest, MF.entries)):
        action = _one(graph, entry, MF.action)
        request_nodes = Collection(graph, _one(graph, action, HT.requests))
        requests = tuple(_read_request(graph, node) for node in request_nodes)
        name = str(entry).rsplit("#", 1)[-1]
        tests.append(ProtocolTest(name=name, title=str(_single(graph, entry, MF.name)), requests=requests))
    return tests


def read_service_description_tests() -> list[str]:
    graph = Graph().parse(SD_MANIFEST, format="turtle")
    manifest = next(graph.subjects(RDF.type, MF.Manifest))
    entries = Collection(graph, _one(graph, manifest, MF.entries))
    return [str(entry).rsplit("#", 1)[-1] for entry in entries]


PROTOCOL_TESTS = read_protocol_tests()
QUERY_TESTS = [test for test in PROTOCOL_TESTS if not test.positive_update]
UPDATE_TESTS = [test for test in PROTOCOL_TESTS if test.positive_update]


@pytest.fixture(scope="module")
def w3c_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose dataset is the W3C fixture data as named graphs (plus the data0 placeholder)."""
    folder = tmp_path_factory.mktemp("w3c")
    dataset = Dataset()
    for number in (1, 2, 3):
        graph = dataset.graph(URIRef(DATA_GRAPH.format(number)))
        graph.parse(W3C / "protocol" / f"data{number}.nt", format="nt")
    placeholder = URIRef(DATA_GRAPH.format(0))
    comment = Literal("Placeholder: the W3C protocol tests name this graph but ship no data for it.")
    dataset.graph(placeholder).add((placeholder, RDFS.comment, comment))
    fixture = folder / "w3c-protocol.nq"
    dataset.serialize(fixture, format="nquads")
    with live_server(folder, [fixture]) as server:
        yield server


def send(server: LiveServer, request: ManifestRequest) -> tuple[int, str, bytes]:
    """Send ``request`` as the manifest gives it; return the status, media type and body of the response."""
    connection = http.client.HTTPConnection(urlsplit(server.url).netloc, timeout=30)
    try:
        connection.request(request.method, request.path, body=request.body, headers=request.headers)
        response = connection.getresponse()
        body = response.read()
        media_type = (response.getheader("Content-Type") or "").split(";")[0].strip()
        return response.status, media_type, body
    finally:
        connection.close()


def test_manifest_has_the_expected_tests() -> None:
    assert len(PROTOCOL_TESTS) == 34
    assert sum(test.positive for test in PROTOCOL_TESTS) == 20
    assert sum(not test.positive for test in PROTOCOL_TESTS) == 14
    assert len(UPDATE_TESTS) == 7
    names = sorted(read_service_description_tests())
    assert names == ["conforms-to-schema", "has-endpoint-triple", "returns-rdf"]


@pytest.mark.parametrize("test", QUERY_TESTS, ids=lambda test: test.name)
def test_protocol(w3c_server: LiveServer, test: ProtocolTest) -> None:
    for request in test.requests:
        status, media_type, body = send(w3c_server, request)
        detail = f"{request.method} {request.path} -> {status} {media_type}: {body[:300]!r}"
        assert status // 100 in request.status_classes, detail
        assert b"Traceback" not in body
        if request.result_family == "boolean":
            assert media_type in BOOLEAN_TYPES, detail
            if request.boolean is not None:
                answer = Result.parse(io.BytesIO(body), content_type=media_type).askAnswer
                assert answer is request.boolean, detail
        elif request.result_family == "tabular":
            assert media_type in TABULAR_TYPES, detail
            Result.parse(io.BytesIO(body), content_type=media_type)
        elif request.result_family == "RDF":
            assert media_type in RDF_TYPES, detail
            Graph().parse(data=body, format=media_type)


@pytest.mark.parametrize("test", UPDATE_TESTS, ids=lambda test: test.name)
def test_update_is_refused(w3c_server: LiveServer, test: ProtocolTest) -> None:
    status, _, body = send(w3c_server, test.requests[0])
    assert 400 <= status < 500
    assert b"read-only" in body


def _service_description(server: LiveServer) -> tuple[int, str, Graph]:
    request = ManifestRequest("GET", ENDPOINT_PATH, {}, None, frozenset({2}), "RDF", None)
    status, media_type, body = send(server, request)
    return status, media_type, Graph().parse(data=body, format=media_type)


@pytest.mark.parametrize("name", read_service_description_tests())
def test_service_description(w3c_server: LiveServer, name: str) -> None:
    status, media_type, description = _service_description(w3c_server)
    if name == "returns-rdf":
        assert status == 200
        assert media_type in RDF_TYPES
        assert len(description) > 0
    elif name == "has-endpoint-triple":
        assert (None, SD.endpoint, URIRef(w3c_server.sparql)) in description
    elif name == "conforms-to-schema":
        named_graphs = list(description.subjects(RDF.type, SD.NamedGraph))
        assert len(named_graphs) == 4
        for named_graph in named_graphs:
            names = list(description.objects(named_graph, SD.name))
            assert len(names) == 1
            assert isinstance(names[0], URIRef)
        for service in description.subjects(RDF.type, SD.Service):
            assert (service, SD.endpoint, None) in description
    else:
        pytest.fail(f"unknown service description test {name}")
