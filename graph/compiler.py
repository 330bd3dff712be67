"""Compile the curated knowledge (``graph/knowledge/*.yaml``) into RDF.

The curated files are reviewable tables of entities; each entity lists its types, labels, definition,
sources, data values and relations. This module checks them against the ontology (every type, property and
target must exist) and emits, for every relation or value assertion, the direct triple *and* an OWL 2 axiom
annotation carrying its provenance::

    cc:metastatic-calcinosis-cutis cco:hasCause cc:chronic-kidney-disease .
    _:ax a owl:Axiom ;
        owl:annotatedSource cc:metastatic-calcinosis-cutis ;
        owl:annotatedProperty cco:hasCause ;
        owl:annotatedTarget cc:chronic-kidney-disease ;
        dcterms:source cc:verywell-article ;
        obo:RO_0002558 obo:ECO_0000303 .

Axiom nodes get blank-node ids derived from a hash of the triple, so the output is deterministic.
The file format is documented in ``graph/knowledge/README.md``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS, XSD
from rdflib.term import Node

from calcinosis_kg.errors import CurationError
from calcinosis_kg.graph.curated_format import (
    ALLOWED_QUALIFIER_VALUES,
    ASSERTION_KEYS,
    ENTITY_KEYS,
    EVIDENCE_CODES,
    FILE_KEYS,
    QUALIFIERS,
    SUBJECT_NOTE,
)
from calcinosis_kg.ontology import CC, CCO, HAS_EVIDENCE, PREFIXES, bind_prefixes

KNOWLEDGE_DIR = Path(__file__).resolve().parent / "knowledge"


@dataclass(frozen=True)
class Assertion:
    """One curated relation or value assertion, with everything its axiom annotation needs."""

    subject: URIRef
    predicate: URIRef
    obj: Node
    sources: tuple[str, ...]
    evidence: str
    qualifiers: tuple[tuple[str, str], ...] = ()
    evidence_level: URIRef | None = None
    evidence_level_sources: tuple[str, ...] = ()


def evidence_levels(ontology: Graph) -> dict[str, URIRef]:
    """The evidence levels the ontology defines: ``skos:notation`` -> concept of ``cco:EvidenceLevelScheme``."""
    return {
        str(notation): concept
        for concept in ontology.subjects(SKOS.inScheme, CCO.EvidenceLevelScheme)
        if isinstance(concept, URIRef)
        for notation in ontology.objects(concept, SKOS.notation)
    }


@dataclass
class _Context:
    """Where we are in the curated files, for error messages, and what the ontology declares."""

    ontology: Graph
    where: str = ""
    entity_ids: dict[str, str] = field(default_factory=dict)
    referenced: list[tuple[str, str]] = field(default_factory=list)
    levels: dict[str, URIRef] = field(default_factory=dict)

    def fail(self, message: str) -> CurationError:
        return CurationError(f"{self.where}: {message}")


def _expand(name: str, ctx: _Context) -> URIRef:
    """Expand ``hasCause`` to a cco: term and ``dcterms:title`` through the project prefixes."""
    if ":" not in name:
        return CCO[name]
    prefix, local = name.split(":", 1)
    if prefix not in PREFIXES:
        raise ctx.fail(f"unknown prefix {prefix!r} in {name!r}")
    return PREFIXES[prefix][local]


def _declared(ctx: _Context, term: URIRef, *kinds: URIRef) -> bool:
    return any((term, RDF.type, kind) in ctx.ontology for kind in kinds)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _axiom_node(subject: URIRef, predicate: URIRef, obj: Node) -> BNode:
    digest = hashlib.sha256(f"{subject.n3()} {predicate.n3()} {obj.n3()}".encode()).hexdigest()
    return BNode(f"ax{digest[:24]}")


def _literal(ctx: _Context, prop: URIRef, value: Any) -> Literal:
    """Type a curated value by the property's declared rdfs:range."""
    declared = ctx.ontology.value(prop, RDFS.range)
    if isinstance(value, bool) != (declared == XSD.boolean):
        raise ctx.fail(f"{prop.n3(ctx.ontology.namespace_manager)} takes {declared or 'a string'}, got {value!r}")
    if isinstance(value, bool):
        return Literal(value)
    if isinstance(value, (dict, list)):
        raise ctx.fail(f"value of {prop} must be a scalar, got {value!r}")
    if declared is None or declared == XSD.string:
        return Literal(str(value))
    literal = Literal(str(value), datatype=str(declared))
    if literal.ill_typed:
        raise ctx.fail(f"{value!r} is not a valid {declared}")
    return literal


