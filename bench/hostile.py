"""``python -m bench.hostile``: the acceptance run of issue 24, each attack alone and then all four together.

Starts a production server (granian, 2 worker processes, as ``make serve`` does) on the built graph on loopback,
then, for ``--seconds`` each, runs no attack (the baseline), then each attack alone, then all four at once:

- ``idle``: 2,000 TCP connections that send nothing, each made again as soon as the server closes it;
- ``slow``: 50 clients sending a ``Content-Length: 100`` body one byte a second, each starting again when answered;
- ``runaways``: one client (``127.0.0.1``) keeping 20 runaway queries in flight (:mod:`bench.fairness`);
- ``regex``: another client keeping three ``$expand`` requests with pathological regex filters in flight (the
  patterns that backtracked for 71-107 s per request in Python's ``re``).

Meanwhile three probes, each a request every 50 ms on a new connection: ``/health`` and a cached canned query
(warmed in every worker first) from a watcher (``127.0.0.3``), and cheap queries never asked before from another
client (``127.0.0.2``; distinct loopback addresses are distinct clients, :mod:`tests.support.clients`). The
server sends no process id, so each probe's connection is traced to the granian worker that accepted it: while it
is still open, the worker process holding the server's end of it (``/proc``, through psutil) is looked up, after
the clock stopped. Every worker must have answered each probe.

Prints a table (attack, probe, worker, count, p50, p90, max, failures) and the attackers' answers. The bounds (the
acceptance of issue 24): ``/health`` and the canned answer under 100 ms at p90 from every worker, the other
client's uncached query under 100 ms at p50, and no failed probe (an error status, or no answer within 5 s).
Exit status 1 when any is broken. Bounded: ``--seconds`` per phase (6 phases) plus the start and the attackers'
last answers (at most the time limit); loopback only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import queue
import socket
import struct
import sys
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench.fairness import CANNED, HOSTILE, OTHER, WATCHER, request
from bench.fuzz import DEFAULT_DATA, served
from bench.fuzz_fhir import REGEXES
from bench.soak import RUNAWAY
from tests.support.hostile import SlowBodies, idle_connections, idle_socket, raise_open_files

ATTACKS = ("idle", "slow", "runaways", "regex")
IDLE, SLOW, RUNAWAYS, REGEX_REQUESTS = 2_000, 50, 20, 3
REGEX_CLIENT = "127.0.0.4"
PATTERNS = (*REGEXES[:2], "(a|aa)+$")
"""The length-guarded and unguarded patterns of the issue, and a classic exponential one."""
NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, TCP_LISTEN = 4, 20, 1, 10
CODE_SYSTEM = "https://w3id.org/calcinosis-kg/id"
FHIR_JSON = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
BOUND_MS = 100.0
PROBE_TIMEOUT = 5.0
PERIOD = 0.05
RAMP = 2.0
"""Seconds the attack runs before the probes start (2,000 connections opened, the slow bodies begun)."""


@dataclass(frozen=True)
class Sample:
    probe: str
    worker: int | None
    """The pid of the granian worker that answered, when it could be traced."""
    seconds: float
    failure: str | None


@dataclass
class Phase:
    """What one phase saw: the probes' samples and the attackers' answers (status or error, counted)."""

    attack: str
    samples: list[Sample] = field(default_factory=list)
    attackers: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)

    def count(self, what: str) -> None:
        with self.lock:
            self.attackers[what] += 1

    def of(self, probe: str, worker: int | None = None) -> list[Sample]:
        return [s for s in self.samples if s.probe == probe and (worker is None or s.worker == worker)]

    def workers(self) -> list[int]:
        return sorted({s.worker for s in self.samples if s.worker is not None})

    def broken(self, workers: int) -> list[str]:
        """The acceptance bounds this phase broke (empty when it kept them all)."""
        problems = []
        for probe in ("health", "canned", "uncached"):
            failed = [s.failure for s in self.of(probe) if s.failure]
            if failed:
                problems.append(f"{self.attack}: {probe}: {len(failed)} failed ({Counter(failed).most_common(3)})")
        if (p50 := percentile_ms(self.of("uncached"), 0.5)) >= BOUND_MS:
            problems.append(f"{self.attack}: uncached p50 {p50:.0f} ms")
        for probe in ("health", "canned"):
            seen = {s.worker for s in self.of(probe) if s.worker is not None}
            if len(seen) < workers:
                problems.append(f"{self.attack}: {probe} reached {len(seen)} of {workers} workers")
            for worker in sorted(seen):
                if (p90 := percentile_ms(self.of(probe, worker), 0.9)) >= BOUND_MS:
                    problems.append(f"{self.attack}: {probe} p90 {p90:.0f} ms from worker {worker}")
        return problems


def percentile_ms(samples: list[Sample], share: float) -> float:
    ordered = sorted(s.seconds for s in samples)
    return 1000 * ordered[int(share * (len(ordered) - 1))] if ordered else float("inf")


def granian_workers(server_pid: int) -> list[int]:
    """The granian worker processes: the server process's children (their query workers are their own)."""
    return sorted(child.pid for child in psutil.Process(server_pid).children())


