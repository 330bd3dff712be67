"""What an operator watches: ``/metrics`` in Prometheus' text format, summed over every process of the server.

The server runs several processes (granian workers, each with its query workers), so each process writes its
values to files in one directory (``KG_METRICS_DIR``, or a fresh temporary one made by :func:`Metrics.create`
before any worker is forked, removed when the server exits) in ``prometheus_client``'s multiprocess format, and
``/metrics`` adds them up with its ``MultiProcessCollector``. The files are written by :mod:`.metrics_store`,
allocated before they are written, so a full temporary filesystem leaves counts in memory (and ``/health``
says ``"metrics": "degraded: ..."``) where prometheus_client's own writer died of SIGBUS. Counted:

- ``kg_http_requests_total{route,status}``: requests answered by the app (route = its URL rule);
- ``kg_query_seconds``: run time of the queries that reached a query worker (histogram);
- ``kg_query_limits_total{limit}``: queries stopped by a limit (``time``, ``memory``, ``answer_size``,
  ``queue``, ``busy``, ``size``, ``client``);
- ``kg_query_worker_restarts_total{reason}``: query workers replaced (``time``, ``memory``, ``lost``, ``idle``);
- ``kg_result_cache_total{result}``: answers served from the result cache (``hit``) or computed (``miss``);
- ``kg_query_waiting``: requests waiting for a query worker now.

Each limit reached also logs one line naming the client and the limit (:func:`log_limit`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, Response, has_request_context, request

from calcinosis_kg.server.http.clients import current_client
from calcinosis_kg.server.http.metrics_store import (
    Counter,
    CounterFamily,
    Histogram,
    LiveGauge,
    MetricStore,
    metrics_directory,
)
from calcinosis_kg.server.http.openapi import TEXT_CONTENT, operation

log = logging.getLogger(__name__)
ROUTE = "calcinosis_kg.route"
"""WSGI environ key holding the route a request was counted under (so a replay of its response counts the same)."""


@dataclass(frozen=True)
class Metrics:
    """The server's counters (see the module docstring); one instance per app, shared by its forked workers."""

    requests: CounterFamily
    query_seconds: Histogram
    limits: CounterFamily
    restarts: CounterFamily
    cache: CounterFamily
    waiting: LiveGauge

    store: MetricStore
    _request_counters: dict[tuple[str, int], Counter] = field(default_factory=dict, compare=False)
    """(route, status) -> its counter (``labels()`` costs more than the increment)."""

    @property
    def directory(self) -> str | None:
        """The folder every process writes its counters to (None when none could be made)."""
        return self.store.directory

    def count_request(self, route: str, status: int) -> None:
        """Count one response to ``route`` (a URL rule) with ``status``."""
        counter = self._request_counters.get((route, status))
        if counter is None:
            counter = self._request_counters[(route, status)] = self.requests.labels(route=route, status=str(status))
        counter.inc()

    def state(self) -> str:
        """``ok``, or ``degraded: ...`` when counts are (or a new worker's would be) kept in memory only."""
        return self.store.state()

    @classmethod
    def create(cls, directory: str | None = None) -> Metrics:
        """The counters of one server, written to ``directory`` (``KG_METRICS_DIR``; else a new temporary one).

        Made before any worker is forked. The files are written by :mod:`.metrics_store` (allocated before they
        are written: a full filesystem never kills a process) in prometheus_client's format; nothing is
        registered in prometheus_client's global registry: ``/metrics`` reads the directory.
        """
        folder, problem = metrics_directory(directory)
        if problem is not None:
            log.warning("metrics: %s; counts are kept in each process's memory", problem)
        store = MetricStore(folder, problem)
        return cls(
            requests=CounterFamily(store, "kg_http_requests", "Requests answered by the app", ("route", "status")),
            query_seconds=Histogram(
                store,
                "kg_query_seconds",
                "Run time of queries answered by a query worker",
                (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            ),
            limits=CounterFamily(store, "kg_query_limits", "Queries stopped by a limit", ("limit",)),
            restarts=CounterFamily(store, "kg_query_worker_restarts", "Query workers replaced", ("reason",)),
            cache=CounterFamily(store, "kg_result_cache", "Answers from the result cache or computed", ("result",)),
            waiting=LiveGauge(store, "kg_query_waiting", "Requests waiting for a query worker"),
            store=store,
        )


def log_limit(limit: str, message: str) -> None:
    """One log line naming the client (when there is a request) and the limit it reached."""
    client = current_client() or ((request.remote_addr or "-") if has_request_context() else "-")
    log.warning("limit %s reached by %s: %s", limit, client, message.splitlines()[0] if message else "")


def make_metrics_blueprint(metrics: Metrics) -> Blueprint:
    """``GET /metrics``: every process's counters, summed, in Prometheus' text format."""
    blueprint = Blueprint("metrics", __name__)

    @blueprint.get("/metrics")
    def scrape() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

        registry = CollectorRegistry()
        if metrics.directory is not None and os.path.isdir(metrics.directory):
            metrics.store.forget_dead()
            multiprocess.MultiProcessCollector(registry, path=metrics.directory)  # type: ignore[no-untyped-call]
        return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

    return blueprint


def openapi_paths() -> dict[str, Any]:
    """The OpenAPI path of ``/metrics``."""
    counted = (
        "Counters of every process of the server in Prometheus' text format: requests by route and status, query "
        "run time, limits reached, query workers replaced, result cache hits, queue length."
    )
    ok = {"200": {"description": "The metrics.", "content": TEXT_CONTENT}}
    return {"/metrics": {"get": operation("Service", "Metrics for monitoring", "metrics", ok, description=counted)}}


def install_request_counter(app: Flask, metrics: Metrics) -> None:
    """Count every response by URL rule and status."""

    @app.after_request
    def count(response: Response) -> Response:
        rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
        request.environ[ROUTE] = rule
        metrics.count_request(rule, response.status_code)
        return response
