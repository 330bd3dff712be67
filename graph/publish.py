"""Publishing a release into a SPARQL store: ``calcinosis-kg publish --store URL``.

The release file is sent with the SPARQL 1.1 Graph Store HTTP Protocol: one ``PUT`` of the whole file to the
store's graph-store endpoint, naming the graph (``?graph=IRI``, or ``?default``). A PUT replaces the graph; each
release has its own graph (the ontology's version IRI by default), so a new release is loaded beside the one being
served and readers never see it half loaded. Afterwards a ``COUNT`` query on the store's query endpoint must find
exactly the triples of the file, or publishing fails.

The graph-store endpoint defaults to the query endpoint's URL with its last segment ``query`` replaced by ``store``
(Oxigraph: ``http://host:7878/query`` -> ``http://host:7878/store``); other stores name theirs (Fuseki
``/dataset/data``, Virtuoso ``/sparql-graph-crud``) with ``--graph-store``.

A dataset file (N-Quads or TriG, e.g. the build's ``calcinosis-kg.nq``) is sent graph by graph: its unnamed graph
into the graph named as above, each of its named graphs into its own name (``PUT ?graph=NAME``, replacing it), each
count checked. A store run with its default graph as the union of its graphs (``oxigraph serve
--union-default-graph``) then serves the dataset as the embedded engine serves the build (``KG_ENGINE=sparql``
with ``KG_UNION_DEFAULT_GRAPH=true``). A blank node may not be in two graphs (each PUT is a document of its own,
so the store would hold two blank nodes), nor may a graph be named by a blank node.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import pyoxigraph as ox
import urllib3
from urllib3.exceptions import HTTPError

from calcinosis_kg.errors import KGError
from calcinosis_kg.ontology import ONTOLOGY_IRI

DEFAULT_GRAPH = "default"
"""The ``--graph`` value naming the store's default graph instead of a named graph."""

_VERSION_IRI = "http://www.w3.org/2002/07/owl#versionIRI"
_ERROR_EXCERPT = 300


class PublishError(KGError):
    """The store refused the release, could not be reached, or holds another number of triples afterwards."""


@dataclass(frozen=True)
class ReleaseFile:
    """What is published: the file, its media type, its distinct triples and the ontology's version IRI."""

    path: Path
    media_type: str
    triples: int
    """Distinct triples of the unnamed graph (of the file, for a triples format)."""
    version_iri: str | None
    named_graphs: tuple[tuple[str, int], ...] = ()
    """Name and distinct triples of each named graph of a dataset file, sorted by name."""


@dataclass(frozen=True)
class Published:
    graph: str
    graph_store: str
    triples: int
    status: int
    named_graphs: tuple[tuple[str, int], ...] = ()
    """The dataset's named graphs published, each with its triples counted in the store."""


def read_release(path: Path) -> ReleaseFile:
    """Parse ``path`` once (by its extension): the distinct triples of each graph and the version IRI."""
    if not path.is_file():
        raise PublishError(f"no such release file: {path}")
    rdf_format = _rdf_format(path)
    seen: dict[str | None, set[int]] = {}
    blank_graph: dict[str, str | None] = {}
    version: str | None = None
    try:
        for quad in ox.parse(path=path, format=rdf_format):
            graph = _graph_name(path, quad.graph_name)
            seen.setdefault(graph, set()).add(hash(str(quad.triple)))
            for term in (quad.subject, quad.object):
                if isinstance(term, ox.BlankNode) and blank_graph.setdefault(term.value, graph) != graph:
                    raise PublishError(
                        f"{path}: the blank node _:{term.value} is in two graphs; a dataset is sent graph by graph, "
                        "so each blank node must be in one graph"
                    )
            if (
                version is None
                and quad.predicate.value == _VERSION_IRI
                and quad.subject.value == ONTOLOGY_IRI
                and isinstance(quad.object, ox.NamedNode)
            ):
                version = quad.object.value
    except SyntaxError as exc:
        raise PublishError(f"{path} is not valid {rdf_format.name}: {exc}") from exc
    named = tuple(sorted((name, len(triples)) for name, triples in seen.items() if name is not None))
    return ReleaseFile(path, rdf_format.media_type, len(seen.get(None, ())), version, named)