def socket_inode(local: tuple[str, int], remote: tuple[str, int]) -> int | None:
    """The inode of the TCP socket from ``local`` to ``remote`` (IPv4), asked of the kernel by its exact
    addresses over sock_diag netlink, as ``ss`` does (reading ``/proc/net/tcp`` took 100 ms on a machine with
    15,000 sockets); None when there is none."""
    sockid = struct.pack("!HH", local[1], remote[1])
    sockid += socket.inet_aton(local[0]) + bytes(12) + socket.inet_aton(remote[0]) + bytes(12)
    sockid += struct.pack("=III", 0, 0xFFFFFFFF, 0xFFFFFFFF)  # any interface, no cookie
    request = struct.pack("=BBBBI", socket.AF_INET, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF) + sockid
    header = struct.pack("=IHHII", 16 + len(request), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, 1, 0)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as diag:
        diag.settimeout(1.0)
        diag.send(header + request)
        answer = diag.recv(65536)
    length, kind = struct.unpack_from("=IH", answer)
    if kind != SOCK_DIAG_BY_FAMILY or length < 16 + 72:
        return None  # NLMSG_ERROR: no such socket
    if answer[16 + 1] == TCP_LISTEN:  # the kernel's lookup falls back to the listening socket
        return None
    inode: int = struct.unpack_from("=I", answer, 16 + 68)[0]
    return inode


def owner(workers: Iterable[int], server: tuple[str, int], source: tuple[str, int]) -> int | None:
    """The worker holding the server's end of the open connection from ``source``: the one with a descriptor
    on its socket."""
    inode = socket_inode(server, source)
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in workers:
        folder = f"/proc/{pid}/fd"
        with suppress(OSError):
            for fd in os.listdir(folder):
                with suppress(OSError):
                    if os.readlink(f"{folder}/{fd}") == target:
                        return pid
    return None


