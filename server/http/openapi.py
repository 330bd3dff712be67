"""Building blocks of the OpenAPI 3.1 document, shared by the modules that describe their own routes.

Each module with routes has an ``openapi_paths()`` next to them, written with these helpers (operations,
parameters, error responses, the media types of a family of formats); :mod:`~calcinosis_kg.server.views.openapi`
collects them. The JSON payloads are described by the typed models the views return (dataclasses):
:func:`payload_schemas` generates their JSON Schemas with pydantic, so a payload is written once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from calcinosis_kg.server.http.formats import FORMAT_PARAMETER, FORMATS, Family, ResultFormat, formats_of

TEXT_CONTENT = {"text/plain": {"schema": {"type": "string"}}}
HTML_CONTENT = {"text/html": {"schema": {"type": "string"}}}


JSON_LD_SCHEMA: dict[str, Any] = {
    "description": "JSON-LD: a top-level array of node objects (expanded form), or an object with a context.",
    "type": ["array", "object"],
}


NAME_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1, "pattern": "^[^\\x00-\\x1f\\x7f-\\x9f]+$"}
"""A name in a path: not empty, no control character (a path with one gets a 400)."""


IRIS_SCHEMA: dict[str, Any] = {"type": "array", "items": {"type": "string", "format": "iri"}}


def component_ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def schema_ref(model: type) -> dict[str, str]:
    """A reference to the schema of a payload model (one of those given to :func:`components`)."""
    return component_ref("schemas", model.__name__)


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def operation(
    tag: str,
    summary: str,
    operation_id: str,
    responses: dict[str, Any],
    *,
    description: str | None = None,
    parameters: Iterable[dict[str, Any]] = (),
    request_body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An operation object; the keys left out when empty."""
    found: dict[str, Any] = {"tags": [tag], "summary": summary}
    if description is not None:
        found["description"] = description
    found["operationId"] = operation_id
    if parameters := list(parameters):
        found["parameters"] = parameters
    if request_body is not None:
        found["requestBody"] = request_body
    found["responses"] = responses
    return found


def parameter(
    name: str, where: str, description: str, schema: dict[str, Any], *, required: bool = False, **more: Any
) -> dict[str, Any]:
    """A parameter object (``where``: ``query`` or ``path``; a path parameter is always required)."""
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "description": description,
        "schema": schema,
        **more,
    }


ERROR_RESPONSES: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "The request is invalid; the body says what to change."),
    403: ("Forbidden", "Refused by policy: SPARQL Update (the endpoint is read-only) or SERVICE (no federation)."),
    404: ("NotFound", "No such resource."),
    406: ("NotAcceptable", "No acceptable format for this answer; the body lists the available ones."),
    413: ("PayloadTooLarge", "The request body is over the size limit (KG_MAX_BODY)."),
    415: ("UnsupportedMediaType", "The POST body's content type or charset is not supported."),
    429: (
        "TooManyRequests",
        "This client already has as many queries running and waiting as one client may (KG_CLIENT_CONCURRENCY); "
        "retry when one has been answered.",
    ),
    500: ("InternalError", "The server failed; the details are in its log."),
    503: ("Unavailable", "The query reached the time limit, or every query worker stayed busy; retry later."),
}


def error_responses(*statuses: int) -> dict[str, Any]:
    return {str(status): component_ref("responses", ERROR_RESPONSES[status][0]) for status in statuses}


def components(payloads: Iterable[type]) -> dict[str, Any]:
    """The document's components: error responses, format parameters, SPARQL results and the ``payloads``."""
    responses: dict[str, Any] = {
        name: {"description": description, "content": TEXT_CONTENT} for name, description in ERROR_RESPONSES.values()
    }
    responses["Unavailable"]["headers"] = {
        "Retry-After": {"description": "Seconds to wait (when every worker was busy).", "schema": {"type": "integer"}}
    }
    responses["TooManyRequests"]["headers"] = {
        "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
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
        "schemas": {"SparqlResults": _SPARQL_RESULTS_SCHEMA, **payload_schemas(payloads)},
    }


def payload_schemas(models: Iterable[type]) -> dict[str, Any]:
    """The JSON Schemas of ``models`` (dataclasses) and of the models they hold, by class name.

    Field docstrings become descriptions; the references point into ``#/components/schemas``.
    """
    # imported here: pydantic is only needed to write /openapi.json, not to start the server
    from pydantic import ConfigDict, TypeAdapter
    from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode

    class _Untitled(GenerateJsonSchema):
        def field_title_should_be_set(self, schema: Any) -> bool:
            return False  # the property's name says it

    # a list of each: pydantic takes a config for a list of dataclasses, not for a dataclass itself
    config = ConfigDict(use_attribute_docstrings=True)
    mode: JsonSchemaMode = "serialization"
    inputs = [(model, mode, TypeAdapter(list[model], config=config)) for model in models]  # type: ignore[valid-type]
    _, definitions = TypeAdapter.json_schemas(
        inputs, ref_template="#/components/schemas/{model}", schema_generator=_Untitled
    )
    return dict(definitions.get("$defs", {}))


def _format_parameter(description: str, formats: tuple[ResultFormat, ...]) -> dict[str, Any]:
    """The ``format`` parameter taking the names and media types of ``formats`` in any case (others: a 400)."""
    names = sorted({name for fmt in formats for name in fmt.identifiers})
    examples = {fmt.key: {"value": fmt.key} for fmt in formats}
    schema = {"type": "string", "pattern": f"^({'|'.join(map(_any_case, names))})$"}
    return parameter(FORMAT_PARAMETER, "query", description, schema, examples=examples)


def _any_case(name: str) -> str:
    """A regular expression matching ``name`` in any case: ``[jJ][sS][oO][nN]`` (names and media types are
    case-insensitive)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else "\\" + c if c in ".+" else c for c in name)


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


def html_page(summary: str, description: str, operation_id: str, *parameters: dict[str, Any]) -> dict[str, Any]:
    """The path item of an HTML page answering GET."""
    ok = {"200": {"description": "The page.", "content": HTML_CONTENT}}
    return {"get": operation("Service", summary, operation_id, ok, description=description, parameters=parameters)}


DATASET_PARAMETERS = (
    parameter(
        "default-graph-uri",
        "query",
        "A graph of the dataset to merge into the default graph (repeatable; replaces FROM).",
        IRIS_SCHEMA,
        style="form",
        explode=True,
    ),
    parameter(
        "named-graph-uri",
        "query",
        "A named graph of the dataset (repeatable; replaces FROM NAMED).",
        IRIS_SCHEMA,
        style="form",
        explode=True,
    ),
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
"""The W3C's SPARQL results JSON (written by pyoxigraph, not by a model of ours)."""
