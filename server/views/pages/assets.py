"""Browser libraries from npm (YASGUI, Cytoscape.js) and the pages' own scripts, served from this server.

``make static`` runs ``npm ci`` with the committed ``package-lock.json`` and copies the files the pages load
into ``server/views/static/npm/`` (git-ignored). They are served at ``/assets/npm/{file}?v={lock hash}`` with a
one-year, immutable cache lifetime: the query string changes whenever the lock file does. When the folder is
missing (no npm on the machine) the pages say so and work without them: every page is complete without
JavaScript.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, send_from_directory, url_for

from calcinosis_kg.server.http.openapi import NAME_SCHEMA, error_responses, operation, parameter

STATIC = Path(__file__).resolve().parent.parent / "static"
NPM = STATIC / "npm"
STAMP = NPM / ".stamp"
"""A copy of the ``package-lock.json`` the files came from (written last by ``make static``)."""
YEAR = 365 * 24 * 3600

YASGUI_JS = "yasgui.min.js"
YASGUI_CSS = "yasgui.min.css"
CYTOSCAPE_JS = "cytoscape.min.js"


@dataclass(frozen=True)
class Assets:
    """Which npm files are installed, and the version string that busts their cache."""

    folder: Path
    version: str

    @classmethod
    def find(cls, folder: Path | None = None) -> Assets:
        """The npm files of ``folder`` (by default ``server/views/static/npm``)."""
        folder = folder or NPM
        stamp = folder / ".stamp"
        version = hashlib.sha256(stamp.read_bytes()).hexdigest()[:12] if stamp.is_file() else "none"
        return cls(folder, version)

    def has(self, name: str) -> bool:
        """Whether ``name`` was installed by ``make static`` (checked on each call: it may run while serving)."""
        return (self.folder / name).is_file()

    def url(self, name: str) -> str:
        """The versioned URL of an installed npm file."""
        return url_for("ui.npm_asset", filename=name, v=self.version)

    @property
    def editor(self) -> bool:
        return self.has(YASGUI_JS) and self.has(YASGUI_CSS)

    @property
    def graph(self) -> bool:
        return self.has(CYTOSCAPE_JS)


@functools.lru_cache(maxsize=32)
def _digest(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def own_asset(name: str) -> str:
    """The URL of one of the pages' own files in ``server/views/static`` (versioned by its content)."""
    return url_for("ui.static", filename=name, v=_digest(name))


def add_npm_route(blueprint: Blueprint, assets: Assets) -> None:
    """``/assets/npm/{file}``: the installed npm files with a long cache lifetime."""

    @blueprint.get("/assets/npm/<path:filename>")
    def npm_asset(filename: str) -> Response:
        response = send_from_directory(assets.folder, filename, max_age=YEAR)
        response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
        return response


def openapi_paths() -> dict[str, Any]:
    """The OpenAPI paths of the pages' files: their own (``/assets/``), the npm libraries, Flask's ``/static/``."""

    def files(operation_id: str, summary: str, description: str) -> dict[str, Any]:
        name = parameter("filename", "path", "The file's path in the static folder.", NAME_SCHEMA)
        found = {"description": "The file, with the media type of its extension.", "content": {"*/*": {}}}
        responses = {"200": found, **error_responses(400, 404)}
        return {
            "get": operation("Service", summary, operation_id, responses, description=description, parameters=[name])
        }

    own = "Stylesheets and images of the HTML pages."
    return {
        "/assets/{filename}": files("uiAsset", "A static file of the HTML pages (/assets/)", own),
        "/assets/npm/{filename}": files(
            "uiLibrary",
            "A browser library of the HTML pages (/assets/npm/), installed from npm",
            "YASGUI and Cytoscape.js as `make static` installed them from the npm registry (package-lock.json), "
            "served with a one-year immutable cache lifetime; the pages ask for them with ?v={version}. 404 when "
            "they are not installed (the pages work without them).",
        ),
        "/static/{filename}": files("staticFile", "A static file of the HTML pages (/static/)", own),
    }
