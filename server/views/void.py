"""The VoID description and the dumps as routes (what they hold: :mod:`~calcinosis_kg.server.resources.void`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, request

from calcinosis_kg.server.http.conditional import RANGES
from calcinosis_kg.server.http.formats import Family, choose_format
from calcinosis_kg.server.http.openapi import (
    JSON_LD_SCHEMA,
    error_responses,
    format_parameter_of,
    media_types,
    operation,
    parameter,
)
from calcinosis_kg.server.resources.data import DatasetSummary
from calcinosis_kg.server.resources.void import (
    DUMP_EXTENSIONS,
    DUMP_NAME,
    DatasetDumps,
    DatasetStatistics,
    void_description,
)
from calcinosis_kg.server.sparql.results import write_graph

DUMP_FILES: dict[str, str] = {f"{DUMP_NAME}.{extension}": fmt.media_type for extension, fmt in DUMP_EXTENSIONS}
"""The downloadable dumps (``/dumps/<file>``) and their media types."""


def make_void_blueprint(statistics: DatasetStatistics, dumps: DatasetDumps, summary: DatasetSummary) -> Blueprint:
    """``GET /.well-known/void`` (any RDF format, by ``Accept`` or ``format``; the named graphs of ``summary`` as
    subsets) and ``GET /dumps/<file>``."""
    blueprint = Blueprint("void", __name__)

    @blueprint.get("/.well-known/void")
    def void() -> Response:
        fmt = choose_format(request.headers.get("Accept"), request.args.getlist("format"), Family.GRAPH)
        body = write_graph(fmt, void_description(statistics, dumps, request.url_root, summary.named_graphs))
        return Response(body, content_type=fmt.content_type, headers={"Vary": "Accept"})

    @blueprint.get("/dumps/<filename>")
    def dump(filename: str) -> Response:
        found = dumps.get(filename)
        if found is None:
            abort(404, f"No dump {filename!r}; there are {', '.join(d.filename for d in dumps.dumps)}.")
        return Response(found.body, content_type=found.fmt.content_type, headers={"Accept-Ranges": RANGES})

    return blueprint


def openapi_paths() -> dict[str, Any]:
    """The OpenAPI paths of ``/.well-known/void`` and ``/dumps/{file}``."""
    void = operation(
        "Linked data",
        "The VoID description of the dataset",
        "void",
        {
            "200": {"description": "The VoID description.", "content": media_types(Family.GRAPH)},
            **error_responses(400, 406),
        },
        description="The dataset's VoID description (size, vocabularies, dumps, SPARQL endpoint), negotiated.",
        parameters=[format_parameter_of(Family.GRAPH)],
    )
    dump_content = {
        media: {"schema": JSON_LD_SCHEMA if media == "application/ld+json" else {"type": "string"}}
        for media in DUMP_FILES.values()
    }
    dump = operation(
        "Linked data",
        "Download the whole graph",
        "dump",
        {
            "200": {"description": "The dump, in the format of its extension.", "content": dump_content},
            **error_responses(400, 404),
        },
        description="The built graph in one file: "
        + ", ".join(f"`{name}` ({media})" for name, media in DUMP_FILES.items())
        + ".",
        parameters=[parameter("file", "path", "The dump's file name.", {"type": "string", "enum": list(DUMP_FILES)})],
    )
    return {"/.well-known/void": {"get": void}, "/dumps/{file}": {"get": dump}}
