"""Every data file of the selected tests, converted by pyoxigraph into one N-Quads file: one named graph per file.

The graph of a file is named by the file's IRI (see :mod:`.manifest`), so that a test's ``qt:data`` and
``qt:graphData``, and a query's ``FROM <data.ttl>`` resolved against the query file's IRI, all name it. The served
default graph stays empty. Blank-node labels are prefixed per file (``f12_b0``) so that two files never share one.
Files are parsed by pyoxigraph, never by rdflib, which rewrites typed literals (``"2006-08-23Z"^^xsd:date``).

Syntax tests only need their query parsed; a few name graphs in ``FROM`` that are not suite files
(``<http://example.org/graph>``): such a graph is given one placeholder triple (:data:`PLACEHOLDER`), because the
endpoint refuses to evaluate a query naming a graph it does not hold.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

import pyoxigraph as ox

from .manifest import ROOT, W3CTest, from_graphs, local_path

FORMATS = {".ttl": ox.RdfFormat.TURTLE, ".rdf": ox.RdfFormat.RDF_XML, ".nt": ox.RdfFormat.N_TRIPLES}
PLACEHOLDER = ox.Triple(
    ox.NamedNode("urn:x-w3c-suite:placeholder"),
    ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#comment"),
    ox.Literal("a graph a syntax test names in FROM; the suite has no data for it"),
)
_T = TypeVar("_T")


def graph_files(tests: Iterable[W3CTest], root: Path = ROOT) -> tuple[list[str], list[str]]:
    """The suite files to load (data, graph data, FROM targets that exist) and the placeholder graphs."""
    files: dict[str, None] = {}
    placeholders: dict[str, None] = {}
    for test in tests:
        files.update(dict.fromkeys((*test.data, *test.graph_data)))
        for iri in from_graphs(test, root):
            try:
                exists = local_path(iri, root).is_file()
            except ValueError:
                exists = False
            if exists:
                files[iri] = None
            elif test.kind != "evaluation":
                placeholders[iri] = None
    return list(files), [iri for iri in placeholders if iri not in files]


@functools.cache
def has_triples(iri: str, root: Path = ROOT) -> bool:
    """True if the suite file ``iri`` holds a triple (a named graph exists only with one)."""
    return next(iter(read_graph(iri, root)), None) is not None


def read_graph(iri: str, root: Path = ROOT, prefix: str = "") -> Iterator[ox.Triple]:
    """The triples of the suite file ``iri``, parsed by pyoxigraph with its IRI as base; blank nodes renamed."""
    path = local_path(iri, root)
    for triple in ox.parse(path=str(path), format=FORMATS[path.suffix], base_iri=iri):
        if prefix:
            yield ox.Triple(_rename(triple.subject, prefix), triple.predicate, _rename(triple.object, prefix))
        else:
            yield triple


def _rename(term: _T, prefix: str) -> _T:
    return ox.BlankNode(prefix + term.value) if isinstance(term, ox.BlankNode) else term  # type: ignore[return-value]


def quads(tests: Iterable[W3CTest], root: Path = ROOT) -> Iterator[ox.Quad]:
    files, placeholders = graph_files(list(tests), root)
    for number, iri in enumerate(files):
        graph = ox.NamedNode(iri)
        for triple in read_graph(iri, root, prefix=f"f{number}_"):
            yield ox.Quad(triple.subject, triple.predicate, triple.object, graph)
    for iri in placeholders:
        yield ox.Quad(PLACEHOLDER.subject, PLACEHOLDER.predicate, PLACEHOLDER.object, ox.NamedNode(iri))


def write_nquads(tests: Iterable[W3CTest], path: Path, root: Path = ROOT) -> Path:
    """Write the N-Quads file of ``tests``' graphs to ``path``."""
    ox.serialize(quads(tests, root), output=str(path), format=ox.RdfFormat.N_QUADS)
    return path


def load_store(tests: Iterable[W3CTest], root: Path = ROOT) -> ox.Store:
    """An in-memory pyoxigraph store holding the same quads (for the bare-pyoxigraph comparison)."""
    store = ox.Store()
    store.extend(quads(tests, root))
    return store
