"""OpenAPI paths of the service routes and pages: health, metrics, this document, assets, the web pages."""

from __future__ import annotations

from typing import Any

from calcinosis_kg.server.views.openapi.parts import (
    DATASET_PARAMETERS,
    ERROR_RESPONSES,
    HTML_CONTENT,
    INITIALIZER,
    NAME_SCHEMA,
    SWAGGER_UI_ASSETS,
    error_responses,
    html_page,
)


def metrics_path() -> dict[str, Any]:
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


def health_path() -> dict[str, Any]:
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


def openapi_path() -> dict[str, Any]:
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


def asset_path() -> dict[str, Any]:
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
                **error_responses(400, 404),
            },
        }
    }


def static_path(prefix: str, operation_id: str) -> dict[str, Any]:
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
                **error_responses(400, 404),
            },
        }
    }


def npm_path() -> dict[str, Any]:
    path = static_path("/assets/npm", "uiLibrary")
    path["get"]["summary"] = "A browser library of the HTML pages (/assets/npm/), installed from npm"
    path["get"]["description"] = (
        "YASGUI and Cytoscape.js as `make static` installed them from the npm registry (package-lock.json), "
        "served with a one-year immutable cache lifetime; the pages ask for them with ?v={version}. 404 when "
        "they are not installed (the pages work without them)."
    )
    return path


def editor_path() -> dict[str, Any]:
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


def search_page_path() -> dict[str, Any]:
    page = html_page(
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
        str(status): {"description": f"{ERROR_RESPONSES[status][1]} Shown on the page.", "content": HTML_CONTENT}
        for status in statuses
    }


def query_page_path() -> dict[str, Any]:
    description = (
        "An HTML form to write a SPARQL query and see its results as a table, with links to download them in "
        "every format. The query is sent like a SPARQL Protocol request (by GET in the URL or by a form POST) "
        "and runs under the same limits as at /sparql."
    )
    page = {"description": "The page, with the results or the error if a query was sent.", "content": HTML_CONTENT}
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
                *DATASET_PARAMETERS,
            ],
            "responses": {"200": page, **_page_errors(400, 403, 503), **error_responses(404)},
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
