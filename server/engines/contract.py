"""The engine boundary: what the server hands an engine (:class:`Job`) and what it gets back (:class:`Answer`).

Everything above this module (the HTTP layer, the canned-query API, linked data, the worker pool and its
cache) speaks only these types; an engine implements :class:`Engine`. Refusals are the
:class:`~calcinosis_kg.server.errors.EndpointError` subclasses, raised by the engine and mapped to HTTP
statuses in one place (:mod:`calcinosis_kg.server.errors`). Jobs, answers and errors are plain picklable
values: they cross the pipe between the server process and its query workers.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from rdflib import URIRef
from rdflib.term import Identifier

from calcinosis_kg.server.errors import UnknownGraph

_SHOWN_GRAPHS = 20


@dataclass(frozen=True)
class DatasetSpec:
    """An RDF dataset described by graph names: the graphs merged into the default graph, the named graphs.

    It comes from the protocol's ``default-graph-uri``/``named-graph-uri`` parameters, which replace the
    query's own ``FROM``/``FROM NAMED`` and the served dataset's arrangement.
    """

    default: tuple[URIRef, ...] = ()
    named: tuple[URIRef, ...] = ()


@dataclass(frozen=True)
class Job:
    """One query request, as the HTTP layer hands it to an engine."""

    query: str
    base: str
    """IRI against which relative IRIs in the query are resolved (the endpoint's URL)."""
    accept: str | None = None
    formats: tuple[str, ...] = ()
    """Values of the request's ``format`` parameter, which override ``accept``."""
    dataset: DatasetSpec | None = None
    """The dataset given by ``default-graph-uri``/``named-graph-uri``; it overrides FROM/FROM NAMED."""
    bindings: tuple[tuple[str, Identifier], ...] = ()
    """(variable name without ``?``, term) pairs: a canned query's validated parameters.

    The query is evaluated as if each variable were already bound to its term; values are never pasted into
    the query text as text the client wrote (see the engine for how they are bound).
    """


@dataclass(frozen=True)
class Answer:
    """A written query result."""

    body: bytes
    content_type: str
    cached: bool = False
    """Set by the query pool: the answer came from its result cache or went into it (it will be the same bytes
    next time, so the HTTP layer may replay the whole response)."""
    origin: str = "query"
    """Where the answer came from: ``query`` (evaluated now), ``memory`` (this process's result cache),
    ``shared`` (the cache shared by the server's processes, :mod:`~calcinosis_kg.server.workers.shared_cache`)
    or ``bundle`` (precomputed, :mod:`~calcinosis_kg.server.resources.canned`); sent as ``X-KG-Answer``."""


class Engine(Protocol):
    """What the query worker pool needs of a query engine."""

    def execute(self, job: Job) -> Answer:
        """Answer ``job`` (in a query worker); raises an EndpointError to refuse it."""

    def warm_up(self) -> None:
        """Import and initialize what evaluation needs, in the server process, before any fork."""

    def worker_started(self) -> None:
        """Acquire per-process resources in a freshly forked query worker (before the sandbox is on)."""


def check_graphs(names: Collection[str], known: Collection[str], source: str) -> None:
    """Raise :class:`UnknownGraph` if one of ``names`` is not in ``known``; ``source`` says where they came from."""
    unknown = [name for name in names if name not in known]
    if not unknown:
        return
    listed = ", ".join(f"<{name}>" for name in sorted(known)[:_SHOWN_GRAPHS])
    more = f" and {len(known) - _SHOWN_GRAPHS} more" if len(known) > _SHOWN_GRAPHS else ""
    holds = f"It holds the named graphs {listed}{more}." if known else "It holds no named graphs."
    raise UnknownGraph(
        f"{source} names {', '.join(f'<{name}>' for name in unknown)}, which this dataset does not hold. "
        f"The endpoint never loads graphs from the web or from files. {holds}"
    )
