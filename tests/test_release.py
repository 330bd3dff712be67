"""Releases as ontology users consume them: a dated version IRI from the ontology source, OBO Graphs JSON read back
by a real ontology client (pronto), and a release diff against the committed snapshot of the previous release."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, SKOS, XSD

from calcinosis_kg.errors import CurationError
from calcinosis_kg.graph.obographs import obographs_document
from calcinosis_kg.graph.release import (
    DIFF_JSON,
    DIFF_MARKDOWN,
    OBOGRAPHS_EXPORT,
    RELEASES_DIR,
    load_snapshot,
    previous_release,
    release_info,
    snapshot_path,
)
from calcinosis_kg.graph.release_diff import release_diff
from calcinosis_kg.ontology import CC, CCO, ONTOLOGY_IRI

ONTOLOGY = URIRef(ONTOLOGY_IRI)


# ------------------------------------------------------------------------------------------ the release's identity
def test_the_version_iri_is_dated_from_the_ontology_source(kg: Graph) -> None:
    release = release_info(kg)
    assert release.date is not None
    assert release.version_iri == f"https://w3id.org/calcinosis-kg/releases/{release.date}/ontology"
    assert (ONTOLOGY, OWL.versionIRI, URIRef(release.version_iri)) in kg  # in the data, so the server serves it
    assert (ONTOLOGY, DCTERMS.modified, Literal(release.date, datatype=XSD.date)) in kg
    assert kg.value(ONTOLOGY, OWL.versionInfo) == Literal(release.version_info)
    assert release.prior_name == "2026-12-01"


def _header(version: str, modified: str) -> Graph:
    graph = Graph()
    graph.add((ONTOLOGY, OWL.versionIRI, URIRef(version)))
    graph.add((ONTOLOGY, OWL.versionInfo, Literal("9.9.9")))
    graph.add((ONTOLOGY, DCTERMS.modified, Literal(modified, datatype=XSD.date)))
    return graph


@pytest.mark.parametrize(
    ("version", "modified", "message"),
    [
        ("https://w3id.org/calcinosis-kg/releases/0.2.0/ontology", "2026-12-01", "not a dated release IRI"),
        ("https://w3id.org/calcinosis-kg/releases/2026-12-01/ontology", "2026-11-30", "differs from dcterms:modified"),
    ],
)
def test_an_undated_or_inconsistent_version_is_refused(version: str, modified: str, message: str) -> None:
    with pytest.raises(CurationError, match=message):
        release_info(_header(version, modified))


@pytest.mark.parametrize(("name", "triples"), [("0.1.0", 7500), ("2026-12-01", 7927)])
def test_every_release_snapshot_is_committed_and_loads_offline(name: str, triples: int) -> None:
    path = snapshot_path(name)
    assert path.is_file()
    assert path.stat().st_size < 200_000
    previous = load_snapshot(path)
    assert release_info(previous, dated=False).version_iri == f"https://w3id.org/calcinosis-kg/releases/{name}/ontology"
    assert len(previous) == triples


def test_the_previous_release_is_found_through_the_prior_version(kg: Graph) -> None:
    previous = previous_release(kg, RELEASES_DIR)  # the ontology's owl:priorVersion: release 0.2.0 of 2026-12-01
    assert release_info(previous).version_info == "0.2.0"
    assert len(previous) == len(load_snapshot(snapshot_path("2026-12-01")))


def test_a_missing_snapshot_is_refused(kg: Graph, tmp_path: Path) -> None:
    with pytest.raises(CurationError, match=r"no snapshot of the previous release 2026-12-01"):
        previous_release(kg, tmp_path)


# ------------------------------------------------------------------------------------------ OBO Graphs JSON
def test_obographs_json_is_a_valid_obo_graphs_document(build_dir: Path) -> None:
    obographs = pytest.importorskip("obographs")
    text = (build_dir / OBOGRAPHS_EXPORT).read_text(encoding="utf-8")
    document = obographs.GraphDocument.model_validate_json(text)
    graph = document.graphs[0]
    assert graph.id == ONTOLOGY_IRI
    assert graph.meta is not None
    assert graph.meta.version == release_info_of(build_dir).version_iri
    types = {node.type for node in graph.nodes}
    assert types == {"CLASS", "PROPERTY", "INDIVIDUAL"}


def release_info_of(build_dir: Path) -> Any:
    return release_info(Graph().parse(build_dir / "calcinosis-kg.nt", format="nt"))


def _node(document: dict[str, Any], iri: str) -> dict[str, Any]:
    nodes = [n for n in document["graphs"][0]["nodes"] if n["id"] == iri]
    assert len(nodes) == 1, iri
    return nodes[0]


def test_obographs_nodes_carry_labels_definitions_synonyms_and_xrefs(kg: Graph) -> None:
    document = obographs_document(kg)
    node = _node(document, str(CC["calcinosis-cutis"]))
    assert node["lbl"] == "calcinosis cutis"
    assert node["type"] == "INDIVIDUAL"
    assert node["meta"]["definition"]["val"] == str(kg.value(CC["calcinosis-cutis"], SKOS.definition))
    assert {"pred": "hasExactSynonym", "val": "cutaneous calcinosis"} in node["meta"]["synonyms"]
    values = {(v["pred"], v["val"]) for v in node["meta"]["basicPropertyValues"]}
    assert (str(SKOS.broadMatch), "http://purl.obolibrary.org/obo/MONDO_0002123") in values  # with its predicate
    dystrophic = _node(document, str(CC["dystrophic-calcinosis-cutis"]))
    # The article's wording is no synonym at all (a hidden label): only the editorial note keeps it.
    assert [s["val"] for s in dystrophic["meta"]["synonyms"]] == ["dystrophic cutaneous calcification"]
    written = {v["val"] for v in dystrophic["meta"]["basicPropertyValues"]}
    assert "dysmorphic calcinosis cutis" not in written
    assert any(v.startswith('Source wording "dysmorphic calcinosis cutis"') for v in written)
    skin_ulcer = _node(document, str(CC["skin-ulcer"]))
    assert {"val": "SCTID:46742003"} in skin_ulcer["meta"]["xrefs"]  # exact matches as xrefs
    edges = {(e["sub"], e["pred"], e["obj"]) for e in document["graphs"][0]["edges"]}
    assert (str(CC["calcinosis-cutis"]), str(CCO.hasSubtype), str(CC["dystrophic-calcinosis-cutis"])) in edges
    assert (str(CCO.Subtype), "is_a", str(CCO.Condition)) in edges
    assert document == json.loads(json.dumps(document))


# ------------------------------------------------------------------------------------------ a real ontology client
@pytest.fixture(scope="module")
def pronto_ontology(build_dir: Path) -> Any:
    pronto = pytest.importorskip("pronto")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pronto warns that it skips OBO instances (our entities are individuals)
        return pronto.Ontology(str(build_dir / OBOGRAPHS_EXPORT), threads=1)


def test_pronto_reads_the_class_hierarchy_and_properties(pronto_ontology: Any) -> None:
    condition = pronto_ontology[str(CCO.Condition)]
    assert condition.name == "condition"
    below = {t.id for t in condition.subclasses(with_self=False)}
    assert {str(CCO.Subtype), str(CCO.Disease), str(CCO.AutoimmuneDisease)} <= below
    assert str(CCO.Entity) in {t.id for t in condition.superclasses(with_self=False)}
    has_subtype = pronto_ontology.get_relationship(str(CCO.hasSubtype))
    assert has_subtype.name == "has subtype"
    assert pronto_ontology[str(CCO.Subtype)].definition


def test_pronto_skips_the_entities_which_are_individuals(pronto_ontology: Any) -> None:
    """pronto 2.7 reads no OBO instances: the entities are walked with the obographs client below."""
    assert str(CC["calcinosis-cutis"]) not in {t.id for t in pronto_ontology.terms()}


def test_an_obo_graphs_client_walks_the_subtypes_and_their_xrefs(build_dir: Path) -> None:
    obographs = pytest.importorskip("obographs")
    obographs_model = pytest.importorskip("obographs.model")
    graph = obographs.read(build_dir / OBOGRAPHS_EXPORT, squeeze=True)
    assert graph.version_iri == release_info_of(build_dir).version_iri
    assert graph.version == release_info_of(build_dir).version_info
    nodes = obographs_model.get_id_to_node(graph)
    edges = obographs_model.get_id_to_edges(graph)
    root = str(CC["calcinosis-cutis"])
    subtypes = sorted(o for p, o in edges[root] if p == str(CCO.hasSubtype))
    # Calciphylaxis's place among the subtypes is disputed: a hierarchy cannot say so, so it is no subtype edge.
    assert [nodes[s].lbl for s in subtypes] == [
        "dystrophic calcinosis cutis",
        "iatrogenic calcinosis cutis",
        "idiopathic calcinosis cutis",
        "metastatic calcinosis cutis",
    ]
    idiopathic = str(CC["idiopathic-calcinosis-cutis"])
    variants = {nodes[o].lbl for p, o in edges[idiopathic] if p == str(CCO.hasVariant)}
    assert "scrotal calcinosis" in variants
    # Each subtype is typed by the ontology class, and maps (broadly) to ICD-10-CM L94.2.
    for subtype in subtypes:
        assert (str(RDF.type), str(CCO.Subtype)) in edges[subtype]
        values = {(v.pred, v.val) for v in nodes[subtype].meta.basicPropertyValues}
        assert (str(SKOS.broadMatch), "https://www.icd10data.com/search?s=L94.2") in values
    dermatomyositis = nodes[str(CC.dermatomyositis)]
    assert {x.val for x in dermatomyositis.meta.xrefs} >= {"MONDO:0016367", "SCTID:396230008", "DOID:10223"}
    assert "ICD10CM:M33" not in {x.val for x in dermatomyositis.meta.xrefs}  # broadMatch: not an xref


# ------------------------------------------------------------------------------------------ the release diff
def test_the_diff_against_the_previous_release(build_dir: Path) -> None:
    """Release 0.3.0 against 0.2.0 (2026-12-01): the HPO import, the issue 23 fixes and the attested codes."""
    diff = json.loads((build_dir / DIFF_JSON).read_text(encoding="utf-8"))
    assert diff["from"]["version_iri"] == "https://w3id.org/calcinosis-kg/releases/2026-12-01/ontology"
    assert diff["to"]["version_iri"] == release_info_of(build_dir).version_iri
    added = {e["entity"] for e in diff["entities"]["added"]}
    assert {"cc:omim-610455", "cc:omim-615522", "cc:hpo-release-2025-01-16"} <= added
    assertions = {(a["subject"], a["property"], a["object"]) for a in diff["assertions"]["added"]}
    assert ("cc:calcinosis-cutis", "cco:hasManagementOption", "cc:no-treatment") in assertions
    removed = {(a["subject"], a["property"], a["object"]) for a in diff["assertions"]["removed"]}
    assert ("cc:calcinosis-cutis", "cco:treatedBy", "cc:no-treatment") in removed
    mappings = {(m["subject"], m["code"]) for m in diff["mappings"]["added"]}
    assert ("cc:calciphylaxis", "SCTID:237900002") in mappings
    changed = {(m["subject"], m["code"]): m["changes"] for m in diff["mappings"]["changed"]}
    assert "sssom:comment" in changed[("cc:acne", "SCTID:11381005")]
    assert diff["summary"]["entities"]["added"] == len(diff["entities"]["added"])
    markdown = (build_dir / DIFF_MARKDOWN).read_text(encoding="utf-8")
    assert "| entities | " in markdown
    assert "cc:omim-610455 (Tumoral calcinosis, normophosphatemic, familial)" in markdown


def _graph(triples: str) -> Graph:
    prefixes = """
