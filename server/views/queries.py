"""The canned-query API: ``GET /queries`` lists the queries of ``queries/*.rq``, ``GET /queries/{name}`` runs one.

A canned query's declared parameters (see :mod:`calcinosis_kg.queries.catalog`) come from the URL's query
string, one value each; ``format`` is the only other parameter and, as at ``/sparql``, overrides ``Accept``.
Values are validated against their declared type by :meth:`CannedQuery.bindings` and handed to the query
worker as *initial bindings* of the query's variables (:attr:`Job.bindings`): they are never pasted into the
query text, so a value that looks like SPARQL is refused by its type's syntax (``iri``, ``curie``,
``integer``, ``code``) or bound as a plain literal (``string``). The query's own text then takes the same
path as a query sent to ``/sparql``: parsed and checked (no ``SERVICE``, no unknown graphs) in a worker
process, under the time limit and the row cap, and written in the negotiated format.

Refusals: an unknown query name is a 404; an unknown, repeated, missing or invalid parameter a 400
(:class:`InvalidParameter`, naming the parameter and what is wrong); the rest as at ``/sparql`` (406 when no
acceptable format exists for the query's kind of answer, 503 past the time limit).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import NotFound

from calcinosis_kg.errors import QueryError
from calcinosis_kg.ontology import PREFIXES
from calcinosis_kg.queries.catalog import ABSOLUTE_IRI, CannedQuery, Parameter, ParamType, QueryForm
from calcinosis_kg.server.engines.contract import Job
from calcinosis_kg.server.errors import ProtocolError
from calcinosis_kg.server.http.formats import FORMAT_PARAMETER, formats_of
from calcinosis_kg.server.http.openapi import (
    error_responses,
    format_parameter_of,
    json_content,
    media_types,
    operation,
    parameter,
    schema_ref,
)
from calcinosis_kg.server.http.replay import note_answer
from calcinosis_kg.server.resources.canned import CannedAnswers, answer_family
from calcinosis_kg.server.sparql.protocol import base_iri
from calcinosis_kg.server.workers.pool import QueryPool


class InvalidParameter(ProtocolError):
    """A canned query's parameter is unknown, repeated, missing or not a valid value of its type (400)."""


def check_catalog(catalog: Mapping[str, CannedQuery]) -> None:
    """Raise :class:`QueryError` if a canned query declares a parameter the API reserves (``format``)."""
    for query in catalog.values():
        if any(param.name == FORMAT_PARAMETER for param in query.params):
            raise QueryError(
                f"{query.name}.rq declares a parameter {FORMAT_PARAMETER!r}, a name the API reserves "
                "for the result format: rename it"
            )


@dataclass(frozen=True, slots=True)
class ParameterInfo:
    """A parameter of a canned query."""

    name: str
    type: ParamType
    description: str
    default: str | None
    required: bool
    """The query needs a value: the request's, else the default."""


@dataclass(frozen=True, slots=True)
class QueryLinks:
    """Where to go from a canned query."""

    run: str
    """The URL path running the query."""
    openapi: str
    """The URL path of the OpenAPI document describing it."""


@dataclass(frozen=True, slots=True)
class FormatInfo:
    """A format the query's answer can be written in: its short name (for the format parameter), its media type."""

    format: str
    media_type: str


@dataclass(frozen=True, slots=True)
class QueryInfo:
    """A canned query as GET /queries lists it."""

    name: str
    """The query's name: GET /queries/{name} runs it."""
    summary: str
    description: str
    form: QueryForm
    tags: list[str]
    parameters: list[ParameterInfo]
    formats: list[FormatInfo]
    sparql: str
    """The query's text, with its #+ header."""
    links: QueryLinks


def query_info(query: CannedQuery) -> QueryInfo:
    """A canned query as ``GET /queries`` lists it (inside a request: links are URL paths of this server)."""
    return QueryInfo(
        name=query.name,
        summary=query.summary,
        description=query.description,
        form=query.query_type,
        tags=list(query.tags),
        parameters=[ParameterInfo(p.name, p.type, p.description, p.default, p.required) for p in query.params],
        formats=[FormatInfo(fmt.key, fmt.media_type) for fmt in formats_of(answer_family(query))],
        sparql=query.sparql,
        links=QueryLinks(run=url_for("queries.run_query", name=query.name), openapi=url_for("openapi.openapi_json")),
    )


