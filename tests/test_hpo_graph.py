"""The HPO import wired into the build: its own named graph in the N-Quads dump, the article's graph untouched, every
HPO-derived assertion sourced, the union unchanged as the default graph, counts per named graph in the summary and the
release diff, and validation (SHACL, violation queries) over the union with the new shapes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Graph
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS

from calcinosis_kg.errors import ValidationFailed
from calcinosis_kg.graph.build import ARTICLE_GRAPH, QUADS_EXPORT, build_parts, canonical_ntriples
from calcinosis_kg.graph.imports.hpo_rdf import HAS_PHENOTYPE, HPO_GRAPH, positive_rows, release_id
from calcinosis_kg.graph.imports.hpo_slice import HpoSlice, read_slice
from calcinosis_kg.graph.validate import check_shacl
from calcinosis_kg.ontology import CC, CCO, HAS_EVIDENCE, OBO, ONTOLOGY_IRI, bind_prefixes

GENES = {"SAMD9", "ENPP1", "AGXT", "LBR", "WRN", "FGF23"}
"""Genes issue 27 names among those HPO links to the diseases presenting with calcinosis cutis."""


@pytest.fixture(scope="module")
def hpo_slice() -> HpoSlice:
    return read_slice()


@pytest.fixture(scope="module")
def quads(build_dir: Path) -> ox.Store:
    store = ox.Store()
    store.load(path=str(build_dir / QUADS_EXPORT), format=ox.RdfFormat.N_QUADS)
    return store


def _select(store: ox.Store, query: str) -> list[dict[str, str]]:
    result = store.query(query)
    assert isinstance(result, ox.QuerySolutions)
    names = [v.value for v in result.variables]
    return [{n: row[n].value for n in names if row[n] is not None} for row in result]


def test_a_select_over_the_hpo_graph_lists_the_diseases_with_references_evidence_and_genes(
    quads: ox.Store, hpo_slice: HpoSlice
) -> None:
    rows = _select(
        quads,
        f"""SELECT ?disease ?term ?reference ?evidence WHERE {{ GRAPH <{HPO_GRAPH}> {{
            ?disease <{HAS_PHENOTYPE}> ?term .
            ?axiom <{OWL.annotatedSource}> ?disease ; <{OWL.annotatedProperty}> <{HAS_PHENOTYPE}> ;
                <{OWL.annotatedTarget}> ?term ; <{DCTERMS.source}> ?reference ; <{HAS_EVIDENCE}> ?evidence .
            ?reference a ?kind . FILTER (?kind IN (<{CCO.JournalArticle}>, <{CCO.ReferenceWorkEntry}>)) }} }}""",
    )
    positive = positive_rows(hpo_slice)
    assert len({row["disease"] for row in rows}) == len({a.database_id for a in positive}) >= 25
    assert {row["evidence"] for row in rows} == {str(OBO.ECO_0006017), str(OBO.ECO_0000304), str(OBO.ECO_0000501)}
    assert len({(row["disease"], row["term"], row["reference"]) for row in rows}) == len(positive)
    genes = _select(
        quads,
        f"SELECT DISTINCT ?symbol WHERE {{ GRAPH <{HPO_GRAPH}> {{ ?d <{CCO.associatedGene}> ?g . "
        f"?g <{RDFS.label}> ?symbol }} }}",
    )
    assert {row["symbol"] for row in genes} >= GENES


def test_every_hpo_derived_assertion_has_a_source_one_eco_class_and_the_hpo_release(
    kg: Graph, hpo_slice: HpoSlice
) -> None:
    hpo = kg.parts[HPO_GRAPH]  # type: ignore[attr-defined]
    release = CC[release_id(hpo_slice.release)]
    sources = set(kg.transitive_subjects(RDFS.subClassOf, CCO.Source))
    axioms = set(hpo.subjects(RDF.type, OWL.Axiom))
    assert len(axioms) > 100
    for axiom in axioms:
        cited = set(hpo.objects(axiom, DCTERMS.source))
        assert release in cited, axiom
        assert all(set(kg.objects(source, RDF.type)) & sources for source in cited), axiom
        assert len(set(hpo.objects(axiom, HAS_EVIDENCE))) == 1, axiom


def test_no_assertion_of_the_articles_graph_changes_with_the_import(kg: Graph) -> None:
    without = build_parts(hpo=False)
    with_hpo = kg.parts  # type: ignore[attr-defined]
    assert canonical_ntriples(with_hpo[ARTICLE_GRAPH]) == canonical_ntriples(without[ARTICLE_GRAPH])
    added = set(canonical_ntriples(with_hpo[None]).splitlines()) - set(canonical_ntriples(without[None]).splitlines())
    assert added == {f"<{ONTOLOGY_IRI}> <{DCTERMS.source}> <{CC['hpo-release-2025-01-16']}> ."}


def test_the_default_graph_is_the_union_of_the_named_graphs(build_dir: Path, quads: ox.Store) -> None:
    assert {str(name.value) for name in quads.named_graphs()} == {str(ARTICLE_GRAPH), str(HPO_GRAPH)}
    graph_name = re.compile(r" <https://w3id\.org/calcinosis-kg/graph/[a-z]+> \.$")
    lines = (build_dir / QUADS_EXPORT).read_text(encoding="utf-8").splitlines()
    assert lines == sorted(lines)
    union = sorted(graph_name.sub(" .", line) for line in lines)
    assert union == (build_dir / "calcinosis-kg.nt").read_text(encoding="utf-8").splitlines()


def test_the_summary_and_the_release_diff_count_the_named_graphs(build_dir: Path, kg: Graph) -> None:
    summary = json.loads((build_dir / "summary.json").read_text(encoding="utf-8"))
    hpo = summary["named_graphs"][str(HPO_GRAPH)]
    assert hpo["triples"] == len(kg.parts[HPO_GRAPH])
    assert hpo["entities"] >= 25
    assert hpo["mappings"] >= 20
    assert summary["named_graphs"][str(ARTICLE_GRAPH)]["assertions"] > 200
    assert f"| <{HPO_GRAPH}> | {hpo['triples']} |" in (build_dir / "summary.md").read_text(encoding="utf-8")
    diff = (build_dir / "release-diff.md").read_text(encoding="utf-8")
    assert f"- <{HPO_GRAPH}>: {hpo['triples']} triples" in diff
    assert "cc:omim-610455" in diff


def test_the_has_phenotype_shape_refuses_a_non_disease_subject_and_an_unlabelled_value(kg: Graph) -> None:
    broken = bind_prefixes(Graph())
    for triple in kg:
        broken.add(triple)
    broken.add((CC["diltiazem"], HAS_PHENOTYPE, OBO.HP_0025520))
    broken.add((CC["omim-610455"], HAS_PHENOTYPE, OBO.HP_9999999))
    with pytest.raises(ValidationFailed) as failure:
        check_shacl(broken)
    problems = "\n".join(failure.value.problems)
    assert "cc:diltiazem: is the subject of RO:0002200 has phenotype, so must be a cco:Disease" in problems
    assert "labelled HPO terms" in problems
