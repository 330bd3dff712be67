"""OpenAPI paths of the data: dereferenced IRIs, the ontology, VoID and the dumps."""

from __future__ import annotations

from typing import Any

from calcinosis_kg.server.http.formats import Family
from calcinosis_kg.server.resources.void import DUMP_EXTENSIONS, DUMP_NAME
from calcinosis_kg.server.views.openapi.parts import (
    HTML_CONTENT,
    JSON_LD_SCHEMA,
    NAME_SCHEMA,
    error_responses,
    format_parameter_of,
    media_types,
)

DUMP_FILES: dict[str, str] = {f"{DUMP_NAME}.{extension}": fmt.media_type for extension, fmt in DUMP_EXTENSIONS}
"""The downloadable dumps (``/dumps/<file>``) and their media types."""


def _rdf_and_html() -> dict[str, Any]:
    return {**HTML_CONTENT, **media_types(Family.GRAPH)}


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
        **(error_responses(400) if named else {}),
        "404": {
            "description": "No such resource: an HTML page, or an empty RDF document that parses.",
            "content": _rdf_and_html(),
        },
        **error_responses(406),
    }


def resource_path(name: str, what: str, operation_id: str, description: str) -> dict[str, Any]:
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


def ontology_path(operation_id: str, summary: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
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


def void_path() -> dict[str, Any]:
    return {
        "get": {
            "tags": ["Linked data"],
            "summary": "The VoID description of the dataset",
            "description": "The dataset's VoID description (size, vocabularies, dumps, SPARQL endpoint), negotiated.",
            "operationId": "void",
            "parameters": [format_parameter_of(Family.GRAPH)],
            "responses": {
                "200": {"description": "The VoID description.", "content": media_types(Family.GRAPH)},
                **error_responses(400, 406),
            },
        }
    }


def dumps_path() -> dict[str, Any]:
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
                        media: {"schema": JSON_LD_SCHEMA if media == "application/ld+json" else {"type": "string"}}
                        for media in DUMP_FILES.values()
                    },
                },
                **error_responses(400, 404),
            },
        }
    }
