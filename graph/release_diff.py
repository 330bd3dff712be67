"""What changed since the previous release: entities, assertions, mappings and ontology terms added, removed and
changed, as JSON and Markdown (release artifacts).

The previous release's graph is a committed snapshot (``releases/{version}/calcinosis-kg.nt.gz``, read by
:func:`~calcinosis_kg.graph.release.previous_release`), so a fresh clone computes the diff offline.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rdflib import BNode, Graph, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SKOS
from rdflib.term import Node

from calcinosis_kg.graph.release import ReleaseInfo, curie, graph_entities, ontology_terms, release_info
from calcinosis_kg.ontology import CC, CCO, MAPPING_PREDICATES, SSSOM, bind_prefixes

_AXIOM_STRUCTURE = frozenset({RDF.type, OWL.annotatedSource, OWL.annotatedProperty, OWL.annotatedTarget})
_ENTITY_FIELDS: dict[str, URIRef] = {
    "type": RDF.type,
    "label": SKOS.prefLabel,
    "synonyms": SKOS.altLabel,
    "source_wordings": SKOS.hiddenLabel,
    "definition": SKOS.definition,
    "notes": SKOS.editorialNote,
    "sources": CCO.supportedBy,
}


@dataclass
class Section:
    """Added, removed and changed items of one kind, each a JSON-ready dict, sorted by key."""

    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"added": len(self.added), "removed": len(self.removed), "changed": len(self.changed)}

    def as_dict(self) -> dict[str, list[dict[str, Any]]]:
        return {"added": self.added, "removed": self.removed, "changed": self.changed}


def _values(graph: Graph, node: Node, prop: URIRef) -> list[str]:
    """The values of ``prop`` on ``node`` as sorted text (IRIs as CURIEs); blank nodes (class expressions) left out."""
    return sorted(
        curie(graph, v) if isinstance(v, URIRef) else str(v)
        for v in graph.objects(node, prop)
        if not isinstance(v, BNode)
    )


def _entity_record(graph: Graph, entity: URIRef) -> dict[str, list[str]]:
    record = {name: _values(graph, entity, prop) for name, prop in _ENTITY_FIELDS.items()}
    record["type"] = [t for t in record["type"] if t != "owl:NamedIndividual"]
    return record


def _changes(before: dict[str, list[str]], after: dict[str, list[str]]) -> dict[str, dict[str, list[str]]]:
    return {
        name: {"before": before.get(name, []), "after": after.get(name, [])}
        for name in sorted(set(before) | set(after))
        if before.get(name, []) != after.get(name, [])
    }


Records = dict[tuple[str, ...], dict[str, list[str]]]
"""Items of one kind keyed by what identifies them (entity; subject, property, object; subject, code; term)."""


def _compare(old: Records, new: Records, key_names: tuple[str, ...]) -> Section:
    section = Section()

    def head(key: tuple[str, ...]) -> dict[str, Any]:
        return dict(zip(key_names, key, strict=True))

    for key in sorted(new.keys() - old.keys()):
        section.added.append({**head(key), **new[key]})
    for key in sorted(old.keys() - new.keys()):
        section.removed.append({**head(key), **old[key]})
    for key in sorted(old.keys() & new.keys()):
        changes = _changes(old[key], new[key])
        if changes:
            section.changed.append({**head(key), "changes": changes})
    return section


def _axioms(graph: Graph) -> tuple[Records, Records]:
    """(assertions keyed by subject/property/object, mappings keyed by subject/code), each with its annotations."""
    assertions: Records = {}
    mappings: Records = {}
    for axiom in graph.subjects(RDF.type, OWL.Axiom):
        source = graph.value(axiom, OWL.annotatedSource)
        prop = graph.value(axiom, OWL.annotatedProperty)
        target = graph.value(axiom, OWL.annotatedTarget)
        if not (isinstance(source, URIRef) and str(source).startswith(str(CC)) and isinstance(prop, URIRef)):
            continue
        if target is None:
            continue
        annotations: dict[str, list[str]] = defaultdict(list)
        for ann, value in graph.predicate_objects(axiom):
            if ann in _AXIOM_STRUCTURE or isinstance(value, BNode):
                continue
            annotations[curie(graph, ann)].append(curie(graph, value) if isinstance(value, URIRef) else str(value))
        record = {k: sorted(v) for k, v in sorted(annotations.items())}
        code = graph.value(axiom, SSSOM.object_id)
        if prop in MAPPING_PREDICATES and code is not None:
            record["predicate"] = [curie(graph, prop)]
            mappings[(curie(graph, source), str(code))] = record
        else:
            obj = curie(graph, target) if isinstance(target, URIRef) else json.dumps(str(target), ensure_ascii=False)
            assertions[(curie(graph, source), curie(graph, prop), obj)] = record
    return assertions, mappings


def _term_records(graph: Graph) -> Records:
    terms = ontology_terms(graph, OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)
    fields = {
        "type": RDF.type,
        "label": SKOS.prefLabel,
        "definition": SKOS.definition,
        "domain": RDFS.domain,
        "range": RDFS.range,
        "superclasses": RDFS.subClassOf,
        "superproperties": RDFS.subPropertyOf,
    }
    return {(curie(graph, t),): {name: _values(graph, t, prop) for name, prop in fields.items()} for t in terms}


@dataclass
class ReleaseDiff:
    """What changed between two releases."""

    before: ReleaseInfo
    after: ReleaseInfo
    entities: Section
    assertions: Section
    mappings: Section
    terms: Section
    graphs: dict[str, int] = field(default_factory=dict)
    """Named graph IRI -> triples of the current release's named graphs (the previous snapshots are unions)."""

    def summary(self) -> dict[str, dict[str, int]]:
        return {name: getattr(self, name).counts() for name in ("entities", "assertions", "mappings", "terms")}

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.before.as_dict(),
            "to": self.after.as_dict(),
            "summary": self.summary(),
            **{name: getattr(self, name).as_dict() for name in ("entities", "assertions", "mappings", "terms")},
            "named_graphs": self.graphs,
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=1, ensure_ascii=False) + "\n"

    def to_markdown(self) -> str:
        lines = [
            f"# Release diff: {self.before.version_info} → {self.after.version_info}",
            "",
            f"- from {_release(self.before)}",
            f"- to {_release(self.after)}",
            "",
            "| kind | added | removed | changed |",
            "|---|---:|---:|---:|",
            *(f"| {name} | {c['added']} | {c['removed']} | {c['changed']} |" for name, c in self.summary().items()),
            "",
        ]
        if self.graphs:
            lines += [
                "## Named graphs",
                "",
                "The release's named graphs (`calcinosis-kg.nq`; every other file is their union):",
                "",
            ]
            lines += [f"- <{name}>: {triples} triples" for name, triples in self.graphs.items()]
            lines.append("")
        sections = (
            ("Entities", self.entities, _labelled("entity")),
            ("Assertions", self.assertions, _assertion),
            ("Mappings", self.mappings, _mapping),
            ("Ontology terms", self.terms, _labelled("term")),
        )
        for title, section, describe in sections:
            lines += _md_section(title, section, describe)
        return "\n".join(lines).rstrip("\n") + "\n"


