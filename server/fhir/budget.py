"""The time limit of a FHIR operation: the query time limit (``KG_QUERY_TIMEOUT``), checked as the work goes.

A SPARQL query runs in a query worker the pool kills at its time limit. A FHIR operation runs in the web process:
its SPARQL (building the graph's resources, once) goes through the pool, and the rest is Python over JSON the
request sent and the resources held in memory. That work is bounded in size (the body limit and
:mod:`~.shapes`), its one step that was not linear in its input, a ``regex`` filter, runs on RE2 (linear time);
what is left unbounded is repetition: value sets importing each other many times over, supplements, large
client code systems. :func:`limited` gives a request a deadline, and :func:`checkpoint`, called in every loop
over concepts, includes and imports, ends the operation past it with :class:`~.errors.TooCostly` (422, issue
``too-costly``): the client's request, not the server, is at fault, and nothing was left running.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from calcinosis_kg.server.fhir.errors import TooCostly

T = TypeVar("T")

_DEADLINE: ContextVar[tuple[float, float] | None] = ContextVar("fhir_deadline", default=None)
"""(monotonic deadline, limit in seconds) of the operation running in this context."""
YIELD_SECONDS = 0.001
"""How often a long operation gives up the GIL (each waiting request thread would otherwise wait up to the
interpreter's 5 ms switch interval each time it needs the GIL: /health took 70 ms at p50 beside three operations
at their time limit)."""


class _LastYield(threading.local):
    at = 0.0


_last_yield = _LastYield()


@contextmanager
def limited(seconds: float) -> Iterator[None]:
    """Run the block as one operation with at most ``seconds`` of work (:func:`checkpoint` enforces it)."""
    token = _DEADLINE.set((time.monotonic() + seconds, seconds))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def checkpoint() -> None:
    """Raise :class:`TooCostly` if the running operation is past its deadline (no deadline: nothing); at most
    every :data:`YIELD_SECONDS`, let the other threads of the process run (``/health``, cached answers)."""
    limit = _DEADLINE.get()
    if limit is None:
        return
    now = time.monotonic()
    if now > limit[0]:
        raise TooCostly(
            f"The operation did not finish within the {limit[1]:g} s limit (KG_QUERY_TIMEOUT) and was stopped: "
            "ask for a smaller expansion, or send fewer or smaller resources"
        )
    if now - _last_yield.at > YIELD_SECONDS:
        _last_yield.at = now
        time.sleep(0)  # releases the GIL: a waiting thread takes it now, not at the 5 ms switch interval


def bounded(items: Iterable[T], every: int = 64) -> Iterator[T]:
    """``items``, with a :func:`checkpoint` every ``every`` items."""
    for index, item in enumerate(items):
        if index % every == 0:
            checkpoint()
        yield item
