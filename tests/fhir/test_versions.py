"""Code system versions in the FHIR API (issue 25 item 2): the request's version parameters, wildcards, HL7's
unknown-version errors and value sets holding two versions of one code system, against a real server."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from calcinosis_kg.server.fhir.model import version_matches

pytestmark = [pytest.mark.engine, pytest.mark.live]

CS = "https://w3id.org/calcinosis-kg/id"
SYSTEM = "http://example.org/CodeSystem/versioned"
VERSIONS = {
    "1.0.0": [("a", "A (1.0)"), ("b", "B (1.0)")],
    "1.2.0": [("a", "A (1.2)"), ("b", "B (1.2)"), ("c", "C (1.2)")],
}


def _code_system(version: str) -> dict[str, Any]:
    return {
        "resourceType": "CodeSystem",
        "url": SYSTEM,
        "version": version,
        "status": "active",
        "content": "complete",
        "concept": [{"code": code, "display": display} for code, display in VERSIONS[version]],
    }


def _value_set(*includes: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "ValueSet",
        "url": "http://example.org/ValueSet/versioned",
        "status": "active",
        "compose": {"include": list(includes)},
    }


def _post(base: str, operation: str, value_set: dict[str, Any], *extra: dict[str, Any]) -> requests.Response:
    parameters = [
        {"name": "valueSet", "resource": value_set},
        *({"name": "tx-resource", "resource": _code_system(version)} for version in VERSIONS),
        *extra,
    ]
    body = {"resourceType": "Parameters", "parameter": parameters}
    return requests.post(f"{base}/{operation}", json=body, timeout=30)


def _codes(expansion: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    return [(c["code"], c.get("version"), c["display"]) for c in expansion["expansion"].get("contains", [])]


def _named(answer: dict[str, Any], name: str) -> list[Any]:
    return [next(v for k, v in p.items() if k.startswith("value")) for p in answer["parameter"] if p["name"] == name]


@pytest.mark.parametrize(
    ("pattern", "version", "matches"),
    [
        ("1.0.0", "1.0.0", True),
        ("1.x", "1.2.0", True),
        ("1.0.x", "1.0.3", True),
        ("1.x.x", "1.2.0", True),
        ("1.0.x", "1.2.0", False),
        ("1", "1.0.0", False),  # a prefix is not a version: HL7's cases expect "1" to be unknown
        ("2.x", "1.2.0", False),
    ],
)
def test_version_patterns_match_as_hl7s_cases_expect(pattern: str, version: str, matches: bool) -> None:
    assert version_matches(pattern, version) is matches


def test_an_expansion_uses_the_version_the_request_chooses(fhir_base: str) -> None:
    """The latest version by default; system-version for an include that names none (and reported);
    force-system-version over the include's own version; a wildcard include takes the latest that matches."""
    versionless = _value_set({"system": SYSTEM})
    latest = _post(fhir_base, "ValueSet/$expand", versionless).json()
    assert [code for code, _, _ in _codes(latest)] == ["a", "b", "c"]
    default = {"name": "system-version", "valueUri": f"{SYSTEM}|1.0.0"}
    chosen = _post(fhir_base, "ValueSet/$expand", versionless, default).json()
    assert _codes(chosen) == [("a", None, "A (1.0)"), ("b", None, "B (1.0)")]
    assert default in chosen["expansion"]["parameter"]
    assert {"name": "used-codesystem", "valueUri": f"{SYSTEM}|1.0.0"} in chosen["expansion"]["parameter"]
    pinned = _value_set({"system": SYSTEM, "version": "1.2.0"})
    forced = _post(
        fhir_base, "ValueSet/$expand", pinned, {"name": "force-system-version", "valueUri": f"{SYSTEM}|1.0.x"}
    )
    assert [code for code, _, _ in _codes(forced.json())] == ["a", "b"]
    wildcard = _post(fhir_base, "ValueSet/$expand", _value_set({"system": SYSTEM, "version": "1.x"})).json()
    assert {"name": "used-codesystem", "valueUri": f"{SYSTEM}|1.2.0"} in wildcard["expansion"]["parameter"]


def test_unknown_and_disallowed_versions_are_hl7s_errors(fhir_base: str) -> None:
    """An include of an unknown version is a 404 listing the known ones; a version a check-system-version
    parameter does not allow is a 400 version-error."""
    unknown = _post(fhir_base, "ValueSet/$expand", _value_set({"system": SYSTEM, "version": "1"}))
    assert unknown.status_code == 404
    assert unknown.json()["issue"][0]["details"]["text"] == (
        f"A definition for CodeSystem '{SYSTEM}' version '1' could not be found, so the value set cannot be "
        "expanded. Valid versions: 1.0.0 or 1.2.0"
    )
    check = {"name": "check-system-version", "valueUri": f"{SYSTEM}|1.0.x"}
    refused = _post(fhir_base, "ValueSet/$expand", _value_set({"system": SYSTEM, "version": "1.2.0"}), check)
    assert refused.status_code == 400
    issue = refused.json()["issue"][0]
    assert issue["details"]["coding"][0]["code"] == "version-error"
    assert "required to be '1.0.x' by a version-check parameter" in issue["details"]["text"]


