"""Build the release artifacts: merge ontology and knowledge, serialize deterministically, summarise.

``build_graph()`` returns the merged graph in memory; ``write_artifacts()`` writes it as Turtle,
N-Triples (sorted, canonical), JSON-LD, OWL (RDF/XML) and OBO Graphs JSON, the release diff, its
mappings as SSSOM TSV and a FHIR ConceptMap, the
code-systems table the mappings were expanded with (``code-systems.json``, see
:mod:`calcinosis_kg.graph.codesystems`), the schema documentation and a summary of counts into the build folder
(``build/`` beside the repository, or ``$KG_BUILD_DIR``). Validation lives in :mod:`calcinosis_kg.graph.validate`.

Named graphs: the graph is the union of three parts (:func:`build_parts`): the ontology (the default graph of the
N-Quads dump: the schema every part is typed against), the article's knowledge with its curated mappings
(:data:`ARTICLE_GRAPH`) and the HPO import (:data:`~calcinosis_kg.graph.imports.hpo_rdf.HPO_GRAPH`).
``calcinosis-kg.nq`` (:data:`QUADS_EXPORT`) keeps them apart; every other file is the union, as is the graph that
validation, queries and pages read.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import BNode, Graph, URIRef
from rdflib.compare import to_canonical_graph
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS
from rdflib.term import Node

from calcinosis_kg import paths
from calcinosis_kg.formats import DUMP_FORMATS
from calcinosis_kg.graph import writers
from calcinosis_kg.graph.codesystems import CODE_SYSTEMS_FILE, bioregistry_code_systems
from calcinosis_kg.graph.compiler import compile_knowledge
from calcinosis_kg.graph.exports import fhir_conceptmap, sssom_tsv
from calcinosis_kg.graph.imports.hpo_rdf import HPO_GRAPH, existing_entities, hpo_named_graph, release_id
from calcinosis_kg.graph.imports.hpo_slice import read_slice
from calcinosis_kg.graph.mappings import MAPPINGS_FILE, load_mappings, mapping_graph
from calcinosis_kg.graph.obographs import obographs_json
from calcinosis_kg.graph.release import DIFF_JSON, DIFF_MARKDOWN, OBOGRAPHS_EXPORT, previous_release, release_info
from calcinosis_kg.graph.release_diff import release_diff
from calcinosis_kg.graph.schema_doc import schema_markdown
from calcinosis_kg.ontology import CC, CCO, ONTOLOGY_IRI, bind_prefixes, load_ontology
from calcinosis_kg.paths import RELEASES_DIR
from calcinosis_kg.queries.catalog import load_catalog

"""Where ``make build`` writes the release artifacts (git-ignored)."""

ARTIFACT_STEM = "calcinosis-kg"
SSSOM_EXPORT = f"{ARTIFACT_STEM}.sssom.tsv"
CONCEPTMAP_EXPORT = f"{ARTIFACT_STEM}-to-snomedct.conceptmap.json"


def artifact_path(extension: str, build_dir: Path | None = None) -> Path:
    """Path of the merged-graph artifact with the given extension (``ttl``, ``nt``, ``jsonld``, ``owl``)."""
    return (build_dir or paths.build_dir()) / f"{ARTIFACT_STEM}.{extension}"


ARTICLE_GRAPH = URIRef("https://w3id.org/calcinosis-kg/graph/article")
"""The named graph of the article's knowledge (graph/knowledge/*.yaml) and its curated mappings."""
QUADS_EXPORT = f"{ARTIFACT_STEM}.nq"
"""The N-Quads dump (the N-Quads entry of :data:`~calcinosis_kg.formats.DUMP_FORMATS`): the ontology in the default
graph, each other part in its named graph (sorted lines)."""


class MergedGraph(Graph):
    """The union of the build's parts, an ordinary rdflib graph to every reader, that remembers the parts
    (``parts``: named graph IRI, or None for the default graph -> its triples) for the N-Quads dump and summary."""

    def __init__(self, parts: dict[URIRef | None, Graph]) -> None:
        super().__init__()
        bind_prefixes(self)
        self.parts = parts
        for part in parts.values():
            for triple in part:
                self.add(triple)


def build_parts(
    knowledge_files: list[Path] | None = None, mappings_file: Path | None = MAPPINGS_FILE, *, hpo: bool = True
) -> dict[URIRef | None, Graph]:
    """The build's parts: the ontology (None: the default graph), :data:`ARTICLE_GRAPH` and, with ``hpo``,
    :data:`HPO_GRAPH` (the committed HPO slice compiled; its diseases exactly mapped by the curated mapping set
    are the article's entities). The ontology part names the HPO release as a source of the dataset."""
    ontology = load_ontology()
    article = compile_knowledge(ontology, knowledge_files)
    entity_ids = {str(s).removeprefix(str(CC)) for s in article.subjects(RDF.type, OWL.NamedIndividual)}
    mappings = load_mappings(entity_ids, mappings_file) if mappings_file is not None else []
    for triple in mapping_graph(mappings):
        article.add(triple)
    parts: dict[URIRef | None, Graph] = {None: ontology, ARTICLE_GRAPH: article}
    if hpo:
        hpo_slice = read_slice()
        parts[HPO_GRAPH] = hpo_named_graph(hpo_slice, existing_entities(mappings))
        ontology.add((URIRef(ONTOLOGY_IRI), DCTERMS.source, CC[release_id(hpo_slice.release)]))
    return parts


