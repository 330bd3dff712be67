"""The remote store's bundle (issue 28 item 2): ``calcinosis-kg publish`` writes the replicas' start-up indexes beside
the store and marks the store; a ``KG_ENGINE=sparql`` replica with it reads nothing of the store at start-up but its
list of graphs, and answers as the embedded engine does; a stale bundle is ignored, saying why.

Everything is real: an ``oxigraph serve --union-default-graph`` store, the ``calcinosis-kg publish`` command, the
replicas as ``python -m calcinosis_kg.server --production``. What a replica asks the store is recorded by a
forwarding proxy on loopback between them (:class:`RecordingProxy`), so that "reads nothing at start-up" is
checked on the wire, not by timing.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote

import pyoxigraph as ox
import pytest
import requests
from rdflib import DCAT, Graph

from calcinosis_kg.queries.catalog import load_catalog
from calcinosis_kg.server.engines.published import GRAPHS_QUERY, MARKER_PREFIX
from calcinosis_kg.server.resources.bundle import LOOKUP
from calcinosis_kg.server.resources.lookup_file import MappedLabelIndex
from tests.support import BUILT_SETTINGS
from tests.support.live_server import PRODUCTION, SAMPLE_TTL, LiveServer, free_port, live_server
from tests.support.store_server import StoreServer, oxigraph_binary
from tests.support.web import isomorphic

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not oxigraph_binary().exists(), reason="the oxigraph package is not installed"),
]

RELEASE_GRAPH = "https://example.org/graphs/release"
CC = "https://w3id.org/calcinosis-kg/id/"
NT = "application/n-triples"
PROBE = "ASK {}"
"""What ``/health`` asks the store (:meth:`StoreClient.probe`): not a read of the data."""


@dataclass
class UnionStore(StoreServer):
    """``oxigraph serve --union-default-graph``: the replicas serve the union of the store's graphs (publish puts the
    release into a named graph)."""

    def command(self) -> list[str]:
        return [*super().command(), "--union-default-graph"]


class RecordingProxy:
    """A loopback HTTP proxy to the store's query endpoint that records the query of every request it forwards."""

    def __init__(self, target: str) -> None:
        self.queries: list[str] = []
        recorded = self.queries

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                recorded.extend(parse_qs(body.decode()).get("query", []))
                answer = requests.post(
                    target,
                    data=body,
                    headers={"Content-Type": self.headers["Content-Type"], "Accept": self.headers["Accept"]},
                    timeout=60,
                )
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("Content-Type", "text/plain"))
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/query"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def union_store(folder: Path) -> Iterator[UnionStore]:
    """An empty writable store, served on a free loopback port for the block."""
    port = free_port()
    store = UnionStore(location=folder / f"store-{port}", port=port, log=folder / f"oxigraph-{port}.log")
    store.start()
    try:
        yield store
    finally:
        store.stop()


@contextmanager
def recording(target: str) -> Iterator[RecordingProxy]:
    proxy = RecordingProxy(target)
    try:
        yield proxy
    finally:
        proxy.close()


def publish(store: StoreServer, data: Path, *args: str) -> str:
    """``calcinosis-kg publish`` of ``data`` into :data:`RELEASE_GRAPH` of ``store``; its output."""
    command = [sys.executable, "-m", "calcinosis_kg.cli", "publish", "--store", store.url, "--data", str(data)]
    done = subprocess.run(
        [*command, "--graph", RELEASE_GRAPH, *args], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def replica_settings(store_url: str, bundle: str) -> dict[str, str]:
    return {
        **BUILT_SETTINGS,
        "KG_ENGINE": "sparql",
        "KG_STORE_URL": store_url,
        "KG_BUNDLE": bundle,
        "KG_UNION_DEFAULT_GRAPH": "true",
    }


def graphs(store: StoreServer) -> set[str]:
    answer = requests.post(store.url, data={"query": GRAPHS_QUERY}, headers={"Accept": "text/csv"}, timeout=30)
    return set(answer.text.split()[1:])


@dataclass(frozen=True)
class Started:
    server: LiveServer
    startup_queries: list[str]
    """What the replica asked the store before its first ``/health`` 200."""
    proxy: RecordingProxy


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, built_nt: Path) -> Iterator[tuple[UnionStore, Path]]:
    """The built graph published into a store; the bundle publish wrote."""
    folder = tmp_path_factory.mktemp("store-bundle")
    with union_store(folder) as running:
        publish(running, built_nt, "--bundle", str(folder / "bundle"))
        yield running, folder / "bundle"


