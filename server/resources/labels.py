"""``GET /lookup?q=...&limit=N``: find entities by label, synonym or code, for search boxes and autocompletion.

:class:`LabelIndex` is built once per server process, by its first lookup, from the served graph: for every entity
(an IRI under ``cc:`` with a ``skos:prefLabel``) its English preferred label, its synonyms (``skos:altLabel``), its
hidden labels (``skos:hiddenLabel``: a source's own wording that is not a synonym, such as "whiteheads" for milia), the
codes it is mapped to (the ``sssom:object_id`` CURIE of each SKOS mapping's ``owl:Axiom``) and the code systems'
terms for them (``sssom:object_label``), and its most specific ``cco:`` class. A lookup is a scan of that in-memory
index (no SPARQL, no query worker), case-insensitive and with runs of whitespace counted as one space. Codes are
read with a :class:`~calcinosis_kg.graph.codesystems.CodeSystems` table loaded with the index: by default
``code-systems.json`` of the build directory, which loads in a millisecond, else one computed from the Bioregistry
(about 2 s, logged; see :func:`~calcinosis_kg.graph.codesystems.default_code_systems`). Each entity is returned
once, for its best match (its label before a synonym, before a hidden label, before a code, before a code system's
term, at the same level); entities rank by that match as follows, ties by label. A hidden label finds its entity only
when ``q`` is the label or its start, never by a word or substring of it, and the answer names the entity by its
preferred label (``label``): the hidden label is only the ``matched`` text, which the search box does not show.

=======================  ==========================================================================
``match``                the text ``q`` is
=======================  ==========================================================================
``exact-label``          the preferred label
``exact-synonym``        a synonym
``exact-hidden-label``   a hidden label (a source's wording)
``code``                 a code the entity is mapped to, in any form that
                         :func:`~calcinosis_kg.graph.lookup.parse_code` accepts (``SCTID:6595006``,
                         ``6595006``, ``snomed:6595006``, the code's IRI...)
``label-prefix``         the start of the preferred label
``synonym-prefix``       the start of a synonym
``hidden-label-prefix``  the start of a hidden label
``code-prefix``          the start of a mapped code's CURIE (``SCTID:659``)
``exact-code-label``     a code system's term for a mapped code
``code-label-prefix``    the start of such a term
``word-prefix``          the start of a word of the label, of a synonym or of a code's term
``substring``            inside one of them
=======================  ==========================================================================
"""

from __future__ import annotations

import re
import typing
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeGuard, get_args

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SKOS
from rdflib.term import Node

from calcinosis_kg.errors import CodeSyntaxError
from calcinosis_kg.graph.codesystems import CodeSystems, default_code_systems
from calcinosis_kg.graph.lookup import parse_code
from calcinosis_kg.ontology import CC, CCO, MAPPING_PREDICATES, SSSOM, preferred_label
from calcinosis_kg.server.resources.data import PatternGraph
from calcinosis_kg.server.sparql.describe import GraphView

INDEXED_PREDICATES = (
    SKOS.prefLabel, SKOS.altLabel, SKOS.hiddenLabel, RDFS.label, RDF.type, RDFS.subClassOf, *MAPPING_PREDICATES,
    OWL.annotatedSource, OWL.annotatedProperty, OWL.annotatedTarget, SSSOM.object_id, SSSOM.object_label,
)  # fmt: skip
"""What :meth:`LabelIndex.from_graph` reads: labels, synonyms, hidden labels, types, the class tree, mappings."""
_SPACES = re.compile(r"\s+")
_WORD_START = re.compile(r"(?<![^\W_])[^\W_]")
"""A letter or digit that does not follow another letter or digit."""


class Source(IntEnum):
    """Where a matched text comes from, in order of preference."""

    LABEL = 0
    SYNONYM = 1
    HIDDEN = 2
    CODE = 3
    CODE_LABEL = 4


class Level(IntEnum):
    """How a text matches, in order of preference."""

    EXACT = 0
    PREFIX = 1
    WORD_PREFIX = 2
    SUBSTRING = 3


