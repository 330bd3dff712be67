"""``python -m bench.soak``: a mixed workload against our server for a few minutes, on loopback only.

Sixteen clients (``--clients``), each from a loopback address of its own, loop over a mix of what users send:
canned queries with parameters, ad-hoc queries (a share of them unique), dereferenced IRIs in every format,
lookups, the VoID description, ``/health``, and now and then a runaway query that runs into the time limit. The
run counts answers by status and flags every unexpected one (a 429: a client sending one request at a time is
always within its share; a 5xx other than the 503 of a time limit or of busy workers, or the 504 of the store's
time limit with ``KG_ENGINE=sparql``; such an answer to a request that needs no query; a failed connection),
reports the p99 latency per kind of request, and samples the PSS of the server's process tree: after a warm-up
third of the run, it must stay flat (the last sample within 15% of the first one after warm-up). Exit status 1
on any unexpected answer or growth. ``make soak`` runs 3 minutes; the test suite runs a short version.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import requests
import requests.adapters

from bench.fuzz import DEFAULT_DATA, LIMIT_STATUSES, served

RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
ENTITIES = ("calcinosis-cutis", "acne", "diltiazem", "dystrophic-calcinosis-cutis", "sodium-thiosulfate")
ACCEPTS = ("text/turtle", "application/ld+json", "application/n-triples", "text/html", "application/rdf+xml")
GROWTH = 0.15
QUERYING = frozenset({"runaway", "adhoc", "canned", "deref"})
"""Requests answered by the query workers: a 503 (time limit, busy workers) is an answer for them under load.
``/health``, lookups and the VoID description never wait for a query worker and must never get one."""


@dataclass
class SoakReport:
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    pss_mb: list[tuple[float, float]] = field(default_factory=list)

    def p99_ms(self, kind: str) -> float:
        ordered = sorted(self.latencies[kind])
        return 1000 * ordered[int(0.99 * (len(ordered) - 1))] if ordered else 0.0

    def flat(self, warm_up: float) -> bool:
        after = [pss for at, pss in self.pss_mb if at >= warm_up]
        return len(after) < 2 or after[-1] <= after[0] * (1 + GROWTH)

    def summary(self, warm_up: float) -> str:
        total = sum(self.statuses.values())
        kinds = ", ".join(f"{kind} p99 {self.p99_ms(kind):.1f} ms" for kind in sorted(self.latencies))
        after = [round(pss) for at, pss in self.pss_mb if at >= warm_up]
        return (
            f"{total} requests, {len(self.unexpected)} unexpected; {kinds}; "
            f"PSS after warm-up (MB): first {after[:1]}, last {after[-1:]}, flat: {self.flat(warm_up)}"
        )


def requests_mix(base: str, rng: random.Random) -> tuple[str, Callable[[requests.Session], requests.Response]]:
    """One request of the mix: its kind and how to send it."""
    roll = rng.random()
    entity = rng.choice(ENTITIES)
    if roll < 0.25:
        return "canned", lambda s: s.get(f"{base}/queries/causes-of-subtype", timeout=30)
    if roll < 0.45:
        limit = rng.randint(1, 50) if rng.random() < 0.5 else 10
        query = f"SELECT ?s ?l WHERE {{ ?s skos:prefLabel ?l }} ORDER BY ?l LIMIT {limit}"
        return "adhoc", lambda s: s.post(f"{base}/sparql", data={"query": query}, timeout=30)
    if roll < 0.65:
        accept = rng.choice(ACCEPTS)
        return "deref", lambda s: s.get(f"{base}/id/{entity}", headers={"Accept": accept}, timeout=30)
    if roll < 0.8:
        return "lookup", lambda s: s.get(f"{base}/lookup", params={"q": entity[:4]}, timeout=30)
    if roll < 0.9:
        return "health", lambda s: s.get(f"{base}/health", timeout=30)
    if roll < 0.98:
        return "void", lambda s: s.get(f"{base}/.well-known/void", timeout=30)
    return "runaway", lambda s: s.post(f"{base}/sparql", data={"query": RUNAWAY}, timeout=30)


CLIENT_LIMIT_STATUS = 429


def client_address(number: int) -> str:
    """The loopback address client ``number`` sends from: Linux routes all of 127.0.0.0/8 to loopback, so each
    simulated user is a client of its own for the server's per-client limits (``KG_CLIENT_CONCURRENCY``)."""
    return f"127.0.0.{10 + number % 240}"


class SourceAddress(requests.adapters.HTTPAdapter):
    """A transport adapter whose connections are made from ``source`` (an address of this host)."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__()

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        pool_kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)


def pss_mb(pid: int) -> float:
    root = psutil.Process(pid)
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += process.memory_full_info().pss
        except psutil.Error:
            continue
    return total / 2**20


def soak(base: str, pid: int, *, seconds: float, clients: int, seed: int = 1) -> SoakReport:
    report = SoakReport()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    started = time.monotonic()

    def client(number: int) -> None:
        rng = random.Random(seed * 1000 + number)  # noqa: S311 (reproducible load, not a secret)
        session = requests.Session()
        session.mount("http://", SourceAddress(client_address(number)))
        while time.monotonic() < deadline:
            kind, send = requests_mix(base, rng)
            began = time.monotonic()
            try:
                response = send(session)
            except requests.RequestException as error:
                with lock:
                    report.unexpected.append(f"{kind}: {type(error).__name__}")
                continue
            with lock:
                report.statuses[(kind, response.status_code)] += 1
                report.latencies[kind].append(time.monotonic() - began)
                limit = response.status_code in LIMIT_STATUSES
                if response.status_code == CLIENT_LIMIT_STATUS:  # one request at a time is always within its share
                    report.unexpected.append(f"{kind}: {response.status_code} {response.text[:200]}")
                if response.status_code >= 500 and not limit:
                    report.unexpected.append(f"{kind}: {response.status_code} {response.text[:200]}")
                if limit and kind not in QUERYING:
                    report.unexpected.append(f"{kind}: {response.status_code} {response.text[:200]}")

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        report.pss_mb.append((time.monotonic() - started, pss_mb(pid)))
        time.sleep(min(5.0, seconds / 10))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="length of the run (default 180)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    options = parser.parse_args(argv)
    with served(options.data, timeout=2.0, workers=2) as (url, server, _log):
        report = soak(url, server.pid, seconds=options.seconds, clients=options.clients)
    warm_up = options.seconds / 3
    print(report.summary(warm_up))
    print("statuses:", dict(sorted(report.statuses.items())))
    for line in report.unexpected[:20]:
        print("unexpected:", line)
    return 0 if not report.unexpected and report.flat(warm_up) else 1


if __name__ == "__main__":
    sys.exit(main())
