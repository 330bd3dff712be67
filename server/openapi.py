"""The OpenAPI 3.1 description of every route (``GET /openapi.json``) and the Swagger UI page on it (``/api``).

:func:`openapi_document` writes the document from what the server actually offers: the result formats of
:mod:`~calcinosis_kg.server.formats`, one path per canned query of the catalog with its typed parameters, and
the contract of the other routes (SPARQL endpoint, health, lookup, linked-data resources, VoID, dumps and
the HTML pages). Swagger UI's JavaScript and CSS are served from the installed ``flask-swagger-ui``
package under ``/api/``; the page loads nothing from anywhere else.
"""

from __future__ import annotations

import html
import importlib.metadata
import importlib.resources
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify, request, send_from_directory, url_for
from werkzeug.exceptions import NotFound

from calcinosis_kg.errors import KGError
from calcinosis_kg.ontology import PREFIXES
from calcinosis_kg.queries.catalog import ABSOLUTE_IRI, PARAM_TYPES, CannedQuery, Parameter
from calcinosis_kg.server.fhir.capability import openapi_paths
from calcinosis_kg.server.formats import FORMATS, Family, ResultFormat, formats_of
from calcinosis_kg.server.lookup_api import DEFAULT_LIMIT, MATCH_KINDS, MAX_LIMIT, MAX_QUERY_LENGTH
from calcinosis_kg.server.queries_api import FORMAT_PARAMETER, answer_family

OPENAPI_VERSION = "3.1.0"
SWAGGER_UI_ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "favicon-16x16.png")
"""The files of Swagger UI that ``/api/<asset>`` serves (those the page uses)."""
DUMP_FILES: dict[str, str] = {
    "calcinosis-kg.ttl": "text/turtle",
    "calcinosis-kg.nt": "application/n-triples",
    "calcinosis-kg.jsonld": "application/ld+json",
    "calcinosis-kg.owl": "application/rdf+xml",
}
"""The downloadable dumps (``/dumps/<file>``) and their media types."""

_ASSET_MAX_AGE = 86_400
_TEXT = {"text/plain": {"schema": {"type": "string"}}}
_HTML = {"text/html": {"schema": {"type": "string"}}}
_JSON_LD_SCHEMA: dict[str, Any] = {
    "description": "JSON-LD: a top-level array of node objects (expanded form), or an object with a context.",
    "type": ["array", "object"],
}
NAME_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1, "pattern": "^[^\\x00-\\x1f\\x7f-\\x9f]+$"}
"""A name in a path: not empty, no control character (a path with one gets a 400)."""


class SwaggerUIMissing(KGError):
    """The ``flask-swagger-ui`` package, whose files the ``/api`` page uses, is not installed properly."""


def swagger_ui_directory() -> Path:
    """The directory of Swagger UI's files in the installed ``flask-swagger-ui`` package.

    Raises :class:`SwaggerUIMissing` when a file the page needs is not there.
    """
    try:
        directory = Path(str(importlib.resources.files("flask_swagger_ui"))) / "dist"
    except ModuleNotFoundError as error:
        raise SwaggerUIMissing("the /api page needs the package flask-swagger-ui (pip install it)") from error
    missing = [asset for asset in SWAGGER_UI_ASSETS if not (directory / asset).is_file()]
    if missing:
        raise SwaggerUIMissing(f"flask-swagger-ui has no {', '.join(missing)} in {directory}: reinstall it")
    return directory


INITIALIZER = "swagger-initializer.js"
"""The script starting Swagger UI on ``/openapi.json``, written by the server (the page has no inline script)."""

