"""The OMIM and Orphanet codes of the HPO import's diseases, found on a real server (granian on loopback): by
``/lookup``, and by FHIR ``$lookup``/``$validate-code`` on the graph's code system (the disease's exactMatch
Coding, under the system URIs HL7 gives: ``http://www.omim.org``, ``https://www.orpha.net``) and ``$translate``
back. The server holds no OMIM or Orphanet CodeSystem, so asking it for one is a clear 404, not a guess."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from calcinosis_kg.graph.imports.hpo_slice import read_slice
from calcinosis_kg.graph.targets import load_target_systems

pytestmark = pytest.mark.live

CS = "https://w3id.org/calcinosis-kg/id"
DISEASES = [
    # HPO's code, the graph's concept (minted from OMIM; the article's own, reused through its Orphanet mapping)
    ("OMIM:610455", "omim-610455"),
    ("OMIM:615522", "omim-615522"),
    ("ORPHA:90291", "systemic-sclerosis"),
    ("ORPHA:93672", "juvenile-dermatomyositis"),
]


def _system(prefix: str) -> str:
    """The FHIR system URI of a code system of the mappings (``graph/mappings/target-systems.tsv``)."""
    return load_target_systems()[prefix].fhir_system


def _get(fhir_base: str, path: str, **params: str) -> requests.Response:
    return requests.get(f"{fhir_base}/{path}", params=params, timeout=30)


def _coding(code: str) -> dict[str, str]:
    prefix, local = code.split(":")
    return {"system": _system({"ORPHA": "Orphanet"}.get(prefix, prefix)), "code": local}


def test_the_codes_are_those_of_positive_hpo_rows() -> None:
    """The examples are diseases HPO says present with a term of the slice (not a NOT row)."""
    positive = {a.database_id for a in read_slice().annotations if a.qualifier != "NOT"}
    assert {code for code, _ in DISEASES} <= positive


@pytest.mark.parametrize(("code", "concept"), DISEASES)
def test_lookup_route_finds_the_disease_by_its_omim_or_orphanet_code(fhir_base: str, code: str, concept: str) -> None:
    base = fhir_base.removesuffix("/fhir")
    for spelling in (code, code.replace("ORPHA:", "Orphanet:"), code.lower()):
        response = requests.get(f"{base}/lookup", params={"q": spelling}, timeout=30)
        assert response.status_code == 200, response.text
        assert f"{CS}/{concept}" in {hit["iri"] for hit in response.json()}, spelling


@pytest.mark.parametrize(("code", "concept"), DISEASES)
def test_fhir_lookup_gives_the_disease_its_omim_or_orphanet_coding(fhir_base: str, code: str, concept: str) -> None:
    response = _get(fhir_base, "CodeSystem/$lookup", system=CS, code=concept, property="exactMatch")
    assert response.status_code == 200, response.text
    codings: list[dict[str, Any]] = [
        part["valueCoding"]
        for parameter in response.json()["parameter"]
        if parameter["name"] == "property"
        for part in parameter["part"]
        if "valueCoding" in part
    ]
    assert _coding(code) in [{"system": c["system"], "code": c["code"]} for c in codings]


@pytest.mark.parametrize(("code", "concept"), DISEASES)
def test_fhir_validate_code_and_translate_find_the_disease_for_lookup(fhir_base: str, code: str, concept: str) -> None:
    """$validate-code accepts the concept; $translate (reverse) goes from the OMIM/Orphanet code to it."""
    valid = _get(fhir_base, "CodeSystem/$validate-code", url=CS, code=concept).json()
    assert {"name": "result", "valueBoolean": True} in valid["parameter"]
    translated = _get(fhir_base, "ConceptMap/$translate", **_coding(code), reverse="true")
    assert translated.status_code == 200, translated.text
    assert f'"code": "{concept}"' in translated.text


def test_fhir_lookup_in_omim_itself_is_a_clear_404(fhir_base: str) -> None:
    """The server is not an OMIM or Orphanet terminology server: it says so, naming the system."""
    for code in ("OMIM:610455", "ORPHA:90291"):
        coding = _coding(code)
        for operation, params in (
            ("$lookup", coding),
            ("$validate-code", {"url": coding["system"], "code": coding["code"]}),
        ):
            response = _get(fhir_base, f"CodeSystem/{operation}", **params)
            assert response.status_code == 404, response.text
            assert coding["system"] in response.json()["issue"][0]["details"]["text"]


def test_lookup_route_and_fhir_lookup_find_an_hpo_disease_by_its_chained_snomed_and_mondo_codes(fhir_base: str) -> None:
    """Primary hyperoxaluria (ORPHA:416, minted) gets MONDO:0002474 and SNOMED CT 17901006 through Mondo's sets
    (graph/imports/hpo_chains.py): /lookup finds it by either, and $lookup lists the SNOMED CT coding without a
    display (SNOMED CT's own term was not seen)."""
    base = fhir_base.removesuffix("/fhir")
    for code in ("SCTID:17901006", "17901006", "MONDO:0002474"):
        hits = requests.get(f"{base}/lookup", params={"q": code}, timeout=30).json()
        assert f"{CS}/orpha-416" in {hit["iri"] for hit in hits}, code
    answer = _get(fhir_base, "CodeSystem/$lookup", system=CS, code="orpha-416", property="exactMatch").json()
    codings = [
        part["valueCoding"]
        for p in answer["parameter"]
        if p["name"] == "property"
        for part in p["part"]
        if "valueCoding" in part
    ]
    assert {"system": "http://snomed.info/sct", "code": "17901006"} in codings