MatchKind = typing.Literal[
    "exact-label",
    "exact-synonym",
    "exact-hidden-label",
    "code",
    "label-prefix",
    "synonym-prefix",
    "hidden-label-prefix",
    "code-prefix",
    "exact-code-label",
    "code-label-prefix",
    "word-prefix",
    "substring",
]
"""How a hit matched, best first."""

MATCH_KINDS: tuple[MatchKind, ...] = get_args(MatchKind)
"""Every ``match`` a hit can have, best first."""

_RANKED_KINDS: dict[tuple[Level, Source], MatchKind] = {
    (Level.EXACT, Source.LABEL): "exact-label",
    (Level.EXACT, Source.SYNONYM): "exact-synonym",
    (Level.EXACT, Source.HIDDEN): "exact-hidden-label",
    (Level.EXACT, Source.CODE): "code",
    (Level.PREFIX, Source.LABEL): "label-prefix",
    (Level.PREFIX, Source.SYNONYM): "synonym-prefix",
    (Level.PREFIX, Source.HIDDEN): "hidden-label-prefix",
    (Level.PREFIX, Source.CODE): "code-prefix",
    (Level.EXACT, Source.CODE_LABEL): "exact-code-label",
    (Level.PREFIX, Source.CODE_LABEL): "code-label-prefix",
}
"""The ``match`` of each exact or prefix match, best first; word-prefix and substring matches come after."""

_RANKS = {key: rank for rank, key in enumerate(_RANKED_KINDS)}
_UNRANKED_KINDS: dict[Level, MatchKind] = {Level.WORD_PREFIX: "word-prefix", Level.SUBSTRING: "substring"}


def _kind(level: Level, source: Source) -> tuple[tuple[int, int], MatchKind]:
    """The rank (lower is better) and the ``match`` name of a match at ``level`` on a text from ``source``."""
    if (level, source) in _RANKS:
        return (_RANKS[level, source], source), _RANKED_KINDS[level, source]
    rank = len(_RANKS) + level - Level.WORD_PREFIX
    return (rank, source), _UNRANKED_KINDS[level]


@dataclass(frozen=True)
class EntityType:
    """An entity's most specific class of the ontology."""

    iri: str
    label: str


@dataclass(frozen=True)
class Entity:
    """An entity of the index."""

    iri: URIRef
    label: str
    type: EntityType | None


@dataclass(frozen=True)
class _Text:
    """One searchable text of an entity, with its normalised form and where its words start."""

    entity: Entity
    text: str
    key: str
    source: Source
    word_starts: tuple[int, ...]


@dataclass(frozen=True)
class Hit:
    """A lookup result: the entity, the text that matched and how (``match``, see the module docstring)."""

    entity: Entity
    matched: str
    match: MatchKind
    rank: tuple[int, int]
    """(rank of ``match``, source of ``matched``): the lowest is the entity's best match."""

    def as_json(self) -> LookupHit:
        """The hit as ``/lookup`` returns it."""
        return LookupHit(
            iri=str(self.entity.iri),
            label=self.entity.label,
            type=self.entity.type,
            matched=self.matched,
            match=self.match,
        )


@dataclass(frozen=True)
class LookupHit:
    """An entity found by GET /lookup."""

    iri: str
    label: str
    """The entity's preferred label."""
    type: EntityType | None
    matched: str
    """The label, synonym, code or code term that matched."""
    match: MatchKind
    """How it matched."""


def normalise(text: str) -> str:
    """``text`` case-folded, with surrounding whitespace removed and inner runs of whitespace made one space."""
    return _SPACES.sub(" ", text).strip().casefold()


