"""Parameter binding end to end, in-process, with canned queries written for the test.

The project's catalog has no ``integer`` parameter and no CONSTRUCT or DESCRIBE query, so these tests serve a
catalog of their own (an integer filter, an echo of a string, a CONSTRUCT and a DESCRIBE) through the same
blueprints and query worker pool as the server, on the built graph.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import RDF, SKOS

from calcinosis_kg.errors import QueryError
from calcinosis_kg.ontology import CC, CCO
from calcinosis_kg.queries.catalog import CannedQuery, Parameter, load_catalog
from calcinosis_kg.server.engines.oxigraph import OxigraphEngine
from calcinosis_kg.server.errors import register_error_handlers
from calcinosis_kg.server.resources.data import load_store
from calcinosis_kg.server.views.openapi.document import make_openapi_blueprint
from calcinosis_kg.server.views.queries import make_queries_blueprint
from calcinosis_kg.server.workers.pool import QueryPool
from tests.support.api import GRAPH_TYPES, JSON_RESULTS, comparable, reference

pytestmark = pytest.mark.engine

QUERIES = {
    "long-labels": """#+ summary: Entities with long labels
#+ params:
#+   - name: length
#+     type: integer
#+     description: the shortest label length
#+     default: 40
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?entity ?label WHERE { ?entity skos:prefLabel ?label FILTER (STRLEN(?label) >= ?length) }
ORDER BY ?label ?entity
""",
    "echo": """#+ summary: The text given, and its length
#+ params:
#+   - name: text
#+     type: string
#+     description: any text
#+     required: true
SELECT ?text (STRLEN(?text) AS ?length) WHERE {}
""",
    "members": """#+ summary: Labels of the members of a class
#+ params:
#+   - name: class
#+     type: curie
#+     description: the class
#+     default: cco:Subtype
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
CONSTRUCT { ?entity skos:prefLabel ?label } WHERE { ?entity a ?class ; skos:prefLabel ?label }
""",
    "describe": """#+ summary: Everything about an entity
#+ params:
#+   - name: entity
#+     type: iri
#+     description: the entity
#+     default: https://w3id.org/calcinosis-kg/id/calcinosis-cutis
DESCRIBE ?entity
""",
}


@pytest.fixture(scope="module")
def test_catalog(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CannedQuery]:
    directory = tmp_path_factory.mktemp("queries")
    for name, text in QUERIES.items():
        (directory / f"{name}.rq").write_text(text, encoding="utf-8")
    return load_catalog(directory)


@pytest.fixture(scope="module")
def client(built_nt: Path, test_catalog: dict[str, CannedQuery]) -> Iterator[FlaskClient]:
    """The canned-query and OpenAPI blueprints on ``test_catalog``, with one query worker on the built graph."""
    engine = OxigraphEngine(load_store([built_nt]), max_rows=10_000, union_default_graph=False)
    pool = QueryPool(engine, size=1, timeout=20)
    app = Flask(__name__)
    register_error_handlers(app)
    app.register_blueprint(make_queries_blueprint(pool, test_catalog))
    app.register_blueprint(make_openapi_blueprint(test_catalog))
    yield app.test_client()
    pool.close()


def test_an_integer_parameter_is_bound_as_an_integer(
    client: FlaskClient, built_graph: Graph, test_catalog: dict[str, CannedQuery]
) -> None:
    for values in ({}, {"length": "60"}, {"length": " +25 "}):
        response = client.get("/queries/long-labels", query_string=values)
        assert response.status_code == 200
        served = response.get_json()
        expected = reference(test_catalog["long-labels"], built_graph, values)
        assert served["results"]["bindings"] == expected["results"]["bindings"]
        assert served["results"]["bindings"]
    bound = test_catalog["long-labels"].params[0].bind("60")
    assert bound == Literal(60)
    assert isinstance(bound, Literal)
    assert bound.datatype == URIRef("http://www.w3.org/2001/XMLSchema#integer")
    counts = [len(client.get(f"/queries/long-labels?length={n}").get_json()["results"]["bindings"]) for n in (20, 60)]
    assert counts[0] > counts[1]


@pytest.mark.parametrize(
    "value", ["forty", "4.5", "1e3", "", "99999999999999999999", "40 } UNION { ?entity ?p ?label }", "40)"]
)
def test_bad_integers_are_refused_naming_the_parameter(client: FlaskClient, value: str) -> None:
    response = client.get("/queries/long-labels", query_string={"length": value})
    assert response.status_code == 400
    if value == "":  # an empty value is not "no value": it is refused, naming the parameter (leave it out instead)
        assert "Parameter 'length' is empty: give a value of type integer" in response.get_data(as_text=True)
        return
    assert f"parameter 'length' must be an integer, got {value!r}" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "payload",
    [
        '"> } ; DROP ALL ; SELECT * WHERE { ?s ?p ?o',
        "<http://x> } UNION { ?s ?p ?o",
        "') } UNION { ?s ?p ?o } #",
        '"""\\u0022 \\" }',
        "  spaces around  ",
    ],
)
def test_a_string_parameter_is_bound_as_the_literal_given(client: FlaskClient, payload: str) -> None:
    response = client.get("/queries/echo", query_string={"text": payload})
    assert response.status_code == 200
    (row,) = response.get_json()["results"]["bindings"]
    given = payload.strip()
    assert row["text"] == {"type": "literal", "value": given}
    assert row["length"]["value"] == str(len(given))


