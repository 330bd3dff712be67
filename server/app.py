"""The application factory."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from calcinosis_kg.queries.catalog import load_catalog
from calcinosis_kg.server.cache import ResultCache
from calcinosis_kg.server.conditional import DataVersion, install_conditional_get
from calcinosis_kg.server.data import DataLoadError, content_hash, load_store, summarize
from calcinosis_kg.server.describe import GraphView
from calcinosis_kg.server.engines.oxigraph import OxigraphEngine
from calcinosis_kg.server.engines.sparql import StoreClient, open_remote_store
from calcinosis_kg.server.errors import register_error_handlers
from calcinosis_kg.server.fhir.resources import GraphTerminology
from calcinosis_kg.server.fhir.views import make_fhir_blueprint
from calcinosis_kg.server.health import make_health_blueprint
from calcinosis_kg.server.hooks import install_access_log, install_cors, refuse_control_characters
from calcinosis_kg.server.linked_data import LinkedData, make_linked_data_blueprint
from calcinosis_kg.server.lookup_api import LabelIndex, make_lookup_blueprint
from calcinosis_kg.server.metrics import Metrics, install_request_counter, make_metrics_blueprint
from calcinosis_kg.server.openapi import make_openapi_blueprint
from calcinosis_kg.server.queries_api import make_queries_blueprint
from calcinosis_kg.server.settings import Settings
from calcinosis_kg.server.sparql.endpoint import QueryFastPath, make_sparql_blueprint
from calcinosis_kg.server.sparql.lexer import Limits
from calcinosis_kg.server.ui import ResourcePages, make_ui_blueprint
from calcinosis_kg.server.void import DatasetDumps, DatasetStatistics, make_void_blueprint
from calcinosis_kg.server.workers.limits import WorkerLimits
from calcinosis_kg.server.workers.pool import QueryPool

POOL_EXTENSION = "calcinosis_kg.query_pool"
"""Key of the app's :class:`QueryPool` in ``app.extensions`` (``serve()`` closes it on shutdown)."""

log = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Load the dataset into the engine's store and build the app.

    ``config`` may hold any setting of :mod:`calcinosis_kg.server.settings` (``KG_DATA``,
    ``KG_QUERY_TIMEOUT``, ``KG_MAX_ROWS``, ...), overriding the environment variable of the same name, and any
    Flask setting (``TESTING``, ...). Without ``KG_DATA`` the endpoint serves the built graph
    ``calcinosis-kg.nt`` of the build directory.

    The data are held once, in the Oxigraph store: queries, descriptions and linked-data documents are answered
    by the engine in the query workers; the start-up indexes (labels, VoID statistics, the lookup index, the
    ontology document) are computed from the same store, read once with pyoxigraph
    (:func:`~calcinosis_kg.server.data.rdflib_view` gives rdflib's API over it, for embedders).

    Raises :class:`~calcinosis_kg.server.settings.SettingsError` for an invalid setting and
    :class:`~calcinosis_kg.server.data.DataLoadError` when a data file is missing or does not parse; both
    are :class:`~calcinosis_kg.errors.KGError`\\ s whose message is meant for the operator.
    """
    settings = Settings.load(config)
    limits = Limits(
        max_bytes=settings.max_body, max_depth=settings.max_query_depth, max_tokens=settings.max_query_tokens
    )
    worker_limits = WorkerLimits(
        memory=settings.query_memory_mb * 1024 * 1024,
        answer_bytes=settings.max_answer_bytes,
        queue=settings.query_queue,
    )
    metrics = Metrics.create(settings.metrics_dir)
    # --- KG_ENGINE=sparql (issue 15): the data stay in a remote store; everything below reads it through view ---
    store_probe: StoreClient | None = None
    paths: tuple[Path, ...] = ()
    view: GraphView
    if settings.engine == "sparql":
        remote = open_remote_store(settings, limits, worker_limits, metrics)
        pool: QueryPool = remote.runner
        summary, view, version = remote.summary, remote.view, remote.version
        store_probe = remote.client
        log.info("serving the SPARQL store at %s (%d triples)", settings.store_url, summary.triples)
    else:
        paths = settings.data or (default_data_file(),)
        store = load_store(paths)
        summary = summarize(store, union_default_graph=settings.union_default_graph)
        engine = OxigraphEngine(
            store, max_rows=settings.max_rows, union_default_graph=settings.union_default_graph, limits=limits
        )
        engine.warm_up()
        cache = ResultCache(
            max_entries=settings.cache_entries, max_bytes=settings.cache_bytes, version=content_hash(paths)
        )
        pool = QueryPool(
            engine,
            size=settings.pool_size,
            timeout=settings.query_timeout,
            cache=cache,
            limits=worker_limits,
            metrics=metrics,
        )
        log.info(
            "loaded %d triples (%d named graphs) from %s",
            summary.triples,
            len(summary.named_graphs),
            ", ".join(str(path) for path in paths),
        )
        view = GraphView(store, union=settings.union_default_graph)
        version = DataVersion.of(paths)
    # --- end of the engine choice ---

    app = Flask(__name__)
    flask_settings = {key: value for key, value in (config or {}).items() if not key.startswith("KG_")}
    app.config.from_mapping(flask_settings)
    app.extensions[POOL_EXTENSION] = pool

    register_error_handlers(app)
    install_cors(app)
    install_access_log(app)
    refuse_control_characters(app)
    install_request_counter(app, metrics)
    catalog = load_catalog()
    linked_data = LinkedData.from_store(view)
    statistics = DatasetStatistics.of(view, linked_data)
    dumps = DatasetDumps.load(view, paths)
    app.register_blueprint(make_sparql_blueprint(pool, summary, settings))
    app.register_blueprint(make_ui_blueprint(linked_data, statistics, dumps, catalog, pool, settings))
    app.register_blueprint(make_void_blueprint(statistics, dumps))
    app.register_blueprint(make_linked_data_blueprint(linked_data, ResourcePages(linked_data, statistics), pool))
    install_conditional_get(app, version)
    app.register_blueprint(make_health_blueprint(summary, store_probe))
    app.register_blueprint(make_queries_blueprint(pool, catalog))
    app.register_blueprint(make_lookup_blueprint(lambda: LabelIndex.from_store(view)))
    app.register_blueprint(make_openapi_blueprint(catalog))
    app.register_blueprint(make_metrics_blueprint(metrics))
    app.register_blueprint(make_fhir_blueprint(GraphTerminology(pool)))
    app.wsgi_app = QueryFastPath(app.wsgi_app, pool, settings, version, metrics)  # type: ignore[method-assign]
    if settings.trust_proxy:
        hops = settings.trust_proxy
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )
    return app


def query_pool(app: Flask) -> QueryPool:
    """The query worker pool of an app made by :func:`create_app`."""
    pool: QueryPool = app.extensions[POOL_EXTENSION]
    return pool


def default_data_file() -> Path:
    """The built graph, ``calcinosis-kg.nt`` in the build directory (``$KG_BUILD_DIR`` or ``build/``).

    Raises :class:`DataLoadError` saying how to build it when it does not exist.
    """
    from calcinosis_kg.graph.build import DEFAULT_BUILD_DIR  # imported here: it reads KG_BUILD_DIR

    path = DEFAULT_BUILD_DIR / "calcinosis-kg.nt"
    if not path.is_file():
        raise DataLoadError(f"no built graph at {path}: run `make build`, or set KG_DATA to the files to use")
    return path