class LabelIndex:
    """The labels, synonyms and codes of a graph's entities, in memory, searched by :meth:`search`."""

    def __init__(
        self,
        texts: Iterable[tuple[Entity, str, Source]],
        codes: Mapping[URIRef, Iterable[Entity]],
        systems: CodeSystems,
    ) -> None:
        """Index ``texts``, (entity, text, source) triples, and ``codes``, code IRI -> the entities mapped to it.

        ``systems`` reads the codes that lookups are given (:func:`~calcinosis_kg.graph.lookup.parse_code`).
        """
        self._texts = tuple(_text(entity, text, source) for entity, text, source in dict.fromkeys(texts))
        self._codes = {iri: tuple(dict.fromkeys(entities)) for iri, entities in codes.items()}
        self._systems = systems

    def parts(self) -> tuple[tuple[_Text, ...], list[tuple[URIRef, tuple[Entity, ...]]]]:
        """What :meth:`from_parts` takes back: the indexed texts and the codes (sorted: deterministic bytes)."""
        return self._texts, sorted(self._codes.items())

    @classmethod
    def from_parts(
        cls,
        texts: tuple[_Text, ...],
        codes: list[tuple[URIRef, tuple[Entity, ...]]],
        systems: CodeSystems | None = None,
    ) -> LabelIndex:
        """The index :meth:`parts` came from (read from a serving bundle), without indexing anything again."""
        index = cls.__new__(cls)
        index._texts, index._codes = texts, dict(codes)
        index._systems = default_code_systems() if systems is None else systems
        return index

    @property
    def size(self) -> int:
        """The number of entities indexed."""
        return len({text.entity.iri for text in self._texts})

    @classmethod
    def from_store(cls, view: GraphView, systems: CodeSystems | None = None) -> LabelIndex:
        """The index of the served default graph (``view``), read pattern by pattern (:class:`~.data.PatternGraph`:
        no copy of the data, whatever its size)."""
        return cls.from_graph(PatternGraph(view.triples), systems)

    @classmethod
    def from_graph(cls, graph: Graph, systems: CodeSystems | None = None) -> LabelIndex:
        """Index every entity of ``graph``: an IRI under ``cc:`` with a ``skos:prefLabel``.

        Codes are read with ``systems``, by default
        :func:`~calcinosis_kg.graph.codesystems.default_code_systems` (loaded now, not at the first lookup).
        """
        types = _TypeResolver(graph)
        entities: dict[URIRef, Entity] = {}
        texts: list[tuple[Entity, str, Source]] = []
        subjects = {s for s in graph.subjects(SKOS.prefLabel, None) if isinstance(s, URIRef) and s.startswith(CC)}
        for subject in sorted(subjects):
            entity = Entity(subject, _label(graph, subject), types.most_specific(subject))
            entities[subject] = entity
            texts.append((entity, entity.label, Source.LABEL))
            synonyms = sorted(str(o) for o in graph.objects(subject, SKOS.altLabel) if isinstance(o, Literal))
            texts.extend((entity, synonym, Source.SYNONYM) for synonym in synonyms)
            hidden = sorted(str(o) for o in graph.objects(subject, SKOS.hiddenLabel) if isinstance(o, Literal))
            texts.extend((entity, wording, Source.HIDDEN) for wording in hidden)
        codes: dict[URIRef, list[Entity]] = defaultdict(list)
        for mapping in _mappings(graph):
            mapped = entities.get(mapping.subject)
            if mapped is None:
                continue
            codes[mapping.target].append(mapped)
            if mapping.curie:
                texts.append((mapped, mapping.curie, Source.CODE))
            if mapping.code_label:
                texts.append((mapped, mapping.code_label, Source.CODE_LABEL))
        return cls(texts, codes, default_code_systems() if systems is None else systems)

    def search(self, text: str, limit: int) -> list[Hit]:
        """The best ``limit`` entities for ``text`` (ranked as the module docstring says)."""
        best: dict[URIRef, Hit] = {}
        for hit in self._matches(text):
            known = best.get(hit.entity.iri)
            if known is None or hit.rank < known.rank:
                best[hit.entity.iri] = hit
        ranked = sorted(best.values(), key=lambda h: (h.rank[0], h.entity.label.casefold(), str(h.entity.iri)))
        return ranked[:limit]

    def _matches(self, text: str) -> Iterator[Hit]:
        try:
            curie, iri = parse_code(text, self._systems)
        except CodeSyntaxError:
            pass
        else:
            rank, kind = _kind(Level.EXACT, Source.CODE)
            yield from (Hit(entity, curie, kind, rank) for entity in self._codes.get(iri, ()))
        key = normalise(text)
        for candidate in self._texts:
            level = _level(candidate, key)
            if level is not None and (candidate.source != Source.HIDDEN or level <= Level.PREFIX):
                rank, kind = _kind(level, candidate.source)
                yield Hit(candidate.entity, candidate.text, kind, rank)


