"""``python -m bench.fuzz``: grammar-aware SPARQL fuzzing of a running server, on loopback only.

Seeds are real queries (the W3C SPARQL test suites copied into ``tests/w3c/``, the canned queries) and the
hostile shapes the server must refuse cleanly (deep nesting at and beyond the lexer's limits, strings doubled
past the memory cap, cross products, escapes naming surrogates). Each generated query is a seed mutated one to
three times at the level of tokens (:mod:`calcinosis_kg.server.sparql.lexer`): a token deleted, doubled,
swapped or replaced by a keyword, a bracket, an escape or a long literal, or the whole query nested. The run is
deterministic for a seed.

Every answer must be a 2xx or a 4xx with a plain-text message, or a 503 (a limit, or busy workers), within the
time limit plus a margin. The report counts statuses, 5xx other than 503 (each kept with its query), hangs, query worker
crashes (from the server log), the server tree's peak RSS and the p99 latency; the exit status is 1 when any
5xx, hang or crash was seen. ``make fuzz`` runs 10,000 queries against a server it starts on the built graph,
then the FHIR body fuzzer (:mod:`bench.fuzz_fhir`, 2,000 requests to ``/fhir``) against the same server; the test
suite runs short versions of both.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote_from_bytes

import psutil
import requests

from bench.fuzz_fhir import fuzz_fhir
from calcinosis_kg.server.sparql.lexer import expand_escapes, tokenize

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "build" / "calcinosis-kg.nt"
SEED_DIRS = (ROOT / "tests" / "w3c" / "sparql", ROOT / "queries")
INSERTS = (
    "{", "}", "(", ")", "[", "]", ".", ";", ",", "SERVICE", "service <http://127.0.0.1:9/>", "FROM <x:y>",
    "GRAPH", "OPTIONAL", "UNION", "MINUS", "FILTER", "EXISTS", "NOT", "BIND", "AS", "VALUES", "SELECT", "*",
    "DESCRIBE", "CONSTRUCT", "ASK", "INSERT DATA", "LOAD <file:///etc/passwd>", "\\u0053ERVICE", "\\uD800",
    "\\U0010FFFF", "\\u0000", '"', "'", "'''", "<", ">", "<<", ">>", "#", "?", "$x", "_:b", "^^", "@en", "1e999",
    "99999999999999999999999", "-0.0", "REGEX(?x, '(a*)*b')", "CONCAT(?x, ?x)", "STR(", "COUNT(*)", "GROUP BY",
    "ORDER BY", "LIMIT", "OFFSET", "a", "true", "UNDEF", "\x00", "\ud800", "é", "\u2028", "%00",
)  # fmt: skip
LIMIT_STATUSES = frozenset({503, 504})
"""Time limit, memory limit, busy workers (503), the store's time limit with ``KG_ENGINE=sparql`` (504): the
statuses that are answers, not failures."""
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
HANG_SECONDS = 15.0
"""An answer later than the time limit plus this is a hang (the queue wait counts toward the limit; the margin
covers HTTP and a loaded machine)."""


def hostile_shapes() -> list[str]:
    """The shapes that crashed or stalled earlier versions: deep, long, memory-hungry, cross products."""
    doubled = " ".join(f"BIND(CONCAT(?x{i}, ?x{i}) AS ?x{i + 1})" for i in range(30))
    shapes = [
        "SELECT (STRLEN(?x30) AS ?n) WHERE { BIND('aaaaaaaaaaaaaaaa' AS ?x0) " + doubled + " }",
        "SELECT ?o ?c WHERE { ?s ?p ?o . ?a ?b ?c } ORDER BY ?o ?c LIMIT 1",
        "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }",
        'SELECT * WHERE { ?s ?p "\\uD800" }',
    ]
    for depth in (255, 256, 257, 300, 1000, 5000):
        shapes.append("SELECT ?x WHERE { BIND(" + "STR(" * depth + "1" + ")" * depth + " AS ?x) }")
        shapes.append("ASK { " + "FILTER EXISTS {" * depth + "}" * depth + " }")
        shapes.append("SELECT * WHERE " + "{" * depth + "?s ?p ?o" + "}" * depth)
        shapes.append("SELECT * WHERE { ?s <p> " + "[ <p> " * depth + "1" + "]" * depth + " }")
        shapes.append("SELECT * WHERE { ?s " + "(" * depth + "<p>" + ")" * depth + " ?o }")
    for count in (1000, 5000, 20000):
        shapes.append("SELECT " + " ".join(f"(1 AS ?v{i})" for i in range(count)) + " {}")
        shapes.append("SELECT * WHERE { " + " ".join(f"?s{i} <p> ?o{i} ." for i in range(count)) + "}")
    return shapes


def seeds() -> list[str]:
    texts = [path.read_text(encoding="utf-8", errors="replace") for d in SEED_DIRS for path in sorted(d.rglob("*.rq"))]
    return [text for text in texts if text.strip()]


def mutate(text: str, rng: random.Random) -> str:
    """``text`` changed one to three times at the level of its tokens (see the module docstring)."""
    try:
        tokens = [token.text for token in tokenize(expand_escapes(text))]
    except ValueError:
        tokens = text.split()
    for _ in range(rng.randint(1, 3)):
        choice = rng.random()
        if not tokens or choice < 0.2:
            tokens.insert(rng.randint(0, len(tokens)), rng.choice(INSERTS))
        elif choice < 0.4:
            del tokens[rng.randrange(len(tokens))]
        elif choice < 0.55:
            index = rng.randrange(len(tokens))
            tokens.insert(index, tokens[index])
        elif choice < 0.7:
            i, j = rng.randrange(len(tokens)), rng.randrange(len(tokens))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif choice < 0.85:
            tokens[rng.randrange(len(tokens))] = rng.choice(INSERTS)
        elif choice < 0.95:
            depth = rng.choice((2, 50, 300))
            return "SELECT * WHERE " + "{" * depth + " ".join(tokens) + "}" * depth
        else:
            tokens.insert(rng.randint(0, len(tokens)), "'" + "x" * rng.choice((1000, 100_000)) + "'")
    return " ".join(tokens)


def generate(count: int, seed: int) -> Iterator[str]:
    """The hostile shapes, then ``count`` mutations of the seeds (deterministic for ``seed``)."""
    rng = random.Random(seed)  # noqa: S311 (reproducible test input, not a secret)
    pool = seeds()
    yield from hostile_shapes()
    for _ in range(count):
        yield mutate(rng.choice(pool), rng)


@dataclass
class FuzzReport:
    """What a fuzz run saw."""

    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[tuple[int, str, str]] = field(default_factory=list)
    """(status, query, body) of each 5xx other than 503."""
    hangs: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    crashes: int = 0
    peak_rss_mb: float = 0.0

    @property
    def p99_ms(self) -> float:
        ordered = sorted(self.latencies)
        return 1000 * ordered[int(0.99 * (len(ordered) - 1))] if ordered else 0.0

    @property
    def ok(self) -> bool:
        return not self.server_errors and not self.hangs and not self.crashes

    def summary(self) -> str:
        statuses = ", ".join(f"{status}: {count}" for status, count in sorted(self.statuses.items()))
        return (
            f"{self.sent} queries; statuses {statuses}; 5xx (not a limit) {len(self.server_errors)}; "
            f"hangs {len(self.hangs)}; query worker crashes {self.crashes}; peak RSS {self.peak_rss_mb:.0f} MB; "
            f"p99 {self.p99_ms:.1f} ms"
        )


def fuzz(url: str, queries: Sequence[str], *, limit: float, threads: int = 4, pid: int | None = None) -> FuzzReport:
    """POST each of ``queries`` to the endpoint ``url`` and judge the answers (see the module docstring)."""
    report = FuzzReport()
    lock = threading.Lock()
    session = requests.Session()
    stop = threading.Event()

    def sample_rss() -> None:
        while pid is not None and not stop.wait(0.2):
            try:
                root = psutil.Process(pid)
                rss = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20
            except psutil.Error:
                continue
            report.peak_rss_mb = max(report.peak_rss_mb, rss)

    def send(query: str) -> None:
        started = time.monotonic()
        body = b"query=" + quote_from_bytes(query.encode("utf-8", "surrogatepass")).encode("ascii")
        try:
            try:
                response = session.post(url, data=body, headers=FORM, timeout=limit + HANG_SECONDS)
            except requests.ConnectionError:
                # A kept-alive connection the server closed after an earlier answer (a 413 leaves the body
                # unread): not a hang. Sent again once, on a new connection.
                response = requests.post(url, data=body, headers=FORM, timeout=limit + HANG_SECONDS)
        except requests.RequestException as error:
            with lock:
                report.hangs.append(f"{type(error).__name__}: {query[:2000]}")
            return
        elapsed = time.monotonic() - started
        with lock:
            report.sent += 1
            report.statuses[response.status_code] += 1
            report.latencies.append(elapsed)
            if response.status_code >= 500 and response.status_code not in LIMIT_STATUSES:
                report.server_errors.append((response.status_code, query[:2000], response.text[:500]))
            if "stopped unexpectedly" in response.text:
                report.crashes += 1
            if elapsed > limit + HANG_SECONDS:
                report.hangs.append(query[:2000])

    sampler = threading.Thread(target=sample_rss, daemon=True)
    sampler.start()
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(send, queries))
    stop.set()
    return report


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def served(
    data: Path, timeout: float, workers: int = 1, settings: Mapping[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """Our server (granian, ``workers`` processes, 2 query workers each) on ``data`` on a free loopback port,
    with ``settings`` (``KG_*`` variables) besides the defaults; a setting given as ``""`` is left to the server's
    default (``KG_QUERY_WORKERS=""``: one per core, :func:`~calcinosis_kg.server.http.serve.production_query_workers`).

    Yields its base URL, its process and its log file; stops it (SIGTERM) afterwards.
    """
    port = _free_port()
    log = Path(tempfile.mkdtemp(prefix="kg-probe-")) / "server.log"
    env = {"KG_DATA": str(data), "KG_QUERY_TIMEOUT": str(timeout), "KG_QUERY_WORKERS": "2", "PATH": "/usr/bin:/bin"}
    env.update(settings or {})
    env = {name: value for name, value in env.items() if value != ""}
    command = [sys.executable, "-m", "calcinosis_kg.server", "--production", "--workers", str(workers),
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    with log.open("wb") as out:
        server = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{url}/health")
        yield url, server, log
    finally:
        server.terminate()
        server.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="mutated queries to send (default 10000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--fhir-count", type=int, default=2000, help="FHIR requests to send (default 2000)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--timeout", type=float, default=2.0, help="KG_QUERY_TIMEOUT of the server (default 2)")
    options = parser.parse_args(argv)
    with served(options.data, options.timeout) as (url, server, log):
        queries = list(generate(options.count, options.seed))
        print(f"fuzzing {url}/sparql with {len(queries)} queries (seed {options.seed})")
        report = fuzz(f"{url}/sparql", queries, limit=options.timeout, pid=server.pid)
        report.crashes += len(re.findall(r"WorkerLost", log.read_text(errors="replace")))
        print(f"fuzzing {url}/fhir with {options.fhir_count} generated requests (seed {options.seed})")
        fhir = fuzz_fhir(f"{url}/fhir", options.fhir_count, options.seed)
        alive = requests.get(f"{url}/health", timeout=10).status_code == 200
    print(report.summary())
    print(f"server still healthy at the end: {alive}; log: {log}")
    for status, query, body in report.server_errors[:20]:
        print(json.dumps({"status": status, "query": query[:300], "body": body[:200]}))
    print(fhir.summary())
    for failure in fhir.failures[:20]:
        print(json.dumps(failure, default=str)[:600])
    return 0 if report.ok and fhir.ok and alive else 1


def _wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise SystemExit(f"the server did not answer {url} within {seconds:g} s")


if __name__ == "__main__":
    sys.exit(main())
