"""The graph as an `OBO Graphs <https://github.com/geneontology/obographs>`_ JSON document (a release artifact).

The ontology's classes and properties are ``CLASS`` / ``PROPERTY`` nodes, the graph's entities ``INDIVIDUAL``
nodes (they are OWL named individuals), each with its label, definition, synonyms, code mappings (``xrefs`` for
exact matches, every SKOS mapping as a property value) and data values; ``is_a`` edges for ``rdfs:subClassOf``,
``subPropertyOf`` edges, ``rdf:type`` edges for class assertions and one edge per object property assertion
between entities, but for a subtype link that the knowledge marks disputed or suspected: OBO Graphs consumers read
``hasSubtype`` edges as the hierarchy, which cannot say "disputed", so only stated subtype links are edges (the rule
of :mod:`calcinosis_kg.ontology.subtypes`; the claim and its note stay in the OWL, Turtle and JSON-LD exports).
"""

from __future__ import annotations

import json
from typing import Any

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS
from rdflib.term import Node

from calcinosis_kg.graph.release import graph_entities, node_label, ontology_terms, release_info
from calcinosis_kg.ontology import CCO, MAPPING_PREDICATES, ONTOLOGY_IRI, SSSOM
from calcinosis_kg.ontology.subtypes import STATED_SUBTYPE_LINKS

IS_A = "is_a"
SUB_PROPERTY_OF = "subPropertyOf"
_LABEL_PROPERTIES = frozenset({SKOS.prefLabel, RDFS.label, SKOS.altLabel, SKOS.hiddenLabel, SKOS.definition})
"""Written as the node's lbl, synonyms and definition, not repeated as property values. Hidden labels (a source's
own wording that is not a synonym) are written nowhere: OBO Graphs has no hidden label, and as a synonym or property
value a consumer would show or search it as a name; the wording stays in the node's editorial note."""
_PROPERTY_TYPES = {OWL.ObjectProperty: "OBJECT", OWL.DatatypeProperty: "DATA", OWL.AnnotationProperty: "ANNOTATION"}


def _synonyms(graph: Graph, node: URIRef) -> list[dict[str, str]]:
    """altLabels, as exact synonyms (a source's non-synonymous wording is a skos:hiddenLabel, not written)."""
    return [
        {"pred": "hasExactSynonym", "val": alt} for alt in sorted({str(a) for a in graph.objects(node, SKOS.altLabel)})
    ]


def _mapping_codes(graph: Graph, node: URIRef) -> list[tuple[URIRef, URIRef, str]]:
    """(predicate, code IRI, code CURIE) of every SKOS mapping of ``node``, from its SSSOM axiom's object_id."""
    codes = []
    for predicate in sorted(MAPPING_PREDICATES):
        for code in graph.objects(node, predicate):
            if not isinstance(code, URIRef):
                continue
            curie = None
            for axiom in graph.subjects(OWL.annotatedSource, node):
                if (axiom, OWL.annotatedProperty, predicate) in graph and (axiom, OWL.annotatedTarget, code) in graph:
                    curie = graph.value(axiom, SSSOM.object_id)
            codes.append((predicate, code, str(curie) if curie is not None else str(code)))
    return sorted(codes, key=lambda c: (c[2], str(c[0])))


def _meta(graph: Graph, node: URIRef, *, individual: bool) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    definition = graph.value(node, SKOS.definition)
    if definition is not None:
        meta["definition"] = {"val": str(definition)}
    comments = sorted({str(c) for c in graph.objects(node, RDFS.comment)})
    if comments:
        meta["comments"] = comments
    synonyms = _synonyms(graph, node)
    if synonyms:
        meta["synonyms"] = synonyms
    values: list[dict[str, str]] = []
    if individual:
        codes = _mapping_codes(graph, node)
        exact = [{"val": curie} for predicate, _, curie in codes if predicate == SKOS.exactMatch]
        if exact:
            meta["xrefs"] = exact
        values += [{"pred": str(predicate), "val": str(code)} for predicate, code, _ in codes]
        for prop, value in graph.predicate_objects(node):
            described = isinstance(value, Literal) and prop not in _LABEL_PROPERTIES
            if described or prop == CCO.supportedBy:
                values.append({"pred": str(prop), "val": str(value)})
    else:
        values += [{"pred": str(SKOS.editorialNote), "val": str(n)} for n in graph.objects(node, SKOS.editorialNote)]
    if values:
        meta["basicPropertyValues"] = sorted(values, key=lambda v: (v["pred"], v["val"]))
    return meta