PAGE_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""``Content-Security-Policy`` of the ``/api`` page: its scripts, styles, images and requests stay on this server."""


def make_openapi_blueprint(catalog: Mapping[str, CannedQuery]) -> Blueprint:
    """The blueprint answering ``/openapi.json``, the ``/api`` page and its files ``/api/<asset>``.

    Raises :class:`SwaggerUIMissing` when Swagger UI's files are not installed.
    """
    assets = swagger_ui_directory()
    version = importlib.metadata.version("calcinosis-kg")
    blueprint = Blueprint("openapi", __name__)

    @blueprint.get("/openapi.json")
    def openapi_json() -> Response:
        return jsonify(openapi_document(catalog, server_url=request.script_root or "/", version=version))

    @blueprint.get("/api")
    def api_page() -> Response:
        response = Response(_swagger_page(), content_type="text/html; charset=utf-8")
        response.headers["Content-Security-Policy"] = PAGE_SECURITY_POLICY
        return response

    @blueprint.get("/api/<asset>")
    def api_asset(asset: str) -> Response:
        if asset == INITIALIZER:
            return Response(_initializer(), content_type="text/javascript; charset=utf-8")
        if asset not in SWAGGER_UI_ASSETS:
            raise NotFound(f"/api serves only {', '.join((*SWAGGER_UI_ASSETS, INITIALIZER))}.")
        return send_from_directory(assets, asset, max_age=_ASSET_MAX_AGE)

    return blueprint


def _swagger_page() -> str:
    """The ``/api`` page: Swagger UI's files and its initializer, all from this server (inside a request)."""
    css, bundle, icon32, icon16, initializer = (
        html.escape(url_for("openapi.api_asset", asset=asset)) for asset in (*SWAGGER_UI_ASSETS, INITIALIZER)
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Calcinosis cutis knowledge graph: API</title>
<link rel="stylesheet" href="{css}">
<link rel="icon" type="image/png" href="{icon32}" sizes="32x32">
<link rel="icon" type="image/png" href="{icon16}" sizes="16x16">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{bundle}"></script>
<script src="{initializer}"></script>
</body>
</html>
"""


def _initializer() -> str:
    """The script starting Swagger UI on this server's ``/openapi.json`` (inside a request)."""
    options = {
        "url": url_for("openapi.openapi_json"),
        "dom_id": "#swagger-ui",
        "deepLinking": True,
        "validatorUrl": None,  # Swagger UI would otherwise send the document to validator.swagger.io
        "tryItOutEnabled": True,
    }
    return f"window.addEventListener('load', function () {{ window.ui = SwaggerUIBundle({json.dumps(options)}); }});\n"


# --- the document -----------------------------------------------------------------------------------------


def openapi_document(catalog: Mapping[str, CannedQuery], *, server_url: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the whole app, with one path per query of ``catalog``.

    ``server_url`` is the server's URL (a path such as ``/`` is relative to where the document is served);
    ``version`` the API's version (the package's).
    """
    paths: dict[str, Any] = {
        "/": _html_page("Home page", "The home page: what the knowledge graph holds and where to start.", "homePage"),
        "/query": _query_page_path(),
        "/sparql": _sparql_path(),
        "/queries": _queries_list_path(),
        **{f"/queries/{name}": _canned_query_path(query) for name, query in sorted(catalog.items())},
        "/lookup": _lookup_path(),
        **openapi_paths(),
        "/id/{local}": _resource_path(
            "local", "An entity of the knowledge graph", "entity", "The entity's local name, e.g. calcinosis-cutis."
        ),
        "/ontology/{term}": _resource_path(
            "term", "A class or property of the ontology", "ontologyTerm", "The local name of the term, e.g. hasCause."
        ),
        "/ontology": _ontology_path("ontology", "The ontology", []),
        "/ontology.{extension}": _ontology_path(
            "ontologyDocument",
            "The ontology in one format",
            [
                {
                    "name": "extension",
                    "in": "path",
                    "required": True,
                    "description": "The format: ttl, nt, jsonld, rdf or html.",
                    "schema": {"type": "string", "enum": ["ttl", "nt", "jsonld", "rdf", "html"]},
                }
            ],
        ),
        "/releases/{version}/ontology": _ontology_path(
            "ontologyVersion",
            "A release of the ontology (its version IRI)",
            [
                {
                    "name": "version",
                    "in": "path",
                    "required": True,
                    "description": "The release, e.g. 0.1.0.",
                    "schema": NAME_SCHEMA,
                }
            ],
        ),
        "/.well-known/void": _void_path(),
        "/dumps/{file}": _dumps_path(),
        "/health": _health_path(),
        "/metrics": _metrics_path(),
        "/openapi.json": _openapi_path(),
        "/api": _html_page("API explorer", "This description rendered by Swagger UI.", "apiPage"),
        "/api/{asset}": _asset_path(),
        "/assets/{filename}": _static_path("/assets", "uiAsset"),
        "/assets/npm/{filename}": _npm_path(),
        "/query/editor.json": _editor_path(),
        "/search": _search_page_path(),
        "/static/{filename}": _static_path("/static", "staticFile"),
    }
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Calcinosis cutis knowledge graph",
            "version": version,
            "summary": "A knowledge graph of calcinosis cutis: SPARQL, canned queries, lookup, linked data.",
            "description": (
                "Read-only access to the calcinosis cutis knowledge graph: the SPARQL 1.1 endpoint, the canned "
                "competency questions as typed operations, label and code lookup, the linked-data resources and "
                "the dumps. Errors have a `text/plain` body saying what is wrong. Results are negotiated with "
                "`Accept` (q-values honoured) or chosen with the `format` parameter, which wins. Successful GET "
                "responses carry `ETag` and `Last-Modified`: `If-None-Match` or `If-Modified-Since` get a 304 "
                "when nothing changed."
            ),
            "license": {"name": "CC BY 4.0", "identifier": "CC-BY-4.0"},
        },
        "servers": [{"url": server_url}],
        "tags": [
            {"name": "SPARQL", "description": "The SPARQL 1.1 Protocol endpoint."},
            {"name": "Canned queries", "description": "Competency questions with typed, validated parameters."},
            {"name": "Lookup", "description": "Entities by label, synonym or code."},
            {"name": "Linked data", "description": "Resources, the VoID description and the dumps."},
            {"name": "Service", "description": "Health, this description and the HTML pages."},
        ],
        "paths": paths,
        "components": _components(),
    }


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(status): _ref("responses", _ERROR_RESPONSES[status][0]) for status in statuses}


_ERROR_RESPONSES: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "The request is invalid; the body says what to change."),
    403: ("Forbidden", "Refused by policy: SPARQL Update (the endpoint is read-only) or SERVICE (no federation)."),
    404: ("NotFound", "No such resource."),
    406: ("NotAcceptable", "No acceptable format for this answer; the body lists the available ones."),
    413: ("PayloadTooLarge", "The request body is over the size limit (KG_MAX_BODY)."),
    415: ("UnsupportedMediaType", "The POST body's content type or charset is not supported."),
    500: ("InternalError", "The server failed; the details are in its log."),
    503: ("Unavailable", "The query reached the time limit, or every query worker stayed busy; retry later."),
}


def _components() -> dict[str, Any]:
    responses: dict[str, Any] = {
        name: {"description": description, "content": _TEXT} for name, description in _ERROR_RESPONSES.values()
    }
    responses["Unavailable"]["headers"] = {
        "Retry-After": {"description": "Seconds to wait (when every worker was busy).", "schema": {"type": "integer"}}
    }
    return {
        "responses": responses,
        "parameters": {
            "resultFormat": _format_parameter(
                "The result format, overriding `Accept`: a short name or a media type. SELECT and ASK: "
                + _names(Family.RESULTS)
                + ". CONSTRUCT, DESCRIBE and the service description: "
                + _names(Family.GRAPH)
                + " (`json` and `xml` mean JSON-LD and RDF/XML there). A format of the other kind of answer than "
                "the query's is a 406.",
                FORMATS,
            ),
            "resultsFormat": _format_parameter(
                "The results format, overriding `Accept`: a short name or a media type: " + _names(Family.RESULTS),
                formats_of(Family.RESULTS),
            ),
            "graphFormat": _format_parameter(
                "The RDF format, overriding `Accept`: a short name or a media type: " + _names(Family.GRAPH),
                formats_of(Family.GRAPH),
            ),
        },
        "schemas": {
            "SparqlResults": _SPARQL_RESULTS_SCHEMA,
            "CannedQuery": _CANNED_QUERY_SCHEMA,
            "LookupHit": _LOOKUP_HIT_SCHEMA,
        },
    }


def _format_parameter(description: str, formats: tuple[ResultFormat, ...]) -> dict[str, Any]:
    """The ``format`` parameter taking the names and media types of ``formats`` (any other value is a 400)."""
    return {
        "name": FORMAT_PARAMETER,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string", "enum": sorted({name for fmt in formats for name in fmt.identifiers})},
        "examples": {fmt.key: {"value": fmt.key} for fmt in formats},
    }


def format_parameter_of(family: Family) -> dict[str, str]:
    """A reference to the ``format`` parameter of the answers of ``family``."""
    return _ref("parameters", "resultsFormat" if family is Family.RESULTS else "graphFormat")


def _names(family: Family) -> str:
    return ", ".join(f"`{fmt.key}` ({fmt.media_type})" for fmt in formats_of(family))


def _media_types(family: Family) -> dict[str, Any]:
    """The content of a 200 response in every format of ``family``."""
    content: dict[str, Any] = {}
    for fmt in formats_of(family):
        if fmt.media_type == "application/sparql-results+json":
            content[fmt.media_type] = {"schema": _ref("schemas", "SparqlResults")}
        elif fmt.media_type == "application/ld+json":
            content[fmt.media_type] = {"schema": _JSON_LD_SCHEMA}
        else:
            content[fmt.media_type] = {"schema": {"type": "string"}}
    return content


def _html_page(summary: str, description: str, operation_id: str) -> dict[str, Any]:
    return {
        "get": {
            "tags": ["Service"],
            "summary": summary,
            "description": description,
            "operationId": operation_id,
            "responses": {"200": {"description": "The page.", "content": _HTML}},
        }
    }


def _graph_uri_parameter(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "array", "items": {"type": "string", "format": "iri"}},
        "style": "form",
        "explode": True,
    }


_DATASET_PARAMETERS = (
    _graph_uri_parameter(
        "default-graph-uri", "A graph of the dataset to merge into the default graph (repeatable; replaces FROM)."
    ),
    _graph_uri_parameter("named-graph-uri", "A named graph of the dataset (repeatable; replaces FROM NAMED)."),
)


def _sparql_path() -> dict[str, Any]:
    answers = {**_media_types(Family.RESULTS), **_media_types(Family.GRAPH)}
    ok = {
        "description": (
            "The answer: SELECT and ASK results in a results format, CONSTRUCT and DESCRIBE results (and the "
            "service description) in an RDF format, as negotiated."
        ),
        "headers": {"Vary": {"description": "Accept", "schema": {"type": "string"}}},
        "content": answers,
    }
    form = {
        "type": "object",
        "required": ["query"],
        "properties": {
            "query": {"type": "string", "description": "The SPARQL 1.1 query."},
            "default-graph-uri": {"type": "array", "items": {"type": "string", "format": "iri"}},
            "named-graph-uri": {"type": "array", "items": {"type": "string", "format": "iri"}},
            FORMAT_PARAMETER: {"type": "string", "description": "The result format, overriding Accept."},
        },
    }
    return {
        "get": {
            "tags": ["SPARQL"],
            "summary": "Run a SPARQL query, or get the service description",
            "description": (
                "SPARQL 1.1 Protocol query by GET (also at `/sparql/`). Without `query`, the SPARQL 1.1 service "
                "description in an RDF format. The project's prefixes (cc:, cco:, skos:, ...) are predeclared. "
                "Queries run under a time limit (KG_QUERY_TIMEOUT) and a row limit (KG_MAX_ROWS); SERVICE and "
                "updates are refused."
            ),
            "operationId": "sparqlGet",
            "parameters": [
                {
                    "name": "query",
                    "in": "query",
                    "required": False,
                    "description": "The SPARQL 1.1 query (SELECT, ASK, CONSTRUCT or DESCRIBE).",
                    "schema": {"type": "string"},
                    "example": "SELECT ?subtype WHERE { cc:calcinosis-cutis cco:hasSubtype ?subtype }",
                },
                *_DATASET_PARAMETERS,
                _ref("parameters", "resultFormat"),
            ],
            "responses": {"200": ok, **_errors(400, 403, 406, 500, 503)},
        },
        "post": {
            "tags": ["SPARQL"],
            "summary": "Run a SPARQL query sent in the body",
            "description": (
                "SPARQL 1.1 Protocol query by POST: an HTML form (`application/x-www-form-urlencoded`, with "
                "`query`) or the query itself (`application/sparql-query`, the other parameters in the URL). "
                "The body is limited to KG_MAX_BODY bytes; it must be UTF-8."
            ),
            "operationId": "sparqlPost",
            "parameters": [*_DATASET_PARAMETERS, _ref("parameters", "resultFormat")],
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {"schema": form},
                    "application/sparql-query": {"schema": {"type": "string"}},
                },
            },
            "responses": {"200": ok, **_errors(400, 403, 406, 413, 415, 500, 503)},
        },
    }


def _queries_list_path() -> dict[str, Any]:
    return {
        "get": {
            "tags": ["Canned queries"],
            "summary": "List the canned queries",
            "description": "Every canned query with its parameters, query form, result formats and SPARQL text.",
            "operationId": "listQueries",
            "responses": {
                "200": {
                    "description": "The canned queries, by name.",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["queries"],
                                "properties": {"queries": {"type": "array", "items": _ref("schemas", "CannedQuery")}},
                            }
                        }
                    },
                }
            },
        }
    }


def parameter_schema(param: Parameter) -> dict[str, Any]:
    """The JSON Schema of a canned query parameter's values, with its default."""
    schema: dict[str, Any]
    if param.type == "integer":
        schema = {"type": "integer", "minimum": -(10**18) + 1, "maximum": 10**18 - 1}
    elif param.type == "iri":
        schema = {"type": "string", "format": "iri", "pattern": ABSOLUTE_IRI.pattern, "maxLength": 500}
    elif param.type == "curie":
        prefixes = "|".join(sorted(PREFIXES))
        schema = {"type": "string", "pattern": f"^({prefixes}):[A-Za-z0-9_.-]+$", "maxLength": 500}
    else:  # an empty value (or only spaces) is refused: leave the parameter out for its default
        schema = {"type": "string", "minLength": 1, "maxLength": 500, "pattern": "\\S"}
    if param.default is not None:
        schema["default"] = int(param.default) if param.type == "integer" else param.default
    return schema


_TYPE_DESCRIPTIONS = {
    "iri": "an absolute IRI",
    "curie": "a CURIE with one of the project's prefixes (e.g. cco:AutoimmuneDisease)",
    "string": "text, matched as a plain literal",
    "integer": "an integer",
    "code": (
        "a terminology code in any usual form: SCTID:6595006, 6595006, snomed:6595006, ICD10CM:L94.2, "
        "MONDO:0002123 or the code's IRI"
    ),
}


def _canned_query_parameter(param: Parameter) -> dict[str, Any]:
    default = f" Default: {param.default}." if param.default is not None else ""
    kind = f"{_TYPE_DESCRIPTIONS[param.type]} (type `{param.type}`)"
    return {
        "name": param.name,
        "in": "query",
        "required": param.required and param.default is None,
        "description": f"{param.description.rstrip('.')}: {kind}.{default}",
        "schema": parameter_schema(param),
    }


def _canned_query_path(query: CannedQuery) -> dict[str, Any]:
    family = answer_family(query)
    description = query.description or query.summary
    return {
        "get": {
            "tags": ["Canned queries"],
            "summary": query.summary,
            "description": (
                f"{description}\n\n{query.query_type} query `{query.name}.rq`; its parameters are bound to the "
                "query variables of the same name, never pasted into its text. Parameters other than those listed "
                "are refused (400)."
            ),
            "operationId": "query" + "".join(part.capitalize() for part in query.name.replace("_", "-").split("-")),
            "parameters": [*(_canned_query_parameter(p) for p in query.params), format_parameter_of(family)],
            "responses": {
                "200": {
                    "description": f"The {query.query_type} answer, as negotiated.",
                    "headers": {"Vary": {"description": "Accept", "schema": {"type": "string"}}},
                    "content": _media_types(family),
                },
                **_errors(400, 406, 500, 503),
            },
        }
    }


def _lookup_path() -> dict[str, Any]:
    return {
        "get": {
            "tags": ["Lookup"],
            "summary": "Find entities by label, synonym or code",
            "description": (
                "Case-insensitive lookup over preferred labels, synonyms, mapped codes (any form of a code: "
                "SCTID:6595006, 6595006, the code's IRI...) and the code systems' terms, matching whole texts, "
                "prefixes (for autocompletion), word starts and substrings. Each entity appears once, for its best "
                "match. Ranking: exact-label, exact-synonym, code, label-prefix, synonym-prefix, code-prefix, "
                "exact-code-label, code-label-prefix, word-prefix, substring; ties by label."
            ),
            "operationId": "lookup",
            "parameters": [
                {
                    "name": "q",
                    "in": "query",
                    "required": True,
                    "description": "The text to look for: a label, synonym, the start of one, or a code.",
                    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_LENGTH},
                    "example": "lupus",
                },
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "description": "The most entities to return.",
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                },
            ],
            "responses": {
                "200": {
                    "description": "The matching entities, best first.",
                    "content": {
                        "application/json": {"schema": {"type": "array", "items": _ref("schemas", "LookupHit")}}
                    },
                },
                **_errors(400),
            },
        }
    }


