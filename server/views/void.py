"""The VoID description and the dumps as routes (what they hold: :mod:`~calcinosis_kg.server.resources.void`)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, request

from calcinosis_kg.server.http.formats import Family, choose_format
from calcinosis_kg.server.resources.void import DatasetDumps, DatasetStatistics, void_description
from calcinosis_kg.server.sparql.results import write_graph


def make_void_blueprint(statistics: DatasetStatistics, dumps: DatasetDumps) -> Blueprint:
    """``GET /.well-known/void`` (any RDF format, by ``Accept`` or ``format``) and ``GET /dumps/<file>``."""
    blueprint = Blueprint("void", __name__)

    @blueprint.get("/.well-known/void")
    def void() -> Response:
        fmt = choose_format(request.headers.get("Accept"), request.args.getlist("format"), Family.GRAPH)
        body = write_graph(fmt, void_description(statistics, dumps, request.url_root))
        return Response(body, content_type=fmt.content_type, headers={"Vary": "Accept"})

    @blueprint.get("/dumps/<filename>")
    def dump(filename: str) -> Response:
        found = dumps.get(filename)
        if found is None:
            abort(404, f"No dump {filename!r}; there are {', '.join(d.filename for d in dumps.dumps)}.")
        return Response(found.body, content_type=found.fmt.content_type)

    return blueprint