def _node(graph: Graph, node: URIRef, node_type: str, property_type: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": str(node)}
    label = node_label(graph, node)
    if label:
        out["lbl"] = label
    out["type"] = node_type
    if property_type is not None:
        out["propertyType"] = property_type
    meta = _meta(graph, node, individual=node_type == "INDIVIDUAL")
    if meta:
        out["meta"] = meta
    return out


def _is_edge(subject: URIRef, prop: Node, value: URIRef, stated: set[tuple[str, str]]) -> bool:
    """Whether an object property assertion is an edge: any but a subtype link that is not stated."""
    if prop == CCO.hasSubtype:
        return (str(subject), str(value)) in stated
    if prop == CCO.subtypeOf:
        return (str(value), str(subject)) in stated
    return True


def obographs_document(graph: Graph) -> dict[str, Any]:
    """The graph as an OBO Graphs document (``{"graphs": [...]}``), every list sorted."""
    release = release_info(graph)
    classes = ontology_terms(graph, OWL.Class)
    properties = {p: kind for kind in _PROPERTY_TYPES for p in ontology_terms(graph, kind)}
    entities = graph_entities(graph)
    nodes = [_node(graph, c, "CLASS") for c in classes]
    nodes += [_node(graph, p, "PROPERTY", _PROPERTY_TYPES[kind]) for p, kind in properties.items()]
    nodes += [_node(graph, e, "INDIVIDUAL") for e in entities]
    edges: set[tuple[str, str, str]] = set()
    for sub in classes:
        for sup in graph.objects(sub, RDFS.subClassOf):
            if isinstance(sup, URIRef):
                edges.add((str(sub), IS_A, str(sup)))
    for sub in properties:
        for sup in graph.objects(sub, RDFS.subPropertyOf):
            if isinstance(sup, URIRef):
                edges.add((str(sub), SUB_PROPERTY_OF, str(sup)))
    object_properties = {p for p, kind in properties.items() if kind == OWL.ObjectProperty} | {DCTERMS.subject}
    stated = {(str(row[0]), str(row[1])) for row in graph.query(STATED_SUBTYPE_LINKS)}  # type: ignore[index]
    for entity in entities:
        for prop, value in graph.predicate_objects(entity):
            if prop == RDF.type and isinstance(value, URIRef) and value in classes:
                edges.add((str(entity), str(RDF.type), str(value)))
            elif (
                prop in object_properties
                and isinstance(value, URIRef)
                and value in entities
                and _is_edge(entity, prop, value, stated)
            ):
                edges.add((str(entity), str(prop), str(value)))
    # Terms of other vocabularies that the ontology's classes and properties specialise (schema:MedicalCondition,
    # prov:wasDerivedFrom, ...): nodes too, so that every edge ends at a node (pronto requires it).
    known = {str(n["id"]) for n in nodes}
    for _, pred, obj in sorted(edges):
        if pred in (IS_A, SUB_PROPERTY_OF) and obj not in known:
            known.add(obj)
            external = URIRef(obj)
            if pred == IS_A:
                nodes.append(_node(graph, external, "CLASS"))
            else:
                kinds = [k for k in _PROPERTY_TYPES if (external, RDF.type, k) in graph]
                nodes.append(_node(graph, external, "PROPERTY", _PROPERTY_TYPES[kinds[0]] if kinds else None))
    header_values = []
    for prop in (
        OWL.versionInfo,
        DCTERMS.title,
        DCTERMS.description,
        DCTERMS.license,
        DCTERMS.created,
        DCTERMS.modified,
        OWL.priorVersion,
        DCTERMS.source,
    ):
        for value in graph.objects(URIRef(ONTOLOGY_IRI), prop):
            header_values.append({"pred": str(prop), "val": str(value)})
    document = {
        "graphs": [
            {
                "id": ONTOLOGY_IRI,
                "meta": {
                    "version": release.version_iri,
                    "basicPropertyValues": sorted(header_values, key=lambda v: (v["pred"], v["val"])),
                },
                "nodes": sorted(nodes, key=lambda n: str(n["id"])),
                "edges": [{"sub": s, "pred": p, "obj": o} for s, p, o in sorted(edges)],
            }
        ]
    }
    return document


def obographs_json(graph: Graph) -> str:
    """:func:`obographs_document` as JSON text (indented, keys in the schema's order, ending with a newline)."""
    return json.dumps(obographs_document(graph), indent=1, ensure_ascii=False) + "\n"