def _rdf_and_html() -> dict[str, Any]:
    return {**_HTML, **_media_types(Family.GRAPH)}


_LINKED_DATA_NOTE = (
    "Slash IRIs with direct content negotiation: `Accept` chooses between HTML and the RDF formats (Turtle for "
    "`*/*`), and the response has `Vary: Accept`, `Content-Location` naming the format-specific document sent "
    "and `Link` headers naming the others. The format-specific documents are served at the same path plus "
    "`.ttl`, `.nt`, `.jsonld`, `.rdf` or `.html`, whatever `Accept` says. An IRI that is not in the graph is "
    "a 404 in the negotiated format."
)


def _resource_responses(*, named: bool) -> dict[str, Any]:
    """The answers about a resource; ``named`` when its path has a parameter (a control character is a 400)."""
    return {
        "200": {"description": "The resource's description.", "content": _rdf_and_html()},
        **(_errors(400) if named else {}),
        "404": {
            "description": "No such resource: an HTML page, or an empty RDF document that parses.",
            "content": _rdf_and_html(),
        },
        **_errors(406),
    }


def _resource_path(name: str, what: str, operation_id: str, description: str) -> dict[str, Any]:
    return {
        "get": {
            "tags": ["Linked data"],
            "summary": what,
            "description": f"{what}: its triples, incoming triples, axiom annotations and the labels of what "
            f"it mentions. {_LINKED_DATA_NOTE}",
            "operationId": operation_id,
            "parameters": [
                {"name": name, "in": "path", "required": True, "description": description, "schema": NAME_SCHEMA}
            ],
            "responses": _resource_responses(named=True),
        }
    }


