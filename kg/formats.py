"""The one registry of the formats the project reads and writes: media types, names, file extensions, and the
names rdflib and pyoxigraph give them.

SELECT and ASK answers (family :attr:`Family.RESULTS`) are SPARQL JSON, SPARQL XML, CSV or TSV; graphs
(family :attr:`Family.GRAPH`: CONSTRUCT and DESCRIBE answers, linked-data documents, the service description,
the build's files and the dumps) Turtle, N-Triples, JSON-LD or RDF/XML; the dump of the named graphs
(family :attr:`Family.DATASET`, the build's ``calcinosis-kg.nq``) N-Quads. The first format of each family is
its default. The server's content negotiation over them is :mod:`calcinosis_kg.server.http.formats`; the
build (:mod:`calcinosis_kg.graph.build`), the command line (:mod:`calcinosis_kg.queries.results`), the
writers, linked data, VoID, the dumps and the OpenAPI document all read this table.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import Enum

from rdflib import Namespace, URIRef

W3C_FORMATS = Namespace("http://www.w3.org/ns/formats/")


class Family(Enum):
    """The kinds of answer, each with its own formats."""

    RESULTS = "SELECT and ASK results"
    GRAPH = "CONSTRUCT and DESCRIBE results and the service description"
    DATASET = "the dump of the named graphs"


@dataclass(frozen=True)
class ResultFormat:
    """A result format: what it is called in requests, the media type it is served as, its W3C IRI."""

    key: str
    family: Family
    label: str
    media_type: str
    content_type: str
    names: tuple[str, ...]
    aliases: tuple[str, ...]
    w3c: URIRef
    extension: str = ""
    """The file extension of a document in this format (a linked-data document: ``/id/acne.ttl``)."""
    rdflib: str = ""
    """The name of rdflib's serializer and parser for it."""
    oxigraph: str = ""
    """The name of pyoxigraph's ``RdfFormat`` or ``QueryResultsFormat`` member for it."""
    dump_extension: str | None = None
    """The extension of the build's file in this format (``.owl`` for RDF/XML, as OWL tools expect), if any."""

    @property
    def media_types(self) -> tuple[str, ...]:
        """The canonical media type followed by the aliases that also select this format."""
        return (self.media_type, *self.aliases)

    @property
    def identifiers(self) -> tuple[str, ...]:
        """Everything that selects this format in the ``format`` parameter: short names and media types."""
        return (*self.names, *self.media_types)


def _format(
    key: str,
    family: Family,
    label: str,
    media_type: str,
    *,
    names: tuple[str, ...],
    aliases: tuple[str, ...] = (),
    w3c: str,
    charset: bool = True,
    extension: str,
    rdflib: str,
    oxigraph: str,
    dump_extension: str | None = None,
) -> ResultFormat:
    content_type = f"{media_type}; charset=utf-8" if charset else media_type
    return ResultFormat(
        key, family, label, media_type, content_type, names, aliases, W3C_FORMATS[w3c],
        extension, rdflib, oxigraph, dump_extension,
    )  # fmt: skip


FORMATS: tuple[ResultFormat, ...] = (
    _format(
        "json",
        Family.RESULTS,
        "SPARQL JSON",
        "application/sparql-results+json",
        names=("json",),
        aliases=("application/json",),
        w3c="SPARQL_Results_JSON",
        extension="srj",
        rdflib="json",
        oxigraph="JSON",
        charset=False,
    ),
    _format(
        "xml",
        Family.RESULTS,
        "SPARQL XML",
        "application/sparql-results+xml",
        names=("xml",),
        aliases=("application/xml", "text/xml"),
        w3c="SPARQL_Results_XML",
        extension="srx",
        rdflib="xml",
        oxigraph="XML",
    ),
    _format(
        "csv",
        Family.RESULTS,
        "CSV",
        "text/csv",
        names=("csv",),
        w3c="SPARQL_Results_CSV",
        extension="csv",
        rdflib="csv",
        oxigraph="CSV",
    ),
    _format(
        "tsv",
        Family.RESULTS,
        "TSV",
        "text/tab-separated-values",
        names=("tsv",),
        w3c="SPARQL_Results_TSV",
        extension="tsv",
        rdflib="tsv",
        oxigraph="TSV",
    ),
    _format(
        "turtle",
        Family.GRAPH,
        "Turtle",
        "text/turtle",
        names=("turtle", "ttl", "n3"),
        aliases=("application/x-turtle", "application/turtle"),
        w3c="Turtle",
        extension="ttl",
        rdflib="turtle",
        oxigraph="TURTLE",
        dump_extension="ttl",
    ),
    _format(
        "ntriples",
        Family.GRAPH,
        "N-Triples",
        "application/n-triples",
        names=("ntriples", "nt", "n-triples"),
        aliases=("text/plain",),
        w3c="N-Triples",
        extension="nt",
        rdflib="nt",
        oxigraph="N_TRIPLES",
        dump_extension="nt",
    ),
    _format(
        "jsonld",
        Family.GRAPH,
        "JSON-LD",
        "application/ld+json",
        names=("jsonld", "json-ld", "json"),
        aliases=("application/json",),
        w3c="JSON-LD",
        extension="jsonld",
        rdflib="json-ld",
        oxigraph="JSON_LD",
        dump_extension="jsonld",
        charset=False,
    ),
    _format(
        "rdfxml",
        Family.GRAPH,
        "RDF/XML",
        "application/rdf+xml",
        names=("rdfxml", "rdf+xml", "rdf", "xml"),
        aliases=("application/xml", "text/xml"),
        w3c="RDF_XML",
        extension="rdf",
        rdflib="xml",
        oxigraph="RDF_XML",
        dump_extension="owl",
    ),
    _format(
        "nquads",
        Family.DATASET,
        "N-Quads",
        "application/n-quads",
        names=("nquads", "nq", "n-quads"),
        w3c="N-Quads",
        extension="nq",
        rdflib="nquads",
        oxigraph="N_QUADS",
        dump_extension="nq",
    ),
)
"""Every format, in the server's order of preference within each family."""


@functools.cache
def formats_of(family: Family) -> tuple[ResultFormat, ...]:
    """The formats of ``family``, default first."""
    return tuple(fmt for fmt in FORMATS if fmt.family is family)


DUMP_FORMATS: tuple[ResultFormat, ...] = tuple(fmt for fmt in FORMATS if fmt.dump_extension is not None)
"""The formats the build writes the graph in (``calcinosis-kg.{dump_extension}``): the triple formats hold the union of
the named graphs, N-Quads keeps them apart (:func:`calcinosis_kg.graph.build.canonical_nquads`)."""
