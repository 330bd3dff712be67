"""The canned-query API over HTTP: /queries lists every .rq, /queries/{name} runs it with bound parameters.

Every answer is compared with an in-process rdflib run of the same CannedQuery on the same built graph.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from flask.testing import FlaskClient
from rdflib import Graph

from calcinosis_kg.graph.lookup import parse_code
from calcinosis_kg.ontology import CC, SSSOM
from calcinosis_kg.queries.catalog import QUERIES_DIR, CannedQuery
from tests.support.api import JSON_RESULTS, comparable, reference, results
from tests.support.store_server import on_virtuoso

pytestmark = pytest.mark.engine

NAMES = sorted(path.stem for path in QUERIES_DIR.glob("*.rq"))

BOOLEANS_AS_INTEGERS = 'Virtuoso answers the data\'s xsd:boolean true/false as "1"/"0"^^xsd:boolean (other terms)'
VIRTUOSO_DIFFERENCES = {
    "bibliography": "Virtuoso answers no row of 7: rdfs:subClassOf* from a variable, with ORDER BY",
    "causes-by-subtype": "Virtuoso answers 1 row of 22: rdfs:subClassOf+ between variables in FILTER NOT EXISTS",
    "clinical-course": BOOLEANS_AS_INTEGERS,
    "drugs-by-class": BOOLEANS_AS_INTEGERS,
    "sources-of-assertion": "Virtuoso's SPARQL compiler fails (SP031) on VALUES with OPTIONAL: a 400, not 200",
    "subtype-mechanisms": BOOLEANS_AS_INTEGERS,
}
"""Canned queries whose answers on Virtuoso differ from the standard's (docs/scaling.md, "Virtuoso")."""


def on_this_store(name: str) -> pytest.MarkDecorator:
    """A strict expected failure where the ``sparql`` engine runs on Virtuoso and ``name`` is one of its differences."""
    return pytest.mark.xfail(
        on_virtuoso() and name in VIRTUOSO_DIFFERENCES, reason=VIRTUOSO_DIFFERENCES.get(name, ""), strict=True
    )


# --- the list ---------------------------------------------------------------------------------------------


def test_queries_lists_every_rq_file_with_its_metadata(client: FlaskClient, catalog: dict[str, CannedQuery]) -> None:
    response = client.get("/queries")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    listed = {entry["name"]: entry for entry in response.get_json()["queries"]}
    assert sorted(listed) == NAMES == sorted(catalog)
    for name, query in catalog.items():
        entry = listed[name]
        assert entry["summary"] == query.summary
        assert entry["description"] == query.description
        assert entry["form"] == query.query_type
        assert entry["sparql"] == query.sparql
        assert entry["parameters"] == [
            {"name": p.name, "type": p.type, "description": p.description, "default": p.default, "required": p.required}
            for p in query.params
        ]
        assert entry["links"] == {"run": f"/queries/{name}", "openapi": "/openapi.json"}
        assert [f["format"] for f in entry["formats"]] == ["json", "xml", "csv", "tsv"]


# --- results equal rdflib's -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [pytest.param(name, marks=on_this_store(name)) for name in NAMES])
def test_every_canned_query_with_its_defaults_answers_as_rdflib(
    client: FlaskClient, built_graph: Graph, catalog: dict[str, CannedQuery], name: str
) -> None:
    served = results(client, name)
    expected = reference(catalog[name], built_graph)
    assert comparable(served) == comparable(expected)
    if "ORDER BY" in catalog[name].sparql:  # then the rows come in the same order too
        assert served["results"]["bindings"] == expected["results"]["bindings"]


@pytest.mark.xfail(on_virtuoso(), reason="Virtuoso: bibliography has no row, sources-of-assertion fails", strict=True)
def test_most_canned_queries_have_answers(client: FlaskClient, catalog: dict[str, CannedQuery]) -> None:
    """Guards the comparison above against two empty answers passing for equal ones."""
    empty = [name for name in NAMES if not results(client, name)["results"]["bindings"]]
    assert len(empty) <= 2, empty


def test_a_non_default_parameter_is_bound(
    client: FlaskClient, built_graph: Graph, catalog: dict[str, CannedQuery]
) -> None:
    subtype = str(CC["iatrogenic-calcinosis-cutis"])
    served = results(client, "causes-of-subtype", subtype=subtype)
    expected = reference(catalog["causes-of-subtype"], built_graph, {"subtype": subtype})
    assert comparable(served) == comparable(expected)
    assert served["results"]["bindings"]
    assert comparable(served) != comparable(results(client, "causes-of-subtype"))


