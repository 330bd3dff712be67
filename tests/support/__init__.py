"""Helpers shared by the test suites, imported as ``tests.support`` (no ``sys.path`` edits, no conftest imports).

The modules: :mod:`.live_server` (the endpoint as a real server in a subprocess), :mod:`.store_server` (a real
Oxigraph server, the remote store of ``KG_ENGINE=sparql``), :mod:`.probes` (a loopback listener counting
connections), :mod:`.api` (a client of a live server and the comparison of SPARQL JSON results), :mod:`.web`
(parsing and comparing the served RDF). This module holds the limits the endpoint tests run their servers with.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

QUERY_TIMEOUT = 2
MAX_ROWS = 1000
MAX_BODY = 65_536

RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n2 ?o }"
"""The sample default graph (48 triples) crossed with itself five times: some 250 million solutions."""
SIMPLE = "ASK { cc:diltiazem a cco:Treatment }"
MARGIN = 1.5
"""Seconds a stopped query may take beyond the time limit (worker replacement, HTTP, a busy CI machine)."""

SERVER_SETTINGS = {
    "KG_QUERY_TIMEOUT": str(QUERY_TIMEOUT),
    "KG_MAX_ROWS": str(MAX_ROWS),
    "KG_MAX_BODY": str(MAX_BODY),
    "KG_QUERY_WORKERS": "2",
}
"""The settings of the endpoint tests' sample server: 2 s time limit, 1000 rows, 64 KiB bodies, 2 query workers."""

AppFactory = Callable[..., Flask]
"""The ``app_factory`` fixture: ``make(config=None)`` -> an app made by ``create_app`` (stopped after the test)."""

BUILT_SETTINGS = {"KG_QUERY_TIMEOUT": "20", "KG_QUERY_WORKERS": "2"}
"""The settings of the app and the servers on the built graph: 20 s per query, 2 query workers."""