def _text(entity: Entity, text: str, source: Source) -> _Text:
    return _Text(entity, text, key := normalise(text), source, _word_starts(key))


def _word_starts(key: str) -> tuple[int, ...]:
    return tuple(m.start() for m in _WORD_START.finditer(key))


def _level(candidate: _Text, key: str) -> Level | None:
    if candidate.key == key:
        return Level.EXACT
    if candidate.key.startswith(key):
        return Level.PREFIX
    if any(candidate.key.startswith(key, start) for start in candidate.word_starts):
        return Level.WORD_PREFIX
    if key in candidate.key:
        return Level.SUBSTRING
    return None


def _label(graph: Graph, node: Node) -> str:
    """The preferred label of ``node`` (:func:`~calcinosis_kg.ontology.preferred_label`), empty if none."""
    return preferred_label(graph, node) or ""


@dataclass(frozen=True)
class _Mapping:
    subject: URIRef
    target: URIRef
    curie: str
    """The axiom's ``sssom:object_id`` (empty if the mapping has no axiom)."""
    code_label: str
    """The axiom's ``sssom:object_label`` (empty if none)."""


def _mappings(graph: Graph) -> Iterator[_Mapping]:
    """Every SKOS mapping triple between IRIs, with the SSSOM slots of its ``owl:Axiom``."""
    annotating: dict[tuple[Node, Node, Node], list[Node]] = defaultdict(list)
    for axiom, source in graph.subject_objects(OWL.annotatedSource):
        for annotated in graph.objects(axiom, OWL.annotatedProperty):
            for target in graph.objects(axiom, OWL.annotatedTarget):
                annotating[(source, annotated, target)].append(axiom)
    for predicate in MAPPING_PREDICATES:
        for subject, target in graph.subject_objects(predicate):
            if not isinstance(subject, URIRef) or not isinstance(target, URIRef):
                continue
            axioms = annotating.get((subject, predicate, target), [])
            curie = min((str(graph.value(a, SSSOM.object_id) or "") for a in axioms), default="")
            code_label = min((str(graph.value(a, SSSOM.object_label) or "") for a in axioms), default="")
            yield _Mapping(subject, target, curie, code_label)


class _TypeResolver:
    """Finds an entity's most specific ``cco:`` class: none of its other classes is below it, and it is deepest."""

    def __init__(self, graph: Graph) -> None:
        self._graph = graph
        self._parents: dict[URIRef, set[URIRef]] = defaultdict(set)
        for child, parent in graph.subject_objects(RDFS.subClassOf):
            if _is_class(child) and _is_class(parent):
                self._parents[child].add(parent)
        self._depths: dict[URIRef, int] = {}

    def most_specific(self, entity: URIRef) -> EntityType | None:
        """The entity's deepest ``cco:`` class among those with no other of its classes below; ties by label."""
        classes = {c for c in self._graph.objects(entity, RDF.type) if _is_class(c)}
        above = {ancestor for cls in classes for ancestor in self._ancestors(cls)}
        candidates = [(cls, _label(self._graph, cls) or cls.removeprefix(CCO)) for cls in classes - above]
        if not candidates:
            return None
        cls, label = min(candidates, key=lambda c: (-self._depth(c[0]), c[1].casefold(), str(c[0])))
        return EntityType(str(cls), label)

    def _ancestors(self, cls: URIRef) -> set[URIRef]:
        seen: set[URIRef] = set()
        stack = list(self._parents.get(cls, ()))
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(self._parents.get(current, ()))
        return seen

    def _depth(self, cls: URIRef) -> int:
        """The length of the longest chain of ``cco:`` superclasses above ``cls``."""
        if cls not in self._depths:
            self._depths[cls] = 0  # guards against a cycle of subclasses
            self._depths[cls] = max((self._depth(parent) + 1 for parent in self._parents.get(cls, ())), default=0)
        return self._depths[cls]


def _is_class(node: Node) -> TypeGuard[URIRef]:
    """True for an IRI in the ontology's namespace (``cco:``)."""
    return isinstance(node, URIRef) and node.startswith(CCO)
