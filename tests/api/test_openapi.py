"""/openapi.json describes every route and validates as OpenAPI 3; /api renders it with local files only."""

from __future__ import annotations

import importlib.resources
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from calcinosis_kg.queries.catalog import CannedQuery
from calcinosis_kg.server.views.openapi.document import INITIALIZER, SWAGGER_UI_ASSETS
from calcinosis_kg.server.views.void import DUMP_FILES

pytestmark = pytest.mark.engine

CONTRACT_PATHS = {
    "/",
    "/query",
    "/sparql",
    "/health",
    "/queries",
    "/lookup",
    "/.well-known/void",
    "/id/{local}",
    "/ontology/{term}",
    "/dumps/{file}",
    "/openapi.json",
    "/api",
    "/api/{asset}",
    "/assets/{filename}",
    "/static/{filename}",
}
"""Every route of the app, those added by other blueprints included, as the issue's contract lists them."""


@pytest.fixture(scope="module")
def document(app: Flask) -> dict[str, Any]:
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    data: dict[str, Any] = response.get_json()
    return data


def test_the_document_is_valid_openapi_3(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.")
    assert document["servers"] == [{"url": "/"}]


def test_every_canned_query_has_a_path_with_its_typed_parameters(
    document: dict[str, Any], catalog: dict[str, CannedQuery]
) -> None:
    paths = document["paths"]
    assert {path for path in paths if path.startswith("/queries/")} == {f"/queries/{name}" for name in catalog}
    operation_ids = [op["operationId"] for item in paths.values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))
    for name, query in catalog.items():
        operation = paths[f"/queries/{name}"]["get"]
        assert operation["summary"] == query.summary
        described = {p["name"]: p for p in operation["parameters"] if "name" in p}
        assert set(described) == {p.name for p in query.params}
        assert {"$ref": "#/components/parameters/resultsFormat"} in operation["parameters"]
        for param in query.params:
            spec = described[param.name]
            assert spec["in"] == "query"
            assert spec["required"] == (param.required and param.default is None)
            assert spec["schema"].get("default") == param.default
            assert f"(type `{param.type}`)" in spec["description"]
        assert sorted(operation["responses"]["200"]["content"]) == sorted(
            [
                "application/sparql-results+json",
                "application/sparql-results+xml",
                "text/csv",
                "text/tab-separated-values",
            ]
        )
        assert {"400", "406", "503"} <= set(operation["responses"])


def test_the_parameter_types_have_their_schemas(document: dict[str, Any]) -> None:
    def schema(path: str, name: str) -> dict[str, Any]:
        (param,) = [p for p in document["paths"][path]["get"]["parameters"] if p.get("name") == name]
        found: dict[str, Any] = param["schema"]
        return found

    assert schema("/queries/causes-of-subtype", "subtype")["format"] == "iri"
    curie = schema("/queries/causes-of-kind", "kind")
    assert re.fullmatch(curie["pattern"], "cco:AutoimmuneDisease")
    assert not re.fullmatch(curie["pattern"], '"> } ; DROP')
    assert schema("/queries/find-entity", "text") == {
        "type": "string",
        "minLength": 1,
        "maxLength": 500,
        "pattern": "\\S",
        "default": "lupus",
    }
    assert schema("/queries/entity-for-code", "code")["default"] == "ICD10CM:L94.2"


LINKED_DATA_PATHS = {"/id/{local}", "/ontology/{term}", "/ontology", "/ontology.{extension}"}
"""The linked-data paths the document names (it also describes /releases/{version}/ontology)."""


def _shape(path: str) -> str:
    """A path with its parameter names left out: ``/dumps/{}`` for both ``/dumps/{file}`` and ``/dumps/<name>``."""
    return re.sub(r"\{[^{}]*\}", "{}", re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "{}", path))


def test_every_route_of_the_app_is_described(document: dict[str, Any], app: Flask) -> None:
    described = set(document["paths"])
    assert described >= CONTRACT_PATHS | LINKED_DATA_PATHS
    shapes = {_shape(path): path for path in described}
    for rule in app.url_map.iter_rules():
        if rule.rule == "/queries/<name>":
            continue  # one path per canned query, checked above
        if rule.endpoint.startswith("linked_data."):
            # /ns, /ns/<path:rest> and /ns.<extension> for each namespace of the graph's IRIs: the document
            # describes the resources of each namespace (/id/{local}, /ontology/{term}, ...)
            segment = re.split(r"[/.]", rule.rule[1:])[0]
            assert any(re.match(rf"/{re.escape(segment)}($|[/.])", path) for path in described), rule.rule
            continue
        shape = _shape(rule.rule if rule.rule == "/" else rule.rule.rstrip("/"))  # /sparql/ answers as /sparql
        assert shape in shapes, f"{rule.rule} is not in /openapi.json"
        for method in rule.methods or ():
            if method not in ("HEAD", "OPTIONS"):
                assert method.lower() in document["paths"][shapes[shape]], f"{method} {rule.rule} is not described"


