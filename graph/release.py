"""Releases as ontology users consume them: the release's identity, an OBO Graphs JSON view, and a release diff.

- :func:`release_info` reads the release from the ontology header, the one hand-edited place it is stated:
  ``owl:versionIRI <https://w3id.org/calcinosis-kg/releases/YYYY-MM-DD/ontology>`` (dated, the date being the
  release date and equal to ``dcterms:modified``), ``owl:versionInfo`` (the release number) and
  ``owl:priorVersion`` (the previous release's version IRI). Nothing here reads the clock, so builds stay
  byte-identical.
- :func:`obographs_json` writes the graph as an `OBO Graphs <https://github.com/geneontology/obographs>`_ JSON
  document: the ontology's classes and properties as ``CLASS`` / ``PROPERTY`` nodes, the graph's entities as
  ``INDIVIDUAL`` nodes (they are OWL named individuals), each with its label, definition, synonyms, code mappings
  (``xrefs`` for exact matches, every SKOS mapping as a property value) and data values; ``is_a`` edges for
  ``rdfs:subClassOf``, ``subPropertyOf`` edges, ``rdf:type`` edges for class assertions and one edge per object
  property assertion between entities.
- :func:`release_diff` compares the previous release's graph (a committed snapshot, ``releases/{version}/
  calcinosis-kg.nt.gz``, so a fresh clone computes the diff offline) with the new one: entities, assertions,
  mappings and ontology terms added, removed and changed; written as JSON and Markdown.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS
from rdflib.term import Node

from calcinosis_kg.errors import CurationError
from calcinosis_kg.ontology import BASE, CC, CCO, MAPPING_PREDICATES, ONTOLOGY_IRI, SSSOM, bind_prefixes
from calcinosis_kg.paths import RELEASES_DIR

"""Committed snapshots of previous releases, one folder per release (``releases/0.1.0/calcinosis-kg.nt.gz``)."""
SNAPSHOT_NAME = "calcinosis-kg.nt.gz"
OBOGRAPHS_EXPORT = "calcinosis-kg.obographs.json"
DIFF_JSON = "release-diff.json"
DIFF_MARKDOWN = "release-diff.md"

RELEASES_BASE = BASE + "releases/"
_DATED_VERSION = re.compile(re.escape(RELEASES_BASE) + r"(\d{4}-\d{2}-\d{2})/ontology")
_ANY_VERSION = re.compile(re.escape(RELEASES_BASE) + r"([^/]+)/ontology")
IS_A = "is_a"
SUB_PROPERTY_OF = "subPropertyOf"


# ---------------------------------------------------------------------------------------------- the release
@dataclass(frozen=True)
class ReleaseInfo:
    """Who a release is: its version IRI, number, date and the release before it."""

    version_iri: str
    version_info: str
    date: str | None
    prior_version_iri: str | None

    @property
    def name(self) -> str:
        """The version IRI's path segment: ``2026-12-01`` (dated releases) or ``0.1.0`` (the first release)."""
        match = _ANY_VERSION.fullmatch(self.version_iri)
        return match.group(1) if match else self.version_iri

    @property
    def prior_name(self) -> str | None:
        if self.prior_version_iri is None:
            return None
        match = _ANY_VERSION.fullmatch(self.prior_version_iri)
        if match is None:
            raise CurationError(f"owl:priorVersion <{self.prior_version_iri}> is not a release IRI of {RELEASES_BASE}")
        return match.group(1)

    def as_dict(self) -> dict[str, str | None]:
        return {
            "version_iri": self.version_iri,
            "version_info": self.version_info,
            "date": self.date,
            "prior_version_iri": self.prior_version_iri,
        }


def _header_value(graph: Graph, prop: URIRef) -> Node | None:
    return graph.value(URIRef(ONTOLOGY_IRI), prop)


def release_info(graph: Graph, *, dated: bool = True) -> ReleaseInfo:
    """The release stated in the ontology header of ``graph``.

    With ``dated`` (the default, for the graph being built) the version IRI must be
    ``https://w3id.org/calcinosis-kg/releases/YYYY-MM-DD/ontology`` with a real date equal to ``dcterms:modified``;
    a snapshot of an older release may have an undated one (``dated=False``). Raises CurationError otherwise.
    """
    version = _header_value(graph, OWL.versionIRI)
    info = _header_value(graph, OWL.versionInfo)
    if not isinstance(version, URIRef) or info is None:
        raise CurationError(f"<{ONTOLOGY_IRI}> needs an owl:versionIRI and an owl:versionInfo")
    prior = _header_value(graph, OWL.priorVersion)
    match = _DATED_VERSION.fullmatch(str(version))
    date = match.group(1) if match else None
    if dated:
        if date is None:
            raise CurationError(
                f"owl:versionIRI <{version}> is not a dated release IRI {RELEASES_BASE}YYYY-MM-DD/ontology"
            )
        modified = _header_value(graph, DCTERMS.modified)
        if not (isinstance(modified, Literal) and modified.ill_typed is False and str(modified) == date):
            raise CurationError(f"the release date {date} of owl:versionIRI differs from dcterms:modified {modified}")
    return ReleaseInfo(str(version), str(info), date, None if prior is None else str(prior))


