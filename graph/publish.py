"""Publishing a release into a SPARQL store: ``calcinosis-kg publish --store URL``.

The release file is sent with the SPARQL 1.1 Graph Store HTTP Protocol: one ``PUT`` of the whole file to the
store's graph-store endpoint, naming the graph (``?graph=IRI``, or ``?default``). A PUT replaces the graph; each
release has its own graph (the ontology's version IRI by default), so a new release is loaded beside the one being
served and readers never see it half loaded. Afterwards a ``COUNT`` query on the store's query endpoint must find
exactly the triples of the file, or publishing fails.

The graph-store endpoint defaults to the query endpoint's URL with its last segment ``query`` replaced by ``store``
(Oxigraph: ``http://host:7878/query`` -> ``http://host:7878/store``); other stores name theirs (Fuseki
``/dataset/data``, Virtuoso ``/sparql-graph-crud``) with ``--graph-store``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
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
    version_iri: str | None


@dataclass(frozen=True)
class Published:
    graph: str
    graph_store: str
    triples: int
    status: int


def read_release(path: Path) -> ReleaseFile:
    """Parse ``path`` once (a triples format, by its extension): its distinct triples and version IRI."""
    if not path.is_file():
        raise PublishError(f"no such release file: {path}")
    rdf_format = ox.RdfFormat.from_extension(path.suffix.lstrip("."))
    if rdf_format is None or rdf_format.supports_datasets:
        raise PublishError(f"{path}: publish sends one graph: give N-Triples, Turtle or RDF/XML (.nt, .ttl, .rdf)")
    seen: set[int] = set()
    version: str | None = None
    try:
        for triple in ox.parse(path=path, format=rdf_format):
            seen.add(hash(str(triple)))
            if (
                version is None
                and triple.predicate.value == _VERSION_IRI
                and triple.subject.value == ONTOLOGY_IRI
                and isinstance(triple.object, ox.NamedNode)
            ):
                version = triple.object.value
    except SyntaxError as exc:
        raise PublishError(f"{path} is not valid {rdf_format.name}: {exc}") from exc
    return ReleaseFile(path, rdf_format.media_type, len(seen), version)


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
    """PUT ``release`` into ``graph`` of the store, then check the store's triple count of that graph."""
    endpoint = graph_store or graph_store_url(query_url)
    target = {"default": ""} if graph == DEFAULT_GRAPH else {"graph": graph}
    url = f"{endpoint}?{urlencode(target)}"
    http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=10.0, read=timeout))
    with release.path.open("rb") as body:
        headers = {"Content-Type": release.media_type, "Content-Length": str(release.path.stat().st_size)}
        try:
            response = http.request("PUT", url, body=body, headers=headers)
        except HTTPError as exc:
            raise _unreachable(url, exc) from exc
    if response.status not in (200, 201, 204):
        raise PublishError(f"the store refused the release: PUT {url} answered {response.status}: {_excerpt(response)}")
    stored = count_triples(http, query_url, graph)
    if stored != release.triples:
        raise PublishError(
            f"the store's graph {graph} holds {stored} triples after publishing, {release.path} has {release.triples}"
        )
    return Published(graph, endpoint, stored, response.status)


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