def probe_once(url: str, source: str, path: str, workers: list[int]) -> tuple[float, str | None, int | None]:
    """Seconds, failure (an error status or exception name, or None) and answering worker of ``GET path`` on a
    new connection from ``source``; the worker is traced after the clock stopped, before the connection closes."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname or "", parts.port, timeout=PROBE_TIMEOUT, source_address=(source, 0)
    )
    started = time.perf_counter()
    try:
        connection.request("GET", path, headers={"Accept": "application/sparql-results+json"})
        response = connection.getresponse()
        response.read()
        elapsed = time.perf_counter() - started
        failure = None if response.status == 200 else str(response.status)
        if connection.sock is None:  # the server closed it
            return elapsed, failure, None
        return elapsed, failure, owner(workers, connection.sock.getpeername(), connection.sock.getsockname())
    except OSError as error:
        return time.perf_counter() - started, type(error).__name__, None
    finally:
        connection.close()


def warm(url: str, workers: list[int], tries: int = 60) -> None:
    """Ask the canned query on new connections until every worker answered it twice (the second from cache)."""
    answered: Counter[int | None] = Counter()
    for _ in range(tries):
        _, failure, worker = probe_once(url, WATCHER, CANNED, workers)
        if failure is None:
            answered[worker] += 1
        if all(answered[pid] >= 2 for pid in workers):
            return
    raise SystemExit(f"warming {CANNED}: answers per worker {dict(answered)} after {tries} tries")


Attacker = Callable[[str, float, Phase], None]


def idle(url: str, deadline: float, phase: Phase) -> None:
    """2,000 connections sending nothing until ``deadline``; one the server closed is made again."""
    with idle_connections(url, IDLE) as sockets:
        while time.monotonic() < deadline:
            time.sleep(0.5)
            for index, sock in enumerate(sockets):
                try:
                    closed = sock.recv(1) == b""
                except BlockingIOError:
                    continue
                except OSError:
                    closed = True
                if closed:
                    sock.close()
                    sockets[index] = idle_socket(url)
                    phase.count("idle: made again")


def slow(url: str, deadline: float, phase: Phase) -> None:
    """50 slow bodies until ``deadline``, each sent again when answered (408, 503)."""

    def client() -> None:
        while (left := deadline - time.monotonic()) > 1:
            with SlowBodies(url, clients=1, seconds=left) as bodies:
                pass
            for line, _ in bodies.answers:
                phase.count("slow: " + (line.decode("latin-1") or "no answer in time"))

    threads = [threading.Thread(target=client, daemon=True) for _ in range(SLOW)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def in_flight(count: int, deadline: float, phase: Phase, name: str, send: Callable[[int], int]) -> None:
    """``count`` clients each sending ``send(n)`` again as soon as it is answered, until ``deadline``."""

    def client(n: int) -> None:
        while time.monotonic() < deadline:
            try:
                phase.count(f"{name}: {send(n)}")
            except OSError as error:
                phase.count(f"{name}: {type(error).__name__}")
                time.sleep(0.1)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def runaways(url: str, deadline: float, phase: Phase) -> None:
    form = urllib.parse.urlencode({"query": RUNAWAY})
    in_flight(RUNAWAYS, deadline, phase, "runaway", lambda _: request(url, HOSTILE, "POST", "/sparql", form)[0])


def regex(url: str, deadline: float, phase: Phase) -> None:
    def expand(n: int) -> int:
        pattern = PATTERNS[n % len(PATTERNS)]
        include = {"system": CODE_SYSTEM, "filter": [{"property": "code", "op": "regex", "value": pattern}]}
        value_set = {"resourceType": "ValueSet", "status": "active", "compose": {"include": [include]}}
        body = json.dumps({"resourceType": "Parameters", "parameter": [{"name": "valueSet", "resource": value_set}]})
        return request(url, REGEX_CLIENT, "POST", "/fhir/ValueSet/$expand", body, FHIR_JSON)[0]

    in_flight(REGEX_REQUESTS, deadline, phase, "regex", expand)


ATTACKERS: dict[str, Attacker] = {"idle": idle, "slow": slow, "runaways": runaways, "regex": regex}
_unique = iter(range(1, 10**9))
"""Numbers for the uncached probe's queries: each text is new to the server for the whole run."""


def attack(name: str, url: str, deadline: float, answers: multiprocessing.Queue[dict[str, int]]) -> None:
    """One attacker, in a process of its own (so that its threads do not slow the probes' clocks through the
    GIL): runs until ``deadline``, then puts its answers counted in ``answers``."""
    phase = Phase(name)
    ATTACKERS[name](url, deadline, phase)
    answers.put(dict(phase.attackers))


def run_phase(url: str, server_pid: int, attacks: tuple[str, ...], seconds: float) -> Phase:
    """Run ``attacks`` (none: the baseline) for ``RAMP + seconds`` while the probes run for ``seconds``."""
    phase = Phase(" + ".join(attacks) or "none")
    workers = granian_workers(server_pid)
    deadline = time.monotonic() + RAMP + seconds
    context = multiprocessing.get_context("fork")  # before the probes' threads start: this process has one
    answers: multiprocessing.Queue[dict[str, int]] = context.Queue()
    attackers = [context.Process(target=attack, args=(a, url, deadline, answers), daemon=True) for a in attacks]
    for process in attackers:
        process.start()
    time.sleep(RAMP)

    def probing(probe: str, source: str) -> None:
        while time.monotonic() < deadline:
            path = {"health": "/health", "canned": CANNED}.get(probe) or "/sparql?" + urllib.parse.urlencode(
                {"query": f"SELECT ?label WHERE {{ cc:calcinosis-cutis rdfs:label ?label }} LIMIT {next(_unique)}"}
            )
            seconds_, failure, worker = probe_once(url, source, path, workers)
            phase.add(Sample(probe, worker, seconds_, failure))
            time.sleep(PERIOD)

    probes = [
        threading.Thread(target=probing, args=(probe, source), daemon=True)
        for probe, source in (("health", WATCHER), ("canned", WATCHER), ("uncached", OTHER))
    ]
    for thread in probes:
        thread.start()
    for thread in probes:
        thread.join(timeout=seconds + 30)
    for _ in attackers:  # the last answers come within the time limit (a runaway) or the slow bodies' deadline
        with suppress(queue.Empty):
            phase.attackers.update(answers.get(timeout=60))
    for process in attackers:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
            phase.count(f"{process.name}: killed (still running 60 s after the phase)")
    return phase


