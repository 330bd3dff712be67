"""OpenAPI paths of the query routes: the SPARQL endpoint, the canned queries and lookup."""

from __future__ import annotations

from typing import Any

from calcinosis_kg.ontology import PREFIXES
from calcinosis_kg.queries.catalog import ABSOLUTE_IRI, CannedQuery, Parameter
from calcinosis_kg.server.http.formats import Family
from calcinosis_kg.server.views.lookup import DEFAULT_LIMIT, MAX_LIMIT, MAX_QUERY_LENGTH
from calcinosis_kg.server.views.openapi.parts import (
    DATASET_PARAMETERS,
    component_ref,
    error_responses,
    format_parameter_of,
    media_types,
)
from calcinosis_kg.server.views.queries import FORMAT_PARAMETER, answer_family


def sparql_path() -> dict[str, Any]:
    answers = {**media_types(Family.RESULTS), **media_types(Family.GRAPH)}
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
                *DATASET_PARAMETERS,
                component_ref("parameters", "resultFormat"),
            ],
            "responses": {"200": ok, **error_responses(400, 403, 406, 500, 503)},
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
            "parameters": [*DATASET_PARAMETERS, component_ref("parameters", "resultFormat")],
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {"schema": form},
                    "application/sparql-query": {"schema": {"type": "string"}},
                },
            },
            "responses": {"200": ok, **error_responses(400, 403, 406, 413, 415, 500, 503)},
        },
    }


def queries_list_path() -> dict[str, Any]:
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
                                "properties": {
                                    "queries": {"type": "array", "items": component_ref("schemas", "CannedQuery")}
                                },
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


def canned_query_path(query: CannedQuery) -> dict[str, Any]:
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
                    "content": media_types(family),
                },
                **error_responses(400, 406, 500, 503),
            },
        }
    }


def lookup_path() -> dict[str, Any]:
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
                        "application/json": {
                            "schema": {"type": "array", "items": component_ref("schemas", "LookupHit")}
                        }
                    },
                },
                **error_responses(400),
            },
        }
    }
