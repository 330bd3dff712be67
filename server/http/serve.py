"""Running the endpoint: the embedded werkzeug server, or granian with several worker processes.

Production runs granian (a WSGI server written in Rust) with one worker process per core by default. granian's own
threads do the HTTP work (reading requests, keeping connections alive, writing responses); in each worker,
``KG_QUERY_WORKERS`` query worker processes (default :func:`production_query_workers`: the cores shared among the
granian workers, three per core for a store read from disk) evaluate the queries and :func:`app_threads` Python
threads run the app. A query running to its time limit holds up one thread and one query worker: the other threads
go on answering the requests granian has queued on that worker, cached answers included while every query worker is
busy (with one thread per worker, every request behind such a query waited for it). Measured on 2 cores with ``wrk
-t2 -c8`` (see the README's benchmark), granian answered a cached canned query about three times as often as
gunicorn's sync workers (18,300 against 6,250 req/s) and a do-nothing WSGI app about six times as often (57,000
against 8,500): sync workers close the connection after every response, and gunicorn's gthread workers, which keep
it, were slower still (their request and poller threads contend for the GIL). Two, three or four threads per worker
measured the same on unique queries (1,460-1,540 req/s) and on ``/health`` (5,960-6,420).

Before serving, the app's WSGI callable is wrapped in :class:`~calcinosis_kg.server.http.replay.ResponseReplay`
(repeated cached query requests answered without Flask), then in
:class:`~calcinosis_kg.server.http.guard.RequestGuard` (header size, body size and body time, for every route),
and the loaded data are moved out of the garbage
collector's reach (``gc.freeze``), which removed 50-300 ms collection pauses from the 99th percentile of
uncached queries. granian forks its workers from this process, so they share the loaded dataset; each worker
forks its query workers before granian starts threads in it.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import resource
import signal
import socket
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any

from flask import Flask
from granian import Granian
from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings

from calcinosis_kg.errors import KGError
from calcinosis_kg.server.app import app_services, create_app, query_pool
from calcinosis_kg.server.http.guard import BODY_READERS, install_guard
from calcinosis_kg.server.http.replay import install_replay
from calcinosis_kg.server.workers.limits import die_with_parent

if TYPE_CHECKING:
    from werkzeug.serving import WSGIRequestHandler

log = logging.getLogger(__name__)

PRODUCTION_QUERY_WORKERS = 2
"""Most query worker processes per granian worker by default, store in memory (:func:`production_query_workers`)."""

ON_DISK_PER_CORE = 3
"""Query worker processes per core by default for a store read from disk (:func:`production_query_workers`)."""


def production_query_workers(workers: int, cores: int, *, on_disk: bool = False) -> int:
    """Query worker processes per granian worker unless ``KG_QUERY_WORKERS`` says otherwise; each pool starts its
    reserve worker beyond them (:data:`~calcinosis_kg.server.workers.fairness.RESERVE_WORKERS`).

    **A store in memory** (the release graph; any bundle of at most
    :data:`~calcinosis_kg.server.resources.bundle.MEMORY_QUADS` quads): the cores shared among the ``workers``
    granian workers, at least 1 and at most :data:`PRODUCTION_QUERY_WORKERS`. Evaluation there is CPU-bound, so
    query workers beyond the cores add memory and no throughput: one granian worker per core (the default) gets
    one query worker and the reserve, 2 x 2 on 2 cores instead of 2 x 3. Each query worker held 7-8 MB of its
    own after ``make bench``'s workloads on the release graph, so the server tree measured 135 against 164 MB.

    **A store read from disk** (``on_disk``: RocksDB, larger bundles): :data:`ON_DISK_PER_CORE` per core, shared
    among the granian workers, at most that many times :data:`PRODUCTION_QUERY_WORKERS`. There a query also waits
    for the store's pages and blocks, and at 1M triples the unique workload's queries cost 2 ms to 2.5 s: with
    two workers the cheap ones queued behind the dear ones (wrk's eight connections, one client) and some waited
    out the time limit (503), while Oxigraph's server runs every request in a thread of its own. In runs
    interleaved with ``oxigraph serve-read-only`` on the same graph (one replica ``--workers 1``, 2 cores),
    6 workers measured x1.13 of its requests/s where 2 measured x0.93, for 11 MB more PSS at rest (133 against
    122 MB). Under load each worker reading the store fills a RocksDB block cache of its own (about 40 MB: one
    replica 433 MB after the unique runs at 1M, Oxigraph's server 432 MB; ``docs/scaling.md``).
    """
    share = max(1, workers)
    if on_disk:
        return max(1, min(ON_DISK_PER_CORE * PRODUCTION_QUERY_WORKERS, ON_DISK_PER_CORE * cores // share))
    return max(1, min(PRODUCTION_QUERY_WORKERS, cores // share))


SPARE_THREADS = 4
"""Python threads of a granian worker beyond those its queries can hold (running or waiting for a worker)."""


def app_threads(query_workers: int, queue: int) -> int:
    """Threads running the app in a granian worker: one per query worker, one per place in the queue, one per
    body being received (:data:`~calcinosis_kg.server.http.guard.BODY_READERS`), and :data:`SPARE_THREADS`,
    so that ``/health``, cached answers and pages never wait for a thread while queries are running or queued
    (the queue refuses the next query at once) or slow clients are sending bodies (the guard refuses the next
    body at once)."""
    return query_workers + queue + BODY_READERS + SPARE_THREADS


MAX_REQUEST_HEAD = 64 * 1024
"""Bytes granian buffers for a request's line and headers. hyper refuses a request line over 64 KiB (414) but
lets somewhat larger headers through: :mod:`~calcinosis_kg.server.http.guard` refuses those (431)."""

HEADER_READ_TIMEOUT_MS = 10_000
"""How long granian waits for a request's headers, on a new connection and between the requests of a kept-alive
one, before it closes the connection. It bounds how long an idle connection holds a file descriptor (hyper
starts the timer as soon as it waits for a request head): 2,000 clients opening connections and sending nothing
cost 10 s of descriptors, not 30."""

CONNECTIONS_PER_WORKER = 16_384
"""Most connections a granian worker holds open at once (granian's ``backpressure``; past it the worker stops
accepting, and new connections wait in the kernel's backlog). granian's default is ``backlog / workers`` (512
with 2 workers): 1,100 idle connections from one client then took every place, and ``/health`` waited for the
header timeout (27-30 s). An idle connection costs a tokio task and a few KiB in the worker, so the bound is
the open-file limit (:func:`connection_limit`)."""

LISTEN_BACKLOG = 4096
"""Connections the kernel queues before granian accepts them (capped by ``net.core.somaxconn``)."""

RESERVED_FILES = 256
"""File descriptors of a granian worker kept for everything but client connections (data, sockets to the
query workers, pipes, logs)."""


def connection_limit() -> int:
    """Connections each granian worker may hold: :data:`CONNECTIONS_PER_WORKER`, or fewer if the open-file limit
    (raised to its hard limit first, as nginx's ``worker_rlimit_nofile``) leaves less room. Each worker is its
    own process with its own descriptor table; a worker out of descriptors would fail ``accept`` in a loop."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        wanted = CONNECTIONS_PER_WORKER + RESERVED_FILES if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (OSError, ValueError):
            pass
    return max(64, min(CONNECTIONS_PER_WORKER, soft - RESERVED_FILES))


MMAP_THRESHOLD = 16 * 1024
"""Blocks of at least this size are mapped by glibc's malloc on their own and unmapped when freed
(:func:`return_large_blocks`). 128 KiB at first (answers of a megabyte); 16 KiB since the answers a server keeps
for a while and then drops (the result cache's, the shared answers read back, 12-17 KB each for the release
graph's descriptions) left holes in the threads' heaps as they were evicted: after ``make bench``'s deref
workload (181 descriptions, 128 kept in each process) glibc held 4-5 MB free but not returned in each granian
worker (``mallinfo2``): the tree's anonymous memory after ``/health`` and deref runs measured 109-110 MB, 105
with 16 KiB at the same rates (issue 28)."""
_M_MMAP_THRESHOLD = -3
"""``mallopt``'s parameter number for the mmap threshold (``malloc.h``)."""


def return_large_blocks() -> None:
    """Make glibc's malloc give every block of :data:`MMAP_THRESHOLD` bytes or more back to the system when freed.

    By default glibc raises its mmap threshold to the size of each mapped block freed (up to 32 MiB): after the
    first answer of a megabyte, every later one, and its copies on the way (the channel's buffer, the unpickled
    bytes, the response), came from the heaps of the app threads, which fragment and keep what they held.
    Measured on one granian worker, 8 clients asking 80 cached answers of 1.07 MB twice: PSS +70 MB with 32 MiB
    of cache (+26 MB with the cache off), against +46 MB (+10 MB) with the threshold fixed. Fixing it turns
    the dynamic threshold off. Set before granian forks, so every worker and query worker inherits it; a C
    library without ``mallopt`` (musl) is left alone.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class DeliberateThreads(logging.Filter):
    """Drops granian's warning that the configuration "allows spawning up to N Python threads": the count is
    chosen on purpose (:func:`app_threads`, the module docstring), and the warning was the one line a newcomer
    read at every ``make serve`` that was not ours."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Python threads" not in record.getMessage()


_GRANIAN_LOGGING: dict[str, Any] = {
    "formatters": {
        "generic": {"()": "logging.Formatter", "fmt": _LOG_FORMAT},
        "access": {"()": "logging.Formatter", "fmt": _LOG_FORMAT},
    },
    "filters": {"deliberate_threads": {"()": DeliberateThreads}},
    "handlers": {
        "console": {
            "formatter": "generic",
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "filters": ["deliberate_threads"],
        },
        "access": {"formatter": "access", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
    },
}
"""granian's logging configuration, changed to write its lines like ours, on stderr, without the warning about
the thread count we chose."""


class AddressUnavailable(KGError):
    """The address to serve on cannot be bound (already in use, not an address of this host, ...)."""


def serve(host: str, port: int, *, production: bool = False, workers: int | None = None) -> None:
    """Serve the SPARQL endpoint on ``host``:``port`` until interrupted.

    Settings come from the environment (see :mod:`calcinosis_kg.server.settings`). ``workers`` is the
    number of processes that evaluate queries (default: the number of cores, at least 2 for the embedded
    server). The embedded (werkzeug, threaded) server runs that many query worker processes. With
    ``production=True`` granian runs that many worker processes, each with ``KG_QUERY_WORKERS`` query worker
    processes (default :func:`production_query_workers`) and :func:`app_threads` threads running the app.

    Repeated query requests whose answers are cached are answered before Flask (see
    :mod:`calcinosis_kg.server.http.replay`). Every request is logged on stderr. The embedded server returns on
    Ctrl-C or SIGTERM. Raises
    :class:`~calcinosis_kg.errors.KGError` when the settings or the data are invalid, and (production)
    :class:`AddressUnavailable` when the address cannot be bound. When the embedded server's address cannot
    be used, werkzeug prints why and exits (``SystemExit(1)``). granian returns when it is stopped (SIGINT,
    SIGTERM), after its workers have finished.
    """
    _configure_logging()
    if production:
        check_address(host, port)
    return_large_blocks()
    cores = os.cpu_count() or 1
    config: dict[str, Any] = {}
    if production:
        if "KG_QUERY_WORKERS" not in os.environ:
            config["KG_QUERY_WORKERS"] = production_query_workers(workers or cores, cores)
    elif workers is not None:
        config["KG_QUERY_WORKERS"] = workers
    if "KG_BUNDLE" not in os.environ:
        config["KG_BUNDLE"] = "make"  # a server started on KG_DATA files makes their bundle once, for every start
    app = served_app(config)
    if production and "KG_QUERY_WORKERS" not in os.environ and app_services(app).store_on_disk:
        # known once the bundle is open (KG_STORE_IN_MEMORY and its size decide); the pool has not forked yet
        query_pool(app).resize(production_query_workers(workers or cores, cores, on_disk=True))
    if production:
        _serve_granian(app, host, port, workers=workers or cores)
    else:
        _serve_embedded(app, host, port)


def served_app(config: dict[str, Any]) -> Flask:
    """The app as :func:`serve` serves it: created with ``config``, repeated answers replayed before Flask
    (:func:`~calcinosis_kg.server.http.replay.install_replay`) and every request body guarded
    (:func:`~calcinosis_kg.server.http.guard.install_guard`); its start-up objects frozen out of the cycle
    collector's reach. Its query pool is not started (the caller forks it where its processes belong)."""
    gc.disable()  # start-up allocates much and frees little: collecting cycles during it cost about 0.1 s
    try:
        app = create_app(config)
        services = app_services(app)
        settings = services.settings
        cache = services.pool.cache  # the replay keeps what the result cache keeps in memory (its bounds)
        install_replay(
            app,
            max_entries=0 if cache is None else cache.max_entries,
            max_bytes=0 if cache is None else cache.max_bytes,
            trust_proxy=settings.trust_proxy,
            metrics=services.metrics,
        )
        install_guard(app, max_body=settings.max_body, body_timeout=settings.body_timeout, metrics=services.metrics)
        gc.freeze()  # the loaded data stay out of every later collection: no long GC pauses, no copy-on-write
    finally:
        gc.enable()
    return app


def _serve_embedded(app: Flask, host: str, port: int) -> None:
    from werkzeug.serving import make_server  # the embedded server only: production never imports it

    pool = query_pool(app)
    pool.start()  # fork the query workers before the server has sockets and threads
    try:
        # If the address cannot be used, werkzeug prints why and exits (SystemExit).
        server = make_server(host, port, app, threaded=True, request_handler=_request_handler())
        log.info("serving http://%s:%d/sparql (embedded server, %d query workers)", host, server.port, pool.size)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _stop_on_sigterm)
        server.serve_forever()  # returns on Ctrl-C or SIGTERM: werkzeug catches the KeyboardInterrupt
        log.info("stopped")
    finally:
        pool.close()


def _serve_granian(app: Flask, host: str, port: int, *, workers: int) -> None:
    pool = query_pool(app)
    main_pid = os.getpid()

    def load_app(target: str) -> Flask:
        # Runs in each granian worker process, forked from this one, before its Rust runtime starts threads:
        # the query workers are forked from a single-threaded process and the app is the one loaded here.
        # The worker dies with granian's main process (a kill -9 of it would otherwise leave workers serving).
        die_with_parent(main_pid)
        pool.start()
        return app

    server = Granian(
        target="calcinosis_kg.server",
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=app_threads(pool.size, pool.limits.queue),  # see the module docstring
        backlog=LISTEN_BACKLOG,
        backpressure=connection_limit(),
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(header_read_timeout=HEADER_READ_TIMEOUT_MS, max_buffer_size=MAX_REQUEST_HEAD),
        log_dictconfig=_GRANIAN_LOGGING,
        log_access=False,  # the app logs every request itself
        respawn_failed_workers=True,
        workers_kill_timeout=10,
    )
    log.info("serving http://%s/sparql (granian, %d worker processes)", _address(host, port), workers)
    server.serve(target_loader=load_app)


def check_address(host: str, port: int) -> None:
    """Raise :class:`AddressUnavailable` if ``host``:``port`` cannot be bound by a socket of this process alone.

    granian binds its listening socket with ``SO_REUSEPORT``, so a second server started on a port already
    served would share it silently (each taking some of the connections); a probe bound without that option
    fails if anything listens there.
    """
    try:
        family, kind, proto, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(sockaddr)
    except OSError as error:
        raise AddressUnavailable(f"cannot serve on {_address(host, port)}: {error.strerror or error}") from error


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _request_handler() -> type[WSGIRequestHandler]:
    """werkzeug's handler without its own access log (the app logs every request itself)."""
    from werkzeug.serving import WSGIRequestHandler

    class RequestHandler(WSGIRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            return

    return RequestHandler


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format=_LOG_FORMAT)