def _release(info: ReleaseInfo) -> str:
    return f"`{info.version_iri}` ({info.version_info}" + (f", {info.date})" if info.date else ")")


def _labelled(key: str) -> Callable[[dict[str, Any]], str]:
    """Describes a record by its ``key`` and its labels."""
    return lambda record: f"{record[key]} ({', '.join(record.get('label', []))})"


def _assertion(record: dict[str, Any]) -> str:
    """The assertion with its evidence and, for a source's claim that is not a fact, its certainty (a disputed
    subtype link is no subtype: the reader of the diff must see it as the hierarchies do)."""
    marks = [*record.get("obo:RO_0002558", []), *(f"certainty: {c}" for c in record.get("cco:certainty", []))]
    return f"{record['subject']} {record['property']} {record['object']}" + (f" [{'; '.join(marks)}]" if marks else "")


def _mapping(record: dict[str, Any]) -> str:
    term = record.get("sssom:object_label")
    return f"{record['subject']} {', '.join(record.get('predicate', []))} {record['code']}" + (
        f' "{term[0]}"' if term else ""
    )


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_section(title: str, section: Section, describe: Callable[[dict[str, Any]], str]) -> list[str]:
    lines = [f"## {title}", ""]
    if not (section.added or section.removed or section.changed):
        return [*lines, "No change.", ""]
    for verb, items in (("Added", section.added), ("Removed", section.removed)):
        if items:
            lines += [f"### {verb} ({len(items)})", ""]
            lines += [f"- {_md_cell(describe(item))}" for item in items]
            lines.append("")
    if section.changed:
        lines += [f"### Changed ({len(section.changed)})", ""]
        for item in section.changed:
            what = "; ".join(
                f"{name}: {_md_cell(', '.join(c['before']) or '(none)')} → "
                f"{_md_cell(', '.join(c['after']) or '(none)')}"
                for name, c in item["changes"].items()
            )
            key = " ".join(str(v) for k, v in item.items() if k != "changes")
            lines.append(f"- {_md_cell(key)}: {what}")
        lines.append("")
    return lines


def release_diff(previous: Graph, current: Graph, graphs: dict[str, int] | None = None) -> ReleaseDiff:
    """Compare two built graphs (previous release first); ``graphs``: the current release's named graphs and their
    sizes, listed as such (a snapshot is a union, so their triples also count among the added entities...)."""
    bind_prefixes(previous)
    bind_prefixes(current)
    old_entities: Records = {(curie(previous, e),): _entity_record(previous, e) for e in graph_entities(previous)}
    new_entities: Records = {(curie(current, e),): _entity_record(current, e) for e in graph_entities(current)}
    old_assertions, old_mappings = _axioms(previous)
    new_assertions, new_mappings = _axioms(current)
    return ReleaseDiff(
        before=release_info(previous, dated=False),
        after=release_info(current),
        entities=_compare(old_entities, new_entities, ("entity",)),
        assertions=_compare(old_assertions, new_assertions, ("subject", "property", "object")),
        mappings=_compare(old_mappings, new_mappings, ("subject", "code")),
        terms=_compare(_term_records(previous), _term_records(current), ("term",)),
        graphs=dict(sorted((graphs or {}).items())),
    )
