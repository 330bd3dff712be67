"""The curated code mappings: coverage, evidence, ICD-10-CM titles, agreement with Mondo."""

from __future__ import annotations

import csv
import re
from collections import defaultdict

import pytest
import simple_icd_10_cm as icd
from rdflib import Graph, URIRef
from rdflib.namespace import OWL, RDF, RDFS

from calcinosis_kg.graph.codesystems import bioregistry_code_systems
from calcinosis_kg.graph.mappings import (
    MAPPINGS_FILE,
    MONDO_EVIDENCE_FILE,
    SSSOM,
    UNMAPPED_FILE,
    read_sssom,
)
from calcinosis_kg.ontology import CC, CCO, HAS_EVIDENCE, OBO, SSSOM_PREDICATES

SNOMED = "http://snomed.info/id/"
CURATED = read_sssom(MAPPINGS_FILE)
MONDO = read_sssom(MONDO_EVIDENCE_FILE)


def _unmapped() -> list[dict[str, str]]:
    lines = UNMAPPED_FILE.read_text(encoding="utf-8").splitlines()
    return list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))


def _standard(curie: str) -> str:
    """A CURIE with its prefix standardized to the project's (Mondo's files mix 'mesh:' and 'MESH:')."""
    prefix, _, local = curie.partition(":")
    standard = bioregistry_code_systems().canonical_prefix(prefix)
    return f"{standard or prefix}:{local}"


def _instances_of(graph: Graph, cls: URIRef) -> set[URIRef]:
    classes = set(graph.transitive_subjects(RDFS.subClassOf, cls))
    return {s for c in classes for s in graph.subjects(RDF.type, c) if isinstance(s, URIRef) and s.startswith(CC)}


def test_every_condition_and_cause_has_snomed_or_a_stated_reason(kg: Graph) -> None:
    reported = {(r["entity_id"], r["system"]) for r in _unmapped() if r["reason"].strip()}
    missing = []
    for entity in sorted(_instances_of(kg, CCO.Condition) | _instances_of(kg, CCO.Cause)):
        mapped = any(str(code).startswith(SNOMED) for p in SSSOM_PREDICATES.values() for code in kg.objects(entity, p))
        if not mapped and (entity.removeprefix(str(CC)), "SNOMED CT") not in reported:
            missing.append(entity.removeprefix(str(CC)))
    assert missing == []


def test_unmapped_report_names_real_entities(kg: Graph) -> None:
    for row in _unmapped():
        assert (CC[row["entity_id"]], RDF.type, OWL.NamedIndividual) in kg, row
        assert row["reason"].strip(), row


def test_every_mapping_in_the_graph_carries_its_evidence(kg: Graph) -> None:
    count = 0
    for predicate in SSSOM_PREDICATES.values():
        for subject, code in kg.subject_objects(predicate):
            axioms = [
                a
                for a in kg.subjects(OWL.annotatedSource, subject)
                if (a, OWL.annotatedProperty, predicate) in kg and (a, OWL.annotatedTarget, code) in kg
            ]
            assert len(axioms) == 1, (subject, code)
            for slot in ("object_label", "mapping_justification", "author_id", "mapping_date", "see_also"):
                assert kg.value(axioms[0], SSSOM[slot]) is not None, (subject, code, slot)
            count += 1
    assert count >= 150


def test_snomed_mappings_use_snomed_iris(kg: Graph) -> None:
    codes = [str(o) for p in SSSOM_PREDICATES.values() for o in kg.objects(None, p) if "snomed" in str(o)]
    assert codes
    assert all(c.startswith(SNOMED) and c.removeprefix(SNOMED).isdigit() for c in codes)


def test_curie_map_agrees_with_the_bioregistry() -> None:
    used = {row["object_id"].split(":", 1)[0] for row in CURATED.rows}
    declared = CURATED.metadata["curie_map"]
    assert {p: declared[p] for p in used} == {p: bioregistry_code_systems().prefix_map[p] for p in used}


ICD10CM_ROWS = [r for r in CURATED.rows if r["object_id"].startswith("ICD10CM:") and r["object_label"]]


def test_there_are_icd10cm_mappings() -> None:
    assert len(ICD10CM_ROWS) >= 10


@pytest.mark.parametrize("row", ICD10CM_ROWS, ids=[f"{r['subject_id']}-{r['object_id']}" for r in ICD10CM_ROWS])
def test_icd10cm_code_and_title_match_the_tabular_list(row: dict[str, str]) -> None:
    code = row["object_id"].removeprefix("ICD10CM:")
    assert icd.is_valid_item(code), f"{code} is not in the ICD-10-CM tabular list"
    assert icd.get_description(code) == row["object_label"]


def _mondo_comparisons() -> list[tuple[str, str, str, str]]:
    """(entity, Mondo class, Mondo predicate, code) for every Mondo row about a class an entity is exactly mapped to."""
    by_class: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in MONDO.rows:
        by_class[row["subject_id"]].append(row)
    systems = {r["object_id"].split(":", 1)[0] for r in CURATED.rows}
    cases = []
    for row in CURATED.rows:
        if row["object_id"].startswith("MONDO:") and row["predicate_id"] == "skos:exactMatch":
            for mondo in by_class[row["object_id"]]:
                code = _standard(mondo["object_id"])
                if code.split(":", 1)[0] in systems:
                    cases.append((row["subject_id"], row["object_id"], mondo["predicate_id"], code))
    return cases


