"""Loading the served RDF dataset from files into an Oxigraph store, and the summary the endpoint publishes.

The files are read by Oxigraph's own parsers, so every term is stored as written (a typed literal keeps its
lexical form, ``"2006-08-23Z"^^xsd:date`` its time zone). The format of each file comes from its extension.
N-Quads, TriG and JSON-LD are dataset formats: their named graphs stay named graphs and their unnamed triples
go into the default graph. Every other format holds triples only, which go into the default graph.

Blank-node labels are kept as the files write them (so that descriptions, and their ETags, are the same
after a restart); when several files are served, each file's labels get a prefix of their own, so that two
files' ``_:b1`` stay two blank nodes.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from rdflib import BNode, Dataset, Graph, Literal, URIRef
from rdflib.term import Identifier

from calcinosis_kg.errors import KGError
from calcinosis_kg.formats import DUMP_FORMATS


def data_format(path: Path) -> ox.RdfFormat | None:
    """Oxigraph's parser for a data file, by its extension: the extensions Oxigraph knows (``.ttl``, ``.nt``,
    ``.nq``, ``.trig``, ``.jsonld``, ``.rdf``, ``.xml``...) and the build's own (``.owl``: RDF/XML, see
    :data:`~calcinosis_kg.formats.DUMP_FORMATS`)."""
    suffix = path.suffix.lower().lstrip(".")
    dumped = next((fmt for fmt in DUMP_FORMATS if fmt.dump_extension == suffix), None)
    return getattr(ox.RdfFormat, dumped.oxigraph) if dumped else ox.RdfFormat.from_extension(suffix) if suffix else None


DATA_EXTENSIONS = (".jsonld", ".nq", ".nt", ".owl", ".rdf", ".trig", ".ttl", ".xml")
"""The extensions an error message names as known (:func:`data_format` takes Oxigraph's other ones too)."""


_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


class DataLoadError(KGError):
    """A data file is missing, has an unknown extension or cannot be parsed."""


@dataclass(frozen=True)
class DatasetSummary:
    """Graph names and sizes of the served dataset: for the service description, /health and checks."""

    default_triples: int
    """Triples in the default graph as queries see it (with ``union_default_graph``: of all graphs)."""
    named_graphs: Mapping[str, int]
    """Name -> triples of each named graph."""
    union_default_graph: bool
    triples: int
    """Triples stored in all graphs together (a triple in two graphs counts twice)."""


def load_store(paths: Sequence[Path]) -> ox.Store:
    """Parse ``paths`` into one in-memory Oxigraph store (see the module docstring and :func:`data_quads`)."""
    store = ox.Store()
    store.extend(data_quads(paths))  # extend starts no threads: the store is shared with forked workers
    return store


def data_quads(paths: Sequence[Path]) -> Iterator[ox.Quad]:
    """Every quad of ``paths``, parsed lazily as a store holds them (blank-node labels as the files write them,
    prefixed per file when there are several: see the module docstring); the serving bundle's store is
    bulk-loaded from it batch by batch, the in-memory store at once (:func:`load_store`).

    Raises :class:`DataLoadError` with the file name and the parser's message when a file is missing,
    has an extension :func:`data_format` does not know or does not parse.
    """
    for index, path in enumerate(paths):
        rdf_format = data_format(path)
        if rdf_format is None:
            known = ", ".join(DATA_EXTENSIONS)
            raise DataLoadError(f"cannot serve {path}: unknown RDF file extension (known: {known})")
        if not path.is_file():
            raise DataLoadError(f"cannot serve {path}: no such file")
        quads: Iterable[ox.Quad] = ox.parse(path=str(path), format=rdf_format, base_iri=path.resolve().as_uri())
        if len(paths) > 1:
            quads = _relabelled(quads, f"f{index}_")
        try:
            yield from quads
        except (SyntaxError, ValueError, OSError) as error:
            raise DataLoadError(f"cannot parse {path} as {rdf_format.name}: {error}") from error


def _relabelled(quads: Iterable[ox.Quad], prefix: str) -> Iterator[ox.Quad]:
    def term(node: object) -> object:
        return ox.BlankNode(prefix + node.value) if isinstance(node, ox.BlankNode) else node

    for quad in quads:
        if any(isinstance(part, ox.BlankNode) for part in (quad.subject, quad.object, quad.graph_name)):
            yield ox.Quad(term(quad.subject), quad.predicate, term(quad.object), term(quad.graph_name))  # type: ignore[arg-type]
        else:
            yield quad


def to_rdflib(term: object) -> Identifier:
    """A pyoxigraph term as the equal rdflib term (``xsd:string`` literals as rdflib's plain literals)."""
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        if term.datatype.value == _XSD_STRING:
            return Literal(term.value)
        return Literal(term.value, datatype=URIRef(term.datatype.value))
    raise TypeError(f"cannot convert {term!r} to an rdflib term")


def from_rdflib(term: Identifier) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    """An rdflib IRI, blank node or literal as the equal pyoxigraph term (the inverse of :func:`to_rdflib`)."""
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        datatype = None if term.datatype is None else ox.NamedNode(str(term.datatype))
        return ox.Literal(str(term), datatype=datatype)
    raise TypeError(f"cannot convert {term!r} to a pyoxigraph term")


class PatternGraph(Graph):
    """An rdflib graph (read-only) whose triples are read pattern by pattern from ``triples`` (a function of a
    pyoxigraph triple pattern, as :meth:`~calcinosis_kg.server.sparql.describe.GraphView.triples`): rdflib's
    ``subjects``, ``objects``, ``value``... over the served data with no copy of it, for indexes that look
    up a few triples per entity (:meth:`~calcinosis_kg.server.resources.labels.LabelIndex.from_store`: the
    rdflib copy of the triples it read took ~800 bytes a triple). Terms come as :func:`to_rdflib` gives them;
    paths are not supported."""

    def __init__(self, triples: Callable[[Any, Any, Any], Iterable[ox.Triple]]) -> None:
        super().__init__(bind_namespaces="none")
        self._pattern = triples

    def triples(self, triple: Any) -> Generator[Any, None, None]:
        pattern = [None if term is None else from_rdflib(term) for term in triple]
        for found in self._pattern(*pattern):
            yield to_rdflib(found.subject), to_rdflib(found.predicate), to_rdflib(found.object)


def rdflib_graph(triples: Iterable[ox.Triple]) -> Graph:
    """A new rdflib graph (no prefixes bound) holding ``triples``: for documents built at start-up, not the data."""
    graph = Graph(bind_namespaces="none")
    memo: dict[object, Identifier] = {}

    def convert(term: object) -> Identifier:
        converted = memo.get(term)
        if converted is None:
            converted = memo[term] = to_rdflib(term)
        return converted

    graph.addN((convert(t.subject), convert(t.predicate), convert(t.object), graph) for t in triples)
    return graph


def rdflib_view(store: ox.Store, *, union_default_graph: bool) -> Dataset:
    """The served data as an rdflib :class:`~rdflib.Dataset` whose store is ``store`` (oxrdflib): no second copy.

    For code that wants rdflib's API over the served data (embedders, exports). Each triple pattern crosses
    from Oxigraph to rdflib terms, so whole-graph scans are slow: the server's start-up indexes read the store
    with pyoxigraph instead. ``xsd:string`` literals come as rdflib's plain literals (the same RDF 1.1 term;
    rdflib tells them apart).
    """
    from oxrdflib import OxigraphStore  # imported here: it imports rdflib's SPARQL parser (0.2 s)

    class PlainStrings(OxigraphStore):
        def triples(self, triple_pattern: Any, context: Graph | None = None) -> Iterator[Any]:
            for (subject, predicate, obj), contexts in super().triples(triple_pattern, context):
                if isinstance(obj, Literal) and obj.datatype is not None and str(obj.datatype) == _XSD_STRING:
                    obj = Literal(str(obj))
                yield (subject, predicate, obj), contexts

    return Dataset(store=PlainStrings(store=store), default_union=union_default_graph)


def summarize(store: ox.Store, *, union_default_graph: bool) -> DatasetSummary:
    """Count the triples of the default graph (the union if so served) and of each named graph."""
    counts = {name: _count(store, name) for name in store.named_graphs()}
    named = {name.value: count for name, count in counts.items() if isinstance(name, ox.NamedNode)}
    # Not a union: every quad outside the named graphs (blank-node names included) is in the default graph.
    default = len({quad.triple for quad in store}) if union_default_graph else len(store) - sum(counts.values())
    return DatasetSummary(
        default_triples=default,
        named_graphs=dict(sorted(named.items())),
        union_default_graph=union_default_graph,
        triples=len(store),
    )


def _count(store: ox.Store, graph: ox.NamedNode | ox.BlankNode | ox.DefaultGraph) -> int:
    return sum(1 for _ in store.quads_for_pattern(None, None, None, graph))
