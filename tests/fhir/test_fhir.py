"""The FHIR terminology service: HL7's tx test suites, R4 validity of every answer, a real FHIR client."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from fhir.resources.R4B import get_fhir_model_class
from fhirpy import SyncFHIRClient

from calcinosis_kg.server.fhir.messages import MESSAGE_ID, MESSAGES
from tests.fhir.tx_runner import expected_failures, load, run, surprises

pytestmark = [pytest.mark.engine, pytest.mark.live]

CS = "https://w3id.org/calcinosis-kg/id"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
REQUIRED_SUITES = ("metadata", "simple-cases", "translate")
"""The suites the issue requires to pass whole (the others pass but for tx-expected-failures.yaml)."""
SUITES = [suite["name"] for suite in load("test-cases.json")["suites"] if suite.get("mode") in (None, "general")]


def fhir_get(base: str, path: str, **params: str) -> requests.Response:
    return requests.get(f"{base}/{path}", params=params, headers={"Accept": "application/fhir+json"}, timeout=30)


def valid_r4(resource: dict[str, Any]) -> None:
    """Validate ``resource`` with fhir.resources (R4B models: the R4 structures of these resources)."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


@pytest.mark.parametrize("suite", SUITES)
def test_tx_suite(fhir_base: str, suite: str) -> None:
    """Every HL7 tx test passes but those tx-expected-failures.yaml lists with a reason (and those do fail)."""
    expected = expected_failures()
    (result,) = run(fhir_base, suite)
    assert not surprises(result, expected)
    if suite in REQUIRED_SUITES:
        assert result.passed == len(result.outcomes)


@pytest.mark.parametrize(
    "path",
    [
        "metadata",
        "metadata?mode=terminology",
        "CodeSystem",
        "CodeSystem/calcinosis-kg",
        "ValueSet?name=CausesOf",
        "ConceptMap/calcinosis-kg-to-sctid",
        "ValueSet/all/$expand?filter=cancer&count=5",
        "ValueSet/$expand?url=https://w3id.org/calcinosis-kg/fhir/ValueSet/forms-of-calcinosis-cutis",
        f"CodeSystem/$lookup?system={CS}&code=calcinosis-cutis",
        f"CodeSystem/$validate-code?url={CS}&code=calcinosis-cutis&display=calcinosis+cutis",
        f"CodeSystem/$subsumes?system={CS}&codeA=calcinosis-cutis&codeB=dystrophic-calcinosis-cutis",
        f"ConceptMap/$translate?system={ICD10CM}&code=L94.2&reverse=true",
        f"CodeSystem/$lookup?system={CS}&code=no-such-code",
        "ValueSet/nope",
    ],
)
def test_every_answer_is_valid_r4(fhir_base: str, path: str) -> None:
    response = requests.get(f"{fhir_base}/{path}", timeout=30)
    assert response.headers["Content-Type"].startswith("application/fhir+json")
    valid_r4(response.json())


CONTAINS_PROPERTY = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ValueSet.expansion.contains.property"
FILTER_OP = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ValueSet.compose.include.filter.op"
FORMS = "https://w3id.org/calcinosis-kg/fhir/ValueSet/forms-of-calcinosis-cutis"


def test_expansion_properties_travel_as_r4_extensions(fhir_base: str) -> None:
    """R4 has no contains.property: the asked properties come as R4's cross-version extension (valid R4)."""
    answer = fhir_get(fhir_base, "ValueSet/$expand", url=FORMS, property="parent").json()
    valid_r4(answer)
    parents = [
        {sub["url"]: sub for sub in extension["extension"]}
        for item in answer["expansion"]["contains"]
        for extension in item.get("extension", [])
        if extension["url"] == CONTAINS_PROPERTY
    ]
    assert parents
    assert all(p["code"]["valueCode"] == "parent" and p["value"]["valueCode"] for p in parents)
    assert all("property" not in item for item in answer["expansion"]["contains"])


