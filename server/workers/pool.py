"""A pool of query worker processes that can be killed, so that every query has a hard time limit.

An engine call cannot be cancelled, and a thread cannot be stopped, so each query runs in a worker process
forked from the server process: the fork shares the already loaded store. The server sends a
:class:`~calcinosis_kg.server.engines.contract.Job` over a pipe and waits at most the time limit for the
answer; past it, the worker is killed with SIGKILL, a fresh one is forked in its place and the client gets
:class:`~calcinosis_kg.server.errors.QueryTimeout`. Other requests meanwhile use the other workers.

The workers are started by :meth:`QueryPool.start` in each server process, or by its first query. Under
granian each granian worker forks its own query workers when granian has forked it and loads the app in it,
before granian starts threads there, so no pipe is shared between server processes. A query worker

- closes the sockets it inherited (the listening socket, other clients' connections);
- ignores SIGINT (Ctrl-C in a terminal goes to the whole process group; the server stops the workers);
- installs the :mod:`~calcinosis_kg.server.workers.sandbox` audit hook;
- exits by itself when the server process that forked it has gone.

Before a worker installs the sandbox it calls the engine's ``worker_started``. Jobs are answered in a thread
with a stack of :data:`WORKER_STACK_BYTES`: pyoxigraph's parser and evaluator recurse over the query, and the
thread that forked the worker (a server thread) may have a small stack.

With a :class:`~calcinosis_kg.server.workers.cache.ResultCache`, :meth:`QueryPool.run` answers a request it has
answered before from the cache, in the server process, without a worker; otherwise it stores the answer.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import select
import signal
import socket
import stat
import threading
import time
from multiprocessing.process import BaseProcess

from calcinosis_kg.server.engines.contract import Answer, Engine, Job
from calcinosis_kg.server.errors import (
    ClientBusy,
    EndpointError,
    InternalQueryError,
    MalformedQuery,
    MemoryLimitExceeded,
    QueryTimeout,
    QueryTooComplex,
    QueueFull,
    ResultTooLarge,
    ServerBusy,
    WorkerLost,
)
from calcinosis_kg.server.http.clients import current_client, share_of
from calcinosis_kg.server.http.metrics import Metrics, log_limit
from calcinosis_kg.server.workers.cache import ResultCache
from calcinosis_kg.server.workers.channel import receive_message, send_message
from calcinosis_kg.server.workers.fairness import RESERVE_WORKERS, WorkerDispatch
from calcinosis_kg.server.workers.limits import WorkerLimits, address_space, cap_memory, watch_parent
from calcinosis_kg.server.workers.sandbox import SandboxViolation, forbid_io

log = logging.getLogger(__name__)

_FORK = multiprocessing.get_context("fork")
_LIMIT_NAMES: dict[type[EndpointError], str] = {
    QueryTimeout: "time",
    MemoryLimitExceeded: "memory",
    ResultTooLarge: "answer_size",
    ServerBusy: "busy",
    QueueFull: "queue",
    ClientBusy: "client",
    QueryTooComplex: "size",
}
"""The limit each refusal reports (for ``/metrics`` and the log)."""
_CACHE_RESULTS = {"memory": "hit", "shared": "shared_hit"}
"""The ``kg_result_cache_total`` label of an answer from this process's memory or from the shared cache."""
_RESTART_REASONS: dict[type[EndpointError], str] = {
    QueryTimeout: "time",
    WorkerLost: "lost",
    MemoryLimitExceeded: "memory",
}

WORKER_NICENESS = 10
"""How much lower the query workers' CPU priority is than the server's: when queries use every core, the
scheduler still runs ``/health``, cached answers and pages first."""
WORKER_STACK_BYTES = 64 * 1024 * 1024
"""Stack of the thread that answers jobs in a worker (measured: nesting that crashes pyoxigraph at 1,000 levels
on an 8 MB stack runs at 5,000 on 64 MB; the lexer's limits stay well below)."""
_RESET_SIGNALS = (
    "SIGTERM",
    "SIGHUP",
    "SIGQUIT",
    "SIGUSR1",
    "SIGUSR2",
    "SIGWINCH",
    "SIGTTIN",
    "SIGTTOU",
    "SIGCHLD",
)


