"""The mapping exports: an SSSOM TSV valid for sssom-py and a FHIR R4 ConceptMap to SNOMED CT valid for fhir.resources.

Expected values are computed from the graph's own triples (not through the export code) or read from the curated
mapping file, so that the exports are checked against what the graph asserts.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import curies
import pytest
import yaml
from fhir.resources.R4B.conceptmap import ConceptMap
from jsonschema import ValidationError
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, SKOS
from sssom.parsers import parse_sssom_table
from sssom.validators import validate

from calcinosis_kg.errors import CurationError
from calcinosis_kg.graph.codesystems import bioregistry_code_systems
from calcinosis_kg.graph.exports import SSSOM_COLUMNS, fhir_conceptmap, sssom_tsv
from calcinosis_kg.graph.imports.hpo_rdf import disease_mappings, existing_entities
from calcinosis_kg.graph.imports.hpo_slice import read_slice
from calcinosis_kg.graph.lookup import graph_mappings
from calcinosis_kg.graph.mappings import MAPPINGS_FILE, load_mappings, read_sssom
from calcinosis_kg.graph.obographs import obographs_document
from calcinosis_kg.graph.targets import FHIR_EQUIVALENCE
from calcinosis_kg.ontology import CC, CCO, ONTOLOGY_IRI, SSSOM, SSSOM_PREDICATES

SNOMED_IRI = "http://snomed.info/id/"
R4_EQUIVALENCE_CODES = frozenset(
    {
        "relatedto",
        "equivalent",
        "equal",
        "wider",
        "subsumes",
        "narrower",
        "specializes",
        "inexact",
        "unmatched",
        "disjoint",
    }
)
"""The R4 value set http://hl7.org/fhir/ValueSet/concept-map-equivalence (required binding of target.equivalence)."""

pytestmark = pytest.mark.filterwarnings("ignore::Warning:sssom.util")  # pandas deprecations inside sssom-py


@pytest.fixture(scope="module")
def sssom_text(kg: Graph) -> str:
    return sssom_tsv(kg)


@pytest.fixture(scope="module")
def conceptmap_text(kg: Graph) -> str:
    return fhir_conceptmap(kg)


