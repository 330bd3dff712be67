"""The dataset's description (VoID and DCAT) at ``/.well-known/void`` and its full dumps at ``/dumps/``.

Every count is computed from the served graph when the app starts (:class:`DatasetStatistics`), so the
description always matches what ``/sparql`` and the dumps serve. The definitions used:

- ``void:triples``: triples of the served graph;
- ``void:entities``: distinct IRIs in the ``void:uriSpace`` (``https://w3id.org/calcinosis-kg/id/``) that
  are the subject of a triple;
- ``void:distinctSubjects`` / ``void:distinctObjects``: distinct subject / object terms (IRIs, blank
  nodes and, for objects, literals);
- ``void:classes`` / ``void:properties``: distinct objects of ``rdf:type`` / distinct predicates;
- a ``void:classPartition`` per class with ``void:entities`` its distinct instances (subjects typed with
  it, blank nodes included), and a ``void:propertyPartition`` per predicate with its ``void:triples``.

- a ``void:subset`` per named graph of the dataset, with its ``sd:name`` and ``void:triples`` (the service
  description's counts, :class:`~calcinosis_kg.server.resources.data.DatasetSummary`).

The dumps (``calcinosis-kg.ttl``, ``.nt``, ``.jsonld``, ``.owl``: the union of the graphs; ``.nq``: the graphs
apart) are the build's files when the server serves the built graph (one file, ``calcinosis-kg.nq`` or
``calcinosis-kg.nt``, with the others beside it), else the served graph written in each format at start-up;
both are held in memory (a serving bundle's are its files, mapped), so they stay consistent with the loaded
graph even if the build directory is rewritten. URLs in the description (SPARQL endpoint, dumps, the
description itself) are absolute, as the client reached the server.
"""

from __future__ import annotations

import mmap
import shutil
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, OWL, RDF, VOID, XSD
from rdflib.term import Node

from calcinosis_kg.formats import DUMP_FORMATS, W3C_FORMATS
from calcinosis_kg.ontology import CC, CCO, bind_prefixes
from calcinosis_kg.server.engines.common import WRITTEN_PREFIXES
from calcinosis_kg.server.http.formats import ResultFormat
from calcinosis_kg.server.resources.data import rdflib_graph
from calcinosis_kg.server.resources.linked_data import LinkedData
from calcinosis_kg.server.sparql.describe import GraphView
from calcinosis_kg.server.sparql.results import write_triples
from calcinosis_kg.server.sparql.service_description import SD

DUMP_NAME = "calcinosis-kg"
"""File name of the dumps, before the extension."""

DUMP_EXTENSIONS: tuple[tuple[str, ResultFormat], ...] = tuple((str(fmt.dump_extension), fmt) for fmt in DUMP_FORMATS)
"""Each dump's extension and format (``.owl`` is RDF/XML)."""

_RDF_TYPE = ox.NamedNode(str(RDF.type))
URI_SPACE = str(CC)
TITLE = "Calcinosis cutis knowledge graph"
CC_BY_4 = URIRef("https://creativecommons.org/licenses/by/4.0/")
DCAT_VERSION = URIRef(f"{DCAT}version")
"""DCAT 3's ``dcat:version`` (rdflib's closed DCAT namespace predates it)."""
IANA_MEDIA_TYPES = Namespace("https://www.iana.org/assignments/media-types/")
EXAMPLE_RESOURCES = (CC["calcinosis-cutis"], CC["metastatic-calcinosis-cutis"], CC["diltiazem"], CCO.Condition)
"""Offered as ``void:exampleResource`` when the graph has them (else the first entities by IRI)."""
ROOT_RESOURCE = CC["calcinosis-cutis"]


