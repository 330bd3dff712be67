"""Look codes up both ways: from a terminology code to the graph's entities, and from an entity to its codes.

A mapping in the graph is a SKOS triple ``cc:x skos:exactMatch|closeMatch|broadMatch|narrowMatch|relatedMatch
<code IRI>`` with one ``owl:Axiom`` annotating it (``owl:annotatedSource/Property/Target``) that carries the SSSOM
slots (``sssom:object_id`` the CURIE, ``object_label``, ``mapping_justification``, ``author_id``, ``mapping_date``,
``confidence``, ``see_also``, ``comment``); see :mod:`calcinosis_kg.graph.mappings`. :func:`graph_mappings` reads
them back as :class:`GraphMapping` records, which the exports (:mod:`calcinosis_kg.graph.exports`) also use.

Codes are accepted in every common spelling and normalised by :func:`parse_code` to the project's canonical CURIE
(the prefixes of :data:`calcinosis_kg.graph.codes.CHECKERS`: ``SCTID``, ``ICD10CM``, ``MONDO``...) and the IRI the
graph uses (the Bioregistry's expansion, e.g. ``http://snomed.info/id/6595006``). Prefix synonyms and IRI forms come
from a :class:`~calcinosis_kg.graph.codesystems.CodeSystems` table computed from the Bioregistry, never from a
hand-written one. Every function that reads codes takes that table as ``systems``; without it they use
:func:`~calcinosis_kg.graph.codesystems.default_code_systems` (the table of the build directory, so that nothing
here imports the Bioregistry when the graph has been built).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from rdflib import Graph, URIRef
from rdflib.namespace import OWL, RDF, SKOS
from rdflib.term import Node

from calcinosis_kg.errors import CodeSyntaxError, CurationError, UnknownCode, UnknownEntity
from calcinosis_kg.graph.codes import check_code
from calcinosis_kg.graph.codesystems import CodeSystems, default_code_systems
from calcinosis_kg.ontology import CC, SSSOM, SSSOM_PREDICATES, preferred_label

__all__ = [
    "GraphMapping",
    "codes_for_entity",
    "entities_for_code",
    "graph_mappings",
    "parse_code",
    "resolve_entity",
]

PREDICATE_CURIES: dict[URIRef, str] = {iri: curie for curie, iri in SSSOM_PREDICATES.items()}
"""SKOS mapping property IRI -> its CURIE (``skos:exactMatch``...)."""

_DIGITS = re.compile(r"[0-9]+")
_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
_LOCAL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


# ---------------------------------------------------------------------------------------------- codes
def _curie_of_iri(text: str, systems: CodeSystems) -> str:
    """The CURIE of a code IRI: the project's own IRI forms first, then any IRI form the Bioregistry knows."""
    curie = systems.compress(text)
    if curie is None:
        forms = ", ".join(f"{s.prefix} {s.uri_prefix}{{id}}" for s in systems.systems)
        raise CodeSyntaxError(f"{text!r} is not the IRI of a code in a known code system (known: {forms})")
    return curie


def parse_code(text: str, systems: CodeSystems | None = None) -> tuple[str, URIRef]:
    """Normalise a code to ``(canonical CURIE, IRI used in the graph)``; raise CodeSyntaxError if it is not one.

    Accepted forms (surrounding whitespace ignored): bare digits (a SNOMED CT concept id: ``6595006``); a CURIE
    whose prefix is a project prefix or any of its Bioregistry synonyms, in any case (``SCTID:6595006``,
    ``snomed:6595006``, ``snomedct:6595006``, ``SNOMEDCT:6595006``, ``icd10cm:L94.2``, ``mondo:0002123``); the
    code's IRI in the project's form (``http://snomed.info/id/6595006``) or in any form the Bioregistry resolves
    (OBO PURLs, identifiers.org, bioregistry.io...). The local id is then checked by
    :func:`calcinosis_kg.graph.codes.check_code` (check digits, partition, pattern): a malformed code raises
    CodeSyntaxError naming the rule it breaks; an unknown prefix or IRI raises CodeSyntaxError listing the known
    code systems. Local ids are not case-folded (``ICD10CM:l94.2`` is malformed). Prefixes and IRI forms are those
    of ``systems`` (default :func:`~calcinosis_kg.graph.codesystems.default_code_systems`).
    """
    systems = default_code_systems() if systems is None else systems
    value = text.strip()
    if not value:
        raise CodeSyntaxError("empty code: expected a CURIE such as SCTID:6595006, a code IRI or SNOMED CT digits")
    if _DIGITS.fullmatch(value):
        curie = f"SCTID:{value}"
    elif _IRI.fullmatch(value):
        curie = _curie_of_iri(value, systems)
    else:
        prefix, sep, local = value.partition(":")
        if not sep or not prefix or not local:
            raise CodeSyntaxError(
                f"{text!r} is not a code: expected PREFIX:LOCAL_ID (e.g. SCTID:6595006), a code IRI "
                "(e.g. http://snomed.info/id/6595006) or the digits of a SNOMED CT concept id"
            )
        canonical = systems.canonical_prefix(prefix)
        if canonical is None:
            known = ", ".join(sorted(systems.prefixes, key=str.casefold))
            raise CodeSyntaxError(f"{text!r} has an unknown code-system prefix {prefix!r} (known: {known})")
        curie = f"{canonical}:{local}"
    check_code(curie)
    return curie, URIRef(systems.expand_strict(curie))