def test_the_sparql_endpoint_is_described_with_its_parameters_and_formats(document: dict[str, Any]) -> None:
    sparql = document["paths"]["/sparql"]
    get_parameters = {p.get("name") for p in sparql["get"]["parameters"]}
    assert {"query", "default-graph-uri", "named-graph-uri"} <= get_parameters
    assert set(sparql["post"]["requestBody"]["content"]) == {
        "application/x-www-form-urlencoded",
        "application/sparql-query",
    }
    formats = set(sparql["get"]["responses"]["200"]["content"])
    assert {"application/sparql-results+json", "text/csv", "text/turtle", "application/rdf+xml"} <= formats
    assert {"400", "403", "406", "503"} <= set(sparql["get"]["responses"])
    assert {"413", "415"} <= set(sparql["post"]["responses"])


def test_the_linked_data_routes_follow_the_contract(document: dict[str, Any]) -> None:
    rdf = {"text/turtle", "application/ld+json", "application/n-triples", "application/rdf+xml"}
    paths = document["paths"]
    for path in ("/id/{local}", "/ontology/{term}"):
        assert set(paths[path]["get"]["responses"]["200"]["content"]) == rdf | {"text/html"}
    assert set(paths["/.well-known/void"]["get"]["responses"]["200"]["content"]) == rdf
    (file_param,) = paths["/dumps/{file}"]["get"]["parameters"]
    assert (
        file_param["schema"]["enum"]
        == list(DUMP_FILES)
        == [
            "calcinosis-kg.ttl",
            "calcinosis-kg.nt",
            "calcinosis-kg.jsonld",
            "calcinosis-kg.owl",
            "calcinosis-kg.nq",
        ]
    )
    for page in ("/", "/query", "/api"):
        assert set(paths[page]["get"]["responses"]["200"]["content"]) == {"text/html"}


def test_documented_operations_without_path_parameters_answer_as_documented(
    document: dict[str, Any], client: FlaskClient, app: Flask
) -> None:
    served = {rule.rule for rule in app.url_map.iter_rules()}
    for path, item in document["paths"].items():
        if "{" in path or path not in served or "get" not in item:
            continue
        operation = item["get"]
        params = {
            p["name"]: str(p["schema"].get("default", p.get("example", "x")))
            for p in operation.get("parameters", [])
            if "name" in p and p.get("required")
        }
        response = client.get(path, query_string=params)
        assert str(response.status_code) in operation["responses"], path
        if response.status_code == 200:
            documented = operation["responses"]["200"]["content"]
            assert response.headers["Content-Type"].split(";")[0] in documented, path


# --- the page -------------------------------------------------------------------------------------------


class _References(HTMLParser):
    """Collects every src and href of a page, and the text of its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls.extend(value for name, value in attrs if name in ("src", "href") and value)
        if tag == "script" and not dict(attrs).get("src"):
            self.inline_scripts += 1


def test_the_api_page_uses_only_local_files(client: FlaskClient) -> None:
    page = client.get("/api")
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert not re.search(r"(https?:)?//", page.text), "the page names another site"
    parser = _References()
    parser.feed(page.text)
    assert parser.inline_scripts == 0
    assert sorted(parser.urls) == sorted(f"/api/{asset}" for asset in (*SWAGGER_UI_ASSETS, INITIALIZER))
    types = {}
    for url in parser.urls:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.data) > 100, url
        assert not re.search(rb"(https?:)?//", asset.data) or url.endswith((".js", ".css", ".png")), url
        types[url.rsplit("/", 1)[1]] = asset.headers["Content-Type"]
    assert types["swagger-ui.css"].startswith("text/css")
    assert types["swagger-ui-bundle.js"].startswith(("text/javascript", "application/javascript"))
    assert types["favicon-32x32.png"] == "image/png"


def test_the_initializer_starts_swagger_ui_on_this_servers_document(client: FlaskClient) -> None:
    script = client.get(f"/api/{INITIALIZER}")
    assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert "SwaggerUIBundle(" in script.text
    assert '"url": "/openapi.json"' in script.text
    assert '"validatorUrl": null' in script.text  # no badge fetched from validator.swagger.io
    assert not re.search(r"https?://", script.text)


def test_the_page_loads_the_swagger_ui_of_the_installed_package(client: FlaskClient) -> None:
    bundle = client.get("/api/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    installed = Path(str(importlib.resources.files("flask_swagger_ui"))) / "dist" / "swagger-ui-bundle.js"
    assert bundle.data == installed.read_bytes()
    css = client.get("/api/swagger-ui.css")
    assert not re.search(r"url\((?!\"?data:)", css.text), "the stylesheet loads a file"


def test_the_api_page_may_run_its_own_scripts(client: FlaskClient) -> None:
    policy = dict(
        (directive.split()[0], directive.split()[1:])
        for directive in client.get("/api").headers.get("Content-Security-Policy", "").split(";")
        if directive.strip()
    )
    assert "'self'" in policy.get("script-src", policy.get("default-src", ["'self'"]))
    assert policy.get("connect-src", policy.get("default-src", ["'self'"])) == ["'self'"]


@pytest.mark.parametrize("asset", ["index.html", "../app.py", "swagger-ui.js", "oauth2-redirect.html"])
def test_only_the_pages_assets_are_served(client: FlaskClient, asset: str) -> None:
    assert client.get(f"/api/{asset}").status_code == 404