def _ontology_path(operation_id: str, summary: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "get": {
            "tags": ["Linked data"],
            "summary": summary,
            "description": f"The whole ontology (the document of its IRI and of its version IRI). {_LINKED_DATA_NOTE}",
            "operationId": operation_id,
            "parameters": parameters,
            "responses": _resource_responses(named=bool(parameters)),
        }
    }


def _void_path() -> dict[str, Any]:
    return {
        "get": {
            "tags": ["Linked data"],
            "summary": "The VoID description of the dataset",
            "description": "The dataset's VoID description (size, vocabularies, dumps, SPARQL endpoint), negotiated.",
            "operationId": "void",
            "parameters": [format_parameter_of(Family.GRAPH)],
            "responses": {
                "200": {"description": "The VoID description.", "content": _media_types(Family.GRAPH)},
                **_errors(400, 406),
            },
        }
    }


def _dumps_path() -> dict[str, Any]:
    return {
        "get": {
            "tags": ["Linked data"],
            "summary": "Download the whole graph",
            "description": "The built graph in one file: "
            + ", ".join(f"`{name}` ({media})" for name, media in DUMP_FILES.items())
            + ".",
            "operationId": "dump",
            "parameters": [
                {
                    "name": "file",
                    "in": "path",
                    "required": True,
                    "description": "The dump's file name.",
                    "schema": {"type": "string", "enum": list(DUMP_FILES)},
                }
            ],
            "responses": {
                "200": {
                    "description": "The dump, in the format of its extension.",
                    "content": {
                        media: {"schema": _JSON_LD_SCHEMA if media == "application/ld+json" else {"type": "string"}}
                        for media in DUMP_FILES.values()
                    },
                },
                **_errors(400, 404),
            },
        }
    }