def build_graph(
    knowledge_files: list[Path] | None = None, mappings_file: Path | None = MAPPINGS_FILE, *, hpo: bool = True
) -> Graph:
    """Compile the merged graph (ontology + curated knowledge + code mappings + the HPO import) in memory,
    unvalidated: the union of :func:`build_parts`, remembering them (:class:`MergedGraph`)."""
    return MergedGraph(build_parts(knowledge_files, mappings_file, hpo=hpo))


STABLE_BNODE_PREFIXES = ("ax", "map")
"""Blank-node ids the compiler derives from content (axiom annotations); all others get canonical ids."""


def _has_unstable_bnode(triple: tuple[Node, Node, Node]) -> bool:
    return any(isinstance(n, BNode) and not str(n).startswith(STABLE_BNODE_PREFIXES) for n in triple)


def canonical_graph(graph: Graph) -> Graph:
    """A copy of ``graph`` with content-derived blank-node ids, its triples inserted in sorted order.

    Serializers follow insertion order and blank-node ids, so every format written from this graph is
    byte-identical for identical input, whatever the process or hash seed. Only the triples with blank
    nodes parsed from Turtle (the ontology's lists and class axioms) need rdflib's canonicalization; the
    compiler already gives axiom annotations ids derived from the triple they annotate.
    """
    unstable = Graph()
    triples = []
    for triple in graph:
        if _has_unstable_bnode(triple):
            unstable.add(triple)
        else:
            triples.append(triple)
    triples.extend(to_canonical_graph(unstable))
    ordered = bind_prefixes(Graph())
    for triple in sorted(triples, key=lambda t: (t[0].n3(), t[1].n3(), t[2].n3())):
        ordered.add(triple)
    return ordered


def canonical_ntriples(graph: Graph) -> str:
    """N-Triples of the canonical graph, one triple per line, sorted."""
    lines = {line for line in canonical_graph(graph).serialize(format="nt").splitlines() if line.strip()}
    return "\n".join(sorted(lines)) + "\n"


def canonical_nquads(parts: dict[URIRef | None, Graph]) -> str:
    """N-Quads of the parts (see :class:`MergedGraph`), one statement per line, sorted: the default graph's triples
    as triples, every other part's with its graph IRI."""
    lines = set()
    for name, part in parts.items():
        for line in canonical_graph(part).serialize(format="nt").splitlines():
            if line.strip():
                lines.add(line if name is None else f"{line.rstrip().removesuffix('.').rstrip()} <{name}> .")
    return "\n".join(sorted(lines)) + "\n"


@dataclass(frozen=True)
class Summary:
    """Counts describing a built graph."""

    triples: int
    entities: int
    assertions: int
    sources: int
    per_class: dict[str, int]
    per_relation: dict[str, int]
    mappings: dict[str, int]
    per_graph: dict[str, dict[str, int]] = field(default_factory=dict)
    """Named graph IRI -> its triples, entities, assertions and mappings (a :class:`MergedGraph`'s named parts)."""

    def as_dict(self) -> dict[str, object]:
        return {
            "triples": self.triples,
            "entities": self.entities,
            "assertions": self.assertions,
            "sources": self.sources,
            "entities_per_class": self.per_class,
            "assertions_per_property": self.per_relation,
            "mappings": sum(self.mappings.values()),
            "mappings_per_predicate": self.mappings,
            "named_graphs": self.per_graph,
        }


def summarise(graph: Graph) -> Summary:
    """Count entities per asserted class, assertions per property, and sources."""
    nm = graph.namespace_manager
    entities = {s for s in graph.subjects(RDF.type, OWL.NamedIndividual) if str(s).startswith(str(CC))}
    per_class: Counter[str] = Counter()
    for entity in entities:
        for cls in graph.objects(entity, RDF.type):
            if isinstance(cls, URIRef) and str(cls).startswith(str(CCO)):
                per_class[cls.n3(nm)] += 1
    per_relation: Counter[str] = Counter()
    mappings: Counter[str] = Counter()
    for axiom in graph.subjects(RDF.type, OWL.Axiom):
        prop = graph.value(axiom, OWL.annotatedProperty)
        if isinstance(prop, URIRef) and prop.startswith(str(SKOS)) and prop.endswith("Match"):
            mappings[prop.n3(nm)] += 1
        elif isinstance(prop, URIRef):
            per_relation[prop.n3(nm)] += 1
    source_classes = set(graph.transitive_subjects(RDFS.subClassOf, CCO.Source))
    sources = {e for e in entities if any(c in source_classes for c in graph.objects(e, RDF.type))}
    per_graph = {}
    for name, part in getattr(graph, "parts", {}).items():
        if name is not None:
            counts = summarise(part)
            per_graph[str(name)] = {
                "triples": counts.triples,
                "entities": counts.entities,
                "assertions": counts.assertions,
                "mappings": sum(counts.mappings.values()),
            }
    return Summary(
        triples=len(graph),
        entities=len(entities),
        assertions=sum(per_relation.values()),
        sources=len(sources),
        per_class=dict(sorted(per_class.items())),
        per_relation=dict(sorted(per_relation.items())),
        mappings=dict(sorted(mappings.items())),
        per_graph=per_graph,
    )