@dataclass(frozen=True)
class DatasetStatistics:
    """Counts and header metadata of the served graph (see the module docstring for the definitions)."""

    triples: int
    entities: int
    distinct_subjects: int
    distinct_objects: int
    class_entities: Mapping[URIRef, int]
    """Class -> distinct instances, for every object of ``rdf:type``."""
    property_triples: Mapping[URIRef, int]
    """Predicate -> triples."""
    example_resources: tuple[URIRef, ...]
    version: str | None
    """The ontology's ``owl:versionInfo``."""
    description: str | None
    """The ontology's ``dcterms:description``."""
    license: URIRef
    """The ontology's ``dcterms:license`` (CC BY 4.0 when it has none)."""
    header: tuple[tuple[URIRef, Node], ...]
    """``dcterms:created``, ``modified``, ``creator`` and ``source`` of the ontology header."""
    source_details: tuple[tuple[URIRef, URIRef, Node], ...] = ()
    """Title, licence and citation of each header source the graph describes (the HPO release: the licence and
    citation HPO asks its users to give)."""

    @classmethod
    def of(cls, view: GraphView, linked_data: LinkedData) -> DatasetStatistics:
        """Count the served default graph (``view``), read once with pyoxigraph at start-up."""
        triples = 0
        subjects: set[object] = set()
        objects: set[object] = set()
        instances: dict[str, set[object]] = {}
        predicates: Counter[str] = Counter()
        for triple in view.triples(None, None, None):
            triples += 1
            subjects.add(triple.subject)
            objects.add(triple.object)
            predicates[triple.predicate.value] += 1
            if triple.predicate == _RDF_TYPE and isinstance(triple.object, ox.NamedNode):
                instances.setdefault(triple.object.value, set()).add(triple.subject)
        entities = sorted(
            URIRef(s.value) for s in subjects if isinstance(s, ox.NamedNode) and s.value.startswith(URI_SPACE)
        )
        examples = tuple(iri for iri in EXAMPLE_RESOURCES if iri in linked_data.resources) or tuple(entities[:3])
        ontology = linked_data.ontology
        header: list[tuple[URIRef, Node]] = []
        document = rdflib_graph(view.triples(ox.NamedNode(str(ontology)), None, None)) if ontology else Graph()
        if ontology is not None:
            for predicate in (DCTERMS.created, DCTERMS.modified, DCTERMS.creator, DCTERMS.source):
                header.extend((predicate, value) for value in sorted(document.objects(ontology, predicate), key=str))
        details: list[tuple[URIRef, URIRef, Node]] = []
        for source in (value for predicate, value in header if predicate == DCTERMS.source):
            if not isinstance(source, URIRef):
                continue
            described = rdflib_graph(view.triples(ox.NamedNode(str(source)), None, None))
            for predicate in (DCTERMS.title, DCTERMS.license, DCTERMS.bibliographicCitation):
                details.extend((source, predicate, v) for v in sorted(described.objects(None, predicate), key=str))
        return cls(
            triples=triples,
            entities=len(entities),
            distinct_subjects=len(subjects),
            distinct_objects=len(objects),
            class_entities={URIRef(class_): len(members) for class_, members in sorted(instances.items())},
            property_triples={URIRef(predicate): count for predicate, count in sorted(predicates.items())},
            example_resources=examples,
            version=_text(document, ontology, OWL.versionInfo),
            description=_text(document, ontology, DCTERMS.description),
            license=_license(document, ontology),
            header=tuple(header),
            source_details=tuple(details),
        )


def _license(graph: Graph, ontology: URIRef | None) -> URIRef:
    if ontology is None:
        return CC_BY_4
    return next((value for value in graph.objects(ontology, DCTERMS.license) if isinstance(value, URIRef)), CC_BY_4)


def _text(graph: Graph, subject: Node | None, predicate: URIRef) -> str | None:
    if subject is None:
        return None
    values = sorted(str(value) for value in graph.objects(subject, predicate) if isinstance(value, Literal))
    return values[0] if values else None


@dataclass(frozen=True)
class Dump:
    """One full dump of the served graph, held in memory."""

    filename: str
    fmt: ResultFormat
    content: bytes | mmap.mmap
    """The bytes, or a serving bundle's file mapped read-only (the page cache's pages, shared by every process)."""

    @property
    def body(self) -> bytes:
        return self.content if isinstance(self.content, bytes) else self.content[:]

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass(frozen=True)
class DatasetDumps:
    """The dumps in every format, and whether they are the build's own files."""

    dumps: tuple[Dump, ...]
    from_build: bool

    @classmethod
    def load(cls, view: GraphView, paths: Sequence[Path]) -> DatasetDumps:
        """The build's files beside ``paths`` if they are the built graph, else the served graph written anew."""
        build_files = _build_files(paths)
        if build_files is not None:
            formats = (fmt for _, fmt in DUMP_EXTENSIONS)
            loaded = (Dump(path.name, fmt, path.read_bytes()) for path, fmt in zip(build_files, formats, strict=True))
            return cls(dumps=tuple(loaded), from_build=True)
        triples = list(view.triples(None, None, None))
        return cls(
            dumps=tuple(
                Dump(f"{DUMP_NAME}.{extension}", fmt, write_triples(fmt, triples, WRITTEN_PREFIXES))
                for extension, fmt in DUMP_EXTENSIONS
            ),
            from_build=False,
        )

    def get(self, filename: str) -> Dump | None:
        """The dump called ``filename``, if any."""
        return next((dump for dump in self.dumps if dump.filename == filename), None)