def test_a_value_set_of_two_versions_of_one_system_keeps_both(fhir_base: str) -> None:
    """Two includes of two versions give the codes of each (with their versions), not one merged set; a coding
    is validated in the version it names."""
    both = _value_set({"system": SYSTEM, "version": "1.0.0"}, {"system": SYSTEM, "version": "1.2.0"})
    expanded = _post(fhir_base, "ValueSet/$expand", both).json()
    assert sorted(_codes(expanded)) == [
        ("a", "1.0.0", "A (1.0)"),
        ("a", "1.2.0", "A (1.2)"),
        ("b", "1.0.0", "B (1.0)"),
        ("b", "1.2.0", "B (1.2)"),
        ("c", "1.2.0", "C (1.2)"),
    ]
    coding = {"name": "coding", "valueCoding": {"system": SYSTEM, "version": "1.0.0", "code": "a"}}
    validated = _post(fhir_base, "ValueSet/$validate-code", both, coding).json()
    assert _named(validated, "result") == [True]
    assert _named(validated, "display") == ["A (1.0)"]


def test_an_unknown_version_of_the_graphs_code_system_is_not_taken_for_the_latest(fhir_base: str) -> None:
    """A coding of a version of the graph's code system that does not exist is invalid, with HL7's
    UNKNOWN_CODESYSTEM_VERSION wording and x-caused-by-unknown-system (it was validated as the latest one)."""
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "url", "valueUri": "https://w3id.org/calcinosis-kg/fhir/ValueSet/all"},
            {"name": "coding", "valueCoding": {"system": CS, "version": "9.9.9", "code": "calcinosis-cutis"}},
        ],
    }
    answer = requests.post(f"{fhir_base}/ValueSet/$validate-code", json=body, timeout=30).json()
    assert _named(answer, "result") == [False]
    assert _named(answer, "x-caused-by-unknown-system") == [f"{CS}|9.9.9"]
    message = _named(answer, "message")[0]
    assert f"A definition for CodeSystem '{CS}' version '9.9.9' could not be found" in message
    assert "Valid versions: " in message


def test_the_graphs_code_system_is_served_in_each_release(fhir_base: str) -> None:
    """The CodeSystem of the release snapshot releases/0.1.0 is served beside the current one: searchable by version,
    and a code is looked up in the release asked for (one the graph gained since 0.1.0 is unknown there)."""
    found = requests.get(f"{fhir_base}/CodeSystem", params={"url": CS}, timeout=30).json()
    systems = {entry["resource"]["version"]: entry["resource"] for entry in found.get("entry", [])}
    assert "0.1.0" in systems
    assert len(systems) >= 2
    current = max((v for v in systems if v != "0.1.0"), key=lambda v: [int(p) for p in v.split(".")])
    old_codes = {c["code"] for c in systems["0.1.0"]["concept"]}
    new_codes = {c["code"] for c in systems[current]["concept"]}
    assert "calcinosis-cutis" in old_codes & new_codes
    looked_up = requests.get(
        f"{fhir_base}/CodeSystem/$lookup",
        params={"system": CS, "code": "calcinosis-cutis", "version": "0.1.0"},
        timeout=30,
    ).json()
    assert _named(looked_up, "version") == ["0.1.0"]
    latest = requests.get(
        f"{fhir_base}/CodeSystem/$lookup", params={"system": CS, "code": "calcinosis-cutis"}, timeout=30
    ).json()
    assert _named(latest, "version") == [current]
    gained = sorted(new_codes - old_codes)
    assert gained, "the graph has gained entities since release 0.1.0"
    missing = requests.get(
        f"{fhir_base}/CodeSystem/$lookup", params={"system": CS, "code": gained[0], "version": "0.1.0"}, timeout=30
    )
    assert missing.status_code == 404
    unknown = requests.get(
        f"{fhir_base}/CodeSystem/$lookup",
        params={"system": CS, "code": "calcinosis-cutis", "version": "9.9"},
        timeout=30,
    )
    assert unknown.status_code == 404
    assert unknown.json()["issue"][0]["details"]["text"] == (
        f"A definition for CodeSystem '{CS}' version '9.9' could not be found, so the code cannot be looked up. "
        f"Valid versions: 0.1.0, 0.2.0 or {current}"
    )


def test_codesystem_validate_code_of_an_unknown_version_is_invalid_not_a_404(fhir_base: str) -> None:
    """``CodeSystem/$validate-code`` with a ``version`` of the graph's code system that does not exist answers as the
    reference server does: 200, result false, an UNKNOWN_CODESYSTEM_VERSION issue naming the known versions and
    ``x-caused-by-unknown-system`` (it was a 404, as if the code system were unknown)."""
    answer = requests.get(
        f"{fhir_base}/CodeSystem/$validate-code",
        params={"url": CS, "code": "calcinosis-cutis", "version": "9.9.9"},
        timeout=30,
    )
    assert answer.status_code == 200
    assert _named(answer.json(), "result") == [False]
    assert _named(answer.json(), "x-caused-by-unknown-system") == [f"{CS}|9.9.9"]
    outcome = next(p["resource"] for p in answer.json()["parameter"] if p["name"] == "issues")
    ids = [e["valueString"] for i in outcome["issue"] for e in i.get("extension", [])]
    assert "UNKNOWN_CODESYSTEM_VERSION" in ids
    assert "Valid versions: " in _named(answer.json(), "message")[0]
    known = requests.get(
        f"{fhir_base}/CodeSystem/$validate-code",
        params={"url": CS, "code": "calcinosis-cutis", "version": "0.1.0"},
        timeout=30,
    )
    assert _named(known.json(), "result") == [True]