def _rdf_format(path: Path) -> ox.RdfFormat:
    """The format of ``path`` by its extension (raises PublishError for an unknown one)."""
    rdf_format = ox.RdfFormat.from_extension(path.suffix.lstrip("."))
    if rdf_format is None:
        raise PublishError(f"{path}: give an RDF file (.nt, .ttl, .rdf; .nq or .trig for a dataset)")
    return rdf_format


def _graph_name(path: Path, name: ox.NamedNode | ox.BlankNode | ox.DefaultGraph) -> str | None:
    if isinstance(name, ox.BlankNode):
        raise PublishError(f"{path}: the graph _:{name.value} is named by a blank node, which a PUT cannot name")
    return name.value if isinstance(name, ox.NamedNode) else None


def graph_store_url(query_url: str) -> str:
    """The default graph-store endpoint of a query endpoint: its last path segment ``query`` becomes ``store``."""
    parts = urlsplit(query_url)
    head, _, last = parts.path.rpartition("/")
    if last != "query":
        raise PublishError(
            f"cannot derive the graph-store endpoint from {query_url} (its path does not end in /query): "
            "give it with --graph-store"
        )
    return urlunsplit(parts._replace(path=f"{head}/store", query="", fragment=""))


def publish(
    release: ReleaseFile, query_url: str, graph: str, graph_store: str | None = None, timeout: float = 600.0
) -> Published:
    """PUT ``release`` into ``graph`` of the store (a dataset's named graphs each into its own name), then check
    the store's triple count of each graph sent."""
    endpoint = graph_store or graph_store_url(query_url)
    if graph in dict(release.named_graphs):
        raise PublishError(f"{release.path} has a named graph {graph}: publish its unnamed graph into another one")
    http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=10.0, read=timeout))
    if not _rdf_format(release.path).supports_datasets:
        with release.path.open("rb") as body:  # a triples file is sent as it is
            status = _put(http, endpoint, graph, body, release.media_type, release.path.stat().st_size)
    else:
        status = _put_graph(http, endpoint, graph, release.path, None)
    _check_count(http, query_url, graph, release.path, release.triples)
    for name, triples in release.named_graphs:
        _put_graph(http, endpoint, name, release.path, name)
        _check_count(http, query_url, name, release.path, triples)
    return Published(graph, endpoint, release.triples, status, release.named_graphs)


def _put_graph(http: urllib3.PoolManager, endpoint: str, graph: str, path: Path, part: str | None) -> int:
    """PUT the triples of the dataset file's graph ``part`` (None: the unnamed one) into ``graph``, as N-Triples."""
    rdf_format = _rdf_format(path)
    wanted = ox.DefaultGraph() if part is None else ox.NamedNode(part)
    triples = (quad.triple for quad in ox.parse(path=path, format=rdf_format) if quad.graph_name == wanted)
    body = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b""
    return _put(http, endpoint, graph, body, ox.RdfFormat.N_TRIPLES.media_type, len(body))


def _put(http: urllib3.PoolManager, endpoint: str, graph: str, body: Any, media_type: str, size: int) -> int:
    """PUT ``body`` into ``graph`` (``default``: the store's default graph); the status, or PublishError."""
    target = {"default": ""} if graph == DEFAULT_GRAPH else {"graph": graph}
    url = f"{endpoint}?{urlencode(target)}"
    headers = {"Content-Type": media_type, "Content-Length": str(size)}
    try:
        response = http.request("PUT", url, body=body, headers=headers)
    except HTTPError as exc:
        raise _unreachable(url, exc) from exc
    if response.status not in (200, 201, 204):
        raise PublishError(f"the store refused the release: PUT {url} answered {response.status}: {_excerpt(response)}")
    return response.status


def _check_count(http: urllib3.PoolManager, query_url: str, graph: str, path: Path, triples: int) -> None:
    stored = count_triples(http, query_url, graph)
    if stored != triples:
        raise PublishError(f"the store's graph {graph} holds {stored} triples after publishing, {path} has {triples}")