def write_dumps(view: GraphView, paths: Sequence[Path], folder: Path) -> bool:
    """Write into ``folder`` the dumps :meth:`DatasetDumps.load` holds (the same bytes), whether they are the
    build's files (returned: copied) or the served graph, streamed (no copy of the data in memory, for a serving
    bundle of any size): the N-Triples dump from ``view``, then the other formats from it, read back in the same
    order (reading the store took 2x as long as parsing N-Triples)."""
    build_files = _build_files(paths)
    if build_files is not None:
        for path in build_files:
            shutil.copyfile(path, folder / path.name)
        return True
    ntriples = folder / f"{DUMP_NAME}.{_NTRIPLES.dump_extension}"
    write_triples(_NTRIPLES, view.triples(None, None, None), WRITTEN_PREFIXES, output=ntriples)
    for extension, fmt in DUMP_EXTENSIONS:
        if fmt is not _NTRIPLES:
            triples = (quad.triple for quad in ox.parse(path=str(ntriples), format=ox.RdfFormat.N_TRIPLES))
            write_triples(fmt, triples, WRITTEN_PREFIXES, output=folder / f"{DUMP_NAME}.{extension}")
    return False


_NTRIPLES = next(fmt for _, fmt in DUMP_EXTENSIONS if fmt.oxigraph == "N_TRIPLES")


def _build_files(paths: Sequence[Path]) -> list[Path] | None:
    """The build's dump files if ``paths`` is exactly one of them (``calcinosis-kg.nq``, the built dataset, or
    ``calcinosis-kg.nt``, its union) and the others exist beside it."""
    if len(paths) != 1 or paths[0].name not in (f"{DUMP_NAME}.nq", f"{DUMP_NAME}.nt"):
        return None
    files = [paths[0].with_name(f"{DUMP_NAME}.{extension}") for extension, _ in DUMP_EXTENSIONS]
    return files if all(path.is_file() for path in files) else None