class QueryPool:
    """A fixed number of query worker processes sharing one :class:`Engine`, with an optional result cache.

    :meth:`run` is thread-safe: a cached answer is returned at once; otherwise each call takes an idle worker
    (waiting up to the time limit for one, as :class:`~calcinosis_kg.server.workers.fairness.WorkerDispatch`
    decides: per client, in turns, one worker beyond ``size`` kept for clients with nothing running), hands it
    the job and returns its answer or raises the :class:`EndpointError` it raised.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        size: int,
        timeout: float,
        cache: ResultCache | None = None,
        limits: WorkerLimits | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.size = size + RESERVE_WORKERS
        """Worker processes: ``size`` and the reserve (:data:`.fairness.RESERVE_WORKERS`), which is forked when a
        request first takes it (:meth:`start`)."""
        self.timeout = timeout
        self.cache = cache
        self.limits = limits or WorkerLimits()
        self.metrics = metrics
        self._engine = engine
        self._lock = threading.Lock()
        self._owner_pid = 0
        self._dispatch = self._new_dispatch([])
        self._workers: set[_Worker] = set()

    def resize(self, size: int) -> None:
        """``size`` workers and the reserve, not the constructor's count: the server decides its default once the
        store is open, before :meth:`start` (after it, a :class:`RuntimeError`)."""
        if self._owner_pid:
            raise RuntimeError("a query pool cannot be resized once its workers are started")
        self.size = size + RESERVE_WORKERS

    def run(self, job: Job) -> Answer:
        """Answer ``job`` in a worker within the time limit.

        Raises the worker's :class:`EndpointError`; :class:`QueryTimeout` when the limit is reached (the
        worker is then replaced); :class:`ServerBusy` when no worker became free within the limit;
        :class:`WorkerLost` when the worker died (it is replaced too).
        """
        cache = self.cache
        if cache is None:
            return self._counted(job)
        cached = cache.lookup(job)
        metrics = self.metrics
        if metrics is not None:
            metrics.cache.labels(result="miss" if cached is None else _CACHE_RESULTS[cached.origin]).inc()
        if cached is not None:
            return dataclasses.replace(cached, cached=True)
        answer = self._counted(job)
        return dataclasses.replace(answer, cached=True) if cache.store(job, answer) else answer

    def _counted(self, job: Job) -> Answer:
        """:meth:`_run`, counted: run time, limits reached (logged too), workers replaced."""
        metrics = self.metrics
        started = time.monotonic()
        try:
            answer = self._run(job)
        except EndpointError as error:
            limit = _LIMIT_NAMES.get(type(error))
            if limit is not None:
                log_limit(limit, str(error))
                if metrics is not None:
                    metrics.limits.labels(limit=limit).inc()
            raise
        if metrics is not None:
            metrics.query_seconds.observe(time.monotonic() - started)
        return answer

    def _run(self, job: Job) -> Answer:
        """Wait for an idle worker (the wait counts toward the time limit) and hand it the job.

        Which request gets a worker, and which is refused at once, is :class:`WorkerDispatch`'s decision: per
        client (:func:`~calcinosis_kg.server.http.clients.current_client`, an IPv6 /64 as one) and in turns. A
        worker found dead while idle is replaced before it is given the job.
        """
        self.start()
        started = time.monotonic()
        client = current_client()
        if client is not None:
            client = share_of(client)
        dispatch = self._dispatch
        taken = dispatch.acquire(client, self.timeout)
        try:
            worker = self._start_reserve() if isinstance(taken, _Unstarted) else taken
        except BaseException:
            dispatch.release(taken, client)  # its place stays, to be forked by the next request taking it
            raise
        try:
            if not worker.process.is_alive():
                log.warning("query worker %s had stopped while idle; starting another", worker.pid)
                worker = self._replace(worker, "idle")
            remaining = self.timeout - (time.monotonic() - started)
            if remaining <= 0:
                raise ServerBusy(f"No query worker became free within the {self.timeout:g} s limit; retry.")
            return worker.ask(job, remaining, self.timeout, self.limits)
        except (QueryTimeout, WorkerLost, MemoryLimitExceeded) as error:
            log.warning("query worker %s stopped (%s); starting another", worker.pid, type(error).__name__)
            worker = self._replace(worker, _RESTART_REASONS[type(error)])
            raise
        finally:
            dispatch.release(worker, client)

    def close(self) -> None:
        """Stop every worker started by this process (the pool restarts them if used again)."""
        with self._lock:
            if self._owner_pid == os.getpid():
                for worker in self._workers:
                    worker.stop()
            self._workers = set()
            self._dispatch = self._new_dispatch([])
            self._owner_pid = 0

    def start(self) -> None:
        """Fork the workers but the reserve, unless this process already did (:meth:`run` calls it on first use).

        The reserve is forked when a request first takes it (a client with nothing running while the other workers
        are busy): until then it is a place in the dispatch (at the bottom of the stack of idle workers, taken
        last), not a process. A load from one client never takes it, and a worker forked at once held 3.5 MB of
        its own (the pages of the parent it writes to as it starts) for nothing: under ``make bench``'s HTTP
        workloads, 2 of the tree's 7 processes. Forking it takes milliseconds, as replacing a stopped worker does.

        In a process forked from the one that started the pool, workers are started anew: those inherited
        through the fork belong to the parent and are left alone.
        """
        with self._lock:
            if self._owner_pid == os.getpid():
                return
            self._owner_pid = os.getpid()
            self._workers = set()
            places: list[_Worker | _Unstarted] = [_Unstarted() for _ in range(RESERVE_WORKERS)]
            places.extend(self._fork() for _ in range(self.size - RESERVE_WORKERS))
            self._dispatch = self._new_dispatch(places)

    def _start_reserve(self) -> _Worker:
        """Fork the reserve, now that a request has taken its place."""
        with self._lock:
            return self._fork()

    def _new_dispatch(self, workers: list[_Worker | _Unstarted]) -> WorkerDispatch[_Worker | _Unstarted]:
        gauge = None if self.metrics is None else self.metrics.waiting
        return WorkerDispatch(workers, per_client=self.limits.per_client, queue=self.limits.queue, gauge=gauge)

    def _replace(self, worker: _Worker, reason: str) -> _Worker:
        if self.metrics is not None:
            self.metrics.restarts.labels(reason=reason).inc()
        worker.stop()
        with self._lock:
            self._workers.discard(worker)
            return self._fork()

    def _fork(self) -> _Worker:
        """Start a worker (the caller holds the lock)."""
        here, there = socket.socketpair()
        process = _FORK.Process(
            target=_serve_jobs,
            args=(there, self._engine, os.getpid(), self.limits),
            name="kg-query-worker",
            daemon=True,
        )
        process.start()
        there.close()
        worker = _Worker(process, here)
        self._workers.add(worker)
        return worker


class _Unstarted:
    """The place of a reserve worker not forked yet (:meth:`QueryPool.start`)."""


class _Worker:
    """The server's handle on one worker process: the process and the server's end of its socket pair."""

    def __init__(self, process: BaseProcess, channel: socket.socket) -> None:
        self.process = process
        self.channel = channel
        self._poller = select.poll()
        self._poller.register(channel.fileno(), select.POLLIN)

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def ask(self, job: Job, timeout: float, limit: float, limits: WorkerLimits) -> Answer:
        """Send ``job`` and wait up to ``timeout`` seconds (what is left of ``limit``) for the answer."""
        try:
            send_message(self.channel, job)
            if not self._poller.poll(max(1, int(timeout * 1000))):
                raise QueryTimeout(
                    f"The query did not finish within the {limit:g} s limit (KG_QUERY_TIMEOUT) and was "
                    "stopped. Narrow the pattern or add a LIMIT."
                )
            outcome = receive_message(self.channel)
        except (EOFError, OSError) as error:
            self.process.join(timeout=1)
            if self.process.exitcode == -signal.SIGABRT and limits.memory:
                raise MemoryLimitExceeded(limits.memory_message()) from error
            raise WorkerLost("The query worker stopped unexpectedly; the query was not answered.") from error
        if isinstance(outcome, EndpointError):
            raise outcome
        assert isinstance(outcome, Answer)
        return outcome

    def stop(self) -> None:
        """Kill the process (it may be in the middle of a query) and release its socket."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.channel.close()