def unmark(query_url: str, graph_store: str | None = None, keep: str | None = None, timeout: float = 600.0) -> None:
    """Delete the store's marker graphs (:mod:`calcinosis_kg.server.engines.published`) but ``keep``: done before
    the data are replaced, so that no replica takes the store for the data of an older bundle meanwhile."""
    from calcinosis_kg.server.engines.published import GRAPHS_QUERY, MARKER_PREFIX

    endpoint = graph_store or graph_store_url(query_url)
    http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=10.0, read=timeout))
    try:
        listed = http.request(
            "POST",
            query_url,
            fields={"query": GRAPHS_QUERY},
            encode_multipart=False,
            headers={"Accept": "application/sparql-results+json"},
        )
        if listed.status != 200:
            raise PublishError(f"the store's graphs could not be listed: {listed.status}: {_excerpt(listed)}")
        for row in json.loads(listed.data)["results"]["bindings"]:
            graph = row["g"]["value"]
            if graph.startswith(MARKER_PREFIX) and graph != keep:
                deleted = http.request("DELETE", f"{endpoint}?{urlencode({'graph': graph})}")
                if deleted.status not in (200, 204, 404):
                    raise PublishError(f"the store refused to delete the marker graph {graph}: {deleted.status}")
    except HTTPError as exc:
        raise _unreachable(query_url, exc) from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise PublishError(f"the store's list of graphs could not be read: {exc}") from exc


def publish_bundle(release: ReleaseFile, query_url: str, done: Published, folder: Path, timeout: float = 600.0) -> str:
    """Write the bundle of the published release in ``folder`` for the replicas, then mark the store with its data
    version (:mod:`calcinosis_kg.server.engines.published`): an empty marker graph PUT into the store (the other
    markers were deleted by :func:`unmark` before the data were replaced). Returns the marker graph's IRI. The
    bundle is written first: a store marked for data whose bundle is not there yet is served by reading the
    store, never from a wrong bundle.
    """
    from calcinosis_kg.server.engines.published import write_published_bundle

    written = write_published_bundle(release.path, folder, graph=done.graph, store=query_url)
    http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=10.0, read=timeout))
    marker = f"{done.graph_store}?{urlencode({'graph': written.marker})}"
    try:
        response = http.request("PUT", marker, body=b"", headers={"Content-Type": "application/n-triples"})
    except HTTPError as exc:
        raise _unreachable(marker, exc) from exc
    if response.status not in (200, 201, 204):
        raise PublishError(f"the store refused the marker graph: PUT {marker} answered {response.status}")
    unmark(query_url, done.graph_store, keep=written.marker, timeout=timeout)
    return written.marker


def count_triples(http: urllib3.PoolManager, query_url: str, graph: str) -> int:
    """The store's number of triples in ``graph`` (a COUNT query on its query endpoint)."""
    pattern = "?s ?p ?o" if graph == DEFAULT_GRAPH else f"GRAPH <{graph}> {{ ?s ?p ?o }}"
    query = f"SELECT (COUNT(*) AS ?n) WHERE {{ {pattern} }}"
    try:
        response = http.request(
            "POST",
            query_url,
            fields={"query": query},
            encode_multipart=False,
            headers={"Accept": "application/sparql-results+json"},
        )
    except HTTPError as exc:
        raise _unreachable(query_url, exc) from exc
    if response.status != 200:
        raise PublishError(f"the count query on {query_url} answered {response.status}: {_excerpt(response)}")
    try:
        return int(json.loads(response.data)["results"]["bindings"][0]["n"]["value"])
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise PublishError(f"the count query on {query_url} gave no count: {_excerpt(response)}") from exc


def _unreachable(url: str, exc: HTTPError) -> PublishError:
    return PublishError(f"the store at {url} could not be reached: {exc}")


def _excerpt(response: urllib3.BaseHTTPResponse) -> str:
    text = response.data.decode("utf-8", errors="replace").strip()
    return text[:_ERROR_EXCERPT] or "(empty body)"
