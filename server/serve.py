"""Running the endpoint: the embedded werkzeug server, or gunicorn with several worker processes.

Production runs gunicorn's ``sync`` workers, one per core by default, each with its own query worker
process(es). Measured on 2 cores with ``wrk -t2 -c8`` on a cached canned query, sync workers answered about
2.5 times as many requests as ``gthread`` workers (3,400 against 1,100-1,500 req/s through Flask, p50 2.3 ms
against 5-7 ms): gthread's keep-alive saves the TCP handshakes, but its request threads and its poller thread
contend for the GIL, each hand-over waiting up to the interpreter's switch interval. Before serving, the app's
WSGI callable is wrapped in :class:`~calcinosis_kg.server.replay.ResponseReplay` (repeated cached query
requests answered without Flask) and the loaded data are moved out of the garbage collector's reach
(``gc.freeze``), which removed 50-300 ms collection pauses from the 99th percentile of uncached queries.
"""

from __future__ import annotations

import gc
import logging
import math
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]
from werkzeug.serving import WSGIRequestHandler, make_server

from calcinosis_kg.server.app import create_app, query_pool
from calcinosis_kg.server.replay import install_replay
from calcinosis_kg.server.settings import Settings

log = logging.getLogger(__name__)

GUNICORN_LIMIT_REQUEST_LINE = 8190
"""Longest request line gunicorn accepts (its maximum); longer GET queries must be sent by POST."""


def serve(host: str, port: int, *, production: bool = False, workers: int | None = None) -> None:
    """Serve the SPARQL endpoint on ``host``:``port`` until interrupted.

    Settings come from the environment (see :mod:`calcinosis_kg.server.settings`). ``workers`` is the
    number of processes that evaluate queries (default: the number of cores, at least 2 for the embedded
    server). The embedded (werkzeug, threaded) server runs that many query worker processes. With
    ``production=True`` gunicorn runs that many worker processes (sync workers, one request at a time
    each), and each of them evaluates its queries in one query worker process of its own.

    Repeated query requests whose answers are cached are answered before Flask (see
    :mod:`calcinosis_kg.server.replay`). Every request is logged on stderr. The embedded server returns on
    Ctrl-C or SIGTERM; gunicorn ends the process itself (``SystemExit``) when it is stopped. Raises
    :class:`~calcinosis_kg.errors.KGError` when the settings or the data are invalid. When the address
    cannot be used, werkzeug or gunicorn print why and exit (``SystemExit(1)``).
    """
    _configure_logging()
    cores = os.cpu_count() or 1
    config: dict[str, Any] = {}
    if production:
        if "KG_QUERY_WORKERS" not in os.environ:
            config["KG_QUERY_WORKERS"] = 1
    elif workers is not None:
        config["KG_QUERY_WORKERS"] = workers
    app = create_app(config)
    settings = Settings.load(config)
    install_replay(
        app, max_entries=settings.cache_entries, max_bytes=settings.cache_bytes, trust_proxy=settings.trust_proxy
    )
    gc.freeze()  # the loaded data stays out of every later collection: no long GC pauses, no copy-on-write of it
    if production:
        _serve_gunicorn(app, host, port, workers=workers or cores)
    else:
        _serve_embedded(app, host, port)


def _serve_embedded(app: Flask, host: str, port: int) -> None:
    pool = query_pool(app)
    pool.start()  # fork the query workers before the server has sockets and threads
    try:
        # If the address cannot be used, werkzeug prints why and exits (SystemExit).
        server = make_server(host, port, app, threaded=True, request_handler=_RequestHandler)
        log.info(
            "serving http://%s:%d/sparql (embedded server, %d query workers)", host, server.port, pool.size
        )
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _stop_on_sigterm)
        server.serve_forever()  # returns on Ctrl-C or SIGTERM: werkzeug catches the KeyboardInterrupt
        log.info("stopped")
    finally:
        pool.close()


def _serve_gunicorn(app: Flask, host: str, port: int, *, workers: int) -> None:
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    pool = query_pool(app)

    def start_query_worker(arbiter: object, worker: object) -> None:
        pool.start()

    options = {
        "bind": address,
        "workers": workers,
        "worker_class": "sync",
        # A request may wait up to the time limit for a query worker, then the query runs up to the limit.
        "timeout": math.ceil(2 * pool.timeout) + 30,
        "graceful_timeout": 10,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "info",
        "limit_request_line": GUNICORN_LIMIT_REQUEST_LINE,
        "proc_name": "calcinosis-kg",
        "post_fork": start_query_worker,
        # gunicorn >= 25.1 opens a control socket in $HOME or $XDG_RUNTIME_DIR by default; not wanted here.
        "control_socket_disable": True,
    }
    log.info("serving http://%s/sparql (gunicorn, %d worker processes)", address, workers)
    _GunicornApplication(app, options).run()


class _RequestHandler(WSGIRequestHandler):
    """werkzeug's handler without its own access log (the app logs every request itself)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class _GunicornApplication(BaseApplication):  # type: ignore[misc]
    """gunicorn run from Python with an app object that is already loaded (so workers share its dataset)."""

    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        """Apply the options; those this gunicorn version does not have are skipped."""
        for key, value in self._options.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._app


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
