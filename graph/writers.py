"""Deterministic writers for the formats whose rdflib serializers follow hash-set order (JSON-LD, RDF/XML).

Both take a graph whose blank nodes already carry content-derived ids (see ``build.canonical_graph``) and
write subjects, properties and values in sorted order, so identical graphs give identical bytes.
"""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, XSD, split_uri
from rdflib.term import Node

from calcinosis_kg.errors import KGError


def _sorted_json(value: Any) -> Any:
    """Sort JSON-LD arrays (their order carries no meaning, except inside @list) and object keys."""
    if isinstance(value, dict):
        return {k: (v if k == "@list" else _sorted_json(v)) for k, v in sorted(value.items())}
    if isinstance(value, list):
        items = [_sorted_json(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False))
    return value


def jsonld(graph: Graph) -> str:
    """Expanded JSON-LD with every array sorted."""
    data = json.loads(graph.serialize(format="json-ld"))
    return json.dumps(_sorted_json(data), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def _node_attribute(node: Node) -> str:
    if isinstance(node, BNode):
        return f"rdf:nodeID={quoteattr(str(node))}"
    return f"rdf:about={quoteattr(str(node))}"


def rdfxml(graph: Graph) -> str:
    """RDF/XML in the flat form (one rdf:Description per subject), sorted by subject, predicate and object."""
    prefixes: dict[str, str] = {"rdf": str(RDF)}
    for prefix, namespace in graph.namespace_manager.namespaces():
        prefixes.setdefault(prefix, str(namespace))
    by_namespace = {ns: p for p, ns in sorted(prefixes.items(), reverse=True)}
    lines: list[str] = []
    subjects = sorted(set(graph.subjects()), key=lambda n: n.n3())
    for subject in subjects:
        lines.append(f"  <rdf:Description {_node_attribute(subject)}>")
        for predicate, obj in sorted(graph.predicate_objects(subject), key=lambda po: (po[0].n3(), po[1].n3())):
            predicate_ns, local = split_uri(str(predicate))
            if predicate_ns not in by_namespace:
                prefix = f"ns{len(by_namespace)}"
                prefixes[prefix] = predicate_ns
                by_namespace[predicate_ns] = prefix
            tag = f"{by_namespace[predicate_ns]}:{local}"
            if isinstance(obj, Literal):
                attributes = ""
                if obj.language:
                    attributes = f" xml:lang={quoteattr(obj.language)}"
                elif obj.datatype and obj.datatype != XSD.string:
                    attributes = f" rdf:datatype={quoteattr(str(obj.datatype))}"
                lines.append(f"    <{tag}{attributes}>{escape(str(obj))}</{tag}>")
            elif isinstance(obj, BNode):
                lines.append(f"    <{tag} rdf:nodeID={quoteattr(str(obj))}/>")
            elif isinstance(obj, URIRef):
                lines.append(f"    <{tag} rdf:resource={quoteattr(str(obj))}/>")
            else:
                raise KGError(f"cannot write {obj!r} in RDF/XML")
        lines.append("  </rdf:Description>")
    header = ['<?xml version="1.0" encoding="utf-8"?>', "<rdf:RDF"]
    header += [f"  xmlns:{p}={quoteattr(ns)}" for p, ns in sorted(prefixes.items())]
    header[-1] += ">"
    return "\n".join([*header, *lines, "</rdf:RDF>"]) + "\n"