def test_a_curie_parameter_is_expanded(
    client: FlaskClient, built_graph: Graph, catalog: dict[str, CannedQuery]
) -> None:
    served = results(client, "causes-of-kind", kind="cco:Neoplasm")
    assert served["results"]["bindings"]
    assert comparable(served) == comparable(reference(catalog["causes-of-kind"], built_graph, {"kind": "cco:Neoplasm"}))


def test_a_code_parameter_is_bound_as_the_codes_iri_in_any_spelling(client: FlaskClient, built_graph: Graph) -> None:
    curie = "SCTID:46742003"
    mapped = {str(s) for s, _, o in built_graph.triples((None, None, parse_code(curie)[1])) if str(s).startswith(CC)}
    assert mapped
    answers = [
        comparable(results(client, "entity-for-code", code=form))
        for form in (curie, "46742003", "snomed:46742003", "http://snomed.info/id/46742003", " SCTID:46742003 ")
    ]
    assert all(answer == answers[0] for answer in answers)
    rows = results(client, "entity-for-code", code=curie)["results"]["bindings"]
    assert {row["entity"]["value"] for row in rows} == mapped
    assert {row["objectId"]["value"] for row in rows} == {curie}


def test_every_mapped_code_of_the_graph_finds_its_entities(client: FlaskClient, built_graph: Graph) -> None:
    curies = sorted({str(o) for o in built_graph.objects(None, SSSOM.object_id)})
    assert len(curies) > 50
    for curie in curies[::10]:
        rows = results(client, "entity-for-code", code=curie)["results"]["bindings"]
        assert rows, curie
        assert {row["objectId"]["value"] for row in rows} == {curie}


# --- validation -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("causes-of-subtype", {"subtype": "not an iri"}, "parameter 'subtype' must be an absolute IRI"),
        ("causes-of-subtype", {"subtype": "calcinosis-cutis"}, "parameter 'subtype' must be an absolute IRI"),
        ("causes-of-kind", {"kind": "xyz:Neoplasm"}, "parameter 'kind' must be a CURIE with a known prefix"),
        ("causes-of-kind", {"kind": "Neoplasm"}, "parameter 'kind' must be a CURIE with a known prefix"),
        ("entity-for-code", {"code": "XYZ:123"}, "parameter 'code' must be a code .*unknown code-system prefix"),
        ("entity-for-code", {"code": "SCTID:6595007"}, "parameter 'code' must be a code .*Verhoeff check digit"),
        ("entity-for-code", {"code": "lupus"}, "parameter 'code' must be a code"),
        ("entity-for-code", {"code": ""}, "Parameter 'code' is empty: give a value of type code .* leave the"),
        ("causes-of-subtype", {"subtype": ""}, "Parameter 'subtype' is empty: give a value of type iri"),
        ("causes-of-subtype", {"subtype": "https://x.org/a\x01b"}, "must be an absolute IRI .*control characters"),
        ("causes-of-kind", {"kind": " "}, "Parameter 'kind' is empty"),
        ("find-entity", {"text": "x" * 501}, "parameter 'text' is longer than 500 characters"),
        ("subtypes", {"subtype": "x"}, "Unknown parameter\\(s\\) subtype .* it takes no parameters"),
        ("causes-of-kind", {"kinds": "cco:Neoplasm"}, "Unknown parameter\\(s\\) kinds .* it takes kind \\(curie\\)"),
    ],
)
def test_invalid_parameters_are_refused_naming_the_parameter(
    client: FlaskClient, name: str, params: dict[str, str], message: str
) -> None:
    response = client.get(f"/queries/{name}", query_string=params)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert re.search(message, response.text), response.text
    assert "Traceback" not in response.text


def test_a_repeated_parameter_is_refused(client: FlaskClient) -> None:
    response = client.get("/queries/causes-of-kind?kind=cco:Neoplasm&kind=cco:Injury")
    assert response.status_code == 400
    assert "Parameter 'kind' is given 2 times" in response.text


def test_an_unknown_query_is_404(client: FlaskClient) -> None:
    response = client.get("/queries/no-such-query")
    assert response.status_code == 404
    assert "No canned query is named 'no-such-query'" in response.text


def test_only_get_is_allowed(client: FlaskClient) -> None:
    response = client.post("/queries/subtypes")
    assert response.status_code == 405


# --- injection ------------------------------------------------------------------------------------------

