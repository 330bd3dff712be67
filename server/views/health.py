"""``/health``: a liveness check for load balancers and for the tests' server fixture."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from calcinosis_kg.server.resources.data import DatasetSummary


def make_health_blueprint(summary: DatasetSummary) -> Blueprint:
    """The blueprint answering ``GET /health`` with ``{"status": "ok", "triples": N}``."""
    blueprint = Blueprint("health", __name__)

    @blueprint.get("/health")
    def health() -> Response:
        return jsonify(status="ok", triples=summary.triples)

    return blueprint