def test_an_r5_child_of_filter_sent_as_r4_extension_is_read(fhir_base: str) -> None:
    value_set = {
        "resourceType": "ValueSet",
        "url": "http://example.org/ValueSet/children",
        "status": "active",
        "compose": {
            "include": [
                {
                    "system": CS,
                    "filter": [
                        {
                            "property": "concept",
                            "_op": {"extension": [{"url": FILTER_OP, "valueCode": "child-of"}]},
                            "value": "calcinosis-cutis",
                        }
                    ],
                }
            ]
        },
    }
    body = {"resourceType": "Parameters", "parameter": [{"name": "valueSet", "resource": value_set}]}
    answer = requests.post(f"{fhir_base}/ValueSet/$expand", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    codes = {c["code"] for c in answer.json()["expansion"]["contains"]}
    assert "dystrophic-calcinosis-cutis" in codes
    assert "calcinosis-cutis" not in codes


def test_translate_answers_in_the_requests_vocabulary(fhir_base: str) -> None:
    """R4's names get R4's match.source (a uri); R5's names get R5's originMap (a canonical)."""
    r4 = {"system": CS, "code": "calcinosis-cutis"}
    r5 = {"sourceSystem": CS, "sourceCode": "calcinosis-cutis"}
    answers = [fhir_get(fhir_base, "ConceptMap/$translate", **asked).json() for asked in (r4, r5)]
    names = [{p["name"] for m in a["parameter"] if m["name"] == "match" for p in m["part"]} for a in answers]
    assert names[0] - {"comment"} == {"equivalence", "concept", "source"}
    assert "originMap" in names[1]
    assert "source" not in names[1]
    for answer in answers:
        valid_r4(answer)


def test_a_code_not_in_the_value_set_is_located_by_expression_only(fhir_base: str) -> None:
    """HL7's runner compares issues strictly: R4's deprecated ``location`` is not given beside ``expression``."""
    answer = fhir_get(
        fhir_base,
        "ValueSet/$validate-code",
        url="https://w3id.org/calcinosis-kg/fhir/ValueSet/class-Subtype",
        system=CS,
        code="no-such-code",
    ).json()
    valid_r4(answer)
    outcome = next(p["resource"] for p in answer["parameter"] if p["name"] == "issues")
    coded = [i for i in outcome["issue"] if i["details"]["coding"][0]["code"] in ("not-in-vs", "invalid-code")]
    assert coded
    assert all(i["expression"] and "location" not in i for i in coded)


def _message_ids(outcome: dict[str, Any]) -> list[str]:
    """The HL7 message id of each issue of ``outcome``, checking that its text is that message's template."""
    found = []
    for item in outcome["issue"]:
        ids = [e["valueString"] for e in item.get("extension", []) if e["url"] == MESSAGE_ID]
        assert len(ids) == 1, item
        pattern = re.escape(MESSAGES[ids[0]])
        pattern = re.sub(r"\\\{[0-9]\\\}", ".*", pattern)
        assert re.fullmatch(pattern, item["details"]["text"]), (ids[0], item["details"]["text"])
        found.append(ids[0])
    return found


def test_issues_name_hl7s_message_ids(fhir_base: str) -> None:
    """Each issue carries the id of HL7's message it is (``operationoutcome-message-id``, a valueString in R4), as
    tx.fhir.org's do and HL7's overload and validation cases require."""
    vs = "https://w3id.org/calcinosis-kg/fhir/ValueSet/class-Subtype"
    answer = fhir_get(fhir_base, "ValueSet/$validate-code", url=vs, system=CS, code="no-such-code").json()
    valid_r4(answer)
    outcome = next(p["resource"] for p in answer["parameter"] if p["name"] == "issues")
    ids = _message_ids(outcome)
    assert "None_of_the_provided_codes_are_in_the_value_set_one" in ids
    assert {"Unknown_Code_in_Version", "Unknown_Code_in"} & set(ids)
    answer = fhir_get(
        fhir_base, "CodeSystem/$validate-code", url=CS, code="dystrophic-calcinosis-cutis", display="Not its name"
    ).json()
    valid_r4(answer)
    outcome = next(p["resource"] for p in answer["parameter"] if p["name"] == "issues")
    assert _message_ids(outcome) == ["Display_Name_for__should_be_one_of__instead_of"]
    missing = fhir_get(fhir_base, "ValueSet/$expand", url=f"{vs}-no-such-value-set")
    assert missing.status_code == 404
    valid_r4(missing.json())
    assert _message_ids(missing.json()) == ["Unable_to_resolve_value_Set_"]


def test_an_expansion_gives_the_value_sets_description_only_with_include_definition(fhir_base: str) -> None:
    """As HL7's reference server (``ValueSetExpander``): publisher, description, purpose, contact and copyright
    are left out of an expansion unless ``includeDefinition`` is true (HL7's deprecated/vs-deprecation case)."""
    vs = {
        "resourceType": "ValueSet",
        "url": "https://example.org/fhir/ValueSet/described",
        "status": "active",
        "publisher": "Example",
        "description": "A value set with a description.",
        "purpose": "Testing.",
        "compose": {"include": [{"system": CS, "concept": [{"code": "calcinosis-cutis"}]}]},
    }
    body: dict[str, Any] = {"resourceType": "Parameters", "parameter": [{"name": "valueSet", "resource": vs}]}
    plain = requests.post(f"{fhir_base}/ValueSet/$expand", json=body, timeout=30).json()
    valid_r4(plain)
    assert not {"publisher", "description", "purpose"} & set(plain)
    body["parameter"].append({"name": "includeDefinition", "valueBoolean": True})
    defined = requests.post(f"{fhir_base}/ValueSet/$expand", json=body, timeout=30).json()
    assert (defined["description"], defined["purpose"], defined["publisher"]) == (
        vs["description"],
        vs["purpose"],
        vs["publisher"],
    )


def test_a_value_sets_status_mark_on_a_concept_is_echoed_as_its_extension(fhir_base: str) -> None:
    """A value set that marks a concept deprecated (``structuredefinition-standards-status`` on its compose
    concept) gives that extension on the expanded concept, not a ``status`` property (HL7's vs-deprecation case)."""
    mark = {
        "url": "http://hl7.org/fhir/StructureDefinition/structuredefinition-standards-status",
        "valueCode": "deprecated",
    }
    vs = {
        "resourceType": "ValueSet",
        "url": "https://example.org/fhir/ValueSet/deprecating",
        "status": "active",
        "compose": {"include": [{"system": CS, "concept": [{"code": "calcinosis-cutis", "extension": [mark]}]}]},
    }
    body = {"resourceType": "Parameters", "parameter": [{"name": "valueSet", "resource": vs}]}
    answer = requests.post(f"{fhir_base}/ValueSet/$expand", json=body, timeout=30).json()
    valid_r4(answer)
    (item,) = answer["expansion"]["contains"]
    assert mark in item.get("extension", [])
    # R5's contains.property travels in R4 as its cross-version extension: none is given.
    assert not [e for e in item.get("extension", []) if e["url"].endswith("contains.property")]


def test_a_concept_with_an_unknown_code_is_invalid_even_with_a_valid_one(fhir_base: str) -> None:
    concept = {
        "coding": [{"system": CS, "code": "no-such-code"}, {"system": CS, "code": "dystrophic-calcinosis-cutis"}]
    }
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "url", "valueUri": "https://w3id.org/calcinosis-kg/fhir/ValueSet/class-Subtype"},
            {"name": "codeableConcept", "valueCodeableConcept": concept},
        ],
    }
    answer = requests.post(f"{fhir_base}/ValueSet/$validate-code", json=body, timeout=30).json()
    valid_r4(answer)
    assert {"name": "result", "valueBoolean": False} in answer["parameter"]