@contextmanager
def replica(folder: Path, store: StoreServer, bundle: str) -> Iterator[Started]:
    with (
        recording(store.url) as proxy,
        live_server(folder, [], replica_settings(proxy.url, bundle), *PRODUCTION) as live,
    ):
        yield Started(live, list(proxy.queries), proxy)


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory, store: tuple[UnionStore, Path]) -> Iterator[Started]:
    with replica(tmp_path_factory.mktemp("bundled"), store[0], str(store[1])) as started:
        yield started


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory, built_nt: Path) -> Iterator[LiveServer]:
    """The embedded engine on the same dataset: the built graph in :data:`RELEASE_GRAPH`, served as the union."""
    folder = tmp_path_factory.mktemp("embedded")
    data = folder / "release.nq"
    graph = ox.NamedNode(RELEASE_GRAPH)
    quads = (ox.Quad(t.subject, t.predicate, t.object, graph) for t in ox.parse(path=built_nt))
    data.write_bytes(ox.serialize(quads, format=ox.RdfFormat.N_QUADS) or b"")
    settings = {**BUILT_SETTINGS, "KG_ENGINE": "oxigraph", "KG_BUNDLE": "off", "KG_UNION_DEFAULT_GRAPH": "true"}
    with live_server(folder, [data], settings, *PRODUCTION) as live:
        yield live


def test_publish_marks_the_store_with_one_marker_of_the_data_version(store: tuple[UnionStore, Path]) -> None:
    running, bundle = store
    manifest = (bundle / "manifest.json").read_text()
    markers = {graph for graph in graphs(running) if graph.startswith(MARKER_PREFIX)}
    assert len(markers) == 1
    assert markers.pop().removeprefix(MARKER_PREFIX) in manifest
    assert not (bundle / "store").exists(), "the remote store is the data: the bundle holds no copy"
    assert MappedLabelIndex(bundle / LOOKUP).size > 0, "the lookup file of the build's bundle (format 4)"


def test_a_replica_with_the_bundle_asks_the_store_only_for_its_graphs(
    bundled: Started, store: tuple[UnionStore, Path], tmp_path: Path
) -> None:
    assert bundled.startup_queries.count(GRAPHS_QUERY) == 1, bundled.startup_queries
    assert set(bundled.startup_queries) <= {GRAPHS_QUERY, PROBE}, bundled.startup_queries
    assert f"served from the bundle {store[1]}" in bundled.server.log_text()
    with replica(tmp_path, store[0], "off") as before:  # the proxy sees the reads of the path without the bundle
        assert any("isBlank" in query for query in before.startup_queries), before.startup_queries
        assert len(before.startup_queries) > 5


def test_blank_nodes_of_a_page_are_read_through_the_resource_not_copied(bundled: Started) -> None:
    """The axioms of a resource (blank nodes) come with a few queries anchored at it; the store's blank-node
    triples are not copied (that is read only for a blank node not reached from an IRI, tested below)."""
    before = len(bundled.proxy.queries)
    page = get(bundled.server, "/id/calcinosis-cutis", NT)
    asked = bundled.proxy.queries[before:]
    assert "_:" in page.text
    assert 0 < len(asked) < 20, asked
    assert any("FILTER(isBlank(?n1))" in query for query in asked), asked
    assert not any("isBlank(?s) || isBlank(?o)" in query for query in asked), asked
    assert "reading the blank-node triples" not in bundled.server.log_text()


def get(server: LiveServer, path: str, accept: str) -> requests.Response:
    answer = requests.get(server.url + path, headers={"Accept": accept}, timeout=60)
    assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    return answer


def same_graph(expected: requests.Response, got: requests.Response, expected_url: str, got_url: str) -> bool:
    first = Graph().parse(data=expected.text.replace(expected_url, got_url), format="nt")
    second = Graph().parse(data=got.text, format="nt")
    for graph in (first, second):  # the dumps' sizes: each server writes its own (blank-node labels)
        graph.remove((None, DCAT.byteSize, None))
    return len(first) > 0 and isomorphic(first, second)


GRAPH_PATHS = [
    "/id/calcinosis-cutis",  # its axioms and their sources: blank nodes reached from the resource
    "/id/diltiazem",
    "/ontology/Treatment",
    "/.well-known/void",
    "/sparql?query=" + quote(f"DESCRIBE <{CC}dystrophic-calcinosis-cutis>"),
    "/sparql?query=" + quote("DESCRIBE ?x WHERE { ?x owl:annotatedSource cc:diltiazem }"),  # blank-node targets
]


@pytest.mark.parametrize("path", GRAPH_PATHS)
def test_documents_are_the_embedded_engines(bundled: Started, embedded: LiveServer, path: str) -> None:
    expected, got = get(embedded, path, NT), get(bundled.server, path, NT)
    assert same_graph(expected, got, embedded.url, bundled.server.url), path


def test_lookup_canned_answers_and_results_are_the_embedded_engines(bundled: Started, embedded: LiveServer) -> None:
    paths = [("/lookup?q=calc", "application/json"), ("/lookup?q=diltiazem", "application/json")]
    paths += [(f"/queries/{q.name}", "text/csv") for q in load_catalog().values() if not q.params][:8]
    paths += [("/sparql?query=" + quote("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"), "text/csv")]
    assert len(paths) > 5
    for path, accept in paths:
        expected, got = get(embedded, path, accept), get(bundled.server, path, accept)
        assert got.content == expected.content, path