def _metrics_path() -> dict[str, Any]:
    return {
        "get": {
            "tags": ["Service"],
            "summary": "Metrics for monitoring",
            "description": "Counters of every process of the server in Prometheus' text format: requests by route "
            "and status, query run time, limits reached, query workers replaced, result cache hits, queue length.",
            "operationId": "metrics",
            "responses": {
                "200": {
                    "description": "The metrics.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    }


def _health_path() -> dict[str, Any]:
    return {
        "get": {
            "tags": ["Service"],
            "summary": "Liveness check",
            "description": "Answers when the server is up, with the number of triples served (all graphs together).",
            "operationId": "health",
            "responses": {
                "200": {
                    "description": "The server is up.",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["status", "triples"],
                                "properties": {
                                    "status": {"type": "string", "const": "ok"},
                                    "triples": {"type": "integer", "minimum": 0},
                                },
                            }
                        }
                    },
                }
            },
        }
    }


def _openapi_path() -> dict[str, Any]:
    return {
        "get": {
            "tags": ["Service"],
            "summary": "This OpenAPI description",
            "operationId": "openapi",
            "responses": {
                "200": {
                    "description": "The OpenAPI 3.1 document.",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    }


def _asset_path() -> dict[str, Any]:
    return {
        "get": {
            "tags": ["Service"],
            "summary": "A file of the API explorer (Swagger UI)",
            "operationId": "apiAsset",
            "parameters": [
                {
                    "name": "asset",
                    "in": "path",
                    "required": True,
                    "description": "The file's name.",
                    "schema": {"type": "string", "enum": [*SWAGGER_UI_ASSETS, INITIALIZER]},
                }
            ],
            "responses": {
                "200": {
                    "description": "The file.",
                    "content": {
                        "text/css": {"schema": {"type": "string"}},
                        "text/javascript": {"schema": {"type": "string"}},
                        "image/png": {"schema": {"type": "string", "contentMediaType": "image/png"}},
                    },
                },
                **_errors(400, 404),
            },
        }
    }


def _static_path(prefix: str, operation_id: str) -> dict[str, Any]:
    return {
        "get": {
            "tags": ["Service"],
            "summary": f"A static file of the HTML pages ({prefix}/)",
            "description": "Stylesheets and images of the HTML pages.",
            "operationId": operation_id,
            "parameters": [
                {
                    "name": "filename",
                    "in": "path",
                    "required": True,
                    "description": "The file's path in the static folder.",
                    "schema": NAME_SCHEMA,
                }
            ],
            "responses": {
                "200": {"description": "The file, with the media type of its extension.", "content": {"*/*": {}}},
                **_errors(400, 404),
            },
        }
    }


def _npm_path() -> dict[str, Any]:
    path = _static_path("/assets/npm", "uiLibrary")
    path["get"]["summary"] = "A browser library of the HTML pages (/assets/npm/), installed from npm"
    path["get"]["description"] = (
        "YASGUI and Cytoscape.js as `make static` installed them from the npm registry (package-lock.json), "
        "served with a one-year immutable cache lifetime; the pages ask for them with ?v={version}. 404 when "
        "they are not installed (the pages work without them)."
    )
    return path


def _editor_path() -> dict[str, Any]:
    return {
        "get": {
            "tags": ["Service"],
            "summary": "Configuration of the query page's SPARQL editor",
            "description": (
                "What the editor (YASGUI) completes and offers: the endpoint, the project's prefixes, the "
                "ontology's classes and properties and the entities' labels as [IRI, label] pairs, and the canned "
                "questions (name, summary, topic, query text)."
            ),
            "operationId": "editorConfig",
            "responses": {"200": {"description": "The configuration.", "content": {"application/json": {}}}},
        }
    }


def _search_page_path() -> dict[str, Any]:
    page = _html_page(
        "Search page",
        "The resources whose label holds every word of q (the home page's search box without JavaScript).",
        "searchPage",
    )
    words = {"name": "q", "in": "query", "required": False, "description": "Words of a label."}
    page["get"]["parameters"] = [{**words, "schema": {"type": "string"}}]
    return page


def _page_errors(*statuses: int) -> dict[str, Any]:
    """Refusals shown on the query page itself: the page, with the message, under the refusal's status."""
    return {
        str(status): {"description": f"{_ERROR_RESPONSES[status][1]} Shown on the page.", "content": _HTML}
        for status in statuses
    }


def _query_page_path() -> dict[str, Any]:
    description = (
        "An HTML form to write a SPARQL query and see its results as a table, with links to download them in "
        "every format. The query is sent like a SPARQL Protocol request (by GET in the URL or by a form POST) "
        "and runs under the same limits as at /sparql."
    )
    page = {"description": "The page, with the results or the error if a query was sent.", "content": _HTML}
    return {
        "get": {
            "tags": ["Service"],
            "summary": "Query page",
            "description": description,
            "operationId": "queryPage",
            "parameters": [
                {
                    "name": "query",
                    "in": "query",
                    "required": False,
                    "description": "A SPARQL query to run and show.",
                    "schema": {"type": "string"},
                },
                {
                    "name": "example",
                    "in": "query",
                    "required": False,
                    "description": "The name of a canned query to fill the form with.",
                    "schema": {"type": "string"},
                },
                *_DATASET_PARAMETERS,
            ],
            "responses": {"200": page, **_page_errors(400, 403, 503), **_errors(404)},
        },
        "post": {
            "tags": ["Service"],
            "summary": "Query page: run the query of the form",
            "description": description,
            "operationId": "queryPagePost",
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "required": ["query"],
                            "properties": {"query": {"type": "string", "description": "The SPARQL query."}},
                        }
                    }
                },
            },
            "responses": {"200": page, **_page_errors(400, 403, 413, 415, 503)},
        },
    }