MONDO_CASES = _mondo_comparisons()


def test_mondo_comparisons_exist() -> None:
    assert len(MONDO_CASES) >= 50


@pytest.mark.parametrize(
    ("entity", "mondo", "mondo_predicate", "code"), MONDO_CASES, ids=[f"{e}-{c}" for e, _, _, c in MONDO_CASES]
)
def test_mapping_agrees_with_mondo_or_says_why_not(entity: str, mondo: str, mondo_predicate: str, code: str) -> None:
    ours = [r for r in CURATED.rows if r["subject_id"] == entity]
    same = [r for r in ours if _standard(r["object_id"]) == code]
    if same:
        if same[0]["predicate_id"] != mondo_predicate:
            reason = same[0]["comment"].lower()
            assert "mondo" in reason, f"{entity} {code}: predicate differs from Mondo's, no reason given"
        return
    system = code.split(":", 1)[0]
    reasons = [r["comment"] for r in ours if r["object_id"].startswith(system + ":")]
    reasons += [r["reason"] for r in _unmapped() if f"cc:{r['entity_id']}" == entity]
    assert any(code in text or code.split(":", 1)[1] in text for text in reasons), (
        f"{entity}: Mondo maps {mondo} {mondo_predicate} {code}, which the curated set neither has nor explains"
    )


def _mapping_evidence(graph: Graph, entity: str, code_iri: str) -> set[str]:
    return {
        str(e)
        for a in graph.subjects(OWL.annotatedSource, CC[entity])
        if (a, OWL.annotatedTarget, URIRef(code_iri)) in graph
        for e in graph.objects(a, HAS_EVIDENCE)
    }


def test_mapping_evidence_says_whether_mondo_or_the_curators_asserted_it(kg: Graph) -> None:
    # Mondo maps MONDO:0005393 gout exactMatch DOID:13189, and the curated row repeats it: imported information.
    assert _mapping_evidence(kg, "gout", "http://purl.obolibrary.org/obo/DOID_13189") == {str(OBO.ECO_0000312)}
    # The curators chose SCTID:90560007 against Mondo's 190828008: their own inference.
    assert _mapping_evidence(kg, "gout", SNOMED + "90560007") == {str(OBO.ECO_0000305)}
    # That cc:gout is MONDO:0005393 is the curators' judgement too.
    assert _mapping_evidence(kg, "gout", "http://purl.obolibrary.org/obo/MONDO_0005393") == {str(OBO.ECO_0000305)}


SNOMED_SEMANTIC_TAGS = (
    "disorder",
    "finding",
    "procedure",
    "substance",
    "body structure",
    "morphologic abnormality",
    "product",
    "qualifier value",
    "observable entity",
    "situation",
    "regime/therapy",
    "event",
    "organism",
)
"""Semantic tags of the SNOMED CT hierarchies a fully specified name (FSN) may end with."""


def test_snomed_labels_are_fully_specified_names_with_their_source() -> None:
    """One convention for SNOMED CT: object_label is the FSN with its semantic tag; the row says where it was seen."""
    tag = re.compile(r"^\S.* \((" + "|".join(re.escape(t) for t in SNOMED_SEMANTIC_TAGS) + r")\)$")
    rows = [r for r in CURATED.rows if r["object_id"].startswith("SCTID:") and r["object_label"].strip()]
    assert len(rows) >= 45
    assert [r["object_id"] for r in rows if not tag.match(r["object_label"])] == []
    assert [r["object_id"] for r in rows if "FSN source:" not in r["comment"] and "Evidence:" not in r["comment"]] == []


def test_terminology_labels_agree_with_the_mondo_rows_they_cite() -> None:
    """Labels of Mondo, DOID, ICD-11 and Orphanet codes are the ones Mondo's own files give, where they give one."""
    labels: dict[str, set[str]] = defaultdict(set)
    for row in MONDO.rows:
        labels[row["subject_id"]].add(row["subject_label"])
        if row["object_label"]:
            labels[_standard(row["object_id"])].add(row["object_label"])
    checked = 0
    for row in CURATED.rows:
        code = row["object_id"]
        if code.split(":")[0] in {"MONDO", "DOID", "icd11.foundation", "Orphanet"} and code in labels:
            assert row["object_label"] in labels[code], (code, row["object_label"], labels[code])
            checked += 1
    assert checked >= 60


def test_every_left_out_row_is_reported_with_its_reason(kg: Graph) -> None:
    """A curated row without a verified term stays out of the graph and is listed in unmapped.tsv with the reason."""
    left_out = [r for r in CURATED.rows if not r["object_label"].strip()]
    reasons = defaultdict(list)
    for row in _unmapped():
        reasons[row["entity_id"]].append(row["reason"])
    for row in left_out:
        entity = row["subject_id"].removeprefix("cc:")
        assert any(row["object_id"] in r and "left out" in r for r in reasons[entity]), row["object_id"]
        iri = bioregistry_code_systems().expand_strict(row["object_id"])
        assert (CC[entity], SSSOM_PREDICATES[row["predicate_id"]], URIRef(iri)) not in kg


def test_every_verified_row_is_in_the_graph(kg: Graph) -> None:
    for row in CURATED.rows:
        if row["object_label"].strip():
            iri = URIRef(bioregistry_code_systems().expand_strict(row["object_id"]))
            assert (CC[row["subject_id"].removeprefix("cc:")], SSSOM_PREDICATES[row["predicate_id"]], iri) in kg, row
