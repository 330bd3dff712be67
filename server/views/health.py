"""``/health``: a liveness check for load balancers and for the tests' server fixture."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, Response, jsonify

from calcinosis_kg.server.resources.data import DatasetSummary

if TYPE_CHECKING:
    from calcinosis_kg.server.engines.store_client import StoreClient


def make_health_blueprint(summary: DatasetSummary, store: StoreClient | None = None) -> Blueprint:
    """The blueprint answering ``GET /health`` with ``{"status": "ok", "triples": N}``.

    With a remote store (``KG_ENGINE=sparql``) the answer also gives the store's URL and state, and is a 503
    with ``"status": "store unavailable"`` while the store does not answer.
    """
    blueprint = Blueprint("health", __name__)

    @blueprint.get("/health")
    def health() -> Response | tuple[Response, int]:
        if store is None:
            return jsonify(status="ok", triples=summary.triples)
        problem = store.probe()
        state = {"url": store.url, "state": "up" if problem is None else "down"}
        if problem is None:
            return jsonify(status="ok", triples=summary.triples, store=state)
        return jsonify(status="store unavailable", triples=summary.triples, store={**state, "error": problem}), 503

    return blueprint
