"""The server: the knowledge graph as a SPARQL 1.1 endpoint, linked data, canned queries, lookup, FHIR and pages.

``create_app(config)`` builds the Flask app; ``serve(host, port, production=..., workers=...)`` runs it with
the embedded server or granian. The layers, each a folder with one job, are drawn in ``docs/architecture.md``:
:mod:`~.app` (assembly), :mod:`~.settings`, :mod:`~.errors` (refusals and their HTTP statuses), :mod:`~.http`
(negotiation, conditional GET, replay, headers, metrics, the runner), :mod:`~.sparql` (the protocol, the lexer,
DESCRIBE, result writers, the endpoint), :mod:`~.engines` (the engine contract and Oxigraph),
:mod:`~.workers` (query worker processes, their limits and sandbox, the result cache), :mod:`~.resources`
(the store and what is read from it at start-up), :mod:`~.views` (blueprints and pages) and :mod:`~.fhir`.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from calcinosis_kg.server.app import create_app
    from calcinosis_kg.server.http.serve import serve

__all__ = ["create_app", "serve"]

_EXPORTS = {"create_app": "calcinosis_kg.server.app", "serve": "calcinosis_kg.server.http.serve"}

UNSERVED_MODULES = ("html5rdf",)
"""Optional dependencies of our libraries that a server never uses, kept out of its processes
(:func:`keep_out_unserved_modules`). html5rdf is rdflib's parser of ``rdf:HTML`` literals, which the served data
do not hold (rdflib leaves their value unparsed without it, as when it is not installed): importing it cost
1.9 MB of heap in every process of the server tree and 12 ms of each start."""


GRANIAN_ALLOCATOR = ("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0,narenas:1,tcache:false")
"""The environment variable configuring granian's allocator (the jemalloc built into it, with the ``_rjem_``
prefix) and what ``serve`` gives it (:func:`return_freed_pages_at_once`) unless the operator set it. By default
jemalloc keeps the pages it freed for 10 s (dirty, then muzzy) before it gives them back: after ``make bench``'s
workloads (canned answers at 16,000-18,000 requests a second, then unique queries and dereferences) each granian
worker held 6 MB in jemalloc's arenas, and the server tree measured 138-148 MB; with the pages given back at once,
127-130 MB at the same rates. One arena and no per-thread caches (``narenas:1,tcache:false``; by default 4 arenas
per core, each thread keeping partly used pages in its own, and a cache per thread): a granian worker's own memory
after the same workloads 20.4-21.4 -> 17.8-18.6 MB, the canned mix at the same rate (11,700 req/s, load 10). jemalloc
reads the variable when it starts, so it is set before granian is imported."""


def return_freed_pages_at_once() -> None:
    """Give granian's allocator :data:`GRANIAN_ALLOCATOR`'s setting, unless the environment already sets it.
    ``calcinosis-kg serve`` calls it first, before granian is imported."""
    name, value = GRANIAN_ALLOCATOR
    os.environ.setdefault(name, value)


def keep_out_unserved_modules() -> None:
    """Make the imports of :data:`UNSERVED_MODULES` fail in this process (unless already imported), as if they
    were not installed. ``calcinosis-kg serve`` calls it first, before any module that imports rdflib."""
    for name in UNSERVED_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None in sys.modules: ImportError


def __getattr__(name: str) -> Any:
    """``create_app`` and ``serve``, imported when first used (PEP 562): ``python -m calcinosis_kg.server``
    imports this package before its ``__main__``, which first turns cycle collection off for the start-up."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