# --- inside a worker process ----------------------------------------------------------------------------


def _serve_jobs(channel: socket.socket, engine: Engine, server_pid: int, limits: WorkerLimits) -> None:
    """A worker's life: answer jobs from the socket until the server closes it or goes away."""
    if os.getppid() != server_pid:  # the server died before this worker started
        os._exit(0)
    os.nice(WORKER_NICENESS)
    _reset_signals()
    _close_inherited_sockets(keep=channel.fileno())
    engine.worker_started()
    size = address_space()  # read before the sandbox forbids opening /proc
    forbid_io()
    threading.stack_size(WORKER_STACK_BYTES)
    base = None if size is None else size + WORKER_STACK_BYTES
    answering = threading.Thread(target=_answer_jobs, args=(channel, engine, limits, base), name="kg-answer")
    answering.start()
    watch_parent(server_pid, answering)


def _answer_jobs(channel: socket.socket, engine: Engine, limits: WorkerLimits, base: int | None) -> None:
    """Answer each job read from ``channel`` until it closes (the main thread exits if the server dies)."""
    cap_memory(base, limits.memory)
    while True:
        try:
            job = receive_message(channel)
            assert isinstance(job, Job)
            send_message(channel, _answer(engine, job, limits))
        except (EOFError, OSError):
            return