def test_draft_and_deprecated_resources_are_warned_of(fhir_base: str) -> None:
    """A draft code system and a deprecated value set (tx-resources) give warning-* parameters and issues."""
    code_system = {
        "resourceType": "CodeSystem",
        "url": "http://example.org/CodeSystem/draft",
        "version": "1",
        "status": "draft",
        "content": "complete",
        "concept": [{"code": "a", "display": "A"}],
    }
    value_set = {
        "resourceType": "ValueSet",
        "url": "http://example.org/ValueSet/old",
        "version": "2",
        "status": "active",
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/structuredefinition-standards-status",
                "valueCode": "deprecated",
            }
        ],
        "compose": {"include": [{"system": code_system["url"]}]},
    }
    shared = [
        {"name": "url", "valueUri": value_set["url"]},
        {"name": "tx-resource", "resource": code_system},
        {"name": "tx-resource", "resource": value_set},
    ]
    expanded = requests.post(
        f"{fhir_base}/ValueSet/$expand", json={"resourceType": "Parameters", "parameter": shared}, timeout=30
    ).json()
    valid_r4(expanded)
    assert {"name": "warning-draft", "valueUri": "http://example.org/CodeSystem/draft|1"} in expanded["expansion"][
        "parameter"
    ]
    assert {"name": "warning-deprecated", "valueUri": "http://example.org/ValueSet/old|2"} in expanded["expansion"][
        "parameter"
    ]
    coding = {"name": "coding", "valueCoding": {"system": code_system["url"], "code": "a"}}
    validated = requests.post(
        f"{fhir_base}/ValueSet/$validate-code",
        json={"resourceType": "Parameters", "parameter": [*shared, coding]},
        timeout=30,
    ).json()
    valid_r4(validated)
    outcome = next(p["resource"] for p in validated["parameter"] if p["name"] == "issues")
    texts = {i["details"]["text"] for i in outcome["issue"] if i["details"]["coding"][0]["code"] == "status-check"}
    assert texts == {
        "Reference to draft CodeSystem http://example.org/CodeSystem/draft|1",
        "Reference to deprecated ValueSet http://example.org/ValueSet/old|2",
    }
    assert {"name": "result", "valueBoolean": True} in validated["parameter"]