def make_queries_blueprint(
    pool: QueryPool, catalog: Mapping[str, CannedQuery], precomputed: CannedAnswers | None = None
) -> Blueprint:
    """The blueprint answering ``/queries`` and ``/queries/<name>`` with the queries of ``catalog``.

    Queries run in ``pool``; a request without parameters is answered from ``precomputed`` (a serving bundle's
    answers, :mod:`~calcinosis_kg.server.resources.canned`) when it holds the answer. The listing links to
    ``/openapi.json``, so the app also registers :func:`~calcinosis_kg.server.views.openapi.make_openapi_blueprint`.
    Raises :class:`QueryError` if a query declares the reserved ``format`` parameter.
    """
    check_catalog(catalog)
    blueprint = Blueprint("queries", __name__)

    @blueprint.get("/queries")
    def list_queries() -> Response:
        return jsonify(queries=[query_info(query) for query in catalog.values()])

    @blueprint.get("/queries/<name>")
    def run_query(name: str) -> Response:
        query = catalog.get(name)
        if query is None:
            raise NotFound(f"No canned query is named {name!r}; GET /queries lists them.")
        values = _parameter_values(query, request.args)
        try:
            bindings = query.bindings(values)
        except QueryError as error:
            raise InvalidParameter(str(error)) from error
        accept, formats = request.headers.get("Accept"), tuple(request.args.getlist(FORMAT_PARAMETER))
        answer = precomputed.answer(query, accept, formats) if precomputed is not None and not values else None
        if answer is None:
            job = Job(
                query=query.sparql,
                base=base_iri(request),
                accept=accept,
                formats=formats,
                bindings=tuple(sorted(bindings.items())),
            )
            answer = pool.run(job)
        origin = note_answer(request.environ, answer)
        return Response(answer.body, content_type=answer.content_type, headers=[("Vary", "Accept"), origin])

    return blueprint


def _parameter_values(query: CannedQuery, args: MultiDict[str, str]) -> dict[str, str]:
    """The request's value of each parameter it gives; InvalidParameter for unknown or repeated ones."""
    declared = {param.name for param in query.params}
    unknown = sorted(key for key in args if key not in declared and key != FORMAT_PARAMETER)
    if unknown:
        takes = ", ".join(f"{param.name} ({param.type})" for param in query.params) or "no parameters"
        raise InvalidParameter(
            f"Unknown parameter(s) {', '.join(unknown)} for canned query {query.name!r}: it takes {takes}, "
            f"and {FORMAT_PARAMETER} for the result format."
        )
    values: dict[str, str] = {}
    for name in declared:
        given = args.getlist(name)
        if len(given) > 1:
            raise InvalidParameter(f"Parameter {name!r} is given {len(given)} times; give it once.")
        if given:
            if not given[0].strip():
                param = next(param for param in query.params if param.name == name)
                default = f" to get the default, {param.default}" if param.default is not None else ""
                raise InvalidParameter(
                    f"Parameter {name!r} is empty: give a value of type {param.type} ({param.description}), "
                    f"or leave the parameter out{default}."
                )
            values[name] = given[0]
    return values


# --- OpenAPI ----------------------------------------------------------------------------------------------

OPENAPI_PAYLOADS = (QueryInfo,)


def openapi_paths(catalog: Mapping[str, CannedQuery]) -> dict[str, Any]:
    """The OpenAPI paths of ``/queries`` and of each canned query of ``catalog``."""
    listing = {
        "type": "object",
        "required": ["queries"],
        "properties": {"queries": {"type": "array", "items": schema_ref(QueryInfo)}},
    }
    listed = {"200": {"description": "The canned queries, by name.", "content": json_content(listing)}}
    return {
        "/queries": {
            "get": operation(
                "Canned queries",
                "List the canned queries",
                "listQueries",
                listed,
                description="Every canned query with its parameters, query form, result formats and SPARQL text.",
            )
        },
        **{f"/queries/{name}": {"get": _canned_query_operation(query)} for name, query in sorted(catalog.items())},
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


def _canned_query_operation(query: CannedQuery) -> dict[str, Any]:
    family = answer_family(query)
    description = query.description or query.summary
    parameters = [
        parameter(
            param.name,
            "query",
            f"{param.description.rstrip('.')}: {_TYPE_DESCRIPTIONS[param.type]} (type `{param.type}`)."
            + (f" Default: {param.default}." if param.default is not None else ""),
            parameter_schema(param),
            required=param.required and param.default is None,
        )
        for param in query.params
    ]
    answer = {
        "description": f"The {query.query_type} answer, as negotiated.",
        "headers": {"Vary": {"description": "Accept", "schema": {"type": "string"}}},
        "content": media_types(family),
    }
    return operation(
        "Canned queries",
        query.summary,
        "query" + "".join(part.capitalize() for part in query.name.replace("_", "-").split("-")),
        {"200": answer, **error_responses(400, 406, 429, 500, 503)},
        description=(
            f"{description}\n\n{query.query_type} query `{query.name}.rq`; its parameters are bound to the "
            "query variables of the same name, never pasted into its text. Parameters other than those listed "
            "are refused (400)."
        ),
        parameters=[*parameters, format_parameter_of(family)],
    )