def _answer(engine: Engine, job: Job, limits: WorkerLimits) -> Answer | EndpointError:
    """The answer to ``job`` or the error to send back instead; never raises."""
    try:
        answer = engine.execute(job)
        if len(answer.body) > limits.answer_bytes:
            return ResultTooLarge(
                f"The answer is {len(answer.body)} bytes long, over the limit of {limits.answer_bytes} bytes "
                "(KG_MAX_ANSWER_BYTES). Select fewer or shorter values, or page with LIMIT and OFFSET."
            )
        return answer
    except EndpointError as error:
        return error
    except MemoryError:
        return MemoryLimitExceeded(limits.memory_message())
    except RecursionError:
        return MalformedQuery("The query is nested too deeply to be evaluated.")
    except SandboxViolation:
        log.exception("query worker: the sandbox stopped an access while answering %r", job.query[:500])
        return InternalQueryError("The query tried to access the network or a file and was stopped.")
    except Exception:
        log.exception("query worker: unexpected failure while answering %r", job.query[:500])
        return InternalQueryError("Internal error while evaluating the query (details in the server log).")


def _reset_signals() -> None:
    """Undo the signal handlers inherited from the server (granian and werkzeug install their own) and ignore Ctrl-C."""
    for name in _RESET_SIGNALS:
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _close_inherited_sockets(keep: int) -> None:
    """Close the sockets forked from the server: they would keep its port and its clients' connections open.

    Uses ``/proc/self/fd`` and does nothing where it does not exist.
    """
    try:
        descriptors = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return
    for fd in descriptors:
        if fd <= 2 or fd == keep:
            continue
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.close(fd)
        except OSError:
            continue