def table(phases: list[Phase]) -> str:
    """The probes' figures, one row per attack, probe and worker (``all``: every answer of that probe)."""
    rows = ["| attack | probe | worker | n | p50 ms | p90 ms | max ms | failures |", "|" + " --- |" * 8]
    for phase in phases:
        names = {pid: f"w{number}" for number, pid in enumerate(phase.workers(), 1)}
        for probe in ("health", "canned", "uncached"):
            groups: list[tuple[str, list[Sample]]] = [("all", phase.of(probe))]
            groups += [(names[pid], phase.of(probe, pid)) for pid in phase.workers() if probe != "uncached"]
            for worker, samples in groups:
                failed = sum(1 for s in samples if s.failure)
                figures = " | ".join(f"{percentile_ms(samples, share):.1f}" for share in (0.5, 0.9, 1.0))
                rows.append(f"| {phase.attack} | {probe} | {worker} | {len(samples)} | {figures} | {failed} |")
    return "\n".join(rows)


def attackers_summary(phases: list[Phase]) -> str:
    lines = []
    for phase in phases:
        grouped: dict[str, list[str]] = defaultdict(list)
        for what, count in sorted(phase.attackers.items()):
            name, _, answer = what.partition(": ")
            grouped[name].append(f"{answer} x{count}")
        lines += [f"{phase.attack}: {name}: {', '.join(answers)}" for name, answers in grouped.items()]
    return "\n".join(lines)


def run_plan(url: str, server_pid: int, plan: list[tuple[str, ...]], seconds: float) -> list[Phase]:
    """Warm the canned answer in every worker, then run each phase of ``plan`` in turn."""
    warm(url, granian_workers(server_pid))
    phases = []
    for attacks in plan:
        phases.append(run_phase(url, server_pid, attacks, seconds))
        print(f"done: {phases[-1].attack}", file=sys.stderr)
    return phases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="probing time of each phase (default 20)")
    parser.add_argument("--only", choices=("alone", "together"), help="only the attacks alone, or only together")
    parser.add_argument("--timeout", type=float, default=5.0, help="KG_QUERY_TIMEOUT of the server (default 5)")
    parser.add_argument("--workers", type=int, default=2, help="granian worker processes (default 2)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--url", help="probe this running server instead (on this host: --pid is needed too)")
    parser.add_argument("--pid", type=int, help="with --url: the pid of its granian main process")
    options = parser.parse_args(argv)
    if not raise_open_files(IDLE + SLOW + 200):
        raise SystemExit(f"the open-file limit is below {IDLE + SLOW + 200}")
    plan: list[tuple[str, ...]] = [()]
    if options.only != "together":
        plan += [(attack,) for attack in ATTACKS]
    if options.only != "alone":
        plan.append(ATTACKS)
    if options.url:
        if options.pid is None:
            parser.error("--url needs --pid (the workers are found among its children)")
        phases = run_plan(options.url.rstrip("/"), options.pid, plan, options.seconds)
    else:
        with served(options.data, timeout=options.timeout, workers=options.workers) as (url, server, _log):
            phases = run_plan(url, server.pid, plan, options.seconds)
    print(table(phases))
    print(attackers_summary(phases))
    problems = [problem for phase in phases for problem in phase.broken(options.workers)]
    for problem in problems:
        print("broken:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
