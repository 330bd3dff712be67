"""``/health``: a liveness check for load balancers and for the tests' server fixture.

It also says whether the counters of ``/metrics`` are complete: ``"metrics": "degraded: ..."`` when a process
could not allocate its metrics file, or the metrics folder has no room for a new worker's (a full ``$TMPDIR``).
The server keeps serving then, so the status stays 200: a load balancer must not take a replica out for it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from flask import Blueprint, Response, jsonify

from calcinosis_kg.server.http.openapi import json_content, operation, schema_ref
from calcinosis_kg.server.resources.data import DatasetSummary

if TYPE_CHECKING:
    from calcinosis_kg.server.engines.store_client import StoreClient
    from calcinosis_kg.server.http.metrics import Metrics


@dataclass(frozen=True, slots=True)
class StoreState:
    """The remote store's state (``KG_ENGINE=sparql`` only)."""

    url: str
    state: Literal["up", "down"]
    error: str | None = None
    """Why the store does not answer (when it is down)."""


@dataclass(frozen=True, slots=True)
class Health:
    """The server's state."""

    status: Literal["ok", "store unavailable"]
    triples: int
    """The number of triples served (all graphs together)."""
    store: StoreState | None = None
    """The remote store, when the server queries one."""
    metrics: str = "ok"
    """``ok``, or ``degraded: ...`` saying which counts are kept in a process's memory only (not in /metrics)."""

    def as_json(self) -> dict[str, Any]:
        """The payload, leaving out what is not set (no store, no error)."""
        return _set_fields(asdict(self))


def _set_fields(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        key: _set_fields(value) if isinstance(value, dict) else value
        for key, value in payload.items()
        if value is not None
    }


def make_health_blueprint(
    summary: DatasetSummary, store: StoreClient | None = None, metrics: Metrics | None = None
) -> Blueprint:
    """The blueprint answering ``GET /health`` with ``{"status": "ok", "triples": N, "metrics": "ok"}``.

    ``metrics`` is :meth:`Metrics.state <calcinosis_kg.server.http.metrics.Metrics.state>`: ``ok`` or
    ``degraded: ...``, which leaves the status 200.

    With a remote store (``KG_ENGINE=sparql``) the answer also gives the store's URL and state, and is a 503
    with ``"status": "store unavailable"`` while the store does not answer.
    """
    blueprint = Blueprint("health", __name__)

    @blueprint.get("/health")
    def health() -> Response | tuple[Response, int]:
        counted = "ok" if metrics is None else metrics.state()
        if store is None:
            return jsonify(Health("ok", summary.triples, metrics=counted).as_json())
        problem = store.probe()
        if problem is None:
            return jsonify(Health("ok", summary.triples, StoreState(store.url, "up"), counted).as_json())
        down = Health("store unavailable", summary.triples, StoreState(store.url, "down", problem), counted)
        return jsonify(down.as_json()), 503

    return blueprint


OPENAPI_PAYLOADS = (Health,)


def openapi_paths() -> dict[str, Any]:
    """The OpenAPI path of ``/health``."""
    up = {"description": "The server is up.", "content": json_content(schema_ref(Health))}
    health = operation(
        "Service",
        "Liveness check",
        "health",
        {"200": up},
        description=(
            "Answers when the server is up, with the number of triples served (all graphs together) and whether "
            "the counters of /metrics are complete (`degraded: ...` when the metrics folder is full; still 200)."
        ),
    )
    return {"/health": {"get": health}}
