"""Helpers of the linked-data and UI tests: the live server, parsing, graph comparison, reference counts."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF
from rdflib.term import Node

from tests.support.live_server import PRODUCTION, LiveServer, free_port, live_server

BASE = "https://w3id.org/calcinosis-kg/"
URI_SPACE = BASE + "id/"
DATA = Path(__file__).resolve().parents[1] / "web" / "data"
HOSTILE_TTL = DATA / "hostile.ttl"

RDF_ACCEPT = {
    "turtle": "text/turtle",
    "nt": "application/n-triples",
    "json-ld": "application/ld+json",
    "xml": "application/rdf+xml",
}
"""rdflib parser name -> the media type asked for."""
EXTENSION_PARSER = {"ttl": "turtle", "nt": "nt", "jsonld": "json-ld", "rdf": "xml"}
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"

__all__ = [
    "BASE",
    "BROWSER_ACCEPT",
    "EXTENSION_PARSER",
    "HOSTILE_TTL",
    "PRODUCTION",
    "RDF_ACCEPT",
    "URI_SPACE",
    "LiveServer",
    "base_iris",
    "free_port",
    "isomorphic",
    "live_server",
    "parse",
    "server_path",
]


def parse(body: bytes, rdf_format: str) -> Graph:
    """``body`` parsed by rdflib as ``rdf_format`` (raises if it does not parse)."""
    return Graph().parse(data=body, format=rdf_format)


def base_iris(graph: Graph) -> list[URIRef]:
    """Every IRI under the base used as subject, predicate or object of ``graph``, sorted."""
    return sorted({node for triple in graph for node in triple if isinstance(node, URIRef) and node.startswith(BASE)})


def server_path(iri: str) -> str:
    """The path serving ``iri`` (an IRI under the base)."""
    return "/" + iri[len(BASE) :]


def _colours(graph: Graph, rounds: int = 4) -> dict[Node, str]:
    """Weisfeiler-Leman colours of the blank nodes: hashes of their neighbourhoods, refined ``rounds`` times."""
    bnodes = {node for triple in graph for node in triple if isinstance(node, BNode)}
    colour = dict.fromkeys(bnodes, "")

    def name(node: Node) -> str:
        return f"_:{colour[node]}" if isinstance(node, BNode) else node.n3()

    for _ in range(rounds):
        signatures: dict[Node, list[str]] = {node: [] for node in bnodes}
        for subject, predicate, obj in graph:
            if isinstance(subject, BNode):
                signatures[subject].append(f"> {predicate.n3()} {name(obj)}")
            if isinstance(obj, BNode):
                signatures[obj].append(f"< {predicate.n3()} {name(subject)}")
        colour = {
            node: hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest() for node, parts in signatures.items()
        }
    return colour


def _canonical(graph: Graph) -> Counter[tuple[str, str, str]]:
    colour = _colours(graph)

    def name(node: Node) -> str:
        return f"_:{colour[node]}" if isinstance(node, BNode) else node.n3()

    return Counter((name(s), name(p), name(o)) for s, p, o in graph)


def isomorphic(first: Graph, second: Graph) -> bool:
    """Whether the graphs are equal up to blank-node labels.

    rdflib's ``isomorphic`` takes minutes on the built graph (hundreds of axiom blank nodes); this compares
    the graphs with blank nodes replaced by Weisfeiler-Leman colours, exact for the graph's tree-shaped
    blank nodes (axiom annotations, lists) whose colours are all distinct.
    """
    return len(first) == len(second) and _canonical(first) == _canonical(second)


def literal_values(graph: Graph, subject: Node, predicate: URIRef) -> list[object]:
    """The Python values of ``subject``'s ``predicate`` literals."""
    return [value.toPython() for value in graph.objects(subject, predicate) if isinstance(value, Literal)]


def instances(graph: Graph) -> dict[Node, set[Node]]:
    """Class -> the distinct subjects typed with it."""
    members: dict[Node, set[Node]] = {}
    for subject, class_ in graph.subject_objects(RDF.type):
        members.setdefault(class_, set()).add(subject)
    return members


def distinct(nodes: Iterable[Node]) -> int:
    return len(set(nodes))
