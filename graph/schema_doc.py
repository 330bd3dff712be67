"""Generate the schema documentation (``build/schema.md``) from the ontology itself, so it cannot drift.

It lists the namespaces, the class hierarchy with definitions and alignments, every object and data property
with its domain, range, inverse and definition, the qualifiers carried on axiom annotations, the evidence levels
of treatment assertions, and the canned queries. Written by ``make build`` next to the other release artifacts.
"""

from __future__ import annotations

from rdflib import Graph, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SKOS

from calcinosis_kg.ontology import CC, CCO, ONTOLOGY_IRI


def _name(graph: Graph, term: object) -> str:
    if not isinstance(term, URIRef):
        return ""
    return f"`{term.n3(graph.namespace_manager)}`"


def _definition(graph: Graph, term: URIRef) -> str:
    value = graph.value(term, SKOS.definition)
    return str(value).replace("|", "\\|") if value is not None else ""


def _own(graph: Graph, kind: URIRef) -> list[URIRef]:
    return sorted(t for t in graph.subjects(RDF.type, kind) if isinstance(t, URIRef) and t.startswith(CCO))


def _class_tree(graph: Graph, parent: URIRef, depth: int, lines: list[str]) -> None:
    children = sorted(c for c in graph.subjects(RDFS.subClassOf, parent) if isinstance(c, URIRef) and c.startswith(CCO))
    for child in children:
        parents = sorted(p for p in graph.objects(child, RDFS.subClassOf) if isinstance(p, URIRef))
        external = [_name(graph, p) for p in parents if not p.startswith(CCO)]
        aligned = f" (aligned: {', '.join(external)})" if external else ""
        lines.append(f"{'  ' * depth}- {_name(graph, child)}{aligned}: {_definition(graph, child)}")
        _class_tree(graph, child, depth + 1, lines)


def schema_markdown(graph: Graph, queries: dict[str, str] | None = None) -> str:
    """The schema of ``graph`` (which must include the ontology) as Markdown.

    ``queries`` maps canned query names to their summaries, listed as example queries.
    """
    ontology = URIRef(ONTOLOGY_IRI)
    lines = [
        f"# Schema: {graph.value(ontology, URIRef('http://purl.org/dc/terms/title'))}",
        "",
        f"Generated from the ontology (version {graph.value(ontology, OWL.versionInfo)}). Do not edit.",
        "",
        f"- ontology IRI: `{ONTOLOGY_IRI}`; version IRI: `{graph.value(ontology, OWL.versionIRI)}`",
        f"- terms: `{CCO}` (prefix `cco:`); entities: `{CC}` (prefix `cc:`)",
        "- labels: `skos:prefLabel` (one, English) and `rdfs:label`; synonyms `skos:altLabel`; a source's own",
        "  wording that is not a synonym `skos:hiddenLabel` (findable, never shown as a name); definitions",
        "  `skos:definition`; notes `skos:editorialNote`; entity-level sources `cco:supportedBy`",
        "- provenance of each assertion: an `owl:Axiom` with `owl:annotatedSource`/`owl:annotatedProperty`/",
        "  `owl:annotatedTarget`, `dcterms:source`, `obo:RO_0002558` (ECO evidence class) and qualifiers",
        "- mappings: `skos:exactMatch`/`closeMatch`/`broadMatch`/`narrowMatch`/`relatedMatch` to code IRIs, each",
        "  with an `owl:Axiom` carrying the SSSOM slots (`https://w3id.org/sssom/`)",
        "",
        "## Classes",
        "",
    ]
    _class_tree(graph, CCO.Entity, 0, lines)
    lines += ["", "## Object properties", "", "| property | domain | range | inverse | definition |"]
    lines.append("|---|---|---|---|---|")
    for prop in _own(graph, OWL.ObjectProperty):
        inverse = graph.value(prop, OWL.inverseOf) or graph.value(None, OWL.inverseOf, prop)
        traits = [t for t in (OWL.TransitiveProperty, OWL.SymmetricProperty) if (prop, RDF.type, t) in graph]
        names = [str(t).rsplit("#", 1)[1].removesuffix("Property").lower() for t in traits]
        kind = f" ({', '.join(names)})" if names else ""
        lines.append(
            f"| {_name(graph, prop)}{kind} | {_name(graph, graph.value(prop, RDFS.domain))} | "
            f"{_name(graph, graph.value(prop, RDFS.range))} | {_name(graph, inverse)} | {_definition(graph, prop)} |"
        )
    lines += ["", "## Data properties", "", "| property | domain | range | definition |", "|---|---|---|---|"]
    for prop in _own(graph, OWL.DatatypeProperty):
        lines.append(
            f"| {_name(graph, prop)} | {_name(graph, graph.value(prop, RDFS.domain))} | "
            f"{_name(graph, graph.value(prop, RDFS.range))} | {_definition(graph, prop)} |"
        )
    lines += ["", "## Annotation properties (axiom qualifiers and metadata)", "", "| property | definition |"]
    lines.append("|---|---|")
    for prop in _own(graph, OWL.AnnotationProperty):
        lines.append(f"| {_name(graph, prop)} | {_definition(graph, prop)} |")
    lines += ["", "## Evidence levels (values of `cco:evidenceLevel`, strongest first)", ""]
    lines += ["| level | curated-file value | concept | alignment |", "|---|---|---|---|"]
    levels = [c for c in graph.subjects(SKOS.inScheme, CCO.EvidenceLevelScheme) if isinstance(c, URIRef)]
    for level in sorted(levels, key=lambda c: -int(str(graph.value(c, CCO.evidenceRank) or 0))):
        lines.append(
            f"| {graph.value(level, SKOS.prefLabel)} | `{graph.value(level, SKOS.notation)}` | {_name(graph, level)} "
            f"| {graph.value(level, SKOS.note) or ''} |"
        )
    if queries:
        lines += ["", "## Example queries (`queries/`, also `calcinosis-kg query NAME`)", ""]
        lines += [f"- `{name}`: {summary}" for name, summary in sorted(queries.items())]
    return "\n".join(lines) + "\n"