def void_description(
    statistics: DatasetStatistics, dumps: DatasetDumps, root: str, named_graphs: Mapping[str, int] | None = None
) -> Graph:
    """The VoID and DCAT description of the dataset served at ``root`` (the app's absolute URL, ending in /).

    The dataset is ``<{root}.well-known/void#dataset>``, both ``void:Dataset`` and ``dcat:Dataset``; its
    partitions, its subsets (``named_graphs``, name -> triples: the dataset's named graphs), distributions and
    the SPARQL service are hash IRIs of the same document, so the description has no blank nodes and is the
    same bytes on every request.
    """
    graph = bind_prefixes(Graph(bind_namespaces="none"))
    for prefix, namespace in (("void", VOID), ("dcat", DCAT), ("foaf", FOAF), ("formats", W3C_FORMATS), ("sd", SD)):
        graph.bind(prefix, namespace)
    document = URIRef(f"{root}.well-known/void")
    dataset = URIRef(f"{document}#dataset")
    sparql = URIRef(f"{root}sparql")

    def add(subject: Node, predicate: URIRef, obj: Node) -> None:
        graph.add((subject, predicate, obj))

    def integer(value: int) -> Literal:
        return Literal(value, datatype=XSD.integer)

    add(document, RDF.type, VOID.DatasetDescription)
    add(document, DCTERMS.title, Literal(f"Description of the {TITLE}", lang="en"))
    add(document, FOAF.primaryTopic, dataset)

    add(dataset, RDF.type, VOID.Dataset)
    add(dataset, RDF.type, DCAT.Dataset)
    add(dataset, DCTERMS.title, Literal(TITLE, lang="en"))
    if statistics.description:
        add(dataset, DCTERMS.description, Literal(statistics.description, lang="en"))
    add(dataset, DCTERMS.license, statistics.license)
    if statistics.version:
        add(dataset, OWL.versionInfo, Literal(statistics.version))
        add(dataset, DCAT_VERSION, Literal(statistics.version))
    for predicate, value in statistics.header:
        add(dataset, predicate, value)
    for source, predicate, value in statistics.source_details:
        add(source, predicate, value)
    add(dataset, DCAT.landingPage, URIRef(root))
    add(dataset, VOID.uriSpace, Literal(URI_SPACE))
    add(dataset, VOID.sparqlEndpoint, sparql)
    if ROOT_RESOURCE in statistics.example_resources:
        add(dataset, VOID.rootResource, ROOT_RESOURCE)
    for example in statistics.example_resources:
        add(dataset, VOID.exampleResource, example)

    add(dataset, VOID.triples, integer(statistics.triples))
    add(dataset, VOID.entities, integer(statistics.entities))
    add(dataset, VOID.distinctSubjects, integer(statistics.distinct_subjects))
    add(dataset, VOID.distinctObjects, integer(statistics.distinct_objects))
    add(dataset, VOID.classes, integer(len(statistics.class_entities)))
    add(dataset, VOID.properties, integer(len(statistics.property_triples)))
    for vocabulary in _vocabularies(statistics):
        add(dataset, VOID.vocabulary, vocabulary)
    for index, (class_, count) in enumerate(statistics.class_entities.items(), start=1):
        partition = URIRef(f"{document}#class-{index:03d}")
        add(dataset, VOID.classPartition, partition)
        add(partition, VOID["class"], class_)
        add(partition, VOID.entities, integer(count))
    for index, (property_, count) in enumerate(statistics.property_triples.items(), start=1):
        partition = URIRef(f"{document}#property-{index:03d}")
        add(dataset, VOID.propertyPartition, partition)
        add(partition, VOID.property, property_)
        add(partition, VOID.triples, integer(count))
    for index, (name, count) in enumerate(sorted((named_graphs or {}).items()), start=1):
        subset = URIRef(f"{document}#graph-{index:03d}")
        add(dataset, VOID.subset, subset)
        add(subset, RDF.type, VOID.Dataset)
        add(subset, RDF.type, SD.NamedGraph)
        add(subset, SD.name, URIRef(name))
        add(subset, VOID.triples, integer(count))
        add(subset, VOID.sparqlEndpoint, sparql)

    for dump in dumps.dumps:
        url = URIRef(f"{root}dumps/{dump.filename}")
        distribution = URIRef(f"{document}#dump-{dump.filename.rsplit('.', 1)[1]}")
        add(dataset, VOID.dataDump, url)
        add(dataset, VOID.feature, dump.fmt.w3c)
        add(dataset, DCAT.distribution, distribution)
        add(distribution, RDF.type, DCAT.Distribution)
        add(distribution, DCTERMS.title, Literal(f"{TITLE} ({dump.fmt.label})", lang="en"))
        add(distribution, DCAT.downloadURL, url)
        add(distribution, DCAT.accessURL, url)
        add(distribution, DCAT.mediaType, IANA_MEDIA_TYPES[dump.fmt.media_type])
        add(distribution, DCTERMS["format"], dump.fmt.w3c)
        add(distribution, DCAT.byteSize, Literal(dump.size, datatype=XSD.nonNegativeInteger))
        add(distribution, DCTERMS.license, statistics.license)

    service = URIRef(f"{document}#sparql")
    add(dataset, DCAT.accessService, service)
    add(service, RDF.type, DCAT.DataService)
    add(service, DCTERMS.title, Literal(f"SPARQL 1.1 endpoint of the {TITLE}", lang="en"))
    add(service, DCAT.endpointURL, sparql)
    add(service, DCAT.endpointDescription, sparql)
    add(service, DCAT.servesDataset, dataset)
    return graph


def _vocabularies(statistics: DatasetStatistics) -> list[URIRef]:
    """The namespaces of the graph's predicates and classes (IRI up to its last ``/`` or ``#``)."""
    namespaces = set()
    for term in (*statistics.property_triples, *statistics.class_entities):
        cut = max(term.rfind("/"), term.rfind("#"))
        if cut > 0:
            namespaces.add(URIRef(term[: cut + 1]))
    return sorted(namespaces)