def snapshot_path(name: str, releases_dir: Path = RELEASES_DIR) -> Path:
    return releases_dir / name / SNAPSHOT_NAME


def load_snapshot(path: Path) -> Graph:
    """A release snapshot (gzipped N-Triples) as a graph."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return bind_prefixes(Graph()).parse(data=handle.read(), format="nt")


def write_snapshot(ntriples: str, path: Path) -> None:
    """Write sorted N-Triples as a reproducible gzip file (no file name or time stamp in its header)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        gz.write(ntriples.encode("utf-8"))


# ---------------------------------------------------------------------------------------------- helpers
def _curie(graph: Graph, node: Node) -> str:
    if isinstance(node, URIRef):
        try:
            prefix, _, local = graph.namespace_manager.compute_qname(str(node), generate=False)
        except (KeyError, ValueError):
            return str(node)
        return f"{prefix}:{local}" if local else str(node)
    return str(node)


def _entities(graph: Graph) -> set[URIRef]:
    return {
        s for s in graph.subjects(RDF.type, OWL.NamedIndividual) if isinstance(s, URIRef) and str(s).startswith(str(CC))
    }


def _terms(graph: Graph, *kinds: URIRef) -> set[URIRef]:
    return {
        s
        for kind in kinds
        for s in graph.subjects(RDF.type, kind)
        if isinstance(s, URIRef) and str(s).startswith(str(CCO))
    }


def _label(graph: Graph, node: URIRef) -> str:
    label = graph.value(node, SKOS.prefLabel) or graph.value(node, RDFS.label)
    return "" if label is None else str(label)


# ---------------------------------------------------------------------------------------------- OBO Graphs
_LABEL_PROPERTIES = frozenset({SKOS.prefLabel, RDFS.label, SKOS.altLabel, SKOS.definition})
"""Written as the node's lbl, synonyms and definition, not repeated as property values."""
_PROPERTY_TYPES = {OWL.ObjectProperty: "OBJECT", OWL.DatatypeProperty: "DATA", OWL.AnnotationProperty: "ANNOTATION"}


def _synonyms(graph: Graph, node: URIRef) -> list[dict[str, str]]:
    """altLabels: exact synonyms, except a source's own wording (recorded with an editorial note), a related one."""
    wordings = {
        m.group(1)
        for note in graph.objects(node, SKOS.editorialNote)
        if (m := re.match(r'Source wording "([^"]+)"', str(note)))
    }
    synonyms = []
    for alt in sorted({str(a) for a in graph.objects(node, SKOS.altLabel)}):
        synonyms.append({"pred": "hasRelatedSynonym" if alt in wordings else "hasExactSynonym", "val": alt})
    return synonyms


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
    label = _label(graph, node)
    if label:
        out["lbl"] = label
    out["type"] = node_type
    if property_type is not None:
        out["propertyType"] = property_type
    meta = _meta(graph, node, individual=node_type == "INDIVIDUAL")
    if meta:
        out["meta"] = meta
    return out


def obographs_document(graph: Graph) -> dict[str, Any]:
    """The graph as an OBO Graphs document (``{"graphs": [...]}``), every list sorted."""
    release = release_info(graph)
    classes = _terms(graph, OWL.Class)
    properties = {p: kind for kind in _PROPERTY_TYPES for p in _terms(graph, kind)}
    entities = _entities(graph)
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
    for entity in entities:
        for prop, value in graph.predicate_objects(entity):
            if prop == RDF.type and isinstance(value, URIRef) and value in classes:
                edges.add((str(entity), str(RDF.type), str(value)))
            elif prop in object_properties and isinstance(value, URIRef) and value in entities:
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