@pytest.mark.parametrize(
    "marker",
    [
        {"url": "http://hl7.org/fhir/StructureDefinition/valueset-deprecated", "valueCode": "true"},
        {
            "url": "http://hl7.org/fhir/StructureDefinition/structuredefinition-standards-status",
            "valueCode": "deprecated",
        },
    ],
)
def test_a_concept_the_value_set_marks_deprecated_warns(fhir_base: str, marker: dict[str, str]) -> None:
    value_set = {
        "resourceType": "ValueSet",
        "url": "http://example.org/ValueSet/marked",
        "status": "active",
        "compose": {"include": [{"system": CS, "concept": [{"code": "calcinosis-cutis", "extension": [marker]}]}]},
    }
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "url", "valueUri": value_set["url"]},
            {"name": "tx-resource", "resource": value_set},
            {"name": "coding", "valueCoding": {"system": CS, "code": "calcinosis-cutis"}},
        ],
    }
    answer = requests.post(f"{fhir_base}/ValueSet/$validate-code", json=body, timeout=30).json()
    outcome = next(p["resource"] for p in answer["parameter"] if p["name"] == "issues")
    assert any("is marked with a status of deprecated" in i["details"]["text"] for i in outcome["issue"])


def test_batch_validate_code_answers_each_validation_in_order(fhir_base: str) -> None:
    def validation(*parameters: dict[str, Any]) -> dict[str, Any]:
        return {"name": "validation", "resource": {"resourceType": "Parameters", "parameter": list(parameters)}}

    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "url", "valueUri": "https://w3id.org/calcinosis-kg/fhir/ValueSet/class-Subtype"},
            validation({"name": "coding", "valueCoding": {"system": CS, "code": "dystrophic-calcinosis-cutis"}}),
            validation({"name": "coding", "valueCoding": {"system": CS, "code": "no-such-code"}}),
            validation({"name": "codingX", "valueCoding": {"system": CS, "code": "calcinosis-cutis"}}),
        ],
    }
    answer = requests.post(f"{fhir_base}/ValueSet/$batch-validate-code", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    valid_r4(answer.json())
    results = [p["resource"] for p in answer.json()["parameter"]]
    verdicts = [
        next((q["valueBoolean"] for q in r.get("parameter", []) if q["name"] == "result"), None) for r in results
    ]
    assert verdicts == [True, False, None]
    assert results[2]["resourceType"] == "OperationOutcome"
    assert "Unable to find code to validate" in results[2]["issue"][0]["details"]["text"]


def test_errors_are_operation_outcomes_with_statuses(fhir_base: str) -> None:
    missing = fhir_get(fhir_base, "CodeSystem/$lookup", system=CS, code="no-such-code")
    assert missing.status_code == 404
    assert missing.json()["issue"][0]["code"] == "not-found"
    assert fhir_get(fhir_base, "ValueSet/nope").status_code == 404
    assert fhir_get(fhir_base, "metadata", _format="xml").status_code == 406
    assert fhir_get(fhir_base, "CodeSystem/$lookup").status_code == 400


def test_subsumes_reads_the_hierarchy(fhir_base: str) -> None:
    answer = fhir_get(
        fhir_base, "CodeSystem/$subsumes", system=CS, codeA="calcinosis-cutis", codeB="dystrophic-calcinosis-cutis"
    ).json()
    assert answer["parameter"] == [{"name": "outcome", "valueCode": "subsumes"}]


def test_expand_filters_and_pages(fhir_base: str) -> None:
    whole = fhir_get(fhir_base, "ValueSet/all/$expand", filter="cancer").json()["expansion"]
    assert whole["total"] >= 1
    codes = [c["code"] for c in whole["contains"]]
    assert all(
        "cancer" in (c["display"] + c["code"]).lower() or c.get("designation") is None for c in whole["contains"]
    )
    pages = [
        fhir_get(fhir_base, "ValueSet/all/$expand", filter="cancer", count="1", offset=str(i)).json()["expansion"]
        for i in range(len(codes))
    ]
    assert [c["code"] for page in pages for c in page["contains"]] == codes


def test_fhirpy_maps_icd10cm_back_to_the_graph_and_looks_it_up(fhir_base: str) -> None:
    client = SyncFHIRClient(fhir_base, extra_headers={"Accept": "application/fhir+json"})
    back = client.execute(
        "ConceptMap/$translate", method="get", params={"system": ICD10CM, "code": "L94.2", "reverse": "true"}
    )
    valid_r4(back)
    matches = [p for p in back["parameter"] if p["name"] == "match"]
    found = {part["valueCoding"]["code"]: m for m in matches for part in m["part"] if part["name"] == "concept"}
    assert "calcinosis-cutis" in found
    equivalence = next(p["valueCode"] for p in found["calcinosis-cutis"]["part"] if p["name"] == "equivalence")
    assert equivalence == "equivalent"
    forward = client.execute(
        "ConceptMap/$translate",
        method="post",
        data={
            "resourceType": "Parameters",
            "parameter": [
                {"name": "system", "valueUri": CS},
                {"name": "code", "valueCode": "calcinosis-cutis"},
            ],
        },
    )
    snomed = [{p["name"]: p for p in m["part"]} for m in forward["parameter"] if m["name"] == "match"]
    # Its broader concepts, SNOMED CT's 6595006 Calcinosis among them (attested by Mondo and HPO: in the graph
    # without a verified term since issue 23, docs/mappings.md), are wider.
    wider = {m["concept"]["valueCoding"]["system"] for m in snomed if m["equivalence"]["valueCode"] == "wider"}
    assert {"http://human-phenotype-ontology.org", "http://purl.obolibrary.org/obo/mondo.owl", SNOMED} <= wider
    assert all(m["concept"]["valueCoding"]["system"] != SNOMED or m["concept"]["valueCoding"]["code"] for m in snomed)
    looked_up = client.execute("CodeSystem/$lookup", method="get", params={"system": CS, "code": "calcinosis-cutis"})
    valid_r4(looked_up)
    values = {p["name"]: p for p in looked_up["parameter"]}
    assert values["display"]["valueString"] == "calcinosis cutis"
    children = [p for p in looked_up["parameter"] if p["name"] == "property" and p["part"][0]["valueCode"] == "child"]
    assert children


def test_a_supplement_gives_the_graphs_concepts_displays_in_another_language(fhir_base: str) -> None:
    """A client's supplement (a tx-resource) adds a German designation; displayLanguage=de then shows it."""
    supplement = {
        "resourceType": "CodeSystem",
        "url": "http://example.org/CodeSystem/calcinosis-de",
        "version": "1",
        "status": "active",
        "content": "supplement",
        "supplements": CS,
        "concept": [{"code": "calcinosis-cutis", "designation": [{"language": "de", "value": "Kalzinose der Haut"}]}],
    }
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "url", "valueUri": "https://w3id.org/calcinosis-kg/fhir/ValueSet/forms-of-calcinosis-cutis"},
            {"name": "displayLanguage", "valueCode": "de"},
            {"name": "useSupplement", "valueCanonical": supplement["url"]},
            {"name": "tx-resource", "resource": supplement},
        ],
    }
    answer = requests.post(f"{fhir_base}/ValueSet/$expand", json=body, timeout=30).json()
    valid_r4(answer)
    shown = {c["code"]: c.get("display") for c in answer["expansion"]["contains"]}
    assert shown["calcinosis-cutis"] == "Kalzinose der Haut"
    assert {"name": "used-supplement", "valueUri": "http://example.org/CodeSystem/calcinosis-de|1"} in answer[
        "expansion"
    ]["parameter"]
    missing = {**body, "parameter": [*body["parameter"][:2], {"name": "useSupplement", "valueCanonical": "urn:x"}]}
    refused = requests.post(f"{fhir_base}/ValueSet/$expand", json=missing, timeout=30)
    assert refused.status_code == 404
    assert refused.json()["issue"][0]["details"]["text"] == "Required supplement not found: urn:x"


