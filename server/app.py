"""The application factory: the app assembled around the :class:`~calcinosis_kg.server.services.Services`.

Assembly only: every file read, hash and index is made by :meth:`Services.load`. The order of the layers a
request passes through, outermost first: ProxyFix (when proxies are trusted), the client's identity
(:class:`~calcinosis_kg.server.http.clients.ClientIdentity`), the SPARQL fast path
(:class:`~calcinosis_kg.server.sparql.endpoint.QueryFastPath`), then Flask with its hooks (errors, CORS and
``nosniff``, the access log, the request counter, conditional GET) and one blueprint per concern. ``serve()``
adds the response replay in front (:mod:`~calcinosis_kg.server.http.replay`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from calcinosis_kg.server.errors import register_error_handlers
from calcinosis_kg.server.fhir.resources import GraphTerminology
from calcinosis_kg.server.fhir.views import make_fhir_blueprint
from calcinosis_kg.server.http.clients import CLIENTS_EXTENSION, ClientAddresses, ClientIdentity
from calcinosis_kg.server.http.conditional import install_conditional_get
from calcinosis_kg.server.http.hooks import install_access_log, install_cors, refuse_control_characters
from calcinosis_kg.server.http.metrics import install_request_counter, make_metrics_blueprint
from calcinosis_kg.server.resources.labels import LabelIndex
from calcinosis_kg.server.services import Services
from calcinosis_kg.server.sparql.endpoint import QueryFastPath, make_sparql_blueprint
from calcinosis_kg.server.views.health import make_health_blueprint
from calcinosis_kg.server.views.linked_data import make_linked_data_blueprint
from calcinosis_kg.server.views.lookup import make_lookup_blueprint
from calcinosis_kg.server.views.openapi.document import make_openapi_blueprint
from calcinosis_kg.server.views.queries import make_queries_blueprint
from calcinosis_kg.server.views.ui import ResourcePages, make_ui_blueprint
from calcinosis_kg.server.views.void import make_void_blueprint
from calcinosis_kg.server.workers.pool import QueryPool

SERVICES_EXTENSION = "calcinosis_kg.services"
"""Key of the app's :class:`Services` in ``app.extensions`` (``serve()`` reads the settings and the pool)."""


def create_app(config: Mapping[str, Any] | None = None, services: Services | None = None) -> Flask:
    """The app serving ``services`` (by default :meth:`Services.load` of ``config``).

    ``config`` may hold any setting of :mod:`calcinosis_kg.server.settings` (``KG_DATA``, ``KG_QUERY_TIMEOUT``,
    ``KG_MAX_ROWS``, ...), overriding the environment variable of the same name, and any Flask setting
    (``TESTING``, ...). Without ``KG_DATA`` the endpoint serves the built graph of the build folder. Raises
    what :meth:`Services.load` raises.
    """
    services = services or Services.load(config)
    settings, pool, metrics, catalog = services.settings, services.pool, services.metrics, services.catalog
    linked_data, statistics, dumps, view = services.linked_data, services.statistics, services.dumps, services.view

    app = Flask(__name__)
    app.config.from_mapping({key: value for key, value in (config or {}).items() if not key.startswith("KG_")})
    app.extensions[SERVICES_EXTENSION] = services

    register_error_handlers(app)
    install_cors(app)
    install_access_log(app)
    refuse_control_characters(app)
    install_request_counter(app, metrics)
    install_conditional_get(app, services.version)
    app.register_blueprint(make_sparql_blueprint(pool, services.summary, settings))
    app.register_blueprint(make_ui_blueprint(linked_data, statistics, dumps, catalog, pool, settings))
    app.register_blueprint(make_void_blueprint(statistics, dumps, services.summary))
    pages = ResourcePages(linked_data, statistics, pool, catalog)
    app.register_blueprint(make_linked_data_blueprint(linked_data, pages, pool))
    app.register_blueprint(make_health_blueprint(services.summary, services.store_client, metrics))
    app.register_blueprint(make_queries_blueprint(pool, catalog, services.canned_answers))
    app.register_blueprint(make_lookup_blueprint(services.lookup_index or (lambda: LabelIndex.from_store(view))))
    app.register_blueprint(make_openapi_blueprint(catalog))
    app.register_blueprint(make_metrics_blueprint(metrics))
    app.register_blueprint(make_fhir_blueprint(GraphTerminology(pool)))
    app.wsgi_app = QueryFastPath(app.wsgi_app, pool, settings, services.version, metrics)  # type: ignore[method-assign]
    # with KG_TRUST_PROXY, ProxyFix (outside) has already put the client's address in REMOTE_ADDR
    clients = app.extensions[CLIENTS_EXTENSION] = ClientAddresses(
        () if settings.trust_proxy else settings.trusted_proxies
    )
    app.wsgi_app = ClientIdentity(app.wsgi_app, clients)  # type: ignore[method-assign]
    if settings.trust_proxy:
        hops = settings.trust_proxy
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )
    return app


def app_services(app: Flask) -> Services:
    """The :class:`Services` of an app made by :func:`create_app`."""
    services: Services = app.extensions[SERVICES_EXTENSION]
    return services


def query_pool(app: Flask) -> QueryPool:
    """The query worker pool of an app made by :func:`create_app`."""
    return app_services(app).pool