def test_a_stale_bundle_is_ignored_saying_why(tmp_path: Path, built_nt: Path) -> None:
    """The store published again with other data, without a bundle: the old bundle is not served."""
    bundle = tmp_path / "bundle"
    with union_store(tmp_path) as running:
        publish(running, built_nt, "--bundle", str(bundle))
        publish(running, SAMPLE_TTL, "--bundle", "none")
        assert not {graph for graph in graphs(running) if graph.startswith(MARKER_PREFIX)}
        with replica(tmp_path, running, str(bundle)) as started:
            log = started.server.log_text()
            assert f"not serving the store's bundle in {bundle}: the store does not hold the data" in log, log
            assert "reading the store instead" in log
            health = requests.get(started.server.url + "/health", timeout=10).json()
            assert health["triples"] == len(Graph().parse(SAMPLE_TTL)), "the store's data, not the bundle's"


def test_a_bundle_of_another_default_graph_is_ignored_saying_why(
    store: tuple[UnionStore, Path], tmp_path: Path
) -> None:
    """The bundle of a named graph is of the union: a replica serving the store's own default graph reads the store."""
    running, bundle = store
    settings = {**replica_settings(running.url, str(bundle)), "KG_UNION_DEFAULT_GRAPH": "false"}
    with live_server(tmp_path, [], settings, *PRODUCTION) as live:
        log = live.log_text()
    assert f"not serving the store's bundle in {bundle}: it was made with KG_UNION_DEFAULT_GRAPH=true" in log, log
    assert "served from the bundle" not in log


HPO_GRAPH = "https://w3id.org/calcinosis-kg/graph/hpo"
ARTICLE_GRAPH = "https://w3id.org/calcinosis-kg/graph/article"


def served_count(server: LiveServer, pattern: str) -> int:
    query = f"SELECT (COUNT(*) AS ?n) WHERE {{ {pattern} }}"
    answer = requests.get(
        server.url + "/sparql",
        params={"query": query},
        headers={"Accept": "application/sparql-results+json"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["results"]["bindings"][0]["n"]["value"])


def test_the_built_dataset_is_published_graph_by_graph_with_its_bundle(tmp_path: Path, build_dir: Path) -> None:
    """``publish --data calcinosis-kg.nq``: each graph into its name and the bundle of the dataset as the store holds
    it (the union, as the embedded engine's); a replica with it asks the store only for its graphs, and answers
    ``GRAPH`` counts and canned queries as the embedded engine serving the dataset; a graph put beside the
    published ones makes the bundle stale."""
    nq, bundle = build_dir / "calcinosis-kg.nq", tmp_path / "bundle"
    for name in ("replica", "embedded", "stale"):
        (tmp_path / name).mkdir()
    canned = [f"/queries/{q.name}" for q in load_catalog().values() if not q.params][:4]
    embedded_settings = {
        **BUILT_SETTINGS,
        "KG_ENGINE": "oxigraph",
        "KG_BUNDLE": "off",
        "KG_UNION_DEFAULT_GRAPH": "true",
    }
    with union_store(tmp_path) as running:
        out = publish(running, nq, "--bundle", str(bundle))
        assert f"into its named graph {HPO_GRAPH}" in out
        assert {HPO_GRAPH, ARTICLE_GRAPH, RELEASE_GRAPH} < graphs(running)
        with (
            replica(tmp_path / "replica", running, str(bundle)) as started,
            live_server(tmp_path / "embedded", [nq], embedded_settings, *PRODUCTION) as embedded,
        ):
            assert set(started.startup_queries) <= {GRAPHS_QUERY, PROBE}, started.startup_queries
            assert f"served from the bundle {bundle}" in started.server.log_text()
            for pattern in (
                f"GRAPH <{HPO_GRAPH}> {{ ?s ?p ?o }}",
                f"GRAPH <{ARTICLE_GRAPH}> {{ ?s ?p ?o }}",
                "?s ?p ?o",
            ):
                expected = served_count(embedded, pattern)
                assert expected > 0, pattern
                assert served_count(started.server, pattern) == expected, pattern
            for path in canned:
                assert get(started.server, path, "text/csv").content == get(embedded, path, "text/csv").content, path
        extra = running.url.removesuffix("query") + "store?graph=" + quote("urn:x:other", safe="")
        put = requests.put(extra, data="<urn:x:s> <urn:x:p> <urn:x:o> .\n", headers={"Content-Type": NT}, timeout=30)
        assert put.status_code in (200, 201, 204), put.text
        settings = replica_settings(running.url, str(bundle))
        with live_server(tmp_path / "stale", [], settings, *PRODUCTION) as stale:
            log = stale.log_text()
        assert "the store holds other graphs than the published" in log, log
        assert "(besides: urn:x:other)" in log, log
        assert "served from the bundle" not in log