_RDF_TERM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "value"],
    "properties": {
        "type": {"enum": ["uri", "literal", "bnode"]},
        "value": {"type": "string"},
        "xml:lang": {"type": "string"},
        "datatype": {"type": "string", "format": "iri"},
    },
}

_SPARQL_RESULTS_SCHEMA: dict[str, Any] = {
    "description": "SPARQL 1.1 Query Results JSON: variables and bindings (SELECT) or a boolean (ASK).",
    "type": "object",
    "required": ["head"],
    "properties": {
        "head": {"type": "object", "properties": {"vars": {"type": "array", "items": {"type": "string"}}}},
        "results": {
            "type": "object",
            "properties": {
                "bindings": {
                    "type": "array",
                    "items": {"type": "object", "additionalProperties": _RDF_TERM_SCHEMA},
                }
            },
        },
        "boolean": {"type": "boolean"},
    },
}

_CANNED_QUERY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "summary", "description", "form", "parameters", "formats", "sparql", "links"],
    "properties": {
        "name": {"type": "string", "description": "The query's name: GET /queries/{name} runs it."},
        "summary": {"type": "string"},
        "description": {"type": "string"},
        "form": {"enum": ["SELECT", "ASK", "CONSTRUCT", "DESCRIBE"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "parameters": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "type", "description", "default", "required"],
                "properties": {
                    "name": {"type": "string"},
                    "type": {"enum": sorted(PARAM_TYPES)},
                    "description": {"type": "string"},
                    "default": {"type": ["string", "null"]},
                    "required": {
                        "type": "boolean",
                        "description": "The query needs a value: the request's, else the default.",
                    },
                },
            },
        },
        "formats": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"format": {"type": "string"}, "media_type": {"type": "string"}},
            },
        },
        "sparql": {"type": "string", "description": "The query's text, with its #+ header."},
        "links": {
            "type": "object",
            "properties": {"run": {"type": "string"}, "openapi": {"type": "string"}},
        },
    },
}

_LOOKUP_HIT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["iri", "label", "type", "matched", "match"],
    "properties": {
        "iri": {"type": "string", "format": "iri"},
        "label": {"type": "string", "description": "The entity's preferred label."},
        "type": {
            "description": "The entity's most specific class of the ontology.",
            "oneOf": [
                {
                    "type": "object",
                    "required": ["iri", "label"],
                    "properties": {"iri": {"type": "string", "format": "iri"}, "label": {"type": "string"}},
                },
                {"type": "null"},
            ],
        },
        "matched": {"type": "string", "description": "The label, synonym, code or code term that matched."},
        "match": {
            "description": "How it matched.",
            "enum": list(MATCH_KINDS),
        },
    },
}