# ---------------------------------------------------------------------------------------------- mappings
@dataclass(frozen=True)
class GraphMapping:
    """One SKOS mapping triple of the graph with the SSSOM slots of its axiom annotation."""

    subject: URIRef
    subject_label: str
    predicate: str
    """CURIE of the SKOS mapping property, e.g. ``skos:broadMatch``."""
    object: URIRef
    object_id: str
    """Canonical CURIE of the code, e.g. ``SCTID:6595006``."""
    object_label: str
    justification: URIRef
    authors: tuple[URIRef, ...]
    mapping_date: str
    confidence: float | None
    see_also: tuple[str, ...]
    comment: str

    @property
    def system(self) -> str:
        """The code's CURIE prefix (``SCTID``, ``ICD10CM``...)."""
        return self.object_id.split(":", 1)[0]

    @property
    def subject_curie(self) -> str:
        """The entity as a CURIE, e.g. ``cc:calcinosis-cutis``."""
        return "cc:" + self.subject.removeprefix(str(CC))

    @property
    def local_id(self) -> str:
        """The code without its prefix (``6595006``)."""
        return self.object_id.split(":", 1)[1]


def label_of(graph: Graph, node: Node) -> str:
    """The ``skos:prefLabel`` of ``node`` (:func:`~calcinosis_kg.ontology.preferred_label`); empty if it has none."""
    return preferred_label(graph, node, (SKOS.prefLabel,)) or ""


def _text(graph: Graph, node: Node, slot: URIRef) -> str:
    value = graph.value(node, slot)
    return "" if value is None else str(value)


def _axioms_of(graph: Graph, subject: Node, predicate: Node, target: Node) -> list[Node]:
    return [
        axiom
        for axiom in graph.subjects(OWL.annotatedSource, subject)
        if (axiom, OWL.annotatedProperty, predicate) in graph and (axiom, OWL.annotatedTarget, target) in graph
    ]


