"""SHACL shapes: the hand-written ones in ``ontology/shapes.ttl`` plus domain/range shapes derived from the
ontology, so that every relation is checked against its property's rdfs:domain and rdfs:range."""

from __future__ import annotations

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS, XSD

from calcinosis_kg.ontology import CCO, SH, SHAPES_FILE

SHAPES = "https://w3id.org/calcinosis-kg/shapes/"


def _label(graph: Graph, term: URIRef) -> str:
    return term.n3(graph.namespace_manager)


def domain_range_shapes(ontology: Graph) -> Graph:
    """One node shape per cco: property with a domain or range.

    Subjects of the property must be instances of its domain (``sh:class``); objects must be instances of
    its range for object properties, or literals of its datatype for data properties.
    """
    shapes = Graph()
    properties = sorted(
        p
        for kind in (OWL.ObjectProperty, OWL.DatatypeProperty)
        for p in ontology.subjects(RDF.type, kind)
        if isinstance(p, URIRef) and str(p).startswith(str(CCO))
    )
    for prop in properties:
        name = _label(ontology, prop)
        domain = ontology.value(prop, RDFS.domain)
        range_ = ontology.value(prop, RDFS.range)
        if domain is None and range_ is None:
            continue
        shape = URIRef(f"{SHAPES}{prop.removeprefix(str(CCO))}-DomainRangeShape")
        shapes.add((shape, RDF.type, SH.NodeShape))
        shapes.add((shape, SH.targetSubjectsOf, prop))
        if isinstance(domain, URIRef):
            shapes.add((shape, SH["class"], domain))
            message = f"is the subject of {name}, so must be a {_label(ontology, domain)}"
            shapes.add((shape, SH.message, Literal(message)))
        if isinstance(range_, URIRef):
            constraint = BNode()
            shapes.add((shape, SH.property, constraint))
            shapes.add((constraint, SH.path, prop))
            is_datatype = str(range_).startswith(str(XSD))
            shapes.add((constraint, SH.datatype if is_datatype else SH["class"], range_))
            shapes.add((constraint, SH.message, Literal(f"values of {name} must be {_label(ontology, range_)}")))
    return shapes


def load_shapes(ontology: Graph) -> Graph:
    """The complete shapes graph used by validation."""
    shapes = Graph().parse(SHAPES_FILE, format="turtle")
    shapes += domain_range_shapes(ontology)
    return shapes