class _Compiler:
    def __init__(self, ontology: Graph) -> None:
        self.ctx = _Context(ontology, levels=evidence_levels(ontology))
        self.graph = bind_prefixes(Graph())
        self.assertions: list[Assertion] = []
        self._sources_cache: frozenset[Node] | None = None

    # -- entities -----------------------------------------------------------------------------------
    def add_file(self, path: Path) -> None:
        self.ctx.where = path.name
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise self.ctx.fail(f"not valid YAML: {exc}") from exc
        if not isinstance(document, dict) or not isinstance(document.get("entities"), list):
            raise self.ctx.fail("expected a mapping with an 'entities' list")
        unknown = set(document) - FILE_KEYS
        if unknown:
            raise self.ctx.fail(f"unknown top-level key(s) {sorted(unknown)}")
        defaults = {"sources": _as_list(document.get("sources")), "evidence": document.get("evidence", "NAS")}
        for entry in document["entities"]:
            self.add_entity(path.name, entry, defaults)

    def add_entity(self, filename: str, entry: Any, defaults: Mapping[str, Any]) -> None:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise CurationError(f"{filename}: every entity needs an 'id' string, got {entry!r}")
        local = entry["id"]
        self.ctx.where = f"{filename}: {local}"
        unknown = set(entry) - ENTITY_KEYS
        if unknown:
            raise self.ctx.fail(f"unknown key(s) {sorted(unknown)}; allowed: {sorted(ENTITY_KEYS)}")
        if local in self.ctx.entity_ids:
            raise self.ctx.fail(f"id already defined in {self.ctx.entity_ids[local]}")
        self.ctx.entity_ids[local] = filename
        for required in ("type", "label", "definition"):
            if not entry.get(required):
                raise self.ctx.fail(f"missing '{required}'")

        subject = CC[local]
        g = self.graph
        for type_name in _as_list(entry["type"]):
            cls = _expand(type_name, self.ctx)
            if not _declared(self.ctx, cls, OWL.Class) or not str(cls).startswith(str(CCO)):
                raise self.ctx.fail(f"type {type_name!r} is not a class of the ontology")
            g.add((subject, RDF.type, cls))
        g.add((subject, RDF.type, OWL.NamedIndividual))
        label = Literal(entry["label"].strip(), lang="en")
        g.add((subject, SKOS.prefLabel, label))
        g.add((subject, RDFS.label, label))
        g.add((subject, SKOS.definition, Literal(" ".join(entry["definition"].split()), lang="en")))
        for synonym in _as_list(entry.get("synonyms")):
            g.add((subject, SKOS.altLabel, Literal(str(synonym), lang="en")))
        for wording in _as_list(entry.get("source_wording")):
            if not isinstance(wording, dict) or set(wording) != {"label", "note"}:
                raise self.ctx.fail("each source_wording needs exactly 'label' and 'note'")
            g.add((subject, SKOS.hiddenLabel, Literal(wording["label"], lang="en")))
            note = f'Source wording "{wording["label"]}": {" ".join(wording["note"].split())}'
            g.add((subject, SKOS.editorialNote, Literal(note, lang="en")))
        if entry.get("note"):
            g.add((subject, SKOS.editorialNote, Literal(" ".join(entry["note"].split()), lang="en")))

        sources = _as_list(entry.get("sources")) or list(defaults["sources"])
        if not sources:
            raise self.ctx.fail("no sources: give 'sources' on the entity or at the top of the file")
        for source in sources:
            self.ctx.referenced.append((source, self.ctx.where))
            g.add((subject, CCO.supportedBy, CC[source]))
        inherited = {"sources": sources, "evidence": entry.get("evidence", defaults["evidence"])}

        for prop, value in self._values(entry.get("values")):
            self.add_assertion(subject, prop, value, inherited, relation=False)
        relations = entry.get("relations") or {}
        if not isinstance(relations, dict):
            raise self.ctx.fail("'relations' must map property names to lists of targets")
        for prop_name, targets in relations.items():
            if _expand(prop_name, self.ctx) == DCTERMS.subject:
                raise self.ctx.fail("dcterms:subject is written from 'subjects', not listed as a relation")
            for target in _as_list(targets):
                self.add_assertion(subject, prop_name, target, inherited, relation=True)
        self._add_subjects(subject, local, entry.get("subjects"))

    def _add_subjects(self, subject: URIRef, local: str, subjects: Any) -> None:
        """``subjects: [...]`` on a source: what the work is about, as ``<source> dcterms:subject <entity>``.

        Kept apart from ``sources`` (which would make the work a default source of every assertion of the
        entity). By default each subject assertion names the work itself as its source and is a curator
        inference (subject indexing from the work's title, :data:`SUBJECT_NOTE`); the long form
        (``{to: id, sources: [...], evidence: ..., note: ...}``) overrides that.
        """
        if subjects is None:
            return
        if not isinstance(subjects, list):
            raise self.ctx.fail("'subjects' must be a list of entity ids")
        if not any(t in self._source_classes for t in self.graph.objects(subject, RDF.type)):
            raise self.ctx.fail("only a source (a cco:Source) can list 'subjects'")
        for item in subjects:
            spec = dict(item) if isinstance(item, dict) else {"to": item}
            if spec.get("evidence", "IC") == "IC":
                spec.setdefault("note", SUBJECT_NOTE)
            self.add_assertion(subject, "dcterms:subject", spec, {"sources": [local], "evidence": "IC"}, relation=True)

    @property
    def _source_classes(self) -> frozenset[Node]:
        """cco:Source and every class below it in the ontology."""
        if self._sources_cache is None:
            classes = self.ctx.ontology.transitive_subjects(RDFS.subClassOf, CCO.Source)
            self._sources_cache = frozenset(c for c in classes if c is not None)
        return self._sources_cache

    @staticmethod
    def _values(values: Any) -> Iterator[tuple[str, Any]]:
        """Yield (property, value-or-assertion) from the mapping form or the list form of 'values'."""
        if values is None:
            return
        if isinstance(values, dict):
            for prop, value in values.items():
                for item in _as_list(value):
                    yield prop, item
        else:
            for item in _as_list(values):
                prop = item.get("property") if isinstance(item, dict) else None
                yield str(prop), item

    # -- assertions -----------------------------------------------------------------------------------
    def add_assertion(
        self, subject: URIRef, prop_name: str, spec: Any, inherited: Mapping[str, Any], *, relation: bool
    ) -> None:
        ctx = self.ctx
        prop = _expand(prop_name, ctx)
        spec = spec if isinstance(spec, dict) else {("to" if relation else "value"): spec}
        unknown = set(spec) - ASSERTION_KEYS
        if unknown:
            raise ctx.fail(f"{prop_name}: unknown key(s) {sorted(unknown)}")
        if prop == CCO.supportedBy:
            raise ctx.fail("supportedBy is written from 'sources', not listed as a relation")
        obj: Node
        if relation:
            if not _declared(ctx, prop, OWL.ObjectProperty):
                raise ctx.fail(f"{prop_name!r} is not an object property of the ontology")
            target = spec.get("to")
            if not isinstance(target, str):
                raise ctx.fail(f"{prop_name}: each target needs 'to: <entity id>'")
            ctx.referenced.append((target, ctx.where))
            obj = CC[target]
        else:
            if not _declared(ctx, prop, OWL.DatatypeProperty, OWL.AnnotationProperty):
                raise ctx.fail(f"{prop_name!r} is not a data or annotation property of the ontology")
            if "value" not in spec:
                raise ctx.fail(f"{prop_name}: missing 'value'")
            obj = _literal(ctx, prop, spec["value"])

        evidence = spec.get("evidence", inherited["evidence"])
        if evidence not in EVIDENCE_CODES:
            raise ctx.fail(f"{prop_name}: evidence must be one of {sorted(EVIDENCE_CODES)}, got {evidence!r}")
        sources = tuple(_as_list(spec.get("sources")) or inherited["sources"])
        for source in sources:
            ctx.referenced.append((source, ctx.where))
        qualifiers = []
        for key in QUALIFIERS:
            if key in spec:
                value = " ".join(str(spec[key]).split())
                allowed = ALLOWED_QUALIFIER_VALUES.get(key)
                if allowed is not None and value not in allowed:
                    raise ctx.fail(f"{prop_name}: {key} must be one of {sorted(allowed)}, got {value!r}")
                qualifiers.append((key, value))
        level, level_sources = self._evidence_level(prop_name, spec, sources)
        self.assertions.append(
            Assertion(subject, prop, obj, sources, evidence, tuple(qualifiers), level, level_sources)
        )

    def _evidence_level(
        self, prop_name: str, spec: Mapping[str, Any], sources: tuple[str, ...]
    ) -> tuple[URIRef | None, tuple[str, ...]]:
        """The assertion's ``evidence_level`` concept and the sources it rests on (none if it has no level)."""
        ctx = self.ctx
        if "evidence_level" not in spec:
            if "evidence_level_sources" in spec:
                raise ctx.fail(f"{prop_name}: evidence_level_sources without an evidence_level")
            return None, ()
        level = ctx.levels.get(str(spec["evidence_level"]))
        if level is None:
            raise ctx.fail(
                f"{prop_name}: evidence_level must be one of {sorted(ctx.levels)}, got {spec['evidence_level']!r}"
            )
        level_sources = tuple(_as_list(spec.get("evidence_level_sources"))) or sources
        for source in level_sources:
            ctx.referenced.append((source, ctx.where))
        return level, level_sources

    def emit_assertions(self) -> None:
        g = self.graph
        for a in self.assertions:
            g.add((a.subject, a.predicate, a.obj))
            axiom = _axiom_node(a.subject, a.predicate, a.obj)
            if (axiom, RDF.type, OWL.Axiom) in g:
                raise CurationError(
                    f"{a.subject.n3(g.namespace_manager)} {a.predicate.n3(g.namespace_manager)} "
                    f"{a.obj.n3(g.namespace_manager)} is asserted twice; merge the two entries"
                )
            g.add((axiom, RDF.type, OWL.Axiom))
            g.add((axiom, OWL.annotatedSource, a.subject))
            g.add((axiom, OWL.annotatedProperty, a.predicate))
            g.add((axiom, OWL.annotatedTarget, a.obj))
            for source in a.sources:
                g.add((axiom, DCTERMS.source, CC[source]))
            g.add((axiom, HAS_EVIDENCE, EVIDENCE_CODES[a.evidence]))
            for key, value in a.qualifiers:
                g.add((axiom, QUALIFIERS[key], Literal(value, lang="en") if key == "note" else Literal(value)))
            if a.evidence_level is not None:
                g.add((axiom, CCO.evidenceLevel, a.evidence_level))
                for source in a.evidence_level_sources:
                    g.add((axiom, CCO.evidenceLevelSource, CC[source]))

    def check_references(self) -> None:
        """Every referenced id must be defined; that sources are cco:Source is left to the SHACL shapes."""
        for target, where in self.ctx.referenced:
            if target not in self.ctx.entity_ids:
                raise CurationError(f"{where}: refers to unknown entity {target!r}")


def compile_knowledge(ontology: Graph, files: Iterable[Path] | None = None) -> Graph:
    """Compile curated YAML files (default: every ``graph/knowledge/*.yaml``, in name order) into a graph.

    Raises :class:`~calcinosis_kg.errors.CurationError` naming the file, the entity and the problem when a
    file is malformed, uses a type or property the ontology does not declare, or refers to an unknown entity.
    """
    compiler = _Compiler(ontology)
    for path in sorted(files) if files is not None else sorted(KNOWLEDGE_DIR.glob("*.yaml")):
        compiler.add_file(path)
    compiler.check_references()
    compiler.emit_assertions()
    return compiler.graph
