"""``python -m bench.runaways``: cached answers and ``/health`` while ten runaway queries are in flight, on loopback.

Issue 28's acceptance: with ten runaway queries in flight, a canned answer and ``/health`` under 100 ms from every
granian worker. A server of ``--workers`` granian workers (``--query-workers`` each, by default the server's own:
one per core, :func:`~calcinosis_kg.server.http.serve.production_query_workers`, and the reserve;
``KG_QUERY_TIMEOUT`` 5 s) is started on the release graph; before the load, a canned query with a parameter (not
among the bundle's precomputed answers) and an ad-hoc query are asked *once*, so one granian worker has evaluated
each. Then ``--runaways`` clients, each from its own loopback address (``127.0.1.N``: the per-client limit does not
refuse them), keep one runaway query each in flight (sent again as soon as it is stopped), which holds every query
worker of every granian worker, while a watcher (``127.0.0.3``) asks, each on a new connection so that every granian
worker is probed, every 50 ms: ``/health``, a canned query without parameters (the bundle's answer), the canned
query with its parameter and the ad-hoc query (the result cache: the worker that did not evaluate them reads them
from the shared cache, :mod:`calcinosis_kg.server.workers.shared_cache`).

Prints, per probe, p50, p99 and max in ms and where the answers came from (the ``X-KG-Answer`` header:
``bundle``, ``memory``, ``shared``; ``query`` means one waited for a query worker). The runaway queries' statuses
are 503 (stopped at the time limit, or refused after waiting as long for a query worker). ``--shared-cache off``
measures each worker's own cache alone (before the shared cache). Exit status 1 when any probe took 100 ms or
more ("from every worker": the slowest counts, not a percentile) or failed. Bounded: the server's start,
``--seconds`` of load, then the runaways are left to the server's stop.
"""

from __future__ import annotations

import argparse
import http.client
import sys
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.fairness import WATCHER
from bench.fuzz import DEFAULT_DATA, served
from bench.soak import RUNAWAY

BOUND_MS = 100.0
PROBES = {
    "health": "/health",
    "canned (bundle)": "/queries/causes-of-subtype",
    "canned with a parameter": "/queries/find-entity?" + urllib.parse.urlencode({"text": "calcinosis"}),
    "ad-hoc query": "/sparql?"
    + urllib.parse.urlencode({"query": "SELECT ?s ?label WHERE { ?s rdfs:label ?label } ORDER BY ?label LIMIT 50"}),
}
"""What the watcher asks, by name. The last two are asked once before the runaways start."""
INTERVAL = 0.05


@dataclass
class RunawayReport:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {name: [] for name in PROBES})
    origins: dict[str, Counter[str]] = field(default_factory=lambda: {name: Counter() for name in PROBES})
    runaways: Counter[int] = field(default_factory=Counter)
    """Statuses the runaway queries got (504: stopped at the time limit)."""
    failures: list[str] = field(default_factory=list)

    def percentile_ms(self, name: str, share: float) -> float:
        ordered = sorted(self.latencies[name])
        return 1000 * ordered[round(share * (len(ordered) - 1))] if ordered else float("inf")

    def ok(self) -> bool:
        return not self.failures and all(self.percentile_ms(name, 1.0) < BOUND_MS for name in PROBES)

    def summary(self) -> str:
        rows = [
            f"{name}: n={len(self.latencies[name])} p50 {self.percentile_ms(name, 0.5):.1f} ms, "
            f"p99 {self.percentile_ms(name, 0.99):.1f} ms, max {self.percentile_ms(name, 1.0):.1f} ms"
            + (f"; answers from {dict(sorted(self.origins[name].items()))}" if self.origins[name] else "")
            for name in PROBES
        ]
        return "\n".join([*rows, f"runaway queries' statuses: {dict(sorted(self.runaways.items()))}"])


def get(url: str, source: str, path: str, *, timeout: float = 30) -> tuple[int, float, str]:
    """Status, seconds and ``X-KG-Answer`` of a GET on a new connection from ``source``."""
    parts = urllib.parse.urlsplit(url)
    started = time.perf_counter()
    connection = http.client.HTTPConnection(
        parts.hostname or "", parts.port, timeout=timeout, source_address=(source, 0)
    )
    try:
        connection.request("GET", path, headers={"Accept": "application/sparql-results+json"})
        response = connection.getresponse()
        response.read()
        return response.status, time.perf_counter() - started, response.getheader("X-KG-Answer", "")
    finally:
        connection.close()


def probe(url: str, *, runaways: int, seconds: float) -> RunawayReport:
    """Warm the two cached probes once, start the runaways, probe for ``seconds`` (see the module docstring)."""
    report = RunawayReport()
    lock = threading.Lock()
    for name in ("canned with a parameter", "ad-hoc query"):
        status, _, _ = get(url, WATCHER, PROBES[name])
        if status != 200:
            report.failures.append(f"warming {name}: {status}")
    deadline = time.monotonic() + seconds
    runaway = "/sparql?" + urllib.parse.urlencode({"query": RUNAWAY})

    def run_away(source: str) -> None:
        while time.monotonic() < deadline:
            try:
                status, _, _ = get(url, source, runaway)
            except OSError:
                status = 0
            with lock:
                report.runaways[status] += 1

    def watch(name: str) -> None:
        while time.monotonic() < deadline:
            try:
                status, elapsed, origin = get(url, WATCHER, PROBES[name], timeout=10)
            except OSError as error:
                with lock:
                    report.failures.append(f"{name}: {error!r}")
                continue
            with lock:
                if status != 200:
                    report.failures.append(f"{name}: {status}")
                report.latencies[name].append(elapsed)
                if origin:
                    report.origins[name][origin] += 1
            time.sleep(INTERVAL)

    hostile = [threading.Thread(target=run_away, args=(f"127.0.1.{n + 1}",), daemon=True) for n in range(runaways)]
    for thread in hostile:
        thread.start()
    time.sleep(1.0)  # the runaways hold every query worker
    watchers = [threading.Thread(target=watch, args=(name,), daemon=True) for name in PROBES]
    for thread in watchers:
        thread.start()
    for thread in watchers:
        thread.join(timeout=seconds + 15)
    return report  # the runaways' threads are daemons: the server's stop ends their requests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.runaways", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runaways", type=int, default=10, help="runaway queries kept in flight (default 10)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the probing (default 10)")
    parser.add_argument("--workers", type=int, default=2, help="granian worker processes (default 2)")
    parser.add_argument("--shared-cache", default="auto", help="KG_SHARED_CACHE of the server (off: before it)")
    parser.add_argument("--query-workers", default="", help="KG_QUERY_WORKERS of the server (default: its own)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    options = parser.parse_args(argv)
    settings = {"KG_SHARED_CACHE": options.shared_cache, "KG_QUERY_WORKERS": options.query_workers}
    with served(options.data, timeout=5.0, workers=options.workers, settings=settings) as (url, _server, _log):
        report = probe(url, runaways=options.runaways, seconds=options.seconds)
    print(f"{options.runaways} runaway queries in flight, {options.workers} granian workers, "
          f"KG_QUERY_WORKERS={options.query_workers or 'default'}, KG_SHARED_CACHE={options.shared_cache}")  # fmt: skip
    print(report.summary())
    for line in report.failures[:10]:
        print("failure:", line)
    return 0 if report.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
