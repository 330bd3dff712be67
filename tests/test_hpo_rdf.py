"""The HPO slice as RDF: every assertion in the project's provenance model (an owl:Axiom with the HPO release and the
row's reference as dcterms:source, the ECO class of HPO's evidence code, frequency and biocuration), NOT rows left
out, the article's entities reused where they are exactly mapped, and the project's own violation queries pass."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS, XSD

from calcinosis_kg.graph.imports.hpo_rdf import (
    ASSOCIATED_GENE,
    EVIDENCE,
    HAS_PHENOTYPE,
    IMPORTED_INFORMATION,
    disease_mappings,
    existing_entities,
    hp_iri,
    hpo_graph,
    positive_rows,
    reference_iri,
    release_id,
)
from calcinosis_kg.graph.imports.hpo_slice import HPOImportError, HpoSlice, read_slice
from calcinosis_kg.graph.mappings import load_mappings, mapping_graph
from calcinosis_kg.graph.validate import check_violation_queries
from calcinosis_kg.ontology import BIBO, CC, CCO, HAS_EVIDENCE, OBO

NAS = OBO.ECO_0000303


@pytest.fixture(scope="module")
def hpo_slice() -> HpoSlice:
    return read_slice()


@pytest.fixture(scope="module")
def graph(hpo_slice: HpoSlice) -> Graph:
    return hpo_graph(hpo_slice)


def _axioms(graph: Graph, s: URIRef, p: URIRef, o: URIRef) -> Iterator[URIRef]:
    for axiom in graph.subjects(OWL.annotatedSource, s):
        if (axiom, OWL.annotatedProperty, p) in graph and (axiom, OWL.annotatedTarget, o) in graph:
            yield axiom


def test_every_assertion_has_its_triple_the_release_a_source_and_one_eco_class(
    graph: Graph, hpo_slice: HpoSlice
) -> None:
    release = CC[release_id(hpo_slice.release)]
    axioms = list(graph.subjects(RDF.type, OWL.Axiom))
    assert axioms
    allowed = {*EVIDENCE.values(), IMPORTED_INFORMATION, NAS}
    for axiom in axioms:
        triple = tuple(graph.value(axiom, p) for p in (OWL.annotatedSource, OWL.annotatedProperty, OWL.annotatedTarget))
        assert triple in graph
        assert release in set(graph.objects(axiom, DCTERMS.source))
        evidence = list(graph.objects(axiom, HAS_EVIDENCE))
        assert len(evidence) == 1
        assert evidence[0] in allowed


def test_a_published_clinical_study_row_keeps_reference_frequency_and_biocuration(graph: Graph) -> None:
    (axiom,) = _axioms(graph, CC["omim-610455"], HAS_PHENOTYPE, hp_iri("HP:0025520"))
    pubmed = URIRef("https://pubmed.ncbi.nlm.nih.gov/16960814/")
    assert set(graph.objects(axiom, DCTERMS.source)) == {CC["hpo-release-2025-01-16"], pubmed}
    assert graph.value(axiom, HAS_EVIDENCE) == OBO.ECO_0006017
    assert graph.value(axiom, CCO.frequency) == Literal("8/8")
    assert graph.value(axiom, DCTERMS.created) == Literal("2024-03-14", datatype=XSD.date)
    assert graph.value(axiom, DCTERMS.creator) == Literal("HPO:probinson")
    assert (pubmed, RDF.type, CCO.JournalArticle) in graph
    assert graph.value(pubmed, BIBO.pmid) == Literal("16960814")
    assert (CC["hpo-release-2025-01-16"], CCO.cites, pubmed) in graph
    assert (CC["omim-610455"], CCO.supportedBy, pubmed) in graph


def test_each_row_maps_its_evidence_code_and_frequency_as_given(graph: Graph, hpo_slice: HpoSlice) -> None:
    for row in positive_rows(hpo_slice):
        subject = CC[row.database_id.lower().replace(":", "-")]
        axioms = list(_axioms(graph, subject, HAS_PHENOTYPE, hp_iri(row.hpo_id)))
        assert len(axioms) == 1, row
        assert graph.value(axioms[0], HAS_EVIDENCE) == EVIDENCE[row.evidence]
        assert reference_iri(row.reference) in set(graph.objects(axioms[0], DCTERMS.source))
        frequency = graph.value(axioms[0], CCO.frequency)
        if row.frequency.startswith("HP:"):
            assert frequency == hp_iri(row.frequency)
            assert graph.value(frequency, RDFS.label) is not None
        else:
            assert frequency == (Literal(row.frequency) if row.frequency else None)


def test_not_rows_give_no_triple(graph: Graph, hpo_slice: HpoSlice) -> None:
    negated = {a.database_id for a in hpo_slice.annotations if a.qualifier == "NOT"}
    assert negated  # HPO 2025-01-16: pseudohypoparathyroidism types 1B and 2 do NOT show calcinosis
    for code in negated:
        assert not list(graph.triples((CC[code.lower().replace(":", "-")], None, None)))
    genes_only_there = {g.ncbi_gene_id for g in hpo_slice.genes if g.disease_id in negated} - {
        g.ncbi_gene_id for g in hpo_slice.genes if g.disease_id not in negated
    }
    for gene in genes_only_there:  # STX16
        assert not list(graph.triples((URIRef(f"https://www.ncbi.nlm.nih.gov/gene/{gene}"), None, None)))


def test_genes_are_ncbi_gene_iris_labelled_with_their_symbol(graph: Graph, hpo_slice: HpoSlice) -> None:
    positive = {a.database_id for a in positive_rows(hpo_slice)}
    expected = {(g.disease_id, g.ncbi_gene_id, g.gene_symbol) for g in hpo_slice.genes if g.disease_id in positive}
    found = set()
    for disease, _, gene in graph.triples((None, ASSOCIATED_GENE, None)):
        (axiom,) = _axioms(graph, disease, ASSOCIATED_GENE, gene)
        assert graph.value(axiom, HAS_EVIDENCE) == IMPORTED_INFORMATION
        code = str(disease).removeprefix(str(CC)).replace("-", ":").upper()
        found.add(
            (code, str(gene).removeprefix("https://www.ncbi.nlm.nih.gov/gene/"), str(graph.value(gene, RDFS.label)))
        )
        assert (gene, RDF.type, OBO.SO_0000704) in graph
    assert found == expected
    assert ("OMIM:610455", "54809", "SAMD9") in found


def test_diseases_are_entities_with_a_unique_label_and_their_code_as_a_mapping(
    graph: Graph, hpo_slice: HpoSlice
) -> None:
    diseases = set(graph.subjects(RDF.type, CCO.Disease))
    assert len(diseases) == len({a.database_id for a in positive_rows(hpo_slice)})
    labels = [str(graph.value(d, SKOS.prefLabel)).casefold() for d in diseases]
    assert len(labels) == len(set(labels))
    assert graph.value(CC["omim-277700"], SKOS.prefLabel) == Literal("Werner syndrome (OMIM:277700)", lang="en")
    assert (CC["omim-277700"], SKOS.altLabel, Literal("Werner syndrome", lang="en")) in graph
    rows = disease_mappings(hpo_slice)
    assert {(r.subject, r.object_id) for r in rows} >= {
        ("omim-610455", "OMIM:610455"),
        ("orpha-90291", "Orphanet:90291"),
    }
    minted = [r for r in rows if r.justification == "semapv:UnspecifiedMatching"]
    assert {r.object_id.split(":")[0] for r in minted} == {"OMIM", "Orphanet"}
    assert all(r.imported and r.see_also == (hpo_slice.release.iri,) for r in minted)
    chained = [r for r in rows if r not in minted]  # Mondo and SNOMED CT codes, through Mondo's sets
    assert {r.justification for r in chained} == {"semapv:MappingChaining"}
    assert all(r.imported and "monarch-initiative/mondo" in r.see_also[0] for r in chained)
    orphanet = mapping_graph([r for r in rows if r.object_id.startswith("Orphanet:")])
    assert (CC["orpha-90291"], SKOS.exactMatch, URIRef("http://www.orpha.net/ORDO/Orphanet_90291")) in orphanet


def test_the_articles_entity_is_reused_for_its_exactly_mapped_code(kg: Graph, hpo_slice: HpoSlice) -> None:
    entity_ids = {str(s).removeprefix(str(CC)) for s in kg.subjects(RDF.type, OWL.NamedIndividual)}
    existing = existing_entities(load_mappings(entity_ids))
    assert existing["ORPHA:90291"] == "systemic-sclerosis"
    graph = hpo_graph(hpo_slice, existing)
    assert not list(graph.triples((CC["orpha-90291"], None, None)))
    assert list(_axioms(graph, CC["systemic-sclerosis"], HAS_PHENOTYPE, hp_iri("HP:0025520")))
    assert (CC["systemic-sclerosis"], SKOS.prefLabel, None) not in graph  # the article's entity keeps its own label
    assert "orpha-90291" not in {r.subject for r in disease_mappings(hpo_slice, existing)}


def test_the_projects_violation_queries_pass_on_the_article_with_the_hpo_graph(kg: Graph, hpo_slice: HpoSlice) -> None:
    entity_ids = {str(s).removeprefix(str(CC)) for s in kg.subjects(RDF.type, OWL.NamedIndividual)}
    existing = existing_entities(load_mappings(entity_ids))
    merged = Graph()
    for part in (kg, hpo_graph(hpo_slice, existing)):
        for triple in part:
            merged.add(triple)
    rows = [r for r in disease_mappings(hpo_slice, existing) if r.object_id.startswith("Orphanet:")]  # OMIM: lead
    for triple in mapping_graph(rows):
        merged.add(triple)
    check_violation_queries(merged)


def test_the_rdf_is_deterministic(hpo_slice: HpoSlice) -> None:
    first = sorted(hpo_graph(hpo_slice).serialize(format="nt").splitlines())
    second = sorted(hpo_graph(read_slice()).serialize(format="nt").splitlines())
    assert first == second


def test_rows_it_cannot_map_are_refused(hpo_slice: HpoSlice) -> None:
    row = positive_rows(hpo_slice)[0]
    for bad, message in (
        (replace(row, evidence="ICE"), "unknown HPO evidence code 'ICE'"),
        (replace(row, reference="ISBN:123"), "reference 'ISBN:123' is not a PMID, OMIM or ORPHA id"),
        (replace(row, database_id="DECIPHER:1"), "'DECIPHER:1' is not an OMIM or ORPHA disease id"),
        (replace(row, biocuration="HPO:someone"), "has no curator\\[date\\]"),
    ):
        with pytest.raises(HPOImportError, match=message):
            hpo_graph(replace(hpo_slice, annotations=(bad,)))
