"""The SPARQL 1.1 endpoint serving the knowledge graph (or any RDF dataset).

``create_app(config)`` builds the Flask app; ``serve(host, port, production=..., workers=...)`` runs it
with the embedded server or granian. The endpoint is documented in ``docs/sparql-endpoint.md``.

Module map: :mod:`~.settings` (configuration), :mod:`~.data` (loading the dataset), :mod:`~.protocol`
(reading SPARQL Protocol requests), :mod:`~.formats` (formats and content negotiation), :mod:`~.parsing`,
:mod:`~.safety` and :mod:`~.evaluation` (answering a query), :mod:`~.describe` (DESCRIBE),
:mod:`~.results` (writing answers), :mod:`~.pool` and :mod:`~.sandbox` (query worker processes),
:mod:`~.service_description`, :mod:`~.sparql` and :mod:`~.health` (blueprints), :mod:`~.hooks` (CORS,
access log), :mod:`~.errors` (exceptions and their HTTP statuses), :mod:`~.app` and :mod:`~.serve`.
"""

from calcinosis_kg.server.app import create_app
from calcinosis_kg.server.serve import serve

__all__ = ["create_app", "serve"]