def _matches(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The matches of a $translate answer, by code: {part name: part}."""
    matches = [{p["name"]: p for p in m["part"]} for m in answer["parameter"] if m["name"] == "match"]
    return {m["concept"]["valueCoding"]["code"]: m for m in matches}


def test_translate_maps_icd10cm_l94_2_to_snomed_ct_through_the_graph(fhir_base: str) -> None:
    """Issue 23: ICD-10-CM L94.2 to SNOMED CT gives the codes Mondo and HPO attest for calcinosis cutis, read through
    the graph concept equivalent to L94.2, each with its equivalence and no invented display."""
    answer = fhir_get(fhir_base, "ConceptMap/$translate", system=ICD10CM, code="L94.2", targetsystem=SNOMED).json()
    valid_r4(answer)
    assert answer["parameter"][0] == {"name": "result", "valueBoolean": True}
    found = _matches(answer)
    assert found["6595006"]["equivalence"]["valueCode"] == "wider"
    assert found["17141001"]["equivalence"]["valueCode"] == "narrower"
    for code in ("6595006", "17141001"):
        assert found[code]["concept"]["valueCoding"]["system"] == SNOMED
        assert "display" not in found[code]["concept"]["valueCoding"]
        assert found[code]["source"]["valueUri"].split("|")[0].endswith("/ConceptMap/calcinosis-kg-to-sctid")
        assert f"{CS}#calcinosis-cutis" in found[code]["comment"]["valueString"]
    # The subtypes, which L94.2 is only wider than, are not chained through.
    assert set(found) == {"6595006", "17141001"}
    no_code = fhir_get(fhir_base, "ConceptMap/$translate", system=ICD10CM, code="Z00.00", targetsystem=SNOMED).json()
    assert no_code["parameter"][0] == {"name": "result", "valueBoolean": False}


def test_translate_gives_the_attested_snomed_codes_of_the_graphs_concepts(fhir_base: str) -> None:
    """Codes paired with our concept only by a public mapping set are translated, without a display."""
    for concept, code in [("calciphylaxis", "237900002"), ("juvenile-dermatomyositis", "1212005")]:
        answer = fhir_get(fhir_base, "ConceptMap/$translate", system=CS, code=concept, targetsystem=SNOMED).json()
        found = _matches(answer)
        assert found[code]["equivalence"]["valueCode"] == "equivalent", concept
        assert "display" not in found[code]["concept"]["valueCoding"]


def test_lookup_of_calcinosis_cutis_lists_its_snomed_codes(fhir_base: str) -> None:
    """$lookup gives a concept's mappings as Coding properties (SKOS predicate as the property code)."""
    answer = fhir_get(fhir_base, "CodeSystem/$lookup", system=CS, code="calcinosis-cutis", property="*").json()
    valid_r4(answer)
    codings = {
        (p["part"][0]["valueCode"], p["part"][1]["valueCoding"]["system"], p["part"][1]["valueCoding"]["code"]): p
        for p in answer["parameter"]
        if p["name"] == "property" and "valueCoding" in p["part"][1]
    }
    assert ("broadMatch", SNOMED, "6595006") in codings
    assert ("narrowMatch", SNOMED, "17141001") in codings
    assert ("exactMatch", ICD10CM, "L94.2") in codings
    icd = codings[("exactMatch", ICD10CM, "L94.2")]["part"][1]["valueCoding"]
    assert icd["display"] == "Calcinosis cutis"
    assert "display" not in codings[("broadMatch", SNOMED, "6595006")]["part"][1]["valueCoding"]


def test_lookup_route_finds_concepts_by_their_attested_snomed_codes(fhir_base: str) -> None:
    """/lookup finds calcinosis cutis by SNOMED CT 6595006 and calciphylaxis by 237900002 (before issue 23 neither
    code was in the graph, and both lookups answered with nothing)."""
    base = fhir_base.removesuffix("/fhir")
    for code, entity in [("6595006", "calcinosis-cutis"), ("SCTID:237900002", "calciphylaxis")]:
        hits = requests.get(f"{base}/lookup", params={"q": code}, timeout=30).json()
        assert [h["iri"].rsplit("/", 1)[1] for h in hits] == [entity], code


# --- start-up: the operations are imported by the first request that needs them --------------------------

_START_THEN_LOOK_UP = """
import json, sys
from calcinosis_kg.server.app import create_app, query_pool
HEAVY = ("pydantic", "calcinosis_kg.server.fhir.operations", "calcinosis_kg.server.fhir.expand",
         "calcinosis_kg.server.fhir.validate", "calcinosis_kg.server.fhir.shapes")
app = create_app({"KG_DATA": [sys.argv[1]], "KG_QUERY_WORKERS": 1})
with app.test_client() as client:
    health = client.get("/health").status_code
    at_start = sorted(m for m in HEAVY if m in sys.modules)
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "system", "valueUri": sys.argv[2]}, {"name": "code", "valueCode": "calcinosis-cutis"}]}
    looked_up = client.post("/fhir/CodeSystem/$lookup", json=body, headers={"Accept": "application/fhir+json"})
    after = sorted(m for m in HEAVY if m in sys.modules)
query_pool(app).close()
names = [p.get("valueString") for p in looked_up.get_json()["parameter"] if p["name"] == "display"]
print(json.dumps({"health": health, "at_start": at_start, "status": looked_up.status_code, "display": names,
                  "after": after}))
"""


def test_operations_and_body_checks_are_imported_by_their_first_request(built_nt: Path) -> None:
    """The FHIR operations and the body's pydantic models are not imported before ``/health`` answers (they
    were a fifth of the start's import time) and work once a POSTed operation imports them."""
    done = subprocess.run(
        [sys.executable, "-c", _START_THEN_LOOK_UP, str(built_nt), CS],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["health"] == 200
    assert seen["at_start"] == []
    assert (seen["status"], seen["display"]) == (200, ["calcinosis cutis"])
    assert {"pydantic", "calcinosis_kg.server.fhir.shapes"} <= set(seen["after"])