def _summary_markdown(summary: Summary) -> str:
    rows = [
        "# Build summary",
        "",
        f"- triples: {summary.triples}",
        f"- entities: {summary.entities}",
        f"- relation and value assertions (each with an owl:Axiom carrying its sources): {summary.assertions}",
        f"- sources: {summary.sources}",
        f"- mappings to standard code systems (each with its SSSOM evidence): {sum(summary.mappings.values())}",
        "",
        "| class | entities |",
        "|---|---|",
        *(f"| {c} | {n} |" for c, n in summary.per_class.items()),
        "",
        "| property | assertions |",
        "|---|---|",
        *(f"| {p} | {n} |" for p, n in summary.per_relation.items()),
        "",
        "| mapping predicate | mappings |",
        "|---|---|",
        *(f"| {p} | {n} |" for p, n in summary.mappings.items()),
        "",
    ]
    if summary.per_graph:
        rows += [
            f"Named graphs (the files other than `{QUADS_EXPORT}` hold their union, with the ontology):",
            "",
            "| named graph | triples | entities | assertions | mappings |",
            "|---|---|---|---|---|",
            *(
                f"| <{g}> | {c['triples']} | {c['entities']} | {c['assertions']} | {c['mappings']} |"
                for g, c in summary.per_graph.items()
            ),
            "",
        ]
    return "\n".join(rows)


def write_artifacts(graph: Graph, build_dir: Path | None = None, releases_dir: Path = RELEASES_DIR) -> list[Path]:
    """Write every release artifact into ``build_dir`` (default: the build directory); return the paths.

    The merged graph in each of :data:`~calcinosis_kg.formats.DUMP_FORMATS` and as OBO Graphs JSON, its
    mappings as SSSOM TSV and FHIR ConceptMap, the code-systems table computed from the Bioregistry
    (``code-systems.json``), the release diff against the snapshot of the ontology's ``owl:priorVersion`` in
    ``releases_dir`` (``release-diff.json`` and ``.md``, see :mod:`calcinosis_kg.graph.release`), ``schema.md``
    and ``summary.json``/``summary.md``.
    Raises CurationError when the ontology's version IRI is not a dated release IRI or the previous release's
    snapshot is missing.
    """
    out = build_dir or paths.build_dir()
    out.mkdir(parents=True, exist_ok=True)
    ordered = canonical_graph(graph)
    parts: dict[URIRef | None, Graph] = getattr(graph, "parts", {None: graph})
    written = []
    for fmt in DUMP_FORMATS:
        extension = str(fmt.dump_extension)
        path = artifact_path(extension, out)
        if extension == "nq":
            text = canonical_nquads(parts)
        elif extension == "nt":
            text = "\n".join(sorted({ln for ln in ordered.serialize(format="nt").splitlines() if ln})) + "\n"
        elif extension == "jsonld":
            text = writers.jsonld(ordered)
        elif extension == "owl":
            text = writers.rdfxml(ordered)
        else:
            text = ordered.serialize(format=fmt.rdflib)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    documents = [
        (OBOGRAPHS_EXPORT, obographs_json(graph)),
        (SSSOM_EXPORT, sssom_tsv(graph)),
        (CONCEPTMAP_EXPORT, fhir_conceptmap(graph)),
        (CODE_SYSTEMS_FILE, bioregistry_code_systems().to_json()),
    ]
    if release_info(graph).prior_version_iri is not None:
        named = {str(name): len(part) for name, part in parts.items() if name is not None}
        diff = release_diff(previous_release(graph, releases_dir), graph, named)
        documents += [(DIFF_JSON, diff.to_json()), (DIFF_MARKDOWN, diff.to_markdown())]
    for name, text in documents:
        (out / name).write_text(text, encoding="utf-8")
        written.append(out / name)
    catalog = {name: query.summary for name, query in load_catalog().items()}
    (out / "schema.md").write_text(schema_markdown(graph, catalog), encoding="utf-8")
    written.append(out / "schema.md")
    summary = summarise(graph)
    (out / "summary.json").write_text(json.dumps(summary.as_dict(), indent=2) + "\n", encoding="utf-8")
    (out / "summary.md").write_text(_summary_markdown(summary), encoding="utf-8")
    written += [out / "summary.json", out / "summary.md"]
    return written
