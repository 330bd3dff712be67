"""Bad input gets a 4xx whose message says what is wrong (never a 500): cases schemathesis found."""

from __future__ import annotations

import pytest

from tests.support.api import Api

pytestmark = [pytest.mark.engine, pytest.mark.live]


@pytest.mark.parametrize(
    "path",
    ["/id/a%0Ab", "/id/a%01b", "/ontology/x%7F", "/releases/%C2%85/ontology", "/fhir/CodeSystem/a%00b", "/dumps/%09"],
)
def test_a_path_with_a_control_character_is_a_400_saying_so(api: Api, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert "The path has a control character (U+" in response.text


@pytest.mark.parametrize("name", ["default-graph-uri", "named-graph-uri"])
@pytest.mark.parametrize("value", ["", " ", "https://x.org/a\x01b", "https://x.org/a\nb", "not an iri"])
def test_graph_uris_must_be_absolute_iris(api: Api, name: str, value: str) -> None:
    response = api.get("/sparql", params={"query": "ASK {}", name: value})
    assert response.status_code == 400
    assert f"{name} must be an absolute IRI" in response.text
    assert repr(value) in response.text


@pytest.mark.parametrize("parameter", ["null", "{}", '"code"', '[{"valueString": "x"}]', "[1]"])
def test_a_fhir_parameters_body_of_the_wrong_shape_is_a_400(api: Api, parameter: str) -> None:
    response = api.session.post(
        f"{api.url}/fhir/CodeSystem/$lookup",
        data=f'{{"resourceType": "Parameters", "parameter": {parameter}}}',
        headers={"Content-Type": "application/fhir+json"},
        timeout=60,
    )
    assert response.status_code == 400
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "structure"
    assert outcome["issue"][0]["expression"][0].startswith("Parameters.parameter")
    assert "Parameters.parameter" in outcome["issue"][0]["details"]["text"]
