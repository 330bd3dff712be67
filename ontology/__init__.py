"""The ontology: namespaces, the hand-edited Turtle source and the SHACL shapes.

``calcinosis.ttl`` is the one hand-edited schema source; ``shapes.ttl`` holds the SHACL shapes that every
build must satisfy. Everything else about the schema is derived from these two files.
"""

from collections.abc import Sequence
from pathlib import Path

from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, PROV, RDF, RDFS, SKOS, XSD
from rdflib.term import Node

HERE = Path(__file__).resolve().parent
ONTOLOGY_FILE = HERE / "calcinosis.ttl"
SHAPES_FILE = HERE / "shapes.ttl"

BASE = "https://w3id.org/calcinosis-kg/"
ONTOLOGY_IRI = BASE + "ontology"
CCO = Namespace(BASE + "ontology/")
CC = Namespace(BASE + "id/")
SOURCE_SYSTEM = BASE + "id"
"""FHIR code system URI of the graph's entities (codes are the local ids: ``calcinosis-cutis``)."""
SCHEMA = Namespace("https://schema.org/")
BIBO = Namespace("http://purl.org/ontology/bibo/")
FABIO = Namespace("http://purl.org/spar/fabio/")
FOAF = Namespace("http://xmlns.com/foaf/0.1/")
OBO = Namespace("http://purl.obolibrary.org/obo/")
SH = Namespace("http://www.w3.org/ns/shacl#")
VANN = Namespace("http://purl.org/vocab/vann/")
SSSOM = Namespace("https://w3id.org/sssom/")
SEMAPV = Namespace("https://w3id.org/semapv/vocab/")

HAS_EVIDENCE = OBO.RO_0002558
"""RO:0002558 'has evidence': links an axiom annotation to an ECO evidence class."""

PREFIXES: dict[str, Namespace] = {
    "cco": CCO,
    "cc": CC,
    "owl": Namespace(str(OWL)),
    "rdf": Namespace(str(RDF)),
    "rdfs": Namespace(str(RDFS)),
    "xsd": Namespace(str(XSD)),
    "skos": Namespace(str(SKOS)),
    "dcterms": Namespace(str(DCTERMS)),
    "prov": Namespace(str(PROV)),
    "schema": SCHEMA,
    "bibo": BIBO,
    "fabio": FABIO,
    "foaf": FOAF,
    "obo": OBO,
    "vann": VANN,
    "sh": SH,
    "sssom": SSSOM,
    "semapv": SEMAPV,
}
"""Prefixes bound on every graph the project writes or queries."""


LABEL_PREDICATES = (SKOS.prefLabel, RDFS.label)
"""The predicates whose values name a resource, best first: ``skos:prefLabel`` (the preferred term), then
``rdfs:label`` (terms of other vocabularies)."""
MAPPING_PREDICATES = (SKOS.exactMatch, SKOS.closeMatch, SKOS.broadMatch, SKOS.narrowMatch, SKOS.relatedMatch)
"""The SKOS mapping predicates (those SSSOM uses), strongest first."""
SSSOM_PREDICATES: dict[str, URIRef] = {f"skos:{iri.removeprefix(str(SKOS))}": iri for iri in MAPPING_PREDICATES}
"""SSSOM ``predicate_id`` (``skos:exactMatch``) -> the predicate, for each of :data:`MAPPING_PREDICATES`."""


def preferred_label(graph: Graph, node: Node, predicates: Sequence[URIRef] = LABEL_PREDICATES) -> str | None:
    """The label of ``node``: for the first of ``predicates`` with a literal value, the English value (language
    ``en`` or ``en-*``) if there is one, else any; the smallest if several. None if it has none."""
    for predicate in predicates:
        values = [value for value in graph.objects(node, predicate) if isinstance(value, Literal)]
        if values:
            english = [value for value in values if (value.language or "").lower().startswith("en")]
            return str(min(english or values, key=str))
    return None


def bind_prefixes(graph: Graph) -> Graph:
    """Bind the project's prefixes on ``graph`` (replacing rdflib's defaults) and return it."""
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace, override=True, replace=True)
    return graph


def load_ontology(path: Path = ONTOLOGY_FILE) -> Graph:
    """Parse the ontology's Turtle source into a new graph."""
    return bind_prefixes(Graph()).parse(path, format="turtle")