def graph_mappings(
    graph: Graph,
    subject: URIRef | None = None,
    target: URIRef | None = None,
    systems: CodeSystems | None = None,
) -> list[GraphMapping]:
    """Every mapping of a graph entity (``cc:``) to a code, optionally of one subject or to one target IRI.

    Sorted by subject, code and predicate. Raises CurationError naming the triple when a mapping triple has no
    axiom annotation, more than one, or an axiom whose ``sssom:object_id`` does not name the triple's target (as
    ``systems`` expands it, default :func:`~calcinosis_kg.graph.codesystems.default_code_systems`) or that lacks a
    ``sssom:mapping_justification``: the evidence of every mapping must be readable unambiguously.
    """
    systems = default_code_systems() if systems is None else systems
    mappings = []
    for predicate, curie in PREDICATE_CURIES.items():
        for s, _, o in graph.triples((subject, predicate, target)):
            if not isinstance(s, URIRef) or not s.startswith(str(CC)) or not isinstance(o, URIRef):
                continue
            found = _axioms_of(graph, s, predicate, o)
            where = f"mapping <{s}> {curie} <{o}>"
            if len(found) != 1:
                raise CurationError(f"{where} has {len(found)} owl:Axiom annotations (expected exactly one)")
            axiom = found[0]
            object_id = _text(graph, axiom, SSSOM.object_id)
            if not object_id or systems.expand(object_id) != str(o):
                raise CurationError(f"{where}: sssom:object_id {object_id!r} does not name the target")
            justification = graph.value(axiom, SSSOM.mapping_justification)
            if not isinstance(justification, URIRef):
                raise CurationError(f"{where} has no sssom:mapping_justification IRI")
            confidence = graph.value(axiom, SSSOM.confidence)
            mappings.append(
                GraphMapping(
                    subject=s,
                    subject_label=label_of(graph, s),
                    predicate=curie,
                    object=o,
                    object_id=object_id,
                    object_label=_text(graph, axiom, SSSOM.object_label),
                    justification=justification,
                    authors=tuple(sorted(a for a in graph.objects(axiom, SSSOM.author_id) if isinstance(a, URIRef))),
                    mapping_date=_text(graph, axiom, SSSOM.mapping_date),
                    confidence=None if confidence is None else float(str(confidence)),
                    see_also=tuple(sorted(str(x) for x in graph.objects(axiom, SSSOM.see_also))),
                    comment=_text(graph, axiom, SSSOM.comment),
                )
            )
    return sorted(mappings, key=lambda m: (str(m.subject), m.object_id, m.predicate))


# ---------------------------------------------------------------------------------------------- lookups
def entities_for_code(graph: Graph, text: str, systems: CodeSystems | None = None) -> list[GraphMapping]:
    """The mappings of the graph's entities to a code given in any form :func:`parse_code` accepts, sorted by
    the entity's label and IRI.

    Raises CodeSyntaxError for a malformed code or unknown code system, and UnknownCode for a well-formed code
    that no entity is mapped to.
    """
    systems = default_code_systems() if systems is None else systems
    curie, iri = parse_code(text, systems)
    matches = graph_mappings(graph, target=iri, systems=systems)
    if not matches:
        raise UnknownCode(f"{curie} (<{iri}>) is a well-formed code, but no entity of the graph is mapped to it")
    return sorted(matches, key=lambda m: (m.subject_label.casefold(), str(m.subject), m.predicate))


def resolve_entity(graph: Graph, text: str) -> URIRef:
    """The IRI of the entity named by its IRI, a ``cc:`` CURIE or a bare local id; raise UnknownEntity if none.

    ``https://w3id.org/calcinosis-kg/id/acne``, ``<https://w3id.org/calcinosis-kg/id/acne>``, ``cc:acne`` and
    ``acne`` all name the same entity. The error message suggests the closest local ids.
    """
    value = text.strip().removeprefix("<").removesuffix(">")
    if value.startswith(str(CC)):
        local = value.removeprefix(str(CC))
    elif value.startswith("cc:"):
        local = value.removeprefix("cc:")
    else:
        local = value
    iri = CC[local]
    if _LOCAL_ID.fullmatch(local) and (iri, RDF.type, OWL.NamedIndividual) in graph:
        return iri
    entities = graph.subjects(RDF.type, OWL.NamedIndividual)
    known = sorted(e.removeprefix(str(CC)) for e in entities if isinstance(e, URIRef) and e.startswith(str(CC)))
    close = difflib.get_close_matches(local, known, n=3)
    hint = f"; did you mean {', '.join('cc:' + c for c in close)}?" if close else ""
    raise UnknownEntity(
        f"{text!r} names no entity of the graph (expected an IRI under {CC}, a CURIE cc:ID or a bare ID){hint}"
    )


def codes_for_entity(graph: Graph, entity: str, systems: CodeSystems | None = None) -> list[GraphMapping]:
    """The mappings of an entity (IRI, ``cc:`` CURIE or bare local id), sorted by code and predicate.

    An entity without mappings gives an empty list; a name that is not an entity raises UnknownEntity.
    ``systems`` checks the mappings as in :func:`graph_mappings`.
    """
    iri = resolve_entity(graph, entity)
    codes = graph_mappings(graph, subject=iri, systems=systems)
    return sorted(codes, key=lambda m: (m.object_id.casefold(), m.object_id, m.predicate))