@prefix owl: <http://www.w3.org/2002/07/owl#> . @prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> . @prefix dcterms: <http://purl.org/dc/terms/> .
@prefix cc: <https://w3id.org/calcinosis-kg/id/> . @prefix cco: <https://w3id.org/calcinosis-kg/ontology/> .
@prefix obo: <http://purl.obolibrary.org/obo/> .
"""
    return Graph().parse(data=prefixes + triples, format="turtle")


def _release(version: str, definition: str, symptom: str, evidence: str) -> str:
    """A small release in Turtle: the ontology with the ``version`` statements, ``cc:a`` with ``definition`` and the
    symptom ``cc:b`` (an axiom with ``evidence``), and ``cc:{symptom}``, a symptom of no condition."""
    return f"""
<https://w3id.org/calcinosis-kg/ontology> {version} .
cc:a a owl:NamedIndividual, cco:Condition ; skos:prefLabel "a"@en ; skos:definition "{definition}"@en ;
    cco:hasSymptom cc:b .
cc:b a owl:NamedIndividual, cco:Symptom ; skos:prefLabel "b"@en .
cc:{symptom} a owl:NamedIndividual, cco:Symptom ; skos:prefLabel "{symptom}"@en .
[] a owl:Axiom ; owl:annotatedSource cc:a ; owl:annotatedProperty cco:hasSymptom ; owl:annotatedTarget cc:b ;
   dcterms:source cc:src ; obo:RO_0002558 obo:{evidence} .
"""


RELEASES = "https://w3id.org/calcinosis-kg/releases"
OLD = _release(f'owl:versionIRI <{RELEASES}/0.1.0/ontology> ; owl:versionInfo "0.1.0"', "Old.", "gone", "ECO_0000303")
NEW = _release(
    f'owl:versionIRI <{RELEASES}/2026-12-01/ontology> ; owl:versionInfo "0.2.0" ; '
    f'dcterms:modified "2026-12-01"^^xsd:date ; owl:priorVersion <{RELEASES}/0.1.0/ontology>',
    "New.",
    "new",
    "ECO_0000305",
)


def test_the_diff_reports_added_removed_and_changed() -> None:
    diff = release_diff(_graph(OLD), _graph(NEW))
    assert diff.summary()["entities"] == {"added": 1, "removed": 1, "changed": 1}
    assert diff.entities.changed[0]["changes"] == {"definition": {"before": ["Old."], "after": ["New."]}}
    assert diff.assertions.changed[0]["changes"] == {
        "obo:RO_0002558": {"before": ["obo:ECO_0000303"], "after": ["obo:ECO_0000305"]}
    }
    assert diff.to_json() == release_diff(_graph(OLD), _graph(NEW)).to_json()  # deterministic
