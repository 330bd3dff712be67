"""The OpenAPI 3.1 description of every route (``GET /openapi.json``) and the Swagger UI page on it (``/api``).

:func:`openapi_document` writes the document from what the server actually offers: the result formats of
:mod:`~calcinosis_kg.server.http.formats`, one path per canned query of the catalog with its typed parameters, and
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
from calcinosis_kg.queries.catalog import CannedQuery
from calcinosis_kg.server.fhir import capability
from calcinosis_kg.server.http import metrics
from calcinosis_kg.server.http.openapi import components, error_responses, html_page, operation, parameter
from calcinosis_kg.server.sparql import endpoint
from calcinosis_kg.server.views import health, linked_data, lookup, queries, ui, void
from calcinosis_kg.server.views.pages import assets

OPENAPI_VERSION = "3.1.0"

_ASSET_MAX_AGE = 86_400


SWAGGER_UI_ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "favicon-16x16.png")
"""The files of Swagger UI that ``/api/<asset>`` serves (those the page uses)."""

INITIALIZER = "swagger-initializer.js"
"""The script starting Swagger UI on ``/openapi.json``, written by the server (the page has no inline script)."""

PAYLOADS = (*queries.OPENAPI_PAYLOADS, *lookup.OPENAPI_PAYLOADS, *health.OPENAPI_PAYLOADS)
"""The typed models of the JSON payloads, whose schemas the document carries."""


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
        **ui.openapi_paths(),
        **endpoint.openapi_paths(),
        **queries.openapi_paths(catalog),
        **lookup.openapi_paths(),
        **capability.openapi_paths(),
        **linked_data.openapi_paths(),
        **void.openapi_paths(),
        **health.openapi_paths(),
        **metrics.openapi_paths(),
        **_own_paths(),
        **assets.openapi_paths(),
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
        "components": components(PAYLOADS),
    }


def _own_paths() -> dict[str, Any]:
    """The paths of this blueprint: the document and the API explorer with its files."""
    document = {
        "description": "The OpenAPI 3.1 document.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
    files = {
        "description": "The file.",
        "content": {
            "text/css": {"schema": {"type": "string"}},
            "text/javascript": {"schema": {"type": "string"}},
            "image/png": {"schema": {"type": "string", "contentMediaType": "image/png"}},
        },
    }
    asset = parameter(
        "asset", "path", "The file's name.", {"type": "string", "enum": [*SWAGGER_UI_ASSETS, INITIALIZER]}
    )
    return {
        "/openapi.json": {"get": operation("Service", "This OpenAPI description", "openapi", {"200": document})},
        "/api": html_page("API explorer", "This description rendered by Swagger UI.", "apiPage"),
        "/api/{asset}": {
            "get": operation(
                "Service",
                "A file of the API explorer (Swagger UI)",
                "apiAsset",
                {"200": files, **error_responses(400, 404)},
                parameters=[asset],
            )
        },
    }
