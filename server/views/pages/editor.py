"""The SPARQL editor of ``/query``: what it completes and its ready-made tabs.

The page's plain form works without JavaScript; with it, ``query.js`` replaces the form by YASGUI and reads
:func:`editor_config` from ``/query/editor.json``: the endpoint, the project's prefixes, the classes and
properties of the ontology and the labels of the entities (all from the start-up indexes: no query is run)
and the canned questions, each a tab the editor opens on demand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rdflib import URIRef
from rdflib.namespace import OWL, RDF, RDFS

from calcinosis_kg.ontology import CC, PREFIXES
from calcinosis_kg.queries.catalog import CannedQuery
from calcinosis_kg.server.resources.linked_data import LinkedData

TOPICS: Sequence[tuple[str, frozenset[str]]] = (
    ("Types, causes and mechanisms", frozenset({"subtypes", "causes", "mechanism", "anatomy", "related"})),
    ("Symptoms, complications and course", frozenset({"symptoms", "complications", "prognosis"})),
    ("Diagnosis", frozenset({"diagnosis"})),
    ("Rare and genetic diseases (HPO)", frozenset({"genetics"})),
    ("Treatment and prevention", frozenset({"treatment", "prevention", "advice", "drugs", "procedures"})),
    ("Codes, sources and curation", frozenset({"lookup", "mappings", "provenance", "sources", "curation"})),
)
"""The home and query pages group the canned questions by the topic of their first tag."""
OTHER_TOPIC = "Other questions"

CLASS_TYPES = (OWL.Class, RDFS.Class)
PROPERTY_TYPES = (OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty, RDF.Property)


def topic_of(query: CannedQuery) -> str:
    """The topic a canned question is listed under (by its first tag that names one)."""
    for tag in query.tags:
        for topic, tags in TOPICS:
            if tag in tags:
                return topic
    return OTHER_TOPIC


@dataclass(frozen=True)
class Topic:
    title: str
    queries: tuple[CannedQuery, ...]


def by_topic(catalog: Mapping[str, CannedQuery]) -> list[Topic]:
    """The canned questions grouped by topic, topics in :data:`TOPICS` order, questions by summary."""
    groups: dict[str, list[CannedQuery]] = {}
    for query in catalog.values():
        groups.setdefault(topic_of(query), []).append(query)
    order = [title for title, _ in TOPICS] + [OTHER_TOPIC]
    return [
        Topic(title, tuple(sorted(groups[title], key=lambda query: query.summary.lower())))
        for title in order
        if title in groups
    ]


def _terms(linked_data: LinkedData, kinds: Sequence[URIRef]) -> list[tuple[str, str]]:
    graph = linked_data.ontology_graph
    found = {term for kind in kinds for term in graph.subjects(RDF.type, kind) if isinstance(term, URIRef)}
    return sorted((str(term), linked_data.label(term) or "") for term in found)


def editor_config(
    linked_data: LinkedData, catalog: Mapping[str, CannedQuery], prefilled: Callable[[CannedQuery], str], endpoint: str
) -> dict[str, Any]:
    """The JSON document ``query.js`` configures YASGUI with (``prefilled`` gives a canned query's text)."""
    entities = sorted((str(iri), label) for iri, label in linked_data.labels.items() if str(iri).startswith(str(CC)))
    return {
        "endpoint": endpoint,
        "prefixes": {prefix: str(namespace) for prefix, namespace in PREFIXES.items()},
        "classes": _terms(linked_data, CLASS_TYPES),
        "properties": _terms(linked_data, PROPERTY_TYPES),
        "entities": entities,
        "examples": [
            {"name": query.name, "summary": query.summary, "topic": topic.title, "query": prefilled(query)}
            for topic in by_topic(catalog)
            for query in topic.queries
        ],
    }
