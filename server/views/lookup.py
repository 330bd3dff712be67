"""``GET /lookup``: labels, synonyms and codes to entities (the index: :mod:`~.resources.labels`)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request

from calcinosis_kg.server.errors import ProtocolError
from calcinosis_kg.server.http.openapi import error_responses, json_content, operation, parameter, schema_ref
from calcinosis_kg.server.resources.labels import MATCH_KINDS, LabelIndex, LookupHit

DEFAULT_LIMIT = 10


MAX_LIMIT = 100


MAX_QUERY_LENGTH = 200
"""Longest accepted ``q``, in characters."""


class InvalidLookup(ProtocolError):
    """``q`` or ``limit`` of a lookup is missing, repeated or invalid (400)."""


def make_lookup_blueprint(index: LabelIndex | Callable[[], LabelIndex]) -> Blueprint:
    """The blueprint answering ``GET /lookup?q=TEXT&limit=N`` from ``index`` with a JSON list of hits.

    ``index`` may be a function that builds it: it is then called once, by the first lookup of each server
    process (building it took half of the app's start-up, which ``/health`` and queries do not need).
    ``q`` (required, at most 200 characters, not blank) and ``limit`` (1 to 100, default 10) are validated:
    :class:`InvalidLookup` (400) otherwise.
    """
    blueprint = Blueprint("lookup", __name__)
    built = index if isinstance(index, LabelIndex) else None
    lock = threading.Lock()

    def the_index() -> LabelIndex:
        nonlocal built
        if built is None:
            with lock:
                if built is None:
                    assert not isinstance(index, LabelIndex)
                    built = index()
        return built

    @blueprint.get("/lookup")
    def lookup() -> Response:
        text = _single("q", request.args.getlist("q"))
        if text is None or not text.strip():
            raise InvalidLookup("Give the text to look up as the parameter q (e.g. /lookup?q=lupus).")
        if len(text) > MAX_QUERY_LENGTH:
            raise InvalidLookup(f"The parameter q is longer than {MAX_QUERY_LENGTH} characters.")
        unknown = sorted(set(request.args) - {"q", "limit"})
        if unknown:
            raise InvalidLookup(f"Unknown parameter(s) {', '.join(unknown)}: /lookup takes q and limit.")
        limit = _limit(_single("limit", request.args.getlist("limit")))
        return jsonify([hit.as_json() for hit in the_index().search(text, limit)])

    return blueprint


def _single(name: str, values: list[str]) -> str | None:
    if len(values) > 1:
        raise InvalidLookup(f"The parameter {name} is given {len(values)} times; give it once.")
    return values[0] if values else None


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not re.fullmatch(r"\d{1,3}", value.strip()) or not 1 <= int(value) <= MAX_LIMIT:
        raise InvalidLookup(f"The parameter limit must be an integer from 1 to {MAX_LIMIT}, got {value!r}.")
    return int(value)


OPENAPI_PAYLOADS = (LookupHit,)


def openapi_paths() -> dict[str, Any]:
    """The OpenAPI path of ``/lookup``."""
    hits = {"type": "array", "items": schema_ref(LookupHit)}
    text = {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_LENGTH}
    limit = {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}
    lookup = operation(
        "Lookup",
        "Find entities by label, synonym or code",
        "lookup",
        {
            "200": {"description": "The matching entities, best first.", "content": json_content(hits)},
            **error_responses(400),
        },
        description=(
            "Case-insensitive lookup over preferred labels, synonyms, mapped codes (any form of a code: "
            "SCTID:6595006, 6595006, the code's IRI...) and the code systems' terms, matching whole texts, "
            "prefixes (for autocompletion), word starts and substrings. Each entity appears once, for its best "
            f"match. Ranking: {', '.join(MATCH_KINDS)}; ties by label."
        ),
        parameters=[
            parameter(
                "q",
                "query",
                "The text to look for: a label, synonym, the start of one, or a code.",
                text,
                required=True,
                example="lupus",
            ),
            parameter("limit", "query", "The most entities to return.", limit),
        ],
    )
    return {"/lookup": {"get": lookup}}
