"""Building blocks of the OpenAPI document: references, error responses, format parameters, media types, schemas."""

from __future__ import annotations

from typing import Any

from calcinosis_kg.queries.catalog import PARAM_TYPES
from calcinosis_kg.server.http.formats import FORMATS, Family, ResultFormat, formats_of
from calcinosis_kg.server.resources.labels import MATCH_KINDS
from calcinosis_kg.server.views.queries import FORMAT_PARAMETER

SWAGGER_UI_ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "favicon-16x16.png")
"""The files of Swagger UI that ``/api/<asset>`` serves (those the page uses)."""


INITIALIZER = "swagger-initializer.js"
"""The script starting Swagger UI on ``/openapi.json``, written by the server (the page has no inline script)."""

_TEXT = {"text/plain": {"schema": {"type": "string"}}}
HTML_CONTENT = {"text/html": {"schema": {"type": "string"}}}


JSON_LD_SCHEMA: dict[str, Any] = {
    "description": "JSON-LD: a top-level array of node objects (expanded form), or an object with a context.",
    "type": ["array", "object"],
}


NAME_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1, "pattern": "^[^\\x00-\\x1f\\x7f-\\x9f]+$"}
"""A name in a path: not empty, no control character (a path with one gets a 400)."""


def component_ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def error_responses(*statuses: int) -> dict[str, Any]:
    return {str(status): component_ref("responses", ERROR_RESPONSES[status][0]) for status in statuses}


ERROR_RESPONSES: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "The request is invalid; the body says what to change."),
    403: ("Forbidden", "Refused by policy: SPARQL Update (the endpoint is read-only) or SERVICE (no federation)."),
    404: ("NotFound", "No such resource."),
    406: ("NotAcceptable", "No acceptable format for this answer; the body lists the available ones."),
    413: ("PayloadTooLarge", "The request body is over the size limit (KG_MAX_BODY)."),
    415: ("UnsupportedMediaType", "The POST body's content type or charset is not supported."),
    500: ("InternalError", "The server failed; the details are in its log."),
    503: ("Unavailable", "The query reached the time limit, or every query worker stayed busy; retry later."),
}


def components() -> dict[str, Any]:
    responses: dict[str, Any] = {
        name: {"description": description, "content": _TEXT} for name, description in ERROR_RESPONSES.values()
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
    return component_ref("parameters", "resultsFormat" if family is Family.RESULTS else "graphFormat")


def _names(family: Family) -> str:
    return ", ".join(f"`{fmt.key}` ({fmt.media_type})" for fmt in formats_of(family))


def media_types(family: Family) -> dict[str, Any]:
    """The content of a 200 response in every format of ``family``."""
    content: dict[str, Any] = {}
    for fmt in formats_of(family):
        if fmt.media_type == "application/sparql-results+json":
            content[fmt.media_type] = {"schema": component_ref("schemas", "SparqlResults")}
        elif fmt.media_type == "application/ld+json":
            content[fmt.media_type] = {"schema": JSON_LD_SCHEMA}
        else:
            content[fmt.media_type] = {"schema": {"type": "string"}}
    return content


def html_page(summary: str, description: str, operation_id: str) -> dict[str, Any]:
    return {
        "get": {
            "tags": ["Service"],
            "summary": summary,
            "description": description,
            "operationId": operation_id,
            "responses": {"200": {"description": "The page.", "content": HTML_CONTENT}},
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


DATASET_PARAMETERS = (
    _graph_uri_parameter(
        "default-graph-uri", "A graph of the dataset to merge into the default graph (repeatable; replaces FROM)."
    ),
    _graph_uri_parameter("named-graph-uri", "A named graph of the dataset (repeatable; replaces FROM NAMED)."),
)


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
