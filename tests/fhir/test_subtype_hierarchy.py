"""The FHIR hierarchy carries stated subtype links only: calciphylaxis, a type of calcinosis cutis for StatPearls
and a distinct vasculopathy for other references (a disputed link in the knowledge), is no ``child`` of calcinosis
cutis and no member of its ``is-a`` / ``descendent-of`` expansions, since a FHIR client would infer *is-a* from them
(the rule of :mod:`calcinosis_kg.ontology.subtypes`)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

pytestmark = [pytest.mark.engine, pytest.mark.live]

CS = "https://w3id.org/calcinosis-kg/id"
FORMS = "https://w3id.org/calcinosis-kg/fhir/ValueSet/forms-of-calcinosis-cutis"
STATED = {
    "dystrophic-calcinosis-cutis",
    "iatrogenic-calcinosis-cutis",
    "idiopathic-calcinosis-cutis",
    "metastatic-calcinosis-cutis",
}


def _lookup_properties(fhir_base: str, code: str, prop: str) -> set[str]:
    answer = requests.get(
        f"{fhir_base}/CodeSystem/$lookup",
        params={"system": CS, "code": code, "property": prop},
        headers={"Accept": "application/fhir+json"},
        timeout=30,
    ).json()
    assert answer["resourceType"] == "Parameters", answer
    return {
        part[1]["valueCode"]
        for p in answer["parameter"]
        if p["name"] == "property" and (part := p["part"])[0]["valueCode"] == prop
    }


def _expand(fhir_base: str, value_set: dict[str, Any]) -> set[str]:
    body = {"resourceType": "Parameters", "parameter": [{"name": "valueSet", "resource": value_set}]}
    answer = requests.post(f"{fhir_base}/ValueSet/$expand", json=body, timeout=30).json()
    assert answer["resourceType"] == "ValueSet", answer
    return {c["code"] for c in answer["expansion"].get("contains", [])}


def _filtered(op: str) -> dict[str, Any]:
    return {
        "resourceType": "ValueSet",
        "status": "active",
        "compose": {
            "include": [{"system": CS, "filter": [{"property": "concept", "op": op, "value": "calcinosis-cutis"}]}]
        },
    }


def test_lookup_gives_no_disputed_child_or_parent(fhir_base: str) -> None:
    assert _lookup_properties(fhir_base, "calcinosis-cutis", "child") == STATED
    assert _lookup_properties(fhir_base, "calciphylaxis", "parent") == set()
    assert _lookup_properties(fhir_base, "dystrophic-calcinosis-cutis", "parent") == {"calcinosis-cutis"}


def test_is_a_and_descendent_of_expand_leave_out_a_disputed_subtype(fhir_base: str) -> None:
    assert _expand(fhir_base, _filtered("is-a")) == STATED | {"calcinosis-cutis"}
    assert _expand(fhir_base, _filtered("descendent-of")) == STATED


def test_expand_of_the_forms_value_set_leaves_out_calciphylaxis(fhir_base: str) -> None:
    answer = requests.get(f"{fhir_base}/ValueSet/$expand", params={"url": FORMS}, timeout=30).json()
    codes = {c["code"] for c in answer["expansion"]["contains"]}
    assert codes == STATED | {"calcinosis-cutis"}


def test_subsumes_does_not_subsume_a_disputed_subtype(fhir_base: str) -> None:
    answer = requests.get(
        f"{fhir_base}/CodeSystem/$subsumes",
        params={"system": CS, "codeA": "calcinosis-cutis", "codeB": "calciphylaxis"},
        timeout=30,
    ).json()
    outcome = {p["name"]: p.get("valueCode") for p in answer["parameter"]}
    assert outcome["outcome"] == "not-subsumed"