INJECTIONS = [
    '"> } ; DROP ALL ; SELECT * WHERE { ?s ?p ?o',
    "<http://x> } UNION { ?s ?p ?o",
    "http://x> } UNION { ?s ?p ?o } #",
    "cco:Neoplasm } UNION { ?s ?p ?o",
    "1 } UNION { ?s ?p ?o }",
    "SCTID:6595006> } UNION { ?entity ?predicate ?code",
]


@pytest.mark.parametrize(
    ("name", "param"), [("causes-of-subtype", "subtype"), ("causes-of-kind", "kind"), ("entity-for-code", "code")]
)
@pytest.mark.parametrize("payload", INJECTIONS)
def test_sparql_in_a_typed_parameter_is_refused(client: FlaskClient, name: str, param: str, payload: str) -> None:
    response = client.get(f"/queries/{name}", query_string={param: payload})
    assert response.status_code == 400
    assert f"parameter '{param}'" in response.text


@pytest.mark.parametrize(
    "payload",
    [
        'lupus")) || true || (("',
        'lupus" } UNION { ?entity ?p ?label } #',
        "x')) } ; DROP ALL ; #",
        "<http://x> } UNION { ?s ?p ?o",
    ],
)
def test_sparql_in_a_string_parameter_is_a_plain_literal(
    client: FlaskClient, built_graph: Graph, catalog: dict[str, CannedQuery], payload: str
) -> None:
    """Pasted into the query, each payload would match every label; bound as a literal it matches none."""
    served = results(client, "find-entity", text=payload)
    assert served["results"]["bindings"] == []
    assert comparable(served) == comparable(reference(catalog["find-entity"], built_graph, {"text": payload}))
    assert results(client, "find-entity", text="lupus")["results"]["bindings"]


# --- formats --------------------------------------------------------------------------------------------


def test_results_in_every_format(client: FlaskClient) -> None:
    rows = results(client, "subtypes")["results"]["bindings"]
    variables = results(client, "subtypes")["head"]["vars"]
    xml = client.get("/queries/subtypes", query_string={"format": "xml"})
    assert xml.headers["Content-Type"] == "application/sparql-results+xml; charset=utf-8"
    assert xml.text.count("<result>") == len(rows)
    table = client.get("/queries/subtypes", query_string={"format": "csv"})
    assert table.headers["Content-Type"] == "text/csv; charset=utf-8"
    parsed = list(csv.reader(io.StringIO(table.text)))
    assert parsed[0] == variables
    assert len(parsed) == len(rows) + 1
    tsv = client.get("/queries/subtypes", query_string={"format": "tsv"})
    assert tsv.headers["Content-Type"] == "text/tab-separated-values; charset=utf-8"
    assert tsv.text.splitlines()[0] == "\t".join(f"?{v}" for v in variables)
    assert len(tsv.text.splitlines()) == len(rows) + 1


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        ("text/csv", "text/csv; charset=utf-8"),
        ("text/csv;q=0.5, text/tab-separated-values", "text/tab-separated-values; charset=utf-8"),
        ("application/sparql-results+xml;q=0.9, text/*;q=0.1", "application/sparql-results+xml; charset=utf-8"),
        ("application/json", JSON_RESULTS),
        ("*/*", JSON_RESULTS),
        ("text/turtle;q=1, text/csv;q=0.2", "text/csv; charset=utf-8"),
    ],
)
def test_accept_is_negotiated_with_q_values(client: FlaskClient, accept: str, content_type: str) -> None:
    response = client.get("/queries/body-sites", headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.headers["Vary"] == "Accept"


def test_the_format_parameter_overrides_accept(client: FlaskClient) -> None:
    response = client.get("/queries/body-sites", query_string={"format": "tsv"}, headers={"Accept": "text/csv"})
    assert response.headers["Content-Type"] == "text/tab-separated-values; charset=utf-8"


@pytest.mark.parametrize(
    ("params", "headers", "status"),
    [
        ({}, {"Accept": "text/turtle"}, 406),
        ({}, {"Accept": "image/png, text/html"}, 406),
        ({"format": "turtle"}, {}, 406),
        ({"format": "no-such-format"}, {}, 400),
    ],
)
def test_no_acceptable_format(
    client: FlaskClient, params: dict[str, str], headers: dict[str, str], status: int
) -> None:
    response = client.get("/queries/subtypes", query_string=params, headers=headers)
    assert response.status_code == status
    assert "Available: SPARQL JSON (application/sparql-results+json)" in response.text