# ---------------------------------------------------------------------------------------------- the diff
_AXIOM_STRUCTURE = frozenset({RDF.type, OWL.annotatedSource, OWL.annotatedProperty, OWL.annotatedTarget})
_ENTITY_FIELDS: dict[str, URIRef] = {
    "type": RDF.type,
    "label": SKOS.prefLabel,
    "synonyms": SKOS.altLabel,
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
        _curie(graph, v) if isinstance(v, URIRef) else str(v)
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
            annotations[_curie(graph, ann)].append(_curie(graph, value) if isinstance(value, URIRef) else str(value))
        record = {k: sorted(v) for k, v in sorted(annotations.items())}
        code = graph.value(axiom, SSSOM.object_id)
        if prop in MAPPING_PREDICATES and code is not None:
            record["predicate"] = [_curie(graph, prop)]
            mappings[(_curie(graph, source), str(code))] = record
        else:
            obj = _curie(graph, target) if isinstance(target, URIRef) else json.dumps(str(target), ensure_ascii=False)
            assertions[(_curie(graph, source), _curie(graph, prop), obj)] = record
    return assertions, mappings


def _term_records(graph: Graph) -> Records:
    terms = _terms(graph, OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)
    fields = {
        "type": RDF.type,
        "label": SKOS.prefLabel,
        "definition": SKOS.definition,
        "domain": RDFS.domain,
        "range": RDFS.range,
        "superclasses": RDFS.subClassOf,
        "superproperties": RDFS.subPropertyOf,
    }
    return {(_curie(graph, t),): {name: _values(graph, t, prop) for name, prop in fields.items()} for t in terms}


@dataclass
class ReleaseDiff:
    """What changed between two releases."""

    before: ReleaseInfo
    after: ReleaseInfo
    entities: Section
    assertions: Section
    mappings: Section
    terms: Section

    def summary(self) -> dict[str, dict[str, int]]:
        return {name: getattr(self, name).counts() for name in ("entities", "assertions", "mappings", "terms")}

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.before.as_dict(),
            "to": self.after.as_dict(),
            "summary": self.summary(),
            **{name: getattr(self, name).as_dict() for name in ("entities", "assertions", "mappings", "terms")},
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=1, ensure_ascii=False) + "\n"

    def to_markdown(self) -> str:
        lines = [
            f"# Release diff: {self.before.version_info} → {self.after.version_info}",
            "",
            f"- from `{self.before.version_iri}` ({self.before.version_info}"
            + (f", {self.before.date})" if self.before.date else ")"),
            f"- to `{self.after.version_iri}` ({self.after.version_info}"
            + (f", {self.after.date})" if self.after.date else ")"),
            "",
            "| kind | added | removed | changed |",
            "|---|---:|---:|---:|",
            *(f"| {name} | {c['added']} | {c['removed']} | {c['changed']} |" for name, c in self.summary().items()),
            "",
        ]
        lines += _md_section("Entities", self.entities, lambda r: f"{r['entity']} ({', '.join(r.get('label', []))})")
        lines += _md_section(
            "Assertions",
            self.assertions,
            lambda r: (
                f"{r['subject']} {r['property']} {r['object']}"
                + (f" [{', '.join(r['obo:RO_0002558'])}]" if r.get("obo:RO_0002558") else "")
            ),
        )
        lines += _md_section(
            "Mappings",
            self.mappings,
            lambda r: (
                f"{r['subject']} {', '.join(r.get('predicate', []))} {r['code']}"
                + (f' "{r["sssom:object_label"][0]}"' if r.get("sssom:object_label") else "")
            ),
        )
        lines += _md_section("Ontology terms", self.terms, lambda r: f"{r['term']} ({', '.join(r.get('label', []))})")
        return "\n".join(lines).rstrip("\n") + "\n"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_section(title: str, section: Section, describe: Any) -> list[str]:
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


def release_diff(previous: Graph, current: Graph) -> ReleaseDiff:
    """Compare two built graphs (previous release first)."""
    bind_prefixes(previous)
    bind_prefixes(current)
    old_entities: Records = {(_curie(previous, e),): _entity_record(previous, e) for e in _entities(previous)}
    new_entities: Records = {(_curie(current, e),): _entity_record(current, e) for e in _entities(current)}
    old_assertions, old_mappings = _axioms(previous)
    new_assertions, new_mappings = _axioms(current)
    return ReleaseDiff(
        before=release_info(previous, dated=False),
        after=release_info(current),
        entities=_compare(old_entities, new_entities, ("entity",)),
        assertions=_compare(old_assertions, new_assertions, ("subject", "property", "object")),
        mappings=_compare(old_mappings, new_mappings, ("subject", "code")),
        terms=_compare(_term_records(previous), _term_records(current), ("term",)),
    )


def previous_release(graph: Graph, releases_dir: Path = RELEASES_DIR) -> Graph:
    """The snapshot of the release named by the ontology's ``owl:priorVersion``; CurationError if it is missing."""
    name = release_info(graph).prior_name
    if name is None:
        raise CurationError(f"<{ONTOLOGY_IRI}> has no owl:priorVersion: no previous release to compare with")
    path = snapshot_path(name, releases_dir)
    if not path.is_file():
        raise CurationError(f"no snapshot of the previous release {name}: {path} is missing")
    return load_snapshot(path)
