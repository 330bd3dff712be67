"""Where a unique query's time goes in our web process: CPU per request by method, and its profile.

``python -m bench.webcpu [--requests N] [--profile GET|form|direct] [--data FILE.nt]``

The app is assembled as ``serve()`` assembles it (the response replay and the request guard around the app,
the data frozen out of the collector's reach) with one query worker process, and called as a WSGI callable,
one request at a time, with the ``unique`` workload's requests (:mod:`bench.workloads`: a new ``LIMIT`` on
every request, so no cache answers) by GET, POST form and POST ``application/sparql-query``. Printed per method:
the web process's CPU per request (``time.process_time``: this process only, so the query worker's evaluation
and the wait for it are left out) and the wall time per request (which includes them).

Why CPU and not req/s: on a machine shared with other work, wall-clock rates and tails move by a factor of
2 or 3 from one minute to the next, while the CPU a request costs the web process moves by some 10-20 %. Each
granian worker is one Python process (one GIL): its CPU per request bounds its rate (1 / CPU per request),
and every microsecond of it is also a microsecond another request waits for the GIL, which is where the tail
of a loaded server goes. ``--profile`` prints cProfile's top functions (by their own time) for one method:
``poll`` is the wait for the worker, ``sendall``/``recv`` the hop to it.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bench.workloads import canned_specs, unique_headers, unique_templates

METHODS = {"GET": "", "form": "-form", "direct": "-direct"}
"""Our names of the three ways of sending a query -> the workload suffix of :mod:`bench.workloads`."""
WARM_UP = 50
"""Requests of each method sent before the timed ones (imports, first writers, the worker's first read)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.webcpu", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="timed requests per method (default 1000)")
    parser.add_argument("--profile", choices=sorted(METHODS), help="print cProfile's top functions for this method")
    parser.add_argument("--data", type=Path, help="N-Triples file to serve (default: the build's graph)")
    args = parser.parse_args(argv)
    if args.data is not None:
        os.environ["KG_DATA"] = str(args.data)
    os.environ.setdefault("KG_ENGINE", "oxigraph")
    os.environ["KG_CLIENT_CONCURRENCY"] = "1024"
    app, close = _served_app()
    try:
        for name, method in METHODS.items():
            requests = _requests(method)
            for _ in range(WARM_UP):
                _call(app, next(requests))
            profile = cProfile.Profile() if args.profile == name else None
            if profile is not None:
                profile.enable()
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(args.requests):
                _call(app, next(requests))
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            if profile is not None:
                profile.disable()
                out = io.StringIO()
                pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(20)
                print(out.getvalue())
            per = 1e6 / args.requests
            print(f"{name:6s}  web CPU {cpu * per:5.0f} us/request   wall {wall * per:6.0f} us/request", flush=True)
    finally:
        close()
    return 0


def _served_app() -> tuple[Callable[..., Iterable[bytes]], Callable[[], None]]:
    """The app wrapped as ``serve()`` wraps it, its pool started; and the function that stops the pool."""
    from calcinosis_kg.server.app import query_pool
    from calcinosis_kg.server.http.serve import served_app

    app = served_app({"KG_QUERY_WORKERS": 1})
    pool = query_pool(app)
    pool.start()
    return app, pool.close


def _requests(method: str) -> Any:
    """An endless iterator of WSGI environs of the unique workload sent by ``method`` (its constants differ from
    the other methods': the same text sent another way is the result cache's)."""
    specs = canned_specs()
    templates = unique_templates(specs, "/sparql", method)
    headers = unique_headers(method)
    counter = 10_000_000 * (list(METHODS.values()).index(method) + 1)
    while True:
        counter += 1
        spec, (before, after) = specs[counter % len(specs)], templates[counter % len(specs)]
        text = f"{before}{987_000_000_000 + counter}{after}"
        environ: dict[str, Any] = {
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "HTTP_HOST": "127.0.0.1:8000",
            "REMOTE_ADDR": "127.0.0.1",
            "SCRIPT_NAME": "",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_ACCEPT": spec.accept,
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        if not method:
            path, _, query = text.partition("?")
            environ.update(REQUEST_METHOD="GET", PATH_INFO=path, QUERY_STRING=query)
            environ["wsgi.input"] = io.BytesIO(b"")
        else:
            body = text.encode()
            environ.update(REQUEST_METHOD="POST", PATH_INFO="/sparql", QUERY_STRING="")
            environ.update(CONTENT_LENGTH=str(len(body)), CONTENT_TYPE=headers["Content-Type"])
            environ["wsgi.input"] = io.BytesIO(body)
        yield environ


def _call(app: Callable[..., Iterable[bytes]], environ: dict[str, Any]) -> None:
    status: list[str] = []

    def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        status.append(line)

    for _ in app(environ, start_response):
        pass
    if not status or not status[0].startswith("200"):
        raise SystemExit(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']} answered {status}: not a unique query")


if __name__ == "__main__":
    sys.exit(main())