def test_a_required_parameter_without_a_value_is_refused(client: FlaskClient) -> None:
    response = client.get("/queries/echo")
    assert response.status_code == 400
    assert "query 'echo' needs parameter 'text'" in response.get_data(as_text=True)


@pytest.mark.parametrize(("fmt", "content_type"), GRAPH_TYPES.items())
def test_a_construct_query_answers_in_every_rdf_format(
    client: FlaskClient, built_graph: Graph, test_catalog: dict[str, CannedQuery], fmt: str, content_type: str
) -> None:
    response = client.get("/queries/members", query_string={"class": "cco:ClinicalVariant", "format": fmt})
    assert response.status_code == 200
    assert response.content_type == content_type
    served = Graph().parse(data=response.get_data(), format=response.mimetype)
    expected = test_catalog["members"].run(built_graph, {"class": "cco:ClinicalVariant"}).graph
    assert expected is not None
    assert len(served) > 0
    assert isomorphic(served, expected)


def test_a_construct_query_negotiates_rdf_formats(client: FlaskClient) -> None:
    assert client.get("/queries/members").mimetype == "text/turtle"
    assert client.get("/queries/members", headers={"Accept": "application/ld+json"}).mimetype == "application/ld+json"
    refused = client.get("/queries/members", headers={"Accept": "text/csv"})
    assert refused.status_code == 406
    assert "Available: Turtle (text/turtle)" in refused.get_data(as_text=True)


def test_a_describe_query_describes_the_bound_iri(client: FlaskClient) -> None:
    response = client.get("/queries/describe", query_string={"entity": str(CC.acne), "format": "ntriples"})
    assert response.status_code == 200
    described = Graph().parse(data=response.get_data(), format="nt")
    assert (CC.acne, SKOS.prefLabel, Literal("acne", lang="en")) in described
    assert (CC["calcinosis-cutis"], SKOS.definition, None) not in described  # the default entity is not described
    default = Graph().parse(data=client.get("/queries/describe?format=nt").get_data(), format="nt")
    assert (CC["calcinosis-cutis"], RDF.type, CCO.Condition) in default


def test_the_results_match_rdflib_for_the_test_catalog(
    client: FlaskClient, built_graph: Graph, test_catalog: dict[str, CannedQuery]
) -> None:
    served = client.get("/queries/echo?text=abc").get_json()
    assert client.get("/queries/echo?text=abc").content_type == JSON_RESULTS
    assert comparable(served) == comparable(reference(test_catalog["echo"], built_graph, {"text": "abc"}))


def test_the_openapi_document_types_each_parameter(client: FlaskClient) -> None:
    document = client.get("/openapi.json").get_json()
    validate(document)
    parameters = {
        path: {p["name"]: p for p in operation["get"]["parameters"] if "name" in p}
        for path, operation in document["paths"].items()
        if path.startswith("/queries/")
    }
    assert parameters["/queries/long-labels"]["length"]["schema"]["type"] == "integer"
    assert parameters["/queries/long-labels"]["length"]["schema"]["default"] == 40
    assert parameters["/queries/echo"]["text"]["required"] is True
    assert re.fullmatch(parameters["/queries/members"]["class"]["schema"]["pattern"], "cco:Subtype")
    assert parameters["/queries/describe"]["entity"]["schema"]["format"] == "iri"
    media_types = document["paths"]["/queries/members"]["get"]["responses"]["200"]["content"]
    assert sorted(media_types) == sorted(
        ["text/turtle", "application/n-triples", "application/ld+json", "application/rdf+xml"]
    )


def test_a_query_may_not_declare_the_format_parameter() -> None:
    param = Parameter(name="format", type="string", description="clashes")
    query = CannedQuery(name="clash", summary="clash", description="", sparql="", query_type="SELECT", params=(param,))
    engine = OxigraphEngine(load_store([]), max_rows=1, union_default_graph=False)
    with pytest.raises(QueryError, match="declares a parameter 'format'"):
        make_queries_blueprint(QueryPool(engine, size=1, timeout=1), {"x": query})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("SCTID:6595006", URIRef("http://snomed.info/id/6595006")),
        ("6595006", URIRef("http://snomed.info/id/6595006")),
        ("http://snomed.info/id/6595006", URIRef("http://snomed.info/id/6595006")),
        ("ICD10CM:L94.2", URIRef("https://www.icd10data.com/search?s=L94.2")),
    ],
)
def test_a_code_parameter_binds_the_codes_iri(value: str, expected: URIRef) -> None:
    assert Parameter(name="code", type="code", description="a code").bind(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [("XYZ:1", "unknown code-system prefix"), ("SCTID:6595007", "Verhoeff"), ("a } b", "is not a code")],
)
def test_a_bad_code_raises_query_error_naming_the_parameter(value: str, message: str) -> None:
    with pytest.raises(QueryError, match=f"parameter 'code' must be a code .*{message}"):
        Parameter(name="code", type="code", description="a code").bind(value)
