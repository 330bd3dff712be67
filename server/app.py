"""The application factory."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from calcinosis_kg.queries.catalog import load_catalog
from calcinosis_kg.server.backends import make_query_pool
from calcinosis_kg.server.conditional import DataVersion, install_conditional_get
from calcinosis_kg.server.data import DataLoadError, load_dataset, summarize
from calcinosis_kg.server.errors import register_error_handlers
from calcinosis_kg.server.health import make_health_blueprint
from calcinosis_kg.server.hooks import install_access_log, install_cors
from calcinosis_kg.server.linked_data import LinkedData, make_linked_data_blueprint
from calcinosis_kg.server.lookup_api import LabelIndex, make_lookup_blueprint
from calcinosis_kg.server.openapi import make_openapi_blueprint
from calcinosis_kg.server.pool import QueryPool
from calcinosis_kg.server.queries_api import make_queries_blueprint
from calcinosis_kg.server.settings import Settings
from calcinosis_kg.server.sparql import make_sparql_blueprint
from calcinosis_kg.server.ui import ResourcePages, make_ui_blueprint
from calcinosis_kg.server.void import DatasetDumps, DatasetStatistics, make_void_blueprint

POOL_EXTENSION = "calcinosis_kg.query_pool"
"""Key of the app's :class:`QueryPool` in ``app.extensions`` (``serve()`` closes it on shutdown)."""

log = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Load the dataset and build the SPARQL endpoint's Flask app.

    ``config`` may hold any setting of :mod:`calcinosis_kg.server.settings` (``KG_DATA``,
    ``KG_QUERY_TIMEOUT``, ``KG_MAX_ROWS``, ``KG_MAX_BODY``, ``KG_TRUST_PROXY``, ``KG_QUERY_WORKERS``,
    ``KG_UNION_DEFAULT_GRAPH``), overriding the environment variable of the same name, and any Flask
    setting (``TESTING``, ...). Without ``KG_DATA`` the endpoint serves the built graph
    ``calcinosis-kg.nt`` of the build directory.

    Raises :class:`~calcinosis_kg.server.settings.SettingsError` for an invalid setting and
    :class:`~calcinosis_kg.server.data.DataLoadError` when a data file is missing or does not parse; both
    are :class:`~calcinosis_kg.errors.KGError`\\ s whose message is meant for the operator.
    """
    settings = Settings.load(config)
    paths = settings.data or (default_data_file(),)
    dataset = load_dataset(paths, union_default_graph=settings.union_default_graph)
    summary = summarize(dataset)
    pool = make_query_pool(settings, dataset, paths)
    log.info(
        "loaded %d triples (%d named graphs) from %s",
        summary.triples,
        len(summary.named_graphs),
        ", ".join(str(path) for path in paths),
    )

    app = Flask(__name__)
    flask_settings = {key: value for key, value in (config or {}).items() if not key.startswith("KG_")}
    app.config.from_mapping(flask_settings)
    app.extensions[POOL_EXTENSION] = pool

    register_error_handlers(app)
    install_cors(app)
    install_access_log(app)
    catalog = load_catalog()
    linked_data = LinkedData.from_dataset(dataset)
    statistics = DatasetStatistics.of(linked_data)
    dumps = DatasetDumps.load(linked_data.graph, paths)
    app.register_blueprint(make_sparql_blueprint(pool, summary, settings))
    app.register_blueprint(make_ui_blueprint(linked_data, statistics, dumps, catalog, pool, settings))
    app.register_blueprint(make_void_blueprint(statistics, dumps))
    app.register_blueprint(make_linked_data_blueprint(linked_data, ResourcePages(linked_data)))
    install_conditional_get(app, DataVersion.of(paths))
    app.register_blueprint(make_health_blueprint(summary))
    app.register_blueprint(make_queries_blueprint(pool, catalog))
    app.register_blueprint(make_lookup_blueprint(LabelIndex.from_dataset(dataset)))
    app.register_blueprint(make_openapi_blueprint(catalog))
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
