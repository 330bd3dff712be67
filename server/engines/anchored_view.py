"""The remote store's triples for DESCRIBE and the pages without a start-up copy of its blank-node triples.

Blank nodes cannot be named in a query. :class:`~.store_client.StoreGraphView` therefore copies every triple
holding a blank node at start-up (a read that grows with the store). :class:`AnchoredStoreView` reads them
lazily instead: a description starts from an IRI, and every blank node it reaches was reached from that IRI
by a chain of triples, so the view remembers, for each blank node it has seen, that chain (its *anchor*: the
IRI and the predicates with their directions) and asks the store for the triples of a blank node with the chain
as a pattern from the IRI::

    CONSTRUCT { ?n2 ?p ?o } WHERE { <iri> <p1> ?n1 FILTER(isBlank(?n1)) ?n1 <p2> ?n2 FILTER(isBlank(?n2)) ?n2 ?p ?o }

The answer holds the triples of every blank node at the end of the same chain (the axioms annotating one
resource, the members of one list): all of them are kept, so the next blank node of the description is found
without a query. Each query is bounded by the description it serves (and by the answer-size limit of the job).
This needs a store whose blank-node labels are the same from one answer to the next (Oxigraph, Fuseki and
Virtuoso keep theirs), as the copy did. A blank node reached otherwise (``DESCRIBE ?x WHERE { ?x a owl:Axiom }``,
whose targets come from a SELECT) has no anchor: for it, and only then, the copy is read, once, and logged (within
the job's time and answer-size limits: where the copy is too large for them, such a query is refused as too large).

What is remembered is bounded (:data:`REMEMBERED` blank nodes, least recently used first out); it stays right
while the store holds the same data, which the data version checked at start-up stands for.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import TypeVar

import pyoxigraph as ox

from calcinosis_kg.server.engines.store_client import StoreClient, StoreGraphView
from calcinosis_kg.server.sparql.describe import Resource

log = logging.getLogger(__name__)

REMEMBERED = 100_000
"""Blank nodes whose anchor and whose triples are kept (each LRU)."""

MAX_CHAIN = 32
"""Longest chain of blank nodes followed by a query (an RDF list of more members is read from the copy)."""

Step = tuple[bool, ox.NamedNode]
"""One triple of a chain: (outgoing from the previous node, its predicate)."""
Anchor = tuple[ox.NamedNode, tuple[Step, ...]]
K = TypeVar("K")
V = TypeVar("V")


class AnchoredStoreView(StoreGraphView):
    """:class:`StoreGraphView` reading blank nodes' triples through their anchors (see the module docstring)."""

    def __init__(self, client: StoreClient) -> None:  # not StoreGraphView's: it reads the copy
        self._client = client
        self._lock = threading.Lock()
        self._anchors: OrderedDict[ox.BlankNode, Anchor] = OrderedDict()
        self._outgoing: OrderedDict[ox.BlankNode, list[ox.Triple]] = OrderedDict()
        self._incoming: OrderedDict[ox.BlankNode, list[ox.Triple]] = OrderedDict()
        self._copy: StoreGraphView | None = None

    def triples(
        self, subject: Resource | None, predicate: ox.NamedNode | None, obj: object | None
    ) -> Iterator[ox.Triple]:
        if isinstance(subject, ox.BlankNode) or isinstance(obj, ox.BlankNode):
            yield from self._blank(subject, predicate, obj)
            return
        found = list(super().triples(subject, predicate, obj))
        with self._lock:
            for triple in found:
                if isinstance(subject, ox.NamedNode) and isinstance(triple.object, ox.BlankNode):
                    _put(self._anchors, triple.object, (subject, ((True, triple.predicate),)))
                elif isinstance(obj, ox.NamedNode) and isinstance(triple.subject, ox.BlankNode):
                    _put(self._anchors, triple.subject, (obj, ((False, triple.predicate),)))
        yield from found

    def _blank(
        self, subject: Resource | None, predicate: ox.NamedNode | None, obj: object | None
    ) -> Iterator[ox.Triple]:
        outgoing = isinstance(subject, ox.BlankNode)
        node = subject if outgoing else obj
        assert isinstance(node, ox.BlankNode)
        cache = self._outgoing if outgoing else self._incoming
        with self._lock:
            found = cache.get(node)
            anchor = self._anchors.get(node)
        if found is None:
            if anchor is None or len(anchor[1]) > MAX_CHAIN:
                yield from self._copied().triples(subject, predicate, obj)
                return
            found = self._read(node, anchor, outgoing)
        yield from (
            t
            for t in found
            if (predicate is None or t.predicate == predicate)
            and (obj is None or t.object == obj)
            and (subject is None or t.subject == subject)
        )

    def _read(self, node: ox.BlankNode, anchor: Anchor, outgoing: bool) -> list[ox.Triple]:
        """The triples of ``node`` (out of it, or into it) and of its siblings at the end of the same chain."""
        iri, steps = anchor
        chain: list[str] = []
        previous = str(iri)
        for index, (out, step) in enumerate(steps, start=1):
            current = f"?n{index}"
            chain.append(f"{previous} {step} {current} ." if out else f"{current} {step} {previous} .")
            chain.append(f"FILTER(isBlank({current}))")
            previous = current
        pattern = f"{previous} ?p ?o" if outgoing else f"?s ?p {previous}"
        found = self._client.construct(f"CONSTRUCT {{ {pattern} }} WHERE {{ {' '.join(chain)} {pattern} }}")
        groups: dict[ox.BlankNode, list[ox.Triple]] = {node: []}
        for triple in found:
            end = triple.subject if outgoing else triple.object
            if isinstance(end, ox.BlankNode):
                groups.setdefault(end, []).append(triple)
        cache = self._outgoing if outgoing else self._incoming
        with self._lock:
            for end, triples in groups.items():
                _put(cache, end, triples)
                _put(self._anchors, end, anchor)
                self._extend(anchor, triples, outgoing)
        return groups[node]

    def _extend(self, anchor: Anchor, triples: Iterable[ox.Triple], outgoing: bool) -> None:
        """Anchor the blank nodes ``triples`` reach: one step further along the chain (lock held)."""
        iri, steps = anchor
        for triple in triples:
            further = triple.object if outgoing else triple.subject
            if isinstance(further, ox.BlankNode) and further not in self._anchors:
                _put(self._anchors, further, (iri, (*steps, (outgoing, triple.predicate))))

    def _copied(self) -> StoreGraphView:
        """The start-up copy of the store's blank-node triples, read at the first blank node without an anchor."""
        with self._lock:
            if self._copy is None:
                log.info("reading the blank-node triples of %s: a blank node was asked for not reached from an IRI",
                         self._client.url)  # fmt: skip
                self._copy = StoreGraphView(self._client)
            return self._copy


def _put(cache: OrderedDict[K, V], key: K, value: V) -> None:
    """Keep ``value`` under ``key`` as the most recently used, dropping the least recently used past the bound."""
    cache[key] = value
    cache.move_to_end(key)
    if len(cache) > REMEMBERED:
        cache.popitem(last=False)