@pytest.fixture(scope="module")
def conceptmap(conceptmap_text: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(conceptmap_text)
    return data


def _graph_mappings(graph: Graph) -> set[tuple[str, str, str]]:
    """(cc: subject CURIE, predicate CURIE, object CURIE) of every SKOS mapping triple, read from the triples."""
    converter = curies.Converter.from_prefix_map(bioregistry_code_systems().prefix_map)
    found = set()
    for curie, predicate in SSSOM_PREDICATES.items():
        for subject, target in graph.subject_objects(predicate):
            if str(subject).startswith(str(CC)):
                found.add(("cc:" + str(subject).removeprefix(str(CC)), curie, converter.compress_strict(str(target))))
    return found


def _rows(text: str) -> list[dict[str, str]]:
    body = [line for line in text.splitlines() if not line.startswith("#")]
    return list(csv.DictReader(body, delimiter="\t", quoting=csv.QUOTE_NONE))


def _metadata_block(text: str) -> str:
    return "\n".join(line[2:] for line in text.splitlines() if line.startswith("# "))


def _sssom_problems(text: str, expected_rows: int, caplog: pytest.LogCaptureFixture) -> list[str]:
    """Everything sssom-py objects to: parser warnings, mappings it drops, and validation errors.

    The parser is run non-strict because ``strict=True`` in sssom-py 0.4.21 inverts its metadata check and rejects
    every file with only standard metadata; its warnings (non-standard metadata, redefined built-in prefixes,
    dropped malformed rows, propagation conflicts) are collected from the log instead.
    """
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        msdf = parse_sssom_table(io.StringIO(text))
    problems = [f"parser: {r.getMessage()[:300]}" for r in caplog.records if r.levelno >= logging.WARNING]
    if len(msdf.df) != expected_rows:
        problems.append(f"sssom-py read {len(msdf.df)} mappings, expected {expected_rows}")
    try:
        reports = validate(msdf, fail_on_error=True)
    except ValidationError as exc:
        problems.append(f"validation: {exc.message}")
    else:
        problems += [f"{kind}: {result.message}" for kind, report in reports.items() for result in report.results]
    return problems


# ---------------------------------------------------------------------------------------------- SSSOM
def test_sssom_export_is_valid_according_to_sssom_py(
    kg: Graph, sssom_text: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert _sssom_problems(sssom_text, len(_graph_mappings(kg)), caplog) == []


@pytest.mark.parametrize(
    ("case", "corrupt"),
    [
        ("undeclared prefix", lambda t: "\n".join(x for x in t.splitlines() if not x.startswith("#   SCTID:")) + "\n"),
        ("unknown justification", lambda t: t.replace("semapv:ManualMappingCuration", "semapv:Guessing", 1)),
        ("confidence above 1", lambda t: re.sub(r"\t0\.9\t", "\t2\t", t, count=1)),
        ("bad entity type", lambda t: t.replace("owl named individual", "owl individual")),
        ("non-standard metadata", lambda t: t.replace("# license:", "# licence: x\n# license:")),
    ],
)
def test_the_sssom_check_rejects_broken_copies(
    kg: Graph, sssom_text: str, caplog: pytest.LogCaptureFixture, case: str, corrupt: Callable[[str], str]
) -> None:
    broken = corrupt(sssom_text)
    assert broken != sssom_text, case
    assert _sssom_problems(broken, len(_graph_mappings(kg)), caplog), case


def test_every_graph_mapping_appears_exactly_once_in_the_sssom_export(kg: Graph, sssom_text: str) -> None:
    rows = _rows(sssom_text)
    keys = Counter((r["subject_id"], r["predicate_id"], r["object_id"]) for r in rows)
    assert [k for k, n in keys.items() if n > 1] == []
    assert set(keys) == _graph_mappings(kg)
    assert list(rows[0]) == list(SSSOM_COLUMNS)


def test_sssom_rows_carry_the_axiom_evidence(kg: Graph, sssom_text: str) -> None:
    rows = {(r["subject_id"], r["object_id"]): r for r in _rows(sssom_text)}
    row = rows[("cc:calcinosis-cutis", "MONDO:0002123")]
    assert row["subject_label"] == "calcinosis cutis"
    assert row["predicate_id"] == "skos:broadMatch"
    assert row["object_label"] == "calcinosis"
    assert row["mapping_justification"] == "semapv:ManualMappingCuration"
    assert row["author_id"] == "cc:calcinosis-kg-curation-team"
    assert row["mapping_date"] == "2026-11-23"
    assert float(row["confidence"]) == pytest.approx(0.9)
    assert set(row["see_also"].split("|")) == {
        str(s) for ax in kg.subjects(SSSOM.object_id, Literal("MONDO:0002123")) for s in kg.objects(ax, SSSOM.see_also)
    }
    assert len(row["see_also"].split("|")) == 1


def test_sssom_export_agrees_with_the_curated_file(kg: Graph, sssom_text: str) -> None:
    exported = {(r["subject_id"], r["object_id"]): r for r in _rows(sssom_text)}
    curated = [
        r
        for r in read_sssom(MAPPINGS_FILE).rows
        if r["object_label"].strip() or r["mapping_justification"] == "semapv:MappingChaining"
    ]
    entity_ids = {str(s).removeprefix(str(CC)) for s in kg.subjects(RDF.type, OWL.NamedIndividual)}
    existing = existing_entities(load_mappings(entity_ids))  # the HPO graph's rows: its minted diseases' codes
    imported = {(f"cc:{m.subject}", m.object_id): m for m in disease_mappings(read_slice(), existing)}
    assert set(exported) - {(r["subject_id"], r["object_id"]) for r in curated} == set(imported)
    for key, mapping in imported.items():
        assert exported[key]["mapping_justification"] == mapping.justification
        assert exported[key]["see_also"] == "|".join(mapping.see_also)
        if mapping.justification == "semapv:UnspecifiedMatching":  # minted from the code: HPO is the evidence
            assert exported[key]["see_also"] == read_slice().release.iri
        else:  # a Mondo or SNOMED CT code chained through Mondo's sets (graph/imports/hpo_chains.py)
            assert mapping.justification == "semapv:MappingChaining"
            assert "monarch-initiative/mondo" in exported[key]["see_also"]
    assert len(curated) + len(imported) == len(exported)
    for row in curated:
        mine = exported[(row["subject_id"], row["object_id"])]
        assert mine["predicate_id"] == row["predicate_id"], row["object_id"]
        assert mine["mapping_justification"] == row["mapping_justification"], row["object_id"]
        assert mine["object_label"] == row["object_label"].strip(), row["object_id"]
        assert float(mine["confidence"]) == pytest.approx(float(row["confidence"])), row["object_id"]
        assert set(mine["see_also"].split("|")) == {s.strip() for s in row["see_also"].split("|")}, row["object_id"]


def test_sssom_metadata(kg: Graph, sssom_text: str) -> None:
    meta = yaml.safe_load(_metadata_block(sssom_text))
    rows = _rows(sssom_text)
    assert meta["mapping_set_id"] == "https://w3id.org/calcinosis-kg/mappings/calcinosis-kg.sssom.tsv"
    assert meta["mapping_set_version"] == str(kg.value(URIRef(ONTOLOGY_IRI), OWL.versionInfo))
    assert meta["license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert meta["creator_id"] == ["cc:calcinosis-kg-curation-team"]
    assert meta["subject_type"] == "owl named individual"
    assert "mapping_date" not in meta  # every row has its own: a set-level value would conflict (propagation)
    used = (
        {
            value.split(":", 1)[0]
            for row in rows
            for column in ("subject_id", "predicate_id", "object_id", "mapping_justification", "author_id")
            for value in row[column].split("|")
        }
        | {c.split(":", 1)[0] for c in meta["creator_id"]}
        | {meta["subject_source"].split(":", 1)[0]}
    )
    assert set(meta["curie_map"]) == used
    code_systems = bioregistry_code_systems().prefix_map
    for prefix, uri_prefix in meta["curie_map"].items():
        if prefix in code_systems:
            assert code_systems[prefix] == uri_prefix


def test_sssom_export_is_deterministic(kg: Graph, sssom_text: str) -> None:
    shuffled = Graph()
    for triple in sorted(kg, key=lambda t: (t[2].n3(), t[1].n3(), t[0].n3()), reverse=True):
        shuffled.add(triple)
    assert sssom_tsv(kg) == sssom_text
    assert sssom_tsv(shuffled) == sssom_text


def test_exports_need_the_ontology_version(kg: Graph) -> None:
    unversioned = Graph()
    for triple in kg.triples((None, None, None)):
        if triple[1] != OWL.versionInfo:
            unversioned.add(triple)
    with pytest.raises(CurationError, match="owl:versionInfo"):
        sssom_tsv(unversioned)
    with pytest.raises(CurationError, match="owl:versionInfo"):
        fhir_conceptmap(unversioned)


# ---------------------------------------------------------------------------------------------- FHIR
def test_conceptmap_validates_with_fhir_resources_r4b(conceptmap_text: str) -> None:
    resource = ConceptMap.model_validate_json(conceptmap_text)
    assert resource.status == "active"
    assert resource.url == "https://w3id.org/calcinosis-kg/fhir/ConceptMap/calcinosis-kg-to-snomedct"
    assert resource.group is not None
    assert len(resource.group) == 1
    assert resource.group[0].source == "https://w3id.org/calcinosis-kg/id"
    assert resource.group[0].target == "http://snomed.info/sct"


def test_conceptmap_keeps_the_r4_invariants_fhir_resources_does_not_check(conceptmap: dict[str, Any]) -> None:
    assert re.fullmatch(r"[A-Z]([A-Za-z0-9_]){0,254}", conceptmap["name"])  # cmd-0
    assert re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", conceptmap["id"])
    targets = [t for e in conceptmap["group"][0]["element"] for t in e["target"]]
    assert {t["equivalence"] for t in targets} <= R4_EQUIVALENCE_CODES  # required binding
    for target in targets:
        if target["equivalence"] in {"narrower", "inexact"}:  # cmd-1
            assert target.get("comment"), target
        assert not {"product", "dependsOn"} & set(target)


def test_conceptmap_targets_are_the_graph_snomed_mappings(kg: Graph, conceptmap: dict[str, Any]) -> None:
    exported = {
        (e["code"], t["code"], t["equivalence"]) for e in conceptmap["group"][0]["element"] for t in e["target"]
    }
    expected = {
        (subject.removeprefix("cc:"), code.removeprefix("SCTID:"), FHIR_EQUIVALENCE[predicate])
        for subject, predicate, code in _graph_mappings(kg)
        if code.startswith("SCTID:")
    }
    assert exported == expected
    assert len(exported) == sum(len(e["target"]) for e in conceptmap["group"][0]["element"])


def test_conceptmap_displays_are_the_graph_labels(kg: Graph, conceptmap: dict[str, Any]) -> None:
    for element in conceptmap["group"][0]["element"]:
        entity = CC[element["code"]]
        assert element["display"] == str(kg.value(entity, SKOS.prefLabel))
        for target in element["target"]:
            axioms = {
                ax
                for ax in kg.subjects(OWL.annotatedSource, entity)
                if kg.value(ax, OWL.annotatedTarget) == URIRef(SNOMED_IRI + target["code"])
            }
            assert len(axioms) == 1
            label = kg.value(axioms.pop(), SSSOM.object_label)
            if label is None:
                assert "display" not in target, target  # a chained code without a verified term: no display
            else:
                assert target["display"] == str(label)


def test_attested_codes_without_a_verified_term_are_exported_without_a_label(
    sssom_text: str, conceptmap: dict[str, Any]
) -> None:
    """Issue 23: calciphylaxis's SNOMED CT code, paired by Mondo's set, is in both exports, with an empty
    object_label (SSSOM allows it) and no ConceptMap display rather than a label borrowed from Mondo."""
    rows = {(r["subject_id"], r["object_id"]): r for r in _rows(sssom_text)}
    row = rows[("cc:calciphylaxis", "SCTID:237900002")]
    assert row["object_label"] == ""
    assert row["mapping_justification"] == "semapv:MappingChaining"
    assert any("mondo_exactmatch_sctid" in s for s in row["see_also"].split("|"))
    elements = {e["code"]: e for e in conceptmap["group"][0]["element"]}
    targets = {t["code"]: t for t in elements["calciphylaxis"]["target"]}
    assert targets["237900002"]["equivalence"] == "equivalent"
    assert "display" not in targets["237900002"]
    wider = {t["code"]: t for t in elements["calcinosis-cutis"]["target"]}
    assert wider["6595006"]["equivalence"] == "wider"
    assert wider["17141001"]["equivalence"] == "narrower"


def test_equivalence_is_mapped_as_documented(conceptmap: dict[str, Any]) -> None:
    assert FHIR_EQUIVALENCE == {
        "skos:exactMatch": "equivalent",
        "skos:closeMatch": "inexact",
        "skos:broadMatch": "wider",
        "skos:narrowMatch": "narrower",
        "skos:relatedMatch": "relatedto",
    }
    by_pair = {(e["code"], t["code"]): t for e in conceptmap["group"][0]["element"] for t in e["target"]}
    assert by_pair[("acne", "11381005")]["equivalence"] == "equivalent"
    assert "comment" not in by_pair[("acne", "11381005")]
    assert by_pair[("fingertip", "7569003")]["equivalence"] == "wider"  # 'Finger structure' is broader
    assert by_pair[("scleroderma", "89155008")]["equivalence"] == "narrower"  # 'Systemic sclerosis' is narrower
    assert by_pair[("breast-cancer", "254837009")]["equivalence"] == "inexact"
    assert by_pair[("inflammation", "23583003")]["equivalence"] == "relatedto"
    assert by_pair[("scleroderma", "89155008")]["comment"].startswith("Narrower: the SNOMED CT concept is narrower")


def test_conceptmap_is_sorted_and_deterministic(kg: Graph, conceptmap_text: str, conceptmap: dict[str, Any]) -> None:
    assert fhir_conceptmap(kg) == conceptmap_text
    codes = [e["code"] for e in conceptmap["group"][0]["element"]]
    assert codes == sorted(codes)
    assert conceptmap["version"] == str(kg.value(URIRef(ONTOLOGY_IRI), OWL.versionInfo))
    snomed_dates = [m.mapping_date for m in graph_mappings(kg) if m.system == "SCTID"]
    assert conceptmap["date"] == max(snomed_dates)  # the latest SNOMED CT mapping date, not the clock


# ------------------------------------------------------------------------------------------ subtype links
def test_obo_graphs_has_no_subtype_edge_for_a_disputed_link(kg: Graph) -> None:
    """OBO Graphs consumers read ``hasSubtype`` edges as the hierarchy: a link the knowledge marks disputed
    (calciphylaxis under calcinosis cutis) is no edge, while calciphylaxis keeps its node and its other edges, the
    stated subtypes keep theirs, and a stated link written from below (``subtypeOf``) stays an edge."""
    root, calciphylaxis = str(CC["calcinosis-cutis"]), str(CC.calciphylaxis)
    assert (CC["calcinosis-cutis"], CCO.hasSubtype, CC.calciphylaxis) in kg  # the claim is in the graph
    document = obographs_document(kg)["graphs"][0]
    edges = {(e["sub"], e["pred"], e["obj"]) for e in document["edges"]}
    subtype_props = {str(CCO.hasSubtype), str(CCO.subtypeOf)}
    assert not {e for e in edges if calciphylaxis in (e[0], e[2]) and e[1] in subtype_props}
    assert (calciphylaxis, str(CCO.associatedWith), str(CC["end-stage-kidney-disease"])) in edges
    assert calciphylaxis in {n["id"] for n in document["nodes"]}
    assert (root, str(CCO.hasSubtype), str(CC["dystrophic-calcinosis-cutis"])) in edges

    below = URIRef(str(CC) + "example-form")
    extra = Graph()
    for triple in kg:
        extra.add(triple)
    extra.add((below, CCO.subtypeOf, CC["dystrophic-calcinosis-cutis"]))
    extra.add((below, SKOS.prefLabel, Literal("example form", lang="en")))
    extra.add((below, RDF.type, OWL.NamedIndividual))
    extra.add((below, RDF.type, CCO.Subtype))
    edges = {(e["sub"], e["pred"], e["obj"]) for e in obographs_document(extra)["graphs"][0]["edges"]}
    assert (str(below), str(CCO.subtypeOf), str(CC["dystrophic-calcinosis-cutis"])) in edges


def test_release_diff_marks_a_qualified_assertion_with_its_certainty(build_dir: Path) -> None:
    """The release diff lists an added assertion with its evidence and, when it is a source's claim, its certainty:
    the disputed subtype link reads as disputed, not as one more subtype."""
    from calcinosis_kg.graph.release import DIFF_MARKDOWN

    lines = (build_dir / DIFF_MARKDOWN).read_text(encoding="utf-8").splitlines()
    link = "- cc:calcinosis-cutis cco:hasSubtype cc:calciphylaxis ["
    assert [line for line in lines if line.startswith(link)] == [f"{link}obo:ECO_0000304; certainty: disputed]"]
    assert "- cc:calcinosis-cutis cco:hasSubtype cc:dystrophic-calcinosis-cutis" not in lines  # in 0.1.0 already
