"""A source's own wording is findable but never a name (issue 23, item 3): not a synonym (``skos:altLabel``), not a FHIR
designation of ``$lookup`` or ``$expand``, not an OBO Graphs synonym; ``/lookup`` by it finds its entity, named by its
preferred label. Run against a real server serving the run's build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from rdflib import Graph, Literal
from rdflib.namespace import SKOS

from calcinosis_kg.graph.release import OBOGRAPHS_EXPORT
from calcinosis_kg.ontology import CC

pytestmark = [pytest.mark.engine, pytest.mark.live]

CS = "https://w3id.org/calcinosis-kg/id"

WORDINGS = [
    ("whiteheads", "milia"),
    ("brain scan", "electroencephalography"),
    ("Paget disease", "paget-disease-of-bone"),
    ("dysmorphic calcinosis cutis", "dystrophic-calcinosis-cutis"),
    ("lupus", "systemic-lupus-erythematosus"),
    ("infection", "skin-infection"),
    ("biopsy", "skin-biopsy"),
    ("genetics", "genetic-predisposition"),
    ("cigarettes", "tobacco-smoking"),
    ("calcium deposits on the face", "calcinosis-cutis"),
    ("inflammatory acne", "acne"),
    ("severe burns", "burn"),
    ("steroid drug", "corticosteroid"),
    ("upsetting", "psychological-distress"),
    ("high-dose calcium medications", "calcium-supplement"),
]
"""The sources' wordings the clinical review found offered as synonyms although they are not equivalent (broader,
narrower, wrong or ambiguous terms), each with the entity it stands for."""

NOT_SYNONYMS = [("glucocorticoid", "corticosteroid"), ("watchful waiting", "no-treatment")]
"""Former synonyms that are not equivalent (narrower; more than the concept) and are no longer labels at all."""


def fhir_get(base: str, path: str, **params: str) -> requests.Response:
    return requests.get(f"{base}/{path}", params=params, headers={"Accept": "application/fhir+json"}, timeout=30)


@pytest.mark.parametrize(("wording", "local"), WORDINGS + NOT_SYNONYMS)
def test_a_non_equivalent_wording_is_no_synonym(kg: Graph, wording: str, local: str) -> None:
    assert Literal(wording, lang="en") not in set(kg.objects(CC[local], SKOS.altLabel))


@pytest.mark.parametrize(("wording", "local"), WORDINGS)
def test_a_source_wording_is_a_hidden_label_with_its_note(kg: Graph, wording: str, local: str) -> None:
    assert (CC[local], SKOS.hiddenLabel, Literal(wording, lang="en")) in kg
    notes = [str(n) for n in kg.objects(CC[local], SKOS.editorialNote)]
    assert any(note.startswith(f'Source wording "{wording}": ') for note in notes)


def test_no_fhir_designation_is_a_source_wording(fhir_base: str) -> None:
    wordings = {wording.casefold() for wording, _ in WORDINGS + NOT_SYNONYMS}
    for _, local in WORDINGS + NOT_SYNONYMS:
        answer = fhir_get(fhir_base, "CodeSystem/$lookup", system=CS, code=local).json()
        designations = [
            part["valueString"]
            for parameter in answer["parameter"]
            if parameter["name"] == "designation"
            for part in parameter["part"]
            if part["name"] == "value"
        ]
        assert wordings.isdisjoint(d.casefold() for d in designations), (local, designations)
    expansion = fhir_get(fhir_base, "ValueSet/all/$expand", includeDesignations="true", count="1000").json()
    shown = {d["value"].casefold() for c in expansion["expansion"]["contains"] for d in c.get("designation", [])}
    assert shown, "the expansion has designations (the true synonyms)"
    assert wordings.isdisjoint(shown)


@pytest.mark.parametrize(("wording", "local"), WORDINGS)
def test_lookup_by_a_source_wording_finds_its_entity_by_its_preferred_label(
    fhir_base: str, kg: Graph, wording: str, local: str
) -> None:
    hits = requests.get(f"{fhir_base.removesuffix('/fhir')}/lookup", params={"q": wording}, timeout=30).json()
    (first,) = [hit for hit in hits if hit["iri"] == str(CC[local])]
    assert first["match"] == "exact-hidden-label"
    assert first["label"] == str(kg.value(CC[local], SKOS.prefLabel))
    assert first["label"] != wording


def test_obo_graphs_write_no_source_wording(build_dir: Path) -> None:
    document = json.loads((build_dir / OBOGRAPHS_EXPORT).read_text(encoding="utf-8"))
    values = {
        str(value).casefold()
        for graph in document["graphs"]
        for node in graph["nodes"]
        for item in (*node.get("meta", {}).get("synonyms", []), *node.get("meta", {}).get("basicPropertyValues", []))
        for value in (item["val"],)
    }
    assert {wording.casefold() for wording, _ in WORDINGS}.isdisjoint(values)
