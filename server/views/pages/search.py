"""The home page's search box without JavaScript: ``/search?q=`` lists the entities whose label contains the
words typed (label starts first). With JavaScript the box suggests as you type from ``/lookup`` instead."""

from __future__ import annotations

from collections.abc import Mapping

from rdflib import URIRef

from calcinosis_kg.ontology import BASE

SEARCH_LIMIT = 50


def search(labels: Mapping[URIRef, str], text: str, limit: int = SEARCH_LIMIT) -> list[tuple[URIRef, str]]:
    """(IRI, label) of the graph's resources whose label contains every word of ``text``, best first."""
    words = text.lower().split()
    if not words:
        return []
    found = []
    for iri, label in labels.items():
        if not iri.startswith(BASE):
            continue
        lowered = label.lower()
        if all(word in lowered for word in words):
            rank = 0 if lowered == " ".join(words) else 1 if lowered.startswith(words[0]) else 2
            found.append((rank, len(label), lowered, iri, label))
    return [(iri, label) for *_, iri, label in sorted(found)[:limit]]
