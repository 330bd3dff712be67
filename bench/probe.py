"""Child process that loads one graph with one engine, then times queries on it; prints JSON lines.

Run by :mod:`bench.memory` as ``python -m bench.probe --engine E --file F [--queries Q.json]``, so that its
load time and peak RSS are its own. One engine, ``pyoxigraph``, loading as our server does (an in-memory
``Store`` extended with the quads of ``pyoxigraph.parse``, no bulk loader), then timing queries through
``Store.query`` with the default parameters as SEP-0007 substitutions, or as a ``VALUES`` block when
pyoxigraph refuses to substitute a variable that is not projected (as the server binds them).

Output, one JSON object per line, flushed as soon as known (the parent may kill a slow probe and keep what
it printed): ``{"event": "loaded", "seconds", "triples", "rss_start_mb", "peak_rss_mb"}``, then per query
``{"event": "query", "name", "rows", "runs", "first_ms", "p50_ms", "min_ms", "how"}`` (``how``: how
pyoxigraph bound the parameters), then ``{"event": "done"}``.
Peak RSS is the kernel's high-water mark of this program (``VmHWM``), interpreter and imports included.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ENGINES = ("pyoxigraph",)


def _emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def _peak_rss_mb() -> float:
    """``VmHWM``: the high-water mark of this program's memory (``ru_maxrss`` would also count the RSS of
    the parent process this child was forked from, since Linux keeps it across ``execve``)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _time_query(name: str, run: Callable[[], int], reps: int, budget: float, how: str = "") -> None:
    """Run once untimed-for-the-median (``first_ms``), then up to ``reps`` times within ``budget`` seconds."""
    start = time.perf_counter()
    rows = run()
    first = time.perf_counter() - start
    times: list[float] = []
    deadline = time.perf_counter() + budget
    while len(times) < reps and time.perf_counter() + first < deadline:
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    sample = times or [first]
    _emit(
        "query",
        name=name,
        rows=rows,
        runs=len(times),
        first_ms=first * 1000,
        p50_ms=statistics.median(sample) * 1000,
        min_ms=min(sample) * 1000,
        how=how,
    )


def probe_pyoxigraph(path: Path, queries: list[dict[str, Any]], reps: int, budget: float) -> None:
    """Load into an in-memory ``pyoxigraph.Store`` as the server does; time each query with its substitutions."""
    import pyoxigraph as ox

    rss_start = _rss_mb()
    start = time.perf_counter()
    store = ox.Store()
    store.extend(ox.parse(path=str(path), format=ox.RdfFormat.N_TRIPLES, base_iri=path.resolve().as_uri()))
    seconds = time.perf_counter() - start
    _emit("loaded", seconds=seconds, triples=len(store), rss_start_mb=rss_start, peak_rss_mb=_peak_rss_mb())
    for spec in queries:
        substitutions: dict[ox.Variable, ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple] = {}
        for sub in spec["substitutions"]:
            term: ox.NamedNode | ox.Literal
            if sub["kind"] == "iri":
                term = ox.NamedNode(sub["value"])
            elif sub["language"]:
                term = ox.Literal(sub["value"], language=sub["language"])
            else:
                datatype = ox.NamedNode(sub["datatype"]) if sub["datatype"] else None
                term = ox.Literal(sub["value"], datatype=datatype)
            substitutions[ox.Variable(sub["var"])] = term
        text: str = spec["sparql"]
        how = "substitutions" if substitutions else ""
        try:
            store.query(text, substitutions=substitutions)
        except RuntimeError:
            # SEP-0007 substitution needs the variable in the projection; else bind it with VALUES.
            text, substitutions, how = spec["adhoc"], {}, "VALUES (substitution refused)"

        def run(
            text: str = text,
            substitutions: dict[ox.Variable, ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple] = substitutions,
        ) -> int:
            result = store.query(text, substitutions=substitutions)
            if isinstance(result, ox.QueryBoolean):
                return int(bool(result))
            return len(list(result))

        _time_query(spec["name"], run, reps, budget, how)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, load, time the queries, print JSON lines."""
    parser = argparse.ArgumentParser(prog="python -m bench.probe", description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=ENGINES, required=True)
    parser.add_argument("--file", type=Path, required=True, help="N-Triples file to load")
    parser.add_argument("--queries", type=Path, help="JSON list of queries to time (bench.workloads.probe_specs)")
    parser.add_argument("--reps", type=int, default=20, help="timed runs per query (at most)")
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per query (at least one run)")
    args = parser.parse_args(argv)
    queries: list[dict[str, Any]] = json.loads(args.queries.read_text()) if args.queries else []
    probe_pyoxigraph(args.file, queries, args.reps, args.budget)
    _emit("done", peak_rss_mb=_peak_rss_mb())
    return 0


if __name__ == "__main__":
    sys.exit(main())
