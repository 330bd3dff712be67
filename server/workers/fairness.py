"""Who gets the next idle query worker: per-client limits, a reserve, and clients served in turn.

A query worker is a scarce thing (two per granian worker by default) and a runaway query holds one for the whole
time limit. Measured before this module, one client with 4 runaway queries made every other client's uncached
query wait about 5 s (p50 2.5 ms -> 4,934 ms), and one address had 140 runaways accepted in 30 s. So
:class:`WorkerDispatch` hands out the idle workers of one server process under three rules:

- **At most** ``per_client`` **running per client** (``KG_CLIENT_CONCURRENCY``, default 2), **and as many
  waiting**; the next request of that client is refused at once with :class:`~calcinosis_kg.server.errors.ClientBusy`
  (429 and ``Retry-After``), without taking a place in the queue others need. Every client together may have
  ``queue`` requests waiting (``KG_QUERY_QUEUE``; past it :class:`~calcinosis_kg.server.errors.QueueFull`, 503).
- **A reserve**: a client that already has a query running never takes the last idle worker. The pool keeps one
  worker more than ``KG_QUERY_WORKERS`` for it (forked when first taken, a place at the bottom of the idle stack
  until then), so a client alone still gets ``KG_QUERY_WORKERS`` workers at once,
  and a client with nothing running finds a worker at once even while another client's runaways hold all the
  others: its cheap query is answered in milliseconds, not after their time limit.
- **Turns**: a freed worker goes to the waiting clients in turn (round robin over clients, each client's own
  requests in order), not to the request that has waited longest; a client with many requests waiting gets one
  worker per round like a client with one.
- **Hot first**: which idle worker a request gets is no client's concern, but a worker's memory is: each copies the
  pages of the heap it inherited as it touches them and fills its store's caches as it answers (3 MB of its own
  after its fork, 7-8 MB once it has answered every canned query on the release graph). So the idle worker released
  last goes first (a stack, not a queue): the reserve and the workers a load does not need stay near their start
  (taken in turns, every worker of a pool reached 7-8 MB under ``make bench``'s unique workload).

A request that waits gets a worker or, when its time limit has passed, :class:`ClientBusy` if its own client's
running queries were what held it back, else :class:`~calcinosis_kg.server.errors.ServerBusy` (503). Requests
without a client (an embedder calling the pool outside a request) are subject to the queue bound only.

The counts are per server process: under granian each worker process has its own pool, so a client may have
``per_client`` queries running in each of them (measured in ``docs/sparql-endpoint.md``).
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import Generic, Protocol, TypeVar

from calcinosis_kg.server.errors import ClientBusy, QueueFull, ServerBusy

W = TypeVar("W")

RESERVE_WORKERS = 1
"""Workers a pool starts beyond its size, kept for clients that have no query running."""


class _Ticket(Generic[W]):
    """A waiting request: set when a worker has been handed to it."""

    __slots__ = ("granted", "worker")

    def __init__(self) -> None:
        self.granted = threading.Event()
        self.worker: W | None = None


class WaitingGauge(Protocol):
    """The gauge of the requests waiting (``kg_query_waiting``: the metrics' ``LiveGauge``)."""

    def inc(self, amount: float = 1.0) -> None: ...


class WorkerDispatch(Generic[W]):
    """The idle workers of one pool and the requests waiting for them (see the module docstring); thread-safe."""

    def __init__(self, workers: list[W], *, per_client: int, queue: int, gauge: WaitingGauge | None = None) -> None:
        self.per_client = per_client
        self.queue = queue
        self._gauge = gauge
        """A gauge of the requests waiting (``kg_query_waiting``), or None."""
        self._lock = threading.Lock()
        self._idle: deque[W] = deque(workers)
        self._running: Counter[str] = Counter()
        self._waiting: dict[str | None, deque[_Ticket[W]]] = {}
        """Waiting requests by client, clients in the order of their turns (a served client goes last)."""
        self.waiting = 0
        """Requests waiting now."""

    def running(self, client: str) -> int:
        """Queries of ``client`` running now."""
        return self._running[client]

    def acquire(self, client: str | None, timeout: float) -> W:
        """An idle worker for a request of ``client``, waiting up to ``timeout`` seconds for one.

        Raises :class:`ClientBusy` when the client has ``per_client`` requests waiting already (at once) or was held
        back by its own running queries for the whole ``timeout``; :class:`QueueFull` when ``queue`` requests are
        waiting; :class:`ServerBusy` when no worker became free for it in time.
        """
        with self._lock:
            if self._idle and self._may_start(client):
                return self._start(client)
            waiting = self._waiting.get(client)
            if client is not None and waiting is not None and len(waiting) >= self.per_client:
                raise ClientBusy(
                    f"Too many queries at once from {client}: {self._running[client]} running and {len(waiting)} "
                    f"waiting in this server process, the most one client may have (KG_CLIENT_CONCURRENCY="
                    f"{self.per_client}). Retry when one of them has been answered."
                )
            if self.waiting >= self.queue:
                raise QueueFull(
                    f"All query workers are busy and {self.waiting} queries are waiting (KG_QUERY_QUEUE); "
                    "retry in a moment."
                )
            ticket: _Ticket[W] = _Ticket()
            self._waiting.setdefault(client, deque()).append(ticket)
            self._count_waiting(1)
        if ticket.granted.wait(timeout):
            assert ticket.worker is not None
            return ticket.worker
        with self._lock:
            if ticket.worker is not None:  # handed over between the timeout and the lock
                return ticket.worker
            self._forget(client, ticket)
            if client is not None and self._running[client] >= self.per_client:
                raise ClientBusy(
                    f"This query waited {timeout:g} s (KG_QUERY_TIMEOUT) while the {self._running[client]} queries "
                    f"{client} already had running here, the most one client may have (KG_CLIENT_CONCURRENCY), "
                    "went on; it was not run. Retry when they have been answered."
                )
        raise ServerBusy(f"Every query worker stayed busy for {timeout:g} s; retry in a moment.")

    def release(self, worker: W, client: str | None) -> None:
        """Give back ``worker`` (or the worker that replaced it) after a query of ``client``; serve the next turn."""
        with self._lock:
            if client is not None:
                self._running[client] -= 1
                if self._running[client] <= 0:
                    del self._running[client]
            self._idle.append(worker)
            self._hand_over()

    def _may_start(self, client: str | None) -> bool:
        """Whether ``client`` may take an idle worker now (the caller holds the lock and saw one)."""
        if client is None:
            return True
        running = self._running[client]
        return running < self.per_client and (running == 0 or len(self._idle) > RESERVE_WORKERS)

    def _start(self, client: str | None) -> W:
        """The idle worker released last (hot first, see the module docstring), now running a query of ``client``."""
        if client is not None:
            self._running[client] += 1
        return self._idle.pop()

    def _hand_over(self) -> None:
        """Give idle workers to waiting requests, one per client in turn, while some client may start one."""
        while self._idle and self._waiting:
            for client in list(self._waiting):
                if self._idle and self._may_start(client):
                    tickets = self._waiting.pop(client)
                    ticket = tickets.popleft()
                    if tickets:
                        self._waiting[client] = tickets  # its next request waits for its next turn
                    self._count_waiting(-1)
                    ticket.worker = self._start(client)
                    ticket.granted.set()
                    break
            else:
                return

    def _count_waiting(self, change: int) -> None:
        self.waiting += change
        if self._gauge is not None:
            self._gauge.inc(change)

    def _forget(self, client: str | None, ticket: _Ticket[W]) -> None:
        tickets = self._waiting.get(client)
        if tickets is not None and ticket in tickets:
            tickets.remove(ticket)
            self._count_waiting(-1)
            if not tickets:
                del self._waiting[client]
