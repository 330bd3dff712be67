"""``python -m bench.fairness``: one client's runaway queries against everyone else's, on loopback only.

A hostile client (``127.0.0.1``) keeps ``--runaways`` runaway queries in flight (each a fresh request as soon as
the previous one is answered, so refused ones come straight back) while, on other loopback addresses, a second
client sends cheap queries that are never cached (a new ``LIMIT`` each time) one after another, and a third asks
for ``/health`` and a cached canned answer (each probe in a thread of its own, one request every 50 ms), each on
a new connection so that every granian worker is probed.
Linux routes all of ``127.0.0.0/8`` to the loopback interface, so the clients really have distinct addresses.

Reports the latencies of the probes (p50, p90, max) and the statuses the hostile client got. Exit status 1 when
another client's uncached query has a p50 of 100 ms or more, or ``/health`` or the canned answer took 100 ms or
more at p90 (the acceptance of issue 24). The run is bounded: ``--seconds`` of load plus the server's start.
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

from bench.fuzz import DEFAULT_DATA, served
from bench.soak import RUNAWAY

HOSTILE = "127.0.0.1"
OTHER = "127.0.0.2"
WATCHER = "127.0.0.3"
CANNED = "/queries/causes-of-subtype"
BOUND_MS = 100.0


@dataclass
class FairnessReport:
    hostile: Counter[int] = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"uncached": [], "health": [], "canned": []})
    failures: list[str] = field(default_factory=list)

    def percentile_ms(self, kind: str, share: float) -> float:
        ordered = sorted(self.latencies[kind])
        return 1000 * ordered[int(share * (len(ordered) - 1))] if ordered else float("inf")

    def ok(self) -> bool:
        return (
            not self.failures
            and self.percentile_ms("uncached", 0.5) < BOUND_MS
            and all(self.percentile_ms(kind, 0.9) < BOUND_MS for kind in ("health", "canned"))
        )

    def summary(self) -> str:
        rows = [
            f"{kind}: n={len(values)} p50 {self.percentile_ms(kind, 0.5):.1f} ms, p90 "
            f"{self.percentile_ms(kind, 0.9):.1f} ms, max {self.percentile_ms(kind, 1.0):.1f} ms"
            for kind, values in self.latencies.items()
        ]
        return "\n".join([*rows, f"hostile client's statuses: {dict(sorted(self.hostile.items()))}"])


def request(
    url: str, source: str, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
) -> tuple[int, float]:
    """Status and seconds of one request on a new connection from ``source`` (``body`` a form unless ``headers``
    say otherwise)."""
    parts = urllib.parse.urlsplit(url)
    started = time.perf_counter()
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30, source_address=(source, 0))
    try:
        sent = {"Accept": "application/sparql-results+json"}
        if body is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers={**sent, **(headers or {})})
        response = connection.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    finally:
        connection.close()


def probe(url: str, *, runaways: int, seconds: float) -> FairnessReport:
    """Run the hostile client and the probes for ``seconds`` (see the module docstring)."""
    report = FairnessReport()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    for _ in range(8):  # every granian worker caches the canned answer (new connections spread over them)
        request(url, WATCHER, "GET", CANNED)
    runaway = urllib.parse.urlencode({"query": RUNAWAY})

    def hostile() -> None:
        while time.monotonic() < deadline:
            try:
                status, _ = request(url, HOSTILE, "POST", "/sparql", runaway)
            except OSError as error:
                with lock:
                    report.failures.append(f"hostile: {error!r}")
                time.sleep(0.1)
                continue
            with lock:
                report.hostile[status] += 1

    threads = [threading.Thread(target=hostile, daemon=True) for _ in range(runaways)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # the runaways hold their workers

    def probing(kind: str, source: str) -> None:
        n = 0
        while time.monotonic() < deadline - 0.5:
            n += 1
            cheap = f"SELECT ?label WHERE {{ cc:calcinosis-cutis rdfs:label ?label }} LIMIT {n}"
            path = {"health": "/health", "canned": CANNED}.get(kind) or "/sparql?" + urllib.parse.urlencode(
                {"query": cheap}
            )
            try:
                status, elapsed = request(url, source, "GET", path)
            except OSError as error:
                with lock:
                    report.failures.append(f"{kind}: {error!r}")
                continue
            with lock:
                if status != 200:
                    report.failures.append(f"{kind}: {status}")
                report.latencies[kind].append(elapsed)
            time.sleep(0.05)

    probes = [
        threading.Thread(target=probing, args=(kind, source), daemon=True)
        for kind, source in (("uncached", OTHER), ("health", WATCHER), ("canned", WATCHER))
    ]
    for thread in probes:
        thread.start()
    threads.extend(probes)
    for thread in threads:
        thread.join(timeout=40)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fairness", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runaways", type=int, default=20, help="runaway queries the hostile client keeps sent")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of the run (default 15)")
    parser.add_argument("--timeout", type=float, default=5.0, help="KG_QUERY_TIMEOUT of the server (default 5)")
    parser.add_argument("--workers", type=int, default=2, help="granian worker processes (default 2)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    options = parser.parse_args(argv)
    with served(options.data, timeout=options.timeout, workers=options.workers) as (url, _server, _log):
        report = probe(url, runaways=options.runaways, seconds=options.seconds)
    print(report.summary())
    for line in report.failures[:10]:
        print("failure:", line)
    return 0 if report.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
